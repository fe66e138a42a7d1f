//! Faults (issue #8, "Faults and load"): slow, stalled and vanishing peers
//! and local ends, resets mid-transfer, file-descriptor exhaustion, closed
//! standard descriptors.
//!
//! What every test checks, besides the exit status and messages of nc:
//! - every byte arrives, in order (a [`Pattern`] stream checked as it
//!   arrives), or with a reset, every byte the kernel had already
//!   received (departure 5 of docs/compatibility.md);
//! - while blocked, memory stays bounded (VmHWM from /proc/PID/status, with
//!   a source of 64 MiB: back-pressure, never unbounded buffering) and no
//!   CPU is used (utime + stime ticks over the stall);
//! - both data paths: kernel pipes with splice(2), and copying
//!   (`NCRAB_NO_SPLICE=1`).
//!
//! Where nc.openbsd is installed, the same scenario runs against it too and
//! the exit status and stderr must be the same. Tests with listeners run in
//! private network namespaces ([`Net`]). Measured figures are printed as
//! `FIGURE` lines.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

/// The source that must never be buffered whole.
const BIG: u64 = 64 << 20;
/// A bound on the peak resident set of a blocked relay: far below BIG.
const HWM_LIMIT_KIB: u64 = 16 * 1024;
/// CPU ticks allowed while blocked for about a second (a spinning loop
/// would use about 100 per second).
const IDLE_TICKS: u64 = 3;

/// Both data paths: (label, NCRAB_NO_SPLICE value).
const PATHS: [(&str, &str); 2] = [("splice", "0"), ("copy", "1")];

fn ticks(p: &Proc) -> u64 {
    p.cpu_ticks().expect("read /proc/PID/stat")
}

// ---------------------------------------------------------------------------
// Slow and stalled peers
// ---------------------------------------------------------------------------

/// A peer that reads nothing for a second and a half with a tiny receive
/// buffer (its window is zero, the kernel sends persist probes), then 1
/// byte per 10 ms for half a second, then everything: ncrab's memory stays
/// bounded, it sleeps, and all 64 MiB arrive. stdin is a pipe (fed by a
/// writer that blocks too) or a regular file (always readable: only the
/// full buffer may stop the reading).
#[test]
fn stalled_network_reader() {
    let dir = TempDir::new("stall_net");
    let pat = Pattern::new(1);
    let file = dir.join("src");
    pat.file(&file, BIG);
    for (path, no_splice) in PATHS {
        for from_file in [false, true] {
            let net = Net::new("stall_net");
            let l = net.listen("127.0.0.1:0").expect("listen");
            set_rcvbuf(&l, 4096);
            let port = l.local_addr().unwrap().port().to_string();
            let input = if from_file {
                Input::File(file.clone())
            } else {
                Input::Pattern(pat.clone(), BIG)
            };
            let mut p = net
                .nc(&["-N", "127.0.0.1", &port])
                .stdin(input)
                .env("NCRAB_NO_SPLICE", no_splice)
                .spawn();
            let mut conn = accept_within(&l, secs(5));
            let mut chk = pat.checker();
            let what = format!("{path}, stdin {}", if from_file { "file" } else { "pipe" });

            // Zero window: ncrab fills what it can, then must sleep.
            thread::sleep(ms(300));
            let t0 = ticks(&p);
            thread::sleep(ms(1200));
            let stall_ticks = ticks(&p) - t0;

            // 1 byte per 10 ms.
            let t1 = ticks(&p);
            let mut one = [0u8; 1];
            for _ in 0..50 {
                conn.read_exact(&mut one).expect("slow read");
                chk.feed(&one);
                thread::sleep(ms(10));
            }
            let slow_ticks = ticks(&p) - t1;
            let hwm = p.status_kib("VmHWM").expect("VmHWM");

            // Then everything, as fast as it comes.
            let start = Instant::now();
            assert!(
                read_checked(&mut conn, &mut chk, secs(30)),
                "{what}: no EOF"
            );
            let fast = start.elapsed();
            drop(conn);
            let o = p.expect_exit(secs(5));
            o.assert(0, b"", b"");
            chk.assert_exact(&what, BIG);
            figure(&format!(
                "{what}: {BIG} bytes; VmHWM {hwm} KiB; CPU ticks: {stall_ticks} in a 1.2 s stall, {slow_ticks} in 0.5 s of 1-byte reads; the rest in {fast:?}"
            ));
            assert!(hwm < HWM_LIMIT_KIB, "{what}: VmHWM {hwm} KiB while blocked");
            assert!(
                stall_ticks <= IDLE_TICKS,
                "{what}: {stall_ticks} ticks stalled"
            );
            assert!(
                slow_ticks <= IDLE_TICKS,
                "{what}: {slow_ticks} ticks, slow reader"
            );
        }
    }
}

