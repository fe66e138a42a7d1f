//! Why a connection failed, as precisely as the kernel tells: the facts a
//! failed probe leaves behind (the error queue's ICMP message and its
//! sender, the SYN counters of `TCP_INFO`, what listens on this machine)
//! turned into one [`Diagnosis`] with a stable code.
//!
//! Gathering costs nothing for nc's own output: the error queue is only
//! read, `TCP_INFO` only asked for and `/proc` only walked when `-vv` or
//! `--json` wants the answer, and only for a probe that failed. What a
//! diagnosis holds is [`model`]; its texts are in `report::diagnosis`.

pub mod banner;
pub mod errqueue;
pub mod listeners;
pub mod model;
pub mod names;
pub mod tcpinfo;

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use tcpinfo::Syns;

use crate::sys::errno::Errno;
pub use model::{Banner, Code, Diagnosis, Listener, LocalListeners, NameFacts, QueuedError, Role};

/// What a failed (or open) probe left behind, gathered at its end.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The error queue's entry (ICMP message and sender).
    pub queued: Option<QueuedError>,
    /// `TCP_INFO`'s SYN counters.
    pub syns: Option<Syns>,
    /// connect() itself failed: the kernel decided without sending.
    pub immediate: bool,
    /// UDP: the errno of the probe datagram's send, when it failed.
    pub send_errno: Option<Errno>,
    /// `--banner`: what the server said first.
    pub banner: Option<Banner>,
}

/// How a probe ended, as the diagnosis sees it.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    Open,
    Failed(Errno),
    /// The `-w` timer expired.
    TimedOut,
    /// UDP: the probe was refused (or its first datagram not sent).
    UdpClosed,
}

thread_local! {
    /// Addresses that answered some probe of this run (a handshake, a
    /// reset or an ICMP error of their own).
    static ANSWERED: RefCell<HashSet<IpAddr>> = RefCell::new(HashSet::new());
    /// This machine's addresses, read once per run.
    static LOCALS: std::cell::OnceCell<Vec<IpAddr>> = const { std::cell::OnceCell::new() };
    /// The listener tables (TCP, UDP), read once per run: a scan of many
    /// refused local ports reads /proc once, not once per port.
    static TABLES: RefCell<[Option<Vec<Listener>>; 2]> = const { RefCell::new([None, None]) };
}

/// This machine's addresses (cached for the run).
fn local_addrs() -> Vec<IpAddr> {
    LOCALS.with(|l| l.get_or_init(listeners::local_addrs).clone())
}

/// Runs `f` on the listeners of `proto` (read once for the run).
fn with_listeners<R>(proto: &'static str, f: impl FnOnce(&[Listener]) -> R) -> R {
    let i = usize::from(proto == "udp");
    TABLES.with_borrow_mut(|t| f(t[i].get_or_insert_with(|| listeners::all(proto))))
}

/// Records that `ip` answered a probe.
pub fn note_answer(ip: IpAddr) {
    ANSWERED.with_borrow_mut(|s| {
        if s.len() < 65_536 {
            s.insert(ip);
        }
    });
}

fn answered(ip: IpAddr) -> bool {
    ANSWERED.with_borrow(|s| s.contains(&ip))
}

/// Records what a probe's end says about its host answering.
pub fn note_outcome(dest: IpAddr, outcome: Outcome, facts: &Facts) {
    let from_dest = facts
        .queued
        .is_some_and(|q| q.is_icmp() && q.reporter == Some(dest));
    match outcome {
        Outcome::Open => note_answer(dest),
        Outcome::Failed(e) if e.0 == libc::ECONNREFUSED && facts.queued.is_none() => {
            note_answer(dest)
        }
        _ if from_dest => note_answer(dest),
        _ => {}
    }
}

