//! Ports: the ephemeral range, free ports outside it and outside
//! /etc/services, waiting for a listener, and fixed ports that tests must
//! take in turn ([`FixedListener`]).

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

fn services_tcp_ports() -> &'static Vec<u16> {
    static S: OnceLock<Vec<u16>> = OnceLock::new();
    S.get_or_init(|| {
        let text = fs::read_to_string("/etc/services").unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter_map(|pp| pp.split_once('/'))
            .filter_map(|(p, _)| p.parse().ok())
            .collect()
    })
}

/// The kernel's ephemeral port range (ports it picks for bind(0) and for
/// the source of outgoing connections).
pub fn ephemeral_range() -> (u16, u16) {
    let t = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let v: Vec<u16> = t
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match v[..] {
        [lo, hi] => (lo, hi),
        _ => (32768, 60999),
    }
}

/// A port, free on 127.0.0.1 and ::1 a moment ago, with no /etc/services
/// name (so messages show `[tcp/*]` with or without -n), for a test to
/// listen on or to use as a closed port.
///
/// It is taken *outside* the kernel's ephemeral range and from a
/// process-wide counter, so two tests never get the same port, a scripted
/// server (bound to port 0) never takes it, and a connection to it can
/// never be a TCP self-connect (source port = destination port).
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let (lo, hi) = ephemeral_range();
    let (base, span) = if lo >= 11024 {
        (lo as usize - 10000, 10000usize)
    } else if hi < 63000 {
        (hi as usize + 1, 65535 - hi as usize)
    } else {
        (1024, 1000) // unusual range: best effort
    };
    let start = (std::process::id() as usize).wrapping_mul(2654435761) % span;
    for _ in 0..span {
        let p = (base + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span) as u16;
        if services_tcp_ports().contains(&p) {
            continue;
        }
        let v4 = TcpListener::bind(("127.0.0.1", p)).is_ok();
        let v6 = TcpListener::bind(("::1", p)).is_ok() || TcpListener::bind("[::1]:0").is_err();
        if v4 && v6 {
            return p;
        }
    }
    panic!("no free port found in {base}..{}", base + span);
}

/// Wait until a TCP socket listens on `port` (any address, v4 or v6) in
/// the host's network namespace, read from /proc/net/tcp{,6}.
pub fn wait_tcp_listen(port: u16, limit: Duration) -> bool {
    wait_tcp_listen_in("/proc/net", port, limit)
}

/// The same, reading `DIR/tcp` and `DIR/tcp6` (e.g. /proc/PID/net).
pub fn wait_tcp_listen_in(dir: &str, port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let needle = format!(":{port:04X}");
    loop {
        for f in ["tcp", "tcp6"] {
            let t = fs::read_to_string(format!("{dir}/{f}")).unwrap_or_default();
            for line in t.lines().skip(1) {
                let cols: Vec<&str> = line.split_whitespace().collect();
                if cols.len() > 3 && cols[3] == "0A" && cols[1].ends_with(&needle) {
                    return true;
                }
            }
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Serialises tests that need fixed well-known ports (8080, 22, 9, 20, 21, 23).
pub fn fixed_ports_lock() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

/// Is nothing listening on 127.0.0.1:port (connection refused)?
pub fn ensure_closed(addr: &str) -> Result<(), String> {
    let sa: SocketAddr = addr.parse().unwrap();
    match TcpStream::connect_timeout(&sa, Duration::from_secs(1)) {
        Ok(_) => Err(format!(
            "something listens on {addr}; it must be closed for this test"
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(format!("cannot check {addr}: {e}")),
    }
}

/// A listener on a fixed port that accepts and drops connections until
/// dropped. If the port is already taken by someone else but connectable,
/// it counts as open (no thread is started).
pub struct FixedListener {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FixedListener {
    /// On the host's loopback.
    pub fn open(addr: &str) -> Result<FixedListener, String> {
        FixedListener::open_with(addr, TcpListener::bind(addr), |sa| {
            TcpStream::connect_timeout(&sa, Duration::from_secs(1)).map(drop)
        })
    }

    pub(super) fn open_with(
        addr: &str,
        bound: io::Result<TcpListener>,
        probe: impl FnOnce(SocketAddr) -> io::Result<()>,
    ) -> Result<FixedListener, String> {
        let stop = Arc::new(AtomicBool::new(false));
        match bound {
            Ok(l) => {
                l.set_nonblocking(true).unwrap();
                let s = stop.clone();
                let handle = thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                        match l.accept() {
                            Ok(_) => {}
                            Err(_) => thread::sleep(Duration::from_millis(5)),
                        }
                    }
                });
                Ok(FixedListener {
                    stop,
                    handle: Some(handle),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                let sa: SocketAddr = addr.parse().unwrap();
                match probe(sa) {
                    Ok(()) => Ok(FixedListener { stop, handle: None }),
                    Err(e2) => Err(format!("{addr} is in use but not connectable ({e2})")),
                }
            }
            Err(e) => Err(format!("cannot listen on {addr}: {e}")),
        }
    }
}

impl Drop for FixedListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
