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
//! - TLS 1.3 KeyUpdate both ways (answering `update_requested` once, with
//!   the traffic secrets rustls logged through [`SecretLog`]), and a
//!   KeyUpdate of its own before AES-GCM's confidentiality limit;
//!   NewSessionTicket ignored (ncrab does not resume sessions);
//! - TLS 1.2 HelloRequest answered with a `no_renegotiation` warning;
//! - close_notify, warnings and fatal alerts; a fatal alert of its own
//!   (`bad_record_mac`, `record_overflow`, `unexpected_message`,
//!   `decode_error`) before it gives up on a peer's record;
//! - rustls's caps on what a peer can make it do without data: 32 empty
//!   records or KeyUpdates in a row, 4 warning alerts, 1 HelloRequest,
//!   a post-handshake message of at most 64 KiB.
//!
//! Errors are rustls's own [`rustls::Error`] values, so `report` words them
//! as it words rustls's.

use std::io;
use std::sync::Mutex;

use ring::{aead, hkdf};
use rustls::{
    AlertDescription, ConnectionTrafficSecrets, Error, ExtractedSecrets, InvalidMessage,
    PeerMisbehaved,
};

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
/// Empty records, KeyUpdates, warnings and HelloRequests in a row.
const MAX_EMPTY: u32 = 32;
const MAX_KEY_UPDATES: u32 = 32;
const MAX_WARNINGS: u32 = 4;
const MAX_HELLO_REQUESTS: u32 = 1;
/// AES-GCM records under one key before TLS 1.3 changes it (RFC 8446
/// 5.5 allows 2^24.5; rustls's ring suites update at 2^24, as here).
/// TLS 1.2 has no KeyUpdate and rustls sets it no limit but the
/// sequence number's.
const GCM_RECORD_LIMIT: u64 = 1 << 24;

const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_DATA: u8 = 23;
const HS_HELLO_REQUEST: u8 = 0;
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
    client: Mutex<Option<Vec<u8>>>,
    server: Mutex<Option<Vec<u8>>>,
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
            *s = Some(secret.to_vec());
        }
    }

    fn will_log(&self, label: &str) -> bool {
        label == CLIENT_SECRET || label == SERVER_SECRET
    }
}

