//! Zero-I/O scans (`-z`) on loopback: nc's exact lines and exit statuses,
//! the order of the report under concurrency, back-pressure when file
//! descriptors run out, a full 1-65535 scan, `--json` and `-vv`.
//!
//! Every test uses its own listeners on ephemeral ports of 127.0.0.1. Three
//! kinds of port are used: open (a listener), closed (nothing bound: the
//! kernel answers RST) and silent: a listener whose accept queue is full,
//! so the kernel drops new SYNs and a connect only ends by the `-w` timer,
//! as behind a DROP rule. The binary runs through a symlink named `nc`, so
//! messages read `nc: ...`; nc.openbsd, when installed, runs the same way
//! and must print the same bytes. The tests of this file run one at a time
//! (a lock), so one test's listeners never show up in another's scan.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long one scan may take.
const LIMIT: Duration = Duration::from_secs(60);

/// One test at a time: each test's listeners must not appear in another's
/// scan.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// ncrab ARGS, with stdin /dev/null; it must end within a minute.
fn run(args: &[&str]) -> Outcome {
    Cmd::ncrab(args).run(LIMIT)
}

/// Runs ncrab, and nc.openbsd when installed, and checks both against the
/// expected stderr and status (stdout is empty for `-z`).
#[track_caller]
fn check_like_nc(args: &[&str], stderr: &str, status: i32) {
    run(args).assert(status, b"", stderr.as_bytes());
    if let Some(nc) = tool(NC_OPENBSD, "netcat-openbsd") {
        let want = Cmd::as_nc(&nc, args).run(LIMIT);
        want.assert_stderr(stderr.as_bytes());
        want.assert_code(status);
    }
}

// ---------------------------------------------------------------------------
// Ports: open, closed, silent
// ---------------------------------------------------------------------------

/// The service name nc prints for a TCP port, `*` when there is none.
fn service(port: u16) -> String {
    service_name(port).unwrap_or_else(|| "*".into())
}

/// Is something accepting connections on 127.0.0.1:port?
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(150)).is_ok()
}

/// A listener on an ephemeral port of 127.0.0.1 that has no service name
/// (so nc prints `[tcp/*]`).
fn open_port() -> TcpListener {
    unnamed_listener((Ipv4Addr::LOCALHOST, 0).into()).expect("a listener without a service name")
}

fn port_of(l: &TcpListener) -> u16 {
    l.local_addr().expect("local addr").port()
}

/// A listener whose accept queue is full: the kernel drops further SYNs,
/// so a connect to it hangs until a timer ends it.
struct Silent {
    port: u16,
    _listener: socket2::Socket,
    _fill: Vec<TcpStream>,
}

/// A full-queue listener on `port` (0: an ephemeral port). With a backlog
/// of 1 the queue holds two connections; the third SYN is dropped.
fn silent_at(port: u16) -> Option<Silent> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
        .ok()?;
    s.listen(1).ok()?;
    let port = s.local_addr().ok()?.as_socket()?.port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut fill = Vec::new();
    for _ in 0..2 {
        fill.push(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?);
    }
    Some(Silent {
        port,
        _listener: s,
        _fill: fill,
    })
}

/// A silent port without a service name, checked to be silent.
fn silent_port() -> Silent {
    for _ in 0..20 {
        if let Some(s) = silent_at(0) {
            if service(s.port) == "*" && !answers(s.port) {
                return s;
            }
        }
    }
    panic!("could not make a listener with a full accept queue");
}

/// A port of 127.0.0.1 with nothing listening and no service name.
fn closed_port() -> u16 {
    for _ in 0..100 {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let p = port_of(&l);
        drop(l);
        if service(p) == "*" && !answers(p) {
            return p;
        }
    }
    panic!("no closed port found");
}

