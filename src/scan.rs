//! Zero-I/O scans (`-z`): many probes at once, nc's report in nc's order.
//!
//! A sequential nc tries each port of the list in turn and, for each port,
//! each address of the host until one connects (B §3.2, §5). ncrab lays
//! the same attempts out as numbered slots (port-major, address-minor) and
//! runs a window of them at once in the one event loop: each probe is a
//! non-blocking connect with its own deadline in the loop's timer heap.
//! Results are held by slot and printed in slot order as soon as every
//! earlier slot is known, with exactly the lines, the skipping (a port's
//! later addresses are not reported once one connects), the fatal errors
//! and the exit status a sequential nc would give. Only the wall time
//! differs. `-i` or a fixed source port (`-p`) makes the window 1.
//!
//! Back-pressure: when `socket()` fails with EMFILE/ENFILE the window
//! shrinks to what is in flight and the slot is retried when a probe ends.
//!
//! UDP (`-uz`): the connect is immediate; with `-v` each connected port is
//! then probed with nc's `X` datagrams ([`crate::udp`]), its seconds being
//! the probe's own timers, so the probes of a window run side by side. A
//! refused probe prints nothing and sets the status to 1, a passed one
//! prints the success line and sets it to 0: the last connected port
//! decides, as in nc (B §4).

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Interest, Token};
use socket2::{SockAddr, Socket};

use crate::config::Config;
use crate::connect::{self, client_hints, connect_timeout};
use crate::exit::{Abort, Status};
use crate::net::{self, ConnectResult, SetupError};
use crate::reactor::{self, Ctx, Machine, Reactor, Step, TimerId};
use crate::report::{self, Dest, Errno};
use crate::resolve::{self, AddrInfo};
use crate::udp::{self, Tick, XProbe};

/// The most probes in flight when the open-file limit allows more.
const MAX_WINDOW: usize = 1024;
/// File descriptors kept free for everything else.
const FD_RESERVE: usize = 16;

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
}

struct Scanner<'a> {
    cfg: &'a Config,
    host: &'a str,
    ports: &'a [u16],
    addrs: Vec<AddrInfo>,
    results: Vec<Option<Result>>,
    /// A port decided by one of its addresses (a known success, or a UDP
    /// socket that connected): its later addresses are moot.
    port_open: Vec<bool>,
    /// UDP with `-v`: probe each connected port, for this many seconds.
    probe_secs: Option<u32>,
    next_start: usize,
    next_emit: usize,
    probes: Vec<Option<Probe>>,
    free: Vec<usize>,
    in_flight: usize,
    window: usize,
    timeout: Option<Duration>,
    status: Status,
    fatal: bool,
    setup_failed: bool,
}

