//! Zero-I/O scans (`-z`): many probes at once, nc's report in nc's order.
//!
//! A sequential nc tries each port of the list in turn and, for each port,
//! each address of the host until one connects (docs/compatibility.md §3.2, §5). ncrab lays
//! the same attempts out as numbered slots (port-major, address-minor) and
//! runs a window of them at once in the one event loop: each probe is a
//! non-blocking connect with its own deadline in the loop's timer heap.
//! Results are held by slot and printed in slot order as soon as every
//! earlier slot is known, with exactly the lines, the skipping (a port's
//! later addresses are not reported once one connects), the fatal errors
//! and the exit status a sequential nc would give. Only the wall time
//! differs. `-i` or a fixed source port (`-p`) makes the window 1.
//!
//! ncrab makes no attempt nc would not make: a port's next address is
//! probed only once the previous one has failed, as nc does, so a port that
//! answers on its first address gets one connection, not one per address.
//! Ports, not addresses, are what runs concurrently.
//!
//! Cost per probe: a probe's answer is often known as soon as connect()
//! returns (on loopback the kernel handles the SYN and its RST within the
//! call), so it is asked for at once and such a probe never touches epoll.
//! The answer is read by calling connect() again on the same address (see
//! [`net::connect_again`]); when the connect failed, that call also frees
//! the socket for the next probe, so failed sockets are reused instead of
//! closed and re-created. Each reusable socket is bound to an ephemeral
//! port of its own once, which spares the kernel its port search on every
//! connect. A socket that connected is closed, as nc closes it. Each pass
//! of the loop starts a bounded number of probes, so the report streams
//! and signals are seen promptly even when every answer is instant.
//!
//! `--json` lines are printed at the moment nc's line would be, so they
//! come in nc's order too (one per attempt that nc would report).
//!
//! Back-pressure: when `socket()` fails with EMFILE/ENFILE the window
//! shrinks to what is in flight and the slot is retried when a probe ends.
//! With nothing in flight there is nothing to wait for: the address is
//! skipped silently, as nc skips any address whose `socket()` fails.
//!
//! UDP (`-uz`): the connect is immediate; with `-v` each connected port is
//! then probed with nc's `X` datagrams ([`crate::net::udp`]), its seconds being
//! the probe's own timers, so the probes of a window run side by side. A
//! refused probe prints nothing and sets the status to 1, a passed one
//! prints the success line and sets it to 0: the last connected port
//! decides, as in nc (docs/compatibility.md §4). A connected UDP socket decides its port: the
//! port's later addresses are not tried, as nc breaks out of its loop.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Interest, Token};
use socket2::{SockAddr, Socket};

use crate::cli::config::{Config, Target};
use crate::net::connect::{self, ConnectOpts};
use crate::net::diagnose::banner::BannerRead;
use crate::net::diagnose::{self, Banner, Facts, errqueue, tcpinfo};
use crate::net::pace::{Backoff, Bucket, Rtt};
use crate::net::ports::ServiceNames;
use crate::net::resolve::{self, AddrInfo};
use crate::net::targets::{Host, Hosts};
use crate::net::tls::TlsConfig;
use crate::net::tls::probe::{self as tls_probe, Next, TlsProbe};
use crate::net::udp::{self, Tick, XProbe};
use crate::net::{self, ConnectResult, Family, Proto, SetupError};
use crate::report::tls as tls_report;
use crate::report::{self, Dest, Errno, GaiError, JsonProbe, diagnosis, json_probe};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::{self, Ctx, Machine, Reactor, Step, TimerId};
use rustls::ClientConfig;

/// `-zc` without `-w`: the longest a port may take to finish the TLS
/// handshake once it took the connection.
const TLS_SCAN_WAIT: Duration = Duration::from_secs(10);

/// The most probes in flight when the open-file limit allows more.
const MAX_WINDOW: usize = 1024;
/// The same for a list of destinations, where most probes wait on
/// silent hosts: more in flight is what makes a network scan fast (a
/// silent /24 of 1000 ports at `-w 1` takes 254,000 / window seconds).
const MAX_WINDOW_MANY: usize = 8192;
/// File descriptors kept free for everything else.
const FD_RESERVE: usize = 16;
/// The most probes started in one pass of the loop.
const STARTS_PER_PASS: usize = 256;
/// The most idle sockets kept for reuse.
const MAX_SPARES: usize = 8;
/// How far past the first unreported attempt the scan may start others:
/// the bound on the results it holds. Two full port ranges, so a scan of
/// one or two addresses never waits on it; a name with thousands of
/// addresses (a hostile DNS answer) costs megabytes, not gigabytes.
const LOOKAHEAD: usize = 2 << 16;
/// The most destinations held at once (looked up, not yet reported).
const MAX_UNITS: usize = 8192;

/// Timer keys beyond any probe id.
const KEY_RATE: usize = usize::MAX;
const KEY_DEADLINE: usize = usize::MAX - 1;
const KEY_STATUS: usize = usize::MAX - 2;
/// `--wait`: a port's next round, `KEY_RETRY + its first slot`.
const KEY_RETRY: usize = 1 << 48;

/// What one attempt found.
#[derive(Clone, Copy, Debug)]
enum Found {
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
    /// the scanner's TLS outcomes).
    TlsFailed,
}

impl Found {
    /// The port is decided by this attempt: no later address is tried.
    fn connected(self) -> bool {
        matches!(self, Found::Open | Found::ProbeFailed | Found::TlsFailed)
    }
}

#[derive(Clone, Copy, Debug)]
struct Result {
    found: Found,
    elapsed: Duration,
}

/// One probe in flight.
struct Probe {
    sock: Socket,
    slot: usize,
    started: Instant,
    timer: Option<TimerId>,
    /// UDP: the `X` probe running on the connected socket.
    xprobe: Option<XProbe>,
    /// `--banner`: the port is open and the server's first bytes are
    /// being read (the timer is the wait's end).
    banner: Option<BannerRead>,
    /// `-zc`: the TLS handshake running on the connected socket (boxed:
    /// a TLS session is large, and a list's window holds 8192 probes).
    tls: Option<Box<TlsProbe>>,
}

/// One destination's share of the slots: its ports at its addresses,
/// port-major, address-minor, from slot `first` on.
struct Unit {
    first: usize,
    nslots: usize,
    /// As typed (a name), or the numeric text of a block's address.
    host: OsString,
    addrs: Vec<AddrInfo>,
    /// The numeric form of each address, for the report.
    ips: Vec<String>,
    /// A list's destination whose lookup failed (one slot, no probe).
    lookup: Option<(GaiError, u16)>,
    /// `-w auto`: what the host's answers taught.
    rtt: Rtt,
}

impl Unit {
    fn end(&self) -> usize {
        self.first + self.nslots
    }
}

/// Where the destinations come from: the one host, already looked up,
/// or a list walked lazily.
enum Source<'a> {
    One(Option<Unit>),
    Many(Hosts<'a>),
}

