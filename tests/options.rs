//! The remaining options (docs/compatibility.md §6.3): `-C` and `-t` on the
//! byte stream (departure 12), `-S` (TCP MD5 signatures, with a pseudo-terminal
//! for the key prompt), and the socket options of `-D -T -I -O -M -m`, checked
//! with strace against what nc.openbsd sets.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long one run may take.
const LIMIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// -C
// ---------------------------------------------------------------------------

/// §12 row 37 and the §6.3 examples: the sink receives CRLF line ends.
#[test]
fn crlf_line_endings() {
    for bin in ncrab_and_openbsd() {
        for (input, wire) in [
            (&b"a\nb\n"[..], &b"a\r\nb\r\n"[..]),
            (b"a\r\nb\n", b"a\r\nb\r\n"),
            (b"\n\n", b"\r\n\r\n"),
            (b"nolf", b"nolf"),
            (b"x\r\r\n", b"x\r\r\n"),
        ] {
            let sink = Peer::start(vec![vec![]]);
            let p = sink.port().to_string();
            let out = Cmd::as_nc(&bin, &["-N", "-C", "127.0.0.1", &p])
                .stdin_bytes(input)
                .run(LIMIT);
            out.assert(0, b"", b"");
            assert_eq!(
                escape(&sink.received()[0]),
                escape(wire),
                "{} {}",
                bin_name(&bin),
                escape(input)
            );
        }
    }
}

/// Received data is never changed.
#[test]
fn crlf_leaves_received_data_alone() {
    for bin in ncrab_and_openbsd() {
        let peer = Peer::start(vec![vec![Step::Send(b"a\nb\r\n\n".to_vec()), Step::Fin]]);
        let p = peer.port().to_string();
        let out = Cmd::as_nc(&bin, &["-C", "127.0.0.1", &p]).run(LIMIT);
        out.assert(0, b"a\nb\r\n\n", b"");
    }
}

/// Departure 12: a CR ending one read and the LF starting the next are an
/// existing CRLF (nc.openbsd adds a second CR).
#[test]
fn crlf_pair_split_across_reads() {
    let input = || Input::Slow(vec![(ms(0), b"a\r".to_vec()), (ms(300), b"\nb\n".to_vec())]);
    let sink = Peer::start(vec![vec![]]);
    let p = sink.port().to_string();
    let out = Cmd::as_nc(&ncrab(), &["-N", "-C", "127.0.0.1", &p])
        .stdin(input())
        .run(LIMIT);
    out.assert(0, b"", b"");
    assert_eq!(escape(&sink.received()[0]), escape(b"a\r\nb\r\n"));
    if let Some(nc) = tool(NC_OPENBSD, "netcat-openbsd") {
        let sink = Peer::start(vec![vec![]]);
        let p = sink.port().to_string();
        Cmd::as_nc(&nc, &["-N", "-C", "127.0.0.1", &p])
            .stdin(input())
            .run(LIMIT);
        assert_eq!(
            escape(&sink.received()[0]),
            escape(b"a\r\r\nb\r\n"),
            "nc.openbsd"
        );
    }
}

/// `-C` in listen mode, and with `-i` (one line per interval).
#[test]
fn crlf_listen_and_interval() {
    for bin in ncrab_and_openbsd() {
        let port = free_port();
        let mut server = Cmd::as_nc(&bin, &["-l", "-C", "127.0.0.1", &port.to_string()])
            .stdin_bytes(b"x\ny\n")
            .spawn();
        assert!(
            wait_tcp_listen(port, secs(10)),
            "{}: not listening",
            bin_name(&bin)
        );
        let mut got = Vec::new();
        if let Ok(mut c) = TcpStream::connect(format!("127.0.0.1:{port}")) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut buf = [0u8; 64];
            while got.len() < 6 && Instant::now() < deadline {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        }
        let out = server.expect_exit(LIMIT);
        assert_eq!(escape(&got), escape(b"x\r\ny\r\n"), "{}", bin_name(&bin));
        out.assert_code(0);
    }
    let sink = Peer::start(vec![vec![]]);
    let p = sink.port().to_string();
    let started = Instant::now();
    let out = Cmd::as_nc(&ncrab(), &["-N", "-C", "-i", "1", "127.0.0.1", &p])
        .stdin_bytes(b"a\nb\nc")
        .run(LIMIT);
    out.assert(0, b"", b"");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "-i 1 did not wait after each line"
    );
    assert_eq!(escape(&sink.received()[0]), escape(b"a\r\nb\r\nc"));
}

