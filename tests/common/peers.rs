//! Scripted peers: TCP servers on loopback (or in a test's network) that
//! play a script per connection and record what they receive.
//!
//! A [`Server`] runs a closure per connection ([`Conn`] gives it bounded
//! reads, echo, FIN, RST); canned closures cover the usual cases. Every
//! server thread stops by itself after a deadline, and when dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a scripted server saw.
pub struct Record {
    started: Instant,
    received: Mutex<Vec<u8>>,
    eof_at: Mutex<Option<Instant>>,
    conns: AtomicUsize,
    done: AtomicBool,
    peers: Mutex<Vec<SocketAddr>>,
}

/// One accepted connection, handed to the server's script.
pub struct Conn {
    pub stream: TcpStream,
    rec: Arc<Record>,
    stop: Arc<AtomicBool>,
    deadline: Instant,
}

impl Conn {
    pub fn send(&mut self, b: &[u8]) {
        let _ = self.stream.write_all(b);
    }
    /// Send FIN.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }
    /// Read (recording) until EOF, an error, or `limit`. True on EOF.
    pub fn read_to_eof(&mut self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(20)));
        let mut buf = vec![0u8; 65536];
        while Instant::now() < end && !self.stopped() {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    *self.rec.eof_at.lock().unwrap() = Some(Instant::now());
                    return true;
                }
                Ok(n) => self
                    .rec
                    .received
                    .lock()
                    .unwrap()
                    .extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return false,
            }
        }
        false
    }
    /// Read until at least `n` bytes have been received in total (or limit).
    pub fn read_at_least(&mut self, n: usize, limit: Duration) {
        let end = Instant::now() + limit;
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(20)));
        let mut buf = vec![0u8; 65536];
        while self.rec.received.lock().unwrap().len() < n && Instant::now() < end && !self.stopped()
        {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    *self.rec.eof_at.lock().unwrap() = Some(Instant::now());
                    return;
                }
                Ok(k) => self
                    .rec
                    .received
                    .lock()
                    .unwrap()
                    .extend_from_slice(&buf[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
        }
    }
    /// Echo everything back until EOF (or limit), then send FIN.
    pub fn echo_to_eof(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(20)));
        let mut buf = vec![0u8; 65536];
        while Instant::now() < end && !self.stopped() {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    *self.rec.eof_at.lock().unwrap() = Some(Instant::now());
                    break;
                }
                Ok(n) => {
                    self.rec
                        .received
                        .lock()
                        .unwrap()
                        .extend_from_slice(&buf[..n]);
                    if self.stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => break,
            }
        }
        self.shutdown_write();
    }
    /// Keep the connection open (not reading) for `d`.
    pub fn hold(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end && !self.stopped() {
            thread::sleep(Duration::from_millis(10));
        }
    }
    /// Abort the connection with an RST (SO_LINGER 0 + close).
    pub fn reset(self) {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on our own socket with a properly sized struct.
        unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &l as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(self.stream);
    }
}

/// A loopback TCP server running a script per connection in a thread.
pub struct Server {
    addr: SocketAddr,
    rec: Arc<Record>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// The longest any server thread lives.
const SERVER_LIFETIME: Duration = Duration::from_secs(40);

impl Server {
    /// Listen on `bind` (e.g. "127.0.0.1:0") and serve `conns` connections
    /// one after another with `script`.
    pub fn start<F>(bind: &str, conns: usize, script: F) -> Server
    where
        F: FnMut(Conn) + Send + 'static,
    {
        Server::start_on(TcpListener::bind(bind).expect("bind server"), conns, script)
    }

    /// One connection on 127.0.0.1, ephemeral port.
    pub fn one<F>(script: F) -> Server
    where
        F: FnMut(Conn) + Send + 'static,
    {
        Server::start("127.0.0.1:0", 1, script)
    }

    pub fn start_on<F>(l: TcpListener, conns: usize, mut script: F) -> Server
    where
        F: FnMut(Conn) + Send + 'static,
    {
        let addr = l.local_addr().unwrap();
        let rec = Arc::new(Record {
            started: Instant::now(),
            received: Mutex::new(Vec::new()),
            eof_at: Mutex::new(None),
            conns: AtomicUsize::new(0),
            done: AtomicBool::new(false),
            peers: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (rec.clone(), stop.clone());
        l.set_nonblocking(true).unwrap();
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + SERVER_LIFETIME;
            let mut served = 0;
            while served < conns && !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                match l.accept() {
                    Ok((stream, peer)) => {
                        stream.set_nonblocking(false).unwrap();
                        r.peers.lock().unwrap().push(peer);
                        r.conns.fetch_add(1, Ordering::SeqCst);
                        script(Conn {
                            stream,
                            rec: r.clone(),
                            stop: s.clone(),
                            deadline,
                        });
                        served += 1;
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
            r.done.store(true, Ordering::SeqCst);
        });
        Server {
            addr,
            rec,
            stop,
            handle: Some(handle),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn port_str(&self) -> String {
        self.addr.port().to_string()
    }
    pub fn received(&self) -> Vec<u8> {
        self.rec.received.lock().unwrap().clone()
    }
    pub fn conns(&self) -> usize {
        self.rec.conns.load(Ordering::SeqCst)
    }
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.rec.peers.lock().unwrap().clone()
    }
    /// When the server saw EOF from the client, if it did.
    pub fn eof_after(&self) -> Option<Duration> {
        self.rec
            .eof_at
            .lock()
            .unwrap()
            .map(|t| t - self.rec.started)
    }
    pub fn eof_seen(&self) -> bool {
        self.rec.eof_at.lock().unwrap().is_some()
    }
    /// Wait up to `limit` for the client's EOF.
    pub fn wait_eof(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.eof_seen() {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.eof_seen()
    }
    /// Wait up to `limit` for all scripted connections to finish.
    pub fn wait_done(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.rec.done.load(Ordering::SeqCst) {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        false
    }
    /// Wait until at least `n` bytes have arrived.
    pub fn wait_received(&self, n: usize, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.rec.received.lock().unwrap().len() >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

// Canned scripts -----------------------------------------------------------

/// Send `banner`, send FIN, then read until the client's EOF (bounded).
pub fn banner_then_fin(banner: &'static [u8]) -> impl FnMut(Conn) + Send {
    move |mut c| {
        c.send(banner);
        c.shutdown_write();
        c.read_to_eof(Duration::from_secs(15));
    }
}

/// Send `banner`, read until EOF, then keep the socket open for `hold`.
pub fn banner_read_eof_hold(banner: &'static [u8], hold: Duration) -> impl FnMut(Conn) + Send {
    move |mut c| {
        c.send(banner);
        c.read_to_eof(Duration::from_secs(15));
        c.hold(hold);
    }
}

/// Read everything until EOF, then close.
pub fn sink() -> impl FnMut(Conn) + Send {
    |mut c| {
        c.read_to_eof(Duration::from_secs(30));
    }
}

/// Echo until EOF, then FIN and close.
pub fn echo() -> impl FnMut(Conn) + Send {
    |mut c| c.echo_to_eof(Duration::from_secs(15))
}

/// Connect to 127.0.0.1:port with bounded timeouts.
pub fn connect(addr: &str) -> TcpStream {
    let sa = addr.to_socket_addrs().unwrap().next().unwrap();
    let s = TcpStream::connect_timeout(&sa, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Read from a client stream until EOF or `limit`; returns (bytes, eof?).
pub fn read_until_eof(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let end = Instant::now() + limit;
    let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return (out, false),
        }
    }
    (out, false)
}