/// `--wait`: ports retried until they accept or the deadline passes.
struct Waiting {
    deadline: Instant,
    /// The last failure of each address of a port not yet open.
    held: HashMap<usize, Result>,
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

impl Waiting {
    /// The deadline, the first time it is asked for (to arm its timer).
    fn arm_deadline(&mut self) -> Option<Instant> {
        if self.armed {
            return None;
        }
        self.armed = true;
        Some(self.deadline)
    }
}

struct Scanner<'a> {
    cfg: &'a Config,
    /// The connect options of every probe, derived once.
    conn: ConnectOpts,
    ports: &'a [u16],
    source: Source<'a>,
    /// Every destination whose slots are not all reported yet.
    units: VecDeque<Unit>,
    /// The slot after the last unit's.
    units_end: usize,
    /// The source has no more destinations.
    exhausted: bool,
    /// The results of slots `base..`: the last one reported and those
    /// after it, at most [`LOOKAHEAD`] of them.
    results: VecDeque<Option<Result>>,
    base: usize,
    /// UDP with `-v`: probe each connected port, for this many seconds.
    probe_secs: Option<u32>,
    /// The next slot in order that has not been considered for starting.
    next_start: usize,
    /// Slots behind `next_start` that may start now, first in first: a
    /// port's next address once the previous one failed, and slots put
    /// back by back-pressure.
    ready: VecDeque<usize>,
    next_emit: usize,
    probes: Vec<Option<Probe>>,
    free: Vec<usize>,
    /// Idle sockets (with their family) whose connect failed, for reuse.
    spares: Vec<(i32, Socket)>,
    /// Whether failed sockets may be reused: TCP with no `-s`/`-p` bind.
    recycle: bool,
    /// Service names for `--json`, read once.
    services: Option<ServiceNames>,
    in_flight: usize,
    window: usize,
    /// `-w N`: every connect's budget.
    timeout: Option<Duration>,
    /// `-w auto`: each host's budget is learned ([`Rtt`]).
    auto: bool,
    /// `-w auto`: slots whose first try timed out on a host that answers
    /// (a lost SYN): they get one more.
    retried: HashSet<usize>,
    /// `--rate`: the connects allowed to start, and its wake-up.
    bucket: Option<Bucket>,
    rate_timer: Option<TimerId>,
    wait: Option<Waiting>,
    /// The status line on a terminal.
    status_line: Option<StatusLine>,
    /// Ports decided, ports open, ports in all (for the status line).
    done: u64,
    open: u64,
    total: u64,
    status: Status,
    /// The first slot that failed fatally: no slot after it is started.
    fatal_slot: Option<usize>,
    /// The fatal error has been reported.
    fatal: bool,
    /// `-vv` or `--json`: gather the facts of each failure.
    diag: bool,
    /// What each finished slot left behind, until it is reported.
    facts: HashMap<usize, Facts>,
    /// `--banner`: how long an open port's server may take to speak.
    banner: Option<Duration>,
    /// `-zc`: the client configuration, and each TLS probe's outcome
    /// until it is reported.
    tls: Option<(&'a TlsConfig, Arc<ClientConfig>)>,
    tls_out: HashMap<usize, tls_probe::Outcome>,
}

impl<'a> Scanner<'a> {
    fn new(
        cfg: &'a Config,
        ports: &'a [u16],
        source: Source<'a>,
        window: usize,
        tls: Option<(&'a TlsConfig, Arc<ClientConfig>)>,
    ) -> Scanner<'a> {
        let o = &cfg.opts;
        let total = match (&source, &cfg.target) {
            (Source::Many(_), Target::Connect { hosts: Some(t), .. }) => {
                t.count().saturating_mul(ports.len() as u64)
            }
            _ => ports.len() as u64,
        };
        let now = Instant::now();
        let conn = cfg.connect_opts();
        Scanner {
            cfg,
            timeout: conn.timeout,
            conn,
            ports,
            source,
            units: VecDeque::new(),
            units_end: 0,
            exhausted: false,
            results: VecDeque::new(),
            base: 0,
            probe_secs: probe_secs(cfg),
            next_start: 0,
            ready: VecDeque::new(),
            next_emit: 0,
            probes: Vec::new(),
            free: Vec::new(),
            spares: Vec::new(),
            recycle: o.source_addr.is_none() && o.source_port.is_none() && o.proto == Proto::Tcp,
            services: o.json.then(|| ServiceNames::load(o.proto)),
            in_flight: 0,
            window,
            auto: o.timeout_auto,
            retried: HashSet::new(),
            bucket: o.rate.map(|r| Bucket::new(r, now)),
            rate_timer: None,
            wait: o.wait_for.map(|s| Waiting {
                deadline: now + Duration::from_secs(u64::from(s)),
                held: HashMap::new(),
                backoff: HashMap::new(),
                due: Vec::new(),
                pending: 0,
                expired: false,
                armed: false,
                missed: false,
            }),
            status_line: (!o.no_progress)
                .then(|| StatusLine::on_terminal(now))
                .flatten(),
            done: 0,
            open: 0,
            total,
            status: 1,
            fatal_slot: None,
            fatal: false,
            diag: o.verbose >= 2 || o.json,
            facts: HashMap::new(),
            banner: o.banner.filter(|_| o.proto == Proto::Tcp),
            tls,
            tls_out: HashMap::new(),
        }
    }

    /// The address (without port) of `slot`'s attempt.
    fn ip_of(&self, slot: usize) -> Option<std::net::IpAddr> {
        let (u, _, a) = self.split(slot)?;
        u.addrs.get(a)?.addr.as_socket().map(|s| s.ip())
    }

    /// Keeps what a finished probe left behind, for its report (only
    /// when `-vv` or `--json` asks), and notes whether its host answered.
    fn keep_facts(&mut self, slot: usize, found: Found, facts: Facts) {
        if !self.diag {
            return;
        }
        if let (Some(ip), Some(outcome)) = (self.ip_of(slot), outcome_of(found)) {
            diagnose::note_outcome(ip, outcome, &facts);
        }
        self.facts.insert(slot, facts);
    }

    /// The facts of a TCP connect that just failed (or timed out):
    /// `syns` was read before the result, the error queue now.
    fn failure_facts(sock: &Socket, syns: Option<tcpinfo::Syns>, immediate: bool) -> Facts {
        Facts {
            queued: errqueue::take(sock),
            syns,
            immediate,
            ..Facts::default()
        }
    }

    /// The unit holding `slot`, if it is still held.
    fn unit(&self, slot: usize) -> Option<&Unit> {
        let i = self.units.partition_point(|u| u.end() <= slot);
        self.units.get(i).filter(|u| u.first <= slot)
    }

    fn unit_mut(&mut self, slot: usize) -> Option<&mut Unit> {
        let i = self.units.partition_point(|u| u.end() <= slot);
        self.units.get_mut(i).filter(|u| u.first <= slot)
    }

    /// `slot`'s (port index, address index) within its unit.
    fn split(&self, slot: usize) -> Option<(&Unit, usize, usize)> {
        let u = self.unit(slot)?;
        let n = u.addrs.len().max(1);
        let local = slot - u.first;
        Some((u, local / n, local % n))
    }

    /// The result of `slot`, if known and still held.
    fn result(&self, slot: usize) -> Option<Result> {
        let i = slot.checked_sub(self.base)?;
        self.results.get(i).copied().flatten()
    }

