//! Helpers for the proxy and option tests: run ncrab or nc.openbsd through
//! a symlink named `nc`, scripted TCP peers on 127.0.0.1, a pseudo-terminal
//! for prompts, and peer tools that may be missing.
//!
//! Everything is bounded: every wait has a deadline, a child still running
//! at its deadline is killed by PID, and every peer thread gives up by
//! itself. Only 127.0.0.1 and ::1 are used.
#![allow(dead_code)]

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const NC_OPENBSD: &str = "/usr/bin/nc.openbsd";

/// ncrab itself.
pub fn ncrab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ncrab"))
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Is `name` an executable in PATH (or an absolute path)?
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The tool's path, or None after printing why the test is skipped; under
/// CI=true a missing tool fails the test.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    if let Some(p) = find_tool(name) {
        return Some(p);
    }
    skip(&format!(
        "`{name}` is not installed (Debian package {package})"
    ));
    None
}

/// Skips the rest of a test with a printed reason; under CI=true a missing
/// facility is a failure instead.
pub fn skip(why: &str) {
    if in_ci() {
        panic!("{why}; under CI=true this is a failure");
    }
    eprintln!("SKIP {}: {why}", thread::current().name().unwrap_or("?"));
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "ncrab-{tag}-{}-{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create a temporary directory");
        TempDir(p)
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes as readable text.
pub fn show(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Out {
    /// The exit code; None when killed (by a signal or at the deadline).
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

impl Out {
    #[track_caller]
    pub fn check(&self, what: &str, code: i32, stdout: &[u8], stderr: &[u8]) {
        assert!(
            self.code == Some(code) && self.stdout == stdout && self.stderr == stderr,
            "{what}:\n  expected exit {code}, stdout {}, stderr {}\n  got      exit {:?}{}, stdout {}, stderr {}",
            show(stdout),
            show(stderr),
            self.code,
            if self.timed_out {
                " (killed at the deadline)"
            } else {
                ""
            },
            show(&self.stdout),
            show(&self.stderr),
        );
    }
}

/// A command: the binary through a symlink named `nc`.
pub struct Run {
    bin: PathBuf,
    args: Vec<String>,
    stdin: Vec<(Duration, Vec<u8>)>,
    env: Vec<(String, String)>,
    tty: Option<PathBuf>,
    wrapper: Vec<String>,
    limit: Duration,
}

impl Run {
    pub fn new(bin: &Path, args: &[&str]) -> Run {
        Run {
            bin: bin.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: Vec::new(),
            env: Vec::new(),
            tty: None,
            wrapper: Vec::new(),
            limit: Duration::from_secs(15),
        }
    }
    /// Stdin: these bytes, then EOF (default: EOF at once).
    pub fn stdin(mut self, b: &[u8]) -> Run {
        self.stdin = vec![(Duration::ZERO, b.to_vec())];
        self
    }
    /// Stdin written in pieces, each after its delay, then EOF.
    pub fn stdin_slow(mut self, parts: &[(u64, &[u8])]) -> Run {
        self.stdin = parts
            .iter()
            .map(|(ms, b)| (Duration::from_millis(*ms), b.to_vec()))
            .collect();
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Run {
        self.env.push((k.into(), v.into()));
        self
    }
    /// Make this pty slave the controlling terminal (its own session).
    pub fn tty(mut self, slave: &Path) -> Run {
        self.tty = Some(slave.to_path_buf());
        self
    }
    /// Run under another program (e.g. strace); `{}` marks where the
    /// `nc` symlink goes.
    pub fn under(mut self, wrapper: &[&str]) -> Run {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn limit(mut self, d: Duration) -> Run {
        self.limit = d;
        self
    }

    pub fn spawn(self) -> Running {
        let dir = TempDir::new("bin");
        let link = dir.join("nc");
        std::os::unix::fs::symlink(&self.bin, &link).expect("symlink the binary");
        let mut cmd = if self.wrapper.is_empty() {
            Command::new(&link)
        } else {
            let mut parts = self.wrapper.iter().map(|w| {
                if w == "{}" {
                    link.to_string_lossy().into_owned()
                } else {
                    w.clone()
                }
            });
            let mut c = Command::new(parts.next().unwrap_or_default());
            c.args(parts);
            c
        };
        if self.wrapper.is_empty() {
            cmd.arg0("nc");
        }
        cmd.args(&self.args)
            .env_remove("NCRAB_PROXY_PASSWORD")
            .env_remove("POSIXLY_CORRECT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(slave) = &self.tty {
            let path = CString::new(slave.as_os_str().as_encoded_bytes()).expect("pty path");
            // SAFETY: between fork and exec only async-signal-safe calls:
            // setsid, open, ioctl, close.
            unsafe {
                cmd.pre_exec(move || {
                    libc::setsid();
                    let fd = libc::open(path.as_ptr(), libc::O_RDWR);
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    libc::ioctl(fd, libc::TIOCSCTTY, 0);
                    libc::close(fd);
                    Ok(())
                });
            }
        } else {
            // No controlling terminal at all: /dev/tty cannot be opened.
            // SAFETY: setsid is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn the binary");
        let stdin = child.stdin.take();
        let parts = self.stdin;
        let feeder = thread::spawn(move || {
            if let Some(mut w) = stdin {
                for (delay, b) in parts {
                    thread::sleep(delay);
                    if w.write_all(&b).is_err() {
                        break;
                    }
                }
            }
        });
        let out = reader(child.stdout.take());
        let err = reader(child.stderr.take());
        Running {
            child,
            out,
            err,
            feeder: Some(feeder),
            deadline: Instant::now() + self.limit,
            _dir: dir,
        }
    }

    pub fn run(self) -> Out {
        self.spawn().wait()
    }
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut r) = r {
        let b = buf.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                b.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]);
            }
        });
    }
    buf
}

