//! The order of a scan: its attempts as numbered slots, which of them may
//! start, which result is reported next and what is held meanwhile. No
//! I/O: the scanner ([`super`]) starts the probes and prints; this says
//! in which order.
//!
//! A sequential nc tries each port of the list in turn and, for each
//! port, each address of the host until one connects
//! (docs/compatibility.md §3.2, §5). The slots lay the same attempts out
//! port-major, address-minor: each destination is a [`Unit`] of slots
//! (its ports at its addresses) from its `first` slot on, pulled from the
//! scanner's source when the start cursor reaches it and dropped once
//! reported. A port's next address may start only once the previous one
//! has failed, as in nc, so ports, not addresses, run concurrently.
//! Results are held by slot and reported in slot order as soon as every
//! earlier slot is known; a port's later addresses are skipped once one
//! connects.
//!
//! What is held is bounded, whatever the scan: results at most
//! [`LOOKAHEAD`] slots past the report, destinations at most
//! [`MAX_UNITS`].

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use socket2::SockAddr;

use super::wait::Waiting;
use crate::net::SetupError;
use crate::net::pace::Rtt;
use crate::net::resolve::AddrInfo;
use crate::report::{Errno, GaiError};

/// How far past the first unreported attempt the scan may start others:
/// the bound on the results it holds. Two full port ranges, so a scan of
/// one or two addresses never waits on it; a name with thousands of
/// addresses (a hostile DNS answer) costs megabytes, not gigabytes.
pub const LOOKAHEAD: usize = 2 << 16;
/// The most destinations held at once (looked up, not yet reported).
pub const MAX_UNITS: usize = 8192;

/// What one attempt found.
#[derive(Clone, Copy, Debug)]
pub enum Found {
    Open,
    Failed(Errno),
    TimedOut,
    /// A fatal setup error (bind, socket option): the scan ends there.
    Setup(SetupError),
    /// socket() failed: nc skips the address silently.
    Skipped,
    /// UDP: connected, but the probe was refused (status 1, no line).
    ProbeFailed,
    /// A destination of a list whose lookup failed: nc's line, and the
    /// scan goes on with the next destination.
    NoHost(GaiError),
    /// `--wait`: an earlier address of a port that has now accepted; its
    /// failures are not reported.
    Superseded,
    /// `-zc`: the TCP connection was taken, TLS failed (the reason is in
    /// the report's TLS outcomes).
    TlsFailed,
}

impl Found {
    /// The port is decided by this attempt: no later address is tried.
    pub fn connected(self) -> bool {
        matches!(self, Found::Open | Found::ProbeFailed | Found::TlsFailed)
    }
}

/// A slot's result: what it found, and how long it took.
#[derive(Clone, Copy, Debug)]
pub struct Verdict {
    pub found: Found,
    pub elapsed: Duration,
}

impl Verdict {
    /// A result that took no time (nothing was sent).
    pub fn at_once(found: Found) -> Verdict {
        Verdict {
            found,
            elapsed: Duration::ZERO,
        }
    }
}

/// One destination's share of the slots: its ports at its addresses,
/// port-major, address-minor, from slot `first` on.
pub struct Unit {
    pub first: usize,
    pub nslots: usize,
    /// As typed (a name), or the numeric text of a block's address.
    pub host: OsString,
    pub addrs: Vec<AddrInfo>,
    /// The numeric form of each address, for the report.
    pub ips: Vec<String>,
    /// A list's destination whose lookup failed (one slot, no probe).
    pub lookup: Option<(GaiError, u16)>,
    /// `-w auto`: what the host's answers taught.
    pub rtt: Rtt,
}

impl Unit {
    pub fn end(&self) -> usize {
        self.first + self.nslots
    }

    /// The same destination, as if not scanned yet (`-i`'s one scan per
    /// port).
    pub fn fresh(&self) -> Unit {
        Unit {
            first: 0,
            nslots: 0,
            host: self.host.clone(),
            addrs: self.addrs.clone(),
            ips: self.ips.clone(),
            lookup: self.lookup,
            rtt: Rtt::default(),
        }
    }
}

