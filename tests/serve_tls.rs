//! The listeners that serve (issue 15) over TLS (`-c`, issue 14):
//! `--exec`/`--sh-exec` with many clients at once, the client checks
//! (`-T clientcert`), access lists, `--output`, the handshake deadline,
//! `--broker`/`--chat`, SIGINT (docs/compatibility.md §A.3).
//!
//! What matters most here: a client gets a child, or joins the broker,
//! only once its handshake and the listener's checks passed; a client that
//! never finishes its handshake cannot hold a slot past the deadline; the
//! bytes are exact (sha256); nothing is left behind (/proc).
//!
//! Clients are ncrab itself (`-c`), ncat --ssl, openssl s_client, socat
//! OPENSSL, and a rustls client in the test where the exact end of the
//! stream matters (a bare FIN, a corrupt record).

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

/// Starts `ncrab ARGS 127.0.0.1 PORT` in `net` and waits until it listens.
fn listener(net: &Net, args: &[&str], stdin: Input) -> (Proc, u16) {
    let port = free_port();
    let ps = port.to_string();
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["127.0.0.1", &ps]);
    let mut p = net.wrap(Cmd::ncrab(&a)).stdin(stdin).spawn();
    net.expect_listen(&mut p, port);
    (p, port)
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// An ncrab TLS client (no verification) sending `data`, then
/// close_notify and FIN (-N).
fn tls_client(net: &Net, port: u16, data: &[u8]) -> Cmd {
    let p = port.to_string();
    net.wrap(Cmd::ncrab(&["-c", "-N", "-T", "noverify", "127.0.0.1", &p]))
        .stdin_bytes(data)
}

/// One echo exchange over TLS, checked by sha256.
#[track_caller]
fn echo(net: &Net, port: u16, data: &[u8]) {
    let o = tls_client(net, port, data).run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    assert_eq!(sha256_bytes(&o.stdout), sha256_bytes(data), "echo differs");
}

fn marker_absent(p: &Path) -> bool {
    !p.exists()
}

/// A rustls client of the test, verifying the server with the test CA.
fn rustls_client(
    c: &Certs,
    sock: TcpStream,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(c.path("ca.pem")).expect("ca.pem") {
        roots.add(cert.expect("ca cert")).expect("add ca");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).expect("client");
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).expect("handshake");
    }
    s
}

/// The server arguments for the test certificate.
fn srv_cert(c: &Certs) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        c.path("srv.pem"),
        "-K".into(),
        c.path("srv.key"),
    ]
}

// ---------------------------------------------------------------------------
// Exec over TLS
// ---------------------------------------------------------------------------

/// 50 TLS clients at once against `-lkc --exec /bin/cat`, each with its
/// own random data: every echo exact; then no child and no fd left.
#[test]
fn fifty_concurrent_tls_echo_clients() {
    let net = Net::new("stls_fifty");
    let (mut srv, port) = listener(&net, &["-lkc", "--exec", "/bin/cat"], Input::Null);
    let before = srv.settled_fds();
    let datas: Vec<Vec<u8>> = (0..50)
        .map(|i| payload(48 * 1024 + i * 97, i as u32 + 1))
        .collect();
    let clients: Vec<Proc> = datas
        .iter()
        .map(|d| tls_client(&net, port, d).spawn())
        .collect();
    for (i, (mut c, d)) in clients.into_iter().zip(&datas).enumerate() {
        let o = c.expect_exit(LIMIT);
        assert_eq!(o.code(), Some(0), "client {i}: {o}");
        assert_eq!(
            sha256_bytes(&o.stdout),
            sha256_bytes(d),
            "client {i}: echo differs"
        );
    }
    expect_no_children(srv.pid(), secs(10));
    assert_eq!(srv.settled_fds(), before);
    srv.expect_running(ms(50));
    srv.kill();
}

