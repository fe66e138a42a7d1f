//! Scripted STARTTLS servers (tests/starttls.rs): for each protocol of
//! `--starttls`, the server's side of the plaintext preamble as its RFC
//! has it (and as `openssl s_client -starttls` accepts it), then TLS with
//! rustls on the same connection ([`rustls_server_config`], the test's
//! `srv` certificate).
//!
//! The preamble is read one byte at a time, so the server never takes a
//! byte of the client's ClientHello as plaintext. Each reply goes out in
//! one write, or with [`How::Split`] one byte per write (TCP_NODELAY, a
//! millisecond apart), to prove the client does not depend on how the
//! replies are cut. Everything is bounded by [`LIMIT`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{Certs, Net, accept_within, rustls_server_config};

const LIMIT: Duration = Duration::from_secs(30);

/// How the scripted server behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Says go and does TLS.
    Accept,
    /// Refuses the upgrade, in its protocol's words.
    Refuse,
    /// As Accept, every reply one byte per write.
    Split,
}

/// What a scripted server saw: the client's preamble, as units (lines,
/// tags, packets), and the bytes received inside TLS (None: no TLS).
#[derive(Debug, Default)]
pub struct Served {
    pub heard: Vec<Vec<u8>>,
    pub tls: Option<Vec<u8>>,
}

/// A running scripted server: its port and its thread.
pub struct StartTlsServer {
    pub port: String,
    thread: JoinHandle<Result<Served, String>>,
}

impl StartTlsServer {
    /// What it saw, once its one connection is over.
    pub fn served(self) -> Served {
        match self.thread.join() {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => panic!("scripted STARTTLS server: {e}"),
            Err(_) => panic!("scripted STARTTLS server panicked"),
        }
    }
}

struct Wire {
    s: TcpStream,
    split: bool,
    heard: Vec<Vec<u8>>,
}

