//! The relay layer: moving bytes between the local ends and a connected
//! socket. It owns the relay state machine ([`Relay`], [`RelayOpts`]),
//! nc's end-of-session rules that it shares with the TLS relay ([`rules`]:
//! [`End`], [`rules::Outcome`]), the per-direction buffers in user memory or a kernel
//! pipe ([`buffer::Chan`]), the window onto a regular-file stdin
//! ([`filemap::FileWindow`]), the `-C`/`-t` filters ([`filter::Crlf`],
//! [`filter::Telnet`]) and standard input and output ([`stdio::Stdio`]);
//! `-F`, which hands the socket over instead ([`fdpass`]); session logs
//! ([`log`], also written by the serving listeners) and the byte-stream
//! end a served session relays ([`stream::Conn`]). The engines share
//! their pieces: an end bytes move to and from ([`endpoint::Endpoint`]),
//! a direction's buffer with `-C` and the log tap
//! ([`direction::Direction`]), the moves between two ends ([`pump::Pump`])
//! and one TLS byte stream ([`tls_stream::TlsEnd`]).
//!
//! It may use `net`, `report` and `sys`; it never imports `serve`, a mode
//! or `cli` (a listener hands it a socket and a [`RelayOpts`]).
//!
//! The relay: standard input to the socket, the socket to standard output.
//!
//! This is nc's `readwrite` (docs/compatibility.md §6.1) as a state
//! machine in the event loop: the end-of-session part (the ends still
//! open, "finished", `-q`, `-w`, `-W`'s count, `-vv`) is [`rules`]'s; what
//! is here is how the bytes move.
//! nc's end-of-file rules are defined in terms of level-triggered `poll`
//! results (POLLIN, POLLOUT, POLLHUP, POLLERR per end), so each pass takes
//! a snapshot of exactly those with a zero-timeout `poll(2)` over the same
//! four entries nc uses, and applies nc's rules in nc's order. mio's
//! edge-triggered epoll only decides when to take the next snapshot: the
//! relay blocks in the loop only when the snapshot is empty, with its
//! registered interest derived from its state. Regular files and
//! `/dev/null` cannot be registered with epoll; `poll` reports them ready,
//! so they simply never make the loop wait.
//!
//! This relay is not a [`pump::Pump`] (the TLS relay and a served session
//! are): it is the nc-exact fast path. Its buffers are [`buffer::Chan`]s,
//! which may be kernel pipes that splice(2) fills and drains without the
//! bytes passing through user memory, or a window onto a regular-file
//! stdin ([`filemap::FileWindow`]); its moves follow a poll snapshot
//! (nc's POLLHUP and POLLERR rules on each end), not an endpoint's own
//! end of stream; it batches bulk receives and has `-t` and `-i`. A
//! `Pump` copies through a [`buffer::Buf`], which would cost the splice
//! path its speed. What it shares with them is written once elsewhere:
//! nc's rules on the ends ([`rules::Rules::propagate`],
//! [`rules::Rules::settle`], over [`rules::Sock`]) and, on its copying
//! path, `-C`'s encoding with the log tap ([`direction::send`],
//! [`direction::tap_received`]).
//!
//! Departures from nc (docs/compatibility.md §A.2): an error on the socket does not throw
//! away data the kernel already received (5): the socket is read until the
//! kernel reports the error. `-C` and `-t` work on the byte stream (12):
//! see [`crate::relay::filter`].
//!
//! Bulk receiving: on loopback the bytes arrive faster than the relay wakes
//! up for them, and each wake-up of a side that went idle costs more than
//! the bytes it then reads. Once a network read returns at least
//! [`BULK_READ`] bytes (a bulk transfer; interactive traffic never does),
//! the relay asks the kernel (`SO_RCVLOWAT`) to report the TCP socket
//! readable only when [`BATCH_LOWAT`] bytes are queued, or at its end, or
//! on an error. So that a smaller tail is never held back, every wait in
//! that state arms a [`BATCH_WAIT`] timer that puts the threshold back to
//! one byte: a tail that follows a bulk transfer waits at most about a
//! millisecond. Not with `-W` (which counts reads), nor with `-w 0`.
//!
//! Datagram sockets (UDP, Unix datagram): one read is one datagram and one
//! send is one datagram, as in nc, but a datagram is never cut
//! (docs/compatibility.md departure 11): the socket is read only when the
//! buffer has room for the largest datagram ([`DGRAM_READ`] bytes), and
//! stdin is buffered only up to the largest datagram ncrab sends (nc's
//! 16,384 bytes, `RelayOpts::datagram`), so everything buffered leaves as
//! one datagram that an nc peer reads whole. A datagram socket is never
//! shut down for reading: that changes nothing on the wire, and the flag
//! would stay set and make the next read of a `-k` listener return at
//! once, forever (nc spins there).

