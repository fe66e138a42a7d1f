//! TLS (`-c`, issue 14), against real peers in private network
//! namespaces: openssl s_server/s_client, ncat --ssl, socat OPENSSL, and
//! ncrab itself.
//!
//! The certificates are made here with openssl: a test CA; a server
//! certificate for localhost and 127.0.0.1; an expired one; one for
//! another name; one from an unknown CA; an X.509 v1 one; one with names
//! only in the Common Name; and a client certificate. Every failure is
//! checked by its exact text and exit status. Tests that need a peer skip
//! with a printed reason when it is missing (a failure under CI=true).

mod common;
use common::*;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// `openssl s_server` on `port` serving `cert`, in `net`, sending `data`
/// to its client (its stdin stays open: at EOF it would end the session).
fn s_server(net: &Net, c: &Certs, cert: &str, port: u16, extra: &[&str], data: &[u8]) -> Proc {
    let key = format!("{cert}.key");
    let p = port.to_string();
    let (cp, kp) = (c.path(&format!("{cert}.pem")), c.path(&key));
    let mut args = vec![
        "s_server", "-accept", &p, "-cert", &cp, "-key", &kp, "-naccept", "1", "-quiet",
    ];
    args.extend(extra);
    let mut s = net
        .wrap(Cmd::with_target(
            PathBuf::from("/usr/bin/openssl"),
            "openssl",
            &args,
        ))
        .stdin(Input::Pipe)
        .spawn();
    net.expect_listen(&mut s, port);
    s.write_stdin(data).expect("s_server stdin");
    s
}

/// Runs the client with its stdin open until `want` came out on stdout,
/// with nothing on stderr (s_server ends a session at the client's
/// close_notify, perhaps before it sent its data: no -N here).
fn receives(net: &Net, args: &[&str], want: &[u8]) {
    let mut p = net.nc(args).stdin(Input::Pipe).spawn();
    p.expect_stdout(want, LIMIT);
    let o = p.kill();
    assert_eq!(o.stdout, want, "{o}");
    assert_eq!(o.stderr_str(), "", "{o}");
}

fn tls_error(reason: &str) -> String {
    format!("nc: tls handshake failed ({reason})\n")
}

// ---------------------------------------------------------------------------
// Option checks (OpenBSD's texts, status 1)
// ---------------------------------------------------------------------------

