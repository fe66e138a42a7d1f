//! A serving listener's TLS client before it is served (nc's `-lc` loop,
//! one client at a time, is `listen::serve_streams` over `Relays::Tls`).
//!
//! The listeners that serve many clients at once (`--exec`, `--broker`,
//! `--chat`) take each TLS client through a [`Handshake`] first: the
//! handshake and the client checks run in the loop, under a deadline (`-w`,
//! or [`HANDSHAKE_DEADLINE`]), and only a client that passed them gets a
//! child or joins the broker (docs/compatibility.md §A.3).

use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use socket2::{SockAddr, Socket};

use crate::net::tls::session::Session;
use crate::net::tls::setup::Server;
use crate::relay::client_checks::ClientChecks;
use crate::relay::stream::{Conn, TlsStream};
use crate::report::tls::{self as report, HandshakeError};
use crate::serve::listen::TlsServeOpts;
use crate::sys::reactor::{Ctx, TimerId};

/// How long a serving listener's client may take over its handshake when
/// `-w` is not given (ncrab's own: a client that connects and never
/// finishes it must not hold a slot forever; docs/compatibility.md §A.3).
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// What an exec server or broker needs to serve TLS: the listener's
/// configuration, the checks of each client and the handshake deadline.
pub struct TlsAccept {
    config: std::sync::Arc<rustls::ServerConfig>,
    checks: std::rc::Rc<ClientChecks>,
    deadline: Duration,
    /// The deadline is ncrab's default, not `-w` (for the failure's words).
    default_deadline: bool,
}

impl std::fmt::Debug for TlsAccept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsAccept")
    }
}

impl TlsAccept {
    /// A serving listener's TLS clients, with its configuration
    /// (`listen::config`, built before the socket listens).
    pub fn new(o: &TlsServeOpts<'_>, srv: Server) -> TlsAccept {
        TlsAccept {
            config: srv.config,
            checks: std::rc::Rc::new(ClientChecks::new(o.tls, o.host, o.verbose)),
            deadline: o.timeout.unwrap_or(HANDSHAKE_DEADLINE),
            default_deadline: o.timeout.is_none(),
        }
    }

    /// Starts the handshake of an accepted client: its socket registered
    /// (readable and writable, edge-triggered) under `token`, its deadline
    /// in the loop's timers under `timer_key` (both of the client's slot,
    /// `slab::Keys`). None (its line printed) when it cannot start; the
    /// socket is then closed.
    pub fn start(
        &self,
        cx: &mut Ctx<'_>,
        sock: Socket,
        peer: SockAddr,
        token: Token,
        timer_key: usize,
    ) -> Option<Handshake> {
        let fd = sock.as_raw_fd();
        let s = match Session::server(sock, &self.config) {
            Ok(s) => s,
            Err(e) => {
                report::handshake_failed(&HandshakeError::Tls(e));
                return None;
            }
        };
        if let Err(e) = cx.registry.register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            crate::report::warn(format_args!("epoll"), crate::report::Errno::of(&e));
            return None;
        }
        let due = Instant::now() + self.deadline;
        let timer = cx.timers.add(due, timer_key);
        Some(Handshake {
            stream: Some(Box::new(TlsStream::new(s, Some(self.checks.clone())))),
            peer,
            fd,
            due,
            default_deadline: self.default_deadline,
            timer: Some(timer),
            ready: true,
        })
    }
}

/// A serving listener's TLS client between its accept and the end of its
/// handshake and checks. Nothing else happens to it meanwhile: its owner
/// steps it on its socket's events and its deadline, and serves the
/// [`Conn`] it turns into (a child, a broker member) only once it passed.
pub struct Handshake {
    stream: Option<Box<TlsStream>>,
    /// The client's address.
    pub peer: SockAddr,
    fd: RawFd,
    /// The deadline.
    due: Instant,
    /// It is ncrab's default deadline, not `-w`.
    default_deadline: bool,
    timer: Option<TimerId>,
    /// An event since the last step (edge-triggered).
    ready: bool,
}

/// Where a [`Handshake`] stands after a step.
pub enum Handshaken {
    /// Waiting for the socket.
    Pending,
    /// Done and checked: the socket is out of the loop (the owner
    /// registers the stream again for the session), the deadline cancelled.
    Done(Conn),
    /// Failed, timed out or refused (its line printed); the socket closed.
    Failed,
}

impl Handshake {
    /// A readiness event on the client's socket.
    pub fn on_event(&mut self) {
        self.ready = true;
    }

    /// A timer of the handshake's key expired. If the deadline has passed
    /// (not an older timer of the same key), the client is dropped with
    /// OpenBSD's `tls handshake failed (...)` line, in the client's
    /// timeout words, and true is returned.
    pub fn expire(&mut self, cx: &mut Ctx<'_>) -> bool {
        if self.stream.is_none() || Instant::now() < self.due {
            return false;
        }
        self.timer = None;
        report::handshake_failed(&if self.default_deadline {
            HandshakeError::DefaultDeadline(HANDSHAKE_DEADLINE)
        } else {
            HandshakeError::TimedOut
        });
        self.close(cx);
        true
    }

    /// All the handshake work possible now.
    pub fn step(&mut self, cx: &mut Ctx<'_>) -> Handshaken {
        let Some(t) = self.stream.as_mut() else {
            return Handshaken::Failed;
        };
        if !std::mem::take(&mut self.ready) {
            return Handshaken::Pending;
        }
        match t.handshake() {
            Ok(false) => Handshaken::Pending,
            Ok(true) => {
                let _ = cx.registry.deregister(&mut SourceFd(&self.fd));
                self.cancel(cx);
                match self.stream.take() {
                    Some(t) => Handshaken::Done(Conn::Tls(t)),
                    None => Handshaken::Failed,
                }
            }
            Err(()) => {
                self.close(cx);
                Handshaken::Failed
            }
        }
    }

    fn cancel(&mut self, cx: &mut Ctx<'_>) {
        if let Some(t) = self.timer.take() {
            cx.timers.cancel(t);
        }
    }

    /// Takes the socket out of the loop and closes it.
    pub fn close(&mut self, cx: &mut Ctx<'_>) {
        if self.stream.take().is_some() {
            let _ = cx.registry.deregister(&mut SourceFd(&self.fd));
        }
        self.cancel(cx);
    }
}
