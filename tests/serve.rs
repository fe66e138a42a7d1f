//! Listeners that serve (issue 15): `--exec`/`--sh-exec`, concurrent
//! sessions and `--max-conns`, access lists, `--send-only`/`--recv-only`,
//! session logs, `--broker` and `--chat`.
//!
//! ncrab is driven by real clients where they fit (nc.openbsd, ncat, curl,
//! socat) and by the test's own sockets where exact timing matters. The
//! faults of the issue are each a test: a missing program, a program that
//! exits at once, a child that never reads, a child that closes stdout but
//! keeps running, 1,000 sessions in a row, 200 at once, clients that never
//! send, a broker client that stops reading, a garbage deny list, and
//! SIGINT in the middle (children end, ncrab dies by SIGINT). Each asserts
//! what /proc says: no zombie or leftover child, the same open fds after as
//! before, a bounded peak of memory (VmHWM).

mod common;
use common::*;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Instant;

/// Starts `ncrab ARGS PORT` (a listener) in `net` and waits until it listens.
fn listener(net: &Net, args: &[&str]) -> (Proc, u16) {
    listener_with(net, args, Input::Null)
}

fn listener_with(net: &Net, args: &[&str], stdin: Input) -> (Proc, u16) {
    let port = free_port();
    let ps = port.to_string();
    let mut a: Vec<&str> = args.to_vec();
    a.push(&ps);
    let mut p = net.wrap(Cmd::ncrab(&a)).stdin(stdin).spawn();
    net.expect_listen(&mut p, port);
    (p, port)
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// One request/response exchange: send, half-close, read to EOF.
fn exchange(net: &Net, port: u16, data: &[u8]) -> Vec<u8> {
    let mut c = net.connect(&addr(port));
    c.write_all(data).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let (back, eof) = read_until_eof(&mut c, secs(10));
    assert!(eof, "no end of stream; got {}", escape(&back));
    back
}

/// `n` bytes of a seeded pattern.
fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    Pattern::new(seed).fill(0, &mut v);
    v
}

fn kib(p: &Proc, field: &str) -> u64 {
    p.status_kib(field).unwrap_or(0)
}

/// A client program in `net`, run to its end with `stdin`.
fn client(net: &Net, prog: &Path, args: &[&str], stdin: &[u8]) -> Outcome {
    let name = prog
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    net.wrap(Cmd::with_target(prog.to_path_buf(), &name, args))
        .stdin_bytes(stdin)
        .run(secs(20))
}

// ---------------------------------------------------------------------------
// --exec / --sh-exec, one session
// ---------------------------------------------------------------------------

/// An echo service answers nc.openbsd; the listener ends after its one
/// session, status 0, its child reaped.
#[test]
fn exec_echo_with_nc_openbsd() {
    if !openbsd_required() {
        return;
    }
    let net = Net::new("exec_echo");
    let (mut srv, port) = listener(&net, &["-l", "--exec", "/bin/cat"]);
    let data = pattern(7, 300_000);
    let o = client(
        &net,
        Path::new(NC_OPENBSD),
        &["-N", "127.0.0.1", &port.to_string()],
        &data,
    );
    o.assert_code(0);
    assert_eq!(sha256_bytes(&o.stdout), sha256_bytes(&data));
    srv.expect_exit(secs(5)).assert(0, b"", b"");
}

/// The child's environment names the connection (ncrab's and ncat's
/// names), and its only fds are 0, 1 and 2.
#[test]
fn sh_exec_environment_and_fds() {
    let net = Net::new("exec_env");
    let (mut srv, port) = listener(
        &net,
        &[
            "-l",
            "--sh-exec",
            "echo $NCRAB_REMOTE_ADDR $NCAT_LOCAL_ADDR $NCRAB_LOCAL_PORT $NCAT_PROTO; \
             test $NCRAB_REMOTE_PORT = $NCAT_REMOTE_PORT && echo same; ls /proc/$$/fd",
        ],
    );
    let c = net.connect(&addr(port));
    let me = c.local_addr().unwrap().port();
    let mut c = c;
    let (got, eof) = read_until_eof(&mut c, secs(5));
    assert!(eof);
    assert_bytes(
        "child's output",
        format!("127.0.0.1 127.0.0.1 {port} TCP\nsame\n0\n1\n2\n").as_bytes(),
        &got,
    );
    let _ = me;
    srv.expect_exit(secs(5)).assert(0, b"", b"");
}

/// A program that does not exist: the connection closes at once, one
/// line says why, the status is 1.
#[test]
fn exec_missing_program() {
    let net = Net::new("exec_missing");
    let (mut srv, port) = listener(&net, &["-l", "--exec", "/nonexistent/prog -x"]);
    let mut c = net.connect(&addr(port));
    let (got, eof) = read_until_eof(&mut c, secs(5));
    assert!(eof && got.is_empty());
    srv.expect_exit(secs(5)).assert(
        1,
        b"",
        b"nc: cannot run /nonexistent/prog: No such file or directory\n",
    );
}

