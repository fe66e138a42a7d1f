//! The remaining options (B §6.3): `-C` and `-t` on the byte stream
//! (departure 12), `-S` (TCP MD5 signatures, with a pseudo-terminal for the
//! key prompt), and the socket options of `-D -T -I -O -M -m`, checked with
//! strace against what nc.openbsd sets.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Peer, Pty, Run, Step, contains, show};

fn both() -> Vec<PathBuf> {
    let mut v = vec![support::ncrab()];
    if let Some(p) = support::tool(support::NC_OPENBSD, "netcat-openbsd") {
        v.push(p);
    }
    v
}

fn name(bin: &Path) -> String {
    bin.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// -C
// ---------------------------------------------------------------------------

/// B §12 row 37 and the §6.3 examples: the sink receives CRLF line ends.
#[test]
fn crlf_line_endings() {
    for bin in both() {
        for (input, wire) in [
            (&b"a\nb\n"[..], &b"a\r\nb\r\n"[..]),
            (b"a\r\nb\n", b"a\r\nb\r\n"),
            (b"\n\n", b"\r\n\r\n"),
            (b"nolf", b"nolf"),
            (b"x\r\r\n", b"x\r\r\n"),
        ] {
            let sink = Peer::start(vec![vec![]]);
            let p = sink.port().to_string();
            let out = Run::new(&bin, &["-N", "-C", "127.0.0.1", &p])
                .stdin(input)
                .run();
            out.check(&name(&bin), 0, b"", b"");
            assert_eq!(
                show(&sink.received()[0]),
                show(wire),
                "{} {}",
                name(&bin),
                show(input)
            );
        }
    }
}

/// Received data is never changed.
#[test]
fn crlf_leaves_received_data_alone() {
    for bin in both() {
        let peer = Peer::start(vec![vec![Step::Send(b"a\nb\r\n\n".to_vec()), Step::Fin]]);
        let p = peer.port().to_string();
        let out = Run::new(&bin, &["-C", "127.0.0.1", &p]).run();
        out.check(&name(&bin), 0, b"a\nb\r\n\n", b"");
    }
}

/// Departure 12: a CR ending one read and the LF starting the next are an
/// existing CRLF (nc.openbsd adds a second CR).
#[test]
fn crlf_pair_split_across_reads() {
    let input: &[(u64, &[u8])] = &[(0, b"a\r"), (300, b"\nb\n")];
    let sink = Peer::start(vec![vec![]]);
    let p = sink.port().to_string();
    let out = Run::new(&support::ncrab(), &["-N", "-C", "127.0.0.1", &p])
        .stdin_slow(input)
        .run();
    out.check("ncrab", 0, b"", b"");
    assert_eq!(show(&sink.received()[0]), show(b"a\r\nb\r\n"));
    if let Some(nc) = support::tool(support::NC_OPENBSD, "netcat-openbsd") {
        let sink = Peer::start(vec![vec![]]);
        let p = sink.port().to_string();
        Run::new(&nc, &["-N", "-C", "127.0.0.1", &p])
            .stdin_slow(input)
            .run();
        assert_eq!(
            show(&sink.received()[0]),
            show(b"a\r\r\nb\r\n"),
            "nc.openbsd"
        );
    }
}

/// `-C` in listen mode, and with `-i` (one line per interval).
#[test]
fn crlf_listen_and_interval() {
    for bin in both() {
        let port = support::free_port().to_string();
        let server = Run::new(&bin, &["-l", "-C", "127.0.0.1", &port])
            .stdin(b"x\ny\n")
            .spawn();
        assert!(
            support::wait_listening_once(&port),
            "{}: not listening",
            name(&bin)
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
        let out = server.wait();
        assert_eq!(show(&got), show(b"x\r\ny\r\n"), "{}", name(&bin));
        assert_eq!(out.code, Some(0), "{}", name(&bin));
    }
    let sink = Peer::start(vec![vec![]]);
    let p = sink.port().to_string();
    let started = Instant::now();
    let out = Run::new(&support::ncrab(), &["-N", "-C", "-i", "1", "127.0.0.1", &p])
        .stdin(b"a\nb\nc")
        .run();
    out.check("-C -i 1", 0, b"", b"");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "-i 1 did not wait after each line"
    );
    assert_eq!(show(&sink.received()[0]), show(b"a\r\nb\r\nc"));
}

// ---------------------------------------------------------------------------
// -t
// ---------------------------------------------------------------------------

/// B §6.3: the server's negotiation gets these replies; stdout gets the
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
    for bin in both() {
        let peer = Peer::start(vec![vec![
            Step::Send(sent.to_vec()),
            Step::Sleep(300),
            Step::Fin,
        ]]);
        let p = peer.port().to_string();
        let out = Run::new(&bin, &["-t", "127.0.0.1", &p]).run();
        out.check(&name(&bin), 0, sent, b"");
        assert_eq!(show(&peer.received()[0]), show(replies), "{}", name(&bin));
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
    let out = Run::new(&support::ncrab(), &["-t", "127.0.0.1", &p]).run();
    out.check(
        "ncrab -t",
        0,
        &[b'x', 0xFF, 0xFD, 0x18, b'y', 0xFF, 0xFF, 0xFB, 0x01],
        b"",
    );
    // IAC IAC is an escaped data byte: the WILL after it is data too.
    assert_eq!(show(&peer.received()[0]), show(&[0xFF, 0xFC, 0x18]));
}

// ---------------------------------------------------------------------------
// -S
// ---------------------------------------------------------------------------

#[test]
fn md5sig_needs_a_terminal() {
    for bin in both() {
        let out = Run::new(&bin, &["-S", "127.0.0.1", "1"]).run();
        out.check(
            &name(&bin),
            1,
            b"",
            b"nc: Unable to read TCP MD5SIG password\n",
        );
        // The prompt comes while parsing, in option order.
        let out = Run::new(&bin, &["-S", "-w", "x", "127.0.0.1", "1"]).run();
        out.check(
            &name(&bin),
            1,
            b"",
            b"nc: Unable to read TCP MD5SIG password\n",
        );
        let out = Run::new(&bin, &["-w", "x", "-S", "127.0.0.1", "1"]).run();
        out.check(&name(&bin), 1, b"", b"nc: timeout invalid: x\n");
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
            support::skip("no pseudo-terminal available");
            return;
        };
        let child = Run::new(&support::ncrab(), &args).tty(&pty.slave).spawn();
        assert!(
            pty.wait_for(prompt, Duration::from_secs(10)),
            "no prompt: {}",
            show(&child.stderr_now())
        );
        assert_eq!(pty.echo_on(), Some(false), "echo is off at the prompt");
        // SAFETY: signalling the child we started, by its PID.
        unsafe { libc::kill(child.pid(), libc::SIGINT) };
        let out = child.wait();
        assert_eq!(out.signal, Some(libc::SIGINT), "{args:?}: {out:?}");
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
    for bin in both() {
        for (typed, ok) in [(&b"sekrit"[..], true), (b"wrong", false)] {
            let Some(l) = md5_listener(b"sekrit") else {
                support::skip("the kernel has no TCP MD5 signature support (CONFIG_TCP_MD5SIG)");
                return;
            };
            let Ok(mut pty) = Pty::open() else {
                support::skip("no pseudo-terminal available");
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
            let child = Run::new(&bin, &["-v", "-n", "-w", "1", "-S", "127.0.0.1", &p])
                .tty(&pty.slave)
                .spawn();
            assert!(
                pty.wait_for(b"TCP MD5SIG password: ", Duration::from_secs(10)),
                "{}: no prompt",
                name(&bin)
            );
            pty.type_text(typed);
            pty.type_text(b"\n");
            let out = child.wait();
            assert!(!contains(&pty.screen(), typed), "the key was echoed");
            if ok {
                out.check(
                    &name(&bin),
                    0,
                    b"signed\n",
                    format!("Connection to 127.0.0.1 {p} port [tcp/*] succeeded!\n").as_bytes(),
                );
                drop(peer.map(Peer::received));
            } else {
                out.check(
                    &name(&bin),
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

/// The (level, option, value) of every setsockopt a run makes.
fn setsockopts(bin: &Path, args: &[&str], dir: &support::TempDir) -> Option<Vec<String>> {
    let strace = support::tool("strace", "strace")?;
    let log = dir.join(&format!("strace-{}.txt", name(bin)));
    let log_s = log.to_string_lossy().into_owned();
    let mut wrapper = vec![
        strace.to_string_lossy().into_owned(),
        "-f".into(),
        "-qq".into(),
        "-e".into(),
        "trace=setsockopt".into(),
        "-o".into(),
        log_s,
        "-a0".into(),
        "{}".into(),
    ];
    wrapper.extend(args.iter().map(|s| s.to_string()));
    let w: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let out = Run::new(bin, &[]).under(&w).run();
    assert!(!out.timed_out, "{} under strace did not finish", name(bin));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    Some(
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
            .collect(),
    )
}

/// One client run with every numeric option: ncrab sets exactly what
/// nc.openbsd sets, in the same order.
#[test]
fn socket_options_match_nc() {
    let dir = support::TempDir::new("strace");
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
        for bin in both() {
            let Some(calls) = setsockopts(&bin, args, &dir) else {
                return;
            };
            assert_eq!(calls, *want, "{} {}", name(&bin), args.join(" "));
        }
    }
    drop((l4, l6));
}

/// A listener sets the same options (after SO_REUSEADDR/SO_REUSEPORT).
#[test]
fn listener_socket_options_match_nc() {
    let dir = support::TempDir::new("strace-l");
    for bin in both() {
        let port = support::free_port().to_string();
        let Some(strace) = support::tool("strace", "strace") else {
            return;
        };
        let log = dir.join(&format!("l-{}.txt", name(&bin)));
        let log_s = log.to_string_lossy().into_owned();
        let w = [
            strace.to_string_lossy().into_owned(),
            "-f".into(),
            "-qq".into(),
            "-e".into(),
            "trace=setsockopt".into(),
            "-o".into(),
            log_s,
            "{}".into(),
            "-l".into(),
            "-I".into(),
            "4096".into(),
            "-T".into(),
            "0x20".into(),
            "127.0.0.1".into(),
            port.clone(),
        ];
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        let server = Run::new(&bin, &[]).under(&w).spawn();
        assert!(
            support::wait_listening_once(&port),
            "{}: not listening",
            name(&bin)
        );
        // One client that closes at once ends the listener.
        drop(TcpStream::connect(format!("127.0.0.1:{port}")));
        let out = server.wait();
        assert_eq!(out.code, Some(0), "{}", name(&bin));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let calls: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once("setsockopt(").map(|(_, c)| c))
            .filter_map(|c| c.split_once(", ").map(|(_, r)| r))
            .filter_map(|r| r.rsplit_once(", ").map(|(a, _)| a))
            .collect();
        assert_eq!(
            calls,
            [
                "SOL_SOCKET, SO_REUSEADDR, [1]",
                "SOL_SOCKET, SO_REUSEPORT, [1]",
                "SOL_IP, IP_TOS, [32]",
                "SOL_SOCKET, SO_RCVBUF, [4096]"
            ],
            "{}",
            name(&bin)
        );
    }
}

/// Every -T keyword and the numeric forms reach IP_TOS with nc's values.
#[test]
fn tos_keywords_and_numbers() {
    let dir = support::TempDir::new("strace-t");
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
    let ncrab = support::ncrab();
    for (kw, value) in table {
        let Some(calls) = setsockopts(&ncrab, &["-z", "-T", kw, "127.0.0.1", &p], &dir) else {
            return;
        };
        assert_eq!(calls, [format!("SOL_IP, IP_TOS, [{value}]")], "-T {kw}");
    }
    for bin in both() {
        for bad in ["foo", "256", "0x100", "LOWDELAY"] {
            let out = Run::new(&bin, &["-z", "-T", bad, "127.0.0.1", &p]).run();
            out.check(
                &name(&bin),
                1,
                b"",
                format!("nc: illegal tos value {bad}\n").as_bytes(),
            );
        }
        let out = Run::new(&bin, &["-V", "1", "127.0.0.1", &p]).run();
        out.check(
            &name(&bin),
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
    let dir = support::TempDir::new("strace-b");
    if let Some(calls) = setsockopts(
        &support::ncrab(),
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
    }
    let _ = sink.join();
}
