//! TLS over TCP (`-c`): OpenBSD nc's option set, done with rustls inside
//! the one event loop.
//!
//! What this layer owns:
//! - [`TlsConfig`]: the validated TLS options (built once by `cli`), and
//!   the parsing of the `-T` keywords (`noverify`, `protocols=`, ...).
//! - [`setup`]: the rustls client and server configurations built from
//!   it: trust anchors (`-R` or the system store), certificate and key,
//!   the throw-away self-signed certificate of a listener.
//! - [`verify`]: the certificate checks (chain, name, `-H` pin,
//!   `noverify`, `noname`) and their failure reasons in plain words.
//! - [`session`]: a TLS session over a connected socket and the
//!   non-blocking handshake machine.
//! - [`relay`]: stdin/stdout to and from the session, with nc's EOF rules.
//! - [`certinfo`]: the certificate fields `-v` prints.
//!
//! Connecting and listening stay where they are: a TLS session starts on a
//! socket some other layer connected or accepted.

pub mod args;
pub mod certinfo;
pub mod client;
pub mod probe;
pub mod relay;
pub mod report;
pub mod server;
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
}

/// What one `-T` value means, when it is a TLS keyword.
#[derive(Debug, PartialEq, Eq)]
pub enum Keyword {
    NoVerify,
    NoName,
    ClientCert,
    MustStaple,
    Protocols(String),
    Ciphers(String),
    Alpn(String),
}

/// OpenBSD's `process_tls_opt`: `Ok(None)` when `s` is not a TLS keyword
/// (then it is a TOS value), `Err(())` for a keyword whose value is
/// missing (`invalid tls value`).
pub fn keyword(s: &[u8]) -> Result<Option<Keyword>, ()> {
    let Ok(s) = std::str::from_utf8(s) else {
        return Ok(None);
    };
    Ok(Some(match s {
        "noverify" => Keyword::NoVerify,
        "noname" => Keyword::NoName,
        "clientcert" => Keyword::ClientCert,
        "muststaple" => Keyword::MustStaple,
        _ => {
            let Some((k, v)) = s.split_once('=') else {
                return Ok(None);
            };
            if !matches!(k, "protocols" | "ciphers" | "alpn") {
                return Ok(None);
            }
            if v.is_empty() {
                return Err(());
            }
            match k {
                "protocols" => Keyword::Protocols(v.to_string()),
                "ciphers" => Keyword::Ciphers(v.to_string()),
                _ => Keyword::Alpn(v.to_string()),
            }
        }
    }))
}

/// libtls's `tls_config_parse_protocols`: a list separated by `,` or
/// `:`, each `all`, `legacy`, `default`, `secure`, `tlsv1`, `tlsv1.0` ..
/// `tlsv1.3`, optionally negated with `!`. ncrab speaks TLS 1.2 and 1.3
/// only, so a list that leaves neither is refused too.
pub fn parse_protocols(s: &str) -> Option<Versions> {
    // Bits: 1.0, 1.1, 1.2, 1.3.
    let mut set = 0u8;
    let mut first = true;
    for tok in s.split([',', ':']) {
        let tok = tok.trim().to_ascii_lowercase();
        if tok.is_empty() {
            continue;
        }
        let (neg, name) = match tok.strip_prefix('!') {
            Some(n) => (true, n.to_string()),
            None => (false, tok),
        };
        let bits = match name.as_str() {
            "all" | "legacy" => 0b1111,
            "default" | "secure" => 0b1100,
            "tlsv1" => 0b0011,
            "tlsv1.0" => 0b0001,
            "tlsv1.1" => 0b0010,
            "tlsv1.2" => 0b0100,
            "tlsv1.3" => 0b1000,
            _ => return None,
        };
        if neg {
            if first {
                set = 0b1111;
            }
            set &= !bits;
        } else {
            set |= bits;
        }
        first = false;
    }
    let v = Versions {
        tls12: set & 0b0100 != 0,
        tls13: set & 0b1000 != 0,
    };
    (v.tls12 || v.tls13).then_some(v)
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

/// `ciphers=`: libtls's keywords (`secure`, `default`, `compat`, `legacy`,
/// `insecure`, `all`) mean every suite ncrab has; otherwise a list of
/// IANA or OpenSSL names separated by `:` or `,` (unknown names are
/// skipped, as OpenSSL does; a list naming none is refused).
pub fn parse_ciphers(s: &str) -> Option<Option<Vec<&'static str>>> {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "secure" | "default" | "compat" | "legacy" | "insecure" | "all"
    ) {
        return Some(None);
    }
    let mut out = Vec::new();
    for tok in s.split([':', ',']) {
        let tok = tok.trim();
        // rustls spells the TLS 1.3 suites TLS13_...
        let iana = tok.replacen("TLS13_", "TLS_", 1);
        if let Some(&(name, _)) = SUITES
            .iter()
            .find(|(i, o)| i.eq_ignore_ascii_case(&iana) || o.eq_ignore_ascii_case(tok))
        {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    (!out.is_empty()).then_some(Some(out))
}

/// ALPN protocol names, comma-separated (libtls's `alpn=` form).
pub fn parse_alpn(s: &str) -> Option<Vec<Vec<u8>>> {
    let v: Vec<Vec<u8>> = s.split(',').map(|p| p.as_bytes().to_vec()).collect();
    v.iter()
        .all(|p| !p.is_empty() && p.len() < 256)
        .then_some(v)
}

/// `-H`: OpenBSD compares the text as given; ncrab accepts the hex in
/// either case and keeps it lowercased (`SHA256:` + 64 hex digits).
pub fn normalize_pin(s: &str) -> String {
    match s.split_once(':') {
        Some((alg, hex)) if alg.eq_ignore_ascii_case("sha256") => {
            format!("SHA256:{}", hex.to_ascii_lowercase())
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        assert_eq!(keyword(b"noverify"), Ok(Some(Keyword::NoVerify)));
        assert_eq!(keyword(b"lowdelay"), Ok(None));
        assert_eq!(keyword(b"protocols="), Err(()));
        assert_eq!(
            keyword(b"alpn=h2,http/1.1"),
            Ok(Some(Keyword::Alpn("h2,http/1.1".into())))
        );
        assert_eq!(keyword(b"foo=bar"), Ok(None));
    }

    #[test]
    fn protocols() {
        let v = |a, b| Some(Versions { tls12: a, tls13: b });
        assert_eq!(parse_protocols("tlsv1.3"), v(false, true));
        assert_eq!(parse_protocols("TLSv1.2"), v(true, false));
        assert_eq!(parse_protocols("all"), v(true, true));
        assert_eq!(parse_protocols("secure:!tlsv1.2"), v(false, true));
        assert_eq!(parse_protocols("!tlsv1.3"), v(true, false));
        assert_eq!(parse_protocols("tlsv1.0"), None);
        assert_eq!(parse_protocols("bogus"), None);
    }

    #[test]
    fn ciphers() {
        assert_eq!(parse_ciphers("secure"), Some(None));
        assert_eq!(
            parse_ciphers("TLS13_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256"),
            Some(Some(vec![
                "TLS_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]))
        );
        assert_eq!(parse_ciphers("RC4-MD5"), None);
    }

    #[test]
    fn pins() {
        assert_eq!(normalize_pin("sha256:ABCD"), "SHA256:abcd");
        assert_eq!(normalize_pin("xyz"), "xyz");
    }
}
