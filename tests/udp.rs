//! UDP (`-u`), DCCP (`-Z`) and `-b`: exact messages, exit statuses and
//! datagrams, against the contract (docs/compatibility.md §2, §4, §6.2, §6.4,
//! §12 rows 31-33; departures 6 and 11), and interoperation with nc.openbsd
//! both ways.

mod common;
use common::*;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

#[test]
fn sha256_known_answers() {
    assert_sha256_known_answers();
}

fn listener() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let p = s.local_addr().expect("addr").port();
    (s, p)
}

/// Every datagram waiting on `s` (each as received), until it stays quiet
/// for `quiet`.
fn drain(s: &UdpSocket, quiet: Duration) -> Vec<Vec<u8>> {
    s.set_read_timeout(Some(quiet)).expect("timeout");
    let mut v = Vec::new();
    let mut buf = vec![0u8; 70_000];
    while let Ok(n) = s.recv(&mut buf) {
        v.push(buf[..n].to_vec());
    }
    v
}

#[test]
fn row31_listener_lines_then_data() {
    let mut srv = Cmd::ncrab(&["-luvn", "127.0.0.1", "0"]).spawn();
    let port = srv.expect_listening(secs(5));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let cport = client.local_addr().unwrap().port();
    client.send_to(b"hi\n", ("127.0.0.1", port)).unwrap();
    srv.expect_stdout(b"hi\n", T);
    srv.expect_stderr("Connection received", T);
    assert_eq!(
        srv.stderr_text(),
        format!("Bound on 127.0.0.1 {port}\nConnection received on 127.0.0.1 {cport}\n")
    );
    // The server keeps running (no EOF on UDP); the client's -q0 run ends.
    assert!(srv.running());
    Cmd::ncrab(&["-u", "-q0", "127.0.0.1", &port.to_string()])
        .stdin(Input::Bytes(b"x\n".to_vec()))
        .run(T)
        .assert(0, b"", b"");
}

#[test]
fn row31_wildcard_bind_is_ipv4() {
    let port = closed_udp_port();
    let mut srv = Cmd::ncrab(&["-luv", &port.to_string()]).spawn();
    srv.expect_stderr("Bound on", T);
    assert_eq!(srv.stderr_text(), format!("Bound on 0.0.0.0 {port}\n"));
}

#[test]
fn data_mode_with_piped_stdin_sends_no_probe_departure6() {
    // Row 32 as ncrab does it: the success line at once, no `X` datagrams.
    let (l, port) = listener();
    Cmd::ncrab(&["-uvn", "-w1", "127.0.0.1", &port.to_string()])
        .stdin(Input::Bytes(b"hi\n".to_vec()))
        .run(T)
        .assert(
            0,
            b"",
            format!("Connection to 127.0.0.1 {port} port [udp/*] succeeded!\n").as_bytes(),
        );
    assert_eq!(
        drain(&l, Duration::from_millis(300)),
        vec![b"hi\n".to_vec()]
    );
}

#[test]
fn data_mode_with_tty_stdin_probes_first() {
    // nc's udptest with -w1: two X at once, one more a second later.
    let (l, port) = listener();
    let pty = Pty::open().expect("a pseudo-terminal");
    let started = Instant::now();
    let mut c = Cmd::ncrab(&["-uvn", "-w1", "127.0.0.1", &port.to_string()])
        .stdin(Input::Fd(pty.open_slave()))
        .spawn();
    c.expect_stderr("succeeded!", T);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the probe lasts -w seconds"
    );
    let got = drain(&l, Duration::from_millis(300));
    assert_eq!(got, vec![b"X".to_vec(); 3]);
    let o = c.expect_exit(T);
    assert_eq!(o.code(), Some(0), "ends after -w1 idle");
    assert_eq!(
        o.stderr_str(),
        format!("Connection to 127.0.0.1 {port} port [udp/*] succeeded!\n")
    );
    drop(pty);
}

#[test]
fn data_mode_with_tty_stdin_refused_probe_is_silent_status_1() {
    let port = closed_udp_port();
    let pty = Pty::open().expect("a pseudo-terminal");
    Cmd::ncrab(&["-uvn", "-w1", "127.0.0.1", &port.to_string()])
        .stdin(Input::Fd(pty.open_slave()))
        .run(T)
        .assert(1, b"", b"");
}