// ---------------------------------------------------------------------------
// -t
// ---------------------------------------------------------------------------

/// §6.3: the server's negotiation gets these replies; stdout gets the
/// server's bytes unchanged.
#[test]
fn telnet_replies() {
    let sent: &[u8] = &[
        0xFF, 0xFD, 0x01, 0xFF, 0xFB, 0x03, 0x41, 0xFF, 0xFE, 0x05, 0xFF, 0xFC, 0x06, 0xFF, 0xFA,
        0x07,
    ];
    let replies: &[u8] = &[
        0xFF, 0xFC, 0x01, 0xFF, 0xFE, 0x03, 0xFF, 0xFC, 0x05, 0xFF, 0xFE, 0x06,
    ];
    for bin in ncrab_and_openbsd() {
        let peer = Peer::start(vec![vec![
            Step::Send(sent.to_vec()),
            Step::Sleep(300),
            Step::Fin,
        ]]);
        let p = peer.port().to_string();
        let out = Cmd::as_nc(&bin, &["-t", "127.0.0.1", &p]).run(LIMIT);
        out.assert(0, sent, b"");
        assert_eq!(
            escape(&peer.received()[0]),
            escape(replies),
            "{}",
            bin_name(&bin)
        );
    }
}

/// Departure 12: a command split across reads is answered, once; the
/// replies go out even after stdin's EOF.
#[test]
fn telnet_command_split_across_reads() {
    let peer = Peer::start(vec![vec![
        Step::Trickle(vec![b'x', 0xFF, 0xFD, 0x18, b'y', 0xFF, 0xFF, 0xFB, 0x01]),
        Step::Sleep(300),
        Step::Fin,
    ]]);
    let p = peer.port().to_string();
    let out = Cmd::as_nc(&ncrab(), &["-t", "127.0.0.1", &p]).run(LIMIT);
    out.assert(
        0,
        &[b'x', 0xFF, 0xFD, 0x18, b'y', 0xFF, 0xFF, 0xFB, 0x01],
        b"",
    );
    // IAC IAC is an escaped data byte: the WILL after it is data too.
    assert_eq!(escape(&peer.received()[0]), escape(&[0xFF, 0xFC, 0x18]));
}

// ---------------------------------------------------------------------------
// -S
// ---------------------------------------------------------------------------

#[test]
fn md5sig_needs_a_terminal() {
    for bin in ncrab_and_openbsd() {
        let out = Cmd::as_nc(&bin, &["-S", "127.0.0.1", "1"]).run(LIMIT);
        out.assert(1, b"", b"nc: Unable to read TCP MD5SIG password\n");
        // The prompt comes while parsing, in option order.
        let out = Cmd::as_nc(&bin, &["-S", "-w", "x", "127.0.0.1", "1"]).run(LIMIT);
        out.assert(1, b"", b"nc: Unable to read TCP MD5SIG password\n");
        let out = Cmd::as_nc(&bin, &["-w", "x", "-S", "127.0.0.1", "1"]).run(LIMIT);
        out.assert(1, b"", b"nc: timeout invalid: x\n");
    }
}

