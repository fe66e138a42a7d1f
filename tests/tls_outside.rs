//! Found by running OpenBSD's regress/usr.bin/nc `run-tls*` targets (with
//! their certificates reissued as X.509 v3 with subjectAltName) and their
//! original certificates against ncrab: what those runs showed that the
//! other TLS tests did not cover.
//!
//! - ncrab's own certificate (`--tls-cert`) in X.509 v1, as OpenBSD's
//!   regress `server.crt` and `client.crt` are: refused with departure
//!   17's precise reason and fix, not rustls's bare `UnsupportedCertVersion`;
//! - a listener whose certificate cannot be loaded fails before it
//!   listens, as OpenBSD nc (which configures TLS before `local_listen`):
//!   no `Listening on` line, no socket a client could reach;
//! - `run-tls-bad-ca`: a certificate signed by another key under the
//!   same issuer name is libtls's `certificate signature failure`.
//! - a key that is not the certificate's is libtls's `private/public key
//!   mismatch`.

mod common;
use common::*;

use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

const V1_OWN: &str = "the certificate is X.509 v1, which ncrab cannot use as its own; \
                      reissue it as v3 with subjectAltName";

/// The certificates, a network of the test's own and a free port; None
/// (the test skips) without openssl, or when the binary is not ncrab.
fn setup(name: &str) -> Option<(Certs, Net, String)> {
    if !is_ncrab() {
        return None;
    }
    let c = certs()?;
    Some((c, Net::new(name), free_port().to_string()))
}

/// ncrab with `args` (stdin empty) fails at start: exactly `want` on
/// stderr, nothing on stdout, status 1.
fn fails_at_start(net: &Net, args: &[&str], want: &str) {
    let o = net.nc(args).stdin(Input::Null).run(LIMIT);
    o.assert(1, b"", want.as_bytes());
}

/// A listener given an X.509 v1 certificate (OpenBSD's regress
/// `server.crt`) says so, with the fix, and exits 1 before it listens.
#[test]
fn own_x509_v1_certificate_of_a_listener_is_refused_with_the_fix() {
    let Some((c, net, port)) = setup("tls-out-v1-listen") else {
        return;
    };
    let args = c.listener_args("v1", &["-v"], &[], &port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let want = format!(
        "nc: unable to load TLS certificate file {} ({V1_OWN})\n",
        c.path("v1.pem")
    );
    fails_at_start(&net, &args, &want);
}

/// A client given an X.509 v1 client certificate (OpenBSD's regress
/// `client.crt`) says so, with the fix, and exits 1 before it connects.
#[test]
fn own_x509_v1_client_certificate_is_refused_with_the_fix() {
    let Some((c, net, port)) = setup("tls-out-v1-client") else {
        return;
    };
    let (cert, key, ca) = (c.path("v1.pem"), c.path("v1.key"), c.path("ca.pem"));
    let want = format!("nc: unable to load TLS certificate file {cert} ({V1_OWN})\n");
    fails_at_start(
        &net,
        &[
            "-v",
            "-c",
            "--tls-cert",
            &cert,
            "-K",
            &key,
            "-R",
            &ca,
            "localhost",
            &port,
        ],
        &want,
    );
}

/// OpenBSD nc loads and configures TLS before it listens: a missing key
/// file is the only line, and nothing ever listened on the port.
#[test]
fn a_listener_whose_key_cannot_be_loaded_never_listens() {
    let Some((c, net, port)) = setup("tls-out-nokey") else {
        return;
    };
    let missing = c.path("missing.key");
    let cert = c.path("srv.pem");
    let p = port;
    let want = format!("nc: unable to load TLS key file {missing} (No such file or directory)\n");
    fails_at_start(
        &net,
        &[
            "-v",
            "-lc",
            "--tls-cert",
            &cert,
            "-K",
            &missing,
            "127.0.0.1",
            &p,
        ],
        &want,
    );
}

/// `run-tls-bad-ca`: the client trusts a CA with the issuer's name but
/// another key; libtls's words for it are `certificate signature
/// failure`, which the regress target greps for.
#[test]
fn a_ca_of_the_same_name_with_another_key_is_a_signature_failure() {
    if !is_ncrab() {
        return;
    }
    let Some(c) = certs() else {
        return;
    };
    // Another "Test CA": same subject as ca.pem, another key.
    openssl(
        c.dir.path(),
        &[
            &["req", "-x509"][..],
            &NEW_EC_KEY,
            &["-keyout", "fake-ca.key", "-out", "fake-ca.pem"],
            &["-days", "30", "-subj", "/C=US/O=Test/CN=Test CA"],
        ]
        .concat(),
    );
    let net = Net::new("tls-out-bad-ca");
    let port = free_port();
    let p = port.to_string();
    let mut l = net.spawn_listening(
        net.nc(&c.listener_args("srv", &[], &[], &p))
            .stdin(Input::Null),
        port,
    );
    let fake = c.path("fake-ca.pem");
    let o = net
        .nc(&["-c", "-R", &fake, "localhost", &p])
        .stdin(Input::Null)
        .run(LIMIT);
    o.assert(
        1,
        b"",
        b"nc: tls handshake failed (certificate verification failed: certificate signature failure)\n",
    );
    let _ = l.kill();
}

/// A key that is not the certificate's: libtls's `private/public key
/// mismatch` (ncrab said rustls's `inconsistent keys`), before listening.
#[test]
fn a_key_that_is_not_the_certificates_is_libtls_key_mismatch() {
    let Some((c, net, port)) = setup("tls-out-keymismatch") else {
        return;
    };
    let (cert, key) = (c.path("srv.pem"), c.path("client.key"));
    let args = [
        "-v",
        "-lc",
        "--tls-cert",
        &cert,
        "-K",
        &key,
        "127.0.0.1",
        &port,
    ];
    let want = "nc: tls configuration failed (private/public key mismatch)\n";
    fails_at_start(&net, &args, want);
}

/// A certificate file given as `-K` has PEM items but no key: the reason
/// says so (it said `no PEM item found`); an empty file keeps that reason.
#[test]
fn a_key_file_without_a_key_says_so() {
    let Some((c, net, port)) = setup("tls-out-keyfile") else {
        return;
    };
    let cert = c.path("srv.pem");
    for (key, why) in [
        (cert.as_str(), "no private key in it"),
        ("/dev/null", "no PEM item found"),
    ] {
        let want = format!("nc: unable to load TLS key file {key} ({why})\n");
        let args = ["-lc", "--tls-cert", &cert, "-K", key, "127.0.0.1", &port];
        fails_at_start(&net, &args, &want);
    }
}
