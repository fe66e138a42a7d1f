//! One probe of a scan, and the probes in flight.
//!
//! A probe is one attempt's socket in the loop, in one [`State`]: its TCP
//! connect under way, UDP's `X` probe (`-uzv`), the server's first line
//! being read (`--banner`) or the TLS handshake (`-zc`). Whatever the
//! state, its deadline is one timer, and it ends in an [`Ended`]: what it
//! found, the facts `-vv` and `--json` explain it with, and whether its
//! socket may serve the next probe. [`Probes`] holds those in flight under
//! their ids, in the serving listeners' slab (`crate::serve::slab`: one
//! token each from the loop's `PROBE_BASE`, the id as its timer key), and
//! the idle sockets kept for reuse.
//!
//! Cost per probe: a probe's answer is often known as soon as connect()
//! returns (on loopback the kernel handles the SYN and its RST within the
//! call), so it is asked for at once and such a probe never touches epoll
//! (the scanner's start). The answer is read by calling connect() again
//! on the same address ([`net::connect_again`]); when the connect failed,
//! that call also frees the socket for the next probe, so failed sockets
//! are reused instead of closed and re-created. Each reusable socket is
//! bound to an ephemeral port of its own once, which spares the kernel its
//! port search on every connect. A socket that connected is closed, as nc
//! closes it.

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use rustls::ClientConfig;
use socket2::{SockAddr, Socket};

use super::slots::Found;
use crate::cli::config::Config;
use crate::net::diagnose::banner::BannerRead;
use crate::net::diagnose::{Facts, errqueue, tcpinfo};
use crate::net::resolve::AddrInfo;
use crate::net::tls::TlsConfig;
use crate::net::tls::probe::{Next, TlsProbe};
use crate::net::udp::{self, Tick, XProbe};
use crate::net::{self, ConnectResult, Proto};
use crate::report::Errno;
use crate::report::tls as tls_report;
use crate::serve::slab::{Layout, Slab};
use crate::sys::reactor::{self, Ctx, TimerId};

/// `-zc` without `-w`: the longest a port may take to finish the TLS
/// handshake once it took the connection.
pub const TLS_SCAN_WAIT: Duration = Duration::from_secs(10);

/// The most idle sockets kept for reuse.
const MAX_SPARES: usize = 8;

/// What every probe of a scan does once connected, and what it gathers.
pub struct Kinds<'a> {
    /// UDP with `-v`: nc's `X` probe on each connected port, for this
    /// many seconds.
    pub udp_secs: Option<u32>,
    /// `--banner`: how long an open port's server may take to speak.
    pub banner: Option<Duration>,
    /// `-zc`: the TLS options and the client configuration (built once
    /// per run).
    pub tls: Option<(&'a TlsConfig, Arc<ClientConfig>)>,
    /// `-vv` or `--json`: gather the facts of each failure.
    pub diag: bool,
    /// `-w`: also the TLS handshake's budget.
    timeout: Option<Duration>,
}

impl<'a> Kinds<'a> {
    /// `timeout` is `-w`'s connect budget.
    pub fn new(
        cfg: &Config,
        timeout: Option<Duration>,
        tls: Option<(&'a TlsConfig, Arc<ClientConfig>)>,
    ) -> Kinds<'a> {
        let o = &cfg.opts;
        Kinds {
            // A scan always probes UDP with -v: it is `-z`.
            udp_secs: (o.proto == Proto::Udp && o.verbose > 0).then(|| udp::probe_secs(o.timeout)),
            banner: o.banner.filter(|_| o.proto == Proto::Tcp),
            tls,
            diag: o.verbose >= 2 || o.json,
            timeout,
        }
    }

    /// `-zc`: how long a handshake may take (`-w`, else
    /// [`TLS_SCAN_WAIT`]).
    pub fn tls_wait(&self) -> Duration {
        self.timeout.unwrap_or(TLS_SCAN_WAIT)
    }

    /// `-zc`: a handshake for `host` (or `-e`); `Err` is why it cannot
    /// start. None without `-c`.
    pub fn tls_probe(
        &self,
        host: &OsStr,
    ) -> Option<Result<Box<TlsProbe>, tls_report::ScanFailure>> {
        let (t, config) = self.tls.as_ref()?;
        Some(
            TlsProbe::new(config, t, host)
                .map(Box::new)
                .map_err(|f| tls_report::probe_failure(&f)),
        )
    }

    /// `--banner`'s wait.
    pub fn banner_wait(&self) -> Duration {
        self.banner.unwrap_or_default()
    }
}