/// Ctrl-C at a prompt: the terminal echoes again and ncrab dies by SIGINT
/// (departure 9), at the -S prompt (while parsing) and at a proxy prompt.
#[test]
fn interrupted_prompts_restore_the_terminal() {
    let peer = Peer::start(vec![vec![
        Step::ReadUntil(b"\r\n\r\n"),
        Step::Send(b"HTTP/1.0 407 Auth\r\n\r\n".to_vec()),
        Step::Fin,
        Step::Sleep(200),
    ]]);
    let proxy = format!("127.0.0.1:{}", peer.port());
    let cases: [(Vec<&str>, &[u8]); 2] = [
        (vec!["-S", "127.0.0.1", "1"], b"TCP MD5SIG password: "),
        (
            vec!["-P", "bob", "-X", "connect", "-x", &proxy, "10.0.0.1", "80"],
            b"Proxy password for bob@127.0.0.1: ",
        ),
    ];
    for (args, prompt) in cases {
        let Ok(mut pty) = Pty::open() else {
            skip_or_fail_in_ci("no pseudo-terminal available");
            return;
        };
        let mut child = Cmd::as_nc(&ncrab(), &args).tty(&pty.slave).spawn();
        assert!(
            pty.wait_for(prompt, Duration::from_secs(10)),
            "no prompt: {}",
            escape(&child.stderr_now())
        );
        assert_eq!(pty.echo_on(), Some(false), "echo is off at the prompt");
        child.signal(libc::SIGINT);
        let out = child.expect_exit(LIMIT);
        assert_eq!(out.signal(), Some(libc::SIGINT), "{args:?}: {out}");
        assert_eq!(pty.echo_on(), Some(true), "{args:?}: echo not restored");
    }
    drop(peer.received());
}

/// Linux's struct tcp_md5sig for an IPv4 peer.
fn md5sig_struct(peer: [u8; 4], key: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 216];
    v[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    v[4..8].copy_from_slice(&peer);
    v[130..132].copy_from_slice(&(key.len() as u16).to_ne_bytes());
    v[136..136 + key.len()].copy_from_slice(key);
    v
}

/// A listener that only accepts segments signed with `key` from 127.0.0.1,
/// or None when the kernel has no TCP MD5 support.
fn md5_listener(key: &[u8]) -> Option<TcpListener> {
    let l = TcpListener::bind("127.0.0.1:0").ok()?;
    let sig = md5sig_struct([127, 0, 0, 1], key);
    // SAFETY: a valid buffer of the kernel's struct size on our socket.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&l),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            sig.as_ptr().cast(),
            sig.len() as libc::socklen_t,
        )
    };
    (rc == 0).then_some(l)
}

