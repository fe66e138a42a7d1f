//! Helpers for the UDP and Unix-domain tests (tests/udp.rs, tests/unix.rs).
//!
//! The binary under test always runs through a symlink named `nc`, so its
//! messages carry the `nc: ` prefix. Every wait is bounded; a child still
//! running when its [`Run`] is dropped is killed by PID. Only loopback
//! addresses, Unix sockets in private directories and network namespaces
//! created (and deleted) here are used.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const NC_OPENBSD: &str = "/usr/bin/nc.openbsd";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private directory, removed (with whatever is left) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        // Short: Unix socket paths must stay under 108 bytes.
        let p = std::env::temp_dir().join(format!(
            "ncr-{}-{}-{}",
            tag,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Names of the entries left in the directory.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory holding a symlink named `nc` to the binary under
/// test (removed with the directory).
pub fn nc_link() -> (TempDir, PathBuf) {
    let dir = TempDir::new("bin");
    let link = dir.join("nc");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ncrab"), &link).expect("symlink nc");
    (dir, link)
}

/// Under `CI=true` a missing peer is a failure; otherwise a printed skip.
pub fn require(path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    let msg = format!("SKIP: {path} is not installed");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true)");
    }
    eprintln!("{msg}");
    false
}

pub fn openbsd() -> bool {
    require(NC_OPENBSD)
}

/// What a child gets as stdin.
pub enum In {
    Null,
    Bytes(Vec<u8>),
    /// A pipe the test keeps ([`Run::stdin`]).
    Pipe,
    File(PathBuf),
    Fd(OwnedFd),
}

/// What a child gets as stdout.
pub enum Out {
    Capture,
    Fd(OwnedFd),
}

/// Collected output of one pipe.
#[derive(Default)]
struct Sink {
    buf: Mutex<(Vec<u8>, bool)>,
    cv: Condvar,
}

