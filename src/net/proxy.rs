//! Proxies (`-x`, `-X`, `-P`): SOCKS v5, SOCKS v4 and HTTP CONNECT (docs/compatibility.md §7).
//!
//! Two layers. [`Dialog`] is the conversation with the proxy and nothing
//! else: it says what to send, how many bytes it wants to read, and turns
//! whatever arrives into the next step or one of nc's error messages. It
//! does no I/O, so the same bytes always give the same result however they
//! are split (the property tests below check that). [`Handshake`] is the
//! machine that runs a dialog on a non-blocking socket in the event loop:
//! it writes, peeks at what has arrived, feeds it to the dialog and removes
//! from the socket exactly the bytes the dialog consumed. Bytes the proxy
//! sends after its reply (an HTTP body, a server banner) therefore stay in
//! the socket and reach standard output through the relay.
//!
//! [`connect`] is nc's `socks_connect`: connect to the proxy exactly as to
//! any host (one failure line per address, never an `(IP)` part), run the
//! dialog, and for an HTTP 407 with `-P` start over with a password, at
//! most three times. The wire bytes, the error texts and their order are
//! nc's, with two extensions (docs/compatibility.md §A.3): with `-P`,
//! SOCKS5 also offers username/password authentication (RFC 1929), and a
//! SOCKS5 reply whose bound address is a domain name is accepted. The
//! password comes from the terminal, or from the environment variable
//! `NCRAB_PROXY_PASSWORD` when it is set; it never appears in any output.
//!
//! [`connect`] returns an [`Outcome`] and leaves the verdict on the
//! destination to its caller (nc's handshake error included). What is
//! fatal before a verdict (the proxy's name does not resolve, too many
//! authentication failures, no terminal for the password) is still
//! reported here and ends the run, as in nc. A scan through a proxy
//! (`-z -x`) is nc's sequential loop in the client mode; with `-vv` and
//! `--json` each port also gets its diagnosis line and JSON object
//! (docs/compatibility.md §A.3), judged by what the proxy said: SOCKS
//! "connection refused" is a closed port, "network/host unreachable" and
//! "TTL expired" are filtered, any other refusal is an error. The address
//! is the proxy's business, so the JSON `ip` is null.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

use mio::Interest;
use socket2::Socket;

use crate::net::connect::{self, ConnectOpts};
use crate::net::resolve::{self, Hints};
use crate::net::{Family, Proto};
use crate::sys::errno::{Errno, GaiError};
use crate::sys::exit::Abort;
use crate::sys::passphrase::{self, PromptError, Secret};
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step, would_block};

/// The environment variable that answers the password prompt.
pub const PASSWORD_ENV: &str = "NCRAB_PROXY_PASSWORD";

/// readpassphrase's buffer for the proxy password (255 bytes + NUL).
const PASSWORD_MAX: usize = 256;

/// nc's `buf[1024]`: HTTP lines and requests must fit in it.
const HTTP_BUF: usize = 1024;

/// nc's `HTTP_MAXHDRS`.
const HTTP_MAXHDRS: usize = 64;

/// How much of an HTTP reply is looked at per read.
const HTTP_PEEK: usize = 4096;

/// What the conversation needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// Write all of these bytes.
    Send(Vec<u8>),
    /// Read up to this many bytes and [`Dialog::feed`] them.
    Recv(usize),
    /// Ask for the proxy password and hand it to [`Dialog::password`].
    Password,
    /// HTTP 407 with `-P`: close this connection and start over.
    Reconnect,
    /// The tunnel is open.
    Done,
    /// The handshake failed with this message.
    Fail(ProxyError),
}

/// Where a dialog is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// SOCKS5: the method the proxy chose (2 bytes).
    Method,
    /// SOCKS5 extension: the username/password verdict (2 bytes).
    AuthReply,
    /// SOCKS5: version, reply code, reserved, address type (4 bytes).
    ReplyHead,
    /// SOCKS5 extension: the length of a domain-name bound address.
    DomainLen,
    /// SOCKS5: bound address and port, skipped.
    ReplyTail,
    /// SOCKS4: the 8-byte reply.
    Socks4Reply,
    /// HTTP: the status line.
    Status,
    /// HTTP: this many header lines read so far.
    Headers(usize),
    /// Waiting for [`Dialog::password`].
    Password,
    Reconnect,
    Done,
}

/// The protocol-specific part of a dialog.
#[derive(Debug)]
enum Kind {
    /// The SOCKS5 request to send once a method is agreed, or why it
    /// cannot be built; the user name offered with `-P`.
    Socks5 {
        request: Result<Vec<u8>, ProxyError>,
        user: Option<String>,
    },
    Socks4,
    /// HTTP: the user whose password goes into `Proxy-Authorization`.
    Http {
        user: Option<String>,
    },
}

/// A proxy conversation, without I/O.
#[derive(Debug)]
pub struct Dialog {
    kind: Kind,
    phase: Phase,
    /// Writes still to hand out, in order.
    outbox: VecDeque<Vec<u8>>,
    /// The bytes of the current fixed-size read so far.
    got: Vec<u8>,
    /// The current fixed-size read: bytes wanted and the `M` of its
    /// `read failed (N/M)` message.
    want: usize,
    of: usize,
    /// The current HTTP line, CRs dropped.
    line: Vec<u8>,
    failed: Option<ProxyError>,
}

impl Dialog {
    fn new(kind: Kind, phase: Phase) -> Dialog {
        Dialog {
            kind,
            phase,
            outbox: VecDeque::new(),
            got: Vec::new(),
            want: 0,
            of: 0,
            line: Vec::new(),
            failed: None,
        }
    }

    fn expect(&mut self, phase: Phase, want: usize, of: usize) {
        self.phase = phase;
        self.got.clear();
        self.want = want;
        self.of = of;
    }

