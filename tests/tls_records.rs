//! The TLS record layer after the handshake, against real peers in private
//! network namespaces: every cipher suite ncrab has (TLS 1.3; TLS 1.2
//! with ECDSA and RSA keys) against openssl s_server and s_client, 4 MiB
//! each way at once; TLS 1.3 KeyUpdate from the peer, with and without
//! update_requested, between data both ways; 32 MiB each way at once with
//! socat.
//!
//! A regression net for a record layer of ncrab's own (sealing and
//! opening the records itself after the handshake): every test here
//! passes with rustls's record layer, and what each can catch is a
//! record layer's mistake: nonces and sequence numbers (thousands of
//! records), the key schedule after KeyUpdate (both hashes, both
//! directions), both directions busy at once, the end of a session.
//!
//! openssl quirks these tests rely on (checked with OpenSSL 3.0):
//! - s_server and s_client take each read(2) of their stdin as one unit:
//!   without `-quiet`, one starting `k`/`K` (s_server: followed by a
//!   newline) is a KeyUpdate command and the rest of that read is
//!   dropped; so a command is written alone and the next write waits
//!   until it was read ([`Proc::wait_stdin_read`]);
//! - s_server (with or without `-quiet`) ends the session at its stdin's
//!   EOF; s_client does unless `-quiet`/`-ign_eof`; `-brief` keeps
//!   s_client's stdout to the data and its commands on; `-nocommands`
//!   turns them off;
//! - s_server with `-quiet` prints nothing; without it, it chats on its
//!   stdout (`Read BLOCK` even in the middle of the data), so the tests
//!   that need that mode send lines starting `@@` and pick them out;
//! - s_server reading its stdin before the handshake blocks in SSL_read
//!   once it is done, until the client sends something: the clients
//!   here always send a line.

mod common;
use common::*;

use std::fs::File;
use std::io;
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Peers and suites
// ---------------------------------------------------------------------------

/// `openssl ARGS` in `net` (certs() made sure openssl is installed).
fn ossl(net: &Net, args: &[&str]) -> Cmd {
    let bin = find_in_path("openssl").expect("openssl");
    net.wrap(Cmd::with_target(bin, "openssl", args))
}

/// One cipher suite, as both sides are told to use it.
#[derive(Clone, Copy, Debug)]
struct Suite {
    tls13: bool,
    /// The OpenSSL name (ncrab's `-T ciphers=` takes it too).
    name: &'static str,
    /// The server's key is RSA (`rsa`), else P-256 (`srv`).
    rsa: bool,
}

const fn suite(tls13: bool, name: &'static str, rsa: bool) -> Suite {
    Suite { tls13, name, rsa }
}

const TLS13: [Suite; 3] = [
    suite(true, "TLS_AES_128_GCM_SHA256", false),
    suite(true, "TLS_AES_256_GCM_SHA384", false),
    suite(true, "TLS_CHACHA20_POLY1305_SHA256", false),
];
const TLS12_ECDSA: [Suite; 3] = [
    suite(false, "ECDHE-ECDSA-AES128-GCM-SHA256", false),
    suite(false, "ECDHE-ECDSA-AES256-GCM-SHA384", false),
    suite(false, "ECDHE-ECDSA-CHACHA20-POLY1305", false),
];
const TLS12_RSA: [Suite; 3] = [
    suite(false, "ECDHE-RSA-AES128-GCM-SHA256", true),
    suite(false, "ECDHE-RSA-AES256-GCM-SHA384", true),
    suite(false, "ECDHE-RSA-CHACHA20-POLY1305", true),
];

