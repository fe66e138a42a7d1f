//! Client mode: each port of the list in turn, connect, report, relay
//! (B §5: without `-z`, nc relays on every port that connects).
//!
//! UDP (B §6.4): the connect is immediate; with `-v` the port is first
//! probed with `X` datagrams ([`crate::udp`]) when the probe applies, and
//! a refused probe moves on to the next port with status 1. `-F` hands the
//! first connected socket over stdout and ends the run ([`crate::fdpass`]).

use std::time::Duration;

use crate::config::{Config, Proto, Target};
use crate::connect;
use crate::exit::{Abort, Status};
use crate::fdpass;
use crate::listen::relay_opts;
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
    if cfg.opts.zero_io && !cfg.opts.pass_fd {
        return scan::run(rx, cfg, host, ports);
    }
    let hints = connect::client_hints(cfg);
    let mut status = 1;
    for (i, &port) in ports.iter().enumerate() {
        if i > 0 {
            if let Some(secs) = cfg.opts.interval {
                scan::pause(rx, Duration::from_secs(u64::from(secs)))?;
            }
        }
        let port_s = port.to_string();
        let addrs = match resolve::lookup(Some(host), Some(&port_s), hints) {
            Ok(a) => a,
            Err(e) => {
                report::getaddrinfo_host_failed(host, &port_s, e);
                return Err(Abort::Failed);
            }
        };
        let Some(c) = connect::remote_connect(rx, cfg, host, &port_s, &addrs, true)? else {
            continue;
        };
        status = 0;
        if cfg.opts.verbose > 0 {
            if cfg.opts.proto == Proto::Udp
                && udp::wants_probe(cfg, stdin)
                && !udp::probe(rx, &c.sock, udp::probe_secs(cfg))?
            {
                status = 1;
                continue;
            }
            connect::report_success(cfg, host, port, Some(&c.ip));
        }
        if cfg.opts.pass_fd {
            return fdpass::pass(rx, stdout, &c.sock);
        }
        if cfg.opts.zero_io {
            continue;
        }
        let mut relay = Relay::new(c.sock, stdin, stdout, relay_opts(cfg));
        let outcome = rx.run(&mut relay)?;
        if outcome.end == End::QuitTimer {
            return Err(Abort::QuitTimer);
        }
    }
    Ok(status)
}
