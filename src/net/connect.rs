//! Connecting: one non-blocking connect per address, in the event loop.
//!
//! nc tries every address of a name in order, each with its own `-w`
//! budget, and prints one failure line per address (docs/compatibility.md §3.2-3.3). A connect
//! is started non-blocking; the loop waits for the socket to become
//! writable (or the `-w` deadline), and the result is read from the socket
//! itself with `getsockopt(SO_ERROR)`.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::event::Event;
use socket2::Socket;

use crate::net::diagnose::Diagnosis;
use crate::net::resolve::{self, AddrInfo, Hints};
use crate::net::{self, ConnectResult, Family, Proto, SetupError, SockOpts, diagnose};
use crate::sys::errno::Errno;
use crate::sys::exit::Abort;
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step, TimerId};

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
            return Step::Done(ConnectResult::Failed(crate::sys::errno::Errno::of(&e)));
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

/// What connecting reads of the command line, derived from the `Config`
/// once (`Config::connect_opts`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectOpts {
    pub family: Family,
    pub proto: Proto,
    /// `-n`: no name lookups, no `(IP)` or service name in M1.
    pub numeric: bool,
    /// `-v`: one failure line per address.
    pub verbose: bool,
    /// `-vv`: explain each failure after its line.
    pub diagnose: bool,
    /// The `-w` connect budget: none for no `-w` or `-w 0` (docs/compatibility.md §3.3).
    pub timeout: Option<Duration>,
    pub sock: SockOpts,
}

impl ConnectOpts {
    /// The lookup hints of a client.
    pub fn hints(&self) -> Hints {
        Hints {
            family: self.family,
            proto: self.proto,
            numeric: self.numeric,
            passive: false,
        }
    }
}

/// One address of a connect that failed, as nc's `-v` line names it.
#[derive(Debug, Clone, Copy)]
pub struct AttemptFailed<'a> {
    /// The host as typed.
    pub host: &'a OsStr,
    /// The numeric address, when the line shows it (`(IP)`).
    pub ip: Option<&'a str>,
    pub port: &'a OsStr,
    pub proto: &'a str,
    /// The connect's errno, or None when `-w` ran out.
    pub errno: Option<Errno>,
}

/// What a connect tells as it goes, for `report` to word (`report::Lines`):
/// nc prints these in the middle of a connect, so they cannot wait for
/// its result.
pub trait Tell {
    /// A fatal failure while preparing a socket (M5, M6, M14/M24).
    fn setup_failed(&mut self, e: &SetupError);
    /// `-v`: one address failed; the next is tried.
    fn attempt_failed(&mut self, a: &AttemptFailed<'_>);
    /// `-vv`: why it failed, as the kernel tells.
    fn diagnosis(&mut self, d: &Diagnosis);
}

/// A connected socket and what the messages say about it.
pub struct Connected {
    pub sock: Socket,
    /// The numeric address, for `(IP)` in M1.
    pub ip: String,
}

/// nc's `remote_connect`: tries every address of `host` for `port`, and
/// tells each failed one (`-v`'s line, `-vv`'s diagnosis) before the next.
/// Returns the first socket that connects, or None when all failed.
/// `show_ip` is false for proxy connections, whose lines never show
/// `(IP)`.
pub fn remote_connect(
    rx: &mut Reactor,
    tell: &mut dyn Tell,
    o: &ConnectOpts,
    host: &OsStr,
    port: &OsStr,
    addrs: &[AddrInfo],
    show_ip: bool,
) -> Result<Option<Connected>, Abort> {
    let hints = o.hints();
    for ai in addrs {
        let Ok(sock) = net::socket(ai.family, ai.socktype, ai.protocol) else {
            continue; // nc skips an address whose socket() fails, silently
        };
        if let Err(e) = net::prepare_client(&sock, &ai.addr, hints, &o.sock) {
            tell.setup_failed(&e);
            return Err(Abort::Failed);
        }
        let ip = resolve::numeric_host(&ai.addr);
        let started = std::time::Instant::now();
        let (result, immediate) = connect(rx, &sock, ai, o.timeout)?;
        let shown_ip = (show_ip && !o.numeric).then_some(ip.as_str());
        let errno = match result {
            ConnectResult::Connected => {
                if show_ip && o.diagnose {
                    if let Some(a) = ai.addr.as_socket() {
                        diagnose::note_answer(a.ip());
                    }
                }
                return Ok(Some(Connected { sock, ip }));
            }
            ConnectResult::Failed(errno) => Some(errno),
            ConnectResult::TimedOut => None,
        };
        if o.verbose {
            tell.attempt_failed(&AttemptFailed {
                host,
                ip: shown_ip,
                port,
                proto: o.proto.name(),
                errno,
            });
        }
        // -vv (not for a proxy's own address): why, as the kernel tells.
        if show_ip && o.diagnose {
            explain_failure(tell, o, &sock, ai, &result, immediate, started.elapsed());
        }
    }
    Ok(None)
}

/// The `-vv` lines after a failed connect: the facts the socket holds
/// (TCP_INFO's SYN counters, the error queue's ICMP message) explained.
fn explain_failure(
    tell: &mut dyn Tell,
    o: &ConnectOpts,
    sock: &Socket,
    ai: &AddrInfo,
    result: &ConnectResult,
    immediate: bool,
    elapsed: Duration,
) {
    use diagnose::{Facts, Outcome, errqueue, tcpinfo};
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
        proto: o.proto.name(),
        elapsed,
        broadcast: o.sock.broadcast,
    };
    if let Some(d) = diagnose::diagnose(&probe, outcome, &facts) {
        tell.diagnosis(&d);
    }
}