/// An endless, always-ready source (`< /dev/zero`) and a peer that stops
/// reading: ncrab sleeps with bounded memory; when the peer closes after
/// 64 MiB, the next write draws an RST and ncrab ends, status 0.
#[test]
fn endless_source_into_a_stalled_peer() {
    for (path, no_splice) in PATHS {
        let net = Net::new("zero_src");
        let l = net.listen("127.0.0.1:0").expect("listen");
        let port = l.local_addr().unwrap().port().to_string();
        let mut p = net
            .nc(&["127.0.0.1", &port])
            .stdin(Input::File("/dev/zero".into()))
            .env("NCRAB_NO_SPLICE", no_splice)
            .spawn();
        let mut conn = accept_within(&l, secs(5));
        thread::sleep(ms(300));
        let t0 = ticks(&p);
        thread::sleep(ms(1000));
        let stall_ticks = ticks(&p) - t0;
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        while got < BIG {
            let n = conn.read(&mut buf).expect("read");
            assert!(
                n > 0 && buf[..n].iter().all(|&b| b == 0),
                "{path}: bad data"
            );
            got += n as u64;
        }
        let hwm = p.status_kib("VmHWM").expect("VmHWM");
        drop(conn);
        let o = p.expect_exit(secs(5));
        o.assert(0, b"", b"");
        figure(&format!(
            "{path}: /dev/zero into a stalled peer: {stall_ticks} CPU ticks in 1 s, VmHWM {hwm} KiB; {got} bytes read, then the peer closed"
        ));
        assert!(hwm < HWM_LIMIT_KIB, "{path}: VmHWM {hwm} KiB");
        assert!(
            stall_ticks <= IDLE_TICKS,
            "{path}: {stall_ticks} ticks stalled"
        );
    }
}

/// A pipe already full before ncrab starts, then read by nobody for 1.2 s,
/// then 1 byte per 10 ms for half a second, then everything: the other direction of the
/// same guarantees (stdout a full pipe; network data waits in the kernel).
#[test]
fn stalled_stdout_reader() {
    for (path, no_splice) in PATHS {
        let net = Net::new("stall_out");
        let l = net.listen("127.0.0.1:0").expect("listen");
        let port = l.local_addr().unwrap().port().to_string();
        let pat = Pattern::new(2);
        let pat2 = pat.clone();
        let server = thread::spawn(move || {
            let mut c = accept_within(&l, secs(5));
            c.set_write_timeout(Some(secs(30))).unwrap();
            let r = pat2.write_to(&mut c, 0, BIG);
            r.is_ok()
        });

        let (r, w) = pipe();
        // SAFETY: F_GETPIPE_SZ on our own pipe.
        let cap = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) } as usize;
        let mut wf = std::fs::File::from(w);
        wf.write_all(&vec![b'#'; cap]).expect("fill the pipe");
        let w = std::os::fd::OwnedFd::from(wf);
        let mut p = net
            .nc(&["127.0.0.1", &port])
            .stdout(OutputTo::Fd(w))
            .env("NCRAB_NO_SPLICE", no_splice)
            .spawn();
        let mut r = std::fs::File::from(r);

        thread::sleep(ms(300));
        let t0 = ticks(&p);
        thread::sleep(ms(1200));
        let stall_ticks = ticks(&p) - t0;

        // The prefix that filled the pipe, 1 byte per 10 ms, then the rest.
        let t1 = ticks(&p);
        let mut one = [0u8; 1];
        for _ in 0..50 {
            r.read_exact(&mut one).expect("slow read");
            assert_eq!(one[0], b'#');
            thread::sleep(ms(10));
        }
        let slow_ticks = ticks(&p) - t1;
        let hwm = p.status_kib("VmHWM").expect("VmHWM");
        let mut prefix = vec![0u8; cap - 50];
        r.read_exact(&mut prefix).expect("read the prefix");
        assert!(prefix.iter().all(|&b| b == b'#'));
        let mut chk = pat.checker();
        assert!(read_checked(&mut r, &mut chk, secs(30)), "no EOF on stdout");
        assert!(
            server.join().unwrap(),
            "the server could not send everything"
        );
        let o = p.expect_exit(secs(5));
        o.assert(0, b"", b"");
        chk.assert_exact(path, BIG);
        figure(&format!(
            "{path}: {BIG} bytes behind a full {cap}-byte pipe; VmHWM {hwm} KiB; CPU ticks: {stall_ticks} stalled 1.2 s, {slow_ticks} in 0.5 s of 1-byte reads"
        ));
        assert!(hwm < HWM_LIMIT_KIB, "{path}: VmHWM {hwm} KiB while blocked");
        assert!(
            stall_ticks <= IDLE_TICKS,
            "{path}: {stall_ticks} ticks stalled"
        );
        assert!(
            slow_ticks <= IDLE_TICKS,
            "{path}: {slow_ticks} ticks, slow reader"
        );
    }
}

