//! `--starttls PROTO` (with `-c`): the plaintext preamble of a protocol
//! that upgrades its connection to TLS, before the TLS client handshake on
//! the same socket (openssl s_client's `-starttls` set).
//!
//! Two layers, as in [`super::proxy`]. [`Dialog`] is the conversation and
//! nothing else: it says what to send, takes whatever arrives and says how
//! much of it belongs to the preamble; it does no I/O, so the same bytes
//! give the same result however they are split (the tests below check
//! that byte by byte). [`Conversation`] runs a dialog on a non-blocking
//! socket: it peeks at what has arrived and removes from the socket
//! exactly the bytes the dialog consumed, so the first byte of TLS the
//! server sends after its go-ahead is still in the socket for the TLS
//! session (which reads it one record at a time). [`run`] is the client's
//! machine in the loop, with the `-w` deadline; a scan's TLS probe steps
//! the same [`Conversation`] before its handshake.
//!
//! A hostile server cannot grow memory: the whole preamble the dialog
//! keeps (its replies, for `-vv`) is at most [`MAX_PREAMBLE`] bytes, then
//! the dialog fails.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::Interest;
use socket2::Socket;

use super::proxy::{recv, send};
use crate::sys::errno::Errno;
use crate::sys::reactor::{self, Reactor, Stop, Turn, would_block};

/// The most a server's preamble may be (all its replies together).
pub const MAX_PREAMBLE: usize = 64 * 1024;

/// How much of a reply is looked at per read.
const PEEK: usize = 4096;

/// The protocols, as s_client names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Smtp,
    Lmtp,
    Pop3,
    Imap,
    Ftp,
    Xmpp,
    XmppServer,
    Irc,
    Postgres,
    Mysql,
    Nntp,
    Sieve,
    Ldap,
}

/// The names `--starttls` takes, in the order of the manual.
pub const NAMES: &[&str] = &[
    "smtp",
    "lmtp",
    "pop3",
    "imap",
    "ftp",
    "xmpp",
    "xmpp-server",
    "irc",
    "postgres",
    "mysql",
    "nntp",
    "sieve",
    "ldap",
];

const PROTOS: &[Proto] = &[
    Proto::Smtp,
    Proto::Lmtp,
    Proto::Pop3,
    Proto::Imap,
    Proto::Ftp,
    Proto::Xmpp,
    Proto::XmppServer,
    Proto::Irc,
    Proto::Postgres,
    Proto::Mysql,
    Proto::Nntp,
    Proto::Sieve,
    Proto::Ldap,
];

impl Proto {
    /// The protocol named `s` (as in [`NAMES`]).
    pub fn from_name(s: &str) -> Option<Proto> {
        NAMES.iter().position(|n| *n == s).map(|i| PROTOS[i])
    }

    pub fn name(self) -> &'static str {
        NAMES[PROTOS.iter().position(|p| *p == self).unwrap_or(0)]
    }
}

/// `--starttls` as validated: the protocol and `--starttls-name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartTls {
    pub proto: Proto,
    pub name: Option<String>,
}

/// Why a preamble failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// The server refused (or answered out of turn) with this reply.
    Answered(Vec<u8>),
    /// The server does not offer the upgrade (MySQL's CLIENT_SSL, XMPP's
    /// `<starttls/>` feature).
    NotOffered,
    /// The reply makes no sense for the protocol.
    Malformed(&'static str),
    /// The server closed the connection.
    Closed,
    /// The preamble grew past [`MAX_PREAMBLE`].
    TooLong,
    Read(Errno),
    Write(Errno),
    /// `-w` ran out.
    TimedOut,
    /// A scan's wait for the preamble ran out.
    NoAnswer(Duration),
}

/// A failed preamble: the protocol, why, and every byte the server sent
/// (at most [`MAX_PREAMBLE`]), for `-vv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartTlsError {
    pub proto: Proto,
    pub why: Why,
    pub replies: Vec<u8>,
}

/// What the conversation needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    Send(Vec<u8>),
    /// Read and [`Dialog::feed`] what arrives.
    Recv,
    /// The server said go: TLS starts now.
    Done,
    Fail(Why),
}

/// How the server's next unit is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// A line, up to LF.
    Line,
    /// XMPP: an XML tag, `<` to `>` (text between tags is skipped).
    Tag,
    /// This many bytes.
    Fixed(usize),
    /// LDAP: one BER element (tag, length, contents).
    Ber,
    /// MySQL: one packet (3-byte length, sequence id, payload).
    Mysql,
}

