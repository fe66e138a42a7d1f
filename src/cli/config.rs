//! The validated configuration: the only form of the command line the rest
//! of ncrab sees.
//!
//! [`crate::cli`] walks the arguments and validates each option as nc does;
//! this module holds the result and applies nc's positional-argument rules
//! and conflict checks, in nc's order (docs/compatibility.md §1.3).

use std::ffi::OsString;
use std::time::Duration;

use crate::net::SockOpts;
use crate::net::acl::Acl;
use crate::net::connect::ConnectOpts;
use crate::relay::RelayOpts;
use crate::relay::log::LogOpts;
use crate::serve::broker::BrokerOpts;
use crate::serve::child::Exec;
use crate::serve::exec::ExecOpts;
use crate::serve::listen::ServeOpts;
use crate::serve::listen::TlsServeOpts;
use crate::serve::session::SessionOpts;

/// `--max-conns` when not given (ncat's default).
pub const DEFAULT_MAX_CONNS: usize = 100;

/// The options of listeners that serve (docs/compatibility.md §A.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Serving {
    /// `--exec` or `--sh-exec`.
    pub exec: Option<Exec>,
    /// `--pty`: children on pseudo-terminals.
    pub pty: bool,
    /// `--raw`: the client's terminal in raw mode.
    pub raw: bool,
    /// `--max-conns`; None: [`DEFAULT_MAX_CONNS`].
    pub max_conns: Option<usize>,
    /// `--broker` (also set by `--chat`).
    pub broker: bool,
    pub chat: bool,
    /// `--allow`, `--deny` and their files.
    pub acl: Acl,
    pub send_only: bool,
    pub recv_only: bool,
    /// `--output`, `--hex-dump`, `--append-output`.
    pub log: LogOpts,
}

pub use crate::net::{Family, Proto};

pub use crate::net::proxy::{Proxy, ProxyProto};

/// What to connect to or listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Client: a host (as typed) and the port list built from the port
    /// arguments.
    Connect {
        host: OsString,
        ports: Vec<u16>,
        /// Several destinations (a CIDR block, a range, a comma list or
        /// `--hosts`): an extension, scanned with `-z` only.
        hosts: Option<crate::net::targets::Targets>,
    },
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
    pub md5sig: Option<crate::sys::passphrase::Secret>,
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
    /// `-w auto`: a scan's connect timeout learned per host.
    pub timeout_auto: bool,
    /// `--hosts FILE`: the destinations, one per line.
    pub hosts_file: Option<OsString>,
    /// `--rate N`: connects started per second at most.
    pub rate: Option<u32>,
    /// `--wait SECONDS` (with `-z`): retry each port until it accepts.
    pub wait_for: Option<u32>,
    /// `--progress`: a transfer's progress line on stderr.
    pub progress: bool,
    /// `--no-progress`: no scan status line on a terminal.
    pub no_progress: bool,
    /// `--banner[=MS]`: how long an open port's server may take to speak.
    pub banner: Option<Duration>,
    /// `--cert-warn DAYS`: with `-zc`, a port whose certificate expires
    /// within DAYS, or fails its checks, fails the run with its line.
    pub cert_warn: Option<u32>,
    /// Listeners that serve: exec, broker, access lists, logs.
    pub serving: Serving,
}

/// The whole validated command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub opts: Options,
    pub target: Target,
    pub proxy: Option<Proxy>,
    /// `-c`: the validated TLS options.
    pub tls: Option<crate::net::tls::TlsConfig>,
}

impl Options {
    /// The `-w` value as a duration, if given.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.map(|s| Duration::from_secs(s as u64))
    }
}

