//! Diagnoses (`-vv`, `--json`'s `diagnosis` and `banner`): every failure
//! the kernel can explain, produced for real in network namespaces this
//! test builds, with the exact `-vv` text and the JSON fields, and nc's
//! `-v` lines checked against nc.openbsd in the same namespace.
//!
//! The chain, private to this run (names carry the pid):
//!
//! ```text
//!  client C                 router R                          server S
//!  vc 10.79.0.1/24  <-->  vr 10.79.0.2/24   vr2 10.79.1.1/24  <-->  vs 10.79.1.2/24
//!     fd79::1/64             fd79::2/64        fd79:1::1/64            fd79:1::2/64
//!  routes 10.79/16, fd79::/16 via R         forwarding on      default via R
//!  nft OUTPUT: drop port 41005              nft FORWARD to S:  nft INPUT: drop 41004
//!  SYN retries 1                              41001 host-unreachable
//!                                             41002 net-unreachable
//!                                             41003 admin-prohibited
//!                                             (ICMPv6: addr-unreachable,
//!                                              no-route, admin-prohibited)
//! ```
//!
//! Times in the `-vv` lines (`\tN ms:` and `over T s`) are replaced by N
//! and T before comparing; everything else is compared byte for byte.
//! Without namespaces (or nft) the tests say why and skip; under CI=true
//! that is a failure.

mod common;
use common::*;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SERVER: &str = "10.79.1.2";
const SERVER6: &str = "fd79:1::2";
const ROUTER: &str = "10.79.0.2";
const ROUTER6: &str = "fd79::2";
const CLOSED: u16 = 41000;
const HOST_UNREACH: u16 = 41001;
const NET_UNREACH: u16 = 41002;
const PROHIBITED: u16 = 41003;
const DROPPED: u16 = 41004;
const LOCAL_DROP: u16 = 41005;
const UDP_CLOSED: u16 = 41006;
const OPEN: u16 = 41010;

// ---------------------------------------------------------------------------
// The namespaces
// ---------------------------------------------------------------------------

struct Chain {
    client: Netns,
    router: Netns,
    server: Netns,
}

/// Runs `nft -f -` with `rules` in `ns`.
fn nft(ns: &Netns, rules: &str) -> Result<(), String> {
    let path = find_in_path("nft").ok_or("`nft` is not installed")?;
    let o = Cmd::with_target(path, "nft", &["-f", "-"])
        .netns(ns)
        .stdin_bytes(rules.as_bytes())
        .run(secs(30));
    if o.code() == Some(0) {
        Ok(())
    } else {
        Err(format!("nft: {}", o.stderr_str().trim()))
    }
}

/// Writes a sysctl inside `ns`.
fn sysctl(ns: &Netns, key: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/net/{key}");
    ns.run_in(|| std::fs::write(&path, value).map_err(|e| format!("{path}: {e}")))
}

impl Chain {
    fn build() -> Result<Chain, String> {
        let net = Chain {
            client: Netns::try_create("dc")?,
            router: Netns::try_create("dr")?,
            server: Netns::try_create("ds")?,
        };
        let (c, r, s) = (&net.client, &net.router, &net.server);
        c.ip(&[
            "link", "add", "vc", "type", "veth", "peer", "name", "vr", "netns", &r.name,
        ])?;
        r.ip(&[
            "link", "add", "vr2", "type", "veth", "peer", "name", "vs", "netns", &s.name,
        ])?;
        for (ns, args) in [
            (c, &["addr", "add", "10.79.0.1/24", "dev", "vc"][..]),
            (c, &["addr", "add", "fd79::1/64", "dev", "vc", "nodad"]),
            (r, &["addr", "add", "10.79.0.2/24", "dev", "vr"]),
            (r, &["addr", "add", "fd79::2/64", "dev", "vr", "nodad"]),
            (r, &["addr", "add", "10.79.1.1/24", "dev", "vr2"]),
            (r, &["addr", "add", "fd79:1::1/64", "dev", "vr2", "nodad"]),
            (s, &["addr", "add", "10.79.1.2/24", "dev", "vs"]),
            (s, &["addr", "add", "fd79:1::2/64", "dev", "vs", "nodad"]),
            (c, &["link", "set", "vc", "up"]),
            (r, &["link", "set", "vr", "up"]),
            (r, &["link", "set", "vr2", "up"]),
            (s, &["link", "set", "vs", "up"]),
            (c, &["route", "add", "10.79.0.0/16", "via", "10.79.0.2"]),
            (c, &["-6", "route", "add", "fd79::/16", "via", "fd79::2"]),
            (s, &["route", "add", "default", "via", "10.79.1.1"]),
            (s, &["-6", "route", "add", "default", "via", "fd79:1::1"]),
        ] {
            ns.ip(args)?;
        }
        for (ns, key, value) in [
            (r, "ipv4/ip_forward", "1"),
            (r, "ipv6/conf/all/forwarding", "1"),
            // No ICMP rate limits: every probe of every run gets its answer.
            (r, "ipv4/icmp_ratelimit", "0"),
            (r, "ipv6/icmp/ratelimit", "0"),
            // Nor the namespace's overall ICMP budget (burst 50).
            (r, "ipv4/icmp_msgs_per_sec", "100000"),
            (r, "ipv4/icmp_msgs_burst", "10000"),
            (s, "ipv4/icmp_ratelimit", "0"),
            (s, "ipv6/icmp/ratelimit", "0"),
            // The kernel's own SYN timeout is a few seconds.
            (c, "ipv4/tcp_syn_retries", "1"),
        ] {
            sysctl(ns, key, value)?;
        }
        nft(
            r,
            &format!(
                "table inet diag {{\n chain fw {{\n  type filter hook forward priority 0; policy accept;\n\
                 ip daddr {SERVER} tcp dport {HOST_UNREACH} reject with icmp type host-unreachable\n\
                 ip daddr {SERVER} tcp dport {NET_UNREACH} reject with icmp type net-unreachable\n\
                 ip daddr {SERVER} tcp dport {PROHIBITED} reject with icmp type admin-prohibited\n\
                 ip6 daddr {SERVER6} tcp dport {HOST_UNREACH} reject with icmpv6 type addr-unreachable\n\
                 ip6 daddr {SERVER6} tcp dport {NET_UNREACH} reject with icmpv6 type no-route\n\
                 ip6 daddr {SERVER6} tcp dport {PROHIBITED} reject with icmpv6 type admin-prohibited\n }}\n}}\n"
            ),
        )?;
        nft(
            s,
            &format!(
                "table inet diag {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n\
                 tcp dport {DROPPED} counter drop\n }}\n}}\n"
            ),
        )?;
        nft(
            c,
            &format!(
                "table inet diag {{\n chain output {{\n  type filter hook output priority 0; policy accept;\n\
                 tcp dport {LOCAL_DROP} drop\n  udp dport {LOCAL_DROP} drop\n }}\n}}\n"
            ),
        )?;
        Ok(net)
    }