impl Scanner<'_> {
    fn slots(&self) -> usize {
        self.ports.len() * self.addrs.len()
    }

    fn split(&self, slot: usize) -> (usize, usize) {
        (slot / self.addrs.len(), slot % self.addrs.len())
    }

    fn addr_for(&self, slot: usize) -> (AddrInfo, SockAddr) {
        let (p, a) = self.split(slot);
        let ai = self.addrs[a].clone();
        // Only inet addresses are kept by `run`.
        let addr = match ai.addr.as_socket() {
            Some(mut sa) => {
                sa.set_port(self.ports[p]);
                SockAddr::from(sa)
            }
            None => ai.addr.clone(),
        };
        (ai, addr)
    }

    /// Records a result; a known success makes the port's later slots moot.
    fn finish_slot(&mut self, slot: usize, found: Found, started: Instant) {
        if let Found::Setup(_) = found {
            // Nothing after a fatal error is ever reported: start no more.
            self.setup_failed = true;
        }
        if let Found::Open | Found::ProbeFailed = found {
            let (p, _) = self.split(slot);
            self.port_open[p] = true;
        }
        self.results[slot] = Some(Result {
            found,
            elapsed: started.elapsed(),
        });
    }

    /// Whether an earlier address of the same port already connected.
    /// Slots start in order, so whatever decided the port was earlier.
    fn moot(&self, slot: usize) -> bool {
        let (p, _) = self.split(slot);
        self.port_open[p]
    }

    /// Starts probes until the window is full.
    fn start_probes(&mut self, cx: &mut Ctx<'_>) {
        let hints = client_hints(self.cfg);
        while !self.setup_failed && self.in_flight < self.window && self.next_start < self.slots() {
            let slot = self.next_start;
            if self.moot(slot) {
                self.next_start += 1;
                continue;
            }
            let (ai, addr) = self.addr_for(slot);
            let started = Instant::now();
            let sock = match net::socket(ai.family, ai.socktype, ai.protocol) {
                Ok(s) => s,
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                        && self.in_flight > 0 =>
                {
                    // Back-pressure: retry this slot when a probe ends.
                    self.window = self.in_flight;
                    return;
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.finish_slot(
                        slot,
                        Found::Setup(SetupError::Option(Some("socket"), Errno::of(&e))),
                        started,
                    );
                    self.next_start += 1;
                    continue;
                }
                Err(_) => {
                    self.finish_slot(slot, Found::Skipped, started);
                    self.next_start += 1;
                    continue;
                }
            };
            self.next_start += 1;
            if let Err(e) = net::prepare_client(&sock, ai.family, hints, &self.cfg.opts) {
                self.finish_slot(slot, Found::Setup(e), started);
                continue;
            }
            let found = match net::start_connect(&sock, &addr) {
                Ok(true) if ai.socktype == libc::SOCK_STREAM => {
                    Some(net::check_self_connect(&sock))
                }
                Ok(true) => Some(ConnectResult::Connected),
                Err(errno) => Some(ConnectResult::Failed(errno)),
                Ok(false) => None,
            };
            let mut xprobe = None;
            match (found, self.probe_secs) {
                (Some(ConnectResult::Connected), Some(secs)) => {
                    // A connected UDP socket: the port is decided here.
                    let (p, _) = self.split(slot);
                    self.port_open[p] = true;
                    match XProbe::start(sock.as_raw_fd(), secs) {
                        (_, Tick::Passed) => self.finish_slot(slot, Found::Open, started),
                        (_, Tick::Failed) => self.finish_slot(slot, Found::ProbeFailed, started),
                        (x, Tick::Later) => xprobe = Some(x),
                    }
                    if xprobe.is_none() {
                        continue;
                    }
                }
                (Some(r), _) => {
                    self.finish_slot(slot, to_found(r), started);
                    if self.cfg.opts.source_port.is_some() {
                        let _ = sock.set_linger(Some(Duration::ZERO));
                    }
                    continue;
                }
                (None, _) => {}
            }
            let id = self.free.pop().unwrap_or_else(|| {
                self.probes.push(None);
                self.probes.len() - 1
            });
            if let Some(x) = xprobe {
                // The probe's next `X` is a timer; the socket needs no events.
                let timer = Some(cx.timers.add(Instant::now() + XProbe::INTERVAL, id));
                self.probes[id] = Some(Probe {
                    sock,
                    slot,
                    started,
                    timer,
                    xprobe: Some(x),
                });
                self.in_flight += 1;
                continue;
            }
            let fd = sock.as_raw_fd();
            let token = Token(reactor::PROBE_BASE + id);
            if let Err(e) =
                cx.registry
                    .register(&mut mio::unix::SourceFd(&fd), token, Interest::WRITABLE)
            {
                self.free.push(id);
                if self.in_flight > 0 {
                    self.window = self.in_flight;
                    self.next_start -= 1;
                    return;
                }
                self.finish_slot(
                    slot,
                    Found::Setup(SetupError::Option(Some("epoll"), Errno::of(&e))),
                    started,
                );
                continue;
            }
            let timer = self.timeout.map(|t| cx.timers.add(started + t, id));
            self.probes[id] = Some(Probe {
                sock,
                slot,
                started,
                timer,
                xprobe: None,
            });
            self.in_flight += 1;
        }
    }

    /// Ends probe `id` with `found`.
    fn end_probe(&mut self, cx: &mut Ctx<'_>, id: usize, found: Found) {
        let Some(p) = self.probes.get_mut(id).and_then(Option::take) else {
            return;
        };
        if p.xprobe.is_none() {
            let fd = p.sock.as_raw_fd();
            let _ = cx.registry.deregister(&mut mio::unix::SourceFd(&fd));
        }
        if let Some(t) = p.timer {
            cx.timers.cancel(t);
        }
        self.in_flight -= 1;
        self.free.push(id);
        self.finish_slot(p.slot, found, p.started);
        if self.cfg.opts.source_port.is_some() {
            // A fixed source port: close abortively so no TIME_WAIT is left
            // to block the same port's next probe (departure 8).
            let _ = p.sock.set_linger(Some(Duration::ZERO));
        }
        // The socket closes here, as nc closes it after a -z connect.
    }

    /// Prints every result whose predecessors are all known. Moot slots
    /// (after an address of the same port connected) never stall this: the
    /// earlier success is printed first and skips past them.
    fn emit(&mut self) {
        while self.next_emit < self.slots() {
            let slot = self.next_emit;
            let Some(r) = self.results[slot] else {
                return;
            };
            self.next_emit += 1;
            self.report(slot, r);
            match r.found {
                Found::Open | Found::ProbeFailed => {
                    self.status = if let Found::Open = r.found { 0 } else { 1 };
                    let (p, _) = self.split(slot);
                    self.next_emit = (p + 1) * self.addrs.len();
                }
                Found::Setup(_) => {
                    self.fatal = true;
                    return;
                }
                _ => {}
            }
        }
    }

    /// nc's line for one attempt, plus `-vv` and `--json` when asked.
    fn report(&self, slot: usize, r: Result) {
        let o = &self.cfg.opts;
        let (p, a) = self.split(slot);
        let port = self.ports[p];
        let ip = resolve::numeric_host(&self.addrs[a].addr);
        let port_s = port.to_string();
        let proto = o.proto.name();
        let dest = Dest {
            host: self.host,
            ip: if o.numeric { None } else { Some(&ip) },
        };
        let verbose = o.verbose > 0;
        match r.found {
            Found::Open if verbose => connect::report_success(self.cfg, self.host, port, Some(&ip)),
            Found::Failed(errno) if verbose => report::connect_failed(&dest, &port_s, proto, errno),
            Found::TimedOut if verbose => report::connect_timed_out(&dest, &port_s, proto),
            Found::Setup(e) => e.report(),
            _ => {}
        }
        if o.verbose >= 2 {
            let udp = self.probe_secs.is_some();
            match r.found {
                Found::Open if udp => report::udp_probe_detail(r.elapsed, true),
                Found::ProbeFailed => report::udp_probe_detail(r.elapsed, false),
                Found::Open => report::probe_detail(r.elapsed, None, false),
                Found::Failed(errno) => report::probe_detail(r.elapsed, Some(errno), false),
                Found::TimedOut => report::probe_detail(r.elapsed, None, true),
                _ => {}
            }
        }
        if o.json && !matches!(r.found, Found::Skipped) {
            self.json_line(port, &ip, r);
        }
    }

    fn json_line(&self, port: u16, ip: &str, r: Result) {
        let proto = self.cfg.opts.proto;
        let (state, errno) = match r.found {
            Found::Open => ("open", None),
            Found::Failed(e) if e.0 == libc::ECONNREFUSED => ("closed", Some(e)),
            Found::ProbeFailed => ("closed", Some(Errno(libc::ECONNREFUSED))),
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
            Found::Setup(SetupError::Bind(e) | SetupError::Option(_, e)) => ("error", Some(e)),
            Found::Setup(SetupError::Lookup(_)) | Found::Skipped => ("error", None),
        };
        json_probe(&JsonProbe {
            host: self.host,
            ip: Some(ip),
            port,
            proto: proto.name(),
            service: crate::ports::service_name(port, proto),
            state,
            errno: errno.map(Errno::name),
            error: match (r.found, errno) {
                (Found::TimedOut, _) => Some("timed out".to_string()),
                (_, Some(e)) => Some(e.to_string()),
                _ => None,
            },
            ms: r.elapsed.as_millis(),
        });
    }
}

