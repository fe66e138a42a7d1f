//! Listen mode (docs/compatibility.md §8, §5 listen ports, §12 rows 29-30).
//!
//! Every test runs in a private network namespace (see `Net` in common):
//! nobody else connects to its listeners, and `-l -v` without `-n` (which
//! reverse-resolves the bound address `0.0.0.0`) finds a files-only name
//! service whose /etc/hosts says `127.0.0.1 localhost` and `::1 localhost`
//! instead of sending a DNS query. Such cases are skipped when no namespace
//! can be made.

mod common;
use common::*;
use std::io::Write;
use std::net::Shutdown;

/// Send `data` and FIN from a client, then read until the server closes.
fn send_and_close(mut c: std::net::TcpStream, data: &[u8]) -> Vec<u8> {
    c.write_all(data).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    read_until_eof(&mut c, secs(5)).0
}

/// Row 29: `nc -lv 5000`; the client's address is reverse-resolved.
#[test]
fn row29_listen_verbose_names() {
    let net = Net::new("row29_listen_v");
    if net.is_host() {
        return skip("no private namespace: `-l -v` without -n would send a reverse DNS query");
    }
    let mut srv = net.nc(&["-lv", "5000"]).spawn();
    srv.expect_stderr("Listening on 0.0.0.0 5000\n", secs(5));
    let c = net.try_connect("127.0.0.1:5000").unwrap();
    let cport = c.local_addr().unwrap().port();
    send_and_close(c, b"hi\n");
    let o = srv.expect_exit(secs(5));
    o.assert(
        0,
        b"hi\n",
        format!("Listening on 0.0.0.0 5000\nConnection received on localhost {cport}\n").as_bytes(),
    );
}

/// Row 29 with the binary under test as the client (`echo hi | nc -N`).
#[test]
fn row29_with_nc_client() {
    let net = Net::new("row29_with_nc_");
    if net.is_host() {
        return skip("no private namespace: `-l -v` without -n would send a reverse DNS query");
    }
    let mut srv = net.nc(&["-lv", "5000"]).spawn();
    srv.expect_stderr("Listening on 0.0.0.0 5000\n", secs(5));
    let cli = net
        .nc(&["-N", "-p", "40001", "127.0.0.1", "5000"])
        .stdin_bytes(b"hi\n")
        .run(secs(5));
    cli.assert(0, b"", b"");
    let o = srv.expect_exit(secs(5));
    o.assert(
        0,
        b"hi\n",
        b"Listening on 0.0.0.0 5000\nConnection received on localhost 40001\n",
    );
}

/// Row 30: `-6` listens dual-stack; an IPv4 client shows as v4-mapped.
#[test]
fn row30_ipv6_listener_dual_stack() {
    let net = Net::new("row30_ipv6_lis");
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-lvn", "-6", &ps]).spawn();
    srv.expect_stderr(&format!("Listening on :: {p}\n"), secs(5));
    let c = net.connect(&format!("127.0.0.1:{p}"));
    let cport = c.local_addr().unwrap().port();
    send_and_close(c, b"data\n");
    let o = srv.expect_exit(secs(5));
    o.assert(
        0,
        b"data\n",
        format!("Listening on :: {p}\nConnection received on ::ffff:127.0.0.1 {cport}\n")
            .as_bytes(),
    );
}

/// Default bind is IPv4 only (0.0.0.0): an IPv6 client is refused.
#[test]
fn default_listener_is_ipv4_only() {
    let net = Net::new("default_listen");
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-lvn", &ps]).spawn();
    srv.expect_stderr(&format!("Listening on 0.0.0.0 {p}\n"), secs(5));
    if net.listen("[::1]:0").is_ok() {
        let r = net.try_connect(&format!("[::1]:{p}"));
        assert!(
            r.is_err(),
            "an IPv6 client connected to a default (IPv4) listener"
        );
    }
    let c = net.connect(&format!("127.0.0.1:{p}"));
    let cport = c.local_addr().unwrap().port();
    send_and_close(c, b"x");
    srv.expect_exit(secs(5)).assert(
        0,
        b"x",
        format!("Listening on 0.0.0.0 {p}\nConnection received on 127.0.0.1 {cport}\n").as_bytes(),
    );
}

