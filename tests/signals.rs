//! Signals and idleness.
//!
//! - Ctrl-C (SIGINT) and SIGTERM kill nc by that same signal, so the shell
//!   sees a signal death (nc.openbsd has no handlers; ncrab cleans up and
//!   re-raises: departure 9 of docs/compatibility.md), and the file-status
//!   flags of stdin (a pipe; checked through our own dup of the child's read
//!   end) are unchanged. This holds in every mode: connect relay, listener
//!   (idle, in a session, `-k` between sessions), a `-z` scan in progress,
//!   UDP client and listener, `-lU` (its socket file is removed), `-Uu` (its
//!   temporary directory is removed), a proxy handshake waiting for its
//!   answer; with a terminal as stdin (its modes unchanged); and when the
//!   private reopening of stdin and stdout fails, so that ncrab has to set
//!   O_NONBLOCK on the shared descriptions: they are restored.
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

/// An idle listener dies by SIGINT and SIGTERM too.
#[test]
fn signals_kill_idle_listener() {
    for sig in SIGS {
        let net = Net::new("sigint_kills_i");
        let p = free_port();
        let mut srv = net.nc(&["-l", &p.to_string()]).stdin(Input::Pipe).spawn();
        net.expect_listen(&mut srv, p);
        expect_death(&mut srv, sig, "idle listener");
    }
}

const SIGS: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

/// Sends `sig`; the child must die by it within 3 s, with stdin's flags as
/// they were at spawn and nothing on stderr but what it printed before.
#[track_caller]
fn expect_death(p: &mut Proc, sig: i32, what: &str) -> Outcome {
    let err_before = p.stderr_now();
    std::thread::sleep(ms(100)); // settled in its loop
    p.signal(sig);
    let o = p.expect_exit(secs(3));
    assert_eq!(
        o.signal(),
        Some(sig),
        "{what}: expected death by {sig}: {o}"
    );
    let (before, after) = (p.stdin_flags_at_spawn(), p.stdin_flags());
    assert_eq!(
        before, after,
        "{what}, signal {sig}: stdin file-status flags {before:#o} before, {after:#o} after"
    );
    assert_bytes(what, &err_before, &o.stderr);
    o
}

/// A listener in a session, and a `-k` listener in a session and between
/// sessions.
#[test]
fn signals_kill_listener_in_and_between_sessions() {
    for sig in SIGS {
        for (flag, between) in [("-l", false), ("-lk", false), ("-lk", true)] {
            let net = Net::new("sig_session");
            let port = free_port();
            let mut srv = net
                .nc(&[flag, &port.to_string()])
                .stdin(Input::Pipe)
                .spawn();
            net.expect_listen(&mut srv, port);
            let mut c = net.connect(&format!("127.0.0.1:{port}"));
            std::io::Write::write_all(&mut c, b"hi\n").unwrap();
            assert!(srv.wait_stdout(b"hi\n", secs(3)));
            if between {
                drop(c);
                std::thread::sleep(ms(100));
                expect_death(&mut srv, sig, "-lk between sessions");
            } else {
                expect_death(&mut srv, sig, &format!("{flag} in a session"));
            }
        }
    }
}

/// A scan with probes in flight (a silent address, long `-w`).
#[test]
fn signals_kill_scan_in_progress() {
    for sig in SIGS {
        let net = Net::new("sig_scan");
        let Some(ip) = net.silent_ip() else {
            return;
        };
        let mut p = net
            .nc(&["-zv", "-w", "10", ip, "1-200"])
            .stdin(Input::Pipe)
            .spawn();
        std::thread::sleep(ms(300));
        p.expect_running(ms(1));
        expect_death(&mut p, sig, "scan in progress");
    }
}

