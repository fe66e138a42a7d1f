//! Scans of many destinations (CIDR blocks, ranges, lists, `--hosts`),
//! `-w auto`, `--rate`, `--wait` and the status line: every one of them an
//! extension nc rejects, so each test checks exact text and status of the
//! extension and that an ordinary destination is untouched.
//!
//! Each test runs in a private network namespace (`Net`): its loopback is
//! all of 127.0.0.0/8, so a /24 of "hosts" can be scanned with listeners
//! on a few of them and nobody else's sockets show up. The `-w auto` test
//! adds a veth pair whose far side drops every SYN (a static neighbour
//! entry points at a MAC address nobody owns).

mod common;
use common::*;

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// ncrab ARGS in `net`, stdin /dev/null.
fn run(net: &Net, args: &[&str]) -> Outcome {
    net.wrap(Cmd::ncrab(args)).run(LIMIT)
}

// ---------------------------------------------------------------------------
// Parsing: exact errors, and ordinary destinations untouched
// ---------------------------------------------------------------------------

#[test]
fn bad_blocks_ranges_and_lists_are_one_line_errors() {
    let net = Net::new("parse");
    for (dest, msg) in [
        ("10.0.0.0/33", "10.0.0.0/33: prefix length must be 0 to 32"),
        ("fd00::/129", "fd00::/129: prefix length must be 0 to 128"),
        (
            "10.0.0.1/24",
            "10.0.0.1/24: address has bits set beyond the prefix",
        ),
        (
            "10.0.0.0/7",
            "10.0.0.0/7: too many addresses (at most 16777216 in one block or range)",
        ),
        (
            "::/100",
            "::/100: too many addresses (at most 16777216 in one block or range)",
        ),
        (
            "10.0.0.9-3",
            "10.0.0.9-3: bad range: each part must be N or A-B with A <= B <= 255",
        ),
        (
            "10.0-300.0.1",
            "10.0-300.0.1: bad range: each part must be N or A-B with A <= B <= 255",
        ),
        ("127.0.0.1,,127.0.0.2", "empty destination in list"),
    ] {
        run(&net, &["-z", dest, "1"]).assert(1, b"", format!("nc: {msg}\n").as_bytes());
    }
    // The extensions need -z; a plain host keeps nc's behaviour.
    run(&net, &["127.0.0.0/30", "1"]).assert(1, b"", b"nc: a list of destinations needs -z\n");
    run(&net, &["-w", "auto", "127.0.0.1", "1"]).assert(1, b"", b"nc: -w auto needs -z\n");
    run(&net, &["--wait", "1", "127.0.0.1", "1"]).assert(1, b"", b"nc: --wait needs -z\n");
    run(&net, &["-w", "autox", "127.0.0.1", "1"]).assert(1, b"", b"nc: timeout invalid: autox\n");
    // Names that merely look a little like the forms are names (-n: no
    // lookup leaves the machine): getaddrinfo's error, exactly as before.
    for name in ["foo/24", "a-b.c-d.e-f.g-h", "10.0.0.1-40.5"] {
        run(&net, &["-zn", name, "1"]).assert(
            1,
            b"",
            format!("nc: getaddrinfo for host \"{name}\" port 1: Name or service not known\n")
                .as_bytes(),
        );
    }
}

