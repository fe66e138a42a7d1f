//! Every user-visible text ncrab prints, in one place.
//!
//! This module is the readable form of the behaviour contract
//! (docs/compatibility.md §2): each function here prints one message of
//! the catalogue, byte for byte as OpenBSD netcat does, or one of ncrab's
//! opt-in extensions (`-vv` diagnoses, `--json`). Error texts always come from
//! the C library (`strerror`, `gai_strerror`), never from Rust's `Display`
//! for `io::Error`, which appends "(os error N)".
//!
//! Messages are prefixed with the basename of `argv[0]` ([`prog`]), except
//! getopt's own errors, which use the full `argv[0]` as glibc does.

use std::cell::RefCell;
use std::ffi::{CStr, OsStr, OsString};
use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;
use std::time::Duration;

pub mod diagnosis;

static ARGV0: OnceLock<OsString> = OnceLock::new();

/// Records `argv[0]`; called once at start-up.
pub fn set_argv0(argv0: OsString) {
    let _ = ARGV0.set(argv0);
}

/// The full `argv[0]`, as glibc's getopt prints it.
pub fn argv0() -> &'static [u8] {
    ARGV0.get().map(|s| s.as_bytes()).unwrap_or(b"ncrab")
}

/// The message prefix: the basename of `argv[0]` (glibc's
/// `program_invocation_short_name`), so a symlink named `nc` prints `nc: `.
pub fn prog() -> &'static [u8] {
    let full = argv0();
    match full.iter().rposition(|&b| b == b'/') {
        Some(i) => &full[i + 1..],
        None => full,
    }
}

/// The program name as text, for the usage line and help.
pub fn prog_str() -> String {
    String::from_utf8_lossy(prog()).into_owned()
}

/// An errno value whose `Display` is the C library's `strerror` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The errno carried by an `io::Error` (EIO when it has none).
    pub fn of(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The symbolic name (`ECONNREFUSED`), for `--json`.
    pub fn name(self) -> &'static str {
        errno_name(self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0 as libc::c_char; 256];
        // SAFETY: the XSI strerror_r writes a NUL-terminated string into buf.
        let rc = unsafe { libc::strerror_r(self.0, buf.as_mut_ptr(), buf.len()) };
        if rc != 0 {
            return write!(f, "Unknown error {}", self.0);
        }
        // SAFETY: strerror_r succeeded, so buf holds a C string.
        let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
        f.write_str(&s.to_string_lossy())
    }
}

impl From<&io::Error> for Errno {
    fn from(e: &io::Error) -> Errno {
        Errno::of(e)
    }
}

/// A getaddrinfo/getnameinfo error code whose `Display` is `gai_strerror`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GaiError {
    pub code: i32,
    /// errno at the time of an EAI_SYSTEM failure.
    pub errno: i32,
}

impl fmt::Display for GaiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == libc::EAI_SYSTEM {
            return Errno(self.errno).fmt(f);
        }
        // SAFETY: gai_strerror returns a pointer to a static string.
        let s = unsafe { CStr::from_ptr(libc::gai_strerror(self.code)) };
        f.write_str(&s.to_string_lossy())
    }
}

/// Where a line goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Held output: runs of bytes, in order, each for one stream.
type Runs = Vec<(Stream, Vec<u8>)>;

thread_local! {
    /// The lines held while a [`batch`] is open.
    static HELD: RefCell<Option<Runs>> = const { RefCell::new(None) };
}

/// A held run larger than this is written at once.
const HELD_MAX: usize = 64 * 1024;

/// Writes bytes to a stream, ignoring failures (stderr may be closed; a
/// message is never worth dying for).
///
/// The stream may also be a full pipe whose reader has stopped: the write
/// then waits, but never past SIGINT or SIGTERM. It waits for room with
/// poll(2), a fifth of a second at a time, looking at the pending signal
/// in between, and writes at most PIPE_BUF bytes at once (which a pipe
/// with room takes without blocking); a signal also interrupts a write
/// that does block (see `signals`). Once a signal is pending the rest is
/// dropped: the run is ending.
fn write_to(stream: Stream, bytes: &[u8]) {
    let fd = match stream {
        Stream::Stdout => libc::STDOUT_FILENO,
        Stream::Stderr => libc::STDERR_FILENO,
    };
    if !bytes.starts_with(b"\r") {
        erase_status_for(stream);
    }
    let mut rest = bytes;
    while !rest.is_empty() && crate::sys::signals::pending().is_none() {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 200) } <= 0 {
            continue; // no room yet, or EINTR: look at the signal again
        }
        let n = rest.len().min(libc::PIPE_BUF);
        // SAFETY: rest is valid for n bytes.
        let w = unsafe { libc::write(fd, rest.as_ptr().cast(), n) };
        if w > 0 {
            rest = &rest[w as usize..];
        } else if w == 0
            || !matches!(
                io::Error::last_os_error().raw_os_error(),
                Some(libc::EINTR | libc::EAGAIN)
            )
        {
            return;
        }
    }
}

/// One whole line to `stream`: written at once in a single write, or
/// held while a [`batch`] is open.
fn output(stream: Stream, line: &[u8]) {
    enum Then {
        Write,
        Hold,
        Flush,
    }
    let then = HELD.with_borrow_mut(|held| {
        let Some(held) = held else {
            return Then::Write;
        };
        match held.last_mut() {
            Some((s, buf)) if *s == stream => buf.extend_from_slice(line),
            _ => held.push((stream, line.to_vec())),
        }
        match held.last() {
            Some((_, buf)) if buf.len() > HELD_MAX => Then::Flush,
            _ => Then::Hold,
        }
    });
    match then {
        Then::Write => write_to(stream, line),
        Then::Hold => {}
        Then::Flush => flush_held(),
    }
}

fn flush_held() {
    let runs = HELD.with_borrow_mut(|held| held.as_mut().map(std::mem::take));
    for (stream, bytes) in runs.into_iter().flatten() {
        write_to(stream, &bytes);
    }
}

/// Runs `f`, holding every line it prints and writing them when it
/// returns, in order, with one write per run of lines to the same stream.
/// A scan's report becomes known in batches (all the answers of one pass
/// of the loop); this prints each batch at once, as it becomes known.
pub fn batch<R>(f: impl FnOnce() -> R) -> R {
    let outer = HELD.with_borrow_mut(|held| {
        let outer = held.is_some();
        held.get_or_insert_with(Vec::new);
        outer
    });
    let r = f();
    if !outer {
        flush_held();
        HELD.set(None);
    }
    r
}

/// One whole line to stderr.
fn emit(line: &[u8]) {
    output(Stream::Stderr, line);
}