/// Where a probe stands.
pub enum State {
    /// The TCP connect is under way (registered for writable).
    Connecting,
    /// UDP with `-v`: nc's `X` probe on the connected socket, its later
    /// `X`s sent by the timer (the socket is not registered).
    Udp(XProbe),
    /// `--banner`: the port is open and the server's first bytes are
    /// being read (the timer is the wait's end).
    Banner(BannerRead),
    /// `-zc`: the port is open and the TLS handshake runs on its socket
    /// (boxed: a TLS session is large, and a list's window holds 8192
    /// probes).
    Tls(Box<TlsProbe>),
}

/// One probe in flight.
pub struct Probe {
    pub sock: Socket,
    pub slot: usize,
    pub started: Instant,
    /// The deadline of its state.
    pub timer: Option<TimerId>,
    pub state: State,
}

/// How a probe ended.
pub struct Ended {
    pub found: Found,
    /// What it left behind for `-vv` and `--json` (kept only when they
    /// ask).
    pub facts: Option<Facts>,
    /// `-zc`: the handshake's outcome, or why there was none.
    pub tls: Option<tls_report::ScanOutcome>,
    /// Its socket is unconnected and may serve the next probe.
    pub reusable: bool,
}

impl Ended {
    /// An end with nothing to explain it.
    pub fn bare(found: Found) -> Ended {
        Ended {
            found,
            facts: None,
            tls: None,
            reusable: false,
        }
    }

    /// An open port: nothing to explain.
    pub fn open() -> Ended {
        Ended {
            facts: Some(Facts::default()),
            ..Ended::bare(Found::Open)
        }
    }

    /// `-zc`: the handshake failed or could not run, for `why`.
    pub fn tls_failed(why: impl Into<tls_report::ScanFailure>) -> Ended {
        Ended {
            tls: Some(Err(why.into())),
            ..Ended::bare(Found::TlsFailed)
        }
    }
}

/// The verdict of a connect's answer `r`: with `diag`, the facts of a
/// failure (`syns` read before the answer, the error queue now); else
/// the error queue is emptied, so that a reused socket starts clean.
pub fn connect_ended(
    sock: &Socket,
    r: ConnectResult,
    syns: Option<tcpinfo::Syns>,
    immediate: bool,
    diag: bool,
    reusable: bool,
) -> Ended {
    let found = match r {
        ConnectResult::Connected => Found::Open,
        ConnectResult::Failed(e) => Found::Failed(e),
        ConnectResult::TimedOut => Found::TimedOut,
    };
    let facts = if diag {
        Some(match found {
            Found::Open => Facts::default(),
            _ => failure_facts(sock, syns, immediate),
        })
    } else {
        if matches!(found, Found::Failed(e) if e.0 != libc::ECONNREFUSED) {
            // An ICMP error may be queued.
            errqueue::drain(sock);
        }
        None
    };
    Ended {
        found,
        facts,
        tls: None,
        reusable,
    }
}

/// The facts of a TCP connect that just failed (or timed out): `syns`
/// was read before the result, the error queue now.
fn failure_facts(sock: &Socket, syns: Option<tcpinfo::Syns>, immediate: bool) -> Facts {
    Facts {
        queued: errqueue::take(sock),
        syns,
        immediate,
        ..Facts::default()
    }
}

/// The end of a UDP probe, with its facts when `diag`.
pub fn udp_ended(sock: &Socket, x: &XProbe, found: Found, diag: bool) -> Ended {
    Ended {
        facts: diag.then(|| Facts {
            queued: errqueue::take(sock),
            send_errno: x.error.map(Errno),
            ..Facts::default()
        }),
        ..Ended::bare(found)
    }
}

/// `TCP_INFO`'s SYN counts of `sock`, when `diag` (before the result:
/// reading it resets the counters).
pub fn syns(sock: &Socket, diag: bool) -> Option<tcpinfo::Syns> {
    if diag { tcpinfo::syns(sock) } else { None }
}

/// The probes' slots: one token (from the loop's `PROBE_BASE`) and one
/// timer key (the probe's id) each.
const PROBES: Layout = Layout {
    first_token: reactor::PROBE_BASE,
    first_timer: 0,
    width: 1,
};

/// The loop's token of probe `id`.
pub fn token(id: usize) -> Token {
    PROBES.keys(id).token(0)
}

/// The timer key of probe `id`'s deadline.
pub fn timer_key(id: usize) -> usize {
    PROBES.keys(id).timer(0)
}

