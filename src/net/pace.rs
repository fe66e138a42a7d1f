//! A scan's pacing: how long to wait for a host (`-w auto`), how fast to
//! start connects (`--rate`), and how long to pause between the rounds of
//! a readiness wait (`--wait`).
//!
//! All three are plain state driven by the scanner's clock readings and
//! the loop's timers: no threads, no clock of their own, no I/O.

use std::time::{Duration, Instant};

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
