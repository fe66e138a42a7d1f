//! Every text of TLS mode (`-c`, docs/compatibility.md §A.3): OpenBSD
//! nc's (`tls handshake failed (%s)`, `peer certificate is not %s`, the
//! `-v` certificate lines), the reasons ncrab puts inside them, and the
//! `-vv`/`--json` lines of a TLS scan.

use std::ffi::OsStr;
use std::fmt;
use std::io;

use rustls::{AlertDescription, Error, InvalidMessage, PeerIncompatible, PeerMisbehaved};

use crate::net::starttls::{self, Proto as StProto, StartTlsError, Why};
use crate::net::tls::client::{Failure, Summary};
pub use crate::net::tls::probe::ScanDetails;
use crate::net::tls::probe::{Outcome as ProbeOutcome, ProbeFailure};
use crate::net::tls::record::Problem;
pub use crate::net::tls::session::HandshakeError;
pub use crate::net::tls::setup::{ConfigWhy, LoadWhat, LoadWhy, SetupError};
pub use crate::net::tls::verify::CertProblem;
use crate::report::{self, Errno};

/// The end of a scan's TLS probe, as the scan keeps it: the details, or
/// why it failed ([`probe_outcome`]).
pub type ScanOutcome = Result<ScanDetails, ScanFailure>;

/// Why a scan's TLS probe failed, in words, and whether it was the
/// certificate's checks that refused it (`--json`'s `chain_ok`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanFailure {
    pub why: String,
    pub cert: bool,
    /// `--starttls`: the preamble failed (`why` is the whole text, not a
    /// handshake's reason), with what the server sent, for `-vv`.
    pub starttls: Option<Vec<u8>>,
}

impl From<String> for ScanFailure {
    fn from(why: String) -> ScanFailure {
        ScanFailure {
            why,
            cert: false,
            starttls: None,
        }
    }
}

/// A failed `--starttls` preamble: `starttls PROTO failed: REASON`.
pub fn starttls_text(e: &StartTlsError) -> String {
    let why = match &e.why {
        Why::Answered(r) => format!("the server answered \"{}\"", escape_reply(r)),
        Why::NotOffered => match e.proto {
            StProto::Mysql => "the server does not offer SSL (no CLIENT_SSL)".into(),
            _ => "the server does not offer STARTTLS".into(),
        },
        Why::Malformed(what) => format!("the server's reply is {what}"),
        Why::Closed => "the server closed the connection".into(),
        Why::TooLong => format!(
            "the server's preamble is longer than {} bytes",
            starttls::MAX_PREAMBLE
        ),
        Why::Read(errno) => format!("read: {errno}"),
        Why::Write(errno) => format!("write: {errno}"),
        Why::TimedOut => "timed out waiting for the server (-w)".into(),
        Why::NoAnswer(wait) => format!("no answer within {} s", wait.as_secs()),
    };
    format!("starttls {} failed: {why}", e.proto.name())
}

/// A reply in a message: escaped, at most 200 bytes of it.
fn escape_reply(r: &[u8]) -> String {
    const MAX: usize = 200;
    let mut s = report::diagnosis::escape_banner(&r[..r.len().min(MAX)]);
    if r.len() > MAX {
        s.push_str("...");
    }
    s
}

/// `PROG: starttls PROTO failed: REASON`; with `-vv` (`replies`) the
/// server's replies under it.
pub fn starttls_failed(e: &StartTlsError, replies: bool) {
    report::warnx(format_args!("{}", starttls_text(e)));
    if replies {
        starttls_replies(&e.replies);
    }
}

/// `-vv`: what the server sent during the preamble, a line each,
/// escaped, at most 32 lines of at most 200 bytes.
pub fn starttls_replies(replies: &[u8]) {
    const LINES: usize = 32;
    let mut lines = replies.split_inclusive(|&c| c == b'\n');
    for l in lines.by_ref().take(LINES) {
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        report::note(format_args!("\tserver: {}", escape_reply(l)));
    }
    let rest: usize = lines.map(<[u8]>::len).sum();
    if rest > 0 {
        report::note(format_args!("\tserver: ... and {rest} more bytes"));
    }
}