/// `PROG: MSG\n` (nc's `warnx`/`errx`).
pub fn warnx(msg: fmt::Arguments<'_>) {
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(prog());
    line.extend_from_slice(b": ");
    let _ = line.write_fmt(msg);
    line.push(b'\n');
    emit(&line);
}

/// `PROG: MSG` followed by an argument exactly as the user typed it (nc's
/// `errx("... %s", optarg)`: bytes that are not UTF-8 come back unchanged).
pub fn warnx_arg(msg: fmt::Arguments<'_>, arg: &[u8]) {
    emit_parts(true, &[msg.to_string().as_bytes(), arg]);
}

/// `PROG: MSG: STRERROR\n` (nc's `warn`/`err`).
pub fn warn(msg: fmt::Arguments<'_>, errno: Errno) {
    warnx(format_args!("{msg}: {errno}"));
}

/// `PROG: STRERROR\n` (nc's `err(1, NULL)`, M14).
pub fn warn_errno(errno: Errno) {
    warnx(format_args!("{errno}"));
}

/// A plain line on stderr with no prefix (nc's `fprintf(stderr, ...)`).
pub fn note(msg: fmt::Arguments<'_>) {
    let mut line = Vec::with_capacity(128);
    let _ = line.write_fmt(msg);
    line.push(b'\n');
    emit(&line);
}

// ---------------------------------------------------------------------------
// Command line (docs/compatibility.md §1)
// ---------------------------------------------------------------------------

/// getopt's errors, prefixed with the full argv[0]. The message may hold
/// the user's bytes (`invalid option -- '\xff'`), printed as they came.
pub fn getopt_error(msg: &[u8]) {
    let mut line = Vec::with_capacity(128 + msg.len());
    line.extend_from_slice(argv0());
    line.extend_from_slice(b": ");
    line.extend_from_slice(msg);
    line.push(b'\n');
    emit(&line);
}

/// The usage synopsis printed after every usage error (docs/compatibility.md §1.4 and departure 1:
/// it names ncrab's options, which include `-b` and the long-only ones).
/// nc always says `usage: nc` whatever its argv[0]; so does ncrab, unless
/// it was run under its own name.
pub fn usage_text() -> String {
    let name = if prog() == b"ncrab" { "ncrab" } else { "nc" };
    format!(
        "usage: {} [-46bCcDdFhklNnrStUuvZz] [-e name] [-H hash] [-I length]\n\
         \t  [-i interval] [-K keyfile] [-M ttl] [-m minttl] [-O length]\n\
         \t  [-o staplefile] [-P proxy_username] [-p source_port] [-q seconds]\n\
         \t  [-R CAfile] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]\n\
         \t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]\n\
         \t  [--json] [--tls-cert certfile] [--window count] [destination] [port]\n",
        name
    )
}

pub fn usage() {
    emit(usage_text().as_bytes());
}

/// `--generate` was given something it cannot render.
pub fn generate_unknown(what: &str, targets: &[&str]) {
    warnx(format_args!(
        "--generate: unknown value '{what}' (one of: {})",
        targets.join(", ")
    ));
}

// ---------------------------------------------------------------------------
// Connecting (docs/compatibility.md §2 M1-M6, §3)
// ---------------------------------------------------------------------------

/// How a destination is named in connect messages: `HOST` or `HOST (IP)`.
/// nc adds `(IP)` when `-n` is off, no proxy is used and the text differs.
/// HOST is printed as typed, byte for byte.
pub struct Dest<'a> {
    pub host: &'a OsStr,
    pub ip: Option<&'a str>,
}

impl Dest<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut b = self.host.as_bytes().to_vec();
        if let Some(ip) = self.ip.filter(|ip| ip.as_bytes() != self.host.as_bytes()) {
            b.extend_from_slice(format!(" ({ip})").as_bytes());
        }
        b
    }
}

/// A line built from pieces, some of them the user's bytes: with the
/// `PROG: ` prefix (nc's warnx) or without (fprintf).
fn emit_parts(prefixed: bool, parts: &[&[u8]]) {
    let mut line = Vec::with_capacity(128);
    if prefixed {
        line.extend_from_slice(prog());
        line.extend_from_slice(b": ");
    }
    for p in parts {
        line.extend_from_slice(p);
    }
    line.push(b'\n');
    emit(&line);
}

/// M1/M1b: `Connection to HOST[ (IP)] PORT port [PROTO/SERVICE] succeeded!`
pub fn connect_succeeded(dest: &Dest<'_>, port: u16, proto: &str, service: &str) {
    let tail = format!(" {port} port [{proto}/{service}] succeeded!");
    emit_parts(false, &[b"Connection to ", &dest.bytes(), tail.as_bytes()]);
}

/// M2/M2b: `PROG: connect to HOST[ (IP)] port PORT (PROTO) failed: STRERROR`
pub fn connect_failed(dest: &Dest<'_>, port: impl AsRef<OsStr>, proto: &str, errno: Errno) {
    connect_line(dest, port.as_ref(), &format!(" ({proto}) failed: {errno}"));
}

/// M3: the `-w` connect timer expired. The stale errno is EINPROGRESS.
pub fn connect_timed_out(dest: &Dest<'_>, port: impl AsRef<OsStr>, proto: &str) {
    let tail = format!(" ({proto}) timed out: {}", Errno(libc::EINPROGRESS));
    connect_line(dest, port.as_ref(), &tail);
}

/// `PROG: connect to HOST[ (IP)] port PORT` and `tail` (M2, M3).
pub fn connect_line(dest: &Dest<'_>, port: &OsStr, tail: &str) {
    let parts: [&[u8]; 5] = [
        b"connect to ",
        &dest.bytes(),
        b" port ",
        port.as_bytes(),
        tail.as_bytes(),
    ];
    emit_parts(true, &parts);
}

/// M4: client name lookup failed.
pub fn getaddrinfo_host_failed(host: &OsStr, port: &OsStr, e: GaiError) {
    let tail = format!(": {e}");
    let parts: [&[u8]; 5] = [
        b"getaddrinfo for host \"",
        host.as_bytes(),
        b"\" port ",
        port.as_bytes(),
        tail.as_bytes(),
    ];
    emit_parts(true, &parts);
}

/// M5: lookup of the source or listen address failed.
pub fn getaddrinfo_failed(e: GaiError) {
    warnx(format_args!("getaddrinfo: {e}"));
}

/// M6: binding the client's source address failed.
pub fn bind_failed(errno: Errno) {
    warn(format_args!("bind failed"), errno);
}

// ---------------------------------------------------------------------------
// Proxies (docs/compatibility.md §7)
// ---------------------------------------------------------------------------

