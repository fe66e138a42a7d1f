//! The window-size message of `--raw` clients to `--pty` servers, in
//! band (docs/compatibility.md §A.3; the manual's "TERMINALS" text).
//!
//! The lead byte is 0xFF, which UTF-8 text never holds:
//! - `FF 57 rr rr cc cc` (`W`, then rows and columns, 16 bits each,
//!   big-endian) is a window size;
//! - `FF FF` is one literal 0xFF byte;
//! - `FF` and any other byte is those two bytes, as they came.
//!
//! A `--raw` client opens its stream with its window size, and the server
//! decodes only a stream that opens with `FF 57`: any other stream (a
//! plain nc's) passes untouched, whatever bytes it holds.
//!
//! [`encode`] is the client's (input bytes, escaped); [`Decoder`] the
//! server's, stepping over a buffer's pending bytes without copying them.

/// The lead byte.
pub const LEAD: u8 = 0xFF;
/// After [`LEAD`]: a window size follows.
pub const SIZE: u8 = b'W';
/// A window-size message's length.
pub const MSG_LEN: usize = 6;

/// The message announcing `rows` x `cols`.
pub fn message(rows: u16, cols: u16) -> [u8; MSG_LEN] {
    let [r0, r1] = rows.to_be_bytes();
    let [c0, c1] = cols.to_be_bytes();
    [LEAD, SIZE, r0, r1, c0, c1]
}

/// Appends `input` to `out` with every 0xFF doubled.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    for &b in input {
        out.push(b);
        if b == LEAD {
            out.push(LEAD);
        }
    }
}

/// What the server's decoder says of the pending bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Write the first `n` bytes as they are.
    Plain(usize),
    /// Write one 0xFF byte, then consume 2.
    Literal,
    /// Apply this size (rows, columns), then consume [`MSG_LEN`].
    Size(u16, u16),
    /// A message has begun: wait for more bytes (or, at the end of the
    /// stream, write them as they are).
    Incomplete,
}

/// Whether the stream is decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    /// Nothing seen yet.
    #[default]
    Opening,
    Plain,
    Decoding,
}

/// The server's side (see the module).
#[derive(Clone, Copy, Debug, Default)]
pub struct Decoder {
    mode: Mode,
}

impl Decoder {
    /// The next thing to do with `pending` (the stream's next bytes, not
    /// empty).
    pub fn next(&mut self, pending: &[u8]) -> Next {
        if self.mode == Mode::Opening {
            match pending {
                [] => return Next::Incomplete,
                [LEAD] => return Next::Incomplete,
                [LEAD, SIZE, ..] => self.mode = Mode::Decoding,
                _ => self.mode = Mode::Plain,
            }
        }
        if self.mode == Mode::Plain {
            return Next::Plain(pending.len());
        }
        match pending {
            [] => Next::Incomplete,
            [LEAD] => Next::Incomplete,
            [LEAD, LEAD, ..] => Next::Literal,
            [LEAD, SIZE, rest @ ..] => match rest {
                [r0, r1, c0, c1, ..] => Next::Size(
                    u16::from_be_bytes([*r0, *r1]),
                    u16::from_be_bytes([*c0, *c1]),
                ),
                _ => Next::Incomplete,
            },
            // A lead byte and another: both as they came.
            [LEAD, ..] => Next::Plain(2),
            _ => Next::Plain(
                pending
                    .iter()
                    .position(|&b| b == LEAD)
                    .unwrap_or(pending.len()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` whole, fed in pieces of `step`: the bytes and sizes.
    fn decode(wire: &[u8], step: usize) -> (Vec<u8>, Vec<(u16, u16)>) {
        let mut d = Decoder::default();
        let (mut out, mut sizes, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        let mut fed = 0;
        loop {
            if pending.is_empty() || d.next(&pending) == Next::Incomplete {
                if fed == wire.len() {
                    out.extend_from_slice(&pending);
                    return (out, sizes);
                }
                let end = (fed + step).min(wire.len());
                pending.extend_from_slice(&wire[fed..end]);
                fed = end;
                continue;
            }
            match d.next(&pending) {
                Next::Plain(n) => {
                    out.extend_from_slice(&pending[..n]);
                    pending.drain(..n);
                }
                Next::Literal => {
                    out.push(LEAD);
                    pending.drain(..2);
                }
                Next::Size(r, c) => {
                    sizes.push((r, c));
                    pending.drain(..MSG_LEN);
                }
                Next::Incomplete => unreachable!(),
            }
        }
    }

    #[test]
    fn round_trip_in_any_pieces() {
        let typed: Vec<u8> = (0..=255u8).chain([0xFF, 0xFF, b'W', 0xFF]).collect();
        let mut wire = message(50, 132).to_vec();
        encode(&typed, &mut wire);
        wire.extend_from_slice(&message(7, 9));
        encode(b"x\xff", &mut wire);
        let mut want = typed.clone();
        want.extend_from_slice(b"x\xff");
        for step in 1..=8 {
            assert_eq!(decode(&wire, step), (want.clone(), vec![(50, 132), (7, 9)]));
        }
    }

    #[test]
    fn a_plain_stream_passes_untouched() {
        let wire = b"ab\xff\xff\xffW\x00\x01\x00\x02";
        for step in 1..=4 {
            assert_eq!(decode(wire, step), (wire.to_vec(), vec![]));
        }
        // Opening with 0xFF but no size: plain too.
        assert_eq!(decode(b"\xff\xff", 1), (b"\xff\xff".to_vec(), vec![]));
    }

    #[test]
    fn a_stray_lead_byte_passes() {
        let mut wire = message(1, 2).to_vec();
        wire.extend_from_slice(b"\xffa");
        assert_eq!(decode(&wire, 3), (b"\xffa".to_vec(), vec![(1, 2)]));
    }
}