/// Writers that pause, on both sides at once: stdin gives 256 KiB every
/// 150 ms, the peer does the same; everything arrives both ways, and the
/// pauses cost no CPU.
#[test]
fn pausing_writers_both_ways() {
    const CHUNK: u64 = 256 << 10;
    const N: u64 = 8;
    for (path, no_splice) in PATHS {
        let net = Net::new("pausing");
        let l = net.listen("127.0.0.1:0").expect("listen");
        let port = l.local_addr().unwrap().port().to_string();
        let up = Pattern::new(3);
        let down = Pattern::new(4);
        let chunks: Vec<(Duration, Vec<u8>)> = (0..N)
            .map(|i| {
                let mut b = vec![0u8; CHUNK as usize];
                up.fill(i * CHUNK, &mut b);
                (ms(150), b)
            })
            .collect();
        let mut p = net
            .nc(&["-N", "127.0.0.1", &port])
            .stdin(Input::Slow(chunks))
            .stdout(OutputTo::Pipe)
            .env("NCRAB_NO_SPLICE", no_splice)
            .spawn();
        let mut out = p.take_stdout();
        let conn = accept_within(&l, secs(5));
        let mut wconn = conn.try_clone().unwrap();
        let d2 = down.clone();
        let writer = thread::spawn(move || {
            for i in 0..N {
                thread::sleep(ms(150));
                if d2.write_to(&mut wconn, i * CHUNK, CHUNK).is_err() {
                    return false;
                }
            }
            wconn.shutdown(Shutdown::Write).is_ok()
        });
        let mut rconn = conn;
        let u2 = up.clone();
        let reader = thread::spawn(move || {
            let mut chk = u2.checker();
            let eof = read_checked(&mut rconn, &mut chk, secs(20));
            (eof, chk)
        });
        let t0 = ticks(&p);
        let mut chk_down = down.checker();
        assert!(
            read_checked(&mut out, &mut chk_down, secs(20)),
            "no EOF on stdout"
        );
        let used = ticks(&p) - t0;
        assert!(writer.join().unwrap(), "the peer could not send");
        let (eof, chk_up) = reader.join().unwrap();
        assert!(eof, "the peer saw no EOF");
        let o = p.expect_exit(secs(5));
        o.assert(0, b"", b"");
        chk_up.assert_exact("stdin to the peer", N * CHUNK);
        chk_down.assert_exact("the peer to stdout", N * CHUNK);
        figure(&format!(
            "{path}: {} bytes each way in {N} bursts 150 ms apart; {used} CPU ticks in all",
            N * CHUNK
        ));
        assert!(used <= 10, "{path}: {used} ticks for {N} paused bursts");
    }
}

// ---------------------------------------------------------------------------
// Resets and aborts mid-transfer
// ---------------------------------------------------------------------------

/// Who runs the scenario: ncrab (both data paths) and, for comparison of
/// the exit status and stderr, nc.openbsd.
/// ncrab itself (whatever `NCRAB_TEST_BIN` says: these are ncrab's
/// guarantees) with `NCRAB_NO_SPLICE` set to the value given, or
/// nc.openbsd.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Ncrab(&'static str),
    OpenBsd,
}

