//! `--exec`/`--sh-exec`: connections served by child processes, one
//! child per connection, many at once with `-lk`, up to `--max-conns`.
//!
//! Everything runs on the one event loop: the [`Server`] machine owns the
//! listening socket's interest, a table of [`Session`]s (each a
//! connection, a child and two buffers, see [`crate::serve::session`]) in
//! a [`Slab`] and hands each readiness event to the session its token
//! names (each slot's range is [`session::KINDS`] tokens and timer keys).
//! A session's slot is freed once its connection is closed and its child
//! reaped, so a finished run leaves no zombie and no fd behind. Accepting
//! is the layer's [`Acceptor`] and [`Gate`].
//!
//! With `-l -k --exec` the server accepts while sessions run, up to
//! `--max-conns` open connections (default 100); a connection over the
//! limit, or refused by the access lists, is accepted and closed at once,
//! with a `-v` line. Without `-k` one connection is served, and a client
//! (`--exec` without `-l`) serves the connection it made. The open-file
//! limit is back-pressure: while no session fits, the listener waits.
//!
//! TLS (`-lc`): an accepted client first goes through its handshake and
//! the listener's client checks ([`Handshake`], with its deadline) in its
//! slot; it counts against `--max-conns` meanwhile, and its child starts
//! only once it passed them. A client that fails them never gets a child.
//!
//! UDP: a client's connected socket, or a `-lu` listener's first peer
//! (the socket connected to it, as nc's `-lu`), is one session like any
//! other, in datagrams. With `-luk`, the server reads the one unconnected
//! socket itself and routes each datagram by its sender to that peer's
//! session (a [`Conn::Peer`]), starting a session and a child for a new
//! peer, as ncat does. (docs/compatibility.md §A.3)

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use mio::Interest;
use mio::event::Event;
use socket2::{SockAddr, Socket};

use crate::net::acl::Acl;
use crate::relay::log::Log;
use crate::relay::stream::Conn;
use crate::report::{self, Errno, ListenerCall};
use crate::serve::accept::{Acceptor, Gate, Holding, LISTEN_BACKLOG, admit};
use crate::serve::child::{self, Child, Ends, Exec};
use crate::serve::handshake::{Handshake, Handshaken, TlsAccept};
use crate::serve::session::{self, K_NET, Session, SessionOpts, State, T_HANDSHAKE};
use crate::serve::slab::{Layout, Slab};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step};

/// Session slots: [`session::KINDS`] tokens and timer keys each, from
/// 1024 (below: the loop's named tokens and the acceptor's timer).
const SESSIONS: Layout = Layout {
    first_token: 1024,
    first_timer: 1024,
    width: session::KINDS,
};
/// Datagrams read from a shared UDP socket per turn of the loop.
const RECV_PER_TURN: usize = 64;
/// Descriptors one session holds: the socket, two pipes, the pidfd, and
/// one spare for the moment a child starts.
const FDS_PER_SESSION: usize = 5;

/// What an exec server needs from the command line.
#[derive(Clone, Debug)]
pub struct ExecOpts {
    pub exec: Exec,
    /// `--pty`: each child on its own pseudo-terminal.
    pub pty: bool,
    pub acl: Acl,
    /// `--max-conns`.
    pub max_conns: usize,
    /// `-v`: a line per connection received or refused.
    pub verbose: bool,
    /// `-n`: no reverse lookup for the `-v` lines.
    pub numeric: bool,
    /// `-k`: serve connection after connection.
    pub keep: bool,
    pub session: SessionOpts,
    /// `tcp`, for the children's environment.
    pub proto: &'static str,
    /// `-lc`: each connection is a TLS session (the access lists and
    /// `--max-conns` refuse before its handshake; its child starts after
    /// the handshake and the client checks).
    pub tls: Option<Rc<TlsAccept>>,
}

/// A listener with `--exec`/`--sh-exec`.
pub fn run_listener(
    rx: &mut Reactor,
    opts: &ExecOpts,
    listener: &Socket,
    log: Option<&Log>,
) -> Result<Status, Abort> {
    if opts.keep {
        let _ = listener.listen(LISTEN_BACKLOG);
    }
    run(rx, Server::new(opts, log, Some(listener)))
}

