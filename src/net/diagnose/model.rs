//! What a diagnosis holds: the facts `net::diagnose` gathers and the
//! verdict it reaches (a stable [`Code`]), for `report::diagnosis` to word
//! in `-vv` lines and `--json` fields.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::sys::errno::Errno;

/// One entry of the error queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedError {
    /// The errno the kernel derived from it.
    pub errno: i32,
    /// `SO_EE_ORIGIN_*`: local, ICMP or ICMPv6.
    pub origin: u8,
    /// The ICMP type and code.
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// ICMP "info": the next-hop MTU of a fragmentation-needed message.
    pub info: u32,
    /// Who sent it (`SO_EE_OFFENDER`), when known.
    pub reporter: Option<IpAddr>,
}

impl QueuedError {
    pub fn is_icmp6(&self) -> bool {
        self.origin == libc::SO_EE_ORIGIN_ICMP6
    }

    pub fn is_icmp(&self) -> bool {
        self.origin == libc::SO_EE_ORIGIN_ICMP || self.is_icmp6()
    }
}

/// A listening TCP socket, or a bound, unconnected UDP socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub addr: SocketAddr,
    /// "tcp" or "udp".
    pub proto: &'static str,
    pub inode: u64,
    /// The owning process: (pid, command name), when visible.
    pub owner: Option<(u32, String)>,
}

impl Listener {
    /// `127.0.0.1:80`, `[::1]:80`.
    pub fn addr_text(&self) -> String {
        self.addr.to_string()
    }
}

/// What the name lookup's diagnosis says about the name.
#[derive(Clone, Debug, Default)]
pub struct NameFacts {
    /// The host as typed.
    pub host: String,
    /// The family asked for: 4, 6, or None.
    pub asked: Option<u8>,
    /// The other family's first address, when the name has one.
    pub other: Option<String>,
    /// The service name that is unknown.
    pub service: Option<String>,
}

/// What `--banner` found on an open port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Banner {
    /// The first line (or the first bytes), without its line ending.
    Line(Vec<u8>),
    /// Nothing within the wait.
    Silent(Duration),
    /// The server closed (or reset) the connection without a word.
    Closed,
}

/// The stable codes of `--json`'s `diagnosis.code`, documented in the
/// manual's DIAGNOSIS section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Refused,
    IcmpHostUnreachable,
    IcmpNetUnreachable,
    IcmpPortUnreachable,
    IcmpAdminProhibited,
    IcmpFragNeeded,
    IcmpTtlExceeded,
    IcmpOther,
    NeighbourUnreachable,
    TimeoutNoAnswer,
    TimeoutHostAnswers,
    LocalFirewall,
    BroadcastNeedsB,
    NoRoute,
    RouteUnreachable,
    RouteProhibited,
    RouteBlackhole,
    BindPrivileged,
    BindInUse,
    BindAddressNotLocal,
    DnsNxdomain,
    DnsNoAnswer,
    DnsNoAddressFamily,
    DnsNumericOnly,
    DnsFailure,
    UnknownService,
    Other,
}

impl Code {
    /// Every code, in the manual's order.
    #[cfg(test)]
    pub const ALL: &'static [Code] = &[
        Code::Refused,
        Code::IcmpHostUnreachable,
        Code::IcmpNetUnreachable,
        Code::IcmpPortUnreachable,
        Code::IcmpAdminProhibited,
        Code::IcmpFragNeeded,
        Code::IcmpTtlExceeded,
        Code::IcmpOther,
        Code::NeighbourUnreachable,
        Code::TimeoutNoAnswer,
        Code::TimeoutHostAnswers,
        Code::LocalFirewall,
        Code::BroadcastNeedsB,
        Code::NoRoute,
        Code::RouteUnreachable,
        Code::RouteProhibited,
        Code::RouteBlackhole,
        Code::BindPrivileged,
        Code::BindInUse,
        Code::BindAddressNotLocal,
        Code::DnsNxdomain,
        Code::DnsNoAnswer,
        Code::DnsNoAddressFamily,
        Code::DnsNumericOnly,
        Code::DnsFailure,
        Code::UnknownService,
        Code::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Code::Refused => "refused",
            Code::IcmpHostUnreachable => "icmp-host-unreachable",
            Code::IcmpNetUnreachable => "icmp-net-unreachable",
            Code::IcmpPortUnreachable => "icmp-port-unreachable",
            Code::IcmpAdminProhibited => "icmp-admin-prohibited",
            Code::IcmpFragNeeded => "icmp-frag-needed",
            Code::IcmpTtlExceeded => "icmp-ttl-exceeded",
            Code::IcmpOther => "icmp-other",
            Code::NeighbourUnreachable => "neighbour-unreachable",
            Code::TimeoutNoAnswer => "timeout-no-answer",
            Code::TimeoutHostAnswers => "timeout-host-answers",
            Code::LocalFirewall => "local-firewall",
            Code::BroadcastNeedsB => "broadcast-needs-b",
            Code::NoRoute => "no-route",
            Code::RouteUnreachable => "route-unreachable",
            Code::RouteProhibited => "route-prohibited",
            Code::RouteBlackhole => "route-blackhole",
            Code::BindPrivileged => "bind-privileged",
            Code::BindInUse => "bind-in-use",
            Code::BindAddressNotLocal => "bind-address-not-local",
            Code::DnsNxdomain => "dns-nxdomain",
            Code::DnsNoAnswer => "dns-no-answer",
            Code::DnsNoAddressFamily => "dns-no-address-family",
            Code::DnsNumericOnly => "dns-numeric-only",
            Code::DnsFailure => "dns-failure",
            Code::UnknownService => "unknown-service",
            Code::Other => "other",
        }
    }
}

/// Who sent an ICMP error, relative to the probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The destination itself.
    Destination,
    /// This machine (its own firewall, or its neighbour resolution).
    ThisHost,
    /// Someone on the way.
    Router,
}

/// What this machine's listeners say about a refused local port.
#[derive(Clone, Debug, Default)]
pub struct LocalListeners {
    /// Listeners on the probed port, at any address.
    pub on_port: Vec<Listener>,
    /// With none on the port: the nearest listening ports below and above.
    pub nearest: (Option<u16>, Option<u16>),
}

/// The explanation of one probe.
#[derive(Clone, Debug)]
pub struct Diagnosis {
    pub code: Code,
    /// The destination probed.
    pub dest: Option<IpAddr>,
    pub port: u16,
    pub proto: &'static str,
    /// The sender of the answer (ICMP offender, or the host that reset).
    pub reporter: Option<IpAddr>,
    pub role: Option<Role>,
    pub icmp: Option<QueuedError>,
    /// SYNs sent (TCP timeouts and ICMP answers).
    pub syns: Option<u32>,
    pub elapsed: Duration,
    pub errno: Option<Errno>,
    /// Set for a refused port of this machine.
    pub listeners: Option<LocalListeners>,
    /// Names: the host as typed, the family asked for (4 or 6), the other
    /// family's address when it has one, the service.
    pub name: Option<NameFacts>,
}

impl Diagnosis {
    pub fn new(code: Code, dest: Option<IpAddr>, port: u16, proto: &'static str) -> Diagnosis {
        Diagnosis {
            code,
            dest,
            port,
            proto,
            reporter: None,
            role: None,
            icmp: None,
            syns: None,
            elapsed: Duration::ZERO,
            errno: None,
            listeners: None,
            name: None,
        }
    }
}