impl Probe {
    pub fn new(
        sock: Socket,
        slot: usize,
        started: Instant,
        timer: Option<TimerId>,
        state: State,
    ) -> Probe {
        Probe {
            sock,
            slot,
            started,
            timer,
            state,
        }
    }

    /// The connect's answer, if it has come: a second connect() says, or
    /// after an error event SO_ERROR does. With it, whether the socket may
    /// be reused.
    pub fn connect_answer(
        &self,
        addr: &SockAddr,
        error_event: bool,
    ) -> Option<(ConnectResult, bool)> {
        let mut result = net::connect_again(&self.sock, addr);
        if result.is_none() && error_event {
            // An ICMP error that came back while connect() still held the
            // socket (a veth or a fast router answers within the call) is
            // pending in SO_ERROR while the state stays SYN_SENT, so the
            // second connect() says EALREADY: read it, as nc's select()
            // and getsockopt(SO_ERROR) do, instead of waiting a second for
            // the SYN's retransmission to fail again.
            if let Ok(Some(e)) = self.sock.take_error() {
                result = Some((ConnectResult::Failed(Errno::of(&e)), false));
            }
        }
        result
    }

    /// The connect timed out: its facts, when `diag`.
    pub fn timed_out(&self, syns: Option<tcpinfo::Syns>, diag: bool) -> Ended {
        Ended {
            facts: diag.then(|| failure_facts(&self.sock, syns, false)),
            ..Ended::bare(Found::TimedOut)
        }
    }

    /// `--banner`: the connect just completed; the socket now waits for
    /// the server's bytes, for `wait`. False (the port is open all the
    /// same, without a banner) when the socket cannot be re-registered.
    pub fn read_banner(&mut self, cx: &mut Ctx<'_>, id: usize, wait: Duration) -> bool {
        let fd = self.sock.as_raw_fd();
        if cx
            .registry
            .reregister(&mut mio::unix::SourceFd(&fd), token(id), Interest::READABLE)
            .is_err()
        {
            return false;
        }
        if let Some(t) = self.timer.take() {
            cx.timers.cancel(t);
        }
        self.timer = Some(cx.timers.add(Instant::now() + wait, timer_key(id)));
        self.state = State::Banner(BannerRead::new(self.started.elapsed()));
        true
    }

    /// `-zc`: the connect just completed; the handshake `tp` starts on
    /// the socket, with its own deadline `wait`.
    pub fn start_tls(&mut self, cx: &mut Ctx<'_>, id: usize, tp: Box<TlsProbe>, wait: Duration) {
        self.state = State::Tls(tp);
        if let Some(old) = self.timer.take() {
            cx.timers.cancel(old);
        }
        self.timer = Some(cx.timers.add(Instant::now() + wait, timer_key(id)));
    }

    /// `--banner`: reads what the server has sent; the end once the first
    /// line is complete, the server closed, or (`timed_out`) the wait is
    /// over.
    pub fn banner_step(&mut self, timed_out: bool, wait: Duration) -> Option<Ended> {
        let State::Banner(read) = &mut self.state else {
            return None;
        };
        let banner = read.step(&self.sock, timed_out, wait)?;
        // The report's time is the handshake's, not the wait's.
        self.started = Instant::now()
            .checked_sub(read.handshake)
            .unwrap_or(self.started);
        Some(Ended {
            facts: Some(Facts {
                banner: Some(banner),
                ..Facts::default()
            }),
            ..Ended::bare(Found::Open)
        })
    }

    /// `-zc`: drives the handshake as far as it goes now, the socket
    /// registered for what it waits for; the end once it finished (or
    /// the socket could not be registered).
    pub fn tls_step(&mut self, cx: &mut Ctx<'_>, id: usize, t: &TlsConfig) -> Option<Ended> {
        let State::Tls(tp) = &mut self.state else {
            return None;
        };
        match tp.step(&self.sock, t) {
            Next::Wait(want) => {
                let fd = self.sock.as_raw_fd();
                let mut src = mio::unix::SourceFd(&fd);
                let r = cx
                    .registry
                    .reregister(&mut src, token(id), want)
                    .or_else(|_| cx.registry.register(&mut src, token(id), want));
                r.err()
                    .map(|e| Ended::tls_failed(Errno::of(&e).to_string()))
            }
            Next::Finished(out) => {
                let found = if out.is_ok() {
                    Found::Open
                } else {
                    Found::TlsFailed
                };
                Some(Ended {
                    tls: Some(tls_report::probe_outcome(out)),
                    ..Ended::bare(found)
                })
            }
        }
    }

    /// `-zc`: the handshake's deadline passed.
    pub fn tls_timed_out(wait: Duration) -> Ended {
        Ended::tls_failed(tls_report::scan_no_answer(wait))
    }