    /// SYNs the server's DROP rule has counted so far.
    fn dropped_syns(&self) -> Option<u64> {
        let path = find_in_path("nft")?;
        let o = Cmd::with_target(path, "nft", &["list", "ruleset"])
            .netns(&self.server)
            .run(secs(30));
        let text = o.stdout_str();
        let at = text.find("counter packets ")?;
        text[at + 16..].split_whitespace().next()?.parse().ok()
    }
}

fn chain() -> Option<Chain> {
    if find_in_path("ip").is_none() || find_in_path("nft").is_none() {
        skip_or_fail_in_ci("`ip` (iproute2) or `nft` is not installed");
        return None;
    }
    match Chain::build() {
        Ok(c) => Some(c),
        Err(e) => {
            skip_or_fail_in_ci(&format!("cannot build the namespaces: {e}"));
            None
        }
    }
}

fn openbsd() -> Option<PathBuf> {
    let nc = find_in_path(NC_OPENBSD);
    if nc.is_none() {
        skip_or_fail_in_ci(&format!(
            "{NC_OPENBSD} is not installed: -v lines are not compared"
        ));
    }
    nc
}

fn run_in(ns: &Netns, bin: &Path, args: &[&str]) -> Outcome {
    Cmd::as_nc(bin, args).netns(ns).run(secs(30))
}

// ---------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------

/// Replaces the times of `-vv` lines: `\t123 ms:` and `over 2.0 s`.
fn untimed(s: &str) -> String {
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        let mut l = line.to_string();
        if let Some(rest) = l.strip_prefix('\t') {
            if let Some((ms, tail)) = rest.split_once(" ms: ") {
                if ms.chars().all(|c| c.is_ascii_digit()) {
                    l = format!("\tN ms: {tail}");
                }
            }
        }
        if let Some(i) = l.find(" over ") {
            let after = &l[i + 6..];
            if let Some(j) = after.find(" s") {
                if after[..j].chars().all(|c| c.is_ascii_digit() || c == '.') {
                    l = format!("{} over T{}", &l[..i], &after[j..]);
                }
            }
        }
        out.push_str(&l);
    }
    out
}

