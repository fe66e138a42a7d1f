//! Unix-domain sockets (`-U`, `-lU`, `-Uu`, `-lUu`, abstract names) and
//! `-F`: exact messages and exit statuses against the contract
//! (nc-reference.md B §2 M10-M13, M21, M26, §4, §6.5, §12 rows 38-39;
//! departures 2 and 4), cleanup on every exit path, and interoperation with
//! nc.openbsd both ways.
//!
//! Every test works in a private directory and checks at the end that
//! ncrab left no socket file there; the tests that run `-Uu` clients hold a
//! lock and check that no `/tmp/nc-*` directory was left behind.

mod sock_support;

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use sock_support::*;

const T: Duration = Duration::from_secs(10);

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn is_socket(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

/// The `Bound on /tmp/nc-XXXXXX/recv.sock` path of a `-Uuv` client.
fn bound_path(r: &Run) -> String {
    r.wait_stderr("Bound on ", T);
    let err = r.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with("Bound on "))
        .expect("line");
    line["Bound on ".len()..].to_string()
}

/// Ends an ncrab run the way a user would (SIGTERM), so it cleans up.
fn stop(r: &mut Run) {
    r.signal(libc::SIGTERM);
    r.wait(T);
}

fn assert_private_recv_path(p: &str) {
    assert!(p.starts_with("/tmp/nc-"), "{p}");
    assert!(p.ends_with("/recv.sock"), "{p}");
    assert_eq!(p.len(), "/tmp/nc-XXXXXX/recv.sock".len(), "{p}");
}

#[test]
fn row38_missing_socket() {
    let mut c = nc(&["-U", "/nonexistent.sock"], In::Null);
    expect(
        &mut c,
        T,
        1,
        "nc: /nonexistent.sock: No such file or directory\n",
        b"",
    );
    let mut c = nc(&["-Uv", "/nonexistent.sock"], In::Null);
    expect(
        &mut c,
        T,
        1,
        "nc: /nonexistent.sock: No such file or directory\n",
        b"",
    );
}

#[test]
fn empty_and_long_paths() {
    let mut c = nc(&["-U", ""], In::Null);
    expect(&mut c, T, 1, "nc: : Invalid argument\n", b"");
    let mut c = nc(&["-lU", ""], In::Null);
    expect(&mut c, T, 1, "nc: Invalid argument\n", b"");
    let p107 = format!("/tmp/{}", "b".repeat(102));
    let p108 = format!("/tmp/{}", "b".repeat(103));
    assert_eq!((p107.len(), p108.len()), (107, 108));
    let mut c = nc(&["-U", &p107], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!("nc: {p107}: No such file or directory\n"),
        b"",
    );
    let mut c = nc(&["-U", &p108], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!("nc: {p108}: File name too long\n"),
        b"",
    );
    let mut c = nc(&["-lU", &p108], In::Null);
    expect(&mut c, T, 1, "nc: File name too long\n", b"");
    // Abstract names count up to 108 bytes with the `@`.
    let a109 = format!("@{}", "c".repeat(108));
    let mut c = nc(&["-U", &a109], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!("nc: {a109}: File name too long\n"),
        b"",
    );
    let a108 = format!("@ncrab-none-{}-{}", std::process::id(), "c".repeat(108));
    let a108 = &a108[..108];
    let mut c = nc(&["-U", a108], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!("nc: {a108}: Connection refused\n"),
        b"",
    );
}

#[test]
fn uu_target_errors_come_before_the_bind() {
    let _g = tmp_lock();
    let before = nc_tmp_dirs();
    let mut c = nc(&["-Uuv", ""], In::Null);
    expect(&mut c, T, 1, "nc: : Invalid argument\n", b"");
    let mut c = nc(&["-Uuv", "/nonexistent.sock"], In::Null);
    let p = bound_path(&c);
    assert_private_recv_path(&p);
    expect(
        &mut c,
        T,
        1,
        &format!("Bound on {p}\nnc: /nonexistent.sock: No such file or directory\n"),
        b"",
    );
    assert!(!Path::new(&p).exists());
    assert_no_new_tmp_dirs(&before);
}