/// ncat --ssl, openssl s_client and socat OPENSSL as clients of an exec
/// service over TLS: the child (`head -c N`) answers N bytes and exits;
/// each client gets them exactly (sha256) and its end of stream.
#[test]
fn ncat_s_client_and_socat_against_exec_over_tls() {
    let net = Net::new("stls_peers");
    const N: usize = 100_000;
    let cmd = format!("head -c {N}");
    let (mut srv, port) = listener(&net, &["-lkc", "--sh-exec", &cmd], Input::Null);
    let data = payload(N, 77);
    let want = sha256_bytes(&data);
    let run = |prog: PathBuf, name: &str, args: &[&str]| {
        net.wrap(Cmd::with_target(prog, name, args))
            .stdin_bytes(&data)
            .run(LIMIT)
    };
    let a = addr(port);
    if let Some(ncat) = tool("ncat", "ncat") {
        let o = run(ncat, "ncat", &["--ssl", "127.0.0.1", &port.to_string()]);
        assert_eq!(sha256_bytes(&o.stdout), want, "ncat: {o}");
    }
    if let Some(openssl) = tool("openssl", "openssl") {
        let o = run(
            openssl,
            "openssl",
            &["s_client", "-quiet", "-ign_eof", "-connect", &a],
        );
        assert_eq!(sha256_bytes(&o.stdout), want, "s_client: {o}");
    }
    if let Some(socat) = tool("socat", "socat") {
        let target = format!("OPENSSL:{a},verify=0");
        let o = run(socat, "socat", &["-t", "20", "-", &target]);
        assert_eq!(o.code(), Some(0), "socat: {o}");
        assert_eq!(sha256_bytes(&o.stdout), want, "socat: {o}");
    }
    expect_no_children(srv.pid(), secs(10));
    srv.kill();
}

/// -T clientcert: a client without a certificate gets OpenBSD's line and
/// no child (the child would create a marker file); the listener serves
/// the next client, which has one.
#[test]
fn missing_client_certificate_spawns_no_child() {
    let Some(c) = certs() else { return };
    let net = Net::new("stls_clientcert");
    let dir = TempDir::new("stls-marker");
    let marker = dir.join("spawned");
    let script = format!("touch {}; cat", marker.display());
    let ca = c.path("ca.pem");
    let mut args: Vec<String> = vec![
        "-lkvc".into(),
        "-T".into(),
        "clientcert".into(),
        "-R".into(),
        ca.clone(),
    ];
    args.extend(srv_cert(&c));
    args.extend(["--sh-exec".into(), script]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Null);
    let p = port.to_string();
    let o = net
        .wrap(Cmd::ncrab(&[
            "-c",
            "-R",
            &ca,
            "-e",
            "localhost",
            "127.0.0.1",
            &p,
        ]))
        .stdin(Input::Pipe)
        .spawn();
    srv.expect_stderr("nc: No client certificate provided\n", LIMIT);
    drop(o);
    // Give a wrongly started child every chance to show.
    thread::sleep(ms(300));
    assert!(
        marker_absent(&marker),
        "a child started for a refused client"
    );
    assert!(children(srv.pid()).is_empty());
    let (cc, ck) = (c.path("client.pem"), c.path("client.key"));
    let o = net
        .wrap(Cmd::ncrab(&[
            "-c",
            "-N",
            "-R",
            &ca,
            "-e",
            "localhost",
            "--tls-cert",
            &cc,
            "-K",
            &ck,
            "127.0.0.1",
            &p,
        ]))
        .stdin_bytes(b"with a certificate\n")
        .run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    assert_eq!(o.stdout, b"with a certificate\n", "{o}");
    assert!(marker.exists());
    let err = srv.stderr_text();
    assert!(
        err.contains("Subject: /O=Test/CN=client.example\n"),
        "{err}"
    );
    // -v: the accept's line, then the certificate's after the handshake.
    let second = err.rfind("Connection received").unwrap_or(usize::MAX);
    assert!(second < err.find("Subject:").unwrap_or(0), "{err}");
    assert_eq!(
        err.matches("No client certificate provided").count(),
        1,
        "{err}"
    );
    expect_no_children(srv.pid(), secs(10));
    srv.kill();
}

/// -v order: `Connection received` at the accept, the client
/// certificate's lines after the handshake; a client whose handshake
/// fails gets one line and no child.
#[test]
fn verbose_order_and_failed_handshake_spawn_no_child() {
    let net = Net::new("stls_order");
    let dir = TempDir::new("stls-marker2");
    let marker = dir.join("spawned");
    let script = format!("touch {}; cat", marker.display());
    let (mut srv, port) = listener(&net, &["-lkvnc", "--sh-exec", &script], Input::Null);
    let mut plain = net.connect(&addr(port));
    let cp = plain.local_addr().unwrap().port();
    let _ = plain.write_all(b"GET / HTTP/1.0\r\n\r\n");
    srv.expect_stderr(
        "nc: tls handshake failed (the peer did not speak TLS)\n",
        LIMIT,
    );
    let (_, eof) = read_until_eof(&mut plain, secs(5));
    assert!(eof);
    thread::sleep(ms(300));
    assert!(
        marker_absent(&marker),
        "a child started for a failed handshake"
    );
    let err = srv.stderr_text();
    let recv = format!("Connection received on 127.0.0.1 {cp}\n");
    let (r, f) = (err.find(&recv), err.find("tls handshake failed"));
    assert!(r.is_some() && r < f, "{err}");
    echo(&net, port, b"next\n");
    assert!(marker.exists());
    srv.kill();
}

