//! The one event loop: a single mio `Poll`, named tokens, one timer
//! structure, and a wake-up pipe that signal handlers use to end a wait.
//!
//! Work is done by state machines ([`Machine`]): a connect attempt, a relay,
//! a listener, a scan. Each owns its sockets and buffers and registers the
//! interest its state calls for. [`Reactor::run`] drives one machine to its
//! end: it lets the machine advance, waits for readiness or the next
//! deadline, and hands it the events and expired timers. Machines run one
//! after another on the same `Poll` (connect, then relay, then the next
//! port), so everything ncrab does happens in this one loop, on one thread.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::sys::signals;

/// The wake-up pipe written by signal handlers.
pub const WAKER: Token = Token(0);
/// Standard input, while a relay reads it.
pub const STDIN: Token = Token(1);
/// Standard output, while a relay writes it.
pub const STDOUT: Token = Token(2);
/// The connected socket of a relay, or the socket being connected.
pub const NET: Token = Token(3);
/// A listening socket.
pub const LISTENER: Token = Token(4);
/// Scan probes use `Token(PROBE_BASE + slot)`.
pub const PROBE_BASE: usize = 16;

/// Deadlines: a min-heap of (when, id), with cancellation by id.
#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    live: HashMap<u64, usize>,
    next_id: u64,
}

/// A handle to cancel a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId(u64);

impl Timers {
    /// Arms a timer that reports `key` to the machine at `when`.
    pub fn add(&mut self, when: Instant, key: usize) -> TimerId {
        let id = self.next_id;
        self.next_id += 1;
        self.heap.push(Reverse((when, id)));
        self.live.insert(id, key);
        TimerId(id)
    }

    pub fn cancel(&mut self, id: TimerId) {
        self.live.remove(&id.0);
    }

    /// Cancels `slot`'s timer, if any, and arms a new one.
    pub fn reset(&mut self, slot: &mut Option<TimerId>, when: Instant, key: usize) {
        if let Some(id) = slot.take() {
            self.cancel(id);
        }
        *slot = Some(self.add(when, key));
    }

    /// Time until the earliest live deadline.
    fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        while let Some(Reverse((when, id))) = self.heap.peek().copied() {
            if self.live.contains_key(&id) {
                return Some(when.saturating_duration_since(now));
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns the keys of all timers due at `now`.
    fn expired(&mut self, now: Instant, out: &mut Vec<usize>) {
        while let Some(Reverse((when, id))) = self.heap.peek().copied() {
            if when > now {
                break;
            }
            self.heap.pop();
            if let Some(key) = self.live.remove(&id) {
                out.push(key);
            }
        }
    }
}

/// What a machine sees of the loop: the registry and the timers.
pub struct Ctx<'a> {
    pub registry: &'a Registry,
    pub timers: &'a mut Timers,
}

/// A state machine driven by the loop.
pub trait Machine {
    type Output;