/// The slots of a scan over `ports`.
pub struct Slots<'a> {
    ports: &'a [u16],
    /// Every destination whose slots are not all reported yet.
    units: VecDeque<Unit>,
    /// The slot after the last unit's.
    units_end: usize,
    /// The source has no more destinations (or `--wait` is over).
    exhausted: bool,
    /// The results of slots `base..`: the last one reported and those
    /// after it, at most [`LOOKAHEAD`] of them.
    results: VecDeque<Option<Verdict>>,
    base: usize,
    /// The next slot in order that has not been considered for starting.
    next_start: usize,
    /// Slots behind `next_start` that may start now, first in first: a
    /// port's next address once the previous one failed, slots put back
    /// by back-pressure, `--wait`'s rounds and `-w auto`'s second tries.
    ready: VecDeque<usize>,
    /// The next slot to report.
    next_emit: usize,
    /// `-w auto`: slots whose first try timed out on a host that answers
    /// (a lost SYN): they get one more.
    retried: HashSet<usize>,
    /// The first slot that failed fatally: no slot after it is started.
    fatal_slot: Option<usize>,
    /// The fatal error has been reported: nothing more is.
    fatal: bool,
    wait: Option<Waiting<Verdict>>,
    /// Ports decided, and ports open (for the status line).
    decided: u64,
    open: u64,
}

impl<'a> Slots<'a> {
    pub fn new(ports: &'a [u16], wait: Option<Waiting<Verdict>>) -> Slots<'a> {
        Slots {
            ports,
            units: VecDeque::new(),
            units_end: 0,
            exhausted: false,
            results: VecDeque::new(),
            base: 0,
            next_start: 0,
            ready: VecDeque::new(),
            next_emit: 0,
            retried: HashSet::new(),
            fatal_slot: None,
            fatal: false,
            wait,
            decided: 0,
            open: 0,
        }
    }

    /// The unit holding `slot`, if it is still held.
    pub fn unit(&self, slot: usize) -> Option<&Unit> {
        let i = self.units.partition_point(|u| u.end() <= slot);
        self.units.get(i).filter(|u| u.first <= slot)
    }

    pub fn unit_mut(&mut self, slot: usize) -> Option<&mut Unit> {
        let i = self.units.partition_point(|u| u.end() <= slot);
        self.units.get_mut(i).filter(|u| u.first <= slot)
    }

    /// `slot`'s unit, port index and address index.
    pub fn split(&self, slot: usize) -> Option<(&Unit, usize, usize)> {
        let u = self.unit(slot)?;
        let n = u.addrs.len().max(1);
        let local = slot - u.first;
        Some((u, local / n, local % n))
    }

    /// The port of port index `p`.
    pub fn port(&self, p: usize) -> u16 {
        self.ports[p]
    }

    /// The address (without port) of `slot`'s attempt.
    pub fn ip_of(&self, slot: usize) -> Option<IpAddr> {
        let (u, _, a) = self.split(slot)?;
        u.addrs.get(a)?.addr.as_socket().map(|s| s.ip())
    }

    /// The address of `slot`'s attempt: its host address with its port.
    pub fn addr_for(&self, slot: usize) -> Option<SockAddr> {
        let (u, p, a) = self.split(slot)?;
        let ai = u.addrs.get(a)?;
        Some(match ai.addr.as_socket() {
            Some(mut sa) => {
                sa.set_port(self.ports[p]);
                SockAddr::from(sa)
            }
            None => ai.addr.clone(),
        })
    }

    /// The result of `slot`, if known and still held.
    pub fn result(&self, slot: usize) -> Option<Verdict> {
        let i = slot.checked_sub(self.base)?;
        self.results.get(i).copied().flatten()
    }

    /// Sets the result of `slot` (within the lookahead).
    fn set_result(&mut self, slot: usize, r: Verdict) {
        let Some(i) = slot.checked_sub(self.base) else {
            return; // already passed by the report (cannot happen)
        };
        if self.results.len() <= i {
            self.results.resize(i + 1, None);
        }
        self.results[i] = Some(r);
    }

    /// Slots below this may start: [`LOOKAHEAD`] past the report.
    fn start_limit(&self) -> usize {
        self.next_emit.saturating_add(LOOKAHEAD)
    }

    /// Whether the previous address of `slot`'s port has failed (its
    /// result, or under `--wait` its latest failure in this round).
    fn prev_failed(&self, slot: usize) -> Option<bool> {
        if let Some(r) = self.result(slot - 1) {
            return Some(!r.found.connected());
        }
        let w = self.wait.as_ref()?;
        w.holds(slot - 1).then_some(true)
    }

    /// Whether `slot` may start, judged by the port's previous address:
    /// `Some(true)` start, `Some(false)` never (it connected, so nc would
    /// not try this address), `None` not yet (its result is unknown).
    pub fn may_start(&self, slot: usize) -> Option<bool> {
        if self.fatal_slot.is_some_and(|f| slot > f) {
            return Some(false);
        }
        if self.wait.as_ref().is_some_and(Waiting::expired) {
            return Some(false);
        }
        // The report only ever passes a slot with no result when an
        // earlier address of its port connected: never start it.
        if slot < self.next_emit || self.result(slot).is_some() {
            return Some(false);
        }
        let (u, _, a) = self.split(slot)?;
        if u.lookup.is_some() {
            return Some(false);
        }
        if a == 0 {
            return Some(true);
        }
        self.prev_failed(slot)
    }

    /// A port is decided (open, or its last address failed for good).
    fn count_port(&mut self, open: bool) {
        self.decided += 1;
        if open {
            self.open += 1;
        }
    }

    /// Ports decided, and open, so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.decided, self.open)
    }