#[test]
fn option_checks_use_openbsds_texts() {
    if !is_ncrab() {
        return;
    }
    let cases: &[(&[&str], &str)] = &[
        (&["-c", "-u", "h", "1"], "nc: cannot use -c and -u\n"),
        (&["-c", "-U", "/tmp/x"], "nc: cannot use -c and -U\n"),
        (&["-c", "-F", "h", "1"], "nc: cannot use -c and -F\n"),
        (&["-c", "-t", "h", "1"], "nc: cannot use -c and -t\n"),
        (
            &["-zc", "--banner", "h", "1"],
            "nc: cannot use -c and --banner\n",
        ),
        (
            &["-c", "-i", "1", "h", "1"],
            "nc: cannot use -c and -i (except with -z)\n",
        ),
        (
            &["-T", "noverify", "h", "1"],
            "nc: you must specify -c to use TLS options\n",
        ),
        (
            &["--tls-alpn", "h2", "h", "1"],
            "nc: you must specify -c to use TLS options\n",
        ),
        (
            &["--tls-cert", "x", "h", "1"],
            "nc: you must specify -c to use --tls-cert\n",
        ),
        (
            &["-K", "x", "h", "1"],
            "nc: you must specify -c to use -K\n",
        ),
        (
            &["-R", "x", "h", "1"],
            "nc: you must specify -c to use -R\n",
        ),
        (
            &["-H", "x", "h", "1"],
            "nc: you must specify -c to use -H\n",
        ),
        (
            &["-e", "x", "h", "1"],
            "nc: you must specify -c to use -e\n",
        ),
        (
            &["--ssl-servername", "x", "h", "1"],
            "nc: you must specify -c to use -e\n",
        ),
        (
            &["-c", "-o", "x", "h", "1"],
            "nc: you must specify --tls-cert to use -o\n",
        ),
        (
            &["-c", "-H", "SHA256:00", "-T", "noverify", "h", "1"],
            "nc: -H and -T noverify may not be used together\n",
        ),
        (
            &["-c", "-T", "clientcert", "h", "1"],
            "nc: clientcert is only valid with -l\n",
        ),
        (
            &["-c", "-T", "protocols=", "h", "1"],
            "nc: invalid tls value `protocols='\n",
        ),
        (
            &["-c", "-T", "protocols=tlsv9", "h", "1"],
            "nc: invalid TLS protocols `tlsv9'\n",
        ),
        (
            &["-c", "-T", "ciphers=RC4-MD5", "h", "1"],
            "nc: invalid TLS ciphers `RC4-MD5'\n",
        ),
        (
            &["-c", "-T", "bogus", "h", "1"],
            "nc: illegal tos value bogus\n",
        ),
    ];
    let mut bad = Vec::new();
    for (args, want) in cases {
        let o = Cmd::nc(args).run(LIMIT);
        if o.code() != Some(1) || o.stderr != want.as_bytes() || !o.stdout.is_empty() {
            bad.push(format!(
                "nc {}: want {} got {o}",
                args.join(" "),
                escape(want.as_bytes())
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------
// Client against openssl s_server
// ---------------------------------------------------------------------------

#[test]
fn client_verifies_and_prints_openbsds_lines() {
    let Some(c) = certs() else { return };
    let net = Net::new("tls-ok");
    let port = free_port();
    let mut s = s_server(&net, &c, "srv", port, &[], b"hello from s_server\n");
    let p = port.to_string();
    // Data both ways; then both are stopped (s_server would end the
    // session at a close_notify, perhaps before its data went out).
    let mut n = net
        .nc(&["-v", "-c", "-R", &c.path("ca.pem"), "localhost", &p])
        .stdin(Input::Pipe)
        .spawn();
    n.write_stdin(b"hello from nc\n").expect("nc stdin");
    n.expect_stdout(b"hello from s_server\n", LIMIT);
    s.expect_stdout(b"hello from nc\n", LIMIT);
    let o = n.kill();
    s.kill();
    assert_eq!(o.stdout, b"hello from s_server\n", "{o}");
    let err = o.stderr_str();
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("Connection to localhost ")
            && lines[0].ends_with(&format!(" {p} port [tcp/*] succeeded!")),
        "{err}"
    );
    assert!(
        lines[1].starts_with("TLS handshake negotiated TLSv1.3/TLS_"),
        "{err}"
    );
    assert!(lines[1].ends_with(" with host localhost"), "{err}");
    assert_eq!(lines[2], "Peer name: localhost", "{err}");
    assert_eq!(lines[3], "Subject: /O=Test/CN=localhost", "{err}");
    assert_eq!(lines[4], "Issuer: /C=US/O=Test/CN=Test CA", "{err}");
    assert!(lines[5].starts_with("Valid From: "), "{err}");
    assert!(lines[6].starts_with("Valid Until: "), "{err}");
    assert_eq!(
        lines[7],
        format!("Cert Hash: {}", c.hash("srv.pem")),
        "{err}"
    );
}

/// Each verification failure: its exact text, status 1.
#[test]
fn client_failure_reasons() {
    let Some(c) = certs() else { return };
    let net = Net::new("tls-fail");
    let ca = c.path("ca.pem");
    let cases: Vec<(&str, Vec<&str>, String)> = vec![
        (
            "expired",
            vec![],
            format!("certificate verification failed: certificate expired on {}", not_after_utc(&c, "expired.pem")),
        ),
        (
            "wrong",
            vec![],
            "name `localhost' not present in server certificate: certificate is for wrong.example".into(),
        ),
        (
            "srv",
            vec!["-e", "other.example"],
            "name `other.example' not present in server certificate: certificate is for localhost, 127.0.0.1".into(),
        ),
        (
            "stranger",
            vec![],
            "certificate verification failed: unknown issuer (give the issuing CA with -R)".into(),
        ),
        (
            "v1",
            vec![],
            "certificate verification failed: the server certificate is X.509 v1; reissue it as v3 with subjectAltName".into(),
        ),
        (
            "cnonly",
            vec![],
            "name `localhost' not present in server certificate: it has no subjectAltName (names only in the Common Name localhost); reissue it with subjectAltName".into(),
        ),
        (
            "ca",
            vec![],
            "certificate verification failed: the server certificate is a CA certificate (CA:TRUE) used as the server's own; issue an end-entity certificate from that CA".into(),
        ),
    ];
    for (cert, extra, reason) in cases {
        let port = free_port();
        let mut s = s_server(&net, &c, cert, port, &[], b"");
        let p = port.to_string();
        let mut args = vec!["-c", "-R", &ca];
        args.extend(extra);
        args.extend(["localhost", &p]);
        let o = net.nc(&args).run(LIMIT);
        s.kill();
        o.assert(1, b"", tls_error(&reason).as_bytes());
    }
}

fn not_after_utc(c: &Certs, name: &str) -> String {
    let out = Command::new("openssl")
        .args([
            "x509",
            "-in",
            &c.path(name),
            "-noout",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ])
        .output()
        .expect("openssl");
    // notAfter=2026-12-02 15:20:12Z
    let s = String::from_utf8_lossy(&out.stdout);
    let v = s
        .trim()
        .trim_start_matches("notAfter=")
        .trim_end_matches('Z');
    format!("{v} UTC")
}

/// -H: a pinned certificate is accepted even from an unknown CA; another
/// hash is refused after the certificate lines; -T noverify accepts it.
#[test]
fn pins_and_noverify() {
    let Some(c) = certs() else { return };
    let net = Net::new("tls-pin");
    let hash = c.hash("stranger.pem");
    let port = free_port();
    let mut s = s_server(&net, &c, "stranger", port, &[], b"pinned\n");
    let p = port.to_string();
    receives(&net, &["-c", "-H", &hash, "127.0.0.1", &p], b"pinned\n");
    s.kill();

    let port = free_port();
    let mut s = s_server(&net, &c, "stranger", port, &[], b"");
    let p = port.to_string();
    let other = format!("SHA256:{}", "ab".repeat(32));
    let o = net
        .nc(&["-v", "-c", "-H", &other, "127.0.0.1", &p])
        .run(LIMIT);
    s.kill();
    assert_eq!(o.code(), Some(1), "{o}");
    let err = o.stderr_str();
    assert!(err.contains(&format!("Cert Hash: {hash}\n")), "{err}");
    assert!(
        err.ends_with(&format!("nc: peer certificate is not {other}\n")),
        "{err}"
    );

    let port = free_port();
    let mut s = s_server(&net, &c, "stranger", port, &[], b"unverified\n");
    let p = port.to_string();
    receives(
        &net,
        &["-c", "-T", "noverify", "127.0.0.1", &p],
        b"unverified\n",
    );
    s.kill();
}

#[test]
fn alpn_and_protocols() {
    let Some(c) = certs() else { return };
    let net = Net::new("tls-alpn");
    let ca = c.path("ca.pem");
    let port = free_port();
    let mut s = s_server(&net, &c, "srv", port, &["-alpn", "h2"], b"");
    let p = port.to_string();
    let o = net
        .nc(&[
            "-v",
            "-c",
            "-N",
            "-R",
            &ca,
            "--tls-alpn",
            "http/1.1,h2",
            "localhost",
            &p,
        ])
        .run(LIMIT);
    s.kill();
    assert!(
        o.stderr_str().contains("Application Layer Protocol: h2\n"),
        "{o}"
    );

    let port = free_port();
    let mut s = s_server(&net, &c, "srv", port, &["-tls1_2"], b"");
    let p = port.to_string();
    let o = net
        .nc(&["-c", "-R", &ca, "-T", "protocols=tlsv1.3", "localhost", &p])
        .run(LIMIT);
    s.kill();
    o.assert(
        1,
        b"",
        b"nc: tls handshake failed (the peer refused every TLS version offered (alert: protocol version))\n",
    );
}

// ---------------------------------------------------------------------------
// Listener
// ---------------------------------------------------------------------------

/// -lc without a certificate: the printed hash pins it; another does not.
#[test]
fn listener_self_signed_pinning() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-lc");
    for good in [true, false] {
        let port = free_port();
        let p = port.to_string();
        let mut l = net
            .nc(&["-lc", "-v", "-N", "127.0.0.1", &p])
            .stdin_bytes(b"from listener\n")
            .spawn();
        net.expect_listen(&mut l, port);
        l.expect_stderr("Cert Hash: SHA256:", LIMIT);
        let err = l.stderr_text();
        let hash = err
            .lines()
            .find_map(|l| l.strip_prefix("Cert Hash: "))
            .unwrap()
            .to_string();
        let pin = if good {
            hash.clone()
        } else {
            format!("SHA256:{}", "00".repeat(32))
        };
        let o = net
            .nc(&["-c", "-N", "-H", &pin, "127.0.0.1", &p])
            .stdin_bytes(b"from client\n")
            .run(LIMIT);
        let lo = l.expect_exit(LIMIT);
        if good {
            o.assert(0, b"from listener\n", b"");
            assert_eq!(lo.stdout, b"from client\n", "{lo}");
            assert_eq!(lo.code(), Some(0), "{lo}");
        } else {
            o.assert(
                1,
                b"",
                format!("nc: peer certificate is not {pin}\n").as_bytes(),
            );
        }
    }
}

/// -T clientcert with -R: a client without a certificate is refused with
/// OpenBSD's warning and, with -k, the next one is served.
#[test]
fn listener_requires_client_certificates() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-cc");
    let port = free_port();
    let p = port.to_string();
    let (cert, key, ca) = (c.path("srv.pem"), c.path("srv.key"), c.path("ca.pem"));
    let mut l = net
        .nc(&[
            "-lkc",
            "-T",
            "clientcert",
            "-R",
            &ca,
            "--tls-cert",
            &cert,
            "-K",
            &key,
            "127.0.0.1",
            &p,
        ])
        .stdin(Input::Null)
        .spawn();
    net.expect_listen(&mut l, port);
    // No certificate.
    let o = net
        .nc(&["-c", "-R", &ca, "-d", "-w", "3", "localhost", &p])
        .run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    l.expect_stderr("nc: No client certificate provided\n", LIMIT);
    // With one.
    let (ccert, ckey) = (c.path("client.pem"), c.path("client.key"));
    let o = net
        .nc(&[
            "-c",
            "-N",
            "-R",
            &ca,
            "--tls-cert",
            &ccert,
            "-K",
            &ckey,
            "localhost",
            &p,
        ])
        .stdin_bytes(b"with a certificate\n")
        .run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    l.expect_stdout(b"with a certificate\n", LIMIT);
    let lo = l.kill();
    assert_eq!(
        lo.stderr_str(),
        "nc: No client certificate provided\n",
        "{lo}"
    );
}

// ---------------------------------------------------------------------------
// Other peers: ncat --ssl, socat OPENSSL, openssl s_client
// ---------------------------------------------------------------------------

#[test]
fn ncat_ssl_both_directions() {
    let Some(c) = certs() else { return };
    let Some(ncat) = tool("ncat", "ncat") else {
        return;
    };
    let net = Net::new("tls-ncat");
    let (cert, key, ca) = (c.path("srv.pem"), c.path("srv.key"), c.path("ca.pem"));
    // ncrab client -> ncat --ssl listener.
    let port = free_port();
    let p = port.to_string();
    let mut n = net
        .wrap(Cmd::with_target(
            ncat.clone(),
            "ncat",
            &[
                "-l",
                "--ssl",
                "--ssl-cert",
                &cert,
                "--ssl-key",
                &key,
                "127.0.0.1",
                &p,
            ],
        ))
        .stdin_bytes(b"from ncat\n")
        .spawn();
    net.expect_listen(&mut n, port);
    let o = net
        .nc(&["-c", "-N", "--ssl-trustfile", &ca, "localhost", &p])
        .stdin_bytes(b"from nc\n")
        .run(LIMIT);
    let no = n.expect_exit(LIMIT);
    o.assert(0, b"from ncat\n", b"");
    assert_eq!(no.stdout, b"from nc\n", "{no}");
    // ncat --ssl client -> ncrab listener.
    let port = free_port();
    let p = port.to_string();
    let mut l = net
        .nc(&["-lc", "--tls-cert", &cert, "-K", &key, "127.0.0.1", &p])
        .stdin_bytes(b"from nc listener\n")
        .spawn();
    net.expect_listen(&mut l, port);
    let o = net
        .wrap(Cmd::with_target(
            ncat,
            "ncat",
            &[
                "--ssl",
                "--ssl-verify",
                "--ssl-trustfile",
                &ca,
                "localhost",
                &p,
            ],
        ))
        .stdin_bytes(b"from ncat client\n")
        .run(LIMIT);
    let lo = l.expect_exit(LIMIT);
    assert_eq!(lo.stdout, b"from ncat client\n", "{lo}");
    assert_eq!(o.stdout, b"from nc listener\n", "{o}");
}

#[test]
fn socat_openssl_both_directions() {
    let Some(c) = certs() else { return };
    let Some(socat) = tool("socat", "socat") else {
        return;
    };
    let net = Net::new("tls-socat");
    let ca = c.path("ca.pem");
    let port = free_port();
    let p = port.to_string();
    let s = net
        .socat(&socat, &["-T", "10", &c.socat_listen(&p), "STDIO"])
        .stdin_bytes(b"from socat\n");
    let mut s = net.spawn_listening(s, port);
    let o = net
        .nc(&["-c", "-N", "-R", &ca, "localhost", &p])
        .stdin_bytes(b"from nc\n")
        .run(LIMIT);
    let so = s.expect_exit(LIMIT);
    o.assert(0, b"from socat\n", b"");
    assert_eq!(so.stdout, b"from nc\n", "{so}");

    let port = free_port();
    let p = port.to_string();
    let l = net
        .nc(&c.listener_args("srv", &["-N"], &[], &p))
        .stdin_bytes(b"from nc listener\n");
    let mut l = net.spawn_listening(l, port);
    let o = net
        .socat(&socat, &["-T", "10", "STDIO", &c.socat_connect(&p)])
        .stdin_bytes(b"from socat client\n")
        .run(LIMIT);
    let lo = l.expect_exit(LIMIT);
    assert_eq!(lo.stdout, b"from socat client\n", "{lo}");
    assert_eq!(o.stdout, b"from nc listener\n", "{o}");
}

/// 64 MiB of random data each way, ncrab to ncrab and with socat, checked
/// by SHA-256.
#[test]
fn bulk_64_mib_both_ways() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-bulk");
    let dir = TempDir::new("tls-bulk");
    let src = dir.join("src.bin");
    random_file(&src, 64 << 20);
    let (cert, key, ca) = (c.path("srv.pem"), c.path("srv.key"), c.path("ca.pem"));
    for listener_sends in [false, true] {
        for from_file in [true, false] {
            let dst = dir.join("dst.bin");
            let _ = std::fs::remove_file(&dst);
            let input = || {
                if from_file {
                    Input::File(src.clone())
                } else {
                    Input::PipeFrom(src.clone())
                }
            };
            let port = free_port();
            let p = port.to_string();
            let l_n = if listener_sends { "-N" } else { "-v" };
            let c_n = if listener_sends { "-v" } else { "-N" };
            let mut l = net.nc(&["-lc", l_n, "--tls-cert", &cert, "-K", &key, "127.0.0.1", &p]);
            let mut cl = net.nc(&["-c", c_n, "-R", &ca, "localhost", &p]);
            if listener_sends {
                l = l.stdin(input());
                cl = cl.stdin(Input::Null).stdout(OutputTo::File(dst.clone()));
            } else {
                l = l.stdin(Input::Null).stdout(OutputTo::File(dst.clone()));
                cl = cl.stdin(input());
            }
            let mut lp = l.spawn();
            net.expect_listen(&mut lp, port);
            let co = cl.run(secs(120));
            let lo = lp.expect_exit(secs(30));
            assert_eq!(co.code(), Some(0), "{co}");
            assert_eq!(lo.code(), Some(0), "{lo}");
            let got = std::fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
            assert_eq!(
                sha256(&src),
                sha256(&dst),
                "listener_sends {listener_sends} file {from_file}: received {got} bytes; {lo}; {co}"
            );
        }
    }
    // With socat as the receiving listener.
    let Some(socat) = tool("socat", "socat") else {
        return;
    };
    let dst = dir.join("socat.bin");
    let port = free_port();
    let p = port.to_string();
    let mut s = net
        .wrap(Cmd::with_target(
            socat,
            "socat",
            // -u: socat only reads the TLS side. Bidirectional, its empty
            // stdin's EOF would start its 0.5 s close timer (-t) and cut a
            // transfer that takes longer (nc.openbsd loses the tail there too).
            &[
                "-u",
                "-T",
                "30",
                &format!(
                    "OPENSSL-LISTEN:{p},bind=127.0.0.1,reuseaddr,cert={cert},key={key},verify=0"
                ),
                "STDOUT",
            ],
        ))
        .stdin(Input::Null)
        .stdout(OutputTo::File(dst.clone()))
        .spawn();
    net.expect_listen(&mut s, port);
    let o = net
        .nc(&["-c", "-N", "-R", &ca, "localhost", &p])
        .stdin(Input::File(src.clone()))
        .run(secs(120));
    s.expect_exit(secs(30));
    assert_eq!(o.code(), Some(0), "{o}");
    assert_eq!(sha256(&src), sha256(&dst));
}

// ---------------------------------------------------------------------------
// End of data
// ---------------------------------------------------------------------------

/// -N: close_notify then FIN, so the peer's read ends; a received
/// close_notify ends ours; -q 0 and -q 1 as nc.
#[test]
fn eof_rules() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-eof");
    // Listener with -N ends its side after its stdin; the client's read
    // ends on the close_notify and, its own stdin at EOF too, it exits.
    for q in [None, Some("0"), Some("1")] {
        let port = free_port();
        let p = port.to_string();
        let mut l = net
            .nc(&["-lc", "-v", "-N", "127.0.0.1", &p])
            .stdin_bytes(b"bye\n")
            .spawn();
        net.expect_listen(&mut l, port);
        l.expect_stderr("Cert Hash: ", LIMIT);
        let mut args = vec!["-c", "-T", "noverify"];
        if let Some(q) = q {
            args.extend(["-q", q]);
        }
        args.extend(["127.0.0.1", &p]);
        let start = std::time::Instant::now();
        let o = net.nc(&args).stdin_bytes(b"hi\n").run(LIMIT);
        o.assert(0, b"bye\n", b"");
        assert!(start.elapsed() < secs(5), "took {:?}", start.elapsed());
        let lo = l.expect_exit(LIMIT);
        assert_eq!(lo.stdout, b"hi\n", "{lo}");
    }
}

