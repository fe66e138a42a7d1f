//! Sockets, descriptors and data for the tests: socket pairs and
//! descriptor passing (`-F`), ports that refuse connections, service names,
//! the `/tmp/nc-*` directories of `-Uu` clients, test data and checksums.

use std::ffi::CStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::unique;

// ---------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------

/// A connected Unix stream socket pair (both ends close-on-exec).
pub fn socketpair() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two fds into a valid 2-element array.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", io::Error::last_os_error());
    // SAFETY: fresh fds we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Receives one byte and one SCM_RIGHTS descriptor from `sock` (what `-F`
/// sends).
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

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

/// A TCP port on 127.0.0.1 that refuses connections and stays reserved
/// while the returned socket lives (bound, never listening), so no other
/// test can be given it meanwhile.
pub fn reserved_closed_port() -> (socket2::Socket, u16) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("create a socket");
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind a socket");
    let port = s
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| a.port())
        .expect("a bound port");
    (s, port)
}

/// A UDP port of 127.0.0.1 with nothing bound to it (just released).
pub fn closed_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// The /etc/services name of a TCP port, if it has one (nc prints
/// `[tcp/NAME]`, or `[tcp/*]` without one).
pub fn service_name(port: u16) -> Option<String> {
    // SAFETY: a valid C string; the result is copied at once.
    unsafe {
        let ent = libc::getservbyport(i32::from(port.to_be()), c"tcp".as_ptr());
        (!ent.is_null()).then(|| CStr::from_ptr((*ent).s_name).to_string_lossy().into_owned())
    }
}

/// A listener on `addr`; with port 0, on a port without a service name.
pub fn unnamed_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    for _ in 0..50 {
        let l = TcpListener::bind(addr)?;
        if addr.port() != 0 || service_name(l.local_addr()?.port()).is_none() {
            return Ok(l);
        }
    }
    Err(io::Error::other("no port without a service name"))
}

// ---------------------------------------------------------------------------
// The private directories of `-Uu` clients
// ---------------------------------------------------------------------------

/// Snapshot of the `/tmp/nc-XXXXXX` directories (the `-Uu` clients'
/// private directories), to check that ncrab leaves none behind.
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
pub fn tmp_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asserts that no `/tmp/nc-*` directory appeared since `before` and
/// stayed. Another program on the machine (a second test run, nc.openbsd
/// elsewhere) may own one for a moment: a leak is one still there after
/// 3 s, not one seen once.
#[track_caller]
pub fn assert_no_new_tmp_dirs(before: &[String]) {
    let start = std::time::Instant::now();
    loop {
        let now = nc_tmp_dirs();
        let new: Vec<&String> = now.iter().filter(|d| !before.contains(d)).collect();
        if new.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(3),
            "directories left in /tmp: {new:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// Test data and checksums
// ---------------------------------------------------------------------------

/// xorshift64: fills buffers with pseudo-random bytes, 8 at a time.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Never 0 (a fixed point), and far apart for nearby seeds.
        XorShift((seed.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for w in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            w.copy_from_slice(&self.0.to_le_bytes()[..w.len()]);
        }
    }
}

/// `len` bytes of deterministic test data: the same for the same seed,
/// different for different seeds.
pub fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut v = vec![0u8; len];
    XorShift::new(u64::from(seed)).fill(&mut v);
    v
}

/// Write `len` pseudo-random bytes (seeded per call) to a file.
pub fn random_file(path: &Path, len: usize) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut rng = XorShift::new(nanos ^ ((unique() as u64 + 1) << 32));
    let mut f =
        io::BufWriter::with_capacity(1 << 20, File::create(path).expect("create data file"));
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        rng.fill(&mut chunk);
        let n = left.min(chunk.len());
        f.write_all(&chunk[..n]).expect("write data file");
        left -= n;
    }
    f.flush().expect("write data file");
}

/// sha256 of a file, through `sha256sum`.
pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum failed");
    first_word(&out.stdout)
}

/// sha256 of bytes, through `sha256sum` (see [`assert_sha256_known_answers`]).
pub fn sha256_bytes(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    let mut w = child.stdin.take().expect("sha256sum stdin");
    let data = data.to_vec();
    // A thread writes, so a large input never blocks against the output.
    let writer = std::thread::spawn(move || w.write_all(&data));
    let out = child.wait_with_output().expect("run sha256sum");
    assert!(
        matches!(writer.join(), Ok(Ok(()))) && out.status.success(),
        "sha256sum failed"
    );
    first_word(&out.stdout)
}