    /// Records `slot`'s result, and makes the port's next address
    /// startable. `now` times `--wait`'s next round.
    pub fn finish(&mut self, slot: usize, r: Verdict, now: Instant) {
        let found = r.found;
        if let Found::Setup(_) = found {
            // Nothing after a fatal error is ever reported: start no more.
            self.fatal_slot = Some(self.fatal_slot.map_or(slot, |f| f.min(slot)));
        }
        self.retried.remove(&slot);
        let Some((u, _, a)) = self.split(slot) else {
            return;
        };
        let naddrs = u.addrs.len();
        let port_first = slot - a;
        let failed = matches!(found, Found::Failed(_) | Found::TimedOut);
        if let Some(w) = self.wait.as_mut().filter(|w| !w.expired()) {
            if failed {
                // Not reported yet: the next address, or the next round.
                w.hold(slot, r, (a + 1 == naddrs).then_some(port_first), now);
                self.queue_next(slot, found);
                return;
            }
            // Accepted: the failures of this round's earlier addresses
            // are not reported.
            w.accepted(port_first, slot);
            for s in port_first..slot {
                self.set_result(s, Verdict::at_once(Found::Superseded));
            }
        }
        self.set_result(slot, r);
        if found.connected() {
            self.count_port(matches!(found, Found::Open));
        } else if a + 1 == naddrs && !matches!(found, Found::Setup(_)) {
            self.count_port(false);
        }
        self.queue_next(slot, found);
    }

    /// The cursor has passed the next address, which waited for this
    /// result: queue it (the cursor decides for itself otherwise).
    fn queue_next(&mut self, slot: usize, found: Found) {
        let Some((u, _, a)) = self.split(slot) else {
            return;
        };
        let next = slot + 1;
        if a + 1 < u.addrs.len() && next < self.next_start && !found.connected() {
            self.ready.push_back(next);
        }
    }

    /// Appends the next destination, from `pull`. False when there is
    /// none, or too many are held already.
    fn pull_unit(&mut self, pull: &mut impl FnMut() -> Option<Unit>) -> bool {
        if self.exhausted || self.units.len() >= MAX_UNITS {
            return false;
        }
        let Some(mut unit) = pull() else {
            self.exhausted = true;
            return false;
        };
        unit.first = self.units_end;
        unit.nslots = if unit.lookup.is_some() {
            1
        } else {
            self.ports.len() * unit.addrs.len()
        };
        let first = unit.first;
        let failed = unit.lookup;
        self.units_end = unit.end();
        self.units.push_back(unit);
        if let Some((e, _)) = failed {
            self.set_result(first, Verdict::at_once(Found::NoHost(e)));
            self.decided += self.ports.len() as u64;
        }
        true
    }