#[test]
fn row33_uz_without_v_is_always_0_and_silent() {
    let port = closed_udp_port();
    Cmd::ncrab(&["-uz", "127.0.0.1", &port.to_string()])
        .run(T)
        .assert(0, b"", b"");
}

#[test]
fn row33_uzv_closed_port_is_1_and_silent() {
    let port = closed_udp_port();
    Cmd::ncrab(&["-uzv", "127.0.0.1", &port.to_string()])
        .run(T)
        .assert(1, b"", b"");
    let mut c = Cmd::ncrab(&["-uzvw0", "127.0.0.1", &port.to_string()]).spawn();
    let o = c.expect_exit(T);
    assert_eq!(o.stderr_str(), "");
    assert!(o.code() == Some(0) || o.code() == Some(1), "{o}");
}

#[test]
fn uzv_open_port_sends_the_x_probe() {
    // Debian's udptest: two X at once, then one per second of -w.
    let (l, port) = listener();
    let line = format!("Connection to 127.0.0.1 {port} port [udp/*] succeeded!\n");
    Cmd::ncrab(&["-uzvnw1", "127.0.0.1", &port.to_string()])
        .run(T)
        .assert(0, b"", line.as_bytes());
    assert_eq!(
        drain(&l, Duration::from_millis(300)),
        vec![b"X".to_vec(); 3]
    );
    Cmd::ncrab(&["-uzvnw0", "127.0.0.1", &port.to_string()])
        .run(T)
        .assert(0, b"", line.as_bytes());
    assert_eq!(
        drain(&l, Duration::from_millis(300)),
        vec![b"X".to_vec(); 2]
    );
}

#[test]
fn success_line_names_the_udp_service() {
    // 53 is `domain` in /etc/services; binding it needs root.
    let Ok(_l) = UdpSocket::bind("127.0.0.1:53") else {
        skip("cannot bind 127.0.0.1:53 (not root, or in use)");
        return;
    };
    Cmd::ncrab(&["-uzvw0", "127.0.0.1", "53"]).run(T).assert(
        0,
        b"",
        b"Connection to 127.0.0.1 53 port [udp/domain] succeeded!\n",
    );
}

#[test]
fn scan_status_is_the_last_connected_port() {
    // §4: with -v each connected port sets 0 and a refused probe sets 1.
    let (_l1, open) = listener();
    let closed = closed_udp_port();
    let line = format!("Connection to 127.0.0.1 {open} port [udp/*] succeeded!\n");
    Cmd::ncrab(&[
        "-uzvnw1",
        "127.0.0.1",
        &open.to_string(),
        &closed.to_string(),
    ])
    .run(T)
    .assert(1, b"", line.as_bytes());
    Cmd::ncrab(&[
        "-uzvnw1",
        "127.0.0.1",
        &closed.to_string(),
        &open.to_string(),
    ])
    .run(T)
    .assert(0, b"", line.as_bytes());
}

#[test]
fn scan_of_several_ports_reports_in_order() {
    let (_a, pa) = listener();
    let (_b, pb) = listener();
    let closed = closed_udp_port();
    Cmd::ncrab(&[
        "-uzvnw1",
        "127.0.0.1",
        &pb.to_string(),
        &closed.to_string(),
        &pa.to_string(),
    ])
    .run(T)
    .assert(
        0,
        b"",
        format!(
            "Connection to 127.0.0.1 {pb} port [udp/*] succeeded!\n\
             Connection to 127.0.0.1 {pa} port [udp/*] succeeded!\n"
        )
        .as_bytes(),
    );
}

#[test]
fn icmp_port_unreachable_ends_the_client_with_0() {
    let port = closed_udp_port();
    let mut c = Cmd::ncrab(&["-u", "127.0.0.1", &port.to_string()])
        .stdin(Input::Pipe)
        .spawn();
    c.write_stdin(b"a\n").unwrap();
    // stdin stays open: only the ICMP error can end the run.
    let o = c.expect_exit(T);
    assert_eq!((o.code(), o.stderr_str()), (Some(0), String::new()));
}

