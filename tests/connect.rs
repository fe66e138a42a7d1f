//! Client mode: connecting, scanning and the report lines
//! (docs/compatibility.md §2, §3, §4, §5; §12 rows 15-23, 26-28, 37; rows 34-36
//! are in eof.rs).
//!
//! Every test with a listener runs in its own private network namespace
//! (see `Net` in common): files-only name service, `localhost` = ::1 and
//! 127.0.0.1, and no stray connections. Rows that need well-known ports
//! (8080 `http-alt`, 22 `ssh`, closed 9, 20, 21, 23) also take a
//! process-wide lock and skip, with a reason, when the port cannot be
//! arranged (only possible when falling back to the host's network).

mod common;
use common::*;

/// Arrange `open` listeners and `closed` ports on 127.0.0.1, or skip.
fn arrange(net: &Net, open: &[u16], closed: &[u16]) -> Option<Vec<FixedListener>> {
    let mut ls = Vec::new();
    for p in open {
        match net.fixed_listener(&format!("127.0.0.1:{p}")) {
            Ok(l) => ls.push(l),
            Err(e) => {
                skip(&e);
                return None;
            }
        }
    }
    for p in closed {
        if let Err(e) = net.ensure_closed(&format!("127.0.0.1:{p}")) {
            skip(&e);
            return None;
        }
    }
    Some(ls)
}

fn refused(host: &str, port: u16) -> String {
    format!("nc: connect to {host} port {port} (tcp) failed: Connection refused\n")
}

// --- rows 15-23: scanning --------------------------------------------------

#[test]
fn row15_16_closed_port() {
    let net = Net::new("row15_16_close");
    let _g = fixed_ports_lock();
    let Some(_l) = arrange(&net, &[], &[9]) else {
        return;
    };
    net.nc(&["-z", "127.0.0.1", "9"])
        .run(secs(5))
        .assert(1, b"", b"");
    net.nc(&["-zv", "127.0.0.1", "9"]).run(secs(5)).assert(
        1,
        b"",
        refused("127.0.0.1", 9).as_bytes(),
    );
}

#[test]
fn row17_to_20_open_port_with_service_name() {
    let net = Net::new("row17_to_20_op");
    let _g = fixed_ports_lock();
    let Some(_l) = arrange(&net, &[8080], &[]) else {
        return;
    };
    net.nc(&["-z", "127.0.0.1", "8080"])
        .run(secs(5))
        .assert(0, b"", b"");
    net.nc(&["-zv", "127.0.0.1", "8080"]).run(secs(5)).assert(
        0,
        b"",
        b"Connection to 127.0.0.1 8080 port [tcp/http-alt] succeeded!\n",
    );
    net.nc(&["-zvn", "127.0.0.1", "8080"]).run(secs(5)).assert(
        0,
        b"",
        b"Connection to 127.0.0.1 8080 port [tcp/*] succeeded!\n",
    );
    net.nc(&["-zv", "127.1", "8080"]).run(secs(5)).assert(
        0,
        b"",
        b"Connection to 127.1 (127.0.0.1) 8080 port [tcp/http-alt] succeeded!\n",
    );
    // A service name as the port, and -n with it.
    net.nc(&["-zv", "127.0.0.1", "http-alt"])
        .run(secs(5))
        .assert(
            0,
            b"",
            b"Connection to 127.0.0.1 8080 port [tcp/http-alt] succeeded!\n",
        );
    net.nc(&["-zvn", "127.0.0.1", "http-alt"])
        .run(secs(5))
        .assert(
            0,
            b"",
            b"Connection to 127.0.0.1 8080 port [tcp/*] succeeded!\n",
        );
}

fn localhost_has_v4_and_v6() -> bool {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let has = |ip: &str| {
        hosts.lines().any(|l| {
            let mut w = l.split('#').next().unwrap_or("").split_whitespace();
            w.next() == Some(ip) && w.any(|n| n == "localhost")
        })
    };
    has("127.0.0.1") && has("::1")
}

