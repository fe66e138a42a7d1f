//! The TLS record layer after the handshake, against real peers in private
//! network namespaces: every cipher suite ncrab has (TLS 1.3; TLS 1.2
//! with ECDSA and RSA keys) against openssl s_server and s_client, 4 MiB
//! each way at once; TLS 1.3 KeyUpdate from the peer, with and without
//! update_requested, between data both ways; 32 MiB each way at once with
//! socat; peers that vanish in the middle of a record; records of 512
//! bytes and of one byte from openssl, and records that arrive a few
//! bytes at a time; a TLS 1.2 HelloRequest and the peer's fatal alert
//! after it. Then what no openssl tool sends, from a TLS server of the
//! test's own that seals its records itself ([`Crafter`]: rustls makes
//! the handshake and hands the keys over): a million one-byte records;
//! zero-length, largest and padded records; forged, replayed, reordered,
//! oversized and unknown records; KeyUpdates, tickets and HelloRequests
//! cut across records or sharing one. Last, the end of a session: every
//! sealed record leaves before close_notify, into a receiver that reads
//! slowly; a reset while sending; `-w` bounding the wait for a peer that
//! never reads. A TLS error after the handshake is OpenBSD's `tls read
//! failed (REASON)` (or `tls write failed`) and status 1, the authentic
//! bytes before it on stdout.
//!
//! A regression net for a record layer of ncrab's own (sealing and
//! opening the records itself after the handshake): every test here
//! passes with rustls's record layer (one, ignored, shows a hang in the
//! relay around it), and what each can catch is a record layer's
//! mistake: nonces and sequence numbers (millions of records), the key
//! schedule after KeyUpdate (both hashes, both directions), record
//! boundaries across reads, padding, the end of a stream (close_notify,
//! a bare FIN or an RST in the middle of a record: nothing invented,
//! nothing decrypted lost), post-handshake messages, records to refuse.
//!
//! A tap ([`Tap`]), a relay of the test's own between ncrab and the peer,
//! reads the record headers going by: it proves what the records were
//! (one byte each, at most 512), cuts the stream in the middle of a
//! record, and dribbles records a few bytes at a time.
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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Peers and suites
// ---------------------------------------------------------------------------

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
    /// What an application-data record adds to its plaintext (without
    /// padding): TLS 1.3 the inner content type and the tag; TLS 1.2
    /// GCM the explicit nonce and the tag; TLS 1.2 ChaCha20 the tag.
    fn overhead(&self) -> usize {
        if self.tls13 {
            17
        } else if self.name.contains("CHACHA") {
            16
        } else {
            24
        }
    }
}

/// The start of each test: ncrab only (the record layer is ncrab's), the
/// certificates (with the RSA server certificate when `suites` need it)
/// and a private network. None: the test is skipped.
fn setup(tag: &str, suites: &[Suite]) -> Option<(Certs, Net)> {
    if !is_ncrab() {
        return None;
    }
    let c = certs()?;
    if suites.iter().any(|s| s.rsa) {
        c.add_rsa_server("rsa");
    }
    Some((c, Net::new(tag)))
}

/// `openssl s_server OPTS -naccept 1 -accept PORT -cert NAME.pem -key
/// NAME.key TAIL` in `net`, on a free port: the command and the port.
fn s_server(net: &Net, c: &Certs, name: &str, opts: &[&str], tail: &[&str]) -> (Cmd, u16) {
    let port = free_port();
    let p = port.to_string();
    let (cert, key) = (
        c.path(&format!("{name}.pem")),
        c.path(&format!("{name}.key")),
    );
    let mut args = vec!["s_server"];
    args.extend(opts);
    args.extend(["-naccept", "1", "-accept", &p, "-cert", &cert, "-key", &key]);
    args.extend(tail);
    (net.openssl(&args), port)
}

/// `openssl s_client -brief OPTS -connect 127.0.0.1:PORT -CAfile ca.pem
/// -servername localhost -verify_return_error TAIL` in `net`.
fn s_client(net: &Net, c: &Certs, port: u16, opts: &[&str], tail: &[&str]) -> Cmd {
    let (connect, ca) = (format!("127.0.0.1:{port}"), c.path("ca.pem"));
    let mut args = vec!["s_client", "-brief"];
    args.extend(opts);
    args.extend([
        "-connect",
        &connect,
        "-CAfile",
        &ca,
        "-servername",
        "localhost",
        "-verify_return_error",
    ]);
    args.extend(tail);
    net.openssl(&args)
}

/// ncrab's arguments as a TLS client verifying with the test CA:
/// `FLAGS -c -R ca.pem [only suite s] HOST PORT`.
fn client_args(
    c: &Certs,
    flags: &[&str],
    s: Option<&Suite>,
    host: &str,
    port: &str,
) -> Vec<String> {
    let mut a: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    a.extend(["-c".into(), "-R".into(), c.path("ca.pem")]);
    a.extend(s.map(Suite::ncrab_args).unwrap_or_default());
    a.extend([host.into(), port.into()]);
    a
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

/// Exit 0, nothing on stderr, exactly `want` on stdout (told by its
/// length and first difference: it may be megabytes).
#[track_caller]
fn assert_silent_exit(what: &str, o: &Outcome, want: &[u8]) {
    assert_eq!(o.code(), Some(0), "{what}: {o}");
    assert!(o.stderr.is_empty(), "{what}: {o}");
    let same = o
        .stdout
        .iter()
        .zip(want)
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        o.stdout == want,
        "{what}: {} of {} bytes, the first difference at {same}",
        o.stdout.len(),
        want.len()
    );
}

/// The lines of ncrab's stderr that say a TLS session failed after the
/// handshake: OpenBSD's `tls read failed (...)` and `tls write failed
/// (...)`, and ncrab's served sessions' `\tTLS error: ...` (never the
/// client's).
fn tls_errors(o: &Outcome) -> Vec<String> {
    o.stderr_str()
        .lines()
        .filter(|l| {
            l.starts_with("nc: tls read failed (")
                || l.starts_with("nc: tls write failed (")
                || l.contains("TLS error")
        })
        .map(str::to_string)
        .collect()
}

/// Random data for a transfer both ways at once between ncrab and a
/// peer, and the files each side writes what it gets into.
struct BothWays {
    /// The peer's name, in its file's name and in messages.
    peer: &'static str,
    to_peer: std::path::PathBuf,
    to_nc: std::path::PathBuf,
    peer_got: std::path::PathBuf,
    nc_got: std::path::PathBuf,
}

impl BothWays {
    /// `len` random bytes each way, in `dir`.
    fn new(dir: &TempDir, len: usize) -> BothWays {
        let b = BothWays {
            peer: "peer",
            to_peer: dir.join("to-peer.bin"),
            to_nc: dir.join("to-nc.bin"),
            peer_got: dir.join("peer-got.bin"),
            nc_got: dir.join("nc-got.bin"),
        };
        random_file(&b.to_peer, len);
        random_file(&b.to_nc, len);
        b
    }

    /// The same data, with `peer` (it writes `PEER-got.bin`).
    fn with(&self, peer: &'static str) -> BothWays {
        BothWays {
            peer,
            to_peer: self.to_peer.clone(),
            to_nc: self.to_nc.clone(),
            peer_got: self.nc_got.with_file_name(format!("{peer}-got.bin")),
            nc_got: self.nc_got.clone(),
        }
    }

    /// ncrab's side: it sends `to_peer`, writes what it gets to `nc_got`.
    fn ncrab(&self, cmd: Cmd) -> Cmd {
        cmd.stdin(Input::File(self.to_peer.clone()))
            .stdout(OutputTo::File(self.nc_got.clone()))
    }