/// TCP ports listening on 127.0.0.1 or a wildcard address, per `ss`.
fn ss_listening() -> Option<BTreeSet<u16>> {
    let out = Command::new("ss").args(["-Htln"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ports = BTreeSet::new();
    for line in text.lines() {
        let Some(local) = line.split_whitespace().nth(3) else {
            continue;
        };
        let Some((host, port)) = local.rsplit_once(':') else {
            continue;
        };
        let host = host.split('%').next().unwrap_or(host);
        if matches!(
            host,
            "127.0.0.1" | "0.0.0.0" | "*" | "[::]" | "[::ffff:127.0.0.1]"
        ) || host.starts_with("127.")
        {
            if let Ok(p) = port.parse() {
                ports.insert(p);
            }
        }
    }
    Some(ports)
}

// ---------------------------------------------------------------------------
// Report parsing
// ---------------------------------------------------------------------------

/// Ports named in `Connection to HOST PORT port [...] succeeded!` lines.
fn succeeded(stderr: &str) -> BTreeSet<u16> {
    stderr
        .lines()
        .filter(|l| l.starts_with("Connection to ") && l.ends_with(" succeeded!"))
        .filter_map(|l| l.split(' ').nth(3)?.parse().ok())
        .collect()
}

/// Ports named in `nc: connect to HOST port PORT (tcp) ...` lines whose
/// line contains `what`.
fn failed_with(stderr: &str, what: &str) -> BTreeSet<u16> {
    stderr
        .lines()
        .filter(|l| l.starts_with("nc: connect to ") && l.contains(what))
        .filter_map(|l| {
            let rest = l.split(" port ").nth(1)?;
            rest.split(' ').next()?.parse().ok()
        })
        .collect()
}

fn refused(p: u16) -> String {
    format!("nc: connect to 127.0.0.1 port {p} (tcp) failed: Connection refused\n")
}

fn timed_out(p: u16) -> String {
    format!("nc: connect to 127.0.0.1 port {p} (tcp) timed out: Operation now in progress\n")
}

fn success(p: u16) -> String {
    format!("Connection to 127.0.0.1 {p} port [tcp/*] succeeded!\n")
}

// ---------------------------------------------------------------------------
// nc's lines and exit statuses (docs/compatibility.md §12 rows 15-23, on
// ports of our own)
// ---------------------------------------------------------------------------

#[test]
fn lines_and_statuses_match_nc() {
    let _g = serial();
    let open = open_port();
    let o = port_of(&open);
    let c = closed_port();
    let (os, cs) = (o.to_string(), c.to_string());

    // Rows 15-19.
    check_like_nc(&["-z", "127.0.0.1", &cs], "", 1);
    check_like_nc(&["-zv", "127.0.0.1", &cs], &refused(c), 1);
    check_like_nc(&["-z", "127.0.0.1", &os], "", 0);
    check_like_nc(&["-zv", "127.0.0.1", &os], &success(o), 0);
    check_like_nc(
        &["-zvn", "127.0.0.1", &os],
        &format!("Connection to 127.0.0.1 {o} port [tcp/*] succeeded!\n"),
        0,
    );
    // Row 20: a host text that differs from the address.
    check_like_nc(
        &["-zv", "127.1", &os],
        &format!("Connection to 127.1 (127.0.0.1) {o} port [tcp/*] succeeded!\n"),
        0,
    );
    check_like_nc(
        &["-zv", "127.1", &cs],
        &format!("nc: connect to 127.1 (127.0.0.1) port {c} (tcp) failed: Connection refused\n"),
        1,
    );
    // Any success makes the status 0, wherever it is in the list; the
    // report keeps the list's order, duplicates included.
    check_like_nc(
        &["-zv", "127.0.0.1", &cs, &os, &cs, &os],
        &format!("{}{}{}{}", refused(c), success(o), refused(c), success(o)),
        0,
    );
    check_like_nc(&["-z", "127.0.0.1", &cs, &cs], "", 1);
}

#[test]
fn ranges_and_services_match_nc() {
    let _g = serial();
    // Row 22: a reversed range over closed, closed, open, closed ports.
    let (lo, open) = (0..50)
        .find_map(|_| {
            let l = open_port();
            let p = port_of(&l);
            let ok = p > 3
                && p < 65535
                && [p - 2, p - 1, p + 1]
                    .iter()
                    .all(|&q| service(q) == "*" && !answers(q));
            ok.then_some((p - 2, l))
        })
        .expect("a listener with closed neighbours");
    let range = format!("{}-{}", lo + 3, lo);
    let want = format!(
        "{}{}{}{}",
        refused(lo),
        refused(lo + 1),
        success(lo + 2),
        refused(lo + 3)
    );
    check_like_nc(&["-zv", "127.0.0.1", &range], &want, 0);
    drop(open);

    // Row 23: service names in the list, and `[tcp/NAME]` in the line.
    let candidates = [
        "tproxy", "omniorb", "webcache", "http-alt", "x11-1", "canna",
    ];
    let svc = candidates.iter().find_map(|name| {
        let cname = CString::new(*name).ok()?;
        let proto = CString::new("tcp").ok()?;
        // SAFETY: valid C strings; the result is read at once.
        let port = unsafe {
            let ent = libc::getservbyname(cname.as_ptr(), proto.as_ptr());
            if ent.is_null() {
                return None;
            }
            u16::from_be((*ent).s_port as u16)
        };
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok()?;
        Some((name.to_string(), port, l))
    });
    let Some((name, port, _l)) = svc else {
        eprintln!("note: no named service port could be bound: service-name row skipped");
        return;
    };
    let c = closed_port();
    let want = format!(
        "Connection to 127.0.0.1 {port} port [tcp/{}] succeeded!\n{}Connection to 127.0.0.1 {port} port [tcp/{}] succeeded!\n",
        service(port),
        refused(c),
        service(port)
    );
    check_like_nc(
        &["-zv", "127.0.0.1", &name, &c.to_string(), &name],
        &want,
        0,
    );
}

#[test]
fn lookup_failure_aborts_the_list() {
    let _g = serial();
    let open = open_port();
    let o = port_of(&open).to_string();
    let c = closed_port().to_string();
    // M4, exit 1, and no port of the list is tried. No DNS is involved:
    // `-n` refuses a name, `-6` refuses an IPv4 literal.
    let m4 = |host: &str, port: &str, why: &str| {
        format!("nc: getaddrinfo for host \"{host}\" port {port}: {why}\n")
    };
    check_like_nc(
        &["-zv", "-n", "localhost", &o, &c],
        &m4("localhost", &o, "Name or service not known"),
        1,
    );
    check_like_nc(
        &["-z", "-n", "localhost", &c, &o],
        &m4("localhost", &c, "Name or service not known"),
        1,
    );
    check_like_nc(
        &["-zv", "-6", "127.0.0.1", &o],
        &m4("127.0.0.1", &o, "Address family for hostname not supported"),
        1,
    );
    // With --json the failure is also one `error` object on stdout.
    let got = run(&["-z", "--json", "-n", "localhost", &o, &c]);
    assert_eq!(got.exit_code(), 1);
    assert_eq!(
        got.stderr_str(),
        m4("localhost", &o, "Name or service not known")
    );
    let stdout = got.stdout_str();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout:?}");
    let obj = json::parse(lines[0]).expect("valid JSON");
    assert_eq!(obj.str("state"), Some("error"));
    assert_eq!(obj.str("host"), Some("localhost"));
    assert!(obj.is_null("ip"));
    assert_eq!(obj.str("error"), Some("Name or service not known"));
    // -vv explains it.
    let got = run(&["-zvv", "-n", "localhost", &o]);
    assert_eq!(got.exit_code(), 1);
    let stderr = got.stderr_str();
    let mut l = stderr.lines();
    assert_eq!(
        l.next(),
        Some(m4("localhost", &o, "Name or service not known").trim_end())
    );
    assert!(
        l.next()
            .is_some_and(|d| d.starts_with('\t') && d.contains("-n"))
    );
}

// ---------------------------------------------------------------------------
// Concurrency: the order and the bytes of a sequential nc
// ---------------------------------------------------------------------------

#[test]
fn concurrent_report_is_in_input_order() {
    let _g = serial();
    let opens: Vec<TcpListener> = (0..3).map(|_| open_port()).collect();
    let silents: Vec<Silent> = (0..3).map(|_| silent_port()).collect();
    let closed: Vec<u16> = (0..4).map(|_| closed_port()).collect();
    // Slow first: every later answer arrives before the first is known.
    let ports = [
        silents[0].port,
        port_of(&opens[0]),
        closed[0],
        closed[1],
        silents[1].port,
        port_of(&opens[1]),
        closed[2],
        silents[2].port,
        closed[3],
        port_of(&opens[2]),
    ];
    let mut want = String::new();
    for &p in &ports {
        want.push_str(&if silents.iter().any(|s| s.port == p) {
            timed_out(p)
        } else if opens.iter().any(|l| port_of(l) == p) {
            success(p)
        } else {
            refused(p)
        });
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut args = vec!["-zv", "-w", "1", "127.0.0.1"];
    args.extend(list.iter().map(String::as_str));

    let concurrent = run(&args);
    assert_eq!(concurrent.stderr_str(), want);
    assert_eq!(concurrent.exit_code(), 0);
    // Three silent ports of 1 s each, at once: well under their sum.
    assert!(
        concurrent.elapsed < Duration::from_millis(2500),
        "silent ports were not probed concurrently: {:?}",
        concurrent.elapsed
    );

    let mut seq_args = vec!["--window", "1"];
    seq_args.extend(&args);
    let sequential = run(&seq_args);
    assert_eq!(sequential.stderr_str(), concurrent.stderr_str());
    assert_eq!(sequential.exit_code(), concurrent.exit_code());
    assert!(sequential.elapsed >= Duration::from_secs(3));

    if let Some(nc) = tool(NC_OPENBSD, "netcat-openbsd") {
        let nc = Cmd::as_nc(&nc, &args).run(LIMIT);
        assert_eq!(
            nc.stderr_str(),
            concurrent.stderr_str(),
            "nc.openbsd's report"
        );
        assert_eq!(nc.exit_code(), concurrent.exit_code());
    }

    // Without -v: nothing at all, same status.
    let mut quiet: Vec<&str> = vec!["-z", "-w", "1", "127.0.0.1"];
    quiet.extend(list.iter().map(String::as_str));
    let q = run(&quiet);
    q.assert(0, b"", b"");
}

#[test]
fn interval_and_fixed_source_port_probe_one_at_a_time() {
    let _g = serial();
    let a = silent_port();
    let b = silent_port();
    let (pa, pb) = (a.port.to_string(), b.port.to_string());
    // A fixed -p: one probe at a time, so two silent ports take 2 s.
    let src = closed_port().to_string();
    let got = run(&["-zv", "-w", "1", "-p", &src, "127.0.0.1", &pa, &pb]);
    assert_eq!(
        got.stderr_str(),
        format!("{}{}", timed_out(a.port), timed_out(b.port))
    );
    assert_eq!(got.exit_code(), 1);
    assert!(
        got.elapsed >= Duration::from_millis(1900),
        "{:?}",
        got.elapsed
    );
    // -i 1 waits between ports (departure 3).
    let c = closed_port();
    let got = run(&[
        "-zv",
        "-i",
        "1",
        "127.0.0.1",
        &c.to_string(),
        &c.to_string(),
    ]);
    assert_eq!(got.stderr_str(), format!("{}{}", refused(c), refused(c)));
    assert!(
        got.elapsed >= Duration::from_millis(950),
        "{:?}",
        got.elapsed
    );
}

// ---------------------------------------------------------------------------
// Back-pressure: out of file descriptors
// ---------------------------------------------------------------------------

/// `count` consecutive ports below the ephemeral range where nothing
/// listens, with a listener on every `open_every`-th and a full queue on
/// every `silent_every`-th. None when no such block is free.
struct Block {
    first: u16,
    count: u16,
    open: Vec<TcpListener>,
    silent: Vec<Silent>,
}

fn port_block(count: u16, open_every: u16, silent_every: u16) -> Block {
    let busy = ss_listening().unwrap_or_default();
    let seed = std::process::id() as u16;
    for attempt in 0..20u16 {
        // 10000..30000: clear of the well-known ports and of the ephemeral
        // range where other programs' port-0 listeners land.
        let first = 10000 + (seed.wrapping_mul(7919).wrapping_add(attempt * 997)) % 18000;
        if busy.range(first..first + count).next().is_some() {
            continue;
        }
        let mut open = Vec::new();
        let mut silent = Vec::new();
        let mut ok = true;
        for i in 0..count {
            let p = first + i;
            if i % open_every == open_every / 2 {
                match TcpListener::bind((Ipv4Addr::LOCALHOST, p)) {
                    Ok(l) => open.push(l),
                    Err(_) => ok = false,
                }
            } else if i % silent_every == silent_every / 3 {
                match silent_at(p) {
                    Some(s) => silent.push(s),
                    None => ok = false,
                }
            }
            if !ok {
                break;
            }
        }
        if ok && silent.first().is_none_or(|s| !answers(s.port)) {
            return Block {
                first,
                count,
                open,
                silent,
            };
        }
    }
    panic!("no free block of {count} ports");
}

#[test]
fn out_of_file_descriptors_is_back_pressure() {
    let _g = serial();
    // 2,000 ports: 40 open, 100 silent (more than the 64 descriptors the
    // scan may have, so with a larger window socket() runs out: EMFILE).
    let b = port_block(2000, 50, 20);
    let range = format!("{}-{}", b.first, b.first + b.count - 1);
    let want_open: BTreeSet<u16> = b.open.iter().map(port_of).collect();
    let want_silent: BTreeSet<u16> = b.silent.iter().map(|s| s.port).collect();
    assert_eq!((want_open.len(), want_silent.len()), (40, 100));
    for window in [Some("1000"), None] {
        let mut args = vec!["-zv", "-w", "1"];
        if let Some(w) = window {
            args.extend(["--window", w]);
        }
        args.extend(["127.0.0.1", range.as_str()]);
        let got = Cmd::ncrab(&args).nofile(64).run(LIMIT);
        let lines = got.stderr_str().lines().count();
        assert_eq!(lines, 2000, "one line per port (window {window:?})");
        assert_eq!(
            succeeded(&got.stderr_str()),
            want_open,
            "open ports (window {window:?})"
        );
        assert_eq!(
            failed_with(&got.stderr_str(), "timed out: Operation now in progress"),
            want_silent,
            "silent ports (window {window:?})"
        );
        let closed = failed_with(&got.stderr_str(), "failed: Connection refused");
        assert_eq!(
            closed.len(),
            2000 - 140,
            "refused ports (window {window:?})"
        );
        // Every line in order, nothing but the three kinds.
        let mut expect = String::new();
        for p in b.first..b.first + b.count {
            expect.push_str(&if want_open.contains(&p) {
                success(p)
            } else if want_silent.contains(&p) {
                timed_out(p)
            } else {
                refused(p)
            });
        }
        assert!(
            got.stderr_str() == expect,
            "report differs (window {window:?})"
        );
        assert_eq!(got.exit_code(), 0);
    }
}

// ---------------------------------------------------------------------------
// The whole port range
// ---------------------------------------------------------------------------

#[test]
fn full_range_reports_exactly_the_listening_ports() {
    let _g = serial();
    let mine: Vec<TcpListener> = (0..3).map(|_| open_port()).collect();
    let mine_ports: BTreeSet<u16> = mine.iter().map(port_of).collect();

    // Quiet: nothing printed, status 0 (our listeners connect).
    let q = run(&["-zn", "127.0.0.1", "1-65535"]);
    q.assert(0, b"", b"");

    // Verbose: one line per port; the successes are exactly the ports that
    // listen. Other programs on this machine may open and close listeners
    // meanwhile: a success must be a port that `ss` lists before or after
    // the scan (or one of ours); a rare transient listener gets a retry.
    let mut last = String::new();
    for attempt in 0..3 {
        let before = ss_listening();
        let got = run(&["-zvn", "127.0.0.1", "1-65535"]);
        let after = ss_listening();
        assert_eq!(got.exit_code(), 0);
        assert_eq!(got.stderr_str().lines().count(), 65535, "one line per port");
        let open = succeeded(&got.stderr_str());
        let refused_ports = failed_with(&got.stderr_str(), "failed: Connection refused");
        assert_eq!(
            open.len() + refused_ports.len(),
            65535,
            "only successes and refusals"
        );
        assert!(
            mine_ports.is_subset(&open),
            "our listeners {mine_ports:?} not all in {open:?}"
        );
        let (Some(before), Some(after)) = (before, after) else {
            eprintln!("note: ss is not available: checked our listeners only");
            return;
        };
        // A port listening for the whole scan must be reported open.
        let steady: BTreeSet<u16> = before.intersection(&after).copied().collect();
        let seen: BTreeSet<u16> = before.union(&after).chain(&mine_ports).copied().collect();
        let missing: Vec<_> = steady.difference(&open).collect();
        let extra: Vec<_> = open.difference(&seen).collect();
        if missing.is_empty() && extra.is_empty() {
            return;
        }
        last = format!("attempt {attempt}: not reported {missing:?}, not listening {extra:?}");
        eprintln!("note: {last}");
    }
    panic!("full scan does not match the listeners: {last}");
}

// ---------------------------------------------------------------------------
// Extensions: --json and -vv
// ---------------------------------------------------------------------------

#[test]
fn json_lines_one_object_per_probe_in_order() {
    let _g = serial();
    let open = open_port();
    let silent = silent_port();
    let c = closed_port();
    let o = port_of(&open);
    let ports = [silent.port, o, c];
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut args = vec!["-z", "--json", "-w", "1", "127.0.0.1"];
    args.extend(list.iter().map(String::as_str));
    let got = run(&args);
    assert_eq!(got.stderr_str(), "", "without -v nothing on stderr");
    assert_eq!(got.exit_code(), 0);
    let stdout = got.stdout_str();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout:?}");
    let objs: Vec<json::Object> = lines
        .iter()
        .map(|l| json::parse(l).unwrap_or_else(|e| panic!("invalid JSON {l:?}: {e}")))
        .collect();
    let keys = [
        "host",
        "ip",
        "port",
        "proto",
        "service",
        "state",
        "errno",
        "error",
        "ms",
        "diagnosis",
        "banner",
    ];
    for (obj, &port) in objs.iter().zip(&ports) {
        assert_eq!(obj.keys(), keys, "fields");
        assert_eq!(obj.str("host"), Some("127.0.0.1"));
        assert_eq!(obj.str("ip"), Some("127.0.0.1"));
        assert_eq!(obj.num("port"), Some(f64::from(port)));
        assert_eq!(obj.str("proto"), Some("tcp"));
        assert_eq!(obj.str("service"), Some("*"));
        assert!(obj.num("ms").is_some_and(|ms| ms >= 0.0));
    }
    let s = &objs[0];
    assert_eq!(s.str("state"), Some("filtered"));
    assert_eq!(s.str("errno"), Some("ETIMEDOUT"));
    assert_eq!(s.str("error"), Some("timed out"));
    assert!(s.num("ms").is_some_and(|ms| ms >= 900.0));
    let op = &objs[1];
    assert_eq!(op.str("state"), Some("open"));
    assert!(op.is_null("errno") && op.is_null("error"));
    let cl = &objs[2];
    assert_eq!(cl.str("state"), Some("closed"));
    assert_eq!(cl.str("errno"), Some("ECONNREFUSED"));
    assert_eq!(cl.str("error"), Some("Connection refused"));

    // python3's parser agrees, when it is installed.
    if let Ok(out) = Command::new("python3")
        .args([
            "-c",
            "import sys,json\nfor l in sys.stdin: json.loads(l)\nprint('ok')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            if let Some(mut i) = ch.stdin.take() {
                i.write_all(got.stdout_str().as_bytes())?;
            }
            ch.wait_with_output()
        })
    {
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "ok\n",
            "python3 json.loads"
        );
    }

    // With -v, stderr carries nc's lines and stdout the same objects.
    let mut vargs = vec!["-v"];
    vargs.extend(&args);
    let v = run(&vargs);
    assert_eq!(
        v.stderr_str(),
        format!("{}{}{}", timed_out(silent.port), success(o), refused(c))
    );
    assert_eq!(v.stdout_str().lines().count(), 3);
    // Service names come from /etc/services, as in nc's lines.
    let g = run(&["-z", "--json", "127.0.0.1", "9"]);
    let obj = json::parse(g.stdout_str().trim_end()).expect("valid JSON");
    assert_eq!(obj.str("service").map(str::to_string), Some(service(9)));
}

