//! Proxies (`-x`, `-X`, `-P`, docs/compatibility.md §7): scripted fake proxies
//! for every reply and every malformed or truncated reply, run against ncrab
//! and against nc.openbsd with the same expectations (stderr, exit status, and
//! the exact bytes the proxy received); then real proxies from Debian packages
//! (dante-server for SOCKS5/SOCKS4, ncat's and tinyproxy's HTTP CONNECT).
//!
//! Tests of ncrab's extensions (SOCKS5 username/password, SOCKS5 domain
//! replies, NCRAB_PROXY_PASSWORD) run against ncrab only, and check what
//! nc.openbsd does instead where that documents the difference.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one run may take.
const LIMIT: Duration = Duration::from_secs(15);

/// `{P}` in the arguments becomes the port.
fn with_port(args: &[&str], port: u16) -> Vec<String> {
    args.iter()
        .map(|a| a.replace("{P}", &port.to_string()))
        .collect()
}

/// What one run against a fake proxy must give.
struct Expect<'a> {
    code: i32,
    stdout: &'a [u8],
    stderr: &'a str,
    /// The bytes each proxy connection received, in order.
    received: &'a [&'a [u8]],
}

/// Runs `args` against a fresh scripted proxy with `bin`.
fn against(
    bin: &Path,
    scripts: &[Vec<Step>],
    args: &[&str],
    stdin: &[u8],
) -> (Outcome, Vec<Vec<u8>>) {
    let peer = Peer::start(scripts.to_vec());
    let args = with_port(args, peer.port());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = Cmd::as_nc(bin, &argv).stdin_bytes(stdin).run(LIMIT);
    (out, peer.received())
}

