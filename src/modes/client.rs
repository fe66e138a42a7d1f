//! Client mode: each port of the list in turn, connect, report, relay
//! (docs/compatibility.md §5: without `-z`, nc relays on every port that connects).
//!
//! With `-x` every port gets its own connection through the proxy and its
//! own handshake (docs/compatibility.md §7), `-z` included: nc's scan through a proxy is that
//! same sequential loop, closing each tunnel once it is open. Without a
//! proxy, `-z` is the scan mode (`main` dispatches it).
//!
//! UDP (docs/compatibility.md §6.4): the connect is immediate; with `-v` the port is first
//! probed with `X` datagrams ([`crate::net::udp`]) when the probe applies, and
//! a refused probe moves on to the next port with status 1. `-F` hands the
//! first connected socket over stdout and ends the run ([`crate::relay::fdpass`]).

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use socket2::Socket;

use crate::cli::config::{Config, Proto, Target};
use crate::net::connect;
use crate::net::proxy;
use crate::net::proxy::ProxyError;
use crate::net::resolve;
use crate::net::starttls;
use crate::net::tls::{self, TlsConfig, session::Session};
use crate::net::udp;
use crate::relay::fdpass;
use crate::relay::log::Log;
use crate::relay::raw::RawRelay;
use crate::relay::stdio::{Kind, Stdio};
use crate::relay::tls::TlsRelay;
use crate::relay::{End, Relay};
use crate::report::{self, Errno};
use crate::serve::exec;
use crate::sys::exit::{Abort, Status};
use crate::sys::rawmode::RawMode;
use crate::sys::reactor::{self, Reactor};

pub fn run(rx: &mut Reactor, cfg: &Config, stdin: &Stdio, stdout: &Stdio) -> Result<Status, Abort> {
    let Target::Connect { host, ports, .. } = &cfg.target else {
        return Err(Abort::Failed);
    };
    let tls = match &cfg.tls {
        Some(t) => Some((t, tls_client_config(t)?)),
        None => None,
    };
    let log = Log::open(&cfg.opts.serving.log).map_err(|()| Abort::Failed)?;
    let exec = cfg.exec_opts();
    let mut status = 1;
    for (i, &port) in ports.iter().enumerate() {
        if i > 0 {
            if let Some(secs) = cfg.opts.interval {
                reactor::pause(rx, Duration::from_secs(u64::from(secs)))?;
            }
        }
        let started = Instant::now();
        let Some((sock, ip)) = connect_port(rx, cfg, host, port, started)? else {
            continue;
        };
        status = 0;
        if cfg.opts.verbose > 0 {
            if cfg.opts.proto == Proto::Udp && wants_probe(cfg, stdin) {
                let probed = udp::probe(rx, &sock, udp::probe_secs(cfg.opts.timeout))?;
                if let Err(errno) = probed {
                    if cfg.opts.verbose >= 2 {
                        explain_udp_refusal(cfg, &sock, errno, started.elapsed());
                    }
                    status = 1;
                    continue;
                }
            }
            report::connect_success(&cfg.connect_opts(), host, port, ip.as_deref());
        }
        if cfg.proxy.is_some() {
            proxy_scan_result(cfg, host, port, started, Ok(()));
        }
        // The error queue served the diagnosis: the relay is nc's.
        crate::net::diagnose::errqueue::disable(&sock);
        if cfg.opts.pass_fd {
            return fdpass::pass(rx, stdout, &sock);
        }
        if let Some((t, tc)) = &tls {
            let mut s = tls_start(rx, cfg, t, tc, sock, host)?;
            if let (Some(exec), false) = (&exec, cfg.opts.zero_io) {
                // `-c --exec`: a child serves the TLS session.
                if exec::run_tls_client(rx, exec, s, log.as_ref())? != 0 {
                    status = 1;
                }
                continue;
            }
            if !cfg.opts.zero_io {
                let Ok(relay) = TlsRelay::new(s, stdin, stdout, cfg.relay_opts()) else {
                    status = 1;
                    continue;
                };
                let mut relay = relay.with_log(log.as_ref());
                match rx.run(&mut relay)?.end {
                    End::QuitTimer => return Err(Abort::QuitTimer),
                    // `tls read failed (...)`: nc's errx, the ports left
                    // untried.
                    End::Failed => return Err(Abort::Failed),
                    End::Finished => {}
                }
            } else {
                s.send_last();
            }
            continue;
        }
        if cfg.opts.zero_io {
            continue; // the tunnel closes here
        }
        if let Some(exec) = &exec {
            // `--exec`: a child serves the connection instead of stdio.
            if exec::run_client(rx, exec, sock, log.as_ref())? != 0 {
                status = 1;
            }
            continue;
        }
        if cfg.opts.serving.raw {
            // `--raw`: the terminal raw for this connection only.
            let raw = match RawMode::enter(stdin.poll_fd) {
                Ok(r) => r,
                Err(e) => {
                    report::raw_mode_failed(Errno::of(&e));
                    return Err(Abort::Failed);
                }
            };
            let ended = rx.run(&mut RawRelay::new(sock, stdin, stdout));
            drop(raw);
            match ended? {
                Ok(_) => {}
                Err(e) => {
                    report::warn(format_args!("epoll"), Errno::of(&e));
                    return Err(Abort::Failed);
                }
            }
            continue;
        }
        let mut relay = Relay::new(sock, stdin, stdout, cfg.relay_opts()).with_log(log.as_ref());
        let outcome = rx.run(&mut relay)?;
        if outcome.end == End::QuitTimer {
            return Err(Abort::QuitTimer);
        }
    }
    Ok(status)
}

