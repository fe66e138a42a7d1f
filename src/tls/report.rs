//! Every text of TLS mode: OpenBSD nc's (`tls handshake failed (%s)`,
//! `peer certificate is not %s`, the `-v` certificate lines) and the
//! reasons ncrab puts inside them. Printed through [`crate::report`].

use std::io;

use rustls::{AlertDescription, Error, InvalidMessage, PeerIncompatible, PeerMisbehaved};

use super::certinfo::{self, CertInfo};
use crate::report::{self, Errno};

/// `Debug` names in plain words: `HandshakeFailure` -> `handshake failure`.
pub fn words(debug: &str) -> String {
    let name = debug.split(['(', '{', ' ']).next().unwrap_or(debug);
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The reason inside `tls handshake failed (...)` for a rustls error.
pub fn tls_error_text(e: &Error) -> String {
    match e {
        Error::InvalidCertificate(rustls::CertificateError::Other(o)) => o.0.to_string(),
        Error::InvalidCertificate(ce) => {
            format!("certificate verification failed: {}", words(&format!("{ce:?}")))
        }
        Error::InvalidMessage(
            InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
        ) => "the peer did not speak TLS".into(),
        Error::InvalidMessage(InvalidMessage::MessageTooLarge)
        | Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge) => {
            "the peer sent a handshake message larger than TLS allows (a certificate chain too long?)"
                .into()
        }
        Error::InvalidMessage(m) => {
            format!("the peer sent a malformed TLS message ({})", words(&format!("{m:?}")))
        }
        Error::AlertReceived(AlertDescription::ProtocolVersion) => {
            "the peer refused every TLS version offered (alert: protocol version)".into()
        }
        Error::AlertReceived(AlertDescription::CertificateRequired) => {
            "the peer requires a client certificate (alert: certificate required); give one with --tls-cert and -K".into()
        }
        Error::AlertReceived(a) => {
            format!("the peer refused the handshake (alert: {})", words(&format!("{a:?}")))
        }
        Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon) => {
            "no cipher suite in common with the peer".into()
        }
        Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::Tls13RequiredForQuic
            | PeerIncompatible::SupportedVersionsExtensionRequired,
        ) => "no TLS version in common with the peer".into(),
        Error::PeerIncompatible(p) => {
            format!("the peer is incompatible ({})", words(&format!("{p:?}")))
        }
        Error::NoApplicationProtocol => "no ALPN protocol in common with the peer".into(),
        Error::PeerMisbehaved(PeerMisbehaved::SelectedUnofferedApplicationProtocol) => {
            "the peer chose an ALPN protocol that was not offered".into()
        }
        Error::PeerMisbehaved(p) => {
            format!("the peer broke the protocol ({})", words(&format!("{p:?}")))
        }
        Error::DecryptError => "decryption failed (corrupted record)".into(),
        Error::General(s) => s.clone(),
        other => words(&format!("{other:?}")),
    }
}

/// Why a handshake did not finish.
#[derive(Debug)]
pub enum HandshakeError {
    /// The peer closed the connection before the handshake finished.
    Eof {
        got_any: bool,
    },
    Io(io::Error),
    Tls(Error),
    /// `-w` ran out.
    TimedOut,
}

impl HandshakeError {
    pub fn text(&self) -> String {
        match self {
            HandshakeError::Eof { got_any: false } => {
                "the peer closed the connection without a word of TLS".into()
            }
            HandshakeError::Eof { got_any: true } => {
                "the peer closed the connection in the middle of the handshake".into()
            }
            HandshakeError::Io(e) => Errno::of(e).to_string(),
            HandshakeError::Tls(e) => tls_error_text(e),
            HandshakeError::TimedOut => "timed out waiting for the peer (-w)".into(),
        }
    }
}

/// OpenBSD: `PROG: tls handshake failed (REASON)`.
pub fn handshake_failed(e: &HandshakeError) {
    report::warnx(format_args!("tls handshake failed ({})", e.text()));
}

/// OpenBSD: `PROG: peer certificate is not HASH`.
pub fn pin_mismatch(pin: &str) {
    report::warnx(format_args!("peer certificate is not {pin}"));
}

/// OpenBSD's listener warnings.
pub fn no_client_cert() {
    report::warnx(format_args!("No client certificate provided"));
}

pub fn name_not_in_client_cert(name: &str) {
    report::warnx(format_args!("name ({name}) not found in client cert"));
}

/// A certificate, key or CA file that cannot be used (OpenBSD's texts).
pub fn load_failed(what: LoadWhat, path: &std::ffi::OsStr, why: &str) {
    let what = match what {
        LoadWhat::Ca => "root CA file",
        LoadWhat::Cert => "TLS certificate file",
        LoadWhat::Key => "TLS key file",
        LoadWhat::Staple => "OCSP staple file",
    };
    report::warnx(format_args!(
        "unable to load {what} {} ({why})",
        path.to_string_lossy()
    ));
}