#[test]
fn vv_explains_each_line() {
    let _g = serial();
    let open = open_port();
    let silent = silent_port();
    let c = closed_port();
    let o = port_of(&open);
    let args = [
        "-zvv",
        "-w",
        "1",
        "127.0.0.1",
        &silent.port.to_string(),
        &o.to_string(),
        &c.to_string(),
    ];
    let got = run(&args);
    assert_eq!(got.exit_code(), 0);
    let stderr = got.stderr_str();
    // nc's lines, unchanged, each followed by its diagnosis (and, for a
    // refused port of this machine, a line about what listens).
    let mut lines: Vec<&str> = Vec::new();
    for l in stderr.lines() {
        let after_detail = lines.last().is_some_and(|p: &&str| p.starts_with('\t'));
        if !(l.starts_with('\t') && after_detail) {
            lines.push(l);
        }
    }
    assert_eq!(lines.len(), 6, "{stderr:?}");
    let nc_lines: String = lines.iter().step_by(2).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        nc_lines,
        format!("{}{}{}", timed_out(silent.port), success(o), refused(c))
    );
    // Each followed by "\tN ms: meaning".
    let detail = |l: &str| -> (u64, String) {
        let rest = l.strip_prefix('\t').expect("detail line starts with a tab");
        let (ms, text) = rest.split_once(" ms: ").expect("N ms: text");
        (ms.parse().expect("milliseconds"), text.to_string())
    };
    let (ms, t) = detail(lines[1]);
    assert!(ms >= 900, "timed out after {ms} ms");
    assert!(t.contains("none answered") && t.contains("firewall"), "{t}");
    let (_, t) = detail(lines[3]);
    assert!(t.starts_with("open"), "{t}");
    let (_, t) = detail(lines[5]);
    assert!(
        t.contains("TCP reset") && t.contains("nothing listens"),
        "{t}"
    );
}