    fn fail(&mut self, e: ProxyError) {
        if self.failed.is_none() {
            self.failed = Some(e);
        }
    }

    /// SOCKS5: `dest` is the destination address when the host is a
    /// numeric IPv4 or IPv6 address, else the name is sent as is (as
    /// typed, byte for byte). With a user, username/password
    /// authentication is offered too.
    pub fn socks5(
        host: impl AsRef<[u8]>,
        dest: Option<SocketAddr>,
        port: u16,
        user: Option<&str>,
    ) -> Dialog {
        let request = socks5_request(host.as_ref(), dest, port);
        let greeting = if user.is_some() {
            vec![5, 2, 0, 2]
        } else {
            vec![5, 1, 0]
        };
        let mut d = Dialog::new(
            Kind::Socks5 {
                request,
                user: user.map(str::to_string),
            },
            Phase::Method,
        );
        d.outbox.push_back(greeting);
        // nc's "read failed (N/3)" for this 2-byte read (sic).
        d.expect(Phase::Method, 2, 3);
        d
    }

    /// SOCKS4: connect to `addr` (already resolved, IPv4), empty user id.
    pub fn socks4(addr: std::net::Ipv4Addr, port: u16) -> Dialog {
        let mut req = vec![4, 1];
        req.extend_from_slice(&port.to_be_bytes());
        req.extend_from_slice(&addr.octets());
        req.push(0);
        let mut d = Dialog::new(Kind::Socks4, Phase::Socks4Reply);
        d.outbox.push_back(req);
        d.expect(Phase::Socks4Reply, 8, 8);
        d
    }

    /// HTTP CONNECT. With `auth`, a `Proxy-Authorization` header follows
    /// the request line once the password is known.
    pub fn http(host: impl AsRef<[u8]>, port: u16, user: Option<&str>, auth: bool) -> Dialog {
        let host = host.as_ref();
        let mut d = Dialog::new(
            Kind::Http {
                user: user.map(str::to_string),
            },
            Phase::Status,
        );
        if host.iter().any(|b| b"\r\n\t []".contains(b)) {
            d.fail(ProxyError::InvalidHostname);
            return d;
        }
        let mut line = b"CONNECT ".to_vec();
        if host.contains(&b':') {
            line.push(b'[');
            line.extend_from_slice(host);
            line.push(b']');
        } else {
            line.extend_from_slice(host);
        }
        line.extend_from_slice(format!(":{port} HTTP/1.0\r\n").as_bytes());
        if line.len() >= HTTP_BUF {
            d.fail(ProxyError::HostnameTooLong);
            return d;
        }
        d.outbox.push_back(line);
        if auth && user.is_some() {
            d.phase = Phase::Password;
        } else {
            d.outbox.push_back(b"\r\n".to_vec());
        }
        d
    }

    /// The next thing to do.
    pub fn next(&mut self) -> Need {
        if let Some(e) = self.failed.clone() {
            return Need::Fail(e);
        }
        if let Some(bytes) = self.outbox.pop_front() {
            return Need::Send(bytes);
        }
        match self.phase {
            Phase::Password => Need::Password,
            Phase::Reconnect => Need::Reconnect,
            Phase::Done => Need::Done,
            Phase::Status | Phase::Headers(_) => Need::Recv(HTTP_PEEK),
            _ => Need::Recv(self.want - self.got.len()),
        }
    }

    /// The error for a read that failed with `errno` (EPIPE for EOF).
    pub fn read_failed(&self, errno: Errno) -> ProxyError {
        match self.phase {
            Phase::Status | Phase::Headers(_) => ProxyError::ProxyRead(errno),
            _ => ProxyError::ReadFailed {
                done: self.got.len(),
                of: self.of,
                errno,
            },
        }
    }