impl Sink {
    fn start(self: &Arc<Self>, mut r: impl Read + Send + 'static) {
        let me = Arc::clone(self);
        thread::spawn(move || {
            let mut chunk = vec![0u8; 65536];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        me.buf.lock().unwrap().0.extend_from_slice(&chunk[..n]);
                        me.cv.notify_all();
                    }
                }
            }
            me.buf.lock().unwrap().1 = true;
            me.cv.notify_all();
        });
    }
    fn get(&self) -> Vec<u8> {
        self.buf.lock().unwrap().0.clone()
    }
    fn wait_for(&self, needle: &[u8], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut g = self.buf.lock().unwrap();
        loop {
            if contains(&g.0, needle) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || g.1 {
                return false;
            }
            g = self.cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }
    fn wait_closed(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut g = self.buf.lock().unwrap();
        while !g.1 && Instant::now() < deadline {
            g = self
                .cv
                .wait_timeout(g, Duration::from_millis(20))
                .unwrap()
                .0;
        }
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// A running child (ncrab through `nc`, or a peer).
pub struct Run {
    child: Child,
    pub stdin: Option<ChildStdin>,
    out: Arc<Sink>,
    err: Arc<Sink>,
    status: Option<ExitStatus>,
    pub label: String,
    _bin: Option<TempDir>,
}

/// ncrab, as `nc`.
pub fn nc<S: AsRef<OsStr>>(args: &[S], stdin: In) -> Run {
    nc_out(args, stdin, Out::Capture)
}

/// ncrab, as `nc`, with stdout given.
pub fn nc_out<S: AsRef<OsStr>>(args: &[S], stdin: In, out: Out) -> Run {
    let (dir, link) = nc_link();
    let mut r = spawn(&link, args, stdin, out);
    r._bin = Some(dir);
    r
}

/// nc.openbsd as a peer.
pub fn peer<S: AsRef<OsStr>>(args: &[S], stdin: In) -> Run {
    spawn(Path::new(NC_OPENBSD), args, stdin, Out::Capture)
}

pub fn spawn<S: AsRef<OsStr>>(prog: &Path, args: &[S], stdin: In, out: Out) -> Run {
    let label = format!(
        "{} {}",
        prog.display(),
        args.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut cmd = Command::new(prog);
    cmd.args(args).env("LC_ALL", "C").stderr(Stdio::piped());
    let mut feed = None;
    match stdin {
        In::Null => {
            cmd.stdin(Stdio::null());
        }
        In::Bytes(b) => {
            cmd.stdin(Stdio::piped());
            feed = Some(b);
        }
        In::Pipe => {
            cmd.stdin(Stdio::piped());
        }
        In::File(p) => {
            cmd.stdin(File::open(p).expect("open stdin file"));
        }
        In::Fd(fd) => {
            cmd.stdin(Stdio::from(fd));
        }
    }
    let capture = matches!(out, Out::Capture);
    match out {
        Out::Capture => {
            cmd.stdout(Stdio::piped());
        }
        Out::Fd(fd) => {
            cmd.stdout(Stdio::from(fd));
        }
    }
    // SAFETY: only async-signal-safe calls after fork.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {label}: {e}"));
    let out = Arc::new(Sink::default());
    if capture {
        out.start(child.stdout.take().expect("stdout"));
    } else {
        out.buf.lock().unwrap().1 = true;
    }
    let err = Arc::new(Sink::default());
    err.start(child.stderr.take().expect("stderr"));
    let mut stdin = child.stdin.take();
    if let Some(b) = feed {
        if let Some(mut w) = stdin.take() {
            thread::spawn(move || {
                let _ = w.write_all(&b);
            });
        }
    }
    Run {
        child,
        stdin,
        out,
        err,
        status: None,
        label,
        _bin: None,
    }
}

impl Run {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    pub fn stdout(&self) -> Vec<u8> {
        self.out.get()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.get()).into_owned()
    }
    /// Waits until stderr holds `needle`; panics after `limit`.
    #[track_caller]
    pub fn wait_stderr(&self, needle: &str, limit: Duration) {
        if !self.err.wait_for(needle.as_bytes(), limit) {
            panic!(
                "{}: no {needle:?} on stderr within {limit:?}; stderr so far: {:?}",
                self.label,
                self.stderr()
            );
        }
    }
    /// Waits until stdout holds `needle`; panics after `limit`.
    #[track_caller]
    pub fn wait_stdout(&self, needle: &[u8], limit: Duration) {
        if !self.out.wait_for(needle, limit) {
            panic!(
                "{}: no {:?} on stdout within {limit:?}; stdout so far: {:?}",
                self.label,
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.stdout())
            );
        }
    }
    /// Closes the kept stdin pipe (EOF for the child).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }
    pub fn write_stdin(&mut self, b: &[u8]) {
        if let Some(w) = self.stdin.as_mut() {
            w.write_all(b).expect("write child stdin");
        }
    }
    /// Still running?
    pub fn running(&mut self) -> bool {
        if self.status.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(s)) => {
                self.status = Some(s);
                false
            }
            _ => true,
        }
    }
    /// Waits for the exit; panics (after killing) if it takes over `limit`.
    #[track_caller]
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        while self.running() {
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "{}: still running after {limit:?}; stderr: {:?}",
                    self.label,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.out.wait_closed(Duration::from_secs(2));
        self.err.wait_closed(Duration::from_secs(2));
        self.status.expect("status")
    }
    /// Exit code (panics on a signal death).
    #[track_caller]
    pub fn code(&mut self, limit: Duration) -> i32 {
        let s = self.wait(limit);
        s.code()
            .unwrap_or_else(|| panic!("{}: killed by a signal: {s:?}", self.label))
    }
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child by PID.
        unsafe { libc::kill(self.pid(), sig) };
    }
    pub fn kill(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Run {
    /// SIGTERM first (ncrab then removes its files even when a test
    /// failed half-way), SIGKILL if it is still there a second later.
    fn drop(&mut self) {
        if self.running() {
            self.signal(libc::SIGTERM);
            eventually(Duration::from_secs(1), || !self.running());
        }
        self.kill();
    }
}

/// Asserts the exact exit code, stderr and stdout of a finished run.
#[track_caller]
pub fn expect(r: &mut Run, limit: Duration, code: i32, stderr: &str, stdout: &[u8]) {
    let got = r.code(limit);
    assert_eq!(r.stderr(), stderr, "{}: stderr", r.label);
    assert_eq!(
        String::from_utf8_lossy(&r.stdout()),
        String::from_utf8_lossy(stdout),
        "{}: stdout",
        r.label
    );
    assert_eq!(got, code, "{}: exit status", r.label);
}

/// The port a listener reports on its `Bound on ADDR PORT` or
/// `Listening on ADDR PORT` line.
#[track_caller]
pub fn reported_port(r: &Run, what: &str) -> u16 {
    r.wait_stderr(&format!("{what} on "), Duration::from_secs(5));
    let err = r.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("{what} on ")))
        .expect("line");
    line.rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// A UDP port with nothing bound to it (just released).
pub fn closed_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// A pseudo-terminal: (master, slave).
pub fn pty() -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty fills two fds; the other pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: fresh fds we own.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

/// A connected Unix stream socket pair.
pub fn socketpair() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two fds.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair");
    // SAFETY: fresh fds we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two fds.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh fds we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Receives one byte and one SCM_RIGHTS descriptor from `sock`.
pub fn recv_fd(sock: &OwnedFd) -> Option<(u8, OwnedFd)> {
    let mut byte = [0xffu8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = [0u64; 8];
    // SAFETY: a zeroed msghdr pointing at live local buffers.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&space) as _;
        if libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) != 1 {
            return None;
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>());
        Some((byte[0], OwnedFd::from_raw_fd(fd)))
    }
}

/// Deterministic test data.
pub fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// SHA-256 of `data`, as lowercase hex (FIPS 180-4).
pub fn sha256(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for i in 0..8 {
            h[i] = h[i].wrapping_add(v[i]);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_known_answers() {
    assert_eq!(
        sha256(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// Snapshot of the `/tmp/nc-*` directories (the `-Uu` clients' private
/// directories), to check that ncrab leaves none behind.
pub fn nc_tmp_dirs() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir("/tmp")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("nc-") && n.len() == 9)
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Serialises the tests that create `/tmp/nc-*` directories, so each can
/// check that none is left behind.
pub fn tmp_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asserts that no `/tmp/nc-*` directory appeared since `before`.
#[track_caller]
pub fn assert_no_new_tmp_dirs(before: &[String]) {
    let now = nc_tmp_dirs();
    let new: Vec<&String> = now.iter().filter(|d| !before.contains(d)).collect();
    assert!(new.is_empty(), "directories left in /tmp: {new:?}");
}

/// Waits until `cond` holds (polling), up to `limit`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}
