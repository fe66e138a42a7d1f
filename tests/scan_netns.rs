//! Scans through network namespaces built by the test: every outcome of
//! B §3.4 (DROP, REJECT with tcp-reset, ICMP from a router, local
//! unreachable / prohibit / blackhole routes, no route, an on-link address
//! nobody answers, the kernel's own SYN timeout) with nc's exact text,
//! checked against ncrab and, in the same namespace, nc.openbsd.
//!
//! The topology, private to this run (names carry the pid):
//!
//! ```text
//!  client ns  C                         router/server ns  R
//!  vc 10.77.0.1/24  <--- veth --->  vr 10.77.0.2/24, lo 10.77.1.1/32
//!  routes: 10.77.1.0/24, .3.0/24, .4.0/24 via R      forwarding on
//!          unreachable 10.77.5.0/24                   unreachable 10.77.3.0/24
//!          prohibit    10.77.6.0/24                   prohibit    10.77.4.0/24
//!          blackhole   10.77.7.0/24                   nft: DROP / REJECT ports
//!          no default route (10.201.0.1: no route)    on 10.77.1.1
//!          SYN retries 1, ARP: one try of 0.5 s
//! ```
//!
//! Both namespaces are deleted by a guard however the test ends. If
//! namespaces cannot be created the test says why and skips; under CI=true
//! that is a failure.

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const NC_OPENBSD: &str = "/usr/bin/nc.openbsd";
const SERVER: &str = "10.77.1.1";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skip (with the reason printed), or fail under CI=true.
fn skip(reason: &str) {
    if in_ci() {
        panic!("{reason} (CI=true: a failure, not a skip)");
    }
    eprintln!("SKIP: {reason}");
}

/// Runs a set-up command; Err(message) when it fails.
fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn sh_stdin(args: &[&str], input: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A directory holding `nc`, a symlink to `target`.
fn link_dir(name: &str, target: &Path) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scan-netns-{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let link = dir.join("nc");
    let tmp = dir.join(format!("nc.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).expect("symlink");
    std::fs::rename(&tmp, &link).expect("rename symlink");
    link
}

fn ncrab() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| link_dir("ncrab", Path::new(env!("CARGO_BIN_EXE_ncrab"))))
}

fn openbsd() -> Option<&'static Path> {
    static P: OnceLock<Option<PathBuf>> = OnceLock::new();
    P.get_or_init(|| {
        Path::new(NC_OPENBSD)
            .is_file()
            .then(|| link_dir("openbsd", Path::new(NC_OPENBSD)))
    })
    .as_deref()
}

// ---------------------------------------------------------------------------
// The namespaces
// ---------------------------------------------------------------------------