    /// The next slot to start, if any may start now; `pull` gives the
    /// next destination when the cursor passes the last one held.
    pub fn next_slot(&mut self, mut pull: impl FnMut() -> Option<Unit>) -> Option<usize> {
        if let Some(slot) = self.ready.pop_front() {
            return Some(slot);
        }
        while self.next_start < self.start_limit() {
            if self.next_start >= self.units_end {
                if !self.pull_unit(&mut pull) {
                    return None;
                }
                continue;
            }
            let slot = self.next_start;
            self.next_start += 1;
            // Otherwise not yet (`finish` queues it when its turn comes)
            // or never (an earlier address connected, or a fatal error
            // came before it).
            if self.may_start(slot) == Some(true) {
                return Some(slot);
            }
        }
        None
    }

    /// A slot that could not start now goes first when one can.
    pub fn put_back(&mut self, slot: usize) {
        self.ready.push_front(slot);
    }

    /// Slots are ready to start (behind the cursor).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Whether the cursor could move on (more slots, or more units).
    pub fn cursor_can_move(&self) -> bool {
        self.next_start < self.start_limit()
            && (self.next_start < self.units_end
                || (!self.exhausted && self.units.len() < MAX_UNITS))
    }

    /// `-w auto`: `slot` timed out on a host that has answered before,
    /// so its SYN or the answer was probably lost: true (and the slot
    /// queued to start again) the first time.
    pub fn retry_lost(&mut self, slot: usize) -> bool {
        let answered = self.unit(slot).is_some_and(|u| u.rtt.answered());
        if !answered || self.retried.contains(&slot) {
            return false;
        }
        self.retried.insert(slot);
        self.ready.push_front(slot);
        true
    }

    /// The next result to report, in slot order: none until every earlier
    /// slot is known. The report moves past a port's later addresses once
    /// one connected, and stops at a fatal error.
    pub fn next_report(&mut self) -> Option<(usize, Verdict)> {
        if self.fatal || self.next_emit >= self.units_end {
            return None;
        }
        let slot = self.next_emit;
        let r = self.result(slot)?;
        self.next_emit += 1;
        match r.found {
            // TLS failed on a port that took the connection: its other
            // addresses are not tried either.
            Found::Open | Found::ProbeFailed | Found::TlsFailed => {
                if let Some((u, p, _)) = self.split(slot) {
                    self.next_emit = u.first + (p + 1) * u.addrs.len();
                }
            }
            Found::Setup(_) => self.fatal = true,
            Found::Superseded => {}
            _ => {
                let last = self
                    .split(slot)
                    .is_some_and(|(u, _, a)| a + 1 >= u.addrs.len());
                if let Some(w) = self.wait.as_mut().filter(|_| last) {
                    w.missed();
                }
            }
        }
        Some((slot, r))
    }

    /// The report has reached `next_emit`: forget all but the last
    /// result before it (the next address of its port looks at it), and
    /// the destinations wholly reported.
    pub fn forget_reported(&mut self) {
        while self.base + 1 < self.next_emit && !self.results.is_empty() {
            self.results.pop_front();
            self.base += 1;
        }
        if self.results.is_empty() {
            self.base = self.base.max(self.next_emit.saturating_sub(1));
        }
        while self
            .units
            .front()
            .is_some_and(|u| u.end() <= self.next_emit)
        {
            self.units.pop_front();
        }
    }

    /// A fatal error was reported.
    pub fn fatal(&self) -> bool {
        self.fatal
    }

    /// Everything there is to report has been.
    pub fn finished(&self) -> bool {
        self.fatal || (self.exhausted && self.next_emit >= self.units_end)
    }

    /// `--wait`, if asked for.
    pub fn wait(&self) -> Option<&Waiting<Verdict>> {
        self.wait.as_ref()
    }