/// `ctime(3)` in local time, without the newline, as OpenBSD's `-v`
/// prints the validity: `Wed Jun 30 21:49:08 1993`.
pub fn ctime(t: i64) -> String {
    let t = t as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes into a buffer of 64.
    let p = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
    if p.is_null() {
        return t.to_string();
    }
    // SAFETY: ctime_r succeeded, so buf holds a C string.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().trim_end().to_string()
}

/// A UTC date for failure reasons and scans: `2024-01-31 12:00:00 UTC`.
pub fn utc(t: i64) -> String {
    let t = t as libc::time_t;
    // SAFETY: an all-zero tm is a valid value for gmtime_r to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: gmtime_r with valid pointers.
    if unsafe { libc::gmtime_r(&t, &mut tm) }.is_null() {
        return t.to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Whole days from now until `t` (negative once past).
pub fn days_left(t: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (t - now).div_euclid(86_400)
}

const FAILED: &str = "certificate verification failed";

impl fmt::Display for CertProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertProblem::Version1 { role } => write!(
                f,
                "{FAILED}: the {role} certificate is X.509 v1; reissue it as v3 with subjectAltName"
            ),
            CertProblem::CaAsEndEntity { role } => write!(
                f,
                "{FAILED}: the {role} certificate is a CA certificate (CA:TRUE) used as the {role}'s own; \
                 issue an end-entity certificate from that CA"
            ),
            CertProblem::Expired { not_after: Some(t) } => {
                write!(f, "{FAILED}: certificate expired on {}", utc(*t))
            }
            CertProblem::Expired { not_after: None } => {
                write!(f, "{FAILED}: certificate has expired")
            }
            CertProblem::NotYetValid {
                not_before: Some(t),
            } => {
                write!(f, "{FAILED}: certificate is not valid until {}", utc(*t))
            }
            CertProblem::NotYetValid { not_before: None } => {
                write!(f, "{FAILED}: certificate is not yet valid")
            }
            CertProblem::UnknownIssuer { self_signed: true } => write!(
                f,
                "{FAILED}: self-signed certificate not among the trust anchors \
                 (trust it with -R, or pin it with -H)"
            ),
            CertProblem::UnknownIssuer { self_signed: false } => {
                write!(f, "{FAILED}: unknown issuer (give the issuing CA with -R)")
            }
            CertProblem::WrongName { role, name, sans } => write!(
                f,
                "name `{name}' not present in {role} certificate: certificate is for {}",
                sans.join(", ")
            ),
            CertProblem::CnOnly { role, name, cns } => write!(
                f,
                "name `{name}' not present in {role} certificate: it has no subjectAltName \
                 (names only in the Common Name {}); reissue it with subjectAltName",
                cns.join(", ")
            ),
            CertProblem::NoStaple => {
                f.write_str("no OCSP response stapled by the server (-T muststaple)")
            }
            // libtls's words (X509_V_ERR_CERT_SIGNATURE_FAILURE), which
            // OpenBSD's regress run-tls-bad-ca greps for.
            CertProblem::BadSignature => write!(f, "{FAILED}: certificate signature failure"),
            CertProblem::BadEncoding => write!(f, "{FAILED}: certificate is not valid DER"),
            CertProblem::Revoked => write!(f, "{FAILED}: certificate revoked"),
            CertProblem::WrongPurpose { role } => write!(
                f,
                "{FAILED}: certificate is not for a TLS {role} (extendedKeyUsage)"
            ),
            CertProblem::Other(debug) => write!(f, "{FAILED}: {}", words(debug)),
        }
    }
}

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
        // libtls's words for a key that is not the certificate's.
        Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            "private/public key mismatch".into()
        }
        Error::General(s) => s.clone(),
        Error::Other(o) => o.0.to_string(),
        other => words(&format!("{other:?}")),
    }
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
            HandshakeError::DefaultDeadline(d) => format!(
                "no handshake within {} s, the listener's deadline without -w",
                d.as_secs()
            ),
        }
    }
}

