//! Scripted peers: TCP servers on loopback (or in a test's network) that
//! play a script per connection and record what they receive.
//!
//! A [`Server`] runs a closure per connection ([`Conn`] gives it bounded
//! reads, echo, FIN, RST); canned closures cover the usual cases. A
//! [`Peer`] plays a list of [`Step`]s per connection instead (a fake proxy)
//! and keeps each connection's bytes apart. Every server thread stops by
//! itself after a deadline, and when dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Checker, contains, eventually};

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

/// What one read of a [`Conn`] gave.
enum Got {
    /// This many bytes (recorded).
    Data(usize),
    /// The peer's FIN (recorded as the EOF time).
    Eof,
    /// An error, the deadline, or the server stopping.
    Gone,
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
    /// One read into `buf`, waiting until `end` at the most; what arrives
    /// is recorded.
    fn read_some(&mut self, buf: &mut [u8], end: Instant) -> Got {
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(20)));
        while Instant::now() < end && !self.stopped() {
            match self.stream.read(buf) {
                Ok(0) => {
                    *self.rec.eof_at.lock().unwrap() = Some(Instant::now());
                    return Got::Eof;
                }
                Ok(n) => {
                    self.rec
                        .received
                        .lock()
                        .unwrap()
                        .extend_from_slice(&buf[..n]);
                    return Got::Data(n);
                }
                Err(e) if transient(&e) => {}
                Err(_) => return Got::Gone,
            }
        }
        Got::Gone
    }
    /// Read (recording) until EOF, an error, or `limit`. True on EOF.
    pub fn read_to_eof(&mut self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        let mut buf = vec![0u8; 65536];
        loop {
            match self.read_some(&mut buf, end) {
                Got::Data(_) => {}
                Got::Eof => return true,
                Got::Gone => return false,
            }
        }
    }
    /// Read until at least `n` bytes have been received in total (or limit).
    pub fn read_at_least(&mut self, n: usize, limit: Duration) {
        let end = Instant::now() + limit;
        let mut buf = vec![0u8; 65536];
        while self.rec.received.lock().unwrap().len() < n {
            if !matches!(self.read_some(&mut buf, end), Got::Data(_)) {
                return;
            }
        }
    }
    /// Echo everything back until EOF (or limit), then send FIN.
    pub fn echo_to_eof(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        let mut buf = vec![0u8; 65536];
        while let Got::Data(n) = self.read_some(&mut buf, end) {
            if self.stream.write_all(&buf[..n]).is_err() {
                break;
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
        reset(self.stream);
    }

    /// Play `script` (see [`Step`]), then record whatever else arrives
    /// until EOF (or the deadline); returns what this connection received.
    pub fn play(&mut self, script: &[Step]) -> Vec<u8> {
        let from = self.rec.received.lock().unwrap().len();
        let got = |c: &Conn| c.rec.received.lock().unwrap().len() - from;
        let end = self.deadline;
        let mut open = true;
        for step in script {
            match step {
                Step::Read(n) => {
                    let want = got(self) + n;
                    while open && got(self) < want {
                        let mut buf = vec![0u8; (want - got(self)).min(65536)];
                        open = matches!(self.read_some(&mut buf, end), Got::Data(_));
                    }
                }
                Step::ReadUntil(pat) => {
                    let start = from + got(self);
                    while open && !contains(&self.rec.received.lock().unwrap()[start..], pat) {
                        open = matches!(self.read_some(&mut [0u8; 1], end), Got::Data(_));
                    }
                }
                Step::Send(b) => self.send(b),
                Step::Trickle(b) => {
                    for byte in b {
                        self.send(&[*byte]);
                        thread::sleep(Duration::from_millis(15));
                    }
                }
                Step::Sleep(ms) => thread::sleep(Duration::from_millis(*ms)),
                Step::Fin => self.shutdown_write(),
                Step::Reset => {
                    // The connection is dropped (closed) after the script.
                    set_linger_zero(&self.stream);
                    open = false;
                    break;
                }
            }
        }
        if open {
            self.read_to_eof(end.saturating_duration_since(Instant::now()));
        }
        self.rec.received.lock().unwrap()[from..].to_vec()
    }
}

/// A read error that only means "nothing yet": try again.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// SO_LINGER 0: closing the socket then sends an RST.
fn set_linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on our own socket with a properly sized struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
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

    pub fn start_on<F>(l: TcpListener, conns: usize, script: F) -> Server
    where
        F: FnMut(Conn) + Send + 'static,
    {
        Server::start_for(l, conns, SERVER_LIFETIME, script)
    }

    /// Serve on `l` for `lifetime` at the most: after that no connection
    /// is accepted, and a script's reads and holds end.
    pub fn start_for<F>(l: TcpListener, conns: usize, lifetime: Duration, mut script: F) -> Server
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
            let deadline = Instant::now() + lifetime;
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
        eventually(limit, || self.eof_seen())
    }
    /// Wait up to `limit` for all scripted connections to finish.
    pub fn wait_done(&self, limit: Duration) -> bool {
        eventually(limit, || self.rec.done.load(Ordering::SeqCst))
    }
    /// Wait until at least `n` bytes have arrived.
    pub fn wait_received(&self, n: usize, limit: Duration) -> bool {
        eventually(limit, || self.rec.received.lock().unwrap().len() >= n)
    }
    /// Wait for the server thread to end by itself (all connections
    /// served, or its lifetime over).
    fn finish(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.finish();
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
            Err(e) if transient(&e) => {}
            Err(_) => return (out, false),
        }
    }
    (out, false)
}