    /// The peer's side: its stdin a pipe (for [`feed`]), what it gets
    /// into `peer_got`.
    fn peer(&self, cmd: Cmd) -> Cmd {
        cmd.stdin(Input::Pipe)
            .stdout(OutputTo::File(self.peer_got.clone()))
    }

    /// Waits until both sides got all of it, then ends the peer's stdin
    /// (`feeder`); then both exits: ncrab's outcome and the peer's.
    #[track_caller]
    fn finish(
        &self,
        what: &str,
        n: &mut Proc,
        peer: &mut Proc,
        feeder: Feeder,
    ) -> (Outcome, Outcome) {
        let len = file_len(&self.to_peer);
        expect_files(
            what,
            &[(&self.peer_got, len), (&self.nc_got, len)],
            &mut [&mut *n, &mut *peer],
        );
        feeder.close();
        let o = n.expect_exit(LIMIT);
        (o, peer.expect_exit(LIMIT))
    }

    /// Both ways intact (length and SHA-256).
    #[track_caller]
    fn assert_intact(&self, what: &str) {
        let peer = self.peer;
        assert_same_file(
            &format!("{what}: ncrab -> {peer}"),
            &self.to_peer,
            &self.peer_got,
        );
        assert_same_file(
            &format!("{what}: {peer} -> ncrab"),
            &self.to_nc,
            &self.nc_got,
        );
    }
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
    let Some((c, net)) = setup(tag, suites) else {
        return;
    };
    let dir = TempDir::new(tag);
    let data = BothWays::new(&dir, 4 * MIB);
    for s in suites {
        client_with_s_server(&net, &c, s, &data.with("s_server"));
        listener_with_s_client(&net, &c, s, &data.with("s_client"));
    }
}

/// ncrab -c against `s_server -quiet`: ncrab sends a file (no -N: it
/// stays for the other direction), s_server its stdin; once both arrived
/// s_server's stdin ends, it sends close_notify, and ncrab exits 0.
fn client_with_s_server(net: &Net, c: &Certs, s: &Suite, data: &BothWays) {
    let what = format!("ncrab client, s_server, {} {}", s.version(), s.name);
    let (srv, port) = s_server(net, c, s.cert(), &["-quiet"], &s.openssl_args());
    let mut srv = net.spawn_listening(data.peer(srv), port);
    let feeder = feed(&mut srv, &data.to_nc);
    let args = client_args(c, &["-v"], Some(s), "localhost", &port.to_string());
    let mut n = data.ncrab(net.nc(&args)).spawn();
    let (o, _) = data.finish(&what, &mut n, &mut srv, feeder);
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
    data.assert_intact(&what);
}