/// OpenBSD: `PROG: tls handshake failed (REASON)`.
pub fn handshake_failed(e: &HandshakeError) {
    report::warnx(format_args!("tls handshake failed ({})", e.text()));
}

/// OpenBSD: `PROG: peer certificate is not HASH`.
pub fn pin_mismatch(pin: &str) {
    report::warnx(format_args!("{}", pin_mismatch_text(pin)));
}

pub fn pin_mismatch_text(pin: &str) -> String {
    format!("peer certificate is not {pin}")
}

/// A name rustls cannot check.
pub fn bad_name(name: &str) -> String {
    format!("`{name}' is neither a host name nor an IP address")
}

/// OpenBSD: `PROG: tls connection failed (%s)`.
pub fn connection_failed(why: &str) {
    report::warnx(format_args!("tls connection failed ({why})"));
}

/// OpenBSD's listener warnings.
pub fn no_client_cert() {
    report::warnx(format_args!("No client certificate provided"));
}

pub fn name_not_in_client_cert(name: &str) {
    report::warnx(format_args!("name ({name}) not found in client cert"));
}

/// A certificate, key or CA file that cannot be used (OpenBSD's texts).
pub fn load_failed(what: LoadWhat, path: &OsStr, why: &str) {
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

impl SetupError {
    /// Prints the error, in OpenBSD's words.
    pub fn print(&self) {
        match self {
            SetupError::Load(what, path, why) => load_failed(*what, path, &load_why(why)),
            SetupError::Config(why) => config_failed(&config_why(why)),
        }
    }
}

/// Why a file could not be used, inside `unable to load ... (%s)`.
fn load_why(why: &LoadWhy) -> String {
    match why {
        LoadWhy::Io(errno) => errno.to_string(),
        LoadWhy::NoPem => "no PEM item found".into(),
        LoadWhy::BadPem(debug) => format!("bad PEM: {}", words(debug)),
        LoadWhy::NoCertificate => "no certificate in it".into(),
        LoadWhy::NoKey => "no private key in it".into(),
        LoadWhy::NoTrustAnchors => "no trust anchors found".into(),
        LoadWhy::Refused(e) => tls_error_text(e),
        LoadWhy::OwnVersion1 => "the certificate is X.509 v1, which ncrab cannot use as its own; \
                                 reissue it as v3 with subjectAltName"
            .into(),
    }
}

/// Why rustls refused the configuration, inside `tls configuration
/// failed (%s)`.
fn config_why(why: &ConfigWhy) -> String {
    match why {
        ConfigWhy::Tls(e) => tls_error_text(e),
        ConfigWhy::Verifier(debug) => words(debug),
        ConfigWhy::SelfSigned(e) => format!("cannot make a certificate: {e}"),
    }
}

impl Failure {
    /// The reason in words, as inside OpenBSD's parentheses.
    pub fn reason(&self) -> String {
        match self {
            Failure::Name(n) => bad_name(n),
            Failure::Handshake(e) => e.text(),
        }
    }

    /// Prints OpenBSD's line for it.
    pub fn print(&self) {
        match self {
            Failure::Name(n) => connection_failed(&bad_name(n)),
            Failure::Handshake(e) => handshake_failed(e),
        }
    }
}

impl Summary {
    /// OpenBSD's `-v` lines for `host`, checked against `peer_name`.
    pub fn print(&self, host: &str, peer_name: &str) {
        negotiated(&Negotiated {
            version: self.version,
            cipher: &self.cipher,
            host,
            peer_name,
            cert: self.cert.as_ref().map(|(i, h)| CertLines {
                subject: &i.subject,
                issuer: &i.issuer,
                not_before: i.not_before,
                not_after: i.not_after,
                hash: h,
            }),
            alpn: self.alpn.as_deref(),
        });
    }
}

/// A scan's TLS probe's end as the scan keeps it: the failure in words,
/// as inside `tls handshake failed (...)`.
pub fn probe_outcome(o: ProbeOutcome) -> ScanOutcome {
    o.map_err(|f| probe_failure(&f))
}

/// Why a scan's TLS probe failed, in words.
pub fn probe_failure(f: &ProbeFailure) -> ScanFailure {
    let cert = matches!(
        f,
        ProbeFailure::Handshake(HandshakeError::Tls(Error::InvalidCertificate(_)))
    );
    let why = match f {
        ProbeFailure::Start(f) => f.reason(),
        ProbeFailure::Handshake(e) => e.text(),
        ProbeFailure::PinMismatch(pin) => pin_mismatch_text(pin),
        ProbeFailure::StartTls(e) => starttls_text(e),
    };
    let starttls = match f {
        ProbeFailure::StartTls(e) => Some(e.replies.clone()),
        _ => None,
    };
    ScanFailure {
        why,
        cert,
        starttls,
    }
}

/// `tls configuration failed (%s)`.
pub fn config_failed(why: &str) {
    report::warnx(format_args!("tls configuration failed ({why})"));
}

/// The certificate lines of `-v`.
pub struct CertLines<'a> {
    pub subject: &'a str,
    pub issuer: &'a str,
    pub not_before: i64,
    pub not_after: i64,
    pub hash: &'a str,
}