fn runners() -> Vec<Who> {
    let mut v: Vec<Who> = PATHS.iter().map(|(_, ns)| Who::Ncrab(ns)).collect();
    if std::path::Path::new(NC_OPENBSD).exists() {
        v.push(Who::OpenBsd);
    } else {
        skip_or_fail_in_ci("nc.openbsd is not installed: no comparison");
    }
    v
}

fn cmd(net: &Net, who: Who, args: &[&str]) -> Cmd {
    match who {
        Who::Ncrab(no_splice) => net.wrap(Cmd::ncrab(args)).env("NCRAB_NO_SPLICE", no_splice),
        Who::OpenBsd => net.openbsd(args),
    }
}

/// Sends as much of `pat` (up to `max`) as the peer's window takes, then,
/// once nothing more moves, resets. Returns (bytes written, bytes the peer
/// had acknowledged = already in its kernel when the RST left).
fn send_then_reset(mut c: TcpStream, pat: &Pattern, max: u64) -> (u64, u64) {
    c.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut sent = 0u64;
    let mut last_progress = Instant::now();
    let deadline = Instant::now() + secs(10);
    while sent < max && last_progress.elapsed() < ms(300) && Instant::now() < deadline {
        let n = (max - sent).min(buf.len() as u64) as usize;
        pat.fill(sent, &mut buf[..n]);
        match c.write(&buf[..n]) {
            Ok(k) => {
                sent += k as u64;
                last_progress = Instant::now();
            }
            Err(_) => thread::sleep(ms(2)),
        }
    }
    // Wait until the queue is stable (acked, or stuck behind a zero window).
    let mut q = unacked(&c);
    for _ in 0..50 {
        thread::sleep(ms(20));
        let q2 = unacked(&c);
        if q2 == q && q2 == 0 {
            break;
        }
        q = q2;
    }
    let acked = sent - q as u64;
    reset(c);
    (sent, acked)
}

/// The peer sends while ncrab's stdout is stalled, then resets: every byte
/// the peer's kernel saw acknowledged (ncrab's kernel had it) reaches
/// stdout (departure 5), the status is 0 and nothing is printed, as nc.
/// nc.openbsd's status and stderr are the same; it may lose the bytes.
#[test]
fn reset_by_the_sender_loses_nothing_received() {
    for who in runners() {
        for listen in [false, true] {
            let net = Net::new("rst_recv");
            let pat = Pattern::new(5);
            let port = free_port();
            let ps = port.to_string();
            // The peer connects (ncrab listens) or accepts (ncrab connects).
            let (mut p, conn) = if listen {
                let mut p = cmd(&net, who, &["-l", &ps])
                    .stdin(Input::Pipe)
                    .stdout(OutputTo::Pipe)
                    .spawn();
                net.expect_listen(&mut p, port);
                let c = net.connect(&format!("127.0.0.1:{port}"));
                (p, c)
            } else {
                let l = net.listen(&format!("127.0.0.1:{port}")).unwrap();
                let p = cmd(&net, who, &["127.0.0.1", &ps])
                    .stdin(Input::Pipe)
                    .stdout(OutputTo::Pipe)
                    .spawn();
                let c = accept_within(&l, secs(5));
                (p, c)
            };
            let mut out = p.take_stdout();
            // Let ncrab settle in its relay, reading nothing from stdin.
            thread::sleep(ms(100));
            let (sent, acked) = send_then_reset(conn, &pat, 8 << 20);
            thread::sleep(ms(100)); // the RST is in before stdout moves
            let mut chk = pat.checker();
            assert!(
                read_checked(&mut out, &mut chk, secs(10)),
                "{who:?}: no EOF"
            );
            let o = p.expect_exit(secs(5));
            o.assert(0, b"", b"");
            let got = chk.len();
            figure(&format!(
                "{who:?} listen={listen}: peer wrote {sent}, {acked} acknowledged, then RST; stdout got {got}"
            ));
            if who != Who::OpenBsd {
                chk.assert_exact(&format!("{who:?} listen={listen}"), got);
                assert!(
                    got >= acked && got <= sent,
                    "{who:?} listen={listen}: {got} bytes on stdout, {acked} were acknowledged"
                );
            }
        }
    }
}