/// Row 21: every address of a name is tried, each with its own line. The
/// private namespace's /etc/hosts lists localhost as ::1 and 127.0.0.1; on
/// the host's network the host's /etc/hosts must do so.
#[test]
fn row21_localhost_tries_v6_then_v4() {
    let net = Net::new("row21");
    let expected = "nc: connect to localhost (::1) port 9 (tcp) failed: Connection refused\n\
                    nc: connect to localhost (127.0.0.1) port 9 (tcp) failed: Connection refused\n";
    if net.is_host() && !localhost_has_v4_and_v6() {
        return skip("/etc/hosts does not map localhost to both ::1 and 127.0.0.1");
    }
    let _g = fixed_ports_lock();
    let Some(_l) = arrange(&net, &[], &[9]) else {
        return;
    };
    if let Err(e) = net.ensure_closed("[::1]:9") {
        return skip(&e);
    }
    net.nc(&["-zv", "localhost", "9"])
        .run(secs(5))
        .assert(1, b"", expected.as_bytes());
}

#[test]
fn row22_descending_range_scanned_ascending() {
    let net = Net::new("row22_descendi");
    let _g = fixed_ports_lock();
    let Some(_l) = arrange(&net, &[22], &[20, 21, 23]) else {
        return;
    };
    let o = net.nc(&["-zv", "127.0.0.1", "23-20"]).run(secs(10));
    o.assert(
        0,
        b"",
        format!(
            "{}{}Connection to 127.0.0.1 22 port [tcp/ssh] succeeded!\n{}",
            refused("127.0.0.1", 20),
            refused("127.0.0.1", 21),
            refused("127.0.0.1", 23)
        )
        .as_bytes(),
    );
}

#[test]
fn row23_service_names_and_numbers_in_order() {
    let net = Net::new("row23_service_");
    let _g = fixed_ports_lock();
    let Some(_l) = arrange(&net, &[8080, 22], &[9]) else {
        return;
    };
    let o = net
        .nc(&["-zv", "127.0.0.1", "http-alt", "9", "ssh"])
        .run(secs(10));
    o.assert(
        0,
        b"",
        format!(
            "Connection to 127.0.0.1 8080 port [tcp/http-alt] succeeded!\n{}Connection to 127.0.0.1 22 port [tcp/ssh] succeeded!\n",
            refused("127.0.0.1", 9)
        )
        .as_bytes(),
    );
}

/// Ports are scanned in argument order, duplicates kept; the status is 0
/// when any port connected, 1 when none did.
#[test]
fn port_list_order_and_status() {
    let net = Net::new("port_list_orde");
    let s = net.server("127.0.0.1:0", 3, |_c| {});
    let open = s.port();
    let closed = free_port();
    let o = net
        .nc(&[
            "-zv",
            "127.0.0.1",
            &closed.to_string(),
            &open.to_string(),
            &closed.to_string(),
            &open.to_string(),
        ])
        .run(secs(10));
    let ok = format!("Connection to 127.0.0.1 {open} port [tcp/*] succeeded!\n");
    let no = refused("127.0.0.1", closed);
    o.assert(0, b"", format!("{no}{ok}{no}{ok}").as_bytes());

    let c2 = free_port();
    let o = net
        .nc(&["-zv", "127.0.0.1", &closed.to_string(), &c2.to_string()])
        .run(secs(10));
    o.assert(
        1,
        b"",
        format!("{no}{}", refused("127.0.0.1", c2)).as_bytes(),
    );
}

/// A range that mixes open and closed ports, ascending.
#[test]
fn range_of_ephemeral_ports() {
    let net = Net::new("range_of_ephem");
    // Two adjacent ports, both ours (free_port hands them out in order):
    // lo listening, lo+1 closed.
    for _ in 0..20 {
        let lo = free_port();
        if free_port() != lo + 1 {
            continue;
        }
        let _l = net.listen(&format!("127.0.0.1:{lo}")).unwrap();
        let spec = format!("{}-{}", lo + 1, lo);
        let o = net.nc(&["-zvn", "127.0.0.1", &spec]).run(secs(10));
        o.assert(
            0,
            b"",
            format!(
                "Connection to 127.0.0.1 {lo} port [tcp/*] succeeded!\n{}",
                refused("127.0.0.1", lo + 1)
            )
            .as_bytes(),
        );
        return;
    }
    skip("no adjacent open/closed port pair found");
}