/// -C works on the plaintext: LF goes out as CR LF inside TLS.
#[test]
fn crlf_inside_tls() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-crlf");
    let port = free_port();
    let p = port.to_string();
    let mut l = net.nc(&["-lc", "-v", "127.0.0.1", &p]).spawn();
    net.expect_listen(&mut l, port);
    l.expect_stderr("Cert Hash: ", LIMIT);
    let o = net
        .nc(&["-c", "-C", "-N", "-T", "noverify", "127.0.0.1", &p])
        .stdin_bytes(b"EHLO a\nQUIT\r\n")
        .run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    let lo = l.expect_exit(LIMIT);
    assert_eq!(lo.stdout, b"EHLO a\r\nQUIT\r\n", "{lo}");
}

/// A peer that closes without close_notify (a forwarder in front of
/// s_server sends a bare FIN after the data): the data still comes out,
/// the run ends as at EOF, and -vv says the data may be truncated.
#[test]
fn bare_fin_is_eof_and_noted() {
    forwarded_end(false);
}

/// A record that fails to decrypt after good data: every byte decrypted
/// before it still comes out, then OpenBSD's `tls read failed (REASON)`
/// and status 1 (libtls's errx).
#[test]
fn corrupt_record_after_data_loses_nothing_before_it() {
    forwarded_end(true);
}

