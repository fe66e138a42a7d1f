//! One direction of a relayed stream, written once for every engine that
//! copies: a fixed buffer ([`Buf`]), `-C`'s encoding on the way to the
//! network ([`Crlf`]), and the session log's tap (`--output`,
//! `--hex-dump`: [`Log::record`]) where the bytes meet the network, with
//! the count of what passed there.
//!
//! The sequence toward the network is [`send`]: encode what is pending,
//! one write of the wire bytes, the wire bytes taken logged, the input
//! they stand for consumed; from the network, [`tap_received`] after the
//! read. The plain relay ([`crate::relay::Relay`], whose buffers may be
//! kernel pipes) calls the two functions on its copying path; the TLS
//! relay and a served session hold their buffers as [`Direction`]s.

use crate::relay::buffer::Buf;
use crate::relay::filter::Crlf;
use crate::relay::log::{Dir, Log};

/// What one [`send`] moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Bytes on the wire (what the count and the log see).
    pub wire: usize,
    /// Bytes of the input they stand for (to consume).
    pub taken: usize,
}

/// One write toward the network of what `input` holds: with `-C`, its
/// encoding (then at most `max / 2` bytes of input, so that a doubled
/// datagram still fits one `max`), else at most `max` bytes; what the
/// write took goes to the log as sent.
pub fn send<E>(
    crlf: Option<&mut Crlf>,
    log: Option<&Log>,
    input: &[u8],
    max: usize,
    write: impl FnOnce(&[u8]) -> Result<usize, E>,
) -> Result<Sent, E> {
    match crlf {
        Some(c) => {
            let input = &input[..input.len().min(max / 2)];
            let wire_bytes = c.encode(input);
            let wire = write(wire_bytes)?;
            if let Some(l) = log {
                l.record(Dir::Sent, &wire_bytes[..wire]);
            }
            Ok(Sent {
                wire,
                taken: c.commit(input, wire),
            })
        }
        None => {
            let input = &input[..input.len().min(max)];
            let n = write(input)?;
            if let Some(l) = log {
                l.record(Dir::Sent, &input[..n]);
            }
            Ok(Sent { wire: n, taken: n })
        }
    }
}

/// The last `n` bytes of `pending` were just read from the network: to
/// the log as received.
pub fn tap_received(log: Option<&Log>, pending: &[u8], n: usize) {
    if let Some(l) = log {
        l.record(Dir::Received, &pending[pending.len().saturating_sub(n)..]);
    }
}

/// A direction's buffer and filter (see the module).
pub struct Direction {
    buf: Buf,
    crlf: Option<Crlf>,
}

impl Direction {
    /// `size` bytes of buffer; `crlf`: `-C` on what it sends.
    pub fn new(size: usize, crlf: bool) -> Direction {
        Direction {
            buf: Buf::new(size),
            crlf: crlf.then(Crlf::new),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn has_room(&self) -> bool {
        self.buf.has_room()
    }

    pub fn pending(&self) -> &[u8] {
        self.buf.pending()
    }

    /// Free space for a read (see [`Buf::space_for`]).
    pub fn space(&mut self, want: usize) -> &mut [u8] {
        self.buf.space_for(want)
    }

    /// `n` bytes were read into [`Direction::space`] (not from the
    /// network).
    pub fn filled(&mut self, n: usize) {
        self.buf.filled(n);
    }

    /// `n` bytes were read from the network into [`Direction::space`]:
    /// logged as received.
    pub fn received(&mut self, n: usize, log: Option<&Log>) {
        self.buf.filled(n);
        tap_received(log, self.buf.pending(), n);
    }

    pub fn consumed(&mut self, n: usize) {
        self.buf.consumed(n);
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// One write of what is pending toward the network ([`send`]); what
    /// it took is consumed.
    pub fn send<E>(
        &mut self,
        log: Option<&Log>,
        max: usize,
        write: impl FnOnce(&[u8]) -> Result<usize, E>,
    ) -> Result<Sent, E> {
        let s = send(self.crlf.as_mut(), log, self.buf.pending(), max, write)?;
        self.buf.consumed(s.taken);
        Ok(s)
    }
}
