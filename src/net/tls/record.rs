//! The TLS record layer after the handshake: records sealed and opened in
//! place in two fixed buffers, with no allocation per record.
//!
//! rustls runs the handshake ([`super::session`]); once it is over, the
//! session's traffic keys and sequence numbers are taken from it
//! (`dangerous_extract_secrets`, rustls's interface for kernel TLS) and
//! the records are done here with ring's AEADs, the same primitives rustls
//! itself uses. rustls's buffered API copies every record into a fresh
//! allocation, its unbuffered one still allocates per record, and this
//! kernel has no kTLS: doing the records here is what lets the relay move
//! plaintext at the cipher's speed (bench/README.md, "TLS").
//!
//! What the record layer does, as RFC 8446 and RFC 5246 say and rustls
//! does it:
//! - TLS 1.3 and 1.2 with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305
//!   (every suite ncrab's rustls provider offers);
//! - TLS 1.3 KeyUpdate both ways (with the traffic secrets rustls logged
//!   through [`SecretLog`]): `update_requested` answered once however
//!   many come while ncrab is silent (RFC 8446 4.6.3), and a KeyUpdate of
//!   its own as the last record a key may seal; NewSessionTicket ignored
//!   (ncrab does not resume sessions);
//! - rustls's record limits: AES-GCM 2^24 records a key, ChaCha20 its
//!   soft limit on sequence numbers; at the limit TLS 1.3 changes the
//!   key and TLS 1.2 (which cannot) sends close_notify and seals no more
//!   data; nothing is ever sealed at a sequence number that cannot
//!   advance, and a failure to seal ends the session;
//! - TLS 1.2 renegotiation (a HelloRequest to a client, a ClientHello to
//!   a server) answered with a `no_renegotiation` warning;
//! - close_notify, warnings and fatal alerts, told apart by their level
//!   first (an unknown one is a fatal `illegal_parameter`; in TLS 1.3 a
//!   warning other than `user_canceled` is a fatal `decode_error`); a
//!   fatal alert of its own (`bad_record_mac`, `record_overflow`,
//!   `unexpected_message`, `decode_error`, `illegal_parameter`) before it
//!   gives up on a peer's record; nothing at all after its own
//!   close_notify;
//! - keys and traffic secrets wiped when they are dropped (`zeroize`, as
//!   rustls does with its own);
//! - rustls's caps on what a peer can make it do without data: 32 empty
//!   records or KeyUpdates in a row, 4 warning alerts, 1 renegotiation
//!   request, a post-handshake message of at most 64 KiB.
//!
//! Errors are rustls's own [`rustls::Error`] values (the layer's own
//! failures as [`Problem`] inside one), so `report` words them
//! as it words rustls's.

use std::io;
use std::sync::Mutex;

use ring::{aead, hkdf};
use rustls::{
    AlertDescription, ConnectionTrafficSecrets, Error, ExtractedSecrets, InvalidMessage,
    PeerMisbehaved,
};
use zeroize::Zeroizing;

/// A failure of the record layer's own, carried in the session's
/// [`rustls::Error`] (as `Error::Other`) beside rustls's: `report::tls`
/// words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// rustls logged no traffic secret that gives the session's keys (a
    /// bug, never the peer's doing).
    SecretNotLogged,
    /// The key rustls handed over does not fit the negotiated cipher (a
    /// bug).
    KeyMisfit,
    /// The peer sent an alert of a level that is neither warning (1) nor
    /// fatal (2); ncrab answers a fatal illegal_parameter, as rustls and
    /// openssl do.
    AlertLevel(u8),
}

impl std::error::Error for Problem {}

impl From<Problem> for Error {
    fn from(p: Problem) -> Error {
        Error::Other(rustls::OtherError(std::sync::Arc::new(p)))
    }
}

/// Plaintext per record (2^14).
pub const MAX_PLAIN: usize = 16384;
const HEADER: usize = 5;
const TAG: usize = 16;
/// Largest record body accepted (TLS 1.2 allows 2^14 + 2048).
const MAX_BODY: usize = MAX_PLAIN + 2048;
/// Largest record accepted: an inbound buffer holds at least one.
pub const MAX_RECORD: usize = HEADER + MAX_BODY;
/// Largest record sealed here (1.2 GCM: explicit nonce; 1.3: inner type).
pub const MAX_SEALED: usize = HEADER + 8 + MAX_PLAIN + 1 + TAG;
/// A sealed alert or KeyUpdate, at most.
const SMALL_SEALED: usize = HEADER + 8 + 5 + 1 + TAG;
/// Room data leaves in the output buffer: a KeyUpdate and an alert can
/// always be queued.
const RESERVE: usize = 2 * SMALL_SEALED;
/// The smallest output buffer.
pub const OUTPUT_MIN: usize = MAX_SEALED + RESERVE;
/// Post-handshake messages waiting to be complete, at most.
const MAX_HANDSHAKE: usize = 64 * 1024;
/// Empty records, KeyUpdates and warnings in a row; renegotiation
/// requests in a session.
const MAX_EMPTY: u32 = 32;
const MAX_KEY_UPDATES: u32 = 32;
const MAX_WARNINGS: u32 = 4;
const MAX_RENEGOTIATIONS: u32 = 1;
/// AES-GCM records under one key: the confidentiality limit of rustls's
/// ring suites, TLS 1.3 and 1.2 alike (RFC 8446 5.5 allows 2^24.5).
const GCM_RECORD_LIMIT: u64 = 1 << 24;
/// Records under one ChaCha20-Poly1305 key: rustls's soft limit on any
/// sequence number (its suites set no confidentiality limit).
const SEQ_SOFT_LIMIT: u64 = 0xffff_ffff_ffff_0000;

const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_DATA: u8 = 23;
const HS_HELLO_REQUEST: u8 = 0;
const HS_CLIENT_HELLO: u8 = 1;
const HS_NEW_SESSION_TICKET: u8 = 4;
const HS_KEY_UPDATE: u8 = 24;
const LEVEL_WARNING: u8 = 1;
const LEVEL_FATAL: u8 = 2;

/// The TLS 1.3 application traffic secrets rustls logs during the
/// handshake (its `KeyLog` interface): a KeyUpdate derives the next keys
/// from them. One per session (each session gets its own configuration
/// copy carrying one).
#[derive(Debug, Default)]
pub struct SecretLog {
    client: Mutex<Option<Secret>>,
    server: Mutex<Option<Secret>>,
}

const CLIENT_SECRET: &str = "CLIENT_TRAFFIC_SECRET_0";
const SERVER_SECRET: &str = "SERVER_TRAFFIC_SECRET_0";

impl rustls::KeyLog for SecretLog {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        let slot = match label {
            CLIENT_SECRET => &self.client,
            SERVER_SECRET => &self.server,
            _ => return,
        };
        if let Ok(mut s) = slot.lock() {
            *s = Secret::new(secret);
        }
    }

    fn will_log(&self, label: &str) -> bool {
        label == CLIENT_SECRET || label == SERVER_SECRET
    }
}

impl SecretLog {
    fn take(&self, client: bool) -> Option<Secret> {
        let slot = if client { &self.client } else { &self.server };
        slot.lock().ok().and_then(|mut s| s.take())
    }
}

/// The longest hash of a suite here (SHA-384).
const MAX_HASH: usize = 48;

