//! Client mode: each port of the list in turn, connect, report, relay
//! (B §5: without `-z`, nc relays on every port that connects).
//!
//! With `-x` every port gets its own connection through the proxy and its
//! own handshake (B §7), `-z` included: nc's scan through a proxy is that
//! same sequential loop, closing each tunnel once it is open. Without a
//! proxy, `-z` is the concurrent scanner of [`crate::scan`].
//!
//! UDP (B §6.4): the connect is immediate; with `-v` the port is first
//! probed with `X` datagrams ([`crate::udp`]) when the probe applies, and
//! a refused probe moves on to the next port with status 1. `-F` hands the
//! first connected socket over stdout and ends the run ([`crate::fdpass`]).

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use socket2::Socket;

use crate::config::{Config, Proto, Target};
use crate::connect;
use crate::exit::{Abort, Status};
use crate::fdpass;
use crate::listen::relay_opts;
use crate::proxy;
use crate::reactor::Reactor;
use crate::relay::{End, Relay};
use crate::report;
use crate::resolve;
use crate::scan;
use crate::stdio::Stdio;
use crate::udp;

pub fn run(rx: &mut Reactor, cfg: &Config, stdin: &Stdio, stdout: &Stdio) -> Result<Status, Abort> {
    let Target::Connect { host, ports } = &cfg.target else {
        return Err(Abort::Failed);
    };
    // `-zF` connects and passes the socket like `-F` alone (nc).
    if cfg.opts.zero_io && cfg.proxy.is_none() && !cfg.opts.pass_fd {
        return scan::run(rx, cfg, host, ports);
    }
    let tls = match &cfg.tls {
        Some(t) => Some((t, crate::tls::client::config(t)?)),
        None => None,
    };
    let mut status = 1;
    for (i, &port) in ports.iter().enumerate() {
        if i > 0 {
            if let Some(secs) = cfg.opts.interval {
                scan::pause(rx, Duration::from_secs(u64::from(secs)))?;
            }
        }
        let started = Instant::now();
        let Some((sock, ip)) = connect_port(rx, cfg, host, port)? else {
            continue;
        };
        status = 0;
        if cfg.opts.verbose > 0 {
            if cfg.opts.proto == Proto::Udp
                && udp::wants_probe(cfg, stdin)
                && !udp::probe(rx, &sock, udp::probe_secs(cfg))?
            {
                status = 1;
                continue;
            }
            connect::report_success(cfg, host, port, ip.as_deref());
        }
        if cfg.proxy.is_some() {
            proxy::scan_result(cfg, host, port, started, Ok(()));
        }
        if cfg.opts.pass_fd {
            return fdpass::pass(rx, stdout, &sock);
        }
        if let Some((t, tc)) = &tls {
            let timeout = connect::connect_timeout(cfg);
            let verbose = cfg.opts.verbose > 0;
            let s = crate::tls::client::start(rx, t, tc, sock, host, timeout, verbose)?;
            if !cfg.opts.zero_io {
                let mut relay = crate::tls::relay::TlsRelay::new(s, stdin, stdout, relay_opts(cfg));
                if rx.run(&mut relay)?.end == End::QuitTimer {
                    return Err(Abort::QuitTimer);
                }
            }
            continue;
        }
        if cfg.opts.zero_io {
            continue; // the tunnel closes here
        }
        let mut relay = Relay::new(sock, stdin, stdout, relay_opts(cfg));
        let outcome = rx.run(&mut relay)?;
        if outcome.end == End::QuitTimer {
            return Err(Abort::QuitTimer);
        }
    }
    Ok(status)
}

/// Connects to one port, directly or through the proxy. The numeric
/// address comes back for M1's `(IP)`, which a proxied line never shows.
fn connect_port(
    rx: &mut Reactor,
    cfg: &Config,
    host: &OsStr,
    port: u16,
) -> Result<Option<(Socket, Option<String>)>, Abort> {
    if let Some(p) = &cfg.proxy {
        return Ok(proxy::connect(rx, cfg, p, host, port)?.map(|s| (s, None)));
    }
    let port_s = port.to_string();
    let port_s = OsStr::new(&port_s);
    let addrs = match resolve::lookup(Some(host), Some(port_s), connect::client_hints(cfg)) {
        Ok(a) => a,
        Err(e) => {
            report::getaddrinfo_host_failed(host, port_s, e);
            return Err(Abort::Failed);
        }
    };
    let c = connect::remote_connect(rx, cfg, host, port_s, &addrs, true)?;
    Ok(c.map(|c| (c.sock, Some(c.ip))))
}
