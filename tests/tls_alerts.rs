//! Alerts a peer sends after the handshake that no openssl tool sends,
//! from the test's own TLS server ([`crafted_server`]: rustls makes the
//! handshake, the test seals its records and opens ncrab's).
//!
//! Issue 26: an alert whose level is neither warning (1) nor fatal (2)
//! is refused with a fatal `illegal_parameter` whatever its description,
//! as rustls and openssl do: `[3, 0]` is no close_notify.

mod common;
use common::*;

use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// TLS 1.3, and TLS 1.2 with and without an explicit nonce:
/// (protocols, cipher suite).
const SUITES: [(&str, &str); 3] = [
    ("tlsv1.3", "TLS_AES_128_GCM_SHA256"),
    ("tlsv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("tlsv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"),
];

const ALERT: u8 = 21;
const FATAL: u8 = 2;
const ILLEGAL_PARAMETER: u8 = 47;

/// A line of data, then an alert of level 3 with close_notify's
/// description (and with user_canceled's), then more data, the
/// connection held open: ncrab writes the line before the alert,
/// exactly, answers with one record, a fatal illegal_parameter, and ends
/// by itself, naming the reason with -vv.
#[test]
fn an_alert_of_no_known_level_is_refused_with_illegal_parameter() {
    if !is_ncrab() {
        return;
    }
    let Some(c) = certs() else {
        return;
    };
    let net = Net::new("tls-alert-level");
    for (protocols, cipher) in SUITES {
        for desc in [0u8, 90] {
            let what = format!("{cipher}, alert [3, {desc}]");
            let (port, server) = crafted_server(&net, &c, move |cr| {
                cr.app(b"before\n");
                cr.alert(3, desc);
                cr.app(b"after\n");
            });
            let ca = c.path("ca.pem");
            let protocols = format!("protocols={protocols}");
            let ciphers = format!("ciphers={cipher}");
            let args = [
                "-vv",
                "-c",
                "-R",
                &ca,
                "-T",
                &protocols,
                "-T",
                &ciphers,
                "127.0.0.1",
                &port,
            ];
            let o = net.nc(&args).run(LIMIT);
            let heard = match server.join() {
                Ok(h) => h,
                Err(_) => panic!("{what}: the test's server failed (see above); ncrab: {o}"),
            };
            assert_bytes(&what, b"before\n", &o.stdout);
            assert_eq!(
                heard.records(),
                vec![(ALERT, vec![FATAL, ILLEGAL_PARAMETER])],
                "{what}: what ncrab sent after the handshake; ncrab: {o}"
            );
            // OpenBSD's line for a TLS error after the handshake, once,
            // then -vv's summary, and its exit status (issue 22 item 3).
            let err = o.stderr_str();
            let lines: Vec<&str> = err.lines().collect();
            let n = lines.len();
            assert!(n >= 2, "{what}: {o}");
            assert_eq!(
                lines[n - 2],
                "nc: tls read failed (the peer sent an alert of a level TLS does not have (3))",
                "{what}: {o}"
            );
            assert!(
                lines[n - 1].starts_with("Sent 0 bytes, received 7 bytes"),
                "{what}: {o}"
            );
            assert_eq!(err.matches("tls read failed").count(), 1, "{what}: {o}");
            assert_eq!(o.code(), Some(1), "{what}: {o}");
        }
    }
}
