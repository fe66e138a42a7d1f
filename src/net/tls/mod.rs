//! TLS over TCP (`-c`) with rustls, inside the one event loop: a way of
//! getting a TLS session on a socket some other code connected (directly,
//! through a proxy) or accepted.
//!
//! What this part of `net` owns:
//! - [`TlsConfig`]: the validated TLS options (`cli` fills it once).
//! - [`setup`]: the rustls client and server configurations built from
//!   it: trust anchors (`-R` or the system store), certificate and key,
//!   the throw-away self-signed certificate of a listener.
//! - [`verify`]: the certificate checks (chain, name, the `-H` pin,
//!   `noverify`, `noname`) and why a certificate was refused
//!   ([`verify::CertProblem`]).
//! - [`session`]: a TLS session over a connected socket and the
//!   non-blocking handshake machine; [`client`]: a client session, its
//!   `-v` summary and the `-H` verdict; [`probe`]: a scan's handshake;
//!   [`record`]: the records after the handshake.
//! - [`certinfo`]: the fields of a certificate.
//!
//! Like every way of connecting, it returns a session or an error and
//! leaves the wording to `report::tls`, which also words the error types
//! defined here; the bytes of a session are moved by
//! `relay::tls`.

pub mod certinfo;
pub mod client;
pub mod probe;
pub mod record;
pub mod session;
pub mod setup;
pub mod verify;

use std::ffi::OsString;

/// TLS protocol versions allowed (`-T protocols=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub tls12: bool,
    pub tls13: bool,
}

impl Default for Versions {
    fn default() -> Self {
        Versions {
            tls12: true,
            tls13: true,
        }
    }
}

/// The validated TLS options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `--tls-cert`: PEM certificate chain.
    pub cert: Option<OsString>,
    /// `-K`: PEM private key.
    pub key: Option<OsString>,
    /// `-R`: trust anchors; `None` means the system store.
    pub ca: Option<OsString>,
    /// `-e`: the name the peer certificate must carry (and the SNI).
    pub name: Option<String>,
    /// `-H`: `SHA256:` + hex, lowercased.
    pub pin: Option<String>,
    /// `-o`: OCSP response to staple (listener).
    pub staple: Option<OsString>,
    pub noverify: bool,
    pub noname: bool,
    pub clientcert: bool,
    pub muststaple: bool,
    pub versions: Versions,
    /// `ciphers=`: canonical suite names; `None` for all.
    pub ciphers: Option<Vec<&'static str>>,
    /// `alpn=` or `--tls-alpn`.
    pub alpn: Vec<Vec<u8>>,
    /// `--starttls`: the plaintext preamble before the handshake.
    pub starttls: Option<crate::net::starttls::StartTls>,
}

/// The cipher suites ncrab offers: (IANA name, OpenSSL name).
pub const SUITES: &[(&str, &str)] = &[
    ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
    ("TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];