/// s_server behind a forwarder that, after 1.5 s, optionally sends a
/// corrupt record, then a bare FIN.
fn forwarded_end(corrupt: bool) {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-fin");
    let port = free_port();
    let mut s = s_server(&net, &c, "srv", port, &[], b"data before fin\n");
    let l = net.listen("127.0.0.1:0").expect("listen");
    let fport = l.local_addr().unwrap().port();
    let mut server = net.connect(&format!("127.0.0.1:{port}"));
    let fwd = std::thread::spawn(move || {
        let Ok((mut client, _)) = l.accept() else {
            return;
        };
        let _ = client.set_read_timeout(Some(ms(20)));
        let _ = server.set_read_timeout(Some(ms(20)));
        let start = std::time::Instant::now();
        let mut buf = vec![0u8; 65536];
        while start.elapsed() < ms(1500) {
            use std::io::Read;
            if let Ok(n) = client.read(&mut buf) {
                if n > 0 {
                    let _ = server.write_all(&buf[..n]);
                }
            }
            if let Ok(n) = server.read(&mut buf) {
                if n > 0 {
                    let _ = client.write_all(&buf[..n]);
                }
            }
        }
        if corrupt {
            // An application-data record that cannot be decrypted.
            let mut rec = vec![0x17, 0x03, 0x03, 0x00, 0x40];
            rec.extend(payload(64, 9));
            let _ = client.write_all(&rec);
        }
        let _ = client.shutdown(std::net::Shutdown::Write);
        std::thread::sleep(secs(3));
    });
    let fp = fport.to_string();
    let o = net
        .nc(&[
            "-vv",
            "-c",
            "-d",
            "-R",
            &c.path("ca.pem"),
            "-n",
            "127.0.0.1",
            &fp,
        ])
        .run(LIMIT);
    s.kill();
    let _ = fwd.join();
    assert_eq!(o.code(), Some(if corrupt { 1 } else { 0 }), "{o}");
    assert_eq!(o.stdout, b"data before fin\n", "{o}");
    let note = if corrupt {
        "\nnc: tls read failed (decryption failed (corrupted record))\n"
    } else {
        "the peer closed the connection without a TLS close_notify"
    };
    assert!(o.stderr_str().contains(note), "{o}");
    if corrupt {
        // Said once, not again in -vv's words.
        assert_eq!(
            o.stderr_str().matches("decryption failed").count(),
            1,
            "{o}"
        );
    }
}