pub mod buffer;
pub mod client_checks;
pub mod direction;
pub mod endpoint;
pub mod fdpass;
pub mod filemap;
pub mod filter;
pub mod log;
pub mod pump;
pub mod raw;
pub mod rules;
pub mod stdio;
pub mod stream;
pub mod tls;
pub mod tls_stream;
pub mod winsize;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::Interest;

use crate::net::udp::DGRAM_SEND_MAX;
use crate::relay::buffer::{Chan, Io};
use crate::relay::filter::{Crlf, Telnet};
use crate::relay::log::Log;
pub use crate::relay::rules::{End, RelayOpts};
use crate::relay::rules::{
    FIRST_OWN_TIMER, Mover, NETIN, NETOUT, NetEnd, Rules, STDIN, STDOUT, Sock,
};
use crate::relay::stdio::{Kind, Stdio};
use crate::report;
use crate::sys::reactor::{self, Ctx, TimerId, would_block};

/// Room a datagram read needs: the largest datagram is read whole.
pub const DGRAM_READ: usize = 65_535;

/// A network read at least this large starts receive batching.
const BULK_READ: usize = 64 * 1024;
/// While batching, the socket is readable once this much is queued.
const BATCH_LOWAT: usize = 256 * 1024;
/// While batching, the longest wait before reading what is there.
const BATCH_WAIT: Duration = Duration::from_millis(1);

const TIMER_INTERVAL: usize = FIRST_OWN_TIMER;
const TIMER_BATCH: usize = FIRST_OWN_TIMER + 1;
const TIMER_PROGRESS: usize = FIRST_OWN_TIMER + 2;

/// `--progress`: how often the line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// One relay between the local ends and a connected socket (its
/// [`crate::sys::reactor::Machine`] is [`rules`]'s, for a [`Mover`]).
pub struct Relay<'a, S: AsRawFd> {
    sock: Option<S>,
    net_fd: RawFd,
    stdin: &'a Stdio,
    stdout: &'a Stdio,
    opts: RelayOpts,
    rules: Rules,
    up: Chan,
    down: Chan,
    /// `-i`: no line is sent before this instant.
    hold_until: Option<Instant>,
    interval_timer: Option<TimerId>,
    crlf: Option<Crlf>,
    telnet: Option<Telnet>,
    batch: Batch,
    /// `--output`/`--hex-dump` (the copying path only: see `relay_opts`).
    log: Option<&'a Log>,
    progress: Option<Progress>,
}

/// `--progress`: the line's timer, and the bytes stdin holds when it is a
/// regular file (for the percentage and the time left).
struct Progress {
    timer: Option<TimerId>,
    size: Option<u64>,
}

impl Progress {
    /// A progress line, when asked for and stderr is a terminal.
    fn new(asked: bool, stdin: &Stdio) -> Option<Progress> {
        // SAFETY: isatty on a constant descriptor.
        if !asked || unsafe { libc::isatty(libc::STDERR_FILENO) } != 1 {
            return None;
        }
        Some(Progress {
            timer: None,
            size: regular_file_left(stdin),
        })
    }
}

/// What is left to read of a regular-file stdin: its size less the
/// current offset.
fn regular_file_left(stdin: &Stdio) -> Option<u64> {
    if stdin.kind != Kind::Regular {
        return None;
    }
    // SAFETY: fstat into a zeroed struct, lseek on our own descriptor.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(stdin.fd, &mut st) != 0 {
            return None;
        }
        let pos = libc::lseek(stdin.fd, 0, libc::SEEK_CUR).max(0);
        u64::try_from(st.st_size - pos).ok()
    }
}

