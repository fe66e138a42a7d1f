//! The rustls configurations, built once per run from [`TlsConfig`]:
//! the crypto provider (ring) narrowed by `ciphers=`, the versions of
//! `protocols=`, the trust anchors (`-R` or the system store), the
//! certificate and key, and a listener's throw-away certificate.

use std::ffi::OsStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::verify::{ClientCheck, ServerCheck};
use super::{TlsConfig, certinfo};

#[derive(Clone, Copy, Debug)]
pub enum LoadWhat {
    Ca,
    Cert,
    Key,
    Staple,
}

/// Why a file could not be used (`report::tls` words it).
#[derive(Debug)]
pub enum LoadWhy {
    /// Reading it failed.
    Io(crate::sys::errno::Errno),
    /// No PEM item in it.
    NoPem,
    /// A PEM item rustls refused (its `Debug` form).
    BadPem(String),
    /// A certificate file with no certificate.
    NoCertificate,
    /// A key file with PEM items but no private key among them.
    NoKey,
    /// The system store holds no trust anchor.
    NoTrustAnchors,
    /// rustls refused a certificate of it.
    Refused(rustls::Error),
    /// ncrab's own certificate is X.509 v1, which rustls cannot use
    /// (departure 17: refused with the fix).
    OwnVersion1,
}

/// Why rustls refused the configuration (`report::tls` words it).
#[derive(Debug)]
pub enum ConfigWhy {
    Tls(rustls::Error),
    /// The verifier could not be built (its `Debug` form).
    Verifier(String),
    /// The throw-away certificate of `-lc` could not be made.
    SelfSigned(rcgen::Error),
}

/// Why the TLS configuration could not be built.
#[derive(Debug)]
pub enum SetupError {
    /// A file (what, path, why).
    Load(LoadWhat, std::ffi::OsString, LoadWhy),
    /// rustls refused the configuration.
    Config(ConfigWhy),
}

use SetupError as Failed;

/// The canonical (IANA) name of a suite.
pub fn suite_name(cs: rustls::CipherSuite) -> String {
    format!("{cs:?}").replacen("TLS13_", "TLS_", 1)
}

/// The OpenSSL name of a suite, as libtls's `tls_conn_cipher` reports it.
pub fn openssl_name(cs: rustls::CipherSuite) -> String {
    let iana = suite_name(cs);
    super::SUITES
        .iter()
        .find(|(i, _)| *i == iana)
        .map_or(iana.clone(), |(_, o)| o.to_string())
}

/// `TLSv1.2` / `TLSv1.3`, as libtls's `tls_conn_version`.
pub fn version_name(v: Option<rustls::ProtocolVersion>) -> &'static str {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "unknown",
    }
}

fn provider(t: &TlsConfig) -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(names) = &t.ciphers {
        p.cipher_suites
            .retain(|s| names.contains(&suite_name(s.suite()).as_str()));
    }
    Arc::new(p)
}

fn versions(t: &TlsConfig) -> Vec<&'static SupportedProtocolVersion> {
    let mut v = Vec::new();
    if t.versions.tls13 {
        v.push(&rustls::version::TLS13);
    }
    if t.versions.tls12 {
        v.push(&rustls::version::TLS12);
    }
    v
}

fn pem_error(e: rustls::pki_types::pem::Error) -> LoadWhy {
    match e {
        rustls::pki_types::pem::Error::Io(e) => LoadWhy::Io(crate::sys::errno::Errno::of(&e)),
        rustls::pki_types::pem::Error::NoItemsFound => LoadWhy::NoPem,
        other => LoadWhy::BadPem(format!("{other:?}")),
    }
}

/// The certificates of a PEM file, in order.
fn load_certs(path: &OsStr, what: LoadWhat) -> Result<Vec<CertificateDer<'static>>, Failed> {
    let fail = |why: LoadWhy| Failed::Load(what, path.to_os_string(), why);
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| fail(pem_error(e)))?;
    let mut out = Vec::new();
    for c in iter {
        out.push(c.map_err(|e| fail(pem_error(e)))?);
    }
    if out.is_empty() {
        return Err(fail(LoadWhy::NoCertificate));
    }
    Ok(out)
}

/// ncrab's own chain (`--tls-cert`): an X.509 v1 certificate first is
/// refused here with the fix, as rustls would refuse it only with its
/// bare `UnsupportedCertVersion` (OpenBSD's regress certificates are v1).
fn load_own_chain(path: &OsStr) -> Result<Vec<CertificateDer<'static>>, Failed> {
    let chain = load_certs(path, LoadWhat::Cert)?;
    if let Some(info) = chain.first().and_then(|c| certinfo::parse(c)) {
        if info.version == 1 {
            return Err(Failed::Load(
                LoadWhat::Cert,
                path.to_os_string(),
                LoadWhy::OwnVersion1,
            ));
        }
    }
    Ok(chain)
}

