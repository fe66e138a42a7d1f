//! Scans through network namespaces built by the test: every outcome of
//! docs/compatibility.md §3.4 (DROP, REJECT with tcp-reset, ICMP from a router,
//! local unreachable / prohibit / blackhole routes, no route, an on-link
//! address nobody answers, the kernel's own SYN timeout) with nc's exact text,
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

mod common;
use common::*;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SERVER: &str = "10.77.1.1";

/// nc.openbsd, when installed (compared with where it is; not required).
fn openbsd() -> Option<PathBuf> {
    find_in_path(NC_OPENBSD)
}

// ---------------------------------------------------------------------------
// The namespaces
// ---------------------------------------------------------------------------

/// The two namespaces of one run.
struct Topology {
    client: Netns,
    router: Netns,
    /// Whether DROP/REJECT rules could be installed (nft or iptables).
    firewall: Result<(), String>,
    drop_port: u16,
    reject_port: u16,
}

impl Topology {
    fn build() -> Result<Topology, String> {
        let net = Topology {
            client: Netns::try_create("c")?,
            router: Netns::try_create("r")?,
            firewall: Ok(()),
            drop_port: 2001,
            reject_port: 2002,
        };
        let (c, r) = (&net.client, &net.router);
        c.ip(&[
            "link", "add", "vc", "type", "veth", "peer", "name", "vr", "netns", &r.name,
        ])?;
        for (ns, args) in [
            (c, &["addr", "add", "10.77.0.1/24", "dev", "vc"][..]),
            (r, &["addr", "add", "10.77.0.2/24", "dev", "vr"]),
            (r, &["addr", "add", "10.77.1.1/32", "dev", "lo"]),
            (c, &["link", "set", "vc", "up"]),
            (r, &["link", "set", "vr", "up"]),
            // Client routes: three networks through the router, three
            // local special routes, nothing else (no default route).
            (c, &["route", "add", "10.77.1.0/24", "via", "10.77.0.2"]),
            (c, &["route", "add", "10.77.3.0/24", "via", "10.77.0.2"]),
            (c, &["route", "add", "10.77.4.0/24", "via", "10.77.0.2"]),
            (c, &["route", "add", "unreachable", "10.77.5.0/24"]),
            (c, &["route", "add", "prohibit", "10.77.6.0/24"]),
            (c, &["route", "add", "blackhole", "10.77.7.0/24"]),
            // The router answers with ICMP for its own special routes.
            (r, &["route", "add", "unreachable", "10.77.3.0/24"]),
            (r, &["route", "add", "prohibit", "10.77.4.0/24"]),
        ] {
            ns.ip(args)?;
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
            ns.run_in(|| std::fs::write(&path, value).map_err(|e| format!("{path}: {e}")))?;
        }
        let firewall = net.install_firewall();
        Ok(Topology { firewall, ..net })
    }

    /// Runs `prog ARGS` (a firewall tool) in the router namespace, with
    /// `input` on its stdin.
    fn router_run(&self, prog: &str, args: &[&str], input: &str) -> Result<(), String> {
        let path = find_in_path(prog).ok_or(format!("`{prog}` is not installed"))?;
        let o = Cmd::with_target(path, prog, args)
            .netns(&self.router)
            .stdin_bytes(input.as_bytes())
            .run(secs(30));
        if o.code() == Some(0) {
            Ok(())
        } else {
            Err(format!("`{}` failed: {}", o.label, o.stderr_str().trim()))
        }
    }

    /// DROP and REJECT (tcp-reset) for two ports of the server, with nft,
    /// or iptables when nft is missing or fails.
    fn install_firewall(&self) -> Result<(), String> {
        let rules = format!(
            "table inet ncscan {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  ip daddr {SERVER} tcp dport {} drop\n  ip daddr {SERVER} tcp dport {} reject with tcp reset\n }}\n}}\n",
            self.drop_port, self.reject_port
        );
        let nft = self.router_run("nft", &["-f", "-"], &rules);
        if nft.is_ok() {
            return Ok(());
        }
        let d = self.drop_port.to_string();
        let j = self.reject_port.to_string();
        let rule = |port: &str, target: &[&str]| {
            let head = [
                "-A", "INPUT", "-p", "tcp", "-d", SERVER, "--dport", port, "-j",
            ];
            self.router_run("iptables", &[&head[..], target].concat(), "")
        };
        let ipt =
            rule(&d, &["DROP"]).and_then(|()| rule(&j, &["REJECT", "--reject-with", "tcp-reset"]));
        ipt.map_err(|e| format!("nft: {}; iptables: {e}", nft.err().unwrap_or_default()))
    }