/// Why a proxy handshake failed: one of nc's socks.c messages, or one of
/// ncrab's SOCKS5 extensions (username/password authentication).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// `write failed (N/M): STRERROR`
    WriteFailed {
        done: usize,
        of: usize,
        errno: Errno,
    },
    /// `read failed (N/M): STRERROR` (SOCKS; EOF reads as EPIPE)
    ReadFailed {
        done: usize,
        of: usize,
        errno: Errno,
    },
    /// `proxy read: STRERROR` (HTTP; EOF reads as EPIPE)
    ProxyRead(Errno),
    /// `proxy read too long`
    ReadTooLong,
    /// `authentication method negotiation failed`
    MethodNegotiation,
    /// `host name too long for SOCKS5`
    HostTooLongSocks5,
    /// `connection failed, SOCKSv5 error: TEXT`
    Socks5(u8),
    /// `connection failed, unsupported address type`
    Socks5AddressType,
    /// `connection failed, SOCKSv4 error: TEXT`
    Socks4(u8),
    /// `getaddrinfo("HOST", "PORT"): GAI` (SOCKS4's local lookup; HOST as
    /// typed)
    Socks4Lookup {
        host: Vec<u8>,
        port: String,
        gai: GaiError,
    },
    /// `Invalid hostname`
    InvalidHostname,
    /// `hostname too long`
    HostnameTooLong,
    /// `Proxy error: "STATUS LINE"` (raw bytes, up to a NUL as in C)
    Status(Vec<u8>),
    /// `Too many proxy headers received`
    TooManyHeaders,
    /// `Proxy username/password too long`
    UserPassTooLong,
    /// `Proxy auth response too long`
    AuthResponseTooLong,
    /// `Unable to read proxy passphrase`
    NoPassphrase,
    /// `Too many authentication failures`
    TooManyAuthFailures,
    /// Extension: the SOCKS5 proxy refused the username and password.
    Socks5AuthRejected(u8),
}

/// nc's SOCKSv5 reply texts (RFC 1928).
pub fn socks5_strerror(code: u8) -> &'static str {
    match code {
        0 => "Succeeded",
        1 => "General SOCKS server failure",
        2 => "Connection not allowed by ruleset",
        3 => "Network unreachable",
        4 => "Host unreachable",
        5 => "Connection refused",
        6 => "TTL expired",
        7 => "Command not supported",
        8 => "Address type not supported",
        _ => "Unknown error",
    }
}

/// nc's SOCKSv4 reply texts.
pub fn socks4_strerror(code: u8) -> &'static str {
    match code {
        90 => "Succeeded",
        91 => "Request rejected or failed",
        92 => "SOCKS server cannot connect to identd on the client",
        93 => "Client program and identd report different user-ids",
        _ => "Unknown error",
    }
}

/// C's `%.64s`: at most 64 bytes.
fn at_most_64(b: &[u8]) -> &[u8] {
    &b[..b.len().min(64)]
}

/// Prints the message of a failed proxy handshake: `PROG: TEXT`.
pub fn proxy_failed(e: &ProxyError) {
    let text = proxy_error_text(e);
    let mut line = Vec::with_capacity(text.len() + 32);
    line.extend_from_slice(prog());
    line.extend_from_slice(b": ");
    line.extend_from_slice(&text);
    line.push(b'\n');
    emit(&line);
}

/// The text of a failed proxy handshake, as nc words it. A proxy's status
/// line is its own bytes, kept as they came.
pub fn proxy_error_text(e: &ProxyError) -> Vec<u8> {
    use ProxyError::*;
    let with_errno = |msg: fmt::Arguments<'_>, errno: Errno| format!("{msg}: {errno}");
    let text = match e {
        WriteFailed { done, of, errno } => {
            with_errno(format_args!("write failed ({done}/{of})"), *errno)
        }
        ReadFailed { done, of, errno } => {
            with_errno(format_args!("read failed ({done}/{of})"), *errno)
        }
        ProxyRead(errno) => with_errno(format_args!("proxy read"), *errno),
        ReadTooLong => "proxy read too long".to_string(),
        MethodNegotiation => "authentication method negotiation failed".to_string(),
        HostTooLongSocks5 => "host name too long for SOCKS5".to_string(),
        Socks5(code) => format!(
            "connection failed, SOCKSv5 error: {}",
            socks5_strerror(*code)
        ),
        Socks5AddressType => "connection failed, unsupported address type".to_string(),
        Socks4(code) => format!(
            "connection failed, SOCKSv4 error: {}",
            socks4_strerror(*code)
        ),
        Socks4Lookup { host, port, gai } => {
            let mut msg = b"getaddrinfo(\"".to_vec();
            msg.extend_from_slice(at_most_64(host));
            msg.extend_from_slice(b"\", \"");
            msg.extend_from_slice(at_most_64(port.as_bytes()));
            msg.extend_from_slice(format!("\"): {gai}").as_bytes());
            return msg;
        }
        InvalidHostname => "Invalid hostname".to_string(),
        HostnameTooLong => "hostname too long".to_string(),
        Status(line) => {
            let mut msg = b"Proxy error: \"".to_vec();
            msg.extend_from_slice(line);
            msg.push(b'"');
            return msg;
        }
        TooManyHeaders => "Too many proxy headers received".to_string(),
        UserPassTooLong => "Proxy username/password too long".to_string(),
        AuthResponseTooLong => "Proxy auth response too long".to_string(),
        NoPassphrase => "Unable to read proxy passphrase".to_string(),
        TooManyAuthFailures => "Too many authentication failures".to_string(),
        Socks5AuthRejected(status) => {
            format!("SOCKSv5 username/password authentication failed (status {status})")
        }
    };
    text.into_bytes()
}

/// The prompt for the proxy password (written to the terminal).
pub fn proxy_password_prompt(user: &str, proxy_host: &str) -> String {
    format!("Proxy password for {user}@{proxy_host}: ")
}

/// A 407 after a password was sent: a plain line, no prefix (nc's fprintf).
pub fn proxy_auth_failed() {
    note(format_args!("Proxy authentication failed"));
}

// ---------------------------------------------------------------------------
// Relay filters and -S (docs/compatibility.md §6.3)
// ---------------------------------------------------------------------------

/// M20: writing a `-t` reply failed (a warning only).
pub fn telnet_write_failed(errno: Errno) {
    warn(format_args!("Write Error!"), errno);
}

/// The `-S` prompt (written to the terminal).
pub const MD5SIG_PROMPT: &str = "TCP MD5SIG password: ";