#[test]
fn client_relays_replies_and_q0_exits_at_stdin_eof() {
    let (l, port) = listener();
    let mut c = Cmd::ncrab(&["-u", "127.0.0.1", &port.to_string()])
        .stdin(Input::Pipe)
        .spawn();
    c.write_stdin(b"ping\n").unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = l.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping\n");
    l.send_to(b"pong\n", from).unwrap();
    c.expect_stdout(b"pong\n", T);
    c.close_stdin();
    // Without -q a UDP client does not end at stdin EOF.
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.running());
    c.kill();
    Cmd::ncrab(&["-u", "-q0", "127.0.0.1", &port.to_string()])
        .stdin(Input::Bytes(b"z\n".to_vec()))
        .run(T)
        .assert(0, b"", b"");
}

#[test]
fn datagrams_are_read_whole_up_to_65535_departure11() {
    let mut srv = Cmd::ncrab(&["-lun", "127.0.0.1", "0", "-v"]).spawn();
    let port = srv.expect_listening(secs(5));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sizes = [30_000usize, 65_507, 1, 16_385, 1000];
    let mut all = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let d = payload(n, i as u32);
        s.send_to(&d, ("127.0.0.1", port)).unwrap();
        all.extend_from_slice(&d);
        std::thread::sleep(Duration::from_millis(20));
    }
    // An empty datagram from the peer ends the session (exit 0).
    s.send_to(b"", ("127.0.0.1", port)).unwrap();
    let o = srv.expect_exit(T);
    assert_eq!(o.stdout.len(), all.len());
    assert_eq!(sha256_bytes(&o.stdout), sha256_bytes(&all));
    o.assert_code(0);
}

/// What stdin gives leaves in datagrams of at most 16,384 bytes, nc's
/// buffer (docs/compatibility.md §6.4): a receiving nc reads no more of a
/// datagram and drops the rest.
#[test]
fn stdin_is_sent_in_datagrams_of_at_most_16384() {
    let (l, port) = listener();
    let dir = TempDir::new("udpin");
    let f = dir.join("in");
    let data = payload(100_000, 7);
    std::fs::write(&f, &data).unwrap();
    Cmd::nc(&["-u", "-q0", "127.0.0.1", &port.to_string()])
        .stdin(Input::File(f))
        .run(T)
        .assert_code(0);
    let got = drain(&l, Duration::from_millis(500));
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [vec![16_384; 6], vec![100_000 - 6 * 16_384]].concat()
    );
    assert_eq!(sha256_bytes(&got.concat()), sha256_bytes(&data));
}

/// A file sent to an nc.openbsd UDP listener arrives whole: no datagram
/// is larger than what nc reads of one.
#[test]
fn interop_file_to_openbsd_listener_arrives_whole() {
    if !openbsd_required() {
        return;
    }
    let port = closed_udp_port();
    let mut srv = Cmd::openbsd(&["-lu", "127.0.0.1", &port.to_string()])
        .stdin(Input::Pipe)
        .spawn();
    std::thread::sleep(Duration::from_millis(200));
    let dir = TempDir::new("udpin");
    let f = dir.join("in");
    let data = payload(40_960, 11);
    std::fs::write(&f, &data).unwrap();
    Cmd::nc(&["-u", "-q1", "127.0.0.1", &port.to_string()])
        .stdin(Input::File(f))
        .run(T)
        .assert_code(0);
    assert!(eventually(secs(3), || srv.stdout_now().len() >= data.len()));
    std::thread::sleep(Duration::from_millis(200));
    let got = srv.kill().stdout;
    assert_eq!(got.len(), data.len(), "bytes the listener printed");
    assert_eq!(sha256_bytes(&got), sha256_bytes(&data));
}

#[test]
fn empty_datagram_ends_the_listener() {
    let mut srv = Cmd::ncrab(&["-luvn", "127.0.0.1", "0"]).spawn();
    let port = srv.expect_listening(secs(5));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"one\n", ("127.0.0.1", port)).unwrap();
    srv.expect_stdout(b"one\n", T);
    s.send_to(b"", ("127.0.0.1", port)).unwrap();
    srv.expect_exit(T).assert_code(0);
}