/// A TLS 1.3 traffic secret (a hash long; none, 0 bytes, in TLS 1.2),
/// wiped when it is dropped.
struct Secret {
    bytes: Zeroizing<[u8; MAX_HASH]>,
    len: usize,
}

impl Default for Secret {
    fn default() -> Secret {
        Secret {
            bytes: Zeroizing::new([0; MAX_HASH]),
            len: 0,
        }
    }
}

/// (Its length only: the bytes stay out of debug output.)
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

impl Secret {
    /// None when `b` is longer than any suite's hash.
    fn new(b: &[u8]) -> Option<Secret> {
        let mut s = Secret::default();
        s.bytes.get_mut(..b.len())?.copy_from_slice(b);
        s.len = b.len();
        Some(s)
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// HKDF-Expand-Label(self, "traffic upd"): the next generation, or
    /// an error when there is no secret of the suite's length.
    fn next(&self, suite: Suite) -> Result<Secret, Error> {
        if self.len != suite.hash_len {
            return Err(Problem::SecretNotLogged.into());
        }
        let mut next = Secret {
            len: self.len,
            ..Secret::default()
        };
        let out = &mut next.bytes[..self.len];
        expand_label(suite.hkdf, self.as_slice(), b"traffic upd", out);
        Ok(next)
    }
}

/// A hash length as ring's HKDF output type.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 7.1) with an empty context.
fn expand_label(alg: hkdf::Algorithm, secret: &[u8], label: &[u8], out: &mut [u8]) {
    let len = (out.len() as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    // Lengths here are a key, an IV or a hash: always within HKDF's limit.
    if let Ok(okm) = prk.expand(&info, Len(out.len())) {
        let _ = okm.fill(out);
    }
}

/// One direction's protection: key, IV, sequence number and (TLS 1.3)
/// the traffic secret the next KeyUpdate derives from. The bytes of the
/// key, the IV and the secret are wiped on drop (ring's own key
/// schedule is ring's, as it is under rustls).
struct Keys {
    key: aead::LessSafeKey,
    raw_key: Zeroizing<[u8; 32]>,
    iv: Zeroizing<[u8; aead::NONCE_LEN]>,
    seq: u64,
    secret: Secret,
}

impl Keys {
    fn new(alg: &'static aead::Algorithm, key: &[u8], iv: &[u8], seq: u64) -> Result<Keys, Error> {
        let unbound =
            aead::UnboundKey::new(alg, key).map_err(|_| Error::from(Problem::KeyMisfit))?;
        let mut k = Keys {
            key: aead::LessSafeKey::new(unbound),
            raw_key: Zeroizing::new([0; 32]),
            iv: Zeroizing::new([0; aead::NONCE_LEN]),
            seq,
            secret: Secret::default(),
        };
        // (ring checked the key's length.)
        k.raw_key[..key.len()].copy_from_slice(key);
        k.iv.copy_from_slice(iv);
        Ok(k)
    }

    /// The IV with the sequence number mixed in (RFC 8446 5.3; rustls
    /// builds TLS 1.2's nonces the same way).
    fn nonce(&self) -> [u8; aead::NONCE_LEN] {
        let mut n = *self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// The next sequence number, or an error before it wraps.
    fn next_seq(&self) -> Result<u64, Error> {
        self.seq.checked_add(1).ok_or(Error::EncryptError)
    }
}

/// The suite's algorithms.
#[derive(Clone, Copy)]
struct Suite {
    aead: &'static aead::Algorithm,
    hkdf: hkdf::Algorithm,
    hash_len: usize,
    /// TLS 1.2 AES-GCM sends 8 bytes of explicit nonce per record.
    explicit: usize,
    /// Records a key may seal ([`GCM_RECORD_LIMIT`], [`SEQ_SOFT_LIMIT`]).
    limit: u64,
}

/// A fixed byte buffer with a read and a write position.
struct Buf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Buf {
    fn new(cap: usize) -> Buf {
        Buf {
            data: vec![0; cap].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
    fn len(&self) -> usize {
        self.end - self.start
    }
    fn consumed(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
    /// Room at the end, after moving the pending bytes to the front when
    /// fewer than `want` bytes are free there.
    fn room(&mut self, want: usize) -> usize {
        if self.data.len() - self.end < want && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.data.len() - self.end
    }
}

/// What [`Records::read`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Plaintext copied out.
    Data(usize),
    /// The peer's close_notify: its end of stream.
    CloseNotify,
    /// No whole record is buffered: read the socket ([`Records::fill`]).
    NeedMore,
    /// The session failed (this and every later call); a fatal alert of
    /// ours, if any, waits to be flushed.
    Failed,
}

/// The record layer of one session.
pub struct Records {
    tls13: bool,
    client: bool,
    suite: Suite,
    tx: Keys,
    rx: Keys,
    input: Buf,
    /// Decrypted plaintext not yet read: a range of `input`.
    plain: (usize, usize),
    output: Buf,
    /// Post-handshake handshake messages being reassembled.
    handshake: Vec<u8>,
    empty: u32,
    key_updates: u32,
    warnings: u32,
    renegotiations: u32,
    /// A KeyUpdate of ours must go out (the peer requested one, or the
    /// key's record limit).
    update_tx: bool,
    /// The last record sealed is a KeyUpdate of ours: a request that
    /// comes now is answered by it (RFC 8446 4.6.3; rustls answers none
    /// while its own KeyUpdate is queued).
    updated_silently: bool,
    close_notify_seen: bool,
    /// close_notify is due: no more data is sealed; it goes as soon as
    /// the output buffer has room.
    closing: bool,
    /// close_notify is sealed: nothing more is.
    close_notify_sent: bool,
    error: Option<Error>,
}

impl Records {
    /// The record layer of a session whose handshake is over, from the
    /// secrets rustls handed over (`log`: the TLS 1.3 traffic secrets).
    /// `input` and `output` are the buffer sizes (at least one record
    /// each). `last` is the handshake's last flight, not yet written: it
    /// waits at the front of the output buffer (which grows by its size
    /// when it would leave less than one record's room), so that it goes
    /// out in the same send as the first records.
    pub fn new(
        secrets: ExtractedSecrets,
        version: rustls::ProtocolVersion,
        client: bool,
        log: &SecretLog,
        input: usize,
        output: usize,
        last: &[u8],
    ) -> Result<Records, Error> {
        let tls13 = version == rustls::ProtocolVersion::TLSv1_3;
        let (tx_seq, tx) = secrets.tx;
        let (rx_seq, rx) = secrets.rx;
        let suite = suite_of(&tx, tls13);
        let (tx_key, tx_iv) = key_iv(&tx);
        let (rx_key, rx_iv) = key_iv(&rx);
        let mut tx = Keys::new(suite.aead, tx_key, tx_iv, tx_seq)?;
        let mut rx = Keys::new(suite.aead, rx_key, rx_iv, rx_seq)?;
        if tls13 {
            tx.secret = current_secret(suite, log.take(client), &tx)?;
            rx.secret = current_secret(suite, log.take(!client), &rx)?;
        }
        let output = output.max(OUTPUT_MIN).max(last.len() + OUTPUT_MIN);
        let mut r = Records::with_keys(tls13, client, suite, tx, rx, input, output);
        r.output.data[..last.len()].copy_from_slice(last);
        r.output.end = last.len();
        Ok(r)
    }

    fn with_keys(
        tls13: bool,
        client: bool,
        suite: Suite,
        tx: Keys,
        rx: Keys,
        input: usize,
        output: usize,
    ) -> Records {
        Records {
            tls13,
            client,
            suite,
            tx,
            rx,
            input: Buf::new(input.max(MAX_RECORD)),
            plain: (0, 0),
            output: Buf::new(output.max(OUTPUT_MIN)),
            handshake: Vec::new(),
            empty: 0,
            key_updates: 0,
            warnings: 0,
            renegotiations: 0,
            update_tx: false,
            updated_silently: false,
            close_notify_seen: false,
            closing: false,
            close_notify_sent: false,
            error: None,
        }
    }

    /// The error that ended the session, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    // ----- sending ---------------------------------------------------

    /// Seals as much of `data` as the output buffer takes, in records of
    /// at most [`MAX_PLAIN`]; the number of bytes taken (0 when the
    /// buffer is full: flush first). Err once the session failed or
    /// close_notify is due (TLS 1.2 at its key's record limit too).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, ()> {
        if self.error.is_some() || self.closing {
            return Err(());
        }
        let mut taken = 0;
        while taken < data.len() {
            if self.error.is_none() && !self.closing {
                self.at_limit();
            }
            if self.error.is_some() || self.closing {
                // (What went before the limit was taken.)
                return if taken > 0 { Ok(taken) } else { Err(()) };
            }
            self.pending();
            if self.error.is_some() {
                return Err(());
            }
            if self.update_tx {
                break; // the KeyUpdate first, after the next flush
            }
            let chunk = (data.len() - taken).min(MAX_PLAIN);
            let need = chunk + MAX_SEALED - MAX_PLAIN + RESERVE;
            if self.output.room(need) < need {
                break;
            }
            if self.seal(CT_DATA, &data[taken..taken + chunk]).is_err() {
                return Err(());
            }
            taken += chunk;
        }
        Ok(taken)
    }

    /// What the key's record limit asks before the next data record, as
    /// rustls does: TLS 1.3, a KeyUpdate as the last record under the key;
    /// TLS 1.2, close_notify (the one record sealed past it).
    fn at_limit(&mut self) {
        let seq = self.tx.seq;
        if self.tls13 {
            if seq.saturating_add(1) >= self.suite.limit {
                self.update_tx = true;
            }
        } else if seq >= self.suite.limit {
            self.send_close_notify();
        }
    }

    /// Bytes sealed and not yet written to the socket.
    pub fn wants_write(&self) -> bool {
        self.output.len() > 0
    }

    /// Writes sealed records to `fd` until it is full; the bytes written.
    pub fn flush(&mut self, fd: i32) -> io::Result<usize> {
        let mut total = 0;
        while self.output.len() > 0 {
            let out = &self.output.data[self.output.start..self.output.end];
            // SAFETY: out is valid for out.len() bytes.
            let n = unsafe { libc::send(fd, out.as_ptr().cast(), out.len(), libc::MSG_NOSIGNAL) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) {
                    break;
                }
                return Err(e);
            }
            self.output.consumed(n as usize);
            total += n as usize;
        }
        if self.output.len() == 0 {
            self.pending();
        }
        Ok(total)
    }

    /// Ends our side: no more data, and close_notify (once), now or, when
    /// the output buffer has no room for it, after the next flush.
    pub fn send_close_notify(&mut self) {
        self.closing = true;
        self.pending();
    }

    /// What is due and was waiting for room in the output buffer: a
    /// KeyUpdate of ours, then close_notify.
    fn pending(&mut self) {
        if self.error.is_some() || self.close_notify_sent {
            return;
        }
        if self.update_tx {
            match self.seal_small(CT_HANDSHAKE, &[HS_KEY_UPDATE, 0, 0, 1, 0]) {
                Ok(true) => {}
                // No room (after the next flush), or sealing failed.
                Ok(false) | Err(_) => return,
            }
            self.update_tx = false;
            self.updated_silently = true;
            if let Err(e) = next_keys(self.suite, &mut self.tx) {
                return self.fail(Some(AlertDescription::InternalError), e);
            }
        }
        if self.closing && self.seal_small(CT_ALERT, &[LEVEL_WARNING, 0]) == Ok(true) {
            self.close_notify_sent = true;
        }
    }

    /// Seals an alert or a KeyUpdate when the output buffer has room for
    /// it (its reserve keeps room for two); Ok(false) when it has none,
    /// and always after our close_notify.
    fn seal_small(&mut self, typ: u8, data: &[u8]) -> Result<bool, Error> {
        if self.close_notify_sent || self.output.room(SMALL_SEALED) < SMALL_SEALED {
            return Ok(false);
        }
        self.seal(typ, data).map(|()| true)
    }

    /// Seals one record of `data` (at most [`MAX_PLAIN`]) into the output
    /// buffer, which has room for it. A failure ends the session.
    fn seal(&mut self, typ: u8, data: &[u8]) -> Result<(), Error> {
        let sealed = self.seal_record(typ, data);
        if let Err(e) = &sealed {
            self.error.get_or_insert_with(|| e.clone());
        }
        sealed
    }

    fn seal_record(&mut self, typ: u8, data: &[u8]) -> Result<(), Error> {
        if data.len() > MAX_PLAIN {
            return Err(Error::EncryptError);
        }
        // Nothing is sealed under a sequence number that cannot advance.
        let next = self.tx.next_seq()?;
        let explicit = self.suite.explicit;
        let inner = usize::from(self.tls13);
        let body = explicit + data.len() + inner + TAG;
        let at = self.output.end;
        let buf = &mut self.output.data[at..at + HEADER + body];
        let nonce = self.tx.nonce();
        let aad: [u8; 13];
        let aad_bytes: &[u8];
        let (head, rest) = buf.split_at_mut(HEADER);
        head[1] = 3;
        head[2] = 3;
        head[3..5].copy_from_slice(&(body as u16).to_be_bytes());
        if self.tls13 {
            head[0] = CT_DATA;
            rest[..data.len()].copy_from_slice(data);
            rest[data.len()] = typ;
            aad_bytes = head;
        } else {
            head[0] = typ;
            rest[..explicit].copy_from_slice(&nonce[4..4 + explicit]);
            rest[explicit..explicit + data.len()].copy_from_slice(data);
            aad = aad12(self.tx.seq, typ, data.len());
            aad_bytes = &aad;
        }
        let (text, tag_at) = rest[explicit..].split_at_mut(data.len() + inner);
        let tag = self
            .tx
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad_bytes),
                text,
            )
            .map_err(|_| Error::EncryptError)?;
        tag_at.copy_from_slice(tag.as_ref());
        self.output.end += HEADER + body;
        self.tx.seq = next;
        self.updated_silently = false;
        Ok(())
    }

    /// Queues a fatal alert (none after our close_notify) and records the
    /// error: the session is over.
    fn fail(&mut self, alert: Option<AlertDescription>, e: Error) {
        if self.error.is_some() {
            return;
        }
        if let Some(a) = alert {
            // (A failure to seal it is superseded by `e`.)
            let _ = self.seal_small(CT_ALERT, &[LEVEL_FATAL, u8::from(a)]);
        }
        self.error = Some(e);
    }

    // ----- receiving -------------------------------------------------

    /// Reads the socket `fd` into the input buffer once; Ok(0) is its
    /// end of file.
    pub fn fill(&mut self, fd: i32) -> io::Result<usize> {
        // The plaintext not yet read stays where it is: read it first.
        if self.plain.0 < self.plain.1 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // Move a partial record to the front only when a whole one no
        // longer fits behind it.
        if self.input.room(MAX_RECORD) == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let end = self.input.end;
        let space = &mut self.input.data[end..];
        // SAFETY: space is valid for space.len() bytes.
        let n = unsafe { libc::read(fd, space.as_mut_ptr().cast(), space.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        self.input.end += n as usize;
        Ok(n as usize)
    }

    /// Plaintext into `out`: what is decrypted first, then the next
    /// records in the input buffer.
    pub fn read(&mut self, out: &mut [u8]) -> Read {
        loop {
            let (s, e) = self.plain;
            if s < e {
                let n = out.len().min(e - s);
                out[..n].copy_from_slice(&self.input.data[s..s + n]);
                self.plain.0 += n;
                return Read::Data(n);
            }
            if self.error.is_some() {
                return Read::Failed;
            }
            if self.close_notify_seen {
                return Read::CloseNotify;
            }
            if !self.next_record() {
                return Read::NeedMore;
            }
        }
    }

    /// Opens and handles the record at the front of the input buffer;
    /// false when none is whole.
    fn next_record(&mut self) -> bool {
        let avail = self.input.len();
        if avail < HEADER {
            return false;
        }
        let at = self.input.start;
        let head: [u8; HEADER] = match self.input.data[at..at + HEADER].try_into() {
            Ok(h) => h,
            Err(_) => return false,
        };
        let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
        let limit = if self.tls13 {
            MAX_PLAIN + 256
        } else {
            MAX_BODY
        };
        if len > limit {
            self.fail(
                Some(AlertDescription::RecordOverflow),
                Error::PeerSentOversizedRecord,
            );
            return true;
        }
        if avail < HEADER + len {
            return false;
        }
        self.input.consumed(HEADER + len);
        // consumed() may reset the positions once the buffer is empty;
        // the record's bytes stay where they are until the next fill.
        let body = at + HEADER;
        match self.open(head, body, len) {
            Ok((typ, s, e)) => self.handle(typ, s, e),
            Err((alert, err)) => self.fail(alert, err),
        }
        true
    }

    /// Decrypts the record whose body is `input[body..body + len]` in
    /// place: its content type and the plaintext's range.
    #[allow(clippy::type_complexity)]
    fn open(
        &mut self,
        head: [u8; HEADER],
        body: usize,
        len: usize,
    ) -> Result<(u8, usize, usize), (Option<AlertDescription>, Error)> {
        let typ = head[0];
        let unexpected = || {
            (
                Some(AlertDescription::UnexpectedMessage),
                Error::InappropriateMessage {
                    expect_types: vec![rustls::ContentType::ApplicationData],
                    got_type: rustls::ContentType::from(typ),
                },
            )
        };
        let bad_mac = || (Some(AlertDescription::BadRecordMac), Error::DecryptError);
        let explicit = self.suite.explicit;
        if (self.tls13 && typ != CT_DATA) || (!self.tls13 && !matches!(typ, CT_ALERT..=CT_DATA)) {
            return Err(unexpected());
        }
        if len < explicit + TAG {
            return Err(bad_mac());
        }
        let plain_len = len - explicit - TAG;
        let mut nonce = self.rx.nonce();
        let aad12_bytes;
        let aad: &[u8] = if self.tls13 {
            &head
        } else {
            if plain_len > MAX_PLAIN {
                return Err((
                    Some(AlertDescription::RecordOverflow),
                    Error::PeerSentOversizedRecord,
                ));
            }
            if explicit > 0 {
                nonce[4..].copy_from_slice(&self.input.data[body..body + explicit]);
            }
            aad12_bytes = aad12(self.rx.seq, typ, plain_len);
            &aad12_bytes
        };
        let start = body + explicit;
        let text = &mut self.input.data[start..body + len];
        let n = self
            .rx
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                text,
            )
            .map_err(|_| bad_mac())?
            .len();
        self.rx.seq = self.rx.next_seq().map_err(|e| (None, e))?;
        if !self.tls13 {
            return Ok((typ, start, start + n));
        }
        // TLSInnerPlaintext: content, type, zero padding; 2^14 + 1 bytes
        // at most (RFC 8446 5.4).
        if n > MAX_PLAIN + 1 {
            return Err((
                Some(AlertDescription::RecordOverflow),
                Error::PeerSentOversizedRecord,
            ));
        }
        let inner = &self.input.data[start..start + n];
        let Some(t) = inner.iter().rposition(|&b| b != 0) else {
            return Err((
                Some(AlertDescription::UnexpectedMessage),
                Error::PeerMisbehaved(PeerMisbehaved::IllegalTlsInnerPlaintext),
            ));
        };
        Ok((inner[t], start, start + t))
    }

    /// Handles one opened record's content.
    fn handle(&mut self, typ: u8, s: usize, e: usize) {
        match typ {
            CT_DATA => {
                if !self.handshake.is_empty() {
                    // A handshake message cut by data.
                    return self.fail(
                        Some(AlertDescription::UnexpectedMessage),
                        Error::InvalidMessage(InvalidMessage::MessageTooShort),
                    );
                }
                if s == e {
                    self.empty += 1;
                    if self.empty > MAX_EMPTY {
                        self.fail(
                            Some(AlertDescription::UnexpectedMessage),
                            Error::PeerMisbehaved(PeerMisbehaved::TooManyEmptyFragments),
                        );
                    }
                    return;
                }
                self.empty = 0;
                self.key_updates = 0;
                self.warnings = 0;
                self.plain = (s, e);
            }
            CT_ALERT => self.alert(s, e),
            CT_HANDSHAKE => {
                if s == e {
                    return self.fail(
                        Some(AlertDescription::UnexpectedMessage),
                        Error::PeerMisbehaved(PeerMisbehaved::TooManyEmptyFragments),
                    );
                }
                if self.handshake.len() + (e - s) > MAX_HANDSHAKE {
                    return self.fail(
                        Some(AlertDescription::DecodeError),
                        Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge),
                    );
                }
                self.handshake.extend_from_slice(&self.input.data[s..e]);
                self.handshake_messages();
            }
            _ => {
                let got = rustls::ContentType::from(typ);
                self.fail(
                    Some(AlertDescription::UnexpectedMessage),
                    Error::InappropriateMessage {
                        expect_types: vec![rustls::ContentType::ApplicationData],
                        got_type: got,
                    },
                );
            }
        }
    }

    fn alert(&mut self, s: usize, e: usize) {
        if !self.handshake.is_empty() || e - s != 2 {
            return self.fail(
                Some(AlertDescription::DecodeError),
                Error::InvalidMessage(InvalidMessage::TrailingData("Alert")),
            );
        }
        let (level, desc) = (self.input.data[s], self.input.data[s + 1]);
        // The level first, as rustls: whatever the description, an alert
        // of no known level is refused (`[3, 0]` is no close_notify).
        if !matches!(level, LEVEL_WARNING | LEVEL_FATAL) {
            return self.fail(
                Some(AlertDescription::IllegalParameter),
                Problem::AlertLevel(level).into(),
            );
        }
        let desc = AlertDescription::from(desc);
        if desc == AlertDescription::CloseNotify {
            self.close_notify_seen = true;
            return;
        }
        if level == LEVEL_FATAL {
            // The peer's fatal alert (user_canceled too): nothing goes back.
            self.error = Some(Error::AlertReceived(desc));
            return;
        }
        self.warnings += 1;
        if self.warnings > MAX_WARNINGS {
            return self.fail(
                Some(AlertDescription::UnexpectedMessage),
                Error::PeerMisbehaved(PeerMisbehaved::TooManyWarningAlertsReceived),
            );
        }
        if self.tls13 && desc != AlertDescription::UserCanceled {
            // RFC 8446 6: only user_canceled may be a warning; rustls
            // answers any other with decode_error.
            self.fail(
                Some(AlertDescription::DecodeError),
                Error::AlertReceived(desc),
            );
        }
    }

    /// Handles each whole message in the handshake buffer.
    fn handshake_messages(&mut self) {
        while self.handshake.len() >= 4 && self.error.is_none() {
            let h = &self.handshake;
            let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
            if len + 4 > MAX_HANDSHAKE {
                return self.fail(
                    Some(AlertDescription::DecodeError),
                    Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge),
                );
            }
            if h.len() < 4 + len {
                return;
            }
            let typ = h[0];
            let arg = h.get(4).copied();
            self.handshake.drain(..4 + len);
            match (self.tls13, typ) {
                (true, HS_NEW_SESSION_TICKET) if self.client => {}
                (true, HS_KEY_UPDATE) => self.key_update(len, arg),
                // TLS 1.2 renegotiation, which rustls refuses: a server's
                // HelloRequest, a client's ClientHello (its body not read).
                (false, HS_HELLO_REQUEST) if self.client && len == 0 => self.no_renegotiation(),
                (false, HS_CLIENT_HELLO) if !self.client => self.no_renegotiation(),
                _ => {
                    return self.fail(
                        Some(AlertDescription::UnexpectedMessage),
                        Error::InappropriateHandshakeMessage {
                            expect_types: vec![],
                            got_type: rustls::HandshakeType::from(typ),
                        },
                    );
                }
            }
        }
    }