impl Suite {
    fn version(&self) -> &'static str {
        if self.tls13 { "TLSv1.3" } else { "TLSv1.2" }
    }
    /// s_server/s_client options that allow only this suite.
    fn openssl_args(&self) -> Vec<&'static str> {
        if self.tls13 {
            vec!["-tls1_3", "-ciphersuites", self.name]
        } else {
            vec!["-tls1_2", "-cipher", self.name]
        }
    }
    /// ncrab's options that allow only this suite.
    fn ncrab_args(&self) -> Vec<String> {
        let v = if self.tls13 { "tlsv1.3" } else { "tlsv1.2" };
        vec![
            "-T".into(),
            format!("protocols={v}"),
            "-T".into(),
            format!("ciphers={}", self.name),
        ]
    }
    /// The base name of the server's certificate and key.
    fn cert(&self) -> &'static str {
        if self.rsa { "rsa" } else { "srv" }
    }
}

/// The certificates, with the RSA server certificate when `suites` need it.
fn certs_for(suites: &[Suite]) -> Option<Certs> {
    let c = certs()?;
    if suites.iter().any(|s| s.rsa) {
        c.add_rsa_server("rsa");
    }
    Some(c)
}

/// Feeds a child's stdin from a file on a thread of its own, and keeps it
/// open until [`Feeder::close`]: openssl ends the session at its stdin's
/// EOF, so it must come only once the other direction is complete too.
struct Feeder(JoinHandle<File>);

fn feed(p: &mut Proc, src: &Path) -> Feeder {
    let mut w = p.take_stdin();
    let src = src.to_path_buf();
    Feeder(thread::spawn(move || {
        if let Ok(mut f) = File::open(&src) {
            let _ = io::copy(&mut f, &mut w);
        }
        w
    }))
}

impl Feeder {
    /// The EOF. Called once the child sent everything on, so the writer
    /// is done (bounded all the same).
    #[track_caller]
    fn close(self) {
        assert!(
            eventually(secs(10), || self.0.is_finished()),
            "the feeder is still writing"
        );
        drop(self.0.join());
    }
}

/// Waits until each file holds its length; else kills the children and
/// fails, saying how far each got.
#[track_caller]
fn expect_files(what: &str, files: &[(&Path, u64)], procs: &mut [&mut Proc]) {
    let ok = eventually(LIMIT, || files.iter().all(|(p, n)| file_len(p) >= *n));
    if !ok {
        let got: Vec<String> = files
            .iter()
            .map(|(p, n)| format!("{}: {} of {n} bytes", p.display(), file_len(p)))
            .collect();
        let outs: Vec<String> = procs.iter_mut().map(|p| p.kill().to_string()).collect();
        panic!(
            "{what}: the data did not arrive within {LIMIT:?} ({}); {}",
            got.join(", "),
            outs.join("; ")
        );
    }
}

#[track_caller]
fn assert_same_file(what: &str, sent: &Path, got: &Path) {
    assert!(
        file_len(sent) == file_len(got) && sha256(sent) == sha256(got),
        "{what}: {} holds {} bytes of the {} sent, not the same (SHA-256)",
        got.display(),
        file_len(got),
        file_len(sent)
    );
}

// ---------------------------------------------------------------------------
// 1. Every suite, 4 MiB each way at once, with s_server and s_client
// ---------------------------------------------------------------------------

#[test]
fn tls13_suites_4_mib_each_way_with_openssl() {
    suite_matrix("rec-tls13", &TLS13);
}

#[test]
fn tls12_ecdsa_suites_4_mib_each_way_with_openssl() {
    suite_matrix("rec-tls12e", &TLS12_ECDSA);
}

#[test]
fn tls12_rsa_suites_4_mib_each_way_with_openssl() {
    suite_matrix("rec-tls12r", &TLS12_RSA);
}

/// Each suite: ncrab client with s_server, ncrab listener with s_client;
/// 4 MiB of random data each way, both at once; the suite checked on
/// both sides, the bytes by SHA-256, both ends at exit 0.
fn suite_matrix(tag: &str, suites: &[Suite]) {
    if !is_ncrab() {
        return;
    }
    let Some(c) = certs_for(suites) else { return };
    let net = Net::new(tag);
    let dir = TempDir::new(tag);
    let (to_peer, to_nc) = (dir.join("to-peer.bin"), dir.join("to-nc.bin"));
    random_file(&to_peer, 4 * MIB);
    random_file(&to_nc, 4 * MIB);
    for s in suites {
        client_with_s_server(&net, &c, &dir, s, &to_peer, &to_nc);
        listener_with_s_client(&net, &c, &dir, s, &to_peer, &to_nc);
    }
}