// ---------------------------------------------------------------------------
// Hostile peers
// ---------------------------------------------------------------------------

#[test]
fn hostile_peers_one_line_and_status_1() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-hostile");
    type Script = Box<dyn FnMut(Conn) + Send>;
    let cases: Vec<(&str, Script, Vec<&str>, &str)> = vec![
        (
            "plain text",
            Box::new(|mut c: Conn| {
                c.send(b"HTTP/1.0 400 Bad Request\r\n\r\n");
                c.hold(secs(2));
            }),
            vec![],
            "nc: tls handshake failed (the peer did not speak TLS)\n",
        ),
        (
            "random bytes",
            Box::new(|mut c: Conn| {
                c.send(&payload(4096, 7));
                c.hold(secs(2));
            }),
            vec![],
            "nc: tls handshake failed (the peer did not speak TLS)\n",
        ),
        (
            "truncated record",
            Box::new(|mut c: Conn| {
                c.read_at_least(1, secs(2));
                std::thread::sleep(ms(100));
                c.send(&[0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00]);
            }),
            vec![],
            "nc: tls handshake failed (the peer closed the connection in the middle of the handshake)\n",
        ),
        (
            "silent close",
            Box::new(|mut c: Conn| {
                c.read_at_least(1, secs(2));
                std::thread::sleep(ms(100));
            }),
            vec![],
            "nc: tls handshake failed (the peer closed the connection without a word of TLS)\n",
        ),
        (
            "stall, then close (no -w)",
            Box::new(|mut c: Conn| {
                c.read_at_least(1, secs(2));
                c.hold(secs(2));
            }),
            vec![],
            "nc: tls handshake failed (the peer closed the connection without a word of TLS)\n",
        ),
        (
            "stall with -w",
            Box::new(|mut c: Conn| c.hold(secs(8))),
            vec!["-w", "1"],
            "nc: tls handshake failed (timed out waiting for the peer (-w))\n",
        ),
        (
            "1 MiB handshake message",
            Box::new(|mut c: Conn| {
                // A handshake message announcing 1 MiB, sent in records.
                let mut msg = vec![0x0b, 0x10, 0x00, 0x00];
                msg.extend(vec![0u8; 1 << 20]);
                for chunk in msg.chunks(16384) {
                    let mut rec = vec![0x16, 0x03, 0x03];
                    rec.extend((chunk.len() as u16).to_be_bytes());
                    rec.extend(chunk);
                    if c.stream.write_all(&rec).is_err() {
                        break;
                    }
                }
                c.hold(secs(2));
            }),
            vec![],
            "",
        ),
    ];
    for (what, script, extra, want) in cases {
        let s = net.server("127.0.0.1:0", 1, script);
        let p = s.port_str();
        let mut args = vec!["-c", "-T", "noverify"];
        args.extend(extra);
        args.extend(["127.0.0.1", &p]);
        let o = net.nc(&args).run(LIMIT);
        assert_eq!(o.code(), Some(1), "{what}: {o}");
        assert!(o.stdout.is_empty(), "{what}: {o}");
        if want.is_empty() {
            let e = o.stderr_str();
            assert!(
                e.starts_with("nc: tls handshake failed (") && e.lines().count() == 1,
                "{what}: {o}"
            );
        } else {
            assert_eq!(o.stderr_str(), want, "{what}");
        }
    }
}

