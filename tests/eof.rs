//! The relay's EOF rules (docs/compatibility.md §6.1-6.2, §12 rows 34-36): who
//! exits when, with which status, and which bytes arrive, for a client and a
//! listener, across kinds of stdin (immediate EOF, open and silent, a slow
//! writer, a regular file, /dev/null, closed, a named FIFO, an fd open only
//! the other way, an eventfd) and the options -N, -q, -d, -w, -W, and a
//! named FIFO or a UDP socket as stdout. Peers are scripted Rust servers
//! and clients, plus nc.openbsd for a subset.
//!
//! Timing is coarse on purpose: "exits within X s" or "still running after
//! Y s", never tight bounds.

mod common;
use common::*;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn client(net: &Net, opts: &[&str], s: &Server, stdin: Input) -> Proc {
    let port = s.port_str();
    let mut a: Vec<&str> = opts.to_vec();
    a.extend_from_slice(&["127.0.0.1", &port]);
    net.nc(&a).stdin(stdin).spawn()
}

fn hi() -> Input {
    Input::Bytes(b"hi\n".to_vec())
}

/// Run cases side by side (they mostly sleep), collecting all failures.
fn parallel(cases: Vec<(String, Box<dyn FnOnce() + Send>)>) {
    let fails: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = cases
            .into_iter()
            .map(|(name, f)| (name, sc.spawn(f)))
            .collect();
        hs.into_iter()
            .filter_map(|(name, h)| {
                h.join().err().map(|e| {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("[{name}] {msg}")
                })
            })
            .collect()
    });
    assert!(
        fails.is_empty(),
        "{} case(s) failed:\n{}",
        fails.len(),
        fails.join("\n")
    );
}

macro_rules! case {
    ($name:expr, $body:expr) => {
        (
            $name.to_string(),
            Box::new($body) as Box<dyn FnOnce() + Send>,
        )
    };
}

// --- TCP client -------------------------------------------------------------

/// Row 34 and its variants: the server sent its data and FIN; stdin ends
/// at once (data then EOF, /dev/null, a regular file): exit 0 at once.
#[test]
fn row34_client_server_closed_stdin_ends() {
    let dir = TempDir::new("eof");
    let file = dir.join("in.txt");
    std::fs::write(&file, b"from file\n").unwrap();
    let mut cases = Vec::new();
    for opts in [&[][..], &["-N"][..], &["-q", "0"][..]] {
        for (kind, input, sent) in [
            ("bytes", 0, &b"hi\n"[..]),
            ("null", 1, &b""[..]),
            ("file", 2, &b"from file\n"[..]),
        ] {
            let file = file.clone();
            cases.push(case!(format!("{opts:?} stdin {kind}"), move || {
                let net = Net::new("case");
                let s = net.one(banner_then_fin(b"hello\n"));
                let stdin = match input {
                    0 => hi(),
                    1 => Input::Null,
                    _ => Input::File(file),
                };
                let o = client(&net, opts, &s, stdin).expect_exit(secs(3));
                o.assert(0, b"hello\n", b"");
                assert!(s.wait_done(secs(3)));
                assert_bytes("server received", sent, &s.received());
            }));
        }
    }
    parallel(cases);
    drop(dir);
}

/// Row 35: the server has closed, stdin is open: nc keeps running (with or
/// without -N/-q 0) until stdin ends.
#[test]
fn row35_client_server_closed_stdin_open() {
    let mut cases = Vec::new();
    for opts in [&[][..], &["-N"][..], &["-q", "0"][..]] {
        cases.push(case!(format!("{opts:?}"), move || {
            let net = Net::new("case");
            let s = net.one(banner_then_fin(b"hello\n"));
            let mut p = client(&net, opts, &s, Input::Pipe);
            assert!(p.wait_stdout(b"hello\n", secs(3)), "no banner");
            p.expect_running(ms(1200));
            p.write_stdin(b"more\n").ok();
            p.close_stdin();
            let o = p.expect_exit(secs(3));
            o.assert(0, b"hello\n", b"");
        }));
    }
    parallel(cases);
}

/// `-d`: stdin is never read, so network EOF ends the client at once.
#[test]
fn client_d_exits_at_network_eof() {
    let net = Net::new("client_d_exits");
    let s = net.one(banner_then_fin(b"hello\n"));
    let mut p = client(&net, &["-d"], &s, Input::Pipe);
    p.write_stdin(b"never sent\n").unwrap();
    let o = p.expect_exit(secs(3));
    o.assert(0, b"hello\n", b"");
    assert!(s.wait_done(secs(3)));
    assert_bytes("server received", b"", &s.received());
}

/// `-d -q 1`: the same, one second later.
#[test]
fn client_d_q1_exits_a_second_later() {
    let net = Net::new("client_d_q1_ex");
    let s = net.one(banner_then_fin(b"hello\n"));
    let o = client(&net, &["-d", "-q", "1"], &s, Input::Pipe).expect_exit(secs(4));
    o.assert(0, b"hello\n", b"");
    o.assert_elapsed_between(ms(800), secs(4));
}