/// ncrab -c against `s_server -quiet`: ncrab sends a file (no -N: it
/// stays for the other direction), s_server its stdin; once both arrived
/// s_server's stdin ends, it sends close_notify, and ncrab exits 0.
fn client_with_s_server(
    net: &Net,
    c: &Certs,
    dir: &TempDir,
    s: &Suite,
    to_peer: &Path,
    to_nc: &Path,
) {
    let what = format!("ncrab client, s_server, {} {}", s.version(), s.name);
    let (peer_got, nc_got) = (dir.join("s_server-got.bin"), dir.join("nc-got.bin"));
    let port = free_port();
    let p = port.to_string();
    let (cert, key) = (
        c.path(&format!("{}.pem", s.cert())),
        c.path(&format!("{}.key", s.cert())),
    );
    let mut args = vec![
        "s_server", "-quiet", "-naccept", "1", "-accept", &p, "-cert", &cert, "-key", &key,
    ];
    args.extend(s.openssl_args());
    let mut srv = ossl(net, &args)
        .stdin(Input::Pipe)
        .stdout(OutputTo::File(peer_got.clone()))
        .spawn();
    net.expect_listen(&mut srv, port);
    let feeder = feed(&mut srv, to_nc);
    let ca = c.path("ca.pem");
    let mut nargs: Vec<String> = vec!["-v".into(), "-c".into(), "-R".into(), ca];
    nargs.extend(s.ncrab_args());
    nargs.extend(["localhost".into(), p.clone()]);
    let mut n = net
        .nc(&nargs)
        .stdin(Input::File(to_peer.to_path_buf()))
        .stdout(OutputTo::File(nc_got.clone()))
        .spawn();
    let len = file_len(to_peer);
    expect_files(
        &what,
        &[(&peer_got, len), (&nc_got, len)],
        &mut [&mut n, &mut srv],
    );
    feeder.close();
    let o = n.expect_exit(LIMIT);
    srv.expect_exit(LIMIT);
    assert_eq!(o.code(), Some(0), "{what}: {o}");
    let err = o.stderr_str();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.get(1).copied(),
        Some(
            format!(
                "TLS handshake negotiated {}/{} with host localhost",
                s.version(),
                s.name
            )
            .as_str()
        ),
        "{what}: {o}"
    );
    // The -v lines of the handshake (8), and nothing after them.
    assert!(
        lines.len() == 8 && lines[7].starts_with("Cert Hash: SHA256:"),
        "{what}: {o}"
    );
    assert_same_file(&format!("{what}: ncrab -> s_server"), to_peer, &peer_got);
    assert_same_file(&format!("{what}: s_server -> ncrab"), to_nc, &nc_got);
}

