//! Signals and idleness.
//!
//! - Ctrl-C (SIGINT) and SIGTERM kill nc by that same signal, so the shell
//!   sees a signal death (nc.openbsd has no handlers; ncrab cleans up and
//!   re-raises: departure 9), and the file-status flags of stdin (a pipe;
//!   checked through our own dup of the child's read end) are unchanged.
//! - An idle process sleeps: an idle listener, an idle connected client,
//!   and a client waiting for its peer use no CPU (utime + stime from
//!   /proc/PID/stat over more than a second, at most 2 ticks).

mod common;
use common::*;

fn connected_client(net: &Net, s: &Server) -> Proc {
    let port = s.port_str();
    let p = net.nc(&["127.0.0.1", &port]).stdin(Input::Pipe).spawn();
    let deadline = std::time::Instant::now() + secs(5);
    while s.conns() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(ms(5));
    }
    assert_eq!(s.conns(), 1, "the client never connected");
    p
}

fn dies_by(sig: i32) {
    let net = Net::new("dies_by");
    let s = net.one(|mut c: Conn| {
        c.read_to_eof(secs(10));
    });
    let mut p = connected_client(&net, &s);
    p.write_stdin(b"hello\n").unwrap();
    assert!(s.wait_received(6, secs(3)), "data did not reach the server");
    std::thread::sleep(ms(200)); // let it settle in its relay loop
    let before = p.stdin_flags_at_spawn();
    p.signal(sig);
    let o = p.expect_exit(secs(3));
    assert_eq!(o.signal(), Some(sig), "expected death by signal {sig}: {o}");
    let after = p.stdin_flags();
    assert_eq!(
        before, after,
        "stdin file-status flags changed: {before:#o} before, {after:#o} after"
    );
    assert_bytes("stderr", b"", &o.stderr);
}

#[test]
fn sigint_kills_connected_client_by_sigint() {
    dies_by(libc::SIGINT);
}

#[test]
fn sigterm_kills_connected_client_by_sigterm() {
    dies_by(libc::SIGTERM);
}

/// An idle listener dies by SIGINT too.
#[test]
fn sigint_kills_idle_listener() {
    let net = Net::new("sigint_kills_i");
    let p = free_port();
    let mut srv = net.nc(&["-l", &p.to_string()]).stdin(Input::Pipe).spawn();
    net.expect_listen(&mut srv, p);
    let before = srv.stdin_flags_at_spawn();
    srv.signal(libc::SIGINT);
    let o = srv.expect_exit(secs(3));
    assert_eq!(
        o.signal(),
        Some(libc::SIGINT),
        "expected death by SIGINT: {o}"
    );
    assert_eq!(before, srv.stdin_flags(), "stdin file-status flags changed");
}

/// CPU ticks used over `window`, once the process has settled.
fn idle_ticks(p: &Proc, window: std::time::Duration) -> u64 {
    std::thread::sleep(ms(300));
    let a = p.cpu_ticks().expect("read /proc/PID/stat");
    std::thread::sleep(window);
    let b = p.cpu_ticks().expect("read /proc/PID/stat");
    b - a
}

#[test]
fn idle_listener_uses_no_cpu() {
    let net = Net::new("idle_listener_");
    let p = free_port();
    let mut srv = net.nc(&["-l", &p.to_string()]).stdin(Input::Pipe).spawn();
    net.expect_listen(&mut srv, p);
    let t = idle_ticks(&srv, ms(1200));
    srv.expect_running(ms(1));
    assert!(t <= 2, "an idle listener used {t} ticks of CPU in 1.2 s");
}

#[test]
fn idle_connected_client_uses_no_cpu() {
    let net = Net::new("idle_connected");
    let s = net.one(|mut c: Conn| {
        c.read_to_eof(secs(10));
    });
    let mut p = connected_client(&net, &s);
    let t = idle_ticks(&p, ms(1200));
    p.expect_running(ms(1));
    assert!(
        t <= 2,
        "an idle connected client used {t} ticks of CPU in 1.2 s"
    );
}

/// stdin ended without -N: the client waits for its peer, asleep
/// (OpenBSD's run-tcp-sleep regression test).
#[test]
fn client_waiting_for_peer_uses_no_cpu() {
    let net = Net::new("client_waiting");
    let s = net.one(|mut c: Conn| {
        c.read_to_eof(secs(10));
    });
    let port = s.port_str();
    let mut p = net.nc(&["127.0.0.1", &port]).stdin_bytes(b"x\n").spawn();
    assert!(s.wait_received(2, secs(3)));
    let t = idle_ticks(&p, ms(1200));
    p.expect_running(ms(1));
    assert!(
        t <= 2,
        "a client waiting for its peer used {t} ticks of CPU in 1.2 s"
    );
}

/// A listener whose client has gone quiet, stdin at EOF: asleep too.
#[test]
fn listener_with_quiet_client_uses_no_cpu() {
    let net = Net::new("listener_with_");
    let p = free_port();
    let mut srv = net.nc(&["-l", &p.to_string()]).spawn();
    net.expect_listen(&mut srv, p);
    let _c = net.connect(&format!("127.0.0.1:{p}"));
    let t = idle_ticks(&srv, ms(1200));
    srv.expect_running(ms(1));
    assert!(
        t <= 2,
        "a listener with a quiet client used {t} ticks of CPU in 1.2 s"
    );
}