/// Receive batching (see the module text).
#[derive(Default)]
struct Batch {
    /// Not possible here, or given up (`SO_RCVLOWAT` refused).
    off: bool,
    /// `SO_RCVLOWAT` is raised.
    on: bool,
    timer: Option<TimerId>,
}

fn set_rcvlowat(fd: RawFd, bytes: usize) -> bool {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt with a valid int option value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

fn sockopt_int(fd: RawFd, level: i32, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into a valid int.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(v)
}

impl<'a, S: AsRawFd> Relay<'a, S> {
    pub fn new(sock: S, stdin: &'a Stdio, stdout: &'a Stdio, opts: RelayOpts) -> Self {
        let net_fd = sock.as_raw_fd();
        Relay {
            sock: Some(sock),
            net_fd,
            stdin,
            stdout,
            opts,
            rules: Rules::new(&opts),
            up: Chan::for_input(opts.zero_copy, stdin),
            // Each splice into a datagram socket would be one datagram of
            // whatever the pipe held: stdout is then written by copying.
            down: Chan::new(opts.zero_copy && !stdout.datagram()),
            hold_until: None,
            interval_timer: None,
            crlf: opts.crlf.then(Crlf::new),
            telnet: opts.telnet.then(Telnet::new),
            batch: Batch {
                // A TCP byte stream whose reads nobody counts or times out.
                off: !opts.zero_copy
                    || opts.datagram.is_some()
                    || opts.recv_limit.is_some()
                    || opts.idle == Some(Duration::ZERO),
                ..Batch::default()
            },
            progress: Progress::new(opts.progress, stdin),
            log: None,
        }
    }

    /// Records what passes in the session log.
    pub fn with_log(mut self, log: Option<&'a Log>) -> Self {
        self.log = log;
        self
    }

    /// After a network read of `n` bytes: a bulk read starts batching, as
    /// long as the socket is TCP and its receive buffer is already large
    /// enough for the threshold (raising the threshold beyond it would
    /// also clamp the window the kernel advertises).
    fn batch_after_read(&mut self, n: usize, cx: &mut Ctx<'_>) {
        if let Some(t) = self.batch.timer.take() {
            cx.timers.cancel(t);
        }
        if self.batch.off || self.batch.on || n < BULK_READ {
            return;
        }
        let fd = self.net_fd;
        let tcp = matches!(
            sockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN),
            Some(libc::AF_INET | libc::AF_INET6)
        );
        if !tcp {
            self.batch.off = true;
            return;
        }
        let room = sockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap_or(0);
        if usize::try_from(room).unwrap_or(0) < 4 * BATCH_LOWAT {
            return;
        }
        if set_rcvlowat(fd, BATCH_LOWAT) {
            self.batch.on = true;
        } else {
            self.batch.off = true;
        }
    }

    /// Ends batching: the socket is readable again from one byte.
    fn batch_stop(&mut self) {
        if self.batch.on {
            self.batch.on = false;
            if !set_rcvlowat(self.net_fd, 1) {
                self.batch.off = true;
            }
        }
    }

    /// No room for another stdin read: the buffer is full, or for a
    /// datagram socket it already holds the largest datagram one send takes.
    fn up_full(&self) -> bool {
        match self.opts.datagram {
            Some(max) => self.up.len() >= max,
            None => self.up.is_full(),
        }
    }

    /// No room for another network read: a datagram needs room for the
    /// largest one.
    fn down_full(&self) -> bool {
        match self.opts.datagram {
            Some(_) => self.down.free() < DGRAM_READ,
            None => self.down.is_full(),
        }
    }

    /// The socket as nc's rules see it (no shutdown(SHUT_RD) on a
    /// datagram socket: see the module text).
    fn sock(&self) -> Sock {
        Sock {
            fd: self.net_fd,
            datagram: self.opts.datagram.is_some(),
        }
    }

    /// shutdown(SHUT_RD), except on datagram sockets.
    fn shutdown_read(&self) {
        self.sock().shutdown_read();
    }

    /// The level-triggered view: nc's poll array, polled with no timeout.
    fn snapshot(&self) -> io::Result<[i16; 4]> {
        let entry = |open: bool, fd: RawFd, events: i16| libc::pollfd {
            fd: if open { fd } else { -1 },
            events,
            revents: 0,
        };
        let mut pfd = [
            // A full buffer takes its input out of the snapshot altogether:
            // nc keeps polling it with no events, and a sticky POLLHUP or
            // POLLERR would then spin the loop until the buffer drains.
            entry(
                self.rules.open[STDIN] && !self.up_full(),
                self.stdin.poll_fd,
                libc::POLLIN,
            ),
            // `-t` replies go out even once NETOUT is closed, as in nc.
            entry(
                self.rules.open[NETOUT] || self.telnet_pending(),
                self.net_fd,
                if self.wants_net_write() {
                    libc::POLLOUT
                } else {
                    0
                },
            ),
            entry(
                self.rules.open[NETIN] && self.net_room(),
                self.net_fd,
                libc::POLLIN,
            ),
            entry(
                self.rules.open[STDOUT],
                self.stdout.poll_fd,
                if self.down.is_empty() {
                    0
                } else {
                    libc::POLLOUT
                },
            ),
        ];
        loop {
            // SAFETY: pfd is a valid array of 4 pollfd entries.
            let n = unsafe { libc::poll(pfd.as_mut_ptr(), 4, 0) };
            if n >= 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok([
            pfd[0].revents,
            pfd[1].revents,
            pfd[2].revents,
            pfd[3].revents,
        ])
    }

    /// `-t` replies wait to be written.
    fn telnet_pending(&self) -> bool {
        self.telnet
            .as_ref()
            .is_some_and(|t| !t.pending().is_empty())
    }

    /// The socket may be read: room in the buffer, and not too many `-t`
    /// replies queued (what bounds a peer that never reads them).
    fn net_room(&self) -> bool {
        !self.down_full() && !self.telnet.as_ref().is_some_and(Telnet::backlogged)
    }

    /// Something waits to be written to the socket now: stdin data (unless
    /// `-i` holds the next line back) or `-t` replies.
    fn wants_net_write(&self) -> bool {
        (self.rules.open[NETOUT] && !self.up.is_empty() && self.hold_until.is_none())
            || self.telnet_pending()
    }

    fn shutdown(&self, how: i32) {
        self.sock().shutdown(how);
    }

    /// One pass of nc's rules over a non-empty snapshot.
    fn pass_snapshot(&mut self, rev: [i16; 4], cx: &mut Ctx<'_>) {
        const ERR: i16 = libc::POLLERR | libc::POLLNVAL;
        let (pin, pout, hup) = (libc::POLLIN, libc::POLLOUT, libc::POLLHUP);
        let mut rev = rev;
        // POLLERR/POLLNVAL close an end. For the socket's input this is
        // docs/compatibility.md departure 5: keep reading until the kernel reports the error.
        for (i, r) in rev.iter_mut().enumerate() {
            if *r & ERR != 0 {
                if i == NETIN {
                    *r |= pin;
                } else {
                    self.rules.open[i] = false;
                }
            }
        }
        if self.rules.open[STDIN]
            && !self.up_full()
            && rev[STDIN] & hup != 0
            && rev[STDIN] & pin == 0
        {
            self.rules.open[STDIN] = false;
        }
        if self.rules.open[NETIN]
            && self.net_room()
            && rev[NETIN] & hup != 0
            && rev[NETIN] & pin == 0
        {
            self.rules.open[NETIN] = false;
        }
        if rev[NETOUT] & hup != 0 {
            if self.rules.open[NETOUT] && self.opts.shutdown_on_eof {
                self.shutdown(libc::SHUT_WR);
            }
            self.rules.open[NETOUT] = false;
        }
        if rev[STDOUT] & hup != 0 {
            self.rules.open[STDOUT] = false;
        }
        self.rules.propagate(&mut self.sock());

        // Read stdin.
        if self.rules.open[STDIN] && rev[STDIN] & pin != 0 && !self.up_full() {
            let src = Io::Stdio(self.stdin);
            let r = match self.opts.datagram {
                Some(max) => {
                    // `-C` may double a datagram: it must still fit one send.
                    let max = if self.crlf.is_some() { max / 2 } else { max };
                    let left = max.saturating_sub(self.up.len());
                    self.up.fill_bounded(src, 1, left)
                }
                None => self.up.fill(src),
            };
            match r {
                Ok(0) => self.rules.open[STDIN] = false,
                Ok(_) => {}
                Err(e) if would_block(&e) => {}
                Err(_) => self.rules.open[STDIN] = false,
            }
        }
        // Write to the network (`-t` replies first).
        self.flush_telnet();
        // (POLLOUT may be there for the `-t` replies while `-i` holds the
        // next line back.)
        if self.rules.open[NETOUT]
            && rev[NETOUT] & pout != 0
            && !self.up.is_empty()
            && self.hold_until.is_none()
        {
            self.write_net(cx);
        }
        // Read the network.
        if self.rules.open[NETIN] && rev[NETIN] & pin != 0 && self.net_room() {
            let src = Io::Sock(self.net_fd);
            let r = match self.opts.datagram {
                Some(_) => self.down.fill_bounded(src, DGRAM_READ, usize::MAX),
                None => self.down.fill(src),
            };
            let counted = !matches!(&r, Err(e) if would_block(e));
            match r {
                Ok(0) => {
                    self.shutdown_read();
                    self.rules.open[NETIN] = false;
                }
                Ok(n) => {
                    self.rules.received += n as u64;
                    if let Some(p) = self.down.pending_bytes() {
                        direction::tap_received(self.log, p, n);
                    }
                    self.batch_after_read(n, cx);
                    if let (Some(t), Some(p)) = (self.telnet.as_mut(), self.down.pending_bytes()) {
                        t.scan(&p[p.len().saturating_sub(n)..]);
                        self.flush_telnet();
                    }
                }
                Err(e) if would_block(&e) => {}
                Err(_) => self.rules.open[NETIN] = false,
            }
            if counted && self.rules.count_read() {
                self.rules.close_netin(&mut self.sock());
                self.rules.open[STDIN] = false;
            }
        }
        // Write stdout.
        if self.rules.open[STDOUT] && rev[STDOUT] & pout != 0 && !self.down.is_empty() {
            // A datagram stdout gets nc's writes of at most 16,384 bytes:
            // one datagram each, none too large to send or to read whole.
            let max = if self.stdout.datagram() {
                DGRAM_SEND_MAX
            } else {
                usize::MAX
            };
            match self.down.drain(Io::Stdio(self.stdout), max) {
                Ok(_) => {}
                Err(e) if would_block(&e) => {}
                Err(_) => self.rules.open[STDOUT] = false,
            }
        }
        // Stdin gone and its buffer empty, the network's input gone and
        // its buffer empty.
        let (up_empty, down_empty) = (self.up.is_empty(), self.down.is_empty());
        self.rules
            .settle(&mut self.sock(), &self.opts, up_empty, down_empty);
    }

    /// Writes pending stdin data to the socket; with `-i`, one line at a
    /// time followed by the delay.
    fn write_net(&mut self, cx: &mut Ctx<'_>) {
        // With -i, only up to the end of the first line (copying path).
        let (len, line) = match (self.opts.interval, self.up.pending_bytes()) {
            (Some(_), Some(p)) => match p.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (p.len(), false),
            },
            _ => (usize::MAX, false),
        };
        let sock = Io::Sock(self.net_fd);
        let result = match self.up.pending_bytes() {
            // A filtered or logged write (copying path): -C, the log.
            Some(p) if self.crlf.is_some() || self.log.is_some() => {
                let r = direction::send(
                    self.crlf.as_mut(),
                    self.log,
                    &p[..len.min(p.len())],
                    usize::MAX,
                    |w| sock.write(w),
                );
                if let Ok(s) = r {
                    self.up.consumed(s.taken);
                }
                r.map(|s| (s.wire, s.taken))
            }
            _ => self.up.drain(sock, len).map(|n| (n, n)),
        };
        match result {
            Ok((wire, n)) => {
                self.rules.sent += wire as u64;
                if line && n == len {
                    let secs = self.opts.interval.unwrap_or(0);
                    let until = Instant::now() + Duration::from_secs(u64::from(secs));
                    self.hold_until = Some(until);
                    cx.timers
                        .reset(&mut self.interval_timer, until, TIMER_INTERVAL);
                }
            }
            Err(e) if would_block(&e) => {}
            Err(_) => self.rules.open[NETOUT] = false,
        }
    }

    /// `-t`: writes the queued replies straight to the socket, as nc does
    /// (even after stdin's EOF). What does not fit now goes at the next pass.
    fn flush_telnet(&mut self) {
        let Some(t) = self.telnet.as_mut() else {
            return;
        };
        if t.pending().is_empty() {
            return;
        }
        match Io::Sock(self.net_fd).write(t.pending()) {
            Ok(n) => t.consumed(n),
            Err(e) if would_block(&e) => {}
            Err(e) => {
                report::telnet_write_failed(report::Errno::of(&e));
                let n = t.pending().len();
                t.consumed(n);
            }
        }
    }

    /// `--progress`: the line as it stands (its timer is re-armed by the
    /// next advance).
    fn draw_progress(&mut self) {
        let Some(p) = self.progress.as_mut() else {
            return;
        };
        p.timer = None;
        let secs = self.rules.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            (self.rules.sent + self.rules.received) as f64 / secs
        } else {
            0.0
        };
        let send_rate = if secs > 0.0 {
            self.rules.sent as f64 / secs
        } else {
            0.0
        };
        let left = p.size.filter(|_| send_rate > 0.0).map(|size| {
            Duration::from_secs_f64(size.saturating_sub(self.rules.sent) as f64 / send_rate)
        });
        report::transfer_status(self.rules.sent, self.rules.received, rate, p.size, left);
    }
}