/// One scenario: the arguments, nc's `-v` stderr, and the `-vv` lines
/// after each nc line.
struct Case {
    what: &'static str,
    args: Vec<String>,
    /// nc's `-v` stderr (and ncrab's), exactly.
    v: String,
    /// ncrab's `-vv` stderr, times replaced.
    vv: String,
    status: i32,
    /// `--json`: (field path, expected value as JSON text) pairs.
    json: Vec<(&'static str, String)>,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

fn failed(host: &str, port: u16, proto: &str, text: &str) -> String {
    format!("nc: connect to {host} port {port} ({proto}) {text}\n")
}

fn js(v: &str) -> String {
    format!("\"{v}\"")
}

/// Runs a case: `-v` with ncrab and nc.openbsd, `-vv` and `--json` with
/// ncrab; returns the problems found.
fn check(ns: &Netns, c: &Case, nc: Option<&Path>) -> Vec<String> {
    let mut bad = Vec::new();
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let with = |flag: &'static str| {
        let mut a = vec![flag];
        a.extend(&args);
        a
    };
    let got = run_in(ns, &ncrab(), &with("-v"));
    if got.stderr_str() != c.v || got.code() != Some(c.status) {
        bad.push(format!(
            "{}: -v printed {:?} (exit {:?}), want {:?} (exit {})",
            c.what,
            got.stderr_str(),
            got.code(),
            c.v,
            c.status
        ));
    }
    if let Some(nc) = nc {
        let want = run_in(ns, nc, &with("-v"));
        if want.stderr_str() != got.stderr_str() || want.code() != got.code() {
            bad.push(format!(
                "{}: nc.openbsd -v printed {:?} (exit {:?}), ncrab {:?} (exit {:?})",
                c.what,
                want.stderr_str(),
                want.code(),
                got.stderr_str(),
                got.code()
            ));
        }
    }
    let vv = run_in(ns, &ncrab(), &with("-vv"));
    if untimed(&vv.stderr_str()) != c.vv || vv.code() != Some(c.status) {
        bad.push(format!(
            "{}: -vv printed\n{}want\n{}",
            c.what,
            untimed(&vv.stderr_str()),
            c.vv
        ));
    }
    if !c.json.is_empty() {
        // With -v too: a UDP port is probed only with -v, as in nc.
        let mut a = vec!["-v", "--json"];
        a.extend(&args);
        let out = run_in(ns, &ncrab(), &a);
        let stdout = out.stdout_str();
        match json::parse(stdout.lines().next().unwrap_or("")) {
            Err(e) => bad.push(format!("{}: --json {stdout:?}: {e}", c.what)),
            Ok(v) => {
                for (path, want) in &c.json {
                    let got = v.at(path).map(|x| x.to_string());
                    if got.as_deref() != Some(want.as_str()) {
                        bad.push(format!(
                            "{}: --json {path} is {got:?}, want {want} in {stdout}",
                            c.what
                        ));
                    }
                }
            }
        }
    }
    bad
}

fn run_cases(ns: &Netns, cases: &[Case]) {
    let nc = openbsd();
    let nc = nc.as_deref();
    let problems: Vec<String> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|c| sc.spawn(move || check(ns, c, nc)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| vec!["a case panicked".into()]))
            .collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------

const REFUSED: &str = "failed: Connection refused";
const NO_ROUTE: &str = "failed: No route to host";
const NET: &str = "failed: Network is unreachable";
const TIMED_OUT: &str = "timed out: Operation now in progress";

#[test]
fn router_and_server_answers_are_told_apart() {
    let Some(net) = chain() else {
        return;
    };
    // Something listens on the server: the host answers on another port.
    let listener = net.server.run_in(|| {
        TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, OPEN)))
            .map_err(|e| e.to_string())
    });
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            skip_or_fail_in_ci(&format!("cannot listen in the server namespace: {e}"));
            return;
        }
    };
    let router = |kind: &str, dest: &str, port: u16, words: &str, errno: &str| {
        let via = if dest.contains(':') { ROUTER6 } else { ROUTER };
        let line = failed(dest, port, "tcp", errno);
        let text = match kind {
            "host" => format!(
                "{via} (a router on the way) answered {words}: the last router cannot reach the host, it is down or not on that network; check that {dest} is up and its address"
            ),
            "net" => format!(
                "{via} (a router on the way) answered {words}: it has no route to {dest}'s network; check the address and that router's routes"
            ),
            _ => format!(
                "{via} (a router on the way) answered {words}: a firewall there rejects this traffic; check its rules (nft list ruleset)"
            ),
        };
        (line.clone(), format!("{line}\tN ms: {text}\n"), via)
    };
    let mut cases = Vec::new();
    let icmp = [
        (
            "host",
            SERVER,
            HOST_UNREACH,
            "ICMP host unreachable",
            NO_ROUTE,
            "icmp-host-unreachable",
            3,
            1,
        ),
        (
            "net",
            SERVER,
            NET_UNREACH,
            "ICMP network unreachable",
            NET,
            "icmp-net-unreachable",
            3,
            0,
        ),
        (
            "admin",
            SERVER,
            PROHIBITED,
            "ICMP communication administratively prohibited",
            NO_ROUTE,
            "icmp-admin-prohibited",
            3,
            13,
        ),
        (
            "host",
            SERVER6,
            HOST_UNREACH,
            "ICMPv6 address unreachable",
            NO_ROUTE,
            "icmp-host-unreachable",
            1,
            3,
        ),
        (
            "net",
            SERVER6,
            NET_UNREACH,
            "ICMPv6 no route to destination",
            NET,
            "icmp-net-unreachable",
            1,
            0,
        ),
        (
            "admin",
            SERVER6,
            PROHIBITED,
            "ICMPv6 communication administratively prohibited",
            "failed: Permission denied",
            "icmp-admin-prohibited",
            1,
            1,
        ),
    ];
    for (kind, dest, port, words, errno, code, ty, cd) in icmp {
        let (v, vv, via) = router(kind, dest, port, words, errno);
        cases.push(Case {
            what: code,
            args: s(&["-z", dest, &port.to_string()]),
            v,
            vv,
            status: 1,
            json: vec![
                ("diagnosis.code", js(code)),
                ("diagnosis.reporter", js(via)),
                ("diagnosis.role", js("router")),
                ("diagnosis.icmp.type", ty.to_string()),
                ("diagnosis.icmp.code", cd.to_string()),
                ("state", js("filtered")),
            ],
        });
    }
    let rst = failed(SERVER, CLOSED, "tcp", REFUSED);
    cases.push(Case {
        what: "RST from the server",
        args: s(&["-z", SERVER, &CLOSED.to_string()]),
        v: rst.clone(),
        vv: format!(
            "{rst}\tN ms: closed: {SERVER} answered with a TCP reset: nothing listens on port {CLOSED} there, or a firewall rejects with tcp-reset; check that the service runs and on which address (ss -ltn)\n"
        ),
        status: 1,
        json: vec![
            ("diagnosis.code", js("refused")),
            ("diagnosis.reporter", js(SERVER)),
            ("diagnosis.role", js("destination")),
            ("diagnosis.syns", "1".into()),
            ("diagnosis.listeners", "null".into()),
            ("state", js("closed")),
        ],
    });
    // UDP: ICMP port unreachable from the host itself. nc prints nothing.
    cases.push(Case {
        what: "UDP port unreachable from the server",
        args: s(&["-zu", "-w", "1", SERVER, &UDP_CLOSED.to_string()]),
        v: String::new(),
        vv: format!(
            "\tN ms: closed: {SERVER} answered ICMP port unreachable: the host is up but nothing listens on udp port {UDP_CLOSED}; check that the service runs (ss -lun)\n"
        ),
        status: 1,
        json: vec![
            ("diagnosis.code", js("icmp-port-unreachable")),
            ("diagnosis.reporter", js(SERVER)),
            ("diagnosis.role", js("destination")),
            ("diagnosis.icmp.type", "3".into()),
            ("diagnosis.icmp.code", "3".into()),
            ("state", js("closed")),
        ],
    });
    // An address this machine has no route to.
    let unrouted = failed("10.201.0.1", 80, "tcp", NET);
    cases.push(Case {
        what: "unrouted destination",
        args: s(&["-z", "10.201.0.1", "80"]),
        v: unrouted.clone(),
        vv: format!(
            "{unrouted}\tN ms: network unreachable: this machine has no route to 10.201.0.1; check the address and ip route get 10.201.0.1\n"
        ),
        status: 1,
        json: vec![("diagnosis.code", js("no-route")), ("diagnosis.reporter", "null".into())],
    });
    // This host's OUTPUT chain drops: TCP retries in silence (the
    // retransmission that never left tells), UDP's send says EPERM.
    let local = failed(SERVER, LOCAL_DROP, "tcp", TIMED_OUT);
    cases.push(Case {
        what: "local OUTPUT drop (TCP)",
        args: s(&["-z", "-w", "2", SERVER, &LOCAL_DROP.to_string()]),
        v: local.clone(),
        vv: format!(
            "{local}\tN ms: 2 SYNs over T s, none left this host: its firewall drops them (netfilter OUTPUT); check nft list ruleset or iptables -L OUTPUT\n"
        ),
        status: 1,
        json: vec![
            ("diagnosis.code", js("local-firewall")),
            ("diagnosis.syns", "2".into()),
        ],
    });
    cases.push(Case {
        what: "local OUTPUT drop (UDP, EPERM)",
        args: s(&["-zu", "-w", "1", SERVER, &LOCAL_DROP.to_string()]),
        v: String::new(),
        vv: "\tN ms: operation not permitted: this host's firewall refused to send the packets (netfilter OUTPUT); check nft list ruleset or iptables -L OUTPUT\n".into(),
        status: 1,
        json: vec![
            ("diagnosis.code", js("local-firewall")),
            ("state", js("filtered")),
            ("errno", js("EPERM")),
        ],
    });
    // A client (no -z) explains its failure the same way.
    let (v, vv, _) = router(
        "admin",
        SERVER,
        PROHIBITED,
        "ICMP communication administratively prohibited",
        NO_ROUTE,
    );
    cases.push(Case {
        what: "client mode, admin-prohibited",
        args: s(&[SERVER, &PROHIBITED.to_string()]),
        v,
        vv,
        status: 1,
        json: vec![],
    });
    // UDP to the link's broadcast address without -b.
    let bcast = failed("10.79.0.255", 9, "udp", "failed: Permission denied");
    cases.push(Case {
        what: "broadcast without -b",
        args: s(&["-zu", "10.79.0.255", "9"]),
        v: bcast.clone(),
        vv: format!(
            "{bcast}\tN ms: permission denied: 10.79.0.255 is a broadcast address, which needs -b\n"
        ),
        status: 1,
        json: vec![("diagnosis.code", js("broadcast-needs-b"))],
    });
    run_cases(&net.client, &cases);
    drop(listener);
}

