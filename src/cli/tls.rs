//! The TLS options (`-c` and its companions): as typed, collected by the
//! getopt walk; the `-T` keywords, which OpenBSD tries before the TOS
//! values; and their validation into a [`TlsConfig`] with OpenBSD nc's
//! checks and texts, in its order.

use std::ffi::OsString;

use crate::net::starttls::{self, Proto, StartTls};
use crate::net::tls::{SUITES, TlsConfig, Versions};

/// The TLS options as typed.
#[derive(Debug, Default)]
pub struct TlsArgs {
    pub usetls: bool,
    pub cert: Option<OsString>,
    pub key: Option<OsString>,
    pub ca: Option<OsString>,
    pub name: Option<String>,
    pub pin: Option<String>,
    pub staple: Option<OsString>,
    pub alpn: Option<String>,
    /// `--starttls`, `--starttls-name` as typed.
    pub starttls: Option<String>,
    pub starttls_name: Option<String>,
    /// `-T` keywords, in order.
    pub keywords: Vec<Keyword>,
}

/// What the command line asks of the connection, for the conflicts.
pub struct Modes {
    pub udp: bool,
    pub unix: bool,
    pub dccp: bool,
    pub pass_fd: bool,
    pub listen: bool,
    /// `-t`: TELNET answers are not sent inside TLS.
    pub telnet: bool,
    /// `-i` outside a scan: TLS sessions have no per-line delay.
    pub line_interval: bool,
}

impl TlsArgs {
    /// OpenBSD's checks that come before `-F and -U` (`-c` with `-u`,
    /// `-U`; ncrab adds DCCP's `-Z`).
    pub fn check_modes(&self, m: &Modes) -> Result<(), String> {
        if !self.usetls {
            return Ok(());
        }
        if m.udp {
            return Err("cannot use -c and -u".into());
        }
        if m.dccp {
            return Err("cannot use -c and -Z".into());
        }
        if m.unix {
            return Err("cannot use -c and -U".into());
        }
        if m.telnet {
            return Err("cannot use -c and -t".into());
        }
        if m.line_interval {
            return Err("cannot use -c and -i (except with -z)".into());
        }
        Ok(())
    }

    /// The rest of OpenBSD's checks, in its order, then the values.
    pub fn validate(self, m: &Modes) -> Result<Option<TlsConfig>, String> {
        if m.pass_fd && self.usetls {
            return Err("cannot use -c and -F".into());
        }
        if !self.usetls {
            let need = |what: &str| Err(format!("you must specify -c to use {what}"));
            if !self.keywords.is_empty() || self.alpn.is_some() {
                return need("TLS options");
            }
            if self.cert.is_some() {
                return need("--tls-cert");
            }
            if self.key.is_some() {
                return need("-K");
            }
            if self.staple.is_some() {
                return Err("you must specify --tls-cert to use -o".into());
            }
            if self.ca.is_some() {
                return need("-R");
            }
            if self.pin.is_some() {
                return need("-H");
            }
            if self.name.is_some() {
                return need("-e");
            }
            if self.starttls.is_some() {
                return need("--starttls");
            }
            if self.starttls_name.is_some() {
                return Err("you must specify --starttls to use --starttls-name".into());
            }
            return Ok(None);
        }
        if self.staple.is_some() && self.cert.is_none() {
            return Err("you must specify --tls-cert to use -o".into());
        }
        if self.key.is_some() && self.cert.is_none() {
            return Err("you must specify --tls-cert to use -K".into());
        }
        let starttls = self.starttls_config(m)?;
        let mut t = TlsConfig {
            cert: self.cert,
            key: self.key,
            ca: self.ca,
            name: self.name,
            pin: self.pin.as_deref().map(normalize_pin),
            staple: self.staple,
            versions: Versions::default(),
            starttls,
            ..TlsConfig::default()
        };
        let mut alpn = self.alpn;
        for k in self.keywords {
            match k {
                Keyword::NoVerify => t.noverify = true,
                Keyword::NoName => t.noname = true,
                Keyword::ClientCert => t.clientcert = true,
                Keyword::MustStaple => t.muststaple = true,
                Keyword::Protocols(p) => {
                    t.versions = parse_protocols(&p)
                        .ok_or_else(|| format!("invalid TLS protocols `{p}'"))?;
                }
                Keyword::Ciphers(c) => {
                    t.ciphers =
                        parse_ciphers(&c).ok_or_else(|| format!("invalid TLS ciphers `{c}'"))?;
                }
                Keyword::Alpn(a) => alpn = Some(a),
            }
        }
        if let Some(a) = alpn {
            t.alpn = parse_alpn(&a).ok_or_else(|| format!("invalid tls value `alpn={a}'"))?;
        }
        if !m.listen && t.clientcert {
            return Err("clientcert is only valid with -l".into());
        }
        if t.noverify && t.pin.is_some() {
            return Err("-H and -T noverify may not be used together".into());
        }
        Ok(Some(t))
    }
}

impl TlsArgs {
    /// `--starttls PROTO` and `--starttls-name NAME`, checked.
    fn starttls_config(&self, m: &Modes) -> Result<Option<StartTls>, String> {
        let Some(p) = &self.starttls else {
            if self.starttls_name.is_some() {
                return Err("you must specify --starttls to use --starttls-name".into());
            }
            return Ok(None);
        };
        let Some(proto) = Proto::from_name(p) else {
            return Err(format!(
                "unsupported starttls protocol `{p}' (one of: {})",
                starttls::NAMES.join(", ")
            ));
        };
        if m.listen {
            return Err("cannot use --starttls and -l".into());
        }
        if let Some(n) = &self.starttls_name {
            if n.is_empty() || !n.bytes().all(|c| c.is_ascii_graphic()) || n.len() > 255 {
                return Err(format!("invalid starttls name `{n}'"));
            }
        }
        Ok(Some(StartTls {
            proto,
            name: self.starttls_name.clone(),
        }))
    }
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