impl Wire {
    fn put(&mut self, b: &[u8]) -> Result<(), String> {
        if self.split {
            for c in b {
                self.s.write_all(&[*c]).map_err(|e| e.to_string())?;
                thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        } else {
            self.s.write_all(b).map_err(|e| e.to_string())
        }
    }

    fn byte(&mut self) -> Result<u8, String> {
        let mut b = [0u8];
        match self.s.read(&mut b) {
            Ok(1) => Ok(b[0]),
            Ok(_) => Err("the client closed during the preamble".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut v = vec![0u8; n];
        self.s.read_exact(&mut v).map_err(|e| e.to_string())?;
        self.heard.push(v.clone());
        Ok(v)
    }

    /// One line, CRLF dropped.
    fn line(&mut self) -> Result<Vec<u8>, String> {
        let mut l = Vec::new();
        loop {
            match self.byte()? {
                b'\n' => break,
                c => l.push(c),
            }
            if l.len() > 4096 {
                return Err("a client line too long".into());
            }
        }
        if l.last() == Some(&b'\r') {
            l.pop();
        }
        self.heard.push(l.clone());
        Ok(l)
    }

    /// XMPP: one tag, `<` to `>` (text before it skipped).
    fn tag(&mut self) -> Result<Vec<u8>, String> {
        let mut t = Vec::new();
        loop {
            let c = self.byte()?;
            if t.is_empty() && c != b'<' {
                continue;
            }
            t.push(c);
            if c == b'>' {
                break;
            }
            if t.len() > 4096 {
                return Err("a client tag too long".into());
            }
        }
        self.heard.push(t.clone());
        Ok(t)
    }

    fn expect_line(&mut self, want: &[u8]) -> Result<Vec<u8>, String> {
        let l = self.line()?;
        if l.to_ascii_uppercase().starts_with(want) {
            Ok(l)
        } else {
            Err(format!(
                "expected {:?}, got {:?}",
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(&l)
            ))
        }
    }
}

/// A MySQL initial handshake packet (protocol 10), with or without
/// CLIENT_SSL.
pub fn mysql_greeting(ssl: bool) -> Vec<u8> {
    let caps: u16 = if ssl { 0xffff } else { !0x0800 };
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36-starttls-test\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(b"abcdefgh\0");
    p.extend_from_slice(&caps.to_le_bytes());
    p.extend_from_slice(&[0x21, 0x02, 0x00, 0xff, 0xdf, 21]);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    let mut out = vec![p.len() as u8, 0, 0, 0];
    out.extend_from_slice(&p);
    out
}

/// An LDAP ExtendedResponse (messageID 1) with `code` and `diag`.
pub fn ldap_response(code: u8, diag: &[u8]) -> Vec<u8> {
    let mut op = vec![0x0a, 1, code, 0x04, 0, 0x04, diag.len() as u8];
    op.extend_from_slice(diag);
    let mut msg = vec![0x02, 1, 1, 0x78, op.len() as u8];
    msg.extend_from_slice(&op);
    let mut out = vec![0x30, msg.len() as u8];
    out.extend_from_slice(&msg);
    out
}

/// The server's side of `proto`'s preamble; true when TLS follows.
fn preamble(w: &mut Wire, proto: &str, refuse: bool) -> Result<bool, String> {
    match proto {
        "smtp" | "lmtp" => {
            w.put(b"220-starttls.test ESMTP\r\n220 ready\r\n")?;
            w.expect_line(if proto == "smtp" { b"EHLO " } else { b"LHLO " })?;
            w.put(b"250-starttls.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")?;
            w.expect_line(b"STARTTLS")?;
            if refuse {
                w.put(b"454 4.7.0 TLS not available\r\n")?;
                return Ok(false);
            }
            w.put(b"220 2.0.0 Ready to start TLS\r\n")?;
        }
        "pop3" => {
            w.put(b"+OK POP3 ready\r\n")?;
            w.expect_line(b"STLS")?;
            if refuse {
                w.put(b"-ERR TLS not available\r\n")?;
                return Ok(false);
            }
            w.put(b"+OK Begin TLS negotiation\r\n")?;
        }
        "imap" => {
            w.put(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")?;
            let l = w.line()?;
            let tag = l.split(|&c| c == b' ').next().unwrap_or_default().to_vec();
            if !l.to_ascii_uppercase().ends_with(b" CAPABILITY") {
                return Err(format!("not CAPABILITY: {:?}", String::from_utf8_lossy(&l)));
            }
            let mut r = b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n".to_vec();
            r.extend_from_slice(&tag);
            r.extend_from_slice(b" OK CAPABILITY completed\r\n");
            w.put(&r)?;
            let l = w.line()?;
            let tag = l.split(|&c| c == b' ').next().unwrap_or_default().to_vec();
            if !l.to_ascii_uppercase().ends_with(b" STARTTLS") {
                return Err(format!("not STARTTLS: {:?}", String::from_utf8_lossy(&l)));
            }
            let mut r = tag;
            if refuse {
                r.extend_from_slice(b" NO TLS not available\r\n");
                w.put(&r)?;
                return Ok(false);
            }
            r.extend_from_slice(b" OK Begin TLS negotiation now\r\n");
            w.put(&r)?;
        }
        "ftp" => {
            w.put(b"220-Welcome to the test\r\n it has two lines\r\n220 ready\r\n")?;
            w.expect_line(b"AUTH TLS")?;
            if refuse {
                w.put(b"534 TLS not available\r\n")?;
                return Ok(false);
            }
            w.put(b"234 AUTH TLS successful\r\n")?;
        }
        "xmpp" | "xmpp-server" => {
            let ns = if proto == "xmpp" {
                "jabber:client"
            } else {
                "jabber:server"
            };
            loop {
                let t = w.tag()?;
                if t.starts_with(b"<stream:stream") {
                    if !String::from_utf8_lossy(&t).contains(&format!("xmlns='{ns}'")) {
                        return Err(format!("wrong stream: {}", String::from_utf8_lossy(&t)));
                    }
                    break;
                }
            }
            w.put(format!(
                "<?xml version='1.0'?><stream:stream from='starttls.test' id='t1' version='1.0' xmlns='{ns}' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"
            ).as_bytes())?;
            let t = w.tag()?;
            if !t.starts_with(b"<starttls") {
                return Err(format!("not starttls: {}", String::from_utf8_lossy(&t)));
            }
            if refuse {
                w.put(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>")?;
                return Ok(false);
            }
            w.put(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")?;
        }
        "irc" => {
            w.expect_line(b"STARTTLS")?;
            // A numeric first (s_client stops at a non-numeric line).
            let first = b":starttls.test 020 * :Please wait while we process your connection.\r\n";
            if refuse {
                w.put(&[&first[..], b":starttls.test 691 * :STARTTLS failure\r\n"].concat())?;
                return Ok(false);
            }
            w.put(
                &[
                    &first[..],
                    b":starttls.test 670 * :STARTTLS successful, go ahead with TLS handshake\r\n",
                ]
                .concat(),
            )?;
        }
        "postgres" => {
            let r = w.exact(8)?;
            if r != [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                return Err(format!("not an SSLRequest: {r:?}"));
            }
            w.put(if refuse { b"N" } else { b"S" })?;
            return Ok(!refuse);
        }
        "mysql" => {
            w.put(&mysql_greeting(!refuse))?;
            if refuse {
                // The client gives up: it closes.
                return Ok(false);
            }
            let h = w.exact(4)?;
            let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
            if len != 32 || h[3] != 1 {
                return Err(format!("not an SSL request header: {h:?}"));
            }
            let p = w.exact(32)?;
            if u16::from_le_bytes([p[0], p[1]]) & 0x0800 == 0 {
                return Err("no CLIENT_SSL in the SSL request".into());
            }
        }
        "nntp" => {
            w.put(b"200 starttls.test NNTP service ready\r\n")?;
            let mut l = w.line()?;
            if l.eq_ignore_ascii_case(b"CAPABILITIES") {
                w.put(b"101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n")?;
                l = w.line()?;
            }
            if !l.eq_ignore_ascii_case(b"STARTTLS") {
                return Err(format!("not STARTTLS: {:?}", String::from_utf8_lossy(&l)));
            }
            if refuse {
                w.put(b"580 Can not initiate TLS negotiation\r\n")?;
                return Ok(false);
            }
            w.put(b"382 Continue with TLS negotiation\r\n")?;
        }
        "sieve" => {
            w.put(b"\"IMPLEMENTATION\" \"starttls.test\"\r\n\"SASL\" \"PLAIN\"\r\n\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\nOK\r\n")?;
            w.expect_line(b"STARTTLS")?;
            if refuse {
                w.put(b"NO \"TLS not available\"\r\n")?;
                return Ok(false);
            }
            w.put(b"OK \"Begin TLS negotiation now\"\r\n")?;
        }
        "ldap" => {
            let h = w.exact(2)?;
            if h[0] != 0x30 || h[1] >= 0x80 {
                return Err(format!("not an LDAP message: {h:?}"));
            }
            let body = w.exact(usize::from(h[1]))?;
            if !body.windows(22).any(|x| x == b"1.3.6.1.4.1.1466.20037") {
                return Err("not a StartTLS request".into());
            }
            if refuse {
                w.put(&ldap_response(2, b"unsupported extended operation"))?;
                return Ok(false);
            }
            w.put(&ldap_response(0, b""))?;
        }
        other => return Err(format!("no scripted server for {other}")),
    }
    Ok(true)
}

/// Starts the scripted server of `proto` in `net` for one connection:
/// the preamble, then (unless refused) TLS, where it sends `send`, reads
/// what the client sends until its end, and closes with close_notify.
pub fn starttls_server(
    net: &Net,
    c: &Certs,
    proto: &'static str,
    how: How,
    send: Vec<u8>,
) -> StartTlsServer {
    let cfg = Arc::new(rustls_server_config(c));
    let l = net.listen("127.0.0.1:0").expect("listen");
    let port = l.local_addr().expect("local address").port().to_string();
    let thread = thread::spawn(move || {
        let s = accept_within(&l, LIMIT);
        s.set_read_timeout(Some(LIMIT)).map_err(|e| e.to_string())?;
        s.set_write_timeout(Some(LIMIT))
            .map_err(|e| e.to_string())?;
        s.set_nodelay(how == How::Split)
            .map_err(|e| e.to_string())?;
        let mut w = Wire {
            s,
            split: how == How::Split,
            heard: Vec::new(),
        };
        let go = preamble(&mut w, proto, how == How::Refuse)?;
        if !go {
            // Wait for the client to go away.
            let mut junk = [0u8; 1024];
            while let Ok(1..) = w.s.read(&mut junk) {}
            return Ok(Served {
                heard: w.heard,
                tls: None,
            });
        }
        let conn = rustls::ServerConnection::new(cfg).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, w.s);
        tls.write_all(&send)
            .map_err(|e| format!("TLS write: {e}"))?;
        tls.flush().map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                // A scan's probe closes without a word after its
                // handshake (a reset, with the tickets unread).
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(format!("TLS read: {e}")),
            }
        }
        tls.conn.send_close_notify();
        let _ = tls.flush();
        Ok(Served {
            heard: w.heard,
            tls: Some(got),
        })
    });
    StartTlsServer { port, thread }
}
