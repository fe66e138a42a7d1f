//! The broker (`--broker`) and the chat room (`--chat`). An extension:
//! docs/compatibility.md §A.3.
//!
//! A broker accepts many clients at once and sends what each one sends
//! to every other one; ncrab's stdin goes to all of them and everything
//! they send goes to stdout. `--chat` is a broker that starts each line a
//! client sends with `<userN> ` (N is the client's file descriptor, as in
//! ncat; stdin is `<user0>`), shows control characters as `\ooo`, and
//! announces joins and leaves in ncat's words.
//!
//! Memory is bounded, whatever is relayed: each client has a queue of at
//! most [`QUEUE_MAX`] bytes (1 MiB), and so has stdout. An input (stdin or
//! a client) is read only while every queue it feeds has room for what one
//! read can add, so a moment of slowness holds the senders back instead of
//! growing a queue. A client whose queue stays full for [`STALL_LIMIT`]
//! reads slower than the others send: it is dropped, with a `-v` line, and
//! the others go on. Stdout is never dropped (as nc: ncrab waits for it).
//! A byte bound for a client whose queue is empty is written straight to
//! its socket, so a fan-out copies into a queue only what a socket did not
//! take.
//!
//! Over TLS (`-c`), an accepted client first goes through its handshake
//! and the listener's client checks ([`Handshake`], with its deadline); it
//! holds a place under `--max-conns` meanwhile, but it joins (receives
//! what others send, counts in the chat's "already connected", is
//! announced) only once it passed them.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::event::Event;
use mio::unix::SourceFd;
use socket2::{SockAddr, Socket};

use crate::net::acl::Acl;
use crate::relay::endpoint::Endpoint;
use crate::relay::log::{Dir, Log};
use crate::relay::stdio::Stdio;
use crate::relay::stream::Conn;
use crate::report::{self, Errno, ListenerCall};
use crate::serve::accept::{Acceptor, Gate, Holding, LISTEN_BACKLOG};
use crate::serve::handshake::{Handshake, Handshaken, TlsAccept};
use crate::serve::slab::{Layout, Slab};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step, TimerId};

/// The most bytes queued for one client (or stdout).
pub const QUEUE_MAX: usize = 1 << 20;
/// The most one read takes in.
const CHUNK: usize = 64 * 1024;
/// The room an input needs in every queue it feeds: one chunk, in chat
/// mode at worst four bytes per byte (`\ooo`) plus prefixes.
const ROOM: usize = 4 * CHUNK + 4096;
/// How long a client's queue may stay full before it is dropped.
pub const STALL_LIMIT: Duration = Duration::from_secs(1);
/// Passes before letting the loop look at signals and timers.
const PASSES: usize = 32;
/// Client slots: one token and one timer key each (a client's socket and
/// its stall clock, or its handshake's socket and deadline), from 1024
/// (below: the loop's named tokens and the acceptor's timer).
const CLIENTS: Layout = Layout {
    first_token: 1024,
    first_timer: 1024,
    width: 1,
};
/// Descriptors one client holds: its socket.
const FDS_PER_CLIENT: usize = 1;

struct Client {
    conn: Conn,
    peer: SockAddr,
    /// The chat name's number (the fd, as ncat).
    user: i32,
    queue: VecDeque<u8>,
    r: bool,
    w: bool,
    /// Chat: the next byte from this client starts a line.
    line_start: bool,
    stalled: Option<TimerId>,
}

impl Client {
    fn room(&self) -> bool {
        QUEUE_MAX - self.queue.len() >= ROOM
    }
}