    /// A renegotiation request answered with a no_renegotiation warning;
    /// the second ends the session (rustls allows one).
    fn no_renegotiation(&mut self) {
        self.renegotiations += 1;
        if self.renegotiations > MAX_RENEGOTIATIONS {
            return self.fail(
                Some(AlertDescription::UnexpectedMessage),
                Error::PeerMisbehaved(PeerMisbehaved::TooManyRenegotiationRequests),
            );
        }
        let no_renegotiation = u8::from(AlertDescription::NoRenegotiation);
        // (A failure to seal it ends the session in seal.)
        let _ = self.seal_small(CT_ALERT, &[LEVEL_WARNING, no_renegotiation]);
    }

    /// TLS 1.3 KeyUpdate: the peer's next key, and ours when it asks.
    fn key_update(&mut self, len: usize, arg: Option<u8>) {
        if len != 1 {
            return self.fail(
                Some(AlertDescription::DecodeError),
                Error::InvalidMessage(InvalidMessage::InvalidKeyUpdate),
            );
        }
        if !self.handshake.is_empty() {
            // RFC 8446 5.1: a key change ends its record.
            return self.fail(
                Some(AlertDescription::UnexpectedMessage),
                Error::PeerMisbehaved(PeerMisbehaved::KeyEpochWithPendingFragment),
            );
        }
        let requested = match arg {
            Some(0) => false,
            Some(1) => true,
            _ => {
                return self.fail(
                    Some(AlertDescription::IllegalParameter),
                    Error::InvalidMessage(InvalidMessage::InvalidKeyUpdate),
                );
            }
        };
        self.key_updates += 1;
        if self.key_updates > MAX_KEY_UPDATES {
            return self.fail(
                Some(AlertDescription::UnexpectedMessage),
                Error::PeerMisbehaved(PeerMisbehaved::TooManyKeyUpdateRequests),
            );
        }
        if let Err(e) = next_keys(self.suite, &mut self.rx) {
            return self.fail(Some(AlertDescription::InternalError), e);
        }
        // One answer to any number of requests while we are silent.
        if requested && !self.updated_silently {
            self.update_tx = true;
            self.pending();
        }
    }
}