/// A UDP client in its relay, and a UDP listener waiting for its first
/// datagram.
#[test]
fn signals_kill_udp_client_and_listener() {
    for sig in SIGS {
        let net = Net::new("sig_udp");
        let peer = net.run_in(|| std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
        let port = peer.local_addr().unwrap().port().to_string();
        let mut c = net
            .nc(&["-u", "127.0.0.1", &port])
            .stdin(Input::Pipe)
            .spawn();
        c.write_stdin(b"ping\n").unwrap();
        peer.set_read_timeout(Some(secs(3))).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = peer.recv_from(&mut buf).expect("the datagram");
        assert_eq!(&buf[..n], b"ping\n");
        peer.send_to(b"pong\n", from).unwrap();
        assert!(c.wait_stdout(b"pong\n", secs(3)));
        expect_death(&mut c, sig, "UDP client");

        let mut l = net
            .nc(&["-luv", "127.0.0.1", "0"])
            .stdin(Input::Pipe)
            .spawn();
        l.expect_listening(secs(3));
        expect_death(&mut l, sig, "UDP listener");
    }
}

/// `-lU`: the socket file goes with the listener; `-Uu`: the temporary
/// directory goes with the client (departure 4), on either signal.
#[test]
fn signals_clean_up_unix_sockets() {
    for sig in SIGS {
        let dir = TempDir::new("sigU");
        let path = dir.join("l.sock");
        let ps = path.to_str().unwrap();
        let mut l = Cmd::nc(&["-lU", ps]).stdin(Input::Pipe).spawn();
        let deadline = std::time::Instant::now() + secs(3);
        while !path.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(ms(5));
        }
        assert!(path.exists(), "no socket file");
        expect_death(&mut l, sig, "-lU listener");
        // Departure 4 (nc leaves its files behind).
        assert!(
            !is_ncrab() || !path.exists(),
            "signal {sig}: -lU left its socket file"
        );

        let target = dir.join("peer.sock");
        let _peer = std::os::unix::net::UnixDatagram::bind(&target).unwrap();
        let mut c = Cmd::nc(&["-Uuv", target.to_str().unwrap()])
            .stdin(Input::Pipe)
            .spawn();
        c.expect_stderr("Bound on ", secs(3));
        let err = c.stderr_now();
        let line = String::from_utf8_lossy(&err).into_owned();
        let bound = line
            .lines()
            .find_map(|l| l.strip_prefix("Bound on "))
            .expect("Bound on line")
            .to_string();
        let tmp = std::path::Path::new(&bound).parent().unwrap().to_path_buf();
        assert!(tmp.starts_with("/tmp") && tmp.exists(), "{bound}");
        expect_death(&mut c, sig, "-Uu client");
        assert!(
            !is_ncrab() || !tmp.exists(),
            "signal {sig}: -Uu left {}",
            tmp.display()
        );
    }
}

/// A proxy that accepts and never answers: the SOCKS5 and HTTP CONNECT
/// handshakes wait in the loop, and a signal ends them.
#[test]
fn signals_kill_proxy_handshake_waiting() {
    for sig in SIGS {
        for kind in ["5", "connect"] {
            let net = Net::new("sig_proxy");
            let s = net.one(|mut c: Conn| c.hold(secs(10)));
            let proxy = format!("127.0.0.1:{}", s.port());
            let mut p = net
                .nc(&["-X", kind, "-x", &proxy, "10.1.2.3", "80"])
                .stdin(Input::Pipe)
                .spawn();
            let deadline = std::time::Instant::now() + secs(3);
            while s.conns() == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(ms(5));
            }
            assert_eq!(s.conns(), 1, "never reached the proxy");
            expect_death(&mut p, sig, &format!("-X {kind} handshake"));
        }
    }
}

/// A terminal as stdin: its modes and file-status flags are as before.
#[test]
fn signals_leave_a_terminal_stdin_as_it_was() {
    for sig in SIGS {
        let net = Net::new("sig_tty");
        let s = net.one(|mut c: Conn| {
            c.read_to_eof(secs(10));
        });
        let pty = Pty::open().expect("a pseudo-terminal");
        let slave = pty.open_slave();
        let modes = termios_of(&slave);
        let mut p = net
            .nc(&["127.0.0.1", &s.port_str()])
            .stdin(Input::Fd(slave))
            .spawn();
        pty.type_text(b"typed\n");
        assert!(s.wait_received(6, secs(3)), "the typed line never arrived");
        expect_death(&mut p, sig, "tty stdin");
        assert_eq!(
            modes,
            termios_of(&pty.open_slave()),
            "signal {sig}: terminal modes changed"
        );
    }
}