/// `--exec` with an empty command, with -u, with --broker: one-line
/// errors, status 1.
#[test]
fn exec_bad_combinations() {
    for (args, err) in [
        (
            &["-l", "--exec", "  ", "1"][..],
            "nc: --exec: empty command\n",
        ),
        (
            &["-lZ", "--exec", "/bin/cat", "1"][..],
            "nc: cannot use --exec and -Z\n",
        ),
        (
            &["--broker", "--exec", "/bin/cat", "1"][..],
            "nc: cannot use --exec and --broker\n",
        ),
        (
            &["-l", "--send-only", "--recv-only", "1"][..],
            "nc: cannot use --send-only and --recv-only\n",
        ),
    ] {
        Cmd::ncrab(args).run(secs(5)).assert(1, b"", err.as_bytes());
    }
}

/// A client with `--exec` served by nc.openbsd's listener: the child's
/// output goes to the server, the server's data to the child.
#[test]
fn client_exec_against_openbsd_listener() {
    if !openbsd_required() {
        return;
    }
    let net = Net::new("client_exec");
    let port = free_port();
    let mut srv = net
        .openbsd(&["-l", "127.0.0.1", &port.to_string()])
        .stdin(Input::Bytes(b"abc\n".to_vec()))
        .spawn();
    net.expect_listen(&mut srv, port);
    let o = net
        .wrap(Cmd::ncrab(&[
            "--sh-exec",
            "read x; echo got $x",
            "127.0.0.1",
            &port.to_string(),
        ]))
        .run(secs(10));
    o.assert(0, b"", b"");
    let s = srv.expect_exit(secs(5));
    assert_bytes("server's stdout", b"got abc\n", &s.stdout);
}

/// A program that exits at once, 50 times: every client gets its end of
/// stream, nothing is left behind.
#[test]
fn program_that_exits_at_once() {
    let net = Net::new("exec_true");
    let (mut srv, port) = listener(&net, &["-lk", "--exec", "/bin/true"]);
    for _ in 0..50 {
        let mut c = net.connect(&addr(port));
        let (got, eof) = read_until_eof(&mut c, secs(5));
        assert!(eof && got.is_empty());
    }
    expect_no_children(srv.pid(), secs(5));
    srv.expect_running(ms(100));
    srv.kill();
}

/// A child that never reads, with -w 1: the peer's data stalls (bounded
/// buffers), the session ends after a second of silence, the child gets
/// SIGTERM a second later and is reaped; the listener exits 0.
#[test]
fn child_that_never_reads() {
    let net = Net::new("exec_noread");
    let (mut srv, port) = listener(&net, &["-l", "-w", "1", "--sh-exec", "exec sleep 60"]);
    let mut c = net.connect(&addr(port));
    c.set_write_timeout(Some(ms(200))).unwrap();
    let chunk = vec![0u8; 65536];
    let mut sent = 0usize;
    let end = Instant::now() + secs(3);
    while Instant::now() < end {
        match c.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 64 << 20,
        "{sent} bytes taken: nothing holds the peer back"
    );
    let o = srv.expect_exit(secs(10));
    o.assert(0, b"", b"");
}

/// A child that closes its stdout but keeps running: the peer gets its
/// end of stream at once; once the peer closes, the child gets SIGTERM a
/// second later; no zombie, the listener's fds are back where they were.
#[test]
fn child_closes_stdout_but_keeps_running() {
    let net = Net::new("exec_closeout");
    let (mut srv, port) = listener(&net, &["-lk", "--sh-exec", "exec >&-; exec sleep 60"]);
    let before = srv.settled_fds();
    let mut c = net.connect(&addr(port));
    let t = Instant::now();
    let (got, eof) = read_until_eof(&mut c, secs(5));
    assert!(eof && got.is_empty());
    assert!(t.elapsed() < secs(3), "EOF took {:?}", t.elapsed());
    let kids = children(srv.pid());
    // Still running (as sh, or already as sleep), not a zombie.
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert_ne!(kids[0].1, 'Z', "{kids:?}");
    drop(c);
    expect_no_children(srv.pid(), secs(5));
    assert_eq!(srv.settled_fds(), before);
    srv.kill();
}

// ---------------------------------------------------------------------------
// Many sessions
// ---------------------------------------------------------------------------

/// 1,000 sessions in a row against one `-lk --exec /bin/cat`: every echo
/// is exact; fds, children and memory after the last are as after the
/// first.
#[test]
fn thousand_sessions_in_a_row() {
    let net = Net::new("exec_thousand");
    let (mut srv, port) = listener(&net, &["-lk", "--exec", "/bin/cat"]);
    let mut first = None;
    for i in 0..1000 {
        let msg = format!("session {i}\n");
        assert_bytes(
            "echo",
            msg.as_bytes(),
            &exchange(&net, port, msg.as_bytes()),
        );
        if i == 9 {
            expect_no_children(srv.pid(), secs(5));
            first = Some((srv.settled_fds(), kib(&srv, "VmHWM")));
        }
    }
    expect_no_children(srv.pid(), secs(5));
    let (fds, hwm) = first.unwrap();
    assert_eq!(srv.settled_fds(), fds);
    let hwm_now = kib(&srv, "VmHWM");
    println!("FIGURE thousand_sessions VmHWM {hwm} kB after 10, {hwm_now} kB after 1000");
    assert!(hwm_now < hwm + 4096, "VmHWM {hwm} -> {hwm_now} kB");
    srv.expect_running(ms(50));
    srv.kill();
}