/// Writes as much of `queue` to `end` as it takes; `w` is its
/// readiness (an end whose readiness cannot be waited for stays ready).
/// Err: the end is gone.
fn flush(end: &mut impl Endpoint, queue: &mut VecDeque<u8>, w: &mut bool) -> Result<bool, ()> {
    let mut progress = false;
    while *w && !queue.is_empty() {
        let (a, _) = queue.as_slices();
        match end.write(a) {
            Ok(n) => {
                queue.drain(..n);
                progress = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *w = !end.pollable();
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
        }
    }
    // (A TLS session's own output: its handshake's last flight, what the
    // socket did not take; after the queue, which a TLS write seals
    // behind it, so that both leave in one send.)
    if *w && !end.flushed() {
        match end.flush() {
            Ok(true) => progress = true,
            Ok(false) => *w = false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *w = false,
            Err(_) => return Err(()),
        }
    }
    Ok(progress)
}

/// What a broker needs from the command line.
#[derive(Clone, Debug, Default)]
pub struct BrokerOpts {
    /// `--chat`.
    pub chat: bool,
    pub acl: Acl,
    /// `--max-conns`: clients at once.
    pub max_conns: usize,
    pub verbose: bool,
    pub numeric: bool,
    /// Standard input is read (not `-d`, not `--recv-only`).
    pub read_stdin: bool,
    /// What clients send goes to stdout (not `--send-only`).
    pub write_stdout: bool,
    /// `-c`: each client is a TLS session, a member once its handshake
    /// and checks passed.
    pub tls: Option<std::rc::Rc<TlsAccept>>,
}

/// A `--broker` or `--chat` listener, until a signal ends it.
pub fn run(
    rx: &mut Reactor,
    opts: &BrokerOpts,
    listener: &Socket,
    log: Option<&Log>,
    stdin: &Stdio,
    stdout: &Stdio,
) -> Result<Status, Abort> {
    let _ = listener.listen(LISTEN_BACKLOG);
    let mut b = Broker {
        opts,
        log,
        acceptor: Acceptor::new(listener),
        gate: Gate::new(
            &opts.acl,
            opts.max_conns,
            opts.verbose,
            opts.numeric,
            FDS_PER_CLIENT,
        ),
        clients: Slab::new(CLIENTS),
        handshakes: HashMap::new(),
        stdin,
        stdout,
        stdin_open: opts.read_stdin,
        stdin_r: true,
        stdin_line_start: true,
        stdin_reg: Interests::default(),
        stdout_open: opts.write_stdout,
        stdout_w: true,
        stdout_queue: VecDeque::new(),
        stdout_reg: Interests::default(),
        scratch: Vec::with_capacity(ROOM),
    };
    rx.run(&mut b).map_err(Abort::from)?
}

struct Broker<'a> {
    opts: &'a BrokerOpts,
    log: Option<&'a Log>,
    acceptor: Acceptor<'a>,
    /// Who is let in: the access lists, `--max-conns`, the open-file limit.
    gate: Gate<'a>,
    clients: Slab<Client>,
    /// TLS clients before their handshake and checks, by slot (the slot's
    /// `clients` entry stays empty meanwhile).
    handshakes: HashMap<usize, Handshake>,
    stdin: &'a Stdio,
    stdout: &'a Stdio,
    stdin_open: bool,
    stdin_r: bool,
    stdin_line_start: bool,
    stdin_reg: Interests,
    stdout_open: bool,
    stdout_w: bool,
    stdout_queue: VecDeque<u8>,
    stdout_reg: Interests,
    /// The bytes of one read, after the chat filter.
    scratch: Vec<u8>,
}

/// Appends `data` to `out` as ncat's chat filter shows it, with the
/// `<userN> ` prefix at the start of each line.
fn chat_filter(user: i32, data: &[u8], line_start: &mut bool, out: &mut Vec<u8>) {
    for &b in data {
        if *line_start {
            out.extend_from_slice(format!("<user{user}> ").as_bytes());
            *line_start = false;
        }
        if b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        }
        if b == b'\n' {
            *line_start = true;
        }
    }
}