/// One namespace with `lo` up, and its `/etc/netns/NAME` directory (files
/// there replace those of /etc for `ip netns exec`); both removed on drop.
struct Ns {
    name: String,
    etc: PathBuf,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Ns {
    /// A new namespace named after this process, a counter and `role`.
    fn new(role: &str) -> Result<Ns, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("ncscan-{}-{n}-{role}", std::process::id());
        sh(&["ip", "netns", "add", &name])?;
        let ns = Ns {
            etc: PathBuf::from("/etc/netns").join(&name),
            name,
        };
        sh(&["ip", "-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `/etc/hosts` as processes run by `ip netns exec` see it.
    fn set_hosts(&self, text: &str) -> Result<(), String> {
        std::fs::create_dir_all(&self.etc).map_err(|e| format!("{}: {e}", self.etc.display()))?;
        let f = self.etc.join("hosts");
        std::fs::write(&f, text).map_err(|e| format!("{}: {e}", f.display()))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// The two namespaces of one run.
struct Net {
    client: Ns,
    router: Ns,
    /// Whether DROP/REJECT rules could be installed (nft or iptables).
    firewall: Result<(), String>,
    drop_port: u16,
    reject_port: u16,
}

impl Net {
    fn build() -> Result<Net, String> {
        let mut net = Net {
            client: Ns::new("c")?,
            router: Ns::new("r")?,
            firewall: Ok(()),
            drop_port: 2001,
            reject_port: 2002,
        };
        let (c, r) = (net.client.name.as_str(), net.router.name.as_str());
        for cmd in [
            vec![
                "ip", "-n", c, "link", "add", "vc", "type", "veth", "peer", "name", "vr", "netns",
                r,
            ],
            vec!["ip", "-n", c, "addr", "add", "10.77.0.1/24", "dev", "vc"],
            vec!["ip", "-n", r, "addr", "add", "10.77.0.2/24", "dev", "vr"],
            vec!["ip", "-n", r, "addr", "add", "10.77.1.1/32", "dev", "lo"],
            vec!["ip", "-n", c, "link", "set", "vc", "up"],
            vec!["ip", "-n", r, "link", "set", "vr", "up"],
            // Client routes: three networks through the router, three
            // local special routes, nothing else (no default route).
            vec![
                "ip",
                "-n",
                c,
                "route",
                "add",
                "10.77.1.0/24",
                "via",
                "10.77.0.2",
            ],
            vec![
                "ip",
                "-n",
                c,
                "route",
                "add",
                "10.77.3.0/24",
                "via",
                "10.77.0.2",
            ],
            vec![
                "ip",
                "-n",
                c,
                "route",
                "add",
                "10.77.4.0/24",
                "via",
                "10.77.0.2",
            ],
            vec!["ip", "-n", c, "route", "add", "unreachable", "10.77.5.0/24"],
            vec!["ip", "-n", c, "route", "add", "prohibit", "10.77.6.0/24"],
            vec!["ip", "-n", c, "route", "add", "blackhole", "10.77.7.0/24"],
            // The router answers with ICMP for its own special routes.
            vec!["ip", "-n", r, "route", "add", "unreachable", "10.77.3.0/24"],
            vec!["ip", "-n", r, "route", "add", "prohibit", "10.77.4.0/24"],
        ] {
            sh(&cmd)?;
        }
        for (ns, key, value) in [
            (r, "ipv4/ip_forward", "1"),
            // No ICMP rate limit: every probe of every run gets its answer.
            (r, "ipv4/icmp_ratelimit", "0"),
            // The kernel's own SYN timeout after one retry (~3 s).
            (c, "ipv4/tcp_syn_retries", "1"),
            // ARP gives up after one 0.5 s try, well before that timeout.
            (c, "ipv4/neigh/vc/mcast_solicit", "1"),
            (c, "ipv4/neigh/vc/retrans_time_ms", "500"),
        ] {
            let path = format!("/proc/sys/net/{key}");
            in_ns(ns, move || {
                std::fs::write(&path, value).map_err(|e| format!("{path}: {e}"))
            })?;
        }
        net.firewall = net.install_firewall();
        Ok(net)
    }

    /// DROP and REJECT (tcp-reset) for two ports of the server, with nft,
    /// or iptables when nft is missing or fails.
    fn install_firewall(&self) -> Result<(), String> {
        let r = self.router.name.as_str();
        let rules = format!(
            "table inet ncscan {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  ip daddr {SERVER} tcp dport {} drop\n  ip daddr {SERVER} tcp dport {} reject with tcp reset\n }}\n}}\n",
            self.drop_port, self.reject_port
        );
        let nft = sh_stdin(&["ip", "netns", "exec", r, "nft", "-f", "-"], &rules);
        if nft.is_ok() {
            return Ok(());
        }
        let d = self.drop_port.to_string();
        let j = self.reject_port.to_string();
        let ipt = sh(&[
            "ip", "netns", "exec", r, "iptables", "-A", "INPUT", "-p", "tcp", "-d", SERVER,
            "--dport", &d, "-j", "DROP",
        ])
        .and_then(|()| {
            sh(&[
                "ip",
                "netns",
                "exec",
                r,
                "iptables",
                "-A",
                "INPUT",
                "-p",
                "tcp",
                "-d",
                SERVER,
                "--dport",
                &j,
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ])
        });
        ipt.map_err(|e| format!("nft: {}; iptables: {e}", nft.err().unwrap_or_default()))
    }

    /// A listener on the server address, in the router namespace (the
    /// socket stays there).
    fn listen(&self) -> Result<TcpListener, String> {
        let ip: Ipv4Addr = SERVER.parse().map_err(|_| "address")?;
        in_ns(&self.router.name, move || listener((ip, 0).into()))
    }
}

/// A listener on `addr` (port 0: any port without a service name).
fn listener(addr: SocketAddr) -> Result<TcpListener, String> {
    for _ in 0..50 {
        let l = TcpListener::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        if addr.port() != 0 || !has_service(port) {
            return Ok(l);
        }
    }
    Err("no port without a service name".into())
}

/// Runs `f` on a short-lived thread that has entered namespace `ns`:
/// sockets it makes and /proc/sys/net files it writes are the namespace's.
fn in_ns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: setns on this thread only, with a valid fd.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        f()
    })
    .join()
    .map_err(|_| "namespace thread panicked".to_string())?
}

fn has_service(port: u16) -> bool {
    let proto = c"tcp";
    // SAFETY: valid C string; only the null test is used.
    unsafe { !libc::getservbyport(i32::from(port.to_be()), proto.as_ptr()).is_null() }
}

/// The namespaces, or None when they cannot be made (after skip()).
fn net() -> Option<Net> {
    if Command::new("ip").arg("-V").output().is_err() {
        skip("`ip` (iproute2) is not installed");
        return None;
    }
    match Net::build() {
        Ok(n) => Some(n),
        Err(e) => {
            skip(&format!("cannot build network namespaces: {e}"));
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Running inside the client namespace
// ---------------------------------------------------------------------------

struct Out {
    status: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// `ip netns exec NS BIN ARGS`, killed after 30 s.
fn run_in(ns: &str, bin: &Path, args: &[&str]) -> Out {
    let start = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ip netns exec");
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let to = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let te = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} still running after 30 s", bin.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Out {
        status: status.code().unwrap_or(-1),
        stdout: to.join().unwrap_or_default(),
        stderr: te.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// One scenario of B §3.4.
struct Case {
    what: &'static str,
    args: Vec<String>,
    /// nc's stderr, exactly.
    stderr: String,
    status: i32,
    /// A word of the `-vv` diagnosis.
    meaning: &'static str,
    /// The `--json` state.
    state: &'static str,
    /// At least this long (timeouts).
    min: Duration,
}

fn failed(host: &str, port: u16, text: &str) -> String {
    format!("nc: connect to {host} port {port} (tcp) {text}\n")
}

/// Runs a case with ncrab (plain, -vv and --json) and with nc.openbsd;
/// returns the problems found.
fn check(ns: &str, c: &Case) -> Vec<String> {
    let mut bad = Vec::new();
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let got = run_in(ns, ncrab(), &args);
    if got.stderr != c.stderr || got.status != c.status || !got.stdout.is_empty() {
        bad.push(format!(
            "{}: ncrab printed {:?} (exit {}), nc prints {:?} (exit {})",
            c.what, got.stderr, got.status, c.stderr, c.status
        ));
    }
    if got.elapsed < c.min {
        bad.push(format!(
            "{}: ended after {:?}, before {:?}",
            c.what, got.elapsed, c.min
        ));
    }
    // -vv: nc's line, then the diagnosis.
    let mut vv = vec!["-v"];
    vv.extend(&args);
    let got = run_in(ns, ncrab(), &vv);
    let mut lines = got.stderr.lines();
    let first = lines.next().map(|l| format!("{l}\n"));
    let detail = lines.next().unwrap_or("");
    if first.as_deref() != Some(c.stderr.as_str())
        || !detail.starts_with('\t')
        || !detail.contains(c.meaning)
    {
        bad.push(format!("{}: -vv printed {:?}", c.what, got.stderr));
    }
    // --json: the state.
    let mut js = vec!["--json"];
    js.extend(&args);
    let got = run_in(ns, ncrab(), &js);
    let want = format!("\"state\":\"{}\"", c.state);
    if got.stdout.lines().count() != 1 || !got.stdout.contains(&want) {
        bad.push(format!(
            "{}: --json printed {:?}, want {want}",
            c.what, got.stdout
        ));
    }
    // nc.openbsd, in the same namespace, as `nc`.
    if let Some(nc) = openbsd() {
        let want = run_in(ns, nc, &args);
        if want.stderr != c.stderr || want.status != c.status {
            bad.push(format!(
                "{}: nc.openbsd printed {:?} (exit {}), the test expects {:?} (exit {})",
                c.what, want.stderr, want.status, c.stderr, c.status
            ));
        }
    }
    bad
}

#[test]
fn every_connect_outcome_has_ncs_text() {
    let Some(net) = net() else {
        return;
    };
    if openbsd().is_none() {
        skip(&format!(
            "{NC_OPENBSD} is not installed: ncrab is checked alone"
        ));
    }
    let listener = match net.listen() {
        Ok(l) => l,
        Err(e) => {
            skip(&format!("cannot listen inside the namespace: {e}"));
            return;
        }
    };
    let open = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let closed = 2003;
    let (d, j) = (net.drop_port, net.reject_port);
    let (ds, js, os, cs) = (
        d.to_string(),
        j.to_string(),
        open.to_string(),
        closed.to_string(),
    );
    let refused = "failed: Connection refused";
    let no_route = "failed: No route to host";
    let mut cases = vec![
        Case {
            what: "open port",
            args: s(&["-zv", SERVER, &os]),
            stderr: format!("Connection to {SERVER} {open} port [tcp/*] succeeded!\n"),
            status: 0,
            meaning: "open",
            state: "open",
            min: Duration::ZERO,
        },
        Case {
            what: "closed port (RST)",
            args: s(&["-zv", SERVER, &cs]),
            stderr: failed(SERVER, closed, refused),
            status: 1,
            meaning: "TCP reset",
            state: "closed",
            min: Duration::ZERO,
        },
        Case {
            what: "ICMP host unreachable from the router",
            args: s(&["-zv", "10.77.3.1", "80"]),
            stderr: failed("10.77.3.1", 80, no_route),
            status: 1,
            meaning: "no route to host",
            state: "filtered",
            min: Duration::ZERO,
        },
        Case {
            what: "ICMP admin-prohibited from the router",
            args: s(&["-zv", "10.77.4.1", "80"]),
            stderr: failed("10.77.4.1", 80, no_route),
            status: 1,
            meaning: "no route to host",
            state: "filtered",
            min: Duration::ZERO,
        },
        Case {
            what: "local unreachable route",
            args: s(&["-zv", "10.77.5.1", "80"]),
            stderr: failed("10.77.5.1", 80, no_route),
            status: 1,
            meaning: "no route to host",
            state: "filtered",
            min: Duration::ZERO,
        },
        Case {
            what: "local prohibit route",
            args: s(&["-zv", "10.77.6.1", "80"]),
            stderr: failed("10.77.6.1", 80, "failed: Permission denied"),
            status: 1,
            meaning: "permission denied",
            state: "filtered",
            min: Duration::ZERO,
        },
        Case {
            what: "local blackhole route",
            args: s(&["-zv", "10.77.7.1", "80"]),
            stderr: failed("10.77.7.1", 80, "failed: Invalid argument"),
            status: 1,
            meaning: "blackhole",
            state: "error",
            min: Duration::ZERO,
        },
        Case {
            what: "no route",
            args: s(&["-zv", "10.201.0.1", "80"]),
            stderr: failed("10.201.0.1", 80, "failed: Network is unreachable"),
            status: 1,
            meaning: "network unreachable",
            state: "filtered",
            min: Duration::ZERO,
        },
        Case {
            what: "on-link address nobody answers (ARP)",
            args: s(&["-zv", "10.77.0.5", "80"]),
            stderr: failed("10.77.0.5", 80, no_route),
            status: 1,
            meaning: "no route to host",
            state: "filtered",
            min: Duration::from_millis(400),
        },
    ];
    match &net.firewall {
        Ok(()) => cases.extend([
            Case {
                what: "DROP with -w 1",
                args: s(&["-zv", "-w", "1", SERVER, &ds]),
                stderr: failed(SERVER, d, "timed out: Operation now in progress"),
                status: 1,
                meaning: "no answer",
                state: "filtered",
                min: Duration::from_millis(950),
            },
            Case {
                what: "DROP without -w (the kernel's SYN timeout)",
                args: s(&["-zv", SERVER, &ds]),
                stderr: failed(SERVER, d, "failed: Connection timed out"),
                status: 1,
                meaning: "no answer",
                state: "filtered",
                min: Duration::from_secs(2),
            },
            Case {
                what: "REJECT with tcp-reset",
                args: s(&["-zv", "-w", "1", SERVER, &js]),
                stderr: failed(SERVER, j, refused),
                status: 1,
                meaning: "TCP reset",
                state: "closed",
                min: Duration::ZERO,
            },
        ]),
        Err(e) => skip(&format!(
            "no firewall rules (DROP/REJECT cases not run): {e}"
        )),
    }
    // All cases at once (each is independent); collect every problem.
    let ns = net.client.name.clone();
    let problems: Vec<String> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|c| {
                let ns = ns.as_str();
                sc.spawn(move || check(ns, c))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| vec!["a case panicked".into()]))
            .collect()
    });
    drop(listener);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_mixed_scan_keeps_ncs_order_and_runs_at_once() {
    let Some(net) = net() else {
        return;
    };
    if let Err(e) = &net.firewall {
        skip(&format!("no firewall rules: {e}"));
        return;
    }
    let Ok(listener) = net.listen() else {
        skip("cannot listen inside the namespace");
        return;
    };
    let open = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let (d, j) = (net.drop_port, net.reject_port);
    // DROP, open, REJECT, DROP, closed, DROP, open, DROP: four silent ports
    // of -w 1 each.
    let ports = [d, open, j, d, 2003, d, open, d];
    let mut want = String::new();
    for &p in &ports {
        want.push_str(&if p == d {
            failed(SERVER, p, "timed out: Operation now in progress")
        } else if p == open {
            format!("Connection to {SERVER} {p} port [tcp/*] succeeded!\n")
        } else {
            failed(SERVER, p, "failed: Connection refused")
        });
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut args = vec!["-zv", "-w", "1", SERVER];
    args.extend(list.iter().map(String::as_str));
    let got = run_in(&net.client.name, ncrab(), &args);
    assert_eq!(got.stderr, want);
    assert_eq!(got.status, 0);
    assert!(
        got.elapsed < Duration::from_secs(3),
        "four 1 s timeouts were not concurrent: {:?}",
        got.elapsed
    );
    let mut seq = vec!["--window", "1"];
    seq.extend(&args);
    let one = run_in(&net.client.name, ncrab(), &seq);
    assert_eq!(one.stderr, got.stderr, "--window 1 prints the same bytes");
    assert_eq!(one.status, got.status);
    assert!(
        one.elapsed >= Duration::from_millis(3800),
        "{:?}",
        one.elapsed
    );
    if let Some(nc) = openbsd() {
        let nc = run_in(&net.client.name, nc, &args);
        assert_eq!(nc.stderr, got.stderr, "nc.openbsd prints the same bytes");
        assert_eq!(nc.status, got.status);
    }
    drop(listener);
}

#[test]
fn a_name_with_two_addresses_is_tried_like_nc() {
    // A name with two addresses (::1 first, then 127.0.0.1), from the
    // namespace's own /etc/hosts. Each port tries ::1, then 127.0.0.1 only
    // if ::1 failed: one line per failed address, none after a success.
    let ns = match Ns::new("h") {
        Ok(ns) => ns,
        Err(e) => {
            skip(&format!("cannot build a network namespace: {e}"));
            return;
        }
    };
    if let Err(e) =
        ns.set_hosts("127.0.0.1 localhost\n::1 localhost\n::1 dual.test\n127.0.0.1 dual.test\n")
    {
        skip(&format!(
            "cannot give the namespace its own /etc/hosts: {e}"
        ));
        return;
    }
    let v4 = |p| SocketAddr::from((Ipv4Addr::LOCALHOST, p));
    let v6 = |p| SocketAddr::from((Ipv6Addr::LOCALHOST, p));
    // Port a: 127.0.0.1 only; b: ::1 only; c: both; d: neither.
    let made = in_ns(&ns.name, move || {
        let a = listener(v4(0))?;
        let pa = a.local_addr().map_err(|e| e.to_string())?.port();
        for _ in 0..50 {
            // b, c, d follow a, all without a service name.
            let (pb, pc, pd) = (pa + 1, pa + 2, pa + 3);
            if [pb, pc, pd].iter().any(|&p| has_service(p)) {
                continue;
            }
            let b = listener(v6(pb));
            let c4 = listener(v4(pc));
            let c6 = listener(v6(pc));
            if let (Ok(b), Ok(c4), Ok(c6)) = (b, c4, c6) {
                return Ok((a, b, c4, c6));
            }
        }
        Err("no free run of four ports".to_string())
    });
    let (a, b, c4, c6) = match made {
        Ok(l) => l,
        Err(e) => {
            skip(&format!(
                "cannot listen on ::1 and 127.0.0.1 in the namespace: {e}"
            ));
            return;
        }
    };
    let pa = a.local_addr().map(|x| x.port()).unwrap_or(0);
    let (pb, pc, pd) = (pa + 1, pa + 2, pa + 3);
    let ok =
        |ip: &str, p: u16| format!("Connection to dual.test ({ip}) {p} port [tcp/*] succeeded!\n");
    let no = |ip: &str, p: u16| {
        format!("nc: connect to dual.test ({ip}) port {p} (tcp) failed: Connection refused\n")
    };
    let want = [
        no("::1", pa),
        ok("127.0.0.1", pa),
        ok("::1", pb),
        ok("::1", pc),
        no("::1", pd),
        no("127.0.0.1", pd),
        ok("::1", pc),
        no("::1", pa),
        ok("127.0.0.1", pa),
    ]
    .concat();
    let range = format!("{pa}-{pd}");
    let (pc_s, pa_s) = (pc.to_string(), pa.to_string());
    let args = ["-zv", "dual.test", &range, &pc_s, &pa_s];
    let got = run_in(&ns.name, ncrab(), &args);
    assert_eq!(got.stderr, want);
    assert_eq!(got.status, 0);
    // ::1 answered for port c, so nc never tries 127.0.0.1 there: nor does
    // ncrab (its queue is empty; a connection would be waiting in it).
    c4.set_nonblocking(true).expect("non-blocking");
    assert!(
        c4.accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection was made to 127.0.0.1 port {pc} after ::1 answered"
    );
    if let Some(nc) = openbsd() {
        let nc = run_in(&ns.name, nc, &args);
        assert_eq!(nc.stderr, want, "nc.openbsd");
        assert_eq!(nc.status, 0);
    }
    drop((a, b, c6));
}