/// 200 clients at once (with --max-conns 200): all are served at the same
/// time (each gets its echo before any closes), then nothing is left.
#[test]
fn two_hundred_at_once() {
    let net = Net::new("exec_200");
    let (mut srv, port) = listener(&net, &["-lk", "--max-conns", "200", "--exec", "/bin/cat"]);
    let before = srv.settled_fds();
    let mut conns: Vec<TcpStream> = (0..200).map(|_| net.connect(&addr(port))).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("client {i}\n").as_bytes()).unwrap();
    }
    // Every echo arrives while all 200 are still open.
    for (i, c) in conns.iter_mut().enumerate() {
        let want = format!("client {i}\n");
        let mut got = vec![0u8; want.len()];
        c.read_exact(&mut got).unwrap();
        assert_bytes("echo", want.as_bytes(), &got);
    }
    assert_eq!(children(srv.pid()).len(), 200);
    let hwm = kib(&srv, "VmHWM");
    println!("FIGURE 200 sessions at once: VmHWM {hwm} kB");
    // Two 64 KiB buffers per session, and the table: bounded, small.
    assert!(hwm < 64 * 1024, "VmHWM {hwm} kB");
    for c in &conns {
        c.shutdown(Shutdown::Write).unwrap();
    }
    for c in &mut conns {
        let (rest, eof) = read_until_eof(c, secs(10));
        assert!(eof && rest.is_empty());
    }
    drop(conns);
    expect_no_children(srv.pid(), secs(5));
    assert_eq!(srv.settled_fds(), before);
    srv.kill();
}

/// Over --max-conns: accepted and closed at once, with one -v line; the
/// sessions already open go on.
#[test]
fn max_conns_refuses_the_extra_connection() {
    let net = Net::new("exec_max");
    let (mut srv, port) = listener(&net, &["-lkvn", "--max-conns", "2", "--exec", "/bin/cat"]);
    let mut a = net.connect(&addr(port));
    let mut b = net.connect(&addr(port));
    for c in [&mut a, &mut b] {
        c.write_all(b"hi\n").unwrap();
        let mut got = [0u8; 3];
        c.read_exact(&mut got).unwrap();
    }
    let mut x = net.connect(&addr(port));
    let xp = x.local_addr().unwrap().port();
    let (got, eof) = read_until_eof(&mut x, secs(5));
    assert!(eof && got.is_empty());
    srv.expect_stderr(
        &format!("Connection from 127.0.0.1 {xp} refused: connection limit (2) reached\n"),
        secs(5),
    );
    assert_eq!(exchange_on(&mut a, b"still\n"), b"still\n");
    drop(b);
    drop(a);
    expect_no_children(srv.pid(), secs(5));
    srv.kill();
}

fn exchange_on(c: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    c.write_all(data).unwrap();
    let mut got = vec![0u8; data.len()];
    c.read_exact(&mut got).unwrap();
    got
}

/// Clients that connect and never send do not hold up the others; SIGINT
/// then ends every child, closes every socket, and ncrab dies by SIGINT.
#[test]
fn silent_clients_then_sigint() {
    let net = Net::new("exec_silent");
    let (mut srv, port) = listener(&net, &["-lk", "--exec", "/bin/cat"]);
    let silent: Vec<TcpStream> = (0..30).map(|_| net.connect(&addr(port))).collect();
    assert_eq!(exchange(&net, port, b"busy\n"), b"busy\n");
    let end = Instant::now() + secs(5);
    while children(srv.pid()).len() != 30 && Instant::now() < end {
        thread::sleep(ms(20));
    }
    let kids: Vec<i32> = children(srv.pid()).iter().map(|k| k.0).collect();
    assert_eq!(kids.len(), 30);
    srv.signal(libc::SIGINT);
    let o = srv.expect_exit(secs(5));
    assert_eq!(o.signal(), Some(libc::SIGINT), "{o}");
    for k in kids {
        assert!(
            !Path::new(&format!("/proc/{k}")).exists(),
            "child {k} outlived ncrab"
        );
    }
    for mut c in silent {
        let (_, eof) = read_until_eof(&mut c, secs(2));
        assert!(eof, "a silent client's connection stayed open");
    }
}

// ---------------------------------------------------------------------------
// Real clients: curl, ncat, socat
// ---------------------------------------------------------------------------

/// An HTTP responder answers curl, ten times.
#[test]
fn http_responder_answers_curl() {
    let Some(curl) = tool("curl", "curl") else {
        return;
    };
    let net = Net::new("exec_http");
    let (mut srv, port) = listener(
        &net,
        &[
            "-lk",
            "--sh-exec",
            "printf 'HTTP/1.0 200 OK\\r\\nContent-Length: 6\\r\\n\\r\\nhello\\n'",
        ],
    );
    let url = format!("http://127.0.0.1:{port}/");
    for _ in 0..10 {
        let o = client(&net, &curl, &["-sS", "--max-time", "5", &url], b"");
        o.assert(0, b"hello\n", b"");
    }
    expect_no_children(srv.pid(), secs(5));
    srv.kill();
}