    /// UDP: the timer of the `X` probe: the next `X`, and the end once
    /// the probe is decided (else the timer is armed again).
    pub fn udp_tick(&mut self, cx: &mut Ctx<'_>, id: usize, diag: bool) -> Option<Ended> {
        let State::Udp(x) = &mut self.state else {
            return None;
        };
        let found = match x.tick(self.sock.as_raw_fd()) {
            Tick::Passed => Found::Open,
            Tick::Failed => Found::ProbeFailed,
            Tick::Later => {
                self.timer = Some(
                    cx.timers
                        .add(Instant::now() + XProbe::INTERVAL, timer_key(id)),
                );
                return None;
            }
        };
        Some(udp_ended(&self.sock, x, found, diag))
    }
}

/// The probes in flight, by id, and the idle sockets kept for reuse.
pub struct Probes {
    live: Slab<Probe>,
    /// Idle sockets (with their family) whose connect failed, for reuse.
    spares: Vec<(i32, Socket)>,
    /// Whether failed sockets may be reused: TCP with no `-s`/`-p` bind.
    recycle: bool,
    /// A fixed source port (`-p`): sockets are closed abortively.
    abort_close: bool,
    in_flight: usize,
}

impl Probes {
    pub fn new(cfg: &Config) -> Probes {
        let o = &cfg.opts;
        Probes {
            live: Slab::new(PROBES),
            spares: Vec::new(),
            recycle: o.source_addr.is_none() && o.source_port.is_none() && o.proto == Proto::Tcp,
            abort_close: o.source_port.is_some(),
            in_flight: 0,
        }
    }

    /// How many probes are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether a new socket is bound to an ephemeral port of its own once
    /// (a reusable one).
    pub fn recycle(&self) -> bool {
        self.recycle
    }

    /// A socket for `ai`: a spare of its family (true), or a new one.
    pub fn socket_for(&mut self, ai: &AddrInfo) -> std::io::Result<(Socket, bool)> {
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

    /// A free probe id (a new one when none is free).
    pub fn free_id(&mut self) -> usize {
        self.live.reserve()
    }

    /// An id from [`Probes::free_id`] that was not used after all.
    pub fn unused(&mut self, id: usize) {
        self.live.release(id);
    }

    /// Puts a started probe in flight under `id`.
    pub fn track(&mut self, id: usize, probe: Probe) {
        self.live.put(id, probe);
        self.in_flight += 1;
    }

    pub fn get(&self, id: usize) -> Option<&Probe> {
        self.live.get(id)?.as_ref()
    }

    pub fn get_mut(&mut self, id: usize) -> Option<&mut Probe> {
        self.live.get_mut(id)?.as_mut()
    }

    /// Takes probe `id` out of flight (its registration and timer gone).
    pub fn take(&mut self, cx: &mut Ctx<'_>, id: usize) -> Option<Probe> {
        let p = self.live.remove(id)?;
        if !matches!(p.state, State::Udp(_)) {
            let fd = p.sock.as_raw_fd();
            let _ = cx.registry.deregister(&mut mio::unix::SourceFd(&fd));
        }
        if let Some(t) = p.timer {
            cx.timers.cancel(t);
        }
        self.in_flight -= 1;
        Some(p)
    }

    /// The id of the probe a token of the probes' names.
    pub fn by_token(&self, t: Token) -> Option<usize> {
        self.live.by_token(t).map(|(id, _)| id)
    }

    /// The id of the probe whose timer key `key` is.
    pub fn by_timer(&self, key: usize) -> Option<usize> {
        self.live.by_timer(key).map(|(id, _)| id)
    }

    /// Every id a probe in flight may have.
    pub fn ids(&self) -> std::ops::Range<usize> {
        0..self.live.len()
    }

    /// Done with a probe's socket: keep it for the next probe when its
    /// connect failed and left it unconnected (`reusable`), else close it,
    /// as nc closes it.
    pub fn release(&mut self, sock: Socket, family: i32, reusable: bool) {
        if self.recycle && reusable && self.spares.len() < MAX_SPARES {
            self.spares.push((family, sock));
            return;
        }
        if self.abort_close {
            // A fixed source port: close abortively so no TIME_WAIT is left
            // to block the same port's next probe (docs/compatibility.md departure 8).
            let _ = sock.set_linger(Some(Duration::ZERO));
        }
        // The socket closes here, as nc closes it after a -z connect.
    }
}

/// socket() failed for want of file descriptors.
pub fn is_fd_shortage(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
