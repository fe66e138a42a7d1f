//! Every user-visible text ncrab prints, in one place.
//!
//! This module is the readable form of the behaviour contract
//! (`nc-reference.md` Part B §2): each function here prints one message of
//! the catalogue, byte for byte as OpenBSD netcat does, or one of ncrab's
//! opt-in extensions (`-vv` diagnoses, `--json`). Error texts always come from
//! the C library (`strerror`, `gai_strerror`), never from Rust's `Display`
//! for `io::Error`, which appends "(os error N)".
//!
//! Messages are prefixed with the basename of `argv[0]` ([`prog`]), except
//! getopt's own errors, which use the full `argv[0]` as glibc does.

use std::ffi::{CStr, OsString};
use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;
use std::time::Duration;

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

/// Writes one whole line to stderr in a single write, ignoring failures
/// (stderr may be closed or a full pipe; a message is never worth dying for).
fn emit(line: &[u8]) {
    let _ = io::stderr().lock().write_all(line);
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
// Command line (B §1)
// ---------------------------------------------------------------------------

/// getopt's errors, prefixed with the full argv[0].
pub fn getopt_error(msg: fmt::Arguments<'_>) {
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(argv0());
    line.extend_from_slice(b": ");
    let _ = line.write_fmt(msg);
    line.push(b'\n');
    emit(&line);
}

/// The usage synopsis printed after every usage error (B §1.4, departure 1:
/// it names ncrab's options, which include `-b` and the long-only ones).
/// nc always says `usage: nc` whatever its argv[0]; so does ncrab, unless
/// it was run under its own name.
pub fn usage_text() -> String {
    let name = if prog() == b"ncrab" { "ncrab" } else { "nc" };
    format!(
        "usage: {} [-46bCDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n\
         \t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]\n\
         \t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]\n\
         \t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]\n\
         \t  [--json] [--window count] [destination] [port]\n",
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

/// An option whose behaviour has not been built yet.
pub fn not_implemented(opt: &str) {
    warnx(format_args!("{opt}: not implemented yet"));
}

// ---------------------------------------------------------------------------
// Connecting (B §2 M1-M6, §3)
// ---------------------------------------------------------------------------

/// How a destination is named in connect messages: `HOST` or `HOST (IP)`.
/// nc adds `(IP)` when `-n` is off, no proxy is used and the text differs.
pub struct Dest<'a> {
    pub host: &'a str,
    pub ip: Option<&'a str>,
}

impl fmt::Display for Dest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            Some(ip) if ip != self.host => write!(f, "{} ({})", self.host, ip),
            _ => f.write_str(self.host),
        }
    }
}

/// M1/M1b: `Connection to HOST[ (IP)] PORT port [PROTO/SERVICE] succeeded!`
pub fn connect_succeeded(dest: &Dest<'_>, port: u16, proto: &str, service: &str) {
    note(format_args!(
        "Connection to {dest} {port} port [{proto}/{service}] succeeded!"
    ));
}

/// M2/M2b: `PROG: connect to HOST[ (IP)] port PORT (PROTO) failed: STRERROR`
pub fn connect_failed(dest: &Dest<'_>, port: &str, proto: &str, errno: Errno) {
    warnx(format_args!(
        "connect to {dest} port {port} ({proto}) failed: {errno}"
    ));
}

/// M3: the `-w` connect timer expired. The stale errno is EINPROGRESS.
pub fn connect_timed_out(dest: &Dest<'_>, port: &str, proto: &str) {
    warnx(format_args!(
        "connect to {dest} port {port} ({proto}) timed out: {}",
        Errno(libc::EINPROGRESS)
    ));
}

/// M4: client name lookup failed.
pub fn getaddrinfo_host_failed(host: &str, port: &str, e: GaiError) {
    warnx(format_args!(
        "getaddrinfo for host \"{host}\" port {port}: {e}"
    ));
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
// Listening (B §2 M7-M17, §8)
// ---------------------------------------------------------------------------

/// M7/M8/M9: nc's `report_sock`: `MSG on HOST PORT` (`Listening`,
/// `Bound`, `Connection received`), the host reverse-resolved unless `-n`
/// and the port numeric. A getnameinfo failure only warns (Debian) and the
/// line is skipped.
pub fn sock_line(msg: &str, addr: &socket2::SockAddr, numeric: bool) {
    match crate::resolve::name_info(addr, numeric) {
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
// Unix-domain sockets (B §2 M10-M13, M26, §6.5) and -F (M21)
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
// Extensions (Part A.3): `-vv` diagnoses and relay summary
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

/// The `-vv` line for a name that does not resolve.
pub fn dns_detail(e: GaiError) {
    let _ = e;
    note(format_args!(
        "\tthe name does not resolve: check its spelling, /etc/hosts and the DNS configuration"
    ));
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
    let mut out = io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}
