//! A TLS listener's sessions (`-lc`): accept, handshake, OpenBSD's checks
//! of a client certificate, relay; with `-k` the next client. A client
//! whose handshake or certificate fails gets one line and the listener
//! goes on (with `-k`) or ends with status 1 (docs/compatibility.md
//! departure 19: OpenBSD exits 0).

use std::ffi::OsStr;
use std::time::Duration;

use rustls::{Connection, ServerConnection};
use socket2::{SockAddr, Socket};

use crate::net::tls::client::Summary;
use crate::net::tls::session::{self, Session};
use crate::net::tls::setup::{self, Server};
use crate::net::tls::{TlsConfig, certinfo, verify};
use crate::relay::End;
use crate::relay::serve::{ServeOpts, accept_one};
use crate::relay::stdio::Stdio;
use crate::relay::tls::TlsRelay;
use crate::report::tls::{self as report, HandshakeError};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::Reactor;

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

/// Builds the listener's configuration; with `-v`, prints the hash of a
/// generated certificate so clients can pin it.
fn config(o: &TlsServeOpts<'_>) -> Result<Server, Abort> {
    let srv = setup::server(o.tls, o.host).map_err(|e| {
        e.print();
        Abort::Failed
    })?;
    if o.verbose {
        if let Some(h) = &srv.own_hash {
            report::own_cert_hash(h);
        }
    }
    Ok(srv)
}

/// OpenBSD's checks of a client after its handshake (and its `-v` lines).
#[derive(Debug, Default)]
pub struct ClientChecks {
    /// The listening host as OpenBSD prints it.
    host: String,
    verbose: bool,
    clientcert: bool,
    pin: Option<String>,
    name: Option<String>,
}

impl ClientChecks {
    pub fn of(o: &TlsServeOpts<'_>) -> ClientChecks {
        let t = o.tls;
        ClientChecks {
            // OpenBSD prints the listening host, "(null)" when none was
            // given (printf's rendering of a null string on glibc and
            // OpenBSD).
            host: o
                .host
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|| "(null)".into()),
            verbose: o.verbose,
            clientcert: t.clientcert,
            pin: t.pin.clone(),
            name: t.name.clone(),
        }
    }

    /// With `-v`, prints the client certificate's lines; false (its line
    /// printed) when the client is refused.
    pub fn check(&self, s: &Session) -> bool {
        let der = s.peer_cert().map(<[u8]>::to_vec);
        if self.verbose && der.is_some() {
            let name = self.name.clone().unwrap_or_else(|| self.host.clone());
            Summary::of(s).print(&self.host, &name);
        }
        match der {
            None if self.clientcert => {
                report::no_client_cert();
                false
            }
            Some(d) if self.pin.as_ref().is_some_and(|p| *p != certinfo::hash(&d)) => {
                report::pin_mismatch(self.pin.as_deref().unwrap_or(""));
                false
            }
            Some(d)
                if self
                    .name
                    .as_ref()
                    .is_some_and(|n| !verify::cert_has_name(&d, n)) =>
            {
                report::name_not_in_client_cert(self.name.as_deref().unwrap_or(""));
                false
            }
            _ => true,
        }
    }
}

/// What an exec server or broker needs to serve TLS: the listener's
/// configuration and the checks of each client.
pub struct TlsAccept {
    pub config: std::sync::Arc<rustls::ServerConfig>,
    pub checks: std::rc::Rc<ClientChecks>,
}

impl std::fmt::Debug for TlsAccept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsAccept")
    }
}

impl TlsAccept {
    /// Builds the listener's configuration (with `-v`, the hash of a
    /// generated certificate is printed).
    pub fn new(o: &TlsServeOpts<'_>) -> Result<TlsAccept, Abort> {
        let srv = config(o)?;
        Ok(TlsAccept {
            config: srv.config,
            checks: std::rc::Rc::new(ClientChecks::of(o)),
        })
    }

    /// An accepted socket as a handshaking TLS stream; None (its line
    /// printed) when rustls refuses to start one.
    pub fn wrap(&self, sock: Socket) -> Option<crate::relay::stream::Conn> {
        match ServerConnection::new(self.config.clone()) {
            Ok(c) => {
                let s = Session::new(sock, Connection::Server(c));
                let t = crate::relay::stream::TlsStream::new(s, Some(self.checks.clone()));
                Some(crate::relay::stream::Conn::Tls(Box::new(t)))
            }
            Err(e) => {
                report::handshake_failed(&HandshakeError::Tls(e));
                None
            }
        }
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
    let c = match ServerConnection::new(srv.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            report::handshake_failed(&HandshakeError::Tls(e));
            return Ok(None);
        }
    };
    let mut s = Session::new(conn, Connection::Server(c));
    if let Err(e) = session::handshake(rx, &mut s, o.timeout)? {
        report::handshake_failed(&e);
        return Ok(None);
    }
    if !ClientChecks::of(o).check(&s) {
        return Ok(None);
    }
    Ok(Some(s))
}

/// The accept loop of a TLS listener.
pub fn serve_tls(
    rx: &mut Reactor,
    o: &TlsServeOpts<'_>,
    listener: &Socket,
    stdin: &Stdio,
    stdout: &Stdio,
    received: &dyn Fn(&SockAddr),
    log: Option<&crate::relay::log::Log>,
) -> Result<Status, Abort> {
    let srv = config(o)?;
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
        match accept_session(rx, o, &srv, conn)? {
            Some(s) => {
                let mut relay = TlsRelay::new(s, stdin, stdout, o.serve.relay).with_log(log);
                let outcome = rx.run(&mut relay)?;
                if outcome.end == End::QuitTimer {
                    return Err(Abort::QuitTimer);
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
