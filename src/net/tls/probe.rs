//! A scan's TLS probe (`-zc`): once a port accepts the TCP connection,
//! the handshake runs on the probe's socket, side by side with the other
//! probes, and no application data is sent. Open means the handshake and
//! the verification succeeded; anything else is a [`ProbeFailure`],
//! which `report::tls` words as inside `tls handshake failed (...)`.

use std::sync::Arc;

use mio::Interest;
use rustls::{ClientConfig, Connection};
use socket2::Socket;

use super::client::Failure;
use super::session::HandshakeError;
use super::session::{self, Progress};
use super::{TlsConfig, certinfo, setup};
use crate::net::starttls::{self, Conversation, Dialog, StartTlsError, Why};

/// What `-vv` and `--json` show of a port that spoke TLS.
#[derive(Clone, Debug, Default)]
pub struct ScanDetails {
    pub version: &'static str,
    pub cipher: String,
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_after: Option<i64>,
    pub alpn: Option<String>,
    /// The chain and name were verified (None: `-T noverify` or `-H`
    /// checked nothing of them).
    pub chain_ok: Option<bool>,
}

/// Why a TLS probe failed (`report::tls` words it).
#[derive(Debug)]
pub enum ProbeFailure {
    /// The session could not start (the name is unusable).
    Start(Failure),
    /// The handshake failed.
    Handshake(HandshakeError),
    /// `-H`: the certificate is not the pinned one.
    PinMismatch(String),
    /// `--starttls`: the plaintext preamble failed.
    StartTls(StartTlsError),
}

/// The end of a TLS probe: the details, or why it failed.
pub type Outcome = Result<ScanDetails, ProbeFailure>;

/// One handshake in flight.
pub struct TlsProbe {
    conn: Connection,
    hs: session::HsState,
    /// `--starttls`: the preamble, until it is over.
    pre: Option<Conversation>,
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
    ) -> Result<TlsProbe, ProbeFailure> {
        let name = super::client::peer_name(t, host);
        let conn = super::client::connection(config, &name).map_err(ProbeFailure::Start)?;
        let pre = t
            .starttls
            .as_ref()
            .map(|st| Conversation::new(Dialog::new(st.proto, &starttls::name_for(st, host))));
        Ok(TlsProbe {
            conn,
            hs: session::HsState::default(),
            pre,
        })
    }

    /// All the work possible now on `sock`: the `--starttls` preamble,
    /// then the handshake.
    pub fn step(&mut self, sock: &Socket, t: &TlsConfig) -> Next {
        if let Some(pre) = &mut self.pre {
            match pre.step(sock) {
                Err(want) => return Next::Wait(want),
                Ok(None) | Ok(Some(Ok(()))) => self.pre = None,
                Ok(Some(Err(e))) => return Next::Finished(Err(ProbeFailure::StartTls(e))),
            }
        }
        match session::drive(&mut self.conn, sock, &mut self.hs) {
            Progress::Wait(i) => Next::Wait(i),
            Progress::Failed(e) => Next::Finished(Err(ProbeFailure::Handshake(e))),
            Progress::Done => Next::Finished(self.details(t)),
        }
    }

    /// The probe's wait ran out: the `--starttls` preamble's failure, if
    /// it was still under way.
    pub fn preamble_timed_out(&self, wait: std::time::Duration) -> Option<ProbeFailure> {
        let pre = self.pre.as_ref()?;
        Some(ProbeFailure::StartTls(pre.error(Why::NoAnswer(wait))))
    }

    fn details(&self, t: &TlsConfig) -> Outcome {
        let der = self
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec());
        if let Some(pin) = &t.pin {
            if der.as_deref().map(certinfo::hash).as_ref() != Some(pin) {
                return Err(ProbeFailure::PinMismatch(pin.clone()));
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
            chain_ok: (!t.noverify && t.pin.is_none()).then_some(true),
        })
    }
}
