//! nc's end-of-session rules, once for both relays ([`crate::relay::Relay`]
//! and [`crate::relay::tls::TlsRelay`]): the four ends of nc's poll array
//! and which of them are still open ([`Rules::open`]), nc's three
//! "finished" conditions, `-q` (the session over, N seconds of waiting,
//! then [`End::QuitTimer`]), `-w` (an idle clock that every pass moving
//! something restarts), `-W`'s count of network reads, the three
//! registrations with the event loop, the byte counts and `-vv`'s
//! summary, and the [`Outcome`]. These are the product's contract
//! (docs/compatibility.md §6), so they are written once: a relay only says
//! how it moves bytes ([`Mover`]: one pass of its moves, the readiness it
//! waits for, what it closes, its last words before the end, whether the
//! session failed), and its [`Machine`] is the one here.
//!
//! What a pass does to the ends (nc's rules between the moves: an EOF
//! closes an end, a closed end closes the ends that feed it) stays with
//! each relay, interleaved with its moves: the plain relay applies them to
//! a poll snapshot, the TLS relay to what its records say.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use mio::Interest;

use crate::report;
use crate::sys::reactor::{self, Ctx, Interests, Machine, Step, TimerId};

/// The options that shape a relay, of both kinds (here, with the rules
/// both relays share, since [`Rules::new`] reads them).
#[derive(Clone, Copy, Debug, Default)]
pub struct RelayOpts {
    /// `-N`: shutdown(SHUT_WR) after stdin's EOF.
    pub shutdown_on_eof: bool,
    /// `-q`: -1 when not given.
    pub quit_after: i32,
    /// `-w`: the idle timeout.
    pub idle: Option<Duration>,
    /// `-W`: network reads before the end.
    pub recv_limit: Option<u32>,
    /// Listen mode (nc's rule c and #817050).
    pub listen: bool,
    /// UDP (#817050).
    pub udp: bool,
    /// `-d`: never read stdin.
    pub detach_stdin: bool,
    /// `-i`: seconds to wait after each line sent.
    pub interval: Option<u32>,
    /// `-vv`: print a summary at the end.
    pub summary: bool,
    /// Move the bytes through kernel pipes with splice(2) (TCP without
    /// `-C`, `-t` or `-i`; see `buffer`).
    pub zero_copy: bool,
    /// `-C`: LF from stdin goes out as CR LF.
    pub crlf: bool,
    /// `-t`: answer TELNET negotiation.
    pub telnet: bool,
    /// A datagram socket: the largest datagram one send can carry.
    pub datagram: Option<usize>,
    /// `--progress`: a status line on a terminal stderr.
    pub progress: bool,
    /// `--send-only`: the session ends once stdin is sent (what arrives
    /// goes to the null stdout `main` gives such a run).
    pub send_only: bool,
}

/// The four ends of nc's poll array, as indices of [`Rules::open`].
pub const STDIN: usize = 0;
pub const NETOUT: usize = 1;
pub const NETIN: usize = 2;
pub const STDOUT: usize = 3;

/// Passes before the loop looks at signals and timers, when data keeps
/// flowing.
const PASSES_PER_TURN: usize = 64;

const TIMER_IDLE: usize = 1;
const TIMER_QUIT: usize = 2;
/// A relay's own timer keys start here (the ones below are the rules').
pub const FIRST_OWN_TIMER: usize = 3;

/// How a relay ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The session is over; the program goes on (next port, next client).
    Finished,
    /// The `-q` timer fired: nc exits 0 from its alarm handler.
    QuitTimer,
    /// The session failed, its line printed (a TLS error after the
    /// handshake): nc's `errx(1)`, so the run ends with status 1, without
    /// `-q`'s wait, whatever `-k` and the ports left say.
    Failed,
}

/// The result of a relay.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    pub end: End,
    /// `-k` was cleared by stdin's EOF under `-q` (Debian #817050).
    pub clear_keep: bool,
}

enum Phase {
    Running,
    /// `-q N > 0`: the session is over, waiting N seconds before exiting.
    Quitting,
}

