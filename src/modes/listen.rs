//! Listen mode (docs/compatibility.md §8): bind, listen, accept in the loop, relay, and with
//! `-k` serve the next client on the same listening socket.
//!
//! Datagram listeners (`-lu`, `-lUu`, docs/compatibility.md §6.2, §6.4) have no accept: without
//! `-k` they wait (with no time limit) for the first datagram, connect the
//! socket to its sender and relay, the first datagram then being read as
//! any other; with `-k` the socket stays unconnected and receives from
//! every peer (its sends fail with EDESTADDRREQ, which silently ends the
//! stdin side, as in nc). The sessions themselves (accept,
//! relay, the `-k`/`-q` rule) are [`crate::serve::listen`], shared with the
//! Unix-domain listeners.

use std::ffi::OsStr;
use std::io;

use socket2::{SockAddr, Socket};

use crate::cli::config::{Config, Family, Proto, Target};
use crate::net::resolve::{self, Hints};
use crate::net::{self, Failed};
use crate::relay::log::Log;
use crate::relay::stdio::Stdio;
use crate::report::{self, Errno};
use crate::serve::handshake::TlsAccept;
use crate::serve::listen::{self, Local, Relays, serve_datagrams, serve_streams};
use crate::serve::{broker, exec};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::Reactor;

/// nc's `local_listen`: bind the first address that binds, then listen.
pub fn local_listen(cfg: &Config, host: Option<&OsStr>, port: &OsStr) -> Result<Socket, Failed> {
    let o = &cfg.opts;
    let sock_opts = cfg.sock_opts();
    let mut family = o.family;
    // A wildcard bind defaults to IPv4 (docs/compatibility.md §8).
    if host.is_none() && family == Family::Any {
        family = Family::Inet;
    }
    let hints = Hints {
        family,
        proto: o.proto,
        numeric: o.numeric,
        passive: true,
    };
    let addrs = resolve::lookup(host, Some(port), hints).map_err(|e| {
        report::getaddrinfo_failed(e);
        Failed
    })?;
    let mut last_err = Errno(libc::EADDRNOTAVAIL);
    for ai in &addrs {
        let Ok(sock) = net::socket(ai.family, ai.socktype, ai.protocol) else {
            last_err = Errno::of(&io::Error::last_os_error());
            continue;
        };
        if let Err(e) = sock.set_reuse_address(true) {
            report::couldnt_set("SO_REUSEADDR", Errno::of(&e));
        }
        if let Err(e) = sock.set_reuse_port(true) {
            report::couldnt_set("SO_REUSEPORT", Errno::of(&e));
        }
        net::set_common_options(&sock, &ai.addr, &sock_opts).map_err(|e| {
            report::setup_failed(&e);
            Failed
        })?;
        match sock.bind(&ai.addr) {
            Ok(()) => {
                // TCP and DCCP listen; UDP does not (nc: `if (!uflag)`).
                if ai.socktype != libc::SOCK_DGRAM {
                    if let Err(e) = sock.listen(1) {
                        report::warn(format_args!("listen"), Errno::of(&e));
                        return Err(Failed);
                    }
                }
                if o.verbose > 0 {
                    let what = if ai.socktype == libc::SOCK_DGRAM {
                        "Bound"
                    } else {
                        "Listening"
                    };
                    // The bound address, so port 0 shows the port chosen.
                    match sock.local_addr() {
                        Ok(bound) => report::sock_line(what, resolve::name_info(&bound, o.numeric)),
                        Err(e) => {
                            report::warn(format_args!("getsockname"), Errno::of(&e));
                            return Err(Failed);
                        }
                    }
                }
                return Ok(sock);
            }
            Err(e) => last_err = Errno::of(&e),
        }
    }
    report::warn_errno(last_err);
    Err(Failed)
}

/// Waits for one connection on the listening socket.
/// Listen mode on an address and port: TCP, UDP or DCCP.
pub fn run(rx: &mut Reactor, cfg: &Config, stdin: &Stdio, stdout: &Stdio) -> Result<Status, Abort> {
    let Target::Listen { host, port } = &cfg.target else {
        return Err(Abort::Failed);
    };
    // `-c`: the listener's TLS configuration is built before it listens
    // (OpenBSD configures TLS before `local_listen`), and a generated
    // certificate's hash is printed after `Listening on`.
    let tls_opts = cfg.tls_serve_opts();
    let mut tls_srv = match &tls_opts {
        Some(o) => Some(listen::config(o)?),
        None => None,
    };
    let listener = local_listen(cfg, host.as_deref(), port)?;
    if let (Some(o), Some(srv)) = (&tls_opts, &tls_srv) {
        listen::announce(o, srv);
    }
    let log = Log::open(&cfg.opts.serving.log).map_err(|()| Abort::Failed)?;
    let log = log.as_ref();
    // Listeners that serve (docs/compatibility.md §A.3), TLS included.
    let mut tls_accept = || -> Result<_, Abort> {
        match (&tls_opts, tls_srv.take()) {
            (Some(o), Some(srv)) => Ok(Some(std::rc::Rc::new(TlsAccept::new(o, srv)))),
            _ => Ok(None),
        }
    };
    if let Some(mut o) = cfg.broker_opts() {
        o.tls = tls_accept()?;
        return broker::run(rx, &o, &listener, log, stdin, stdout);
    }
    if let Some(mut o) = cfg.exec_opts() {
        o.tls = tls_accept()?;
        if cfg.opts.proto == Proto::Udp {
            return exec::run_datagram_listener(rx, &o, listener, log);
        }
        return exec::run_listener(rx, &o, &listener, log);
    }
    let numeric = cfg.opts.numeric;
    let received = |peer: &SockAddr| {
        report::sock_line("Connection received", resolve::name_info(peer, numeric))
    };
    let local = Local { stdin, stdout, log };
    // `-lc`: one client at a time over the TLS relay.
    if tls_opts.is_none() && cfg.opts.proto == Proto::Udp {
        return serve_datagrams(rx, &cfg.serve_opts(), listener, &local, &received);
    }
    let relays = match (&tls_opts, tls_srv.take()) {
        (Some(o), Some(srv)) => Relays::tls(o, srv),
        _ => Relays::Plain,
    };
    serve_streams(rx, &cfg.serve_opts(), &relays, &listener, &local, &received)
}