// ---------------------------------------------------------------------------
// Scans
// ---------------------------------------------------------------------------

#[test]
fn scan_mixes_tls_plain_and_closed() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-scan");
    let tls_port = free_port();
    let mut s = s_server(&net, &c, "srv", tls_port, &[], b"");
    let plain = net.server("127.0.0.1:0", 1, |mut c: Conn| {
        c.send(b"SSH-2.0-OpenSSH_9.2\r\n");
        c.hold(secs(3));
    });
    let closed = free_port();
    let (a, b) = (tls_port.to_string(), plain.port_str());
    let ca = c.path("ca.pem");
    let cl = closed.to_string();
    let o = net
        .nc(&[
            "-zvvc",
            "--json",
            "-R",
            &ca,
            "-w",
            "3",
            "127.0.0.1",
            &a,
            &b,
            &cl,
        ])
        .run(LIMIT);
    s.kill();
    let err = o.stderr_str();
    let out = o.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{o}");
    assert!(
        lines[0].contains("\"state\":\"open\"")
            && lines[0].contains("\"tls\":{\"version\":\"TLSv1.3\""),
        "{out}"
    );
    assert!(
        lines[0].contains("\"sans\":[\"localhost\",\"127.0.0.1\"]"),
        "{out}"
    );
    assert!(
        lines[1].contains("\"state\":\"error\"")
            && lines[1]
                .contains("\"tls\":{\"error\":\"the peer did not speak TLS\",\"chain_ok\":null}"),
        "{out}"
    );
    assert!(lines[2].contains("\"state\":\"closed\""), "{out}");
    let want = format!(
        "Connection to 127.0.0.1 {a} port [tcp/*] succeeded!\n\
         nc: connect to 127.0.0.1 port {b} (tcp) failed: tls handshake failed (the peer did not speak TLS)\n\
         nc: connect to 127.0.0.1 port {cl} (tcp) failed: Connection refused\n"
    );
    let nc_lines: String = err
        .lines()
        .filter(|l| !l.starts_with('\t'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(nc_lines, want, "{err}");
    assert!(err.contains("\tsubject: /O=Test/CN=localhost\n"), "{err}");
    assert!(err.contains("\tnames: localhost, 127.0.0.1\n"), "{err}");
    assert_eq!(o.code(), Some(0), "{o}");
}

/// `-zc -i`: one scan per port, but the trust anchors are read once per
/// run, not once per port (issue 23). strace counts the opens of the
/// `-R` file over three ports.
#[test]
fn scan_with_interval_reads_the_trust_anchors_once() {
    let Some(c) = certs() else { return };
    let Some(strace) = tool("strace", "strace") else {
        return;
    };
    if !is_ncrab() {
        return;
    }
    let dir = TempDir::new("tls-scan-i");
    let log = dir.join("strace.txt");
    let ca = c.path("ca.pem");
    let ports: Vec<String> = (0..3).map(|_| free_port().to_string()).collect();
    let (strace, logs) = (strace.to_string_lossy(), log.to_string_lossy());
    let mut args = vec!["-zvc", "-i", "1", "-R", &ca, "127.0.0.1"];
    args.extend(ports.iter().map(String::as_str));
    let o = Cmd::ncrab(&args)
        .under(&[
            &*strace,
            "-f",
            "-qq",
            "-e",
            "trace=openat",
            "-o",
            &*logs,
            "{}",
        ])
        .run(LIMIT);
    let want: String = ports
        .iter()
        .map(|p| format!("nc: connect to 127.0.0.1 port {p} (tcp) failed: Connection refused\n"))
        .collect();
    o.assert(1, b"", want.as_bytes());
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    let opens: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("openat(") && l.contains(&format!("\"{ca}\"")))
        .collect();
    assert_eq!(opens.len(), 1, "{opens:#?}");
}