    pub fn wait_mut(&mut self) -> Option<&mut Waiting<Verdict>> {
        self.wait.as_mut()
    }

    /// `--wait`: the port from slot `first` on starts its next round
    /// (its pause is over), unless the deadline passed meanwhile.
    pub fn next_round(&mut self, first: usize) {
        if let Some(w) = self.wait.as_mut() {
            if w.round_due() {
                self.ready.push_back(first);
            }
        }
    }

    /// `--wait`: the deadline passed. Every port not yet open is decided
    /// by its last failure (or not at all, if never tried); `in_flight`
    /// are the slots whose probes were just stopped, and how long they
    /// had run.
    pub fn wait_over(&mut self, in_flight: &[(usize, Duration)]) {
        let Some(w) = self.wait.as_mut() else {
            return;
        };
        w.expire();
        for &(slot, elapsed) in in_flight {
            let held = self.wait.as_mut().and_then(|w| w.take_held(slot));
            let r = held.unwrap_or(Verdict {
                found: Found::TimedOut,
                elapsed,
            });
            self.set_result(slot, r);
        }
        let held = self
            .wait
            .as_mut()
            .map(Waiting::take_all)
            .unwrap_or_default();
        for (slot, r) in held {
            if self.result(slot).is_none() && slot >= self.next_emit {
                self.set_result(slot, r);
            }
        }
        for slot in self.next_emit..self.units_end.min(self.start_limit()) {
            if self.result(slot).is_none() {
                self.set_result(slot, Verdict::at_once(Found::Skipped));
            }
        }
        self.exhausted = true;
        self.ready.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testing::Rng;
    use std::collections::HashMap;
    use std::net::SocketAddr;

    const REFUSED: Found = Found::Failed(Errno(libc::ECONNREFUSED));

    /// Results compared by their form (`SetupError` has no equality).
    fn same<T: std::fmt::Debug>(x: &[T]) -> String {
        format!("{x:?}")
    }

    /// A destination with `n` addresses (127.0.0.1..).
    fn unit(n: usize) -> Unit {
        let addrs: Vec<AddrInfo> = (0..n)
            .map(|i| {
                let ip = IpAddr::from([127, 0, 0, 1 + i as u8]);
                AddrInfo {
                    family: libc::AF_INET,
                    socktype: libc::SOCK_STREAM,
                    protocol: libc::IPPROTO_TCP,
                    addr: SockAddr::from(SocketAddr::new(ip, 0)),
                }
            })
            .collect();
        Unit {
            first: 0,
            nslots: 0,
            host: OsString::from("h"),
            ips: addrs
                .iter()
                .map(|a| {
                    a.addr
                        .as_socket()
                        .map(|s| s.ip().to_string())
                        .unwrap_or_default()
                })
                .collect(),
            addrs,
            lookup: None,
            rtt: Rtt::default(),
        }
    }

    /// A destination whose lookup failed.
    fn no_host() -> Unit {
        let mut u = unit(0);
        u.lookup = Some((
            GaiError {
                code: libc::EAI_NONAME,
                errno: 0,
            },
            1,
        ));
        u
    }

    /// A source of the units of `units`, in order.
    fn source(units: Vec<Unit>) -> impl FnMut() -> Option<Unit> {
        let mut units = VecDeque::from(units);
        move || units.pop_front()
    }

    /// What [`run`] saw: the slots reported (with their port and address
    /// indices) in order, and the slots started.
    struct Run {
        reported: Vec<(usize, usize, usize, Found)>,
        started: Vec<usize>,
    }

    /// A scan run as the scanner runs it, with at most `window` probes in
    /// flight; each pass ends one probe in flight, picked by `rng` (or the
    /// oldest), with what `answer` says of its (port, address). Checks
    /// that no attempt starts that nc would not make.
    fn run(
        slots: &mut Slots<'_>,
        mut pull: impl FnMut() -> Option<Unit>,
        window: usize,
        mut rng: Option<Rng>,
        answer: impl Fn(usize, usize) -> Found,
    ) -> Run {
        let mut in_flight: Vec<usize> = Vec::new();
        let mut out = Run {
            reported: Vec::new(),
            started: Vec::new(),
        };
        let now = Instant::now();
        for _ in 0..1_000_000 {
            while in_flight.len() < window {
                let Some(slot) = slots.next_slot(&mut pull) else {
                    break;
                };
                let (_, _, a) = slots.split(slot).unwrap();
                if a > 0 {
                    // nc tries an address only once the previous one failed.
                    let prev = slots.result(slot - 1).map(|r| r.found);
                    assert!(
                        prev.is_some_and(|f| !f.connected()),
                        "slot {slot} started after {prev:?}"
                    );
                }
                in_flight.push(slot);
                out.started.push(slot);
            }
            if in_flight.is_empty() {
                break;
            }
            let i = rng.as_mut().map_or(0, |r| r.below(in_flight.len()));
            let slot = in_flight.remove(i);
            let (_, p, a) = slots.split(slot).unwrap();
            let found = answer(p, a);
            slots.finish(slot, Verdict::at_once(found), now);
            while let Some((slot, r)) = slots.next_report() {
                let (_, p, a) = slots.split(slot).unwrap();
                out.reported.push((slot, p, a, r.found));
            }
            slots.forget_reported();
        }
        assert!(slots.finished(), "the scan did not end");
        out
    }

    /// nc's lines for 4 ports at 3 addresses: port 0 refused on the first
    /// address and open on the second, port 1 refused everywhere, port 2
    /// open at once, port 3 timed out, refused, then open.
    fn answer(p: usize, a: usize) -> Found {
        match (p, a) {
            (0, 0) | (1, _) | (3, 1) => REFUSED,
            (3, 0) => Found::TimedOut,
            _ => Found::Open,
        }
    }

    const NC_ORDER: &[(usize, usize, Found)] = &[
        (0, 0, REFUSED),
        (0, 1, Found::Open),
        (1, 0, REFUSED),
        (1, 1, REFUSED),
        (1, 2, REFUSED),
        (2, 0, Found::Open),
        (3, 0, Found::TimedOut),
        (3, 1, REFUSED),
        (3, 2, Found::Open),
    ];

    #[test]
    fn reports_in_ncs_order_across_ports_and_addresses() {
        let ports = [10, 11, 12, 13];
        for window in [1, 2, 3, 16] {
            for seed in 0..20 {
                let mut slots = Slots::new(&ports, None);
                let r = run(
                    &mut slots,
                    source(vec![unit(3)]),
                    window,
                    Some(Rng::new(seed)),
                    answer,
                );
                let got: Vec<(usize, usize, Found)> =
                    r.reported.iter().map(|&(_, p, a, f)| (p, a, f)).collect();
                assert_eq!(same(&got), same(NC_ORDER), "window {window}, seed {seed}");
                // Exactly nc's attempts: the reported ones.
                let mut started = r.started.clone();
                started.sort_unstable();
                let reported: Vec<usize> = r.reported.iter().map(|x| x.0).collect();
                assert_eq!(started, reported);
                assert_eq!(slots.counts(), (4, 3));
            }
        }
    }

    #[test]
    fn a_list_reports_each_destination_in_turn() {
        // Three destinations (one whose lookup failed), two ports each.
        let ports = [1, 2];
        let mut slots = Slots::new(&ports, None);
        let units = vec![unit(1), no_host(), unit(2)];
        let r = run(&mut slots, source(units), 8, Some(Rng::new(7)), |p, a| {
            if p == 0 && a == 0 {
                REFUSED
            } else {
                Found::Open
            }
        });
        let e = GaiError {
            code: libc::EAI_NONAME,
            errno: 0,
        };
        assert_eq!(
            same(&r.reported),
            same(&[
                (0, 0, 0, REFUSED),
                (1, 1, 0, Found::Open),
                (2, 0, 0, Found::NoHost(e)),
                (3, 0, 0, REFUSED),
                (4, 0, 1, Found::Open),
                (5, 1, 0, Found::Open),
            ])
        );
        // The failed lookup counts for its two ports.
        assert_eq!(slots.counts(), (6, 3));
    }

    #[test]
    fn the_window_runs_ports_side_by_side_and_holds_later_results() {
        let ports = [1, 2, 3, 4];
        let mut slots = Slots::new(&ports, None);
        let mut pull = source(vec![unit(2)]);
        // Each port's first address may start; the second ones wait.
        let first: Vec<usize> = (0..4).map_while(|_| slots.next_slot(&mut pull)).collect();
        assert_eq!(first, [0, 2, 4, 6]);
        assert_eq!(slots.next_slot(&mut pull), None);
        let now = Instant::now();
        // Later ports answer first: nothing is reported before port 0.
        slots.finish(6, Verdict::at_once(Found::Open), now);
        slots.finish(4, Verdict::at_once(REFUSED), now);
        assert!(slots.next_report().is_none());
        // Port 2's second address may start now.
        assert_eq!(slots.next_slot(&mut pull), Some(5));
        slots.finish(0, Verdict::at_once(Found::Open), now);
        let reported: Vec<usize> = std::iter::from_fn(|| slots.next_report())
            .map(|(s, _)| s)
            .collect();
        // Port 0 connected: its second address (slot 1) is never tried;
        // port 1 (slot 2) is not known yet.
        assert_eq!(reported, [0]);
        assert_eq!(slots.may_start(1), Some(false));
    }

    #[test]
    fn lookahead_bounds_the_results_held() {
        // 65535 ports at 3 addresses: more slots than the lookahead.
        let ports: Vec<u16> = (1..=65535).collect();
        let mut slots = Slots::new(&ports, None);
        let mut pull = source(vec![unit(3)]);
        let mut started = Vec::new();
        while let Some(s) = slots.next_slot(&mut pull) {
            started.push(s);
        }
        // Only first addresses, and none past the lookahead.
        assert_eq!(started.len(), LOOKAHEAD.div_ceil(3));
        assert!(started.iter().all(|s| s % 3 == 0 && *s < LOOKAHEAD));
        // Reporting the first port moves the limit by its three slots.
        let now = Instant::now();
        slots.finish(0, Verdict::at_once(Found::Open), now);
        assert_eq!(slots.next_report().map(|r| r.0), Some(0));
        slots.forget_reported();
        let more: Vec<usize> = std::iter::from_fn(|| slots.next_slot(&mut pull)).collect();
        assert_eq!(more, [LOOKAHEAD + 1]);
    }

    #[test]
    fn max_units_bounds_the_destinations_held() {
        let ports = [1];
        let mut slots = Slots::new(&ports, None);
        let mut pulled = 0;
        let mut pull = || {
            pulled += 1;
            Some(unit(1))
        };
        let started: Vec<usize> = std::iter::from_fn(|| slots.next_slot(&mut pull)).collect();
        assert_eq!(started.len(), MAX_UNITS);
        assert!(!slots.cursor_can_move());
        // The first destination reported makes room for one more.
        slots.finish(0, Verdict::at_once(REFUSED), Instant::now());
        assert!(slots.next_report().is_some());
        slots.forget_reported();
        assert!(slots.cursor_can_move());
        let more: Vec<usize> = std::iter::from_fn(|| slots.next_slot(&mut pull)).collect();
        assert_eq!(more, [MAX_UNITS]);
        assert_eq!(pulled, MAX_UNITS + 1);
    }

    #[test]
    fn a_fatal_error_ends_the_report_and_the_starts() {
        let ports = [1, 2, 3, 4];
        let mut slots = Slots::new(&ports, None);
        let mut pull = source(vec![unit(1)]);
        assert_eq!(slots.next_slot(&mut pull), Some(0));
        assert_eq!(slots.next_slot(&mut pull), Some(1));
        let now = Instant::now();
        let e = SetupError::Bind(Errno(libc::EADDRINUSE));
        slots.finish(1, Verdict::at_once(Found::Setup(e)), now);
        // Nothing after the fatal slot starts.
        assert_eq!(slots.next_slot(&mut pull), None);
        slots.finish(0, Verdict::at_once(REFUSED), now);
        let reported: Vec<Found> = std::iter::from_fn(|| slots.next_report())
            .map(|(_, r)| r.found)
            .collect();
        assert_eq!(same(&reported), same(&[REFUSED, Found::Setup(e)]));
        assert!(slots.fatal() && slots.finished());
    }

    #[test]
    fn auto_retries_a_lost_probe_once() {
        let ports = [1, 2];
        let mut slots = Slots::new(&ports, None);
        let mut pull = source(vec![unit(1)]);
        assert_eq!(slots.next_slot(&mut pull), Some(0));
        assert_eq!(slots.next_slot(&mut pull), Some(1));
        // A host that never answered: no second try.
        assert!(!slots.retry_lost(1));
        slots
            .unit_mut(0)
            .unwrap()
            .rtt
            .sample(Duration::from_millis(5));
        assert!(slots.retry_lost(1));
        assert_eq!(slots.next_slot(&mut pull), Some(1));
        assert!(!slots.retry_lost(1));
    }

    /// `--wait`: a run in rounds; `answer(port, address, round)`. Rounds
    /// are started as soon as they are due (the scanner's timer).
    fn run_wait(
        slots: &mut Slots<'_>,
        units: Vec<Unit>,
        answer: impl Fn(usize, usize, usize) -> Found,
        expire_after: usize,
    ) -> Vec<(usize, usize, Found)> {
        let mut pull = source(units);
        let mut rounds: HashMap<usize, usize> = HashMap::new();
        let mut reported = Vec::new();
        let now = Instant::now();
        for pass in 0..1000 {
            if pass == expire_after {
                slots.wait_over(&[]);
            }
            while let Some(slot) = slots.next_slot(&mut pull) {
                let (_, p, a) = slots.split(slot).unwrap();
                let round = *rounds.get(&(slot - a)).unwrap_or(&0);
                slots.finish(slot, Verdict::at_once(answer(p, a, round)), now);
            }
            let due: Vec<(usize, Instant)> = slots.wait_mut().unwrap().take_due();
            for (first, _) in due {
                *rounds.entry(first).or_default() += 1;
                slots.next_round(first);
            }
            while let Some((slot, r)) = slots.next_report() {
                let (_, p, a) = slots.split(slot).unwrap();
                reported.push((p, a, r.found));
            }
            slots.forget_reported();
            if slots.finished() || (!slots.has_ready() && !slots.wait().unwrap().waiting()) {
                break;
            }
        }
        reported
    }

    #[test]
    fn wait_retries_rounds_until_a_port_accepts() {
        let ports = [1, 2];
        let mut slots = Slots::new(&ports, Some(Waiting::new(Instant::now())));
        // Port 0 accepts on its second address in round 2; port 1 at once.
        let reported = run_wait(
            &mut slots,
            vec![unit(2)],
            |p, a, round| match (p, a, round) {
                (0, 1, 2) | (1, 0, _) => Found::Open,
                _ => REFUSED,
            },
            usize::MAX,
        );
        // The failures of the rounds before are never reported; those of
        // the accepting round's earlier addresses are superseded.
        assert_eq!(
            same(&reported),
            same(&[
                (0, 0, Found::Superseded),
                (0, 1, Found::Open),
                (1, 0, Found::Open)
            ])
        );
        let w = slots.wait().unwrap();
        assert!(!w.expired());
        assert_eq!(w.status(), 0);
    }

    #[test]
    fn wait_reports_the_last_failures_at_its_deadline() {
        let ports = [1, 2, 3];
        let mut slots = Slots::new(&ports, Some(Waiting::new(Instant::now())));
        // Port 1 opens at once; ports 0 and 2 never do.
        let reported = run_wait(
            &mut slots,
            vec![unit(2)],
            |p, _, _| if p == 1 { Found::Open } else { REFUSED },
            3,
        );
        assert_eq!(
            same(&reported),
            same(&[
                (0, 0, REFUSED),
                (0, 1, REFUSED),
                (1, 0, Found::Open),
                (2, 0, REFUSED),
                (2, 1, REFUSED),
            ])
        );
        assert_eq!(slots.wait().unwrap().status(), 1);
    }
}