/// `-c`: the TLS client configuration, built once per run; an unusable
/// file or setting is reported (status 1).
fn tls_client_config(t: &TlsConfig) -> Result<Arc<ClientConfig>, Abort> {
    tls::setup::client(t).map_err(|e| {
        e.print();
        Abort::Failed
    })
}

/// `-c`: the handshake on a connected socket, OpenBSD's `-v` lines and
/// the `-H` verdict. A failure ends the run (OpenBSD's `errx`).
fn tls_start(
    rx: &mut Reactor,
    cfg: &Config,
    t: &TlsConfig,
    tc: &Arc<ClientConfig>,
    sock: Socket,
    host: &OsStr,
) -> Result<Session, Abort> {
    let timeout = cfg.opts.timeout().filter(|t| !t.is_zero());
    if let Some(st) = &t.starttls {
        if let Err(e) = starttls::run(rx, &sock, st, host, timeout)? {
            report::tls::starttls_failed(&e, cfg.opts.verbose >= 2);
            return Err(Abort::Failed);
        }
    }
    let mut s = match tls::client::start(rx, t, tc, sock, host, timeout)? {
        Ok(s) => s,
        Err(f) => {
            f.print();
            return Err(Abort::Failed);
        }
    };
    if cfg.opts.verbose > 0 {
        let name = tls::client::peer_name(t, host);
        tls::client::Summary::of(&s).print(&host.to_string_lossy(), &name);
    }
    if !tls::client::pin_matches(t, &s) {
        s.send_last();
        report::tls::pin_mismatch(t.pin.as_deref().unwrap_or(""));
        return Err(Abort::Failed);
    }
    Ok(s)
}