/// What `-v` shows of a finished handshake.
pub struct Negotiated<'a> {
    pub version: &'a str,
    pub cipher: &'a str,
    pub host: &'a str,
    pub peer_name: &'a str,
    pub cert: Option<CertLines<'a>>,
    pub alpn: Option<&'a [u8]>,
}

/// OpenBSD's `report_tls`: the lines after a handshake.
pub fn negotiated(n: &Negotiated<'_>) {
    report::note(format_args!(
        "TLS handshake negotiated {}/{} with host {}",
        n.version, n.cipher, n.host
    ));
    report::note(format_args!("Peer name: {}", n.peer_name));
    if let Some(c) = &n.cert {
        report::note(format_args!("Subject: {}", c.subject));
        report::note(format_args!("Issuer: {}", c.issuer));
        report::note(format_args!("Valid From: {}", ctime(c.not_before)));
        report::note(format_args!("Valid Until: {}", ctime(c.not_after)));
        report::note(format_args!("Cert Hash: {}", c.hash));
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

/// Why a TLS session failed after the handshake.
#[derive(Debug, Clone, Copy)]
pub enum StreamError<'a> {
    /// The record layer's error (a bad record, an alert, ...).
    Tls(&'a Error),
    /// The socket's (a reset, a broken pipe).
    Io(&'a io::Error),
}

impl fmt::Display for StreamError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Tls(e) => f.write_str(&stream_error_text(e)),
            StreamError::Io(e) => write!(f, "{}", Errno::of(e)),
        }
    }
}

/// The reason for a TLS error after the handshake.
pub fn stream_error_text(e: &Error) -> String {
    match e {
        // (tls_error_text words these as a handshake's problems.)
        Error::AlertReceived(a) => {
            format!(
                "the peer ended the session with an alert ({})",
                words(&format!("{a:?}"))
            )
        }
        Error::PeerSentOversizedRecord => "the peer sent a record larger than TLS allows".into(),
        Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge) => {
            "the peer sent a handshake message after the handshake larger than 64 KiB".into()
        }
        Error::InappropriateMessage { got_type, .. } => format!(
            "the peer sent a record of a type not allowed after the handshake ({})",
            words(&format!("{got_type:?}"))
        ),
        Error::InappropriateHandshakeMessage { got_type, .. } => format!(
            "the peer sent a handshake message not allowed after the handshake ({})",
            words(&format!("{got_type:?}"))
        ),
        _ => tls_error_text(e),
    }
}

/// A served session's TLS error after the handshake (that session
/// ends, the listener goes on): `\tTLS error: REASON`.
pub fn stream_error(e: &Error) {
    report::note(format_args!("\tTLS error: {}", stream_error_text(e)));
}

/// OpenBSD: `PROG: tls read failed (REASON)`, the client's or `-lc`'s
/// session failed reading (the run then exits 1).
pub fn read_failed(e: StreamError<'_>) {
    report::warnx(format_args!("tls read failed ({e})"));
}

