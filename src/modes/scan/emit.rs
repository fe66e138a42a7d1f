//! A scan's report: each verdict, once its turn comes, as nc's line (with
//! `-v`), the `-vv` lines after it and the `--json` line, all by `report`'s
//! functions. What a finished probe left behind for them (its facts, its
//! TLS outcome) is kept here until its slot is reported.
//!
//! `--json` lines are printed at the moment nc's line would be, so they
//! come in nc's order too (one per attempt that nc would report).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::net::IpAddr;

use super::slots::{Found, Slots, Verdict};
use crate::cli::config::Config;
use crate::net::SetupError;
use crate::net::connect::ConnectOpts;
use crate::net::diagnose::{self, Banner, Facts};
use crate::net::ports::{self, ServiceNames};
use crate::net::resolve::Hints;
use crate::report::tls as tls_report;
use crate::report::{self, Dest, Errno, GaiError, JsonProbe, diagnosis, json_probe};
use crate::sys::exit::Status;

/// The report of a scan.
pub struct Emit<'a> {
    cfg: &'a Config,
    /// Service names for `--json`, read once.
    services: Option<ServiceNames>,
    /// `-vv` or `--json`: the facts of each failure are kept and diagnosed.
    diag: bool,
    /// UDP with `-v`: open is the `X` probe's verdict.
    udp: bool,
    /// What each finished slot left behind, until it is reported.
    facts: HashMap<usize, Facts>,
    /// `-zc`: each TLS probe's outcome, until it is reported.
    tls: HashMap<usize, tls_report::ScanOutcome>,
    /// nc's status so far: the last port that connected decides.
    status: Status,
    /// `--cert-warn`: a port's certificate expires too soon or failed its
    /// checks, so the run fails whatever `status` says.
    cert_bad: bool,
}