impl Broker<'_> {
    fn chat(&self) -> bool {
        self.opts.chat
    }

    fn verbose(&self) -> bool {
        self.opts.verbose
    }

    /// Members and clients still in their TLS handshake.
    fn open_clients(&self) -> usize {
        self.clients.iter().flatten().count() + self.handshakes.len()
    }

    /// Where the broker stands, for its acceptor: it always takes
    /// clients; members and handshakes count alike.
    fn holding(&self) -> Holding {
        let n = self.open_clients();
        Holding {
            taking: true,
            open: n,
            held: n,
        }
    }

    /// Every queue except `except`'s (and stdout's, unless `to_stdout` is
    /// false) has room for one read.
    fn room_for(&self, except: Option<usize>, to_stdout: bool) -> bool {
        if to_stdout && self.stdout_open && QUEUE_MAX - self.stdout_queue.len() < ROOM {
            return false;
        }
        self.clients
            .iter()
            .enumerate()
            .all(|(i, c)| Some(i) == except || c.as_ref().is_none_or(Client::room))
    }

    /// Sends `data` to every client but `except`, and to stdout.
    fn fan_out(&mut self, except: Option<usize>, data: &[u8], to_stdout: bool) {
        let mut gone = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            if Some(i) == except {
                continue;
            }
            let mut rest = data;
            if c.queue.is_empty() && c.w {
                match c.conn.write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.w = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        gone.push(i);
                        continue;
                    }
                }
            }
            c.queue.extend(rest);
        }
        if to_stdout && self.stdout_open {
            self.stdout_queue.extend(data);
        }
        for i in gone {
            self.drop_client(i, false);
        }
    }

    /// Removes a client; `slow`: it was dropped for reading too slowly.
    fn drop_client(&mut self, i: usize, slow: bool) {
        let Some(c) = self.clients.remove(i) else {
            return;
        };
        if slow && self.verbose() {
            report::broker_dropped_slow(&c.peer, QUEUE_MAX);
        }
        let user = c.user;
        drop(c); // closes the socket (epoll forgets it)
        if self.chat() {
            let msg = format!("<announce> <user{user}> is disconnected.\n");
            self.fan_out(None, msg.as_bytes(), true);
        }
    }

    /// Accepts the pending clients the turn's budget allows.
    fn accept_all(&mut self, cx: &mut Ctx<'_>) {
        self.acceptor.turn();
        loop {
            let h = self.holding();
            let Some((sock, peer)) = self.acceptor.next(cx, &self.gate, h) else {
                return;
            };
            let slot = self.clients.reserve();
            match self.opts.tls.clone() {
                Some(t) => {
                    let keys = self.clients.keys(slot);
                    match t.start(cx, sock, peer, keys.token(0), keys.timer(0)) {
                        Some(h) => {
                            self.handshakes.insert(slot, h);
                        }
                        None => self.clients.release(slot),
                    }
                }
                None => self.join(cx, slot, Conn::Plain(sock), peer),
            }
        }
    }

    /// `conn` becomes a member in `slot`: registered, announced (chat).
    fn join(&mut self, cx: &mut Ctx<'_>, slot: usize, conn: Conn, peer: SockAddr) {
        let fd = conn.fd();
        let token = self.clients.keys(slot).token(0);
        if let Err(e) = cx.registry.register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            report::warn(format_args!("epoll"), Errno::of(&e));
            self.clients.release(slot);
            return;
        }
        let announce = self.chat().then(|| self.join_text(&peer, fd));
        self.clients.put(
            slot,
            Client {
                conn,
                peer,
                user: fd,
                queue: VecDeque::new(),
                r: true,
                w: true,
                line_start: true,
                stalled: None,
            },
        );
        if let Some(msg) = announce {
            self.fan_out(None, msg.as_bytes(), true);
        }
    }

    /// Steps the TLS handshakes with news: a client that passed joins, one
    /// that failed leaves its slot.
    fn step_handshakes(&mut self, cx: &mut Ctx<'_>) -> bool {
        if self.handshakes.is_empty() {
            return false;
        }
        let mut ended = Vec::new();
        for (&slot, h) in self.handshakes.iter_mut() {
            match h.step(cx) {
                Handshaken::Pending => {}
                Handshaken::Done(conn) => ended.push((slot, Some(conn))),
                Handshaken::Failed => ended.push((slot, None)),
            }
        }
        let progress = !ended.is_empty();
        for (slot, conn) in ended {
            let Some(h) = self.handshakes.remove(&slot) else {
                continue;
            };
            match conn {
                Some(conn) => self.join(cx, slot, conn, h.peer),
                None => self.clients.release(slot),
            }
        }
        progress
    }

    /// ncat's join announcement.
    fn join_text(&self, peer: &SockAddr, fd: i32) -> String {
        let addr = |a: &SockAddr| crate::net::resolve::numeric_host(a);
        let mut s = format!(
            "<announce> {} is connected as <user{fd}>.\n<announce> already connected: ",
            addr(peer)
        );
        let others: Vec<String> = self
            .clients
            .iter()
            .flatten()
            .map(|c| format!("{} as <user{}>", addr(&c.peer), c.user))
            .collect();
        if others.is_empty() {
            s.push_str("nobody");
        } else {
            s.push_str(&others.join(", "));
        }
        s.push_str(".\n");
        s
    }

    /// Flushes queues; drops clients whose peer is gone.
    fn flush_all(&mut self) -> bool {
        let mut progress = false;
        let mut gone = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            match flush(&mut c.conn, &mut c.queue, &mut c.w) {
                Ok(p) => progress |= p,
                Err(()) => gone.push(i),
            }
        }
        for i in gone {
            self.drop_client(i, false);
            progress = true;
        }
        if self.stdout_open {
            let mut stdout = self.stdout;
            match flush(&mut stdout, &mut self.stdout_queue, &mut self.stdout_w) {
                Ok(p) => progress |= p,
                Err(()) => {
                    self.stdout_open = false;
                    self.stdout_queue = VecDeque::new();
                }
            }
        }
        progress
    }

    /// Reads stdin once, if every queue has room.
    fn read_stdin(&mut self) -> bool {
        if !(self.stdin_open && self.stdin_r && self.room_for(None, false)) {
            return false;
        }
        let mut buf = [0u8; CHUNK];
        match self.stdin.read(&mut buf) {
            Ok(0) => {
                self.stdin_open = false;
                true
            }
            Ok(n) => {
                if let Some(l) = self.log {
                    l.record(Dir::Sent, &buf[..n]);
                }
                if self.chat() {
                    let mut out = std::mem::take(&mut self.scratch);
                    out.clear();
                    let mut ls = self.stdin_line_start;
                    chat_filter(0, &buf[..n], &mut ls, &mut out);
                    self.stdin_line_start = ls;
                    self.fan_out(None, &out, false);
                    self.scratch = out;
                } else {
                    self.fan_out(None, &buf[..n], false);
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stdin_r = !self.stdin.pollable();
                false
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            Err(_) => {
                self.stdin_open = false;
                true
            }
        }
    }

    /// Reads each readable client once, if the queues it feeds have room.
    fn read_clients(&mut self) -> bool {
        let mut progress = false;
        let mut buf = [0u8; CHUNK];
        for i in 0..self.clients.len() {
            let can = matches!(&self.clients[i], Some(c) if c.r) && self.room_for(Some(i), true);
            if !can {
                continue;
            }
            let Some(c) = self.clients[i].as_mut() else {
                continue;
            };
            match c.conn.read(&mut buf) {
                Ok(0) => {
                    self.drop_client(i, false);
                    progress = true;
                }
                Ok(n) => {
                    if let Some(l) = self.log {
                        l.record(Dir::Received, &buf[..n]);
                    }
                    if self.opts.chat {
                        let mut out = std::mem::take(&mut self.scratch);
                        out.clear();
                        chat_filter(c.user, &buf[..n], &mut c.line_start, &mut out);
                        self.fan_out(Some(i), &out, true);
                        self.scratch = out;
                    } else {
                        self.fan_out(Some(i), &buf[..n], true);
                    }
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.r = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.drop_client(i, false);
                    progress = true;
                }
            }
            if let Some(c) = self.clients[i].as_mut() {
                if c.conn.take_kick() {
                    // A TLS handshake finished: rustls may hold plaintext.
                    c.r = true;
                    c.w = true;
                    progress = true;
                }
            }
        }
        progress
    }

    /// Starts or stops each client's stall clock.
    fn watch_stalls(&mut self, cx: &mut Ctx<'_>) {
        for (i, c) in self.clients.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            match (c.room(), c.stalled) {
                (false, None) => {
                    let at = Instant::now() + STALL_LIMIT;
                    c.stalled = Some(cx.timers.add(at, CLIENTS.keys(i).timer(0)));
                }
                (true, Some(t)) => {
                    cx.timers.cancel(t);
                    c.stalled = None;
                }
                _ => {}
            }
        }
    }

    fn register_local(&mut self, cx: &mut Ctx<'_>) -> io::Result<()> {
        let local = [
            (
                &mut self.stdin_reg,
                self.stdin,
                self.stdin_open,
                reactor::STDIN,
                Interest::READABLE,
            ),
            (
                &mut self.stdout_reg,
                self.stdout,
                self.stdout_open,
                reactor::STDOUT,
                Interest::WRITABLE,
            ),
        ];
        for (reg, io, open, token, interest) in local {
            let want = open && io.pollable();
            reg.set(cx.registry, io.poll_fd, token, want.then_some(interest))?;
        }
        let h = self.holding();
        self.acceptor.register(cx, &self.gate, h)
    }
}