#[test]
fn hosts_file_comments_stdin_and_bad_lines() {
    let net = Net::new("hostsfile");
    let l = net.listen("127.0.0.2:0").expect("listen");
    let port = l.local_addr().unwrap().port().to_string();
    let dir = TempDir::new("hosts");
    let path = dir.join("hosts");
    std::fs::write(
        &path,
        "# two hosts and a block\n127.0.0.1\n\n  127.0.0.2   # the open one\n127.0.1.0/30\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let from_file = run(&net, &["-zv", "--hosts", p, &port]);
    let from_list = run(&net, &["-zv", "127.0.0.1,127.0.0.2,127.0.1.0/30", &port]);
    from_file.assert_code(0);
    assert_eq!(from_file.stderr_str(), from_list.stderr_str());
    let lines: Vec<String> = from_file.stderr_str().lines().map(String::from).collect();
    assert_eq!(lines.len(), 4, "{from_file}");
    assert_eq!(
        lines[1],
        format!("Connection to 127.0.0.2 {port} port [tcp/*] succeeded!")
    );
    assert_eq!(
        lines[3],
        format!("nc: connect to 127.0.1.2 port {port} (tcp) failed: Connection refused")
    );
    // Standard input.
    let o = net
        .wrap(Cmd::ncrab(&["-z", "--hosts", "-", &port]))
        .stdin_bytes(b"127.0.0.2\n")
        .run(LIMIT);
    o.assert(0, b"", b"");
    // A bad line: named by its number, nothing scanned.
    std::fs::write(&path, "127.0.0.1\n# fine\n127.0.0.0/40\n").unwrap();
    run(&net, &["-z", "--hosts", p, &port]).assert(
        1,
        b"",
        format!("nc: {p}:3: 127.0.0.0/40: prefix length must be 0 to 32\n").as_bytes(),
    );
    std::fs::write(&path, "# nothing\n\n").unwrap();
    run(&net, &["-z", "--hosts", p, &port]).assert(
        1,
        b"",
        format!("nc: {p}: no destinations\n").as_bytes(),
    );
    let missing = dir.join("missing");
    let m = missing.to_str().unwrap();
    run(&net, &["-z", "--hosts", m, &port]).assert(
        1,
        b"",
        format!("nc: {m}: No such file or directory\n").as_bytes(),
    );
}

// ---------------------------------------------------------------------------
// Order, status, JSON
// ---------------------------------------------------------------------------

/// Listeners on some ports of some addresses of 127.0.0.0/24.
fn listeners(net: &Net, open: &[(u8, u16)]) -> Vec<TcpListener> {
    open.iter()
        .map(|&(h, p)| {
            net.listen(&format!("127.0.0.{h}:{p}"))
                .unwrap_or_else(|e| panic!("listen 127.0.0.{h}:{p}: {e}"))
        })
        .collect()
}

#[test]
fn many_hosts_report_in_input_order_as_with_a_window_of_one() {
    let net = Net::new("order");
    let open = [(3, 2001), (3, 2007), (9, 2002), (17, 2010), (30, 2001)];
    let _l = listeners(&net, &open);
    let args = ["-zv", "127.0.0.0/27,127.0.0.30", "2001-2010"];
    let wide = run(&net, &args);
    let narrow = run(&net, &[&args[..], &["--window", "1"]].concat());
    wide.assert_code(0);
    narrow.assert(0, b"", &wide.stderr);
    let lines: Vec<String> = wide.stderr_str().lines().map(String::from).collect();
    assert_eq!(lines.len(), 31 * 10, "{wide}");
    // Host by host, port by port.
    let mut i = 0;
    for h in (1..=30).chain([30]) {
        for p in 2001..=2010u16 {
            let line = &lines[i];
            i += 1;
            if open.contains(&(h as u8, p)) {
                assert_eq!(
                    line,
                    &format!("Connection to 127.0.0.{h} {p} port [tcp/*] succeeded!")
                );
            } else {
                assert_eq!(
                    line,
                    &format!(
                        "nc: connect to 127.0.0.{h} port {p} (tcp) failed: Connection refused"
                    )
                );
            }
        }
    }
    // No port open anywhere: status 1.
    run(&net, &["-z", "127.0.1.0/28", "2001-2003"]).assert(1, b"", b"");
    // --json: each object names its host.
    let j = run(&net, &["-z", "--json", "127.0.0.2-3", "2007"]);
    j.assert_code(0);
    let out = j.stdout_str();
    let objs: Vec<&str> = out.lines().collect();
    assert_eq!(objs.len(), 2, "{j}");
    assert!(objs[0].starts_with("{\"host\":\"127.0.0.2\",\"ip\":\"127.0.0.2\",\"port\":2007"));
    assert!(objs[0].contains("\"state\":\"closed\""));
    assert!(objs[1].starts_with("{\"host\":\"127.0.0.3\",\"ip\":\"127.0.0.3\",\"port\":2007"));
    assert!(objs[1].contains("\"state\":\"open\""));
}

#[test]
fn a_list_with_a_name_that_does_not_resolve_goes_on() {
    let net = Net::new("names");
    let _l = listeners(&net, &[(1, 2020)]);
    // localhost resolves to ::1 and 127.0.0.1 here (::1 first): nc's rule,
    // the first address that answers; the unknown name is reported in its
    // place and the scan continues.
    let o = run(&net, &["-zvn", "nosuch,localhost,127.0.0.1", "2020"]);
    o.assert(
        0,
        b"",
        b"nc: getaddrinfo for host \"nosuch\" port 2020: Name or service not known\n\
          nc: getaddrinfo for host \"localhost\" port 2020: Name or service not known\n\
          Connection to 127.0.0.1 2020 port [tcp/*] succeeded!\n",
    );
    let o = run(&net, &["-zv", "localhost,127.0.0.1", "2020"]);
    o.assert(
        0,
        b"",
        b"nc: connect to localhost (::1) port 2020 (tcp) failed: Connection refused\n\
          Connection to localhost (127.0.0.1) 2020 port [tcp/*] succeeded!\n\
          Connection to 127.0.0.1 2020 port [tcp/*] succeeded!\n",
    );
}

#[test]
fn memory_stays_bounded_as_the_block_grows() {
    let net = Net::new("memory");
    let hwm = |dest: &str| {
        let (k, o) = peak_kib(&net, &["-z", dest, "1-100"]);
        o.assert_code(1);
        k
    };
    let small = hwm("127.0.0.0/26"); // 6,200 probes
    let big = hwm("127.0.0.0/20"); // 409,400 probes
    figure(&format!(
        "VmHWM: /26 x 100 ports {small} KiB, /20 x 100 ports {big} KiB"
    ));
    assert!(
        big < small + 4096,
        "peak memory grew with the block: {small} KiB -> {big} KiB"
    );
}

// ---------------------------------------------------------------------------
// --wait
// ---------------------------------------------------------------------------

#[test]
fn wait_until_a_late_listener_accepts() {
    let net = Net::new("wait");
    let port = 2100;
    let t = std::thread::spawn({
        let ns = net.ns.as_ref().map(|n| n.name.clone());
        move || {
            std::thread::sleep(Duration::from_millis(1500));
            let bind = || TcpListener::bind(("127.0.0.1", port)).expect("bind late listener");
            let l = match ns {
                Some(name) => {
                    let f = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
                    // SAFETY: setns on this thread only.
                    assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
                    bind()
                }
                None => bind(),
            };
            std::thread::sleep(Duration::from_secs(4));
            drop(l);
        }
    });
    let o = run(
        &net,
        &["-zv", "--wait", "10", "127.0.0.1", &port.to_string()],
    );
    o.assert(
        0,
        b"",
        format!("Connection to 127.0.0.1 {port} port [tcp/*] succeeded!\n").as_bytes(),
    );
    o.assert_elapsed_between(Duration::from_millis(1400), Duration::from_millis(4000));
    t.join().unwrap();
}

#[test]
fn wait_gives_up_at_the_deadline_with_the_last_failure() {
    let net = Net::new("waitnever");
    let _l = listeners(&net, &[(1, 2201)]);
    let o = run(&net, &["-zv", "--wait", "2", "127.0.0.1", "2200-2201"]);
    o.assert(
        1,
        b"",
        b"nc: connect to 127.0.0.1 port 2200 (tcp) failed: Connection refused\n\
          Connection to 127.0.0.1 2201 port [tcp/*] succeeded!\n",
    );
    o.assert_elapsed_between(Duration::from_millis(1900), Duration::from_millis(3500));
    // Without -v: silent, status only.
    run(&net, &["-z", "--wait", "1", "127.0.0.1", "2200"]).assert(1, b"", b"");
    // Everything already open: at once.
    let o = run(&net, &["-z", "--wait", "30", "127.0.0.1", "2201"]);
    o.assert(0, b"", b"");
    assert!(o.elapsed < Duration::from_secs(2), "{o}");
}

// ---------------------------------------------------------------------------
// -w auto against hosts that drop everything
// ---------------------------------------------------------------------------

/// A veth pair from `net`'s namespace to a far one that owns nothing:
/// every address of 10.78.0.16/28 maps to a MAC nobody has, so SYNs
/// leave and nothing ever answers. None when namespaces are missing.
fn silent_hosts(net: &Net) -> Option<Netns> {
    let Some(ns) = &net.ns else {
        skip("needs a private namespace");
        return None;
    };
    let far = Netns::create("far")?;
    let link: [&str; 10] = [
        "link", "add", "vnear", "type", "veth", "peer", "name", "vfar", "netns", &far.name,
    ];
    ns.ip(&link).expect("veth");
    ns.ip(&["addr", "add", "10.78.0.1/24", "dev", "vnear"])
        .unwrap();
    ns.ip(&["link", "set", "vnear", "up"]).unwrap();
    far.ip(&["link", "set", "vfar", "up"]).unwrap();
    for h in 16..32 {
        let a = format!("10.78.0.{h}");
        ns.ip(&[
            "neigh",
            "add",
            &a,
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "vnear",
            "nud",
            "permanent",
        ])
        .unwrap();
    }
    Some(far)
}

/// The peak memory of a run of ncrab ARGS in `net` (sampled from
/// /proc while it runs), and how it ended.
fn peak_kib(net: &Net, args: &[&str]) -> (u64, Outcome) {
    let mut p = net.wrap(Cmd::ncrab(args)).spawn();
    let mut peak = 0;
    let start = Instant::now();
    while !p.exited() && start.elapsed() < LIMIT {
        if let Some(k) = p.status_kib("VmHWM") {
            peak = peak.max(k);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = p.expect_exit(LIMIT);
    (peak, o)
}

#[test]
fn auto_timeout_ends_a_scan_of_silent_hosts_in_seconds() {
    let net = Net::new("drops");
    let Some(_far) = silent_hosts(&net) else {
        return;
    };
    let o = run(&net, &["-zv", "-w", "auto", "10.78.0.16/28", "1-20"]);
    o.assert_code(1);
    let text = o.stderr_str();
    assert_eq!(text.lines().count(), 14 * 20, "{o}");
    assert!(
        text.lines()
            .all(|l| l.ends_with("(tcp) timed out: Operation now in progress")),
        "{o}"
    );
    // 280 probes at the initial 1 s each, all in one window.
    assert!(o.elapsed < Duration::from_secs(8), "took {:?}", o.elapsed);
    figure(&format!(
        "-w auto, 14 silent hosts x 20 ports: {:?}",
        o.elapsed
    ));
}

/// The worst case for memory: the first host is silent, so its lines hold
/// up the report while every later probe is answered at once. The results
/// held are bounded by the lookahead, not by the size of the scan.
#[test]
fn memory_stays_bounded_behind_a_silent_first_host() {
    let net = Net::new("blocked");
    let Some(_far) = silent_hosts(&net) else {
        return;
    };
    let (small, o) = peak_kib(&net, &["-z", "-w", "3", "10.78.0.16,127.0.0.0/26", "1-100"]);
    o.assert(1, b"", b"");
    let (big, o) = peak_kib(&net, &["-z", "-w", "3", "10.78.0.16,127.0.0.0/20", "1-100"]);
    o.assert(1, b"", b"");
    figure(&format!(
        "VmHWM behind a silent host: 6,300 probes {small} KiB, 409,500 probes {big} KiB"
    ));
    // The lookahead (131,072 results) and the destinations held (8,192)
    // cost a few MiB; 409,500 results kept would cost far more.
    assert!(big < small + 16 * 1024, "{small} KiB -> {big} KiB");
}

// ---------------------------------------------------------------------------
// --rate
// ---------------------------------------------------------------------------

#[test]
fn rate_is_kept_within_ten_percent() {
    let net = Net::new("rate");
    // One listener on all of 127.0.0.0/8 counts and timestamps accepts.
    let l = net.listen("0.0.0.0:2300").expect("listen");
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let n = 300;
    let acceptor = std::thread::spawn({
        let stamps = stamps.clone();
        move || {
            for _ in 0..n {
                if l.accept().is_err() {
                    break;
                }
                stamps.lock().unwrap().push(Instant::now());
            }
        }
    });
    let rate = 150u32;
    let o = run(
        &net,
        &[
            "-z",
            "--rate",
            &rate.to_string(),
            "127.0.1.1-150,127.0.2.1-150",
            "2300",
        ],
    );
    o.assert(0, b"", b"");
    acceptor.join().unwrap();
    let s = stamps.lock().unwrap();
    assert_eq!(s.len(), n);
    let span = s[n - 1].duration_since(s[0]).as_secs_f64();
    let measured = (n - 1) as f64 / span;
    figure(&format!(
        "--rate {rate}: measured {measured:.1} connects/s over {span:.2} s"
    ));
    assert!(
        (measured - f64::from(rate)).abs() <= f64::from(rate) * 0.1,
        "measured {measured:.1}/s for --rate {rate}"
    );
}

// ---------------------------------------------------------------------------
// The status line
// ---------------------------------------------------------------------------

/// A pseudo-terminal whose master side a thread reads while the child
/// writes (a terminal's buffer is small: an unread one would block it).
struct Term {
    slave: std::path::PathBuf,
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Term {
    fn open() -> Term {
        // SAFETY: plain libc pty calls on a fresh descriptor.
        let (master, slave) = unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(m >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(m), 0);
            assert_eq!(libc::unlockpt(m), 0);
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
            let slave = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_string_lossy()
                .into_owned();
            (OwnedFd::from_raw_fd(m), std::path::PathBuf::from(slave))
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = std::thread::spawn({
            let seen = seen.clone();
            let stop = stop.clone();
            move || {
                let mut f = std::fs::File::from(master);
                let mut buf = [0u8; 65536];
                loop {
                    let mut pfd = libc::pollfd {
                        fd: f.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let r = unsafe { libc::poll(&mut pfd, 1, 100) };
                    if r == 0 {
                        if stop.load(std::sync::atomic::Ordering::SeqCst) {
                            return;
                        }
                        continue;
                    }
                    match f.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.lock().unwrap().extend_from_slice(&buf[..n]),
                    }
                }
            }
        });
        Term {
            slave,
            seen,
            stop,
            reader: Some(reader),
        }
    }

    fn slave_fd(&self) -> OwnedFd {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&self.slave)
            .expect("open pty slave")
            .into()
    }

    /// Everything the terminal received (call once the writer has exited).
    fn read_all(mut self) -> Vec<u8> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

#[test]
fn status_line_only_on_a_terminal_and_cleared_at_the_end() {
    let net = Net::new("status");
    let _l = listeners(&net, &[(1, 2401), (2, 2402)]);
    // About 2.5 s: 500 ports at 200 a second.
    let args = [
        "-zv",
        "--rate",
        "200",
        "127.0.0.1-2",
        "2201-2450",
        "2401-2402",
    ];
    let term = Term::open();
    let mut p = net
        .wrap(Cmd::ncrab(&args).stderr_to(term.slave_fd()))
        .spawn();
    let o = p.expect_exit(LIMIT);
    o.assert_code(0);
    let seen = term.read_all();
    let text = String::from_utf8_lossy(&seen).into_owned();
    // The line was drawn (with its counts), redrawn in place...
    let draws = text.matches(" left\x1b[K").count();
    assert!(
        draws >= 5,
        "expected a status line redrawn, got {draws} draws: {text:?}"
    );
    assert!(draws <= 30 * 10, "{draws} draws in about 2.5 s");
    assert!(text.contains("\rnc: "), "{text:?}");
    assert!(text.contains("/504 ports, "), "{text:?}");
    // ...erased at the end (after its last draw comes an erase)...
    let last_draw = text.rfind(" left\x1b[K").unwrap();
    assert!(
        text[last_draw..].contains("\r\x1b[K"),
        "not cleared at the end: {:?}",
        &text[last_draw..]
    );
    // ...and never left inside a report line: every report line starts
    // after an erase or a newline.
    let plain: String = text.replace("\r\n", "\n");
    for line in plain.split('\n') {
        let last = line.rsplit("\r\x1b[K").next().unwrap_or("");
        assert!(
            last.is_empty()
                || last.starts_with("nc: connect to")
                || last.starts_with("Connection to"),
            "a report line mixed with the status line: {line:?}"
        );
    }
    let lines = plain.matches("Connection to").count() + plain.matches("nc: connect to").count();
    assert_eq!(lines, 504);
    // Not a terminal: nothing extra at all.
    let piped = run(&net, &args);
    piped.assert_code(0);
    assert!(!contains(&piped.stderr, b"\x1b"), "{piped}");
    assert!(!contains(&piped.stderr, b"\r"), "{piped}");
    assert_eq!(piped.stderr_str().lines().count(), 504);
    // --no-progress on a terminal: nothing extra either.
    let term = Term::open();
    let no: Vec<&str> = [&args[..], &["--no-progress"]].concat();
    let mut p = net.wrap(Cmd::ncrab(&no).stderr_to(term.slave_fd())).spawn();
    p.expect_exit(LIMIT).assert_code(0);
    let seen = term.read_all();
    assert!(
        !contains(&seen, b"\x1b"),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );
}

// ---------------------------------------------------------------------------
// --progress on a transfer
// ---------------------------------------------------------------------------

/// A listener that reads slowly (about 3 MB/s) and counts what came.
fn slow_sink(net: &Net) -> (u16, std::thread::JoinHandle<usize>) {
    let l = net.listen("127.0.0.1:0").expect("listen");
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("accept");
        let mut buf = vec![0u8; 32 * 1024];
        let mut n = 0;
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => return n,
                Ok(k) => n += k,
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (port, t)
}

#[test]
fn transfer_progress_on_a_terminal_then_cleared_before_the_summary() {
    let net = Net::new("progress");
    let dir = TempDir::new("progress");
    let file = dir.join("data");
    let size = 6 * 1024 * 1024;
    std::fs::write(&file, vec![7u8; size]).unwrap();
    let (port, sink) = slow_sink(&net);
    let term = Term::open();
    let mut p = net
        .wrap(
            Cmd::ncrab(&["-N", "-vv", "--progress", "127.0.0.1", &port.to_string()])
                .stdin(Input::File(file.clone()))
                .stderr_to(term.slave_fd()),
        )
        .spawn();
    p.expect_exit(LIMIT).assert_code(0);
    assert_eq!(sink.join().unwrap(), size);
    let text = String::from_utf8_lossy(&term.read_all()).into_owned();
    let draws = text.matches("\x1b[K").count();
    assert!(draws >= 3, "expected progress lines: {text:?}");
    assert!(text.contains("% of 6.0 MiB"), "{text:?}");
    assert!(text.contains(" left)\x1b[K"), "{text:?}");
    // The last draw is erased, then the -vv summary follows on a clean line.
    let summary = text.find("Sent 6291456 bytes").expect("summary");
    assert!(text[..summary].ends_with("\r\x1b[K"), "{text:?}");
    // Not a terminal: no progress at all, the summary alone.
    let (port, sink) = slow_sink(&net);
    let o = net
        .wrap(
            Cmd::ncrab(&["-N", "-vv", "--progress", "127.0.0.1", &port.to_string()])
                .stdin(Input::File(file.clone())),
        )
        .run(LIMIT);
    o.assert_code(0);
    assert_eq!(sink.join().unwrap(), size);
    assert!(!contains(&o.stderr, b"\x1b"), "{o}");
    assert!(o.stderr_str().starts_with("Connection to 127.0.0.1"), "{o}");
}