/// The state nc's rules keep for one relay.
pub struct Rules {
    /// nc's `pfd[i].fd != -1`, by [`STDIN`], [`NETOUT`], [`NETIN`], [`STDOUT`].
    pub open: [bool; 4],
    /// Set by the listener's rule on stdin's EOF (see [`Outcome`]).
    pub clear_keep: bool,
    /// Bytes sent to the network, for `-vv` and `--progress`.
    pub sent: u64,
    /// Bytes received from the network.
    pub received: u64,
    /// When the relay started.
    pub started: Instant,
    /// The session failed (its line printed): the relay ends in
    /// [`End::Failed`] once the bytes received before the failure are out.
    pub failed: bool,
    phase: Phase,
    recv_count: u32,
    idle_timer: Option<TimerId>,
    quit_timer: Option<TimerId>,
    idle_expired: bool,
    quit_expired: bool,
    /// Standard input, the socket, standard output.
    reg: [Interests; 3],
    quit_after: i32,
    idle: Option<Duration>,
    recv_limit: Option<u32>,
    listen: bool,
    summary: bool,
}

/// How a relay moves its bytes: everything that is its own. The rules
/// drive it; it keeps its [`Rules`] and applies nc's rules on the ends
/// within its passes.
pub trait Mover {
    fn rules(&mut self) -> &mut Rules;

    /// Nothing is buffered, in either direction (nor below the relay's
    /// buffers, waiting for the socket).
    fn drained(&self) -> bool;

    /// nc's rules say the session is over: the relay's last words (TLS:
    /// close_notify, as libtls's `tls_close`) are queued here. True once
    /// they have left, or cannot; false while the loop must wait for the
    /// socket (the relay's passes flush them, its interest says writable,
    /// and `-w` bounds the wait as it bounds nc's `tls_close`).
    fn closing(&mut self) -> bool {
        true
    }