/// Without -N no FIN is sent at stdin EOF: a server that waits for EOF
/// never sees it, and nc waits for the server.
#[test]
fn client_without_n_sends_no_fin() {
    let net = Net::new("client_without");
    let s = net.one(|mut c: Conn| {
        c.send(b"hello\n");
        c.read_to_eof(ms(1500)); // gives up after 1.5 s, then closes
    });
    let mut p = client(&net, &[], &s, hi());
    p.expect_running(ms(1000));
    let o = p.expect_exit(secs(4));
    o.assert(0, b"hello\n", b"");
    assert!(!s.eof_seen(), "the server saw a FIN without -N");
    assert_bytes("server received", b"hi\n", &s.received());
}

/// Row 36: with -q 0, -N or -q 1 the FIN goes out at stdin EOF, but nc does
/// not exit while the server keeps the connection open.
#[test]
fn row36_fin_sent_but_waits_for_server_close() {
    let mut cases = Vec::new();
    for opts in [
        &["-q", "0"][..],
        &["-N"][..],
        &["-q", "1"][..],
        &["-d", "-N"][..],
    ] {
        cases.push(case!(format!("{opts:?}"), move || {
            let net = Net::new("case");
            let s = net.one(banner_read_eof_hold(b"hello\n", ms(2000)));
            let stdin = if opts.contains(&"-d") {
                Input::Pipe
            } else {
                hi()
            };
            let mut p = client(&net, opts, &s, stdin);
            assert!(s.wait_eof(secs(2)), "the server did not see the FIN");
            p.expect_running(ms(1000));
            let o = p.expect_exit(secs(5));
            o.assert(0, b"hello\n", b"");
            let sent: &[u8] = if opts.contains(&"-d") { b"" } else { b"hi\n" };
            assert_bytes("server received", sent, &s.received());
        }));
    }
    parallel(cases);
}

/// Echo server: -q 0 and -N exit as soon as the echo and FIN are back;
/// -q 2 waits two more seconds; no -N never ends (the server waits).
#[test]
fn client_with_echo_server() {
    let mut cases = Vec::new();
    for opts in [&["-q", "0"][..], &["-N"][..]] {
        cases.push(case!(format!("{opts:?}"), move || {
            let net = Net::new("case");
            let s = net.one(echo());
            let o = client(&net, opts, &s, Input::Bytes(b"ping\n".to_vec())).expect_exit(secs(3));
            o.assert(0, b"ping\n", b"");
            o.assert_elapsed_between(ms(0), ms(1500));
        }));
    }
    cases.push(case!("-q 2", || {
        let net = Net::new("case");
        let s = net.one(echo());
        let o =
            client(&net, &["-q", "2"], &s, Input::Bytes(b"ping\n".to_vec())).expect_exit(secs(6));
        o.assert(0, b"ping\n", b"");
        o.assert_elapsed_between(ms(1700), secs(5));
    }));
    cases.push(case!("no -N", || {
        let net = Net::new("case");
        let s = net.one(echo());
        let mut p = client(&net, &[], &s, Input::Bytes(b"ping\n".to_vec()));
        assert!(p.wait_stdout(b"ping\n", secs(3)));
        p.expect_running(ms(1200));
        assert!(!s.eof_seen());
    }));
    parallel(cases);
}

/// A slow writer on stdin: every chunk arrives; with -N the FIN follows the
/// last one and nc exits when the sink closes.
#[test]
fn client_slow_writer() {
    let net = Net::new("client_slow_wr");
    let s = net.one(sink());
    let chunks = vec![
        (ms(0), b"a".to_vec()),
        (ms(300), b"b".to_vec()),
        (ms(300), b"c\n".to_vec()),
    ];
    let o = client(&net, &["-N"], &s, Input::Slow(chunks)).expect_exit(secs(5));
    o.assert(0, b"", b"");
    o.assert_elapsed_between(ms(500), secs(4));
    assert!(s.wait_done(secs(3)));
    assert_bytes("sink received", b"abc\n", &s.received());
}

/// A regular file on stdin, with -N, to a sink.
#[test]
fn client_regular_file_to_sink() {
    let net = Net::new("client_regular");
    let dir = TempDir::new("eoffile");
    let f = dir.join("data");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&f, &data).unwrap();
    let s = net.one(sink());
    let o = client(&net, &["-N"], &s, Input::File(f)).expect_exit(secs(5));
    o.assert(0, b"", b"");
    assert!(s.wait_done(secs(3)));
    assert!(
        s.received() == data,
        "sink received {} bytes, expected {}",
        s.received().len(),
        data.len()
    );
}

/// Peer RST: exit 0 at once, silently, whatever stdin is doing.
#[test]
fn client_peer_reset_exits_0() {
    let mut cases = Vec::new();
    for opts in [&[][..], &["-N"][..], &["-q", "1"][..]] {
        cases.push(case!(format!("{opts:?}"), move || {
            let net = Net::new("case");
            let s = net.one(|mut c: Conn| {
                c.read_at_least(3, secs(5));
                c.reset();
            });
            let mut p = client(&net, opts, &s, Input::Pipe);
            p.write_stdin(b"hi\n").unwrap();
            let o = p.expect_exit(secs(3));
            o.assert(0, b"", b"");
        }));
    }
    parallel(cases);
}

/// The server closed; when stdin then produces data, the write draws an
/// RST and nc exits at once with status 0.
#[test]
fn client_write_after_peer_close_exits() {
    let net = Net::new("client_write_a");
    let s = net.one(|mut c: Conn| {
        c.send(b"bye\n");
        // full close: further data from the client draws an RST
    });
    let mut p = client(&net, &[], &s, Input::Pipe);
    assert!(p.wait_stdout(b"bye\n", secs(3)));
    p.expect_running(ms(500));
    let _ = p.write_stdin(b"late\n");
    let t = Instant::now();
    let o = p.expect_exit(secs(3));
    assert!(
        t.elapsed() < secs(2),
        "took {:?} after the write",
        t.elapsed()
    );
    o.assert(0, b"bye\n", b"");
}