/// ncrab -lc against `s_client -brief -nocommands`: the same, the other
/// way round; s_client's close_notify at its stdin's EOF ends it.
fn listener_with_s_client(
    net: &Net,
    c: &Certs,
    dir: &TempDir,
    s: &Suite,
    to_peer: &Path,
    to_nc: &Path,
) {
    let what = format!("ncrab listener, s_client, {} {}", s.version(), s.name);
    let (peer_got, nc_got) = (dir.join("s_client-got.bin"), dir.join("nc-got.bin"));
    let port = free_port();
    let p = port.to_string();
    let (cert, key, ca) = (
        c.path(&format!("{}.pem", s.cert())),
        c.path(&format!("{}.key", s.cert())),
        c.path("ca.pem"),
    );
    let mut largs: Vec<String> = vec!["-lc".into(), "-v".into()];
    largs.extend(["--tls-cert".into(), cert, "-K".into(), key]);
    largs.extend(s.ncrab_args());
    largs.extend(["127.0.0.1".into(), p.clone()]);
    let mut l = net
        .nc(&largs)
        .stdin(Input::File(to_peer.to_path_buf()))
        .stdout(OutputTo::File(nc_got.clone()))
        .spawn();
    net.expect_listen(&mut l, port);
    let connect = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_client",
        "-brief",
        "-nocommands",
        "-connect",
        &connect,
        "-CAfile",
        &ca,
        "-servername",
        "localhost",
        "-verify_return_error",
    ];
    args.extend(s.openssl_args());
    let mut cl = ossl(net, &args)
        .stdin(Input::Pipe)
        .stdout(OutputTo::File(peer_got.clone()))
        .spawn();
    let feeder = feed(&mut cl, to_nc);
    let len = file_len(to_peer);
    expect_files(
        &what,
        &[(&peer_got, len), (&nc_got, len)],
        &mut [&mut l, &mut cl],
    );
    feeder.close();
    let lo = l.expect_exit(LIMIT);
    let co = cl.expect_exit(LIMIT);
    assert_eq!(lo.code(), Some(0), "{what}: {lo}");
    let err = lo.stderr_str();
    assert!(
        err.starts_with(&format!(
            "Listening on localhost {port}\nConnection received on localhost "
        )) && err.lines().count() == 2,
        "{what}: {lo}"
    );
    let cerr = co.stderr_str();
    for want in [
        format!("Protocol version: {}\n", s.version()),
        format!("Ciphersuite: {}\n", s.name),
        "Verification: OK\n".to_string(),
    ] {
        assert!(cerr.contains(&want), "{what}: s_client: {co}");
    }
    assert_same_file(&format!("{what}: ncrab -> s_client"), to_peer, &peer_got);
    assert_same_file(&format!("{what}: s_client -> ncrab"), to_nc, &nc_got);
}

// ---------------------------------------------------------------------------
// 2. TLS 1.3 KeyUpdate from the peer, between data both ways
// ---------------------------------------------------------------------------

/// Rounds of KeyUpdate commands: odd rounds `k` (update_not_requested),
/// even rounds `K` (update_requested).
const KEY_UPDATES: usize = 20;

/// One data line: `@@`, digits, a space, random digits; nothing an
/// openssl command could start with, at any read boundary.
fn line(dir: u8, round: usize, i: usize) -> Vec<u8> {
    let mut l = format!("@@{dir}{round:03}{i:05} ").into_bytes();
    l.extend(
        payload(
            60,
            (u32::from(dir) << 24) ^ ((round as u32) << 16) ^ i as u32,
        )
        .iter()
        .map(|b| b'0' + b % 10),
    );
    l.push(b'\n');
    l
}

/// About 48 KiB of lines: less than a pipe holds, more than 3 records.
fn lines(dir: u8, round: usize) -> Vec<u8> {
    (0..680).flat_map(|i| line(dir, round, i)).collect()
}

/// The `@@` lines in s_server's chatty stdout, with its `Read BLOCK` and
/// `Write BLOCK` notes taken out first (it prints them where it is, in
/// the middle of a line too).
fn data_lines(out: &[u8]) -> Vec<Vec<u8>> {
    let mut text = out.to_vec();
    for note in [&b"Read BLOCK\n"[..], b"Write BLOCK\n"] {
        while let Some(at) = text.windows(note.len()).position(|w| w == note) {
            text.drain(at..at + note.len());
        }
    }
    text.split_inclusive(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"@@"))
        .map(<[u8]>::to_vec)
        .collect()
}

