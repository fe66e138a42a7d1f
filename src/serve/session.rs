//! One served connection: the network stream relayed to and from a child. An extension:
//! docs/compatibility.md §A.3.
//!
//! The EOF rules (issue 15):
//! - the peer's end of stream closes the child's stdin, once everything
//!   read before it has been written there;
//! - the child's stdout closing sends the peer our end of stream (FIN),
//!   once everything read before it has gone out; the session goes on
//!   while the peer still sends and the child still runs;
//! - the child's exit ends the session once its output is flushed to the
//!   peer (what it left in the pipe is read until the pipe is empty);
//! - the peer going away (both directions closed, or a reset), or `-w`
//!   seconds without traffic, ends the session first: the connection and
//!   the child's pipes close, and a child still running a second later
//!   gets SIGTERM.
//!
//! A child that never reads stalls the network input once the 64 KiB
//! buffer toward it is full (the peer's sends then block: TCP's own
//! back-pressure); one that stops reading for good (EPIPE) has what is
//! sent to it thrown away. Memory per session is two fixed buffers.
//!
//! A datagram session (`-u --exec`) reads one datagram at a time into an
//! empty buffer (never cutting one) and sends at most one datagram's worth
//! per write; it has no end of stream, so the child's exit or `-w` ends it.
//!
//! Every fd is registered once, edge-triggered, for all it may ever need;
//! the session keeps a readiness flag per direction, set by events and
//! cleared by `EAGAIN`, so a step only makes the calls that can succeed.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::relay::endpoint::Endpoint;
use crate::relay::log::Log;
use crate::relay::pump::Pump;
use crate::relay::stream::Conn;
use crate::relay::winsize::{self, Decoder, Next};
use crate::serve::child::{self, Child};
use crate::serve::slab::Keys;
use crate::sys::reactor::{Ctx, TimerId};

/// Each direction's buffer. A read is offered all of it that is free
/// (`space_for(BUF)` moves the pending bytes to the front first): as few
/// reads as can be, so as few `--hex-dump` chunks.
const BUF: usize = 64 * 1024;
/// The largest UDP payload: one write of a datagram session.
const MAX_DATAGRAM: usize = 65_507;
/// Steps of the pump before letting the loop serve others.
const PASSES: usize = 16;
/// How long a child may outlive its session before SIGTERM.
pub const TERM_DELAY: Duration = Duration::from_secs(1);
/// Reads (of 4 KiB) that drain unread input before a close.
const DRAIN_READS: usize = 64;
/// Without a pidfd: how often to look whether the child exited.
const REAP_POLL: Duration = Duration::from_millis(50);

/// The fds of a session, as offsets in its slot's tokens.
pub const K_NET: usize = 0;
pub const K_CHILD_IN: usize = 1;
pub const K_CHILD_OUT: usize = 2;
pub const K_PIDFD: usize = 3;
/// Tokens (and timer keys) per session: its slot's width.
pub const KINDS: usize = 4;

/// Timers, as offsets in its slot's timer keys.
pub const T_IDLE: usize = 0;
pub const T_TERM: usize = 1;
pub const T_REAP: usize = 2;
/// A TLS client's handshake deadline, before its session and child exist
/// (`handshake::Handshake`, in the same slot).
pub const T_HANDSHAKE: usize = 3;

/// What a session's options are.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionOpts {
    /// `-w`: end the session after this long without traffic.
    pub idle: Option<Duration>,
    /// `-C`: LF from the child goes out as CR LF.
    pub crlf: bool,
}

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Relaying.
    Running,
    /// The step stopped with work left: step again without waiting.
    Busy,
    /// The connection is closed; the child still runs.
    Closed,
    /// Connection closed and child reaped: the session can be dropped.
    Gone,
}

pub struct Session {
    conn: Option<Conn>,
    net_fd: RawFd,
    child: Child,
    /// Its slot's tokens and timer keys.
    keys: Keys,
    opts: SessionOpts,
    /// The child's stdout to the network (`-C` there), the network to
    /// its stdin.
    io: Pump,
    // Readiness (edge-triggered: set by events, cleared by EAGAIN).
    net_r: bool,
    net_w: bool,
    cin_w: bool,
    cout_r: bool,
    /// The child may have exited (pidfd readable, or no pidfd).
    exit_seen: bool,
    net_in_open: bool,
    net_out_open: bool,
    /// A connected UDP socket (`-u --exec`): datagrams, no end of stream.
    datagram: bool,
    /// The socket is shared with other sessions (`-luk --exec`).
    shared: bool,
    last_activity: Instant,
    idle_timer: Option<TimerId>,
    term_timer: Option<TimerId>,
    reap_timer: Option<TimerId>,
    /// The child got its SIGTERM (it outlived the session).
    term_sent: bool,
    /// `--pty`: the window-size messages in what the peer sends.
    winsize: Decoder,
}