#[test]
fn a_privileged_source_port_needs_the_capability() {
    let Some(ns) = Netns::create("dp") else {
        return;
    };
    let Some(setpriv) = find_in_path("setpriv") else {
        skip_or_fail_in_ci("setpriv (util-linux) is not installed");
        return;
    };
    // As nobody, without capabilities, in the namespace.
    let Some(ip) = find_in_path("ip") else {
        return;
    };
    let wrapper = [
        ip.to_string_lossy().into_owned(),
        "netns".into(),
        "exec".into(),
        ns.name.clone(),
        setpriv.to_string_lossy().into_owned(),
        "--reuid=65534".into(),
        "--regid=65534".into(),
        "--clear-groups".into(),
        "{}".into(),
    ];
    let run = |flags: &[&str]| {
        let mut a = flags.to_vec();
        a.extend(["-p", "80", "127.0.0.1", "41000"]);
        Cmd::ncrab(&a).under(&wrapper).run(secs(30))
    };
    let vv = run(&["-zvv"]);
    assert_eq!(
        vv.stderr_str(),
        "nc: bind failed: Permission denied\n\tports below 1024 need root or the CAP_NET_BIND_SERVICE capability; choose a higher -p\n"
    );
    assert_eq!(vv.code(), Some(1));
    let js_out = run(&["-z", "--json"]);
    let v = json::parse(js_out.stdout_str().trim_end()).expect("one JSON line");
    assert_eq!(
        v.at("diagnosis.code").map(|x| x.to_string()),
        Some("\"bind-privileged\"".to_string())
    );
}