/// When stdin and stdout cannot be reopened privately (injected: every
/// O_NONBLOCK open fails), ncrab sets O_NONBLOCK on the descriptions it
/// shares with others (checked during the run), and a signal still puts
/// the flags back: a connect relay and a listener, with a pipe and a
/// terminal as stdin, and a pipe as stdout.
#[test]
fn signals_restore_flags_set_on_shared_descriptions() {
    if !is_ncrab() {
        return;
    }
    for sig in SIGS {
        for (listen, tty) in [(false, false), (true, false), (false, true)] {
            let net = Net::new("sig_shared");
            let (r, w) = pipe();
            let w_flags = fd_flags(&w);
            let pty = tty.then(|| Pty::open().expect("a pseudo-terminal"));
            let stdin = match &pty {
                Some(t) => Input::Fd(t.open_slave()),
                None => Input::Pipe,
            };
            let modes = pty.as_ref().map(|t| termios_of(&t.open_slave()));
            let port = free_port();
            let ps = port.to_string();
            let args: Vec<&str> = if listen {
                vec!["-l", &ps]
            } else {
                vec!["127.0.0.1", &ps]
            };
            let l = (!listen).then(|| net.listen(&format!("127.0.0.1:{port}")).unwrap());
            let mut p = net
                .nc(&args)
                .stdin(stdin)
                .stdout(OutputTo::Fd(w.try_clone().unwrap()))
                .faults(&Fault::nonblocking_open(libc::EMFILE))
                .spawn();
            let mut c = match &l {
                Some(l) => accept_within(l, secs(5)),
                None => {
                    net.expect_listen(&mut p, port);
                    net.connect(&format!("127.0.0.1:{port}"))
                }
            };
            std::io::Write::write_all(&mut c, b"x").unwrap();
            let mut r = std::fs::File::from(r);
            let mut one = [0u8; 1];
            std::io::Read::read_exact(&mut r, &mut one).unwrap();
            let during = (p.stdin_flags(), fd_flags(&w));
            assert!(
                during.0 & libc::O_NONBLOCK != 0 && during.1 & libc::O_NONBLOCK != 0,
                "the shared descriptions were not made non-blocking: {during:?}"
            );
            expect_death(&mut p, sig, "shared descriptions");
            assert_eq!(
                fd_flags(&w),
                w_flags,
                "signal {sig}: stdout flags not restored"
            );
            if let Some(t) = &pty {
                assert_eq!(modes, Some(termios_of(&t.open_slave())), "terminal modes");
            }
        }
    }
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

/// Output nobody reads: stderr (`-v` lines of a scan) or stdout (`--json`)
/// is a full pipe whose reader has stopped, so ncrab waits to write a
/// message. A signal still ends it at once, by that signal, as it ends
/// nc.openbsd (which has no handlers).
#[test]
fn signals_end_a_run_blocked_on_a_full_output_pipe() {
    for sig in SIGS {
        for json in [false, true] {
            if json && !is_ncrab() {
                continue;
            }
            let net = Net::new("sig_fullpipe");
            let (r, w) = pipe();
            let mut c = if json {
                net.nc(&["-z", "--json", "127.0.0.1", "1-65535"])
                    .stdout(OutputTo::Fd(w))
            } else {
                net.nc(&["-zv", "127.0.0.1", "1-65535"]).stderr_to(w)
            };
            c = c.stdin(Input::Pipe);
            let mut p = c.spawn();
            // SAFETY: FIONREAD on our own pipe end.
            let queued = || {
                let mut n: libc::c_int = 0;
                unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&r), libc::FIONREAD, &mut n) };
                n
            };
            // Full: the queue stops growing (a pipe counts pages, not bytes).
            let deadline = std::time::Instant::now() + secs(5);
            let mut last = -1;
            while std::time::Instant::now() < deadline {
                std::thread::sleep(ms(200));
                let q = queued();
                if q == last && q >= 16384 {
                    break;
                }
                last = q;
            }
            assert!(
                last >= 16384,
                "json={json}: the pipe never filled: {last} bytes"
            );
            p.expect_running(ms(1));
            let t0 = p.cpu_ticks().unwrap_or(0);
            std::thread::sleep(ms(500));
            let idle = p.cpu_ticks().unwrap_or(0) - t0;
            assert!(idle <= 2, "{idle} CPU ticks while blocked on output");
            expect_death(
                &mut p,
                sig,
                if json {
                    "--json, stdout full"
                } else {
                    "-zv, stderr full"
                },
            );
            drop(r);
        }
    }
}

