//! A TLS server of the test's own that seals its records itself
//! ([`Crafter`]), for what no openssl tool sends: rustls makes the
//! handshake and hands the keys over ([`crafted_server`]), the test's
//! script writes records as it likes, and what ncrab sends back is kept,
//! and opened with the other direction's keys ([`Heard`]). Used by
//! tests/tls_records.rs and tests/tls_alerts.rs.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{Certs, Net, accept_within};

/// How long the server waits for ncrab, at most.
const LIMIT: Duration = Duration::from_secs(30);

/// The secrets rustls logs (SSLKEYLOGFILE's), kept for the test: the
/// TLS 1.3 server traffic secret is what KeyUpdate starts from.
#[derive(Debug, Default)]
struct KeyLog(Mutex<Vec<(String, Vec<u8>)>>);

impl rustls::KeyLog for KeyLog {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .push((label.to_string(), secret.to_vec()));
    }
    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(alg: ring::hkdf::Algorithm, secret: &[u8], label: &[u8], len: usize) -> Vec<u8> {
    struct Len(usize);
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = ring::hkdf::Prk::new_less_safe(alg, secret);
    let total = (len as u16).to_be_bytes();
    let label_len = [6 + label.len() as u8];
    let info: [&[u8]; 5] = [&total, &label_len, b"tls13 ", label, &[0]];
    let okm = prk.expand(&info, Len(len)).expect("hkdf expand");
    let mut out = vec![0; len];
    okm.fill(&mut out).expect("hkdf fill");
    out
}

/// One direction of a session rustls set up, done by the test: the
/// server's records sealed, or the client's opened, exactly as RFC 8446
/// §5.2 (TLS 1.3) and RFC 5288/7905 (TLS 1.2) build them, with the
/// sequence numbers and keys it is told.
pub struct Sealer {
    alg: &'static ring::aead::Algorithm,
    key: ring::aead::LessSafeKey,
    iv: [u8; 12],
    pub seq: u64,
    tls13: bool,
    /// TLS 1.2 GCM: an 8-byte explicit nonce in each record.
    explicit: bool,
    /// TLS 1.3: the current traffic secret and its HKDF.
    secret: Vec<u8>,
    hkdf: ring::hkdf::Algorithm,
}