/// --deny over TLS: the denied client gets no byte at all (no
/// ServerHello), one -v line names it; an allowed client is served.
#[test]
fn denied_client_gets_no_server_hello() {
    let net = Net::new("stls_deny");
    let (mut srv, port) = listener(
        &net,
        &["-lkvnc", "--deny", "127.0.0.2", "--exec", "/bin/cat"],
        Input::Null,
    );
    let sa: std::net::SocketAddr = addr(port).parse().unwrap();
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
    // The start of a ClientHello.
    let _ = c.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]);
    let (got, _) = read_until_eof(&mut c, secs(5));
    assert!(got.is_empty(), "the denied client got {} bytes", got.len());
    srv.expect_stderr(
        &format!("Connection from 127.0.0.2 {cp} refused: not allowed\n"),
        LIMIT,
    );
    echo(&net, port, b"allowed\n");
    let err = srv.stderr_text();
    assert!(!err.contains("tls handshake failed"), "{err}");
    srv.kill();
}

/// --output over TLS logs the plaintext, both directions, in order.
#[test]
fn output_logs_the_plaintext() {
    let net = Net::new("stls_output");
    let dir = TempDir::new("stls-output");
    let log = dir.join("session.log");
    let lp = log.display().to_string();
    let (mut srv, port) = listener(
        &net,
        &["-lc", "--output", &lp, "--exec", "/bin/cat"],
        Input::Null,
    );
    echo(&net, port, b"request\n");
    let o = srv.expect_exit(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    assert_bytes("log", b"request\nrequest\n", &std::fs::read(&log).unwrap());
    // The single-client TLS listener (the TLS relay) logs plaintext too.
    let log2 = dir.join("relay.log");
    let lp2 = log2.display().to_string();
    let (mut srv, port) = listener(&net, &["-lc", "-d", "--output", &lp2], Input::Null);
    let o = tls_client(&net, port, b"to the relay\n").run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    let so = srv.expect_exit(LIMIT);
    assert_eq!(so.stdout, b"to the relay\n", "{so}");
    assert_bytes(
        "relay log",
        b"to the relay\n",
        &std::fs::read(&log2).unwrap(),
    );
}

/// The handshake deadline (-w 1): a client that connects and sends
/// nothing gets one line at the deadline and is closed; with
/// --max-conns 1 its slot is then free for the next client.
#[test]
fn handshake_deadline_frees_the_slot() {
    let net = Net::new("stls_deadline");
    let (mut srv, port) = listener(
        &net,
        &["-lkvc", "-w", "1", "--max-conns", "1", "--exec", "/bin/cat"],
        Input::Null,
    );
    let mut silent = net.connect(&addr(port));
    srv.expect_stderr("Connection received", LIMIT);
    srv.expect_stderr(
        "nc: tls handshake failed (timed out waiting for the peer (-w))\n",
        LIMIT,
    );
    let (got, eof) = read_until_eof(&mut silent, secs(5));
    assert!(eof && got.is_empty());
    echo(&net, port, b"after the silent one\n");
    let err = srv.stderr_text();
    assert_eq!(err.matches("tls handshake failed").count(), 1, "{err}");
    srv.kill();
}

/// Without -w the handshake deadline is ncrab's 10 s: a silent client
/// holding the only slot (--max-conns 1) is closed with the line, and the
/// next client is served.
#[test]
fn default_handshake_deadline() {
    let net = Net::new("stls_deadline10");
    let (mut srv, port) = listener(
        &net,
        &["-lkvc", "--max-conns", "1", "--exec", "/bin/cat"],
        Input::Null,
    );
    let start = Instant::now();
    let mut silent = net.connect(&addr(port));
    srv.expect_stderr("Connection received", LIMIT);
    srv.expect_stderr(
        "nc: tls handshake failed (no handshake within 10 s, the listener's deadline without -w)\n",
        secs(60),
    );
    // Not before the deadline (a lower bound only: a loaded machine is
    // late, never early).
    assert!(start.elapsed() >= secs(9), "{:?}", start.elapsed());
    let (got, eof) = read_until_eof(&mut silent, secs(5));
    assert!(eof && got.is_empty());
    echo(&net, port, b"served after the deadline\n");
    srv.kill();
}

/// The broker's handshake deadline (-w 1): a silent client is closed with
/// the line, and its place (--max-conns 1) goes to a TLS client, which
/// then gets standard input.
#[test]
fn broker_handshake_deadline() {
    let Some(c) = certs() else { return };
    let net = Net::new("stls_broker_deadline");
    let mut args: Vec<String> = vec![
        "--broker".into(),
        "-lvc".into(),
        "-w".into(),
        "1".into(),
        "--max-conns".into(),
        "1".into(),
        "-R".into(),
        c.path("ca.pem"),
    ];
    args.extend(srv_cert(&c));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Pipe);
    let mut silent = net.connect(&addr(port));
    srv.expect_stderr(
        "nc: tls handshake failed (timed out waiting for the peer (-w))\n",
        LIMIT,
    );
    let (got, eof) = read_until_eof(&mut silent, secs(5));
    assert!(eof && got.is_empty());
    let mut member = broker_client(&net, &c, port);
    wait_members(&srv, 1);
    srv.write_stdin(b"to the member\n").unwrap();
    member.expect_stdout(b"to the member\n", LIMIT);
    member.kill();
    srv.kill();
}