/// `-l -p P` and `-l -s ADDR -p P` instead of positional arguments.
#[test]
fn listen_with_p_and_s_flags() {
    let net = Net::new("listen_with_p_");
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-lvn", "-p", &ps]).spawn();
    srv.expect_stderr(&format!("Listening on 0.0.0.0 {p}\n"), secs(5));
    send_and_close(net.connect(&format!("127.0.0.1:{p}")), b"one");
    srv.expect_exit(secs(5)).assert_stdout(b"one");

    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-lvn", "-s", "127.0.0.2", "-p", &ps]).spawn();
    srv.expect_stderr(&format!("Listening on 127.0.0.2 {p}\n"), secs(5));
    // Bound to 127.0.0.2 only.
    assert!(net.try_connect(&format!("127.0.0.1:{p}")).is_err());
    send_and_close(net.connect(&format!("127.0.0.2:{p}")), b"two");
    srv.expect_exit(secs(5)).assert_stdout(b"two");
}

/// `-l -s 127.0.0.1 -p P -v` without -n shows the reverse name.
#[test]
fn listen_address_reverse_name() {
    let net = Net::new("listen_address");
    if net.is_host() {
        return skip("no private namespace: `-l -v` without -n would send a reverse DNS query");
    }
    let mut srv = net.nc(&["-lv", "-s", "127.0.0.1", "-p", "6000"]).spawn();
    srv.expect_stderr("Listening on localhost 6000\n", secs(5));
    let c = net.try_connect("127.0.0.1:6000").unwrap();
    let cport = c.local_addr().unwrap().port();
    send_and_close(c, b"z");
    srv.expect_exit(secs(5)).assert(
        0,
        b"z",
        format!("Listening on localhost 6000\nConnection received on localhost {cport}\n")
            .as_bytes(),
    );
}

/// `-l 0` listens on an ephemeral port, shown in the Listening line.
#[test]
fn listen_port_zero_is_ephemeral() {
    let net = Net::new("listen_port_ze");
    let mut srv = net.nc(&["-lvn", "127.0.0.1", "0"]).spawn();
    let p = srv.expect_listening(secs(5));
    assert_ne!(p, 0);
    assert_bytes(
        "Listening line",
        format!("Listening on 127.0.0.1 {p}\n").as_bytes(),
        &srv.stderr_now(),
    );
    send_and_close(net.connect(&format!("127.0.0.1:{p}")), b"eph");
    srv.expect_exit(secs(5)).assert_stdout(b"eph");
}

/// Listen ports go straight to getaddrinfo: 99999 wraps to 34463.
#[test]
fn listen_port_99999_wraps() {
    let net = Net::new("listen_port_99");
    if net.is_host() {
        return skip("no private namespace: port 34463 is in the host's ephemeral range");
    }
    let mut srv = net.nc(&["-lvn", "99999"]).spawn();
    srv.expect_stderr("Listening on 0.0.0.0 34463\n", secs(5));
    let c = net.try_connect("127.0.0.1:34463").unwrap();
    send_and_close(c, b"w");
    srv.expect_exit(secs(5)).assert_stdout(b"w");
}

/// A range is not a listen port.
#[test]
fn listen_port_range_is_getaddrinfo_error() {
    let net = Net::new("listen_port_ra");
    net.nc(&["-l", "12347-12349"]).run(secs(5)).assert(
        1,
        b"",
        b"nc: getaddrinfo: Servname not supported for ai_socktype\n",
    );
    net.nc(&["-l", "-p", "12347-12349"]).run(secs(5)).assert(
        1,
        b"",
        b"nc: getaddrinfo: Servname not supported for ai_socktype\n",
    );
}

/// `nc -l 1234 5678`: the first argument is a bind address (0.0.4.210).
#[test]
fn listen_host_port_binds_the_host() {
    let net = Net::new("listen_host_po");
    net.nc(&["-l", "1234", "5678"]).run(secs(5)).assert(
        1,
        b"",
        b"nc: Cannot assign requested address\n",
    );
}

/// A port held by a socket without SO_REUSEPORT: `PROG: STRERROR`.
#[test]
fn listen_port_in_use() {
    let net = Net::new("listen_port_in");
    let holder = net.listen("127.0.0.1:0").unwrap();
    let p = holder.local_addr().unwrap().port().to_string();
    net.nc(&["-l", "127.0.0.1", &p])
        .run(secs(5))
        .assert(1, b"", b"nc: Address already in use\n");
}

