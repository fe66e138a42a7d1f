//! Listen mode (B §8): bind, listen, accept in the loop, relay, and with
//! `-k` serve the next client on the same listening socket.
//!
//! Datagram listeners (`-lu`, `-lUu`, B §6.2, §6.4) have no accept: without
//! `-k` they wait (with no time limit) for the first datagram, connect the
//! socket to its sender and relay, the first datagram then being read as
//! any other; with `-k` the socket stays unconnected and receives from
//! every peer (its sends fail with EDESTADDRREQ, which silently ends the
//! stdin side, as in nc). The Unix-domain listeners of [`crate::unix`] use
//! the same two loops.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::Interest;
use mio::event::Event;
use socket2::{SockAddr, Socket};

use crate::config::{Config, Family, Proto, Target};
use crate::exit::{Abort, Status};
use crate::net::{self, Failed};
use crate::reactor::{self, Ctx, Interests, Machine, Reactor, Step};
use crate::relay::{End, Relay, RelayOpts};
use crate::report::{self, Errno, ListenerCall};
use crate::resolve::{self, Hints};
use crate::stdio::Stdio;
use crate::udp;

/// nc's `local_listen`: bind the first address that binds, then listen.
pub fn local_listen(cfg: &Config, host: Option<&OsStr>, port: &OsStr) -> Result<Socket, Failed> {
    let o = &cfg.opts;
    let mut family = o.family;
    // A wildcard bind defaults to IPv4 (B §8).
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
        net::set_common_options(&sock, &ai.addr, o).map_err(Failed::from)?;
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
                        Ok(bound) => report::sock_line(what, &bound, o.numeric),
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
struct Accepting<'a> {
    listener: &'a Socket,
    reg: Interests,
    ready: bool,
}

