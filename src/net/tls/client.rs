//! The client side of `-c`: a TLS session on a socket some other code
//! connected (directly or through a proxy). [`start`] runs the handshake
//! and returns the session or why it failed ([`Failure`]); the caller
//! reports it, prints the `-v` lines ([`Summary`], both worded by
//! `report::tls`) and applies the `-H` verdict ([`pin_matches`]).

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection};
use socket2::Socket;

use super::certinfo::{self, CertInfo};
use super::session::HandshakeError;
use super::session::{self, Session};
use super::{TlsConfig, setup};
use crate::sys::reactor::{Reactor, Stop};

/// The name the certificate must carry (and the SNI, for a DNS name):
/// `-e`, else the destination host.
pub fn peer_name(t: &TlsConfig, host: &OsStr) -> String {
    t.name
        .clone()
        .unwrap_or_else(|| host.to_string_lossy().into_owned())
}

/// The server name of `name` (SNI and the name checked); `Err` when it is
/// neither a host name nor an IP address.
fn server_name(name: &str) -> Result<ServerName<'static>, Failure> {
    ServerName::try_from(name.to_string()).map_err(|_| Failure::Name(name.into()))
}

/// A client session before its handshake (a scan's probe: its records are
/// never needed); `Err` when the name is unusable.
pub fn connection(config: &Arc<ClientConfig>, name: &str) -> Result<Connection, Failure> {
    ClientConnection::new(config.clone(), server_name(name)?)
        .map(Connection::Client)
        .map_err(|e| Failure::Handshake(HandshakeError::Tls(e)))
}

/// Why a client session could not start.
#[derive(Debug)]
pub enum Failure {
    /// The name cannot be checked (OpenBSD: `tls connection failed`).
    Name(String),
    /// `tls handshake failed (...)`.
    Handshake(HandshakeError),
}

/// What `-v` shows of a finished handshake.
pub struct Summary {
    pub version: &'static str,
    pub cipher: String,
    pub cert: Option<(CertInfo, String)>,
    pub alpn: Option<Vec<u8>>,
}

impl Summary {
    pub fn of(s: &Session) -> Summary {
        Summary {
            version: setup::version_name(s.conn.protocol_version()),
            cipher: s
                .conn
                .negotiated_cipher_suite()
                .map(|cs| setup::openssl_name(cs.suite()))
                .unwrap_or_default(),
            cert: s
                .peer_cert()
                .and_then(|der| certinfo::parse(der).map(|info| (info, certinfo::hash(der)))),
            alpn: s.conn.alpn_protocol().map(<[u8]>::to_vec),
        }
    }
}

/// The `-H` verdict: true without a pin, or when the peer's certificate
/// has that hash.
pub fn pin_matches(t: &TlsConfig, s: &Session) -> bool {
    match &t.pin {
        None => true,
        Some(pin) => s.peer_cert().is_some_and(|der| certinfo::hash(der) == *pin),
    }
}

/// Runs the client handshake on `sock` for `host` (or `-e`), for at most
/// `timeout`.
pub fn start(
    rx: &mut Reactor,
    t: &TlsConfig,
    config: &Arc<ClientConfig>,
    sock: Socket,
    host: &OsStr,
    timeout: Option<Duration>,
) -> Result<Result<Session, Failure>, Stop> {
    let name = match server_name(&peer_name(t, host)) {
        Ok(n) => n,
        Err(f) => return Ok(Err(f)),
    };
    let mut s = match Session::client(sock, config, name) {
        Ok(s) => s,
        Err(e) => return Ok(Err(Failure::Handshake(HandshakeError::Tls(e)))),
    };
    Ok(match session::handshake(rx, &mut s, timeout)? {
        Ok(()) => Ok(s),
        Err(e) => Err(Failure::Handshake(e)),
    })
}
