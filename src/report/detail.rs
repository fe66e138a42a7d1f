//! Extensions (docs/compatibility.md §A.3): the `-vv` lines under nc's
//! verdicts and the relay's summary.

use std::time::Duration;

use super::Errno;
use super::out::note;

/// What a probe's outcome means, in plain words, and what to check next.
pub fn diagnosis(outcome: Option<Errno>, timed_out: bool) -> &'static str {
    if timed_out {
        return "no answer within the timeout: a firewall silently drops the packets, or the host is down; check the host and any firewall on the way";
    }
    match outcome.map(|e| e.0) {
        None => "open: the host accepted the TCP handshake, something listens on this port",
        Some(libc::ECONNREFUSED) => {
            "closed: the host answered with a TCP reset, so it is reachable but nothing listens on this port (or a firewall rejects with tcp-reset); check that the service runs and on which address"
        }
        Some(libc::ETIMEDOUT) => {
            "no answer: the kernel gave up waiting for the handshake; a firewall drops the packets or the host is down"
        }
        Some(libc::EHOSTUNREACH) => {
            "no route to host: a router answered with ICMP host-unreachable or admin-prohibited, or nobody answered ARP on the local link; check the host is up and the routes and firewalls on the way"
        }
        Some(libc::ENETUNREACH) => {
            "network unreachable: this machine has no route to that network; check the routing table and the address"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "permission denied: a local firewall or prohibit route refused the packet, or the address is a broadcast address (see -b)"
        }
        Some(libc::EINVAL) => {
            "invalid argument: the kernel refused the route (for example a blackhole route) or the address"
        }
        Some(libc::EADDRNOTAVAIL) => {
            "no local address or port available for the connection; check -s/-p and the ephemeral port range"
        }
        Some(_) => "the connection failed with the error above",
    }
}

/// The `-vv` line that follows a probe's nc line.
pub fn probe_detail(elapsed: Duration, outcome: Option<Errno>, timed_out: bool) {
    note(format_args!(
        "\t{} ms: {}",
        elapsed.as_millis(),
        diagnosis(outcome, timed_out)
    ));
}

/// The `-vv` line after a UDP port's `X` probe.
pub fn udp_probe_detail(elapsed: Duration, passed: bool) {
    let what = if passed {
        "no ICMP port-unreachable came back: something may listen on this UDP port, or a firewall drops the probes silently (UDP cannot tell these apart)"
    } else {
        "closed: the host answered with ICMP port-unreachable, so it is reachable but nothing listens on this UDP port"
    };
    note(format_args!("\t{} ms: {what}", elapsed.as_millis()));
}

/// The `-vv` line of a port scanned through a proxy; `state` is its
/// `--json` state; `reached` says whether the proxy itself answered.
pub fn proxy_probe_detail(elapsed: Duration, state: &str, reached: bool) {
    let what = match state {
        _ if !reached => {
            "the proxy could not be reached (see the line above): check the -x address and that the proxy runs"
        }
        "open" => "open: the proxy connected to the port",
        "closed" => "closed: the proxy says the destination refused the connection",
        "filtered" => {
            "no route or no answer: the proxy could not reach the destination; check the host and the firewalls beyond the proxy"
        }
        _ => {
            "the proxy refused or failed the request; see the message above and the proxy's own log"
        }
    };
    note(format_args!("\t{} ms: {what}", elapsed.as_millis()));
}

/// Formats a byte count for people (`1.5 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// The `-vv` summary at the end of a relay.
pub fn relay_summary(sent: u64, received: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (sent + received) as f64 / secs
    } else {
        0.0
    };
    note(format_args!(
        "Sent {sent} bytes, received {received} bytes in {:.3} s ({}/s)",
        secs,
        human_bytes(rate as u64)
    ));
}