/// The request_update byte of each KeyUpdate in an openssl `-msg` log,
/// in order, `>>>` (sent) or `<<<` (received): the message is
/// `18 00 00 01 XX`, its hex dump on the line after the title.
fn key_updates(msg: &str, way: &str) -> Vec<u8> {
    let lines: Vec<&str> = msg.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with(way) && l.ends_with("KeyUpdate"))
        .map(|(i, _)| {
            lines
                .get(i + 1)
                .and_then(|d| d.trim().strip_prefix("18 00 00 01 "))
                .and_then(|x| u8::from_str_radix(x, 16).ok())
                .unwrap_or(0xff)
        })
        .collect()
}

/// Which side of the session ncrab is.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    Client,
    Listener,
}

/// The openssl peer (non-quiet, `-msg` into `msg`) and ncrab (no -v),
/// connected, for suite `s`.
fn key_update_session(net: &Net, c: &Certs, s: &Suite, role: Role, msg: &Path) -> (Proc, Proc) {
    let port = free_port();
    let p = port.to_string();
    let (cert, key, ca) = (c.path("srv.pem"), c.path("srv.key"), c.path("ca.pem"));
    let msgs = msg.display().to_string();
    match role {
        Role::Client => {
            let mut args = vec![
                "s_server", "-naccept", "1", "-accept", &p, "-cert", &cert, "-key", &key, "-msg",
                "-msgfile", &msgs,
            ];
            args.extend(s.openssl_args());
            let mut peer = ossl(net, &args).stdin(Input::Pipe).spawn();
            net.expect_listen(&mut peer, port);
            let mut a: Vec<String> = vec!["-N".into(), "-c".into(), "-R".into(), ca];
            a.extend(s.ncrab_args());
            a.extend(["localhost".into(), p.clone()]);
            let n = net.nc(&a).stdin(Input::Pipe).spawn();
            (peer, n)
        }
        Role::Listener => {
            let mut a: Vec<String> = vec!["-lc".into(), "--tls-cert".into(), cert];
            a.extend(["-K".into(), key]);
            a.extend(s.ncrab_args());
            a.extend(["127.0.0.1".into(), p.clone()]);
            let mut n = net.nc(&a).stdin(Input::Pipe).spawn();
            net.expect_listen(&mut n, port);
            let connect = format!("127.0.0.1:{port}");
            let mut args = vec![
                "s_client",
                "-brief",
                "-connect",
                &connect,
                "-CAfile",
                &ca,
                "-servername",
                "localhost",
                "-verify_return_error",
                "-msg",
                "-msgfile",
                &msgs,
            ];
            args.extend(s.openssl_args());
            let peer = ossl(net, &args).stdin(Input::Pipe).spawn();
            (peer, n)
        }
    }
}

/// Has `p` printed `data` (`@@` lines), openssl's notes aside?
fn printed(p: &Proc, data: &[u8]) -> bool {
    contains(&data_lines(&p.stdout_now()).concat(), data)
}

/// Sends `data` (`@@` lines) through `from`'s stdin and waits until `to`
/// printed it.
#[track_caller]
fn pass(from: &mut Proc, to: &mut Proc, data: &[u8], what: &str) {
    from.write_stdin(data)
        .unwrap_or_else(|e| panic!("{what}: write to `{}`: {e}", from.label()));
    if !eventually(LIMIT, || printed(to, data)) {
        let (fo, to) = (from.kill(), to.kill());
        panic!("{what}: never arrived: {to}; sender: {fo}");
    }
}

#[test]
fn key_updates_from_s_server_between_data() {
    for s in TLS13 {
        key_updates_between_data(&s, Role::Client);
    }
}

#[test]
fn key_updates_from_s_client_between_data() {
    for s in TLS13 {
        key_updates_between_data(&s, Role::Listener);
    }
}

