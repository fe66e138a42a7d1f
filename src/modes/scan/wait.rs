//! `--wait`: ports retried in rounds until they accept or the deadline
//! passes. A round's failures are held, not reported: a port that accepts
//! in a later round reports only its success, one whose deadline passed
//! reports its last round's failures, as nc would have printed them
//! (docs/compatibility.md §A.3). Each port pauses between its rounds
//! ([`Backoff`]), on the scanner's timers; no I/O here.

use std::collections::HashMap;
use std::time::Instant;

use crate::net::pace::Backoff;
use crate::sys::exit::Status;

/// The state of a `--wait` scan; `V` is a held failure (the slots'
/// verdict).
pub struct Waiting<V> {
    deadline: Instant,
    /// The last failure of each address of a port not yet open.
    held: HashMap<usize, V>,
    /// Each waiting port's next pause, by its first slot.
    backoff: HashMap<usize, Backoff>,
    /// Rounds to arm a timer for: (first slot of the port, when).
    due: Vec<(usize, Instant)>,
    /// Rounds waiting on their timer.
    pending: usize,
    expired: bool,
    /// The deadline's timer is armed.
    armed: bool,
    /// A port was reported that never accepted.
    missed: bool,
}

impl<V> Waiting<V> {
    /// Waiting until `deadline`.
    pub fn new(deadline: Instant) -> Waiting<V> {
        Waiting {
            deadline,
            held: HashMap::new(),
            backoff: HashMap::new(),
            due: Vec::new(),
            pending: 0,
            expired: false,
            armed: false,
            missed: false,
        }
    }

    /// The deadline, the first time it is asked for (to arm its timer).
    pub fn arm_deadline(&mut self) -> Option<Instant> {
        if self.armed {
            return None;
        }
        self.armed = true;
        Some(self.deadline)
    }

    /// The deadline has passed.
    pub fn expired(&self) -> bool {
        self.expired
    }

    /// Holds a failure of this round at `slot`. When it was the port's
    /// last address (`round_over`: the port's first slot), the port's
    /// next round is due after its pause.
    pub fn hold(&mut self, slot: usize, r: V, round_over: Option<usize>, now: Instant) {
        self.held.insert(slot, r);
        if let Some(first) = round_over {
            let delay = self.backoff.entry(first).or_default().next_delay();
            self.pending += 1;
            self.due.push((first, now + delay));
        }
    }

    /// A failure of this round is held at `slot`.
    pub fn holds(&self, slot: usize) -> bool {
        self.held.contains_key(&slot)
    }

    /// The port from slot `first` on accepted at `slot`: the failures of
    /// its earlier addresses are dropped, and it waits no more.
    pub fn accepted(&mut self, first: usize, slot: usize) {
        for s in first..slot {
            self.held.remove(&s);
        }
        self.backoff.remove(&first);
    }

    /// The rounds that just became due: (the port's first slot, when),
    /// each to be started by a timer.
    pub fn take_due(&mut self) -> Vec<(usize, Instant)> {
        std::mem::take(&mut self.due)
    }

    /// A round's timer fired: true when the round is to run (the deadline
    /// has not passed meanwhile).
    pub fn round_due(&mut self) -> bool {
        self.pending = self.pending.saturating_sub(1);
        !self.expired
    }

    /// Rounds are waiting for their pause to end.
    pub fn waiting(&self) -> bool {
        !self.expired && (self.pending > 0 || !self.due.is_empty())
    }

    /// The deadline passed: no more rounds.
    pub fn expire(&mut self) {
        self.expired = true;
    }

    /// The failure held at `slot`, taken out.
    pub fn take_held(&mut self, slot: usize) -> Option<V> {
        self.held.remove(&slot)
    }

    /// Every failure still held, taken out.
    pub fn take_all(&mut self) -> Vec<(usize, V)> {
        self.held.drain().collect()
    }

    /// A port was reported that never accepted.
    pub fn missed(&mut self) {
        self.missed = true;
    }

    /// The scan's status: 0 when every port accepted in time.
    pub fn status(&self) -> Status {
        if self.missed || self.expired { 1 } else { 0 }
    }
}