/// The ICMP code names of an error-queue entry.
fn icmp_code(q: &QueuedError) -> Code {
    if q.is_icmp6() {
        // ICMPv6 (RFC 4443): 1 destination unreachable, 2 packet too big,
        // 3 time exceeded.
        return match (q.icmp_type, q.icmp_code) {
            (1, 0) => Code::IcmpNetUnreachable,
            (1, 1) | (1, 5) | (1, 6) => Code::IcmpAdminProhibited,
            (1, 3) => Code::IcmpHostUnreachable,
            (1, 4) => Code::IcmpPortUnreachable,
            (2, _) => Code::IcmpFragNeeded,
            (3, _) => Code::IcmpTtlExceeded,
            _ => Code::IcmpOther,
        };
    }
    // ICMPv4 (RFC 792, 1122, 1812): 3 destination unreachable, 11 time
    // exceeded.
    match (q.icmp_type, q.icmp_code) {
        (3, 0) | (3, 6) | (3, 11) => Code::IcmpNetUnreachable,
        (3, 1) | (3, 7) | (3, 12) => Code::IcmpHostUnreachable,
        (3, 3) => Code::IcmpPortUnreachable,
        (3, 4) => Code::IcmpFragNeeded,
        (3, 9) | (3, 10) | (3, 13) => Code::IcmpAdminProhibited,
        (11, _) => Code::IcmpTtlExceeded,
        _ => Code::IcmpOther,
    }
}

/// Everything the diagnosis of a probe needs besides its facts.
pub struct Probe {
    pub dest: IpAddr,
    pub port: u16,
    pub proto: &'static str,
    pub elapsed: Duration,
    /// `-b` was given.
    pub broadcast: bool,
}

/// Explains a probe's end; None for an open port (nothing to explain).
pub fn diagnose(p: &Probe, outcome: Outcome, facts: &Facts) -> Option<Diagnosis> {
    let mut d = Diagnosis::new(Code::Other, Some(p.dest), p.port, p.proto);
    d.elapsed = p.elapsed;
    d.syns = facts.syns.map(|s| s.sent);
    let errno = match outcome {
        Outcome::Open => return None,
        Outcome::Failed(e) => Some(e),
        Outcome::TimedOut => None,
        Outcome::UdpClosed => facts.send_errno.or(Some(Errno(libc::ECONNREFUSED))),
    };
    d.errno = errno;
    // An ICMP message (or this host's own error) explains it first.
    if let Some(q) = facts.queued.filter(|q| q.is_icmp()) {
        let locals = local_addrs();
        let role = match q.reporter {
            Some(r) if r == p.dest => Role::Destination,
            Some(r) if listeners::is_local(r, &locals) => Role::ThisHost,
            _ => Role::Router,
        };
        d.icmp = Some(q);
        d.reporter = q.reporter;
        d.role = Some(role);
        let code = icmp_code(&q);
        d.code = match (role, code) {
            (Role::ThisHost, Code::IcmpHostUnreachable) => Code::NeighbourUnreachable,
            (Role::ThisHost, Code::IcmpPortUnreachable) if p.dest.is_loopback() => code,
            (Role::ThisHost, _) => Code::LocalFirewall,
            _ => code,
        };
        if d.code == Code::IcmpPortUnreachable && role == Role::Destination {
            add_listeners(&mut d, p);
        }
        return Some(d);
    }
    let e = errno.map(|e| e.0);
    d.code = match (outcome, e) {
        (Outcome::TimedOut, _) | (_, Some(libc::ETIMEDOUT)) => {
            if facts.syns.is_some_and(|s| s.failed_locally) {
                Code::LocalFirewall
            } else if answered(p.dest) {
                Code::TimeoutHostAnswers
            } else {
                Code::TimeoutNoAnswer
            }
        }
        (_, Some(libc::ECONNREFUSED)) => {
            d.reporter = Some(p.dest);
            d.role = Some(Role::Destination);
            add_listeners(&mut d, p);
            if matches!(outcome, Outcome::UdpClosed) {
                Code::IcmpPortUnreachable
            } else {
                Code::Refused
            }
        }
        (_, Some(libc::EPERM)) => Code::LocalFirewall,
        (_, Some(libc::EACCES)) => {
            let bcast = listeners::broadcast_addrs();
            if !p.broadcast && bcast.contains(&p.dest) {
                Code::BroadcastNeedsB
            } else {
                Code::RouteProhibited
            }
        }
        (_, Some(libc::ENETUNREACH)) if facts.immediate => Code::NoRoute,
        (_, Some(libc::EHOSTUNREACH)) if facts.immediate => Code::RouteUnreachable,
        (_, Some(libc::EINVAL)) if facts.immediate => Code::RouteBlackhole,
        // Without an error-queue entry (another kernel, or none queued).
        (_, Some(libc::ENETUNREACH)) => Code::IcmpNetUnreachable,
        (_, Some(libc::EHOSTUNREACH)) => Code::IcmpHostUnreachable,
        _ => Code::Other,
    };
    Some(d)
}