/// ncat and socat as clients of the echo service.
#[test]
fn ncat_and_socat_clients() {
    let net = Net::new("exec_peers");
    let (mut srv, port) = listener(&net, &["-lk", "--exec", "/bin/cat"]);
    let data = pattern(3, 100_000);
    if let Some(ncat) = tool("ncat", "ncat") {
        let o = client(&net, &ncat, &["127.0.0.1", &port.to_string()], &data);
        o.assert_code(0);
        assert_eq!(sha256_bytes(&o.stdout), sha256_bytes(&data));
    }
    if let Some(socat) = tool("socat", "socat") {
        let o = client(
            &net,
            &socat,
            &["-", &format!("TCP:127.0.0.1:{port}")],
            &data,
        );
        o.assert_code(0);
        assert_eq!(sha256_bytes(&o.stdout), sha256_bytes(&data));
    }
    expect_no_children(srv.pid(), secs(5));
    srv.kill();
}

// ---------------------------------------------------------------------------
// Access control
// ---------------------------------------------------------------------------

/// A denied peer is closed at once with one -v line; nothing it sent
/// reaches stdout. An allowed one is relayed (plain -lk: nc's relay).
#[test]
fn deny_list_on_a_plain_listener() {
    let net = Net::new("acl_plain");
    let (mut srv, port) = listener(&net, &["-lkv", "--deny", "127.0.0.2, 10.0.0.0/8"]);
    let sa: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // From 127.0.0.2: refused.
    let mut c = net.run_in(|| {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(
            &"127.0.0.2:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        s.connect(&sa.into()).unwrap();
        TcpStream::from(s)
    });
    let cp = c.local_addr().unwrap().port();
    let _ = c.write_all(b"secret\n");
    // Closed at once: an end of stream, or a reset for the unread bytes.
    let t = Instant::now();
    let (got, _) = read_until_eof(&mut c, secs(5));
    assert!(got.is_empty() && t.elapsed() < secs(4));
    srv.expect_stderr(
        &format!("Connection from 127.0.0.2 {cp} refused: not allowed\n"),
        secs(5),
    );
    // From 127.0.0.1: relayed.
    let mut ok = net.connect(&addr(port));
    ok.write_all(b"fine\n").unwrap();
    ok.shutdown(Shutdown::Write).unwrap();
    read_until_eof(&mut ok, secs(5));
    assert!(srv.wait_stdout(b"fine\n", secs(5)));
    let o = srv.kill();
    assert_bytes("stdout", b"fine\n", &o.stdout);
}

/// --allow with a host name and an allow file; a v4-mapped peer of a
/// dual-stack listener matches its IPv4 rule.
#[test]
fn allow_lists_and_mapped_peers() {
    let net = Net::new("acl_allow");
    let dir = TempDir::new("acl");
    let file = dir.join("allow");
    fs::write(&file, "# only this one\n10.9.9.9 # nobody\n").unwrap();
    // Allowed: nobody here; refused with -v.
    let (mut srv, port) = listener(
        &net,
        &[
            "-lkvn",
            "--allowfile",
            file.to_str().unwrap(),
            "--exec",
            "/bin/cat",
        ],
    );
    let (got, eof) = {
        let mut c = net.connect(&addr(port));
        read_until_eof(&mut c, secs(5))
    };
    assert!(eof && got.is_empty());
    srv.expect_stderr("refused: not allowed\n", secs(5));
    srv.kill();
    // Dual stack: a deny rule for 127.0.0.1 refuses the mapped peer.
    let (mut srv, port) = listener(
        &net,
        &["-6lkvn", "--deny", "127.0.0.1", "--exec", "/bin/cat"],
    );
    let mut c = net.connect(&addr(port));
    let cp = c.local_addr().unwrap().port();
    let (got, eof) = read_until_eof(&mut c, secs(5));
    assert!(eof && got.is_empty());
    srv.expect_stderr(
        &format!("Connection from ::ffff:127.0.0.1 {cp} refused: not allowed\n"),
        secs(5),
    );
    srv.kill();
    // A host name: localhost resolves to 127.0.0.1 (and ::1).
    let (mut srv, port) = listener(&net, &["-lk", "--allow", "localhost", "--exec", "/bin/cat"]);
    assert_eq!(exchange(&net, port, b"me\n"), b"me\n");
    srv.kill();
}

/// Garbage in a deny list (or an unreadable deny file): one line, status
/// 1, nothing listens.
#[test]
fn garbage_deny_list() {
    let dir = TempDir::new("acl_bad");
    let file = dir.join("deny");
    fs::write(&file, "10.0.0.1\n10.0.0.0/33\n").unwrap();
    for (args, err) in [
        (
            vec!["-l", "--deny", "10.0.0.1,@@@", "1"],
            "nc: --deny: bad entry '@@@': not an address, a CIDR block or a host name\n"
                .to_string(),
        ),
        (
            vec!["-l", "--denyfile", file.to_str().unwrap(), "1"],
            "nc: --deny: bad entry '10.0.0.0/33': not a prefix length\n".to_string(),
        ),
        (
            vec!["-l", "--denyfile", "/nonexistent/deny", "1"],
            "nc: --denyfile /nonexistent/deny: No such file or directory\n".to_string(),
        ),
        (
            vec!["--deny", "10.0.0.1", "127.0.0.1", "1"],
            "nc: --allow and --deny need -l\n".to_string(),
        ),
    ] {
        Cmd::ncrab(&args)
            .run(secs(5))
            .assert(1, b"", err.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// Direction and logs
// ---------------------------------------------------------------------------

/// --recv-only never reads stdin; --send-only throws away what arrives
/// and ends once stdin is sent.
#[test]
fn send_only_and_recv_only() {
    if !openbsd_required() {
        return;
    }
    let net = Net::new("direction");
    // --recv-only: the listener's stdin is never sent.
    let (mut srv, port) = listener_with(
        &net,
        &["-l", "--recv-only"],
        Input::Bytes(b"never\n".to_vec()),
    );
    let o = client(
        &net,
        Path::new(NC_OPENBSD),
        &["-N", "127.0.0.1", &port.to_string()],
        b"up\n",
    );
    o.assert(0, b"", b"");
    srv.expect_exit(secs(5)).assert(0, b"up\n", b"");
    // --send-only: stdin goes out, what arrives is thrown away, and the
    // session ends with stdin (the client never closes by itself).
    let (mut srv, port) = listener_with(
        &net,
        &["-l", "--send-only"],
        Input::Bytes(b"down\n".to_vec()),
    );
    let mut c = net.connect(&addr(port));
    c.write_all(b"ignored\n").unwrap();
    let (got, eof) = read_until_eof(&mut c, secs(5));
    assert!(eof);
    assert_bytes("received", b"down\n", &got);
    srv.expect_exit(secs(5)).assert(0, b"", b"");
}

/// --output gets both directions in order; --hex-dump the same as ncat's
/// layout with a direction line per chunk; --append-output appends.
#[test]
fn output_and_hex_dump() {
    let net = Net::new("logs");
    let dir = TempDir::new("logs");
    let out = dir.join("out");
    let hex = dir.join("hex");
    let (o, h) = (out.to_str().unwrap(), hex.to_str().unwrap());
    for round in 0..2 {
        let mut args = vec!["-l", "--output", o, "--hex-dump", h];
        if round == 1 {
            args.push("--append-output");
        }
        let (mut srv, port) = listener_with(&net, &args, Input::Pipe);
        let mut c = net.connect(&addr(port));
        c.write_all(b"ping\n").unwrap();
        assert!(srv.wait_stdout(b"ping\n", secs(5)));
        srv.write_stdin(b"pong\n").unwrap();
        let mut got = [0u8; 5];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"pong\n");
        drop(c);
        srv.close_stdin();
        srv.expect_exit(secs(5)).assert_code(0);
    }
    assert_bytes(
        "--output",
        b"ping\npong\nping\npong\n",
        &fs::read(&out).unwrap(),
    );
    let one = "< 5 bytes received\n\
0000   70 69 6e 67 0a                                    ping.           \n\
> 5 bytes sent\n\
0000   70 6f 6e 67 0a                                    pong.           \n";
    assert_bytes(
        "--hex-dump",
        format!("{one}{one}").as_bytes(),
        &fs::read(&hex).unwrap(),
    );
}

/// --output with an exec session logs what the child and the peer said.
#[test]
fn output_of_an_exec_session() {
    let net = Net::new("logs_exec");
    let dir = TempDir::new("logs_exec");
    let out = dir.join("out");
    let (mut srv, port) = listener(
        &net,
        &[
            "-l",
            "--output",
            out.to_str().unwrap(),
            "--sh-exec",
            "read x; echo re $x",
        ],
    );
    assert_eq!(exchange(&net, port, b"q\n"), b"re q\n");
    srv.expect_exit(secs(5)).assert(0, b"", b"");
    assert_bytes("--output", b"q\nre q\n", &fs::read(&out).unwrap());
}

// ---------------------------------------------------------------------------
// Broker and chat
// ---------------------------------------------------------------------------

/// Each client's data goes to every other client and to stdout; stdin
/// goes to all clients.
#[test]
fn broker_fans_out() {
    let net = Net::new("broker");
    let (mut srv, port) = listener_with(&net, &["--broker", "-v"], Input::Pipe);
    let mut cs: Vec<TcpStream> = (0..3).map(|_| net.connect(&addr(port))).collect();
    let end = Instant::now() + secs(5);
    while srv.stderr_text().matches("Connection received").count() < 3 && Instant::now() < end {
        thread::sleep(ms(10));
    }
    cs[0].write_all(b"from0\n").unwrap();
    for c in &mut cs[1..] {
        let mut got = [0u8; 6];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"from0\n");
    }
    assert!(srv.wait_stdout(b"from0\n", secs(5)));
    srv.write_stdin(b"all\n").unwrap();
    for c in &mut cs {
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"all\n");
    }
    srv.signal(libc::SIGINT);
    let o = srv.expect_exit(secs(5));
    assert_eq!(o.signal(), Some(libc::SIGINT));
    for c in &mut cs {
        assert!(read_until_eof(c, secs(2)).1);
    }
}

/// The chat room: ncat's announcements and `<userN> ` prefixes.
#[test]
fn chat_announces_and_prefixes() {
    let net = Net::new("chat");
    let (mut srv, port) = listener(&net, &["--chat"]);
    let mut a = net.connect(&addr(port));
    let line = |c: &mut TcpStream| {
        let mut v = Vec::new();
        let mut b = [0u8; 1];
        while c.read_exact(&mut b).is_ok() {
            v.push(b[0]);
            if b[0] == b'\n' {
                break;
            }
        }
        String::from_utf8(v).unwrap()
    };
    let l1 = line(&mut a);
    assert!(
        l1.starts_with("<announce> 127.0.0.1 is connected as <user") && l1.ends_with(">.\n"),
        "{l1:?}"
    );
    let ua: String = l1
        .rsplit("<user")
        .next()
        .unwrap()
        .trim_end_matches(">.\n")
        .into();
    assert_eq!(line(&mut a), "<announce> already connected: nobody.\n");
    let mut b = net.connect(&addr(port));
    let l = line(&mut b);
    let ub: String = l
        .rsplit("<user")
        .next()
        .unwrap()
        .trim_end_matches(">.\n")
        .into();
    assert_eq!(
        line(&mut b),
        format!("<announce> already connected: 127.0.0.1 as <user{ua}>.\n")
    );
    assert_eq!(line(&mut a), l);
    line(&mut a);
    b.write_all(b"hi\x01 there\n").unwrap();
    assert_eq!(line(&mut a), format!("<user{ub}> hi\\001 there\n"));
    drop(b);
    assert_eq!(
        line(&mut a),
        format!("<announce> <user{ub}> is disconnected.\n")
    );
    srv.kill();
}

/// A broker client that stops reading is dropped once its 1 MiB queue
/// stays full; the others get every byte of 32 MiB from stdin; memory
/// stays bounded.
#[test]
fn broker_drops_a_client_that_stops_reading() {
    let net = Net::new("broker_slow");
    let dir = TempDir::new("broker_slow");
    let src = dir.join("src");
    let data = pattern(11, 32 << 20);
    fs::write(&src, &data).unwrap();
    let (mut srv, port) = listener_with(&net, &["--broker", "-vn"], Input::Pipe);
    let stalled = net.connect(&addr(port));
    let sp = stalled.local_addr().unwrap().port();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = net.connect(&addr(port));
            thread::spawn(move || {
                let mut all = Vec::new();
                let mut buf = vec![0u8; 1 << 16];
                let _ = c.set_read_timeout(Some(secs(20)));
                while all.len() < 32 << 20 {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => all.extend_from_slice(&buf[..n]),
                    }
                }
                all
            })
        })
        .collect();
    let end = Instant::now() + secs(5);
    while srv.stderr_text().matches("Connection received").count() < 3 && Instant::now() < end {
        thread::sleep(ms(10));
    }
    for chunk in data.chunks(1 << 20) {
        srv.write_stdin(chunk).unwrap();
    }
    for r in readers {
        let got = r.join().unwrap();
        assert_eq!(got.len(), data.len());
        assert_eq!(sha256_bytes(&got), sha256_bytes(&data));
    }
    srv.expect_stderr(
        &format!("Connection from 127.0.0.1 {sp} dropped: it reads too slowly (1.0 MiB queued)\n"),
        secs(5),
    );
    let hwm = kib(&srv, "VmHWM");
    println!("FIGURE broker 32 MiB to 2 readers + 1 stalled: VmHWM {hwm} kB");
    assert!(hwm < 32 * 1024, "VmHWM {hwm} kB");
    drop(stalled);
    srv.kill();
}