/// `-S` without a terminal to read the key from.
pub fn md5sig_no_tty() {
    warnx(format_args!("Unable to read TCP MD5SIG password"));
}

// ---------------------------------------------------------------------------
// Listening (docs/compatibility.md §2 M7-M17, §8)
// ---------------------------------------------------------------------------

/// M7/M8/M9: nc's `report_sock`: `MSG on HOST PORT` (`Listening`,
/// `Bound`, `Connection received`), the host reverse-resolved unless `-n`
/// and the port numeric. A getnameinfo failure only warns (Debian) and the
/// line is skipped. The caller does the lookup (`resolve::name_info`).
pub fn sock_line(msg: &str, name: Result<(String, String), GaiError>) {
    match name {
        Ok((host, port)) => note(format_args!("{msg} on {host} {port}")),
        Err(e) if e.code == libc::EAI_SYSTEM => warn(format_args!("getnameinfo"), Errno(e.errno)),
        Err(e) => warnx(format_args!("getnameinfo: {e}")),
    }
}

/// M15: a listener's `recvfrom`, `connect` or `accept` failed.
pub fn listener_call_failed(call: ListenerCall, errno: Errno) {
    let what = match call {
        ListenerCall::Recvfrom => "recvfrom",
        ListenerCall::Connect => "connect",
        ListenerCall::Accept => "accept",
    };
    warn(format_args!("{what}"), errno);
}

/// The listener's system calls that M15 names.
#[derive(Clone, Copy, Debug)]
pub enum ListenerCall {
    Recvfrom,
    Connect,
    Accept,
}

/// M16: a listener socket option could not be set (not fatal).
pub fn couldnt_set(opt: &str, errno: Errno) {
    warn(format_args!("Couldn't set {opt}"), errno);
}

// ---------------------------------------------------------------------------
// Unix-domain sockets (docs/compatibility.md §2 M10-M13, M26, §6.5) and -F (M21)
// ---------------------------------------------------------------------------

/// `PROG: PATH: STRERROR`: M13 (a `-U` client's connect failed) and M26
/// (the `-Uu` client's receiving socket could not be bound). The path is
/// printed as given, byte for byte.
pub fn path_failed(path: &[u8], errno: Errno) {
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(prog());
    line.extend_from_slice(b": ");
    line.extend_from_slice(path);
    let _ = writeln!(line, ": {errno}");
    emit(&line);
}

/// M10-M12: `Bound on PATH`, `Listening on PATH`, `Connection received on
/// PATH` (always the listener's own path, `@` included).
pub fn path_line(msg: &str, path: &[u8]) {
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(msg.as_bytes());
    line.extend_from_slice(b" on ");
    line.extend_from_slice(path);
    line.push(b'\n');
    emit(&line);
}

/// M26: the `-Uu` client's private directory could not be made.
pub fn mkdtemp_failed(errno: Errno) {
    warn(format_args!("mkdtemp"), errno);
}

/// M21: `-F` with a terminal on stdout.
pub fn fdpass_tty() {
    warnx(format_args!("Cannot pass file descriptor to tty"));
}

/// M21: passing the descriptor failed.
pub fn sendmsg_failed(errno: Errno) {
    warn(format_args!("sendmsg"), errno);
}

/// M21: sendmsg sent something other than the one byte.
pub fn sendmsg_unexpected(n: usize) {
    warnx(format_args!("sendmsg: unexpected return value {n}"));
}

/// M21: waiting for stdout to take the descriptor failed.
pub fn fdpass_poll_failed(errno: Errno) {
    warn(format_args!("poll"), errno);
}

// ---------------------------------------------------------------------------
// Extensions (docs/compatibility.md §A.3): `-vv` diagnoses and relay summary
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// `--json`
// ---------------------------------------------------------------------------

/// Appends `s` as a JSON string literal.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One `--json` line.
pub struct JsonProbe<'a> {
    /// As typed (JSON text is UTF-8: other bytes become U+FFFD).
    pub host: &'a OsStr,
    pub ip: Option<&'a str>,
    pub port: u16,
    pub proto: &'a str,
    pub service: &'a str,
    pub state: &'a str,
    pub errno: Option<&'a str>,
    pub error: Option<String>,
    pub ms: u128,
    /// `-zc`: the `"tls"` object, as JSON text ([`tls::scan_json`]).
    pub tls: Option<String>,
    /// Extension: why it failed (null when open), see [`diagnosis`].
    pub diagnosis: Option<&'a diagnosis::Diagnosis>,
    /// `--banner`: the server's first line.
    pub banner: Option<&'a diagnosis::Banner>,
}

/// The `"error"` of a scan's `--json` line for a connect that the `-w`
/// timer ended.
pub fn json_timed_out() -> String {
    "timed out".to_string()
}

/// Prints one probe as a JSON object on its own line of stdout.
pub fn json_probe(p: &JsonProbe<'_>) {
    let mut s = String::with_capacity(160);
    let opt = |s: &mut String, v: Option<&str>| match v {
        Some(v) => json_str(s, v),
        None => s.push_str("null"),
    };
    s.push_str("{\"host\":");
    json_str(&mut s, &p.host.to_string_lossy());
    s.push_str(",\"ip\":");
    opt(&mut s, p.ip);
    s.push_str(&format!(",\"port\":{},\"proto\":", p.port));
    json_str(&mut s, p.proto);
    s.push_str(",\"service\":");
    json_str(&mut s, p.service);
    s.push_str(",\"state\":");
    json_str(&mut s, p.state);
    s.push_str(",\"errno\":");
    opt(&mut s, p.errno);
    s.push_str(",\"error\":");
    opt(&mut s, p.error.as_deref());
    s.push_str(&format!(",\"ms\":{}", p.ms));
    if let Some(t) = &p.tls {
        s.push_str(",\"tls\":");
        s.push_str(t);
    }
    diagnosis::json_field(&mut s, p.diagnosis);
    diagnosis::json_banner(&mut s, p.banner);
    s.push('}');
    stdout_line(&s);
}

/// The symbolic name of an errno value.
pub fn errno_name(e: i32) -> &'static str {
    match e {
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EINVAL => "EINVAL",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ECONNRESET => "ECONNRESET",
        libc::EPIPE => "EPIPE",
        libc::ENOENT => "ENOENT",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOBUFS => "ENOBUFS",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENETDOWN => "ENETDOWN",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EPROTO => "EPROTO",
        _ => "EUNKNOWN",
    }
}

/// Writes raw bytes to stdout (used for `--json` lines).
pub fn stdout_line(line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    output(Stream::Stdout, &bytes);
}

// ---------------------------------------------------------------------------
// Lists of destinations, readiness waits, progress (extensions)
// ---------------------------------------------------------------------------

