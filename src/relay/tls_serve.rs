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
    let t = o.tls;
    // OpenBSD prints the listening host, "(null)" when none was given
    // (printf's rendering of a null string on glibc and OpenBSD).
    let host = o
        .host
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|| "(null)".into());
    let der = s.peer_cert().map(<[u8]>::to_vec);
    if o.verbose && der.is_some() {
        let name = t.name.clone().unwrap_or_else(|| host.clone());
        Summary::of(&s).print(&host, &name);
    }
    match der {
        None if t.clientcert => {
            report::no_client_cert();
            return Ok(None);
        }
        Some(d) if t.pin.as_ref().is_some_and(|p| *p != certinfo::hash(&d)) => {
            report::pin_mismatch(t.pin.as_deref().unwrap_or(""));
            return Ok(None);
        }
        Some(d)
            if t.name
                .as_ref()
                .is_some_and(|n| !verify::cert_has_name(&d, n)) =>
        {
            report::name_not_in_client_cert(t.name.as_deref().unwrap_or(""));
            return Ok(None);
        }
        _ => {}
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
) -> Result<Status, Abort> {
    let srv = config(o)?;
    let mut keep = o.serve.keep;
    loop {
        let (conn, peer) = accept_one(rx, listener)?;
        if o.serve.verbose {
            received(&peer);
        }
        match accept_session(rx, o, &srv, conn)? {
            Some(s) => {
                let mut relay = TlsRelay::new(s, stdin, stdout, o.serve.relay);
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