/// TLS 1.2's additional data: sequence number, type, version, length.
fn aad12(seq: u64, typ: u8, len: usize) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = typ;
    a[9] = 3;
    a[10] = 3;
    a[11..].copy_from_slice(&(len as u16).to_be_bytes());
    a
}

fn key_iv(s: &ConnectionTrafficSecrets) -> (&[u8], &[u8]) {
    match s {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        | ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (key.as_ref(), iv.as_ref()),
        // (the enum is non-exhaustive; rustls's ring provider has no other)
        #[allow(unreachable_patterns)]
        _ => (&[], &[]),
    }
}

fn suite_of(s: &ConnectionTrafficSecrets, tls13: bool) -> Suite {
    let (aead, hkdf, hash_len, gcm) = match s {
        ConnectionTrafficSecrets::Aes256Gcm { .. } => {
            (&aead::AES_256_GCM, hkdf::HKDF_SHA384, 48, true)
        }
        ConnectionTrafficSecrets::Chacha20Poly1305 { .. } => {
            (&aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256, 32, false)
        }
        _ => (&aead::AES_128_GCM, hkdf::HKDF_SHA256, 32, true),
    };
    Suite {
        aead,
        hkdf,
        hash_len,
        explicit: if gcm && !tls13 { 8 } else { 0 },
        limit: if gcm {
            GCM_RECORD_LIMIT
        } else {
            SEQ_SOFT_LIMIT
        },
    }
}