/// Why a list of destinations (net/targets.rs) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// An empty item (`a,,b`, a trailing comma).
    Empty,
    /// `ADDR/N` with N not a prefix length of the address's family.
    Prefix { item: String, max: u32 },
    /// Host bits set below the prefix (`10.0.0.1/24`).
    HostBits { item: String },
    /// A range part that is not `N` or `A-B` with A <= B <= 255.
    Range { item: String },
    /// More than `max` addresses in one item.
    TooLarge { item: String, max: u64 },
    /// The list holds no address at all (every block trimmed empty).
    NoHosts,
}

/// A `--hosts` failure: the file cannot be read, or line `line` is bad.
#[derive(Debug)]
pub enum HostsFileError {
    Read(std::io::Error),
    TooBig { max_mib: usize },
    Line { line: usize, err: TargetError },
    NoHosts,
}

fn target_error_text(e: &TargetError) -> String {
    use TargetError as E;
    match e {
        E::Empty => "empty destination in list".to_string(),
        E::Prefix { item, max } => format!("{item}: prefix length must be 0 to {max}"),
        E::HostBits { item } => format!("{item}: address has bits set beyond the prefix"),
        E::Range { item } => {
            format!("{item}: bad range: each part must be N or A-B with A <= B <= 255")
        }
        E::TooLarge { item, max } => {
            format!("{item}: too many addresses (at most {max} in one block or range)")
        }
        E::NoHosts => "no destinations".to_string(),
    }
}

/// A destination operand that looks like a list, block or range but is
/// not a valid one.
pub fn target_error(e: &TargetError) {
    warnx(format_args!("{}", target_error_text(e)));
}

/// `--hosts FILE` could not be read, or a line of it is bad (named by
/// its number).
pub fn hosts_file_error(path: &OsStr, e: &HostsFileError) {
    use HostsFileError as E;
    let path = path.as_bytes();
    let tail = match e {
        E::Read(err) => format!(": {}", Errno::of(err)),
        E::TooBig { max_mib } => format!(": larger than {max_mib} MiB"),
        E::Line { line, err } => format!(":{line}: {}", target_error_text(err)),
        E::NoHosts => ": no destinations".to_string(),
    };
    emit_parts(true, &[path, tail.as_bytes()]);
}