// ---------------------------------------------------------------------------
// Proxies: TLS inside the tunnel
// ---------------------------------------------------------------------------

#[test]
fn tls_through_an_http_connect_proxy() {
    let Some(c) = certs() else { return };
    let Some(ncat) = tool("ncat", "ncat") else {
        return;
    };
    let net = Net::new("tls-proxy");
    // ncat as an HTTP CONNECT proxy.
    let pport = free_port();
    let pp = pport.to_string();
    let mut proxy = net
        .wrap(Cmd::with_target(
            ncat,
            "ncat",
            &["-lk", "127.0.0.1", &pp, "--proxy-type", "http"],
        ))
        .spawn();
    net.expect_listen(&mut proxy, pport);
    let port = free_port();
    let mut s = s_server(&net, &c, "srv", port, &[], b"through the tunnel\n");
    let p = port.to_string();
    let px = format!("127.0.0.1:{pp}");
    let ca = c.path("ca.pem");
    let args = ["-c", "-R", &ca, "-X", "connect", "-x", &px, "localhost", &p];
    receives(&net, &args, b"through the tunnel\n");
    s.kill();
    proxy.kill();
}

/// -lkc: a client that does not speak TLS gets one line, and the listener
/// serves the next one.
#[test]
fn listener_goes_on_after_a_failed_handshake() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-lk");
    let port = free_port();
    let p = port.to_string();
    let mut l = net.nc(&["-lkc", "-v", "127.0.0.1", &p]).spawn();
    net.expect_listen(&mut l, port);
    l.expect_stderr("Cert Hash: ", LIMIT);
    let mut plain = net.connect(&format!("127.0.0.1:{port}"));
    let _ = plain.write_all(b"GET / HTTP/1.0\r\n\r\n");
    l.expect_stderr(
        "nc: tls handshake failed (the peer did not speak TLS)\n",
        LIMIT,
    );
    drop(plain);
    let o = net
        .nc(&["-c", "-N", "-T", "noverify", "127.0.0.1", &p])
        .stdin_bytes(b"second client\n")
        .run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    l.expect_stdout(b"second client\n", LIMIT);
    let lo = l.kill();
    let failures = lo.stderr_str().matches("tls handshake failed").count();
    assert_eq!(failures, 1, "{lo}");
}

/// TLS inside a SOCKS5 tunnel (dante).
#[test]
fn tls_through_socks5() {
    let Some(c) = certs() else { return };
    let Some(danted) = tool("danted", "dante-server") else {
        return;
    };
    let net = Net::new("tls-socks");
    let dir = TempDir::new("tls-dante");
    let pport = free_port();
    let users = if unsafe { libc::geteuid() } == 0 {
        "user.privileged: root\nuser.unprivileged: nobody\n"
    } else {
        ""
    };
    let conf = format!(
        "logoutput: {log}\ninternal: 127.0.0.1 port = {pport}\nexternal: 127.0.0.1\n\
         clientmethod: none\nsocksmethod: none\n{users}\
         client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}}\n\
         socks pass {{\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  protocol: tcp\n  command: connect\n}}\n",
        log = dir.join("danted.log").display()
    );
    let cfg = dir.join("danted.conf");
    std::fs::write(&cfg, conf).unwrap();
    let pid = dir.join("danted.pid");
    let (cf, pf) = (cfg.display().to_string(), pid.display().to_string());
    let mut d = net
        .wrap(Cmd::with_target(
            danted,
            "danted",
            &["-f", &cf, "-p", &pf, "-N", "1"],
        ))
        .spawn();
    net.expect_listen(&mut d, pport);
    let port = free_port();
    let mut s = s_server(&net, &c, "srv", port, &[], b"through socks\n");
    let p = port.to_string();
    let px = format!("127.0.0.1:{pport}");
    let ca = c.path("ca.pem");
    receives(
        &net,
        &[
            "-c",
            "-R",
            &ca,
            "-e",
            "localhost",
            "-x",
            &px,
            "127.0.0.1",
            &p,
        ],
        b"through socks\n",
    );
    s.kill();
    d.kill();
}

/// -o staples an OCSP response (openssl s_client -status sees it);
/// -T muststaple accepts a server that staples and refuses one that
/// does not.
#[test]
fn ocsp_staple_and_muststaple() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    // An OCSP response for srv.pem, signed by the CA.
    let script = r#"set -e
serial=$(openssl x509 -in srv.pem -noout -serial | cut -d= -f2)
end=$(openssl x509 -in srv.pem -noout -enddate | cut -d= -f2)
exp=$(date -u -d "$end" +%y%m%d%H%M%SZ)
subj=$(openssl x509 -in srv.pem -noout -subject -nameopt compat | sed 's/^subject=//')
printf 'V\t%s\t\t%s\tunknown\t%s\n' "$exp" "$serial" "$subj" > index.txt
openssl ocsp -issuer ca.pem -cert srv.pem -reqout req.der >/dev/null 2>&1
openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin req.der -respout resp.der -ndays 1 >/dev/null 2>&1
"#;
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(c.dir.path())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let net = Net::new("tls-ocsp");
    let (cert, key, ca, resp) = (
        c.path("srv.pem"),
        c.path("srv.key"),
        c.path("ca.pem"),
        c.path("resp.der"),
    );
    for staple in [true, false] {
        let port = free_port();
        let p = port.to_string();
        let mut args = vec!["-lc", "-N", "--tls-cert", &cert, "-K", &key];
        if staple {
            args.extend(["-o", &resp]);
        }
        args.extend(["127.0.0.1", &p]);
        let mut l = net.nc(&args).stdin_bytes(b"stapled\n").spawn();
        net.expect_listen(&mut l, port);
        let o = net
            .nc(&["-c", "-T", "muststaple", "-R", &ca, "-d", "localhost", &p])
            .run(LIMIT);
        l.kill();
        if staple {
            o.assert(0, b"stapled\n", b"");
        } else {
            o.assert(
                1,
                b"",
                b"nc: tls handshake failed (no OCSP response stapled by the server (-T muststaple))\n",
            );
        }
    }
}