/// SIGINT during one session whose child never reads and never exits:
/// the child ends, ncrab dies by SIGINT.
#[test]
fn sigint_during_a_single_session() {
    let net = Net::new("exec_sigint");
    let (mut srv, port) = listener(&net, &["-l", "--sh-exec", "trap '' PIPE; exec sleep 60"]);
    let mut c = net.connect(&addr(port));
    c.write_all(b"data nobody reads\n").unwrap();
    let end = Instant::now() + secs(5);
    while children(srv.pid()).is_empty() && Instant::now() < end {
        thread::sleep(ms(10));
    }
    let kids: Vec<i32> = children(srv.pid()).iter().map(|k| k.0).collect();
    assert_eq!(kids.len(), 1);
    srv.signal(libc::SIGINT);
    let o = srv.expect_exit(secs(5));
    assert_eq!(o.signal(), Some(libc::SIGINT), "{o}");
    assert!(!Path::new(&format!("/proc/{}", kids[0])).exists());
    let _ = read_until_eof(&mut c, secs(2));
}

/// A `-lu` listener drops the datagrams of a refused peer (one -v line)
/// and talks with the first allowed one; access lists with `-U` or
/// `-u -k` are refused at start.
#[test]
fn access_lists_and_datagrams() {
    if !openbsd_required() {
        return;
    }
    let net = Net::new("acl_udp");
    let port = free_port();
    let ps = port.to_string();
    let mut srv = net
        .wrap(Cmd::ncrab(&[
            "-lu",
            "-vn",
            "--deny",
            "127.0.0.1",
            "127.0.0.1",
            &ps,
        ]))
        .stdin(Input::Null)
        .spawn();
    srv.expect_stderr(&format!("Bound on 127.0.0.1 {port}\n"), secs(5));
    let udp = |src: &str, data: &[u8]| {
        let s = net.run_in(|| std::net::UdpSocket::bind(format!("{src}:0")).unwrap());
        s.send_to(data, format!("127.0.0.1:{port}")).unwrap();
        s.local_addr().unwrap().port()
    };
    let p1 = udp("127.0.0.1", b"refused\n");
    srv.expect_stderr(
        &format!("Connection from 127.0.0.1 {p1} refused: not allowed\n"),
        secs(5),
    );
    let p2 = udp("127.0.0.2", b"welcome\n");
    srv.expect_stderr(&format!("Connection received on 127.0.0.2 {p2}\n"), secs(5));
    assert!(srv.wait_stdout(b"welcome\n", secs(5)));
    let o = srv.kill();
    assert_bytes("stdout", b"welcome\n", &o.stdout);
    for (args, err) in [
        (
            &["-lU", "--deny", "10.0.0.1", "/tmp/x.sock"][..],
            "nc: cannot use --allow and --deny with -U\n",
        ),
        (
            &["-luk", "--allow", "10.0.0.1", "1"][..],
            "nc: cannot use --allow and --deny with -u -k\n",
        ),
    ] {
        Cmd::ncrab(args).run(secs(5)).assert(1, b"", err.as_bytes());
    }
}

