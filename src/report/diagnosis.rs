//! The texts of ncrab's diagnoses (`-vv`) and the `diagnosis` and
//! `banner` fields of `--json`. Each text says what happened, as precisely
//! as the kernel told, and what to check next, in one line; a refused
//! port of this machine gets a second line about what does listen.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{json_str, note};
use crate::net::diagnose::{Banner, Code, Diagnosis, Listener, QueuedError, Role};

/// `a.b.c.d` or `x:y::z` (no brackets).
fn ip(a: Option<IpAddr>) -> String {
    a.map_or_else(|| "the host".to_string(), |a| a.to_string())
}

/// The ICMP message of an error-queue entry, in words.
pub fn icmp_words(q: &QueuedError) -> String {
    if q.is_icmp6() {
        return match (q.icmp_type, q.icmp_code) {
            (1, 0) => "ICMPv6 no route to destination".into(),
            (1, 1) => "ICMPv6 communication administratively prohibited".into(),
            (1, 3) => "ICMPv6 address unreachable".into(),
            (1, 4) => "ICMPv6 port unreachable".into(),
            (1, 5) => "ICMPv6 source address failed ingress/egress policy".into(),
            (1, 6) => "ICMPv6 reject route to destination".into(),
            (2, _) => format!("ICMPv6 packet too big (MTU {})", q.info),
            (3, _) => "ICMPv6 time exceeded".into(),
            (t, c) => format!("ICMPv6 type {t} code {c}"),
        };
    }
    match (q.icmp_type, q.icmp_code) {
        (3, 0) => "ICMP network unreachable".into(),
        (3, 1) => "ICMP host unreachable".into(),
        (3, 2) => "ICMP protocol unreachable".into(),
        (3, 3) => "ICMP port unreachable".into(),
        (3, 4) => format!("ICMP fragmentation needed (MTU {})", q.info),
        (3, 6) => "ICMP destination network unknown".into(),
        (3, 7) => "ICMP destination host unknown".into(),
        (3, 9) => "ICMP network administratively prohibited".into(),
        (3, 10) => "ICMP host administratively prohibited".into(),
        (3, 11) | (3, 12) => "ICMP unreachable for this type of service".into(),
        (3, 13) => "ICMP communication administratively prohibited".into(),
        (11, _) => "ICMP time exceeded".into(),
        (t, c) => format!("ICMP type {t} code {c}"),
    }
}

/// Who answered: `10.9.0.1 (a router on the way)`, `10.9.0.2 itself`.
fn who(d: &Diagnosis) -> String {
    let r = ip(d.reporter);
    match d.role {
        Some(Role::Destination) => format!("{r} itself"),
        Some(Role::ThisHost) => format!("{r} (this host)"),
        _ => format!("{r} (a router on the way)"),
    }
}

/// `3 SYNs over 7.0 s`.
fn syns(d: &Diagnosis) -> String {
    let secs = d.elapsed.as_secs_f64();
    match d.syns {
        Some(1) => format!("1 SYN over {secs:.1} s"),
        Some(n) => format!("{n} SYNs over {secs:.1} s"),
        None => format!("no answer in {secs:.1} s"),
    }
}