/// `-w 1` is an idle timeout for the relay: exit 0 after ~1 s of silence.
#[test]
fn client_w_idle_timeout() {
    let mut cases = Vec::new();
    for (name, pipe) in [("stdin open", true), ("stdin ended", false)] {
        cases.push(case!(name, move || {
            let net = Net::new("case");
            let s = net.one(|mut c: Conn| {
                c.read_to_eof(secs(6));
            });
            let stdin = if pipe { Input::Pipe } else { hi() };
            let o = client(&net, &["-w", "1"], &s, stdin).expect_exit(secs(5));
            o.assert(0, b"", b"");
            o.assert_elapsed_between(ms(800), secs(4));
        }));
    }
    // Traffic resets the idle timer.
    cases.push(case!("traffic keeps it alive", || {
        let net = Net::new("case");
        let s = net.one(|mut c: Conn| {
            for _ in 0..4 {
                c.send(b"t\n");
                c.hold(ms(400));
            }
            c.read_to_eof(secs(6));
        });
        let o = client(&net, &["-w", "1"], &s, Input::Pipe).expect_exit(secs(6));
        o.assert(0, b"t\nt\nt\nt\n", b"");
        o.assert_elapsed_between(ms(2200), secs(5));
    }));
    parallel(cases);
}

/// Departure 5 (ncrab only): data already received is not thrown away when
/// an RST follows it.
#[test]
fn departure5_no_data_loss_on_rst() {
    let net = Net::new("departure5_no_");
    if !is_ncrab() {
        return;
    }
    // The server lets the client settle in its relay loop, then sends data
    // and an RST back to back, so both are pending when the client wakes
    // (nc.openbsd then loses the data in about half of the runs).
    for i in 0..10 {
        let s = net.one(|mut c: Conn| {
            c.hold(ms(200));
            c.send(b"hello\n");
            c.reset();
        });
        let o = client(&net, &[], &s, Input::Pipe).expect_exit(secs(3));
        if o.stdout != b"hello\n" || o.code() != Some(0) {
            panic!("run {i}: expected exit 0 and stdout \"hello\\n\": {o}");
        }
    }
}

/// Departure 7 (ncrab only): a closed stdin or stdout at start is treated
/// as /dev/null; the socket never takes fd 0 or 1.
#[test]
fn departure7_closed_stdio_at_start() {
    let net = Net::new("departure7_clo");
    if !is_ncrab() {
        return;
    }
    let s = net.one(banner_then_fin(b"hello\n"));
    let o = client(&net, &[], &s, Input::Closed).expect_exit(secs(3));
    o.assert(0, b"hello\n", b"");
    assert!(s.wait_done(secs(3)));
    assert_bytes("server received", b"", &s.received());

    let s = net.one(sink());
    let port = s.port_str();
    let o = net
        .nc(&["-N", "127.0.0.1", &port])
        .stdin_bytes(b"hi\n")
        .stdout(OutputTo::Closed)
        .run(secs(3));
    o.assert(0, b"", b"");
    assert!(s.wait_done(secs(3)));
    assert_bytes("sink received", b"hi\n", &s.received());

    // A listener with stdin closed: like /dev/null.
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-l", &ps]).stdin(Input::Closed).spawn();
    net.expect_listen(&mut srv, p);
    let mut c = net.connect(&format!("127.0.0.1:{p}"));
    c.write_all(b"x").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let (got, _) = read_until_eof(&mut c, secs(3));
    srv.expect_exit(secs(3)).assert(0, b"x", b"");
    assert_bytes("client received", b"", &got);
}

// --- TCP listener -------------------------------------------------------------

/// Start `nc -l OPTS PORT` and connect a client to it.
fn listener(net: &Net, opts: &[&str], stdin: Input) -> (Proc, std::net::TcpStream) {
    let p = free_port();
    let ps = p.to_string();
    let mut a: Vec<&str> = vec!["-l"];
    a.extend_from_slice(opts);
    a.push(&ps);
    let mut srv = net.nc(&a).stdin(stdin).spawn();
    net.expect_listen(&mut srv, p);
    let c = net.connect(&format!("127.0.0.1:{p}"));
    (srv, c)
}

/// Client EOF ends the listener at once, even with its stdin open (rule c).
#[test]
fn listener_exits_at_client_eof() {
    let mut cases = Vec::new();
    for (name, pipe) in [("stdin /dev/null", false), ("stdin open", true)] {
        cases.push(case!(name, move || {
            let net = Net::new("case");
            let (mut srv, mut c) =
                listener(&net, &[], if pipe { Input::Pipe } else { Input::Null });
            c.write_all(b"data").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let o = srv.expect_exit(secs(3));
            o.assert(0, b"data", b"");
            let (_, eof) = read_until_eof(&mut c, secs(2));
            assert!(eof, "the client did not see the connection close");
        }));
    }
    parallel(cases);
}

