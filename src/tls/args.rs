//! The TLS options as typed, collected by `cli`'s getopt walk, and their
//! validation into a [`TlsConfig`] with OpenBSD nc's checks and texts, in
//! its order.

use std::ffi::OsString;

use super::{Keyword, TlsConfig, Versions};

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
            return Ok(None);
        }
        if self.staple.is_some() && self.cert.is_none() {
            return Err("you must specify --tls-cert to use -o".into());
        }
        if self.key.is_some() && self.cert.is_none() {
            return Err("you must specify --tls-cert to use -K".into());
        }
        let mut t = TlsConfig {
            cert: self.cert,
            key: self.key,
            ca: self.ca,
            name: self.name,
            pin: self.pin.as_deref().map(super::normalize_pin),
            staple: self.staple,
            versions: Versions::default(),
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
                    t.versions = super::parse_protocols(&p)
                        .ok_or_else(|| format!("invalid TLS protocols `{p}'"))?;
                }
                Keyword::Ciphers(c) => {
                    t.ciphers = super::parse_ciphers(&c)
                        .ok_or_else(|| format!("invalid TLS ciphers `{c}'"))?;
                }
                Keyword::Alpn(a) => alpn = Some(a),
            }
        }
        if let Some(a) = alpn {
            t.alpn =
                super::parse_alpn(&a).ok_or_else(|| format!("invalid tls value `alpn={a}'"))?;
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