/// Runs `server` to its end (the children start with fds 0-2 only).
fn run(rx: &mut Reactor, mut server: Server<'_>) -> Result<Status, Abort> {
    child::cloexec_inherited();
    rx.run(&mut server).map_err(Abort::from)?
}

/// `-lu --exec`: waits for the first datagram, connects the socket to its
/// sender (as nc's `-lu`) and serves that peer with one child; datagrams
/// from refused peers are dropped. `-luk --exec`: every peer of the
/// unconnected socket.
pub fn run_datagram_listener(
    rx: &mut Reactor,
    opts: &ExecOpts,
    sock: Socket,
    log: Option<&Log>,
) -> Result<Status, Abort> {
    if opts.keep {
        // `-luk --exec`: one child per UDP peer, many at once (as ncat),
        // on the one unconnected socket; runs until a signal ends it.
        let mut server = Server::new(opts, log, None);
        server.udp = Some(Rc::new(sock));
        return run(rx, server);
    }
    loop {
        let peer = match crate::net::udp::first_datagram(rx, &sock)? {
            Ok(peer) => peer,
            Err(e) => {
                report::listener_call_failed(ListenerCall::Recvfrom, Errno::of(&e));
                return Err(Abort::Failed);
            }
        };
        if !admit(&opts.acl, opts.verbose, &peer) {
            crate::serve::listen::drop_datagram(&sock);
            continue;
        }
        if let Err(e) = sock.connect(&peer) {
            report::listener_call_failed(ListenerCall::Connect, Errno::of(&e));
            return Err(Abort::Failed);
        }
        if opts.verbose {
            let name = crate::net::resolve::name_info(&peer, opts.numeric);
            report::sock_line("Connection received", name);
        }
        return run_client(rx, opts, sock, log);
    }
}

/// A client with `--exec`: the connected socket served by one child.
pub fn run_client(
    rx: &mut Reactor,
    opts: &ExecOpts,
    sock: Socket,
    log: Option<&Log>,
) -> Result<Status, Abort> {
    run_conn(rx, opts, Conn::Plain(sock), log)
}

/// A client with `-c --exec`: the TLS session, its handshake done and
/// checked, served by one child.
pub fn run_tls_client(
    rx: &mut Reactor,
    opts: &ExecOpts,
    s: crate::net::tls::session::Session,
    log: Option<&Log>,
) -> Result<Status, Abort> {
    let t = crate::relay::stream::TlsStream::new(s, None);
    run_conn(rx, opts, Conn::Tls(Box::new(t)), log)
}

fn run_conn(
    rx: &mut Reactor,
    opts: &ExecOpts,
    conn: Conn,
    log: Option<&Log>,
) -> Result<Status, Abort> {
    let mut server = Server::new(opts, log, None);
    server.pending = Some(conn);
    run(rx, server)
}

/// The serving machine: accepts (when it has a listener), starts a child
/// per connection and steps the sessions.
struct Server<'a> {
    plan: &'a ExecOpts,
    log: Option<&'a Log>,
    /// Accepting, when the server has a listener.
    acceptor: Option<Acceptor<'a>>,
    /// Who is let in (the access lists, `--max-conns`, the open-file
    /// limit: past it the listener waits, connections queue in the
    /// backlog, instead of accepting connections it could not serve).
    gate: Gate<'a>,
    slots: Slab<Slot>,
    /// Slots with an event or timer since their last step.
    ready: Vec<usize>,
    /// Connections open now (what `--max-conns` counts).
    open: usize,
    /// Connections served so far.
    served: usize,
    /// A connection could not be served (its child did not start).
    failed: bool,
    /// A client's connection, served at the first step.
    pending: Option<Conn>,
    /// `-luk --exec`: the unconnected UDP socket every peer shares, its
    /// readiness, and the session of each peer.
    udp: Option<Rc<Socket>>,
    udp_reg: Interests,
    udp_r: bool,
    peers: HashMap<std::net::SocketAddr, usize>,
}

struct Slot {
    state: Serving,
    queued: bool,
    counted: bool,
    /// The UDP peer of a `-luk --exec` session, while it is open.
    peer: Option<std::net::SocketAddr>,
}