/// `-C` applies to what the child sends.
#[test]
fn crlf_applies_to_the_child_output() {
    let net = Net::new("exec_crlf");
    let (mut srv, port) = listener(&net, &["-l", "-C", "--sh-exec", "printf 'a\\nb\\r\\nc\\n'"]);
    let mut c = net.connect(&addr(port));
    let (got, eof) = read_until_eof(&mut c, secs(5));
    assert!(eof);
    assert_bytes("wire", b"a\r\nb\r\nc\r\n", &got);
    srv.expect_exit(secs(5)).assert(0, b"", b"");
}

/// A low open-file limit is back-pressure, not an error: with room for
/// six sessions, thirty clients at once are all served, the later ones
/// from the backlog as the earlier ones end; nothing is printed.
#[test]
fn open_file_limit_is_back_pressure() {
    let net = Net::new("exec_nofile");
    let port = free_port();
    let ps = port.to_string();
    let mut srv = net
        .wrap(Cmd::ncrab(&["-lk", "--exec", "/bin/cat", &ps]))
        .stdin(Input::Null)
        .nofile(46)
        .spawn();
    net.expect_listen(&mut srv, port);
    let mut conns: Vec<TcpStream> = (0..30).map(|_| net.connect(&addr(port))).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("client {i}\n").as_bytes()).unwrap();
    }
    let end = Instant::now() + secs(2);
    while children(srv.pid()).len() < 6 && Instant::now() < end {
        thread::sleep(ms(10));
    }
    assert!(children(srv.pid()).len() <= 6, "{:?}", children(srv.pid()));
    for (i, mut c) in conns.drain(..).enumerate() {
        let want = format!("client {i}\n");
        let mut got = vec![0u8; want.len()];
        c.read_exact(&mut got).unwrap();
        assert_bytes("echo", want.as_bytes(), &got);
    }
    expect_no_children(srv.pid(), secs(5));
    let o = srv.kill();
    assert_bytes("stderr", b"", &o.stderr);
}