impl<S: AsRawFd> Mover for Relay<'_, S> {
    fn rules(&mut self) -> &mut Rules {
        &mut self.rules
    }

    fn drained(&self) -> bool {
        self.up.is_empty() && self.down.is_empty()
    }

    /// A snapshot, and nc's rules over it unless it is empty.
    fn pass(&mut self, cx: &mut Ctx<'_>) -> io::Result<bool> {
        let rev = self.snapshot()?;
        if rev.iter().all(|&r| r == 0) {
            // A tail below the batching threshold waits no longer.
            if self.batch.on && self.batch.timer.is_none() {
                let at = Instant::now() + BATCH_WAIT;
                cx.timers.reset(&mut self.batch.timer, at, TIMER_BATCH);
            }
            return Ok(false);
        }
        self.pass_snapshot(rev, cx);
        Ok(true)
    }

    fn fds(&self) -> [RawFd; 3] {
        [self.stdin.poll_fd, self.net_fd, self.stdout.poll_fd]
    }

    fn interest(&self) -> [Option<Interest>; 3] {
        let open = &self.rules.open;
        let stdin_want = open[STDIN] && self.stdin.pollable();
        let net_open =
            self.sock.is_some() && (open[NETIN] || open[NETOUT] || self.telnet_pending());
        let net_want = if net_open {
            Some(if self.wants_net_write() {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            })
        } else {
            None
        };
        let stdout_want = open[STDOUT] && self.stdout.pollable();
        [
            reactor::interest(stdin_want, false),
            net_want,
            reactor::interest(false, stdout_want),
        ]
    }

    fn close(&mut self) {
        self.sock = None;
        self.up.clear();
        self.down.clear();
    }

    fn end(&mut self) {
        if self.progress.is_some() {
            report::status_clear();
        }
    }

    fn turn(&mut self, cx: &mut Ctx<'_>) {
        if let Some(p) = self.progress.as_mut().filter(|p| p.timer.is_none()) {
            p.timer = Some(
                cx.timers
                    .add(Instant::now() + PROGRESS_EVERY, TIMER_PROGRESS),
            );
        }
        if let Some(until) = self.hold_until {
            if Instant::now() >= until {
                self.hold_until = None;
            }
        }
    }

    fn own_timer(&mut self, key: usize) {
        match key {
            TIMER_INTERVAL => self.hold_until = None,
            TIMER_BATCH => {
                self.batch.timer = None;
                self.batch_stop();
            }
            TIMER_PROGRESS => self.draw_progress(),
            _ => {}
        }
    }

    fn cancel_timers(&mut self, cx: &mut Ctx<'_>) {
        for t in [
            self.interval_timer.take(),
            self.batch.timer.take(),
            self.progress.as_mut().and_then(|p| p.timer.take()),
        ]
        .into_iter()
        .flatten()
        {
            cx.timers.cancel(t);
        }
    }
}
