//! Zero-I/O scans (`-z`): many probes at once, nc's report in nc's order.
//!
//! A sequential nc tries each port of the list in turn and, for each port,
//! each address of the host until one connects (docs/compatibility.md
//! §3.2, §5). ncrab lays the same attempts out as numbered slots
//! (port-major, address-minor: [`slots`]) and runs a window of them at
//! once in the one event loop: each probe is a non-blocking connect with
//! its own deadline in the loop's timer heap ([`probe`]). Results are held
//! by slot and printed in slot order as soon as every earlier slot is
//! known ([`emit`]), with exactly the lines, the skipping (a port's later
//! addresses are not reported once one connects), the fatal errors and the
//! exit status a sequential nc would give. Only the wall time differs.
//! `-i` or a fixed source port (`-p`) makes the window 1.
//!
//! ncrab makes no attempt nc would not make: a port's next address is
//! probed only once the previous one has failed, as nc does, so a port that
//! answers on its first address gets one connection, not one per address.
//! Ports, not addresses, are what runs concurrently.
//!
//! The parts: [`slots`] is the order (no I/O, unit-tested), [`probe`] one
//! probe's states and the probes in flight, [`emit`] the report of each
//! verdict (nc's lines, `-vv`, `--json`), [`wait`] `--wait`'s rounds and
//! [`status`] the terminal's status line. The [`Scanner`] here ties them
//! to the loop: it starts what the slots allow within the window, steps
//! the probes on their events and timers, and hands each end to the slots
//! and the report. Each pass of the loop starts a bounded number of
//! probes, so the report streams and signals are seen promptly even when
//! every answer is instant.
//!
//! Back-pressure: when `socket()` fails with EMFILE/ENFILE the window
//! shrinks to what is in flight and the slot is retried when a probe ends.
//! With nothing in flight there is nothing to wait for: the address is
//! skipped silently, as nc skips any address whose `socket()` fails.
//!
//! UDP (`-uz`): the connect is immediate; with `-v` each connected port is
//! then probed with nc's `X` datagrams ([`crate::net::udp`]), its seconds
//! being the probe's own timers, so the probes of a window run side by
//! side. A refused probe prints nothing and sets the status to 1, a passed
//! one prints the success line and sets it to 0: the last connected port
//! decides, as in nc (docs/compatibility.md §4). A connected UDP socket
//! decides its port: the port's later addresses are not tried, as nc
//! breaks out of its loop.

mod emit;
mod probe;
mod slots;
mod status;
mod wait;

use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::event::Event;
use rustls::ClientConfig;
use socket2::{SockAddr, Socket};

use crate::cli::config::{Config, Target};
use crate::net::connect::ConnectOpts;
use crate::net::diagnose::banner::BannerRead;
use crate::net::pace::{Bucket, Rtt};
use crate::net::resolve::{self, AddrInfo};
use crate::net::targets::{Host, Hosts};
use crate::net::tls::TlsConfig;
use crate::net::udp::{Tick, XProbe};
use crate::net::{self, ConnectResult, Family, SetupError};
use crate::report::Errno;
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::{self, Ctx, Machine, Reactor, Step, TimerId};
use probe::{Ended, Kinds, Probe, Probes, State, is_fd_shortage};
use slots::{Found, Slots, Unit, Verdict};
use status::StatusLine;
use wait::Waiting;

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

/// Timer keys beyond any probe id.
const KEY_RATE: usize = usize::MAX;
const KEY_DEADLINE: usize = usize::MAX - 1;
const KEY_STATUS: usize = usize::MAX - 2;
/// `--wait`: a port's next round, `KEY_RETRY + its first slot`.
const KEY_RETRY: usize = 1 << 48;

/// Where the destinations come from: the one host, already looked up,
/// or a list walked lazily.
enum Source<'a> {
    One(Option<Unit>),
    Many(Hosts<'a>),
}

impl Source<'_> {
    /// The next destination (a list's is looked up now, for its
    /// `first_port`).
    fn next(&mut self, cfg: &Config, first_port: u16) -> Option<Unit> {
        match self {
            Source::One(u) => u.take(),
            Source::Many(hosts) => hosts.next().map(|h| make_unit(cfg, h, first_port)),
        }
    }
}

/// How long a connect may take (`-w N`, `-w auto`), and how fast they
/// start (`--rate`).
struct Pace {
    /// `-w N`: every connect's budget.
    timeout: Option<Duration>,
    /// `-w auto`: each host's budget is learned ([`Rtt`]).
    auto: bool,
    /// `--rate`: the connects allowed to start, and its wake-up.
    bucket: Option<Bucket>,
    rate_timer: Option<TimerId>,
}