#[test]
fn a_dropped_port_counts_its_syns_and_knows_the_host_answers() {
    let Some(net) = chain() else {
        return;
    };
    let listener = net.server.run_in(|| {
        TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, OPEN)))
            .map_err(|e| e.to_string())
    });
    let Ok(listener) = listener else {
        skip_or_fail_in_ci("cannot listen in the server namespace");
        return;
    };
    let nc = openbsd();
    let (d, o) = (DROPPED.to_string(), OPEN.to_string());
    // The DROP first, the open port after it: by the time the DROP's -w
    // ends, the same host has answered on the other port.
    let args = ["-zvv", "-w", "2", SERVER, &d, &o];
    let got = run_in(&net.client, &ncrab(), &args);
    let line = failed(SERVER, DROPPED, "tcp", TIMED_OUT);
    let ok = format!("Connection to {SERVER} {OPEN} port [tcp/*] succeeded!\n");
    assert_eq!(
        untimed(&got.stderr_str()),
        format!(
            "{line}\tN ms: 2 SYNs over T s, none answered, but {SERVER} answers on other ports: a firewall drops this one; check the rules for port {DROPPED} on the host and on the way\n\
             {ok}\tN ms: open: the host accepted the TCP handshake, something listens on this port\n"
        )
    );
    assert_eq!(got.code(), Some(0));
    let counted = net.dropped_syns();
    assert_eq!(counted, Some(2), "the server's DROP rule counted the SYNs");
    // Alone, the same port: nobody answered at all. The kernel's own
    // timeout (tcp_syn_retries 1): its SYN count is the server's.
    let before = net.dropped_syns().unwrap_or(0);
    let out = run_in(&net.client, &ncrab(), &["-z", "--json", SERVER, &d]);
    let after = net.dropped_syns().unwrap_or(0);
    let v = json::parse(out.stdout_str().trim_end()).expect("one JSON line");
    assert_eq!(
        v.at("diagnosis.code").map(|x| x.to_string()),
        Some(js("timeout-no-answer"))
    );
    assert_eq!(
        v.at("diagnosis.syns").map(|x| x.to_string()),
        Some((after - before).to_string()),
        "the SYNs TCP_INFO counted are those the server saw: {}",
        out.stdout_str()
    );
    assert_eq!(v.at("errno").map(|x| x.to_string()), Some(js("ETIMEDOUT")));
    let vv = run_in(&net.client, &ncrab(), &["-zvv", SERVER, &d]);
    let line = failed(SERVER, DROPPED, "tcp", "failed: Connection timed out");
    let n = after - before;
    assert_eq!(
        untimed(&vv.stderr_str()),
        format!(
            "{line}\tN ms: {n} SYNs over T s, none answered: a firewall drops the packets, or the host is down or does not exist on this network; check with tcpdump where they stop\n"
        )
    );
    if let Some(nc) = nc {
        for a in [
            &["-zv", "-w", "2", SERVER, &d, &o][..],
            &["-zv", SERVER, &d],
        ] {
            let mine = run_in(&net.client, &ncrab(), a);
            let theirs = run_in(&net.client, &nc, a);
            assert_eq!(mine.stderr_str(), theirs.stderr_str(), "{a:?}");
            assert_eq!(mine.code(), theirs.code(), "{a:?}");
        }
    }
    drop(listener);
}

// ---------------------------------------------------------------------------
// This host: what listens
// ---------------------------------------------------------------------------

/// This process's command name, as /proc shows it.
fn comm() -> String {
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    comm.trim_end().to_string()
}

/// How the listeners' owner (this process) is named.
fn owner() -> String {
    format!("(pid {}, {})", std::process::id(), comm())
}

