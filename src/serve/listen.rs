//! nc's listener loop: accept (or, for a datagram socket, wait for the
//! first datagram), report the peer through the caller's `received`,
//! relay, and with `-k` go on to the next client, unless nc's `-q` rule
//! cleared it (docs/compatibility.md §6.2). Shared by the TCP/UDP and the
//! Unix-domain listeners of `modes`.
//!
//! A stream listener is one loop ([`serve_streams`]) over a relay
//! factory ([`Relays`]): the plain relay or, for `-lc`, the TLS relay
//! after the handshake and OpenBSD's checks of a client certificate
//! ([`Relays::tls`]). A client whose handshake or certificate
//! fails gets one line and the listener goes on (with `-k`) or ends with
//! status 1 (docs/compatibility.md departure 19: OpenBSD exits 0). A
//! relay that fails (a TLS error after the handshake) ends the listener
//! with status 1, `-k` or not, as OpenBSD's `errx` does.

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{SockAddr, Socket};

use crate::net::acl::Acl;
use crate::net::tls::TlsConfig;
use crate::net::tls::session::{self, Session};
use crate::net::tls::setup::{self, Server};
use crate::net::udp;
use crate::relay::client_checks::ClientChecks;
use crate::relay::log::Log;
use crate::relay::rules::Outcome;
use crate::relay::stdio::Stdio;
use crate::relay::tls::TlsRelay;
use crate::relay::{End, Relay, RelayOpts};
use crate::report::tls::{self as tls_report, HandshakeError};
use crate::report::{self, Errno, ListenerCall};
use crate::serve::accept::{accept_one, admit};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::Reactor;

/// What a listener's session loop needs from the command line.
#[derive(Clone, Debug, Default)]
pub struct ServeOpts {
    /// `--allow`/`--deny`: who may connect.
    pub acl: Acl,
    /// `-k`: serve the next client after a session.
    pub keep: bool,
    /// `-v`: report each client (`received`).
    pub verbose: bool,
    /// The options of each session's relay.
    pub relay: RelayOpts,
}

/// What a TLS listener needs besides the session loop's options
/// ([`ServeOpts`]).
pub struct TlsServeOpts<'a> {
    pub tls: &'a TlsConfig,
    /// The listening name, for the generated certificate and `-v`.
    pub host: Option<&'a OsStr>,
    /// `-v` (the certificate lines need the count, not just on/off).
    pub verbose: bool,
    /// `-w`: the longest a handshake may take.
    pub timeout: Option<Duration>,
}

/// Builds the listener's configuration, its files loaded and checked (a
/// failure printed). The mode builds it before the socket listens, as
/// OpenBSD nc configures TLS before `local_listen`: a listener that
/// cannot serve never listens, nor says `Listening on`.
pub fn config(o: &TlsServeOpts<'_>) -> Result<Server, Abort> {
    setup::server(o.tls, o.host).map_err(|e| {
        e.print();
        Abort::Failed
    })
}

/// With `-v`, the hash of a generated certificate, so that clients can
/// pin it: printed once the socket listens (after `Listening on`).
pub fn announce(o: &TlsServeOpts<'_>, srv: &Server) {
    if o.verbose {
        if let Some(h) = &srv.own_hash {
            tls_report::own_cert_hash(h);
        }
    }
}

/// The local ends a listener's sessions relay to.
pub struct Local<'a> {
    pub stdin: &'a Stdio,
    pub stdout: &'a Stdio,
    pub log: Option<&'a Log>,
}

/// A listener's relay factory: how one accepted, admitted client is
/// relayed.
pub enum Relays<'a> {
    /// The plain relay (nc's `readwrite`).
    Plain,
    /// `-lc`: the handshake and OpenBSD's checks of the client, then the
    /// TLS relay.
    Tls(Tls<'a>),
}

impl<'a> Relays<'a> {
    /// `-lc`'s, with the listener's configuration ([`config`]).
    pub fn tls(o: &'a TlsServeOpts<'a>, srv: Server) -> Relays<'a> {
        Relays::Tls(Tls { o, srv })
    }

    /// Relays `conn` to its end. None when the client was refused before
    /// its relay started (its line printed).
    fn relay(
        &self,
        rx: &mut Reactor,
        conn: Socket,
        local: &Local<'_>,
        opts: RelayOpts,
    ) -> Result<Option<Outcome>, Abort> {
        let t = match self {
            Relays::Plain => return relay(rx, conn, local, opts).map(Some),
            Relays::Tls(t) => t,
        };
        let Some(s) = t.accept_session(rx, conn)? else {
            return Ok(None);
        };
        let Ok(relay) = TlsRelay::new(s, local.stdin, local.stdout, opts) else {
            return Ok(None);
        };
        let mut relay = relay.with_log(local.log);
        Ok(Some(rx.run(&mut relay)?))
    }
}

/// The TLS listener's configuration and options.
pub struct Tls<'a> {
    o: &'a TlsServeOpts<'a>,
    srv: Server,
}