/// A key and an IV, wiped on drop.
type KeyIv = (Zeroizing<[u8; 32]>, Zeroizing<[u8; aead::NONCE_LEN]>);

/// The key and IV a TLS 1.3 traffic secret gives.
fn derive(suite: Suite, secret: &Secret) -> KeyIv {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut iv = Zeroizing::new([0u8; aead::NONCE_LEN]);
    let s = secret.as_slice();
    expand_label(suite.hkdf, s, b"key", &mut key[..suite.aead.key_len()]);
    expand_label(suite.hkdf, s, b"iv", &mut iv[..]);
    (key, iv)
}

/// The logged secret that gives `k`'s key: rustls may already have
/// updated it during the handshake's last flight, so follow the updates
/// until one matches.
fn current_secret(suite: Suite, logged: Option<Secret>, k: &Keys) -> Result<Secret, Error> {
    let missing = || Problem::SecretNotLogged.into();
    let mut secret = logged
        .filter(|s| s.len == suite.hash_len)
        .ok_or_else(missing)?;
    for _ in 0..=MAX_KEY_UPDATES {
        let (key, iv) = derive(suite, &secret);
        let n = suite.aead.key_len();
        if key[..n] == k.raw_key[..n] && *iv == *k.iv {
            return Ok(secret);
        }
        secret = secret.next(suite)?;
    }
    Err(missing())
}