/// Where a dialog is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The greeting (SMTP, LMTP, FTP, POP3, IMAP, NNTP, Sieve, MySQL).
    Greeting,
    /// SMTP's EHLO / LMTP's LHLO reply, IMAP's CAPABILITY.
    Hello,
    /// XMPP: the stream's features, `<starttls/>` seen or not.
    Features {
        offered: bool,
    },
    /// The reply to the upgrade command.
    Upgrade,
    Done,
}

/// A STARTTLS preamble, without I/O.
#[derive(Debug)]
pub struct Dialog {
    proto: Proto,
    phase: Phase,
    frame: Frame,
    outbox: VecDeque<Vec<u8>>,
    /// The unit being read.
    unit: Vec<u8>,
    /// In a tag: inside a quoted attribute value (its quote).
    quote: Option<u8>,
    /// A multi-line reply's code (`250-` ... `250 `).
    multi: Option<[u8; 3]>,
    /// Every byte received, for `-vv`.
    replies: Vec<u8>,
    failed: Option<Why>,
    /// The EHLO/LHLO name.
    name: Vec<u8>,
}

/// openssl s_client's MySQL SSL request: capabilities (CLIENT_SSL set),
/// max packet size, character set 33, 23 reserved zero bytes; sequence
/// id 1.
const MYSQL_SSL_REQUEST: [u8; 36] = [
    0x20, 0x00, 0x00, 0x01, // payload length 32, sequence id 1
    0x85, 0xae, 0x7f, 0x00, // capability flags, CLIENT_SSL (0x0800) set
    0x00, 0x00, 0x00, 0x01, // max packet size
    0x21, // character set
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// MySQL's CLIENT_SSL capability.
const CLIENT_SSL: u16 = 0x0800;

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// LDAP's StartTLS ExtendedRequest, messageID 1 (RFC 4511, section 4.14).
const LDAP_STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

fn ldap_request() -> Vec<u8> {
    let oid = LDAP_STARTTLS_OID;
    let mut req = vec![0x80, oid.len() as u8];
    req.extend_from_slice(oid);
    let mut op = vec![0x77, req.len() as u8];
    op.extend_from_slice(&req);
    let mut msg = vec![0x02, 0x01, 0x01];
    msg.extend_from_slice(&op);
    let mut out = vec![0x30, msg.len() as u8];
    out.extend_from_slice(&msg);
    out
}

/// The XMPP stream header for `to`.
fn xmpp_header(ns: &str, to: &str) -> Vec<u8> {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='{ns}' to='{}' version='1.0'>",
        xml_escape(to)
    )
    .into_bytes()
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\'' => o.push_str("&apos;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

impl Dialog {
    /// The preamble of `proto`; `name` is the EHLO/LHLO name or the XMPP
    /// stream's `to` (the caller's default applied).
    pub fn new(proto: Proto, name: &str) -> Dialog {
        let mut d = Dialog {
            proto,
            phase: Phase::Greeting,
            frame: Frame::Line,
            outbox: VecDeque::new(),
            unit: Vec::new(),
            quote: None,
            multi: None,
            replies: Vec::new(),
            failed: None,
            name: name.as_bytes().to_vec(),
        };
        match proto {
            Proto::Xmpp | Proto::XmppServer => {
                let ns = if proto == Proto::Xmpp {
                    "jabber:client"
                } else {
                    "jabber:server"
                };
                d.outbox.push_back(xmpp_header(ns, name));
                d.frame = Frame::Tag;
                d.phase = Phase::Features { offered: false };
            }
            Proto::Irc => {
                d.outbox.push_back(b"STARTTLS\r\n".to_vec());
                d.phase = Phase::Upgrade;
            }
            Proto::Postgres => {
                d.outbox.push_back(PG_SSL_REQUEST.to_vec());
                d.frame = Frame::Fixed(1);
                d.phase = Phase::Upgrade;
            }
            Proto::Ldap => {
                d.outbox.push_back(ldap_request());
                d.frame = Frame::Ber;
                d.phase = Phase::Upgrade;
            }
            Proto::Mysql => d.frame = Frame::Mysql,
            _ => {}
        }
        d
    }

    /// The EHLO/LHLO command for `name`.
    fn hello(&self, name: &[u8]) -> Vec<u8> {
        let verb: &[u8] = if self.proto == Proto::Lmtp {
            b"LHLO "
        } else {
            b"EHLO "
        };
        [verb, name, b"\r\n"].concat()
    }

    /// The next thing to do.
    pub fn next(&mut self) -> Need {
        if let Some(w) = &self.failed {
            return Need::Fail(w.clone());
        }
        if let Some(b) = self.outbox.pop_front() {
            return Need::Send(b);
        }
        if self.phase == Phase::Done {
            return Need::Done;
        }
        Need::Recv
    }

    /// Takes bytes that arrived; returns how many belong to the preamble
    /// (never one past the server's go-ahead).
    pub fn feed(&mut self, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len()
            && self.failed.is_none()
            && self.phase != Phase::Done
            && self.outbox.is_empty()
        {
            if self.replies.len() >= MAX_PREAMBLE {
                self.failed = Some(Why::TooLong);
                break;
            }
            let b = data[used];
            used += 1;
            self.replies.push(b);
            self.byte(b);
        }
        used
    }

    fn fail(&mut self, why: Why) {
        if self.failed.is_none() {
            self.failed = Some(why);
        }
    }

    fn byte(&mut self, b: u8) {
        match self.frame {
            Frame::Line => {
                if b == b'\n' {
                    let mut line = std::mem::take(&mut self.unit);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.line(&line);
                } else {
                    self.unit.push(b);
                }
            }
            Frame::Tag => {
                if self.unit.is_empty() && b != b'<' {
                    return; // text between tags
                }
                self.unit.push(b);
                match (self.quote, b) {
                    (Some(q), _) if b == q => self.quote = None,
                    (Some(_), _) => {}
                    (None, b'\'' | b'"') if self.unit.len() > 1 => self.quote = Some(b),
                    (None, b'>') => {
                        let tag = std::mem::take(&mut self.unit);
                        self.tag(&tag);
                    }
                    _ => {}
                }
            }
            Frame::Fixed(n) => {
                self.unit.push(b);
                if self.unit.len() == n {
                    let u = std::mem::take(&mut self.unit);
                    self.fixed(&u);
                }
            }
            Frame::Ber => {
                self.unit.push(b);
                match ber_len(&self.unit) {
                    Ok(Some(total)) if self.unit.len() == total => {
                        let u = std::mem::take(&mut self.unit);
                        self.ldap(&u);
                    }
                    Ok(_) => {}
                    Err(()) => self.fail(Why::Malformed("not an LDAP message")),
                }
            }
            Frame::Mysql => {
                self.unit.push(b);
                if self.unit.len() >= 4 {
                    let len = usize::from(self.unit[0])
                        | usize::from(self.unit[1]) << 8
                        | usize::from(self.unit[2]) << 16;
                    if self.unit.len() == 4 + len {
                        let u = std::mem::take(&mut self.unit);
                        self.mysql(&u[4..]);
                    }
                }
            }
        }
    }

    /// One line of a line-based protocol.
    fn line(&mut self, line: &[u8]) {
        match self.proto {
            Proto::Smtp | Proto::Lmtp | Proto::Ftp | Proto::Nntp => self.coded_line(line),
            Proto::Pop3 => {
                if line.starts_with(b"+OK") {
                    if self.phase == Phase::Greeting {
                        self.outbox.push_back(b"STLS\r\n".to_vec());
                        self.phase = Phase::Upgrade;
                    } else {
                        self.phase = Phase::Done;
                    }
                } else {
                    self.fail(Why::Answered(line.to_vec()));
                }
            }
            Proto::Imap => self.imap_line(line),
            Proto::Sieve => self.sieve_line(line),
            Proto::Irc => self.irc_line(line),
            _ => {}
        }
    }

    /// SMTP, LMTP, FTP, NNTP: `DDD text` or a multi-line `DDD-` ...
    /// `DDD text` reply.
    fn coded_line(&mut self, line: &[u8]) {
        let code = match line.get(..3) {
            Some(c) if c.iter().all(u8::is_ascii_digit) => [c[0], c[1], c[2]],
            _ if self.multi.is_some() => return, // FTP: free text inside a reply
            _ => return self.fail(Why::Answered(line.to_vec())),
        };
        let last = line.get(3) != Some(&b'-');
        match self.multi {
            Some(m) if m != code || !last => return,
            None if !last => {
                self.multi = Some(code);
                return;
            }
            _ => self.multi = None,
        }
        let want: &[&[u8; 3]] = match (self.proto, self.phase) {
            (Proto::Nntp, Phase::Greeting) => &[b"200", b"201"],
            (_, Phase::Greeting) => &[b"220"],
            (_, Phase::Hello) => &[b"250"],
            (Proto::Ftp, _) => &[b"234"],
            (Proto::Nntp, _) => &[b"382"],
            _ => &[b"220"],
        };
        if !want.contains(&&code) {
            return self.fail(Why::Answered(line.to_vec()));
        }
        match (self.proto, self.phase) {
            (Proto::Smtp | Proto::Lmtp, Phase::Greeting) => {
                let hello = self.hello(&self.name);
                self.outbox.push_back(hello);
                self.phase = Phase::Hello;
            }
            (_, Phase::Greeting) => {
                self.outbox.push_back(if self.proto == Proto::Ftp {
                    b"AUTH TLS\r\n".to_vec()
                } else {
                    b"STARTTLS\r\n".to_vec()
                });
                self.phase = Phase::Upgrade;
            }
            (_, Phase::Hello) => {
                self.outbox.push_back(b"STARTTLS\r\n".to_vec());
                self.phase = Phase::Upgrade;
            }
            _ => self.phase = Phase::Done,
        }
    }

    /// IMAP: `* OK` greeting, `a1 CAPABILITY`, `a2 STARTTLS`.
    fn imap_line(&mut self, line: &[u8]) {
        let word = |l: &[u8], i: usize| -> Vec<u8> {
            l.split(|&c| c == b' ')
                .nth(i)
                .unwrap_or_default()
                .to_ascii_uppercase()
        };
        match self.phase {
            Phase::Greeting => {
                if line.starts_with(b"* ") && word(line, 1) == b"OK" {
                    self.outbox.push_back(b"a1 CAPABILITY\r\n".to_vec());
                    self.phase = Phase::Hello;
                } else {
                    self.fail(Why::Answered(line.to_vec()));
                }
            }
            Phase::Hello | Phase::Upgrade => {
                let tag: &[u8] = if self.phase == Phase::Hello {
                    b"a1"
                } else {
                    b"a2"
                };
                if line.starts_with(b"* ") {
                    if word(line, 1) == b"BYE" {
                        self.fail(Why::Answered(line.to_vec()));
                    }
                    return; // untagged data
                }
                if word(line, 0) != tag.to_ascii_uppercase() {
                    return self.fail(Why::Answered(line.to_vec()));
                }
                if word(line, 1) != b"OK" {
                    return self.fail(Why::Answered(line.to_vec()));
                }
                if self.phase == Phase::Hello {
                    self.outbox.push_back(b"a2 STARTTLS\r\n".to_vec());
                    self.phase = Phase::Upgrade;
                } else {
                    self.phase = Phase::Done;
                }
            }
            _ => {}
        }
    }

    /// ManageSieve: capability lines until `OK`, then `STARTTLS`, `OK`.
    fn sieve_line(&mut self, line: &[u8]) {
        let up = line.to_ascii_uppercase();
        let status = |w: &[u8]| up == w || up.starts_with(&[w, b" "].concat());
        if status(b"OK") {
            if self.phase == Phase::Greeting {
                self.outbox.push_back(b"STARTTLS\r\n".to_vec());
                self.phase = Phase::Upgrade;
            } else {
                self.phase = Phase::Done;
            }
        } else if status(b"NO") || status(b"BYE") || self.phase == Phase::Upgrade {
            self.fail(Why::Answered(line.to_vec()));
        }
        // else a capability line
    }

    /// IRC: `STARTTLS` sent first; 670 says go, 691 (and the "unknown
    /// command"/"not registered" numerics) say no; notices are skipped.
    fn irc_line(&mut self, line: &[u8]) {
        let mut words = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
        let mut cmd = words.next().unwrap_or_default();
        if cmd.starts_with(b":") {
            cmd = words.next().unwrap_or_default();
        }
        match cmd {
            b"670" => self.phase = Phase::Done,
            b"691" | b"421" | b"451" | b"ERROR" => self.fail(Why::Answered(line.to_vec())),
            _ => {}
        }
    }

    /// XMPP: one tag of the server's stream.
    fn tag(&mut self, tag: &[u8]) {
        let inner = &tag[1..tag.len() - 1];
        if inner.starts_with(b"?") || inner.starts_with(b"!") {
            return; // <?xml ...?>, comments
        }
        let closing = inner.starts_with(b"/");
        let body = if closing { &inner[1..] } else { inner };
        let name_end = body
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'/')
            .unwrap_or(body.len());
        let full = &body[..name_end];
        let local = match full.iter().position(|&c| c == b':') {
            Some(i) => &full[i + 1..],
            None => full,
        };
        let is_stream_ns = full.starts_with(b"stream:");
        match self.phase {
            Phase::Features { offered } => {
                if is_stream_ns && local == b"error" || closing && full == b"stream:stream" {
                    return self.fail(Why::Answered(tag.to_vec()));
                }
                if !closing && local == b"starttls" && !is_stream_ns {
                    self.phase = Phase::Features { offered: true };
                } else if is_stream_ns && local == b"features" && (closing || inner.ends_with(b"/"))
                {
                    if !offered {
                        return self.fail(Why::NotOffered);
                    }
                    self.outbox
                        .push_back(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_vec());
                    self.phase = Phase::Upgrade;
                }
            }
            Phase::Upgrade => {
                if local == b"proceed" && (closing || inner.ends_with(b"/")) {
                    self.phase = Phase::Done;
                } else if local == b"proceed" {
                    // <proceed ...> ... </proceed>: wait for the end tag.
                } else {
                    self.fail(Why::Answered(tag.to_vec()));
                }
            }
            _ => {}
        }
    }

    /// PostgreSQL: the one-byte answer to SSLRequest.
    fn fixed(&mut self, u: &[u8]) {
        if u == b"S" {
            self.phase = Phase::Done;
        } else {
            self.fail(Why::Answered(u.to_vec()));
        }
    }

    /// MySQL: the initial handshake packet (or an error packet).
    fn mysql(&mut self, p: &[u8]) {
        match p.first() {
            Some(0xff) => {
                // ERR: 0xff, code (2), then the message (with '#' and a
                // 5-byte SQL state first, in protocol 4.1).
                let mut msg = p.get(3..).unwrap_or_default();
                if msg.first() == Some(&b'#') && msg.len() >= 6 {
                    msg = &msg[6..];
                }
                return self.fail(Why::Answered(msg.to_vec()));
            }
            Some(10) => {}
            _ => return self.fail(Why::Malformed("not a MySQL handshake")),
        }
        // version (NUL-ended), connection id (4), auth data (8), filler,
        // capability flags (low 2 bytes).
        let Some(nul) = p[1..].iter().position(|&c| c == 0) else {
            return self.fail(Why::Malformed("not a MySQL handshake"));
        };
        let at = 1 + nul + 1 + 4 + 8 + 1;
        let Some(caps) = p.get(at..at + 2) else {
            return self.fail(Why::Malformed("not a MySQL handshake"));
        };
        if u16::from_le_bytes([caps[0], caps[1]]) & CLIENT_SSL == 0 {
            return self.fail(Why::NotOffered);
        }
        self.outbox.push_back(MYSQL_SSL_REQUEST.to_vec());
        self.phase = Phase::Done;
    }

    /// LDAP: the ExtendedResponse to the StartTLS request.
    fn ldap(&mut self, m: &[u8]) {
        match ldap_result(m) {
            Some((0, _)) => self.phase = Phase::Done,
            Some((code, diag)) => {
                let mut text = format!("resultCode {code}").into_bytes();
                if !diag.is_empty() {
                    text.extend_from_slice(b": ");
                    text.extend_from_slice(diag);
                }
                self.fail(Why::Answered(text));
            }
            None => self.fail(Why::Malformed("not an LDAP ExtendedResponse")),
        }
    }
}

/// The total size of the BER element `b` starts, once its header is
/// complete (`Ok(None)` before); `Err` for what LDAP never sends.
fn ber_len(b: &[u8]) -> Result<Option<usize>, ()> {
    if b[0] != 0x30 {
        return Err(());
    }
    let Some(&l) = b.get(1) else {
        return Ok(None);
    };
    if l < 0x80 {
        return Ok(Some(2 + usize::from(l)));
    }
    let n = usize::from(l & 0x7f);
    if n == 0 || n > 3 {
        return Err(()); // indefinite, or larger than any preamble
    }
    let Some(bytes) = b.get(2..2 + n) else {
        return Ok(None);
    };
    let len = bytes.iter().fold(0usize, |a, &c| a << 8 | usize::from(c));
    if 2 + n + len > MAX_PREAMBLE {
        return Err(());
    }
    Ok(Some(2 + n + len))
}

/// One BER element at the start of `b`: (tag, contents, rest).
fn ber(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let l = *b.get(1)?;
    let (len, head) = if l < 0x80 {
        (usize::from(l), 2)
    } else {
        let n = usize::from(l & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let bytes = b.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |a, &c| a << 8 | usize::from(c)),
            2 + n,
        )
    };
    let contents = b.get(head..head + len)?;
    Some((tag, contents, &b[head + len..]))
}