impl Machine for Broker<'_> {
    type Output = Result<Status, Abort>;

    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: &Event) {
        let hup = ev.is_error() || ev.is_read_closed() || ev.is_write_closed();
        if self.acceptor.on_event(ev) {
            return;
        }
        match ev.token() {
            reactor::STDIN => self.stdin_r = true,
            reactor::STDOUT => self.stdout_w = true,
            t => {
                let Some((i, _)) = self.clients.by_token(t) else {
                    return;
                };
                if let Some(Some(c)) = self.clients.get_mut(i) {
                    c.r |= ev.is_readable() || hup;
                    c.w |= ev.is_writable() || hup;
                } else if let Some(h) = self.handshakes.get_mut(&i) {
                    h.on_event();
                }
            }
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, key: usize) {
        if self.acceptor.on_timer(key) {
            return;
        }
        let Some((i, _)) = self.clients.by_timer(key) else {
            return;
        };
        if let Some(h) = self.handshakes.get_mut(&i) {
            // The handshake's deadline (or a timer the slot's previous
            // client left).
            if h.expire(cx) {
                self.handshakes.remove(&i);
                self.clients.release(i);
            }
            return;
        }
        if let Some(Some(c)) = self.clients.get_mut(i) {
            c.stalled = None;
            if !c.room() {
                self.drop_client(i, true);
            }
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output> {
        self.accept_all(cx);
        self.step_handshakes(cx);
        if let Some(e) = self.acceptor.take_fatal() {
            report::listener_call_failed(ListenerCall::Accept, Errno::of(&e));
            return Step::Done(Err(Abort::Failed));
        }
        let mut busy = true;
        for _ in 0..PASSES {
            let mut progress = self.flush_all();
            progress |= self.read_stdin();
            progress |= self.read_clients();
            if !progress {
                busy = false;
                break;
            }
        }
        self.watch_stalls(cx);
        if let Err(e) = self.register_local(cx) {
            report::warn(format_args!("epoll"), Errno::of(&e));
            return Step::Done(Err(Abort::Failed));
        }
        // (The turn's budget spent with clients still in the backlog.)
        let more = self.acceptor.more(&self.gate, self.holding());
        if busy || more {
            Step::Again
        } else {
            Step::Wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_lines_and_escapes() {
        let mut out = Vec::new();
        let mut ls = true;
        chat_filter(5, b"hi\nthere", &mut ls, &mut out);
        chat_filter(5, b" you\x01\n", &mut ls, &mut out);
        assert_eq!(out, b"<user5> hi\n<user5> there you\\001\n");
        assert!(ls);
    }
}