/// A relay moving data as fast as it can (an always-ready `/dev/zero`
/// stdin, a peer reading everything) still sees a signal at once, on both
/// data paths.
#[test]
fn signals_end_a_busy_transfer() {
    for sig in SIGS {
        for no_splice in ["0", "1"] {
            let net = Net::new("sig_busy");
            let l = net.listen("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port().to_string();
            let mut p = net
                .nc(&["127.0.0.1", &port])
                .stdin(Input::File("/dev/zero".into()))
                .env("NCRAB_NO_SPLICE", no_splice)
                .spawn();
            let mut c = accept_within(&l, secs(5));
            let reader = std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                let mut n = 0u64;
                while let Ok(k) = std::io::Read::read(&mut c, &mut buf) {
                    if k == 0 {
                        break;
                    }
                    n += k as u64;
                }
                n
            });
            std::thread::sleep(ms(300));
            p.signal(sig);
            let o = p.expect_exit(secs(3));
            assert_eq!(o.signal(), Some(sig), "NCRAB_NO_SPLICE={no_splice}: {o}");
            let moved = reader.join().unwrap();
            assert!(moved > 1 << 20, "hardly any data moved: {moved}");
        }
    }
}

/// A name lookup waiting on a name server that never answers: SIGTERM ends
/// it at once, as it ends nc (the C library retries its calls after a
/// signal, so a handler alone would let the lookup run its 5 s first).
/// Runs in a namespace whose resolver points at a silent address.
#[test]
fn sigterm_ends_a_slow_name_lookup_at_once() {
    let net = Net::new("slowdns");
    let (Some(ns), Some(ip)) = (net.ns.as_ref(), net.silent_ip()) else {
        return;
    };
    let etc = std::path::Path::new("/etc/netns").join(&ns.name);
    std::fs::write(etc.join("nsswitch.conf"), "hosts: files dns\n").unwrap();
    std::fs::write(
        etc.join("resolv.conf"),
        format!("nameserver {ip}\noptions timeout:5 attempts:1\n"),
    )
    .unwrap();
    let mut p = net.nc(&["-v", "slow.invalid", "80"]).spawn();
    std::thread::sleep(ms(500));
    assert!(p.running(), "the lookup did not wait for the name server");
    let start = std::time::Instant::now();
    p.signal(libc::SIGTERM);
    let o = p.expect_exit(secs(4));
    assert_eq!(o.signal(), Some(libc::SIGTERM), "{o}");
    assert!(
        start.elapsed() < secs(2),
        "SIGTERM took {:?} to end the lookup",
        start.elapsed()
    );
    assert_bytes("stderr", b"", &o.stderr);
}

/// A signal ignored when nc starts stays ignored (nc installs no handlers):
/// under `nohup`, SIGHUP changes nothing; SIGTERM still ends the run (a
/// Unix listener: no network needed).
#[test]
fn a_signal_ignored_at_start_stays_ignored() {
    let Some(nohup) = find_in_path("nohup") else {
        skip_or_fail_in_ci("nohup is not installed");
        return;
    };
    let dir = TempDir::new("nohup");
    let sock = dir.join("l.sock");
    let mut p = Cmd::nc(&["-lU".as_ref(), sock.as_os_str()])
        .stdin(Input::Pipe)
        .under(&[nohup.to_string_lossy().as_ref(), "{}"])
        .spawn();
    assert!(
        eventually(secs(5), || sock.exists()),
        "the listener never bound its socket"
    );
    p.signal(libc::SIGHUP);
    p.expect_running(ms(500));
    p.signal(libc::SIGTERM);
    let o = p.expect_exit(secs(3));
    assert_eq!(o.signal(), Some(libc::SIGTERM), "{o}");
}