impl Sealer {
    fn new(
        tx: (u64, rustls::ConnectionTrafficSecrets),
        tls13: bool,
        secret: Option<Vec<u8>>,
    ) -> Sealer {
        use rustls::ConnectionTrafficSecrets as S;
        let (seq, secrets) = tx;
        let (alg, key, iv, hkdf) = match secrets {
            S::Aes128Gcm { key, iv } => {
                (&ring::aead::AES_128_GCM, key, iv, ring::hkdf::HKDF_SHA256)
            }
            S::Aes256Gcm { key, iv } => {
                (&ring::aead::AES_256_GCM, key, iv, ring::hkdf::HKDF_SHA384)
            }
            S::Chacha20Poly1305 { key, iv } => (
                &ring::aead::CHACHA20_POLY1305,
                key,
                iv,
                ring::hkdf::HKDF_SHA256,
            ),
            _ => panic!("a suite the test does not know"),
        };
        let s = Sealer {
            alg,
            key: ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(alg, key.as_ref()).expect("key"),
            ),
            iv: iv.as_ref().try_into().expect("12-byte iv"),
            seq,
            tls13,
            explicit: !tls13 && alg != &ring::aead::CHACHA20_POLY1305,
            secret: secret.unwrap_or_default(),
            hkdf,
        };
        if tls13 {
            // The key schedule here gives rustls's keys, or nothing after
            // a KeyUpdate could be right.
            let key = expand_label(hkdf, &s.secret, b"key", alg.key_len());
            let iv = expand_label(hkdf, &s.secret, b"iv", 12);
            let ours =
                ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(alg, &key).unwrap());
            assert_eq!(iv, s.iv, "the key schedule of the test");
            let probe = |k: &ring::aead::LessSafeKey| {
                let mut b = [0u8; 4];
                k.seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key([0; 12]),
                    ring::aead::Aad::empty(),
                    &mut b,
                )
                .map(|t| t.as_ref().to_vec())
                .unwrap()
            };
            assert_eq!(probe(&ours), probe(&s.key), "the key schedule of the test");
        }
        s
    }

    /// Seals one record of type `typ` holding `content` (TLS 1.3: then
    /// `pad` zeros) onto `out`.
    pub fn seal(&mut self, typ: u8, content: &[u8], pad: usize, out: &mut Vec<u8>) {
        let nonce = self.nonce();
        let start = out.len();
        let tag_len = self.alg.tag_len();
        let aad: Vec<u8> = if self.tls13 {
            let len = (content.len() + 1 + pad + tag_len) as u16;
            out.extend_from_slice(&[23, 3, 3]);
            out.extend_from_slice(&len.to_be_bytes());
            out[start..].to_vec()
        } else {
            let len = (content.len() + tag_len + if self.explicit { 8 } else { 0 }) as u16;
            out.extend_from_slice(&[typ, 3, 3]);
            out.extend_from_slice(&len.to_be_bytes());
            if self.explicit {
                out.extend_from_slice(&nonce[4..]);
            }
            let mut a = self.seq.to_be_bytes().to_vec();
            a.extend_from_slice(&[typ, 3, 3]);
            a.extend_from_slice(&(content.len() as u16).to_be_bytes());
            a
        };
        let body = out.len();
        out.extend_from_slice(content);
        if self.tls13 {
            out.push(typ);
            out.resize(out.len() + pad, 0);
        }
        let tag = self
            .key
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&aad[..]),
                &mut out[body..],
            )
            .expect("seal");
        out.extend_from_slice(tag.as_ref());
        self.seq += 1;
    }

    /// The IV with the sequence number mixed in.
    fn nonce(&self) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// Opens one whole record: its content type (TLS 1.3: the inner
    /// one) and its plaintext; None when it does not open.
    fn open(&mut self, rec: &[u8]) -> Option<(u8, Vec<u8>)> {
        let (head, body) = rec.split_at(5);
        let mut nonce = self.nonce();
        let mut text = body.to_vec();
        let aad = if self.tls13 {
            head.to_vec()
        } else {
            if self.explicit {
                nonce[4..].copy_from_slice(body.get(..8)?);
                text.drain(..8);
            }
            let len = text.len().checked_sub(self.alg.tag_len())? as u16;
            let mut a = self.seq.to_be_bytes().to_vec();
            a.extend_from_slice(&[head[0], 3, 3]);
            a.extend_from_slice(&len.to_be_bytes());
            a
        };
        let plain = self
            .key
            .open_in_place(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&aad[..]),
                &mut text,
            )
            .ok()?
            .to_vec();
        self.seq += 1;
        if !self.tls13 {
            return Some((head[0], plain));
        }
        let end = plain.iter().rposition(|&b| b != 0)?;
        Some((plain[end], plain[..end].to_vec()))
    }

    /// TLS 1.3: the next generation of keys (after a KeyUpdate).
    pub fn update(&mut self) {
        self.secret = expand_label(self.hkdf, &self.secret, b"traffic upd", self.secret.len());
        let key = expand_label(self.hkdf, &self.secret, b"key", self.alg.key_len());
        self.iv = expand_label(self.hkdf, &self.secret, b"iv", 12)
            .try_into()
            .unwrap();
        self.key =
            ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(self.alg, &key).unwrap());
        self.seq = 0;
    }
}

/// The test's own TLS server, the script's side of the session.
pub struct Crafter {
    pub sock: TcpStream,
    pub sealer: Sealer,
    pub out: Vec<u8>,
}