/// The key typed at the prompt signs the connection: the right key gets
/// through, a wrong one is never answered (-w 1 then times out).
#[test]
fn md5sig_signs_the_connection() {
    for bin in ncrab_and_openbsd() {
        for (typed, ok) in [(&b"sekrit"[..], true), (b"wrong", false)] {
            let Some(l) = md5_listener(b"sekrit") else {
                skip_or_fail_in_ci(
                    "the kernel has no TCP MD5 signature support (CONFIG_TCP_MD5SIG)",
                );
                return;
            };
            let Ok(mut pty) = Pty::open() else {
                skip_or_fail_in_ci("no pseudo-terminal available");
                return;
            };
            let p = l.local_addr().map(|a| a.port()).unwrap_or(0).to_string();
            // A wrong key never completes a handshake: no peer to wait for.
            let (peer, _held) = if ok {
                (
                    Some(Peer::start_on(
                        l,
                        vec![vec![Step::Send(b"signed\n".to_vec()), Step::Fin]],
                    )),
                    None,
                )
            } else {
                (None, Some(l))
            };
            let mut child = Cmd::as_nc(&bin, &["-v", "-n", "-w", "1", "-S", "127.0.0.1", &p])
                .tty(&pty.slave)
                .spawn();
            assert!(
                pty.wait_for(b"TCP MD5SIG password: ", Duration::from_secs(10)),
                "{}: no prompt",
                bin_name(&bin)
            );
            pty.type_text(typed);
            pty.type_text(b"\n");
            let out = child.expect_exit(LIMIT);
            assert!(!contains(&pty.screen(), typed), "the key was echoed");
            if ok {
                out.assert(
                    0,
                    b"signed\n",
                    format!("Connection to 127.0.0.1 {p} port [tcp/*] succeeded!\n").as_bytes(),
                );
                drop(peer.map(Peer::received));
            } else {
                out.assert(
                    1,
                    b"",
                    format!(
                        "nc: connect to 127.0.0.1 port {p} (tcp) timed out: Operation now in progress\n"
                    )
                    .as_bytes(),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Socket options, as strace sees them
// ---------------------------------------------------------------------------

/// `bin ARGS` under strace, which logs its setsockopt calls to `log`; None
/// (after a skip) when strace is not installed.
fn under_strace(bin: &Path, args: &[&str], log: &Path) -> Option<Cmd> {
    let strace = tool("strace", "strace")?;
    let (strace, log) = (strace.to_string_lossy(), log.to_string_lossy());
    let wrapper = [
        &*strace,
        "-f",
        "-qq",
        "-e",
        "trace=setsockopt",
        "-o",
        &*log,
        "-a0",
        "{}",
    ];
    Some(Cmd::as_nc(bin, args).under(&wrapper))
}

/// The (level, option, value) of each setsockopt call in an strace log,
/// less ncrab's error-queue options (IP_RECVERR, IPV6_RECVERR: set for the
/// `-vv`/`--json` diagnoses on every connecting socket, and cleared before
/// a session relays; see [`recverr_calls`]).
fn setsockopt_calls(log: &Path) -> Vec<String> {
    all_setsockopt_calls(log)
        .into_iter()
        .filter(|c| !c.contains("_RECVERR,"))
        .collect()
}

/// ncrab's error-queue options in an strace log.
fn recverr_calls(log: &Path) -> Vec<String> {
    all_setsockopt_calls(log)
        .into_iter()
        .filter(|c| c.contains("_RECVERR,"))
        .collect()
}

fn all_setsockopt_calls(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let call = &l[l.find("setsockopt(")? + "setsockopt(".len()..];
            let mut parts = call.splitn(2, ", ");
            parts.next()?; // the fd
            let rest = parts.next()?;
            // LEVEL, NAME, VALUE, LEN) = RET
            let end = rest.rfind(", ")?;
            Some(rest[..end].to_string())
        })
        .collect()
}

/// The (level, option, value) of every setsockopt a run makes.
fn setsockopts(bin: &Path, args: &[&str], dir: &TempDir) -> Option<Vec<String>> {
    let log = dir.join(&format!("strace-{}.txt", bin_name(bin)));
    under_strace(bin, args, &log)?.run(LIMIT);
    Some(setsockopt_calls(&log))
}

/// One client run with every numeric option: ncrab sets exactly what
/// nc.openbsd sets, in the same order.
#[test]
fn socket_options_match_nc() {
    let dir = TempDir::new("strace");
    let l4 = TcpListener::bind("127.0.0.1:0").expect("listener");
    let p4 = l4.local_addr().map(|a| a.port()).unwrap_or(0).to_string();
    let l6 = TcpListener::bind("[::1]:0").ok();
    let opts = ["-D", "-I", "65536", "-O", "32768", "-M", "7", "-m", "3"];
    let mut cases: Vec<(Vec<&str>, Vec<&str>)> = vec![(
        [&opts[..], &["-z", "-T", "lowdelay", "127.0.0.1", &p4]].concat(),
        vec![
            "SOL_SOCKET, SO_DEBUG, [1]",
            "SOL_IP, IP_TOS, [16]",
            "SOL_SOCKET, SO_RCVBUF, [65536]",
            "SOL_SOCKET, SO_SNDBUF, [32768]",
            "SOL_IP, IP_TTL, [7]",
            "SOL_IP, IP_MINTTL, [3]",
        ],
    )];
    let p6 = l6
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port().to_string());
    if let Some(p6) = &p6 {
        cases.push((
            [&opts[..], &["-z", "-6", "-T", "af41", "::1", p6.as_str()]].concat(),
            vec![
                "SOL_SOCKET, SO_DEBUG, [1]",
                "SOL_IPV6, IPV6_TCLASS, [136]",
                "SOL_SOCKET, SO_RCVBUF, [65536]",
                "SOL_SOCKET, SO_SNDBUF, [32768]",
                "SOL_IPV6, IPV6_UNICAST_HOPS, [7]",
                "SOL_IPV6, IPV6_MINHOPCOUNT, [3]",
            ],
        ));
    }
    for (args, want) in &cases {
        for bin in ncrab_and_openbsd() {
            let Some(calls) = setsockopts(&bin, args, &dir) else {
                return;
            };
            assert_eq!(calls, *want, "{} {}", bin_name(&bin), args.join(" "));
        }
    }
    drop((l4, l6));
}

/// The user's options come before ncrab's own error-queue options, so that
/// strace shows nc's sequence from the socket's first setsockopt: Debian's
/// `08-setsockopt` check takes the first `SOL_IP` call of `-M 123` to be
/// `IP_TTL` (docs/compatibility.md §13). Likewise -m, -T and IPv6.
#[test]
fn users_options_come_before_the_error_queue() {
    let dir = TempDir::new("strace-o");
    let l4 = TcpListener::bind("127.0.0.1:0").expect("listener");
    let p4 = l4.local_addr().map(|a| a.port()).unwrap_or(0).to_string();
    let l6 = TcpListener::bind("[::1]:0").ok();
    let p6 = l6
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port().to_string());
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-z", "-M", "123", "127.0.0.1", &p4],
            "SOL_IP, IP_TTL, [123]",
        ),
        (
            vec!["-z", "-m", "5", "127.0.0.1", &p4],
            "SOL_IP, IP_MINTTL, [5]",
        ),
        (
            vec!["-z", "-T", "lowdelay", "127.0.0.1", &p4],
            "SOL_IP, IP_TOS, [16]",
        ),
    ];
    if let Some(p6) = &p6 {
        cases.push((
            vec!["-z", "-6", "-M", "123", "::1", p6.as_str()],
            "SOL_IPV6, IPV6_UNICAST_HOPS, [123]",
        ));
        cases.push((
            vec!["-z", "-6", "-T", "af41", "::1", p6.as_str()],
            "SOL_IPV6, IPV6_TCLASS, [136]",
        ));
    }
    let ncrab = ncrab();
    for (args, first) in &cases {
        let log = dir.join("strace-order.txt");
        let Some(cmd) = under_strace(&ncrab, args, &log) else {
            return;
        };
        cmd.run(LIMIT);
        let calls = all_setsockopt_calls(&log);
        assert_eq!(
            calls.first().map(String::as_str),
            Some(*first),
            "{args:?}: {calls:?}"
        );
        // ncrab's own options follow, and are there (the diagnoses need them).
        assert!(
            calls[1..].iter().all(|c| c.contains("_RECVERR,")) && calls.len() > 1,
            "{args:?}: {calls:?}"
        );
    }
    drop((l4, l6));
}

