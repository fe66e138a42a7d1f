//! Accepting: `accept4`, the access lists, and the two ways a listener
//! takes its clients.
//!
//! nc's listener ([`accept_one`]) takes one client at a time and waits in
//! the loop for it; any accept error but a client that gave up is its
//! `accept: ...` line and the end (M15).
//!
//! A listener that serves many clients at once (`--exec`, `--broker`,
//! `--chat`) keeps an [`Acceptor`] and a [`Gate`]. The acceptor takes
//! what the backlog holds while the owner steps its clients: at most
//! [`ACCEPTS_PER_TURN`] a turn of the loop (a burst of clients never holds
//! up the exchanges under way), only while the open-file limit has room
//! for one more client ([`Gate::room`]: past it the listener waits and
//! connections queue in the backlog), and on EMFILE or ENFILE it pauses
//! for [`ACCEPT_PAUSE`] instead of failing (back-pressure, not an error).
//! The gate then lets each accepted client in or refuses it: the access
//! lists, then `--max-conns` (the `-v` refusal line), then `-v`'s
//! `Connection received` line; a refused client is closed at once. An
//! admitted client is the owner's: a TLS one first goes through its
//! handshake in a slot of its own (`handshake::TlsAccept::start`).
//! (docs/compatibility.md §A.3)

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::Interest;
use mio::event::Event;
use socket2::{SockAddr, Socket};

use crate::net::acl::Acl;
use crate::report::{self, Errno, ListenerCall};
use crate::sys::exit::Abort;
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step, TimerId};

/// Connections accepted per turn of the loop.
pub const ACCEPTS_PER_TURN: usize = 8;
/// How long accepting pauses when the process is out of fds.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// The listen backlog of a concurrent listener (nc's is 1).
pub const LISTEN_BACKLOG: i32 = 1024;
/// The acceptor's timer: accepting again after EMFILE (below the first
/// key of any slab's layout).
const T_PAUSE: usize = 1;
/// Descriptors kept free for everything else (stdio, epoll, logs).
const FDS_RESERVED: usize = 16;

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

/// A client that gave up before we accepted it: not our error.
fn gave_up(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO)
    )
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
                Err(e) if gave_up(&e) => continue,
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

/// Who a serving listener lets in: the access lists, `--max-conns` and
/// the clients the open-file limit has room for.
#[derive(Debug)]
pub struct Gate<'a> {
    acl: &'a Acl,
    max_conns: usize,
    verbose: bool,
    numeric: bool,
    /// Clients the open-file limit has room for.
    fd_room: usize,
}

impl<'a> Gate<'a> {
    /// `fds_per_client`: the descriptors one client holds.
    pub fn new(
        acl: &'a Acl,
        max_conns: usize,
        verbose: bool,
        numeric: bool,
        fds_per_client: usize,
    ) -> Gate<'a> {
        Gate {
            acl,
            max_conns,
            verbose,
            numeric,
            fd_room: clients_in_fd_limit(fds_per_client),
        }
    }

    /// Room for one more client's descriptors, with `held` clients held.
    pub fn room(&self, held: usize) -> bool {
        held < self.fd_room
    }

    /// Lets `peer` in, with `open` connections counted under
    /// `--max-conns` and `held` clients holding descriptors; false (its
    /// `-v` line printed) when it is refused.
    pub fn let_in(&self, peer: &SockAddr, open: usize, held: usize) -> bool {
        if !admit(self.acl, self.verbose, peer) {
            return false;
        }
        if open >= self.max_conns || !self.room(held) {
            if self.verbose {
                report::conn_refused_limit(peer, self.max_conns);
            }
            return false;
        }
        if self.verbose {
            let name = crate::net::resolve::name_info(peer, self.numeric);
            report::sock_line("Connection received", name);
        }
        true
    }
}

/// How many clients of `fds_per_client` descriptors fit in the open-file
/// limit.
fn clients_in_fd_limit(fds_per_client: usize) -> usize {
    // SAFETY: getrlimit fills a zeroed rlimit.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return usize::MAX;
    }
    let cur = usize::try_from(r.rlim_cur).unwrap_or(usize::MAX);
    (cur.saturating_sub(FDS_RESERVED) / fds_per_client).max(1)
}