#[test]
fn a_refused_local_port_says_what_listens() {
    let Some(ns) = Netns::create("dl") else {
        return;
    };
    if let Err(e) = ns.ip(&["addr", "add", "10.79.9.1/32", "dev", "lo"]) {
        skip_or_fail_in_ci(&format!("cannot add a second local address: {e}"));
        return;
    }
    // Port a: on ::1 only. Port b: on 127.0.0.1 only. Port c: nothing,
    // between a and b. All without a service name.
    let made = ns.run_in(|| {
        for _ in 0..50 {
            let a = unnamed_listener(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
                .map_err(|e| e.to_string())?;
            let pa = a.local_addr().map_err(|e| e.to_string())?.port();
            let (pc, pb) = (pa.wrapping_add(1), pa.wrapping_add(2));
            if pb < pa || service_name(pb).is_some() || service_name(pc).is_some() {
                continue;
            }
            if let Ok(b) = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, pb))) {
                return Ok((a, b, pa, pb, pc));
            }
        }
        Err("no free ports".to_string())
    });
    let (a, b, pa, pb, pc) = match made {
        Ok(x) => x,
        Err(e) => {
            skip_or_fail_in_ci(&format!("cannot listen in the namespace: {e}"));
            return;
        }
    };
    let who = owner();
    let cases = vec![
        Case {
            what: "listener on ::1 only, probed on 127.0.0.1",
            args: s(&["-z", "127.0.0.1", &pa.to_string()]),
            v: failed("127.0.0.1", pa, "tcp", REFUSED),
            vv: format!(
                "{}\tN ms: closed: 127.0.0.1 answered with a TCP reset: nothing listens on port {pa} there, or a firewall rejects with tcp-reset; check that the service runs and on which address (ss -ltn)\n\
                 \tnothing listens on port {pa} of 127.0.0.1; a listener on [::1]:{pa} accepts only IPv6 {who}\n",
                failed("127.0.0.1", pa, "tcp", REFUSED)
            ),
            status: 1,
            json: vec![
                ("diagnosis.code", js("refused")),
                ("diagnosis.listeners.0.address", js(&format!("[::1]:{pa}"))),
                ("diagnosis.listeners.0.pid", std::process::id().to_string()),
            ],
        },
        Case {
            what: "listener on 127.0.0.1 only, probed on a second local address",
            args: s(&["-z", "10.79.9.1", &pb.to_string()]),
            v: failed("10.79.9.1", pb, "tcp", REFUSED),
            vv: format!(
                "{}\tN ms: closed: 10.79.9.1 answered with a TCP reset: nothing listens on port {pb} there, or a firewall rejects with tcp-reset; check that the service runs and on which address (ss -ltn)\n\
                 \tnothing listens on port {pb} of 10.79.9.1; port {pb} listens on 127.0.0.1 only, not on 10.79.9.1 {who}\n",
                failed("10.79.9.1", pb, "tcp", REFUSED)
            ),
            status: 1,
            json: vec![(
                "diagnosis.listeners",
                format!(
                    "[{{\"address\":\"127.0.0.1:{pb}\",\"pid\":{},\"process\":\"{}\"}}]",
                    std::process::id(),
                    comm()
                ),
            )],
        },
        Case {
            what: "nothing on the port, listeners around it",
            args: s(&["-z", "127.0.0.1", &pc.to_string()]),
            v: failed("127.0.0.1", pc, "tcp", REFUSED),
            vv: format!(
                "{}\tN ms: closed: 127.0.0.1 answered with a TCP reset: nothing listens on port {pc} there, or a firewall rejects with tcp-reset; check that the service runs and on which address (ss -ltn)\n\
                 \tnothing listens on tcp port {pc} at all; the nearest listeners are {pa} and {pb}\n",
                failed("127.0.0.1", pc, "tcp", REFUSED)
            ),
            status: 1,
            json: vec![
                ("diagnosis.listeners", "[]".into()),
                ("diagnosis.nearest", format!("[{pa},{pb}]")),
            ],
        },
    ];
    run_cases(&ns, &cases);
    drop((a, b));
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