impl Pace {
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

    /// The connect budget of a probe to `unit`'s host (`waiting`: under
    /// `--wait`).
    fn budget(&self, unit: Option<&Unit>, waiting: bool) -> Option<Duration> {
        if self.auto {
            return Some(unit.map_or(Rtt::INITIAL, |u| u.rtt.timeout()));
        }
        match (self.timeout, waiting) {
            // `--wait` without -w: a silent host must not stall a round.
            (None, true) => Some(Rtt::INITIAL),
            (t, _) => t,
        }
    }
}

/// A scan in the loop: the slots' order, the probes in flight, the report.
struct Scanner<'a> {
    cfg: &'a Config,
    /// The connect options of every probe, derived once.
    conn: ConnectOpts,
    source: Source<'a>,
    slots: Slots<'a>,
    probes: Probes,
    kinds: Kinds<'a>,
    emit: emit::Emit<'a>,
    pace: Pace,
    /// The most probes in flight.
    window: usize,
    /// The status line on a terminal.
    status_line: Option<StatusLine>,
}

impl<'a> Scanner<'a> {
    fn new(
        cfg: &'a Config,
        ports: &'a [u16],
        source: Source<'a>,
        window: usize,
        tls: TlsClient<'a>,
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
        let kinds = Kinds::new(cfg, conn.timeout, tls);
        let wait = o
            .wait_for
            .map(|s| Waiting::new(now + Duration::from_secs(u64::from(s))));
        Scanner {
            cfg,
            pace: Pace {
                timeout: conn.timeout,
                auto: o.timeout_auto,
                bucket: o.rate.map(|r| Bucket::new(r, now)),
                rate_timer: None,
            },
            conn,
            source,
            slots: Slots::new(ports, wait),
            probes: Probes::new(cfg),
            emit: emit::Emit::new(cfg, kinds.diag, kinds.udp_secs.is_some()),
            kinds,
            window,
            status_line: (!o.no_progress)
                .then(|| StatusLine::on_terminal(now, total))
                .flatten(),
        }
    }

    /// Starts probes until the window is full or this pass's share is
    /// done. Returns true when more could be started at once.
    fn start_probes(&mut self, cx: &mut Ctx<'_>) -> bool {
        let mut started = 0;
        while self.probes.in_flight() < self.window {
            if started == STARTS_PER_PASS {
                return true;
            }
            if self.pace.rate_timer.is_some() {
                return false;
            }
            let (cfg, first_port, source) = (self.cfg, self.slots.port(0), &mut self.source);
            let Some(slot) = self.slots.next_slot(|| source.next(cfg, first_port)) else {
                return false;
            };
            if self.slots.may_start(slot) == Some(false) {
                continue;
            }
            if !self.pace.rate_allows(cx) {
                self.slots.put_back(slot);
                return false;
            }
            started += 1;
            if !self.start(cx, slot) {
                // Back-pressure: the window is what is in flight now; the
                // slot goes first when a probe ends.
                self.slots.put_back(slot);
                self.window = self.probes.in_flight().max(1);
                return false;
            }
        }
        false
    }