/// Where the owner of an [`Acceptor`] stands, for its checks.
#[derive(Clone, Copy, Debug)]
pub struct Holding {
    /// The owner takes more clients.
    pub taking: bool,
    /// Connections counted under `--max-conns`.
    pub open: usize,
    /// Clients holding descriptors (lingering children too).
    pub held: usize,
}

/// A serving listener's accepting: the listening socket's interest, its
/// readiness, the pause after EMFILE, the turn's budget and a fatal
/// error (the owner reports it and ends).
pub struct Acceptor<'a> {
    listener: &'a Socket,
    reg: Interests,
    ready: bool,
    paused: Option<TimerId>,
    budget: usize,
    fatal: Option<io::Error>,
}

impl<'a> Acceptor<'a> {
    pub fn new(listener: &'a Socket) -> Acceptor<'a> {
        Acceptor {
            listener,
            reg: Interests::default(),
            ready: true,
            paused: None,
            budget: 0,
            fatal: None,
        }
    }

    /// A readiness event: true when it was the listener's.
    pub fn on_event(&mut self, ev: &Event) -> bool {
        let mine = ev.token() == reactor::LISTENER;
        self.ready |= mine;
        mine
    }

    /// A timer expired: true when it was the acceptor's pause.
    pub fn on_timer(&mut self, key: usize) -> bool {
        if key != T_PAUSE {
            return false;
        }
        self.paused = None;
        self.ready = true;
        true
    }

    /// Starts a turn of the loop: [`ACCEPTS_PER_TURN`] accepts to spend.
    pub fn turn(&mut self) {
        self.budget = ACCEPTS_PER_TURN;
    }

    /// The accept error that ends the listener, once.
    pub fn take_fatal(&mut self) -> Option<io::Error> {
        self.fatal.take()
    }

    /// No fatal error.
    pub fn alive(&self) -> bool {
        self.fatal.is_none()
    }

    /// Accepting may go on now: the owner takes clients, accepting is
    /// neither paused nor failed, and the open-file limit has room.
    fn open_for(&self, gate: &Gate<'_>, h: Holding) -> bool {
        h.taking && self.paused.is_none() && self.fatal.is_none() && gate.room(h.held)
    }

    /// More may be waiting in the backlog now (the turn's budget ran out
    /// first): the owner steps again without waiting for an event. Not
    /// while paused: the pause's timer ends the wait.
    pub fn more(&self, gate: &Gate<'_>, h: Holding) -> bool {
        self.ready && self.open_for(gate, h)
    }

    /// The next client the gate lets in ([`Gate::let_in`]), while
    /// accepting may go on and the turn's budget lasts. None: none now
    /// (the backlog is empty, the budget spent, accepting paused or
    /// failed, the owner full).
    pub fn next(
        &mut self,
        cx: &mut Ctx<'_>,
        gate: &Gate<'_>,
        h: Holding,
    ) -> Option<(Socket, SockAddr)> {
        while self.ready && self.open_for(gate, h) && self.budget > 0 {
            self.budget -= 1;
            let (sock, peer) = match accept(self.listener) {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.ready = false;
                    break;
                }
                Err(e) if gave_up(&e) => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // Out of fds: back-pressure, not an error. Try again
                    // once clients had time to end.
                    self.paused = Some(cx.timers.add(Instant::now() + ACCEPT_PAUSE, T_PAUSE));
                    break;
                }
                Err(e) => {
                    self.fatal = Some(e);
                    break;
                }
            };
            if gate.let_in(&peer, h.open, h.held) {
                return Some((sock, peer));
            }
        }
        None
    }

    /// Keeps the listener registered while accepting may go on.
    pub fn register(&mut self, cx: &mut Ctx<'_>, gate: &Gate<'_>, h: Holding) -> io::Result<()> {
        let want = self.open_for(gate, h);
        self.reg.set(
            cx.registry,
            self.listener.as_raw_fd(),
            reactor::LISTENER,
            want.then_some(Interest::READABLE),
        )
    }

    /// Takes the listener out of the loop (the owner is done).
    pub fn close(&mut self, cx: &mut Ctx<'_>) {
        self.reg.clear(cx.registry, self.listener.as_raw_fd());
    }
}
