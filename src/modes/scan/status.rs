//! A scan's status line on a terminal stderr: ports decided of all, open
//! so far, the rate and the time left, shown after a second, redrawn at
//! most ten times a second, erased before any report line (by `report`)
//! and at the end. Off with `--no-progress`, and when stderr is not a
//! terminal.

use std::time::{Duration, Instant};

use crate::report;

pub struct StatusLine {
    started: Instant,
    armed: bool,
    /// Ports in all.
    total: u64,
}

impl StatusLine {
    /// How long a scan runs before the line appears.
    pub const AFTER: Duration = Duration::from_secs(1);
    /// The redraw interval.
    pub const EVERY: Duration = Duration::from_millis(100);

    /// A status line for a scan of `total` ports, when stderr is a
    /// terminal.
    pub fn on_terminal(now: Instant, total: u64) -> Option<StatusLine> {
        // SAFETY: isatty on a constant descriptor.
        let tty = unsafe { libc::isatty(libc::STDERR_FILENO) } == 1;
        tty.then_some(StatusLine {
            started: now,
            armed: false,
            total,
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
    pub fn draw(&mut self, (done, open): (u64, u64)) {
        let total = self.total;
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