/// The same expectations for ncrab and nc.openbsd.
#[track_caller]
fn same_as_nc(scripts: Vec<Vec<Step>>, args: &[&str], stdin: &[u8], e: Expect<'_>) {
    for bin in ncrab_and_openbsd() {
        let (out, got) = against(&bin, &scripts, args, stdin);
        let what = format!("{} {}", bin_name(&bin), args.join(" "));
        out.assert(e.code, e.stdout, e.stderr.as_bytes());
        let want: Vec<Vec<u8>> = e.received.iter().map(|r| r.to_vec()).collect();
        assert!(
            got == want,
            "{what}: the proxy received\n  {}\nexpected\n  {}",
            got.iter().map(|g| escape(g)).collect::<Vec<_>>().join(", "),
            want.iter()
                .map(|g| escape(g))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn send(b: &[u8]) -> Step {
    Step::Send(b.to_vec())
}

// ---------------------------------------------------------------------------
// SOCKS5 (§7.2)
// ---------------------------------------------------------------------------

const GREETING: &[u8] = &[5, 1, 0];
/// The request for 10.0.0.1 port 80.
const REQ_V4: &[u8] = &[5, 1, 0, 1, 10, 0, 0, 1, 0, 80];

fn socks5_reply(code: u8) -> Vec<u8> {
    vec![5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

#[test]
fn socks5_every_reply_code() {
    let texts = [
        (1, "General SOCKS server failure"),
        (2, "Connection not allowed by ruleset"),
        (3, "Network unreachable"),
        (4, "Host unreachable"),
        (5, "Connection refused"),
        (6, "TTL expired"),
        (7, "Command not supported"),
        (8, "Address type not supported"),
        (9, "Unknown error"),
        (255, "Unknown error"),
    ];
    for (code, text) in texts {
        same_as_nc(
            vec![vec![
                Step::Read(3),
                send(&[5, 0]),
                Step::Read(10),
                Step::Send(socks5_reply(code)),
            ]],
            &["-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
            b"",
            Expect {
                code: 1,
                stdout: b"",
                stderr: &format!("nc: connection failed, SOCKSv5 error: {text}\n"),
                received: &[&[GREETING, REQ_V4].concat()],
            },
        );
    }
}

#[test]
fn socks5_method_refused() {
    same_as_nc(
        vec![vec![Step::Read(3), send(&[5, 0xFF])]],
        &["-v", "-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: authentication method negotiation failed\n",
            received: &[GREETING],
        },
    );
}

#[test]
fn socks5_truncated_replies() {
    let head_v4: &[u8] = &[5, 0, 0, 1];
    let head_v6: &[u8] = &[5, 0, 0, 4];
    let cases: Vec<(Vec<Step>, &str, Vec<u8>)> = vec![
        (
            vec![Step::Read(3), Step::Fin],
            "read failed (0/3): Broken pipe",
            GREETING.to_vec(),
        ),
        (
            vec![Step::Read(3), send(&[5]), Step::Fin],
            "read failed (1/3): Broken pipe",
            GREETING.to_vec(),
        ),
        (
            vec![
                Step::Read(3),
                send(&[5, 0]),
                Step::Read(10),
                send(&[5, 0]),
                Step::Fin,
            ],
            "read failed (2/4): Broken pipe",
            [GREETING, REQ_V4].concat(),
        ),
        (
            vec![
                Step::Read(3),
                send(&[5, 0]),
                Step::Read(10),
                send(head_v4),
                send(&[1, 2, 3]),
                Step::Fin,
            ],
            "read failed (3/6): Broken pipe",
            [GREETING, REQ_V4].concat(),
        ),
        (
            vec![
                Step::Read(3),
                send(&[5, 0]),
                Step::Read(10),
                send(head_v6),
                send(&[0; 17]),
                Step::Fin,
            ],
            "read failed (17/18): Broken pipe",
            [GREETING, REQ_V4].concat(),
        ),
        (
            vec![Step::Read(3), Step::Reset],
            "read failed (0/3): Connection reset by peer",
            GREETING.to_vec(),
        ),
    ];
    for (script, text, received) in cases {
        same_as_nc(
            vec![script],
            &["-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
            b"",
            Expect {
                code: 1,
                stdout: b"",
                stderr: &format!("nc: {text}\n"),
                received: &[&received],
            },
        );
    }
}

/// A reply split into single bytes, with the server's banner in the same
/// stream: the handshake consumes exactly its bytes, the rest is data.
#[test]
fn socks5_success_relays_and_keeps_the_banner() {
    let mut reply = vec![5, 0, 0, 4];
    reply.extend_from_slice(&[0; 18]);
    same_as_nc(
        vec![vec![
            Step::Read(3),
            Step::Trickle(vec![5, 0]),
            Step::Read(10),
            Step::Trickle(reply.clone()),
            send(b"banner\n"),
        ]],
        &["-N", "-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
        b"hello\n",
        Expect {
            code: 0,
            stdout: b"banner\n",
            stderr: "",
            received: &[&[GREETING, REQ_V4, b"hello\n"].concat()],
        },
    );
    // The reply and the banner in one segment.
    let mut all = vec![5, 0];
    all.extend_from_slice(&socks5_reply(0));
    all.extend_from_slice(b"banner\n");
    same_as_nc(
        vec![vec![Step::Read(3), Step::Send(all)]],
        &["-N", "-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
        b"",
        Expect {
            code: 0,
            stdout: b"banner\n",
            stderr: "",
            received: &[&[GREETING, REQ_V4].concat()],
        },
    );
}

#[test]
fn socks5_request_address_types() {
    let ok = |req_len: usize| {
        vec![
            Step::Read(3),
            send(&[5, 0]),
            Step::Read(req_len),
            Step::Send(socks5_reply(0)),
            Step::Fin,
        ]
    };
    // A name goes as a name (ATYP 3), unresolved.
    let mut dom = vec![5, 1, 0, 3, 12];
    dom.extend_from_slice(b"example.test");
    dom.extend_from_slice(&[0x1f, 0x90]);
    same_as_nc(
        vec![ok(dom.len())],
        &["-v", "-x", "127.0.0.1:{P}", "example.test", "8080"],
        b"",
        Expect {
            code: 0,
            stdout: b"",
            stderr: "Connection to example.test 8080 port [tcp/http-alt] succeeded!\n",
            received: &[&[GREETING, &dom].concat()],
        },
    );
    // IPv6 (ATYP 4); 127.1 is numeric for getaddrinfo (ATYP 1).
    let mut v6 = vec![5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8];
    v6.extend_from_slice(&[0; 11]);
    v6.extend_from_slice(&[5, 1, 0xbb]);
    same_as_nc(
        vec![ok(v6.len())],
        &["-x", "127.0.0.1:{P}", "2001:db8::5", "443"],
        b"",
        Expect {
            code: 0,
            stdout: b"",
            stderr: "",
            received: &[&[GREETING, &v6].concat()],
        },
    );
    let short = [5, 1, 0, 1, 127, 0, 0, 1, 0, 22];
    same_as_nc(
        vec![ok(short.len())],
        &["-v", "-x", "127.0.0.1:{P}", "127.1", "22"],
        b"",
        Expect {
            code: 0,
            stdout: b"",
            // M1 never shows (IP) through a proxy.
            stderr: "Connection to 127.1 22 port [tcp/ssh] succeeded!\n",
            received: &[&[GREETING, &short[..]].concat()],
        },
    );
}

#[test]
fn socks5_host_name_too_long() {
    let long = "h".repeat(256);
    same_as_nc(
        vec![vec![Step::Read(3), send(&[5, 0])]],
        &["-x", "127.0.0.1:{P}", &long, "80"],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: host name too long for SOCKS5\n",
            received: &[GREETING],
        },
    );
}

#[test]
fn socks5_unknown_address_type_in_reply() {
    same_as_nc(
        vec![vec![
            Step::Read(3),
            send(&[5, 0]),
            Step::Read(10),
            send(&[5, 0, 0, 9]),
        ]],
        &["-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: connection failed, unsupported address type\n",
            received: &[&[GREETING, REQ_V4].concat()],
        },
    );
}

/// Extension: a reply with a domain-name bound address is accepted
/// (nc.openbsd rejects it, §9.22).
#[test]
fn socks5_domain_name_reply_is_accepted() {
    let mut reply = vec![5, 0, 0, 3, 9];
    reply.extend_from_slice(b"proxy.lan");
    reply.extend_from_slice(&[0x1f, 0x90]);
    let script = vec![
        Step::Read(3),
        send(&[5, 0]),
        Step::Read(10),
        Step::Trickle(reply),
        send(b"data"),
        Step::Fin,
    ];
    let args = ["-x", "127.0.0.1:{P}", "10.0.0.1", "80"];
    let (out, got) = against(&ncrab(), std::slice::from_ref(&script), &args, b"");
    out.assert(0, b"data", b"");
    assert_eq!(got, vec![[GREETING, REQ_V4].concat()]);
    if let Some(nc) = tool(NC_OPENBSD, "netcat-openbsd") {
        let (out, _) = against(&nc, &[script], &args, b"");
        out.assert(1, b"", b"nc: connection failed, unsupported address type\n");
    }
}

/// Extension: with -P, SOCKS5 offers username/password (RFC 1929) too;
/// the password comes from NCRAB_PROXY_PASSWORD or the terminal.
#[test]
fn socks5_username_password_extension() {
    let auth: &[u8] = b"\x01\x03bob\x06s3cr3t";
    let args = ["-P", "bob", "-x", "127.0.0.1:{P}", "10.0.0.1", "80"];
    let ok = vec![
        Step::Read(4),
        send(&[5, 2]),
        Step::Read(auth.len()),
        send(&[1, 0]),
        Step::Read(10),
        Step::Send(socks5_reply(0)),
        send(b"in"),
        Step::Fin,
    ];
    let run = |script: Vec<Step>| {
        let peer = Peer::start(vec![script]);
        let a = with_port(&args, peer.port());
        let argv: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = Cmd::as_nc(&ncrab(), &argv)
            .env("NCRAB_PROXY_PASSWORD", "s3cr3t")
            .run(LIMIT);
        (out, peer.received())
    };
    let (out, got) = run(ok);
    out.assert(0, b"in", b"");
    assert_eq!(got, vec![[&[5, 2, 0, 2][..], auth, REQ_V4].concat()]);
    let (out, got) = run(vec![
        Step::Read(4),
        send(&[5, 2]),
        Step::Read(auth.len()),
        send(&[1, 1]),
    ]);
    out.assert(
        1,
        b"",
        b"nc: SOCKSv5 username/password authentication failed (status 1)\n",
    );
    assert_eq!(got, vec![[&[5, 2, 0, 2][..], auth].concat()]);
    assert!(!contains(&out.stderr, b"s3cr3t"));
    // The proxy may still choose "no authentication".
    let (out, got) = run(vec![
        Step::Read(4),
        send(&[5, 0]),
        Step::Read(10),
        Step::Send(socks5_reply(0)),
        Step::Fin,
    ]);
    out.assert(0, b"", b"");
    assert_eq!(got, vec![[&[5, 2, 0, 2][..], REQ_V4].concat()]);
    // nc.openbsd ignores -P for SOCKS5.
    if let Some(nc) = tool(NC_OPENBSD, "netcat-openbsd") {
        let (out, got) = against(&nc, &[vec![Step::Read(3), send(&[5, 0xFF])]], &args, b"");
        out.assert(1, b"", b"nc: authentication method negotiation failed\n");
        assert_eq!(got, vec![GREETING.to_vec()]);
    }
}

// ---------------------------------------------------------------------------
// SOCKS4 (§7.3)
// ---------------------------------------------------------------------------

#[test]
fn socks4_reply_codes_and_request() {
    let req: &[u8] = &[4, 1, 0, 80, 10, 0, 0, 1, 0];
    for (code, text) in [
        (91, "Request rejected or failed"),
        (92, "SOCKS server cannot connect to identd on the client"),
        (93, "Client program and identd report different user-ids"),
        (0, "Unknown error"),
        (94, "Unknown error"),
    ] {
        same_as_nc(
            vec![vec![Step::Read(9), send(&[0, code, 0, 0, 0, 0, 0, 0])]],
            &["-X", "4", "-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
            b"",
            Expect {
                code: 1,
                stdout: b"",
                stderr: &format!("nc: connection failed, SOCKSv4 error: {text}\n"),
                received: &[req],
            },
        );
    }
    same_as_nc(
        vec![vec![Step::Read(9), send(&[0, 90, 0]), Step::Fin]],
        &["-X", "4", "-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: read failed (3/8): Broken pipe\n",
            received: &[req],
        },
    );
}

#[test]
fn socks4_resolves_locally_ipv4_only() {
    // localhost is looked up locally even with -n (127.0.0.1 in the request).
    same_as_nc(
        vec![vec![
            Step::Read(9),
            send(&[0, 90, 0, 0, 0, 0, 0, 0]),
            send(b"ok"),
            Step::Fin,
        ]],
        &["-n", "-X", "4", "-x", "127.0.0.1:{P}", "localhost", "8080"],
        b"",
        Expect {
            code: 0,
            stdout: b"ok",
            stderr: "",
            received: &[&[4, 1, 0x1f, 0x90, 127, 0, 0, 1, 0]],
        },
    );
    // An IPv6 destination fails after the proxy connection is made.
    same_as_nc(
        vec![vec![]],
        &["-X", "4", "-x", "127.0.0.1:{P}", "::1", "80"],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: getaddrinfo(\"::1\", \"80\"): Address family for hostname not supported\n",
            received: &[b""],
        },
    );
}

// ---------------------------------------------------------------------------
// HTTP CONNECT (§7.4)
// ---------------------------------------------------------------------------

const CONNECT_V4: &[u8] = b"CONNECT 10.0.0.1:80 HTTP/1.0\r\n\r\n";

fn http(reply: &[u8]) -> Vec<Step> {
    vec![Step::ReadUntil(b"\r\n\r\n"), send(reply), Step::Fin]
}

fn http_case(reply: &[u8], code: i32, stdout: &[u8], stderr: &str) {
    same_as_nc(
        vec![http(reply)],
        &[
            "-v",
            "-X",
            "connect",
            "-x",
            "127.0.0.1:{P}",
            "10.0.0.1",
            "80",
        ],
        b"",
        Expect {
            code,
            stdout,
            stderr,
            received: &[CONNECT_V4],
        },
    );
}

#[test]
fn http_status_lines() {
    // §12 row 40.
    http_case(
        b"HTTP/1.1 403 Forbidden\r\n\r\n",
        1,
        b"",
        "nc: Proxy error: \"HTTP/1.1 403 Forbidden\"\n",
    );
    // No space needed after 200; LF alone ends a line.
    http_case(
        b"HTTP/1.1 200\n\n",
        0,
        b"",
        "Connection to 10.0.0.1 80 port [tcp/http] succeeded!\n",
    );
    http_case(
        b"HTTP/1.0 200 Connection established\r\nVia: x\r\nX-A: b\r\n\r\nbody bytes",
        0,
        b"body bytes",
        "Connection to 10.0.0.1 80 port [tcp/http] succeeded!\n",
    );
    http_case(
        b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        1,
        b"",
        "nc: Proxy error: \"HTTP/1.1 407 Proxy Authentication Required\"\n",
    );
    http_case(
        b"HTTP/2 200\r\n\r\n",
        1,
        b"",
        "nc: Proxy error: \"HTTP/2 200\"\n",
    );
    http_case(b"", 1, b"", "nc: proxy read: Broken pipe\n");
    http_case(
        b"HTTP/1.1 200 OK\r\nA: b\r\n",
        1,
        b"",
        "nc: proxy read: Broken pipe\n",
    );
    http_case(&[b'x'; 1100], 1, b"", "nc: proxy read too long\n");
    let mut long = vec![b'y'; 1023];
    long.extend_from_slice(b"\r\n");
    http_case(
        &long,
        1,
        b"",
        &format!("nc: Proxy error: \"{}\"\n", "y".repeat(1023)),
    );
}

#[test]
fn http_header_limit() {
    let mut reply = b"HTTP/1.0 200 OK\r\n".to_vec();
    for i in 0..63 {
        reply.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    let mut too_many = reply.clone();
    reply.extend_from_slice(b"\r\nafter");
    http_case(
        &reply,
        0,
        b"after",
        "Connection to 10.0.0.1 80 port [tcp/http] succeeded!\n",
    );
    too_many.extend_from_slice(b"X-last: v\r\n\r\n");
    http_case(&too_many, 1, b"", "nc: Too many proxy headers received\n");
}

#[test]
fn http_reply_trickled_byte_by_byte() {
    same_as_nc(
        vec![vec![
            Step::ReadUntil(b"\r\n\r\n"),
            Step::Trickle(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nxy".to_vec()),
            Step::Fin,
        ]],
        &["-X", "CONNECT", "-x", "127.0.0.1:{P}", "10.0.0.1", "80"],
        b"",
        Expect {
            code: 0,
            stdout: b"xy",
            stderr: "",
            received: &[CONNECT_V4],
        },
    );
}

#[test]
fn http_host_forms() {
    same_as_nc(
        vec![http(b"HTTP/1.0 200 OK\r\n\r\n")],
        &["-X", "connect", "-x", "127.0.0.1:{P}", "::1", "22"],
        b"",
        Expect {
            code: 0,
            stdout: b"",
            stderr: "",
            received: &[b"CONNECT [::1]:22 HTTP/1.0\r\n\r\n"],
        },
    );
    for bad in ["a b", "a\tb", "[x]", "x\r"] {
        same_as_nc(
            vec![vec![]],
            &["-X", "connect", "-x", "127.0.0.1:{P}", bad, "80"],
            b"",
            Expect {
                code: 1,
                stdout: b"",
                stderr: "nc: Invalid hostname\n",
                received: &[b""],
            },
        );
    }
    let long = "h".repeat(1003);
    same_as_nc(
        vec![vec![]],
        &["-X", "connect", "-x", "127.0.0.1:{P}", &long, "80"],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: hostname too long\n",
            received: &[b""],
        },
    );
}

const R407: &[u8] = b"HTTP/1.0 407 Proxy Authentication Required\r\n\r\n";
const R200: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";
/// `bob:s3cr3t` in base64 (§7.4).
const AUTH: &[u8] =
    b"CONNECT 10.0.0.1:80 HTTP/1.0\r\nProxy-Authorization: Basic Ym9iOnMzY3IzdA==\r\n\r\n";

#[test]
fn http_407_without_a_terminal() {
    same_as_nc(
        vec![http(R407), vec![Step::ReadUntil(b"\r\n")]],
        &[
            "-P",
            "bob",
            "-X",
            "connect",
            "-x",
            "127.0.0.1:{P}",
            "10.0.0.1",
            "80",
        ],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: Unable to read proxy passphrase\n",
            received: &[CONNECT_V4, b"CONNECT 10.0.0.1:80 HTTP/1.0\r\n"],
        },
    );
}

/// NCRAB_PROXY_PASSWORD answers every prompt (ncrab only).
#[test]
fn http_407_with_password_from_the_environment() {
    let args = [
        "-v",
        "-P",
        "bob",
        "-X",
        "connect",
        "-x",
        "127.0.0.1:{P}",
        "10.0.0.1",
        "80",
    ];
    let run = |scripts: Vec<Vec<Step>>| {
        let peer = Peer::start(scripts);
        let a = with_port(&args, peer.port());
        let argv: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = Cmd::as_nc(&ncrab(), &argv)
            .env("NCRAB_PROXY_PASSWORD", "s3cr3t")
            .run(LIMIT);
        (out, peer.received())
    };
    let (out, got) = run(vec![http(R407), http(R200)]);
    out.assert(
        0,
        b"",
        b"Connection to 10.0.0.1 80 port [tcp/http] succeeded!\n",
    );
    assert_eq!(got, vec![CONNECT_V4.to_vec(), AUTH.to_vec()]);
    let (out, got) = run(vec![http(R407), http(R407), http(R407), http(R407)]);
    out.assert(
        1,
        b"",
        b"Proxy authentication failed\nProxy authentication failed\nProxy authentication failed\nnc: Too many authentication failures\n",
    );
    assert_eq!(
        got,
        vec![
            CONNECT_V4.to_vec(),
            AUTH.to_vec(),
            AUTH.to_vec(),
            AUTH.to_vec()
        ]
    );
    assert!(!contains(&out.stderr, b"s3cr3t") && !contains(&out.stdout, b"s3cr3t"));
}

/// The password typed at the terminal, for ncrab and nc.openbsd alike.
#[test]
fn http_407_password_typed_at_the_terminal() {
    for bin in ncrab_and_openbsd() {
        for (rounds, scripts) in [
            (1, vec![http(R407), http(R200)]),
            (3, vec![http(R407), http(R407), http(R407), http(R407)]),
        ] {
            let Ok(mut pty) = Pty::open() else {
                skip_or_fail_in_ci("no pseudo-terminal available");
                return;
            };
            let peer = Peer::start(scripts);
            let a = with_port(
                &[
                    "-P",
                    "bob",
                    "-X",
                    "connect",
                    "-x",
                    "127.0.0.1:{P}",
                    "10.0.0.1",
                    "80",
                ],
                peer.port(),
            );
            let argv: Vec<&str> = a.iter().map(String::as_str).collect();
            let mut child = Cmd::as_nc(&bin, &argv).tty(&pty.slave).spawn();
            let prompt = b"Proxy password for bob@127.0.0.1: ";
            for round in 0..rounds {
                assert!(
                    pty.wait_for(prompt, Duration::from_secs(10)),
                    "{}: prompt {round} not shown; screen {} stderr {}",
                    bin_name(&bin),
                    escape(&pty.screen()),
                    escape(&child.stderr_now())
                );
                pty.type_text(b"s3cr3t\n");
            }
            let out = child.expect_exit(LIMIT);
            let screen = pty.screen();
            assert!(
                !contains(&screen, b"s3cr3t"),
                "the password was echoed: {}",
                escape(&screen)
            );
            let got = peer.received();
            if rounds == 1 {
                out.assert(0, b"", b"");
                assert_eq!(got, vec![CONNECT_V4.to_vec(), AUTH.to_vec()]);
            } else {
                out.assert(
                    1,
                    b"",
                    b"Proxy authentication failed\nProxy authentication failed\nProxy authentication failed\nnc: Too many authentication failures\n",
                );
                assert_eq!(got.len(), 4);
                assert_eq!(got[3], AUTH);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Reaching the proxy (§7.1)
// ---------------------------------------------------------------------------

#[test]
fn proxy_connect_failures() {
    let (_reserved, closed) = reserved_closed_port();
    let closed = closed.to_string();
    for bin in ncrab_and_openbsd() {
        let who = bin_name(&bin);
        let p = format!("127.0.0.1:{closed}");
        let out = Cmd::as_nc(&bin, &["-v", "-x", &p, "10.0.0.1", "80", "81"]).run(LIMIT);
        let line =
            format!("nc: connect to 127.0.0.1 port {closed} (tcp) failed: Connection refused\n");
        out.assert(1, b"", line.repeat(2).as_bytes());
        let out = Cmd::as_nc(&bin, &["-x", &p, "10.0.0.1", "80"]).run(LIMIT);
        out.assert(1, b"", b"");
        let out = Cmd::as_nc(&bin, &["-v", "-x", "127.0.0.1:abc", "10.0.0.1", "80"]).run(LIMIT);
        out.assert(
            1,
            b"",
            b"nc: getaddrinfo for host \"127.0.0.1\" port abc: Servname not supported for ai_socktype\n",
        );
        let out = Cmd::as_nc(&bin, &["-v", "-x", "127.0.0.1:", "10.0.0.1", "80"]).run(LIMIT);
        out.assert(
            1,
            b"",
            b"nc: connect to 127.0.0.1 port  (tcp) failed: Connection refused\n",
        );
        let out = Cmd::as_nc(&bin, &["-v", "-x", "localhost:1", "10.0.0.1", "80"]).run(LIMIT);
        assert!(
            out.code() == Some(1)
                && out
                    .stderr
                    .starts_with(b"nc: connect to localhost port 1 (tcp) failed: ")
                && !contains(&out.stderr, b"(127.0.0.1)"),
            "{who}: {}",
            escape(&out.stderr)
        );
    }
}

/// `-z` through a proxy: one handshake per port, each tunnel closed again.
#[test]
fn scan_through_the_proxy() {
    let ok = || {
        vec![
            Step::Read(3),
            send(&[5, 0]),
            Step::Read(10),
            Step::Send(socks5_reply(0)),
        ]
    };
    let refused = || {
        vec![
            Step::Read(3),
            send(&[5, 0]),
            Step::Read(10),
            Step::Send(socks5_reply(5)),
        ]
    };
    same_as_nc(
        vec![ok(), ok()],
        &["-zv", "-x", "127.0.0.1:{P}", "10.0.0.1", "22", "8080"],
        b"",
        Expect {
            code: 0,
            stdout: b"",
            stderr: "Connection to 10.0.0.1 22 port [tcp/ssh] succeeded!\nConnection to 10.0.0.1 8080 port [tcp/http-alt] succeeded!\n",
            received: &[
                &[GREETING, &[5, 1, 0, 1, 10, 0, 0, 1, 0, 22][..]].concat(),
                &[GREETING, &[5, 1, 0, 1, 10, 0, 0, 1, 0x1f, 0x90][..]].concat(),
            ],
        },
    );
    same_as_nc(
        vec![refused()],
        &["-zv", "-x", "127.0.0.1:{P}", "10.0.0.1", "22", "8080"],
        b"",
        Expect {
            code: 1,
            stdout: b"",
            stderr: "nc: connection failed, SOCKSv5 error: Connection refused\n",
            received: &[&[GREETING, &[5, 1, 0, 1, 10, 0, 0, 1, 0, 22][..]].concat()],
        },
    );
}

/// Replaces every run of digits after `"ms":` or a tab with `N`, so timed
/// lines compare exactly.
fn without_times(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let (head, tail) = rest.split_at(i);
        let timed = head.ends_with("\"ms\":") || head.ends_with('\t');
        out.push_str(head);
        let end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        out.push_str(if timed { "N" } else { &tail[..end] });
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Extension (docs/compatibility.md §A.3): `-vv` and `--json` for a scan
/// through a proxy, judged by the proxy's answer.
#[test]
fn scan_through_the_proxy_json_and_diagnoses() {
    if !is_ncrab() {
        return;
    }
    let reply = |code| {
        vec![
            Step::Read(3),
            send(&[5, 0]),
            Step::Read(10),
            Step::Send(socks5_reply(code)),
        ]
    };
    let (out, _) = against(
        &bin(),
        &[reply(0), reply(4)],
        &[
            "-zvv",
            "--json",
            "-x",
            "127.0.0.1:{P}",
            "10.0.0.1",
            "22",
            "8080",
        ],
        b"",
    );
    out.assert_code(1);
    assert_eq!(
        without_times(&out.stdout_str()),
        concat!(
            r#"{"host":"10.0.0.1","ip":null,"port":22,"proto":"tcp","service":"ssh","state":"open","errno":null,"error":null,"ms":N,"diagnosis":null,"banner":null}"#,
            "\n",
            r#"{"host":"10.0.0.1","ip":null,"port":8080,"proto":"tcp","service":"http-alt","state":"filtered","errno":"EHOSTUNREACH","error":"connection failed, SOCKSv5 error: Host unreachable","ms":N,"diagnosis":null,"banner":null}"#,
            "\n"
        )
    );
    assert_eq!(
        without_times(&out.stderr_str()),
        "Connection to 10.0.0.1 22 port [tcp/ssh] succeeded!\n\
         \tN ms: open: the proxy connected to the port\n\
         nc: connection failed, SOCKSv5 error: Host unreachable\n\
         \tN ms: no route or no answer: the proxy could not reach the destination; check the host and the firewalls beyond the proxy\n"
    );
    // A proxy that cannot be reached: an error object, and the scan goes on.
    let port = reserved_closed_port();
    let out = Cmd::nc(&[
        "-z".to_string(),
        "--json".to_string(),
        "-x".to_string(),
        format!("127.0.0.1:{}", port.1),
        "10.0.0.1".to_string(),
        "22".to_string(),
    ])
    .run(LIMIT);
    out.assert_code(1);
    assert_eq!(
        without_times(&out.stdout_str()),
        concat!(
            r#"{"host":"10.0.0.1","ip":null,"port":22,"proto":"tcp","service":"ssh","state":"error","errno":null,"error":"the proxy could not be reached","ms":N,"diagnosis":null,"banner":null}"#,
            "\n"
        )
    );
}

// ---------------------------------------------------------------------------
// Real proxies
// ---------------------------------------------------------------------------

/// A destination server: reads one line, answers, closes (so the end of
/// the session never depends on how a proxy forwards a half-close).
fn destination() -> Peer {
    Peer::start(vec![vec![
        Step::ReadUntil(b"\n"),
        send(b"hello from the server\n"),
        Step::Fin,
    ]])
}

/// Runs `args` ({D} = destination port) through a real proxy for each
/// binary: stdin reaches the server, the banner reaches stdout.
fn relay_through(args: &[&str]) {
    for bin in ncrab_and_openbsd() {
        let dest = destination();
        let a: Vec<String> = args
            .iter()
            .map(|s| s.replace("{D}", &dest.port().to_string()))
            .collect();
        let argv: Vec<&str> = a.iter().map(String::as_str).collect();
        let mut argv = argv;
        argv.insert(0, "-n"); // [tcp/*]: no service name for a random port
        let out = Cmd::as_nc(&bin, &argv)
            .stdin_bytes(b"hi there\n")
            .run(LIMIT);
        let who = format!("{} {}", bin_name(&bin), a.join(" "));
        let d = dest.port();
        out.assert(
            0,
            b"hello from the server\n",
            format!("Connection to 127.0.0.1 {d} port [tcp/*] succeeded!\n").as_bytes(),
        );
        assert_eq!(dest.received(), vec![b"hi there\n".to_vec()], "{who}");
    }
}

/// The same failing command gives the same stderr and status for both.
fn fails_alike(args: &[&str]) {
    let outs: Vec<(String, Outcome)> = ncrab_and_openbsd()
        .into_iter()
        .map(|b| (bin_name(&b), Cmd::as_nc(&b, args).run(LIMIT)))
        .collect();
    for (who, out) in &outs {
        assert_eq!(
            out.code(),
            Some(1),
            "{who} {}: {}",
            args.join(" "),
            escape(&out.stderr)
        );
    }
    if let [(_, a), (_, b)] = &outs[..] {
        assert_eq!(escape(&a.stderr), escape(&b.stderr), "{}", args.join(" "));
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Starts a real proxy, `prog ARGS`, in the background (stopped when the
/// Proc is dropped); the test fails if it does not listen on `port` soon.
fn start_proxy(prog: &Path, args: &[&str], port: u16, log: PathBuf) -> Proc {
    let mut p = Cmd::with_target(prog.to_path_buf(), &bin_name(prog), args)
        .stdout(OutputTo::File(log))
        .spawn();
    if !wait_tcp_listen(port, secs(10)) {
        let o = p.kill();
        panic!("{} did not start: {o}", bin_name(prog));
    }
    p
}

fn start_dante(dir: &TempDir) -> Option<(Proc, u16)> {
    let danted = tool("danted", "dante-server")?;
    let port = free_port();
    let users = if is_root() {
        "user.privileged: root\nuser.unprivileged: nobody\n"
    } else {
        ""
    };
    let conf = format!(
        "logoutput: {log}\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
         clientmethod: none\nsocksmethod: none\n{users}\
         client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}}\n\
         socks pass {{\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  protocol: tcp\n  command: connect\n}}\n\
         socks block {{\n  from: 0.0.0.0/0 to: 0.0.0.0/0\n}}\n",
        log = dir.join("danted.log").display()
    );
    let path = dir.join("danted.conf");
    std::fs::write(&path, conf).ok()?;
    let pid = dir.join("danted.pid");
    let d = start_proxy(
        &danted,
        &[
            "-f",
            &path.to_string_lossy(),
            "-p",
            &pid.to_string_lossy(),
            "-N",
            "1",
        ],
        port,
        dir.join("danted.out"),
    );
    Some((d, port))
}

#[test]
fn real_socks_proxy_dante() {
    let dir = TempDir::new("dante");
    let Some((_dante, port)) = start_dante(&dir) else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    relay_through(&["-v", "-x", &proxy, "127.0.0.1", "{D}"]);
    relay_through(&["-v", "-X", "5", "-x", &proxy, "127.0.0.1", "{D}"]);
    relay_through(&["-v", "-X", "4", "-x", &proxy, "127.0.0.1", "{D}"]);
    let (_reserved, closed) = reserved_closed_port();
    let closed = closed.to_string();
    fails_alike(&["-v", "-x", &proxy, "127.0.0.1", &closed]);
    fails_alike(&["-v", "-X", "4", "-x", &proxy, "127.0.0.1", &closed]);
    // Outside the allowed network: refused by the rule set.
    fails_alike(&["-v", "-x", &proxy, "10.255.255.1", "80"]);
    // A name is resolved by the proxy (SOCKS5) or locally (SOCKS4).
    fails_alike(&["-v", "-x", &proxy, "localhost", &closed]);
    fails_alike(&["-v", "-X", "4", "-x", &proxy, "localhost", &closed]);
}

#[test]
fn real_http_proxy_ncat() {
    let Some(ncat) = tool("ncat", "ncat") else {
        return;
    };
    let dir = TempDir::new("ncat");
    let port = free_port();
    let p = port.to_string();
    let _ncat = start_proxy(
        &ncat,
        &["-l", "127.0.0.1", &p, "--proxy-type", "http"],
        port,
        dir.join("ncat.log"),
    );
    let proxy = format!("127.0.0.1:{port}");
    relay_through(&["-v", "-X", "connect", "-x", &proxy, "127.0.0.1", "{D}"]);
    let (_reserved, closed) = reserved_closed_port();
    let closed = closed.to_string();
    fails_alike(&["-v", "-X", "connect", "-x", &proxy, "127.0.0.1", &closed]);
}

fn start_tinyproxy(dir: &TempDir, extra: &str) -> Option<(Proc, u16)> {
    let tp = tool("tinyproxy", "tinyproxy")?;
    let port = free_port();
    let conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\n\
         LogLevel Info\n{extra}"
    );
    let path = dir.join("tinyproxy.conf");
    std::fs::write(&path, conf).ok()?;
    let d = start_proxy(
        &tp,
        &["-d", "-c", &path.to_string_lossy()],
        port,
        dir.join("tinyproxy.log"),
    );
    Some((d, port))
}

#[test]
fn real_http_proxy_tinyproxy() {
    let dir = TempDir::new("tinyproxy");
    let Some((_tp, port)) = start_tinyproxy(&dir, "") else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    relay_through(&["-v", "-X", "connect", "-x", &proxy, "127.0.0.1", "{D}"]);
    let (_reserved, closed) = reserved_closed_port();
    let closed = closed.to_string();
    fails_alike(&["-v", "-X", "connect", "-x", &proxy, "127.0.0.1", &closed]);
}

/// tinyproxy with Basic authentication: the 407 flow for real.
#[test]
fn real_http_proxy_with_authentication() {
    let dir = TempDir::new("tinyproxy-auth");
    let Some((_tp, port)) = start_tinyproxy(&dir, "BasicAuth bob s3cr3t\n") else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    // NCRAB_PROXY_PASSWORD (ncrab).
    let dest = destination();
    let d = dest.port().to_string();
    let args = ["-P", "bob", "-X", "connect", "-x", &proxy, "127.0.0.1", &d];
    let out = Cmd::as_nc(&ncrab(), &args)
        .env("NCRAB_PROXY_PASSWORD", "s3cr3t")
        .stdin_bytes(b"through\n")
        .run(LIMIT);
    out.assert(0, b"hello from the server\n", b"");
    assert_eq!(dest.received(), vec![b"through\n".to_vec()]);
    // A wrong password: tinyproxy answers it with 401, which is just an
    // error status (only 407 asks again).
    let out = Cmd::as_nc(&ncrab(), &args)
        .env("NCRAB_PROXY_PASSWORD", "wrong")
        .run(LIMIT);
    assert!(
        out.code() == Some(1)
            && out.stderr.starts_with(b"nc: Proxy error: \"HTTP/1.")
            && !contains(&out.stderr, b"wrong"),
        "tinyproxy wrong password: {}",
        escape(&out.stderr)
    );
    // Typed at the terminal, for both.
    for bin in ncrab_and_openbsd() {
        let Ok(mut pty) = Pty::open() else {
            skip_or_fail_in_ci("no pseudo-terminal available");
            return;
        };
        let dest = destination();
        let d = dest.port().to_string();
        let args = ["-P", "bob", "-X", "connect", "-x", &proxy, "127.0.0.1", &d];
        let mut child = Cmd::as_nc(&bin, &args)
            .tty(&pty.slave)
            .stdin_bytes(b"typed\n")
            .spawn();
        let prompt = b"Proxy password for bob@127.0.0.1: ";
        assert!(
            pty.wait_for(prompt, Duration::from_secs(10)),
            "{}",
            bin_name(&bin)
        );
        pty.type_text(b"s3cr3t\n");
        let out = child.expect_exit(LIMIT);
        out.assert(0, b"hello from the server\n", b"");
        assert_eq!(dest.received(), vec![b"typed\n".to_vec()]);
    }
}