/// ncrab sends 64 MiB (stdin) to a peer that reads 1 MiB, then resets; a
/// banner the peer sent first reaches stdout. ncrab stops at once: exit 0,
/// nothing on stderr (no SIGPIPE, no message), in both roles, as nc.
#[test]
fn reset_by_the_receiver_ends_the_sender_quietly() {
    for who in runners() {
        for listen in [false, true] {
            let net = Net::new("rst_send");
            let pat = Pattern::new(6);
            let port = free_port();
            let ps = port.to_string();
            let input = Input::Pattern(pat.clone(), BIG);
            let (mut p, mut conn) = if listen {
                let mut p = cmd(&net, who, &["-l", &ps]).stdin(input).spawn();
                net.expect_listen(&mut p, port);
                let c = net.connect(&format!("127.0.0.1:{port}"));
                (p, c)
            } else {
                let l = net.listen(&format!("127.0.0.1:{port}")).unwrap();
                let p = cmd(&net, who, &["127.0.0.1", &ps]).stdin(input).spawn();
                (p, accept_within(&l, secs(5)))
            };
            conn.write_all(b"banner\n").unwrap();
            let mut chk = pat.checker();
            let mut buf = vec![0u8; 64 << 10];
            while chk.len() < 1 << 20 {
                let n = conn.read(&mut buf).expect("read from ncrab");
                assert!(n > 0, "{who:?}: EOF before 1 MiB");
                chk.feed(&buf[..n]);
            }
            assert!(p.wait_stdout(b"banner\n", secs(5)), "{who:?}: banner lost");
            let at = Instant::now();
            reset(conn);
            let o = p.expect_exit(secs(5));
            figure(&format!(
                "{who:?} listen={listen}: reset after {} bytes; exited in {:?}",
                chk.len(),
                at.elapsed()
            ));
            o.assert(0, b"banner\n", b"");
            chk.assert_exact(&format!("{who:?}"), chk.len());
        }
    }
}

// ---------------------------------------------------------------------------
// Out of file descriptors: EMFILE and ENFILE
// ---------------------------------------------------------------------------

/// What `who` prints and returns with these faults injected.
fn outcome_with(net: &Net, who: Who, args: &[&str], faults: &[Fault]) -> Outcome {
    cmd(net, who, args).faults(faults).run(secs(10))
}

/// socket() fails for every address (EMFILE: the process limit; ENFILE:
/// the system's file table, which a test cannot fill without harming the
/// machine, so both are injected). nc skips such an address silently, in
/// a scan as in a connect: no line, exit 1. ncrab prints the same.
#[test]
fn no_socket_for_any_address_is_skipped_silently_as_nc() {
    let net = Net::new("nosock");
    let p1 = free_port().to_string();
    let p2 = free_port().to_string();
    let range = format!("{p1}-{}", p1.parse::<u16>().unwrap() + 2);
    let cases: Vec<Vec<&str>> = vec![
        vec!["-z", "127.0.0.1", &range],
        vec!["-zv", "127.0.0.1", &range],
        vec!["-zvw1", "localhost", &p1, &p2],
        vec!["-v", "127.0.0.1", &p1],
        vec!["-vw1", "localhost", &p1],
    ];
    for errno in [libc::EMFILE, libc::ENFILE] {
        for args in &cases {
            let faults = Fault::inet_socket(errno);
            let o = outcome_with(&net, Who::Ncrab("0"), args, &faults);
            o.assert(1, b"", b"");
            if std::path::Path::new(NC_OPENBSD).exists() {
                let n = outcome_with(&net, Who::OpenBsd, args, &faults);
                n.assert(1, b"", b"");
            } else {
                skip_or_fail_in_ci("nc.openbsd is not installed: no comparison");
            }
        }
    }
}

/// The highest open fd + 1 of a listening child: the `ulimit -n` at which
/// its next accept() fails with EMFILE.
fn fds_in_use(p: &Proc) -> u64 {
    p.fds()
        .iter()
        .map(|(n, _)| *n as u64 + 1)
        .max()
        .unwrap_or(0)
}