/// A listener sets the same options (after SO_REUSEADDR/SO_REUSEPORT).
#[test]
fn listener_socket_options_match_nc() {
    let dir = TempDir::new("strace-l");
    for bin in ncrab_and_openbsd() {
        let port = free_port();
        let log = dir.join(&format!("l-{}.txt", bin_name(&bin)));
        let args = [
            "-l",
            "-I",
            "4096",
            "-T",
            "0x20",
            "127.0.0.1",
            &port.to_string(),
        ];
        let Some(cmd) = under_strace(&bin, &args, &log) else {
            return;
        };
        let mut server = cmd.spawn();
        assert!(
            wait_tcp_listen(port, secs(10)),
            "{}: not listening",
            bin_name(&bin)
        );
        // One client that closes at once ends the listener.
        drop(TcpStream::connect(format!("127.0.0.1:{port}")));
        server.expect_exit(LIMIT).assert_code(0);
        let calls = setsockopt_calls(&log);
        assert_eq!(
            calls,
            [
                "SOL_SOCKET, SO_REUSEADDR, [1]",
                "SOL_SOCKET, SO_REUSEPORT, [1]",
                "SOL_IP, IP_TOS, [32]",
                "SOL_SOCKET, SO_RCVBUF, [4096]"
            ],
            "{}",
            bin_name(&bin)
        );
    }
}