    /// Takes bytes that arrived; returns how many belong to the handshake.
    /// The rest (after the reply) belongs to the tunnel.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len() && self.failed.is_none() {
            match self.phase {
                Phase::Status | Phase::Headers(_) => {
                    let b = data[used];
                    used += 1;
                    self.http_byte(b);
                }
                Phase::Password | Phase::Reconnect | Phase::Done => break,
                _ => {
                    let n = (self.want - self.got.len()).min(data.len() - used);
                    self.got.extend_from_slice(&data[used..used + n]);
                    used += n;
                    if self.got.len() == self.want {
                        self.socks_complete();
                    }
                }
            }
            if !self.outbox.is_empty() {
                break; // a reply must be sent before reading on
            }
        }
        used
    }

    /// A fixed-size SOCKS read is complete.
    fn socks_complete(&mut self) {
        let got = std::mem::take(&mut self.got);
        match self.phase {
            Phase::Method => {
                if got[1] == 0xFF {
                    return self.fail(ProxyError::MethodNegotiation);
                }
                let offered_auth = matches!(&self.kind, Kind::Socks5 { user: Some(_), .. });
                if got[1] == 2 && offered_auth {
                    self.phase = Phase::Password;
                } else {
                    self.send_socks5_request();
                }
            }
            Phase::AuthReply => {
                if got[1] != 0 {
                    return self.fail(ProxyError::Socks5AuthRejected(got[1]));
                }
                self.send_socks5_request();
            }
            Phase::ReplyHead => {
                if got[1] != 0 {
                    return self.fail(ProxyError::Socks5(got[1]));
                }
                match got[3] {
                    1 => self.expect(Phase::ReplyTail, 6, 6),
                    4 => self.expect(Phase::ReplyTail, 18, 18),
                    3 => self.expect(Phase::DomainLen, 1, 1),
                    _ => self.fail(ProxyError::Socks5AddressType),
                }
            }
            Phase::DomainLen => {
                let n = usize::from(got[0]) + 2;
                self.expect(Phase::ReplyTail, n, n);
            }
            Phase::ReplyTail => self.phase = Phase::Done,
            Phase::Socks4Reply => {
                if got[1] != 90 {
                    return self.fail(ProxyError::Socks4(got[1]));
                }
                self.phase = Phase::Done;
            }
            _ => {}
        }
    }

    fn send_socks5_request(&mut self) {
        let Kind::Socks5 { request, .. } = &self.kind else {
            return;
        };
        match request.clone() {
            Ok(req) => {
                self.outbox.push_back(req);
                self.expect(Phase::ReplyHead, 4, 4);
            }
            Err(e) => self.fail(e),
        }
    }

    /// One byte of an HTTP line (nc's `proxy_read_line`: CRs dropped, at
    /// most 1023 other bytes before the LF).
    fn http_byte(&mut self, b: u8) {
        match b {
            b'\r' => return,
            b'\n' => {
                let line = std::mem::take(&mut self.line);
                return self.http_line(&line);
            }
            _ => self.line.push(b),
        }
        if self.line.len() >= HTTP_BUF {
            self.fail(ProxyError::ReadTooLong);
        }
    }

    fn http_line(&mut self, line: &[u8]) {
        // The line is a C string: a NUL ends it.
        let line = match line.iter().position(|&b| b == 0) {
            Some(i) => &line[..i],
            None => line,
        };
        match self.phase {
            Phase::Status => {
                let has_user = matches!(&self.kind, Kind::Http { user: Some(_) });
                if has_user
                    && (line.starts_with(b"HTTP/1.0 407") || line.starts_with(b"HTTP/1.1 407"))
                {
                    self.phase = Phase::Reconnect;
                } else if line.starts_with(b"HTTP/1.0 200") || line.starts_with(b"HTTP/1.1 200") {
                    self.phase = Phase::Headers(0);
                } else {
                    self.fail(ProxyError::Status(line.to_vec()));
                }
            }
            Phase::Headers(n) => {
                if line.is_empty() {
                    self.phase = Phase::Done;
                } else if n + 1 >= HTTP_MAXHDRS {
                    self.fail(ProxyError::TooManyHeaders);
                } else {
                    self.phase = Phase::Headers(n + 1);
                }
            }
            _ => {}
        }
    }

    /// The password asked for by [`Need::Password`].
    pub fn password(&mut self, pw: &Secret) {
        if self.phase != Phase::Password {
            return;
        }
        match &self.kind {
            Kind::Http { user: Some(user) } => {
                let user = user.clone();
                match http_auth_header(&user, pw) {
                    Ok(header) => {
                        self.outbox.push_back(header);
                        self.outbox.push_back(b"\r\n".to_vec());
                        self.phase = Phase::Status;
                    }
                    Err(e) => self.fail(e),
                }
            }
            Kind::Socks5 {
                user: Some(user), ..
            } => {
                let (u, p) = (user.as_bytes(), pw.as_bytes());
                if u.len() > 255 || p.len() > 255 {
                    return self.fail(ProxyError::UserPassTooLong);
                }
                let mut msg = Vec::with_capacity(3 + u.len() + p.len());
                msg.push(1);
                msg.push(u.len() as u8);
                msg.extend_from_slice(u);
                msg.push(p.len() as u8);
                msg.extend_from_slice(p);
                self.outbox.push_back(msg);
                self.expect(Phase::AuthReply, 2, 2);
            }
            _ => {}
        }
    }
}

/// The SOCKS5 CONNECT request (docs/compatibility.md §7.2).
fn socks5_request(host: &[u8], dest: Option<SocketAddr>, port: u16) -> Result<Vec<u8>, ProxyError> {
    let mut req = vec![5, 1, 0];
    match dest {
        Some(SocketAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.ip().octets());
        }
        Some(SocketAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.ip().octets());
        }
        None => {
            let name = host;
            if name.len() > 255 {
                return Err(ProxyError::HostTooLongSocks5);
            }
            req.push(3);
            req.push(name.len() as u8);
            req.extend_from_slice(name);
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    Ok(req)
}

/// `Proxy-Authorization: Basic base64(user:pass)\r\n`, within nc's limits.
fn http_auth_header(user: &str, pw: &Secret) -> Result<Vec<u8>, ProxyError> {
    let mut cred = Vec::with_capacity(user.len() + 1 + pw.as_bytes().len());
    cred.extend_from_slice(user.as_bytes());
    cred.push(b':');
    cred.extend_from_slice(pw.as_bytes());
    let cred = Secret::new(cred);
    let encoded_len = cred.as_bytes().len().div_ceil(3) * 4;
    if cred.as_bytes().len() >= HTTP_BUF || encoded_len >= HTTP_BUF {
        return Err(ProxyError::UserPassTooLong);
    }
    let prefix = b"Proxy-Authorization: Basic ";
    if prefix.len() + encoded_len + 2 >= HTTP_BUF {
        return Err(ProxyError::AuthResponseTooLong);
    }
    let mut header = Vec::with_capacity(prefix.len() + encoded_len + 2);
    header.extend_from_slice(prefix);
    base64(cred.as_bytes(), &mut header);
    header.extend_from_slice(b"\r\n");
    Ok(header)
}

/// Standard base64 with padding.
fn base64(data: &[u8], out: &mut Vec<u8>) {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63]);
        out.push(T[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63]
        } else {
            b'='
        });
    }
}

/// Why [`Handshake`] stopped.
#[derive(Debug)]
enum Paused {
    Done,
    Password,
    Reconnect,
    Failed(ProxyError),
}

/// Runs a [`Dialog`] on a connected, non-blocking socket.
struct Handshake<'a> {
    sock: &'a Socket,
    dialog: &'a mut Dialog,
    /// The write in progress and how much of it went out.
    out: Vec<u8>,
    sent: usize,
    reg: Interests,
}