impl Crafter {
    /// One record (not sent yet: records pile up until [`Crafter::flush`]).
    pub fn record(&mut self, typ: u8, content: &[u8], pad: usize) {
        self.sealer.seal(typ, content, pad, &mut self.out);
    }
    pub fn app(&mut self, data: &[u8]) {
        self.record(23, data, 0);
    }
    /// Bytes as they are, outside any record.
    pub fn raw(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }
    /// The last record sealed, as it is on the wire.
    pub fn last_record(&self) -> Vec<u8> {
        let mut at = 0;
        let mut last = 0;
        while at + 5 <= self.out.len() {
            last = at;
            at += 5 + usize::from(u16::from_be_bytes([self.out[at + 3], self.out[at + 4]]));
        }
        self.out[last..].to_vec()
    }
    pub fn flush(&mut self) {
        let _ = self.sock.write_all(&self.out);
        self.out.clear();
    }
    /// TLS 1.3 KeyUpdate, and the keys after it.
    pub fn key_update(&mut self, requested: bool) {
        self.record(22, &[24, 0, 0, 1, u8::from(requested)], 0);
        self.sealer.update();
    }
    pub fn alert(&mut self, level: u8, desc: u8) {
        self.record(21, &[level, desc], 0);
    }
    /// close_notify, then FIN.
    pub fn close(&mut self) {
        self.alert(1, 0);
        self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

/// A TLS 1.3 NewSessionTicket (RFC 8446 §4.6.1) with a made-up ticket.
pub fn new_session_ticket() -> Vec<u8> {
    let mut body = vec![0, 0, 0x1c, 0x20, 1, 2, 3, 4, 1, 0, 0, 16];
    body.extend_from_slice(&[0xab; 16]);
    body.extend_from_slice(&[0, 0]);
    let mut m = vec![4, 0, 0, body.len() as u8];
    m.extend(body);
    m
}

/// What ncrab sent after the handshake, as the server read it until
/// ncrab closed the connection (or [`LIMIT`]), and the keys to open it.
pub struct Heard {
    pub bytes: Vec<u8>,
    opener: Sealer,
}

impl Heard {
    /// The records, opened: (content type, plaintext) each, following
    /// ncrab's KeyUpdates. Panics at a record that does not open or a
    /// partial record at the end.
    pub fn records(mut self) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        let mut at = 0;
        while at < self.bytes.len() {
            let rest = &self.bytes[at..];
            assert!(rest.len() >= 5, "a partial record header: {rest:?}");
            let end = 5 + usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            assert!(rest.len() >= end, "a partial record: {rest:?}");
            let Some((typ, plain)) = self.opener.open(&rest[..end]) else {
                panic!(
                    "record {} from ncrab does not open: {:?}",
                    v.len(),
                    &rest[..end]
                );
            };
            if typ == 22 && plain.first() == Some(&24) {
                self.opener.update();
            }
            v.push((typ, plain));
            at += end;
        }
        v
    }
}

/// A rustls server configuration with `srv` (the test's own servers).
pub fn rustls_server_config(c: &Certs) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(c.path("srv.pem"))
        .expect("srv.pem")
        .map(|c| c.expect("srv.pem certificate"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(c.path("srv.key")).expect("srv.key");
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate")
}

/// Starts the test's server in `net`: rustls makes the handshake (with
/// `srv`, the suite ncrab asks for) and sends its session tickets, hands
/// the keys over, and `script` writes records of its own; then it holds
/// the connection (no FIN unless the script sent one) until ncrab closes
/// it or [`LIMIT`], keeping what ncrab sends. Returns the port and the
/// thread, whose result is what ncrab sent after the handshake.
pub fn crafted_server<F>(net: &Net, c: &Certs, script: F) -> (String, JoinHandle<Heard>)
where
    F: FnOnce(&mut Crafter) + Send + 'static,
{
    let log = Arc::new(KeyLog::default());
    let mut cfg = rustls_server_config(c);
    cfg.key_log = log.clone();
    cfg.enable_secret_extraction = true;
    let cfg = Arc::new(cfg);
    let l = net.listen("127.0.0.1:0").expect("listen");
    let port = l.local_addr().unwrap().port().to_string();
    let t = thread::spawn(move || {
        let mut sock = accept_within(&l, LIMIT);
        sock.set_read_timeout(Some(LIMIT)).unwrap();
        sock.set_write_timeout(Some(LIMIT)).unwrap();
        let mut conn = rustls::ServerConnection::new(cfg).expect("server");
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).expect("handshake");
        }
        while conn.wants_write() {
            conn.write_tls(&mut sock).expect("session tickets");
        }
        let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
        let logged = |label: &str| {
            log.0
                .lock()
                .unwrap()
                .iter()
                .find(|(l, _)| l == label)
                .map(|(_, s)| s.clone())
        };
        let (server, client) = (
            logged("SERVER_TRAFFIC_SECRET_0"),
            logged("CLIENT_TRAFFIC_SECRET_0"),
        );
        let secrets = conn.dangerous_extract_secrets().expect("the keys");
        let mut cr = Crafter {
            sock,
            sealer: Sealer::new(secrets.tx, tls13, server),
            out: Vec::new(),
        };
        script(&mut cr);
        cr.flush();
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = cr.sock.read(&mut buf) {
            bytes.extend_from_slice(&buf[..n]);
        }
        Heard {
            bytes,
            opener: Sealer::new(secrets.rx, tls13, client),
        }
    });
    (port, t)
}