/// Listener stdin EOF without -N: no FIN to the client; the listener waits
/// for the client to close. With -N: FIN at once.
#[test]
fn listener_stdin_eof_n_or_not() {
    parallel(vec![
        case!("no -N", || {
            let net = Net::new("case");
            let (mut srv, mut c) = listener(&net, &[], Input::Bytes(b"reply\n".to_vec()));
            let (got, eof) = read_until_eof(&mut c, ms(1200));
            assert_bytes("client received", b"reply\n", &got);
            assert!(!eof, "the client saw a FIN without -N");
            srv.expect_running(ms(1));
            c.shutdown(Shutdown::Write).unwrap();
            srv.expect_exit(secs(3)).assert(0, b"", b"");
        }),
        case!("-N", || {
            let net = Net::new("case");
            let (mut srv, mut c) = listener(&net, &["-N"], Input::Bytes(b"reply\n".to_vec()));
            let (got, eof) = read_until_eof(&mut c, secs(2));
            assert_bytes("client received", b"reply\n", &got);
            assert!(eof, "no FIN with -N");
            srv.expect_running(ms(500));
            c.write_all(b"answer").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            srv.expect_exit(secs(3)).assert(0, b"answer", b"");
        }),
    ]);
}

/// Listener -q 0: stdin EOF ends it at once; the client's later data is lost.
/// -q 1: one second later.
#[test]
fn listener_q_drops_late_client_data() {
    parallel(vec![
        case!("-q 0", || {
            let net = Net::new("case");
            let (mut srv, mut c) = listener(&net, &["-q", "0"], Input::Bytes(b"reply\n".to_vec()));
            let t = Instant::now();
            let o = srv.expect_exit(secs(3));
            assert!(
                t.elapsed() < ms(1500),
                "-q 0 listener took {:?}",
                t.elapsed()
            );
            let _ = c.write_all(b"late\n");
            let (got, _) = read_until_eof(&mut c, secs(2));
            assert_bytes("client received", b"reply\n", &got);
            o.assert(0, b"", b"");
        }),
        case!("-q 1", || {
            let net = Net::new("case");
            let (mut srv, mut c) = listener(&net, &["-q", "1"], Input::Bytes(b"reply\n".to_vec()));
            let t = Instant::now();
            std::thread::sleep(ms(300));
            let _ = c.write_all(b"late\n");
            let o = srv.expect_exit(secs(4));
            let e = t.elapsed();
            assert!(
                e > ms(700) && e < secs(3),
                "-q 1 listener exited after {e:?}"
            );
            o.assert(0, b"", b"");
        }),
    ]);
}

/// Listener -d: its stdin is never read.
#[test]
fn listener_d_ignores_stdin() {
    let net = Net::new("listener_d_ign");
    let (mut srv, mut c) = listener(&net, &["-d"], Input::Bytes(b"never\n".to_vec()));
    c.write_all(b"x").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let (got, _) = read_until_eof(&mut c, secs(3));
    srv.expect_exit(secs(3)).assert(0, b"x", b"");
    assert_bytes("client received", b"", &got);
}

/// `-W 1` on a TCP listener: only the first chunk is printed.
#[test]
fn listener_w1_recv_limit_first_chunk() {
    let net = Net::new("listener_w1_re");
    let (mut srv, mut c) = listener(&net, &["-W", "1"], Input::Pipe);
    c.write_all(b"abc").unwrap();
    assert!(srv.wait_stdout(b"abc", secs(3)));
    std::thread::sleep(ms(300));
    let _ = c.write_all(b"def");
    let o = srv.expect_exit(secs(3));
    o.assert(0, b"abc", b"");
}

/// `-w 1` applies once connected: an idle client ends the listener, exit 0.
#[test]
fn listener_w_idle_timeout() {
    let net = Net::new("listener_w_idl");
    let (mut srv, _c) = listener(&net, &["-w", "1"], Input::Pipe);
    let t = Instant::now();
    let o = srv.expect_exit(secs(4));
    let e = t.elapsed();
    assert!(
        e > ms(700) && e < secs(3),
        "idle listener exited after {e:?}"
    );
    o.assert(0, b"", b"");
}

/// A regular file as the listener's stdin, with -N: the client gets it all,
/// then FIN; the listener ends when the client closes.
#[test]
fn listener_regular_file_n() {
    let net = Net::new("listener_file");
    let dir = TempDir::new("lfile");
    let f = dir.join("data");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&f, &data).unwrap();
    let (mut srv, mut c) = listener(&net, &["-N"], Input::File(f));
    let (got, eof) = read_until_eof(&mut c, secs(4));
    assert!(
        got == data && eof,
        "client received {} of {} bytes, eof {eof}",
        got.len(),
        data.len()
    );
    srv.expect_running(ms(300));
    c.shutdown(Shutdown::Write).unwrap();
    srv.expect_exit(secs(3)).assert(0, b"", b"");
}

/// A slow writer into a listener, with -N, reaches the client in full.
#[test]
fn listener_slow_writer_n() {
    let net = Net::new("listener_slow_");
    let chunks = vec![
        (ms(100), b"1".to_vec()),
        (ms(300), b"2".to_vec()),
        (ms(300), b"3\n".to_vec()),
    ];
    let (mut srv, mut c) = listener(&net, &["-N"], Input::Slow(chunks));
    let (got, eof) = read_until_eof(&mut c, secs(4));
    assert_bytes("client received", b"123\n", &got);
    assert!(eof);
    c.shutdown(Shutdown::Write).unwrap();
    srv.expect_exit(secs(3)).assert(0, b"", b"");
}