/// A listener that cannot accept (EMFILE from a real `ulimit -n`, ENFILE
/// injected): `nc: accept: ...`, exit 1, as nc, at once: nc blocks in
/// accept(), which fails before any client comes when no descriptor is
/// free; with `-k` too (no retry loop). A listener that cannot even make
/// its socket: nc's bare `nc: strerror` line.
#[test]
fn listener_out_of_descriptors_fails_as_nc() {
    let mut whos = vec![Who::Ncrab("0")];
    if std::path::Path::new(NC_OPENBSD).exists() {
        whos.push(Who::OpenBsd);
    } else {
        skip_or_fail_in_ci("nc.openbsd is not installed: no comparison");
    }
    for who in whos {
        for keep in [false, true] {
            let flag = if keep { "-lk" } else { "-l" };
            // How many fds the listener holds, measured without a limit.
            let net = Net::new("acc_emfile");
            let port = free_port();
            let ps = port.to_string();
            let mut p = cmd(&net, who, &[flag, &ps]).stdin(Input::Pipe).spawn();
            net.expect_listen(&mut p, port);
            let limit = fds_in_use(&p);
            p.kill();

            let (o, used) = cmd(&net, who, &[flag, &ps])
                .stdin(Input::Pipe)
                .nofile(limit)
                .spawn()
                .expect_exit_ticks(secs(5));
            o.assert(1, b"", b"nc: accept: Too many open files\n");
            assert!(used <= 5, "{used} CPU ticks");
            figure(&format!(
                "{who:?} {flag}: accept fails at ulimit -n {limit}, {used} CPU ticks"
            ));

            let o = outcome_with(&net, who, &[flag, &ps], &Fault::accept(libc::ENFILE));
            o.assert(1, b"", b"nc: accept: Too many open files in system\n");

            for (errno, text) in [
                (libc::EMFILE, "Too many open files"),
                (libc::ENFILE, "Too many open files in system"),
            ] {
                let o = outcome_with(&net, who, &[flag, &ps], &Fault::inet_socket(errno));
                o.assert(1, b"", format!("nc: {text}\n").as_bytes());
            }
        }
    }
}

/// `ulimit -n` just large enough to accept: the kernel pipes of the splice
/// path cannot be made, so ncrab copies instead; every byte of every `-k`
/// session arrives and the listener's descriptors stay as they were.
#[test]
fn listener_at_the_fd_limit_still_relays_every_byte() {
    const SIZE: u64 = 4 << 20;
    let net = Net::new("acc_tight");
    let port = free_port();
    let ps = port.to_string();
    let mut p = cmd(&net, Who::Ncrab("0"), &["-lk", &ps])
        .stdin(Input::Pipe)
        .spawn();
    net.expect_listen(&mut p, port);
    let limit = fds_in_use(&p) + 1;
    p.kill();

    let pat = Pattern::new(7);
    let mut p = cmd(&net, Who::Ncrab("0"), &["-lk", &ps])
        .stdin(Input::Pipe)
        .stdout(OutputTo::Pipe)
        .nofile(limit)
        .spawn();
    net.expect_listen(&mut p, port);
    let before = p.settled_fds();
    let mut out = p.take_stdout();
    let reader = thread::spawn(move || {
        let mut chk = Pattern::new(7).checker();
        read_checked(&mut out, &mut chk, secs(30));
        chk
    });
    for i in 0..3 {
        let mut c = net.connect(&format!("127.0.0.1:{port}"));
        pat.write_to(&mut c, i * SIZE, SIZE).expect("send");
        c.shutdown(Shutdown::Write).unwrap();
        let (_, eof) = read_until_eof(&mut c, secs(10));
        assert!(eof, "session {i} did not end");
    }
    let after = p.settled_fds();
    p.signal(libc::SIGTERM);
    let o = p.expect_exit(secs(5));
    assert_eq!(o.signal(), Some(libc::SIGTERM), "{o}");
    let chk = reader.join().unwrap();
    chk.assert_exact("three sessions at the fd limit", 3 * SIZE);
    assert_eq!(before, after, "the listener's descriptors changed");
    figure(&format!(
        "ulimit -n {limit}: 3 sessions x {SIZE} bytes by copying; fds {} before and after",
        before.len()
    ));
}