    /// Starts the probe of `slot`; an instant answer is recorded at once.
    /// False when out of file descriptors (or epoll entries) while probes
    /// are in flight: retry the slot when one ends.
    fn start(&mut self, cx: &mut Ctx<'_>, slot: usize) -> bool {
        let Some((u, _, a)) = self.slots.split(slot) else {
            return true;
        };
        let Some(ai) = u.addrs.get(a).cloned() else {
            return true;
        };
        let started = Instant::now();
        let (sock, reused) = match self.probes.socket_for(&ai) {
            Ok(s) => s,
            Err(e) if is_fd_shortage(&e) && self.probes.in_flight() > 0 => return false,
            // Nothing in flight to wait for (or another error): nc skips
            // the address without a word.
            Err(_) => {
                self.finish(slot, Found::Skipped, started);
                return true;
            }
        };
        if !reused {
            let hints = self.conn.hints();
            if let Err(e) = net::prepare_client(&sock, &ai.addr, hints, &self.conn.sock) {
                self.finish(slot, Found::Setup(e), started);
                return true;
            }
            if self.probes.recycle() {
                net::pin_ephemeral_port(&sock, ai.family);
            }
        }
        let Some(addr) = self.slots.addr_for(slot) else {
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
                syns = probe::syns(&sock, self.kinds.diag);
                net::connect_again(&sock, &addr)
            }
        };
        if let Some((r, reusable)) = result {
            if matches!(r, ConnectResult::Connected) && self.kinds.tls.is_some() {
                self.start_tls(cx, slot, sock, started);
                return true;
            }
            if matches!(r, ConnectResult::Connected) && self.kinds.banner.is_some() {
                return self.wait_banner(cx, slot, sock, started);
            }
            let e = probe::connect_ended(&sock, r, syns, immediate, self.kinds.diag, reusable);
            let (found, reusable) = self.settle(slot, e);
            self.finish(slot, found, started);
            self.probes.release(sock, ai.family, reusable);
            return true;
        }
        let id = self.probes.free_id();
        let fd = sock.as_raw_fd();
        if let Err(e) = cx.registry.register(
            &mut mio::unix::SourceFd(&fd),
            probe::token(id),
            Interest::WRITABLE,
        ) {
            self.probes.unused(id);
            if self.probes.in_flight() > 0 {
                return false;
            }
            let err = SetupError::Option(Some("epoll"), Errno::of(&e));
            self.finish(slot, Found::Setup(err), started);
            return true;
        }
        let waiting = self.slots.wait().is_some();
        let timer = self
            .pace
            .budget(self.slots.unit(slot), waiting)
            .map(|t| cx.timers.add(started + t, probe::timer_key(id)));
        self.probes.track(
            id,
            Probe::new(sock, slot, started, timer, State::Connecting),
        );
        true
    }

    /// A UDP socket connects at once: without `-v` its port counts as
    /// open; with it, nc's `X` probe decides, its later `X`s sent by timer
    /// (the socket itself needs no events).
    fn start_udp(&mut self, cx: &mut Ctx<'_>, slot: usize, sock: Socket, started: Instant) {
        let Some(secs) = self.kinds.udp_secs else {
            return self.finish(slot, Found::Open, started);
        };
        let (x, tick) = XProbe::start(sock.as_raw_fd(), secs);
        let found = match tick {
            Tick::Passed => Found::Open,
            Tick::Failed => Found::ProbeFailed,
            Tick::Later => {
                let id = self.probes.free_id();
                let timer = cx
                    .timers
                    .add(Instant::now() + XProbe::INTERVAL, probe::timer_key(id));
                return self.probes.track(
                    id,
                    Probe::new(sock, slot, started, Some(timer), State::Udp(x)),
                );
            }
        };
        let e = probe::udp_ended(&sock, &x, found, self.kinds.diag);
        let (found, _) = self.settle(slot, e);
        self.finish(slot, found, started);
    }

    /// `-zc`: the port took the connection at once; its TLS handshake
    /// starts on the same socket, with its own deadline.
    fn start_tls(&mut self, cx: &mut Ctx<'_>, slot: usize, sock: Socket, started: Instant) {
        let Some(u) = self.slots.unit(slot) else {
            return;
        };
        let tp = match self.kinds.tls_probe(&u.host) {
            None => return,
            Some(Ok(tp)) => tp,
            Some(Err(why)) => {
                let (found, _) = self.settle(slot, Ended::tls_failed(why));
                return self.finish(slot, found, started);
            }
        };
        let id = self.probes.free_id();
        let timer = Some(
            cx.timers
                .add(Instant::now() + self.kinds.tls_wait(), probe::timer_key(id)),
        );
        self.probes
            .track(id, Probe::new(sock, slot, started, timer, State::Tls(tp)));
        self.tls_step(cx, id);
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
        let id = self.probes.free_id();
        let fd = sock.as_raw_fd();
        if cx
            .registry
            .register(
                &mut mio::unix::SourceFd(&fd),
                probe::token(id),
                Interest::READABLE,
            )
            .is_err()
        {
            // No banner then: the port is open all the same.
            self.probes.unused(id);
            let (found, _) = self.settle(slot, Ended::open());
            self.finish(slot, found, started);
            return true;
        }
        let timer = Some(cx.timers.add(
            Instant::now() + self.kinds.banner_wait(),
            probe::timer_key(id),
        ));
        self.probes.track(
            id,
            Probe::new(
                sock,
                slot,
                started,
                timer,
                State::Banner(BannerRead::new(started.elapsed())),
            ),
        );
        self.banner_step(cx, id, false);
        true
    }

    /// Reads what probe `id`'s server has sent; ends the probe once its
    /// banner is known.
    fn banner_step(&mut self, cx: &mut Ctx<'_>, id: usize, timed_out: bool) {
        let wait = self.kinds.banner_wait();
        let Some(p) = self.probes.get_mut(id) else {
            return;
        };
        if let Some(e) = p.banner_step(timed_out, wait) {
            self.end(cx, id, e);
        }
    }

    /// Drives probe `id`'s handshake as far as it goes now.
    fn tls_step(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let Some(t) = self.kinds.tls.as_ref().map(|(t, _)| *t) else {
            return;
        };
        let Some(p) = self.probes.get_mut(id) else {
            return;
        };
        if let Some(e) = p.tls_step(cx, id, t) {
            self.end(cx, id, e);
        }
    }

    /// A probe's connect has its answer: the TLS handshake or the banner
    /// wait when asked, else the end.
    fn connected(
        &mut self,
        cx: &mut Ctx<'_>,
        id: usize,
        r: ConnectResult,
        reusable: bool,
        syns: Option<net::diagnose::tcpinfo::Syns>,
    ) {
        let open = matches!(r, ConnectResult::Connected);
        let Some(p) = self.probes.get_mut(id) else {
            return;
        };
        if open && self.kinds.tls.is_some() {
            let Some(u) = self.slots.unit(p.slot) else {
                return;
            };
            match self.kinds.tls_probe(&u.host) {
                Some(Ok(tp)) => {
                    p.start_tls(cx, id, tp, self.kinds.tls_wait());
                    self.tls_step(cx, id);
                }
                Some(Err(why)) => self.end(cx, id, Ended::tls_failed(why)),
                None => {}
            }
            return;
        }
        if open && self.kinds.banner.is_some() {
            return if p.read_banner(cx, id, self.kinds.banner_wait()) {
                self.banner_step(cx, id, false)
            } else {
                self.end(cx, id, Ended::open())
            };
        }
        let e = probe::connect_ended(&p.sock, r, syns, false, self.kinds.diag, reusable);
        self.end(cx, id, e);
    }

    /// A TCP probe's timer: the answer may have come while this pass
    /// handled other events, so the socket is asked first; then `-w auto`
    /// may try once more; else the port timed out.
    fn connect_timer(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let Some(p) = self.probes.get(id) else {
            return;
        };
        let syns = probe::syns(&p.sock, self.kinds.diag);
        let answer = self
            .slots
            .addr_for(p.slot)
            .and_then(|addr| net::connect_again(&p.sock, &addr));
        if let Some((r, reusable)) = answer {
            return self.connected(cx, id, r, reusable, syns);
        }
        if self.retry_lost(cx, id) {
            return;
        }
        if let Some(p) = self.probes.get(id) {
            let e = p.timed_out(syns, self.kinds.diag);
            self.end(cx, id, e);
        }
    }

    /// `-w auto`: a probe timed out on a host that has answered before,
    /// so its SYN or the answer was probably lost: try the slot once more.
    fn retry_lost(&mut self, cx: &mut Ctx<'_>, id: usize) -> bool {
        let Some(slot) = self.probes.get(id).map(|p| p.slot) else {
            return false;
        };
        if !self.pace.auto || !self.slots.retry_lost(slot) {
            return false;
        }
        if let Some(p) = self.probes.take(cx, id) {
            self.probes.release(p.sock, 0, false);
        }
        true
    }

    /// Keeps what an end left for the report; its verdict and whether its
    /// socket may be reused remain.
    fn settle(&mut self, slot: usize, e: Ended) -> (Found, bool) {
        if let Some(f) = e.facts {
            self.emit
                .keep_facts(self.slots.ip_of(slot), slot, e.found, f);
        }
        if let Some(t) = e.tls {
            self.emit.keep_tls(slot, t);
        }
        (e.found, e.reusable)
    }

    /// Ends probe `id` with `e`.
    fn end(&mut self, cx: &mut Ctx<'_>, id: usize, e: Ended) {
        let Some(slot) = self.probes.get(id).map(|p| p.slot) else {
            return;
        };
        let (found, reusable) = self.settle(slot, e);
        let Some(p) = self.probes.take(cx, id) else {
            return;
        };
        let family = self
            .slots
            .split(p.slot)
            .and_then(|(u, _, a)| u.addrs.get(a))
            .map_or(0, |ai| ai.family);
        self.finish(p.slot, found, p.started);
        self.probes.release(p.sock, family, reusable);
    }

    /// Records what `slot`'s attempt, started at `started`, found.
    fn finish(&mut self, slot: usize, found: Found, started: Instant) {
        let elapsed = started.elapsed();
        // `-w auto`: an answer (accepted or refused) is a round trip.
        let answer = matches!(found, Found::Open)
            || matches!(found, Found::Failed(e) if e.0 == libc::ECONNREFUSED);
        if self.pace.auto && answer {
            if let Some(u) = self.slots.unit_mut(slot) {
                u.rtt.sample(elapsed);
            }
        }
        self.slots
            .finish(slot, Verdict { found, elapsed }, Instant::now());
    }

    /// `--wait`: the deadline passed; the probes in flight stop, and every
    /// port not yet open is decided by its last failure.
    fn wait_expired(&mut self, cx: &mut Ctx<'_>) {
        if self.slots.wait().is_none() {
            return;
        }
        let mut stopped = Vec::new();
        for id in self.probes.ids() {
            if let Some(p) = self.probes.take(cx, id) {
                stopped.push((p.slot, p.started.elapsed()));
            }
        }
        self.slots.wait_over(&stopped);
    }
}