// ---------------------------------------------------------------------------
// Peers scripted step by step
// ---------------------------------------------------------------------------

/// One step of a scripted peer (see [`Conn::play`]).
#[derive(Clone, Debug)]
pub enum Step {
    /// Read exactly n bytes (or until EOF).
    Read(usize),
    /// Read until this byte string has arrived (or EOF).
    ReadUntil(&'static [u8]),
    /// Write these bytes in one write.
    Send(Vec<u8>),
    /// Write these bytes one at a time, with a short pause between.
    Trickle(Vec<u8>),
    /// Pause, in milliseconds.
    Sleep(u64),
    /// Send FIN, keep reading until the client closes.
    Fin,
    /// Reset the connection (SO_LINGER 0) and stop.
    Reset,
}

/// A scripted peer on 127.0.0.1 (e.g. a fake proxy): serves one connection
/// per script, in turn, and records what each connection received.
pub struct Peer {
    server: Server,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// How long a peer waits for its connections, and serves each one.
const PEER_LIMIT: Duration = Duration::from_secs(10);

impl Peer {
    pub fn start(scripts: Vec<Vec<Step>>) -> Peer {
        Peer::start_on(
            TcpListener::bind("127.0.0.1:0").expect("bind a peer"),
            scripts,
        )
    }

    pub fn start_on(l: TcpListener, scripts: Vec<Vec<Step>>) -> Peer {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let n = scripts.len();
        let mut scripts = scripts.into_iter();
        let server = Server::start_for(l, n, PEER_LIMIT, move |mut c| {
            c.deadline = Instant::now() + PEER_LIMIT;
            let script = scripts.next().unwrap_or_default();
            let bytes = c.play(&script);
            g.lock().unwrap().push(bytes);
        });
        Peer { server, got }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Waits for the peer to finish, then returns what each connection
    /// received.
    pub fn received(mut self) -> Vec<Vec<u8>> {
        self.server.finish();
        self.got.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------
// Plain sockets driven by the test itself
// ---------------------------------------------------------------------------

/// Aborts a TCP connection with an RST (SO_LINGER 0, then close).
pub fn reset(s: TcpStream) {
    set_linger_zero(&s);
    drop(s);
}

/// Accepts one connection within `limit`; the stream is blocking.
#[track_caller]
pub fn accept_within(l: &TcpListener, limit: Duration) -> TcpStream {
    l.set_nonblocking(true).expect("nonblocking listener");
    let deadline = Instant::now() + limit;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                l.set_nonblocking(false).expect("blocking listener");
                s.set_nonblocking(false).expect("blocking stream");
                return s;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("no connection within {limit:?}: {e}"),
        }
    }
}

/// Waits up to `limit` for `fd` to have `events` (poll(2)); false on timeout.
pub fn wait_fd(fd: &impl AsRawFd, events: i16, limit: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = limit.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// Reads `r` into `chk` until EOF, an error, or `limit`; true on EOF.
/// Never blocks past the deadline (each read waits for POLLIN first).
pub fn read_checked<R: Read + AsRawFd>(r: &mut R, chk: &mut Checker, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        if !wait_fd(r, libc::POLLIN, deadline - now) {
            continue;
        }
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => chk.feed(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(_) => return false,
        }
    }
}

/// Bytes in a TCP socket's send queue that the peer has not acknowledged
/// (SIOCOUTQ): 0 means the peer's kernel holds everything sent.
pub fn unacked(s: &impl AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (= SIOCOUTQ) writes one int.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if rc != 0 { usize::MAX } else { n as usize }
}

/// Sets SO_RCVBUF; on a listener before the connection comes, it also
/// fixes the window scale (a tiny buffer gives a window that stays small).
pub fn set_rcvbuf(s: &impl AsRawFd, bytes: i32) {
    // SAFETY: setsockopt with a live int.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
    }
}