/// A refused port of this machine: what does listen, and who owns it.
fn add_listeners(d: &mut Diagnosis, p: &Probe) {
    if !listeners::is_local(p.dest, &local_addrs()) {
        return;
    }
    let (mut on_port, nearest) = with_listeners(p.proto, |all| {
        let mut on_port: Vec<Listener> = all
            .iter()
            .filter(|l| l.addr.port() == p.port)
            .cloned()
            .collect();
        on_port.sort_by_key(|l| (l.addr.is_ipv6(), l.addr));
        on_port.dedup_by(|a, b| a.addr == b.addr);
        on_port.truncate(8);
        let mut nearest = (None, None);
        if on_port.is_empty() {
            for l in all {
                let q = l.addr.port();
                if q < p.port && nearest.0.is_none_or(|n| q > n) {
                    nearest.0 = Some(q);
                }
                if q > p.port && nearest.1.is_none_or(|n| q < n) {
                    nearest.1 = Some(q);
                }
            }
        }
        (on_port, nearest)
    });
    listeners::find_owners(&mut on_port);
    d.listeners = Some(LocalListeners { on_port, nearest });
}

/// A client bind (`-s`/`-p`) that failed.
pub fn bind_failed(errno: Errno, source_port: Option<&str>) -> Diagnosis {
    let code = match errno.0 {
        libc::EACCES | libc::EPERM => Code::BindPrivileged,
        libc::EADDRINUSE => Code::BindInUse,
        libc::EADDRNOTAVAIL => Code::BindAddressNotLocal,
        _ => Code::Other,
    };
    // For a privileged port, the text names the limit.
    let port = match code {
        Code::BindPrivileged => unprivileged_port_start(),
        _ => source_port.and_then(|p| p.parse().ok()).unwrap_or(0),
    };
    let mut d = Diagnosis::new(code, None, port, "tcp");
    d.errno = Some(errno);
    d
}

/// The lowest port an unprivileged process may bind (Linux's
/// `ip_unprivileged_port_start`, 1024 unless changed).
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_messages_map_to_codes() {
        let q = |origin, t, c| QueuedError {
            errno: libc::EHOSTUNREACH,
            origin,
            icmp_type: t,
            icmp_code: c,
            info: 0,
            reporter: None,
        };
        let v4 = libc::SO_EE_ORIGIN_ICMP;
        let v6 = libc::SO_EE_ORIGIN_ICMP6;
        assert_eq!(icmp_code(&q(v4, 3, 1)), Code::IcmpHostUnreachable);
        assert_eq!(icmp_code(&q(v4, 3, 0)), Code::IcmpNetUnreachable);
        assert_eq!(icmp_code(&q(v4, 3, 13)), Code::IcmpAdminProhibited);
        assert_eq!(icmp_code(&q(v4, 3, 3)), Code::IcmpPortUnreachable);
        assert_eq!(icmp_code(&q(v4, 3, 4)), Code::IcmpFragNeeded);
        assert_eq!(icmp_code(&q(v4, 11, 0)), Code::IcmpTtlExceeded);
        assert_eq!(icmp_code(&q(v6, 1, 3)), Code::IcmpHostUnreachable);
        assert_eq!(icmp_code(&q(v6, 1, 0)), Code::IcmpNetUnreachable);
        assert_eq!(icmp_code(&q(v6, 1, 1)), Code::IcmpAdminProhibited);
        assert_eq!(icmp_code(&q(v6, 1, 4)), Code::IcmpPortUnreachable);
        assert_eq!(icmp_code(&q(v6, 2, 0)), Code::IcmpFragNeeded);
    }
}
