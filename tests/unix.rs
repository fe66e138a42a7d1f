//! Unix-domain sockets (`-U`, `-lU`, `-Uu`, `-lUu`, abstract names) and
//! `-F`: exact messages and exit statuses against the contract
//! (docs/compatibility.md §2 M10-M13, M21, M26, §4, §6.5, §12 rows 38-39;
//! departures 2 and 4), cleanup on every exit path, and interoperation with
//! nc.openbsd both ways.
//!
//! Every test works in a private directory and checks at the end that
//! ncrab left no socket file there; the tests that run `-Uu` clients hold a
//! lock and check that no `/tmp/nc-*` directory was left behind.

mod common;
use common::*;

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn sha256_known_answers() {
    assert_sha256_known_answers();
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn is_socket(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

/// The `Bound on /tmp/nc-XXXXXX/recv.sock` path of a `-Uuv` client.
fn bound_path(r: &mut Proc) -> String {
    r.expect_stderr("Bound on ", T);
    let err = r.stderr_text();
    let line = err
        .lines()
        .find(|l| l.starts_with("Bound on "))
        .expect("line");
    line["Bound on ".len()..].to_string()
}

/// Ends an ncrab run the way a user would (SIGTERM), so it cleans up.
fn stop(r: &mut Proc) {
    r.signal(libc::SIGTERM);
    r.expect_exit(T);
}

fn assert_private_recv_path(p: &str) {
    assert!(p.starts_with("/tmp/nc-"), "{p}");
    assert!(p.ends_with("/recv.sock"), "{p}");
    assert_eq!(p.len(), "/tmp/nc-XXXXXX/recv.sock".len(), "{p}");
}

#[test]
fn row38_missing_socket() {
    Cmd::ncrab(&["-U", "/nonexistent.sock"]).run(T).assert(
        1,
        b"",
        b"nc: /nonexistent.sock: No such file or directory\n",
    );
    Cmd::ncrab(&["-Uv", "/nonexistent.sock"]).run(T).assert(
        1,
        b"",
        b"nc: /nonexistent.sock: No such file or directory\n",
    );
}

#[test]
fn empty_and_long_paths() {
    Cmd::ncrab(&["-U", ""])
        .run(T)
        .assert(1, b"", b"nc: : Invalid argument\n");
    Cmd::ncrab(&["-lU", ""])
        .run(T)
        .assert(1, b"", b"nc: Invalid argument\n");
    let p107 = format!("/tmp/{}", "b".repeat(102));
    let p108 = format!("/tmp/{}", "b".repeat(103));
    assert_eq!((p107.len(), p108.len()), (107, 108));
    Cmd::ncrab(&["-U", &p107]).run(T).assert(
        1,
        b"",
        format!("nc: {p107}: No such file or directory\n").as_bytes(),
    );
    Cmd::ncrab(&["-U", &p108]).run(T).assert(
        1,
        b"",
        format!("nc: {p108}: File name too long\n").as_bytes(),
    );
    Cmd::ncrab(&["-lU", &p108])
        .run(T)
        .assert(1, b"", b"nc: File name too long\n");
    // Abstract names count up to 108 bytes with the `@`.
    let a109 = format!("@{}", "c".repeat(108));
    Cmd::ncrab(&["-U", &a109]).run(T).assert(
        1,
        b"",
        format!("nc: {a109}: File name too long\n").as_bytes(),
    );
    let a108 = format!("@ncrab-none-{}-{}", std::process::id(), "c".repeat(108));
    let a108 = &a108[..108];
    Cmd::ncrab(&["-U", a108]).run(T).assert(
        1,
        b"",
        format!("nc: {a108}: Connection refused\n").as_bytes(),
    );
}

#[test]
fn uu_target_errors_come_before_the_bind() {
    let _g = tmp_lock();
    let before = nc_tmp_dirs();
    Cmd::ncrab(&["-Uuv", ""])
        .run(T)
        .assert(1, b"", b"nc: : Invalid argument\n");
    let mut c = Cmd::ncrab(&["-Uuv", "/nonexistent.sock"]).spawn();
    let p = bound_path(&mut c);
    assert_private_recv_path(&p);
    c.expect_exit(T).assert(
        1,
        b"",
        format!("Bound on {p}\nnc: /nonexistent.sock: No such file or directory\n").as_bytes(),
    );
    assert!(!Path::new(&p).exists());
    assert_no_new_tmp_dirs(&before);
}

#[test]
fn row39_stream_listener_lines_and_cleanup() {
    let dir = TempDir::new("r39");
    let sock = dir.join("t.sock");
    let mut srv = Cmd::ncrab(&["-lUv", s(&sock)]).spawn();
    srv.expect_stderr("Listening on", T);
    assert!(is_socket(&sock));
    Cmd::ncrab(&["-NU", s(&sock)])
        .stdin(Input::Bytes(b"hi\n".to_vec()))
        .run(T)
        .assert(0, b"", b"");
    let p = s(&sock);
    srv.expect_exit(T).assert(
        0,
        b"hi\n",
        format!("Bound on {p}\nListening on {p}\nConnection received on {p}\n").as_bytes(),
    );
    // Departure 4: nc leaves the socket file; ncrab removes it.
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn client_prints_no_success_line_and_z_just_connects() {
    let dir = TempDir::new("uz");
    let sock = dir.join("l.sock");
    let l = UnixListener::bind(&sock).unwrap();
    Cmd::ncrab(&["-Uzv", s(&sock)]).run(T).assert(0, b"", b"");
    let (mut conn, _) = l.accept().unwrap();
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut buf).unwrap();
    assert!(buf.is_empty());
    // Data both ways, no line even with -v.
    let mut c = Cmd::ncrab(&["-Uv", s(&sock)]).stdin(Input::Pipe).spawn();
    let (mut conn, _) = l.accept().unwrap();
    c.write_stdin(b"up\n").unwrap();
    let mut b3 = [0u8; 3];
    std::io::Read::read_exact(&mut conn, &mut b3).unwrap();
    assert_eq!(&b3, b"up\n");
    std::io::Write::write_all(&mut conn, b"down\n").unwrap();
    c.expect_stdout(b"down\n", T);
    drop(conn);
    c.close_stdin();
    c.expect_exit(T).assert(0, b"down\n", b"");
}

#[test]
fn listener_never_deletes_what_is_not_a_socket_departure4() {
    let dir = TempDir::new("nosock");
    let file = dir.join("reg");
    std::fs::write(&file, b"keep me\n").unwrap();
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for p in [&file, &sub, &link] {
        for flags in ["-lU", "-lUu", "-lUv"] {
            Cmd::ncrab(&[flags, s(p)]).run(T).assert(
                1,
                b"",
                format!("nc: {}: File exists\n", s(p)).as_bytes(),
            );
        }
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me\n");
    assert!(sub.is_dir());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn listener_replaces_a_stale_socket_file() {
    let dir = TempDir::new("stale");
    let sock = dir.join("s.sock");
    drop(UnixListener::bind(&sock).unwrap());
    assert!(is_socket(&sock));
    let mut srv = Cmd::ncrab(&["-lUv", s(&sock)]).spawn();
    srv.expect_stderr("Listening on", T);
    Cmd::ncrab(&["-NU", s(&sock)])
        .stdin(Input::Bytes(b"x\n".to_vec()))
        .run(T)
        .assert_code(0);
    srv.expect_exit(T).assert_code(0);
    assert_eq!(srv.stdout_now(), b"x\n");
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn listener_in_a_missing_directory() {
    Cmd::ncrab(&["-lU", "/nonexistent-dir/x.sock"])
        .run(T)
        .assert(1, b"", b"nc: No such file or directory\n");
}

#[test]
fn abstract_names() {
    let name = format!("@ncrab-test-{}", std::process::id());
    let mut srv = Cmd::ncrab(&["-lUv", &name]).spawn();
    srv.expect_stderr("Listening on", T);
    Cmd::ncrab(&["-NU", &name])
        .stdin(Input::Bytes(b"abs\n".to_vec()))
        .run(T)
        .assert_code(0);
    srv.expect_exit(T).assert(
        0,
        b"abs\n",
        format!("Bound on {name}\nListening on {name}\nConnection received on {name}\n").as_bytes(),
    );
}

#[test]
fn abstract_empty_name_is_allowed() {
    // `@` alone is the empty abstract name; another test run may hold it.
    let mut srv = Cmd::ncrab(&["-lUv", "@"]).spawn();
    srv.expect_stderr("Bound on @\n", T);
    if srv.stderr_text().contains("Address already in use") {
        skip("the empty abstract name is in use");
        return;
    }
    srv.expect_stderr("Listening on @\n", T);
    Cmd::ncrab(&["-NU", "@"])
        .stdin(Input::Bytes(b"e\n".to_vec()))
        .run(T)
        .assert_code(0);
    srv.expect_exit(T).assert_code(0);
    assert_eq!(srv.stdout_now(), b"e\n");
}

#[test]
fn keep_serves_clients_one_after_another() {
    let dir = TempDir::new("keep");
    let sock = dir.join("k.sock");
    let mut srv = Cmd::ncrab(&["-lUkv", s(&sock)]).spawn();
    srv.expect_stderr("Listening on", T);
    for i in 0..3 {
        let msg = format!("client {i}\n");
        Cmd::ncrab(&["-NU", s(&sock)])
            .stdin(Input::Bytes(msg.clone().into_bytes()))
            .run(T)
            .assert_code(0);
        srv.expect_stdout(msg.as_bytes(), T);
    }
    assert!(srv.running());
    srv.signal(libc::SIGTERM);
    let st = srv.expect_exit(T);
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn listener_socket_removed_on_signals_and_quit_timer() {
    let dir = TempDir::new("sig");
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let sock = dir.join("sig.sock");
        let mut srv = Cmd::ncrab(&["-lUv", s(&sock)]).spawn();
        srv.expect_stderr("Listening on", T);
        assert!(is_socket(&sock));
        srv.signal(sig);
        let st = srv.expect_exit(T);
        assert_eq!(st.signal(), Some(sig));
        assert_eq!(dir.entries(), Vec::<String>::new(), "after signal {sig}");
    }
    // -q 1: the session ends (the client closes; stdin stays open, or the
    // listener would stop reading at once), then the timer: exit 0 and the
    // file is gone.
    let sock = dir.join("q.sock");
    let mut srv = Cmd::ncrab(&["-lU", "-q1", s(&sock)])
        .stdin(Input::Pipe)
        .spawn();
    assert!(eventually(T, || is_socket(&sock)));
    Cmd::ncrab(&["-NU", s(&sock)])
        .stdin(Input::Bytes(b"q\n".to_vec()))
        .run(T)
        .assert_code(0);
    srv.expect_exit(T).assert(0, b"q\n", b"");
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn listener_leaves_a_foreign_socket_alone() {
    // If something else replaced our socket file, it is not ours to remove.
    let dir = TempDir::new("foreign");
    let sock = dir.join("f.sock");
    let mut srv = Cmd::ncrab(&["-lU", s(&sock)]).spawn();
    assert!(eventually(T, || is_socket(&sock)));
    std::fs::remove_file(&sock).unwrap();
    let other = UnixListener::bind(&sock).unwrap();
    srv.signal(libc::SIGTERM);
    srv.expect_exit(T);
    assert!(is_socket(&sock));
    drop(other);
}

#[test]
fn dgram_client_private_dir_and_cleanup_on_every_exit() {
    let _g = tmp_lock();
    let before = nc_tmp_dirs();
    let dir = TempDir::new("ddir");
    let target = dir.join("peer.sock");
    let peer_sock = UnixDatagram::bind(&target).unwrap();
    peer_sock.set_read_timeout(Some(T)).unwrap();

    // Normal end: -q0 after stdin EOF.
    let mut c = Cmd::ncrab(&["-Uuv", "-q0", s(&target)])
        .stdin(Input::Bytes(b"one\n".to_vec()))
        .spawn();
    let p = bound_path(&mut c);
    assert_private_recv_path(&p);
    c.expect_exit(T).assert_code(0);
    let mut buf = [0u8; 64];
    let (n, from) = peer_sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"one\n");
    assert_eq!(from.as_pathname().and_then(Path::to_str), Some(p.as_str()));
    assert!(!Path::new(&p).exists());
    assert!(!Path::new(&p).parent().unwrap().exists());

    // The -q timer (nc leaves the directory here, §9.4).
    let mut c = Cmd::ncrab(&["-Uuv", "-q1", s(&target)])
        .stdin(Input::Bytes(b"two\n".to_vec()))
        .spawn();
    let p = bound_path(&mut c);
    c.expect_exit(T).assert_code(0);
    assert!(!Path::new(&p).parent().unwrap().exists());
    let n = peer_sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"two\n");

    // SIGINT and SIGTERM in the middle of a session.
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut c = Cmd::ncrab(&["-Uuv", s(&target)]).stdin(Input::Pipe).spawn();
        let p = bound_path(&mut c);
        // The peer answers to the private socket; the client prints it.
        let (n, from) = {
            c.write_stdin(b"ping\n").unwrap();
            peer_sock.recv_from(&mut buf).unwrap()
        };
        assert_eq!(&buf[..n], b"ping\n");
        peer_sock
            .send_to(b"pong\n", from.as_pathname().unwrap())
            .unwrap();
        c.expect_stdout(b"pong\n", T);
        c.signal(sig);
        let st = c.expect_exit(T);
        assert_eq!(st.signal(), Some(sig));
        assert!(
            !Path::new(&p).parent().unwrap().exists(),
            "after signal {sig}"
        );
    }

    // A connect error.
    Cmd::ncrab(&["-Uu", s(&dir.join("nobody.sock"))])
        .run(T)
        .assert(
            1,
            b"",
            format!(
                "nc: {}: No such file or directory\n",
                s(&dir.join("nobody.sock"))
            )
            .as_bytes(),
        );
    drop(peer_sock);
    std::fs::remove_file(&target).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
    assert_no_new_tmp_dirs(&before);
}

#[test]
fn dgram_client_with_s_binds_there() {
    let dir = TempDir::new("ds");
    let target = dir.join("peer.sock");
    let peer_sock = UnixDatagram::bind(&target).unwrap();
    peer_sock.set_read_timeout(Some(T)).unwrap();
    let mine = dir.join("mine.sock");
    Cmd::ncrab(&["-Uuv", "-q0", "-s", s(&mine), s(&target)])
        .stdin(Input::Bytes(b"via s\n".to_vec()))
        .run(T)
        .assert(0, b"", format!("Bound on {}\n", s(&mine)).as_bytes());
    let mut buf = [0u8; 64];
    let (n, from) = peer_sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"via s\n");
    assert_eq!(from.as_pathname(), Some(mine.as_path()));
    // ncrab removes the socket it bound (nc leaves a -s socket).
    assert!(!mine.exists());
    // Something that is not a socket at -s: refused, left alone (M26 form).
    std::fs::write(&mine, b"data").unwrap();
    Cmd::ncrab(&["-Uu", "-s", s(&mine), s(&target)])
        .run(T)
        .assert(
            1,
            b"",
            format!("nc: {}: File exists\n", s(&mine)).as_bytes(),
        );
    assert_eq!(std::fs::read(&mine).unwrap(), b"data");
    let bad = dir.join("no/such/dir.sock");
    Cmd::ncrab(&["-Uu", "-s", s(&bad), s(&target)])
        .run(T)
        .assert(
            1,
            b"",
            format!("nc: {}: No such file or directory\n", s(&bad)).as_bytes(),
        );
    std::fs::remove_file(&mine).unwrap();
    drop(peer_sock);
    std::fs::remove_file(&target).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn dgram_listener_session_ends_cleanly_departure2() {
    let dir = TempDir::new("dl");
    let sock = dir.join("d.sock");
    let mut srv = Cmd::ncrab(&["-lUuv", "-W1", s(&sock)]).spawn();
    srv.expect_stderr("Bound on", T);
    let client_path = dir.join("c.sock");
    let c = UnixDatagram::bind(&client_path).unwrap();
    c.send_to(b"ping\n", &sock).unwrap();
    let p = s(&sock);
    srv.expect_exit(T).assert(
        0,
        b"ping\n",
        format!("Bound on {p}\nConnection received on {p}\n").as_bytes(),
    );
    drop(c);
    std::fs::remove_file(&client_path).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn dgram_listener_answers_and_refuses_a_second_peer() {
    let _g = tmp_lock();
    let before = nc_tmp_dirs();
    let dir = TempDir::new("dl2");
    let sock = dir.join("d.sock");
    let mut srv = Cmd::ncrab(&["-lUuv", s(&sock)]).stdin(Input::Pipe).spawn();
    srv.expect_stderr("Bound on", T);
    let mut a = Cmd::ncrab(&["-Uu", s(&sock)]).stdin(Input::Pipe).spawn();
    a.write_stdin(b"from a\n").unwrap();
    srv.expect_stdout(b"from a\n", T);
    srv.write_stdin(b"to a\n").unwrap();
    a.expect_stdout(b"to a\n", T);
    // The listener is connected to a: another client's connect is refused.
    Cmd::ncrab(&["-Uu", s(&sock)]).run(T).assert(
        1,
        b"",
        format!("nc: {}: Operation not permitted\n", s(&sock)).as_bytes(),
    );
    stop(&mut a);
    stop(&mut srv);
    assert_eq!(dir.entries(), Vec::<String>::new());
    assert_no_new_tmp_dirs(&before);
}

#[test]
fn dgram_listener_empty_datagram_ends_it() {
    let dir = TempDir::new("dl3");
    let sock = dir.join("d.sock");
    let mut srv = Cmd::ncrab(&["-lUu", s(&sock)]).spawn();
    assert!(eventually(T, || is_socket(&sock)));
    let cp = dir.join("c.sock");
    let c = UnixDatagram::bind(&cp).unwrap();
    c.send_to(b"x\n", &sock).unwrap();
    srv.expect_stdout(b"x\n", T);
    c.send_to(b"", &sock).unwrap();
    srv.expect_exit(T).assert(0, b"x\n", b"");
    drop(c);
    std::fs::remove_file(&cp).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn dgram_datagrams_whole_up_to_65535() {
    let _g = tmp_lock();
    let before = nc_tmp_dirs();
    let dir = TempDir::new("dbig");
    let sock = dir.join("d.sock");
    let mut srv = Cmd::ncrab(&["-lUu", s(&sock)]).spawn();
    assert!(eventually(T, || is_socket(&sock)));
    // From a file, the client sends datagrams of at most 16384 bytes, as nc.
    let f = dir.join("in");
    let data = payload(100_000, 9);
    std::fs::write(&f, &data).unwrap();
    let mut c = Cmd::ncrab(&["-Uu", s(&sock)])
        .stdin(Input::File(f.clone()))
        .spawn();
    srv.expect_stdout(&data[data.len() - 16..], T);
    assert_eq!(sha256_bytes(&srv.stdout_now()), sha256_bytes(&data));
    stop(&mut c);
    stop(&mut srv);
    std::fs::remove_file(&f).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
    // And the sizes, seen by a plain receiver: nc's 16384, then the rest.
    let target = dir.join("r.sock");
    let r = UnixDatagram::bind(&target).unwrap();
    r.set_read_timeout(Some(T)).unwrap();
    let f = dir.join("in2");
    std::fs::write(&f, payload(30_000, 10)).unwrap();
    Cmd::ncrab(&["-Uu", "-q0", s(&target)])
        .stdin(Input::File(f.clone()))
        .run(T)
        .assert_code(0);
    let mut buf = vec![0u8; 70_000];
    assert_eq!(r.recv(&mut buf).unwrap(), 16_384);
    assert_eq!(r.recv(&mut buf[16_384..]).unwrap(), 30_000 - 16_384);
    assert_eq!(
        sha256_bytes(&buf[..30_000]),
        sha256_bytes(&payload(30_000, 10))
    );
    drop(r);
    std::fs::remove_file(&target).unwrap();
    std::fs::remove_file(&f).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
    assert_no_new_tmp_dirs(&before);
}

#[test]
fn interop_stream_both_ways() {
    if !openbsd_required() {
        return;
    }
    let dir = TempDir::new("ist");
    let data = payload(300 * 1024, 11);
    let f = dir.join("in");
    std::fs::write(&f, &data).unwrap();

    // nc.openbsd listens, ncrab sends.
    let sock = dir.join("o.sock");
    let mut srv = Cmd::openbsd(&["-lU", s(&sock)]).spawn();
    assert!(eventually(T, || is_socket(&sock)));
    Cmd::ncrab(&["-NU", s(&sock)])
        .stdin(Input::File(f.clone()))
        .run(T)
        .assert_code(0);
    srv.expect_exit(T).assert_code(0);
    assert_eq!(sha256_bytes(&srv.stdout_now()), sha256_bytes(&data));
    std::fs::remove_file(&sock).unwrap(); // nc.openbsd leaves its socket

    // ncrab listens, nc.openbsd sends; ncrab answers back.
    let sock = dir.join("n.sock");
    let back = payload(200 * 1024, 12);
    let fb = dir.join("back");
    std::fs::write(&fb, &back).unwrap();
    let mut srv = Cmd::ncrab(&["-lUN", s(&sock)])
        .stdin(Input::File(fb.clone()))
        .spawn();
    assert!(eventually(T, || is_socket(&sock)));
    let mut c = Cmd::openbsd(&["-NU", s(&sock)])
        .stdin(Input::File(f.clone()))
        .spawn();
    srv.expect_exit(T).assert_code(0);
    c.expect_exit(T).assert_code(0);
    assert_eq!(sha256_bytes(&srv.stdout_now()), sha256_bytes(&data));
    assert_eq!(sha256_bytes(&c.stdout_now()), sha256_bytes(&back));
    std::fs::remove_file(&f).unwrap();
    std::fs::remove_file(&fb).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn interop_dgram_both_ways() {
    if !openbsd_required() {
        return;
    }
    let _g = tmp_lock();
    let before = nc_tmp_dirs();
    let dir = TempDir::new("idg");

    // nc.openbsd -lUu listens, an ncrab -Uu client sends datagrams of
    // several sizes (each within nc.openbsd's 16384-byte read).
    let sock = dir.join("o.sock");
    let mut srv = Cmd::openbsd(&["-lUu", s(&sock)]).stdin(Input::Pipe).spawn();
    assert!(eventually(T, || is_socket(&sock)));
    let mut c = Cmd::ncrab(&["-Uuv", s(&sock)]).stdin(Input::Pipe).spawn();
    let recv = bound_path(&mut c);
    let mut all = Vec::new();
    for (i, n) in [1usize, 700, 16_384, 4096].into_iter().enumerate() {
        let d = payload(n, 20 + i as u32);
        c.write_stdin(&d).unwrap();
        all.extend_from_slice(&d);
        srv.expect_stdout(&d[d.len().saturating_sub(8)..], T);
    }
    assert_eq!(sha256_bytes(&srv.stdout_now()), sha256_bytes(&all));
    srv.write_stdin(b"answer\n").unwrap();
    c.expect_stdout(b"answer\n", T);
    c.signal(libc::SIGTERM);
    c.expect_exit(T);
    assert!(!Path::new(&recv).exists());
    srv.kill();
    std::fs::remove_file(&sock).unwrap();

    // ncrab -lUu listens, an nc.openbsd -Uu client sends (its private
    // directory is removed here: nc.openbsd leaves it when killed).
    let sock = dir.join("n.sock");
    let mut srv = Cmd::ncrab(&["-lUuv", s(&sock)]).stdin(Input::Pipe).spawn();
    srv.expect_stderr("Bound on", T);
    let mut c = Cmd::openbsd(&["-Uuv", s(&sock)]).stdin(Input::Pipe).spawn();
    c.expect_stderr("Bound on ", T);
    let their_dir = bound_path(&mut c);
    let mut all = Vec::new();
    for (i, n) in [16_384usize, 3, 9000].into_iter().enumerate() {
        let d = payload(n, 40 + i as u32);
        c.write_stdin(&d).unwrap();
        all.extend_from_slice(&d);
        srv.expect_stdout(&d[d.len().saturating_sub(8)..], T);
    }
    assert_eq!(sha256_bytes(&srv.stdout_now()), sha256_bytes(&all));
    srv.write_stdin(b"back\n").unwrap();
    c.expect_stdout(b"back\n", T);
    srv.expect_stderr("Connection received on", T);
    assert_eq!(
        srv.stderr_text(),
        format!("Bound on {0}\nConnection received on {0}\n", s(&sock))
    );
    c.kill();
    stop(&mut srv);
    if let Some(d) = Path::new(&their_dir).parent() {
        let _ = std::fs::remove_dir_all(d);
    }
    assert_eq!(dir.entries(), Vec::<String>::new());
    assert_no_new_tmp_dirs(&before);
}

// ---------------------------------------------------------------------------
// -F
// ---------------------------------------------------------------------------

#[test]
fn pass_fd_over_a_socket_stdout() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (ours, theirs) = socketpair();
    let mut c = Cmd::ncrab(&["-vnF", "127.0.0.1", &port.to_string()])
        .stdout(OutputTo::Fd(theirs))
        .spawn();
    let (byte, fd) = recv_fd(&ours).expect("a descriptor");
    assert_eq!(byte, 0);
    c.expect_exit(T).assert(
        0,
        b"",
        format!("Connection to 127.0.0.1 {port} port [tcp/*] succeeded!\n").as_bytes(),
    );
    // The passed socket is the connected one: use it.
    let (mut conn, _) = l.accept().unwrap();
    let mut passed = std::net::TcpStream::from(fd);
    std::io::Write::write_all(&mut passed, b"through the passed fd\n").unwrap();
    drop(passed);
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut got).unwrap();
    assert_eq!(got, b"through the passed fd\n");
}

#[test]
fn pass_fd_errors() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    // A pipe on stdout.
    let (r, w) = pipe();
    Cmd::ncrab(&["-F", "127.0.0.1", &port])
        .stdout(OutputTo::Fd(w))
        .run(T)
        .assert(1, b"", b"nc: sendmsg: Socket operation on non-socket\n");
    drop(r);
    // A terminal on stdout.
    let pty = Pty::open().expect("a pseudo-terminal");
    Cmd::ncrab(&["-F", "127.0.0.1", &port])
        .stdout(OutputTo::Fd(pty.open_slave()))
        .run(T)
        .assert(1, b"", b"nc: Cannot pass file descriptor to tty\n");
    drop(pty);
    // -F and -U conflict; -F is ignored with -l.
    Cmd::ncrab(&["-FU", "/tmp/x.sock"])
        .run(T)
        .assert(1, b"", b"nc: cannot use -F and -U\n");
    let mut srv = Cmd::ncrab(&["-lFvn", "127.0.0.1", "0"]).spawn();
    let lp = srv.expect_listening(secs(5));
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", lp)).unwrap();
    std::io::Write::write_all(&mut conn, b"plain\n").unwrap();
    drop(conn);
    srv.expect_exit(T).assert_code(0);
    assert_eq!(srv.stdout_now(), b"plain\n");
}

#[test]
fn pass_fd_for_a_unix_stdout_peer_and_udp() {
    // -uF: the connected UDP socket is passed as well.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u.local_addr().unwrap().port();
    let (ours, theirs) = socketpair();
    let mut c = Cmd::ncrab(&["-uF", "127.0.0.1", &port.to_string()])
        .stdout(OutputTo::Fd(theirs))
        .spawn();
    let (_, fd) = recv_fd(&ours).expect("a descriptor");
    c.expect_exit(T).assert_code(0);
    let passed = std::net::UdpSocket::from(fd);
    passed.send(b"dgram\n").unwrap();
    let mut buf = [0u8; 16];
    u.set_read_timeout(Some(T)).unwrap();
    assert_eq!(u.recv(&mut buf).unwrap(), 6);
    assert_eq!(&buf[..6], b"dgram\n");
    assert!(ours.as_raw_fd() >= 0);
}

#[test]
fn stream_listener_rejects_a_second_client_when_not_keeping() {
    // OpenBSD's run-unix-probe: after the one session nothing listens (nc
    // leaves its file, so nc says Connection refused; ncrab removed it).
    let dir = TempDir::new("probe");
    let sock = dir.join("p.sock");
    let mut srv = Cmd::ncrab(&["-lU", s(&sock)]).spawn();
    // The file exists from bind(2) on, a moment before listen(2): until
    // then a connect is refused, so try until one is taken.
    let mut c1 = None;
    assert!(eventually(T, || {
        c1 = UnixStream::connect(&sock).ok();
        c1.is_some()
    }));
    drop(c1);
    srv.expect_exit(T).assert_code(0);
    Cmd::ncrab(&["-U", s(&sock)]).run(T).assert(
        1,
        b"",
        format!("nc: {}: No such file or directory\n", s(&sock)).as_bytes(),
    );
}
