//! The listener side of `-lc`: accept, handshake, OpenBSD's client
//! certificate checks, relay; with `-k` the next client. A client whose
//! handshake or certificate fails gets one line and the listener goes on
//! (with `-k`) or ends with status 1.

use std::ffi::OsStr;

use rustls::{Connection, ServerConnection};
use socket2::{SockAddr, Socket};

use super::report::{self as tls_report, HandshakeError};
use super::session::{self, Session};
use super::setup::{self, Server};
use super::{TlsConfig, certinfo, client, relay::TlsRelay, verify};
use crate::exit::{Abort, Status};
use crate::reactor::Reactor;
use crate::relay::{End, RelayOpts};
use crate::stdio::Stdio;

/// The options of a TLS listener, taken from the configuration.
pub struct ListenOpts<'a> {
    pub tls: &'a TlsConfig,
    pub host: Option<&'a OsStr>,
    pub keep: bool,
    pub verbose: u8,
    pub timeout: Option<std::time::Duration>,
    pub relay: RelayOpts,
}

/// Builds the listener's configuration; with `-v`, prints the hash of a
/// generated certificate so clients can pin it.
pub fn config(o: &ListenOpts<'_>) -> Result<Server, Abort> {
    let srv = setup::server(o.tls, o.host).map_err(|_| Abort::Failed)?;
    if o.verbose > 0 {
        if let Some(h) = &srv.own_hash {
            tls_report::own_cert_hash(h);
        }
    }
    Ok(srv)
}

/// The handshake and OpenBSD's checks of one accepted client. `None`
/// when the client was refused (the line is printed).
fn accept_session(
    rx: &mut Reactor,
    o: &ListenOpts<'_>,
    srv: &Server,
    conn: Socket,
) -> Result<Option<Session>, Abort> {
    let c = match ServerConnection::new(srv.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            tls_report::handshake_failed(&HandshakeError::Tls(e));
            return Ok(None);
        }
    };
    let mut s = Session::new(conn, Connection::Server(c));
    if let Err(e) = session::handshake(rx, &mut s, o.timeout)? {
        tls_report::handshake_failed(&e);
        return Ok(None);
    }
    let t = o.tls;
    let got_cert = s.peer_cert().is_some();
    let host = o
        .host
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    if o.verbose > 0 && got_cert {
        let name = t.name.clone().unwrap_or_else(|| host.clone());
        // (The pin verdict is OpenBSD's, below.)
        let no_pin = TlsConfig {
            pin: None,
            ..TlsConfig::default()
        };
        client::report_and_check(&no_pin, &s, &host, &name, true);
    }
    let der = s.peer_cert().map(<[u8]>::to_vec);
    match der {
        None if t.clientcert => {
            tls_report::no_client_cert();
            return Ok(None);
        }
        Some(d) if t.pin.as_ref().is_some_and(|p| *p != certinfo::hash(&d)) => {
            tls_report::pin_mismatch(t.pin.as_deref().unwrap_or(""));
            return Ok(None);
        }
        Some(d)
            if t.name
                .as_ref()
                .is_some_and(|n| !verify::cert_has_name(&d, n)) =>
        {
            tls_report::name_not_in_client_cert(t.name.as_deref().unwrap_or(""));
            return Ok(None);
        }
        _ => {}
    }
    Ok(Some(s))
}

/// The accept loop of a TLS listener.
pub fn serve(
    rx: &mut Reactor,
    o: &ListenOpts<'_>,
    listener: &Socket,
    stdin: &Stdio,
    stdout: &Stdio,
    received: &dyn Fn(&SockAddr),
) -> Result<Status, Abort> {
    let srv = config(o)?;
    let mut keep = o.keep;
    loop {
        let (conn, peer) = crate::listen::accept_one(rx, listener)?;
        if o.verbose > 0 {
            received(&peer);
        }
        match accept_session(rx, o, &srv, conn)? {
            Some(s) => {
                let mut relay = TlsRelay::new(s, stdin, stdout, o.relay);
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