/// ncrab -lc against `s_client -brief -nocommands`: the same, the other
/// way round; s_client's close_notify at its stdin's EOF ends it.
fn listener_with_s_client(net: &Net, c: &Certs, s: &Suite, data: &BothWays) {
    let what = format!("ncrab listener, s_client, {} {}", s.version(), s.name);
    let port = free_port();
    let args = c.listener_args(s.cert(), &["-v"], &s.ncrab_args(), &port.to_string());
    let mut l = net.spawn_listening(data.ncrab(net.nc(&args)), port);
    let cl = s_client(net, c, port, &["-nocommands"], &s.openssl_args());
    let mut cl = data.peer(cl).spawn();
    let feeder = feed(&mut cl, &data.to_nc);
    let (lo, co) = data.finish(&what, &mut l, &mut cl, feeder);
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
    data.assert_intact(&what);
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
/// connected, for suite `s`: a [`Talk`] between them.
fn key_update_session(net: &Net, c: &Certs, s: &Suite, role: Role, msg: &Path) -> Talk {
    let msgs = msg.display().to_string();
    let mut tail = vec!["-msg", "-msgfile", &msgs];
    tail.extend(s.openssl_args());
    let (peer, n) = match role {
        Role::Client => {
            let (srv, port) = s_server(net, c, "srv", &[], &tail);
            let peer = net.spawn_listening(srv.stdin(Input::Pipe), port);
            let a = client_args(c, &["-N"], Some(s), "localhost", &port.to_string());
            (peer, net.nc(&a).stdin(Input::Pipe).spawn())
        }
        Role::Listener => {
            let port = free_port();
            let a = c.listener_args("srv", &[], &s.ncrab_args(), &port.to_string());
            let n = net.spawn_listening(net.nc(&a).stdin(Input::Pipe), port);
            (
                s_client(net, c, port, &[], &tail)
                    .stdin(Input::Pipe)
                    .spawn(),
                n,
            )
        }
    };
    Talk {
        n,
        peer,
        to_nc: Vec::new(),
        to_peer: Vec::new(),
        what: format!("{role:?} {}", s.name),
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

/// ncrab and an openssl peer (not quiet) exchanging `@@` lines through
/// their stdin, and what each was sent.
struct Talk {
    n: Proc,
    peer: Proc,
    to_nc: Vec<u8>,
    to_peer: Vec<u8>,
    what: String,
}

impl Talk {
    /// The line of `round` from ncrab, once the peer printed it.
    #[track_caller]
    fn ncrab_says(&mut self, round: usize) {
        let l = line(2, round, 0);
        pass(&mut self.n, &mut self.peer, &l, &self.what);
        self.to_peer.extend(l);
    }

    /// The line of `round` from the peer, once ncrab printed it.
    #[track_caller]
    fn peer_says(&mut self, round: usize) {
        let l = line(1, round, 0);
        pass(&mut self.peer, &mut self.n, &l, &self.what);
        self.to_nc.extend(l);
    }

    /// An openssl command on the peer's stdin, alone in its read (see
    /// the top).
    #[track_caller]
    fn command(&mut self, cmd: &[u8]) {
        self.peer.write_stdin(cmd).expect("peer stdin");
        assert!(
            self.peer.wait_stdin_read(LIMIT),
            "{}: the peer never read its command {}",
            self.what,
            escape(cmd)
        );
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
    let Some((c, net)) = setup("rec-keyupd", &[]) else {
        return;
    };
    let dir = TempDir::new("rec-keyupd");
    let msg = dir.join("msg.txt");
    let mut t = key_update_session(&net, &c, s, role, &msg);
    // The first line goes from ncrab: s_server waits for one (see the top).
    t.ncrab_says(0);
    t.peer_says(0);
    for round in 1..=KEY_UPDATES {
        t.command(if round % 2 == 1 { b"k\n" } else { b"K\n" });
        t.peer_says(round);
        t.ncrab_says(round);
    }
    let Talk {
        mut n,
        mut peer,
        mut to_nc,
        mut to_peer,
        what,
    } = t;
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
    assert_silent_exit(&format!("{what}: ncrab's stdout"), &o, &to_nc);
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
    let Some((c, net)) = setup("rec-socat", &[]) else {
        return;
    };
    let Some(socat) = tool("socat", "socat") else {
        return;
    };
    let dir = TempDir::new("rec-socat");
    let data = BothWays::new(&dir, 32 * MIB).with("socat");

    // ncrab -c -N: its close_notify after its file; socat's after its
    // own (-t 30: socat waits that long for the other direction).
    let port = free_port();
    let p = port.to_string();
    let s = net
        .socat(
            &socat,
            &["-T", "30", "-t", "30", &c.socat_listen(&p), "STDIO"],
        )
        .stdin(Input::File(data.to_nc.clone()))
        .stdout(OutputTo::File(data.peer_got.clone()));
    let mut s = net.spawn_listening(s, port);
    let o = data
        .ncrab(net.nc(&client_args(&c, &["-N"], None, "localhost", &p)))
        .run(LIMIT);
    let so = s.expect_exit(LIMIT);
    o.assert(0, b"", b"");
    assert_eq!(so.code(), Some(0), "{so}");
    data.assert_intact("ncrab client");

    // ncrab -lc -N: an nc listener ends at the client's EOF, so socat's
    // stdin stays open until both directions arrived.
    let port = free_port();
    let p = port.to_string();
    let l = data.ncrab(net.nc(&c.listener_args("srv", &["-N"], &[], &p)));
    let mut l = net.spawn_listening(l, port);
    let s = net.socat(
        &socat,
        &["-T", "30", "-t", "30", "STDIO", &c.socat_connect(&p)],
    );
    let mut s = data.peer(s).spawn();
    let feeder = feed(&mut s, &data.to_nc);
    let (lo, so) = data.finish("ncrab listener, socat", &mut l, &mut s, feeder);
    lo.assert(0, b"", b"");
    assert_eq!(so.code(), Some(0), "{so}");
    data.assert_intact("ncrab listener");
}

// ---------------------------------------------------------------------------
// The tap: a relay of the test's own that reads the record headers
// ---------------------------------------------------------------------------

/// What the tap does with the server's records.
#[derive(Clone, Copy, PartialEq, Debug)]
enum TapMode {
    /// Passes whole records on as they come.
    Pass,
    /// After `after` application-data records, passes on the header and
    /// half the body of the next one, then ends the connection to ncrab:
    /// FIN, or RST when `rst`. The server's side is closed too.
    Cut { after: u64, rst: bool },
    /// Passes each record on a few bytes at a time, the header byte by
    /// byte, with a pause between (TCP_NODELAY): ncrab's reads see partial
    /// headers and partial bodies.
    Dribble,
}

/// What the tap saw of the server's application-data records: in TLS
/// 1.3 the type-23 records after the client's first one (its Finished:
/// the server's own handshake records all come before it), in TLS 1.2
/// all type-23 records.
#[derive(Clone, Debug, Default)]
struct Seen {
    app_records: u64,
    /// The sum of their lengths (each the ciphertext after the header).
    app_bytes: u64,
    /// How many of each length.
    lens: BTreeMap<u16, u64>,
    /// The cut was made.
    cut: bool,
}

/// A relay in `net` between ncrab (it connects to [`Tap::port`]) and a
/// server on 127.0.0.1:`upstream`, reading the record headers going by.
/// Its threads end at EOF, at the cut, or after [`LIMIT`].
struct Tap {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    thread: JoinHandle<()>,
}

/// Tracks record headers in a byte stream split anyhow, for their types.
#[derive(Default)]
struct Headers {
    hdr: Vec<u8>,
    body_left: usize,
}

impl Headers {
    fn feed(&mut self, mut b: &[u8], mut on_type: impl FnMut(u8)) {
        while !b.is_empty() {
            if self.body_left > 0 {
                let k = self.body_left.min(b.len());
                self.body_left -= k;
                b = &b[k..];
                continue;
            }
            let k = (5 - self.hdr.len()).min(b.len());
            self.hdr.extend_from_slice(&b[..k]);
            b = &b[k..];
            if self.hdr.len() == 5 {
                on_type(self.hdr[0]);
                self.body_left = usize::from(u16::from_be_bytes([self.hdr[3], self.hdr[4]]));
                self.hdr.clear();
            }
        }
    }
}

impl Tap {
    fn start(net: &Net, upstream: u16, tls13: bool, mode: TapMode) -> Tap {
        let l = net.listen("127.0.0.1:0").expect("tap listener");
        let port = l.local_addr().expect("tap port").port();
        let up = net.connect(&format!("127.0.0.1:{upstream}"));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let seen2 = seen.clone();
        let thread = thread::spawn(move || {
            let deadline = Instant::now() + LIMIT;
            let down = accept_within(&l, LIMIT);
            let _ = down.set_nodelay(true);
            let _ = down.set_write_timeout(Some(secs(10)));
            let _ = up.set_write_timeout(Some(secs(10)));
            let client_spoke = Arc::new(AtomicBool::new(false));
            let stop = Arc::new(AtomicBool::new(false));
            let c2s = {
                let (d, u) = (down.try_clone().unwrap(), up.try_clone().unwrap());
                let (spoke, stop) = (client_spoke.clone(), stop.clone());
                thread::spawn(move || client_to_server(d, u, &spoke, &stop, deadline))
            };
            let ended = server_to_client(up, &down, tls13, mode, &client_spoke, &seen2, deadline);
            stop.store(true, Ordering::SeqCst);
            let _ = c2s.join();
            match ended {
                Some(true) => {
                    // Everything passed on is in ncrab's kernel first (an
                    // RST drops what the tap's kernel still holds).
                    eventually(secs(5), || unacked(&down) == 0);
                    reset(down);
                }
                Some(false) => {
                    // FIN; read what ncrab still sends until it closes, so
                    // the close stays a FIN (no RST for unread data).
                    let _ = down.shutdown(Shutdown::Write);
                    let _ = down.set_read_timeout(Some(ms(100)));
                    let mut d = &down;
                    let mut buf = [0u8; 4096];
                    while Instant::now() < deadline {
                        match d.read(&mut buf) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e) if is_timeout(&e) => {}
                            Err(_) => break,
                        }
                    }
                }
                None => {}
            }
        });
        Tap { port, seen, thread }
    }

    fn port(&self) -> String {
        self.port.to_string()
    }

    /// What it saw; waits for its thread (bounded by its deadline).
    fn finish(self) -> Seen {
        let _ = self.thread.join();
        self.seen.lock().unwrap().clone()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// ncrab's bytes to the server, as they come; notes (before passing it
/// on) the client's first application-data record.
fn client_to_server(
    mut down: TcpStream,
    mut up: TcpStream,
    spoke: &AtomicBool,
    stop: &AtomicBool,
    deadline: Instant,
) {
    let _ = down.set_read_timeout(Some(ms(50)));
    let mut h = Headers::default();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match down.read(&mut buf) {
            Ok(0) => {
                let _ = up.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                h.feed(&buf[..n], |t| {
                    if t == 23 {
                        spoke.store(true, Ordering::SeqCst);
                    }
                });
                if up.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

/// The server's records to ncrab, whole (or cut, or dribbled). Returns
/// Some(rst) when it cut the stream, None otherwise.
fn server_to_client(
    mut up: TcpStream,
    down: &TcpStream,
    tls13: bool,
    mode: TapMode,
    client_spoke: &AtomicBool,
    seen: &Mutex<Seen>,
    deadline: Instant,
) -> Option<bool> {
    let _ = up.set_read_timeout(Some(ms(50)));
    let mut down = down;
    let mut pending: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while Instant::now() < deadline {
        let n = match up.read(&mut buf) {
            Ok(0) => {
                let _ = down.write_all(&pending);
                let _ = down.shutdown(Shutdown::Write);
                return None;
            }
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(_) => {
                let _ = down.shutdown(Shutdown::Write);
                return None;
            }
        };
        pending.extend_from_slice(&buf[..n]);
        let mut at = 0;
        while pending.len() - at >= 5 {
            let len = usize::from(u16::from_be_bytes([pending[at + 3], pending[at + 4]]));
            if pending.len() - at < 5 + len {
                break;
            }
            let rec = &pending[at..at + 5 + len];
            at += 5 + len;
            let app = rec[0] == 23 && (!tls13 || client_spoke.load(Ordering::SeqCst));
            if app {
                let mut s = seen.lock().unwrap();
                if let TapMode::Cut { after, rst } = mode {
                    if s.app_records == after {
                        out.extend_from_slice(&rec[..5 + len / 2]);
                        let _ = down.write_all(&out);
                        s.cut = true;
                        drop(up);
                        return Some(rst);
                    }
                }
                s.app_records += 1;
                s.app_bytes += len as u64;
                *s.lens.entry(len as u16).or_default() += 1;
            }
            if mode == TapMode::Dribble {
                if down.write_all(&out).is_err() {
                    return None;
                }
                out.clear();
                if !dribble(down, rec) {
                    return None;
                }
            } else {
                out.extend_from_slice(rec);
            }
        }
        pending.drain(..at);
        if !out.is_empty() {
            if down.write_all(&out).is_err() {
                return None;
            }
            out.clear();
        }
    }
    None
}

/// Writes one record in pieces: the header a byte at a time, then 1, 2,
/// 3, 7 bytes of the body, then halves of the rest; 1 ms between pieces.
fn dribble(mut down: &TcpStream, rec: &[u8]) -> bool {
    let mut cuts = vec![1, 2, 3, 4, 5, 6, 8, 11, 18];
    let mut at = 18;
    while at < rec.len() {
        at += (rec.len() - at).div_ceil(2).max(64);
        cuts.push(at);
    }
    let mut from = 0;
    for to in cuts {
        let to = to.min(rec.len());
        if to <= from {
            continue;
        }
        if down.write_all(&rec[from..to]).is_err() {
            return false;
        }
        from = to;
        thread::sleep(ms(1));
    }
    true
}

// ---------------------------------------------------------------------------
// 4. A peer that vanishes in the middle of a record
// ---------------------------------------------------------------------------

/// `s_server -quiet` on a free port serving `cert`, its stdin fed from
/// `src` (then EOF: close_notify), for suite `s`; `extra` options.
fn s_server_sending(net: &Net, c: &Certs, s: &Suite, src: &Path, extra: &[&str]) -> (Proc, u16) {
    let mut tail = s.openssl_args();
    tail.extend(extra);
    let (srv, port) = s_server(net, c, s.cert(), &["-quiet"], &tail);
    let srv = srv.stdin(Input::PipeFrom(src.to_path_buf()));
    (net.spawn_listening(srv, port), port)
}

/// The ncrab client of those tests: sends one line (s_server waits for
/// it, see the top), then reads to the end, stdout into `got`.
fn receiving_client(net: &Net, c: &Certs, port: &str, got: &Path) -> Proc {
    net.nc(&client_args(c, &[], None, "127.0.0.1", port))
        .stdin_bytes(b"hello\n")
        .stdout(OutputTo::File(got.to_path_buf()))
        .spawn()
}

/// The bytes in `got` must be the start of `sent`.
#[track_caller]
fn assert_prefix(what: &str, sent: &Path, got: &Path) -> u64 {
    let (s, g) = (
        std::fs::read(sent).expect("read sent"),
        std::fs::read(got).unwrap_or_default(),
    );
    let same = s.iter().zip(&g).take_while(|(a, b)| a == b).count();
    assert!(
        g.len() <= s.len() && same == g.len(),
        "{what}: ncrab wrote {} bytes, only the first {same} of them sent",
        g.len()
    );
    g.len() as u64
}

/// s_server is killed (SIGKILL) while it sends 16 MiB, once ncrab has
/// written 1 MiB: its kernel closes the connection wherever the stream
/// was, most likely inside a record. ncrab exits by itself, at once, as
/// at EOF (status 0, silent: a FIN without close_notify is the end, as in
/// libtls), and what it wrote is a prefix of what was sent.
#[test]
fn peer_killed_while_sending_leaves_a_prefix() {
    let Some((c, net)) = setup("rec-kill", &[]) else {
        return;
    };
    let dir = TempDir::new("rec-kill");
    let src = dir.join("src.bin");
    random_file(&src, 16 * MIB);
    for s in [TLS13[0], TLS12_ECDSA[0]] {
        let what = format!("SIGKILL, {}", s.name);
        let got = dir.join("got.bin");
        let (mut srv, port) = s_server_sending(&net, &c, &s, &src, &[]);
        let mut n = receiving_client(&net, &c, &port.to_string(), &got);
        expect_files(&what, &[(&got, MIB as u64)], &mut [&mut n, &mut srv]);
        srv.signal(libc::SIGKILL);
        let o = n.expect_exit(secs(10));
        let len = assert_prefix(&what, &src, &got);
        figure(&format!("{what}: ncrab wrote {len} bytes"));
        o.assert(0, b"", b"");
        assert!(len < file_len(&src), "{what}: all of it arrived: {o}");
    }
}

/// The tap cuts the server's stream in the middle of a record, after 40
/// whole application-data records, with a FIN or an RST. Every byte of
/// those 40 records comes out (nothing decrypted is lost), and nothing
/// more (nothing of the half record); ncrab exits by itself: after the
/// FIN as at EOF (status 0, silent: libtls's rule), after the RST with
/// OpenBSD's `tls read failed (REASON)` and status 1.
#[test]
fn stream_cut_in_a_record_delivers_every_whole_record() {
    let Some((c, net)) = setup("rec-cut", &[]) else {
        return;
    };
    let dir = TempDir::new("rec-cut");
    let src = dir.join("src.bin");
    random_file(&src, 4 * MIB);
    for s in [TLS13[2], TLS12_ECDSA[1]] {
        for rst in [false, true] {
            let what = format!("cut with {}, {}", if rst { "RST" } else { "FIN" }, s.name);
            let got = dir.join("got.bin");
            // No session tickets: after the client's Finished, every
            // type-23 record from the server is data.
            let (mut srv, port) = s_server_sending(&net, &c, &s, &src, &["-num_tickets", "0"]);
            let tap = Tap::start(&net, port, s.tls13, TapMode::Cut { after: 40, rst });
            let mut n = receiving_client(&net, &c, &tap.port(), &got);
            let o = n.expect_exit(secs(15));
            srv.kill();
            let seen = tap.finish();
            assert!(seen.cut && seen.app_records == 40, "{what}: {seen:?}");
            let whole = seen.app_bytes - 40 * s.overhead() as u64;
            let len = assert_prefix(&what, &src, &got);
            assert_eq!(
                len, whole,
                "{what}: the 40 whole records held {whole} bytes; {o}"
            );
            if rst {
                o.assert(1, b"", b"nc: tls read failed (Connection reset by peer)\n");
            } else {
                o.assert(0, b"", b"");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 5. Small records from openssl
// ---------------------------------------------------------------------------

/// ncrab -c (only suite `s`, stdin `input`) through a tap passing whole
/// records to the server `srv` on `port`, stdout into `got`: once `srv`
/// exited too, ncrab at exit 0, silent, and `got` the same as `src`
/// (SHA-256). What the tap saw.
#[track_caller]
fn all_through_tap(
    what: &str,
    net: &Net,
    c: &Certs,
    s: &Suite,
    (srv, port): (&mut Proc, u16),
    input: Input,
    (src, got): (&Path, &Path),
) -> Seen {
    let tap = Tap::start(net, port, s.tls13, TapMode::Pass);
    let a = client_args(c, &[], Some(s), "127.0.0.1", &tap.port());
    let o = net
        .nc(&a)
        .stdin(input)
        .stdout(OutputTo::File(got.to_path_buf()))
        .run(LIMIT);
    srv.expect_exit(LIMIT);
    let seen = tap.finish();
    o.assert(0, b"", b"");
    assert_same_file(what, src, got);
    seen
}

/// openssl's smallest records: `s_server -max_send_frag 512` sends
/// 1 MiB, `socat -b 1` 64 KiB (a record per byte); through the tap,
/// which proves the sizes. All of it arrives, then close_notify, exit 0.
#[test]
fn small_records_from_openssl() {
    let Some((c, net)) = setup("rec-small", &TLS12_RSA) else {
        return;
    };
    let Some(socat) = tool("socat", "socat") else {
        return;
    };
    let dir = TempDir::new("rec-small");
    let src = dir.join("src.bin");
    let got = dir.join("got.bin");
    random_file(&src, MIB);
    for s in [TLS13[1], TLS12_RSA[0]] {
        let what = format!("-max_send_frag 512, {}", s.name);
        let _ = std::fs::remove_file(&got);
        let (mut srv, port) = s_server_sending(
            &net,
            &c,
            &s,
            &src,
            &["-max_send_frag", "512", "-num_tickets", "0"],
        );
        let hello = Input::Bytes(b"hello\n".to_vec());
        let seen = all_through_tap(&what, &net, &c, &s, (&mut srv, port), hello, (&src, &got));
        let biggest = seen.lens.keys().max().copied().unwrap_or(0);
        assert!(
            usize::from(biggest) <= 512 + s.overhead() && seen.app_records >= 2048,
            "{what}: {seen:?}"
        );
    }
    // socat -b 1: one read(2) of a byte, one SSL_write, one record.
    for (s, len) in [(TLS12_ECDSA[0], 32 * 1024), (TLS13[2], 64 * 1024)] {
        let what = format!("socat -b 1, {}", s.name);
        let src = dir.join("small.bin");
        random_file(&src, len);
        let port = free_port();
        let listen = c.socat_listen(&port.to_string());
        let so = net
            .socat(&socat, &["-b", "1", "-T", "20", "-u", "STDIN", &listen])
            .stdin(Input::File(src.clone()));
        let mut so = net.spawn_listening(so, port);
        let seen = all_through_tap(
            &what,
            &net,
            &c,
            &s,
            (&mut so, port),
            Input::Null,
            (&src, &got),
        );
        // TLS 1.3: socat's two session tickets and its close_notify are
        // records of type 23 too.
        let one = (1 + s.overhead()) as u16;
        let others = seen.app_records - seen.lens.get(&one).copied().unwrap_or(0);
        assert!(
            seen.lens.get(&one) == Some(&(len as u64)) && others <= 3,
            "{what}: {seen:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 6. Records that arrive a few bytes at a time
// ---------------------------------------------------------------------------

/// s_server sends chunks of 1 byte to 40000 bytes, one at a time (each
/// once the last came out), so each is a record of its own (or up to
/// three of 16 KiB), and the tap passes every record on a few bytes at a
/// time, the header byte by byte: ncrab's reads end inside headers, tags
/// and explicit nonces. All of it, exact, then close_notify: exit 0.
#[test]
fn records_split_across_reads() {
    let Some((c, net)) = setup("rec-dribble", &[]) else {
        return;
    };
    let sizes = [
        1, 2, 3, 4, 5, 16, 17, 255, 256, 1000, 4095, 4096, 16383, 16384, 16385, 40000,
    ];
    for s in [TLS13[1], TLS12_ECDSA[0], TLS12_ECDSA[2]] {
        let what = format!("dribbled, {}", s.name);
        let (srv, port) = s_server(&net, &c, "srv", &["-quiet"], &s.openssl_args());
        let mut srv = net.spawn_listening(srv.stdin(Input::Pipe), port);
        let tap = Tap::start(&net, port, s.tls13, TapMode::Dribble);
        let a = client_args(&c, &[], Some(&s), "127.0.0.1", &tap.port());
        let mut n = net.nc(&a).stdin_bytes(b"hello\n").spawn();
        srv.expect_stdout(b"hello\n", LIMIT);
        let mut want = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let chunk = payload(*size, i as u32 + 100);
            want.extend_from_slice(&chunk);
            srv.write_stdin(&chunk).expect("s_server stdin");
            if !eventually(LIMIT, || n.stdout_now().len() >= want.len()) {
                let o = n.kill();
                panic!("{what}: chunk {i} ({size} bytes) never came out: {o}");
            }
        }
        srv.close_stdin();
        let o = n.expect_exit(LIMIT);
        srv.expect_exit(LIMIT);
        tap.finish();
        assert_silent_exit(&what, &o, &want);
    }
}

// ---------------------------------------------------------------------------
// 7. TLS 1.2 renegotiation from openssl, and the peer's fatal alert
// ---------------------------------------------------------------------------

/// Data both ways with `s_server -tls1_2`, then its `r` command: a
/// HelloRequest. With rustls's record layer ncrab answers
/// no_renegotiation and s_server ends the session with a fatal
/// handshake_failure alert; a client that ignores the HelloRequest keeps
/// the session. Either way: the data before is intact, and either ncrab
/// ends by itself at the alert, before its stdin does — status 1, one
/// `tls read failed (...)` line naming the alert, nothing more in -vv's
/// words — or, the session kept, more data goes both ways and ncrab ends
/// at its stdin's end, status 0.
fn renegotiation_from_s_server(extra_stdin: &[u8]) {
    let Some((c, net)) = setup("rec-reneg", &[]) else {
        return;
    };
    let dir = TempDir::new("rec-reneg");
    let msg = dir.join("msg.txt");
    let msgs = msg.display().to_string();
    let (srv, port) = s_server(&net, &c, "srv", &["-tls1_2"], &["-msg", "-msgfile", &msgs]);
    let srv = net.spawn_listening(srv.stdin(Input::Pipe), port);
    let a = client_args(&c, &["-vv", "-N"], None, "localhost", &port.to_string());
    let n = net.nc(&a).stdin(Input::Pipe).spawn();
    let mut t = Talk {
        n,
        peer: srv,
        to_nc: Vec::new(),
        to_peer: Vec::new(),
        what: "renegotiation".into(),
    };
    t.ncrab_says(0);
    t.peer_says(0);
    t.command(b"r\n");
    let alerted = t.peer.wait_timeout(secs(3)).is_some();
    if alerted {
        if !extra_stdin.is_empty() {
            // (ncrab may have exited already: then the pipe is broken.)
            let _ = t.n.write_stdin(extra_stdin);
        }
        let o = t.n.expect_exit(secs(10));
        t.n.close_stdin();
        t.peer.expect_exit(LIMIT);
        assert_bytes("ncrab's stdout", &t.to_nc, &o.stdout);
        assert_eq!(o.code(), Some(1), "{o}");
        let log = std::fs::read_to_string(&msg).unwrap_or_default();
        assert!(
            log.contains(">>> TLS 1.2, Handshake [length 0004], HelloRequest")
                && log.contains(">>> TLS 1.2, Alert [length 0002], fatal "),
            "{log}"
        );
        assert_eq!(
            tls_errors(&o),
            ["nc: tls read failed (the peer ended the session with an alert (handshake failure))"],
            "{o}"
        );
        return;
    } else {
        t.what = "after the HelloRequest".into();
        for round in 1..3 {
            t.ncrab_says(round);
            t.peer_says(round);
        }
    }
    t.n.close_stdin();
    let o = t.n.expect_exit(secs(10));
    t.peer.expect_exit(LIMIT);
    assert_bytes("ncrab's stdout", &t.to_nc, &o.stdout);
    assert_eq!(o.code(), Some(0), "{o}");
    let log = std::fs::read_to_string(&msg).unwrap_or_default();
    assert!(
        log.contains(">>> TLS 1.2, Handshake [length 0004], HelloRequest"),
        "{log}"
    );
    assert!(
        tls_errors(&o).is_empty() && !log.contains(" fatal "),
        "{o}; {log}"
    );
}

#[test]
fn renegotiation_request_from_s_server() {
    renegotiation_from_s_server(b"");
}

/// As [`renegotiation_request_from_s_server`], with a line on ncrab's
/// stdin after the peer's fatal alert: nothing can carry it any more, and
/// ncrab must still end. (With rustls's record layer it waited forever:
/// rustls refused the plaintext once the session was dead, the line
/// stayed in ncrab's buffer, so stdin's EOF never ended the network's
/// write side. The failed session now ends the run.)
#[test]
fn data_after_the_peers_fatal_alert_does_not_hang() {
    renegotiation_from_s_server(b"after the alert\n");
}

// ---------------------------------------------------------------------------
// A TLS server that seals its own records (tests/common/tls_crafted.rs)
// ---------------------------------------------------------------------------

/// ncrab (-c, suite `s`, stdin /dev/null: it stays for the network) as
/// the client of a crafted server; its outcome, the server thread joined.
fn against_crafted<F>(net: &Net, c: &Certs, s: &Suite, extra: &[&str], script: F) -> Outcome
where
    F: FnOnce(&mut Crafter) + Send + 'static,
{
    let (port, t) = crafted_server(net, c, script);
    let o = net
        .nc(&client_args(c, extra, Some(s), "127.0.0.1", &port))
        .run(LIMIT);
    if t.join().is_err() {
        panic!("the test's server failed (see above); ncrab: {o}");
    }
    o
}

/// The suites the crafted server is run with: each AEAD once in TLS 1.3,
/// and TLS 1.2 with and without an explicit nonce.
const CRAFTED: [Suite; 5] = [TLS13[0], TLS13[1], TLS13[2], TLS12_ECDSA[1], TLS12_ECDSA[2]];

// ---------------------------------------------------------------------------
// 8. Records of one byte
// ---------------------------------------------------------------------------

/// 1 MiB in records of one byte each (TLS 1.3; and 256 KiB in TLS 1.2
/// with its explicit nonces): a million records, each its own nonce,
/// many to a read; all of it exact, then close_notify, exit 0.
#[test]
fn one_byte_records() {
    let Some((c, net)) = setup("rec-1byte", &[]) else {
        return;
    };
    for (s, len) in [(TLS13[0], MIB), (TLS12_ECDSA[1], MIB / 4)] {
        let data = payload(len, 11);
        let sent = data.clone();
        let o = against_crafted(&net, &c, &s, &[], move |cr| {
            for chunk in sent.chunks(4096) {
                for b in chunk {
                    cr.app(std::slice::from_ref(b));
                }
                cr.flush();
            }
            cr.close();
        });
        assert_silent_exit(s.name, &o, &data);
    }
}

// ---------------------------------------------------------------------------
// 9. Records a peer may send, and records it may not
// ---------------------------------------------------------------------------

/// The records of [`odd_but_legal_records`]: (content, TLS 1.3 padding).
fn odd_records(tls13: bool) -> Vec<(Vec<u8>, usize)> {
    let mut v: Vec<(Vec<u8>, usize)> = vec![(b"first\n".to_vec(), 0)];
    // Zero-length application data (RFC 8446 §5.1, RFC 5246 §6.2.1).
    v.extend((0..5).map(|_| (Vec::new(), 0)));
    // The largest plaintext, a byte of it, the largest again.
    v.push((payload(16384, 5), 0));
    v.push((b"x".to_vec(), 0));
    v.push((payload(16384, 6), 0));
    if tls13 {
        // Padding (RFC 8446 §5.4) up to the largest inner plaintext
        // (2^14 + 1 bytes with the type): a byte and 16383 zeros, none
        // and 16384 zeros; a line and 100; content of zeros before the
        // type and the padding's zeros.
        v.push((b"p".to_vec(), 16383));
        v.push((Vec::new(), 16384));
        v.push((b"padded\n".to_vec(), 100));
        v.push((vec![0, 0, 0], 5));
    }
    v
}

/// What a peer may send: zero-length records, the largest plaintext,
/// TLS 1.3 padding (to the limit, and a record of padding only), a
/// thousand records in one write, a warning alert (user_canceled); each
/// suite. All the data, exact; close_notify ends ncrab at exit 0, silent.
#[test]
fn odd_but_legal_records() {
    let Some((c, net)) = setup("rec-odd", &[]) else {
        return;
    };
    for s in CRAFTED {
        let recs = odd_records(s.tls13);
        let many: Vec<Vec<u8>> = (0..1000).map(|i| format!("{i}\n").into_bytes()).collect();
        let mut want: Vec<u8> = recs.iter().flat_map(|(d, _)| d.clone()).collect();
        want.extend(many.concat());
        want.extend(b"after the warning\n");
        let o = against_crafted(&net, &c, &s, &[], move |cr| {
            for (d, pad) in &recs {
                cr.record(23, d, *pad);
                cr.flush();
            }
            for d in &many {
                cr.app(d);
            }
            cr.flush();
            cr.alert(1, 90);
            cr.app(b"after the warning\n");
            cr.close();
        });
        assert_silent_exit(s.name, &o, &want);
    }
}

type Script = Box<dyn FnOnce(&mut Crafter) + Send>;

/// The reasons in ncrab's `tls read failed (REASON)` shared by several
/// of [`bad_records`].
const DECRYPT: &str = "decryption failed (corrupted record)";
const OVERSIZED: &str = "the peer sent a record larger than TLS allows";
const BAD_KEY_UPDATE: &str = "the peer sent a malformed TLS message (invalid key update)";

/// What a peer may not send after good data, for a suite: (what, the
/// reason ncrab gives, script after the good record). Each is followed
/// by an `after` record sealed as the peer would have it, that must
/// never come out.
fn bad_records(tls13: bool) -> Vec<(&'static str, &'static str, Script)> {
    let mut v: Vec<(&'static str, &'static str, Script)> = vec![
        (
            "a record sent twice (replayed)",
            DECRYPT,
            Box::new(|cr| {
                let r = cr.last_record();
                cr.raw(&r);
            }),
        ),
        (
            "a tag with a bit flipped",
            DECRYPT,
            Box::new(|cr| {
                cr.app(b"tampered\n");
                let last = cr.out.len() - 1;
                cr.out[last] ^= 0x40;
            }),
        ),
        (
            "a sequence number skipped",
            DECRYPT,
            Box::new(|cr| cr.sealer.seq += 1),
        ),
        (
            "a record sealed with another sequence number's nonce, reordered",
            DECRYPT,
            Box::new(|cr| {
                let mut first = Vec::new();
                cr.sealer.seal(23, b"one\n", 0, &mut first);
                cr.app(b"two\n");
                cr.raw(&first);
            }),
        ),
        (
            "plaintext of 2^14 + 1 bytes",
            OVERSIZED,
            Box::new(|cr| cr.app(&[b'z'; 16385])),
        ),
        (
            "a record longer than any ciphertext may be",
            OVERSIZED,
            Box::new(|cr| {
                cr.raw(&[23, 3, 3, 0x48, 0x01]);
                cr.raw(&vec![0; 0x4801]);
            }),
        ),
        (
            "a record in the clear",
            DECRYPT,
            Box::new(|cr| cr.raw(&[23, 3, 3, 0, 6, b'c', b'l', b'e', b'a', b'r', b'\n'])),
        ),
        (
            "a fatal alert (handshake_failure)",
            "the peer ended the session with an alert (handshake failure)",
            Box::new(|cr| cr.alert(2, 40)),
        ),
        (
            "a record of an unknown type (heartbeat)",
            "the peer sent a record of a type not allowed after the handshake (heartbeat)",
            Box::new(|cr| cr.record(24, b"\x01\x00\x10", 0)),
        ),
        (
            "a ChangeCipherSpec after the handshake",
            "the peer sent a record of a type not allowed after the handshake (change cipher spec)",
            Box::new(|cr| cr.raw(&[20, 3, 3, 0, 1, 1])),
        ),
        (
            "a handshake record that is no message",
            // (Its header reads as a message of 0x617262 bytes.)
            "the peer sent a handshake message after the handshake larger than 64 KiB",
            Box::new(|cr| cr.record(22, b"garbage", 0)),
        ),
    ];
    if tls13 {
        v.extend([
            (
                "TLS 1.3: an inner plaintext of zeros only (no type)",
                "the peer broke the protocol (illegal tls inner plaintext)",
                Box::new(|cr: &mut Crafter| cr.record(0, b"", 10)) as Script,
            ),
            (
                "TLS 1.3: a HelloRequest",
                "the peer sent a handshake message not allowed after the handshake (hello request)",
                Box::new(|cr: &mut Crafter| cr.record(22, &[0, 0, 0, 0], 0)) as Script,
            ),
            (
                "TLS 1.3: a KeyUpdate not last in its record",
                "the peer broke the protocol (key epoch with pending fragment)",
                Box::new(|cr: &mut Crafter| {
                    let mut m = vec![24, 0, 0, 1, 0];
                    m.extend(new_session_ticket());
                    cr.record(22, &m, 0);
                    cr.sealer.update();
                }) as Script,
            ),
            (
                "TLS 1.3: a KeyUpdate with request_update 2",
                BAD_KEY_UPDATE,
                Box::new(|cr: &mut Crafter| {
                    cr.record(22, &[24, 0, 0, 1, 2], 0);
                    cr.sealer.update();
                }) as Script,
            ),
            (
                "TLS 1.3: a KeyUpdate of 2 bytes",
                BAD_KEY_UPDATE,
                Box::new(|cr: &mut Crafter| {
                    cr.record(22, &[24, 0, 0, 2, 0, 0], 0);
                    cr.sealer.update();
                }) as Script,
            ),
        ]);
    }
    v
}

/// Each of [`bad_records`], after a good record, the connection then held
/// open: ncrab writes the good data, exactly, never what follows the bad
/// record, and exits by itself (it cannot wait for more: the session is
/// over) with OpenBSD's `tls read failed (REASON)`, status 1 (libtls's
/// errx), once; -vv adds its summary, not the error again.
#[test]
fn forged_and_broken_records_end_the_stream() {
    let Some((c, net)) = setup("rec-bad", &[]) else {
        return;
    };
    for s in [TLS13[0], TLS13[2], TLS12_ECDSA[1], TLS12_ECDSA[2]] {
        for (what, reason, bad) in bad_records(s.tls13) {
            let o = against_crafted(&net, &c, &s, &["-vv"], move |cr| {
                cr.app(b"before\n");
                bad(cr);
                cr.app(b"after\n");
                cr.flush();
            });
            let what = format!("{}: {what}", s.name);
            assert_bytes(&what, b"before\n", &o.stdout);
            let errors = tls_errors(&o);
            assert!(
                o.code() == Some(1)
                    && errors.len() == 1
                    && errors[0].starts_with("nc: tls read failed (")
                    && o.stderr_str().contains(&format!(
                        "{}\nSent 0 bytes, received 7 bytes in ",
                        errors[0]
                    )),
                "{what}: {o}"
            );
            assert_eq!(
                errors[0],
                format!("nc: tls read failed ({reason})"),
                "{what}: {o}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 10. Post-handshake messages a peer may send, however it cuts them
// ---------------------------------------------------------------------------

/// TLS 1.3, each suite (both HKDF hashes): 300 KeyUpdates
/// (update_not_requested) each followed by data; three update_requested;
/// two KeyUpdates back to back; a KeyUpdate cut across two records; a
/// NewSessionTicket and a KeyUpdate in one record; a NewSessionTicket
/// cut across three records; a zero-length record between. The test
/// seals every record with the keys it derives itself (RFC 8446 §7.2),
/// so each line after an update decrypts only with the updated keys.
/// All the data, exact, then close_notify: exit 0, silent.
#[test]
fn key_updates_and_tickets_however_they_come() {
    let Some((c, net)) = setup("rec-ku", &[]) else {
        return;
    };
    for s in TLS13 {
        let mut want = Vec::new();
        let l = |tag: &str, i: usize| format!("{tag} {i}\n").into_bytes();
        for i in 0..300 {
            want.extend(l("not requested", i));
        }
        for i in 0..3 {
            want.extend(l("requested", i));
        }
        want.extend(l("after two in a row", 0));
        want.extend(l("after a cut KeyUpdate", 0));
        want.extend(l("after a ticket and a KeyUpdate", 0));
        want.extend(l("after a cut ticket", 0));
        let o = against_crafted(&net, &c, &s, &[], move |cr| {
            for i in 0..300 {
                cr.key_update(false);
                cr.app(&l("not requested", i));
                if i % 50 == 0 {
                    cr.flush();
                }
            }
            cr.flush();
            for i in 0..3 {
                cr.key_update(true);
                cr.app(&l("requested", i));
                cr.flush();
            }
            cr.key_update(false);
            cr.key_update(false);
            cr.app(&l("after two in a row", 0));
            cr.record(22, &[24, 0], 0);
            cr.record(22, &[0, 1, 0], 0);
            cr.sealer.update();
            cr.app(b"");
            cr.app(&l("after a cut KeyUpdate", 0));
            let mut m = new_session_ticket();
            m.extend([24, 0, 0, 1, 0]);
            cr.record(22, &m, 0);
            cr.sealer.update();
            cr.app(&l("after a ticket and a KeyUpdate", 0));
            let t = new_session_ticket();
            cr.record(22, &t[..3], 0);
            cr.record(22, &t[3..10], 0);
            cr.record(22, &t[10..], 0);
            cr.app(&l("after a cut ticket", 0));
            cr.close();
        });
        assert_silent_exit(s.name, &o, &want);
    }
}

/// TLS 1.2: a HelloRequest between data, whole or cut across two
/// records. A client may ignore it or answer no_renegotiation (a
/// warning), and the session goes on (RFC 5246 §7.4.1.1): all the data,
/// exact, then close_notify: exit 0, silent. (One per session: rustls
/// takes a second one as an attack and ends the session; a record layer
/// of ncrab's own may ignore them all, so that is left open here.)
#[test]
fn a_hello_request_leaves_a_tls12_session_going() {
    let Some((c, net)) = setup("rec-hr", &[]) else {
        return;
    };
    for s in [TLS12_ECDSA[0], TLS12_ECDSA[2]] {
        for cut in [false, true] {
            let o = against_crafted(&net, &c, &s, &[], move |cr| {
                cr.app(b"before\n");
                cr.flush();
                thread::sleep(ms(20));
                if cut {
                    cr.record(22, &[0, 0], 0);
                    cr.record(22, &[0, 0], 0);
                } else {
                    cr.record(22, &[0, 0, 0, 0], 0);
                }
                cr.app(b"after\n");
                cr.flush();
                thread::sleep(ms(20));
                cr.app(b"later\n");
                cr.close();
            });
            o.assert(0, b"before\nafter\nlater\n", b"");
        }
    }
}

// ---------------------------------------------------------------------------
// 11. The end of a session: every sealed record leaves, then close_notify
// ---------------------------------------------------------------------------

/// The slow receiver's receive buffer, and ncrab's send buffer (`-O`):
/// what the kernel holds between them stays well under [`HELD_BACK`].
const SMALL_BUF: usize = 8 * 1024;
/// The receiver stops reading while this much of the stream is still to
/// come: at most ncrab's two buffers plus the kernel's, so ncrab reads
/// its stdin's end meanwhile, with sealed records the socket cannot take.
const HELD_BACK: u64 = 160 * 1024;
/// How long it stops (ample for ncrab to reach its stdin's end).
const HOLD: Duration = Duration::from_secs(1);

/// Accepts one client on `l` and makes the handshake (rustls, `cfg`),
/// the session tickets sent.
fn tls_accept(
    l: &TcpListener,
    cfg: Arc<rustls::ServerConfig>,
) -> Result<(TcpStream, rustls::ServerConnection), String> {
    let mut sock = accept_within(l, LIMIT);
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    sock.set_write_timeout(Some(LIMIT)).unwrap();
    let mut conn = rustls::ServerConnection::new(cfg).expect("server");
    while conn.is_handshaking() || conn.wants_write() {
        conn.complete_io(&mut sock)
            .map_err(|e| format!("handshake: {e}"))?;
    }
    Ok((sock, conn))
}

/// Sends the server's close_notify (no FIN).
fn close_notify(conn: &mut rustls::ServerConnection, sock: &mut TcpStream) -> Result<(), String> {
    conn.send_close_notify();
    while conn.wants_write() {
        conn.write_tls(sock)
            .map_err(|e| format!("our close_notify: {e}"))?;
    }
    Ok(())
}

/// A TLS server of the test's own (rustls, `srv`) that reads slowly: its
/// receive buffer is [`SMALL_BUF`], and it stops reading for [`HOLD`]
/// when `len` - [`HELD_BACK`] bytes have come; it writes the plaintext
/// into `got`. With `close_first` it sends its close_notify and FIN right
/// after the handshake, and reads on. The thread tells how the client's
/// stream ended: Ok with its close_notify, Err saying how else.
fn slow_receiver(
    net: &Net,
    c: &Certs,
    close_first: bool,
    len: u64,
    got: &Path,
) -> (String, JoinHandle<Result<(), String>>) {
    let cfg = Arc::new(rustls_server_config(c));
    let l = net.listen("127.0.0.1:0").expect("listen");
    // (Accepted sockets inherit it.)
    socket2::SockRef::from(&l)
        .set_recv_buffer_size(SMALL_BUF)
        .expect("SO_RCVBUF");
    let port = l.local_addr().unwrap().port().to_string();
    let mut out = io::BufWriter::new(File::create(got).expect("create the received file"));
    let t = thread::spawn(move || {
        let (mut sock, mut conn) = tls_accept(&l, cfg)?;
        if close_first {
            close_notify(&mut conn, &mut sock)?;
            sock.shutdown(Shutdown::Write)
                .map_err(|e| format!("our FIN: {e}"))?;
        }
        let mut buf = vec![0u8; 64 * 1024];
        let (mut total, mut held) = (0u64, false);
        loop {
            let eof = conn
                .read_tls(&mut sock)
                .map_err(|e| format!("after {total} bytes: {e}"))?
                == 0;
            conn.process_new_packets()
                .map_err(|e| format!("after {total} bytes: TLS error {e}"))?;
            loop {
                match conn.reader().read(&mut buf) {
                    // Only after the peer's close_notify.
                    Ok(0) => {
                        out.flush().map_err(|e| e.to_string())?;
                        return Ok(());
                    }
                    Ok(n) => {
                        out.write_all(&buf[..n]).map_err(|e| e.to_string())?;
                        total += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        let _ = out.flush();
                        return Err(format!("after {total} bytes: {e}"));
                    }
                }
            }
            if eof {
                let _ = out.flush();
                return Err(format!("after {total} bytes: a FIN without close_notify"));
            }
            if !held && total + HELD_BACK >= len {
                held = true;
                thread::sleep(HOLD);
            }
        }
    });
    (port, t)
}

/// [`setup`], and 64 MiB of random data to send: the certificates, the
/// network, a temporary directory and the file in it.
fn setup_64_mib(tag: &str) -> Option<(Certs, Net, TempDir, std::path::PathBuf)> {
    let (c, net) = setup(tag, &[])?;
    let dir = TempDir::new(tag);
    let src = dir.join("src.bin");
    random_file(&src, 64 * MIB);
    Some((c, net, dir, src))
}

/// 64 MiB from a file or a pipe through `ncrab -c -O 8192` with `-N` or
/// `--send-only` into a receiver that reads slowly (so at stdin's end
/// ncrab holds sealed records the socket has not taken yet), the
/// receiver closing first or not: every byte arrives (SHA-256), then
/// ncrab's close_notify; ncrab exits 0, silent. (The relay ended once
/// its plaintext buffers were empty: the sealed records and the
/// close_notify queued behind them were dropped with the socket.)
#[test]
fn every_sealed_record_leaves_before_the_end() {
    let Some((c, net, dir, src)) = setup_64_mib("rec-end") else {
        return;
    };
    let sndbuf = SMALL_BUF.to_string();
    let cases = [
        ("-N", true, true),
        ("--send-only", false, false),
        ("--send-only", true, true),
    ];
    for (flag, close_first, from_file) in cases {
        let what = format!(
            "{flag}, the receiver closing {}, stdin a {}",
            if close_first { "first" } else { "last" },
            if from_file { "file" } else { "pipe" }
        );
        let got = dir.join("got.bin");
        let (port, t) = slow_receiver(&net, &c, close_first, file_len(&src), &got);
        let input = if from_file {
            Input::File(src.clone())
        } else {
            Input::PipeFrom(src.clone())
        };
        let started = Instant::now();
        let o = net
            .nc(&client_args(
                &c,
                &[flag, "-O", &sndbuf],
                None,
                "127.0.0.1",
                &port,
            ))
            .stdin(input)
            .run(secs(120));
        let end = t.join().expect("the receiver thread");
        figure(&format!(
            "{what}: {} bytes in {:?}",
            file_len(&got),
            started.elapsed()
        ));
        o.assert(0, b"", b"");
        assert_same_file(&what, &src, &got);
        assert_eq!(end, Ok(()), "{what}: no close_notify after the data; {o}");
    }
}

/// A TLS server of the test's own that, after the handshake, sends its
/// close_notify (no FIN) and never reads; after `hold`, or once `stop` is
/// set, it closes with the client's data unread, so its kernel resets
/// the connection.
fn deaf_server(
    net: &Net,
    c: &Certs,
    hold: Duration,
    stop: Arc<AtomicBool>,
) -> (String, JoinHandle<Result<(), String>>) {
    let cfg = Arc::new(rustls_server_config(c));
    let l = net.listen("127.0.0.1:0").expect("listen");
    let port = l.local_addr().unwrap().port().to_string();
    let t = thread::spawn(move || {
        let (mut sock, mut conn) = tls_accept(&l, cfg)?;
        close_notify(&mut conn, &mut sock)?;
        let until = Instant::now() + hold;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            thread::sleep(ms(10));
        }
        Ok(())
    });
    (port, t)
}

/// ncrab sends 64 MiB to a peer that said close_notify and reads nothing,
/// then resets the connection: OpenBSD's `tls write failed (REASON)` and
/// status 1 (libtls's errx; a plain nc write error ends silently).
#[test]
fn a_reset_while_sending_is_a_write_failure() {
    let Some((c, net, _dir, src)) = setup_64_mib("rec-wreset") else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (port, t) = deaf_server(&net, &c, HOLD, stop);
    let o = net
        .nc(&client_args(&c, &[], None, "127.0.0.1", &port))
        .stdin(Input::File(src))
        .run(LIMIT);
    assert_eq!(t.join().expect("the server thread"), Ok(()), "{o}");
    o.assert(1, b"", b"nc: tls write failed (Connection reset by peer)\n");
}

/// -w bounds the wait for the socket to take ncrab's records, as it
/// bounds nc's (a peer that never reads): `-N -w 1` with 64 MiB to send
/// ends by itself, status 0, silent, as nc's poll timeout does.
#[test]
fn w_bounds_the_wait_for_a_peer_that_never_reads() {
    let Some((c, net, _dir, src)) = setup_64_mib("rec-deaf") else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (port, t) = deaf_server(&net, &c, LIMIT, stop.clone());
    let o = net
        .nc(&client_args(
            &c,
            &["-N", "-w", "1"],
            None,
            "127.0.0.1",
            &port,
        ))
        .stdin(Input::File(src))
        .run(LIMIT);
    stop.store(true, Ordering::SeqCst);
    assert_eq!(t.join().expect("the server thread"), Ok(()), "{o}");
    o.assert(0, b"", b"");
}