/// The resultCode and diagnosticMessage of an LDAPMessage holding an
/// ExtendedResponse.
fn ldap_result(m: &[u8]) -> Option<(u32, &[u8])> {
    let (0x30, msg, _) = ber(m)? else {
        return None;
    };
    let (0x02, _id, rest) = ber(msg)? else {
        return None;
    };
    let (0x78, op, _) = ber(rest)? else {
        return None;
    };
    let (0x0a, code, rest) = ber(op)? else {
        return None;
    };
    let code = code.iter().fold(0u32, |a, &c| a << 8 | u32::from(c));
    let (_, _dn, rest) = ber(rest)?;
    let (_, diag, _) = ber(rest)?;
    Some((code, diag))
}

/// The local host's name (gethostname), the EHLO/LHLO default; `localhost`
/// when it is unusable in a command.
pub fn local_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates
    // within it or truncates.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    let n = buf.iter().position(|&c| c == 0).unwrap_or(0);
    match std::str::from_utf8(&buf[..n]) {
        Ok(s) if r == 0 && !s.is_empty() && s.bytes().all(|c| c.is_ascii_graphic()) => s.into(),
        _ => "localhost".into(),
    }
}

/// The name a dialog uses: `--starttls-name`, else for SMTP/LMTP the
/// local host's name, for XMPP the destination host as typed.
pub fn name_for(st: &StartTls, host: &std::ffi::OsStr) -> String {
    if let Some(n) = &st.name {
        return n.clone();
    }
    match st.proto {
        Proto::Smtp | Proto::Lmtp => local_name(),
        _ => host.to_string_lossy().into_owned(),
    }
}