/// A descriptor ncrab inherited without close-on-exec (from a careless
/// parent) does not reach the children either.
#[test]
fn inherited_fds_do_not_reach_the_child() {
    let port = free_port();
    let ps = port.to_string();
    let mut srv = Cmd::ncrab(&["-l", "127.0.0.1", &ps, "--sh-exec", "ls /proc/$$/fd"])
        .under(&[
            "/bin/sh",
            "-c",
            "exec 7</dev/null 9>/dev/null; exec \"$@\"",
            "sh",
            "{}",
        ])
        .stdin(Input::Null)
        .spawn();
    assert!(wait_tcp_listen(port, secs(5)), "no listener");
    let fds: Vec<i32> = srv.fds().iter().map(|f| f.0).collect();
    assert!(fds.contains(&7) && fds.contains(&9), "{fds:?}");
    let mut c = TcpStream::connect(addr(port)).unwrap();
    let (got, eof) = read_until_eof(&mut c, secs(5));
    assert!(eof);
    assert_bytes("child's fds", b"0\n1\n2\n", &got);
    srv.expect_exit(secs(5)).assert(0, b"", b"");
}

/// ncat and nc.openbsd as broker clients: what one sends, the other gets.
#[test]
fn broker_with_ncat_and_openbsd_clients() {
    let Some(ncat) = tool("ncat", "ncat") else {
        return;
    };
    if !openbsd_required() {
        return;
    }
    let net = Net::new("broker_peers");
    let (mut srv, port) = listener(&net, &["--broker", "-v"]);
    // The receiver: nc.openbsd, reading until it has the line.
    let mut rcv = net
        .openbsd(&["-d", "127.0.0.1", &port.to_string()])
        .stdin(Input::Null)
        .spawn();
    let end = Instant::now() + secs(5);
    while srv.stderr_text().matches("Connection received").count() < 1 && Instant::now() < end {
        thread::sleep(ms(10));
    }
    // The sender: ncat, which closes after its stdin (--send-only).
    let o = client(
        &net,
        &ncat,
        &["--send-only", "127.0.0.1", &port.to_string()],
        b"via the broker\n",
    );
    o.assert_code(0);
    assert!(
        rcv.wait_stdout(b"via the broker\n", secs(5)),
        "{}",
        escape(&rcv.stdout_now())
    );
    assert!(srv.wait_stdout(b"via the broker\n", secs(5)));
    rcv.kill();
    srv.kill();
}