/// What a slot holds.
enum Serving {
    /// A TLS client before its handshake and checks: no child yet.
    Handshake(Handshake),
    Session(Box<Session>),
}

impl<'a> Server<'a> {
    fn new(plan: &'a ExecOpts, log: Option<&'a Log>, listener: Option<&'a Socket>) -> Server<'a> {
        Server {
            plan,
            log,
            acceptor: listener.map(Acceptor::new),
            gate: Gate::new(
                &plan.acl,
                plan.max_conns,
                plan.verbose,
                plan.numeric,
                FDS_PER_SESSION,
            ),
            slots: Slab::new(SESSIONS),
            ready: Vec::new(),
            open: 0,
            served: 0,
            failed: false,
            pending: None,
            udp: None,
            udp_reg: Interests::default(),
            udp_r: true,
            peers: HashMap::new(),
        }
    }

    /// Starts a child for `conn` and puts the session in a slot.
    fn serve(&mut self, cx: &mut Ctx<'_>, conn: Conn) -> Result<usize, ()> {
        self.served += 1;
        let slot = self.slots.reserve();
        if self.start_child(cx, slot, conn).is_err() {
            self.slots.release(slot);
            return Err(());
        }
        self.open += 1;
        Ok(slot)
    }

    /// `-lc`: a TLS client waits in a slot (counted) for its handshake;
    /// no child yet.
    fn start_handshake(&mut self, cx: &mut Ctx<'_>, t: &TlsAccept, sock: Socket, peer: SockAddr) {
        self.served += 1;
        let slot = self.slots.reserve();
        let keys = self.slots.keys(slot);
        match t.start(cx, sock, peer, keys.token(K_NET), keys.timer(T_HANDSHAKE)) {
            Some(h) => {
                self.slots.put(
                    slot,
                    Slot {
                        state: Serving::Handshake(h),
                        queued: true,
                        counted: true,
                        peer: None,
                    },
                );
                self.open += 1;
                self.ready.push(slot);
            }
            None => {
                self.slots.release(slot);
                self.failed = true;
            }
        }
    }

    /// Spawns the child serving `conn` and puts its session in `slot`
    /// (queued for a step). Err (its line printed): the child did not
    /// start; `slot` is left as it was.
    fn start_child(&mut self, cx: &mut Ctx<'_>, slot: usize, conn: Conn) -> Result<(), ()> {
        let ends = Ends {
            local: conn.local_addr(),
            remote: conn.peer_addr(),
            proto: self.plan.proto,
        };
        let child = match Child::spawn(&self.plan.exec, &ends, self.plan.pty) {
            Ok(c) => c,
            Err(e) => {
                report::exec_failed(self.plan.exec.program(), Errno::of(&e));
                self.failed = true;
                return Err(());
            }
        };
        let keys = self.slots.keys(slot);
        let mut session = Session::new(conn, child, keys, self.plan.session);
        if let Err(e) = session.register(cx) {
            report::warn(format_args!("epoll"), Errno::of(&e));
            session.terminate();
            self.failed = true;
            return Err(());
        }
        self.slots.put(
            slot,
            Slot {
                state: Serving::Session(Box::new(session)),
                queued: true,
                counted: true,
                peer: None,
            },
        );
        self.ready.push(slot);
        Ok(())
    }

    /// `-luk --exec`: reads the datagrams waiting on the shared socket and
    /// hands each to its peer's session, starting one (and its child) for
    /// a new peer the access lists and `--max-conns` let in.
    fn receive_all(&mut self, cx: &mut Ctx<'_>) {
        let Some(sock) = self.udp.clone() else {
            return;
        };
        let mut buf = vec![0u8; 65_536];
        for _ in 0..RECV_PER_TURN {
            if !self.udp_r {
                return;
            }
            let (n, peer) = match recv_from(&sock, &mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.udp_r = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error of an earlier send (ECONNREFUSED...): not
                // this socket's end.
                Err(_) => continue,
            };
            let Some(addr) = peer.as_socket() else {
                continue;
            };
            let data = buf[..n].to_vec();
            if let Some(&slot) = self.peers.get(&addr) {
                if let Some(Some(Slot {
                    state: Serving::Session(s),
                    ..
                })) = self.slots.get_mut(slot)
                {
                    s.deliver(data);
                }
                self.queue(slot);
                continue;
            }
            if !self.gate.let_in(&peer, self.open, self.slots.occupied()) {
                continue;
            }
            let conn = Conn::Peer {
                sock: sock.clone(),
                peer,
                inbox: std::collections::VecDeque::new(),
            };
            if let Ok(slot) = self.serve(cx, conn) {
                if let Some(Some(s)) = self.slots.get_mut(slot) {
                    if let Serving::Session(session) = &mut s.state {
                        session.deliver(data);
                    }
                    s.peer = Some(addr);
                }
                self.peers.insert(addr, slot);
            }
        }
    }

    fn queue(&mut self, slot: usize) {
        if let Some(Some(s)) = self.slots.get_mut(slot) {
            if !s.queued {
                s.queued = true;
                self.ready.push(slot);
            }
        }
    }

    /// Where the server stands, for its acceptor (lingering children hold
    /// descriptors too).
    fn holding(&self) -> Holding {
        Holding {
            taking: self.accepting(),
            open: self.open,
            held: self.slots.occupied(),
        }
    }

    /// Whether this server still takes connections.
    fn accepting(&self) -> bool {
        self.acceptor.as_ref().is_some_and(Acceptor::alive) && (self.plan.keep || self.served == 0)
    }

    /// Nothing left to do: no connection to accept or serve, and every
    /// child reaped or already sent its SIGTERM (dropping the server waits
    /// a bounded time for those).
    fn finished(&self) -> bool {
        self.udp.is_none()
            && !self.accepting()
            && self.pending.is_none()
            && self
                .slots
                .iter()
                .flatten()
                .all(|s| !s.counted && matches!(&s.state, Serving::Session(x) if x.term_sent()))
    }

    /// Accepts the pending connections the turn's budget allows
    /// (lingering children hold descriptors too).
    fn accept_all(&mut self, cx: &mut Ctx<'_>) {
        if let Some(a) = self.acceptor.as_mut() {
            a.turn();
        }
        loop {
            let h = self.holding();
            let Some(a) = self.acceptor.as_mut() else {
                return;
            };
            let Some((sock, peer)) = a.next(cx, &self.gate, h) else {
                return;
            };
            match self.plan.tls.clone() {
                Some(t) => self.start_handshake(cx, &t, sock, peer),
                None => {
                    let _ = self.serve(cx, Conn::Plain(sock));
                }
            }
        }
    }

    /// Keeps the listener registered while accepting, not otherwise.
    fn register_listener(&mut self, cx: &mut Ctx<'_>) -> io::Result<()> {
        if let Some(u) = &self.udp {
            // Registered once: readable for datagrams, writable for the
            // sessions' sends (edge-triggered, flags kept by hand).
            let both = Some(Interest::READABLE | Interest::WRITABLE);
            return self
                .udp_reg
                .set(cx.registry, u.as_raw_fd(), reactor::LISTENER, both);
        }
        let h = self.holding();
        match self.acceptor.as_mut() {
            Some(a) => a.register(cx, &self.gate, h),
            None => Ok(()),
        }
    }

    /// Steps every session with news.
    fn step_sessions(&mut self, cx: &mut Ctx<'_>) -> bool {
        let mut again = false;
        let batch = std::mem::take(&mut self.ready);
        for slot in batch {
            let Some(Some(s)) = self.slots.get_mut(slot) else {
                continue;
            };
            s.queued = false;
            let session = match &mut s.state {
                Serving::Session(session) => session,
                Serving::Handshake(h) => {
                    match h.step(cx) {
                        Handshaken::Pending => {}
                        Handshaken::Done(conn) => {
                            // Handshake and checks passed: now the child.
                            if self.start_child(cx, slot, conn).is_ok() {
                                again = true;
                            } else {
                                self.open -= 1;
                                self.slots.release(slot);
                            }
                        }
                        Handshaken::Failed => {
                            self.failed = true;
                            self.open -= 1;
                            self.slots.release(slot);
                        }
                    }
                    continue;
                }
            };
            match session.step(cx, self.log) {
                State::Running => {}
                State::Busy => {
                    s.queued = true;
                    self.ready.push(slot);
                    again = true;
                }
                State::Closed => {
                    if std::mem::take(&mut s.counted) {
                        self.open -= 1;
                    }
                    // The peer's next datagram starts a new session.
                    if let Some(p) = s.peer.take() {
                        self.peers.remove(&p);
                    }
                }
                State::Gone => {
                    if s.counted {
                        self.open -= 1;
                    }
                    if let Some(p) = s.peer.take() {
                        self.peers.remove(&p);
                    }
                    self.slots.release(slot);
                }
            }
        }
        again
    }
}

impl Machine for Server<'_> {
    type Output = Result<Status, Abort>;

    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: &Event) {
        if self.acceptor.as_mut().is_some_and(|a| a.on_event(ev)) {
            return;
        }
        if ev.token() == reactor::LISTENER {
            self.udp_r |= ev.is_readable() || ev.is_error();
            if ev.is_writable() {
                // The shared socket has room again: every session may send.
                for (i, s) in self.slots.iter_mut().enumerate() {
                    if let Some(s) = s {
                        if let (Some(_), Serving::Session(session)) = (s.peer, &mut s.state) {
                            session.net_writable();
                            if !s.queued {
                                s.queued = true;
                                self.ready.push(i);
                            }
                        }
                    }
                }
            }
            return;
        }
        if let Some((slot, k)) = self.slots.by_token(ev.token()) {
            if let Some(Some(s)) = self.slots.get_mut(slot) {
                match &mut s.state {
                    Serving::Session(session) => session.on_event(k, ev),
                    Serving::Handshake(h) => h.on_event(),
                }
            }
            self.queue(slot);
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, key: usize) {
        if self.acceptor.as_mut().is_some_and(|a| a.on_timer(key)) {
            return;
        }
        if let Some((slot, k)) = self.slots.by_timer(key) {
            if let Some(Some(s)) = self.slots.get_mut(slot) {
                match &mut s.state {
                    Serving::Session(session) => session.on_timer(cx, k),
                    Serving::Handshake(h) if k == T_HANDSHAKE => {
                        if h.expire(cx) {
                            // (The next step frees the slot.)
                            h.on_event();
                        }
                    }
                    Serving::Handshake(_) => {}
                }
            }
            self.queue(slot);
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output> {
        if let Some(conn) = self.pending.take() {
            let _ = self.serve(cx, conn);
        }
        // Sessions first, then a few new connections: a burst of clients
        // never holds up the exchanges already under way (each start of
        // a child waits for its exec).
        let mut again = self.step_sessions(cx);
        self.accept_all(cx);
        self.receive_all(cx);
        again |= self.step_sessions(cx);
        let h = self.holding();
        again |= (self.acceptor.as_ref()).is_some_and(|a| a.more(&self.gate, h));
        if let Some(e) = self.acceptor.as_mut().and_then(Acceptor::take_fatal) {
            report::listener_call_failed(ListenerCall::Accept, Errno::of(&e));
            return Step::Done(Err(Abort::Failed));
        }
        if let Err(e) = self.register_listener(cx) {
            report::warn(format_args!("epoll"), Errno::of(&e));
            return Step::Done(Err(Abort::Failed));
        }
        if self.finished() {
            if let Some(a) = self.acceptor.as_mut() {
                a.close(cx);
            }
            return Step::Done(Ok(if self.failed && !self.plan.keep { 1 } else { 0 }));
        }
        if again { Step::Again } else { Step::Wait }
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        // SIGTERM every child first, so they end together; dropping each
        // then reaps it (bounded wait).
        for s in self.slots.iter_mut().flatten() {
            if let Serving::Session(session) = &mut s.state {
                session.terminate();
            }
        }
        self.slots.clear();
    }
}

/// `recvfrom(MSG_DONTWAIT)`: one datagram and its sender.
fn recv_from(sock: &Socket, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
    let mut n = 0isize;
    // SAFETY: recvfrom fills at most `len` bytes of the storage socket2
    // hands us and sets `len`; buf is valid for buf.len() bytes.
    let ((), addr) = unsafe {
        SockAddr::try_init(|storage, len| {
            n = libc::recvfrom(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                storage.cast(),
                len,
            );
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        })?
    };
    Ok((n as usize, addr))
}