/// `-k` serves clients one after another, keeping the listening socket.
#[test]
fn keep_listening_serves_three_clients() {
    let net = Net::new("keep_listening");
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-lkvn", &ps]).spawn();
    srv.expect_stderr(&format!("Listening on 0.0.0.0 {p}\n"), secs(5));
    let mut expected_err = format!("Listening on 0.0.0.0 {p}\n");
    for i in 1..=3 {
        let c = net.connect(&format!("127.0.0.1:{p}"));
        expected_err.push_str(&format!(
            "Connection received on 127.0.0.1 {}\n",
            c.local_addr().unwrap().port()
        ));
        send_and_close(c, format!("c{i}\n").as_bytes());
    }
    assert!(srv.wait_stdout(b"c1\nc2\nc3\n", secs(5)));
    srv.expect_running(ms(300));
    let o = srv.kill();
    assert_bytes("stdout", b"c1\nc2\nc3\n", &o.stdout);
    assert_bytes("stderr", expected_err.as_bytes(), &o.stderr);
}

/// Clients that arrive while one is served wait in the backlog (the
/// listening socket is kept) and are served in turn.
#[test]
fn keep_listening_queues_overlapping_clients() {
    let net = Net::new("keep_listening");
    let p = free_port();
    let ps = p.to_string();
    let mut srv = net.nc(&["-lkn", &ps]).spawn();
    net.expect_listen(&mut srv, p);
    let mut a = net.connect(&format!("127.0.0.1:{p}"));
    a.write_all(b"a1\n").unwrap();
    assert!(srv.wait_stdout(b"a1\n", secs(5)));
    let mut b = net.connect(&format!("127.0.0.1:{p}")); // queued
    b.write_all(b"b1\n").unwrap();
    a.write_all(b"a2\n").unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    read_until_eof(&mut a, secs(5));
    b.shutdown(Shutdown::Write).unwrap();
    read_until_eof(&mut b, secs(5));
    assert!(
        srv.wait_stdout(b"a1\na2\nb1\n", secs(5)),
        "stdout: {}",
        escape(&srv.stdout_now())
    );
    srv.kill().assert_stdout(b"a1\na2\nb1\n");
}

/// SO_REUSEPORT: a second listener on the same port starts too.
#[test]
fn two_listeners_share_a_port() {
    let net = Net::new("two_listeners_");
    let p = free_port();
    let ps = p.to_string();
    let mut one = net.nc(&["-lvn", &ps]).spawn();
    one.expect_stderr(&format!("Listening on 0.0.0.0 {p}\n"), secs(5));
    let mut two = net.nc(&["-lvn", &ps]).spawn();
    two.expect_stderr(&format!("Listening on 0.0.0.0 {p}\n"), secs(5));
    one.expect_running(ms(200));
    two.expect_running(ms(1));
    // A client reaches one of them.
    send_and_close(net.connect(&format!("127.0.0.1:{p}")), b"m0");
    let deadline = std::time::Instant::now() + secs(5);
    while !one.exited() && !two.exited() && std::time::Instant::now() < deadline {
        std::thread::sleep(ms(10));
    }
    let (o1, o2) = (one.kill(), two.kill());
    let got = [o1.stdout_str(), o2.stdout_str()].concat();
    assert_eq!(got, "m0", "listener outputs: {o1} / {o2}");
    assert!(
        o1.code() == Some(0) || o2.code() == Some(0),
        "no listener finished the session: {o1} / {o2}"
    );
}

/// `-l localhost P` with /etc/hosts listing ::1 first listens on ::1 only.
#[test]
fn listen_localhost_binds_v6_only() {
    let net = Net::new("listen_localho");
    if net.is_host() {
        return skip("no private namespace: `-l -v` without -n would send a reverse DNS query");
    }
    let mut srv = net.nc(&["-lv", "localhost", "7000"]).spawn();
    srv.expect_stderr("Listening on localhost 7000\n", secs(5));
    let v4 = net.try_connect("127.0.0.1:7000");
    assert!(
        v4.is_err(),
        "127.0.0.1:7000 accepted a connection; the listener should be on ::1 only"
    );
    let c = net.try_connect("[::1]:7000").expect("connect [::1]:7000");
    let cport = c.local_addr().unwrap().port();
    send_and_close(c, b"six");
    srv.expect_exit(secs(5)).assert(
        0,
        b"six",
        format!("Listening on localhost 7000\nConnection received on localhost {cport}\n")
            .as_bytes(),
    );
}

/// `-w` does not limit accept(): a listener with no client keeps waiting.
#[test]
fn w_does_not_limit_accept() {
    let net = Net::new("w_does_not_lim");
    let p = free_port().to_string();
    let mut srv = net.nc(&["-l", "-w", "1", &p]).spawn();
    srv.expect_running(ms(2200));
}
