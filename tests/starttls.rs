//! `--starttls PROTO` with `-c` (issue 25): the plaintext preamble, then
//! TLS on the same connection, for openssl s_client's set of protocols.
//!
//! Each protocol has a scripted server (tests/common/starttls_servers.rs)
//! that follows its RFC and then does TLS with rustls; `openssl s_client
//! -starttls PROTO` completes its handshake against every one of them,
//! which proves the scripts right. Against them, ncrab moves 1 MiB each
//! way (SHA-256 equal), reports a refusal in one exact line with status
//! 1, gets the same result when every reply comes a byte at a time, and
//! in a scan (`-zc --starttls`) reports the port open or failed with the
//! server's reply. Hostile servers (an endless line, silence, a close)
//! give one line and never hang.

mod common;
use common::*;

use std::path::PathBuf;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

const PROTOS: &[&str] = &[
    "smtp",
    "lmtp",
    "pop3",
    "imap",
    "ftp",
    "xmpp",
    "xmpp-server",
    "irc",
    "postgres",
    "mysql",
    "nntp",
    "sieve",
    "ldap",
];

/// The line each scripted server's refusal gives.
fn refusal(proto: &str) -> String {
    let why = match proto {
        "smtp" | "lmtp" => "the server answered \"454 4.7.0 TLS not available\"",
        "pop3" => "the server answered \"-ERR TLS not available\"",
        "imap" => "the server answered \"a2 NO TLS not available\"",
        "ftp" => "the server answered \"534 TLS not available\"",
        "xmpp" | "xmpp-server" => {
            "the server answered \"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\""
        }
        "irc" => "the server answered \":starttls.test 691 * :STARTTLS failure\"",
        "postgres" => "the server answered \"N\"",
        "mysql" => "the server does not offer SSL (no CLIENT_SSL)",
        "nntp" => "the server answered \"580 Can not initiate TLS negotiation\"",
        "sieve" => "the server answered \"NO \"TLS not available\"\"",
        "ldap" => "the server answered \"resultCode 2: unsupported extended operation\"",
        _ => unreachable!(),
    };
    format!("nc: starttls {proto} failed: {why}\n")
}

/// ncrab `-c -N --starttls PROTO` (and `extra`) against `proto`'s
/// scripted server: `up` on its stdin, `down` from the server. The run
/// and what the server saw.
fn exchange(
    net: &Net,
    c: &Certs,
    proto: &'static str,
    how: How,
    extra: &[&str],
    up: &[u8],
    down: &[u8],
) -> (Outcome, Served) {
    let s = starttls_server(net, c, proto, how, down.to_vec());
    let ca = c.path("ca.pem");
    let mut args = vec!["-c", "-N", "--starttls", proto, "-R", &ca];
    args.extend(extra);
    args.extend(["127.0.0.1", &s.port]);
    let o = net.nc(&args).stdin_bytes(up).run(LIMIT);
    (o, s.served())
}

/// Both directions arrived whole, and nothing went wrong.
fn assert_exchanged(proto: &str, o: &Outcome, served: &Served, up: &[u8], down: &[u8]) {
    assert_eq!(o.code(), Some(0), "{proto}: {o}");
    assert_eq!(o.stderr_str(), "", "{proto}");
    assert_eq!(sha256_bytes(&o.stdout), sha256_bytes(down), "{proto}: down");
    let got = served.tls.as_deref().expect("TLS");
    assert_eq!(sha256_bytes(got), sha256_bytes(up), "{proto}: up");
}

#[test]
fn every_protocol_moves_1_mib_both_ways() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("starttls-bulk");
    let up = payload(1 << 20, 1);
    let down = payload(1 << 20, 2);
    for proto in PROTOS {
        let (o, served) = exchange(&net, &c, proto, How::Accept, &[], &up, &down);
        assert_exchanged(proto, &o, &served, &up, &down);
    }
}

#[test]
fn preamble_a_byte_at_a_time() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("starttls-split");
    for proto in PROTOS {
        let (o, served) = exchange(&net, &c, proto, How::Split, &[], b"up\n", b"down\n");
        assert_exchanged(proto, &o, &served, b"up\n", b"down\n");
    }
}

#[test]
fn names_sent_in_the_preamble() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("starttls-names");
    let run = |proto: &'static str, extra: &[&str]| -> Vec<Vec<u8>> {
        let (o, served) = exchange(&net, &c, proto, How::Accept, extra, b"", b"");
        assert_exchanged(proto, &o, &served, b"", b"");
        served.heard
    };
    let heard = run("smtp", &["--starttls-name", "client.example"]);
    assert_eq!(heard[0], b"EHLO client.example");
    assert_eq!(heard[1], b"STARTTLS");
    let heard = run("lmtp", &[]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&heard[0]),
        format!("LHLO {}", host.trim())
    );
    let heard = run("xmpp", &["--starttls-name", "chat.example"]);
    let header = String::from_utf8_lossy(&heard[1]).into_owned();
    assert!(header.contains(" to='chat.example' "), "{header}");
    let heard = run("xmpp-server", &[]);
    let header = String::from_utf8_lossy(&heard[1]).into_owned();
    assert!(header.contains(" to='127.0.0.1' "), "{header}");
    let heard = run("imap", &[]);
    assert_eq!(heard, [b"a1 CAPABILITY".to_vec(), b"a2 STARTTLS".to_vec()]);
}