/// 100 TLS exec sessions in a row: no zombie, no fd growth.
#[test]
fn hundred_tls_sessions_leave_nothing() {
    let net = Net::new("stls_hundred");
    let (mut srv, port) = listener(&net, &["-lkc", "--exec", "/bin/cat"], Input::Null);
    let mut first = None;
    for i in 0..100 {
        echo(&net, port, format!("session {i}\n").as_bytes());
        if i == 9 {
            expect_no_children(srv.pid(), secs(10));
            first = Some(srv.settled_fds());
        }
    }
    expect_no_children(srv.pid(), secs(10));
    assert_eq!(Some(srv.settled_fds()), first);
    srv.expect_running(ms(50));
    srv.kill();
}

/// The EOF rules over TLS: the child's exit sends its output, then
/// close_notify and FIN (the client sees no truncation); a client that
/// ends with a bare FIN (no close_notify) is at its end of stream all the
/// same (cat exits, the echo and the close come back).
#[test]
fn eof_rules_over_tls() {
    let Some(c) = certs() else { return };
    let net = Net::new("stls_eof");
    let mut args: Vec<String> = vec!["-lkc".into()];
    args.extend(srv_cert(&c));
    args.extend(["--sh-exec".into(), "echo hi; exit 0".into()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Null);
    let p = port.to_string();
    let ca = c.path("ca.pem");
    let o = net
        .wrap(Cmd::ncrab(&[
            "-vv",
            "-c",
            "-d",
            "-R",
            &ca,
            "-e",
            "localhost",
            "127.0.0.1",
            &p,
        ]))
        .run(LIMIT);
    assert_eq!(o.code(), Some(0), "{o}");
    assert_eq!(o.stdout, b"hi\n", "{o}");
    assert!(!o.stderr_str().contains("close_notify"), "{o}");
    srv.kill();

    let mut args: Vec<String> = vec!["-lkc".into()];
    args.extend(srv_cert(&c));
    args.extend(["--exec".into(), "/bin/cat".into()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Null);
    let mut s = rustls_client(&c, net.connect(&addr(port)));
    s.write_all(b"bare fin\n").unwrap();
    s.flush().unwrap();
    s.sock.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    let r = s.read_to_end(&mut back);
    assert!(r.is_ok(), "no close_notify after the echo: {r:?}");
    assert_eq!(back, b"bare fin\n");
    expect_no_children(srv.pid(), secs(10));
    srv.kill();
}

/// A TLS error after the handshake (a record that does not decrypt) ends
/// that session with one line, in the client relay's words; the others go
/// on.
#[test]
fn corrupt_record_ends_that_session_with_a_line() {
    let Some(c) = certs() else { return };
    let net = Net::new("stls_corrupt");
    let mut args: Vec<String> = vec!["-lkc".into()];
    args.extend(srv_cert(&c));
    args.extend(["--exec".into(), "/bin/cat".into()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Null);
    let mut good = rustls_client(&c, net.connect(&addr(port)));
    let mut bad = rustls_client(&c, net.connect(&addr(port)));
    bad.write_all(b"fine so far\n").unwrap();
    let mut got = [0u8; 12];
    bad.read_exact(&mut got).unwrap();
    let mut rec = vec![0x17, 0x03, 0x03, 0x00, 0x40];
    rec.extend(payload(64, 9));
    bad.sock.write_all(&rec).unwrap();
    srv.expect_stderr("\tTLS error: decryption failed (corrupted record)\n", LIMIT);
    let mut rest = Vec::new();
    let _ = bad.sock.read_to_end(&mut rest);
    good.write_all(b"still here\n").unwrap();
    let mut got = [0u8; 11];
    good.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"still here\n");
    let err = srv.stderr_text();
    assert_eq!(err.matches("TLS error").count(), 1, "{err}");
    srv.kill();
}

/// The nc-style listener (`-lkc`, no `--exec`) is OpenBSD's: the same
/// corrupt record after data puts the data on stdout, then `tls read
/// failed (REASON)`, and the listener exits 1 although `-k` (nc's errx
/// ends the process).
#[test]
fn corrupt_record_ends_an_nc_style_listener() {
    let Some(c) = certs() else { return };
    let net = Net::new("stls_corrupt_nc");
    let mut args: Vec<String> = vec!["-lkc".into()];
    args.extend(srv_cert(&c));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Pipe);
    let mut bad = rustls_client(&c, net.connect(&addr(port)));
    bad.write_all(b"fine so far\n").unwrap();
    bad.flush().unwrap();
    srv.expect_stdout(b"fine so far\n", LIMIT);
    let mut rec = vec![0x17, 0x03, 0x03, 0x00, 0x40];
    rec.extend(payload(64, 9));
    bad.sock.write_all(&rec).unwrap();
    let o = srv.expect_exit(LIMIT);
    o.assert(
        1,
        b"fine so far\n",
        b"nc: tls read failed (decryption failed (corrupted record))\n",
    );
}

// ---------------------------------------------------------------------------
// Broker and chat over TLS
// ---------------------------------------------------------------------------

/// A TLS broker client: ncrab -c with a client certificate (so the
/// listener's -v prints its lines once its handshake is done).
fn broker_client(net: &Net, c: &Certs, port: u16) -> Proc {
    let p = port.to_string();
    let (ca, cc, ck) = (c.path("ca.pem"), c.path("client.pem"), c.path("client.key"));
    net.wrap(Cmd::ncrab(&[
        "-c",
        "-R",
        &ca,
        "-e",
        "localhost",
        "--tls-cert",
        &cc,
        "-K",
        &ck,
        "127.0.0.1",
        &p,
    ]))
    .stdin(Input::Pipe)
    .spawn()
}

/// Waits until the listener printed `n` client certificates (handshakes
/// done and checked: those clients are members).
fn wait_members(srv: &Proc, n: usize) {
    let end = Instant::now() + LIMIT;
    while srv
        .stderr_text()
        .matches("Subject: /O=Test/CN=client.example")
        .count()
        < n
    {
        assert!(Instant::now() < end, "{}", srv.stderr_text());
        thread::sleep(ms(20));
    }
}

/// --broker over TLS with three clients and one that does not speak TLS:
/// each TLS client gets exactly the others' messages; the failed one gets
/// nothing and nothing of it reaches anyone.
#[test]
fn broker_over_tls() {
    let Some(c) = certs() else { return };
    let net = Net::new("stls_broker");
    let mut args: Vec<String> = vec![
        "--broker".into(),
        "-lvc".into(),
        "-R".into(),
        c.path("ca.pem"),
    ];
    args.extend(srv_cert(&c));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Pipe);
    let mut plain = net.connect(&addr(port));
    let _ = plain.write_all(b"plain text\n");
    srv.expect_stderr(
        "nc: tls handshake failed (the peer did not speak TLS)\n",
        LIMIT,
    );
    let mut cs: Vec<Proc> = (0..3).map(|_| broker_client(&net, &c, port)).collect();
    wait_members(&srv, 3);
    for i in 0..3 {
        let msg = format!("from {i}\n");
        cs[i].write_stdin(msg.as_bytes()).unwrap();
        for (j, other) in cs.iter_mut().enumerate() {
            if j != i {
                other.expect_stdout(msg.as_bytes(), LIMIT);
            }
        }
        srv.expect_stdout(msg.as_bytes(), LIMIT);
    }
    srv.write_stdin(b"to all\n").unwrap();
    for cl in cs.iter_mut() {
        cl.expect_stdout(b"to all\n", LIMIT);
    }
    // (At most rustls's alert: none of the members' bytes.)
    let (got, _) = read_until_eof(&mut plain, secs(2));
    assert!(!contains(&got, b"from"), "{}", escape(&got));
    srv.signal(libc::SIGINT);
    let o = srv.expect_exit(LIMIT);
    assert_eq!(o.signal(), Some(libc::SIGINT), "{o}");
    assert_bytes("broker stdout", b"from 0\nfrom 1\nfrom 2\n", &o.stdout);
    for (i, mut cl) in cs.into_iter().enumerate() {
        let o = cl.kill();
        let mut want = Vec::new();
        for j in 0..3 {
            if j != i {
                want.extend(format!("from {j}\n").bytes());
            }
        }
        want.extend(b"to all\n");
        assert_bytes(&format!("client {i}"), &want, &o.stdout);
    }
}