impl Machine for Accepting<'_> {
    type Output = io::Result<(Socket, SockAddr)>;

    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: &Event) {
        if ev.token() == reactor::LISTENER {
            self.ready = true;
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output> {
        let fd = self.listener.as_raw_fd();
        loop {
            match accept(self.listener) {
                Ok(pair) => {
                    self.reg.clear(cx.registry, fd);
                    return Step::Done(Ok(pair));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // A client that gave up before we accepted it: not our error.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO)
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    self.reg.clear(cx.registry, fd);
                    return Step::Done(Err(e));
                }
            }
        }
        self.ready = false;
        if let Err(e) = self
            .reg
            .set(cx.registry, fd, reactor::LISTENER, Some(Interest::READABLE))
        {
            return Step::Done(Err(e));
        }
        Step::Wait
    }
}

/// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`.
fn accept(listener: &Socket) -> io::Result<(Socket, SockAddr)> {
    let mut fd = -1;
    // SAFETY: accept4 fills at most `len` bytes of the storage socket2
    // hands us and sets `len`; the new fd is wrapped at once below.
    let ((), addr) = unsafe {
        SockAddr::try_init(|storage, len| {
            fd = libc::accept4(
                listener.as_raw_fd(),
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        })?
    };
    // SAFETY: fd is a fresh descriptor from accept4, owned by nobody else.
    let sock = Socket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok((sock, addr))
}

/// Relays one accepted session. True when the listener goes on to the
/// next client (`-k`, unless nc's `-q` rule cleared it: B §6.2).
fn session<S: std::os::fd::AsRawFd>(
    rx: &mut Reactor,
    cfg: &Config,
    conn: S,
    stdin: &Stdio,
    stdout: &Stdio,
    keep: &mut bool,
) -> Result<bool, Abort> {
    let mut relay = Relay::new(conn, stdin, stdout, relay_opts(cfg));
    let outcome = rx.run(&mut relay)?;
    if outcome.end == End::QuitTimer {
        return Err(Abort::QuitTimer);
    }
    if outcome.clear_keep {
        *keep = false;
    }
    Ok(*keep)
}

/// The relay options of a listener's sessions.
pub fn relay_opts(cfg: &Config) -> RelayOpts {
    let o = &cfg.opts;
    RelayOpts {
        shutdown_on_eof: o.shutdown_on_eof,
        quit_after: o.quit_after,
        idle: o.timeout(),
        recv_limit: o.recv_limit,
        listen: o.listen,
        udp: o.proto == Proto::Udp,
        detach_stdin: o.detach_stdin,
        interval: o.interval,
        summary: o.verbose >= 2,
        zero_copy: o.proto == Proto::Tcp
            && !o.crlf
            && !o.telnet
            && o.interval.is_none()
            && !crate::buffer::splice_disabled(),
        crlf: o.crlf,
        telnet: o.telnet,
        datagram: crate::udp::datagram_limit(cfg),
    }
}

/// Listen mode on an address and port: TCP, UDP or DCCP.
pub fn run(rx: &mut Reactor, cfg: &Config, stdin: &Stdio, stdout: &Stdio) -> Result<Status, Abort> {
    let Target::Listen { host, port } = &cfg.target else {
        return Err(Abort::Failed);
    };
    let listener = local_listen(cfg, host.as_deref(), port)?;
    let numeric = cfg.opts.numeric;
    let received = |peer: &SockAddr| report::sock_line("Connection received", peer, numeric);
    if let Some(tls) = &cfg.tls {
        let o = crate::tls::server::ListenOpts {
            tls,
            host: host.as_deref(),
            keep: cfg.opts.keep,
            verbose: cfg.opts.verbose,
            timeout: cfg.opts.timeout().filter(|t| !t.is_zero()),
            relay: relay_opts(cfg),
        };
        return crate::tls::server::serve(rx, &o, &listener, stdin, stdout, &received);
    }
    if cfg.opts.proto == Proto::Udp {
        serve_datagrams(rx, cfg, listener, stdin, stdout, &received)
    } else {
        serve_streams(rx, cfg, &listener, stdin, stdout, &received)
    }
}

/// Waits for one connection on `listener`; an error is reported (M15).
pub fn accept_one(rx: &mut Reactor, listener: &Socket) -> Result<(Socket, SockAddr), Abort> {
    let mut m = Accepting {
        listener,
        reg: Interests::default(),
        ready: false,
    };
    match rx.run(&mut m)? {
        Ok(pair) => Ok(pair),
        Err(e) => {
            report::listener_call_failed(ListenerCall::Accept, Errno::of(&e));
            Err(Abort::Failed)
        }
    }
}

/// A stream listener: accept, report (`received`, with `-v`), relay; with
/// `-k` the next connection, on the same listening socket (Debian).
pub fn serve_streams(
    rx: &mut Reactor,
    cfg: &Config,
    listener: &Socket,
    stdin: &Stdio,
    stdout: &Stdio,
    received: &dyn Fn(&SockAddr),
) -> Result<Status, Abort> {
    let mut keep = cfg.opts.keep;
    loop {
        let (conn, peer) = accept_one(rx, listener)?;
        if cfg.opts.verbose > 0 {
            received(&peer);
        }
        if !session(rx, cfg, conn, stdin, stdout, &mut keep)? {
            return Ok(0);
        }
    }
}

/// A datagram listener (`-lu`, `-lUu`): without `-k`, wait for the first
/// datagram, connect to its sender, report (`received`, with `-v`) and
/// relay one session; with `-k`, relay on the unconnected socket, session
/// after session. A session ends cleanly (departure 2: no `connect:
/// Invalid argument` after a `-lUu` session).
pub fn serve_datagrams(
    rx: &mut Reactor,
    cfg: &Config,
    sock: Socket,
    stdin: &Stdio,
    stdout: &Stdio,
    received: &dyn Fn(&SockAddr),
) -> Result<Status, Abort> {
    let mut keep = cfg.opts.keep;
    let mut sock = Some(sock);
    while let Some(s) = sock.as_ref() {
        if !cfg.opts.keep {
            let peer = match udp::first_datagram(rx, s)? {
                Ok(peer) => peer,
                Err(e) => {
                    report::listener_call_failed(ListenerCall::Recvfrom, Errno::of(&e));
                    return Err(Abort::Failed);
                }
            };
            if let Err(e) = s.connect(&peer) {
                report::listener_call_failed(ListenerCall::Connect, Errno::of(&e));
                return Err(Abort::Failed);
            }
            if cfg.opts.verbose > 0 {
                received(&peer);
            }
        }
        // The last session takes the socket (so `-q` closes it, as nc
        // does); a `-k` session relays on a duplicate.
        let conn = if keep {
            match s.try_clone() {
                Ok(c) => c,
                Err(e) => {
                    report::warn_errno(Errno::of(&e));
                    return Err(Abort::Failed);
                }
            }
        } else {
            match sock.take() {
                Some(c) => c,
                None => break,
            }
        };
        if !session(rx, cfg, conn, stdin, stdout, &mut keep)? {
            break;
        }
    }
    Ok(0)
}