/// openssl s_client against ncrab -lc: verified by the CA, data both
/// ways; with -T clientcert the client's certificate is required.
#[test]
fn s_client_against_the_listener() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-sclient");
    let (cert, key, ca) = (c.path("srv.pem"), c.path("srv.key"), c.path("ca.pem"));
    let (ccert, ckey) = (c.path("client.pem"), c.path("client.key"));
    for with_cert in [false, true] {
        let port = free_port();
        let p = port.to_string();
        let mut l = net
            .nc(&[
                "-lc",
                "-v",
                "-T",
                "clientcert",
                "-R",
                &ca,
                "--tls-cert",
                &cert,
                "-K",
                &key,
                "127.0.0.1",
                &p,
            ])
            .stdin(Input::Pipe)
            .spawn();
        net.expect_listen(&mut l, port);
        let connect = format!("127.0.0.1:{port}");
        let mut args = vec![
            "s_client",
            "-quiet",
            "-connect",
            &connect,
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-servername",
            "localhost",
        ];
        if with_cert {
            args.extend(["-cert", &ccert, "-key", &ckey]);
        }
        let mut s = net
            .wrap(Cmd::with_target(
                PathBuf::from("/usr/bin/openssl"),
                "openssl",
                &args,
            ))
            .stdin(Input::Pipe)
            .spawn();
        s.write_stdin(b"from s_client\n").expect("s_client stdin");
        if with_cert {
            // Data both ways, then both are stopped (neither side ends
            // the session: s_client would quit at a close_notify).
            l.expect_stdout(b"from s_client\n", LIMIT);
            l.write_stdin(b"from the listener\n")
                .expect("listener stdin");
            s.expect_stdout(b"from the listener\n", LIMIT);
            let lo = l.kill();
            s.kill();
            let err = lo.stderr_str();
            assert!(
                err.contains("Subject: /O=Test/CN=client.example\n"),
                "{err}"
            );
        } else {
            let lo = l.expect_exit(LIMIT);
            s.kill();
            assert_eq!(lo.code(), Some(1), "{lo}");
            assert!(
                lo.stderr_str()
                    .ends_with("nc: No client certificate provided\n"),
                "{lo}"
            );
            assert!(lo.stdout.is_empty(), "{lo}");
        }
    }
}

/// Memory a peer can cause is bounded: a listener floods 64 MiB at a
/// client whose stdout nobody reads, and a client floods a listener whose
/// stdout nobody reads; each stalled side's peak RSS stays small.
#[test]
fn a_flood_into_a_stalled_stdout_is_bounded() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-flood");
    let dir = TempDir::new("tls-flood");
    let src = dir.join("src.bin");
    random_file(&src, 64 << 20);
    for listener_floods in [true, false] {
        let port = free_port();
        let p = port.to_string();
        let mut l = net.nc(&["-lc", "-v", "127.0.0.1", &p]);
        let mut c = net.nc(&["-c", "-T", "noverify", "127.0.0.1", &p]);
        if listener_floods {
            l = l.stdin(Input::File(src.clone()));
            c = c.stdin(Input::Pipe).stdout(OutputTo::Pipe);
        } else {
            l = l.stdin(Input::Pipe).stdout(OutputTo::Pipe);
            c = c.stdin(Input::File(src.clone()));
        }
        let mut lp = l.spawn();
        net.expect_listen(&mut lp, port);
        lp.expect_stderr("Cert Hash: ", LIMIT);
        let mut cp = c.spawn();
        std::thread::sleep(secs(2));
        let stalled = if listener_floods { &cp } else { &lp };
        let hwm = stalled.status_kib("VmHWM").unwrap_or(0);
        let _ = cp.kill();
        let _ = lp.kill();
        note(&format!(
            "listener_floods {listener_floods}: stalled side peak RSS {hwm} KiB"
        ));
        assert!(
            hwm > 0 && hwm < 24 * 1024,
            "listener_floods {listener_floods}: the stalled side's peak RSS is {hwm} KiB"
        );
    }
}

/// `-lkc --exec /bin/cat` (docs/compatibility.md §A.3): an echo server
/// over TLS; a client that does not speak TLS gets one failure line and
/// the next client is served, its payload echoed intact.
#[test]
fn exec_echo_server_over_tls() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("tls-exec");
    let port = free_port();
    let p = port.to_string();
    let mut l = net
        .nc(&["-lkc", "-v", "--exec", "/bin/cat", "127.0.0.1", &p])
        .spawn();
    net.expect_listen(&mut l, port);
    l.expect_stderr("Cert Hash: ", LIMIT);
    let mut plain = net.connect(&format!("127.0.0.1:{port}"));
    let _ = plain.write_all(b"GET / HTTP/1.0\r\n\r\n");
    l.expect_stderr(
        "nc: tls handshake failed (the peer did not speak TLS)\n",
        LIMIT,
    );
    drop(plain);
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    for _ in 0..3 {
        let o = net
            .nc(&["-c", "-N", "-T", "noverify", "127.0.0.1", &p])
            .stdin_bytes(&payload)
            .run(LIMIT);
        assert_eq!(o.code(), Some(0), "{o}");
        assert!(o.stdout == payload, "echo differs: {o}");
    }
    let lo = l.kill();
    let failures = lo.stderr_str().matches("tls handshake failed").count();
    assert_eq!(failures, 1, "{lo}");
}