/// A dialog on a connected non-blocking socket: one step at a time.
pub struct Conversation {
    dialog: Dialog,
    out: Vec<u8>,
    sent: usize,
}

impl Conversation {
    pub fn new(dialog: Dialog) -> Conversation {
        Conversation {
            dialog,
            out: Vec::new(),
            sent: 0,
        }
    }

    /// The error for `why`, with what the server sent.
    pub fn error(&self, why: Why) -> StartTlsError {
        StartTlsError {
            proto: self.dialog.proto,
            why,
            replies: self.dialog.replies.clone(),
        }
    }

    /// All the work possible now: `Ok(Some)` when the preamble is over,
    /// `Err(interest)` to wait for.
    pub fn step(&mut self, sock: &Socket) -> Result<Option<Result<(), StartTlsError>>, Interest> {
        let fd = sock.as_raw_fd();
        loop {
            if self.sent < self.out.len() {
                match send(fd, &self.out[self.sent..]) {
                    Ok(n) => self.sent += n,
                    Err(e) if would_block(&e) => return Err(Interest::WRITABLE),
                    Err(e) => return Ok(Some(Err(self.error(Why::Write(Errno::of(&e)))))),
                }
                continue;
            }
            match self.dialog.next() {
                Need::Send(b) => {
                    self.out = b;
                    self.sent = 0;
                }
                Need::Done => return Ok(Some(Ok(()))),
                Need::Fail(why) => return Ok(Some(Err(self.error(why)))),
                Need::Recv => {
                    let mut buf = [0u8; PEEK];
                    match recv(fd, &mut buf, libc::MSG_PEEK) {
                        Ok(0) => return Ok(Some(Err(self.error(Why::Closed)))),
                        Ok(n) => {
                            let used = self.dialog.feed(&buf[..n]);
                            // Take exactly the consumed bytes off the
                            // socket: the rest is the TLS session's.
                            if used > 0 {
                                if let Err(e) = recv(fd, &mut buf[..used], 0) {
                                    return Ok(Some(Err(self.error(Why::Read(Errno::of(&e))))));
                                }
                            }
                        }
                        Err(e) if would_block(&e) => return Err(Interest::READABLE),
                        Err(e) => return Ok(Some(Err(self.error(Why::Read(Errno::of(&e)))))),
                    }
                }
            }
        }
    }
}

