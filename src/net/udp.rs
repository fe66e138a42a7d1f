//! Datagram specifics: sizes, nc's UDP probe, and a datagram listener's
//! wait for its first datagram (docs/compatibility.md §6.4).
//!
//! The probe is nc's `udptest`: two `X` datagrams at once, then one more
//! each second for `-w` seconds (3 without `-w`); a send refused by an
//! ICMP port-unreachable (ECONNREFUSED) fails it. It runs only with `-v`,
//! and (docs/compatibility.md departure 6, as upstream nc from 1.226) only for `-z` or when
//! stdin is a terminal: piped data is never preceded by junk datagrams.
//! The seconds between datagrams are timers in the event loop, so several
//! probes can run at once (see `scan`) and a signal ends the wait at once.
//!
//! Sizes: a datagram is read whole up to 65,535 bytes (docs/compatibility.md
//! departure 11); what stdin gives is sent as one datagram of at most
//! 16,384 bytes, as nc sends it (§6.4): a receiving nc reads at most that
//! much of a datagram and drops the rest, so a larger one would lose data
//! at an nc peer.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::Interest;
use socket2::{SockAddr, Socket};

use crate::net::Proto;
use crate::sys::exit::Abort;
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step, TimerId};

/// The largest datagram ncrab sends: nc's buffer (16,384 bytes), which is
/// also the most a receiving nc reads of one datagram.
pub const DGRAM_SEND_MAX: usize = 16_384;
/// nc's probe length without `-w` (UDP_SCAN_TIMEOUT).
pub const PROBE_SECS: u32 = 3;

/// The largest datagram one send carries, or None for a stream socket.
pub fn datagram_limit(proto: Proto) -> Option<usize> {
    match proto {
        Proto::Udp => Some(DGRAM_SEND_MAX),
        _ => None,
    }
}

/// The probe's length in seconds: `-w` (`timeout`), or 3.
pub fn probe_secs(timeout: Option<u32>) -> u32 {
    timeout.unwrap_or(PROBE_SECS)
}

/// Where a probe stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Every `X` was sent without a refusal: the port counts as open.
    Passed,
    /// A send was refused (or the first one failed): no message, status 1.
    Failed,
    /// Send the next `X` in one second ([`XProbe::tick`]).
    Later,
}

/// nc's `udptest` as a sequence of steps.
#[derive(Debug)]
pub struct XProbe {
    left: u32,
    /// The errno of the send that failed the probe (for `-vv`).
    pub error: Option<i32>,
}

impl XProbe {
    pub const INTERVAL: Duration = Duration::from_secs(1);

    /// Sends the first two `X`s. The first must succeed; the second fails
    /// the probe only when refused, as in nc.
    pub fn start(fd: RawFd, secs: u32) -> (XProbe, Tick) {
        let mut p = XProbe {
            left: secs,
            error: None,
        };
        let first = send_fd(fd, b"X");
        if !sent(&first) {
            p.error = first.err().and_then(|e| e.raw_os_error());
            return (p, Tick::Failed);
        }
        if refused(&send_fd(fd, b"X")) {
            p.error = Some(libc::ECONNREFUSED);
            return (p, Tick::Failed);
        }
        let t = if p.left == 0 {
            Tick::Passed
        } else {
            Tick::Later
        };
        (p, t)
    }

    /// One second later: the next `X`.
    pub fn tick(&mut self, fd: RawFd) -> Tick {
        if refused(&send_fd(fd, b"X")) {
            self.error = Some(libc::ECONNREFUSED);
            return Tick::Failed;
        }
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            Tick::Passed
        } else {
            Tick::Later
        }
    }
}

/// One `send(2)` of a probe datagram.
fn send_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn sent(r: &io::Result<usize>) -> bool {
    matches!(r, Ok(1))
}

fn refused(r: &io::Result<usize>) -> bool {
    matches!(r, Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED))
}

/// Runs one probe on a connected UDP socket; true when it passed.
/// A failed probe carries the errno of the send that failed it.
pub fn probe(rx: &mut Reactor, sock: &Socket, secs: u32) -> Result<Result<(), Option<i32>>, Abort> {
    let fd = sock.as_raw_fd();
    let (probe, tick) = XProbe::start(fd, secs);
    match tick {
        Tick::Passed => return Ok(Ok(())),
        Tick::Failed => return Ok(Err(probe.error)),
        Tick::Later => {}
    }
    let mut m = Probing {
        fd,
        probe,
        timer: None,
        result: None,
    };
    Ok(rx.run(&mut m)?)
}

/// The seconds of one probe, in the loop.
struct Probing {
    fd: RawFd,
    probe: XProbe,
    timer: Option<TimerId>,
    result: Option<Result<(), Option<i32>>>,
}

impl Machine for Probing {
    type Output = Result<(), Option<i32>>;

    fn on_timer(&mut self, _cx: &mut Ctx<'_>, _key: usize) {
        self.timer = None;
        match self.probe.tick(self.fd) {
            Tick::Passed => self.result = Some(Ok(())),
            Tick::Failed => self.result = Some(Err(self.probe.error)),
            Tick::Later => {}
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output> {
        if let Some(r) = self.result {
            return Step::Done(r);
        }
        if self.timer.is_none() {
            self.timer = Some(cx.timers.add(Instant::now() + XProbe::INTERVAL, 0));
        }
        Step::Wait
    }
}

/// Waits, with no time limit, for a datagram on `sock` and returns its
/// sender's address without consuming it (`recvfrom(MSG_PEEK)`).
pub fn first_datagram(rx: &mut Reactor, sock: &Socket) -> Result<io::Result<SockAddr>, Abort> {
    let mut m = Peeking {
        sock,
        reg: Interests::default(),
    };
    Ok(rx.run(&mut m)?)
}

struct Peeking<'a> {
    sock: &'a Socket,
    reg: Interests,
}

impl Machine for Peeking<'_> {
    type Output = io::Result<SockAddr>;

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output> {
        let fd = self.sock.as_raw_fd();
        let mut buf = [MaybeUninit::<u8>::uninit(); 1];
        loop {
            match self.sock.peek_from(&mut buf) {
                Ok((_, addr)) => {
                    self.reg.clear(cx.registry, fd);
                    return Step::Done(Ok(addr));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.reg.clear(cx.registry, fd);
                    return Step::Done(Err(e));
                }
            }
        }
        if let Err(e) = self
            .reg
            .set(cx.registry, fd, reactor::LISTENER, Some(Interest::READABLE))
        {
            return Step::Done(Err(e));
        }
        Step::Wait
    }
}