#[derive(Clone, Copy)]
pub enum LoadWhat {
    Ca,
    Cert,
    Key,
    Staple,
}

/// `tls configuration failed (%s)`.
pub fn config_failed(why: &str) {
    report::warnx(format_args!("tls configuration failed ({why})"));
}

/// What `-v` shows of a finished handshake.
pub struct Negotiated<'a> {
    pub version: &'a str,
    pub cipher: &'a str,
    pub host: &'a str,
    pub peer_name: &'a str,
    pub cert: Option<(&'a CertInfo, &'a str)>,
    pub alpn: Option<&'a [u8]>,
}

/// OpenBSD's `report_tls`: the lines after a handshake.
pub fn negotiated(n: &Negotiated<'_>) {
    report::note(format_args!(
        "TLS handshake negotiated {}/{} with host {}",
        n.version, n.cipher, n.host
    ));
    report::note(format_args!("Peer name: {}", n.peer_name));
    if let Some((info, hash)) = n.cert {
        report::note(format_args!("Subject: {}", info.subject));
        report::note(format_args!("Issuer: {}", info.issuer));
        report::note(format_args!(
            "Valid From: {}",
            certinfo::ctime(info.not_before)
        ));
        report::note(format_args!(
            "Valid Until: {}",
            certinfo::ctime(info.not_after)
        ));
        report::note(format_args!("Cert Hash: {hash}"));
    }
    if let Some(p) = n.alpn {
        report::note(format_args!(
            "Application Layer Protocol: {}",
            String::from_utf8_lossy(p)
        ));
    }
}

/// A listener's own certificate hash (`-v`), so a client can pin it.
pub fn own_cert_hash(hash: &str) {
    report::note(format_args!("Cert Hash: {hash}"));
}

/// `-vv`: the peer ended the stream without close_notify.
pub fn truncated() {
    report::note(format_args!(
        "\tthe peer closed the connection without a TLS close_notify: the data may be truncated"
    ));
}

/// `-vv`: a TLS error after the handshake ended the network side.
pub fn stream_error(e: &Error) {
    report::note(format_args!("\tTLS error: {}", tls_error_text(e)));
}

/// A scanned port that took the TCP connection but failed TLS: nc's
/// failure line with the TLS reason in place of the error.
pub fn scan_failed(dest: &crate::report::Dest<'_>, port: u16, proto: &str, reason: &str) {
    report::connect_line(
        dest,
        std::ffi::OsStr::new(&port.to_string()),
        &format!(" ({proto}) failed: tls handshake failed ({reason})"),
    );
}

/// `-vv` after a scanned port's line.
pub fn scan_detail(elapsed: std::time::Duration, outcome: &super::probe::Outcome) {
    let ms = elapsed.as_millis();
    match outcome {
        Err(why) => report::note(format_args!(
            "\t{ms} ms: the port accepts TCP connections but TLS failed: {why}"
        )),
        Ok(d) => {
            report::note(format_args!(
                "\t{ms} ms: open: the TLS handshake and the certificate checks succeeded"
            ));
            report::note(format_args!("\tTLS: {} {}", d.version, d.cipher));
            report::note(format_args!("\tsubject: {}", d.subject));
            report::note(format_args!("\tissuer: {}", d.issuer));
            report::note(format_args!("\tnames: {}", d.sans.join(", ")));
            if let Some(t) = d.not_after {
                report::note(format_args!(
                    "\texpires: {} (in {} days)",
                    certinfo::utc(t),
                    certinfo::days_left(t)
                ));
            }
            if let Some(p) = &d.alpn {
                report::note(format_args!("\tALPN: {p}"));
            }
        }
    }
}

/// The `"tls"` member of a scan's `--json` line.
pub fn scan_json(outcome: &super::probe::Outcome) -> String {
    let mut s = String::from("{");
    match outcome {
        Err(why) => {
            s.push_str("\"error\":");
            report::json_str(&mut s, why);
        }
        Ok(d) => {
            let field = |s: &mut String, k: &str, v: &str| {
                report::json_str(s, k);
                s.push(':');
                report::json_str(s, v);
                s.push(',');
            };
            field(&mut s, "version", d.version);
            field(&mut s, "cipher", &d.cipher);
            field(&mut s, "subject", &d.subject);
            field(&mut s, "issuer", &d.issuer);
            s.push_str("\"sans\":[");
            for (i, n) in d.sans.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                report::json_str(&mut s, n);
            }
            s.push_str("],");
            match d.not_after {
                Some(t) => {
                    field(&mut s, "not_after", &certinfo::utc(t));
                    s.push_str(&format!("\"days_left\":{},", certinfo::days_left(t)));
                }
                None => s.push_str("\"not_after\":null,\"days_left\":null,"),
            }
            s.push_str("\"alpn\":");
            match &d.alpn {
                Some(p) => report::json_str(&mut s, p),
                None => s.push_str("null"),
            }
            s.push_str(",\"error\":null");
        }
    }
    s.push('}');
    s
}