/// Runs the preamble of `st` on `sock` in the loop, for at most
/// `deadline`.
pub fn run(
    rx: &mut Reactor,
    sock: &Socket,
    st: &StartTls,
    host: &std::ffi::OsStr,
    deadline: Option<Duration>,
) -> Result<Result<(), StartTlsError>, Stop> {
    let mut conv = Conversation::new(Dialog::new(st.proto, &name_for(st, host)));
    let proto = st.proto;
    reactor::run_on(
        rx,
        sock.as_raw_fd(),
        deadline,
        |timed_out| match conv.step(sock) {
            Ok(Some(r)) => Turn::Done(r),
            Ok(None) => Turn::Wait(Interest::READABLE),
            Err(_) if timed_out => Turn::Done(Err(conv.error(Why::TimedOut))),
            Err(want) => Turn::Wait(want),
        },
        // The socket could not be registered (nothing was read yet).
        |e| {
            Err(StartTlsError {
                proto,
                why: Why::Read(Errno::of(&e)),
                replies: Vec::new(),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `proto`'s dialog against the server's whole stream, fed in
    /// pieces of `step` bytes: what the client sent, how it ended, and
    /// how many bytes of the stream it consumed.
    fn talk(proto: Proto, stream: &[u8], step: usize) -> (Vec<u8>, Result<(), Why>, usize) {
        let mut d = Dialog::new(proto, "client.example");
        let mut sent = Vec::new();
        let mut at = 0;
        for _ in 0..1_000_000 {
            match d.next() {
                Need::Send(b) => sent.extend_from_slice(&b),
                Need::Done => return (sent, Ok(()), at),
                Need::Fail(w) => return (sent, Err(w), at),
                Need::Recv => {
                    if at == stream.len() {
                        return (sent, Err(Why::Closed), at);
                    }
                    let end = (at + step).min(stream.len());
                    at += d.feed(&stream[at..end]);
                }
            }
        }
        panic!("no end");
    }

    /// The same at every split: whole, and byte by byte; the TLS bytes
    /// after the go-ahead are never consumed.
    fn check(proto: Proto, server: &[u8], want_sent: &[u8], want: Result<(), Why>) {
        let mut stream = server.to_vec();
        stream.extend_from_slice(b"\x16\x03\x03TLS");
        for step in [stream.len(), 1, 3] {
            let (sent, r, used) = talk(proto, &stream, step);
            assert_eq!(r, want, "{proto:?} step {step}");
            assert_eq!(
                String::from_utf8_lossy(&sent),
                String::from_utf8_lossy(want_sent),
                "{proto:?} step {step}"
            );
            if want.is_ok() {
                assert_eq!(used, server.len(), "{proto:?} step {step}");
            }
        }
    }

    #[test]
    fn smtp_multiline_ehlo() {
        check(
            Proto::Smtp,
            b"220-mx.example ESMTP\r\n220 ready\r\n250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n220 2.0.0 go ahead\r\n",
            b"EHLO client.example\r\nSTARTTLS\r\n",
            Ok(()),
        );
        check(
            Proto::Smtp,
            b"220 mx\r\n250 mx\r\n454 TLS not available\r\n",
            b"EHLO client.example\r\nSTARTTLS\r\n",
            Err(Why::Answered(b"454 TLS not available".to_vec())),
        );
        check(
            Proto::Smtp,
            b"554 go away\r\n",
            b"",
            Err(Why::Answered(b"554 go away".to_vec())),
        );
    }

    #[test]
    fn lmtp_lhlo() {
        check(
            Proto::Lmtp,
            b"220 lmtp\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n",
            b"LHLO client.example\r\nSTARTTLS\r\n",
            Ok(()),
        );
    }

    #[test]
    fn pop3_stls() {
        check(
            Proto::Pop3,
            b"+OK POP3\r\n+OK begin\r\n",
            b"STLS\r\n",
            Ok(()),
        );
        check(
            Proto::Pop3,
            b"+OK POP3\r\n-ERR no\r\n",
            b"STLS\r\n",
            Err(Why::Answered(b"-ERR no".to_vec())),
        );
    }

    #[test]
    fn imap_tags() {
        check(
            Proto::Imap,
            b"* OK IMAP4rev1\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\na2 OK begin TLS\r\n",
            b"a1 CAPABILITY\r\na2 STARTTLS\r\n",
            Ok(()),
        );
        check(
            Proto::Imap,
            b"* OK IMAP4rev1\r\na1 OK done\r\na2 NO not now\r\n",
            b"a1 CAPABILITY\r\na2 STARTTLS\r\n",
            Err(Why::Answered(b"a2 NO not now".to_vec())),
        );
    }

    #[test]
    fn ftp_auth_tls() {
        check(
            Proto::Ftp,
            b"220-Welcome\r\n free text\r\n220 ready\r\n234 AUTH TLS ok\r\n",
            b"AUTH TLS\r\n",
            Ok(()),
        );
        check(
            Proto::Ftp,
            b"220 ready\r\n500 unknown\r\n",
            b"AUTH TLS\r\n",
            Err(Why::Answered(b"500 unknown".to_vec())),
        );
    }

    #[test]
    fn nntp_starttls() {
        check(
            Proto::Nntp,
            b"200 news\r\n382 go\r\n",
            b"STARTTLS\r\n",
            Ok(()),
        );
        check(
            Proto::Nntp,
            b"201 news\r\n580 no\r\n",
            b"STARTTLS\r\n",
            Err(Why::Answered(b"580 no".to_vec())),
        );
    }

    #[test]
    fn sieve_starttls() {
        check(
            Proto::Sieve,
            b"\"IMPLEMENTATION\" \"x\"\r\n\"STARTTLS\"\r\nOK\r\nOK \"begin\"\r\n",
            b"STARTTLS\r\n",
            Ok(()),
        );
        check(
            Proto::Sieve,
            b"\"STARTTLS\"\r\nOK\r\nNO \"nope\"\r\n",
            b"STARTTLS\r\n",
            Err(Why::Answered(b"NO \"nope\"".to_vec())),
        );
    }

    #[test]
    fn irc_670() {
        check(
            Proto::Irc,
            b":irc NOTICE * :hello\r\n:irc 670 * :STARTTLS successful\r\n",
            b"STARTTLS\r\n",
            Ok(()),
        );
        check(
            Proto::Irc,
            b":irc 691 * :STARTTLS failed\r\n",
            b"STARTTLS\r\n",
            Err(Why::Answered(b":irc 691 * :STARTTLS failed".to_vec())),
        );
    }

    #[test]
    fn xmpp_stream() {
        let header = "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='client.example' version='1.0'>";
        let ask = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
        let server = b"<?xml version='1.0'?><stream:stream from='x' id='1' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\n<stream:features><starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"><required/></starttls><mechanisms a='>'/></stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
        check(
            Proto::Xmpp,
            server,
            format!("{header}{ask}").as_bytes(),
            Ok(()),
        );
        let no = b"<stream:stream><stream:features><mechanisms/></stream:features>";
        check(Proto::Xmpp, no, header.as_bytes(), Err(Why::NotOffered));
        let fail = b"<stream:stream><stream:features><starttls/></stream:features><failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
        check(
            Proto::Xmpp,
            fail,
            format!("{header}{ask}").as_bytes(),
            Err(Why::Answered(
                b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_vec(),
            )),
        );
        let (sent, _, _) = talk(Proto::XmppServer, b"", 1);
        assert!(String::from_utf8_lossy(&sent).contains("xmlns='jabber:server'"));
    }

    #[test]
    fn postgres_ssl_request() {
        check(Proto::Postgres, b"S", &PG_SSL_REQUEST, Ok(()));
        check(
            Proto::Postgres,
            b"N",
            &PG_SSL_REQUEST,
            Err(Why::Answered(b"N".to_vec())),
        );
        assert_eq!(
            u32::from_be_bytes([
                PG_SSL_REQUEST[4],
                PG_SSL_REQUEST[5],
                PG_SSL_REQUEST[6],
                PG_SSL_REQUEST[7]
            ]),
            80_877_103
        );
    }

    fn mysql_greeting(caps: u16) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"8.0.0\0");
        p.extend_from_slice(&[1, 0, 0, 0]);
        p.extend_from_slice(b"12345678\0");
        p.extend_from_slice(&caps.to_le_bytes());
        p.extend_from_slice(&[33, 2, 0, 0, 0, 21]);
        p.extend_from_slice(&[0; 10]);
        p.extend_from_slice(b"123456789012\0mysql_native_password\0");
        let mut out = vec![p.len() as u8, 0, 0, 0];
        out.extend_from_slice(&p);
        out
    }

    #[test]
    fn mysql_ssl_request() {
        check(
            Proto::Mysql,
            &mysql_greeting(0xffff),
            &MYSQL_SSL_REQUEST,
            Ok(()),
        );
        check(
            Proto::Mysql,
            &mysql_greeting(!CLIENT_SSL),
            b"",
            Err(Why::NotOffered),
        );
        let err = b"\x16\0\0\0\xff\x10\x04#08004Too many conn";
        check(
            Proto::Mysql,
            err,
            b"",
            Err(Why::Answered(b"Too many conn".to_vec())),
        );
        assert_eq!(MYSQL_SSL_REQUEST.len(), 4 + 32);
    }

    fn ldap_response(code: u8, diag: &[u8]) -> Vec<u8> {
        let mut op = vec![0x0a, 1, code, 0x04, 0, 0x04, diag.len() as u8];
        op.extend_from_slice(diag);
        let mut msg = vec![0x02, 1, 1, 0x78, op.len() as u8];
        msg.extend_from_slice(&op);
        let mut out = vec![0x30, msg.len() as u8];
        out.extend_from_slice(&msg);
        out
    }

    #[test]
    fn ldap_extended() {
        let req = ldap_request();
        assert_eq!(&req[..7], &[0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18]);
        check(Proto::Ldap, &ldap_response(0, b""), &req, Ok(()));
        check(
            Proto::Ldap,
            &ldap_response(2, b"unsupported"),
            &req,
            Err(Why::Answered(b"resultCode 2: unsupported".to_vec())),
        );
        // The long form of a length.
        let mut long = ldap_response(0, b"ok");
        long.splice(1..2, [0x81, long[1]]);
        check(Proto::Ldap, &long, &req, Ok(()));
    }

    #[test]
    fn endless_line_is_bounded() {
        let mut d = Dialog::new(Proto::Smtp, "x");
        let chunk = [b'a'; 4096];
        let mut total = 0;
        while let Need::Recv = d.next() {
            total += d.feed(&chunk);
            assert!(total <= MAX_PREAMBLE);
        }
        assert_eq!(d.next(), Need::Fail(Why::TooLong));
        assert_eq!(total, MAX_PREAMBLE);
    }

    #[test]
    fn names() {
        for n in NAMES {
            assert_eq!(Proto::from_name(n).map(Proto::name), Some(*n));
        }
        assert_eq!(Proto::from_name("http"), None);
    }
}