/// Connects to one port, directly or through the proxy. The numeric
/// address comes back for M1's `(IP)`, which a proxied line never shows.
fn connect_port(
    rx: &mut Reactor,
    cfg: &Config,
    host: &OsStr,
    port: u16,
    started: Instant,
) -> Result<Option<(Socket, Option<String>)>, Abort> {
    let o = cfg.connect_opts();
    if let Some(p) = &cfg.proxy {
        return match proxy::connect(rx, &mut report::Lines, &o, p, host, port)? {
            proxy::Outcome::Connected(s) => Ok(Some((s, None))),
            proxy::Outcome::Unreachable => {
                proxy_scan_result(cfg, host, port, started, Err(None));
                Ok(None)
            }
            proxy::Outcome::Refused(e) => {
                report::proxy_failed(&e);
                proxy_scan_result(cfg, host, port, started, Err(Some(&e)));
                Err(Abort::Failed)
            }
        };
    }
    let port_s = port.to_string();
    let port_s = OsStr::new(&port_s);
    let addrs = match resolve::lookup(Some(host), Some(port_s), o.hints()) {
        Ok(a) => a,
        Err(e) => {
            report::getaddrinfo_host_failed(host, port_s, e);
            if cfg.opts.verbose >= 2 {
                let d = crate::net::diagnose::names::lookup_failed(host, port, e, o.hints());
                report::diagnosis::detail_line(&d);
            }
            return Err(Abort::Failed);
        }
    };
    let c = connect::remote_connect(rx, &mut report::Lines, &o, host, port_s, &addrs, true)?;
    Ok(c.map(|c| (c.sock, Some(c.ip))))
}

/// Whether a UDP client probes the port before reporting success: nc does
/// with `-v`; ncrab skips it in data mode when stdin is not a terminal.
fn wants_probe(cfg: &Config, stdin: &Stdio) -> bool {
    let o = &cfg.opts;
    o.proto == Proto::Udp && o.verbose > 0 && (o.zero_io || stdin.kind == Kind::Tty)
}

/// `-z` through a proxy: the `-vv` line and the `--json` object of one
/// port. `Err(None)`: the proxy itself could not be reached. A success
/// is the caller's to report, after nc's line.
fn proxy_scan_result(
    cfg: &Config,
    host: &OsStr,
    port: u16,
    started: Instant,
    result: Result<(), Option<&ProxyError>>,
) {
    let o = &cfg.opts;
    if !o.zero_io || (o.verbose < 2 && !o.json) {
        return;
    }
    let (state, errno) = match result {
        Ok(()) => ("open", None),
        Err(Some(ProxyError::Socks5(5))) => ("closed", Some(Errno(libc::ECONNREFUSED))),
        Err(Some(ProxyError::Socks5(3))) => ("filtered", Some(Errno(libc::ENETUNREACH))),
        Err(Some(ProxyError::Socks5(4))) => ("filtered", Some(Errno(libc::EHOSTUNREACH))),
        Err(Some(ProxyError::Socks5(6))) => ("filtered", Some(Errno(libc::ETIMEDOUT))),
        Err(_) => ("error", None),
    };
    let elapsed = started.elapsed();
    if o.verbose >= 2 {
        report::proxy_probe_detail(elapsed, state, !matches!(result, Err(None)));
    }
    if o.json {
        let error = match result {
            Ok(()) => None,
            Err(Some(e)) => {
                Some(String::from_utf8_lossy(&report::proxy_error_text(e)).into_owned())
            }
            Err(None) => Some("the proxy could not be reached".to_string()),
        };
        report::json_probe(&report::JsonProbe {
            host,
            ip: None,
            port,
            proto: o.proto.name(),
            service: &crate::net::ports::service_name(port, o.proto),
            state,
            errno: errno.map(Errno::name),
            error,
            ms: elapsed.as_millis(),
            tls: None,
            diagnosis: None,
            banner: None,
        });
    }
}

/// `-vv` after a UDP probe that failed (nc prints nothing): who refused,
/// from the socket's error queue, or the errno of the send.
fn explain_udp_refusal(cfg: &Config, sock: &Socket, errno: Option<i32>, elapsed: Duration) {
    use crate::net::diagnose::{self, Facts, Outcome, errqueue};
    let Some(dest) = sock.peer_addr().ok().and_then(|a| a.as_socket()) else {
        return;
    };
    let facts = Facts {
        queued: errqueue::take(sock),
        send_errno: errno.map(report::Errno),
        ..Facts::default()
    };
    let probe = diagnose::Probe {
        dest: dest.ip(),
        port: dest.port(),
        proto: cfg.opts.proto.name(),
        elapsed,
        broadcast: cfg.opts.broadcast,
    };
    if let Some(d) = diagnose::diagnose(&probe, Outcome::UdpClosed, &facts) {
        report::diagnosis::probe_lines(&d);
    }
}