impl SecretLog {
    fn take(&self, client: bool) -> Option<Vec<u8>> {
        let slot = if client { &self.client } else { &self.server };
        slot.lock().ok().and_then(|mut s| s.take())
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
/// the traffic secret the next KeyUpdate derives from.
struct Keys {
    key: aead::LessSafeKey,
    raw_key: [u8; 32],
    iv: [u8; aead::NONCE_LEN],
    seq: u64,
    secret: Vec<u8>,
}

impl Keys {
    fn new(alg: &'static aead::Algorithm, key: &[u8], iv: &[u8], seq: u64) -> Result<Keys, Error> {
        let unbound = aead::UnboundKey::new(alg, key)
            .map_err(|_| Error::General("the negotiated key does not fit its cipher".into()))?;
        let mut k = Keys {
            key: aead::LessSafeKey::new(unbound),
            raw_key: [0; 32],
            iv: [0; aead::NONCE_LEN],
            seq,
            secret: Vec::new(),
        };
        k.raw_key[..key.len()].copy_from_slice(key);
        k.iv.copy_from_slice(iv);
        Ok(k)
    }

    /// The IV with the sequence number mixed in (RFC 8446 5.3; rustls
    /// builds TLS 1.2's nonces the same way).
    fn nonce(&self) -> [u8; aead::NONCE_LEN] {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// The next sequence number, or an error before it wraps.
    fn advance(&mut self) -> Result<(), Error> {
        self.seq = self.seq.checked_add(1).ok_or(Error::EncryptError)?;
        Ok(())
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
    gcm: bool,
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
    hello_requests: u32,
    /// A KeyUpdate of ours must go out (the peer requested one, or the
    /// key's record limit).
    update_tx: bool,
    close_notify_seen: bool,
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
            hello_requests: 0,
            update_tx: false,
            close_notify_seen: false,
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
    /// close_notify went.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, ()> {
        if self.error.is_some() || self.close_notify_sent {
            return Err(());
        }
        let mut taken = 0;
        while taken < data.len() {
            self.pending_updates();
            if self.error.is_some() {
                return Err(());
            }
            let chunk = (data.len() - taken).min(MAX_PLAIN);
            let need = chunk + MAX_SEALED - MAX_PLAIN + RESERVE;
            if self.output.room(need) < need {
                break;
            }
            if let Err(e) = self.seal(CT_DATA, &data[taken..taken + chunk]) {
                self.error = Some(e);
                return Err(());
            }
            taken += chunk;
        }
        Ok(taken)
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
            self.pending_updates();
        }
        Ok(total)
    }

    /// Queues close_notify (once); nothing more is sealed after it.
    pub fn send_close_notify(&mut self) {
        if self.close_notify_sent || self.error.is_some() {
            return;
        }
        self.close_notify_sent = true;
        let _ = self.seal_small(CT_ALERT, &[LEVEL_WARNING, 0]);
    }

    /// Seals an alert or a KeyUpdate when the output buffer has room for
    /// it (its reserve keeps room for two); Ok(false) when it has none.
    fn seal_small(&mut self, typ: u8, data: &[u8]) -> Result<bool, Error> {
        if self.output.room(SMALL_SEALED) < SMALL_SEALED {
            return Ok(false);
        }
        self.seal(typ, data).map(|()| true)
    }

    /// Seals one record of `data` (at most [`MAX_PLAIN`]) into the output
    /// buffer, which has room for it.
    fn seal(&mut self, typ: u8, data: &[u8]) -> Result<(), Error> {
        if data.len() > MAX_PLAIN {
            return Err(Error::EncryptError);
        }
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
        self.tx.advance()?;
        if self.tls13 && self.suite.gcm && self.tx.seq >= GCM_RECORD_LIMIT {
            self.update_tx = true;
        }
        Ok(())
    }

    /// TLS 1.3: a KeyUpdate (not requesting one back) under the current
    /// key, then the next key.
    fn send_key_update(&mut self) -> Result<(), Error> {
        if !self.seal_small(CT_HANDSHAKE, &[HS_KEY_UPDATE, 0, 0, 1, 0])? {
            return Ok(()); // after the next flush
        }
        self.update_tx = false;
        next_keys(self.suite, &mut self.tx)
    }

    /// Queues a fatal alert and records the error: the session is over.
    fn fail(&mut self, alert: Option<AlertDescription>, e: Error) {
        if self.error.is_some() {
            return;
        }
        if let Some(a) = alert {
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
        self.rx.advance().map_err(|e| (None, e))?;
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
        let desc = AlertDescription::from(desc);
        if desc == AlertDescription::CloseNotify {
            self.close_notify_seen = true;
            return;
        }
        let warning = if self.tls13 {
            // RFC 8446 6: only user_canceled may be a warning.
            desc == AlertDescription::UserCanceled
        } else {
            level == LEVEL_WARNING
        };
        if !matches!(level, LEVEL_WARNING | LEVEL_FATAL) {
            return self.fail(
                Some(AlertDescription::IllegalParameter),
                Error::General("the peer sent an alert of no known level".into()),
            );
        }
        if !warning {
            // The peer's fatal alert: nothing goes back.
            self.error = Some(Error::AlertReceived(desc));
            return;
        }
        self.warnings += 1;
        if self.warnings > MAX_WARNINGS {
            self.fail(
                Some(AlertDescription::UnexpectedMessage),
                Error::PeerMisbehaved(PeerMisbehaved::TooManyWarningAlertsReceived),
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
                (false, HS_HELLO_REQUEST) if self.client && len == 0 => {
                    self.hello_requests += 1;
                    if self.hello_requests > MAX_HELLO_REQUESTS {
                        return self.fail(
                            Some(AlertDescription::UnexpectedMessage),
                            Error::PeerMisbehaved(PeerMisbehaved::TooManyRenegotiationRequests),
                        );
                    }
                    let no_renegotiation = u8::from(AlertDescription::NoRenegotiation);
                    if let Err(e) = self.seal_small(CT_ALERT, &[LEVEL_WARNING, no_renegotiation]) {
                        self.fail(None, e);
                    }
                }
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
        if requested {
            self.update_tx = true;
            self.pending_updates();
        }
    }

    /// A KeyUpdate of ours that is due goes now, if there is room (else
    /// after the next flush); a failure to seal it ends the session.
    fn pending_updates(&mut self) {
        if self.update_tx && self.error.is_none() && !self.close_notify_sent {
            if let Err(e) = self.send_key_update() {
                self.fail(Some(AlertDescription::InternalError), e);
            }
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
        gcm,
    }
}

/// The key and IV a TLS 1.3 traffic secret gives.
fn derive(suite: Suite, secret: &[u8]) -> ([u8; 32], [u8; aead::NONCE_LEN]) {
    let mut key = [0u8; 32];
    let mut iv = [0u8; aead::NONCE_LEN];
    expand_label(suite.hkdf, secret, b"key", &mut key[..suite.aead.key_len()]);
    expand_label(suite.hkdf, secret, b"iv", &mut iv);
    (key, iv)
}

/// The logged secret that gives `k`'s key: rustls may already have
/// updated it during the handshake's last flight, so follow the updates
/// until one matches.
fn current_secret(suite: Suite, logged: Option<Vec<u8>>, k: &Keys) -> Result<Vec<u8>, Error> {
    let missing = || Error::General("the session's traffic secret was not logged".into());
    let mut secret = logged.ok_or_else(missing)?;
    for _ in 0..=MAX_KEY_UPDATES {
        let (key, iv) = derive(suite, &secret);
        let n = suite.aead.key_len();
        if key[..n] == k.raw_key[..n] && iv == k.iv {
            return Ok(secret);
        }
        let mut next = vec![0u8; suite.hash_len];
        expand_label(suite.hkdf, &secret, b"traffic upd", &mut next);
        secret = next;
    }
    Err(missing())
}

/// TLS 1.3: the next traffic secret of a direction, its key and IV.
fn next_keys(suite: Suite, k: &mut Keys) -> Result<(), Error> {
    let mut next = vec![0u8; suite.hash_len];
    expand_label(suite.hkdf, &k.secret, b"traffic upd", &mut next);
    let (key, iv) = derive(suite, &next);
    let mut fresh = Keys::new(suite.aead, &key[..suite.aead.key_len()], &iv, 0)?;
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
        let (key, iv) = derive(suite, &secret);
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
                gcm: alg < 2,
            };
            let keys = |x: u8| {
                let mut k = Keys::new(aead, &[x; 32][..key_len], &[x; 12], 0).unwrap();
                k.secret = vec![x; suite.hash_len];
                if tls13 {
                    let (key, iv) = derive(suite, &k.secret);
                    k = Keys::new(aead, &key[..key_len], &iv, 0).unwrap();
                    k.secret = vec![x; suite.hash_len];
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
                    c.seal(CT_HANDSHAKE, &[HS_KEY_UPDATE, 0, 0, 1, 1]).unwrap();
                    next_keys(c.suite, &mut c.tx).unwrap();
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

    /// At AES-GCM's record limit, TLS 1.3 changes the key by itself and
    /// the peer follows.
    #[test]
    fn a_key_update_before_the_gcm_record_limit() {
        let (mut c, mut s) = pair(true, 0);
        c.tx.seq = GCM_RECORD_LIMIT - 1;
        s.rx.seq = GCM_RECORD_LIMIT - 1;
        assert_eq!(c.write(b"last under the old key"), Ok(22));
        assert!(c.update_tx);
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
        let last = c.output.end - 1;
        c.output.data[last] ^= 1;
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
            c.seal(CT_HANDSHAKE, &[HS_KEY_UPDATE, 0, 0, 1, 0]).unwrap();
            next_keys(c.suite, &mut c.tx).unwrap();
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
}