impl Handshake<'_> {
    /// One step without waiting: `None` means wait for `interest`.
    fn step(&mut self) -> Result<Option<Paused>, Interest> {
        let fd = self.sock.as_raw_fd();
        if self.sent < self.out.len() {
            return match send(fd, &self.out[self.sent..]) {
                Ok(0) => Ok(Some(self.write_failed(Errno(libc::EPIPE)))),
                Ok(n) => {
                    self.sent += n;
                    Ok(None)
                }
                Err(e) if would_block(&e) => Err(Interest::WRITABLE),
                Err(e) => Ok(Some(self.write_failed(Errno::of(&e)))),
            };
        }
        match self.dialog.next() {
            Need::Send(bytes) => {
                self.out = bytes;
                self.sent = 0;
                Ok(None)
            }
            Need::Recv(want) => {
                let mut buf = [0u8; HTTP_PEEK];
                let want = want.clamp(1, buf.len());
                match recv(fd, &mut buf[..want], libc::MSG_PEEK) {
                    Ok(0) => Ok(Some(Paused::Failed(
                        self.dialog.read_failed(Errno(libc::EPIPE)),
                    ))),
                    Ok(n) => {
                        let used = self.dialog.feed(&buf[..n]);
                        // Take exactly the consumed bytes off the socket;
                        // they are there, we just peeked at them.
                        let _ = recv(fd, &mut buf[..used], 0);
                        Ok(None)
                    }
                    Err(e) if would_block(&e) => Err(Interest::READABLE),
                    Err(e) => Ok(Some(Paused::Failed(self.dialog.read_failed(Errno::of(&e))))),
                }
            }
            Need::Password => Ok(Some(Paused::Password)),
            Need::Reconnect => Ok(Some(Paused::Reconnect)),
            Need::Done => Ok(Some(Paused::Done)),
            Need::Fail(e) => Ok(Some(Paused::Failed(e))),
        }
    }

    fn write_failed(&self, errno: Errno) -> Paused {
        Paused::Failed(ProxyError::WriteFailed {
            done: self.sent,
            of: self.out.len(),
            errno,
        })
    }
}

impl Machine for Handshake<'_> {
    type Output = Paused;

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Paused> {
        let fd = self.sock.as_raw_fd();
        loop {
            match self.step() {
                Ok(None) => continue,
                Ok(Some(p)) => {
                    self.reg.clear(cx.registry, fd);
                    return Step::Done(p);
                }
                Err(interest) => {
                    if let Err(e) = self.reg.set(cx.registry, fd, reactor::NET, Some(interest)) {
                        self.reg.clear(cx.registry, fd);
                        return Step::Done(Paused::Failed(self.dialog.read_failed(Errno::of(&e))));
                    }
                    return Step::Wait;
                }
            }
        }
    }
}

/// One `send(2)`, without SIGPIPE (also `starttls`'s).
pub(super) fn send(fd: i32, buf: &[u8]) -> std::io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

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

/// What a connect through a proxy tells besides a connect's own, for
/// `report` to word (`report::Lines`).
pub trait Tell: connect::Tell {
    /// The proxy's own name did not resolve (fatal).
    fn proxy_lookup_failed(&mut self, host: &OsStr, port: &OsStr, e: GaiError);
    /// The proxy conversation failed for good (fatal).
    fn proxy_failed(&mut self, e: &ProxyError);
    /// The proxy refused the password; it is asked again.
    fn proxy_auth_failed(&mut self);
    /// The terminal prompt for the proxy's password.
    fn password_prompt(&mut self, user: &str, proxy_host: &str) -> String;
}

/// One `recv(2)` with flags.
pub(super) fn recv(fd: i32, buf: &mut [u8], flags: i32) -> std::io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// The proxy password: `NCRAB_PROXY_PASSWORD`, or asked on the terminal.
fn password(tell: &mut impl Tell, proxy: &Proxy, user: &str) -> Result<Secret, Abort> {
    if let Some(v) = std::env::var_os(PASSWORD_ENV) {
        let b = v.as_bytes();
        return Ok(Secret::new(b[..b.len().min(PASSWORD_MAX - 1)].to_vec()));
    }
    let prompt = tell.password_prompt(user, &proxy.host.to_string_lossy());
    match passphrase::read(&prompt, PASSWORD_MAX) {
        Ok(pw) => Ok(pw),
        Err(PromptError::NoTty) => {
            tell.proxy_failed(&ProxyError::NoPassphrase);
            Err(Abort::Failed)
        }
        Err(PromptError::Signal(sig)) => Err(Abort::Signal(sig)),
    }
}

/// The destination of a SOCKS5 request, when `host` is numeric (nc asks
/// getaddrinfo with AI_NUMERICHOST and any family; names go as names).
fn socks5_numeric(host: &OsStr, port: &OsStr) -> Option<SocketAddr> {
    let hints = Hints {
        family: Family::Any,
        proto: Proto::Tcp,
        numeric: true,
        passive: false,
    };
    let addrs = resolve::lookup(Some(host), Some(port), hints).ok()?;
    addrs.first().and_then(|ai| ai.addr.as_socket())
}

/// SOCKS4's local lookup: IPv4 only, names resolved whatever `-n` says.
fn socks4_lookup(host: &OsStr, port: &str) -> Result<std::net::Ipv4Addr, ProxyError> {
    let hints = Hints {
        family: Family::Inet,
        proto: Proto::Tcp,
        numeric: false,
        passive: false,
    };
    let failed = |gai| ProxyError::Socks4Lookup {
        host: host.as_bytes().to_vec(),
        port: port.to_string(),
        gai,
    };
    let addrs = resolve::lookup(Some(host), Some(OsStr::new(port)), hints).map_err(failed)?;
    match addrs.first().and_then(|ai| ai.addr.as_socket()) {
        Some(SocketAddr::V4(a)) => Ok(*a.ip()),
        _ => Err(failed(GaiError {
            code: libc::EAI_FAMILY,
            errno: 0,
        })),
    }
}