fn load_key(path: &OsStr) -> Result<PrivateKeyDer<'static>, Failed> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        // A file of other PEM items (a certificate given as -K) has no
        // key in it, which "no PEM item found" would misstate.
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound if has_pem_item(path) => LoadWhy::NoKey,
            e => pem_error(e),
        };
        Failed::Load(LoadWhat::Key, path.to_os_string(), why)
    })
}

/// The file holds at least one PEM item (of any kind).
fn has_pem_item(path: &OsStr) -> bool {
    std::fs::read(path).is_ok_and(|b| b.windows(11).any(|w| w == b"-----BEGIN "))
}

/// The trust anchors: `-R FILE`, or the system store (which honours
/// `SSL_CERT_FILE` and `SSL_CERT_DIR`; on Debian
/// /etc/ssl/certs/ca-certificates.crt).
fn roots(t: &TlsConfig) -> Result<Arc<RootCertStore>, Failed> {
    let mut store = RootCertStore::empty();
    match &t.ca {
        Some(path) => {
            for c in load_certs(path, LoadWhat::Ca)? {
                if let Err(e) = store.add(c) {
                    return Err(Failed::Load(
                        LoadWhat::Ca,
                        path.clone(),
                        LoadWhy::Refused(e),
                    ));
                }
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                let path = std::env::var_os("SSL_CERT_FILE")
                    .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
                return Err(Failed::Load(LoadWhat::Ca, path, LoadWhy::NoTrustAnchors));
            }
        }
    }
    Ok(Arc::new(store))
}

fn config_error(e: rustls::Error) -> Failed {
    Failed::Config(ConfigWhy::Tls(e))
}

/// The client configuration (`-c` without `-l`).
pub fn client(t: &TlsConfig) -> Result<Arc<ClientConfig>, Failed> {
    let provider = provider(t);
    // A pin names the certificate; noverify checks nothing: neither needs
    // the trust anchors (and skipping them keeps start-up short).
    let webpki = if t.noverify || t.pin.is_some() {
        None
    } else {
        let v = WebPkiServerVerifier::builder_with_provider(roots(t)?, provider.clone())
            .build()
            .map_err(|e| Failed::Config(ConfigWhy::Verifier(format!("{e:?}"))))?;
        Some(v)
    };
    let check = ServerCheck {
        webpki,
        noname: t.noname,
        pin: t.pin.clone(),
        muststaple: t.muststaple,
        provider: provider.clone(),
    };
    let b = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(t))
        .map_err(config_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(check));
    let mut cfg = match &t.cert {
        Some(cert) => {
            let chain = load_own_chain(cert)?;
            let key = load_key(t.key.as_deref().unwrap_or(cert))?;
            b.with_client_auth_cert(chain, key).map_err(config_error)?
        }
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = t.alpn.clone();
    Ok(Arc::new(cfg))
}

/// A listener's configuration and, for a generated certificate, its hash.
pub struct Server {
    pub config: Arc<ServerConfig>,
    pub own_hash: Option<String>,
}

/// The listener configuration (`-lc`). Without `--tls-cert`, a
/// self-signed certificate for `host` and `localhost`, made in memory.
pub fn server(t: &TlsConfig, host: Option<&OsStr>) -> Result<Server, Failed> {
    let provider = provider(t);
    let (chain, key, own_hash) = match &t.cert {
        Some(cert) => {
            let chain = load_own_chain(cert)?;
            let key = load_key(t.key.as_deref().unwrap_or(cert))?;
            (chain, key, None)
        }
        None => {
            let mut names = vec!["localhost".to_string()];
            if let Some(h) = host.map(|h| h.to_string_lossy().into_owned()) {
                if h != "localhost" && !h.is_empty() {
                    names.insert(0, h);
                }
            }
            let ck = rcgen::generate_simple_self_signed(names)
                .map_err(|e| Failed::Config(ConfigWhy::SelfSigned(e)))?;
            let der = ck.cert.der().clone();
            let hash = certinfo::hash(&der);
            let key =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
            (vec![der], key, Some(hash))
        }
    };
    let b = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(t))
        .map_err(config_error)?;
    let b = if t.clientcert || t.ca.is_some() {
        let check = ClientCheck::new(roots(t)?, provider)
            .map_err(|e| Failed::Config(ConfigWhy::Verifier(e)))?;
        b.with_client_cert_verifier(Arc::new(check))
    } else {
        b.with_no_client_auth()
    };
    let mut cfg = match &t.staple {
        Some(path) => {
            let ocsp = std::fs::read(path).map_err(|e| {
                let why = LoadWhy::Io(crate::sys::errno::Errno::of(&e));
                Failed::Load(LoadWhat::Staple, path.clone(), why)
            })?;
            b.with_single_cert_with_ocsp(chain, key, ocsp)
        }
        None => b.with_single_cert(chain, key),
    }
    .map_err(config_error)?;
    cfg.alpn_protocols = t.alpn.clone();
    // No session tickets: nc sessions are not resumed, and a client that
    // reads nothing (`-z`, `-d`) should not get unread records.
    cfg.send_tls13_tickets = 0;
    Ok(Server {
        config: Arc::new(cfg),
        own_hash,
    })
}