impl Tls<'_> {
    /// The handshake and OpenBSD's checks of one accepted client. `None`
    /// when the client was refused (its line is printed).
    fn accept_session(&self, rx: &mut Reactor, conn: Socket) -> Result<Option<Session>, Abort> {
        let o = self.o;
        let mut s = match Session::server(conn, &self.srv.config) {
            Ok(s) => s,
            Err(e) => {
                tls_report::handshake_failed(&HandshakeError::Tls(e));
                return Ok(None);
            }
        };
        if let Err(e) = session::handshake(rx, &mut s, o.timeout)? {
            tls_report::handshake_failed(&e);
            return Ok(None);
        }
        if !ClientChecks::new(o.tls, o.host, o.verbose).check(&s) {
            s.send_last();
            return Ok(None);
        }
        Ok(Some(s))
    }
}

/// Relays one session on `conn` with the plain relay.
fn relay<S: AsRawFd>(
    rx: &mut Reactor,
    conn: S,
    local: &Local<'_>,
    opts: RelayOpts,
) -> Result<Outcome, Abort> {
    let mut relay = Relay::new(conn, local.stdin, local.stdout, opts).with_log(local.log);
    Ok(rx.run(&mut relay)?)
}

/// What a session's outcome leaves of the loop: `keep` cleared by nc's
/// `-q` rule (docs/compatibility.md §6.2); Err when it ends the listener.
fn after(outcome: &Outcome, keep: &mut bool) -> Result<(), Abort> {
    match outcome.end {
        End::QuitTimer => return Err(Abort::QuitTimer),
        // `tls read failed (...)`: nc's errx ends the listener, `-k` or
        // not.
        End::Failed => return Err(Abort::Failed),
        End::Finished => {}
    }
    if outcome.clear_keep {
        *keep = false;
    }
    Ok(())
}

/// A stream listener's loop: accept, the access lists, report
/// (`received`, with `-v`), relay with `relays`; with `-k` the next
/// connection, on the same listening socket (Debian). A client refused by
/// the relay factory ends a listener without `-k` with status 1.
pub fn serve_streams(
    rx: &mut Reactor,
    o: &ServeOpts,
    relays: &Relays<'_>,
    listener: &Socket,
    local: &Local<'_>,
    received: &dyn Fn(&SockAddr),
) -> Result<Status, Abort> {
    let mut keep = o.keep;
    loop {
        let (conn, peer) = accept_one(rx, listener)?;
        // Refused by --allow/--deny: closed at once, never relayed (and,
        // over TLS, before the handshake).
        if !admit(&o.acl, o.verbose, &peer) {
            continue;
        }
        if o.verbose {
            received(&peer);
        }
        match relays.relay(rx, conn, local, o.relay)? {
            Some(outcome) => after(&outcome, &mut keep)?,
            None if !keep => return Err(Abort::Failed),
            None => {}
        }
        if !keep {
            return Ok(0);
        }
    }
}

/// Takes the next datagram off `sock`'s queue and throws it away.
pub fn drop_datagram(sock: &Socket) {
    let mut scratch = [0u8; 1];
    // SAFETY: recv into a valid one-byte buffer; the kernel discards the
    // rest of the datagram.
    unsafe {
        libc::recv(
            sock.as_raw_fd(),
            scratch.as_mut_ptr().cast(),
            1,
            libc::MSG_DONTWAIT,
        )
    };
}

/// A datagram listener (`-lu`, `-lUu`): without `-k`, wait for the first
/// datagram, connect to its sender, report (`received`, with `-v`) and
/// relay one session; with `-k`, relay on the unconnected socket, session
/// after session. A session ends cleanly (docs/compatibility.md departure 2: no `connect:
/// Invalid argument` after a `-lUu` session).
pub fn serve_datagrams(
    rx: &mut Reactor,
    o: &ServeOpts,
    sock: Socket,
    local: &Local<'_>,
    received: &dyn Fn(&SockAddr),
) -> Result<Status, Abort> {
    let mut keep = o.keep;
    let mut sock = Some(sock);
    while let Some(s) = sock.as_ref() {
        if !o.keep {
            let peer = match udp::first_datagram(rx, s)? {
                Ok(peer) => peer,
                Err(e) => {
                    report::listener_call_failed(ListenerCall::Recvfrom, Errno::of(&e));
                    return Err(Abort::Failed);
                }
            };
            // A datagram from a refused peer is taken off the queue and
            // dropped; the listener waits for the next one.
            if !admit(&o.acl, o.verbose, &peer) {
                drop_datagram(s);
                continue;
            }
            if let Err(e) = s.connect(&peer) {
                report::listener_call_failed(ListenerCall::Connect, Errno::of(&e));
                return Err(Abort::Failed);
            }
            if o.verbose {
                received(&peer);
            }
        }
        // The last session takes the socket (so `-q` closes it, as nc
        // does); a `-k` session relays on a duplicate.
        let conn = if keep {
            match s.try_clone() {
                Ok(c) => c,
                Err(e) => {
                    report::warn_errno(Errno::of(&e));
                    return Err(Abort::Failed);
                }
            }
        } else {
            match sock.take() {
                Some(c) => c,
                None => break,
            }
        };
        after(&relay(rx, conn, local, o.relay)?, &mut keep)?;
        if !keep {
            break;
        }
    }
    Ok(0)
}
