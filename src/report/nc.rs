//! nc's own texts: the command line (docs/compatibility.md §1),
//! connecting (§2 M1-M6, §3), relay filters and -S (§6.3), listening
//! (§2 M7-M17, §8), Unix-domain sockets (§2 M10-M13, M26, §6.5) and -F
//! (M21).

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use super::out::{emit, emit_parts, note, warn, warn_errno, warnx};
use super::{Errno, GaiError, argv0, prog};
use crate::net::connect::ConnectOpts;
use crate::net::{Proto, SetupError};

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

/// How a destination is named in connect messages: `HOST` or `HOST (IP)`.
/// nc adds `(IP)` when `-n` is off, no proxy is used and the text differs.
/// HOST is printed as typed, byte for byte.
pub struct Dest<'a> {
    pub host: &'a OsStr,
    pub ip: Option<&'a str>,
}

impl Dest<'_> {
    /// `HOST` or `HOST (IP)`, the host's bytes as typed.
    pub(super) fn bytes(&self) -> Vec<u8> {
        let mut b = self.host.as_bytes().to_vec();
        if let Some(ip) = self.ip.filter(|ip| ip.as_bytes() != self.host.as_bytes()) {
            b.extend_from_slice(format!(" ({ip})").as_bytes());
        }
        b
    }
}

/// M1/M1b: `Connection to HOST[ (IP)] PORT port [PROTO/SERVICE] succeeded!`
pub fn connect_succeeded(dest: &Dest<'_>, port: u16, proto: &str, service: &str) {
    let tail = format!(" {port} port [{proto}/{service}] succeeded!");
    emit_parts(false, &[b"Connection to ", &dest.bytes(), tail.as_bytes()]);
}

/// M1: the success line, `[PROTO/SERVICE]` from /etc/services unless `-n`.
pub fn connect_success(o: &ConnectOpts, host: &OsStr, port: u16, ip: Option<&str>) {
    let proto = o.proto;
    let service = if o.numeric || proto == Proto::Dccp {
        "*".to_string()
    } else {
        crate::net::ports::service_name(port, proto)
    };
    let dest = Dest {
        host,
        ip: if o.numeric { None } else { ip },
    };
    connect_succeeded(&dest, port, proto.name(), &service);
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

/// M5, M6, M14/M24: a client socket could not be prepared.
pub fn setup_failed(e: &SetupError) {
    match *e {
        SetupError::Lookup(e) => getaddrinfo_failed(e),
        SetupError::Bind(errno) => bind_failed(errno),
        SetupError::Option(Some(what), errno) => warn(format_args!("{what}"), errno),
        SetupError::Option(None, errno) => warn_errno(errno),
    }
}

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
