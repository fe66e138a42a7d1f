//! Certificate checks and their reasons in plain words.
//!
//! The chain and name checks are rustls's (webpki); this part decides
//! what `noverify`, `noname` and `-H` change, and finds what exactly is
//! wrong with a refused certificate ([`CertProblem`], worded by
//! `report`). The problem travels inside the rustls error (as
//! `CertificateError::Other`), so concurrent handshakes (scans) never mix
//! them up.
//!
//! A certificate that matches the `-H` pin is accepted even when it does
//! not chain to a trust anchor or carry the name: the pin names that exact
//! certificate (OpenBSD nc requires both: docs/compatibility.md departure
//! 16). X.509 v1, CA-as-end-entity and CN-only certificates are refused
//! with the problem named (departure 17). A pin
//! that does not match lets the handshake finish, so that `-v` prints the
//! certificate before the refusal `peer certificate is not HASH`.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError};

use super::certinfo::{self, CertInfo};

/// Why a certificate was refused, for the words inside `tls handshake
/// failed (...)`. `role` is `server` or `client`.
#[derive(Debug)]
pub enum CertProblem {
    /// X.509 v1 (libtls accepts it, rustls does not).
    Version1 {
        role: &'static str,
    },
    /// A CA certificate (CA:TRUE) used as the peer's own.
    CaAsEndEntity {
        role: &'static str,
    },
    Expired {
        not_after: Option<i64>,
    },
    NotYetValid {
        not_before: Option<i64>,
    },
    UnknownIssuer {
        self_signed: bool,
    },
    /// The name is not among the subjectAltNames.
    WrongName {
        role: &'static str,
        name: String,
        sans: Vec<String>,
    },
    /// No subjectAltName at all: names only in the Common Name.
    CnOnly {
        role: &'static str,
        name: String,
        cns: Vec<String>,
    },
    NoStaple,
    BadSignature,
    BadEncoding,
    Revoked,
    WrongPurpose {
        role: &'static str,
    },
    /// Anything else: rustls's name for it (its `Debug` form).
    Other(String),
}

impl std::error::Error for CertProblem {}

fn refuse(p: CertProblem) -> Error {
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(p))))
}

/// The properties rustls refuses and libtls accepts.
fn shape_problem(info: &CertInfo, role: &'static str) -> Option<CertProblem> {
    if info.version == 1 {
        return Some(CertProblem::Version1 { role });
    }
    if info.is_ca {
        return Some(CertProblem::CaAsEndEntity { role });
    }
    None
}

/// What exactly is wrong with `ee` when webpki refused it for `name`
/// (`None` for a client certificate).
pub fn problem(err: &Error, ee: &[u8], name: Option<&str>, role: &'static str) -> CertProblem {
    let info = certinfo::parse(ee);
    if let Some(p) = info.as_ref().and_then(|i| shape_problem(i, role)) {
        return p;
    }
    let Error::InvalidCertificate(ce) = err else {
        return CertProblem::Other(format!("{err:?}"));
    };
    match ce {
        CertificateError::Expired => CertProblem::Expired { not_after: None },
        CertificateError::ExpiredContext { not_after, .. } => CertProblem::Expired {
            not_after: Some(not_after.as_secs() as i64),
        },
        CertificateError::NotValidYet => CertProblem::NotYetValid { not_before: None },
        CertificateError::NotValidYetContext { not_before, .. } => CertProblem::NotYetValid {
            not_before: Some(not_before.as_secs() as i64),
        },
        CertificateError::UnknownIssuer => CertProblem::UnknownIssuer {
            self_signed: info.as_ref().is_some_and(|i| i.self_signed),
        },
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let name = name.unwrap_or("?").to_string();
            match info {
                Some(i) if !i.has_san => CertProblem::CnOnly {
                    role,
                    name,
                    cns: i.common_names,
                },
                Some(i) => CertProblem::WrongName {
                    role,
                    name,
                    sans: i.sans,
                },
                None => CertProblem::WrongName {
                    role,
                    name,
                    sans: Vec::new(),
                },
            }
        }
        CertificateError::BadSignature => CertProblem::BadSignature,
        CertificateError::BadEncoding => CertProblem::BadEncoding,
        CertificateError::Revoked => CertProblem::Revoked,
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            CertProblem::WrongPurpose { role }
        }
        other => CertProblem::Other(format!("{other:?}")),
    }
}

/// The client's check of the server certificate.
#[derive(Debug)]
pub struct ServerCheck {
    /// The chain and name check; `None` with `-T noverify`.
    pub webpki: Option<Arc<WebPkiServerVerifier>>,
    pub noname: bool,
    pub pin: Option<String>,
    pub muststaple: bool,
    pub provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        ee: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.pin.is_some() {
            // Matched: accepted as is. Not matched: refused after the
            // handshake, once -v has shown the certificate.
            return Ok(ServerCertVerified::assertion());
        }
        if self.muststaple && ocsp.is_empty() {
            return Err(refuse(CertProblem::NoStaple));
        }
        let Some(w) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match w.verify_server_cert(ee, intermediates, server_name, ocsp, now) {
            Ok(v) => Ok(v),
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.noname => Ok(ServerCertVerified::assertion()),
            Err(e) => {
                let name = server_name.to_str();
                Err(refuse(problem(&e, ee, Some(&name), "server")))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .map_err(|e| signature_error(e, cert))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .map_err(|e| signature_error(e, cert))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A signature check that failed because the certificate itself cannot
/// be read as rustls wants it (X.509 v1 with `noverify` or a pin).
fn signature_error(e: Error, cert: &CertificateDer<'_>) -> Error {
    match certinfo::parse(cert).and_then(|i| shape_problem(&i, "server")) {
        Some(p) if matches!(e, Error::InvalidCertificate(_)) => refuse(p),
        _ => e,
    }
}

/// The listener's check of a client certificate (`-T clientcert`, or a
/// listener given `-R`): optional in the handshake; a missing one is
/// refused after it, with OpenBSD's `No client certificate provided`.
#[derive(Debug)]
pub struct ClientCheck {
    pub webpki: Arc<dyn ClientCertVerifier>,
}

impl ClientCheck {
    pub fn new(
        roots: Arc<rustls::RootCertStore>,
        provider: Arc<CryptoProvider>,
    ) -> Result<ClientCheck, String> {
        // (Err: the builder's error in its `Debug` form.)
        let v = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| format!("{e:?}"))?;
        Ok(ClientCheck { webpki: v })
    }
}

impl ClientCertVerifier for ClientCheck {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        ee: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.webpki
            .verify_client_cert(ee, intermediates, now)
            .map_err(|e| refuse(problem(&e, ee, None, "client")))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Whether `der` names `name` in its subjectAltName (a DNS name, with a
/// `*.` wildcard on the first label, or an IP address): the listener's
/// `-e` check of a client certificate.
pub fn cert_has_name(der: &[u8], name: &str) -> bool {
    let Some(info) = certinfo::parse(der) else {
        return false;
    };
    let want = name.trim_end_matches('.').to_ascii_lowercase();
    let want_ip: Option<std::net::IpAddr> = want.parse().ok();
    info.sans.iter().any(|san| {
        let san = san.to_ascii_lowercase();
        if let Some(ip) = want_ip {
            return san.parse::<std::net::IpAddr>().ok() == Some(ip);
        }
        match san.strip_prefix("*.") {
            Some(rest) => want
                .split_once('.')
                .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
            None => san == want,
        }
    })
}
