//! A TLS listener's sessions (`-lc`): accept, handshake, OpenBSD's checks
//! of a client certificate, relay; with `-k` the next client. A client
//! whose handshake or certificate fails gets one line and the listener
//! goes on (with `-k`) or ends with status 1 (docs/compatibility.md
//! departure 19: OpenBSD exits 0). A TLS error after the handshake ends
//! the listener with status 1, `-k` or not, as OpenBSD's `errx` does.
//!
//! The listeners that serve many clients at once (`--exec`, `--broker`,
//! `--chat`) take each TLS client through a [`Handshake`] first: the
//! handshake and the client checks run in the loop, under a deadline (`-w`,
//! or [`HANDSHAKE_DEADLINE`]), and only a client that passed them gets a
//! child or joins the broker (docs/compatibility.md §A.3).

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use socket2::{SockAddr, Socket};

use crate::net::tls::TlsConfig;
use crate::net::tls::session::{self, Session};
use crate::net::tls::setup::{self, Server};
use crate::relay::End;
use crate::relay::client_checks::ClientChecks;
use crate::relay::serve::{ServeOpts, accept_one};
use crate::relay::stdio::Stdio;
use crate::relay::stream::{Conn, TlsStream};
use crate::relay::tls::TlsRelay;
use crate::report::tls::{self as report, HandshakeError};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::{Ctx, Reactor, TimerId};

/// How long a serving listener's client may take over its handshake when
/// `-w` is not given (ncrab's own: a client that connects and never
/// finishes it must not hold a slot forever; docs/compatibility.md §A.3).
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// What a TLS listener needs besides the session loop's options.
pub struct TlsServeOpts<'a> {
    pub tls: &'a TlsConfig,
    /// The listening name, for the generated certificate and `-v`.
    pub host: Option<&'a OsStr>,
    /// `-v` (the certificate lines need the count, not just on/off).
    pub verbose: bool,
    /// `-w`: the longest a handshake may take.
    pub timeout: Option<Duration>,
    pub serve: ServeOpts,
}

/// A TLS listener's options and its configuration, built by
/// [`configure`] before the socket listens.
pub struct TlsListen<'a> {
    pub opts: TlsServeOpts<'a>,
    srv: Server,
}

/// Builds the listener's configuration, its files loaded and checked
/// (a failure printed): before the socket listens, as OpenBSD nc
/// configures TLS before `local_listen`, so that a listener that cannot
/// serve never listens (nor says `Listening on`).
pub fn configure(opts: TlsServeOpts<'_>) -> Result<TlsListen<'_>, Abort> {
    let srv = setup::server(opts.tls, opts.host).map_err(|e| {
        e.print();
        Abort::Failed
    })?;
    Ok(TlsListen { opts, srv })
}

impl TlsListen<'_> {
    /// With `-v`, the hash of a generated certificate, so clients can pin
    /// it (after `Listening on`).
    fn announce(&self) {
        if self.opts.verbose {
            if let Some(h) = &self.srv.own_hash {
                report::own_cert_hash(h);
            }
        }
    }
}

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
    /// The listener's configuration ([`configure`]) with the client
    /// checks (with `-v`, the hash of a generated certificate is printed).
    pub fn new(l: &TlsListen<'_>) -> TlsAccept {
        l.announce();
        let o = &l.opts;
        TlsAccept {
            config: l.srv.config.clone(),
            checks: std::rc::Rc::new(ClientChecks::new(o.tls, o.host, o.verbose)),
            deadline: o.timeout.unwrap_or(HANDSHAKE_DEADLINE),
            default_deadline: o.timeout.is_none(),
        }
    }

    /// Starts the handshake of an accepted client: its socket registered
    /// (readable and writable, edge-triggered) under `token`, its deadline
    /// in the loop's timers under `timer_key`. None (its line printed) when
    /// it cannot start; the socket is then closed.
    pub fn start(
        &self,
        cx: &mut Ctx<'_>,
        sock: Socket,
        peer: SockAddr,
        token: usize,
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
            Token(token),
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

/// The handshake and OpenBSD's checks of one accepted client. `None`
/// when the client was refused (its line is printed).
fn accept_session(
    rx: &mut Reactor,
    o: &TlsServeOpts<'_>,
    srv: &Server,
    conn: Socket,
) -> Result<Option<Session>, Abort> {
    let mut s = match Session::server(conn, &srv.config) {
        Ok(s) => s,
        Err(e) => {
            report::handshake_failed(&HandshakeError::Tls(e));
            return Ok(None);
        }
    };
    if let Err(e) = session::handshake(rx, &mut s, o.timeout)? {
        report::handshake_failed(&e);
        return Ok(None);
    }
    if !ClientChecks::new(o.tls, o.host, o.verbose).check(&s) {
        s.send_last();
        return Ok(None);
    }
    Ok(Some(s))
}

/// The accept loop of a TLS listener.
pub fn serve_tls(
    rx: &mut Reactor,
    l: &TlsListen<'_>,
    listener: &Socket,
    stdin: &Stdio,
    stdout: &Stdio,
    received: &dyn Fn(&SockAddr),
    log: Option<&crate::relay::log::Log>,
) -> Result<Status, Abort> {
    l.announce();
    let (o, srv) = (&l.opts, &l.srv);
    let mut keep = o.serve.keep;
    loop {
        let (conn, peer) = accept_one(rx, listener)?;
        // The access lists refuse before the handshake.
        if !crate::relay::serve::admit(&o.serve.acl, o.serve.verbose, &peer) {
            continue;
        }
        if o.serve.verbose {
            received(&peer);
        }
        match accept_session(rx, o, srv, conn)? {
            Some(s) => {
                let Ok(relay) = TlsRelay::new(s, stdin, stdout, o.serve.relay) else {
                    if !keep {
                        return Err(Abort::Failed);
                    }
                    continue;
                };
                let mut relay = relay.with_log(log);
                let outcome = rx.run(&mut relay)?;
                match outcome.end {
                    End::QuitTimer => return Err(Abort::QuitTimer),
                    // `tls read failed (...)`: nc's errx ends the
                    // listener, `-k` or not.
                    End::Failed => return Err(Abort::Failed),
                    End::Finished => {}
                }
                if outcome.clear_keep {
                    keep = false;
                }
            }
            None if !keep => return Err(Abort::Failed),
            None => {}
        }
        if !keep {
            return Ok(0);
        }
    }
}