/// One `--json` line.
pub struct JsonProbe<'a> {
    pub host: &'a str,
    pub ip: Option<&'a str>,
    pub port: u16,
    pub proto: &'a str,
    pub service: String,
    pub state: &'a str,
    pub errno: Option<&'a str>,
    pub error: Option<String>,
    pub ms: u128,
}

/// Prints one probe as a JSON object on its own line of stdout.
pub fn json_probe(p: &JsonProbe<'_>) {
    let mut s = String::with_capacity(160);
    let opt = |s: &mut String, v: Option<&str>| match v {
        Some(v) => report::json_str(s, v),
        None => s.push_str("null"),
    };
    s.push_str("{\"host\":");
    report::json_str(&mut s, p.host);
    s.push_str(",\"ip\":");
    opt(&mut s, p.ip);
    s.push_str(&format!(",\"port\":{},\"proto\":", p.port));
    report::json_str(&mut s, p.proto);
    s.push_str(",\"service\":");
    report::json_str(&mut s, &p.service);
    s.push_str(",\"state\":");
    report::json_str(&mut s, p.state);
    s.push_str(",\"errno\":");
    opt(&mut s, p.errno);
    s.push_str(",\"error\":");
    opt(&mut s, p.error.as_deref());
    s.push_str(&format!(",\"ms\":{}}}", p.ms));
    report::stdout_line(&s);
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
        if let Some(r) = net::finish_connect(&p.sock) {
            self.end_probe(cx, id, to_found(r));
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let Some(Some(p)) = self.probes.get_mut(id) else {
            return;
        };
        p.timer = None;
        let fd = p.sock.as_raw_fd();
        let Some(x) = p.xprobe.as_mut() else {
            self.end_probe(cx, id, Found::TimedOut);
            return;
        };
        match x.tick(fd) {
            Tick::Passed => self.end_probe(cx, id, Found::Open),
            Tick::Failed => self.end_probe(cx, id, Found::ProbeFailed),
            Tick::Later => p.timer = Some(cx.timers.add(Instant::now() + XProbe::INTERVAL, id)),
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<()> {
        self.start_probes(cx);
        self.emit();
        let finished = self.fatal || self.next_emit >= self.slots();
        // With nothing in flight every started slot has its result, so an
        // unfinished report here cannot progress: end rather than hang.
        if finished || self.in_flight == 0 {
            // Close whatever is still in flight (moot probes).
            for id in 0..self.probes.len() {
                if self.probes[id].is_some() {
                    self.end_probe(cx, id, Found::Skipped);
                }
            }
            return Step::Done(());
        }
        Step::Wait
    }
}

/// UDP with `-v`: the probe's seconds (a scan always probes: it is `-z`).
fn probe_secs(cfg: &Config) -> Option<u32> {
    let o = &cfg.opts;
    (o.proto == crate::config::Proto::Udp && o.verbose > 0).then(|| udp::probe_secs(cfg))
}

/// The window: `--window`, or 1 for `-i` and a fixed `-p`, or what the
/// open-file limit allows (after raising the soft limit to the hard one).
fn window(cfg: &Config) -> usize {
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
    soft.saturating_sub(FD_RESERVE).clamp(1, MAX_WINDOW)
}

/// Runs a `-z` scan of `host` over `ports`.
pub fn run(
    rx: &mut Reactor,
    cfg: &Config,
    host: &str,
    ports: &[u16],
) -> std::result::Result<Status, Abort> {
    let Some(&first) = ports.first() else {
        return Ok(1);
    };
    // One lookup serves every port: the port text is always numeric, so
    // only the host can make it fail, and nc would fail on the first port.
    let first_s = first.to_string();
    let addrs = match resolve::lookup(Some(host), Some(&first_s), client_hints(cfg)) {
        Ok(a) => a,
        Err(e) => {
            report::getaddrinfo_host_failed(host, &first_s, e);
            if cfg.opts.verbose >= 2 {
                report::dns_detail(e);
            }
            if cfg.opts.json {
                json_probe(&JsonProbe {
                    host,
                    ip: None,
                    port: first,
                    proto: cfg.opts.proto.name(),
                    service: crate::ports::service_name(first, cfg.opts.proto),
                    state: "error",
                    errno: None,
                    error: Some(e.to_string()),
                    ms: 0,
                });
            }
            return Err(Abort::Failed);
        }
    };
    if addrs.is_empty() {
        return Ok(1);
    }
    let window = window(cfg);
    if window == 1 && cfg.opts.interval.is_some() {
        return sequential_with_interval(rx, cfg, host, ports, &addrs);
    }
    let slots = ports.len() * addrs.len();
    let mut s = Scanner {
        cfg,
        host,
        ports,
        addrs,
        results: vec![None; slots],
        port_open: vec![false; ports.len()],
        probe_secs: probe_secs(cfg),
        next_start: 0,
        next_emit: 0,
        probes: Vec::new(),
        free: Vec::new(),
        in_flight: 0,
        window,
        timeout: connect_timeout(cfg),
        status: 1,
        fatal: false,
        setup_failed: false,
    };
    rx.run(&mut s)?;
    if s.fatal {
        return Err(Abort::Failed);
    }
    Ok(s.status)
}

/// `-i`: one port at a time, with the delay between ports (departure 3).
fn sequential_with_interval(
    rx: &mut Reactor,
    cfg: &Config,
    host: &str,
    ports: &[u16],
    addrs: &[AddrInfo],
) -> std::result::Result<Status, Abort> {
    let mut status = 1;
    let delay = Duration::from_secs(u64::from(cfg.opts.interval.unwrap_or(0)));
    for (i, port) in ports.iter().enumerate() {
        if i > 0 {
            pause(rx, delay)?;
        }
        let one = [*port];
        let mut s = Scanner {
            cfg,
            host,
            ports: &one,
            addrs: addrs.to_vec(),
            results: vec![None; addrs.len()],
            port_open: vec![false],
            probe_secs: probe_secs(cfg),
            next_start: 0,
            next_emit: 0,
            probes: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            window: 1,
            timeout: connect_timeout(cfg),
            status: 1,
            fatal: false,
            setup_failed: false,
        };
        rx.run(&mut s)?;
        if s.fatal {
            return Err(Abort::Failed);
        }
        if s.status == 0 {
            status = 0;
        }
    }
    Ok(status)
}

/// Waits `d` in the loop (signals still end the wait).
pub fn pause(rx: &mut Reactor, d: Duration) -> std::result::Result<(), Abort> {
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