/// `-lu --exec`: the first datagram's sender is served by one child (its
/// environment says UDP); `-u --exec` as a client sends the child's
/// output as datagrams.
#[test]
fn exec_over_udp() {
    if !openbsd_required() {
        return;
    }
    let net = Net::new("exec_udp");
    let port = free_port();
    let ps = port.to_string();
    let mut srv = net
        .wrap(Cmd::ncrab(&[
            "-lu",
            "127.0.0.1",
            &ps,
            "--sh-exec",
            "read x; echo \"got $x from $NCRAB_REMOTE_ADDR $NCRAB_PROTO\"",
        ]))
        .stdin(Input::Null)
        .spawn();
    let end = Instant::now() + secs(5);
    while !fs::read_to_string(format!("/proc/{}/net/udp", srv.pid()))
        .unwrap_or_default()
        .contains(&format!(":{port:04X} "))
        && Instant::now() < end
    {
        thread::sleep(ms(10));
    }
    let s = net.run_in(|| std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
    s.set_read_timeout(Some(secs(5))).unwrap();
    s.send_to(b"hello\n", format!("127.0.0.1:{port}")).unwrap();
    let mut buf = [0u8; 100];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    assert_bytes("reply", b"got hello from 127.0.0.1 UDP\n", &buf[..n]);
    srv.expect_exit(secs(5)).assert(0, b"", b"");
    // The client side, against nc.openbsd's -lu.
    let port = free_port();
    let mut nc = net
        .openbsd(&["-lu", "127.0.0.1", &port.to_string()])
        .stdin(Input::Null)
        .spawn();
    thread::sleep(ms(200));
    net.wrap(Cmd::ncrab(&[
        "-u",
        "127.0.0.1",
        &port.to_string(),
        "--sh-exec",
        "echo from child",
    ]))
    .run(secs(10))
    .assert(0, b"", b"");
    assert!(nc.wait_stdout(b"from child\n", secs(5)));
    nc.kill();
}

/// `-luk --exec`: one child per UDP peer, at the same time, each knowing
/// its peer; `-w` ends an idle peer's session (its child then ends), and
/// SIGINT ends the rest.
#[test]
fn exec_one_child_per_udp_peer() {
    let net = Net::new("exec_udp_peers");
    let port = free_port();
    let ps = port.to_string();
    let mut srv = net
        .wrap(Cmd::ncrab(&[
            "-luk",
            "-w",
            "2",
            "127.0.0.1",
            &ps,
            "--sh-exec",
            "while read x; do echo \"$NCRAB_REMOTE_PORT: $x\"; done",
        ]))
        .stdin(Input::Null)
        .spawn();
    let end = Instant::now() + secs(5);
    while !fs::read_to_string(format!("/proc/{}/net/udp", srv.pid()))
        .unwrap_or_default()
        .contains(&format!(":{port:04X} "))
        && Instant::now() < end
    {
        thread::sleep(ms(10));
    }
    let peers: Vec<std::net::UdpSocket> = (0..3)
        .map(|_| {
            let s = net.run_in(|| std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
            s.set_read_timeout(Some(secs(5))).unwrap();
            s
        })
        .collect();
    for round in 0..3 {
        for (i, p) in peers.iter().enumerate() {
            p.send_to(
                format!("m{i}.{round}\n").as_bytes(),
                format!("127.0.0.1:{port}"),
            )
            .unwrap();
        }
        for (i, p) in peers.iter().enumerate() {
            let mut buf = [0u8; 100];
            let (n, _) = p.recv_from(&mut buf).unwrap();
            let me = p.local_addr().unwrap().port();
            assert_bytes(
                "reply",
                format!("{me}: m{i}.{round}\n").as_bytes(),
                &buf[..n],
            );
        }
    }
    assert_eq!(children(srv.pid()).len(), 3);
    // Idle for -w 2: the sessions end, their children with them.
    expect_no_children(srv.pid(), secs(6));
    // A new datagram from a known peer starts a new session.
    peers[0]
        .send_to(b"again\n", format!("127.0.0.1:{port}"))
        .unwrap();
    let mut buf = [0u8; 100];
    let (n, _) = peers[0].recv_from(&mut buf).unwrap();
    assert!(buf[..n].ends_with(b": again\n"));
    srv.signal(libc::SIGINT);
    let o = srv.expect_exit(secs(5));
    assert_eq!(o.signal(), Some(libc::SIGINT), "{o}");
}