/// --chat over TLS: a client still in its handshake is not a member: it
/// is not announced, not listed as already connected; once its handshake
/// passes it is.
#[test]
fn chat_announces_only_after_the_handshake() {
    let Some(c) = certs() else { return };
    let net = Net::new("stls_chat");
    let mut args: Vec<String> = vec![
        "--chat".into(),
        "-lvnc".into(),
        "-R".into(),
        c.path("ca.pem"),
    ];
    args.extend(srv_cert(&c));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut srv, port) = listener(&net, &a, Input::Null);
    let mut first = broker_client(&net, &c, port);
    first.expect_stdout(b"<announce> already connected: nobody.\n", LIMIT);
    // A client that never starts its handshake: not a member.
    let _silent = net.connect(&addr(port));
    srv.expect_stderr("Connection received", LIMIT);
    let mut second = broker_client(&net, &c, port);
    wait_members(&srv, 2);
    second.expect_stdout(b"<announce> already connected: 127.0.0.1 as <user", LIMIT);
    first.expect_stdout(b"is connected as <user", LIMIT);
    thread::sleep(ms(300));
    let o1 = first.kill();
    let o2 = second.kill();
    srv.kill();
    let text1 = o1.stdout_str();
    let text2 = o2.stdout_str();
    // The first saw its own join and the second's: two announcements.
    assert_eq!(text1.matches(" is connected as ").count(), 2, "{text1}");
    // The second saw one member before it (the first), not the silent one.
    let listed = text2
        .lines()
        .find(|l| l.contains("already connected"))
        .unwrap_or("");
    assert_eq!(listed.matches(" as <user").count(), 1, "{text2}");
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