#[test]
fn recv_limit_w2_prints_two_datagrams() {
    let mut srv = Cmd::ncrab(&["-luvn", "-W", "2", "127.0.0.1", "0"]).spawn();
    let port = srv.expect_listening(secs(5));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in [&b"a\n"[..], b"b\n", b"c\n"] {
        s.send_to(d, ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    srv.expect_exit(T).assert_code(0);
    assert_eq!(srv.stdout_now(), b"a\nb\n");
}

#[test]
fn luk_receives_from_every_peer_and_never_connects() {
    let mut srv = Cmd::ncrab(&["-lukvn", "127.0.0.1", "0"])
        .stdin(Input::Bytes(b"to nobody\n".to_vec()))
        .spawn();
    let port = srv.expect_listening(secs(5));
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.send_to(b"from a\n", ("127.0.0.1", port)).unwrap();
    srv.expect_stdout(b"from a\n", T);
    // An empty datagram ends one session; -k starts the next at once.
    a.send_to(b"", ("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    b.send_to(b"from b\n", ("127.0.0.1", port)).unwrap();
    srv.expect_stdout(b"from a\nfrom b\n", T);
    assert!(srv.running());
    assert_eq!(srv.stderr_text(), format!("Bound on 127.0.0.1 {port}\n"));
    // Writes from stdin fail (EDESTADDRREQ) silently: nobody got anything.
    assert!(drain(&a, Duration::from_millis(200)).is_empty());
    assert!(drain(&b, Duration::from_millis(10)).is_empty());
}

#[test]
fn listener_answers_its_peer_only() {
    let mut srv = Cmd::ncrab(&["-luvn", "127.0.0.1", "0"])
        .stdin(Input::Pipe)
        .spawn();
    let port = srv.expect_listening(secs(5));
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.send_to(b"hello\n", ("127.0.0.1", port)).unwrap();
    srv.expect_stdout(b"hello\n", T);
    srv.write_stdin(b"reply\n").unwrap();
    a.set_read_timeout(Some(T)).unwrap();
    let mut buf = [0u8; 100];
    let n = a.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"reply\n");
}

#[test]
fn interop_ncrab_client_to_openbsd_listener() {
    if !openbsd_required() {
        return;
    }
    let port = closed_udp_port();
    let mut srv = Cmd::openbsd(&["-lu", "127.0.0.1", &port.to_string()]).spawn();
    std::thread::sleep(Duration::from_millis(200));
    let mut c = Cmd::ncrab(&["-u", "127.0.0.1", &port.to_string()])
        .stdin(Input::Pipe)
        .spawn();
    // Datagrams of several sizes, each within nc.openbsd's 16384-byte read.
    let sizes = [1usize, 100, 1400, 8192, 16_384, 3];
    let mut all = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let d = payload(n, 100 + i as u32);
        c.write_stdin(&d).unwrap();
        all.extend_from_slice(&d);
        srv.expect_stdout(&d[d.len().saturating_sub(8)..], T);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(eventually(T, || srv.stdout_now().len() >= all.len()));
    assert_eq!(sha256_bytes(&srv.stdout_now()), sha256_bytes(&all));
}

#[test]
fn interop_openbsd_client_to_ncrab_listener() {
    if !openbsd_required() {
        return;
    }
    let mut srv = Cmd::ncrab(&["-luvn", "127.0.0.1", "0"])
        .stdin(Input::Pipe)
        .spawn();
    let port = srv.expect_listening(secs(5));
    let mut c = Cmd::openbsd(&["-u", "127.0.0.1", &port.to_string()])
        .stdin(Input::Pipe)
        .spawn();
    let sizes = [5usize, 512, 16_384, 9000];
    let mut all = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let d = payload(n, 200 + i as u32);
        c.write_stdin(&d).unwrap();
        all.extend_from_slice(&d);
        srv.expect_stdout(&d[d.len().saturating_sub(8)..], T);
    }
    assert_eq!(sha256_bytes(&srv.stdout_now()), sha256_bytes(&all));
    assert!(srv.stderr_text().starts_with(&format!(
        "Bound on 127.0.0.1 {port}\nConnection received on 127.0.0.1 "
    )));
    // The listener answers the nc.openbsd client.
    let back = payload(12_000, 300);
    srv.write_stdin(&back).unwrap();
    c.expect_stdout(&back[back.len() - 8..], T);
    assert_eq!(sha256_bytes(&c.stdout_now()), sha256_bytes(&back));
}

#[test]
fn interop_probe_lines_match_openbsd() {
    if !openbsd_required() {
        return;
    }
    let (_l, open) = listener();
    let closed = closed_udp_port();
    for args in [
        vec!["-uzvnw1", "127.0.0.1"],
        vec!["-uzn", "127.0.0.1"],
        vec!["-uznvw0", "127.0.0.1"],
    ] {
        let mut a = args.clone();
        let (o, c) = (open.to_string(), closed.to_string());
        a.push(&o);
        a.push(&c);
        let mut ours = Cmd::ncrab(&a).spawn();
        let mut theirs = Cmd::openbsd(&a).spawn();
        let (ours, theirs) = (ours.expect_exit(T), theirs.expect_exit(T));
        let (oc, tc) = (ours.exit_code(), theirs.exit_code());
        assert_eq!(
            ours.stderr_str(),
            theirs.stderr_str().replace("nc.openbsd: ", "nc: "),
            "{a:?}"
        );
        if args[0] != "-uznvw0" {
            // With -w0 the refusal may or may not arrive between the two X's.
            assert_eq!(oc, tc, "{a:?}");
        }
    }
}

fn has_dccp() -> bool {
    // SAFETY: a plain socket() call; the fd is closed at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DCCP, libc::IPPROTO_DCCP) };
    if fd >= 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
    }
    fd >= 0
}

#[test]
fn dccp_option_rules() {
    let dir = TempDir::new("dccp");
    let p = dir.join("x.sock");
    Cmd::ncrab(&["-ZU", p.to_str().unwrap()])
        .run(T)
        .assert(1, b"", b"nc: cannot use -Z and -U\n");
    Cmd::ncrab(&["-Z", "-x", "127.0.0.1", "h", "1"])
        .run(T)
        .assert(1, b"", b"nc: no proxy support for DCCP mode\n");
    // -u wins over -Z.
    Cmd::ncrab(&["-uZx", "127.0.0.1", "h", "1"]).run(T).assert(
        1,
        b"",
        b"nc: no proxy support for UDP mode\n",
    );
}

#[test]
fn dccp_without_kernel_support_is_silent_client_and_m14_listener() {
    if has_dccp() {
        skip("this kernel has DCCP; the no-DCCP texts cannot be checked");
        return;
    }
    Cmd::ncrab(&["-Zv", "127.0.0.1", "80"])
        .run(T)
        .assert(1, b"", b"");
    Cmd::ncrab(&["-Zzv", "127.0.0.1", "80", "81"])
        .run(T)
        .assert(1, b"", b"");
    Cmd::ncrab(&["-lZv", "127.0.0.1", "0"]).run(T).assert(
        1,
        b"",
        b"nc: Socket type not supported\n",
    );
}

/// A network namespace with a veth pair on 10.250.0.0/24 (broadcast
/// 10.250.0.255), deleted when dropped; None after a skip (a failure under
/// CI=true) when it cannot be made.
fn broadcast_netns() -> Option<Netns> {
    let ns = Netns::create("udp")?;
    for step in [
        &["link", "add", "va", "type", "veth", "peer", "name", "vb"][..],
        &["addr", "add", "10.250.0.1/24", "brd", "+", "dev", "va"],
        &["link", "set", "va", "up"],
        &["link", "set", "vb", "up"],
    ] {
        if let Err(e) = ns.ip(step) {
            skip_or_fail_in_ci(&format!("cannot configure a network namespace: {e}"));
            return None;
        }
    }
    Some(ns)
}

#[test]
fn broadcast_needs_b() {
    let Some(ns) = broadcast_netns() else {
        return;
    };
    let run = |extra: &str| {
        let o = Cmd::ncrab(&[extra, "-w0", "10.250.0.255", "9"])
            .netns(&ns)
            .run(T);
        (o.exit_code(), o.stderr_str())
    };
    // argv[0] is the symlink's path through ip netns exec: prefix `nc`.
    assert_eq!(
        run("-uzv"),
        (
            1,
            "nc: connect to 10.250.0.255 port 9 (udp) failed: Permission denied\n".to_string()
        )
    );
    assert_eq!(
        run("-uzvb"),
        (
            0,
            "Connection to 10.250.0.255 9 port [udp/discard] succeeded!\n".to_string()
        )
    );
}