/// TLS 1.3: the next traffic secret of a direction, its key and IV.
fn next_keys(suite: Suite, k: &mut Keys) -> Result<(), Error> {
    let next = k.secret.next(suite)?;
    let (key, iv) = derive(suite, &next);
    let mut fresh = Keys::new(suite.aead, &key[..suite.aead.key_len()], &iv[..], 0)?;
    fresh.secret = next;
    *k = fresh;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8448 3 (simple 1-RTT handshake): the server's application
    /// traffic secret gives the key and IV the RFC lists.
    #[test]
    fn expand_label_matches_rfc8448() {
        let secret = hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        let suite = suite_of(
            &ConnectionTrafficSecrets::Aes128Gcm {
                key: rustls::crypto::cipher::AeadKey::from([0u8; 32]),
                iv: rustls::crypto::cipher::Iv::new([0; 12]),
            },
            true,
        );
        let (key, iv) = derive(suite, &Secret::new(&secret).unwrap());
        assert_eq!(&key[..16], &hex("9f02283b6c9c07efc26bb9f2ac92e356")[..]);
        assert_eq!(&iv[..], &hex("cf782b88dd83549aadf1e984")[..]);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn pair(tls13: bool, alg: u8) -> (Records, Records) {
        let (aead, key_len) = match alg {
            0 => (&aead::AES_128_GCM, 16),
            1 => (&aead::AES_256_GCM, 32),
            _ => (&aead::CHACHA20_POLY1305, 32),
        };
        let mk = |client: bool| {
            let (a, b) = if client { (1u8, 2u8) } else { (2, 1) };
            let suite = Suite {
                aead,
                hkdf: if alg == 1 {
                    hkdf::HKDF_SHA384
                } else {
                    hkdf::HKDF_SHA256
                },
                hash_len: if alg == 1 { 48 } else { 32 },
                explicit: if alg < 2 && !tls13 { 8 } else { 0 },
                limit: if alg < 2 {
                    GCM_RECORD_LIMIT
                } else {
                    SEQ_SOFT_LIMIT
                },
            };
            let keys = |x: u8| {
                let mut k = Keys::new(aead, &[x; 32][..key_len], &[x; 12], 0).unwrap();
                if tls13 {
                    let secret = Secret::new(&[x; MAX_HASH][..suite.hash_len]).unwrap();
                    let (key, iv) = derive(suite, &secret);
                    k = Keys::new(aead, &key[..key_len], &iv[..], 0).unwrap();
                    k.secret = secret;
                }
                k
            };
            Records::with_keys(
                tls13,
                client,
                suite,
                keys(a),
                keys(b),
                2 * MAX_RECORD,
                2 * OUTPUT_MIN,
            )
        };
        (mk(true), mk(false))
    }

    /// Moves `from`'s sealed records into `to`'s input.
    fn wire(from: &mut Records, to: &mut Records) {
        let n = from.output.len();
        let room = to.input.room(n);
        assert!(room >= n);
        let (s, e) = (from.output.start, from.output.end);
        let end = to.input.end;
        to.input.data[end..end + n].copy_from_slice(&from.output.data[s..e]);
        to.input.end += n;
        from.output.consumed(n);
    }

    /// A KeyUpdate sealed by hand (`requested`: update_requested), and
    /// the sender's next key.
    fn send_key_update(r: &mut Records, requested: bool) {
        r.seal(CT_HANDSHAKE, &[HS_KEY_UPDATE, 0, 0, 1, u8::from(requested)])
            .unwrap();
        next_keys(r.suite, &mut r.tx).unwrap();
    }

    /// A bit of the last record sealed flipped: its tag no longer fits.
    fn flip_last_bit(r: &mut Records) {
        let last = r.output.end - 1;
        r.output.data[last] ^= 1;
    }

    fn read_all(r: &mut Records) -> (Vec<u8>, Read) {
        let mut got = Vec::new();
        let mut buf = [0u8; 5000];
        loop {
            match r.read(&mut buf) {
                Read::Data(n) => got.extend_from_slice(&buf[..n]),
                other => return (got, other),
            }
        }
    }

    #[test]
    fn every_suite_round_trips_and_key_updates_both_ways() {
        for tls13 in [true, false] {
            for alg in 0..3 {
                let (mut c, mut s) = pair(tls13, alg);
                let data: Vec<u8> = (0..40000u32).map(|i| (i * 7) as u8).collect();
                assert_eq!(c.write(&data[..20000]), Ok(20000));
                wire(&mut c, &mut s);
                let (got, end) = read_all(&mut s);
                assert_eq!(got, &data[..20000]);
                assert_eq!(end, Read::NeedMore);
                if tls13 {
                    // The client asks for an update; the server answers.
                    send_key_update(&mut c, true);
                    assert_eq!(c.write(&data[20000..]), Ok(20000));
                    wire(&mut c, &mut s);
                    let (got, _) = read_all(&mut s);
                    assert_eq!(got, &data[20000..]);
                    assert!(s.wants_write(), "the answering KeyUpdate");
                    assert_eq!(s.write(b"back"), Ok(4));
                    wire(&mut s, &mut c);
                    let (got, end) = read_all(&mut c);
                    assert_eq!((got.as_slice(), end), (&b"back"[..], Read::NeedMore));
                }
                c.send_close_notify();
                wire(&mut c, &mut s);
                assert_eq!(read_all(&mut s).1, Read::CloseNotify);
                assert_eq!(c.write(b"x"), Err(()));
            }
        }
    }

    /// At AES-GCM's record limit, TLS 1.3 changes the key by itself (the
    /// KeyUpdate the last of the 2^24 records under the old key, as
    /// rustls) and the peer follows.
    #[test]
    fn a_key_update_before_the_gcm_record_limit() {
        let (mut c, mut s) = pair(true, 0);
        c.tx.seq = GCM_RECORD_LIMIT - 2;
        s.rx.seq = GCM_RECORD_LIMIT - 2;
        assert_eq!(c.write(b"last under the old key"), Ok(22));
        assert_eq!(c.tx.seq, GCM_RECORD_LIMIT - 1);
        assert_eq!(c.write(b"first under the new"), Ok(19));
        assert_eq!(c.tx.seq, 1, "new key: KeyUpdate was the old key's last");
        wire(&mut c, &mut s);
        let (got, end) = read_all(&mut s);
        assert_eq!(
            (got.as_slice(), end),
            (
                &b"last under the old keyfirst under the new"[..],
                Read::NeedMore
            )
        );
        assert_eq!(s.rx.seq, 1);
    }

    #[test]
    fn a_flipped_bit_is_bad_record_mac_and_loses_nothing_before_it() {
        let (mut c, mut s) = pair(true, 0);
        c.write(b"first").unwrap();
        c.write(b"second").unwrap();
        flip_last_bit(&mut c);
        wire(&mut c, &mut s);
        let (got, end) = read_all(&mut s);
        assert_eq!((got.as_slice(), end), (&b"first"[..], Read::Failed));
        assert_eq!(s.error(), Some(&Error::DecryptError));
        assert!(s.wants_write(), "bad_record_mac alert queued");
    }

    #[test]
    fn caps_on_records_without_data() {
        let (mut c, mut s) = pair(true, 2);
        for _ in 0..=MAX_EMPTY {
            c.seal(CT_DATA, b"").unwrap();
        }
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);

        let (mut c, mut s) = pair(true, 0);
        for _ in 0..=MAX_KEY_UPDATES {
            send_key_update(&mut c, false);
            wire(&mut c, &mut s);
            s.read(&mut [0; 16]);
        }
        assert_eq!(
            s.error(),
            Some(&Error::PeerMisbehaved(
                PeerMisbehaved::TooManyKeyUpdateRequests
            ))
        );

        let (mut c, mut s) = pair(false, 0);
        for _ in 0..=MAX_WARNINGS {
            c.seal(CT_ALERT, &[LEVEL_WARNING, 100]).unwrap();
        }
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);
    }

    #[test]
    fn a_fatal_alert_ends_the_session_without_an_answer() {
        let (mut c, mut s) = pair(true, 0);
        c.seal(CT_ALERT, &[LEVEL_FATAL, 40]).unwrap();
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);
        assert_eq!(
            s.error(),
            Some(&Error::AlertReceived(AlertDescription::HandshakeFailure))
        );
        assert!(!s.wants_write());
    }

    #[test]
    fn oversized_and_misplaced_records_are_refused() {
        // A 1.3 inner plaintext over 2^14.
        let (mut c, mut s) = pair(true, 0);
        let big = vec![1u8; MAX_PLAIN];
        c.seal(CT_DATA, &big).unwrap();
        // Re-seal by hand: one byte more than allowed is impossible through
        // seal(), so lie in the header instead.
        let at = c.output.start;
        c.output.data[at + 3..at + 5].copy_from_slice(&((MAX_PLAIN + 257) as u16).to_be_bytes());
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);
        assert_eq!(s.error(), Some(&Error::PeerSentOversizedRecord));

        // A 1.3 inner plaintext of 2^14 + 2 bytes (data, type, one zero
        // of padding), in a record whose length is within its limit.
        let (mut c, mut s) = pair(true, 0);
        let mut inner = vec![1u8; MAX_PLAIN];
        inner.extend_from_slice(&[CT_DATA, 0]);
        let len = inner.len() + TAG;
        let mut rec = vec![CT_DATA, 3, 3];
        rec.extend_from_slice(&(len as u16).to_be_bytes());
        let head: [u8; HEADER] = rec[..].try_into().unwrap();
        let tag =
            c.tx.key
                .seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(c.tx.nonce()),
                    aead::Aad::from(head),
                    &mut inner,
                )
                .unwrap();
        rec.extend_from_slice(&inner);
        rec.extend_from_slice(tag.as_ref());
        let end = c.output.end;
        c.output.data[end..end + rec.len()].copy_from_slice(&rec);
        c.output.end += rec.len();
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);
        assert_eq!(s.error(), Some(&Error::PeerSentOversizedRecord));

        // A KeyUpdate followed by more handshake bytes in the same record.
        let (mut c, mut s) = pair(true, 0);
        c.seal(CT_HANDSHAKE, &[HS_KEY_UPDATE, 0, 0, 1, 0, HS_KEY_UPDATE])
            .unwrap();
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);

        // A NewSessionTicket sent to a server.
        let (mut c, mut s) = pair(true, 0);
        c.seal(CT_HANDSHAKE, &[HS_NEW_SESSION_TICKET, 0, 0, 0])
            .unwrap();
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);
        // ... and to a client, ignored.
        let (mut c, mut s) = pair(true, 0);
        s.seal(CT_HANDSHAKE, &[HS_NEW_SESSION_TICKET, 0, 0, 1, 9])
            .unwrap();
        s.write(b"after").unwrap();
        wire(&mut s, &mut c);
        let (got, end) = read_all(&mut c);
        assert_eq!((got.as_slice(), end), (&b"after"[..], Read::NeedMore));
    }

    /// The records in `b`, by their headers.
    fn count_records(b: &Buf) -> usize {
        let (mut at, mut n) = (b.start, 0);
        while at + HEADER <= b.end {
            at += HEADER + usize::from(u16::from_be_bytes([b.data[at + 3], b.data[at + 4]]));
            n += 1;
        }
        n
    }

    /// TLS 1.2 AES-GCM: 2^24 records under its one key, as rustls's ring
    /// suites allow; then close_notify, and no more data. ChaCha20 has no
    /// such limit, up to rustls's soft limit on sequence numbers.
    #[test]
    fn tls12_gcm_closes_at_its_record_limit() {
        for alg in [0, 1] {
            let (mut c, mut s) = pair(false, alg);
            c.tx.seq = (1 << 24) - 1;
            s.rx.seq = (1 << 24) - 1;
            assert_eq!(c.write(b"the last record"), Ok(15));
            assert_eq!(c.write(b"one too many"), Err(()));
            assert_eq!(c.error(), None);
            wire(&mut c, &mut s);
            let (got, end) = read_all(&mut s);
            assert_eq!(
                (got.as_slice(), end),
                (&b"the last record"[..], Read::CloseNotify)
            );
        }
        let (mut c, mut s) = pair(false, 2);
        c.tx.seq = 1 << 24;
        s.rx.seq = 1 << 24;
        assert_eq!(c.write(b"chacha goes on"), Ok(14));
        c.tx.seq = 0xffff_ffff_ffff_0000;
        assert_eq!(c.write(b"until rustls's soft limit"), Err(()));
        wire(&mut c, &mut s);
        let (got, _) = read_all(&mut s);
        assert_eq!(got, b"chacha goes on");
    }

    /// At an exhausted sequence number nothing is sealed, and the
    /// failure ends the session (data, KeyUpdate or close_notify alike).
    #[test]
    fn a_failure_to_seal_ends_the_session_and_seals_nothing() {
        for tls13 in [true, false] {
            let (mut c, _) = pair(tls13, 2);
            c.tx.seq = u64::MAX;
            assert_eq!(c.write(b"x"), Err(()));
            assert_eq!(c.error(), Some(&Error::EncryptError));
            assert!(!c.wants_write(), "nothing sealed at the last number");

            let (mut c, _) = pair(tls13, 0);
            c.tx.seq = u64::MAX;
            c.send_close_notify();
            assert!(!c.wants_write());
            assert_eq!(c.error(), Some(&Error::EncryptError));
            assert_eq!(c.write(b"x"), Err(()));
        }
    }

    /// Two update_requested in a row get one KeyUpdate back (RFC 8446
    /// 4.6.3: one update while silent, as rustls); a request after data
    /// of ours gets its own.
    #[test]
    fn repeated_key_update_requests_are_answered_once() {
        let (mut c, mut s) = pair(true, 1);
        for _ in 0..2 {
            send_key_update(&mut c, true);
        }
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::NeedMore);
        assert_eq!(count_records(&s.output), 1, "one KeyUpdate");
        assert_eq!(s.write(b"data"), Ok(4));
        send_key_update(&mut c, true);
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::NeedMore);
        assert_eq!(count_records(&s.output), 3, "KeyUpdate, data, KeyUpdate");
        assert_eq!(s.write(b" more"), Ok(5));
        wire(&mut s, &mut c);
        let (got, end) = read_all(&mut c);
        assert_eq!((got.as_slice(), end), (&b"data more"[..], Read::NeedMore));
    }

    /// close_notify is sent only once it is queued: with no room for it
    /// now, it waits for the next flush (and no data goes before it).
    #[test]
    fn close_notify_waits_for_room_in_the_output() {
        let (mut c, mut s) = pair(true, 0);
        // Bytes the socket has not taken yet, all but a small record's room.
        c.output.end = c.output.data.len() - (SMALL_SEALED - 1);
        c.send_close_notify();
        assert!(!c.close_notify_sent);
        assert_eq!(c.write(b"x"), Err(()), "no data after close_notify");
        c.output.consumed(c.output.len()); // the socket took them
        assert_eq!(c.flush(-1).unwrap(), 0);
        assert!(c.close_notify_sent);
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s), (Vec::new(), Read::CloseNotify));
    }

    /// A TLS 1.2 server answers a renegotiating ClientHello with a
    /// no_renegotiation warning and goes on (rustls: once; the second
    /// ends the session).
    #[test]
    fn a_tls12_server_refuses_renegotiation_with_a_warning() {
        let (mut c, mut s) = pair(false, 0);
        let hello = [1, 0, 0, 4, 3, 3, 0, 0];
        c.seal(CT_HANDSHAKE, &hello).unwrap();
        c.write(b"after").unwrap();
        wire(&mut c, &mut s);
        let (got, end) = read_all(&mut s);
        assert_eq!((got.as_slice(), end), (&b"after"[..], Read::NeedMore));
        assert_eq!(count_records(&s.output), 1);
        s.write(b"back").unwrap();
        wire(&mut s, &mut c);
        let (got, end) = read_all(&mut c);
        assert_eq!((got.as_slice(), end), (&b"back"[..], Read::NeedMore));
        assert_eq!(c.error(), None, "a warning");
        c.seal(CT_HANDSHAKE, &hello).unwrap();
        wire(&mut c, &mut s);
        assert_eq!(read_all(&mut s).1, Read::Failed);
        assert_eq!(
            s.error(),
            Some(&Error::PeerMisbehaved(
                PeerMisbehaved::TooManyRenegotiationRequests
            ))
        );
    }

    /// The alert's level decides (rustls): a fatal user_canceled ends the
    /// session; a warning user_canceled does not; in TLS 1.3 any other
    /// warning is answered with decode_error.
    #[test]
    fn an_alert_is_fatal_by_its_level() {
        for tls13 in [true, false] {
            let (mut c, mut s) = pair(tls13, 0);
            c.seal(CT_ALERT, &[LEVEL_WARNING, 90]).unwrap();
            c.write(b"on").unwrap();
            c.seal(CT_ALERT, &[LEVEL_FATAL, 90]).unwrap();
            wire(&mut c, &mut s);
            let (got, end) = read_all(&mut s);
            assert_eq!((got.as_slice(), end), (&b"on"[..], Read::Failed));
            assert_eq!(
                s.error(),
                Some(&Error::AlertReceived(AlertDescription::UserCanceled))
            );
            assert!(!s.wants_write());

            let (mut c, mut s) = pair(tls13, 0);
            c.seal(CT_ALERT, &[LEVEL_WARNING, 40]).unwrap();
            c.write(b"on").unwrap();
            wire(&mut c, &mut s);
            let (got, end) = read_all(&mut s);
            if tls13 {
                assert_eq!((got.as_slice(), end), (&b""[..], Read::Failed));
                wire(&mut s, &mut c);
                assert_eq!(read_all(&mut c).1, Read::Failed);
                assert_eq!(
                    c.error(),
                    Some(&Error::AlertReceived(AlertDescription::DecodeError))
                );
            } else {
                assert_eq!((got.as_slice(), end), (&b"on"[..], Read::NeedMore));
            }
        }
    }

    /// After our close_notify nothing more goes out: no KeyUpdate answer,
    /// no no_renegotiation warning, no fatal alert.
    #[test]
    fn nothing_is_sealed_after_our_close_notify() {
        let (mut c, mut s) = pair(true, 0);
        c.send_close_notify();
        wire(&mut c, &mut s);
        send_key_update(&mut s, true);
        s.write(b"still").unwrap();
        s.write(b"tampered").unwrap();
        flip_last_bit(&mut s);
        wire(&mut s, &mut c);
        let (got, end) = read_all(&mut c);
        assert_eq!((got.as_slice(), end), (&b"still"[..], Read::Failed));
        assert_eq!(c.error(), Some(&Error::DecryptError));
        assert!(!c.wants_write(), "no KeyUpdate, no bad_record_mac");

        let (mut c, mut s) = pair(false, 0);
        c.send_close_notify();
        wire(&mut c, &mut s);
        s.seal(CT_HANDSHAKE, &[HS_HELLO_REQUEST, 0, 0, 0]).unwrap();
        s.write(b"still").unwrap();
        wire(&mut s, &mut c);
        let (got, end) = read_all(&mut c);
        assert_eq!((got.as_slice(), end), (&b"still"[..], Read::NeedMore));
        assert!(!c.wants_write(), "no no_renegotiation");
    }

    /// Issue 26: the level is checked first: `[3, 0]` is no close_notify
    /// but an alert of no known level, answered with a fatal
    /// illegal_parameter; the data before it is read.
    #[test]
    fn an_alert_of_no_known_level_is_illegal_parameter() {
        for tls13 in [true, false] {
            for desc in [0, 90] {
                let (mut c, mut s) = pair(tls13, 2);
                c.write(b"before").unwrap();
                c.seal(CT_ALERT, &[3, desc]).unwrap();
                wire(&mut c, &mut s);
                let (got, end) = read_all(&mut s);
                assert_eq!((got.as_slice(), end), (&b"before"[..], Read::Failed));
                assert!(
                    matches!(s.error(), Some(Error::Other(o))
                        if matches!(o.0.downcast_ref::<Problem>(), Some(Problem::AlertLevel(3)))),
                    "{:?}",
                    s.error()
                );
                wire(&mut s, &mut c);
                assert_eq!(read_all(&mut c).1, Read::Failed);
                assert_eq!(
                    c.error(),
                    Some(&Error::AlertReceived(AlertDescription::IllegalParameter))
                );
            }
        }
    }

    /// Keys and traffic secrets are wiped when they are dropped (as
    /// rustls's own are, with zeroize).
    #[test]
    fn keys_are_wiped_on_drop() {
        let mut k = std::mem::ManuallyDrop::new(
            Keys::new(&aead::AES_256_GCM, &[7; 32], &[9; 12], 0).unwrap(),
        );
        k.secret = Secret::new(&[5; MAX_HASH]).unwrap();
        let p: *const Keys = &*k;
        // SAFETY: dropped once; only plain bytes are read back after it,
        // from memory that stays allocated (k is on the stack, the
        // secret inside it).
        unsafe {
            std::mem::ManuallyDrop::drop(&mut k);
            let raw_key = std::ptr::addr_of!((*p).raw_key).cast::<[u8; 32]>();
            let iv = std::ptr::addr_of!((*p).iv).cast::<[u8; 12]>();
            assert_eq!(raw_key.read(), [0; 32]);
            assert_eq!(iv.read(), [0; 12]);
            let secret = std::ptr::addr_of!((*p).secret.bytes).cast::<[u8; MAX_HASH]>();
            assert_eq!(secret.read(), [0; MAX_HASH]);
        }
    }
}