pub struct Running {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    feeder: Option<JoinHandle<()>>,
    deadline: Instant,
    _dir: TempDir,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stderr_now(&self) -> Vec<u8> {
        self.err.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn wait(mut self) -> Out {
        let mut timed_out = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() >= self.deadline => {
                    timed_out = true;
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(_) => break None,
            }
        };
        if let Some(f) = self.feeder.take() {
            let _ = f.join();
        }
        // Let the readers see EOF (the pipes close with the child).
        let settle = Instant::now() + Duration::from_secs(2);
        while Arc::strong_count(&self.out) > 1 || Arc::strong_count(&self.err) > 1 {
            if Instant::now() > settle {
                break;
            }
            thread::sleep(Duration::from_millis(2));
        }
        let take = |b: &Arc<Mutex<Vec<u8>>>| b.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Out {
            code: status.and_then(|s| if s.signal().is_some() { None } else { s.code() }),
            signal: status.and_then(|s| s.signal()),
            stdout: take(&self.out),
            stderr: take(&self.err),
            timed_out,
        }
    }
}

// ---------------------------------------------------------------------------
// Scripted TCP peers
// ---------------------------------------------------------------------------

/// One step of a scripted peer.
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
    /// Pause.
    Sleep(u64),
    /// Send FIN, keep reading until the client closes.
    Fin,
    /// Reset the connection (SO_LINGER 0) and stop.
    Reset,
}

/// A scripted peer on 127.0.0.1: serves `scripts.len()` connections in
/// turn, each with its script, recording every byte it receives.
pub struct Peer {
    port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    handle: Option<JoinHandle<()>>,
}

const PEER_LIMIT: Duration = Duration::from_secs(10);

impl Peer {
    pub fn start(scripts: Vec<Vec<Step>>) -> Peer {
        Peer::start_on(
            TcpListener::bind("127.0.0.1:0").expect("bind a peer"),
            scripts,
        )
    }

