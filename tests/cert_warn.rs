//! `-zc --cert-warn DAYS`: a scan as a certificate monitoring check
//! (docs/compatibility.md §A.3). A port whose certificate expires within
//! DAYS gets one line and fails the run; a port whose handshake or
//! certificate check fails gets nc's failure line even without `-v`;
//! `--json` says `chain_ok`. The servers are ncrab's own TLS listeners
//! (`-lkc`) with the test certificates (tests/common/certs.rs: `srv` is
//! valid for 10 days, `stranger` is issued by a CA the scan does not
//! trust, `expired` has expired).

mod common;
use common::*;

use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// A TLS listener (`-lkc`) with certificate `name`, on a free port.
fn listener(net: &Net, c: &Certs, name: &str) -> (Proc, String) {
    let port = free_port();
    let p = port.to_string();
    let args = c.listener_args(name, &["-k"], &[], &p);
    let proc = net.spawn_listening(net.nc(&args), port);
    (proc, p)
}

/// The one line of a certificate of 127.0.0.1 that expires within the
/// limit: its text up to the date, and that a UTC date follows.
fn assert_expiring_line(line: &str, port: &str, when: &str) {
    let head = format!("nc: certificate of 127.0.0.1 port {port} (tcp) {when}, on ");
    assert!(
        line.starts_with(&head),
        "{line:?} does not start with {head:?}"
    );
    let date = &line[head.len()..];
    assert!(
        date.len() == "2026-01-01 00:00:00 UTC".len() && date.ends_with(" UTC"),
        "{line:?}"
    );
}

#[test]
fn a_certificate_within_the_limit_fails_the_run_with_one_line() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("cert-warn");
    let (mut l, port) = listener(&net, &c, "srv");
    let ca = c.path("ca.pem");
    // srv is valid for 10 days (less the seconds since): 9 whole days.
    let o = net
        .nc(&["-zc", "-R", &ca, "--cert-warn", "30", "127.0.0.1", &port])
        .run(LIMIT);
    assert_eq!(o.stdout_str(), "", "{o}");
    let err = o.stderr_str();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{o}");
    assert_expiring_line(lines[0], &port, "expires in 9 days");
    assert_eq!(o.code(), Some(1), "{o}");

    // With -v, nc's line first, then the warning.
    let o = net
        .nc(&["-zvc", "-R", &ca, "--cert-warn", "10", "127.0.0.1", &port])
        .run(LIMIT);
    let err = o.stderr_str();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{o}");
    assert_eq!(
        lines[0],
        format!("Connection to 127.0.0.1 {port} port [tcp/*] succeeded!")
    );
    assert_expiring_line(lines[1], &port, "expires in 9 days");
    assert_eq!(o.code(), Some(1), "{o}");

    // A limit it is outside of: nc's silence and status.
    for days in ["9", "0"] {
        let o = net
            .nc(&["-zc", "-R", &ca, "--cert-warn", days, "127.0.0.1", &port])
            .run(LIMIT);
        o.assert(0, b"", b"");
    }
    l.kill();
}

#[test]
fn a_certificate_that_does_not_verify_gets_its_line_without_v() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("cert-warn-bad");
    let (mut good, gp) = listener(&net, &c, "srv");
    let (mut bad, bp) = listener(&net, &c, "stranger");
    let ca = c.path("ca.pem");
    let args = [
        "-zc",
        "-R",
        &ca,
        "--cert-warn",
        "5",
        "--json",
        "127.0.0.1",
        &gp,
        &bp,
    ];
    let o = net.nc(&args).run(LIMIT);
    let want = format!(
        "nc: connect to 127.0.0.1 port {bp} (tcp) failed: tls handshake failed \
         (certificate verification failed: unknown issuer (give the issuing CA with -R))\n"
    );
    assert_eq!(o.stderr_str(), want, "{o}");
    let out = o.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{o}");
    assert!(
        lines[0].contains("\"state\":\"open\"")
            && lines[0].contains("\"days_left\":9,")
            && lines[0].contains("\"chain_ok\":true,"),
        "{out}"
    );
    assert!(
        lines[1].contains("\"state\":\"error\"") && lines[1].contains(",\"chain_ok\":false}"),
        "{out}"
    );
    // One open port is nc's success; the certificate fails the run.
    assert_eq!(o.code(), Some(1), "{o}");

    // Without --cert-warn the same scan is nc's: silent, status 0.
    let o = net
        .nc(&["-zc", "-R", &ca, "127.0.0.1", &gp, &bp])
        .run(LIMIT);
    o.assert(0, b"", b"");
    good.kill();
    bad.kill();
}

#[test]
fn an_expired_certificate_under_noverify_and_a_hosts_list() {
    let Some(c) = certs() else { return };
    if !is_ncrab() {
        return;
    }
    let net = Net::new("cert-warn-exp");
    let (mut l, port) = listener(&net, &c, "expired");
    let dir = TempDir::new("cert-warn-hosts");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "# monitored\n127.0.0.1\n").unwrap();
    let hosts = hosts.to_string_lossy().into_owned();
    let o = net
        .nc(&[
            "-zc",
            "-T",
            "noverify",
            "--cert-warn",
            "1",
            "--json",
            "--hosts",
            &hosts,
            &port,
        ])
        .run(LIMIT);
    let err = o.stderr_str();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{o}");
    assert_expiring_line(lines[0], &port, "has expired");
    // noverify checked nothing: chain_ok is unknown.
    assert!(o.stdout_str().contains(",\"chain_ok\":null,"), "{o}");
    assert_eq!(o.code(), Some(1), "{o}");
    l.kill();
}

#[test]
fn cert_warn_needs_a_tls_scan_and_a_number_of_days() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-z", "--cert-warn", "5", "127.0.0.1", "1"],
            "nc: you must specify -c to use --cert-warn\n",
        ),
        (
            &["-c", "--cert-warn", "5", "127.0.0.1", "1"],
            "nc: --cert-warn needs -z\n",
        ),
        (
            &["-zc", "--cert-warn", "x", "127.0.0.1", "1"],
            "nc: cert-warn invalid: x\n",
        ),
        (
            &["-zc", "--cert-warn", "36501", "127.0.0.1", "1"],
            "nc: cert-warn too large: 36501\n",
        ),
        (
            &["-zc", "--cert-warn", "-1", "127.0.0.1", "1"],
            "nc: cert-warn too small: -1\n",
        ),
    ];
    if !is_ncrab() {
        return;
    }
    for (args, want) in cases {
        Cmd::nc(args).run(LIMIT).assert(1, b"", want.as_bytes());
    }
}