/// The one-line explanation of a diagnosis.
pub fn text(d: &Diagnosis) -> String {
    let dest = ip(d.dest);
    let port = d.port;
    let proto = d.proto;
    let icmp = d.icmp.as_ref().map(icmp_words).unwrap_or_default();
    let from_dest = d.role == Some(Role::Destination);
    match d.code {
        Code::Refused => format!(
            "closed: {dest} answered with a TCP reset: nothing listens on port {port} there, or a firewall rejects with tcp-reset; check that the service runs and on which address (ss -ltn)"
        ),
        Code::IcmpPortUnreachable if from_dest => format!(
            "closed: {dest} answered {}: the host is up but nothing listens on {proto} port {port}; check that the service runs (ss -l{}n)",
            if icmp.is_empty() { "ICMP port unreachable".to_string() } else { icmp },
            &proto[..1]
        ),
        Code::IcmpPortUnreachable => format!(
            "{} answered {icmp}: a firewall there rejects this port; check its rules (nft list ruleset)",
            who(d)
        ),
        Code::IcmpHostUnreachable if from_dest => format!(
            "{} answered {icmp}: a firewall on the host rejects this port; check its rules (nft list ruleset)",
            who(d)
        ),
        Code::IcmpHostUnreachable if d.icmp.is_none() => format!(
            "no route to host: a router answered ICMP host unreachable or admin-prohibited; check that {dest} is up, and the routes and firewalls on the way"
        ),
        Code::IcmpHostUnreachable => format!(
            "{} answered {icmp}: the last router cannot reach the host, it is down or not on that network; check that {dest} is up and its address",
            who(d)
        ),
        Code::IcmpNetUnreachable if d.icmp.is_none() => format!(
            "network unreachable: a router has no route to {dest}; check the address and the routes on the way"
        ),
        Code::IcmpNetUnreachable => format!(
            "{} answered {icmp}: it has no route to {dest}'s network; check the address and that router's routes",
            who(d)
        ),
        Code::IcmpAdminProhibited if from_dest => format!(
            "{} answered {icmp}: a firewall on the host rejects this port; check its rules (nft list ruleset)",
            who(d)
        ),
        Code::IcmpAdminProhibited => format!(
            "{} answered {icmp}: a firewall there rejects this traffic; check its rules (nft list ruleset)",
            who(d)
        ),
        Code::IcmpFragNeeded => format!(
            "{} answered {icmp}: the packets are too big for a link on the way; check the MTU and that ICMP is not filtered",
            who(d)
        ),
        Code::IcmpTtlExceeded => format!(
            "{} answered {icmp}: the packets ran out of hops on the way (see -M) or the routes loop; check with traceroute",
            who(d)
        ),
        Code::IcmpOther => format!(
            "{} answered {icmp}; check the routes and firewalls on the way",
            who(d)
        ),
        Code::NeighbourUnreachable => format!(
            "nobody on the local link answered for {dest} (no ARP or neighbour reply): it is down or not on this network; check its address (ip neigh)"
        ),
        Code::TimeoutNoAnswer => format!(
            "{}, none answered: a firewall drops the packets, or the host is down or does not exist on this network; check with tcpdump where they stop",
            syns(d)
        ),
        Code::TimeoutHostAnswers => format!(
            "{}, none answered, but {dest} answers on other ports: a firewall drops this one; check the rules for port {port} on the host and on the way",
            syns(d)
        ),
        Code::LocalFirewall => match (d.icmp.as_ref(), d.syns) {
            (Some(_), _) => format!(
                "this host's firewall rejected the connection ({} answered {icmp}); check its OUTPUT rules (nft list ruleset)",
                ip(d.reporter)
            ),
            (None, Some(_)) if d.errno.is_none_or(|e| e.0 != libc::EPERM) => format!(
                "{}, none left this host: its firewall drops them (netfilter OUTPUT); check nft list ruleset or iptables -L OUTPUT",
                syns(d)
            ),
            _ => "operation not permitted: this host's firewall refused to send the packets (netfilter OUTPUT); check nft list ruleset or iptables -L OUTPUT".to_string(),
        },
        Code::BroadcastNeedsB => format!(
            "permission denied: {dest} is a broadcast address, which needs -b"
        ),
        Code::NoRoute => format!(
            "network unreachable: this machine has no route to {dest}; check the address and ip route get {dest}"
        ),
        Code::RouteUnreachable => format!(
            "no route to host: this machine's routing table marks {dest} unreachable; check ip route get {dest}"
        ),
        Code::RouteProhibited => format!(
            "permission denied: this machine's routing table prohibits {dest} (a prohibit route), or its firewall refused; check ip route get {dest}"
        ),
        Code::RouteBlackhole => format!(
            "invalid argument: this machine's routing table drops {dest} (a blackhole route); check ip route get {dest}"
        ),
        Code::BindPrivileged => format!(
            "ports below {port} need root or the CAP_NET_BIND_SERVICE capability; choose a higher -p"
        ),
        Code::BindInUse => {
            "another socket already uses that local port: choose another -p, or find its owner with ss -tanp".to_string()
        }
        Code::BindAddressNotLocal => {
            "the -s address is not an address of this machine; check ip addr".to_string()
        }
        Code::DnsNxdomain => {
            let host = name_host(d);
            format!(
                "the name {host} does not exist: check its spelling, /etc/hosts and the DNS (getent hosts {host})"
            )
        }
        Code::DnsNoAnswer => {
            "no name server answered: check the network and /etc/resolv.conf, or try again".to_string()
        }
        Code::DnsNoAddressFamily => {
            let f = d.name.as_ref();
            let asked = f.and_then(|f| f.asked);
            let host = name_host(d);
            match (asked, f.and_then(|f| f.other.clone())) {
                (Some(a), Some(other)) => {
                    let b = if a == 4 { 6 } else { 4 };
                    format!(
                        "{host} has no IPv{a} address, only IPv{b} ones ({other}): use -{b} instead of -{a}"
                    )
                }
                (Some(a), None) => format!(
                    "{host} has no IPv{a} address: try -{}",
                    if a == 4 { 6 } else { 4 }
                ),
                _ => format!("{host} exists but has no address: check the DNS (getent hosts {host})"),
            }
        }
        Code::DnsNumericOnly => {
            "with -n the host must be a numeric address: drop -n to look the name up".to_string()
        }
        Code::DnsFailure => {
            "the name could not be looked up: check /etc/hosts and the DNS configuration".to_string()
        }
        Code::UnknownService => {
            let s = d
                .name
                .as_ref()
                .and_then(|f| f.service.clone())
                .unwrap_or_default();
            format!(
                "no service named '{s}' in /etc/services for {proto}: give the port number (getent services {s})"
            )
        }
        Code::Other => super::diagnosis(d.errno, d.errno.is_none()).to_string(),
    }
}