// --- with nc.openbsd as the peer ---------------------------------------------

/// Binary client -N <-> nc.openbsd listener -N: both directions, both exit.
#[test]
fn peer_openbsd_listener() {
    let net = Net::new("peer_openbsd_l");
    if !openbsd_required() {
        return;
    }
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net
        .openbsd(&["-l", "-N", &ps])
        .stdin_bytes(b"srv\n")
        .spawn();
    net.expect_listen(&mut srv, p);
    let o = net
        .nc(&["-N", "127.0.0.1", &ps])
        .stdin_bytes(b"cli\n")
        .run(secs(5));
    o.assert(0, b"srv\n", b"");
    srv.expect_exit(secs(5)).assert(0, b"cli\n", b"");
}

/// nc.openbsd client -N -> binary listener (default): both exit.
#[test]
fn peer_openbsd_client() {
    let net = Net::new("peer_openbsd_c");
    if !openbsd_required() {
        return;
    }
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-l", &ps]).stdin_bytes(b"srv\n").spawn();
    net.expect_listen(&mut srv, p);
    let o = net
        .openbsd(&["-N", "127.0.0.1", &ps])
        .stdin_bytes(b"cli\n")
        .run(secs(5));
    o.assert(0, b"srv\n", b"");
    srv.expect_exit(secs(5)).assert(0, b"cli\n", b"");
}

/// Binary listener -q 0 with an open-stdin nc.openbsd client: the listener
/// exits at its stdin EOF; the client then sees EOF but waits for stdin.
#[test]
fn peer_openbsd_client_listener_q0() {
    let net = Net::new("peer_openbsd_c");
    if !openbsd_required() {
        return;
    }
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-l", "-q", "0", &ps]).stdin(Input::Pipe).spawn();
    net.expect_listen(&mut srv, p);
    let mut cli = net.openbsd(&["127.0.0.1", &ps]).stdin(Input::Pipe).spawn();
    cli.write_stdin(b"one\n").unwrap();
    assert!(srv.wait_stdout(b"one\n", secs(3)));
    srv.write_stdin(b"two\n").unwrap();
    assert!(cli.wait_stdout(b"two\n", secs(3)));
    srv.close_stdin();
    srv.expect_exit(secs(3)).assert(0, b"one\n", b"");
    cli.expect_running(ms(500));
    cli.close_stdin();
    cli.expect_exit(secs(3)).assert(0, b"two\n", b"");
}

// --- Named FIFOs as stdin and stdout -------------------------------------------
//
// A FIFO's ends are opened the way a shell's `<fifo` and `>fifo` leave them
// (each end open once the other exists, blocking). On Linux the hang-up of
// a FIFO's last writer is reported (POLLHUP) only to a reader that has seen
// a writer since its open, which is why these cases are not the same as a
// pipe's (issue 12).

/// The option sets whose EOF rules differ.
const FIFO_OPTS: [&[&str]; 4] = [&[], &["-N"], &["-q", "0"], &["-q", "1"]];