#[test]
fn row39_stream_listener_lines_and_cleanup() {
    let dir = TempDir::new("r39");
    let sock = dir.join("t.sock");
    let mut srv = nc(&["-lUv", s(&sock)], In::Null);
    srv.wait_stderr("Listening on", T);
    assert!(is_socket(&sock));
    let mut c = nc(&["-NU", s(&sock)], In::Bytes(b"hi\n".to_vec()));
    expect(&mut c, T, 0, "", b"");
    let p = s(&sock);
    expect(
        &mut srv,
        T,
        0,
        &format!("Bound on {p}\nListening on {p}\nConnection received on {p}\n"),
        b"hi\n",
    );
    // Departure 4: nc leaves the socket file; ncrab removes it.
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn client_prints_no_success_line_and_z_just_connects() {
    let dir = TempDir::new("uz");
    let sock = dir.join("l.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let mut c = nc(&["-Uzv", s(&sock)], In::Null);
    expect(&mut c, T, 0, "", b"");
    let (mut conn, _) = l.accept().unwrap();
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut buf).unwrap();
    assert!(buf.is_empty());
    // Data both ways, no line even with -v.
    let mut c = nc(&["-Uv", s(&sock)], In::Pipe);
    let (mut conn, _) = l.accept().unwrap();
    c.write_stdin(b"up\n");
    let mut b3 = [0u8; 3];
    std::io::Read::read_exact(&mut conn, &mut b3).unwrap();
    assert_eq!(&b3, b"up\n");
    std::io::Write::write_all(&mut conn, b"down\n").unwrap();
    c.wait_stdout(b"down\n", T);
    drop(conn);
    c.close_stdin();
    expect(&mut c, T, 0, "", b"down\n");
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
            let mut c = nc(&[flags, s(p)], In::Null);
            expect(&mut c, T, 1, &format!("nc: {}: File exists\n", s(p)), b"");
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
    let mut srv = nc(&["-lUv", s(&sock)], In::Null);
    srv.wait_stderr("Listening on", T);
    let mut c = nc(&["-NU", s(&sock)], In::Bytes(b"x\n".to_vec()));
    assert_eq!(c.code(T), 0);
    assert_eq!(srv.code(T), 0);
    assert_eq!(srv.stdout(), b"x\n");
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn listener_in_a_missing_directory() {
    let mut c = nc(&["-lU", "/nonexistent-dir/x.sock"], In::Null);
    expect(&mut c, T, 1, "nc: No such file or directory\n", b"");
}

#[test]
fn abstract_names() {
    let name = format!("@ncrab-test-{}", std::process::id());
    let mut srv = nc(&["-lUv", &name], In::Null);
    srv.wait_stderr("Listening on", T);
    let mut c = nc(&["-NU", &name], In::Bytes(b"abs\n".to_vec()));
    assert_eq!(c.code(T), 0);
    expect(
        &mut srv,
        T,
        0,
        &format!("Bound on {name}\nListening on {name}\nConnection received on {name}\n"),
        b"abs\n",
    );
}

#[test]
fn abstract_empty_name_is_allowed() {
    // `@` alone is the empty abstract name; another test run may hold it.
    let mut srv = nc(&["-lUv", "@"], In::Null);
    srv.wait_stderr("Bound on @\n", T);
    if srv.stderr().contains("Address already in use") {
        eprintln!("SKIP: the empty abstract name is in use");
        return;
    }
    srv.wait_stderr("Listening on @\n", T);
    let mut c = nc(&["-NU", "@"], In::Bytes(b"e\n".to_vec()));
    assert_eq!(c.code(T), 0);
    assert_eq!(srv.code(T), 0);
    assert_eq!(srv.stdout(), b"e\n");
}

#[test]
fn keep_serves_clients_one_after_another() {
    let dir = TempDir::new("keep");
    let sock = dir.join("k.sock");
    let mut srv = nc(&["-lUkv", s(&sock)], In::Null);
    srv.wait_stderr("Listening on", T);
    for i in 0..3 {
        let msg = format!("client {i}\n");
        let mut c = nc(&["-NU", s(&sock)], In::Bytes(msg.clone().into_bytes()));
        assert_eq!(c.code(T), 0);
        srv.wait_stdout(msg.as_bytes(), T);
    }
    assert!(srv.running());
    srv.signal(libc::SIGTERM);
    let st = srv.wait(T);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(libc::SIGTERM)
    );
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn listener_socket_removed_on_signals_and_quit_timer() {
    let dir = TempDir::new("sig");
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let sock = dir.join("sig.sock");
        let srv = nc(&["-lUv", s(&sock)], In::Null);
        srv.wait_stderr("Listening on", T);
        assert!(is_socket(&sock));
        let mut srv = srv;
        srv.signal(sig);
        let st = srv.wait(T);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&st),
            Some(sig)
        );
        assert_eq!(dir.entries(), Vec::<String>::new(), "after signal {sig}");
    }
    // -q 1: the session ends (the client closes; stdin stays open, or the
    // listener would stop reading at once), then the timer: exit 0 and the
    // file is gone.
    let sock = dir.join("q.sock");
    let mut srv = nc(&["-lU", "-q1", s(&sock)], In::Pipe);
    assert!(eventually(T, || is_socket(&sock)));
    let mut c = nc(&["-NU", s(&sock)], In::Bytes(b"q\n".to_vec()));
    assert_eq!(c.code(T), 0);
    expect(&mut srv, T, 0, "", b"q\n");
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn listener_leaves_a_foreign_socket_alone() {
    // If something else replaced our socket file, it is not ours to remove.
    let dir = TempDir::new("foreign");
    let sock = dir.join("f.sock");
    let mut srv = nc(&["-lU", s(&sock)], In::Null);
    assert!(eventually(T, || is_socket(&sock)));
    std::fs::remove_file(&sock).unwrap();
    let other = UnixListener::bind(&sock).unwrap();
    srv.signal(libc::SIGTERM);
    srv.wait(T);
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
    let mut c = nc(&["-Uuv", "-q0", s(&target)], In::Bytes(b"one\n".to_vec()));
    let p = bound_path(&c);
    assert_private_recv_path(&p);
    assert_eq!(c.code(T), 0);
    let mut buf = [0u8; 64];
    let (n, from) = peer_sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"one\n");
    assert_eq!(from.as_pathname().and_then(Path::to_str), Some(p.as_str()));
    assert!(!Path::new(&p).exists());
    assert!(!Path::new(&p).parent().unwrap().exists());

    // The -q timer (nc leaves the directory here, B §9.4).
    let mut c = nc(&["-Uuv", "-q1", s(&target)], In::Bytes(b"two\n".to_vec()));
    let p = bound_path(&c);
    assert_eq!(c.code(T), 0);
    assert!(!Path::new(&p).parent().unwrap().exists());
    let n = peer_sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"two\n");

    // SIGINT and SIGTERM in the middle of a session.
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut c = nc(&["-Uuv", s(&target)], In::Pipe);
        let p = bound_path(&c);
        // The peer answers to the private socket; the client prints it.
        let (n, from) = {
            c.write_stdin(b"ping\n");
            peer_sock.recv_from(&mut buf).unwrap()
        };
        assert_eq!(&buf[..n], b"ping\n");
        peer_sock
            .send_to(b"pong\n", from.as_pathname().unwrap())
            .unwrap();
        c.wait_stdout(b"pong\n", T);
        c.signal(sig);
        let st = c.wait(T);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&st),
            Some(sig)
        );
        assert!(
            !Path::new(&p).parent().unwrap().exists(),
            "after signal {sig}"
        );
    }

    // A connect error.
    let mut c = nc(&["-Uu", s(&dir.join("nobody.sock"))], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!(
            "nc: {}: No such file or directory\n",
            s(&dir.join("nobody.sock"))
        ),
        b"",
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
    let mut c = nc(
        &["-Uuv", "-q0", "-s", s(&mine), s(&target)],
        In::Bytes(b"via s\n".to_vec()),
    );
    expect(&mut c, T, 0, &format!("Bound on {}\n", s(&mine)), b"");
    let mut buf = [0u8; 64];
    let (n, from) = peer_sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"via s\n");
    assert_eq!(from.as_pathname(), Some(mine.as_path()));
    // ncrab removes the socket it bound (nc leaves a -s socket).
    assert!(!mine.exists());
    // Something that is not a socket at -s: refused, left alone (M26 form).
    std::fs::write(&mine, b"data").unwrap();
    let mut c = nc(&["-Uu", "-s", s(&mine), s(&target)], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!("nc: {}: File exists\n", s(&mine)),
        b"",
    );
    assert_eq!(std::fs::read(&mine).unwrap(), b"data");
    let bad = dir.join("no/such/dir.sock");
    let mut c = nc(&["-Uu", "-s", s(&bad), s(&target)], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!("nc: {}: No such file or directory\n", s(&bad)),
        b"",
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
    let mut srv = nc(&["-lUuv", "-W1", s(&sock)], In::Null);
    srv.wait_stderr("Bound on", T);
    let client_path = dir.join("c.sock");
    let c = UnixDatagram::bind(&client_path).unwrap();
    c.send_to(b"ping\n", &sock).unwrap();
    let p = s(&sock);
    expect(
        &mut srv,
        T,
        0,
        &format!("Bound on {p}\nConnection received on {p}\n"),
        b"ping\n",
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
    let mut srv = nc(&["-lUuv", s(&sock)], In::Pipe);
    srv.wait_stderr("Bound on", T);
    let mut a = nc(&["-Uu", s(&sock)], In::Pipe);
    a.write_stdin(b"from a\n");
    srv.wait_stdout(b"from a\n", T);
    srv.write_stdin(b"to a\n");
    a.wait_stdout(b"to a\n", T);
    // The listener is connected to a: another client's connect is refused.
    let mut b = nc(&["-Uu", s(&sock)], In::Null);
    expect(
        &mut b,
        T,
        1,
        &format!("nc: {}: Operation not permitted\n", s(&sock)),
        b"",
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
    let mut srv = nc(&["-lUu", s(&sock)], In::Null);
    assert!(eventually(T, || is_socket(&sock)));
    let cp = dir.join("c.sock");
    let c = UnixDatagram::bind(&cp).unwrap();
    c.send_to(b"x\n", &sock).unwrap();
    srv.wait_stdout(b"x\n", T);
    c.send_to(b"", &sock).unwrap();
    expect(&mut srv, T, 0, "", b"x\n");
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
    let mut srv = nc(&["-lUu", s(&sock)], In::Null);
    assert!(eventually(T, || is_socket(&sock)));
    // From a file, the client sends what one send carries: 65535, then the rest.
    let f = dir.join("in");
    let data = payload(100_000, 9);
    std::fs::write(&f, &data).unwrap();
    let mut c = nc(&["-Uu", s(&sock)], In::File(f.clone()));
    srv.wait_stdout(&data[data.len() - 16..], T);
    assert_eq!(sha256(&srv.stdout()), sha256(&data));
    stop(&mut c);
    stop(&mut srv);
    std::fs::remove_file(&f).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
    // And the sizes, seen by a plain receiver.
    let target = dir.join("r.sock");
    let r = UnixDatagram::bind(&target).unwrap();
    r.set_read_timeout(Some(T)).unwrap();
    let f = dir.join("in2");
    std::fs::write(&f, payload(30_000, 10)).unwrap();
    let mut c = nc(&["-Uu", "-q0", s(&target)], In::File(f.clone()));
    assert_eq!(c.code(T), 0);
    let mut buf = vec![0u8; 70_000];
    assert_eq!(r.recv(&mut buf).unwrap(), 30_000);
    assert_eq!(sha256(&buf[..30_000]), sha256(&payload(30_000, 10)));
    drop(r);
    std::fs::remove_file(&target).unwrap();
    std::fs::remove_file(&f).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
    assert_no_new_tmp_dirs(&before);
}

#[test]
fn interop_stream_both_ways() {
    if !openbsd() {
        return;
    }
    let dir = TempDir::new("ist");
    let data = payload(300 * 1024, 11);
    let f = dir.join("in");
    std::fs::write(&f, &data).unwrap();

    // nc.openbsd listens, ncrab sends.
    let sock = dir.join("o.sock");
    let mut srv = peer(&["-lU", s(&sock)], In::Null);
    assert!(eventually(T, || is_socket(&sock)));
    let mut c = nc(&["-NU", s(&sock)], In::File(f.clone()));
    assert_eq!(c.code(T), 0);
    assert_eq!(srv.code(T), 0);
    assert_eq!(sha256(&srv.stdout()), sha256(&data));
    std::fs::remove_file(&sock).unwrap(); // nc.openbsd leaves its socket

    // ncrab listens, nc.openbsd sends; ncrab answers back.
    let sock = dir.join("n.sock");
    let back = payload(200 * 1024, 12);
    let fb = dir.join("back");
    std::fs::write(&fb, &back).unwrap();
    let mut srv = nc(&["-lUN", s(&sock)], In::File(fb.clone()));
    assert!(eventually(T, || is_socket(&sock)));
    let mut c = peer(&["-NU", s(&sock)], In::File(f.clone()));
    assert_eq!(srv.code(T), 0);
    assert_eq!(c.code(T), 0);
    assert_eq!(sha256(&srv.stdout()), sha256(&data));
    assert_eq!(sha256(&c.stdout()), sha256(&back));
    std::fs::remove_file(&f).unwrap();
    std::fs::remove_file(&fb).unwrap();
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn interop_dgram_both_ways() {
    if !openbsd() {
        return;
    }
    let _g = tmp_lock();
    let before = nc_tmp_dirs();
    let dir = TempDir::new("idg");

    // nc.openbsd -lUu listens, an ncrab -Uu client sends datagrams of
    // several sizes (each within nc.openbsd's 16384-byte read).
    let sock = dir.join("o.sock");
    let mut srv = peer(&["-lUu", s(&sock)], In::Pipe);
    assert!(eventually(T, || is_socket(&sock)));
    let mut c = nc(&["-Uuv", s(&sock)], In::Pipe);
    let recv = bound_path(&c);
    let mut all = Vec::new();
    for (i, n) in [1usize, 700, 16_384, 4096].into_iter().enumerate() {
        let d = payload(n, 20 + i as u32);
        c.write_stdin(&d);
        all.extend_from_slice(&d);
        srv.wait_stdout(&d[d.len().saturating_sub(8)..], T);
    }
    assert_eq!(sha256(&srv.stdout()), sha256(&all));
    srv.write_stdin(b"answer\n");
    c.wait_stdout(b"answer\n", T);
    c.signal(libc::SIGTERM);
    c.wait(T);
    assert!(!Path::new(&recv).exists());
    srv.kill();
    std::fs::remove_file(&sock).unwrap();

    // ncrab -lUu listens, an nc.openbsd -Uu client sends (its private
    // directory is removed here: nc.openbsd leaves it when killed).
    let sock = dir.join("n.sock");
    let mut srv = nc(&["-lUuv", s(&sock)], In::Pipe);
    srv.wait_stderr("Bound on", T);
    let mut c = peer(&["-Uuv", s(&sock)], In::Pipe);
    c.wait_stderr("Bound on ", T);
    let their_dir = bound_path(&c);
    let mut all = Vec::new();
    for (i, n) in [16_384usize, 3, 9000].into_iter().enumerate() {
        let d = payload(n, 40 + i as u32);
        c.write_stdin(&d);
        all.extend_from_slice(&d);
        srv.wait_stdout(&d[d.len().saturating_sub(8)..], T);
    }
    assert_eq!(sha256(&srv.stdout()), sha256(&all));
    srv.write_stdin(b"back\n");
    c.wait_stdout(b"back\n", T);
    srv.wait_stderr("Connection received on", T);
    assert_eq!(
        srv.stderr(),
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
    let mut c = nc_out(
        &["-vnF", "127.0.0.1", &port.to_string()],
        In::Null,
        Out::Fd(theirs),
    );
    let (byte, fd) = recv_fd(&ours).expect("a descriptor");
    assert_eq!(byte, 0);
    expect(
        &mut c,
        T,
        0,
        &format!("Connection to 127.0.0.1 {port} port [tcp/*] succeeded!\n"),
        b"",
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
    let mut c = nc_out(&["-F", "127.0.0.1", &port], In::Null, Out::Fd(w));
    expect(
        &mut c,
        T,
        1,
        "nc: sendmsg: Socket operation on non-socket\n",
        b"",
    );
    drop(r);
    // A terminal on stdout.
    let (master, slave) = pty();
    let mut c = nc_out(&["-F", "127.0.0.1", &port], In::Null, Out::Fd(slave));
    expect(
        &mut c,
        T,
        1,
        "nc: Cannot pass file descriptor to tty\n",
        b"",
    );
    drop(master);
    // -F and -U conflict; -F is ignored with -l.
    let mut c = nc(&["-FU", "/tmp/x.sock"], In::Null);
    expect(&mut c, T, 1, "nc: cannot use -F and -U\n", b"");
    let mut srv = nc(&["-lFvn", "127.0.0.1", "0"], In::Null);
    let lp = reported_port(&srv, "Listening");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", lp)).unwrap();
    std::io::Write::write_all(&mut conn, b"plain\n").unwrap();
    drop(conn);
    assert_eq!(srv.code(T), 0);
    assert_eq!(srv.stdout(), b"plain\n");
}

#[test]
fn pass_fd_for_a_unix_stdout_peer_and_udp() {
    // -uF: the connected UDP socket is passed as well.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u.local_addr().unwrap().port();
    let (ours, theirs) = socketpair();
    let mut c = nc_out(
        &["-uF", "127.0.0.1", &port.to_string()],
        In::Null,
        Out::Fd(theirs),
    );
    let (_, fd) = recv_fd(&ours).expect("a descriptor");
    assert_eq!(c.code(T), 0);
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
    let mut srv = nc(&["-lU", s(&sock)], In::Null);
    assert!(eventually(T, || is_socket(&sock)));
    let c1 = UnixStream::connect(&sock).unwrap();
    drop(c1);
    assert_eq!(srv.code(T), 0);
    let mut c = nc(&["-U", s(&sock)], In::Null);
    expect(
        &mut c,
        T,
        1,
        &format!("nc: {}: No such file or directory\n", s(&sock)),
        b"",
    );
}
