//! The validated configuration: the only form of the command line the rest
//! of ncrab sees.
//!
//! [`crate::cli`] walks the arguments and validates each option as nc does;
//! this module holds the result and applies nc's positional-argument rules
//! and conflict checks, in nc's order (B §1.3).

use std::ffi::OsString;
use std::time::Duration;

/// Address family requested by `-4`, `-6` or `-U` (the last one wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    Any,
    Inet,
    Inet6,
    Unix,
}

/// Socket protocol: `-u` (UDP) wins over `-Z` (DCCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
    Dccp,
}

impl Proto {
    /// The name used in messages (`[tcp/ssh]`, `(udp)`).
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Dccp => "dccp",
        }
    }
}

/// `-X`: the proxy protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProxyProto {
    Socks4,
    #[default]
    Socks5,
    HttpConnect,
}

/// `-x host[:port]` with `-X` and `-P`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    /// The host as typed.
    pub host: OsString,
    /// The port text exactly as given (may be empty: `host:`).
    pub port: OsString,
    pub proto: ProxyProto,
    pub user: Option<String>,
}

/// What to connect to or listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Client: a host (as typed) and the port list built from the port
    /// arguments.
    Connect { host: OsString, ports: Vec<u16> },
    /// Listener: an optional bind host and the port text, handed straight to
    /// getaddrinfo (a service name, a number taken modulo 65536, or 0).
    Listen {
        host: Option<OsString>,
        port: OsString,
    },
    /// Unix-domain client (`-U PATH`).
    UnixConnect { path: OsString },
    /// Unix-domain listener (`-lU PATH`).
    UnixListen { path: OsString },
}

/// Every option, validated.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Options {
    pub family: Family,
    pub proto: Proto,
    pub listen: bool,
    pub keep: bool,
    pub zero_io: bool,
    /// `-v` count; nc treats any count as on, `-vv` enables ncrab's diagnoses.
    pub verbose: u8,
    pub numeric: bool,
    pub detach_stdin: bool,
    /// `-N`, also set by `-q N` with N >= 0.
    pub shutdown_on_eof: bool,
    /// `-q`: -1 when not given (nc's default).
    pub quit_after: i32,
    /// `-w` in seconds; `None` when not given.
    pub timeout: Option<u32>,
    /// `-W`: number of network reads before the run ends.
    pub recv_limit: Option<u32>,
    /// `-i`: seconds to wait after each line sent and between ports.
    pub interval: Option<u32>,
    /// `-C`: LF sent as CR LF.
    pub crlf: bool,
    /// `-t`: answer TELNET negotiation.
    pub telnet: bool,
    pub broadcast: bool,
    pub debug_socket: bool,
    /// `-S`: the TCP MD5 signature key read from the terminal.
    pub md5sig: Option<crate::passphrase::Secret>,
    pub rcvbuf: Option<u32>,
    pub sndbuf: Option<u32>,
    pub ttl: Option<u8>,
    pub minttl: Option<u8>,
    pub tos: Option<u8>,
    pub randomize: bool,
    pub pass_fd: bool,
    /// `-s` as typed: an address, or with `-Uu` a path (never altered).
    pub source_addr: Option<OsString>,
    pub source_port: Option<String>,
    pub proxy_proto: ProxyProto,
    pub proxy_arg: Option<OsString>,
    pub proxy_user: Option<String>,
    /// `--json`: one JSON object per probe on stdout.
    pub json: bool,
    /// `--window N`: probes in flight at once (1 = sequential, as nc).
    pub window: Option<usize>,
}

/// The whole validated command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub opts: Options,
    pub target: Target,
    pub proxy: Option<Proxy>,
    /// `-c`: the validated TLS options.
    pub tls: Option<crate::tls::TlsConfig>,
}

impl Options {
    /// The `-w` value as a duration, if given.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.map(|s| Duration::from_secs(s as u64))
    }
}