#[test]
fn refusals_are_one_line_and_status_1() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("starttls-refuse");
    let ca = c.path("ca.pem");
    for proto in PROTOS {
        let s = starttls_server(&net, &c, proto, How::Refuse, Vec::new());
        let o = net
            .nc(&["-c", "--starttls", proto, "-R", &ca, "127.0.0.1", &s.port])
            .stdin_bytes(b"never sent\n")
            .run(LIMIT);
        let served = s.served();
        assert_eq!(o.code(), Some(1), "{proto}: {o}");
        assert_eq!(o.stdout, b"", "{proto}");
        assert_eq!(o.stderr_str(), refusal(proto), "{proto}");
        assert!(served.tls.is_none());
    }
    // -vv: the server's replies under the line, escaped.
    let s = starttls_server(&net, &c, "smtp", How::Refuse, Vec::new());
    let o = net
        .nc(&[
            "-c",
            "-vv",
            "--starttls",
            "smtp",
            "-R",
            &ca,
            "127.0.0.1",
            &s.port,
        ])
        .stdin_bytes(b"")
        .run(LIMIT);
    s.served();
    let err = o.stderr_str();
    let want = format!(
        "{}\tserver: 220-starttls.test ESMTP\n\tserver: 220 ready\n\tserver: 250-starttls.test\n\tserver: 250-PIPELINING\n\tserver: 250 STARTTLS\n\tserver: 454 4.7.0 TLS not available\n",
        refusal("smtp")
    );
    assert!(err.ends_with(&want), "{err}");
    assert_eq!(o.code(), Some(1), "{o}");
}

#[test]
fn hostile_servers_one_line_no_hang() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("starttls-hostile");
    type Script = Box<dyn FnMut(Conn) + Send>;
    let cases: Vec<(&str, &str, Script, Vec<&str>, &str)> = vec![
        (
            "endless line",
            "smtp",
            Box::new(|mut c: Conn| {
                for _ in 0..256 {
                    if std::io::Write::write_all(&mut c.stream, &[b'a'; 4096]).is_err() {
                        break;
                    }
                }
                c.hold(secs(2));
            }),
            vec![],
            "nc: starttls smtp failed: the server's preamble is longer than 65536 bytes\n",
        ),
        (
            "endless capabilities",
            "imap",
            Box::new(|mut c: Conn| {
                c.send(b"* OK ready\r\n");
                for _ in 0..8192 {
                    if std::io::Write::write_all(&mut c.stream, b"* CAPABILITY IMAP4rev1\r\n")
                        .is_err()
                    {
                        break;
                    }
                }
                c.hold(secs(2));
            }),
            vec![],
            "nc: starttls imap failed: the server's preamble is longer than 65536 bytes\n",
        ),
        (
            "silence with -w",
            "pop3",
            Box::new(|mut c: Conn| c.hold(secs(8))),
            vec!["-w", "1"],
            "nc: starttls pop3 failed: timed out waiting for the server (-w)\n",
        ),
        (
            "close after the greeting",
            "smtp",
            Box::new(|mut c: Conn| {
                c.send(b"220 ready\r\n");
                c.read_at_least(1, secs(2));
            }),
            vec![],
            "nc: starttls smtp failed: the server closed the connection\n",
        ),
        (
            "LDAP indefinite length",
            "ldap",
            Box::new(|mut c: Conn| {
                c.read_at_least(1, secs(2));
                c.send(&[0x30, 0x80, 0, 0]);
                c.hold(secs(2));
            }),
            vec![],
            "nc: starttls ldap failed: the server's reply is not an LDAP message\n",
        ),
        (
            "XMPP without starttls",
            "xmpp",
            Box::new(|mut c: Conn| {
                c.read_at_least(1, secs(2));
                c.send(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><stream:features><mechanisms/></stream:features>");
                c.hold(secs(2));
            }),
            vec![],
            "nc: starttls xmpp failed: the server does not offer STARTTLS\n",
        ),
    ];
    for (what, proto, script, extra, want) in cases {
        let s = net.server("127.0.0.1:0", 1, script);
        let p = s.port_str();
        let mut args = vec!["-c", "-T", "noverify", "--starttls", proto];
        args.extend(extra);
        args.extend(["127.0.0.1", &p]);
        let o = net.nc(&args).stdin_bytes(b"").run(LIMIT);
        assert_eq!(o.code(), Some(1), "{what}: {o}");
        assert_eq!(o.stdout, b"", "{what}");
        assert_eq!(o.stderr_str(), want, "{what}");
    }
}