/// Every -T keyword and the numeric forms reach IP_TOS with nc's values.
#[test]
fn tos_keywords_and_numbers() {
    let dir = TempDir::new("strace-t");
    let l = TcpListener::bind("127.0.0.1:0").expect("listener");
    let p = l.local_addr().map(|a| a.port()).unwrap_or(0).to_string();
    let table: &[(&str, u8)] = &[
        ("af11", 0x28),
        ("af12", 0x30),
        ("af13", 0x38),
        ("af21", 0x48),
        ("af22", 0x50),
        ("af23", 0x58),
        ("af31", 0x68),
        ("af32", 0x70),
        ("af33", 0x78),
        ("af41", 0x88),
        ("af42", 0x90),
        ("af43", 0x98),
        ("critical", 0xa0),
        ("cs0", 0x00),
        ("cs1", 0x20),
        ("cs2", 0x40),
        ("cs3", 0x60),
        ("cs4", 0x80),
        ("cs5", 0xa0),
        ("cs6", 0xc0),
        ("cs7", 0xe0),
        ("ef", 0xb8),
        ("inetcontrol", 0xc0),
        ("lowcost", 0x02),
        ("lowdelay", 0x10),
        ("netcontrol", 0xe0),
        ("reliability", 0x04),
        ("throughput", 0x08),
        ("0x10", 16),
        ("0xzz", 0),
        ("0x", 0),
        ("255", 255),
        ("0", 0),
    ];
    let ncrab = ncrab();
    for (kw, value) in table {
        let Some(calls) = setsockopts(&ncrab, &["-z", "-T", kw, "127.0.0.1", &p], &dir) else {
            return;
        };
        assert_eq!(calls, [format!("SOL_IP, IP_TOS, [{value}]")], "-T {kw}");
    }
    for bin in ncrab_and_openbsd() {
        for bad in ["foo", "256", "0x100", "LOWDELAY"] {
            let out = Cmd::as_nc(&bin, &["-z", "-T", bad, "127.0.0.1", &p]).run(LIMIT);
            out.assert(1, b"", format!("nc: illegal tos value {bad}\n").as_bytes());
        }
        let out = Cmd::as_nc(&bin, &["-V", "1", "127.0.0.1", &p]).run(LIMIT);
        out.assert(
            1,
            b"",
            b"nc: no alternate routing table support available\n",
        );
    }
    drop(l);
}

/// -I and -O in a data session (not only in a scan).
#[test]
fn buffer_sizes_in_a_session() {
    let l = TcpListener::bind("127.0.0.1:0").expect("listener");
    let p = l.local_addr().map(|a| a.port()).unwrap_or(0).to_string();
    let sink = std::thread::spawn(move || {
        let _ = l.set_nonblocking(false);
        if let Ok((mut c, _)) = l.accept() {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let _ = c.read_to_end(&mut buf);
            let _ = c.write_all(b"");
        }
    });
    let dir = TempDir::new("strace-b");
    if let Some(calls) = setsockopts(
        &ncrab(),
        &["-N", "-I", "8192", "-O", "16384", "127.0.0.1", &p],
        &dir,
    ) {
        assert_eq!(
            calls,
            [
                "SOL_SOCKET, SO_RCVBUF, [8192]",
                "SOL_SOCKET, SO_SNDBUF, [16384]"
            ]
        );
        // The error queue served the connect; the relay runs without it,
        // as nc's does (an ICMP error stays a soft error).
        let log = dir.join(&format!("strace-{}.txt", bin_name(&ncrab())));
        assert_eq!(
            recverr_calls(&log),
            ["SOL_IP, IP_RECVERR, [1]", "SOL_IP, IP_RECVERR, [0]"]
        );
    }
    let _ = sink.join();
}