thread_local! {
    /// A status line is on the terminal (stderr) and must be erased
    /// before anything else is written there.
    static STATUS_SHOWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether standard output is a terminal (asked once).
fn stdout_is_tty() -> bool {
    thread_local! {
        static TTY: bool = unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1;
    }
    TTY.with(|t| *t)
}

/// Erases the status line before `stream` is written to, when the two
/// share the terminal.
fn erase_status_for(stream: Stream) {
    if STATUS_SHOWN.get() && (stream == Stream::Stderr || stdout_is_tty()) {
        STATUS_SHOWN.set(false);
        write_to(Stream::Stderr, b"\r\x1b[K");
    }
}

/// Erases the status line, if shown.
pub fn status_clear() {
    if STATUS_SHOWN.get() {
        STATUS_SHOWN.set(false);
        write_to(Stream::Stderr, b"\r\x1b[K");
    }
}

/// Draws a status line in place (no newline): the terminal's line is
/// rewritten from its start and cleared to its end.
fn status_draw(text: &str) {
    let mut b = Vec::with_capacity(text.len() + 8);
    b.extend_from_slice(b"\r");
    b.extend_from_slice(text.as_bytes());
    b.extend_from_slice(b"\x1b[K");
    write_to(Stream::Stderr, &b);
    STATUS_SHOWN.set(true);
}

/// `h:mm:ss` or `m:ss`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A scan's status line: `PROG: 1200/254000 ports, 3 open, 950/s, 4:26 left`.
pub fn scan_status(done: u64, total: u64, open: u64, rate: f64, left: Option<Duration>) {
    let left = left.map_or_else(|| "--:--".to_string(), clock);
    let text = format!(
        "{}: {done}/{total} ports, {open} open, {rate:.0}/s, {left} left",
        prog_str()
    );
    status_draw(&text);
}

/// A transfer's status line (`--progress`): bytes each way and the rate,
/// and with a known size the percentage and time left.
pub fn transfer_status(
    sent: u64,
    received: u64,
    rate: f64,
    size: Option<u64>,
    left: Option<Duration>,
) {
    let mut text = format!(
        "{}: sent {}, received {}, {}/s",
        prog_str(),
        human_bytes(sent),
        human_bytes(received),
        human_bytes(rate as u64)
    );
    if let Some(size) = size.filter(|&s| s > 0) {
        let pct = (sent as f64 * 100.0 / size as f64).min(100.0);
        text.push_str(&format!(" ({pct:.0}% of {}", human_bytes(size)));
        if let Some(l) = left {
            text.push_str(&format!(", {} left", clock(l)));
        }
        text.push(')');
    }
    status_draw(&text);
}
/// A stopped loop ends the run: a signal unwinds to die by it, a failed
/// `epoll_wait` is reported (`polling error`) and fails the run.
impl From<crate::sys::reactor::Stop> for crate::sys::exit::Abort {
    fn from(s: crate::sys::reactor::Stop) -> crate::sys::exit::Abort {
        match s {
            crate::sys::reactor::Stop::Signal(sig) => crate::sys::exit::Abort::Signal(sig),
            crate::sys::reactor::Stop::Poll(e) => {
                warn(format_args!("polling error"), Errno::of(&e));
                crate::sys::exit::Abort::Failed
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Listeners that serve (docs/compatibility.md §A.3): exec, access lists,
// limits, broker, logs
// ---------------------------------------------------------------------------

/// `IP PORT` of a peer, numeric (a refused peer never costs a lookup).
fn peer_text(peer: &socket2::SockAddr) -> String {
    match peer.as_socket() {
        Some(a) => format!("{} {}", a.ip(), a.port()),
        None => String::from("unknown"),
    }
}

/// `-v`: a connection the access lists refuse (closed at once).
pub fn conn_refused_acl(peer: &socket2::SockAddr) {
    note(format_args!(
        "Connection from {} refused: not allowed",
        peer_text(peer)
    ));
}

/// `-v`: a connection over `--max-conns` (closed at once).
pub fn conn_refused_limit(peer: &socket2::SockAddr, max: usize) {
    note(format_args!(
        "Connection from {} refused: connection limit ({max}) reached",
        peer_text(peer)
    ));
}

/// `-v`: a broker client that stopped keeping up, dropped.
pub fn broker_dropped_slow(peer: &socket2::SockAddr, queue: usize) {
    note(format_args!(
        "Connection from {} dropped: it reads too slowly ({} queued)",
        peer_text(peer),
        human_bytes(queue as u64)
    ));
}

/// The program of `--exec`/`--sh-exec` could not be started.
pub fn exec_failed(program: &OsStr, errno: Errno) {
    emit_parts(
        true,
        &[
            b"cannot run ",
            program.as_bytes(),
            format!(": {errno}").as_bytes(),
        ],
    );
}

/// An `--allow`/`--deny` list holds an entry that is not an address, a
/// CIDR block or a known host.
pub fn acl_bad_entry(option: &str, entry: &str, why: &str) {
    warnx(format_args!("{option}: bad entry '{entry}': {why}"));
}

/// An `--allowfile`/`--denyfile` could not be read.
pub fn acl_file_failed(option: &str, path: &OsStr, errno: Errno) {
    emit_parts(
        true,
        &[
            option.as_bytes(),
            b" ",
            path.as_bytes(),
            format!(": {errno}").as_bytes(),
        ],
    );
}

/// `--output`/`--hex-dump` could not be opened.
pub fn log_open_failed(path: &OsStr, errno: Errno) {
    emit_parts(true, &[path.as_bytes(), format!(": {errno}").as_bytes()]);
}

/// Writing `--output`/`--hex-dump` failed: logging stops, the session not.
pub fn log_write_failed(errno: Errno) {
    warn(format_args!("session log"), errno);
}

// ---------------------------------------------------------------------------
// TLS (`-c`, docs/compatibility.md §A.3)
// ---------------------------------------------------------------------------

/// Every text of TLS mode: OpenBSD nc's (`tls handshake failed (%s)`,
/// `peer certificate is not %s`, the `-v` certificate lines), the reasons
/// ncrab puts inside them, and the `-vv`/`--json` lines of a TLS scan.
pub mod tls {
    use std::ffi::OsStr;
    use std::fmt;
    use std::io;

    use rustls::{AlertDescription, Error, InvalidMessage, PeerIncompatible, PeerMisbehaved};

    use crate::report::{self, Errno};

    /// What `-vv` and `--json` show of a port that spoke TLS.
    #[derive(Clone, Debug, Default)]
    pub struct ScanDetails {
        pub version: &'static str,
        pub cipher: String,
        pub subject: String,
        pub issuer: String,
        pub sans: Vec<String>,
        pub not_after: Option<i64>,
        pub alpn: Option<String>,
    }

    /// The end of a scan's TLS probe: the details, or the reason it failed.
    pub type ScanOutcome = Result<ScanDetails, String>;

    /// `ctime(3)` in local time, without the newline, as OpenBSD's `-v`
    /// prints the validity: `Wed Jun 30 21:49:08 1993`.
    pub fn ctime(t: i64) -> String {
        let t = t as libc::time_t;
        let mut buf = [0 as libc::c_char; 64];
        // SAFETY: ctime_r writes at most 26 bytes into a buffer of 64.
        let p = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
        if p.is_null() {
            return t.to_string();
        }
        // SAFETY: ctime_r succeeded, so buf holds a C string.
        let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        s.to_string_lossy().trim_end().to_string()
    }

    /// A UTC date for failure reasons and scans: `2024-01-31 12:00:00 UTC`.
    pub fn utc(t: i64) -> String {
        let t = t as libc::time_t;
        // SAFETY: an all-zero tm is a valid value for gmtime_r to overwrite.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: gmtime_r with valid pointers.
        if unsafe { libc::gmtime_r(&t, &mut tm) }.is_null() {
            return t.to_string();
        }
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        )
    }

    /// Whole days from now until `t` (negative once past).
    pub fn days_left(t: i64) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        (t - now).div_euclid(86_400)
    }

    const FAILED: &str = "certificate verification failed";

    /// Why a certificate was refused, for the words inside `tls handshake
    /// failed (...)`. `role` is `server` or `client`.
    #[derive(Debug)]
    pub enum CertProblem {
        /// X.509 v1 (libtls accepts it, rustls does not).
        Version1 {
            role: &'static str,
        },
        /// A CA certificate (CA:TRUE) used as the peer's own.
        CaAsEndEntity {
            role: &'static str,
        },
        Expired {
            not_after: Option<i64>,
        },
        NotYetValid {
            not_before: Option<i64>,
        },
        UnknownIssuer {
            self_signed: bool,
        },
        /// The name is not among the subjectAltNames.
        WrongName {
            role: &'static str,
            name: String,
            sans: Vec<String>,
        },
        /// No subjectAltName at all: names only in the Common Name.
        CnOnly {
            role: &'static str,
            name: String,
            cns: Vec<String>,
        },
        NoStaple,
        BadSignature,
        BadEncoding,
        Revoked,
        WrongPurpose {
            role: &'static str,
        },
        /// Anything else, as rustls names it.
        Other(String),
    }

    impl fmt::Display for CertProblem {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                CertProblem::Version1 { role } => write!(
                    f,
                    "{FAILED}: the {role} certificate is X.509 v1; reissue it as v3 with subjectAltName"
                ),
                CertProblem::CaAsEndEntity { role } => write!(
                    f,
                    "{FAILED}: the {role} certificate is a CA certificate (CA:TRUE) used as the {role}'s own; \
                     issue an end-entity certificate from that CA"
                ),
                CertProblem::Expired { not_after: Some(t) } => {
                    write!(f, "{FAILED}: certificate expired on {}", utc(*t))
                }
                CertProblem::Expired { not_after: None } => {
                    write!(f, "{FAILED}: certificate has expired")
                }
                CertProblem::NotYetValid {
                    not_before: Some(t),
                } => {
                    write!(f, "{FAILED}: certificate is not valid until {}", utc(*t))
                }
                CertProblem::NotYetValid { not_before: None } => {
                    write!(f, "{FAILED}: certificate is not yet valid")
                }
                CertProblem::UnknownIssuer { self_signed: true } => write!(
                    f,
                    "{FAILED}: self-signed certificate not among the trust anchors \
                     (trust it with -R, or pin it with -H)"
                ),
                CertProblem::UnknownIssuer { self_signed: false } => {
                    write!(f, "{FAILED}: unknown issuer (give the issuing CA with -R)")
                }
                CertProblem::WrongName { role, name, sans } => write!(
                    f,
                    "name `{name}' not present in {role} certificate: certificate is for {}",
                    sans.join(", ")
                ),
                CertProblem::CnOnly { role, name, cns } => write!(
                    f,
                    "name `{name}' not present in {role} certificate: it has no subjectAltName \
                     (names only in the Common Name {}); reissue it with subjectAltName",
                    cns.join(", ")
                ),
                CertProblem::NoStaple => {
                    f.write_str("no OCSP response stapled by the server (-T muststaple)")
                }
                CertProblem::BadSignature => write!(f, "{FAILED}: bad signature"),
                CertProblem::BadEncoding => write!(f, "{FAILED}: certificate is not valid DER"),
                CertProblem::Revoked => write!(f, "{FAILED}: certificate revoked"),
                CertProblem::WrongPurpose { role } => write!(
                    f,
                    "{FAILED}: certificate is not for a TLS {role} (extendedKeyUsage)"
                ),
                CertProblem::Other(what) => write!(f, "{FAILED}: {what}"),
            }
        }
    }

    impl std::error::Error for CertProblem {}

    /// `Debug` names in plain words: `HandshakeFailure` -> `handshake failure`.
    pub fn words(debug: &str) -> String {
        let name = debug.split(['(', '{', ' ']).next().unwrap_or(debug);
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push(' ');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The reason inside `tls handshake failed (...)` for a rustls error.
    pub fn tls_error_text(e: &Error) -> String {
        match e {
            Error::InvalidCertificate(rustls::CertificateError::Other(o)) => o.0.to_string(),
            Error::InvalidCertificate(ce) => {
                format!("certificate verification failed: {}", words(&format!("{ce:?}")))
            }
            Error::InvalidMessage(
                InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
            ) => "the peer did not speak TLS".into(),
            Error::InvalidMessage(InvalidMessage::MessageTooLarge)
            | Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge) => {
                "the peer sent a handshake message larger than TLS allows (a certificate chain too long?)"
                    .into()
            }
            Error::InvalidMessage(m) => {
                format!("the peer sent a malformed TLS message ({})", words(&format!("{m:?}")))
            }
            Error::AlertReceived(AlertDescription::ProtocolVersion) => {
                "the peer refused every TLS version offered (alert: protocol version)".into()
            }
            Error::AlertReceived(AlertDescription::CertificateRequired) => {
                "the peer requires a client certificate (alert: certificate required); give one with --tls-cert and -K".into()
            }
            Error::AlertReceived(a) => {
                format!("the peer refused the handshake (alert: {})", words(&format!("{a:?}")))
            }
            Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon) => {
                "no cipher suite in common with the peer".into()
            }
            Error::PeerIncompatible(
                PeerIncompatible::ServerDoesNotSupportTls12Or13
                | PeerIncompatible::Tls12NotOffered
                | PeerIncompatible::Tls12NotOfferedOrEnabled
                | PeerIncompatible::Tls13RequiredForQuic
                | PeerIncompatible::SupportedVersionsExtensionRequired,
            ) => "no TLS version in common with the peer".into(),
            Error::PeerIncompatible(p) => {
                format!("the peer is incompatible ({})", words(&format!("{p:?}")))
            }
            Error::NoApplicationProtocol => "no ALPN protocol in common with the peer".into(),
            Error::PeerMisbehaved(PeerMisbehaved::SelectedUnofferedApplicationProtocol) => {
                "the peer chose an ALPN protocol that was not offered".into()
            }
            Error::PeerMisbehaved(p) => {
                format!("the peer broke the protocol ({})", words(&format!("{p:?}")))
            }
            Error::DecryptError => "decryption failed (corrupted record)".into(),
            Error::General(s) => s.clone(),
            other => words(&format!("{other:?}")),
        }
    }

    /// Why a handshake did not finish.
    #[derive(Debug)]
    pub enum HandshakeError {
        /// The peer closed the connection before the handshake finished.
        Eof {
            got_any: bool,
        },
        Io(io::Error),
        Tls(Error),
        /// `-w` ran out.
        TimedOut,
        /// A serving listener's own handshake deadline (no `-w`) ran out.
        DefaultDeadline(std::time::Duration),
    }

    impl HandshakeError {
        pub fn text(&self) -> String {
            match self {
                HandshakeError::Eof { got_any: false } => {
                    "the peer closed the connection without a word of TLS".into()
                }
                HandshakeError::Eof { got_any: true } => {
                    "the peer closed the connection in the middle of the handshake".into()
                }
                HandshakeError::Io(e) => Errno::of(e).to_string(),
                HandshakeError::Tls(e) => tls_error_text(e),
                HandshakeError::TimedOut => "timed out waiting for the peer (-w)".into(),
                HandshakeError::DefaultDeadline(d) => format!(
                    "no handshake within {} s, the listener's deadline without -w",
                    d.as_secs()
                ),
            }
        }
    }

    /// OpenBSD: `PROG: tls handshake failed (REASON)`.
    pub fn handshake_failed(e: &HandshakeError) {
        report::warnx(format_args!("tls handshake failed ({})", e.text()));
    }

    /// OpenBSD: `PROG: peer certificate is not HASH`.
    pub fn pin_mismatch(pin: &str) {
        report::warnx(format_args!("{}", pin_mismatch_text(pin)));
    }

    pub fn pin_mismatch_text(pin: &str) -> String {
        format!("peer certificate is not {pin}")
    }

    /// A name rustls cannot check.
    pub fn bad_name(name: &str) -> String {
        format!("`{name}' is neither a host name nor an IP address")
    }

    /// OpenBSD: `PROG: tls connection failed (%s)`.
    pub fn connection_failed(why: &str) {
        report::warnx(format_args!("tls connection failed ({why})"));
    }

    /// OpenBSD's listener warnings.
    pub fn no_client_cert() {
        report::warnx(format_args!("No client certificate provided"));
    }

    pub fn name_not_in_client_cert(name: &str) {
        report::warnx(format_args!("name ({name}) not found in client cert"));
    }

    /// A certificate, key or CA file that cannot be used (OpenBSD's texts).
    pub fn load_failed(what: LoadWhat, path: &OsStr, why: &str) {
        let what = match what {
            LoadWhat::Ca => "root CA file",
            LoadWhat::Cert => "TLS certificate file",
            LoadWhat::Key => "TLS key file",
            LoadWhat::Staple => "OCSP staple file",
        };
        report::warnx(format_args!(
            "unable to load {what} {} ({why})",
            path.to_string_lossy()
        ));
    }

    #[derive(Clone, Copy, Debug)]
    pub enum LoadWhat {
        Ca,
        Cert,
        Key,
        Staple,
    }

    /// Why the TLS configuration could not be built.
    #[derive(Debug)]
    pub enum SetupError {
        /// A file (what, path, why).
        Load(LoadWhat, std::ffi::OsString, String),
        /// rustls refused the configuration.
        Config(String),
    }

    impl SetupError {
        /// Prints the error, in OpenBSD's words.
        pub fn print(&self) {
            match self {
                SetupError::Load(what, path, why) => load_failed(*what, path, why),
                SetupError::Config(why) => config_failed(why),
            }
        }
    }

    /// `tls configuration failed (%s)`.
    pub fn config_failed(why: &str) {
        report::warnx(format_args!("tls configuration failed ({why})"));
    }

    /// The certificate lines of `-v`.
    pub struct CertLines<'a> {
        pub subject: &'a str,
        pub issuer: &'a str,
        pub not_before: i64,
        pub not_after: i64,
        pub hash: &'a str,
    }

    /// What `-v` shows of a finished handshake.
    pub struct Negotiated<'a> {
        pub version: &'a str,
        pub cipher: &'a str,
        pub host: &'a str,
        pub peer_name: &'a str,
        pub cert: Option<CertLines<'a>>,
        pub alpn: Option<&'a [u8]>,
    }

    /// OpenBSD's `report_tls`: the lines after a handshake.
    pub fn negotiated(n: &Negotiated<'_>) {
        report::note(format_args!(
            "TLS handshake negotiated {}/{} with host {}",
            n.version, n.cipher, n.host
        ));
        report::note(format_args!("Peer name: {}", n.peer_name));
        if let Some(c) = &n.cert {
            report::note(format_args!("Subject: {}", c.subject));
            report::note(format_args!("Issuer: {}", c.issuer));
            report::note(format_args!("Valid From: {}", ctime(c.not_before)));
            report::note(format_args!("Valid Until: {}", ctime(c.not_after)));
            report::note(format_args!("Cert Hash: {}", c.hash));
        }
        if let Some(p) = n.alpn {
            report::note(format_args!(
                "Application Layer Protocol: {}",
                String::from_utf8_lossy(p)
            ));
        }
    }

    /// A listener's own certificate hash (`-v`), so a client can pin it.
    pub fn own_cert_hash(hash: &str) {
        report::note(format_args!("Cert Hash: {hash}"));
    }

    /// `-vv`: the peer ended the stream without close_notify.
    pub fn truncated() {
        report::note(format_args!(
            "\tthe peer closed the connection without a TLS close_notify: the data may be truncated"
        ));
    }

    /// `-vv`: a TLS error after the handshake ended the network side.
    pub fn stream_error(e: &Error) {
        let why = match e {
            // (tls_error_text words these as a handshake's problems.)
            Error::AlertReceived(a) => {
                format!(
                    "the peer ended the session with an alert ({})",
                    words(&format!("{a:?}"))
                )
            }
            Error::PeerSentOversizedRecord => {
                "the peer sent a record larger than TLS allows".into()
            }
            Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge) => {
                "the peer sent a handshake message after the handshake larger than 64 KiB".into()
            }
            Error::InappropriateMessage { got_type, .. } => format!(
                "the peer sent a record of a type not allowed after the handshake ({})",
                words(&format!("{got_type:?}"))
            ),
            Error::InappropriateHandshakeMessage { got_type, .. } => format!(
                "the peer sent a handshake message not allowed after the handshake ({})",
                words(&format!("{got_type:?}"))
            ),
            _ => tls_error_text(e),
        };
        report::note(format_args!("\tTLS error: {why}"));
    }

    /// A scanned port that took the TCP connection but failed TLS: nc's
    /// failure line with the TLS reason in place of the error.
    pub fn scan_failed(dest: &report::Dest<'_>, port: u16, proto: &str, reason: &str) {
        report::connect_line(
            dest,
            OsStr::new(&port.to_string()),
            &format!(" ({proto}) failed: tls handshake failed ({reason})"),
        );
    }

    /// `-vv` after a scanned port's line.
    pub fn scan_detail(elapsed: std::time::Duration, outcome: &ScanOutcome) {
        let ms = elapsed.as_millis();
        match outcome {
            Err(why) => report::note(format_args!(
                "\t{ms} ms: the port accepts TCP connections but TLS failed: {why}"
            )),
            Ok(d) => {
                report::note(format_args!(
                    "\t{ms} ms: open: the TLS handshake and the certificate checks succeeded"
                ));
                report::note(format_args!("\tTLS: {} {}", d.version, d.cipher));
                report::note(format_args!("\tsubject: {}", d.subject));
                report::note(format_args!("\tissuer: {}", d.issuer));
                report::note(format_args!("\tnames: {}", d.sans.join(", ")));
                if let Some(t) = d.not_after {
                    report::note(format_args!(
                        "\texpires: {} (in {} days)",
                        utc(t),
                        days_left(t)
                    ));
                }
                if let Some(p) = &d.alpn {
                    report::note(format_args!("\tALPN: {p}"));
                }
            }
        }
    }

    /// Why a scanned port that took the connection failed TLS when it
    /// sent no answer within `wait`.
    pub fn scan_no_answer(wait: std::time::Duration) -> String {
        format!("no TLS answer within {} s", wait.as_secs())
    }

    /// The `"error"` of a scan's `--json` line for a port that took the
    /// connection and failed TLS (`why`, when known).
    pub fn scan_json_error(why: Option<&str>) -> String {
        match why {
            Some(why) => format!("tls handshake failed ({why})"),
            None => "tls handshake failed".to_string(),
        }
    }

    /// The `"tls"` member of a scan's `--json` line.
    pub fn scan_json(outcome: &ScanOutcome) -> String {
        let mut s = String::from("{");
        match outcome {
            Err(why) => {
                s.push_str("\"error\":");
                report::json_str(&mut s, why);
            }
            Ok(d) => {
                let field = |s: &mut String, k: &str, v: &str| {
                    report::json_str(s, k);
                    s.push(':');
                    report::json_str(s, v);
                    s.push(',');
                };
                field(&mut s, "version", d.version);
                field(&mut s, "cipher", &d.cipher);
                field(&mut s, "subject", &d.subject);
                field(&mut s, "issuer", &d.issuer);
                s.push_str("\"sans\":[");
                for (i, n) in d.sans.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    report::json_str(&mut s, n);
                }
                s.push_str("],");
                match d.not_after {
                    Some(t) => {
                        field(&mut s, "not_after", &utc(t));
                        s.push_str(&format!("\"days_left\":{},", days_left(t)));
                    }
                    None => s.push_str("\"not_after\":null,\"days_left\":null,"),
                }
                s.push_str("\"alpn\":");
                match &d.alpn {
                    Some(p) => report::json_str(&mut s, p),
                    None => s.push_str("null"),
                }
                s.push_str(",\"error\":null");
            }
        }
        s.push('}');
        s
    }
}