/// A scan whose window is cut by EMFILE while every probe waits for its
/// `-w` timer (a silent address): the scan waits, asleep, and reports
/// every port in order.
#[test]
fn scan_back_pressure_sleeps_while_probes_wait() {
    let net = Net::new("scan_emfile");
    let Some(ip) = net.silent_ip() else {
        return;
    };
    // Room for about 6 probes beside what the scanner holds.
    let port = free_port();
    let mut p = cmd(&net, Who::Ncrab("0"), &["-lk", &port.to_string()])
        .stdin(Input::Null)
        .spawn();
    net.expect_listen(&mut p, port);
    let base = fds_in_use(&p);
    p.kill();
    let limit = base + 6;
    let first = 20000u16;
    let last = first + 17;
    let range = format!("{first}-{last}");
    let mut p = cmd(
        &net,
        Who::Ncrab("0"),
        &["-zv", "-w", "1", "--window", "64", ip, &range],
    )
    .nofile(limit)
    .spawn();
    let (o, used) = p.expect_exit_ticks(secs(20));
    let mut want = String::new();
    for port in first..=last {
        want.push_str(&format!(
            "nc: connect to {ip} port {port} (tcp) timed out: Operation now in progress\n"
        ));
    }
    o.assert(1, b"", want.as_bytes());
    figure(&format!(
        "ulimit -n {limit}: 18 silent ports, -w 1, in {:?}, {used} CPU ticks",
        o.elapsed
    ));
    // A few at a time: several rounds of one second, not one.
    assert!(
        o.elapsed >= ms(1900),
        "the window was not cut: {:?}",
        o.elapsed
    );
    assert!(used <= 10, "{used} CPU ticks while waiting for timers");
}

// ---------------------------------------------------------------------------
// Standard descriptors closed, full, or closed under way
// ---------------------------------------------------------------------------

/// nc started with stdin, stdout and/or stderr closed (`<&-`, `>&-`,
/// `2>&-`). ncrab opens /dev/null on them first (departure 7), so the
/// socket never becomes fd 0, 1 or 2: the peer receives exactly the data
/// (never the `-v` line, never its own bytes echoed), and the status is
/// nc's (0). nc.openbsd gives the same status; what its peer received is
/// printed as a figure (its socket takes the lowest closed fd).
#[test]
fn closed_standard_descriptors_at_start() {
    // (stdin closed, stdout closed, stderr closed)
    let cases = [
        (true, false, false),
        (false, true, false),
        (false, false, true),
        (true, true, true),
    ];
    let mut whos = vec![Who::Ncrab("0")];
    if std::path::Path::new(NC_OPENBSD).exists() {
        whos.push(Who::OpenBsd);
    } else {
        skip_or_fail_in_ci("nc.openbsd is not installed: no comparison");
    }
    for who in whos {
        for (c_in, c_out, c_err) in cases {
            let net = Net::new("closed_std");
            let s = net.one(|mut c: Conn| {
                c.send(b"banner\n");
                c.read_to_eof(secs(1));
            });
            let port = s.port_str();
            let mut c = cmd(&net, who, &["-v", "-N", "127.0.0.1", &port]);
            c = c.stdin(if c_in {
                Input::Closed
            } else {
                Input::Bytes(b"data\n".to_vec())
            });
            if c_out {
                c = c.stdout(OutputTo::Closed);
            }
            if c_err {
                c = c.stderr_closed();
            }
            let o = c.run(secs(5));
            assert!(s.wait_done(secs(5)));
            let got = s.received();
            figure(&format!(
                "{who:?} stdin closed {c_in}, stdout closed {c_out}, stderr closed {c_err}: exit {:?}, peer received {}",
                o.code(),
                escape(&got)
            ));
            o.assert_code(0);
            if who == Who::OpenBsd {
                continue;
            }
            let want: &[u8] = if c_in { b"" } else { b"data\n" };
            assert_bytes("what the peer received", want, &got);
            assert_bytes("stdout", if c_out { b"" } else { b"banner\n" }, &o.stdout);
            if !c_err {
                assert!(o.stderr_str().contains("succeeded!"), "{o}");
            }
        }
    }
}

/// What one run of [`stdout_closed_under_way`] saw.
#[derive(Debug, PartialEq)]
struct AfterEpipe {
    /// Still running 300 ms after stdout's reader went away, stdin open.
    running: bool,
    code: Option<i32>,
    stderr: String,
}

