//! `--json`: one JSON object a probe on standard output.

use std::ffi::OsStr;

use super::diagnosis;
use super::out::stdout_line;
use crate::net::diagnose::{Banner, Diagnosis};

/// Appends `s` as a JSON string literal.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One `--json` line.
pub struct JsonProbe<'a> {
    /// As typed (JSON text is UTF-8: other bytes become U+FFFD).
    pub host: &'a OsStr,
    pub ip: Option<&'a str>,
    pub port: u16,
    pub proto: &'a str,
    pub service: &'a str,
    pub state: &'a str,
    pub errno: Option<&'a str>,
    pub error: Option<String>,
    pub ms: u128,
    /// `-zc`: the `"tls"` object, as JSON text ([`tls::scan_json`]).
    pub tls: Option<String>,
    /// Extension: why it failed (null when open), see [`diagnosis`].
    pub diagnosis: Option<&'a Diagnosis>,
    /// `--banner`: the server's first line.
    pub banner: Option<&'a Banner>,
}

/// The `"error"` of a scan's `--json` line for a connect that the `-w`
/// timer ended.
pub fn json_timed_out() -> String {
    "timed out".to_string()
}

/// Prints one probe as a JSON object on its own line of stdout.
pub fn json_probe(p: &JsonProbe<'_>) {
    let mut s = String::with_capacity(160);
    let opt = |s: &mut String, v: Option<&str>| match v {
        Some(v) => json_str(s, v),
        None => s.push_str("null"),
    };
    s.push_str("{\"host\":");
    json_str(&mut s, &p.host.to_string_lossy());
    s.push_str(",\"ip\":");
    opt(&mut s, p.ip);
    s.push_str(&format!(",\"port\":{},\"proto\":", p.port));
    json_str(&mut s, p.proto);
    s.push_str(",\"service\":");
    json_str(&mut s, p.service);
    s.push_str(",\"state\":");
    json_str(&mut s, p.state);
    s.push_str(",\"errno\":");
    opt(&mut s, p.errno);
    s.push_str(",\"error\":");
    opt(&mut s, p.error.as_deref());
    s.push_str(&format!(",\"ms\":{}", p.ms));
    if let Some(t) = &p.tls {
        s.push_str(",\"tls\":");
        s.push_str(t);
    }
    diagnosis::json_field(&mut s, p.diagnosis);
    diagnosis::json_banner(&mut s, p.banner);
    s.push('}');
    stdout_line(&s);
}