fn first_word(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// The checksum helpers give FIPS 180-4's answers.
#[track_caller]
pub fn assert_sha256_known_answers() {
    assert_eq!(
        sha256_bytes(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_bytes(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

// ---------------------------------------------------------------------------
// Streams of test data, checked as they arrive
// ---------------------------------------------------------------------------

/// A deterministic, non-repeating byte stream of any length, cheap enough
/// to generate and check at GiB scale in a debug build: blocks of
/// [`Pattern::BLOCK`] bytes (a prime, so no page or buffer size divides
/// it), each a per-pattern random block whose first 8 bytes are replaced
/// by the block's index. A lost, duplicated, reordered or altered byte
/// anywhere shows up at its offset (see [`Checker`]).
#[derive(Clone)]
pub struct Pattern {
    base: std::sync::Arc<Vec<u8>>,
}

impl Pattern {
    pub const BLOCK: usize = 65_521;

    pub fn new(seed: u64) -> Pattern {
        let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut base = vec![0u8; Pattern::BLOCK];
        for b in base.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        Pattern {
            base: std::sync::Arc::new(base),
        }
    }

    /// The bytes at stream offset `pos..pos + out.len()`.
    pub fn fill(&self, mut pos: u64, out: &mut [u8]) {
        let b = Pattern::BLOCK as u64;
        let mut done = 0;
        while done < out.len() {
            let (block, off) = (pos / b, (pos % b) as usize);
            let n = (Pattern::BLOCK - off).min(out.len() - done);
            let dst = &mut out[done..done + n];
            dst.copy_from_slice(&self.base[off..off + n]);
            if off < 8 {
                let idx = block.to_le_bytes();
                let k = (8 - off).min(n);
                dst[..k].copy_from_slice(&idx[off..off + k]);
            }
            done += n;
            pos += n as u64;
        }
    }

    /// Writes bytes `from..from + len` of the stream.
    pub fn write_to(&self, w: &mut impl Write, from: u64, len: u64) -> io::Result<()> {
        let mut buf = vec![0u8; 256 * 1024];
        let mut pos = from;
        while pos < from + len {
            let n = (from + len - pos).min(buf.len() as u64) as usize;
            self.fill(pos, &mut buf[..n]);
            w.write_all(&buf[..n])?;
            pos += n as u64;
        }
        Ok(())
    }

    /// A regular file holding the first `len` bytes.
    pub fn file(&self, path: &Path, len: u64) {
        let mut f = File::create(path).expect("create pattern file");
        self.write_to(&mut f, 0, len).expect("write pattern file");
    }

    pub fn checker(&self) -> Checker {
        Checker {
            pat: self.clone(),
            pos: 0,
            bad: None,
            scratch: Vec::new(),
        }
    }
}

/// Checks a received stream against a [`Pattern`], chunk by chunk.
pub struct Checker {
    pat: Pattern,
    pos: u64,
    bad: Option<u64>,
    scratch: Vec<u8>,
}

impl Checker {
    /// The next bytes of the stream.
    pub fn feed(&mut self, data: &[u8]) {
        if self.bad.is_none() {
            self.scratch.resize(data.len(), 0);
            self.pat.fill(self.pos, &mut self.scratch);
            if self.scratch[..] != *data {
                let at = data
                    .iter()
                    .zip(&self.scratch)
                    .take_while(|(a, b)| a == b)
                    .count();
                self.bad = Some(self.pos + at as u64);
            }
        }
        self.pos += data.len() as u64;
    }
    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.pos
    }
    /// Exactly the first `len` bytes of the pattern, nothing else?
    #[track_caller]
    pub fn assert_exact(&self, what: &str, len: u64) {
        if let Some(at) = self.bad {
            panic!("{what}: the data differs from what was sent at byte {at}");
        }
        assert_eq!(
            self.pos, len,
            "{what}: {} bytes received, {len} sent",
            self.pos
        );
    }
    /// Reads `r` to EOF (or an error), checking; returns the byte count.
    pub fn read_all(&mut self, r: &mut impl io::Read) -> u64 {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.feed(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.pos
    }
}

/// The terminal attributes of a tty fd (c_iflag, c_oflag, c_cflag, c_lflag).
pub fn termios_of(fd: &impl AsRawFd) -> (u32, u32, u32, u32) {
    // SAFETY: tcgetattr fills a zeroed termios.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) };
    assert_eq!(rc, 0, "tcgetattr: {}", io::Error::last_os_error());
    (t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag)
}