impl Machine for Scanner<'_> {
    type Output = ();

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: &Event) {
        let Some(id) = self.probes.by_token(ev.token()) else {
            return;
        };
        let Some(p) = self.probes.get(id) else {
            return;
        };
        match p.state {
            State::Banner(_) => return self.banner_step(cx, id, false),
            State::Tls(_) => return self.tls_step(cx, id),
            // Not registered: its events are its timer's.
            State::Udp(_) => return,
            State::Connecting => {}
        }
        // TCP_INFO before the result: collecting it resets the counters.
        let syns = probe::syns(&p.sock, self.kinds.diag);
        let Some(addr) = self.slots.addr_for(p.slot) else {
            return;
        };
        if let Some((r, reusable)) = p.connect_answer(&addr, ev.is_error()) {
            self.connected(cx, id, r, reusable, syns);
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, key: usize) {
        match key {
            KEY_RATE => {
                self.pace.rate_timer = None;
                return;
            }
            KEY_DEADLINE => return self.wait_expired(cx),
            KEY_STATUS => {
                if let Some(s) = self.status_line.as_mut() {
                    s.draw(self.slots.counts());
                    cx.timers
                        .add(Instant::now() + StatusLine::EVERY, KEY_STATUS);
                }
                return;
            }
            _ if key >= KEY_RETRY => return self.slots.next_round(key - KEY_RETRY),
            _ => {}
        }
        let Some(id) = self.probes.by_timer(key) else {
            return;
        };
        let Some(p) = self.probes.get_mut(id) else {
            return;
        };
        p.timer = None;
        match p.state {
            State::Banner(_) => self.banner_step(cx, id, true),
            State::Tls(ref tp) => {
                let wait = self.kinds.tls_wait();
                let e = match tp.preamble_timed_out(wait) {
                    Some(f) => Ended::tls_failed(crate::report::tls::probe_failure(&f)),
                    None => Probe::tls_timed_out(wait),
                };
                self.end(cx, id, e);
            }
            State::Connecting => self.connect_timer(cx, id),
            State::Udp(_) => {
                if let Some(e) = p.udp_tick(cx, id, self.kinds.diag) {
                    self.end(cx, id, e);
                }
            }
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<()> {
        let more = self.start_probes(cx);
        if let Some(w) = self.slots.wait_mut() {
            // The rounds that just failed wait for their pause.
            for (first, when) in w.take_due() {
                cx.timers.add(when, KEY_RETRY + first);
            }
        }
        self.emit.emit(&mut self.slots, &self.conn);
        // Starts the lookahead held back may go now that the report moved.
        let more = more
            || (self.probes.in_flight() < self.window
                && !self.slots.fatal()
                && self.pace.rate_timer.is_none()
                && (self.slots.has_ready() || self.slots.cursor_can_move()));
        let finished = self.slots.finished();
        let waiting =
            self.pace.rate_timer.is_some() || self.slots.wait().is_some_and(Waiting::waiting);
        // With nothing in flight and nothing to start, every slot that will
        // ever have a result has one: end rather than wait for nothing.
        if finished || (self.probes.in_flight() == 0 && !more && !waiting) {
            // Close whatever is still in flight (probes after a fatal error).
            for id in self.probes.ids() {
                if let Some(p) = self.probes.take(cx, id) {
                    self.probes.release(p.sock, 0, false);
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
        if let Some(w) = self.slots.wait_mut() {
            if let Some(at) = w.arm_deadline() {
                cx.timers.add(at, KEY_DEADLINE);
            }
        }
        if more { Step::Again } else { Step::Wait }
    }
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
    match addrs {
        Ok(a) => unit(text, a),
        Err(e) => Unit {
            lookup: Some((e, first_port)),
            ..unit(text, Vec::new())
        },
    }
}

/// The unit of `host` at `addrs`.
fn unit(host: OsString, addrs: Vec<AddrInfo>) -> Unit {
    Unit {
        first: 0,
        nslots: 0,
        ips: addrs
            .iter()
            .map(|ai| resolve::numeric_host(&ai.addr))
            .collect(),
        host,
        addrs,
        lookup: None,
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
pub fn run(rx: &mut Reactor, cfg: &Config, host: &OsStr, ports: &[u16]) -> Result<Status, Abort> {
    let Some(&first) = ports.first() else {
        return Ok(1);
    };
    if let Target::Connect { hosts: Some(t), .. } = &cfg.target {
        let window = window(cfg, true);
        if window == 1 && cfg.opts.interval.is_some() {
            return sequential_with_interval(rx, cfg, ports, Source::Many(t.iter()));
        }
        let mut s = Scanner::new(cfg, ports, Source::Many(t.iter()), window, tls_client(cfg)?);
        return finish_run(rx, &mut s);
    }
    // One lookup serves every port: the port text is always numeric, so
    // only the host can make it fail, and nc would fail on the first port.
    let first_s = first.to_string();
    let hints = cfg.connect_opts().hints();
    let addrs = match resolve::lookup(Some(host), Some(OsStr::new(&first_s)), hints) {
        Ok(a) => a,
        Err(e) => {
            emit::lookup_failed(cfg, hints, host, first, e);
            return Err(Abort::Failed);
        }
    };
    if addrs.is_empty() {
        return Ok(1);
    }
    let one = Source::One(Some(unit(host.to_os_string(), addrs)));
    let window = window(cfg, false);
    if window == 1 && cfg.opts.interval.is_some() {
        return sequential_with_interval(rx, cfg, ports, one);
    }
    let mut s = Scanner::new(cfg, ports, one, window, tls_client(cfg)?);
    finish_run(rx, &mut s)
}

fn finish_run(rx: &mut Reactor, s: &mut Scanner<'_>) -> Result<Status, Abort> {
    let r = rx.run(s);
    if let Some(line) = s.status_line.as_mut() {
        line.clear();
    }
    r?;
    if s.slots.fatal() {
        return Err(Abort::Failed);
    }
    if let Some(w) = s.slots.wait() {
        return Ok(if s.emit.cert_failed() { 1 } else { w.status() });
    }
    Ok(s.emit.status())
}

/// `-zc`: the TLS options and the client configuration.
type TlsClient<'a> = Option<(&'a TlsConfig, Arc<ClientConfig>)>;

/// `-zc`: the TLS client configuration, built once for the whole scan;
/// an unusable file or setting is reported (status 1).
fn tls_client(cfg: &Config) -> Result<TlsClient<'_>, Abort> {
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

/// `-i`: one port at a time, with the delay between ports
/// (docs/compatibility.md departure 3): each destination of `src` in
/// turn, each port of it in turn, a scanner for each. The TLS client
/// configuration is built once, when the first port needs it.
fn sequential_with_interval<'a>(
    rx: &mut Reactor,
    cfg: &'a Config,
    ports: &'a [u16],
    mut src: Source<'a>,
) -> Result<Status, Abort> {
    let mut status = 1;
    let mut cert_failed = false;
    let delay = Duration::from_secs(u64::from(cfg.opts.interval.unwrap_or(0)));
    let mut tls: Option<TlsClient<'a>> = None;
    let mut first = true;
    while let Some(unit) = src.next(cfg, ports[0]) {
        for port in ports {
            if !first {
                reactor::pause(rx, delay)?;
            }
            first = false;
            let client = match &tls {
                Some(c) => c.clone(),
                None => tls.insert(tls_client(cfg)?).clone(),
            };
            let one = std::slice::from_ref(port);
            let mut s = Scanner::new(cfg, one, Source::One(Some(unit.fresh())), 1, client);
            s.status_line = None;
            rx.run(&mut s)?;
            if s.slots.fatal() {
                return Err(Abort::Failed);
            }
            if s.emit.status() == 0 {
                status = 0;
            }
            cert_failed |= s.emit.cert_failed();
            if unit.lookup.is_some() {
                break; // its one line is printed
            }
        }
    }
    Ok(if cert_failed { 1 } else { status })
}