    /// A listener on the server address, in the router namespace (the
    /// socket stays there).
    fn listen(&self) -> Result<TcpListener, String> {
        let ip: Ipv4Addr = SERVER.parse().map_err(|_| "address")?;
        self.router.run_in(|| listener((ip, 0).into()))
    }
}

/// A listener on `addr` (port 0: any port without a service name).
fn listener(addr: SocketAddr) -> Result<TcpListener, String> {
    unnamed_listener(addr).map_err(|e| format!("{addr}: {e}"))
}

fn has_service(port: u16) -> bool {
    service_name(port).is_some()
}

/// The namespaces, or None when they cannot be made (after a skip, or a
/// failure under CI=true).
fn net() -> Option<Topology> {
    if find_in_path("ip").is_none() {
        skip_or_fail_in_ci("`ip` (iproute2) is not installed");
        return None;
    }
    match Topology::build() {
        Ok(n) => Some(n),
        Err(e) => {
            skip_or_fail_in_ci(&format!("cannot build network namespaces: {e}"));
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Running inside the client namespace
// ---------------------------------------------------------------------------

/// `BIN ARGS` as `nc` inside `ns`; it must end within 30 s.
fn run_in(ns: &Netns, bin: &Path, args: &[&str]) -> Outcome {
    Cmd::as_nc(bin, args).netns(ns).run(secs(30))
}

/// One scenario of §3.4.
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
fn check(ns: &Netns, c: &Case) -> Vec<String> {
    let mut bad = Vec::new();
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let got = run_in(ns, &ncrab(), &args);
    let (stderr, status) = (got.stderr_str(), got.code());
    if stderr != c.stderr || status != Some(c.status) || !got.stdout.is_empty() {
        bad.push(format!(
            "{}: ncrab printed {stderr:?} (exit {status:?}), nc prints {:?} (exit {})",
            c.what, c.stderr, c.status
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
    let stderr = run_in(ns, &ncrab(), &vv).stderr_str();
    let mut lines = stderr.lines();
    let first = lines.next().map(|l| format!("{l}\n"));
    let detail = lines.next().unwrap_or("");
    if first.as_deref() != Some(c.stderr.as_str())
        || !detail.starts_with('\t')
        || !detail.contains(c.meaning)
    {
        bad.push(format!("{}: -vv printed {stderr:?}", c.what));
    }
    // --json: the state.
    let mut js = vec!["--json"];
    js.extend(&args);
    let stdout = run_in(ns, &ncrab(), &js).stdout_str();
    let want = format!("\"state\":\"{}\"", c.state);
    if stdout.lines().count() != 1 || !stdout.contains(&want) {
        bad.push(format!(
            "{}: --json printed {stdout:?}, want {want}",
            c.what
        ));
    }
    // nc.openbsd, in the same namespace, as `nc`.
    if let Some(nc) = openbsd() {
        let want = run_in(ns, &nc, &args);
        let (stderr, status) = (want.stderr_str(), want.code());
        if stderr != c.stderr || status != Some(c.status) {
            bad.push(format!(
                "{}: nc.openbsd printed {stderr:?} (exit {status:?}), the test expects {:?} (exit {})",
                c.what, c.stderr, c.status
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
        skip_or_fail_in_ci(&format!(
            "{NC_OPENBSD} is not installed: ncrab is checked alone"
        ));
    }
    let listener = match net.listen() {
        Ok(l) => l,
        Err(e) => {
            skip_or_fail_in_ci(&format!("cannot listen inside the namespace: {e}"));
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
            meaning: "answered ICMP host unreachable",
            state: "filtered",
            min: Duration::ZERO,
        },
        Case {
            what: "ICMP admin-prohibited from the router",
            args: s(&["-zv", "10.77.4.1", "80"]),
            stderr: failed("10.77.4.1", 80, no_route),
            status: 1,
            meaning: "answered ICMP communication administratively prohibited",
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
            meaning: "nobody on the local link answered",
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
                meaning: "none answered",
                state: "filtered",
                min: Duration::from_millis(950),
            },
            Case {
                what: "DROP without -w (the kernel's SYN timeout)",
                args: s(&["-zv", SERVER, &ds]),
                stderr: failed(SERVER, d, "failed: Connection timed out"),
                status: 1,
                meaning: "none answered",
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
        Err(e) => skip_or_fail_in_ci(&format!(
            "no firewall rules (DROP/REJECT cases not run): {e}"
        )),
    }
    // All cases at once (each is independent); collect every problem.
    // Except the router's own ICMP answers: the kernel sends those of an
    // unreachable or prohibit route at most 5 at once and then one a
    // second per source address (net.ipv4.route.error_burst and
    // error_cost, machine-wide), and each case makes 4 connects (ncrab
    // three times, nc.openbsd once). Those cases run one after the other
    // in a thread of their own, with the bucket refilled in between.
    let ns = &net.client;
    let (routed, others): (Vec<&Case>, Vec<&Case>) = cases
        .iter()
        .partition(|c| c.what.ends_with("from the router"));
    let problems: Vec<String> = std::thread::scope(|sc| {
        let mut handles: Vec<_> = others
            .into_iter()
            .map(|c| sc.spawn(move || check(ns, c)))
            .collect();
        handles.push(sc.spawn(move || {
            let mut bad = Vec::new();
            for (i, c) in routed.into_iter().enumerate() {
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(4500));
                }
                bad.extend(check(ns, c));
            }
            bad
        }));
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
        skip_or_fail_in_ci(&format!("no firewall rules: {e}"));
        return;
    }
    let Ok(listener) = net.listen() else {
        skip_or_fail_in_ci("cannot listen inside the namespace");
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
    let got = run_in(&net.client, &ncrab(), &args);
    got.assert_stderr(want.as_bytes());
    got.assert_code(0);
    assert!(
        got.elapsed < Duration::from_secs(3),
        "four 1 s timeouts were not concurrent: {:?}",
        got.elapsed
    );
    let mut seq = vec!["--window", "1"];
    seq.extend(&args);
    let one = run_in(&net.client, &ncrab(), &seq);
    assert_eq!(
        one.stderr_str(),
        got.stderr_str(),
        "--window 1 prints the same bytes"
    );
    assert_eq!(one.exit_code(), got.exit_code());
    assert!(
        one.elapsed >= Duration::from_millis(3800),
        "{:?}",
        one.elapsed
    );
    if let Some(nc) = openbsd() {
        let nc = run_in(&net.client, &nc, &args);
        assert_eq!(
            nc.stderr_str(),
            got.stderr_str(),
            "nc.openbsd prints the same bytes"
        );
        assert_eq!(nc.exit_code(), got.exit_code());
    }
    drop(listener);
}

#[test]
fn a_name_with_two_addresses_is_tried_like_nc() {
    // A name with two addresses (::1 first, then 127.0.0.1), from the
    // namespace's own /etc/hosts. Each port tries ::1, then 127.0.0.1 only
    // if ::1 failed: one line per failed address, none after a success.
    let mut ns = match Netns::try_create("h") {
        Ok(ns) => ns,
        Err(e) => {
            skip_or_fail_in_ci(&format!("cannot build a network namespace: {e}"));
            return;
        }
    };
    if let Err(e) =
        ns.write_etc("127.0.0.1 localhost\n::1 localhost\n::1 dual.test\n127.0.0.1 dual.test\n")
    {
        skip_or_fail_in_ci(&format!(
            "cannot give the namespace its own /etc/hosts: {e}"
        ));
        return;
    }
    let v4 = |p| SocketAddr::from((Ipv4Addr::LOCALHOST, p));
    let v6 = |p| SocketAddr::from((Ipv6Addr::LOCALHOST, p));
    // Port a: 127.0.0.1 only; b: ::1 only; c: both; d: neither.
    let made = ns.run_in(move || {
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
            skip_or_fail_in_ci(&format!(
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
    let got = run_in(&ns, &ncrab(), &args);
    got.assert_stderr(want.as_bytes());
    got.assert_code(0);
    // ::1 answered for port c, so nc never tries 127.0.0.1 there: nor does
    // ncrab (its queue is empty; a connection would be waiting in it).
    c4.set_nonblocking(true).expect("non-blocking");
    assert!(
        c4.accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection was made to 127.0.0.1 port {pc} after ::1 answered"
    );
    if let Some(nc) = openbsd() {
        let nc = run_in(&ns, &nc, &args);
        assert_eq!(nc.stderr_str(), want, "nc.openbsd");
        assert_eq!(nc.exit_code(), 0);
    }
    drop((a, b, c6));
}