// --- IPv6, names, -n ---------------------------------------------------------

#[test]
fn ipv6_loopback() {
    let net = Net::new("ipv6_loopback");
    let Ok(l) = net.listen("[::1]:0") else {
        return skip("no IPv6 loopback");
    };
    let p = l.local_addr().unwrap().port();
    let s = Server::start_on(l, 2, |_c| {});
    net.nc(&["-zv", "::1", &p.to_string()]).run(secs(5)).assert(
        0,
        b"",
        format!("Connection to ::1 {p} port [tcp/*] succeeded!\n").as_bytes(),
    );
    net.nc(&["-zv", "0::1", &p.to_string()])
        .run(secs(5))
        .assert(
            0,
            b"",
            format!("Connection to 0::1 (::1) {p} port [tcp/*] succeeded!\n").as_bytes(),
        );
    drop(s);
    let c = free_port();
    if net.ensure_closed(&format!("[::1]:{c}")).is_ok() {
        net.nc(&["-zv", "::1", &c.to_string()]).run(secs(5)).assert(
            1,
            b"",
            refused("::1", c).as_bytes(),
        );
    }
}

#[test]
fn n_flag_refuses_names() {
    let p = free_port();
    Cmd::nc(&["-zvn", "localhost", &p.to_string()])
        .run(secs(5))
        .assert(
            1,
            b"",
            format!("nc: getaddrinfo for host \"localhost\" port {p}: Name or service not known\n")
                .as_bytes(),
        );
    // glibc still reads 127.1 as a numeric address under -n; with -n the
    // `(IP)` part is never shown.
    Cmd::nc(&["-zvn", "127.1", &p.to_string()])
        .run(secs(5))
        .assert(1, b"", refused("127.1", p).as_bytes());
    Cmd::nc(&["-zv", "127.1", &p.to_string()])
        .run(secs(5))
        .assert(1, b"", refused("127.1 (127.0.0.1)", p).as_bytes());
}

/// Row 26 and its mirror: family mismatches.
#[test]
fn row26_address_family_mismatch() {
    Cmd::nc(&["-v", "-6", "127.0.0.1", "80"]).run(secs(5)).assert(
        1,
        b"",
        b"nc: getaddrinfo for host \"127.0.0.1\" port 80: Address family for hostname not supported\n",
    );
    Cmd::nc(&["-v", "-4", "::1", "80"]).run(secs(5)).assert(
        1,
        b"",
        b"nc: getaddrinfo for host \"::1\" port 80: Address family for hostname not supported\n",
    );
    // A lookup failure aborts the rest of the port list.
    Cmd::nc(&["-zv", "-6", "127.0.0.1", "1", "2", "3"]).run(secs(5)).assert(
        1,
        b"",
        b"nc: getaddrinfo for host \"127.0.0.1\" port 1: Address family for hostname not supported\n",
    );
}

/// Row 27, only in a private namespace whose NSS is files-only: on the
/// host the lookup could reach a DNS server.
#[test]
fn row27_unknown_host() {
    let net = Net::new("row27");
    if net.is_host() {
        return skip("no private namespace: an unknown name could cause a DNS query");
    }
    let expected =
        b"nc: getaddrinfo for host \"nosuchhost.invalid\" port 80: Name or service not known\n";
    net.nc(&["-v", "nosuchhost.invalid", "80"])
        .run(secs(5))
        .assert(1, b"", expected);
    // Fatal, so printed even without -v.
    net.nc(&["-z", "nosuchhost.invalid", "80"])
        .run(secs(5))
        .assert(1, b"", expected);
}

// --- source address and port (-s, -p) ----------------------------------------

#[test]
fn row28_source_port_in_use() {
    let net = Net::new("row28_source_p");
    let _g = fixed_ports_lock();
    let Some(_l) = arrange(&net, &[22, 8080], &[]) else {
        return;
    };
    net.nc(&["-v", "-p", "22", "127.0.0.1", "8080"])
        .run(secs(5))
        .assert(1, b"", b"nc: bind failed: Address already in use\n");
}