/// The peer updates its keys 20 times (k, K, k, ...), with a line each
/// way after each; then 4 x 48 KiB each way; then the session ends
/// (ncrab client: its -N close_notify; ncrab listener: s_client's).
/// Every byte arrives on both sides, in order; ncrab exits 0 and says
/// nothing; the peer's log shows its 20 KeyUpdates and, for each K,
/// exactly one KeyUpdate back from ncrab, update_not_requested.
fn key_updates_between_data(s: &Suite, role: Role) {
    if !is_ncrab() {
        return;
    }
    let Some(c) = certs() else { return };
    let what = format!("{role:?} {}", s.name);
    let net = Net::new("rec-keyupd");
    let dir = TempDir::new("rec-keyupd");
    let msg = dir.join("msg.txt");
    let (mut peer, mut n) = key_update_session(&net, &c, s, role, &msg);
    let (mut to_nc, mut to_peer) = (Vec::new(), Vec::new());
    // The first line goes from ncrab: s_server waits for one (see the top).
    let l = line(2, 0, 0);
    pass(&mut n, &mut peer, &l, &what);
    to_peer.extend(l);
    let l = line(1, 0, 0);
    pass(&mut peer, &mut n, &l, &what);
    to_nc.extend(l);
    for round in 1..=KEY_UPDATES {
        let cmd: &[u8] = if round % 2 == 1 { b"k\n" } else { b"K\n" };
        peer.write_stdin(cmd).expect("peer stdin");
        assert!(
            peer.wait_stdin_read(LIMIT),
            "{what}: the peer never read its command"
        );
        let l = line(1, round, 0);
        pass(&mut peer, &mut n, &l, &what);
        to_nc.extend(l);
        let l = line(2, round, 0);
        pass(&mut n, &mut peer, &l, &what);
        to_peer.extend(l);
    }
    for round in 100..104 {
        let (a, b) = (lines(1, round), lines(2, round));
        peer.write_stdin(&a).expect("peer stdin");
        n.write_stdin(&b).expect("ncrab stdin");
        for (to, data) in [(&mut n, &a), (&mut peer, &b)] {
            let tail = &data[data.len() - 80..];
            if !eventually(LIMIT, || printed(to, tail)) {
                let o = to.kill();
                panic!("{what}: bulk round {round} never arrived: {o}");
            }
        }
        to_nc.extend(a);
        to_peer.extend(b);
    }
    let (o, po) = match role {
        Role::Client => {
            n.close_stdin();
            let o = n.expect_exit(LIMIT);
            (o, peer.expect_exit(LIMIT))
        }
        Role::Listener => {
            peer.close_stdin();
            let po = peer.expect_exit(LIMIT);
            (n.expect_exit(LIMIT), po)
        }
    };
    assert_eq!(o.code(), Some(0), "{what}: {o}");
    assert!(o.stderr.is_empty(), "{what}: {o}");
    assert!(o.stdout == to_nc, "{what}: ncrab's stdout differs: {o}");
    let sent: Vec<Vec<u8>> = to_peer
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let got = data_lines(&po.stdout);
    if got != sent {
        let at = got.iter().zip(&sent).take_while(|(a, b)| a == b).count();
        panic!(
            "{what}: the peer got {} of {} lines, the first difference at line {at}: {}",
            got.len(),
            sent.len(),
            po
        );
    }
    let log = std::fs::read_to_string(&msg).unwrap_or_default();
    let want_sent: Vec<u8> = (1..=KEY_UPDATES).map(|r| u8::from(r % 2 == 0)).collect();
    assert_eq!(
        key_updates(&log, ">>>"),
        want_sent,
        "{what}: the peer's KeyUpdates (0 = not requested, 1 = requested)"
    );
    assert_eq!(
        key_updates(&log, "<<<"),
        vec![0; KEY_UPDATES / 2],
        "{what}: ncrab's KeyUpdates: one per update_requested, each update_not_requested"
    );
    assert!(!log.contains(" fatal "), "{what}: a fatal alert: {log}");
    if role == Role::Client {
        assert!(
            log.contains("<<< TLS 1.3, Alert [length 0002], warning close_notify"),
            "{what}: ncrab's -N close_notify: {log}"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. socat: 32 MiB each way at once
// ---------------------------------------------------------------------------

/// ncrab client with `socat OPENSSL-LISTEN`, then ncrab listener with
/// `socat OPENSSL`: 32 MiB of random data each way, both at once (some
/// 2000 full records each way, both directions busy together), SHA-256 on
/// both ends, both at exit 0, ncrab silent.
#[test]
fn socat_32_mib_each_way_at_once() {
    if !is_ncrab() {
        return;
    }
    let Some(c) = certs() else { return };
    let Some(socat) = tool("socat", "socat") else {
        return;
    };
    let net = Net::new("rec-socat");
    let dir = TempDir::new("rec-socat");
    let (to_peer, to_nc) = (dir.join("to-peer.bin"), dir.join("to-nc.bin"));
    random_file(&to_peer, 32 * MIB);
    random_file(&to_nc, 32 * MIB);
    let (peer_got, nc_got) = (dir.join("socat-got.bin"), dir.join("nc-got.bin"));
    let (cert, key, ca) = (c.path("srv.pem"), c.path("srv.key"), c.path("ca.pem"));
    let len = file_len(&to_peer);

    // ncrab -c -N: its close_notify after its file; socat's after its
    // own (-t 30: socat waits that long for the other direction).
    let port = free_port();
    let p = port.to_string();
    let mut s = net
        .wrap(Cmd::with_target(
            socat.clone(),
            "socat",
            &[
                "-T",
                "30",
                "-t",
                "30",
                &format!(
                    "OPENSSL-LISTEN:{p},bind=127.0.0.1,reuseaddr,cert={cert},key={key},verify=0"
                ),
                "STDIO",
            ],
        ))
        .stdin(Input::File(to_nc.clone()))
        .stdout(OutputTo::File(peer_got.clone()))
        .spawn();
    net.expect_listen(&mut s, port);
    let mut n = net
        .nc(&["-c", "-N", "-R", &ca, "localhost", &p])
        .stdin(Input::File(to_peer.clone()))
        .stdout(OutputTo::File(nc_got.clone()))
        .spawn();
    let o = n.expect_exit(LIMIT);
    let so = s.expect_exit(LIMIT);
    o.assert(0, b"", b"");
    assert_eq!(so.code(), Some(0), "{so}");
    assert_same_file("ncrab client -> socat", &to_peer, &peer_got);
    assert_same_file("socat -> ncrab client", &to_nc, &nc_got);

    // ncrab -lc -N: an nc listener ends at the client's EOF, so socat's
    // stdin stays open until both directions arrived.
    let port = free_port();
    let p = port.to_string();
    let mut l = net
        .nc(&[
            "-lc",
            "-N",
            "--tls-cert",
            &cert,
            "-K",
            &key,
            "127.0.0.1",
            &p,
        ])
        .stdin(Input::File(to_peer.clone()))
        .stdout(OutputTo::File(nc_got.clone()))
        .spawn();
    net.expect_listen(&mut l, port);
    let mut s = net
        .wrap(Cmd::with_target(
            socat,
            "socat",
            &[
                "-T",
                "30",
                "-t",
                "30",
                "STDIO",
                &format!("OPENSSL:localhost:{p},cafile={ca}"),
            ],
        ))
        .stdin(Input::Pipe)
        .stdout(OutputTo::File(peer_got.clone()))
        .spawn();
    let feeder = feed(&mut s, &to_nc);
    expect_files(
        "ncrab listener, socat",
        &[(&peer_got, len), (&nc_got, len)],
        &mut [&mut l, &mut s],
    );
    feeder.close();
    let lo = l.expect_exit(LIMIT);
    let so = s.expect_exit(LIMIT);
    lo.assert(0, b"", b"");
    assert_eq!(so.code(), Some(0), "{so}");
    assert_same_file("ncrab listener -> socat", &to_peer, &peer_got);
    assert_same_file("socat -> ncrab listener", &to_nc, &nc_got);
}