/// `-X`: the proxy protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProxyProto {
    Socks4,
    #[default]
    Socks5,
    HttpConnect,
}

/// `-x host[:port]` with `-X` and `-P`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    /// The host as typed.
    pub host: OsString,
    /// The port text exactly as given (may be empty: `host:`).
    pub port: OsString,
    pub proto: ProxyProto,
    pub user: Option<String>,
}

/// How a connection through the proxy ended.
#[derive(Debug)]
pub enum Outcome {
    /// The tunnel to the destination is open.
    Connected(Socket),
    /// No address of the proxy accepted a connection (each failure already
    /// reported under `-v`, as nc's `remote_connect` does).
    Unreachable,
    /// The handshake failed: the caller reports it and the run fails.
    Refused(ProxyError),
}

/// nc's `socks_connect`: a socket connected through the proxy to `host`
/// `port`. The caller reports the verdict (`Refused` is fatal in nc).
pub fn connect(
    rx: &mut Reactor,
    tell: &mut impl Tell,
    o: &ConnectOpts,
    proxy: &Proxy,
    host: &OsStr,
    port: u16,
) -> Result<Outcome, Abort> {
    let port_s = port.to_string();
    let user = proxy.user.as_deref();
    let mut attempts = 0;
    loop {
        if attempts > 3 {
            tell.proxy_failed(&ProxyError::TooManyAuthFailures);
            return Err(Abort::Failed);
        }
        attempts += 1;
        let addrs = match resolve::lookup(Some(&proxy.host), Some(&proxy.port), o.hints()) {
            Ok(a) => a,
            Err(e) => {
                tell.proxy_lookup_failed(&proxy.host, &proxy.port, e);
                return Err(Abort::Failed);
            }
        };
        let Some(conn) =
            connect::remote_connect(rx, tell, o, &proxy.host, &proxy.port, &addrs, false)?
        else {
            return Ok(Outcome::Unreachable);
        };
        let mut dialog = match proxy.proto {
            ProxyProto::Socks5 => {
                let dest = socks5_numeric(host, OsStr::new(&port_s));
                Dialog::socks5(host.as_bytes(), dest, port, user)
            }
            ProxyProto::Socks4 => match socks4_lookup(host, &port_s) {
                Ok(addr) => Dialog::socks4(addr, port),
                Err(e) => {
                    tell.proxy_failed(&e);
                    return Err(Abort::Failed);
                }
            },
            ProxyProto::HttpConnect => Dialog::http(host.as_bytes(), port, user, attempts > 1),
        };
        loop {
            let mut hs = Handshake {
                sock: &conn.sock,
                dialog: &mut dialog,
                out: Vec::new(),
                sent: 0,
                reg: Interests::default(),
            };
            match rx.run(&mut hs)? {
                Paused::Done => return Ok(Outcome::Connected(conn.sock)),
                Paused::Failed(e) => return Ok(Outcome::Refused(e)),
                Paused::Password => {
                    let pw = password(tell, proxy, user.unwrap_or_default())?;
                    dialog.password(&pw);
                }
                Paused::Reconnect => {
                    if attempts > 1 {
                        tell.proxy_auth_failed();
                    }
                    break; // the connection closes; start over
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testing::Rng;

    /// What a dialog did against a scripted reply: every write, and how it
    /// ended, with how many reply bytes it consumed.
    #[derive(Debug, PartialEq, Eq)]
    struct Run {
        sent: Vec<Vec<u8>>,
        end: Need,
        consumed: usize,
    }

    /// Plays `reply` to the dialog, at most `chunk(want)` bytes per read;
    /// the end of `reply` is EOF. Passwords are answered with "pw".
    fn play(mut d: Dialog, reply: &[u8], mut chunk: impl FnMut(usize) -> usize) -> Run {
        let mut sent = Vec::new();
        let mut pos = 0;
        for _ in 0..100_000 {
            match d.next() {
                Need::Send(b) => sent.push(b),
                Need::Recv(want) => {
                    if pos == reply.len() {
                        let end = Need::Fail(d.read_failed(Errno(libc::EPIPE)));
                        return Run {
                            sent,
                            end,
                            consumed: pos,
                        };
                    }
                    let n = chunk(want).clamp(1, want).min(reply.len() - pos);
                    let used = d.feed(&reply[pos..pos + n]);
                    assert!(used <= n);
                    pos += used;
                }
                Need::Password => d.password(&Secret::new(b"pw".to_vec())),
                end => {
                    return Run {
                        sent,
                        end,
                        consumed: pos,
                    };
                }
            }
        }
        panic!("dialog did not finish");
    }

    fn once(d: Dialog, reply: &[u8]) -> Run {
        play(d, reply, |want| want)
    }

    fn v4(a: [u8; 4]) -> Option<SocketAddr> {
        Some(SocketAddr::from((a, 0)))
    }

    #[test]
    fn socks5_request_forms() {
        let r = once(
            Dialog::socks5("example.test", None, 8080, None),
            &[5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(r.end, Need::Done);
        assert_eq!(r.sent[0], [5, 1, 0]);
        let mut want = vec![5, 1, 0, 3, 12];
        want.extend_from_slice(b"example.test");
        want.extend_from_slice(&[0x1f, 0x90]);
        assert_eq!(r.sent[1], want);
        assert_eq!(r.consumed, 12);

        let r = once(
            Dialog::socks5("10.1.2.3", v4([10, 1, 2, 3]), 80, None),
            &[
                5, 0, 5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
        assert_eq!(r.sent[1], [5, 1, 0, 1, 10, 1, 2, 3, 0, 80]);
        assert_eq!((r.end, r.consumed), (Need::Done, 24));

        let six: std::net::Ipv6Addr = "2001:db8::5".parse().unwrap();
        let r = once(
            Dialog::socks5("2001:db8::5", Some(SocketAddr::from((six, 0))), 443, None),
            &[5, 0],
        );
        let mut want = vec![5, 1, 0, 4];
        want.extend_from_slice(&six.octets());
        want.extend_from_slice(&[1, 0xbb]);
        assert_eq!(r.sent[1], want);
    }

    #[test]
    fn host_names_go_out_as_typed() {
        let name = b"caf\xe9";
        let r = once(Dialog::socks5(name, None, 80, None), &[5, 0]);
        assert_eq!(r.sent[1], b"\x05\x01\x00\x03\x04caf\xe9\x00\x50");
        let r = once(Dialog::http(name, 80, None, false), b"");
        assert_eq!(r.sent[0], b"CONNECT caf\xe9:80 HTTP/1.0\r\n");
    }

    #[test]
    fn socks5_errors() {
        let d = || Dialog::socks5("h", None, 1, None);
        assert_eq!(
            once(d(), &[5, 0xFF]).end,
            Need::Fail(ProxyError::MethodNegotiation)
        );
        assert_eq!(
            once(d(), &[5, 0, 5, 5, 0, 1]).end,
            Need::Fail(ProxyError::Socks5(5))
        );
        assert_eq!(
            once(d(), &[5, 0, 5, 0, 0, 9]).end,
            Need::Fail(ProxyError::Socks5AddressType)
        );
        let eof = |done, of| {
            Need::Fail(ProxyError::ReadFailed {
                done,
                of,
                errno: Errno(libc::EPIPE),
            })
        };
        assert_eq!(once(d(), &[]).end, eof(0, 3));
        assert_eq!(once(d(), &[5]).end, eof(1, 3));
        assert_eq!(once(d(), &[5, 0, 5, 0]).end, eof(2, 4));
        assert_eq!(once(d(), &[5, 0, 5, 0, 0, 1, 1]).end, eof(1, 6));
        assert_eq!(once(d(), &[5, 0, 5, 0, 0, 4]).end, eof(0, 18));
        let long = "x".repeat(256);
        assert_eq!(
            once(Dialog::socks5(&long, None, 1, None), &[5, 0]).end,
            Need::Fail(ProxyError::HostTooLongSocks5)
        );
    }

    #[test]
    fn socks5_domain_reply_and_body_left_alone() {
        // Extension: a domain-name bound address; then the tunnel's bytes.
        let mut reply = vec![5, 0, 5, 0, 0, 3, 4];
        reply.extend_from_slice(b"host");
        reply.extend_from_slice(&[0, 80]);
        reply.extend_from_slice(b"banner");
        let r = once(Dialog::socks5("h", None, 1, None), &reply);
        assert_eq!((r.end, r.consumed), (Need::Done, reply.len() - 6));
    }

    #[test]
    fn socks5_username_password() {
        let r = once(
            Dialog::socks5("h", None, 1, Some("bob")),
            &[5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(r.end, Need::Done);
        assert_eq!(r.sent[0], [5, 2, 0, 2]);
        assert_eq!(r.sent[1], b"\x01\x03bob\x02pw");
        assert_eq!(r.sent[2], [5, 1, 0, 3, 1, b'h', 0, 1]);
        let r = once(Dialog::socks5("h", None, 1, Some("bob")), &[5, 2, 1, 1]);
        assert_eq!(r.end, Need::Fail(ProxyError::Socks5AuthRejected(1)));
        // The proxy may still pick "no authentication".
        let r = once(Dialog::socks5("h", None, 1, Some("bob")), &[5, 0]);
        assert_eq!(r.sent.len(), 2);
    }

    #[test]
    fn socks4_request_and_codes() {
        let r = once(
            Dialog::socks4([127, 0, 0, 1].into(), 8080),
            &[0, 90, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(r.sent, [vec![4, 1, 0x1f, 0x90, 127, 0, 0, 1, 0]]);
        assert_eq!(r.end, Need::Done);
        for code in [91, 92, 93, 0] {
            let r = once(
                Dialog::socks4([1, 2, 3, 4].into(), 1),
                &[0, code, 0, 0, 0, 0, 0, 0],
            );
            assert_eq!(r.end, Need::Fail(ProxyError::Socks4(code)));
        }
    }

    #[test]
    fn http_request_forms() {
        let r = once(
            Dialog::http("10.0.0.1", 80, None, false),
            b"HTTP/1.1 200 OK\r\n\r\n",
        );
        assert_eq!(
            r.sent,
            [
                b"CONNECT 10.0.0.1:80 HTTP/1.0\r\n".to_vec(),
                b"\r\n".to_vec()
            ]
        );
        assert_eq!(r.end, Need::Done);
        let r = once(Dialog::http("::1", 22, None, false), b"HTTP/1.0 200\n\n");
        assert_eq!(r.sent[0], b"CONNECT [::1]:22 HTTP/1.0\r\n");
        assert_eq!(r.end, Need::Done);
        for bad in ["a b", "a\tb", "[x", "x]", "a\rb", "a\nb"] {
            let r = once(Dialog::http(bad, 1, None, false), b"");
            assert_eq!(r.end, Need::Fail(ProxyError::InvalidHostname));
            assert!(r.sent.is_empty());
        }
        let long = "h".repeat(1003); // 8 + 1003 + 13 = 1024 bytes: too long
        assert_eq!(
            once(Dialog::http(&long, 1, None, false), b"").end,
            Need::Fail(ProxyError::HostnameTooLong)
        );
        let fits = "h".repeat(1002);
        assert_eq!(
            once(Dialog::http(&fits, 1, None, false), b"").sent[0].len(),
            1023
        );
    }

    #[test]
    fn http_status_and_headers() {
        let d = || Dialog::http("h", 1, None, false);
        assert_eq!(
            once(d(), b"HTTP/1.1 403 Forbidden\r\n").end,
            Need::Fail(ProxyError::Status(b"HTTP/1.1 403 Forbidden".to_vec()))
        );
        assert_eq!(
            once(d(), b"HTTP/1.1 407 Auth\r\n").end,
            Need::Fail(ProxyError::Status(b"HTTP/1.1 407 Auth".to_vec()))
        );
        let eof = Need::Fail(ProxyError::ProxyRead(Errno(libc::EPIPE)));
        assert_eq!(once(d(), b"HTTP/1.1 200 OK\r\nA: b\r\n").end, eof);
        assert_eq!(once(d(), b"").end, eof);
        // 1023 bytes fit in the line; 1024 do not.
        let mut ok = vec![b'H'; 1023];
        ok.extend_from_slice(b"\r\n");
        assert_eq!(
            once(d(), &ok).end,
            Need::Fail(ProxyError::Status(vec![b'H'; 1023]))
        );
        let long = vec![b'H'; 1024];
        assert_eq!(once(d(), &long).end, Need::Fail(ProxyError::ReadTooLong));
        // 63 headers and the blank line are fine, 64 headers are not.
        let mut reply = b"HTTP/1.0 200 OK\r\n".to_vec();
        for _ in 0..63 {
            reply.extend_from_slice(b"X: y\r\n");
        }
        let mut too_many = reply.clone();
        reply.extend_from_slice(b"\r\nbody");
        let r = once(d(), &reply);
        assert_eq!((r.end, r.consumed), (Need::Done, reply.len() - 4));
        too_many.extend_from_slice(b"X: y\r\n\r\n");
        assert_eq!(
            once(d(), &too_many).end,
            Need::Fail(ProxyError::TooManyHeaders)
        );
    }

    #[test]
    fn http_auth() {
        let user = Some("bob");
        // First attempt: no header; a 407 asks to reconnect.
        let r = once(Dialog::http("h", 1, user, false), b"HTTP/1.0 407 Auth\r\n");
        assert_eq!(r.end, Need::Reconnect);
        assert_eq!(r.sent.len(), 2);
        // Later attempts: the request line, then the header, then CRLF.
        let r = once(Dialog::http("h", 1, user, true), b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(r.sent[0], b"CONNECT h:1 HTTP/1.0\r\n");
        assert_eq!(r.sent[1], b"Proxy-Authorization: Basic Ym9iOnB3\r\n");
        assert_eq!(r.sent[2], b"\r\n");
        assert_eq!(r.end, Need::Done);
        let mut out = Vec::new();
        base64(b"bob:s3cr3t", &mut out);
        assert_eq!(out, b"Ym9iOnMzY3IzdA==");
        // nc's limits on the credentials.
        let pw = |n| Secret::new(vec![b'p'; n]);
        assert!(http_auth_header("u", &pw(200)).is_ok());
        assert_eq!(
            http_auth_header("u", &pw(745)),
            Err(ProxyError::AuthResponseTooLong)
        );
        assert_eq!(
            http_auth_header("u", &pw(800)),
            Err(ProxyError::UserPassTooLong)
        );
    }

    /// Replies built from each protocol's pieces, cut short or corrupted at
    /// random, give the same outcome fed in one read or in random pieces,
    /// and never panic.
    #[test]
    fn property_any_split_same_outcome() {
        let socks5_ok: &[u8] = &[5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 80, b'x'];
        let socks5_dom: &[u8] = &[5, 2, 1, 0, 5, 0, 0, 3, 2, b'a', b'b', 0, 1, b'y'];
        let socks4_ok: &[u8] = &[0, 90, 0, 0, 0, 0, 0, 0, b'z'];
        let http_ok: &[u8] = b"HTTP/1.1 200 OK\r\nVia: x\r\n\r\nbody";
        let http_407: &[u8] = b"HTTP/1.0 407 Proxy Auth\r\nX: y\r\n\r\n";
        type Make = fn() -> Dialog;
        let makers: [(Make, &[u8]); 6] = [
            (|| Dialog::socks5("h", None, 1, None), socks5_ok),
            (|| Dialog::socks5("h", None, 1, Some("u")), socks5_dom),
            (|| Dialog::socks4([1, 2, 3, 4].into(), 1), socks4_ok),
            (|| Dialog::http("h", 1, None, false), http_ok),
            (|| Dialog::http("h", 1, Some("u"), false), http_407),
            (|| Dialog::http("h", 1, Some("u"), true), http_ok),
        ];
        for seed in 0..4000u64 {
            let mut rng = Rng::new(seed);
            let (make, base) = makers[rng.below(makers.len())];
            let mut reply = base.to_vec();
            // Corrupt some bytes, cut it short, or add random bytes.
            for _ in 0..rng.below(3) {
                if !reply.is_empty() {
                    let i = rng.below(reply.len());
                    reply[i] = rng.next() as u8;
                }
            }
            if rng.below(3) == 0 {
                reply.truncate(rng.below(reply.len() + 1));
            }
            if rng.below(4) == 0 {
                let n = rng.below(40);
                reply.extend(rng.bytes(n, b"\r\n:HTTP/1.0 200"));
            }
            let whole = once(make(), &reply);
            let split = play(make(), &reply, |want| 1 + rng.below(want.min(9)));
            assert_eq!(whole, split, "seed {seed}: reply {reply:?}");
        }
    }

    type Make = fn() -> Dialog;

    /// Every dialog kind, and the most reply bytes it may ever consume:
    /// SOCKS5 method, auth verdict, head, a 255-byte name and its port;
    /// SOCKS4's 8 bytes; HTTP's status line and 63 headers of at most
    /// 1023 bytes each, their LFs, and the blank line (CRs not counted).
    fn kinds() -> [(Make, usize, &'static str); 6] {
        let socks5 = 2 + 2 + 4 + 1 + 255 + 2;
        let http = 64 * 1024 + 1;
        [
            (|| Dialog::socks5("h", None, 1, None), socks5, "socks5"),
            (
                || Dialog::socks5("h", None, 1, Some("u")),
                socks5,
                "socks5+auth",
            ),
            (|| Dialog::socks4([1, 2, 3, 4].into(), 1), 8, "socks4"),
            (|| Dialog::http("h", 1, None, false), http, "http"),
            (|| Dialog::http("h", 1, Some("u"), false), http, "http+407"),
            (|| Dialog::http("h", 1, Some("u"), true), http, "http+auth"),
        ]
    }

    /// Like [`play`], checking on the way that every read the dialog asks
    /// for is 1..=HTTP_PEEK bytes and that it never takes more than it was
    /// given; the end of `reply` is EOF.
    fn play_checked(d: Dialog, reply: &[u8], chunk: impl FnMut(usize) -> usize) -> Run {
        let mut sizes = Vec::new();
        let mut chunk = chunk;
        let run = play(d, reply, |want| {
            sizes.push(want);
            chunk(want)
        });
        assert!(
            sizes.iter().all(|&w| (1..=HTTP_PEEK).contains(&w)),
            "reads {sizes:?}"
        );
        assert!(run.consumed <= reply.len());
        run
    }

    /// Arbitrary replies, heavy in each protocol's meaningful bytes: no
    /// panic, the same outcome fed whole, in random pieces or byte by
    /// byte, and never more consumed than the protocol allows.
    #[test]
    fn property_arbitrary_replies() {
        let alphabet: &[u8] = b"\x00\x01\x02\x03\x04\x05\x5a\x5b\xff\r\n\r\nHTTP/1.0 200 407:";
        let mut cases = 0;
        for seed in 0..6_000u64 {
            let mut rng = Rng::new(seed);
            for (make, bound, name) in kinds() {
                let len = rng.below(320);
                let reply = rng.bytes(len, alphabet);
                let whole = play_checked(make(), &reply, |w| w);
                let split = play_checked(make(), &reply, |w| 1 + rng.below(w.min(13)));
                let bytes = play_checked(make(), &reply, |_| 1);
                assert_eq!(whole, split, "{name} seed {seed}: {reply:?}");
                assert_eq!(whole, bytes, "{name} seed {seed}: {reply:?}");
                let taken = reply[..whole.consumed].iter().filter(|&&b| b != b'\r');
                assert!(taken.count() <= bound, "{name} seed {seed}");
                cases += 3;
            }
        }
        assert!(cases >= 100_000);
    }

    /// Long HTTP replies (many header lines, long lines, CR runs) stay
    /// within nc's limits: at most 64 lines of at most 1023 bytes.
    #[test]
    fn property_long_http_replies_are_bounded() {
        for seed in 0..400u64 {
            let mut rng = Rng::new(seed);
            let mut reply = b"HTTP/1.1 200 OK\r\n".to_vec();
            for _ in 0..rng.below(100) {
                let n = 1 + rng.below(1100); // never blank: a blank line ends the headers
                reply.extend(std::iter::repeat_n(b'h', n));
                reply.extend(std::iter::repeat_n(b'\r', rng.below(3)));
                reply.push(b'\n');
            }
            if rng.below(2) == 0 {
                reply.extend_from_slice(b"\r\n");
            }
            let d = || Dialog::http("h", 1, None, false);
            let run = play_checked(d(), &reply, |w| 1 + rng.below(w));
            assert_eq!(run, play_checked(d(), &reply, |w| w), "seed {seed}");
            let taken = reply[..run.consumed].iter().filter(|&&b| b != b'\r');
            assert!(taken.count() <= 64 * 1024 + 1, "seed {seed}");
            if run.end == Need::Done {
                assert_eq!(run.consumed, reply.len(), "seed {seed}");
            }
        }
    }

    /// A complete reply followed by anything: the handshake ends exactly
    /// at the end of the reply, leaving the rest (the tunnel's first
    /// bytes) unread, however the bytes arrive.
    #[test]
    fn property_bytes_after_the_reply_are_left_alone() {
        let replies: [(Make, &[u8]); 5] = [
            (
                || Dialog::socks5("h", None, 1, None),
                &[5, 0, 5, 0, 0, 1, 9, 9, 9, 9, 0, 1],
            ),
            (
                || Dialog::socks5("h", None, 1, None),
                &[5, 0, 5, 0, 0, 3, 1, b'x', 0, 1],
            ),
            (
                || Dialog::socks5("h", None, 1, Some("u")),
                &[
                    5, 2, 1, 0, 5, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                    0, 1,
                ],
            ),
            (
                || Dialog::socks4([1, 2, 3, 4].into(), 1),
                &[0, 90, 1, 2, 3, 4, 5, 6],
            ),
            (
                || Dialog::http("h", 1, None, false),
                b"HTTP/1.0 200 x\r\nA: b\r\n\r\n",
            ),
        ];
        for seed in 0..4_000u64 {
            let mut rng = Rng::new(seed);
            let (make, reply) = replies[rng.below(replies.len())];
            let n = 1 + rng.below(64);
            let tail = rng.bytes(n, b"\r\n\x00\xffHTTP/1.1 200\r\n\r\n");
            let mut all = reply.to_vec();
            all.extend_from_slice(&tail);
            let run = play_checked(make(), &all, |w| 1 + rng.below(w));
            assert_eq!(
                (&run.end, run.consumed),
                (&Need::Done, reply.len()),
                "seed {seed}"
            );
        }
    }
}