impl<'a> Emit<'a> {
    pub fn new(cfg: &'a Config, diag: bool, udp: bool) -> Emit<'a> {
        let o = &cfg.opts;
        Emit {
            cfg,
            services: o.json.then(|| ServiceNames::load(o.proto)),
            diag,
            udp,
            facts: HashMap::new(),
            tls: HashMap::new(),
            status: 1,
            cert_bad: false,
        }
    }

    /// nc's status so far (1 once `--cert-warn` found a certificate).
    pub fn status(&self) -> Status {
        if self.cert_bad { 1 } else { self.status }
    }

    /// `--cert-warn` found a certificate that fails the run.
    pub fn cert_failed(&self) -> bool {
        self.cert_bad
    }

    /// Keeps what a finished probe to `ip` left behind, for its report
    /// (only when `-vv` or `--json` asks), and notes whether its host
    /// answered.
    pub fn keep_facts(&mut self, ip: Option<IpAddr>, slot: usize, found: Found, facts: Facts) {
        if !self.diag {
            return;
        }
        if let (Some(ip), Some(outcome)) = (ip, outcome_of(found)) {
            diagnose::note_outcome(ip, outcome, &facts);
        }
        self.facts.insert(slot, facts);
    }

    /// Keeps a TLS probe's outcome for its report.
    pub fn keep_tls(&mut self, slot: usize, out: tls_report::ScanOutcome) {
        self.tls.insert(slot, out);
    }

    /// Prints every result whose predecessors are all known, in one write
    /// per stream.
    pub fn emit(&mut self, slots: &mut Slots<'_>, conn: &ConnectOpts) {
        report::batch(|| {
            while let Some((slot, r)) = slots.next_report() {
                let facts = self.facts.remove(&slot);
                self.report(slots, conn, slot, r, facts.as_ref());
                match r.found {
                    Found::Open => self.status = 0,
                    Found::ProbeFailed => self.status = 1,
                    _ => {}
                }
            }
        });
        slots.forget_reported();
    }

    /// nc's line for one attempt, plus `-vv` and `--json` when asked.
    fn report(
        &mut self,
        slots: &Slots<'_>,
        conn: &ConnectOpts,
        slot: usize,
        r: Verdict,
        facts: Option<&Facts>,
    ) {
        let tls = self.tls.remove(&slot);
        let Some((u, p, a)) = slots.split(slot) else {
            return;
        };
        let o = &self.cfg.opts;
        if let Found::NoHost(e) = r.found {
            let port = u.lookup.map_or(slots.port(0), |(_, p)| p);
            return lookup_failed(self.cfg, conn.hints(), &u.host, port, e);
        }
        let host = u.host.as_os_str();
        let port = slots.port(p);
        let ip = &u.ips[a];
        let proto = o.proto.name();
        let dest = Dest {
            host,
            ip: if o.numeric { None } else { Some(ip) },
        };
        let v = o.verbose > 0;
        match r.found {
            Found::Open if v => report::connect_success(conn, host, port, Some(ip)),
            Found::Failed(errno) if v => {
                report::connect_failed(&dest, port.to_string(), proto, errno)
            }
            Found::TimedOut if v => report::connect_timed_out(&dest, port.to_string(), proto),
            // --cert-warn prints a failed TLS port's line without -v too.
            Found::TlsFailed if v || o.cert_warn.is_some() => {
                tls_report::scan_failed(&dest, port, proto, tls_failure(tls.as_ref()));
            }
            _ => {}
        }
        if let Some(days) = o.cert_warn {
            self.cert_warn(days, &tls, r.found, &dest, port);
        }
        if let Found::Setup(e) = r.found {
            report::setup_failed(&e);
        }
        let none = Facts::default();
        let diag = match (self.diag, facts, r.found) {
            (true, Some(f), _) => self.diagnose(slots, slot, r, f),
            (true, None, Found::Setup(_)) => self.diagnose(slots, slot, r, &none),
            _ => None,
        };
        if o.verbose >= 2 {
            if let (Found::Open | Found::TlsFailed, Some(out)) = (r.found, &tls) {
                tls_report::scan_detail(r.elapsed, out);
            }
            match (r.found, &diag) {
                _ if tls.is_some() => {}
                (Found::Setup(_), Some(d)) => diagnosis::detail_line(d),
                (Found::Open, _) if self.udp => report::udp_probe_detail(r.elapsed, true),
                (Found::Open, _) => report::probe_detail(r.elapsed, None, false),
                (_, Some(d)) => diagnosis::probe_lines(d),
                (Found::ProbeFailed, None) => report::udp_probe_detail(r.elapsed, false),
                (Found::Failed(errno), None) => report::probe_detail(r.elapsed, Some(errno), false),
                (Found::TimedOut, None) => report::probe_detail(r.elapsed, None, true),
                _ => {}
            }
            if let Some(b) = facts.and_then(|f| f.banner.as_ref()) {
                diagnosis::banner_line(b);
            }
        }
        if o.json && !matches!(r.found, Found::Skipped | Found::Superseded) {
            self.json_line(
                slots,
                slot,
                r,
                diag.as_ref(),
                facts.and_then(|f| f.banner.as_ref()),
                tls.as_ref(),
            );
        }
    }

    /// `--cert-warn DAYS`: the line of a port whose certificate expires
    /// within `days`, and the run's failure for it or for a port whose
    /// handshake or checks failed (whose line [`Self::report`] printed).
    fn cert_warn(
        &mut self,
        days: u32,
        tls: &Option<tls_report::ScanOutcome>,
        found: Found,
        dest: &Dest<'_>,
        port: u16,
    ) {
        let proto = self.cfg.opts.proto.name();
        match (found, tls) {
            (Found::Open, Some(Ok(d))) => {
                if let Some(t) = d
                    .not_after
                    .filter(|&t| tls_report::days_left(t) < i64::from(days))
                {
                    tls_report::cert_expiring(dest, port, proto, t);
                    self.cert_bad = true;
                }
            }
            (Found::TlsFailed, _) => self.cert_bad = true,
            _ => {}
        }
    }

    /// The diagnosis of a reported attempt.
    fn diagnose(
        &self,
        slots: &Slots<'_>,
        slot: usize,
        r: Verdict,
        facts: &Facts,
    ) -> Option<diagnose::Diagnosis> {
        let o = &self.cfg.opts;
        if let Found::Setup(e) = r.found {
            return match e {
                SetupError::Bind(errno) => {
                    Some(diagnose::bind_failed(errno, o.source_port.as_deref()))
                }
                SetupError::Lookup(g) if g.code == libc::EAI_SERVICE => o
                    .source_port
                    .as_deref()
                    .map(|p| diagnose::names::unknown_service(p.as_bytes(), o.proto.name())),
                _ => None,
            };
        }
        let (_, p, _) = slots.split(slot)?;
        let probe = diagnose::Probe {
            dest: slots.ip_of(slot)?,
            port: slots.port(p),
            proto: o.proto.name(),
            elapsed: r.elapsed,
            broadcast: o.broadcast,
        };
        diagnose::diagnose(&probe, outcome_of(r.found)?, facts)
    }

    fn json_line(
        &self,
        slots: &Slots<'_>,
        slot: usize,
        r: Verdict,
        diag: Option<&diagnose::Diagnosis>,
        banner: Option<&Banner>,
        tls: Option<&tls_report::ScanOutcome>,
    ) {
        let Some((u, p, a)) = slots.split(slot) else {
            return;
        };
        let (host, port, ip) = (u.host.as_os_str(), slots.port(p), u.ips[a].as_str());
        let proto = self.cfg.opts.proto;
        let (state, errno) = match r.found {
            Found::Open => ("open", None),
            // The probe's datagram could not be sent (EPERM...).
            Found::ProbeFailed
                if diag
                    .and_then(|d| d.errno)
                    .is_some_and(|e| e.0 != libc::ECONNREFUSED) =>
            {
                ("filtered", diag.and_then(|d| d.errno))
            }
            Found::ProbeFailed => ("closed", Some(Errno(libc::ECONNREFUSED))),
            Found::Failed(e) if e.0 == libc::ECONNREFUSED => ("closed", Some(e)),
            Found::Failed(e)
                if matches!(
                    e.0,
                    libc::ETIMEDOUT
                        | libc::EHOSTUNREACH
                        | libc::ENETUNREACH
                        | libc::EACCES
                        | libc::EPERM
                ) =>
            {
                ("filtered", Some(e))
            }
            Found::Failed(e) => ("error", Some(e)),
            Found::TimedOut => ("filtered", Some(Errno(libc::ETIMEDOUT))),
            Found::TlsFailed => ("error", None),
            Found::Setup(SetupError::Bind(e) | SetupError::Option(_, e)) => ("error", Some(e)),
            Found::Setup(SetupError::Lookup(_))
            | Found::Skipped
            | Found::NoHost(_)
            | Found::Superseded => ("error", None),
        };
        json_probe(&JsonProbe {
            host,
            ip: Some(ip),
            port,
            proto: proto.name(),
            service: self.services.as_ref().map_or("*", |s| s.get(port)),
            state,
            errno: errno.map(Errno::name),
            error: match (r.found, errno) {
                (Found::TimedOut, _) => Some(report::json_timed_out()),
                (Found::TlsFailed, _) => Some(tls_report::scan_json_error(tls_failure(tls))),
                (_, Some(e)) => Some(e.to_string()),
                _ => None,
            },
            ms: r.elapsed.as_millis(),
            diagnosis: diag,
            banner,
            tls: tls.map(tls_report::scan_json),
        });
    }
}

/// A destination that did not resolve: nc's line, and its `-vv` and
/// `--json` forms (the one host of a scan, or one of a list).
pub fn lookup_failed(cfg: &Config, hints: Hints, host: &OsStr, port: u16, e: GaiError) {
    let o = &cfg.opts;
    let port_s = port.to_string();
    report::getaddrinfo_host_failed(host, OsStr::new(&port_s), e);
    let diag =
        (o.verbose >= 2 || o.json).then(|| diagnose::names::lookup_failed(host, port, e, hints));
    if let (true, Some(d)) = (o.verbose >= 2, &diag) {
        diagnosis::detail_line(d);
    }
    if o.json {
        json_probe(&JsonProbe {
            host,
            ip: None,
            port,
            proto: o.proto.name(),
            service: &ports::service_name(port, o.proto),
            state: "error",
            errno: None,
            error: Some(e.to_string()),
            ms: 0,
            diagnosis: diag.as_ref(),
            banner: None,
            tls: None,
        });
    }
}

/// The diagnosis's view of an attempt's end.
pub fn outcome_of(found: Found) -> Option<diagnose::Outcome> {
    Some(match found {
        Found::Open => diagnose::Outcome::Open,
        Found::Failed(e) => diagnose::Outcome::Failed(e),
        Found::TimedOut => diagnose::Outcome::TimedOut,
        Found::ProbeFailed => diagnose::Outcome::UdpClosed,
        // TLS failures have their own reason (the port is open).
        Found::Setup(_)
        | Found::Skipped
        | Found::NoHost(_)
        | Found::Superseded
        | Found::TlsFailed => return None,
    })
}

/// Why a TLS probe failed, when its outcome is known.
fn tls_failure(tls: Option<&tls_report::ScanOutcome>) -> Option<&tls_report::ScanFailure> {
    tls.and_then(|t| t.as_ref().err())
}