/// SIGINT during TLS exec sessions: every child ends, ncrab dies by
/// SIGINT.
#[test]
fn sigint_during_tls_exec_sessions() {
    let net = Net::new("stls_sigint");
    let (mut srv, port) = listener(&net, &["-lkc", "--exec", "/bin/cat"], Input::Null);
    let p = port.to_string();
    let mut cs: Vec<Proc> = (0..5)
        .map(|_| {
            net.wrap(Cmd::ncrab(&["-c", "-T", "noverify", "127.0.0.1", &p]))
                .stdin(Input::Pipe)
                .spawn()
        })
        .collect();
    for (i, cl) in cs.iter_mut().enumerate() {
        let msg = format!("hello {i}\n");
        cl.write_stdin(msg.as_bytes()).unwrap();
        cl.expect_stdout(msg.as_bytes(), LIMIT);
    }
    let kids: Vec<i32> = children(srv.pid()).iter().map(|k| k.0).collect();
    assert_eq!(kids.len(), 5);
    srv.signal(libc::SIGINT);
    let o = srv.expect_exit(LIMIT);
    assert_eq!(o.signal(), Some(libc::SIGINT), "{o}");
    for k in kids {
        assert!(
            eventually(secs(5), || !Path::new(&format!("/proc/{k}")).exists()),
            "child {k} outlived ncrab"
        );
    }
    for mut cl in cs {
        cl.kill();
    }
}