/// The small option structs of the lower layers, derived from the whole
/// command line once, where a mode starts.
impl Config {
    /// The options of every relay (client and listener sessions).
    pub fn relay_opts(&self) -> RelayOpts {
        let o = &self.opts;
        RelayOpts {
            shutdown_on_eof: o.shutdown_on_eof,
            quit_after: o.quit_after,
            idle: o.timeout(),
            recv_limit: o.recv_limit,
            listen: o.listen,
            udp: o.proto == Proto::Udp,
            detach_stdin: o.detach_stdin || o.serving.recv_only,
            interval: o.interval,
            summary: o.verbose >= 2,
            // A session log needs the bytes in user space.
            zero_copy: o.proto == Proto::Tcp
                && !o.serving.log.any()
                && !o.crlf
                && !o.telnet
                && o.interval.is_none()
                && !crate::relay::buffer::splice_disabled(),
            crlf: o.crlf,
            telnet: o.telnet,
            datagram: crate::net::udp::datagram_limit(o.proto),
            progress: o.progress,
            send_only: o.serving.send_only,
        }
    }

    /// The socket options and source bind of every socket.
    pub fn sock_opts(&self) -> SockOpts {
        let o = &self.opts;
        SockOpts {
            broadcast: o.broadcast,
            md5sig: o.md5sig.clone(),
            debug_socket: o.debug_socket,
            tos: o.tos,
            rcvbuf: o.rcvbuf,
            sndbuf: o.sndbuf,
            ttl: o.ttl,
            minttl: o.minttl,
            source_addr: o.source_addr.clone(),
            source_port: o.source_port.clone(),
        }
    }

    /// The options of a client's connects (direct, through a proxy, or a
    /// scan's probes).
    pub fn connect_opts(&self) -> ConnectOpts {
        let o = &self.opts;
        ConnectOpts {
            family: o.family,
            proto: o.proto,
            numeric: o.numeric,
            verbose: o.verbose > 0,
            diagnose: o.verbose >= 2,
            timeout: o.timeout().filter(|t| !t.is_zero()),
            sock: self.sock_opts(),
        }
    }

    /// `-lc`: the options of a TLS listener.
    pub fn tls_serve_opts(&self) -> Option<TlsServeOpts<'_>> {
        let tls = self.tls.as_ref()?;
        let host = match &self.target {
            Target::Listen { host, .. } => host.as_deref(),
            _ => None,
        };
        Some(TlsServeOpts {
            tls,
            host,
            verbose: self.opts.verbose > 0,
            timeout: self.opts.timeout().filter(|t| !t.is_zero()),
        })
    }

    /// The options of a listener's session loop.
    pub fn serve_opts(&self) -> ServeOpts {
        ServeOpts {
            acl: self.opts.serving.acl.clone(),
            keep: self.opts.keep,
            verbose: self.opts.verbose > 0,
            relay: self.relay_opts(),
        }
    }

    /// `--exec`/`--sh-exec`: the options of the exec server, if asked for.
    pub fn exec_opts(&self) -> Option<ExecOpts> {
        let o = &self.opts;
        Some(ExecOpts {
            exec: o.serving.exec.clone()?,
            pty: o.serving.pty,
            acl: o.serving.acl.clone(),
            max_conns: o.serving.max_conns.unwrap_or(DEFAULT_MAX_CONNS),
            verbose: o.verbose > 0,
            numeric: o.numeric,
            keep: o.keep,
            session: SessionOpts {
                idle: o.timeout(),
                crlf: o.crlf,
            },
            proto: o.proto.name(),
            tls: None,
        })
    }

    /// `--broker`/`--chat`: the options of the broker, if asked for.
    pub fn broker_opts(&self) -> Option<BrokerOpts> {
        let o = &self.opts;
        o.serving.broker.then(|| BrokerOpts {
            chat: o.serving.chat,
            acl: o.serving.acl.clone(),
            max_conns: o.serving.max_conns.unwrap_or(DEFAULT_MAX_CONNS),
            verbose: o.verbose > 0,
            numeric: o.numeric,
            read_stdin: !o.detach_stdin && !o.serving.recv_only,
            write_stdout: !o.serving.send_only,
            tls: None,
        })
    }
}