/// OpenBSD: `PROG: tls write failed (REASON)`.
pub fn write_failed(e: StreamError<'_>) {
    report::warnx(format_args!("tls write failed ({e})"));
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::SecretNotLogged => f.write_str("the session's traffic secret was not logged"),
            Problem::KeyMisfit => f.write_str("the negotiated key does not fit its cipher"),
            Problem::AlertLevel(level) => {
                write!(
                    f,
                    "the peer sent an alert of a level TLS does not have ({level})"
                )
            }
        }
    }
}

/// A scanned port that took the TCP connection but failed TLS: nc's
/// failure line with the TLS reason in place of the error.
pub fn scan_failed(dest: &report::Dest<'_>, port: u16, proto: &str, failure: Option<&ScanFailure>) {
    report::connect_line(
        dest,
        OsStr::new(&port.to_string()),
        &format!(" ({proto}) failed: {}", scan_json_error(failure)),
    );
}

/// `--cert-warn`: `PROG: certificate of HOST[ (IP)] port PORT (PROTO)
/// expires in N days, on DATE` (or `has expired, on DATE`).
pub fn cert_expiring(dest: &report::Dest<'_>, port: u16, proto: &str, not_after: i64) {
    let days = days_left(not_after);
    let when = if days < 0 {
        "has expired".to_string()
    } else if days == 1 {
        "expires in 1 day".to_string()
    } else {
        format!("expires in {days} days")
    };
    let tail = format!(" port {port} ({proto}) {when}, on {}", utc(not_after));
    report::emit_parts(true, &[b"certificate of ", &dest.bytes(), tail.as_bytes()]);
}

/// `-vv` after a scanned port's line.
pub fn scan_detail(elapsed: std::time::Duration, outcome: &ScanOutcome) {
    let ms = elapsed.as_millis();
    match outcome {
        Err(f) => {
            report::note(format_args!(
                "\t{ms} ms: the port accepts TCP connections but TLS failed: {}",
                f.why
            ));
            if let Some(r) = &f.starttls {
                starttls_replies(r);
            }
        }
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
                    utc(t),
                    days_left(t)
                ));
            }
            if let Some(p) = &d.alpn {
                report::note(format_args!("\tALPN: {p}"));
            }
        }
    }
}

/// Why a scanned port that took the connection failed TLS when it
/// sent no answer within `wait`.
pub fn scan_no_answer(wait: std::time::Duration) -> String {
    format!("no TLS answer within {} s", wait.as_secs())
}

/// The `"error"` of a scan's `--json` line for a port that took the
/// connection and failed TLS (`why`, when known).
pub fn scan_json_error(failure: Option<&ScanFailure>) -> String {
    match failure {
        Some(f) if f.starttls.is_some() => f.why.clone(),
        Some(f) => format!("tls handshake failed ({})", f.why),
        None => "tls handshake failed".to_string(),
    }
}

/// The `"tls"` member of a scan's `--json` line.
pub fn scan_json(outcome: &ScanOutcome) -> String {
    let mut s = String::from("{");
    match outcome {
        Err(f) => {
            s.push_str("\"error\":");
            report::json_str(&mut s, &f.why);
            s.push_str(if f.cert {
                ",\"chain_ok\":false"
            } else {
                ",\"chain_ok\":null"
            });
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
                    field(&mut s, "not_after", &utc(t));
                    s.push_str(&format!("\"days_left\":{},", days_left(t)));
                }
                None => s.push_str("\"not_after\":null,\"days_left\":null,"),
            }
            s.push_str("\"alpn\":");
            match &d.alpn {
                Some(p) => report::json_str(&mut s, p),
                None => s.push_str("null"),
            }
            s.push_str(match d.chain_ok {
                Some(true) => ",\"chain_ok\":true",
                Some(false) => ",\"chain_ok\":false",
                None => ",\"chain_ok\":null",
            });
            s.push_str(",\"error\":null");
        }
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
    }
}
