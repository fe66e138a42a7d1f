//! A scan's TLS probe (`-zc`): once a port accepts the TCP connection,
//! the handshake runs on the probe's socket, side by side with the other
//! probes, and no application data is sent. Open means the handshake and
//! the verification succeeded; anything else is the reason, in the words
//! of `tls handshake failed (...)`.

use std::sync::Arc;

use mio::Interest;
use rustls::{ClientConfig, Connection};
use socket2::Socket;

use super::session::{self, Progress};
use super::{TlsConfig, certinfo, setup};
use crate::report::tls::{ScanDetails, ScanOutcome, pin_mismatch_text};

/// The end of a TLS probe: the details, or the reason it failed.
pub type Outcome = ScanOutcome;

/// One handshake in flight.
pub struct TlsProbe {
    conn: Connection,
    hs: session::HsState,
}

/// What a step of the probe leads to.
pub enum Next {
    Wait(Interest),
    Finished(Outcome),
}

impl TlsProbe {
    /// A handshake for `host` (or `-e`): `Err` when the name is unusable.
    pub fn new(
        config: &Arc<ClientConfig>,
        t: &TlsConfig,
        host: &std::ffi::OsStr,
    ) -> Result<TlsProbe, String> {
        let name = super::client::peer_name(t, host);
        let conn = super::client::connection(config, &name).map_err(|f| f.reason())?;
        Ok(TlsProbe {
            conn,
            hs: session::HsState::default(),
        })
    }

    /// All the handshake work possible now on `sock`.
    pub fn step(&mut self, sock: &Socket, t: &TlsConfig) -> Next {
        match session::drive(&mut self.conn, sock, &mut self.hs) {
            Progress::Wait(i) => Next::Wait(i),
            Progress::Failed(e) => Next::Finished(Err(e.text())),
            Progress::Done => Next::Finished(self.details(t)),
        }
    }

    fn details(&self, t: &TlsConfig) -> Outcome {
        let der = self
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec());
        if let Some(pin) = &t.pin {
            if der.as_deref().map(certinfo::hash).as_ref() != Some(pin) {
                return Err(pin_mismatch_text(pin));
            }
        }
        let info = der.as_deref().and_then(certinfo::parse).unwrap_or_default();
        Ok(ScanDetails {
            version: setup::version_name(self.conn.protocol_version()),
            cipher: self
                .conn
                .negotiated_cipher_suite()
                .map(|cs| setup::openssl_name(cs.suite()))
                .unwrap_or_default(),
            subject: info.subject,
            issuer: info.issuer,
            sans: info.sans,
            not_after: der.is_some().then_some(info.not_after),
            alpn: self
                .conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        })
    }
}
