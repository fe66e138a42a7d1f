//! Proxies (docs/compatibility.md §7): nc's socks.c messages, ncrab's
//! own for what nc leaves unsaid, and the password prompt.

use std::fmt;

use super::out::{emit, note};
use super::prog;
use crate::net::proxy::ProxyError;
use crate::sys::errno::Errno;

/// nc's SOCKSv5 reply texts (RFC 1928).
pub fn socks5_strerror(code: u8) -> &'static str {
    match code {
        0 => "Succeeded",
        1 => "General SOCKS server failure",
        2 => "Connection not allowed by ruleset",
        3 => "Network unreachable",
        4 => "Host unreachable",
        5 => "Connection refused",
        6 => "TTL expired",
        7 => "Command not supported",
        8 => "Address type not supported",
        _ => "Unknown error",
    }
}

/// nc's SOCKSv4 reply texts.
pub fn socks4_strerror(code: u8) -> &'static str {
    match code {
        90 => "Succeeded",
        91 => "Request rejected or failed",
        92 => "SOCKS server cannot connect to identd on the client",
        93 => "Client program and identd report different user-ids",
        _ => "Unknown error",
    }
}

/// C's `%.64s`: at most 64 bytes.
fn at_most_64(b: &[u8]) -> &[u8] {
    &b[..b.len().min(64)]
}

/// Prints the message of a failed proxy handshake: `PROG: TEXT`.
pub fn proxy_failed(e: &ProxyError) {
    let text = proxy_error_text(e);
    let mut line = Vec::with_capacity(text.len() + 32);
    line.extend_from_slice(prog());
    line.extend_from_slice(b": ");
    line.extend_from_slice(&text);
    line.push(b'\n');
    emit(&line);
}

/// The text of a failed proxy handshake, as nc words it. A proxy's status
/// line is its own bytes, kept as they came.
pub fn proxy_error_text(e: &ProxyError) -> Vec<u8> {
    use ProxyError::*;
    let with_errno = |msg: fmt::Arguments<'_>, errno: Errno| format!("{msg}: {errno}");
    let text = match e {
        WriteFailed { done, of, errno } => {
            with_errno(format_args!("write failed ({done}/{of})"), *errno)
        }
        ReadFailed { done, of, errno } => {
            with_errno(format_args!("read failed ({done}/{of})"), *errno)
        }
        ProxyRead(errno) => with_errno(format_args!("proxy read"), *errno),
        ReadTooLong => "proxy read too long".to_string(),
        MethodNegotiation => "authentication method negotiation failed".to_string(),
        HostTooLongSocks5 => "host name too long for SOCKS5".to_string(),
        Socks5(code) => format!(
            "connection failed, SOCKSv5 error: {}",
            socks5_strerror(*code)
        ),
        Socks5AddressType => "connection failed, unsupported address type".to_string(),
        Socks4(code) => format!(
            "connection failed, SOCKSv4 error: {}",
            socks4_strerror(*code)
        ),
        Socks4Lookup { host, port, gai } => {
            let mut msg = b"getaddrinfo(\"".to_vec();
            msg.extend_from_slice(at_most_64(host));
            msg.extend_from_slice(b"\", \"");
            msg.extend_from_slice(at_most_64(port.as_bytes()));
            msg.extend_from_slice(format!("\"): {gai}").as_bytes());
            return msg;
        }
        InvalidHostname => "Invalid hostname".to_string(),
        HostnameTooLong => "hostname too long".to_string(),
        Status(line) => {
            let mut msg = b"Proxy error: \"".to_vec();
            msg.extend_from_slice(line);
            msg.push(b'"');
            return msg;
        }
        TooManyHeaders => "Too many proxy headers received".to_string(),
        UserPassTooLong => "Proxy username/password too long".to_string(),
        AuthResponseTooLong => "Proxy auth response too long".to_string(),
        NoPassphrase => "Unable to read proxy passphrase".to_string(),
        TooManyAuthFailures => "Too many authentication failures".to_string(),
        Socks5AuthRejected(status) => {
            format!("SOCKSv5 username/password authentication failed (status {status})")
        }
    };
    text.into_bytes()
}

/// The prompt for the proxy password (written to the terminal).
pub fn proxy_password_prompt(user: &str, proxy_host: &str) -> String {
    format!("Proxy password for {user}@{proxy_host}: ")
}

/// A 407 after a password was sent: a plain line, no prefix (nc's fprintf).
pub fn proxy_auth_failed() {
    note(format_args!("Proxy authentication failed"));
}
