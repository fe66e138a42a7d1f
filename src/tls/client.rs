//! The client side of `-c`: a handshake on a socket some other layer
//! connected (directly or through a proxy), the `-v` lines, the `-H`
//! check, then the relay. A failure ends the run with status 1, as
//! OpenBSD nc's `errx` does.

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection};
use socket2::Socket;

use super::report::{self as tls_report, Negotiated};
use super::session::{self, Session};
use super::setup;
use super::{TlsConfig, certinfo};
use crate::exit::Abort;
use crate::reactor::Reactor;

/// The name the certificate must carry (and the SNI, for a DNS name):
/// `-e`, else the destination host.
pub fn peer_name(t: &TlsConfig, host: &OsStr) -> String {
    t.name
        .clone()
        .unwrap_or_else(|| host.to_string_lossy().into_owned())
}

/// A client session before its handshake: `Err` is the reason the name
/// cannot be used (OpenBSD's `tls connection failed (%s)`).
pub fn connection(config: &Arc<ClientConfig>, name: &str) -> Result<Connection, String> {
    let sn = ServerName::try_from(name.to_string())
        .map_err(|_| format!("`{name}' is neither a host name nor an IP address"))?;
    ClientConnection::new(config.clone(), sn)
        .map(Connection::Client)
        .map_err(|e| tls_report::tls_error_text(&e))
}

/// What `-v` prints of a finished handshake, and the `-H` verdict:
/// false when the pin does not match (the refusal is printed).
pub fn report_and_check(t: &TlsConfig, s: &Session, host: &str, name: &str, verbose: bool) -> bool {
    let cert = s
        .peer_cert()
        .map(|der| (certinfo::parse(der), certinfo::hash(der)));
    if verbose {
        let suite = s
            .conn
            .negotiated_cipher_suite()
            .map(|cs| setup::openssl_name(cs.suite()))
            .unwrap_or_default();
        let info = cert
            .as_ref()
            .and_then(|(i, h)| i.as_ref().map(|i| (i, h.as_str())));
        tls_report::negotiated(&Negotiated {
            version: setup::version_name(s.conn.protocol_version()),
            cipher: &suite,
            host,
            peer_name: name,
            cert: info,
            alpn: s.conn.alpn_protocol(),
        });
    }
    if let Some(pin) = &t.pin {
        let matches = cert.as_ref().is_some_and(|(_, h)| h == pin);
        if !matches {
            tls_report::pin_mismatch(pin);
            return false;
        }
    }
    true
}

/// Runs the client handshake on `sock`. Any failure is reported and ends
/// the run (status 1).
pub fn start(
    rx: &mut Reactor,
    t: &TlsConfig,
    config: &Arc<ClientConfig>,
    sock: Socket,
    host: &OsStr,
    timeout: Option<Duration>,
    verbose: bool,
) -> Result<Session, Abort> {
    let name = peer_name(t, host);
    let conn = match connection(config, &name) {
        Ok(c) => c,
        Err(why) => {
            crate::report::warnx(format_args!("tls connection failed ({why})"));
            return Err(Abort::Failed);
        }
    };
    let mut s = Session::new(sock, conn);
    if let Err(e) = session::handshake(rx, &mut s, timeout)? {
        tls_report::handshake_failed(&e);
        return Err(Abort::Failed);
    }
    let host = host.to_string_lossy();
    if !report_and_check(t, &s, &host, &name, verbose) {
        return Err(Abort::Failed);
    }
    Ok(s)
}

/// Builds the client configuration once per run.
pub fn config(t: &TlsConfig) -> Result<Arc<ClientConfig>, Abort> {
    setup::client(t).map_err(|_| Abort::Failed)
}
