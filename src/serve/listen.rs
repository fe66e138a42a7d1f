//! A listener's sessions: accept (or, for a datagram socket, wait for the
//! first datagram), report the peer through the caller's `received`, relay,
//! and with `-k` go on to the next client, unless nc's `-q` rule cleared it
//! (docs/compatibility.md §6.2). Shared by the TCP/UDP and the Unix-domain
//! listeners of `modes`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::Interest;
use mio::event::Event;
use socket2::{SockAddr, Socket};

use crate::net::acl::Acl;
use crate::net::udp;
use crate::relay::log::Log;
use crate::relay::stdio::Stdio;
use crate::relay::{End, Relay, RelayOpts};
use crate::report::{self, Errno, ListenerCall};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step};

/// What a listener's session loop needs from the command line.
#[derive(Clone, Debug, Default)]
pub struct ServeOpts {
    /// `--allow`/`--deny`: who may connect.
    pub acl: Acl,
    /// `-k`: serve the next client after a session.
    pub keep: bool,
    /// `-v`: report each client (`received`).
    pub verbose: bool,
    /// The options of each session's relay.
    pub relay: RelayOpts,
}

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
pub fn accept(listener: &Socket) -> io::Result<(Socket, SockAddr)> {
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
/// next client (`-k`, unless nc's `-q` rule cleared it: docs/compatibility.md §6.2).
fn session<S: std::os::fd::AsRawFd>(
    rx: &mut Reactor,
    o: &ServeOpts,
    conn: S,
    stdin: &Stdio,
    stdout: &Stdio,
    keep: &mut bool,
    log: Option<&Log>,
) -> Result<bool, Abort> {
    let mut relay = Relay::new(conn, stdin, stdout, o.relay).with_log(log);
    let outcome = rx.run(&mut relay)?;
    if outcome.end == End::QuitTimer {
        return Err(Abort::QuitTimer);
    }
    if outcome.clear_keep {
        *keep = false;
    }
    Ok(*keep)
}

/// Takes the next datagram off `sock`'s queue and throws it away.
pub fn drop_datagram(sock: &Socket) {
    let mut scratch = [0u8; 1];
    // SAFETY: recv into a valid one-byte buffer; the kernel discards the
    // rest of the datagram.
    unsafe {
        libc::recv(
            sock.as_raw_fd(),
            scratch.as_mut_ptr().cast(),
            1,
            libc::MSG_DONTWAIT,
        )
    };
}

/// Checks an accepted peer against the access lists: false, with a `-v`
/// line, when it is refused (the caller then drops the connection, which
/// closes it at once). A Unix-domain peer has no address: always allowed.
pub fn admit(acl: &Acl, verbose: bool, peer: &SockAddr) -> bool {
    if acl.is_empty() {
        return true;
    }
    let ok = peer.as_socket().is_none_or(|a| acl.permits(a.ip()));
    if !ok && verbose {
        report::conn_refused_acl(peer);
    }
    ok
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
    o: &ServeOpts,
    listener: &Socket,
    stdin: &Stdio,
    stdout: &Stdio,
    received: &dyn Fn(&SockAddr),
    log: Option<&Log>,
) -> Result<Status, Abort> {
    let mut keep = o.keep;
    loop {
        let (conn, peer) = accept_one(rx, listener)?;
        // Refused by --allow/--deny: closed at once, never relayed.
        if !admit(&o.acl, o.verbose, &peer) {
            continue;
        }
        if o.verbose {
            received(&peer);
        }
        if !session(rx, o, conn, stdin, stdout, &mut keep, log)? {
            return Ok(0);
        }
    }
}

/// A datagram listener (`-lu`, `-lUu`): without `-k`, wait for the first
/// datagram, connect to its sender, report (`received`, with `-v`) and
/// relay one session; with `-k`, relay on the unconnected socket, session
/// after session. A session ends cleanly (docs/compatibility.md departure 2: no `connect:
/// Invalid argument` after a `-lUu` session).
pub fn serve_datagrams(
    rx: &mut Reactor,
    o: &ServeOpts,
    sock: Socket,
    stdin: &Stdio,
    stdout: &Stdio,
    received: &dyn Fn(&SockAddr),
    log: Option<&Log>,
) -> Result<Status, Abort> {
    let mut keep = o.keep;
    let mut sock = Some(sock);
    while let Some(s) = sock.as_ref() {
        if !o.keep {
            let peer = match udp::first_datagram(rx, s)? {
                Ok(peer) => peer,
                Err(e) => {
                    report::listener_call_failed(ListenerCall::Recvfrom, Errno::of(&e));
                    return Err(Abort::Failed);
                }
            };
            // A datagram from a refused peer is taken off the queue and
            // dropped; the listener waits for the next one.
            if !admit(&o.acl, o.verbose, &peer) {
                drop_datagram(s);
                continue;
            }
            if let Err(e) = s.connect(&peer) {
                report::listener_call_failed(ListenerCall::Connect, Errno::of(&e));
                return Err(Abort::Failed);
            }
            if o.verbose {
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
        if !session(rx, o, conn, stdin, stdout, &mut keep, log)? {
            break;
        }
    }
    Ok(0)
}