#[test]
fn source_bind_errors() {
    let net = Net::new("source_bind_er");
    let busy = net.server("127.0.0.1:0", 1, |_c| {});
    let target = net.server("127.0.0.1:0", 1, |_c| {});
    let t = target.port_str();
    net.nc(&["-v", "-p", &busy.port_str(), "127.0.0.1", &t])
        .run(secs(5))
        .assert(1, b"", b"nc: bind failed: Address already in use\n");
    net.nc(&["-v", "-p", "abc", "127.0.0.1", &t])
        .run(secs(5))
        .assert(
            1,
            b"",
            b"nc: getaddrinfo: Servname not supported for ai_socktype\n",
        );
    net.nc(&["-v", "-s", "::1", "127.0.0.1", &t])
        .run(secs(5))
        .assert(
            1,
            b"",
            b"nc: getaddrinfo: Address family for hostname not supported\n",
        );
    // A local bind only: 10.9.9.9 is not an address of this host.
    net.nc(&["-v", "-s", "10.9.9.9", "127.0.0.1", &t])
        .run(secs(5))
        .assert(
            1,
            b"",
            b"nc: bind failed: Cannot assign requested address\n",
        );
}

/// `-s` and `-p` are used as the client's source.
#[test]
fn source_address_and_port_are_used() {
    let net = Net::new("source_address");
    let s = net.one(sink());
    let sp = free_port();
    let o = net
        .nc(&[
            "-N",
            "-s",
            "127.0.0.2",
            "-p",
            &sp.to_string(),
            "127.0.0.1",
            &s.port_str(),
        ])
        .stdin_bytes(b"x")
        .run(secs(5));
    o.assert(0, b"", b"");
    assert!(s.wait_done(secs(5)));
    let peer = s.peers()[0];
    assert_eq!(
        peer.to_string(),
        format!("127.0.0.2:{sp}"),
        "the server saw the wrong source address"
    );
}

/// `-zv -p P host X X`: nc.openbsd reports the first success, then dies on
/// the second bind (TIME_WAIT) with exit 1; ncrab (departure 8) sets
/// SO_REUSEADDR on the client bind, so both succeed and the status is 0.
#[test]
fn source_port_with_two_ports() {
    let net = Net::new("source_port_wi");
    let s = net.server("127.0.0.1:0", 2, |mut c| {
        c.read_to_eof(secs(5));
    });
    let p = s.port_str();
    let sp = free_port().to_string();
    let o = net
        .nc(&["-zv", "-p", &sp, "127.0.0.1", &p, &p])
        .run(secs(10));
    let ok = format!("Connection to 127.0.0.1 {p} port [tcp/*] succeeded!\n");
    if is_ncrab() {
        o.assert(0, b"", format!("{ok}{ok}").as_bytes());
    } else {
        o.assert(
            1,
            b"",
            format!("{ok}nc: bind failed: Address already in use\n").as_bytes(),
        );
    }
}

// --- program name --------------------------------------------------------------

#[test]
fn message_prefix_is_argv0_basename() {
    let p = free_port();
    let o = Cmd::nc(&["-zv", "127.0.0.1", &p.to_string()])
        .arg0("/x/y")
        .run(secs(5));
    o.assert(
        1,
        b"",
        format!("y: connect to 127.0.0.1 port {p} (tcp) failed: Connection refused\n").as_bytes(),
    );
    let o = Cmd::nc(&["-zv", "127.0.0.1", &p.to_string()])
        .arg0("nc.openbsd")
        .run(secs(5));
    o.assert(
        1,
        b"",
        format!("nc.openbsd: connect to 127.0.0.1 port {p} (tcp) failed: Connection refused\n")
            .as_bytes(),
    );
}

// --- data mode: row 37 ------------------------------------------------------