fn name_host(d: &Diagnosis) -> String {
    d.name.as_ref().map(|f| f.host.clone()).unwrap_or_default()
}

/// `(pid 123, sshd)` when the owner is known.
fn owner(l: &Listener) -> String {
    match &l.owner {
        Some((pid, comm)) => format!(" (pid {pid}, {comm})"),
        None => String::new(),
    }
}

/// The second line for a refused port of this machine: what listens.
pub fn listeners_text(d: &Diagnosis) -> Option<String> {
    let ls = d.listeners.as_ref()?;
    let dest = d.dest?;
    let port = d.port;
    let proto = d.proto;
    if ls.on_port.is_empty() {
        return Some(match ls.nearest {
            (Some(a), Some(b)) => format!(
                "nothing listens on {proto} port {port} at all; the nearest listeners are {a} and {b}"
            ),
            (Some(a), None) | (None, Some(a)) => format!(
                "nothing listens on {proto} port {port} at all; the nearest listener is {a}"
            ),
            (None, None) => format!("nothing listens on {proto} port {port}, nor on any other"),
        });
    }
    let mut parts = Vec::new();
    for l in &ls.on_port {
        let a = l.addr.ip();
        let same_family = a.is_ipv4() == dest.is_ipv4();
        let part = if !same_family {
            let fam = if a.is_ipv4() { "IPv4" } else { "IPv6" };
            format!(
                "a listener on {} accepts only {fam}{}",
                l.addr_text(),
                owner(l)
            )
        } else if a == dest || a.is_unspecified() {
            format!(
                "a listener on {} exists now{}: it started after the probe, or its queue is full",
                l.addr_text(),
                owner(l)
            )
        } else {
            format!("port {port} listens on {a} only, not on {dest}{}", owner(l))
        };
        parts.push(part);
    }
    let mut s = format!("nothing listens on port {port} of {dest}; ");
    s.push_str(&parts.join("; "));
    Some(s)
}

