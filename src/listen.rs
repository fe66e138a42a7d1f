//! Listen mode (B §8): bind, listen, accept in the loop, relay, and with
//! `-k` serve the next client on the same listening socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::Interest;
use mio::event::Event;
use socket2::{SockAddr, Socket};

use crate::config::{Config, Family, Target};
use crate::exit::{Abort, Status};
use crate::net::{self, Failed};
use crate::reactor::{self, Ctx, Interests, Machine, Reactor, Step};
use crate::relay::{End, Relay, RelayOpts};
use crate::report::{self, Errno};
use crate::resolve::{self, Hints};
use crate::stdio::Stdio;

/// nc's `local_listen`: bind the first address that binds, then listen.
pub fn local_listen(cfg: &Config, host: Option<&str>, port: &str) -> Result<Socket, Failed> {
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
                if ai.socktype == libc::SOCK_STREAM {
                    if let Err(e) = sock.listen(1) {
                        report::warn(format_args!("listen"), Errno::of(&e));
                        return Err(Failed);
                    }
                }
                if o.verbose > 0 {
                    let what = if ai.socktype == libc::SOCK_STREAM {
                        "Listening"
                    } else {
                        "Bound"
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

/// The relay options of a listener's sessions.
pub fn relay_opts(cfg: &Config) -> RelayOpts {
    let o = &cfg.opts;
    RelayOpts {
        shutdown_on_eof: o.shutdown_on_eof,
        quit_after: o.quit_after,
        idle: o.timeout(),
        recv_limit: o.recv_limit,
        listen: o.listen,
        udp: o.proto == crate::config::Proto::Udp,
        detach_stdin: o.detach_stdin,
        interval: o.interval,
        summary: o.verbose >= 2,
        zero_copy: o.proto == crate::config::Proto::Tcp
            && !o.crlf
            && !o.telnet
            && o.interval.is_none()
            && !crate::buffer::splice_disabled(),
        crlf: o.crlf,
        telnet: o.telnet,
    }
}

/// TCP listen mode: accept, relay, and with `-k` accept again.
pub fn run(rx: &mut Reactor, cfg: &Config, stdin: &Stdio, stdout: &Stdio) -> Result<Status, Abort> {
    let Target::Listen { host, port } = &cfg.target else {
        return Err(Abort::Failed);
    };
    let listener = local_listen(cfg, host.as_deref(), port)?;
    let mut keep = cfg.opts.keep;
    loop {
        let mut m = Accepting {
            listener: &listener,
            reg: Interests::default(),
            ready: false,
        };
        let (conn, peer) = match rx.run(&mut m)? {
            Ok(pair) => pair,
            Err(e) => {
                report::warn(format_args!("accept"), Errno::of(&e));
                return Err(Abort::Failed);
            }
        };
        if cfg.opts.verbose > 0 {
            report::sock_line("Connection received", &peer, cfg.opts.numeric);
        }
        let mut relay = Relay::new(conn, stdin, stdout, relay_opts(cfg));
        let outcome = rx.run(&mut relay)?;
        if outcome.end == End::QuitTimer {
            return Err(Abort::QuitTimer);
        }
        if outcome.clear_keep {
            keep = false;
        }
        if !keep {
            return Ok(0);
        }
    }
}