    /// One pass of the moves that can be made now. False when none could
    /// (the relay then waits); an error is the loop's own (`poll`).
    fn pass(&mut self, cx: &mut Ctx<'_>) -> io::Result<bool>;

    /// The fds registered for standard input, the socket and standard
    /// output.
    fn fds(&self) -> [RawFd; 3];

    /// The readiness the state waits for, on each of [`Mover::fds`].
    fn interest(&self) -> [Option<Interest>; 3];

    /// `-q N > 0` at the session's end: the socket is closed and what is
    /// buffered is dropped while the relay waits N seconds.
    fn close(&mut self);

    /// The relay ends (before `-vv`'s summary).
    fn end(&mut self) {}

    /// Each turn of the loop, before anything else.
    fn turn(&mut self, _cx: &mut Ctx<'_>) {}

    /// A timer of the relay's own (keys from [`FIRST_OWN_TIMER`]).
    fn own_timer(&mut self, _key: usize) {}

    /// Cancels the relay's own timers (the relay ends or quits).
    fn cancel_timers(&mut self, _cx: &mut Ctx<'_>) {}
}

/// What nc's rules do to the network's end, in each relay's terms.
pub trait NetEnd {
    /// nc's shutdown(SHUT_RD) when the network's input closes.
    fn shutdown_read(&mut self);

    /// Stdin has ended and all of it is queued for the network; `shut`:
    /// with `-N` or `--send-only`, our end of the write side follows it.
    /// True once nothing queued is left to go (nc's "stdin gone and queue
    /// empty"), false while it waits for the socket; `progress` is set
    /// when it queued something.
    fn end_write(&mut self, shut: bool, progress: &mut bool) -> bool;

    /// `--send-only`'s end of the network's input also shuts the socket's
    /// read side (the TLS relay's session ends there).
    const SEND_ONLY_SHUTS_READ: bool;
}

/// The plain relay's socket.
pub struct Sock {
    pub fd: RawFd,
    /// No shutdown(SHUT_RD) on a datagram socket.
    pub datagram: bool,
}

impl Sock {
    pub fn shutdown(&self, how: i32) {
        // SAFETY: shutdown on the relay's socket fd; errors are ignored as
        // in nc.
        unsafe { libc::shutdown(self.fd, how) };
    }
}

impl NetEnd for Sock {
    fn shutdown_read(&mut self) {
        if !self.datagram {
            self.shutdown(libc::SHUT_RD);
        }
    }

    fn end_write(&mut self, shut: bool, _progress: &mut bool) -> bool {
        if shut {
            self.shutdown(libc::SHUT_WR);
        }
        true
    }

    const SEND_ONLY_SHUTS_READ: bool = false;
}

impl Rules {
    pub fn new(opts: &RelayOpts) -> Rules {
        Rules {
            // `-d`: stdin is never read, as if closed from the start.
            open: [!opts.detach_stdin, true, true, true],
            clear_keep: false,
            sent: 0,
            received: 0,
            started: Instant::now(),
            failed: false,
            phase: Phase::Running,
            recv_count: 0,
            idle_timer: None,
            quit_timer: None,
            idle_expired: false,
            quit_expired: false,
            reg: Default::default(),
            quit_after: opts.quit_after,
            idle: opts.idle,
            recv_limit: opts.recv_limit,
            listen: opts.listen,
            summary: opts.summary,
        }
    }

    /// nc's three "finish" conditions at the top of each pass.
    fn finished(&self, drained: bool) -> bool {
        let [stdin, netout, netin, stdout] = self.open;
        (!stdin && !netin && drained) || (!netout && !stdout) || (self.listen && !netin && drained)
    }

    /// Closes the network's input (nc: shutdown(SHUT_RD) on EOF).
    pub fn close_netin(&mut self, net: &mut impl NetEnd) {
        if self.open[NETIN] {
            net.shutdown_read();
        }
        self.open[NETIN] = false;
    }

    /// A closed end closes the ends that feed it: the network's output,
    /// stdin; stdout, the network's input.
    pub fn propagate(&mut self, net: &mut impl NetEnd) {
        if !self.open[NETOUT] {
            self.open[STDIN] = false;
        }
        if !self.open[STDOUT] {
            self.close_netin(net);
        }
    }

    /// nc's rules after a pass's moves, on what each direction still
    /// buffers (`up`: stdin's toward the network): stdin's end ends the
    /// network's output once all of it is out (`-N`, `--send-only`: our
    /// end of the write side after it; `--send-only`, the input too; the
    /// listener's and UDP's rule c with `-q`, Debian #817050), and the
    /// network's end, once all of it is written, stdout. True when that
    /// did something a pass counts as progress.
    pub fn settle<N: NetEnd>(
        &mut self,
        net: &mut N,
        opts: &RelayOpts,
        up_empty: bool,
        down_empty: bool,
    ) -> bool {
        let mut progress = false;
        if !self.open[STDIN] && up_empty {
            let shut = self.open[NETOUT] && (opts.shutdown_on_eof || opts.send_only);
            if net.end_write(shut, &mut progress) {
                self.open[NETOUT] = false;
                // --send-only: the session is over once stdin is sent.
                if opts.send_only && self.open[NETIN] {
                    if N::SEND_ONLY_SHUTS_READ {
                        self.close_netin(net);
                        progress = true;
                    } else {
                        self.open[NETIN] = false;
                    }
                }
                if (opts.listen || opts.udp)
                    && self.open[NETIN]
                    && opts.quit_after >= 0
                    && down_empty
                {
                    self.close_netin(net);
                    self.clear_keep = true;
                }
            }
        }
        if !self.open[NETIN] && down_empty {
            self.open[STDOUT] = false;
        }
        progress
    }

    /// `-W`: one more network read; true when it was the last one allowed
    /// (the relay then closes the network's input and stdin).
    pub fn count_read(&mut self) -> bool {
        let Some(limit) = self.recv_limit else {
            return false;
        };
        self.recv_count += 1;
        self.recv_count >= limit
    }
}

/// nc's "finish": return, or with `-q N > 0` close the socket and wait
/// (not after a failure: nc's `errx` exits at once).
fn finish<M: Mover>(m: &mut M, cx: &mut Ctx<'_>) -> Step<Outcome> {
    if m.rules().quit_after <= 0 || m.rules().failed {
        return done(m, cx, End::Finished);
    }
    unregister(m, cx);
    m.close(); // as nc closes the socket before alarm()
    let r = m.rules();
    r.open = [false; 4];
    r.phase = Phase::Quitting;
    let q = Duration::from_secs(r.quit_after as u64);
    cx.timers
        .reset(&mut r.quit_timer, Instant::now() + q, TIMER_QUIT);
    if let Some(idle) = r.idle {
        cx.timers
            .reset(&mut r.idle_timer, Instant::now() + idle, TIMER_IDLE);
    }
    Step::Wait
}

fn done<M: Mover>(m: &mut M, cx: &mut Ctx<'_>, end: End) -> Step<Outcome> {
    unregister(m, cx);
    m.end();
    let r = m.rules();
    let end = if r.failed { End::Failed } else { end };
    if r.summary {
        report::relay_summary(r.sent, r.received, r.started.elapsed());
    }
    Step::Done(Outcome {
        end,
        clear_keep: r.clear_keep,
    })
}

/// Keeps each fd's registered interest equal to what the state needs,
/// then `then`; a refusal ends the relay.
fn register<M: Mover>(m: &mut M, cx: &mut Ctx<'_>, then: Step<Outcome>) -> Step<Outcome> {
    let (fds, want) = (m.fds(), m.interest());
    let tokens = [reactor::STDIN, reactor::NET, reactor::STDOUT];
    let r = m.rules();
    for i in 0..3 {
        if let Err(e) = r.reg[i].set(cx.registry, fds[i], tokens[i], want[i]) {
            return failed(m, cx, &e);
        }
    }
    then
}

fn unregister<M: Mover>(m: &mut M, cx: &mut Ctx<'_>) {
    let fds = m.fds();
    let r = m.rules();
    for (reg, fd) in r.reg.iter_mut().zip(fds) {
        reg.clear(cx.registry, fd);
    }
    for t in [r.idle_timer.take(), r.quit_timer.take()]
        .into_iter()
        .flatten()
    {
        cx.timers.cancel(t);
    }
    m.cancel_timers(cx);
}

/// The loop itself failed under the relay: said, and the relay ends.
fn failed<M: Mover>(m: &mut M, cx: &mut Ctx<'_>, e: &io::Error) -> Step<Outcome> {
    report::warn(format_args!("polling error"), report::Errno::of(e));
    done(m, cx, End::Finished)
}

impl<M: Mover> Machine for M {
    type Output = Outcome;

    fn on_timer(&mut self, _cx: &mut Ctx<'_>, key: usize) {
        match key {
            TIMER_IDLE => self.rules().idle_expired = true,
            TIMER_QUIT => self.rules().quit_expired = true,
            _ => self.own_timer(key),
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Outcome> {
        self.turn(cx);
        let r = self.rules();
        // (The quit timer runs only while quitting.)
        if r.quit_expired {
            return done(self, cx, End::QuitTimer);
        }
        if r.idle_expired {
            return done(self, cx, End::Finished);
        }
        if let Phase::Quitting = r.phase {
            return Step::Wait;
        }
        for _ in 0..PASSES_PER_TURN {
            let drained = self.drained();
            if self.rules().finished(drained) && self.closing() {
                return finish(self, cx);
            }
            match self.pass(cx) {
                // Activity: the idle clock starts again.
                Ok(true) => {
                    if let Some(t) = self.rules().idle_timer.take() {
                        cx.timers.cancel(t);
                    }
                }
                // Nothing to do: arm the idle clock and wait.
                Ok(false) => {
                    let r = self.rules();
                    if let Some(idle) = r.idle {
                        if idle.is_zero() {
                            return done(self, cx, End::Finished);
                        }
                        if r.idle_timer.is_none() {
                            cx.timers
                                .reset(&mut r.idle_timer, Instant::now() + idle, TIMER_IDLE);
                        }
                    }
                    return register(self, cx, Step::Wait);
                }
                Err(e) => return failed(self, cx, &e),
            }
        }
        register(self, cx, Step::Again)
    }
}