/// ncrab's two data paths (label, NCRAB_NO_SPLICE); nc.openbsd has one.
fn data_paths() -> Vec<(&'static str, &'static str)> {
    if is_ncrab() {
        vec![("splice", "0"), ("copy", "1")]
    } else {
        vec![("", "0")]
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Client,
    Listener,
}

/// A named FIFO in a directory of its own.
struct Fifo {
    _dir: TempDir,
    path: PathBuf,
}

impl Fifo {
    fn new() -> Fifo {
        let dir = TempDir::new("fifo");
        let path = dir.join("f");
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo on a valid C path.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo: {}", io::Error::last_os_error());
        Fifo { _dir: dir, path }
    }

    /// Opens one end. Non-blocking for a reader opened first (a blocking one
    /// would wait for a writer); see [`blocking`].
    fn open(&self, flags: i32) -> io::Result<OwnedFd> {
        let c = CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: open on a valid C path; the fd is owned at once.
        let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is ours.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Clears O_NONBLOCK, as a shell's blocking open would have left the end.
fn blocking(fd: OwnedFd) -> OwnedFd {
    // SAFETY: fcntl on a valid fd.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
    }
    fd
}

/// Starts the binary under test with these options, stdin and stdout, as a
/// client or a listener, and returns it with the test's end of the
/// connection.
fn start_fifo_case(
    net: &Net,
    role: Role,
    opts: &[&str],
    no_splice: &str,
    stdin: Input,
    stdout: OutputTo,
) -> (Proc, TcpStream) {
    let mut a: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    match role {
        Role::Client => {
            let l = net.listen("127.0.0.1:0").expect("listen");
            let port = l.local_addr().unwrap().port();
            a.extend(["127.0.0.1".to_string(), port.to_string()]);
            let mut p = net
                .nc(&a)
                .env("NCRAB_NO_SPLICE", no_splice)
                .stdin(stdin)
                .stdout(stdout)
                .spawn();
            l.set_nonblocking(true).unwrap();
            let end = Instant::now() + secs(5);
            loop {
                match l.accept() {
                    Ok((c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        return (p, c);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < end => {
                        std::thread::sleep(ms(10));
                    }
                    Err(e) => {
                        let o = p.kill();
                        panic!("the client never connected ({e}): {o}");
                    }
                }
            }
        }
        Role::Listener => {
            let port = free_port();
            a.insert(0, "-l".to_string());
            a.push(port.to_string());
            let mut p = net
                .nc(&a)
                .env("NCRAB_NO_SPLICE", no_splice)
                .stdin(stdin)
                .stdout(stdout)
                .spawn();
            net.expect_listen(&mut p, port);
            let c = net.connect(&format!("127.0.0.1:{port}"));
            (p, c)
        }
    }
}

/// Exactly `expected`, with a short report (the data may be large).
#[track_caller]
fn assert_same(what: &str, expected: &[u8], got: &[u8]) {
    if expected.len() < 64 && got.len() < 64 {
        assert_bytes(what, expected, got);
    }
    let at = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    assert!(
        got == expected,
        "{what}: {} bytes, {} expected, first difference at byte {at}",
        got.len(),
        expected.len()
    );
}

/// Reads a non-blocking FIFO until `n` bytes, its EOF or `limit`; returns
/// the bytes and whether EOF was seen.
fn read_fifo(r: &mut File, n: usize, limit: Duration) -> (Vec<u8>, bool) {
    let end = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while out.len() < n && Instant::now() < end {
        match r.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(ms(5)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the FIFO: {e}"),
        }
    }
    (out, false)
}

/// The writer of a FIFO on stdin.
#[derive(Clone, Copy, Debug)]
enum Writer {
    /// Present when the binary starts; writes three chunks 300 ms apart
    /// once connected, then closes.
    Slow,
    /// Wrote its data and closed before the binary started.
    Gone,
    /// Writes 1 MiB once connected and closes while it is being relayed.
    MidRun,
    /// No writer when the binary starts; one comes 300 ms after the
    /// connection, writes and closes.
    Late,
}

type Job = Box<dyn FnOnce() + Send>;

impl Writer {
    /// The binary's stdin, what the writer does once the connection is up,
    /// and the bytes it writes in all.
    fn prepare(self, fifo: &Fifo) -> (Input, Job, Vec<u8>) {
        let r = fifo
            .open(libc::O_RDONLY | libc::O_NONBLOCK)
            .expect("open the FIFO for reading");
        if let Writer::Late = self {
            let path = fifo.path.clone();
            let job = Box::new(move || {
                std::thread::sleep(ms(300));
                // Non-blocking: fails (ENXIO) rather than waits if the
                // binary is gone already.
                let c = CString::new(path.as_os_str().as_bytes()).unwrap();
                // SAFETY: open on a valid C path; the fd is owned at once.
                let fd = unsafe {
                    libc::open(
                        c.as_ptr(),
                        libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
                    )
                };
                if fd >= 0 {
                    // SAFETY: fd was just opened and is ours.
                    let mut w = File::from(blocking(unsafe { OwnedFd::from_raw_fd(fd) }));
                    let _ = w.write_all(b"late\n");
                }
            });
            return (Input::Fd(blocking(r)), job, b"late\n".to_vec());
        }
        let w = fifo
            .open(libc::O_WRONLY)
            .expect("open the FIFO for writing");
        let mut w = File::from(w);
        let stdin = Input::Fd(blocking(r));
        match self {
            Writer::Gone => {
                w.write_all(b"early\n").unwrap();
                drop(w);
                (stdin, Box::new(|| {}), b"early\n".to_vec())
            }
            Writer::Slow => {
                let job = Box::new(move || {
                    for (i, chunk) in [&b"a"[..], b"b", b"c\n"].iter().enumerate() {
                        if i > 0 {
                            std::thread::sleep(ms(300));
                        }
                        if w.write_all(chunk).is_err() {
                            return;
                        }
                    }
                });
                (stdin, job, b"abc\n".to_vec())
            }
            Writer::MidRun => {
                const LEN: usize = 1 << 20;
                let pat = Pattern::new(12);
                let mut data = vec![0u8; LEN];
                pat.fill(0, &mut data);
                let job = Box::new(move || {
                    let _ = pat.write_to(&mut w, 0, LEN as u64);
                });
                (stdin, job, data)
            }
            Writer::Late => unreachable!(),
        }
    }
}

/// One stdin case: the peer receives exactly what the writer wrote; with
/// -N or -q it then sees EOF, without them it does not (no FIN). A listener
/// with -q then exits by itself; otherwise the binary waits for the peer to
/// close, then exits 0 (a client without -N could not, had it missed its
/// stdin's EOF).
fn fifo_stdin_case(role: Role, opts: &[&str], writer: Writer, no_splice: &str) {
    let net = Net::new("case");
    let fifo = Fifo::new();
    let (stdin, job, data) = writer.prepare(&fifo);
    let (mut p, mut c) = start_fifo_case(&net, role, opts, no_splice, stdin, OutputTo::Capture);
    let feeder = std::thread::spawn(job);
    if opts.is_empty() {
        let mut got = Vec::new();
        let end = Instant::now() + secs(6);
        while got.len() < data.len() && Instant::now() < end {
            let (more, eof) = read_until_eof(&mut c, ms(100));
            got.extend_from_slice(&more);
            assert!(!eof, "the peer saw EOF without -N or -q");
        }
        let (more, eof) = read_until_eof(&mut c, ms(500));
        got.extend_from_slice(&more);
        assert!(!eof, "the peer saw EOF without -N or -q");
        assert_same("peer received", &data, &got);
    } else {
        let (got, eof) = read_until_eof(&mut c, secs(6));
        assert_same("peer received", &data, &got);
        assert!(eof, "the peer saw no EOF after stdin's end");
    }
    if !(role == Role::Listener && opts.contains(&"-q")) {
        p.expect_running(ms(300));
        let _ = c.shutdown(Shutdown::Write);
    }
    p.expect_exit(secs(4)).assert(0, b"", b"");
    feeder.join().unwrap();
}

fn fifo_stdin_cases(role: Role) {
    let mut cases = Vec::new();
    for (path, no_splice) in data_paths() {
        for opts in FIFO_OPTS {
            for writer in [Writer::Slow, Writer::Gone, Writer::MidRun, Writer::Late] {
                cases.push(case!(format!("{path} {opts:?} {writer:?}"), move || {
                    fifo_stdin_case(role, opts, writer, no_splice)
                }));
            }
        }
    }
    parallel(cases);
}

/// A client's stdin is a named FIFO (issue 12: a writer gone before the
/// start hung ncrab).
#[test]
fn fifo_stdin_client() {
    fifo_stdin_cases(Role::Client);
}

/// A listener's stdin is a named FIFO.
#[test]
fn fifo_stdin_listener() {
    fifo_stdin_cases(Role::Listener);
}

/// stdout is a named FIFO whose reader is there (and reads everything) or
/// gone before the start; stdin is an open pipe; the peer sends 300 kB and
/// its FIN. A gone reader is POLLERR on stdout: nothing is written (no
/// SIGPIPE, no message), the socket is no longer read. The listener then
/// ends at once (at the peer's FIN, or its stdout's end); the client
/// waits for its stdin's EOF, then exits 0.
#[test]
fn fifo_stdout() {
    const LEN: usize = 300_000;
    let mut cases = Vec::new();
    for (path, no_splice) in data_paths() {
        for opts in FIFO_OPTS {
            for role in [Role::Client, Role::Listener] {
                for present in [true, false] {
                    let reader = if present { "reader" } else { "reader gone" };
                    cases.push(case!(
                        format!("{path} {opts:?} {role:?} {reader}"),
                        move || {
                            let net = Net::new("case");
                            let fifo = Fifo::new();
                            let r = fifo.open(libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
                            let w = fifo.open(libc::O_WRONLY).unwrap();
                            let mut r = present.then(|| File::from(r));
                            let (mut p, c) = start_fifo_case(
                                &net,
                                role,
                                opts,
                                no_splice,
                                Input::Pipe,
                                OutputTo::Fd(w),
                            );
                            let mut data = vec![0u8; LEN];
                            Pattern::new(13).fill(0, &mut data);
                            let mut cw = c.try_clone().unwrap();
                            cw.set_write_timeout(Some(secs(8))).unwrap();
                            let sent = data.clone();
                            let sender = std::thread::spawn(move || {
                                let _ = cw.write_all(&sent);
                                let _ = cw.shutdown(Shutdown::Write);
                            });
                            if let Some(r) = r.as_mut() {
                                let (got, _) = read_fifo(r, LEN, secs(6));
                                assert_same("the FIFO received", &data, &got);
                            }
                            if role == Role::Client {
                                p.expect_running(ms(300));
                                p.close_stdin();
                            }
                            p.expect_exit(secs(4)).assert(0, b"", b"");
                            if let Some(r) = r.as_mut() {
                                let (more, eof) = read_fifo(r, usize::MAX, secs(2));
                                assert!(
                                    more.is_empty() && eof,
                                    "{} more bytes on the FIFO, EOF {eof}",
                                    more.len()
                                );
                            }
                            drop(c);
                            sender.join().unwrap();
                        }
                    ));
                }
            }
        }
    }
    parallel(cases);
}

// --- stdin or stdout open the other way ---------------------------------------
//
// `nc ... 1<&0` or `nc ... 0>/dev/tty`: an fd 0 not open for reading or an
// fd 1 not open for writing. nc's reads or writes on it fail (EBADF) and
// that direction closes. ncrab reopens a pipe or tty through /proc to get a
// non-blocking description of its own; reopening such an fd would give the
// other end of the pipe, or the tty opened the other way.

/// stdout is the read end of the pipe that is also stdin; the peer sends
/// data and its FIN. Nothing is ever written into the pipe: when its writer
/// (the test) closes, stdin ends and stdout hangs up, and the binary exits
/// 0. The peer received exactly what the pipe carried.
#[test]
fn stdout_is_the_read_end_of_stdins_pipe() {
    let mut cases = Vec::new();
    for (path, no_splice) in data_paths() {
        for opts in [&[][..], &["-N"][..]] {
            for role in [Role::Client, Role::Listener] {
                cases.push(case!(format!("{path} {opts:?} {role:?}"), move || {
                    let net = Net::new("case");
                    let (r, w) = pipe();
                    let probe = File::from(r.try_clone().unwrap());
                    let (mut p, mut c) = start_fifo_case(
                        &net,
                        role,
                        opts,
                        no_splice,
                        Input::Fd(r.try_clone().unwrap()),
                        OutputTo::Fd(r),
                    );
                    c.write_all(b"from the peer\n").unwrap();
                    c.shutdown(Shutdown::Write).unwrap();
                    let mut w = File::from(w);
                    w.write_all(b"from stdin\n").unwrap();
                    std::thread::sleep(ms(300));
                    drop(w);
                    p.expect_exit(secs(4)).assert(0, b"", b"");
                    let (got, eof) = read_until_eof(&mut c, secs(3));
                    assert_bytes("the peer received", b"from stdin\n", &got);
                    assert!(eof, "no EOF after the exit");
                    // SAFETY: fcntl on a valid fd.
                    unsafe { libc::fcntl(probe.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
                    let mut rest = Vec::new();
                    let _ = (&probe).read_to_end(&mut rest);
                    assert_bytes("left in the pipe", b"", &rest);
                }));
            }
        }
    }
    parallel(cases);
}

/// stdin is a terminal opened write-only, and something is typed at it:
/// the read fails, stdin is closed, nothing is sent; the peer's FIN ends
/// the run, exit 0.
#[test]
fn stdin_is_a_terminal_opened_write_only() {
    let mut cases = Vec::new();
    for (path, no_splice) in data_paths() {
        for role in [Role::Client, Role::Listener] {
            cases.push(case!(format!("{path} {role:?}"), move || {
                let net = Net::new("case");
                let pty = Pty::open().expect("a pseudo-terminal");
                let wo = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NOCTTY)
                    .open(&pty.slave)
                    .expect("open the terminal write-only");
                let (mut p, mut c) = start_fifo_case(
                    &net,
                    role,
                    &[],
                    no_splice,
                    Input::Fd(wo.into()),
                    OutputTo::Capture,
                );
                pty.type_text(b"typed\n");
                let (got, eof) = read_until_eof(&mut c, ms(700));
                assert_bytes("the peer received", b"", &got);
                assert!(!eof, "EOF before the peer's FIN");
                c.shutdown(Shutdown::Write).unwrap();
                p.expect_exit(secs(4)).assert(0, b"", b"");
                let (got, _) = read_until_eof(&mut c, secs(2));
                assert_bytes("the peer received", b"", &got);
            }));
        }
    }
    parallel(cases);
}

/// stdin is a file that epoll can watch but that is neither a pipe, a tty
/// nor a socket: an eventfd here, standing for a device that waits for
/// data (`nc host port </dev/kmsg`). Its data is sent as soon as it comes,
/// each time, with nothing else going on to wake the relay.
#[test]
fn stdin_an_eventfd_is_watched() {
    let mut cases = Vec::new();
    for (path, no_splice) in data_paths() {
        for role in [Role::Client, Role::Listener] {
            cases.push(case!(format!("{path} {role:?}"), move || {
                let net = Net::new("case");
                // SAFETY: eventfd returns a new fd, owned at once.
                let ev = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
                assert!(ev >= 0, "eventfd: {}", io::Error::last_os_error());
                // SAFETY: ev is a fresh fd we own.
                let ev = File::from(unsafe { OwnedFd::from_raw_fd(ev) });
                let (mut p, mut c) = start_fifo_case(
                    &net,
                    role,
                    &[],
                    no_splice,
                    Input::Fd(ev.try_clone().unwrap().into()),
                    OutputTo::Capture,
                );
                c.set_read_timeout(Some(secs(3))).unwrap();
                for n in [5u64, 7] {
                    std::thread::sleep(ms(300));
                    (&ev).write_all(&n.to_ne_bytes()).unwrap();
                    let mut got = [0u8; 8];
                    if let Err(e) = c.read_exact(&mut got) {
                        let o = p.kill();
                        panic!("the counter {n} never reached the peer ({e}): {o}");
                    }
                    assert_bytes("the peer received", &n.to_ne_bytes(), &got);
                }
                p.expect_running(ms(100));
            }));
        }
    }
    parallel(cases);
}

/// stdout is a connected UDP socket (bash's `>/dev/udp/HOST/PORT`); the
/// peer sends 100 kB and its FIN. Each write is one datagram, at most nc's
/// 16,384 bytes (larger ones could not be sent at all, EMSGSIZE, or be read
/// whole by an nc at the other end), and everything arrives, in order.
#[test]
fn stdout_a_udp_socket_gets_datagrams_of_at_most_16384() {
    const LEN: usize = 100_000;
    let mut cases = Vec::new();
    for (path, no_splice) in data_paths() {
        for role in [Role::Client, Role::Listener] {
            cases.push(case!(format!("{path} {role:?}"), move || {
                let net = Net::new("case");
                let (rx, tx) = net.run_in(|| {
                    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    tx.connect(rx.local_addr().unwrap()).unwrap();
                    (rx, tx)
                });
                rx.set_read_timeout(Some(secs(2))).unwrap();
                let reader = std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut buf = vec![0u8; 70_000];
                    while let Ok(n) = rx.recv(&mut buf) {
                        got.push(buf[..n].to_vec());
                        if got.iter().map(Vec::len).sum::<usize>() >= LEN {
                            break;
                        }
                    }
                    got
                });
                let (mut p, mut c) = start_fifo_case(
                    &net,
                    role,
                    &[],
                    no_splice,
                    Input::Null,
                    OutputTo::Fd(tx.into()),
                );
                let mut data = vec![0u8; LEN];
                Pattern::new(14).fill(0, &mut data);
                c.write_all(&data).unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                p.expect_exit(secs(4)).assert(0, b"", b"");
                let got = reader.join().unwrap();
                let largest = got.iter().map(Vec::len).max().unwrap_or(0);
                assert!(largest <= 16_384, "a datagram of {largest} bytes");
                assert_same("the datagrams carried", &data, &got.concat());
            }));
        }
    }
    parallel(cases);
}