/// Just enough JSON to check the `--json` lines: an object of strings,
/// numbers, nulls and nested objects and arrays, strictly parsed.
mod json {
    #[derive(Debug, PartialEq)]
    pub enum Value {
        Str(String),
        Num(f64),
        Null,
        Bool(bool),
        Obj(Object),
        Arr(Vec<Value>),
    }

    #[derive(Debug, PartialEq)]
    pub struct Object(Vec<(String, Value)>);

    impl Object {
        pub fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| k.as_str()).collect()
        }
        fn get(&self, k: &str) -> Option<&Value> {
            self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v)
        }
        pub fn str(&self, k: &str) -> Option<&str> {
            match self.get(k) {
                Some(Value::Str(s)) => Some(s),
                _ => None,
            }
        }
        pub fn num(&self, k: &str) -> Option<f64> {
            match self.get(k) {
                Some(Value::Num(n)) => Some(*n),
                _ => None,
            }
        }
        pub fn is_null(&self, k: &str) -> bool {
            self.get(k) == Some(&Value::Null)
        }
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) -> Result<(), String> {
            self.ws();
            if self.s.get(self.i) == Some(&c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected '{}' at {}", c as char, self.i))
            }
        }
        fn string(&mut self) -> Result<String, String> {
            self.eat(b'"')?;
            let mut out = String::new();
            loop {
                let c = *self.s.get(self.i).ok_or("unterminated string")?;
                self.i += 1;
                match c {
                    b'"' => return Ok(out),
                    b'\\' => {
                        let e = *self.s.get(self.i).ok_or("bad escape")?;
                        self.i += 1;
                        match e {
                            b'"' => out.push('"'),
                            b'\\' => out.push('\\'),
                            b'/' => out.push('/'),
                            b'n' => out.push('\n'),
                            b'r' => out.push('\r'),
                            b't' => out.push('\t'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'u' => {
                                let hex = self.s.get(self.i..self.i + 4).ok_or("bad \\u")?;
                                let v = u32::from_str_radix(
                                    std::str::from_utf8(hex).map_err(|e| e.to_string())?,
                                    16,
                                )
                                .map_err(|e| e.to_string())?;
                                out.push(char::from_u32(v).ok_or("bad \\u")?);
                                self.i += 4;
                            }
                            _ => return Err("bad escape".into()),
                        }
                    }
                    c if c < 0x20 => return Err("control character in string".into()),
                    _ => {
                        // Copy one UTF-8 sequence.
                        let start = self.i - 1;
                        let mut end = self.i;
                        while self.s.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
                            end += 1;
                        }
                        out.push_str(
                            std::str::from_utf8(&self.s[start..end]).map_err(|e| e.to_string())?,
                        );
                        self.i = end;
                    }
                }
            }
        }
        fn object(&mut self) -> Result<Object, String> {
            let mut fields = Vec::new();
            self.eat(b'{')?;
            self.ws();
            if self.s.get(self.i) == Some(&b'}') {
                self.i += 1;
                return Ok(Object(fields));
            }
            loop {
                let k = self.string()?;
                self.eat(b':')?;
                let v = self.value()?;
                if fields.iter().any(|(key, _)| *key == k) {
                    return Err(format!("duplicate key {k}"));
                }
                fields.push((k, v));
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        return Ok(Object(fields));
                    }
                    _ => return Err(format!("expected ',' or '}}' at {}", self.i)),
                }
            }
        }
        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'"') => Ok(Value::Str(self.string()?)),
                Some(b'{') => Ok(Value::Obj(self.object()?)),
                Some(b'[') => {
                    self.i += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Arr(items));
                    }
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Arr(items));
                            }
                            _ => return Err(format!("expected ',' or ']' at {}", self.i)),
                        }
                    }
                }
                Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                    self.i += 4;
                    Ok(Value::Null)
                }
                Some(b't') if self.s[self.i..].starts_with(b"true") => {
                    self.i += 4;
                    Ok(Value::Bool(true))
                }
                Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                    self.i += 5;
                    Ok(Value::Bool(false))
                }
                Some(c) if *c == b'-' || c.is_ascii_digit() => {
                    let start = self.i;
                    while self
                        .s
                        .get(self.i)
                        .is_some_and(|c| b"+-.eE".contains(c) || c.is_ascii_digit())
                    {
                        self.i += 1;
                    }
                    let t =
                        std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                    t.parse()
                        .map(Value::Num)
                        .map_err(|_| format!("bad number {t}"))
                }
                _ => Err(format!("unexpected value at {}", self.i)),
            }
        }
    }

    pub fn parse(line: &str) -> Result<Object, String> {
        let mut p = P {
            s: line.as_bytes(),
            i: 0,
        };
        let obj = p.object()?;
        p.ws();
        if p.i != p.s.len() {
            return Err("text after the object".into());
        }
        Ok(obj)
    }
}