/// The `-vv` lines of a failed probe: `\tN ms: TEXT`, and what listens.
pub fn probe_lines(d: &Diagnosis) {
    note(format_args!("\t{} ms: {}", d.elapsed.as_millis(), text(d)));
    if let Some(l) = listeners_text(d) {
        note(format_args!("\t{l}"));
    }
}

/// The `-vv` line after a failed name lookup or bind: `\tTEXT`.
pub fn detail_line(d: &Diagnosis) {
    note(format_args!("\t{}", text(d)));
}

/// Escapes a banner for one line of text: printable ASCII as is, `\\`,
/// `\t`, `\r`, `\n` and `\xHH` for every other byte.
pub fn escape_banner(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s
}

/// The `-vv` line of `--banner` after an open port's line.
pub fn banner_line(b: &Banner) {
    match b {
        Banner::Line(l) => note(format_args!("\tbanner: {}", escape_banner(l))),
        Banner::Silent(wait) => note(format_args!(
            "\tno banner: the server sent nothing within {} ms (it waits for the client to speak first)",
            wait.as_millis()
        )),
        Banner::Closed => note(format_args!(
            "\tno banner: the server closed the connection without a word"
        )),
    }
}

/// Appends `,"diagnosis":{...}` (or null) to a `--json` line.
pub fn json_field(out: &mut String, d: Option<&Diagnosis>) {
    out.push_str(",\"diagnosis\":");
    let Some(d) = d else {
        out.push_str("null");
        return;
    };
    out.push_str("{\"code\":");
    json_str(out, d.code.name());
    out.push_str(",\"reporter\":");
    match d.reporter {
        Some(r) => json_str(out, &r.to_string()),
        None => out.push_str("null"),
    }
    out.push_str(",\"role\":");
    match d.role {
        Some(Role::Destination) => json_str(out, "destination"),
        Some(Role::ThisHost) => json_str(out, "this-host"),
        Some(Role::Router) => json_str(out, "router"),
        None => out.push_str("null"),
    }
    match &d.icmp {
        Some(q) => {
            let _ = write!(
                out,
                ",\"icmp\":{{\"version\":{},\"type\":{},\"code\":{}}}",
                if q.is_icmp6() { 6 } else { 4 },
                q.icmp_type,
                q.icmp_code
            );
        }
        None => out.push_str(",\"icmp\":null"),
    }
    match d.syns {
        Some(n) => {
            let _ = write!(out, ",\"syns\":{n}");
        }
        None => out.push_str(",\"syns\":null"),
    }
    out.push_str(",\"listeners\":");
    match &d.listeners {
        None => out.push_str("null"),
        Some(ls) => {
            out.push('[');
            for (i, l) in ls.on_port.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"address\":");
                json_str(out, &l.addr_text());
                match &l.owner {
                    Some((pid, comm)) => {
                        let _ = write!(out, ",\"pid\":{pid},\"process\":");
                        json_str(out, comm);
                    }
                    None => out.push_str(",\"pid\":null,\"process\":null"),
                }
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push_str(",\"nearest\":");
    match d.listeners.as_ref().map(|l| l.nearest) {
        Some((a, b)) if a.is_some() || b.is_some() => {
            let ports: Vec<String> = [a, b].iter().flatten().map(u16::to_string).collect();
            let _ = write!(out, "[{}]", ports.join(","));
        }
        Some(_) => out.push_str("[]"),
        None => out.push_str("null"),
    }
    out.push_str(",\"text\":");
    json_str(out, &text(d));
    out.push('}');
}

/// Appends `,"banner":"..."` (or null) to a `--json` line: the line
/// escaped exactly as on the `-vv` line.
pub fn json_banner(out: &mut String, b: Option<&Banner>) {
    out.push_str(",\"banner\":");
    match b {
        Some(Banner::Line(l)) => json_str(out, &escape_banner(l)),
        _ => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_are_escaped() {
        assert_eq!(escape_banner(b"SSH-2.0-x"), "SSH-2.0-x");
        assert_eq!(escape_banner(b"a\\b\tc\x00\xff"), "a\\\\b\\tc\\x00\\xff");
    }
}
