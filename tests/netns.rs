//! Connect failures that need a network of our own (docs/compatibility.md
//! §3.3-3.4, §12 rows 24-25), built in a private pair of network namespaces:
//!
//! - `A` has `vA` 10.200.0.1/24, joined by a veth pair to `B` (`vB`
//!   10.200.0.2/24). A permanent neighbour entry sends 10.200.0.3 to a MAC
//!   address nobody owns, so SYNs to it vanish: a silent drop.
//! - `A` has no default route: 10.201.0.1 and 2001:db8::1 are unreachable.
//! - `A` has local `unreachable`, `prohibit` and `blackhole` routes.
//!
//! Nothing leaves the namespaces; they are deleted when the test ends.

mod common;
use common::*;

struct Net {
    a: Netns,
    _b: Netns,
}

fn build() -> Option<Net> {
    let a = Netns::sandbox("nsA")?;
    let b = Netns::create("nsB")?;
    let steps: Vec<Vec<&str>> = vec![vec![
        "link", "add", "vA", "netns", &a.name, "type", "veth", "peer", "name", "vB", "netns",
        &b.name,
    ]];
    for s in &steps {
        if let Err(e) = ip(s) {
            skip_or_fail_in_ci(&format!("cannot create a veth pair: {e}"));
            return None;
        }
    }
    let a_steps: &[&[&str]] = &[
        &["addr", "add", "10.200.0.1/24", "dev", "vA"],
        &["link", "set", "vA", "up"],
        &[
            "neigh",
            "add",
            "10.200.0.3",
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "vA",
            "nud",
            "permanent",
        ],
        &["route", "add", "unreachable", "10.200.9.0/24"],
        &["route", "add", "prohibit", "10.200.10.0/24"],
        &["route", "add", "blackhole", "10.200.11.0/24"],
    ];
    let b_steps: &[&[&str]] = &[
        &["addr", "add", "10.200.0.2/24", "dev", "vB"],
        &["link", "set", "vB", "up"],
    ];
    for s in a_steps {
        if let Err(e) = a.ip(s) {
            skip_or_fail_in_ci(&format!("cannot configure namespace: {e}"));
            return None;
        }
    }
    for s in b_steps {
        if let Err(e) = b.ip(s) {
            skip_or_fail_in_ci(&format!("cannot configure namespace: {e}"));
            return None;
        }
    }
    Some(Net { a, _b: b })
}

/// Row 24: a silently dropped SYN with `-w 1` times out after ~1 s with the
/// stale-errno text; without -v the failure is silent.
#[test]
fn row24_dropped_syn_times_out() {
    let Some(net) = build() else { return };
    let o = Cmd::nc(&["-zv", "-w", "1", "10.200.0.3", "80"])
        .netns(&net.a)
        .run(secs(6));
    o.assert(
        1,
        b"",
        b"nc: connect to 10.200.0.3 port 80 (tcp) timed out: Operation now in progress\n",
    );
    o.assert_elapsed_between(ms(800), secs(4));

    let o = Cmd::nc(&["-z", "-w", "1", "10.200.0.3", "80"])
        .netns(&net.a)
        .run(secs(6));
    o.assert(1, b"", b"");
}

/// Two dropped ports: one line each, in order (ncrab may probe them
/// concurrently; the report is the same).
#[test]
fn dropped_ports_report_in_order() {
    let Some(net) = build() else { return };
    let o = Cmd::nc(&["-zv", "-w", "1", "10.200.0.3", "80", "81"])
        .netns(&net.a)
        .run(secs(8));
    o.assert(
        1,
        b"",
        b"nc: connect to 10.200.0.3 port 80 (tcp) timed out: Operation now in progress\n\
          nc: connect to 10.200.0.3 port 81 (tcp) timed out: Operation now in progress\n",
    );
}

/// Row 25 and the local route errors: immediate failures with the errno.
#[test]
fn row25_no_route_and_local_route_errors() {
    let Some(net) = build() else { return };
    let cases: &[(&[&str], &str)] = &[
        (
            &["-v", "10.201.0.1", "80"],
            "nc: connect to 10.201.0.1 port 80 (tcp) failed: Network is unreachable\n",
        ),
        (
            &["-v", "2001:db8::1", "80"],
            "nc: connect to 2001:db8::1 port 80 (tcp) failed: Network is unreachable\n",
        ),
        (
            &["-zv", "10.200.9.1", "80"],
            "nc: connect to 10.200.9.1 port 80 (tcp) failed: No route to host\n",
        ),
        (
            &["-zv", "10.200.10.1", "80"],
            "nc: connect to 10.200.10.1 port 80 (tcp) failed: Permission denied\n",
        ),
        (
            &["-zv", "10.200.11.1", "80"],
            "nc: connect to 10.200.11.1 port 80 (tcp) failed: Invalid argument\n",
        ),
        (&["10.201.0.1", "80"], ""),
    ];
    let mut fails = Vec::new();
    for (args, err) in cases {
        let o = Cmd::nc(args).netns(&net.a).run(secs(5));
        if o.code() != Some(1)
            || o.stderr != err.as_bytes()
            || !o.stdout.is_empty()
            || o.elapsed > secs(2)
        {
            fails.push(format!(
                "nc {}: expected exit 1 at once, stderr {}; got {o}",
                args.join(" "),
                escape(err.as_bytes())
            ));
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// The namespaces are gone after the test.
#[test]
fn namespaces_are_cleaned_up() {
    let name;
    {
        let Some(net) = build() else { return };
        name = net.a.name.clone();
        assert!(std::path::Path::new(&format!("/run/netns/{name}")).exists());
    }
    assert!(
        !std::path::Path::new(&format!("/run/netns/{name}")).exists(),
        "namespace {name} left behind"
    );
    assert!(
        !std::path::Path::new(&format!("/etc/netns/{name}")).exists(),
        "/etc/netns/{name} left behind"
    );
}
