//! What a hostile peer or proxy can make ncrab do (issue #8, hardening):
//! nothing but bounded work. Each test plays a peer that tries to make
//! ncrab buffer without end, and checks ncrab's resident memory (VmRSS)
//! and how much the peer managed to push into it.
//!
//! The bounds are coarse on purpose (tens of megabytes, where the bugs
//! they guard against grew by that much every second): the kernel's own
//! socket buffers on loopback are a few megabytes and are counted in what
//! the peer "sent". Every peer runs in a private network namespace (or on
//! the host's loopback outside CI when there is none), for a few seconds.

mod common;
use common::*;

use std::io::{ErrorKind, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The most resident memory any of these runs may reach.
const RSS_LIMIT_KB: u64 = 48 * 1024;

/// The most bytes a peer that is never read may push in these runs.
const PUSH_LIMIT: usize = 48 << 20;

/// VmRSS of a running process, in kB.
fn rss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The highest VmRSS seen while sampling for `d`.
fn peak_rss(p: &mut Proc, d: Duration) -> u64 {
    let end = Instant::now() + d;
    let mut peak = 0;
    while Instant::now() < end && !p.exited() {
        if let Some(kb) = rss_kb(p.pid()) {
            peak = peak.max(kb);
        }
        thread::sleep(ms(50));
    }
    peak
}

/// A peer script: write `unit` over and over for `for_how_long` without
/// ever reading, counting what the kernel accepted into `pushed`.
fn flood(
    unit: &'static [u8],
    for_how_long: Duration,
    pushed: Arc<AtomicUsize>,
) -> impl FnMut(Conn) + Send {
    move |mut c| {
        let blob: Vec<u8> = unit.iter().copied().cycle().take(64 * 1024).collect();
        let _ = c.stream.set_write_timeout(Some(ms(100)));
        let end = Instant::now() + for_how_long;
        while Instant::now() < end {
            match c.stream.write(&blob) {
                Ok(n) => {
                    pushed.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
    }
}

fn telnet_flood(stdin: Input) {
    let net = Net::new("tnflood");
    let pushed = Arc::new(AtomicUsize::new(0));
    // IAC DO ECHO, forever: every 3 bytes ask for a 3-byte reply.
    let srv = net.server(
        "127.0.0.1:0",
        1,
        flood(&[255, 253, 1], secs(3), pushed.clone()),
    );
    let devnull = std::path::PathBuf::from("/dev/null");
    let mut p = net
        .nc(&["-t", "127.0.0.1", &srv.port_str()])
        .stdin(stdin)
        .stdout(OutputTo::File(devnull))
        .spawn();
    let peak = peak_rss(&mut p, secs(3));
    p.kill();
    let pushed = pushed.load(Ordering::Relaxed);
    note(&format!(
        "{}: peer pushed {} bytes, peak VmRSS {peak} kB",
        current_test(),
        pushed
    ));
    assert!(
        peak < RSS_LIMIT_KB,
        "-t against a peer that never reads its replies: VmRSS reached {peak} kB"
    );
    assert!(
        pushed < PUSH_LIMIT,
        "-t kept reading while its replies piled up: the peer pushed {pushed} bytes"
    );
}

/// `-t` with stdin open: the replies queue behind a socket the peer never
/// reads; ncrab stops reading the network (nc blocks in its write).
#[test]
fn telnet_replies_to_a_peer_that_never_reads_are_bounded() {
    telnet_flood(Input::Pipe);
}

/// The same after stdin's EOF, when the replies are all that is written.
#[test]
fn telnet_replies_after_stdin_eof_are_bounded() {
    telnet_flood(Input::Null);
}

/// Plain data from a peer while stdout is stuck (a FIFO nobody reads):
/// the relay's buffers are all ncrab keeps; then it stops reading.
#[test]
fn data_flood_to_a_stuck_stdout_is_bounded() {
    use std::os::unix::fs::OpenOptionsExt;
    let net = Net::new("dflood");
    let dir = TempDir::new("fifo");
    let fifo = dir.join("out");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    // A reader that never reads, opened first so the child's open succeeds.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let pushed = Arc::new(AtomicUsize::new(0));
    let srv = net.server("127.0.0.1:0", 1, flood(b"data", secs(3), pushed.clone()));
    let mut p = net
        .nc(&["127.0.0.1", &srv.port_str()])
        .stdin(Input::Pipe)
        .stdout(OutputTo::File(fifo.clone()))
        .spawn();
    let peak = peak_rss(&mut p, secs(3));
    p.kill();
    let pushed = pushed.load(Ordering::Relaxed);
    assert!(peak < RSS_LIMIT_KB, "VmRSS reached {peak} kB");
    assert!(pushed < PUSH_LIMIT, "the peer pushed {pushed} bytes");
}

/// An HTTP proxy that answers 200 and then sends carriage returns for
/// ever: nc drops CRs while it looks for the end of the headers, so this
/// holds both nc and ncrab in the handshake (as a silent proxy does), but
/// costs ncrab no memory.
#[test]
fn http_proxy_sending_endless_carriage_returns() {
    let net = Net::new("crflood");
    let pushed = Arc::new(AtomicUsize::new(0));
    let push = pushed.clone();
    let srv = net.server("127.0.0.1:0", 1, move |mut c: Conn| {
        let _ = c.stream.write_all(b"HTTP/1.0 200 OK\r\n");
        flood(b"\r", secs(5), push.clone())(c)
    });
    let mut p = net
        .nc(&[
            "-X",
            "connect",
            "-x",
            &format!("127.0.0.1:{}", srv.port()),
            "10.255.255.1",
            "80",
        ])
        .stdin(Input::Pipe)
        .spawn();
    // The proxy floods for 5 s; look while it does.
    let peak = peak_rss(&mut p, ms(2500));
    assert!(!p.exited(), "the handshake cannot end: nc waits too");
    p.kill();
    note(&format!(
        "{}: proxy pushed {} CR bytes, peak VmRSS {peak} kB",
        current_test(),
        pushed.load(Ordering::Relaxed)
    ));
    assert!(peak < RSS_LIMIT_KB, "VmRSS reached {peak} kB");
}

/// An /etc/hosts where `many.test` has `n` loopback addresses: what a
/// hostile DNS answer for a scanned name can hold (thousands fit in one).
fn many_hosts(n: usize) -> String {
    let mut h = String::from("127.0.0.1 localhost\n::1 localhost\n");
    for i in 0..n {
        h.push_str(&format!("127.1.{}.{} many.test\n", i / 250, i % 250 + 1));
    }
    h
}

/// A full-range scan of a name with 300 addresses (19.7 million attempts)
/// holds a bounded number of results: it used to allocate one per attempt
/// up front (516 MB at 200 addresses; gigabytes for a large DNS answer).
#[test]
fn scan_of_a_name_with_many_addresses_is_bounded() {
    let Some(ns) = Netns::sandbox_with_hosts("many", &many_hosts(300)) else {
        return;
    };
    let devnull = std::path::PathBuf::from("/dev/null");
    let mut p = Cmd::nc(&["-z", "many.test", "1-65535"])
        .netns(&ns)
        .stdin(Input::Null)
        .stdout(OutputTo::File(devnull))
        .spawn();
    let peak = peak_rss(&mut p, secs(2));
    p.kill();
    note(&format!("{}: peak VmRSS {peak} kB", current_test()));
    assert!(peak < RSS_LIMIT_KB, "VmRSS reached {peak} kB");
}

/// Past that bound the report is still nc's, line for line: 5 addresses
/// x 32,000 ports = 160,000 attempts, every one refused (the ports stay
/// below the ephemeral range, where nc may connect to itself).
#[test]
fn scan_of_many_addresses_reports_as_nc() {
    if !openbsd_required() {
        return;
    }
    let Some(ns) = Netns::sandbox_with_hosts("many5", &many_hosts(5)) else {
        return;
    };
    let args = ["-zv", "many.test", "1-32000"];
    let ours = Cmd::nc(&args).netns(&ns).run(secs(60));
    let theirs = Cmd::openbsd(&args).netns(&ns).run(secs(60));
    assert_eq!(ours.code(), theirs.code());
    let lines = ours.stderr.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(lines, 160_000);
    assert!(ours.stderr == theirs.stderr, "the reports differ");
}