    pub fn start_on(l: TcpListener, scripts: Vec<Vec<Step>>) -> Peer {
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        let handle = thread::spawn(move || {
            let _ = l.set_nonblocking(true);
            let deadline = Instant::now() + PEER_LIMIT;
            for script in scripts {
                let conn = loop {
                    match l.accept() {
                        Ok((c, _)) => break Some(c),
                        Err(_) if Instant::now() < deadline => {
                            thread::sleep(Duration::from_millis(2))
                        }
                        Err(_) => break None,
                    }
                };
                let Some(conn) = conn else { return };
                let got = serve(conn, &script);
                rec.lock().unwrap_or_else(|e| e.into_inner()).push(got);
            }
        });
        Peer {
            port,
            received,
            handle: Some(handle),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the peer to finish, then returns what each connection
    /// received.
    pub fn received(mut self) -> Vec<Vec<u8>> {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Runs one script; then records whatever else arrives until EOF.
fn serve(mut c: TcpStream, script: &[Step]) -> Vec<u8> {
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + PEER_LIMIT;
    let mut got = Vec::new();
    // Reads once; false at EOF, an error or the deadline.
    let read_some = |c: &mut TcpStream, got: &mut Vec<u8>, max: usize| -> bool {
        let mut buf = vec![0u8; max.clamp(1, 65536)];
        loop {
            if Instant::now() > deadline {
                return false;
            }
            match c.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    return true;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    };
    let mut open = true;
    for step in script {
        match step {
            Step::Read(n) => {
                let want = got.len() + n;
                while open && got.len() < want {
                    let missing = want - got.len();
                    open = read_some(&mut c, &mut got, missing);
                }
            }
            Step::ReadUntil(pat) => {
                let from = got.len();
                while open && !contains(&got[from..], pat) {
                    open = read_some(&mut c, &mut got, 1);
                }
            }
            Step::Send(b) => {
                let _ = c.write_all(b);
            }
            Step::Trickle(b) => {
                for byte in b {
                    let _ = c.write_all(&[*byte]);
                    thread::sleep(Duration::from_millis(15));
                }
            }
            Step::Sleep(ms) => thread::sleep(Duration::from_millis(*ms)),
            Step::Fin => {
                let _ = c.shutdown(Shutdown::Write);
            }
            Step::Reset => {
                let _ = socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO));
                return got;
            }
        }
    }
    while open {
        open = read_some(&mut c, &mut got, 65536);
    }
    got
}

/// A free TCP port on 127.0.0.1 for a program to listen on. It is taken
/// below the ephemeral range (32768 and up), so the kernel never hands it
/// to another test's `bind(0)` before the program binds it.
pub fn free_port() -> u16 {
    const LO: usize = 20000;
    const SPAN: usize = 12000;
    let start = (std::process::id() as usize).wrapping_mul(7919);
    for _ in 0..SPAN {
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let port = (LO + (start + n.wrapping_mul(104_729)) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LO} and {}", LO + SPAN);
}

/// A port on 127.0.0.1 that refuses connections and stays reserved while
/// the returned socket lives (bound, never listening), so no other test
/// can be given it meanwhile.
pub fn closed_port() -> (socket2::Socket, u16) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("create a socket");
    s.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind a socket");
    let port = s
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| a.port())
        .expect("a bound port");
    (s, port)
}

/// Waits until something accepts connections on 127.0.0.1:port.
pub fn wait_listening(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Waits until a socket listens on TCP `port` (read from /proc/net, so no
/// connection is made: a one-shot `nc -l` is not used up).
pub fn wait_listening_once(port: &str) -> bool {
    let Ok(port) = port.parse::<u16>() else {
        return false;
    };
    let needle = format!(":{port:04X} ");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = std::fs::read_to_string(table).unwrap_or_default();
            let found = text.lines().skip(1).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && format!("{} ", f[1]).contains(&needle) && f[3] == "0A"
            });
            if found {
                return true;
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A background program (a proxy): stopped with SIGTERM, then SIGKILL, by
/// PID, when dropped.
pub struct Daemon {
    child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(prog: &Path, args: &[&str], log: PathBuf) -> Daemon {
        let out = std::fs::File::create(&log).expect("create the log");
        let err = out.try_clone().expect("clone the log");
        let child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the daemon");
        Daemon { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signalling the process we started, by its PID.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Pseudo-terminals
// ---------------------------------------------------------------------------

/// The master side of a new pty; the child opens `slave`.
pub struct Pty {
    master: OwnedFd,
    pub slave: PathBuf,
    seen: Vec<u8>,
}

impl Pty {
    pub fn open() -> io::Result<Pty> {
        // SAFETY: plain libc pty calls; the master fd is wrapped at once.
        unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            if m < 0 {
                return Err(io::Error::last_os_error());
            }
            let master = OwnedFd::from_raw_fd(m);
            if libc::grantpt(m) != 0 || libc::unlockpt(m) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut name = [0 as libc::c_char; 128];
            if libc::ptsname_r(m, name.as_mut_ptr(), name.len()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let slave = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_string_lossy()
                .into_owned();
            let flags = libc::fcntl(m, libc::F_GETFL);
            libc::fcntl(m, libc::F_SETFL, flags | libc::O_NONBLOCK);
            Ok(Pty {
                master,
                slave: PathBuf::from(slave),
                seen: Vec::new(),
            })
        }
    }

    /// Reads what the terminal shows until `needle` appears (true) or the
    /// limit passes (false).
    pub fn wait_for(&mut self, needle: &[u8], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let start = self.seen.len();
        loop {
            self.drain();
            if contains(&self.seen[start..], needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a valid buffer from our master fd.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            self.seen.extend_from_slice(&buf[..n as usize]);
        }
    }

    /// Types text at the terminal.
    pub fn type_text(&self, text: &[u8]) {
        // SAFETY: writing a valid buffer to our master fd.
        unsafe { libc::write(self.master.as_raw_fd(), text.as_ptr().cast(), text.len()) };
    }

    /// Whether the terminal echoes what is typed (read on the slave side).
    pub fn echo_on(&self) -> Option<bool> {
        let path = CString::new(self.slave.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: opening the slave without making it our terminal, reading
        // its settings into a zeroed termios, closing it.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
            if fd < 0 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            let ok = libc::tcgetattr(fd, &mut t) == 0;
            libc::close(fd);
            ok.then_some(t.c_lflag & libc::ECHO != 0)
        }
    }

    /// Everything the terminal has shown so far.
    pub fn screen(&mut self) -> Vec<u8> {
        self.drain();
        self.seen.clone()
    }
}