#[test]
fn scan_reports_open_and_failed() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("starttls-scan");
    let ca = c.path("ca.pem");
    for proto in ["smtp", "postgres", "ldap"] {
        let ok = starttls_server(&net, &c, proto, How::Accept, Vec::new());
        let no = starttls_server(&net, &c, proto, How::Refuse, Vec::new());
        let o = net
            .nc(&[
                "-zvc",
                "--starttls",
                proto,
                "-R",
                &ca,
                "-w",
                "5",
                "127.0.0.1",
                &ok.port,
                &no.port,
            ])
            .run(LIMIT);
        let (okp, nop) = (ok.port.clone(), no.port.clone());
        ok.served();
        no.served();
        let reason = refusal(proto);
        let reason = reason.trim_start_matches("nc: ");
        let want = format!(
            "Connection to 127.0.0.1 {} port [tcp/*] succeeded!\nnc: connect to 127.0.0.1 port {} (tcp) failed: {reason}",
            okp, nop
        );
        assert_eq!(o.stderr_str(), want, "{proto}");
        assert_eq!(o.code(), Some(0), "{proto}: {o}");
    }
    // -vv: the refusing server's replies; --json: the error.
    let no = starttls_server(&net, &c, "pop3", How::Refuse, Vec::new());
    let o = net
        .nc(&[
            "-zvvc",
            "--json",
            "--starttls",
            "pop3",
            "-R",
            &ca,
            "-w",
            "5",
            "127.0.0.1",
            &no.port,
        ])
        .run(LIMIT);
    no.served();
    let err = o.stderr_str();
    assert!(
        err.contains("\tserver: +OK POP3 ready\n\tserver: -ERR TLS not available\n"),
        "{err}"
    );
    assert!(
        o.stdout_str().contains(
            "\"error\":\"starttls pop3 failed: the server answered \\\"-ERR TLS not available\\\"\""
        ),
        "{}",
        o.stdout_str()
    );
    assert_eq!(o.code(), Some(1), "{o}");
    // A server that never says a word: the port fails once -w is over,
    // with the preamble's reason.
    let silent = net.server("127.0.0.1:0", 1, |mut c: Conn| c.hold(secs(6)));
    let p = silent.port_str();
    let o = net
        .nc(&[
            "-zvc",
            "--starttls",
            "smtp",
            "-R",
            &ca,
            "-w",
            "1",
            "127.0.0.1",
            &p,
        ])
        .run(LIMIT);
    assert_eq!(
        o.stderr_str(),
        format!(
            "nc: connect to 127.0.0.1 port {p} (tcp) failed: starttls smtp failed: no answer within 1 s\n"
        )
    );
    assert_eq!(o.code(), Some(1), "{o}");
}

#[test]
fn option_checks() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--starttls", "smtp", "127.0.0.1", "1"],
            "nc: you must specify -c to use --starttls\n",
        ),
        (
            &["-c", "--starttls-name", "x", "127.0.0.1", "1"],
            "nc: you must specify --starttls to use --starttls-name\n",
        ),
        (
            &["-c", "--starttls", "http", "127.0.0.1", "1"],
            "nc: unsupported starttls protocol `http' (one of: smtp, lmtp, pop3, imap, ftp, xmpp, xmpp-server, irc, postgres, mysql, nntp, sieve, ldap)\n",
        ),
        (
            &["-lc", "--starttls", "smtp", "127.0.0.1", "1"],
            "nc: cannot use --starttls and -l\n",
        ),
        (
            &["-cu", "--starttls", "smtp", "127.0.0.1", "1"],
            "nc: cannot use -c and -u\n",
        ),
        (
            &[
                "-c",
                "--starttls",
                "smtp",
                "--starttls-name",
                "a b",
                "127.0.0.1",
                "1",
            ],
            "nc: invalid starttls name `a b'\n",
        ),
    ];
    for (args, want) in cases {
        let o = Cmd::ncrab(args).run(secs(10));
        assert_eq!(o.stderr_str(), *want, "{args:?}");
        assert_eq!(o.code(), Some(1), "{args:?}");
    }
}

/// openssl s_client completes its handshake against every scripted
/// server: the scripts speak the protocols as a real client expects.
#[test]
fn s_client_accepts_the_scripted_servers() {
    let Some(c) = certs() else { return };
    let Some(openssl) = tool("openssl", "openssl") else {
        return;
    };
    let net = Net::new("starttls-sclient");
    let ca = c.path("ca.pem");
    for proto in PROTOS {
        let s = starttls_server(&net, &c, proto, How::Accept, b"hello\n".to_vec());
        let connect = format!("127.0.0.1:{}", s.port);
        let o = net
            .wrap(Cmd::with_target(
                PathBuf::from(&openssl),
                "openssl",
                &[
                    "s_client",
                    "-starttls",
                    proto,
                    "-connect",
                    &connect,
                    "-CAfile",
                    &ca,
                    "-verify_return_error",
                ],
            ))
            .stdin(Input::Null)
            .run(LIMIT);
        s.served();
        let out = o.stdout_str();
        assert!(out.contains("Verify return code: 0 (ok)"), "{proto}: {o}");
    }
}