fn reg(registry: &Registry, fd: RawFd, token: Token, i: Interest) -> io::Result<()> {
    registry.register(&mut SourceFd(&fd), token, i)
}

fn dereg(registry: &Registry, fd: RawFd) {
    let _ = registry.deregister(&mut SourceFd(&fd));
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl Session {
    /// A session for `conn` served by `child`, under `keys` (`KINDS` wide).
    pub fn new(conn: Conn, child: Child, keys: Keys, opts: SessionOpts) -> Session {
        let net_fd = conn.fd();
        let datagram = conn.is_datagram();
        let shared = conn.is_shared();
        Session {
            datagram,
            shared,
            conn: Some(conn),
            net_fd,
            child,
            keys,
            opts,
            io: Pump::new(BUF, opts.crlf),
            net_r: true,
            net_w: true,
            cin_w: true,
            cout_r: true,
            exit_seen: false,
            net_in_open: true,
            net_out_open: true,
            last_activity: Instant::now(),
            idle_timer: None,
            term_timer: None,
            reap_timer: None,
            term_sent: false,
            winsize: Decoder::default(),
        }
    }

    /// A datagram from the peer of a shared socket; false if dropped.
    pub fn deliver(&mut self, d: Vec<u8>) -> bool {
        self.net_r = true;
        self.conn.as_mut().is_some_and(|c| c.deliver(d))
    }

    /// The shared socket can be written again.
    pub fn net_writable(&mut self) {
        self.net_w = true;
    }

    /// The session is over and its child, still running, was sent SIGTERM.
    pub fn term_sent(&self) -> bool {
        self.term_sent
    }

    /// Registers every fd once, for all it may need.
    pub fn register(&mut self, cx: &mut Ctx<'_>) -> io::Result<()> {
        let k = self.keys;
        // A shared socket is its owner's to register (it reports our
        // readiness through `deliver` and `net_writable`).
        if !self.shared {
            reg(
                cx.registry,
                self.net_fd,
                k.token(K_NET),
                Interest::READABLE | Interest::WRITABLE,
            )?;
        }
        if let Some(fd) = &self.child.stdin {
            reg(
                cx.registry,
                fd.as_raw_fd(),
                k.token(K_CHILD_IN),
                Interest::WRITABLE,
            )?;
        }
        if let Some(fd) = &self.child.stdout {
            reg(
                cx.registry,
                fd.as_raw_fd(),
                k.token(K_CHILD_OUT),
                Interest::READABLE,
            )?;
        }
        match self.child.pidfd() {
            Some(fd) => reg(cx.registry, fd, k.token(K_PIDFD), Interest::READABLE)?,
            None => self.arm_reap_poll(cx),
        }
        Ok(())
    }

    fn arm_reap_poll(&mut self, cx: &mut Ctx<'_>) {
        cx.timers.reset(
            &mut self.reap_timer,
            Instant::now() + REAP_POLL,
            self.keys.timer(T_REAP),
        );
    }

    /// A readiness event on one of the session's tokens (`k` = K_*).
    pub fn on_event(&mut self, k: usize, ev: &Event) {
        let hup = ev.is_error() || ev.is_read_closed() || ev.is_write_closed();
        match k {
            K_NET => {
                self.net_r |= ev.is_readable() || hup;
                self.net_w |= ev.is_writable() || hup;
            }
            K_CHILD_IN => self.cin_w = true,
            K_CHILD_OUT => self.cout_r = true,
            K_PIDFD => self.exit_seen = true,
            _ => {}
        }
    }

    /// A timer of the session expired (`k` = T_*).
    pub fn on_timer(&mut self, cx: &mut Ctx<'_>, k: usize) {
        match k {
            T_IDLE => self.idle_timer = None,
            T_TERM => {
                self.term_timer = None;
                self.term_sent = true;
                self.child.terminate();
            }
            T_REAP => {
                self.reap_timer = None;
                self.exit_seen = true;
                if !self.child.exited() {
                    self.arm_reap_poll(cx);
                }
            }
            _ => {}
        }
    }

    /// Does all the work possible now.
    pub fn step(&mut self, cx: &mut Ctx<'_>, log: Option<&Log>) -> State {
        // (Reaping closes the pidfd, which takes it out of epoll.)
        if self.exit_seen && !self.child.exited() && self.child.try_reap() {
            // Read what the child left in the pipe, whatever the events.
            self.cout_r = true;
        }
        self.exit_seen = false;
        if self.conn.is_some() {
            let mut busy = true;
            for _ in 0..PASSES {
                match self.pump(log) {
                    Pass::Progress => continue,
                    Pass::Idle => {
                        busy = false;
                        break;
                    }
                    Pass::End => {
                        self.end(cx);
                        busy = false;
                        break;
                    }
                }
            }
            if self.conn.is_some() {
                if self.idle_expired(cx) {
                    self.end(cx);
                } else if busy {
                    return State::Busy;
                } else {
                    return State::Running;
                }
            }
        }
        if self.child.exited() {
            if let Some(t) = self.term_timer.take() {
                cx.timers.cancel(t);
            }
            if let Some(t) = self.reap_timer.take() {
                cx.timers.cancel(t);
            }
            State::Gone
        } else {
            State::Closed
        }
    }

    /// `-w`: true when the session has been idle that long; otherwise the
    /// timer is armed for the moment it would be.
    fn idle_expired(&mut self, cx: &mut Ctx<'_>) -> bool {
        let Some(idle) = self.opts.idle else {
            return false;
        };
        let due = self.last_activity + idle;
        if Instant::now() >= due {
            return true;
        }
        if self.idle_timer.is_none() {
            self.idle_timer = Some(cx.timers.add(due, self.keys.timer(T_IDLE)));
        }
        false
    }

    /// Ends the connection: close it and the child's pipes; a child still
    /// running gets SIGTERM after [`TERM_DELAY`].
    fn end(&mut self, cx: &mut Ctx<'_>) {
        if let Some(mut conn) = self.conn.take() {
            if !self.shared {
                dereg(cx.registry, conn.fd());
            }
            // What the peer sent and nobody will read: taking it first
            // lets the close be a FIN, not a reset that could destroy the
            // answer still on its way (an HTTP responder that never reads
            // the request).
            let mut scratch = [0u8; 4096];
            for _ in 0..DRAIN_READS {
                match conn.read(&mut scratch) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        for fd in [&self.child.stdin, &self.child.stdout]
            .into_iter()
            .flatten()
        {
            dereg(cx.registry, fd.as_raw_fd());
        }
        self.child.close_pipes();
        if let Some(t) = self.idle_timer.take() {
            cx.timers.cancel(t);
        }
        if !self.child.exited() && !self.child.try_reap() {
            self.term_timer = Some(
                cx.timers
                    .add(Instant::now() + TERM_DELAY, self.keys.timer(T_TERM)),
            );
        }
    }

    /// One round of the four transfers.
    fn pump(&mut self, log: Option<&Log>) -> Pass {
        let Some(conn) = self.conn.as_mut() else {
            return Pass::End;
        };
        let io = &mut self.io;
        let mut progress = false;
        // Network → buffer toward the child.
        // (A datagram is read whole, so only into an empty buffer.)
        let room = if self.datagram {
            io.from_net.is_empty()
        } else {
            io.from_net.has_room()
        };
        if self.net_in_open && self.net_r && room {
            match io.read_net(conn, log) {
                Ok(0) if self.datagram => progress = true, // an empty datagram
                Ok(0) => {
                    self.net_in_open = false;
                    progress = true;
                }
                Ok(_) => progress = true,
                Err(e) if would_block(&e) => self.net_r = false,
                Err(_) => return Pass::End,
            }
        }
        // Buffer → child's stdin.
        if let Some(stdin) = self.child.stdin.as_mut() {
            if !io.from_net.is_empty() && self.cin_w {
                let written = match self.child.veof {
                    None => io.write_local(stdin).map(Some),
                    Some(_) => to_pty(&mut self.winsize, io, stdin, self.net_in_open),
                };
                match written {
                    Ok(Some(_)) => progress = true,
                    Ok(None) => {}
                    Err(e) if would_block(&e) => self.cin_w = false,
                    Err(_) => {
                        // The child will never read again: what the peer
                        // sends is thrown away from now on.
                        self.child.stdin = None;
                        io.from_net.clear();
                        progress = true;
                    }
                }
            }
            if !self.net_in_open && io.from_net.is_empty() && self.child.stdin.is_some() {
                // A terminal's end of input is its VEOF character, as
                // typed (its master stays open for the child's output).
                let done = match (self.child.veof, self.child.stdin.as_mut()) {
                    (Some(c), Some(fd)) if self.cin_w => match fd.write(&[c]) {
                        Err(e) if would_block(&e) => {
                            self.cin_w = false;
                            false
                        }
                        _ => true,
                    },
                    (Some(_), _) => false,
                    (None, _) => true,
                };
                if done {
                    self.child.stdin = None;
                    progress = true;
                }
            }
        } else if !io.from_net.is_empty() {
            io.from_net.clear();
        }
        // Child's stdout → buffer toward the network.
        if let Some(stdout) = self.child.stdout.as_mut() {
            if self.cout_r && io.to_net.has_room() {
                match io.read_local(stdout, BUF) {
                    Ok(0) => {
                        self.child.stdout = None;
                        progress = true;
                    }
                    Ok(_) => progress = true,
                    Err(e) if would_block(&e) => {
                        self.cout_r = false;
                        // An exited child's output is all read (a
                        // grandchild keeping the pipe open does not hold
                        // the session).
                        if self.child.exited() {
                            self.child.stdout = None;
                            progress = true;
                        }
                    }
                    Err(_) => {
                        self.child.stdout = None;
                        progress = true;
                    }
                }
            }
        }
        // Buffer → network (a datagram's worth at most per write; -C may
        // double a datagram: it must still fit one).
        if self.net_out_open && self.net_w && !io.to_net.is_empty() {
            let max = if self.datagram {
                MAX_DATAGRAM
            } else {
                usize::MAX
            };
            match io.send_net(conn, log, max) {
                Ok(_) => progress = true,
                Err(e) if would_block(&e) => self.net_w = false,
                Err(_) => return Pass::End,
            }
        }
        // What a TLS session holds (its handshake's last flight, records
        // the socket did not take, close_notify) goes out as the socket
        // allows: after the data above, which a TLS write seals behind it,
        // so that both leave in one send.
        if self.net_w && !conn.flushed() {
            match conn.flush() {
                Ok(true) => progress = true,
                Ok(false) => self.net_w = false,
                Err(e) if would_block(&e) => self.net_w = false,
                Err(_) => return Pass::End,
            }
        }
        if self.net_out_open && self.child.stdout.is_none() && io.to_net.is_empty() {
            conn.shutdown_write();
            self.net_out_open = false;
            progress = true;
        }
        if conn.take_kick() {
            // A TLS handshake finished: rustls may hold plaintext already.
            self.net_r = true;
            self.net_w = true;
            progress = true;
        }
        if !self.net_out_open && (self.child.exited() || !self.net_in_open) && conn.flushed() {
            return Pass::End;
        }
        if progress {
            self.last_activity = Instant::now();
            Pass::Progress
        } else {
            Pass::Idle
        }
    }

    /// Closes everything at once (the run is ending): SIGTERM now.
    pub fn terminate(&mut self) {
        self.conn = None;
        self.child.close_pipes();
        self.child.terminate();
    }
}

/// `--pty`: one write of what the peer sent to the terminal, window-size
/// messages applied there (see [`crate::relay::winsize`]); `open`: more
/// may come (a message cut at the end of the stream is written as it
/// came). None: a message waits for the rest of its bytes.
fn to_pty(
    dec: &mut Decoder,
    io: &mut Pump,
    master: &mut OwnedFd,
    open: bool,
) -> io::Result<Option<usize>> {
    let pending = io.from_net.pending();
    let (n, taken) = match dec.next(pending) {
        Next::Plain(n) => (master.write(&pending[..n])?, None),
        Next::Literal => (master.write(&[winsize::LEAD])?, Some(2)),
        Next::Size(rows, cols) => {
            // A size the terminal refuses is no reason to end the session.
            let _ = child::set_winsize(master.as_raw_fd(), rows, cols);
            (0, Some(winsize::MSG_LEN))
        }
        Next::Incomplete if open => return Ok(None),
        Next::Incomplete => (master.write(pending)?, None),
    };
    io.from_net.consumed(taken.unwrap_or(n));
    Ok(Some(n))
}

enum Pass {
    Progress,
    Idle,
    End,
}