    /// Sets the result of `slot` (within the lookahead).
    fn set_result(&mut self, slot: usize, r: Result) {
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

    /// The report has reached `next_emit`: forget all but the last
    /// result before it (the next address of its port looks at it), and
    /// the destinations wholly reported.
    fn forget_reported(&mut self) {
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

    /// The address of `slot`'s attempt: its host address with its port.
    fn addr_for(&self, slot: usize) -> Option<SockAddr> {
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

    /// Whether the previous address of `slot`'s port has failed (its
    /// result, or under `--wait` its latest failure in this round).
    fn prev_failed(&self, slot: usize) -> Option<bool> {
        if let Some(r) = self.result(slot - 1) {
            return Some(!r.found.connected());
        }
        let w = self.wait.as_ref()?;
        w.held.contains_key(&(slot - 1)).then_some(true)
    }

    /// Whether `slot` may start, judged by the port's previous address:
    /// `Some(true)` start, `Some(false)` never (it connected, so nc would
    /// not try this address), `None` not yet (its result is unknown).
    fn may_start(&self, slot: usize) -> Option<bool> {
        if self.fatal_slot.is_some_and(|f| slot > f) {
            return Some(false);
        }
        if self.wait.as_ref().is_some_and(|w| w.expired) {
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
        self.done += 1;
        if open {
            self.open += 1;
        }
    }

    /// Records a result, and makes the port's next address startable.
    fn finish_slot(&mut self, slot: usize, found: Found, started: Instant) {
        if let Found::Setup(_) = found {
            // Nothing after a fatal error is ever reported: start no more.
            self.fatal_slot = Some(self.fatal_slot.map_or(slot, |f| f.min(slot)));
        }
        self.retried.remove(&slot);
        let elapsed = started.elapsed();
        let Some((u, _, a)) = self.split(slot) else {
            return;
        };
        let naddrs = u.addrs.len();
        let port_first = slot - a;
        // `-w auto`: an answer (accepted or refused) is a round trip.
        let answer = matches!(found, Found::Open)
            || matches!(found, Found::Failed(e) if e.0 == libc::ECONNREFUSED);
        if self.auto && answer {
            if let Some(u) = self.unit_mut(slot) {
                u.rtt.sample(elapsed);
            }
        }
        let r = Result { found, elapsed };
        let failed = matches!(found, Found::Failed(_) | Found::TimedOut);
        if let Some(w) = self.wait.as_mut().filter(|w| !w.expired) {
            if failed {
                // Not reported yet: the next address, or the next round.
                w.held.insert(slot, r);
                if a + 1 == naddrs {
                    let delay = w.backoff.entry(port_first).or_default().next_delay();
                    w.pending += 1;
                    w.due.push((port_first, Instant::now() + delay));
                }
                self.queue_next(slot, found);
                return;
            }
            // Accepted: the failures of this round's earlier addresses
            // are not reported.
            for s in port_first..slot {
                w.held.remove(&s);
            }
            w.backoff.remove(&port_first);
            for s in port_first..slot {
                self.set_result(
                    s,
                    Result {
                        found: Found::Superseded,
                        elapsed: Duration::ZERO,
                    },
                );
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

    /// Looks up the next destination of a list and appends its unit.
    /// False when there is none, or too many are held already.
    fn pull_unit(&mut self) -> bool {
        if self.exhausted || self.units.len() >= MAX_UNITS {
            return false;
        }
        let unit = match &mut self.source {
            Source::One(u) => u.take(),
            Source::Many(hosts) => hosts.next().map(|h| make_unit(self.cfg, h, self.ports[0])),
        };
        let Some(mut unit) = unit else {
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
        let failed = unit.lookup.is_some();
        self.units_end = unit.end();
        self.units.push_back(unit);
        if failed {
            let (e, _) = self.units.back().and_then(|u| u.lookup).unwrap_or((
                GaiError {
                    code: libc::EAI_FAIL,
                    errno: 0,
                },
                0,
            ));
            self.set_result(
                first,
                Result {
                    found: Found::NoHost(e),
                    elapsed: Duration::ZERO,
                },
            );
            self.done += self.ports.len() as u64;
        }
        true
    }

    /// The next slot to start, if any may start now.
    fn next_slot(&mut self) -> Option<usize> {
        if let Some(slot) = self.ready.pop_front() {
            return Some(slot);
        }
        while self.next_start < self.start_limit() {
            if self.next_start >= self.units_end {
                if !self.pull_unit() {
                    return None;
                }
                continue;
            }
            let slot = self.next_start;
            self.next_start += 1;
            // Otherwise not yet (`finish_slot` queues it when its turn
            // comes) or never (an earlier address connected, or a fatal
            // error came before it).
            if self.may_start(slot) == Some(true) {
                return Some(slot);
            }
        }
        None
    }

    /// Whether the cursor could move on (more slots, or more units).
    fn cursor_can_move(&self) -> bool {
        self.next_start < self.start_limit()
            && (self.next_start < self.units_end
                || (!self.exhausted && self.units.len() < MAX_UNITS))
    }

    /// `--rate`: whether one more connect may start now; if not, the
    /// wake-up is armed.
    fn rate_allows(&mut self, cx: &mut Ctx<'_>) -> bool {
        let Some(b) = self.bucket.as_mut() else {
            return true;
        };
        let now = Instant::now();
        if b.take(now) {
            return true;
        }
        if self.rate_timer.is_none() {
            self.rate_timer = Some(cx.timers.add(b.next_at(now), KEY_RATE));
        }
        false
    }

    /// Starts probes until the window is full or this pass's share is
    /// done. Returns true when more could be started at once.
    fn start_probes(&mut self, cx: &mut Ctx<'_>) -> bool {
        let mut started = 0;
        while self.in_flight < self.window {
            if started == STARTS_PER_PASS {
                return true;
            }
            if self.rate_timer.is_some() {
                return false;
            }
            let Some(slot) = self.next_slot() else {
                return false;
            };
            if self.may_start(slot) == Some(false) {
                continue;
            }
            if !self.rate_allows(cx) {
                self.ready.push_front(slot);
                return false;
            }
            started += 1;
            if !self.start(cx, slot) {
                // Back-pressure: the window is what is in flight now; the
                // slot goes first when a probe ends.
                self.ready.push_front(slot);
                self.window = self.in_flight.max(1);
                return false;
            }
        }
        false
    }

    /// A socket for `ai`: a spare of its family, or a new one.
    fn socket_for(&mut self, ai: &AddrInfo) -> std::io::Result<(Socket, bool)> {
        if let Some(i) = self.spares.iter().position(|(f, _)| *f == ai.family) {
            return Ok((self.spares.swap_remove(i).1, true));
        }
        match net::socket(ai.family, ai.socktype, ai.protocol) {
            Err(e) if is_fd_shortage(&e) && !self.spares.is_empty() => {
                // Idle sockets of another family hold descriptors: free them.
                self.spares.clear();
                net::socket(ai.family, ai.socktype, ai.protocol).map(|s| (s, false))
            }
            r => r.map(|s| (s, false)),
        }
    }

    /// The connect budget of a probe to `slot`'s host.
    fn budget(&self, slot: usize) -> Option<Duration> {
        if self.auto {
            return Some(self.unit(slot).map_or(Rtt::INITIAL, |u| u.rtt.timeout()));
        }
        match (self.timeout, &self.wait) {
            // `--wait` without -w: a silent host must not stall a round.
            (None, Some(_)) => Some(Rtt::INITIAL),
            (t, _) => t,
        }
    }

    /// Starts the probe of `slot`; an instant answer is recorded at once.
    /// False when out of file descriptors (or epoll entries) while probes
    /// are in flight: retry the slot when one ends.
    fn start(&mut self, cx: &mut Ctx<'_>, slot: usize) -> bool {
        let Some((u, _, a)) = self.split(slot) else {
            return true;
        };
        let Some(ai) = u.addrs.get(a).cloned() else {
            return true;
        };
        let started = Instant::now();
        let (sock, reused) = match self.socket_for(&ai) {
            Ok(s) => s,
            Err(e) if is_fd_shortage(&e) && self.in_flight > 0 => return false,
            // Nothing in flight to wait for (or another error): nc skips
            // the address without a word.
            Err(_) => {
                self.finish_slot(slot, Found::Skipped, started);
                return true;
            }
        };
        if !reused {
            let hints = self.conn.hints();
            if let Err(e) = net::prepare_client(&sock, &ai.addr, hints, &self.conn.sock) {
                self.finish_slot(slot, Found::Setup(e), started);
                return true;
            }
            if self.recycle {
                net::pin_ephemeral_port(&sock, ai.family);
            }
        }
        let Some(addr) = self.addr_for(slot) else {
            return true;
        };
        let mut immediate = false;
        let mut syns = None;
        let result = match net::start_connect(&sock, &addr) {
            Ok(true) if ai.socktype != libc::SOCK_STREAM => {
                self.start_udp(cx, slot, sock, started);
                return true;
            }
            Ok(true) => Some((net::check_self_connect(&sock), false)),
            // Refused at once (no route...): the socket is still unused.
            Err(errno) => {
                immediate = true;
                Some((ConnectResult::Failed(errno), true))
            }
            // Often already answered (loopback): no need to wait for it.
            Ok(false) => {
                if self.diag {
                    syns = tcpinfo::syns(&sock);
                }
                net::connect_again(&sock, &addr)
            }
        };
        if let Some((r, reusable)) = result {
            if matches!(r, ConnectResult::Connected) && self.tls.is_some() {
                self.start_tls(cx, slot, sock, started);
                return true;
            }
            if matches!(r, ConnectResult::Connected) && self.banner.is_some() {
                return self.wait_banner(cx, slot, sock, started);
            }
            self.finish_connect(slot, &sock, r, syns, immediate, started);
            self.release(sock, ai.family, reusable);
            return true;
        }
        let id = self.free_id();
        let fd = sock.as_raw_fd();
        let token = Token(reactor::PROBE_BASE + id);
        if let Err(e) =
            cx.registry
                .register(&mut mio::unix::SourceFd(&fd), token, Interest::WRITABLE)
        {
            self.free.push(id);
            if self.in_flight > 0 {
                return false;
            }
            let err = SetupError::Option(Some("epoll"), Errno::of(&e));
            self.finish_slot(slot, Found::Setup(err), started);
            return true;
        }
        let timer = self.budget(slot).map(|t| cx.timers.add(started + t, id));
        self.track(
            id,
            Probe {
                sock,
                slot,
                started,
                timer,
                xprobe: None,
                banner: None,
                tls: None,
            },
        );
        true
    }

    /// Records the result of a TCP connect, with its facts when asked.
    fn finish_connect(
        &mut self,
        slot: usize,
        sock: &Socket,
        r: ConnectResult,
        syns: Option<tcpinfo::Syns>,
        immediate: bool,
        started: Instant,
    ) {
        let found = to_found(r);
        if self.diag {
            let facts = match found {
                Found::Open => Facts::default(),
                _ => Self::failure_facts(sock, syns, immediate),
            };
            self.keep_facts(slot, found, facts);
        } else if matches!(found, Found::Failed(e) if e.0 != libc::ECONNREFUSED) {
            // An ICMP error may be queued: a reused socket starts clean.
            errqueue::drain(sock);
        }
        self.finish_slot(slot, found, started);
    }

    /// `--banner`: the port answered at once; wait up to the banner time
    /// for the server's first line, reading as it comes, in the loop.
    fn wait_banner(
        &mut self,
        cx: &mut Ctx<'_>,
        slot: usize,
        sock: Socket,
        started: Instant,
    ) -> bool {
        let id = self.free_id();
        let fd = sock.as_raw_fd();
        let token = Token(reactor::PROBE_BASE + id);
        if cx
            .registry
            .register(&mut mio::unix::SourceFd(&fd), token, Interest::READABLE)
            .is_err()
        {
            // No banner then: the port is open all the same.
            self.free.push(id);
            self.keep_facts(slot, Found::Open, Facts::default());
            self.finish_slot(slot, Found::Open, started);
            return true;
        }
        let wait = self.banner.unwrap_or_default();
        let timer = Some(cx.timers.add(Instant::now() + wait, id));
        self.track(
            id,
            Probe {
                sock,
                slot,
                started,
                timer,
                xprobe: None,
                banner: Some(BannerRead::new(started.elapsed())),
                tls: None,
            },
        );
        self.read_banner(cx, id);
        true
    }

    /// `--banner` for a probe in flight whose connect just completed.
    fn banner_in_place(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let wait = self.banner.unwrap_or_default();
        let Some(Some(p)) = self.probes.get_mut(id) else {
            return;
        };
        let fd = p.sock.as_raw_fd();
        let token = Token(reactor::PROBE_BASE + id);
        if cx
            .registry
            .reregister(&mut mio::unix::SourceFd(&fd), token, Interest::READABLE)
            .is_err()
        {
            let slot = p.slot;
            self.keep_facts(slot, Found::Open, Facts::default());
            return self.end_probe(cx, id, Found::Open, false);
        }
        if let Some(t) = p.timer.take() {
            cx.timers.cancel(t);
        }
        p.timer = Some(cx.timers.add(Instant::now() + wait, id));
        p.banner = Some(BannerRead::new(p.started.elapsed()));
        self.read_banner(cx, id);
    }

    /// Reads what the server has sent so far (readiness, or the start).
    fn read_banner(&mut self, cx: &mut Ctx<'_>, id: usize) {
        self.banner_step(cx, id, false);
    }

    /// Reads what the server has sent; ends the probe once the first line
    /// is complete, the server closed, or (`timed_out`) the wait is over.
    fn banner_step(&mut self, cx: &mut Ctx<'_>, id: usize, timed_out: bool) {
        let wait = self.banner.unwrap_or_default();
        let Some(Some(p)) = self.probes.get_mut(id) else {
            return;
        };
        let Some(read) = p.banner.as_mut() else {
            return;
        };
        let Some(banner) = read.step(&p.sock, timed_out, wait) else {
            return;
        };
        let handshake = read.handshake;
        let slot = p.slot;
        // The report's time is the handshake's, not the wait's.
        p.started = Instant::now().checked_sub(handshake).unwrap_or(p.started);
        self.keep_facts(
            slot,
            Found::Open,
            Facts {
                banner: Some(banner),
                ..Facts::default()
            },
        );
        self.end_probe(cx, id, Found::Open, false);
    }

    /// `-zc`: the port took the connection; its TLS handshake starts on
    /// the same socket, with its own deadline (`-w`, else
    /// [`TLS_SCAN_WAIT`]).
    fn start_tls(&mut self, cx: &mut Ctx<'_>, slot: usize, sock: Socket, started: Instant) {
        let Some((t, config)) = &self.tls else {
            return;
        };
        let Some(host) = self.unit(slot).map(|u| u.host.clone()) else {
            return;
        };
        let probe = match TlsProbe::new(config, t, &host) {
            Ok(p) => p,
            Err(why) => {
                self.tls_out.insert(slot, Err(why));
                return self.finish_slot(slot, Found::TlsFailed, started);
            }
        };
        let id = self.free_id();
        let wait = self.timeout.unwrap_or(TLS_SCAN_WAIT);
        let timer = Some(cx.timers.add(Instant::now() + wait, id));
        self.track(
            id,
            Probe {
                sock,
                slot,
                started,
                timer,
                xprobe: None,
                banner: None,
                tls: Some(Box::new(probe)),
            },
        );
        self.tls_step(cx, id);
    }

    /// A probe whose connect just completed becomes a TLS probe.
    fn begin_tls_in_place(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let Some((t, config)) = &self.tls else {
            return;
        };
        let Some(slot) = self.probes.get(id).and_then(|p| p.as_ref()).map(|p| p.slot) else {
            return;
        };
        let Some(host) = self.unit(slot).map(|u| u.host.clone()) else {
            return;
        };
        let Some(Some(p)) = self.probes.get_mut(id) else {
            return;
        };
        match TlsProbe::new(config, t, &host) {
            Ok(tp) => {
                p.tls = Some(Box::new(tp));
                if let Some(old) = p.timer.take() {
                    cx.timers.cancel(old);
                }
                let wait = self.timeout.unwrap_or(TLS_SCAN_WAIT);
                p.timer = Some(cx.timers.add(Instant::now() + wait, id));
                self.tls_step(cx, id);
            }
            Err(why) => {
                let slot = p.slot;
                self.tls_out.insert(slot, Err(why));
                self.end_probe(cx, id, Found::TlsFailed, false);
            }
        }
    }

    /// Drives probe `id`'s handshake as far as it goes now.
    fn tls_step(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let Some((t, _)) = self.tls else {
            return;
        };
        let Some(Some(p)) = self.probes.get_mut(id) else {
            return;
        };
        let Some(tp) = p.tls.as_mut() else {
            return;
        };
        match tp.step(&p.sock, t) {
            Next::Wait(want) => {
                let fd = p.sock.as_raw_fd();
                let token = Token(reactor::PROBE_BASE + id);
                let mut src = mio::unix::SourceFd(&fd);
                let r = cx
                    .registry
                    .reregister(&mut src, token, want)
                    .or_else(|_| cx.registry.register(&mut src, token, want));
                if let Err(e) = r {
                    let slot = p.slot;
                    self.tls_out.insert(slot, Err(Errno::of(&e).to_string()));
                    self.end_probe(cx, id, Found::TlsFailed, false);
                }
            }
            Next::Finished(out) => {
                let found = if out.is_ok() {
                    Found::Open
                } else {
                    Found::TlsFailed
                };
                self.tls_out.insert(p.slot, out);
                self.end_probe(cx, id, found, false);
            }
        }
    }

    /// A UDP socket connects at once: without `-v` its port counts as
    /// open; with it, nc's `X` probe decides, its later `X`s sent by timer
    /// (the socket itself needs no events).
    fn start_udp(&mut self, cx: &mut Ctx<'_>, slot: usize, sock: Socket, started: Instant) {
        let Some(secs) = self.probe_secs else {
            return self.finish_slot(slot, Found::Open, started);
        };
        match XProbe::start(sock.as_raw_fd(), secs) {
            (x, Tick::Passed) => self.finish_udp(slot, &sock, &x, Found::Open, started),
            (x, Tick::Failed) => self.finish_udp(slot, &sock, &x, Found::ProbeFailed, started),
            (x, Tick::Later) => {
                let id = self.free_id();
                let timer = cx.timers.add(Instant::now() + XProbe::INTERVAL, id);
                self.track(
                    id,
                    Probe {
                        sock,
                        slot,
                        started,
                        timer: Some(timer),
                        xprobe: Some(x),
                        banner: None,
                        tls: None,
                    },
                );
            }
        }
    }

    /// Records the end of a UDP probe, with its facts when asked.
    fn finish_udp(
        &mut self,
        slot: usize,
        sock: &Socket,
        x: &XProbe,
        found: Found,
        started: Instant,
    ) {
        if self.diag {
            let facts = Facts {
                queued: errqueue::take(sock),
                send_errno: x.error.map(Errno),
                ..Facts::default()
            };
            self.keep_facts(slot, found, facts);
        }
        self.finish_slot(slot, found, started);
    }

    /// Puts a started probe in flight under `id`.
    fn track(&mut self, id: usize, probe: Probe) {
        self.probes[id] = Some(probe);
        self.in_flight += 1;
    }

    /// A free probe id (a new one when none is free).
    fn free_id(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.probes.push(None);
            self.probes.len() - 1
        })
    }

    /// Done with a probe's socket: keep it for the next probe when its
    /// connect failed and left it unconnected (`reusable`), else close it,
    /// as nc closes it.
    fn release(&mut self, sock: Socket, family: i32, reusable: bool) {
        if self.recycle && reusable && self.spares.len() < MAX_SPARES {
            self.spares.push((family, sock));
            return;
        }
        if self.cfg.opts.source_port.is_some() {
            // A fixed source port: close abortively so no TIME_WAIT is left
            // to block the same port's next probe (docs/compatibility.md departure 8).
            let _ = sock.set_linger(Some(Duration::ZERO));
        }
        // The socket closes here, as nc closes it after a -z connect.
    }

    /// Takes probe `id` out of flight (its registration and timer gone).
    fn take_probe(&mut self, cx: &mut Ctx<'_>, id: usize) -> Option<Probe> {
        let p = self.probes.get_mut(id).and_then(Option::take)?;
        if p.xprobe.is_none() {
            let fd = p.sock.as_raw_fd();
            let _ = cx.registry.deregister(&mut mio::unix::SourceFd(&fd));
        }
        if let Some(t) = p.timer {
            cx.timers.cancel(t);
        }
        self.in_flight -= 1;
        self.free.push(id);
        Some(p)
    }

    /// Ends probe `id` with `found`; `reusable` as for [`Self::release`].
    fn end_probe(&mut self, cx: &mut Ctx<'_>, id: usize, found: Found, reusable: bool) {
        let Some(p) = self.take_probe(cx, id) else {
            return;
        };
        let family = self
            .split(p.slot)
            .and_then(|(u, _, a)| u.addrs.get(a))
            .map_or(0, |ai| ai.family);
        self.finish_slot(p.slot, found, p.started);
        self.release(p.sock, family, reusable);
    }

    /// `-w auto`: a probe timed out on a host that has answered before,
    /// so its SYN or the answer was probably lost: try the slot once more.
    fn retry_lost(&mut self, cx: &mut Ctx<'_>, id: usize) -> bool {
        let Some(Some(p)) = self.probes.get(id) else {
            return false;
        };
        let slot = p.slot;
        let answered = self.unit(slot).is_some_and(|u| u.rtt.answered());
        if !self.auto || !answered || self.retried.contains(&slot) {
            return false;
        }
        self.retried.insert(slot);
        if let Some(p) = self.take_probe(cx, id) {
            self.release(p.sock, 0, false);
        }
        self.ready.push_front(slot);
        true
    }

    /// `--wait`: the deadline passed. Every port not yet open is decided
    /// by its last failure (or not at all, if never tried).
    fn wait_expired(&mut self, cx: &mut Ctx<'_>) {
        let Some(w) = self.wait.as_mut() else {
            return;
        };
        w.expired = true;
        for id in 0..self.probes.len() {
            if let Some(p) = self.take_probe(cx, id) {
                let held = self.wait.as_mut().and_then(|w| w.held.remove(&p.slot));
                let r = held.unwrap_or(Result {
                    found: Found::TimedOut,
                    elapsed: p.started.elapsed(),
                });
                self.set_result(p.slot, r);
            }
        }
        let held: Vec<(usize, Result)> = self
            .wait
            .as_mut()
            .map(|w| w.held.drain().collect())
            .unwrap_or_default();
        for (slot, r) in held {
            if self.result(slot).is_none() && slot >= self.next_emit {
                self.set_result(slot, r);
            }
        }
        for slot in self.next_emit..self.units_end.min(self.start_limit()) {
            if self.result(slot).is_none() {
                self.set_result(
                    slot,
                    Result {
                        found: Found::Skipped,
                        elapsed: Duration::ZERO,
                    },
                );
            }
        }
        self.exhausted = true;
        self.ready.clear();
    }

    /// A probe's connect has its answer: the banner wait when asked,
    /// else the result, with its facts when `-vv` or `--json` wants them.
    fn connect_done(
        &mut self,
        cx: &mut Ctx<'_>,
        id: usize,
        r: ConnectResult,
        reusable: bool,
        syns: Option<tcpinfo::Syns>,
    ) {
        if matches!(r, ConnectResult::Connected) && self.tls.is_some() {
            return self.begin_tls_in_place(cx, id);
        }
        if matches!(r, ConnectResult::Connected) && self.banner.is_some() {
            return self.banner_in_place(cx, id);
        }
        let Some(Some(p)) = self.probes.get(id) else {
            return;
        };
        let found = to_found(r);
        if self.diag {
            let facts = match found {
                Found::Open => Facts::default(),
                _ => Self::failure_facts(&p.sock, syns, false),
            };
            let slot = p.slot;
            self.keep_facts(slot, found, facts);
        } else if matches!(found, Found::Failed(e) if e.0 != libc::ECONNREFUSED) {
            errqueue::drain(&p.sock);
        }
        self.end_probe(cx, id, found, reusable);
    }

    /// A TCP probe's timer: the answer may have come while this pass
    /// handled other events, so the socket is asked first; then `-w auto`
    /// may try once more; else the port timed out.
    fn connect_timer(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let Some(Some(p)) = self.probes.get(id) else {
            return;
        };
        let slot = p.slot;
        let syns = if self.diag {
            tcpinfo::syns(&p.sock)
        } else {
            None
        };
        let answer = self
            .addr_for(slot)
            .and_then(|addr| net::connect_again(&p.sock, &addr));
        if let Some((r, reusable)) = answer {
            return self.connect_done(cx, id, r, reusable, syns);
        }
        if self.retry_lost(cx, id) {
            return;
        }
        if self.diag {
            if let Some(Some(p)) = self.probes.get(id) {
                let f = Self::failure_facts(&p.sock, syns, false);
                self.keep_facts(slot, Found::TimedOut, f);
            }
        }
        self.end_probe(cx, id, Found::TimedOut, false);
    }

    /// Prints every result whose predecessors are all known, in one write
    /// per stream. Slots after an address of the same port connected are
    /// never started; the success skips past them.
    fn emit(&mut self) {
        report::batch(|| self.emit_known());
        self.forget_reported();
    }

    fn emit_known(&mut self) {
        while self.next_emit < self.units_end {
            let slot = self.next_emit;
            let Some(r) = self.result(slot) else {
                return;
            };
            self.next_emit += 1;
            let facts = self.facts.remove(&slot);
            self.report(slot, r, facts.as_ref());
            match r.found {
                Found::Open | Found::ProbeFailed => {
                    self.status = if let Found::Open = r.found { 0 } else { 1 };
                    if let Some((u, p, _)) = self.split(slot) {
                        self.next_emit = u.first + (p + 1) * u.addrs.len();
                    }
                }
                // TLS failed on a port that took the connection: its other
                // addresses are not tried; the status stays as it was.
                Found::TlsFailed => {
                    if let Some((u, p, _)) = self.split(slot) {
                        self.next_emit = u.first + (p + 1) * u.addrs.len();
                    }
                }
                Found::Setup(_) => {
                    self.fatal = true;
                    return;
                }
                Found::Superseded => {}
                _ => {
                    let last = self
                        .split(slot)
                        .is_some_and(|(u, _, a)| a + 1 >= u.addrs.len());
                    if let Some(w) = self.wait.as_mut().filter(|_| last) {
                        w.missed = true;
                    }
                }
            }
        }
    }

    /// nc's line for one attempt, plus `-vv` and `--json` when asked.
    fn report(&mut self, slot: usize, r: Result, facts: Option<&Facts>) {
        let tls = self.tls_out.remove(&slot);
        let Some((u, p, a)) = self.split(slot) else {
            return;
        };
        let o = &self.cfg.opts;
        if let Found::NoHost(e) = r.found {
            return self.report_no_host(u, e);
        }
        let host = u.host.as_os_str();
        let port = self.ports[p];
        let ip = &u.ips[a];
        let proto = o.proto.name();
        let verbose = o.verbose > 0;
        if verbose {
            let dest = Dest {
                host,
                ip: if o.numeric { None } else { Some(ip) },
            };
            match r.found {
                Found::Open => connect::report_success(&self.conn, host, port, Some(ip)),
                Found::Failed(errno) => {
                    report::connect_failed(&dest, port.to_string(), proto, errno)
                }
                Found::TimedOut => report::connect_timed_out(&dest, port.to_string(), proto),
                Found::TlsFailed => {
                    let why = match &tls {
                        Some(Err(why)) => why.as_str(),
                        _ => "",
                    };
                    tls_report::scan_failed(&dest, port, proto, why);
                }
                _ => {}
            }
        }
        if let Found::Setup(e) = r.found {
            e.report();
        }
        let none = Facts::default();
        let diag = match (self.diag, facts, r.found) {
            (true, Some(f), _) => self.diagnose(slot, r, f),
            (true, None, Found::Setup(_)) => self.diagnose(slot, r, &none),
            _ => None,
        };
        if o.verbose >= 2 {
            let udp = self.probe_secs.is_some();
            if let (Found::Open | Found::TlsFailed, Some(out)) = (r.found, &tls) {
                tls_report::scan_detail(r.elapsed, out);
            }
            match (r.found, &diag) {
                _ if tls.is_some() => {}
                (Found::Setup(_), Some(d)) => diagnosis::detail_line(d),
                (Found::Open, _) if udp => report::udp_probe_detail(r.elapsed, true),
                (Found::Open, _) => report::probe_detail(r.elapsed, None, false),
                (_, Some(d)) => diagnosis::probe_lines(d),
                (Found::ProbeFailed, None) => report::udp_probe_detail(r.elapsed, false),
                (Found::Failed(errno), None) => report::probe_detail(r.elapsed, Some(errno), false),
                (Found::TimedOut, None) => report::probe_detail(r.elapsed, None, true),
                _ => {}
            }
            if let Some(b) = facts.and_then(|f| f.banner.as_ref()) {
                diagnosis::banner_line(b);
            }
        }
        if o.json && !matches!(r.found, Found::Skipped | Found::Superseded) {
            self.json_line(
                slot,
                r,
                diag.as_ref(),
                facts.and_then(|f| f.banner.as_ref()),
                tls.as_ref(),
            );
        }
    }

    /// The diagnosis of a reported attempt.
    fn diagnose(&self, slot: usize, r: Result, facts: &Facts) -> Option<diagnose::Diagnosis> {
        let o = &self.cfg.opts;
        if let Found::Setup(e) = r.found {
            return match e {
                SetupError::Bind(errno) => {
                    Some(diagnose::bind_failed(errno, o.source_port.as_deref()))
                }
                SetupError::Lookup(g) if g.code == libc::EAI_SERVICE => o
                    .source_port
                    .as_deref()
                    .map(|p| diagnose::names::unknown_service(p.as_bytes(), o.proto.name())),
                _ => None,
            };
        }
        let (_, p, _) = self.split(slot)?;
        let probe = diagnose::Probe {
            dest: self.ip_of(slot)?,
            port: self.ports[p],
            proto: o.proto.name(),
            elapsed: r.elapsed,
            broadcast: o.broadcast,
        };
        diagnose::diagnose(&probe, outcome_of(r.found)?, facts)
    }

    /// A list's destination that did not resolve: nc's line (and its
    /// `-vv`/`--json` forms); the scan goes on.
    fn report_no_host(&self, u: &Unit, e: GaiError) {
        let o = &self.cfg.opts;
        let port = u.lookup.map_or(self.ports[0], |(_, p)| p);
        let port_s = port.to_string();
        report::getaddrinfo_host_failed(&u.host, OsStr::new(&port_s), e);
        let diag = (o.verbose >= 2 || o.json)
            .then(|| diagnose::names::lookup_failed(&u.host, port, e, self.conn.hints()));
        if let (true, Some(d)) = (o.verbose >= 2, &diag) {
            diagnosis::detail_line(d);
        }
        if o.json {
            json_probe(&JsonProbe {
                host: &u.host,
                ip: None,
                port,
                proto: o.proto.name(),
                service: &crate::net::ports::service_name(port, o.proto),
                state: "error",
                errno: None,
                error: Some(e.to_string()),
                ms: 0,
                diagnosis: diag.as_ref(),
                banner: None,
                tls: None,
            });
        }
    }

    fn json_line(
        &self,
        slot: usize,
        r: Result,
        diag: Option<&diagnose::Diagnosis>,
        banner: Option<&Banner>,
        tls: Option<&tls_probe::Outcome>,
    ) {
        let Some((u, p, a)) = self.split(slot) else {
            return;
        };
        let (host, port, ip) = (u.host.as_os_str(), self.ports[p], u.ips[a].as_str());
        let proto = self.cfg.opts.proto;
        let (state, errno) = match r.found {
            Found::Open => ("open", None),
            // The probe's datagram could not be sent (EPERM...).
            Found::ProbeFailed
                if diag
                    .and_then(|d| d.errno)
                    .is_some_and(|e| e.0 != libc::ECONNREFUSED) =>
            {
                ("filtered", diag.and_then(|d| d.errno))
            }
            Found::ProbeFailed => ("closed", Some(Errno(libc::ECONNREFUSED))),
            Found::Failed(e) if e.0 == libc::ECONNREFUSED => ("closed", Some(e)),
            Found::Failed(e)
                if matches!(
                    e.0,
                    libc::ETIMEDOUT
                        | libc::EHOSTUNREACH
                        | libc::ENETUNREACH
                        | libc::EACCES
                        | libc::EPERM
                ) =>
            {
                ("filtered", Some(e))
            }
            Found::Failed(e) => ("error", Some(e)),
            Found::TimedOut => ("filtered", Some(Errno(libc::ETIMEDOUT))),
            Found::TlsFailed => ("error", None),
            Found::Setup(SetupError::Bind(e) | SetupError::Option(_, e)) => ("error", Some(e)),
            Found::Setup(SetupError::Lookup(_))
            | Found::Skipped
            | Found::NoHost(_)
            | Found::Superseded => ("error", None),
        };
        json_probe(&JsonProbe {
            host,
            ip: Some(ip),
            port,
            proto: proto.name(),
            service: self.services.as_ref().map_or("*", |s| s.get(port)),
            state,
            errno: errno.map(Errno::name),
            error: match (r.found, errno) {
                (Found::TimedOut, _) => Some("timed out".to_string()),
                (Found::TlsFailed, _) => match tls {
                    Some(Err(why)) => Some(format!("tls handshake failed ({why})")),
                    _ => Some("tls handshake failed".to_string()),
                },
                (_, Some(e)) => Some(e.to_string()),
                _ => None,
            },
            ms: r.elapsed.as_millis(),
            diagnosis: diag,
            banner,
            tls: tls.map(tls_report::scan_json),
        });
    }
}

/// The diagnosis's view of an attempt's end.
fn outcome_of(found: Found) -> Option<diagnose::Outcome> {
    Some(match found {
        Found::Open => diagnose::Outcome::Open,
        Found::Failed(e) => diagnose::Outcome::Failed(e),
        Found::TimedOut => diagnose::Outcome::TimedOut,
        Found::ProbeFailed => diagnose::Outcome::UdpClosed,
        // TLS failures have their own reason (the port is open).
        Found::Setup(_)
        | Found::Skipped
        | Found::NoHost(_)
        | Found::Superseded
        | Found::TlsFailed => return None,
    })
}

/// The unit of one destination of a list: a block's address as it is, a
/// name looked up as nc looks up its host.
fn make_unit(cfg: &Config, host: Host<'_>, first_port: u16) -> Unit {
    let hints = cfg.connect_opts().hints();
    let (text, addrs) = match host {
        Host::Addr(ip) if family_fits(cfg.opts.family, ip) => {
            let (socktype, protocol) = hints.socktype();
            let addr = SockAddr::from(std::net::SocketAddr::new(ip, 0));
            let ai = AddrInfo {
                family: i32::from(addr.family()),
                socktype,
                protocol,
                addr,
            };
            (OsString::from(ip.to_string()), Ok(vec![ai]))
        }
        Host::Addr(ip) => {
            let text = OsString::from(ip.to_string());
            let port = first_port.to_string();
            let r = resolve::lookup(Some(&text), Some(OsStr::new(&port)), hints);
            (text, r)
        }
        Host::Name(name) => {
            let port = first_port.to_string();
            let r = resolve::lookup(Some(name), Some(OsStr::new(&port)), hints);
            (name.to_os_string(), r)
        }
    };
    let (addrs, lookup) = match addrs {
        Ok(a) => (a, None),
        Err(e) => (Vec::new(), Some((e, first_port))),
    };
    Unit {
        first: 0,
        nslots: 0,
        ips: addrs
            .iter()
            .map(|ai| resolve::numeric_host(&ai.addr))
            .collect(),
        host: text,
        addrs,
        lookup,
        rtt: Rtt::default(),
    }
}

fn family_fits(f: Family, ip: IpAddr) -> bool {
    match f {
        Family::Inet => ip.is_ipv4(),
        Family::Inet6 => ip.is_ipv6(),
        _ => true,
    }
}

fn is_fd_shortage(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

fn to_found(r: ConnectResult) -> Found {
    match r {
        ConnectResult::Connected => Found::Open,
        ConnectResult::Failed(e) => Found::Failed(e),
        ConnectResult::TimedOut => Found::TimedOut,
    }
}

impl Machine for Scanner<'_> {
    type Output = ();

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: &Event) {
        let Some(id) = ev.token().0.checked_sub(reactor::PROBE_BASE) else {
            return;
        };
        let Some(Some(p)) = self.probes.get(id) else {
            return;
        };
        if p.banner.is_some() {
            return self.read_banner(cx, id);
        }
        if p.tls.is_some() {
            return self.tls_step(cx, id);
        }
        // TCP_INFO before the result: collecting it resets the counters.
        let syns = if self.diag {
            tcpinfo::syns(&p.sock)
        } else {
            None
        };
        let Some(addr) = self.addr_for(p.slot) else {
            return;
        };
        let mut result = net::connect_again(&p.sock, &addr);
        if result.is_none() && ev.is_error() {
            // An ICMP error that came back while connect() still held the
            // socket (a veth or a fast router answers within the call) is
            // pending in SO_ERROR while the state stays SYN_SENT, so the
            // second connect() says EALREADY: read it, as nc's select()
            // and getsockopt(SO_ERROR) do, instead of waiting a second for
            // the SYN's retransmission to fail again.
            if let Ok(Some(e)) = p.sock.take_error() {
                result = Some((ConnectResult::Failed(Errno::of(&e)), false));
            }
        }
        if let Some((r, reusable)) = result {
            self.connect_done(cx, id, r, reusable, syns);
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, id: usize) {
        match id {
            KEY_RATE => {
                self.rate_timer = None;
                return;
            }
            KEY_DEADLINE => return self.wait_expired(cx),
            KEY_STATUS => {
                if let Some(s) = self.status_line.as_mut() {
                    s.draw(self.done, self.total, self.open);
                    cx.timers
                        .add(Instant::now() + StatusLine::EVERY, KEY_STATUS);
                }
                return;
            }
            _ if id >= KEY_RETRY => {
                if let Some(w) = self.wait.as_mut() {
                    w.pending = w.pending.saturating_sub(1);
                    if !w.expired {
                        self.ready.push_back(id - KEY_RETRY);
                    }
                }
                return;
            }
            _ => {}
        }
        let Some(Some(p)) = self.probes.get_mut(id) else {
            return;
        };
        p.timer = None;
        if p.banner.is_some() {
            return self.banner_step(cx, id, true);
        }
        if p.tls.is_some() {
            let slot = p.slot;
            let wait = self.timeout.unwrap_or(TLS_SCAN_WAIT);
            let why = format!("no TLS answer within {} s", wait.as_secs());
            self.tls_out.insert(slot, Err(why));
            self.end_probe(cx, id, Found::TlsFailed, false);
            return;
        }
        if p.xprobe.is_none() {
            return self.connect_timer(cx, id);
        }
        let fd = p.sock.as_raw_fd();
        let Some(x) = p.xprobe.as_mut() else {
            return;
        };
        let tick = x.tick(fd);
        let found = match tick {
            Tick::Passed => Found::Open,
            Tick::Failed => Found::ProbeFailed,
            Tick::Later => {
                p.timer = Some(cx.timers.add(Instant::now() + XProbe::INTERVAL, id));
                return;
            }
        };
        if self.diag {
            let slot = p.slot;
            let facts = Facts {
                queued: errqueue::take(&p.sock),
                send_errno: p.xprobe.as_ref().and_then(|x| x.error).map(Errno),
                ..Facts::default()
            };
            self.keep_facts(slot, found, facts);
        }
        self.end_probe(cx, id, found, false);
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<()> {
        let more = self.start_probes(cx);
        if let Some(w) = self.wait.as_mut() {
            // The rounds that just failed wait for their pause.
            for (first, when) in w.due.drain(..) {
                cx.timers.add(when, KEY_RETRY + first);
            }
        }
        self.emit();
        // Starts the lookahead held back may go now that the report moved.
        let more = more
            || (self.in_flight < self.window
                && !self.fatal
                && self.rate_timer.is_none()
                && (!self.ready.is_empty() || self.cursor_can_move()));
        let finished = self.fatal || (self.exhausted && self.next_emit >= self.units_end);
        let waiting = self.rate_timer.is_some()
            || self
                .wait
                .as_ref()
                .is_some_and(|w| !w.expired && (w.pending > 0 || !w.due.is_empty()));
        // With nothing in flight and nothing to start, every slot that will
        // ever have a result has one: end rather than wait for nothing.
        if finished || (self.in_flight == 0 && !more && !waiting) {
            // Close whatever is still in flight (probes after a fatal error).
            for id in 0..self.probes.len() {
                if let Some(p) = self.take_probe(cx, id) {
                    self.release(p.sock, 0, false);
                }
            }
            if let Some(s) = self.status_line.as_mut() {
                s.clear();
            }
            return Step::Done(());
        }
        if let Some(s) = self.status_line.as_mut() {
            if let Some(at) = s.arm() {
                cx.timers.add(at, KEY_STATUS);
            }
        }
        if let Some(w) = self.wait.as_mut() {
            if let Some(at) = w.arm_deadline() {
                cx.timers.add(at, KEY_DEADLINE);
            }
        }
        if more { Step::Again } else { Step::Wait }
    }
}

/// UDP with `-v`: the probe's seconds (a scan always probes: it is `-z`).
fn probe_secs(cfg: &Config) -> Option<u32> {
    let o = &cfg.opts;
    (o.proto == Proto::Udp && o.verbose > 0).then(|| udp::probe_secs(o.timeout))
}

/// The window: `--window`, or 1 for `-i` and a fixed `-p`, or what the
/// open-file limit allows (after raising the soft limit to the hard one).
fn window(cfg: &Config, many: bool) -> usize {
    let o = &cfg.opts;
    if o.interval.is_some() || o.source_port.is_some() {
        return 1;
    }
    if let Some(w) = o.window {
        return w;
    }
    // SAFETY: getrlimit/setrlimit with a valid struct.
    let soft = unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 64;
        }
        if rl.rlim_cur < rl.rlim_max {
            let want = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
        rl.rlim_cur
    };
    let soft = usize::try_from(soft).unwrap_or(usize::MAX);
    let max = if many { MAX_WINDOW_MANY } else { MAX_WINDOW };
    soft.saturating_sub(FD_RESERVE).clamp(1, max)
}

/// Runs a `-z` scan of the destination (or the list of them) over `ports`.
pub fn run(
    rx: &mut Reactor,
    cfg: &Config,
    host: &OsStr,
    ports: &[u16],
) -> std::result::Result<Status, Abort> {
    let Some(&first) = ports.first() else {
        return Ok(1);
    };
    if let Target::Connect { hosts: Some(t), .. } = &cfg.target {
        let window = window(cfg, true);
        if window == 1 && cfg.opts.interval.is_some() {
            return sequential_with_interval(rx, cfg, ports, || Source::Many(t.iter()));
        }
        let mut s = Scanner::new(cfg, ports, Source::Many(t.iter()), window, tls_client(cfg)?);
        return finish_run(rx, &mut s);
    }
    // One lookup serves every port: the port text is always numeric, so
    // only the host can make it fail, and nc would fail on the first port.
    let first_s = first.to_string();
    let first_s = OsStr::new(&first_s);
    let addrs = match resolve::lookup(Some(host), Some(first_s), cfg.connect_opts().hints()) {
        Ok(a) => a,
        Err(e) => {
            report::getaddrinfo_host_failed(host, first_s, e);
            let diag = (cfg.opts.verbose >= 2 || cfg.opts.json).then(|| {
                diagnose::names::lookup_failed(host, first, e, cfg.connect_opts().hints())
            });
            if let (true, Some(d)) = (cfg.opts.verbose >= 2, &diag) {
                diagnosis::detail_line(d);
            }
            if cfg.opts.json {
                json_probe(&JsonProbe {
                    host,
                    ip: None,
                    port: first,
                    proto: cfg.opts.proto.name(),
                    service: &crate::net::ports::service_name(first, cfg.opts.proto),
                    state: "error",
                    errno: None,
                    error: Some(e.to_string()),
                    ms: 0,
                    diagnosis: diag.as_ref(),
                    banner: None,
                    tls: None,
                });
            }
            return Err(Abort::Failed);
        }
    };
    if addrs.is_empty() {
        return Ok(1);
    }
    let unit = || Unit {
        first: 0,
        nslots: 0,
        host: host.to_os_string(),
        ips: addrs
            .iter()
            .map(|ai| resolve::numeric_host(&ai.addr))
            .collect(),
        addrs: addrs.clone(),
        lookup: None,
        rtt: Rtt::default(),
    };
    let window = window(cfg, false);
    if window == 1 && cfg.opts.interval.is_some() {
        return sequential_with_interval(rx, cfg, ports, || Source::One(Some(unit())));
    }
    let mut s = Scanner::new(
        cfg,
        ports,
        Source::One(Some(unit())),
        window,
        tls_client(cfg)?,
    );
    finish_run(rx, &mut s)
}

fn finish_run(rx: &mut Reactor, s: &mut Scanner<'_>) -> std::result::Result<Status, Abort> {
    let r = rx.run(s);
    if let Some(line) = s.status_line.as_mut() {
        line.clear();
    }
    r?;
    if s.fatal {
        return Err(Abort::Failed);
    }
    if let Some(w) = &s.wait {
        return Ok(if w.missed || w.expired { 1 } else { 0 });
    }
    Ok(s.status)
}

/// `-zc`: the TLS client configuration, built once for the whole scan;
/// an unusable file or setting is reported (status 1).
fn tls_client(cfg: &Config) -> std::result::Result<Option<(&TlsConfig, Arc<ClientConfig>)>, Abort> {
    let Some(t) = &cfg.tls else {
        return Ok(None);
    };
    match crate::net::tls::setup::client(t) {
        Ok(c) => Ok(Some((t, c))),
        Err(e) => {
            e.print();
            Err(Abort::Failed)
        }
    }
}

/// `-i`: one port at a time, with the delay between ports (docs/compatibility.md departure 3).
/// Each destination of a list in turn, each port of it in turn.
fn sequential_with_interval<'a>(
    rx: &mut Reactor,
    cfg: &'a Config,
    ports: &'a [u16],
    source: impl Fn() -> Source<'a>,
) -> std::result::Result<Status, Abort> {
    let mut status = 1;
    let delay = Duration::from_secs(u64::from(cfg.opts.interval.unwrap_or(0)));
    // The destinations one by one: a scanner per (destination, port).
    let mut src = source();
    let mut first = true;
    loop {
        let unit = match &mut src {
            Source::One(u) => u.take(),
            Source::Many(h) => h.next().map(|h| make_unit(cfg, h, ports[0])),
        };
        let Some(unit) = unit else {
            break;
        };
        for port in ports.iter() {
            if !first {
                reactor::pause(rx, delay)?;
            }
            first = false;
            let one = std::slice::from_ref(port);
            let u = Unit {
                first: 0,
                nslots: 0,
                host: unit.host.clone(),
                addrs: unit.addrs.clone(),
                ips: unit.ips.clone(),
                lookup: unit.lookup,
                rtt: Rtt::default(),
            };
            let mut s = Scanner::new(cfg, one, Source::One(Some(u)), 1, tls_client(cfg)?);
            s.status_line = None;
            rx.run(&mut s)?;
            if s.fatal {
                return Err(Abort::Failed);
            }
            if s.status == 0 {
                status = 0;
            }
            if unit.lookup.is_some() {
                break; // its one line is printed
            }
        }
    }
    Ok(status)
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
