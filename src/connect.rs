//! Connecting: one non-blocking connect per address, in the event loop.
//!
//! nc tries every address of a name in order, each with its own `-w`
//! budget, and prints one failure line per address (B §3.2-3.3). A connect
//! is started non-blocking; the loop waits for the socket to become
//! writable (or the `-w` deadline), and the result is read from the socket
//! itself with `getsockopt(SO_ERROR)`.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::event::Event;
use socket2::Socket;

use crate::config::{Config, Proto};
use crate::exit::Abort;
use crate::net::{self, ConnectResult};
use crate::reactor::{self, Ctx, Interests, Machine, Reactor, Step, TimerId};
use crate::report::{self, Dest};
use crate::resolve::{self, AddrInfo, Hints};

const TIMER_CONNECT: usize = 1;

/// Waits for one connect in progress.
struct Connecting<'a> {
    sock: &'a Socket,
    deadline: Option<Duration>,
    timer: Option<TimerId>,
    reg: Interests,
    result: Option<ConnectResult>,
}

impl Machine for Connecting<'_> {
    type Output = ConnectResult;

    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: &Event) {
        if ev.token() == reactor::NET && self.result.is_none() {
            self.result = net::finish_connect(self.sock);
        }
    }

    fn on_timer(&mut self, _cx: &mut Ctx<'_>, key: usize) {
        if key == TIMER_CONNECT && self.result.is_none() {
            self.result = Some(ConnectResult::TimedOut);
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<ConnectResult> {
        use std::os::fd::AsRawFd;
        let fd = self.sock.as_raw_fd();
        if let Some(r) = self.result.take() {
            self.reg.clear(cx.registry, fd);
            if let Some(t) = self.timer.take() {
                cx.timers.cancel(t);
            }
            return Step::Done(r);
        }
        if let Err(e) = self
            .reg
            .set(cx.registry, fd, reactor::NET, Some(Interest::WRITABLE))
        {
            return Step::Done(ConnectResult::Failed(report::Errno::of(&e)));
        }
        if let (Some(d), None) = (self.deadline, self.timer) {
            self.timer = Some(cx.timers.add(Instant::now() + d, TIMER_CONNECT));
        }
        Step::Wait
    }
}

/// Connects `sock` to `addr`, waiting in the loop for at most `timeout`.
/// The flag says the kernel answered within connect() itself.
pub fn connect(
    rx: &mut Reactor,
    sock: &Socket,
    ai: &AddrInfo,
    timeout: Option<Duration>,
) -> Result<(ConnectResult, bool), Abort> {
    match net::start_connect(sock, &ai.addr) {
        Ok(true) => Ok((
            if ai.socktype == libc::SOCK_STREAM {
                net::check_self_connect(sock)
            } else {
                ConnectResult::Connected
            },
            true,
        )),
        Err(errno) => Ok((ConnectResult::Failed(errno), true)),
        Ok(false) => {
            let mut m = Connecting {
                sock,
                deadline: timeout,
                timer: None,
                reg: Interests::default(),
                result: None,
            };
            Ok((rx.run(&mut m)?, false))
        }
    }
}

/// The `-w` connect budget: none for no `-w` or `-w 0` (B §3.3).
pub fn connect_timeout(cfg: &Config) -> Option<Duration> {
    cfg.opts.timeout().filter(|t| !t.is_zero())
}

/// The lookup hints of a client.
pub fn client_hints(cfg: &Config) -> Hints {
    Hints {
        family: cfg.opts.family,
        proto: cfg.opts.proto,
        numeric: cfg.opts.numeric,
        passive: false,
    }
}

/// A connected socket and what the messages say about it.
pub struct Connected {
    pub sock: Socket,
    /// The numeric address, for `(IP)` in M1.
    pub ip: String,
}

/// nc's `remote_connect`: tries every address of `host` for `port`, with
/// one failure line per address under `-v`. Returns the first socket that
/// connects, or None when all failed. `show_ip` is false for proxy
/// connections, whose lines never show `(IP)`.
pub fn remote_connect(
    rx: &mut Reactor,
    cfg: &Config,
    host: &OsStr,
    port: &OsStr,
    addrs: &[AddrInfo],
    show_ip: bool,
) -> Result<Option<Connected>, Abort> {
    let o = &cfg.opts;
    let hints = client_hints(cfg);
    for ai in addrs {
        let Ok(sock) = net::socket(ai.family, ai.socktype, ai.protocol) else {
            continue; // nc skips an address whose socket() fails, silently
        };
        net::prepare_client(&sock, &ai.addr, hints, o).map_err(net::Failed::from)?;
        let ip = resolve::numeric_host(&ai.addr);
        let started = std::time::Instant::now();
        let (result, immediate) = connect(rx, &sock, ai, connect_timeout(cfg))?;
        let dest = Dest {
            host,
            ip: if show_ip && !o.numeric {
                Some(&ip)
            } else {
                None
            },
        };
        let proto = o.proto.name();
        match result {
            ConnectResult::Connected => {
                if show_ip && o.verbose >= 2 {
                    if let Some(a) = ai.addr.as_socket() {
                        crate::diagnose::note_answer(a.ip());
                    }
                }
                return Ok(Some(Connected { sock, ip }));
            }
            ConnectResult::Failed(errno) => {
                if o.verbose > 0 {
                    report::connect_failed(&dest, port, proto, errno);
                }
            }
            ConnectResult::TimedOut => {
                if o.verbose > 0 {
                    report::connect_timed_out(&dest, port, proto);
                }
            }
        }
        // -vv (not for a proxy's own address): why, as the kernel tells.
        if show_ip && o.verbose >= 2 {
            explain_failure(cfg, &sock, ai, &result, immediate, started.elapsed());
        }
    }
    Ok(None)
}

/// The `-vv` lines after a failed connect: the facts the socket holds
/// (TCP_INFO's SYN counters, the error queue's ICMP message) explained.
fn explain_failure(
    cfg: &Config,
    sock: &Socket,
    ai: &AddrInfo,
    result: &ConnectResult,
    immediate: bool,
    elapsed: Duration,
) {
    use crate::diagnose::{self, Facts, Outcome, errqueue, tcpinfo};
    let Some(sa) = ai.addr.as_socket() else {
        return;
    };
    let outcome = match result {
        ConnectResult::Connected => return,
        ConnectResult::Failed(e) => Outcome::Failed(*e),
        ConnectResult::TimedOut => Outcome::TimedOut,
    };
    let facts = Facts {
        queued: errqueue::take(sock),
        syns: if ai.socktype == libc::SOCK_STREAM {
            tcpinfo::syns(sock)
        } else {
            None
        },
        immediate,
        ..Facts::default()
    };
    diagnose::note_outcome(sa.ip(), outcome, &facts);
    let probe = diagnose::Probe {
        dest: sa.ip(),
        port: sa.port(),
        proto: cfg.opts.proto.name(),
        elapsed,
        broadcast: cfg.opts.broadcast,
    };
    if let Some(d) = diagnose::diagnose(&probe, outcome, &facts) {
        report::diagnosis::probe_lines(&d);
    }
}

/// M1: the success line, `[PROTO/SERVICE]` from /etc/services unless `-n`.
pub fn report_success(cfg: &Config, host: &OsStr, port: u16, ip: Option<&str>) {
    let proto = cfg.opts.proto;
    let service = if cfg.opts.numeric || proto == Proto::Dccp {
        "*".to_string()
    } else {
        crate::ports::service_name(port, proto)
    };
    let dest = Dest {
        host,
        ip: if cfg.opts.numeric { None } else { ip },
    };
    report::connect_succeeded(&dest, port, proto.name(), &service);
}