/// stdout's reader goes away in the middle of a transfer (EPIPE; SIGPIPE is
/// ignored, as nc ignores it): no panic, no message. nc then stops reading
/// the network but keeps sending stdin until its EOF (docs/compatibility.md
/// §6.1: rule a needs stdin gone), then exits 0. A listener does the same
/// while it holds network data it could not deliver (rule c needs both
/// buffers empty); nc.openbsd's 16 KiB buffer is often empty at that moment
/// (it alternates read and write), and it then ends at once. ncrab's
/// buffer is rarely empty then, but can be (stdout's POLLERR seen before
/// any write failed), and it then ends just as nc does: so for a listener
/// only the status and stderr are compared, and stdin's delivery only
/// when it went on.
#[test]
fn stdout_closed_under_way() {
    for who in runners() {
        for listen in [false, true] {
            let net = Net::new("epipe");
            let pat = Pattern::new(8);
            let port = free_port();
            let ps = port.to_string();
            let (mut p, conn) = if listen {
                let mut p = cmd(&net, who, &["-l", &ps])
                    .stdin(Input::Pipe)
                    .stdout(OutputTo::Pipe)
                    .spawn();
                net.expect_listen(&mut p, port);
                (p, net.connect(&format!("127.0.0.1:{port}")))
            } else {
                let l = net.listen(&format!("127.0.0.1:{port}")).unwrap();
                let p = cmd(&net, who, &["127.0.0.1", &ps])
                    .stdin(Input::Pipe)
                    .stdout(OutputTo::Pipe)
                    .spawn();
                (p, accept_within(&l, secs(5)))
            };
            let mut w = conn.try_clone().unwrap();
            w.set_write_timeout(Some(secs(10))).unwrap();
            let p2 = pat.clone();
            let writer = thread::spawn(move || {
                let _ = p2.write_to(&mut w, 0, BIG);
            });
            let mut r = conn;
            let reader = thread::spawn(move || read_until_eof(&mut r, secs(10)).0);

            let mut out = p.take_stdout();
            let mut chk = pat.checker();
            let mut buf = vec![0u8; 64 << 10];
            while chk.len() < 1 << 20 {
                let n = out.read(&mut buf).expect("read stdout");
                assert!(n > 0, "{who:?}: stdout ended early");
                chk.feed(&buf[..n]);
            }
            chk.assert_exact(&format!("{who:?}"), chk.len());
            drop(out);
            thread::sleep(ms(300));
            let running = !p.exited();
            let mut idle = None;
            if running {
                let t0 = ticks(&p);
                thread::sleep(ms(600));
                idle = p.cpu_ticks().map(|t| t - t0);
                let _ = p.write_stdin(b"bye\n");
            }
            p.close_stdin();
            let o = p.expect_exit(secs(5));
            let seen = AfterEpipe {
                running,
                code: o.code(),
                stderr: o.stderr_str(),
            };
            let peer_got = {
                drop(p);
                let _ = writer.join();
                reader.join().unwrap()
            };
            figure(&format!(
                "{who:?} listen={listen}: {seen:?}, CPU ticks in 0.6 s after EPIPE: {idle:?}, peer got {}",
                escape(&peer_got)
            ));
            let want = AfterEpipe {
                running: seen.running,
                code: Some(0),
                stderr: String::new(),
            };
            assert_eq!(seen, want, "{who:?} listen={listen}");
            if !listen {
                assert!(
                    seen.running,
                    "{who:?} listen={listen}: ended with stdin open"
                );
            }
            if who != Who::OpenBsd && seen.running {
                assert_bytes("stdin after EPIPE", b"bye\n", &peer_got);
                assert!(
                    idle.unwrap_or(99) <= IDLE_TICKS,
                    "{idle:?} ticks after EPIPE"
                );
            }
        }
    }
}

/// `-h`, `--version` and `--generate` write to stdout (departure 1): a
/// reader that went away is fine (exit 0, silent, like `--generate man |
/// head`); a full disk is reported. Never a panic.
#[test]
fn printed_texts_survive_a_vanished_or_full_stdout() {
    if !is_ncrab() {
        return;
    }
    for args in [&["-h"][..], &["--version"], &["--generate", "man"]] {
        let (r, w) = pipe();
        drop(r);
        let o = Cmd::nc(args).stdout(OutputTo::Fd(w)).run(secs(5));
        o.assert(0, b"", b"");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let o = Cmd::nc(args).stdout(OutputTo::Fd(full.into())).run(secs(5));
        let what = if args[0] == "--generate" {
            "--generate"
        } else {
            "stdout"
        };
        o.assert(
            1,
            b"",
            format!("nc: {what}: No space left on device\n").as_bytes(),
        );
    }
}