/// Row 37: -C turns LF into CR LF on the way out.
#[test]
fn row37_crlf() {
    let net = Net::new("row37_crlf");
    let cases: &[(&[u8], &[u8])] = &[
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\n", b"a\r\nb\r\n"),
        (b"\n\n", b"\r\n\r\n"),
        (b"nolf", b"nolf"),
        (b"x\r\r\n", b"x\r\r\n"),
        (b"cr\ronly", b"cr\ronly"),
    ];
    for (input, wire) in cases {
        let s = net.one(sink());
        let o = net
            .nc(&["-N", "-C", "127.0.0.1", &s.port_str()])
            .stdin_bytes(input)
            .run(secs(5));
        o.assert(0, b"", b"");
        assert!(s.wait_done(secs(5)));
        assert_bytes(
            &format!("sink received for input {}", escape(input)),
            wire,
            &s.received(),
        );
    }
}

/// A CR at the end of one read and the LF at the start of the next:
/// nc.openbsd checks per buffer and sends CR CR LF; ncrab (departure 12)
/// sees the stream and leaves the existing CRLF alone.
#[test]
fn crlf_split_across_reads() {
    let net = Net::new("crlf_split");
    let s = net.one(sink());
    let chunks = vec![(ms(0), b"a\r".to_vec()), (ms(300), b"\nb\n".to_vec())];
    let o = net
        .nc(&["-N", "-C", "127.0.0.1", &s.port_str()])
        .stdin(Input::Slow(chunks))
        .run(secs(5));
    o.assert(0, b"", b"");
    assert!(s.wait_done(secs(5)));
    let expected: &[u8] = if is_ncrab() {
        b"a\r\nb\r\n"
    } else {
        b"a\r\r\nb\r\n"
    };
    assert_bytes("sink received", expected, &s.received());
}

/// -C changes only the outgoing direction.
#[test]
fn crlf_leaves_incoming_data_alone() {
    let net = Net::new("crlf_leaves_in");
    let s = net.one(banner_then_fin(b"in\nx\n"));
    let o = net
        .nc(&["-C", "127.0.0.1", &s.port_str()])
        .stdin_bytes(b"")
        .run(secs(5));
    o.assert(0, b"in\nx\n", b"");
}

/// The -v success line comes before any data, on stderr.
#[test]
fn verbose_success_line_in_data_mode() {
    let net = Net::new("verbose_succes");
    let s = net.one(banner_then_fin(b"hello\n"));
    let p = s.port_str();
    let o = net
        .nc(&["-v", "127.0.0.1", &p])
        .stdin_bytes(b"")
        .run(secs(5));
    o.assert(
        0,
        b"hello\n",
        format!("Connection to 127.0.0.1 {p} port [tcp/*] succeeded!\n").as_bytes(),
    );
}

/// Extension: `-vv` adds one summary line at the end of a relay; `-v` has
/// no such line (nc.openbsd treats -vv as -v, so this is ncrab-only).
#[test]
fn vv_adds_relay_summary_line() {
    let net = Net::new("vv_adds_relay_");
    if !is_ncrab() {
        return;
    }
    let s = net.one(banner_then_fin(b"hello\n"));
    let p = s.port_str();
    let v = net
        .nc(&["-v", "127.0.0.1", &p])
        .stdin_bytes(b"hi\n")
        .run(secs(5));
    v.assert(
        0,
        b"hello\n",
        format!("Connection to 127.0.0.1 {p} port [tcp/*] succeeded!\n").as_bytes(),
    );
    let s = net.one(banner_then_fin(b"hello\n"));
    let p = s.port_str();
    let vv = net
        .nc(&["-vv", "127.0.0.1", &p])
        .stdin_bytes(b"hi\n")
        .run(secs(5));
    vv.assert_code(0);
    vv.assert_stdout(b"hello\n");
    let err = vv.stderr_str();
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.first()
            == Some(&format!("Connection to 127.0.0.1 {p} port [tcp/*] succeeded!").as_str())
            && lines.len() >= 2,
        "-vv: expected the success line first and a summary line at the end: {vv}"
    );
    assert!(
        !lines.last().unwrap().starts_with("Connection to"),
        "-vv: no summary line at the end: {vv}"
    );
}
