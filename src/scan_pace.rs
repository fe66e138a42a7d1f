//! A scan's pacing: how long to wait for a host (`-w auto`), how fast to
//! start connects (`--rate`), how long to pause between the rounds of a
//! readiness wait (`--wait`), and the status line on a terminal.
//!
//! All four are plain state driven by the scanner's clock readings and
//! the loop's timers: no threads, no clock of their own.

use std::time::{Duration, Instant};

use crate::report;

/// `-w auto`: one host's connect timeout, learned from its answers as TCP
/// learns its retransmission timeout (RFC 6298) and as nmap times its
/// probes: the smoothed round-trip time plus four deviations, clamped to
/// [`Rtt::MIN`, `Rtt::MAX`], [`Rtt::INITIAL`] until the first answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rtt {
    /// Smoothed RTT and its mean deviation, in microseconds.
    srtt: Option<f64>,
    rttvar: f64,
}

impl Rtt {
    pub const INITIAL: Duration = Duration::from_secs(1);
    pub const MIN: Duration = Duration::from_millis(100);
    pub const MAX: Duration = Duration::from_secs(3);

    /// One answer (SYN-ACK or RST) that took `d`.
    pub fn sample(&mut self, d: Duration) {
        let r = d.as_secs_f64() * 1e6;
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(s) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (s - r).abs();
                self.srtt = Some(0.875 * s + 0.125 * r);
            }
        }
    }

    /// Whether the host has answered at all.
    pub fn answered(&self) -> bool {
        self.srtt.is_some()
    }

    /// The budget of the host's next connect.
    pub fn timeout(&self) -> Duration {
        let Some(s) = self.srtt else {
            return Self::INITIAL;
        };
        let us = s + 4.0 * self.rttvar;
        Duration::from_micros(us as u64).clamp(Self::MIN, Self::MAX)
    }
}

/// `--rate N`: a token bucket filled at N tokens a second, holding at
/// most a fiftieth of a second's worth (at least one), so starts are
/// spread evenly instead of bursting after a pause.
#[derive(Debug)]
pub struct Bucket {
    per_sec: f64,
    tokens: f64,
    cap: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(per_sec: u32, now: Instant) -> Bucket {
        let per_sec = f64::from(per_sec.max(1));
        Bucket {
            per_sec,
            tokens: 1.0,
            cap: (per_sec / 50.0).max(1.0),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.cap);
        self.last = now;
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token will be there.
    pub fn next_at(&self, now: Instant) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        now + Duration::from_secs_f64(missing / self.per_sec)
    }
}

/// `--wait`: the pause before a port's next round, doubling from 50 ms
/// up to 1 s.
#[derive(Debug, Default)]
pub struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(50);
    pub const MAX: Duration = Duration::from_secs(1);

    pub fn next_delay(&mut self) -> Duration {
        let d = self.next.unwrap_or(Self::FIRST);
        self.next = Some((d * 2).min(Self::MAX));
        d
    }
}

/// A scan's status line on a terminal stderr: shown after a second,
/// redrawn at most ten times a second, erased before any report line
/// (by [`report`]) and at the end.
pub struct StatusLine {
    started: Instant,
    armed: bool,
}

impl StatusLine {
    /// How long a scan runs before the line appears.
    pub const AFTER: Duration = Duration::from_secs(1);
    /// The redraw interval.
    pub const EVERY: Duration = Duration::from_millis(100);

    /// A status line, when stderr is a terminal.
    pub fn on_terminal(now: Instant) -> Option<StatusLine> {
        // SAFETY: isatty on a constant descriptor.
        let tty = unsafe { libc::isatty(libc::STDERR_FILENO) } == 1;
        tty.then_some(StatusLine {
            started: now,
            armed: false,
        })
    }

    /// The first draw's time, the first time it is asked for.
    pub fn arm(&mut self) -> Option<Instant> {
        if self.armed {
            return None;
        }
        self.armed = true;
        Some(self.started + Self::AFTER)
    }

    /// Draws the line: ports decided of all, open so far, rate, time left.
    pub fn draw(&mut self, done: u64, total: u64, open: u64) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let left = (rate > 0.0)
            .then(|| Duration::from_secs_f64((total.saturating_sub(done)) as f64 / rate));
        report::scan_status(done, total, open, rate, left);
    }

    /// Erases the line if it is shown.
    pub fn clear(&mut self) {
        report::status_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_clamps_and_learns() {
        let mut r = Rtt::default();
        assert_eq!(r.timeout(), Rtt::INITIAL);
        assert!(!r.answered());
        r.sample(Duration::from_micros(50));
        assert_eq!(r.timeout(), Rtt::MIN);
        let mut r = Rtt::default();
        for _ in 0..20 {
            r.sample(Duration::from_millis(200));
        }
        // Steady 200 ms: the deviation decays toward 0.
        let t = r.timeout();
        assert!(
            t >= Duration::from_millis(200) && t < Duration::from_millis(300),
            "{t:?}"
        );
        r.sample(Duration::from_secs(10));
        assert_eq!(r.timeout(), Rtt::MAX);
    }

    #[test]
    fn bucket_spreads_starts() {
        let t0 = Instant::now();
        let mut b = Bucket::new(100, t0);
        assert!(b.take(t0));
        assert!(!b.take(t0));
        let next = b.next_at(t0);
        assert!(next > t0 && next <= t0 + Duration::from_millis(10));
        // Over one simulated second, about 100 starts.
        let mut n = 0;
        for ms in 1..=1000 {
            if b.take(t0 + Duration::from_millis(ms)) {
                n += 1;
            }
        }
        assert!((99..=101).contains(&n), "{n}");
    }

    #[test]
    fn backoff_doubles_to_a_second() {
        let mut b = Backoff::default();
        let d: Vec<_> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, [50, 100, 200, 400, 800, 1000, 1000]);
    }
}