    /// A readiness event on one of the machine's tokens.
    fn on_event(&mut self, _cx: &mut Ctx<'_>, _ev: &Event) {}

    /// A timer the machine armed has expired.
    fn on_timer(&mut self, _cx: &mut Ctx<'_>, _key: usize) {}

    /// Does all the work possible without waiting and registers the
    /// interest the new state calls for. Returns the result when finished.
    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output>;
}

/// The result of [`Machine::advance`].
pub enum Step<T> {
    /// Wait for readiness or a deadline, then advance again.
    Wait,
    /// More work can be done at once (an always-ready file); do not block.
    Again,
    /// Finished.
    Done(T),
}

/// Why a run stopped before the machine finished.
#[derive(Debug)]
pub enum Stop {
    /// A signal (SIGINT, SIGTERM, SIGHUP) arrived.
    Signal(i32),
    /// The poll itself failed.
    Poll(io::Error),
}

pub struct Reactor {
    poll: Poll,
    events: Events,
    timers: Timers,
    batch: Vec<Event>,
    expired: Vec<usize>,
    /// The wake-up pipe: (read end, write end).
    wake: (OwnedFd, OwnedFd),
}

impl Reactor {
    /// Creates the loop and hands its wake-up pipe to the signal handlers.
    pub fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two valid fds on success.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds are fresh and owned by nobody else.
        let wake = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        poll.registry().register(
            &mut SourceFd(&wake.0.as_raw_fd()),
            WAKER,
            Interest::READABLE,
        )?;
        signals::set_wake_fd(wake.1.as_raw_fd());
        Ok(Reactor {
            poll,
            events: Events::with_capacity(1024),
            timers: Timers::default(),
            batch: Vec::new(),
            expired: Vec::new(),
            wake,
        })
    }

    /// Empties the wake-up pipe (the signal itself is in `signals`).
    fn drain_wake(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a valid buffer from our own non-blocking fd.
        while unsafe { libc::read(self.wake.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0
        {
        }
    }

    /// Drives `m` until it finishes or a signal arrives.
    pub fn run<M: Machine>(&mut self, m: &mut M) -> Result<M::Output, Stop> {
        loop {
            let mut cx = Ctx {
                registry: self.poll.registry(),
                timers: &mut self.timers,
            };
            let step = m.advance(&mut cx);
            if let Some(sig) = signals::pending() {
                return Err(Stop::Signal(sig));
            }
            let timeout = match step {
                Step::Done(out) => return Ok(out),
                Step::Again => Some(Duration::ZERO),
                Step::Wait => self.timers.next_timeout(Instant::now()),
            };
            self.wait(timeout)?;
            if self.batch.iter().any(|e| e.token() == WAKER) {
                self.drain_wake();
            }
            if let Some(sig) = signals::pending() {
                return Err(Stop::Signal(sig));
            }
            let mut cx = Ctx {
                registry: self.poll.registry(),
                timers: &mut self.timers,
            };
            for ev in self.batch.drain(..) {
                if ev.token() != WAKER {
                    m.on_event(&mut cx, &ev);
                }
            }
            cx.timers.expired(Instant::now(), &mut self.expired);
            for key in self.expired.drain(..) {
                m.on_timer(&mut cx, key);
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), Stop> {
        // Round up so a deadline is never reported a hair early, which
        // would cost an extra wake-up.
        let timeout = timeout.map(|t| {
            if t.is_zero() || t.subsec_nanos() % 1_000_000 == 0 {
                t
            } else {
                t + Duration::from_millis(1)
            }
        });
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Stop::Poll(e)),
        }
        self.batch.extend(self.events.iter().cloned());
        Ok(())
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        // The handler must not write to a closed (or reused) descriptor.
        signals::set_wake_fd(-1);
    }
}

/// Keeps a source's registered interest equal to what its state needs,
/// re-registering only on change.
#[derive(Default, Debug)]
pub struct Interests {
    current: Option<Interest>,
}

impl Interests {
    /// Registers, re-registers or deregisters `fd` so its interest is `want`.
    pub fn set(
        &mut self,
        registry: &Registry,
        fd: i32,
        token: Token,
        want: Option<Interest>,
    ) -> io::Result<()> {
        let mut src = mio::unix::SourceFd(&fd);
        match (self.current, want) {
            (None, None) => return Ok(()),
            (Some(a), Some(b)) if a == b => return Ok(()),
            (None, Some(b)) => registry.register(&mut src, token, b)?,
            (Some(_), Some(b)) => registry.reregister(&mut src, token, b)?,
            (Some(_), None) => {
                let _ = registry.deregister(&mut src);
            }
        }
        self.current = want;
        Ok(())
    }

    /// Forgets the registration (the fd is closed or handed elsewhere).
    pub fn clear(&mut self, registry: &Registry, fd: i32) {
        if self.current.take().is_some() {
            let _ = registry.deregister(&mut mio::unix::SourceFd(&fd));
        }
    }
}

/// What one step of a [`run_on`] machine says.
pub enum Turn<T> {
    Done(T),
    /// Wait for this readiness of its socket, then step again.
    Wait(Interest),
}

/// One socket's work as a machine: `step` (told whether the deadline has
/// passed) does all it can and says what to wait for; the socket is
/// registered (token [`NET`]) for that, `reg_failed` turns a failed
/// registration into the end.
struct OnSocket<F, G> {
    fd: i32,
    step: F,
    reg_failed: G,
    deadline: Option<Duration>,
    timer: Option<TimerId>,
    timed_out: bool,
    reg: Interests,
}

const TIMER_DEADLINE: usize = 1;

impl<T, F: FnMut(bool) -> Turn<T>, G: FnMut(io::Error) -> T> Machine for OnSocket<F, G> {
    type Output = T;

    fn on_timer(&mut self, _cx: &mut Ctx<'_>, key: usize) {
        if key == TIMER_DEADLINE {
            self.timed_out = true;
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<T> {
        let result = match (self.step)(self.timed_out) {
            Turn::Done(r) => Some(r),
            Turn::Wait(want) => self
                .reg
                .set(cx.registry, self.fd, NET, Some(want))
                .err()
                .map(&mut self.reg_failed),
        };
        if let Some(r) = result {
            self.reg.clear(cx.registry, self.fd);
            if let Some(t) = self.timer.take() {
                cx.timers.cancel(t);
            }
            return Step::Done(r);
        }
        if let (Some(d), None) = (self.deadline, self.timer) {
            self.timer = Some(cx.timers.add(Instant::now() + d, TIMER_DEADLINE));
        }
        Step::Wait
    }
}

/// Runs `step` on the socket `fd` in the loop until it is done, for at
/// most `deadline` (after which `step` is told so and ends it).
pub fn run_on<T>(
    rx: &mut Reactor,
    fd: i32,
    deadline: Option<Duration>,
    step: impl FnMut(bool) -> Turn<T>,
    reg_failed: impl FnMut(io::Error) -> T,
) -> Result<T, Stop> {
    rx.run(&mut OnSocket {
        fd,
        step,
        reg_failed,
        deadline,
        timer: None,
        timed_out: false,
        reg: Interests::default(),
    })
}

/// Combines optional readable/writable wishes into a mio interest.
pub fn interest(read: bool, write: bool) -> Option<Interest> {
    match (read, write) {
        (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
        (true, false) => Some(Interest::READABLE),
        (false, true) => Some(Interest::WRITABLE),
        (false, false) => None,
    }
}

pub fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Waits `d` in the loop (signals still end the wait).
pub fn pause(rx: &mut Reactor, d: Duration) -> Result<(), Stop> {
    struct Pause {
        until: Instant,
        armed: bool,
    }
    impl Machine for Pause {
        type Output = ();
        fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<()> {
            if Instant::now() >= self.until {
                return Step::Done(());
            }
            if !self.armed {
                cx.timers.add(self.until, 0);
                self.armed = true;
            }
            Step::Wait
        }
    }
    rx.run(&mut Pause {
        until: Instant::now() + d,
        armed: false,
    })?;
    Ok(())
}