#[test]
fn names_that_fail_are_told_apart() {
    // A files-only name service: nothing leaves the namespace.
    let Some(files) =
        Netns::sandbox_with_hosts("dn", "127.0.0.1 localhost\n10.79.8.8 v4only.test\n")
    else {
        return;
    };
    let m4 =
        |host: &str, text: &str| format!("nc: getaddrinfo for host \"{host}\" port 80: {text}\n");
    let nx = m4("nosuchhost.test", "Name or service not known");
    let fam = m4("v4only.test", "Name or service not known");
    let mut cases = vec![
        Case {
            what: "a name that does not exist",
            args: s(&["-z", "nosuchhost.test", "80"]),
            v: nx.clone(),
            vv: format!(
                "{nx}\tthe name nosuchhost.test does not exist: check its spelling, /etc/hosts and the DNS (getent hosts nosuchhost.test)\n"
            ),
            status: 1,
            json: vec![
                ("diagnosis.code", js("dns-nxdomain")),
                ("ip", "null".into()),
            ],
        },
        Case {
            what: "a name without an address of the family",
            args: s(&["-z", "-6", "v4only.test", "80"]),
            v: fam.clone(),
            vv: format!(
                "{fam}\tv4only.test has no IPv6 address, only IPv4 ones (10.79.8.8): use -4 instead of -6\n"
            ),
            status: 1,
            json: vec![("diagnosis.code", js("dns-no-address-family"))],
        },
    ];
    let unknown = "nc: port number invalid: nosuchservice\n".to_string();
    cases.push(Case {
        what: "an unknown service",
        args: s(&["-z", "127.0.0.1", "nosuchservice"]),
        v: unknown.clone(),
        vv: format!(
            "{unknown}\tno service named 'nosuchservice' in /etc/services for tcp: give the port number (getent services nosuchservice)\n"
        ),
        status: 1,
        json: vec![],
    });
    run_cases(&files, &cases);

    // The name service asks DNS, and no server answers: the resolver is
    // the namespace's own loopback, where nothing listens.
    let Some(dns) = Netns::sandbox("dd") else {
        return;
    };
    let dir = Path::new("/etc/netns").join(&dns.name);
    let written = std::fs::write(dir.join("nsswitch.conf"), "hosts: files dns\n").and_then(|()| {
        std::fs::write(
            dir.join("resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
    });
    if let Err(e) = written {
        skip_or_fail_in_ci(&format!("cannot configure the namespace's resolver: {e}"));
        return;
    }
    let again = m4("nosuchhost.test", "Temporary failure in name resolution");
    let cases = vec![Case {
        what: "no name server answers",
        args: s(&["-z", "nosuchhost.test", "80"]),
        v: again.clone(),
        vv: format!(
            "{again}\tno name server answered: check the network and /etc/resolv.conf, or try again\n"
        ),
        status: 1,
        json: vec![("diagnosis.code", js("dns-no-answer"))],
    }];
    run_cases(&dns, &cases);
}

// ---------------------------------------------------------------------------
// --banner
// ---------------------------------------------------------------------------

#[test]
fn banner_reports_what_a_server_says_first() {
    let Some(ns) = Netns::create("db") else {
        return;
    };
    let made = ns.run_in(|| {
        let talk = unnamed_listener(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let mute = unnamed_listener(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        Ok::<_, std::io::Error>((talk, mute))
    });
    let (talk, mute) = match made {
        Ok(x) => x,
        Err(e) => {
            skip_or_fail_in_ci(&format!("cannot listen in the namespace: {e}"));
            return;
        }
    };
    let (pt, pm) = (
        talk.local_addr().map(|a| a.port()).unwrap_or(0),
        mute.local_addr().map(|a| a.port()).unwrap_or(0),
    );
    // Every connection gets its own thread: the talker greets with an
    // SSH-like line and a byte that needs escaping, then both hold the
    // line open; what they receive is counted.
    let talker = serve(talk, Some(b"SSH-2.0-Test\x01server\r\nsecond line\r\n"));
    let muter = serve(mute, None);
    let (a, b) = (pt.to_string(), pm.to_string());
    let got = run_in(
        &ns,
        &ncrab(),
        &["-zvv", "--banner=300", "127.0.0.1", &a, &b],
    );
    assert_eq!(
        untimed(&got.stderr_str()),
        format!(
            "Connection to 127.0.0.1 {pt} port [tcp/*] succeeded!\n\
             \tN ms: open: the host accepted the TCP handshake, something listens on this port\n\
             \tbanner: SSH-2.0-Test\\x01server\n\
             Connection to 127.0.0.1 {pm} port [tcp/*] succeeded!\n\
             \tN ms: open: the host accepted the TCP handshake, something listens on this port\n\
             \tno banner: the server sent nothing within 300 ms (it waits for the client to speak first)\n"
        )
    );
    assert_eq!(got.code(), Some(0));
    // The two waits ran side by side, and the silent one took its 300 ms.
    assert!(
        got.elapsed >= Duration::from_millis(300),
        "{:?}",
        got.elapsed
    );
    let out = run_in(
        &ns,
        &ncrab(),
        &["-z", "--json", "--banner=300", "127.0.0.1", &a, &b],
    );
    let stdout = out.stdout_str();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout_str());
    let t = json::parse(lines[0]).expect("JSON");
    let m = json::parse(lines[1]).expect("JSON");
    assert_eq!(
        t.at("banner").map(|x| x.to_string()),
        Some(js("SSH-2.0-Test\\\\x01server"))
    );
    assert_eq!(
        t.at("diagnosis").map(|x| x.to_string()),
        Some("null".into())
    );
    assert_eq!(m.at("banner").map(|x| x.to_string()), Some("null".into()));
    assert_eq!(m.at("state").map(|x| x.to_string()), Some(js("open")));
    // -v alone is nc's line only, and --banner needs -z.
    let plain = run_in(&ns, &ncrab(), &["-zv", "--banner=100", "127.0.0.1", &b]);
    assert_eq!(
        plain.stderr_str(),
        format!("Connection to 127.0.0.1 {pm} port [tcp/*] succeeded!\n")
    );
    let bad = run_in(&ns, &ncrab(), &["--banner", "127.0.0.1", &b]);
    assert_eq!(bad.stderr_str(), "nc: cannot use --banner without -z\n");
    assert_eq!(bad.code(), Some(1));
    // Nothing was sent to either server.
    let (t, m) = (talker.join(), muter.join());
    assert_eq!(
        (t.ok(), m.ok()),
        (Some(0), Some(0)),
        "bytes the servers received"
    );
}

/// Serves `l` for a few seconds, a thread per connection: sends
/// `greeting` (if any), then reads until the client closes. Returns the
/// bytes received from all clients.
fn serve(l: TcpListener, greeting: Option<&'static [u8]>) -> std::thread::JoinHandle<usize> {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        let _ = l.set_nonblocking(true);
        let end = std::time::Instant::now() + Duration::from_secs(4);
        let mut conns = Vec::new();
        while std::time::Instant::now() < end {
            match l.accept() {
                Ok((mut c, _)) => conns.push(std::thread::spawn(move || {
                    let _ = c.set_nonblocking(false);
                    if let Some(g) = greeting {
                        let _ = c.write_all(g);
                    }
                    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut buf = [0u8; 256];
                    let mut n = 0;
                    while let Ok(k) = c.read(&mut buf) {
                        if k == 0 {
                            break;
                        }
                        n += k;
                    }
                    n
                })),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        conns.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}

// ---------------------------------------------------------------------------
// Just enough JSON: objects, arrays, strings, numbers, literals.
// ---------------------------------------------------------------------------

mod json {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Obj(Vec<(String, Value)>),
        Arr(Vec<Value>),
        Str(String),
        /// Numbers and literals, as written.
        Raw(String),
    }

    impl Value {
        /// `a.b.0.c`: object fields and array indexes.
        pub fn at(&self, path: &str) -> Option<&Value> {
            let mut v = self;
            for part in path.split('.') {
                v = match v {
                    Value::Obj(fields) => fields.iter().find(|(k, _)| k == part).map(|(_, v)| v)?,
                    Value::Arr(items) => items.get(part.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            Some(v)
        }
    }

    impl std::fmt::Display for Value {
        /// Compact JSON (strings re-escaped minimally).
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Value::Raw(r) => f.write_str(r),
                Value::Str(s) => {
                    f.write_str("\"")?;
                    for c in s.chars() {
                        match c {
                            '"' => f.write_str("\\\"")?,
                            '\\' => f.write_str("\\\\")?,
                            c => write!(f, "{c}")?,
                        }
                    }
                    f.write_str("\"")
                }
                Value::Arr(items) => {
                    f.write_str("[")?;
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{v}")?;
                    }
                    f.write_str("]")
                }
                Value::Obj(fields) => {
                    f.write_str("{")?;
                    for (i, (k, v)) in fields.iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "\"{k}\":{v}")?;
                    }
                    f.write_str("}")
                }
            }
        }
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }
        fn eat(&mut self, c: u8) -> Result<(), String> {
            if self.peek() == Some(c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected '{}' at {}", c as char, self.i))
            }
        }
        fn string(&mut self) -> Result<String, String> {
            self.eat(b'"')?;
            let mut out = Vec::new();
            loop {
                let c = self.peek().ok_or("unterminated string")?;
                self.i += 1;
                match c {
                    b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                    b'\\' => {
                        let e = self.peek().ok_or("bad escape")?;
                        self.i += 1;
                        match e {
                            b'"' | b'\\' | b'/' => out.push(e),
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'u' => {
                                let hex = self.s.get(self.i..self.i + 4).ok_or("bad \\u")?;
                                let v = u32::from_str_radix(
                                    std::str::from_utf8(hex).map_err(|e| e.to_string())?,
                                    16,
                                )
                                .map_err(|e| e.to_string())?;
                                let ch = char::from_u32(v).ok_or("bad \\u")?;
                                out.extend_from_slice(ch.to_string().as_bytes());
                                self.i += 4;
                            }
                            _ => return Err("bad escape".into()),
                        }
                    }
                    c if c < 0x20 => return Err("control character in a string".into()),
                    c => out.push(c),
                }
            }
        }
        fn value(&mut self) -> Result<Value, String> {
            match self.peek().ok_or("end of input")? {
                b'"' => Ok(Value::Str(self.string()?)),
                b'{' => {
                    self.i += 1;
                    let mut fields = Vec::new();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Ok(Value::Obj(fields));
                    }
                    loop {
                        let k = self.string()?;
                        self.eat(b':')?;
                        let v = self.value()?;
                        if fields.iter().any(|(key, _)| *key == k) {
                            return Err(format!("duplicate key {k}"));
                        }
                        fields.push((k, v));
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Value::Obj(fields));
                            }
                            _ => return Err(format!("expected , or }} at {}", self.i)),
                        }
                    }
                }
                b'[' => {
                    self.i += 1;
                    let mut items = Vec::new();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        return Ok(Value::Arr(items));
                    }
                    loop {
                        items.push(self.value()?);
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Arr(items));
                            }
                            _ => return Err(format!("expected , or ] at {}", self.i)),
                        }
                    }
                }
                _ => {
                    let start = self.i;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
                    {
                        self.i += 1;
                    }
                    let raw =
                        std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                    let ok = matches!(raw, "null" | "true" | "false") || raw.parse::<f64>().is_ok();
                    if ok {
                        Ok(Value::Raw(raw.to_string()))
                    } else {
                        Err(format!("bad value {raw:?} at {start}"))
                    }
                }
            }
        }
    }

    /// Parses one compact JSON line.
    pub fn parse(line: &str) -> Result<Value, String> {
        let mut p = P {
            s: line.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        if p.i != p.s.len() {
            return Err("text after the value".into());
        }
        Ok(v)
    }
}

/// A UDP client with a terminal on stdin probes as nc does (`-uv`); a
/// refused probe is silent with `-v`, explained with `-vv`.
#[test]
fn a_refused_udp_client_probe_is_explained() {
    let Some(ns) = Netns::create("du") else {
        return;
    };
    let Ok(pty) = Pty::open() else {
        skip_or_fail_in_ci("no pseudo-terminal");
        return;
    };
    let run = |v: &str| {
        Cmd::ncrab(&[v, "-w1", "127.0.0.1", "41006"])
            .stdin(Input::Fd(pty.open_slave()))
            .netns(&ns)
            .run(secs(30))
    };
    run("-uv").assert(1, b"", b"");
    let vv = run("-uvv");
    assert_eq!(
        untimed(&vv.stderr_str()),
        "\tN ms: closed: 127.0.0.1 answered ICMP port unreachable: the host is up but nothing listens on udp port 41006; check that the service runs (ss -lun)\n\
         \tnothing listens on udp port 41006, nor on any other\n"
    );
    assert_eq!(vv.code(), Some(1));
}
