//! The relay's two byte-stream filters: `-C` (CRLF line endings) and `-t`
//! (TELNET negotiation replies), docs/compatibility.md §6.3 and departure 12.
//!
//! nc applies both to whatever one read(2) returned, so its output depends
//! on how the kernel split the stream: a CR at the end of one read and the
//! LF at the start of the next become CR CR LF, and a TELNET command split
//! across reads is never answered. Here both filters keep their state
//! between calls, and their output is a function of the byte stream alone.
//!
//! - [`Crlf`] works on the way *out*: it encodes what is about to be
//!   written to the socket, and after a partial write it is told how much of
//!   the encoding went out, so it knows how much input that consumed and
//!   whether the last byte on the wire was a CR. Every LF reaches the wire
//!   preceded by a CR, and no CR is ever added twice.
//! - [`Telnet`] watches the bytes read from the socket (they still reach
//!   stdout unchanged) and queues one reply per complete negotiation
//!   command: WILL/WONT → `IAC DONT opt`, DO/DONT → `IAC WONT opt`.
//!   The queue is bounded by the relay: while [`Telnet::backlogged`], it
//!   stops reading the network (nc blocks in its write instead), so a peer
//!   that negotiates without ever reading cannot make ncrab buffer without
//!   end.

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// `-C`: LF not preceded by CR is sent as CR LF.
#[derive(Debug, Default)]
pub struct Crlf {
    /// The last byte that went out on the wire was a CR.
    last_cr: bool,
    /// The encoding of the input handed to the last [`Crlf::encode`].
    wire: Vec<u8>,
}

impl Crlf {
    pub fn new() -> Crlf {
        Crlf::default()
    }

    /// The bytes to write for `input`, as if all of it went out now.
    pub fn encode(&mut self, input: &[u8]) -> &[u8] {
        self.wire.clear();
        self.wire.reserve(input.len() + input.len() / 8);
        let mut last_cr = self.last_cr;
        for &b in input {
            if b == LF && !last_cr {
                self.wire.push(CR);
            }
            self.wire.push(b);
            last_cr = b == CR;
        }
        &self.wire
    }

    /// `written` bytes of the last encoding of `input` went out: returns how
    /// many input bytes are done, and remembers whether the wire now ends
    /// in a CR (an added CR whose LF did not fit counts: the LF then goes
    /// out bare, completing the pair).
    pub fn commit(&mut self, input: &[u8], written: usize) -> usize {
        let mut out = 0;
        let mut done = 0;
        for &b in input {
            if out == written {
                break;
            }
            if b == LF && !self.last_cr {
                out += 1;
                self.last_cr = true;
                if out == written {
                    break;
                }
            }
            out += 1;
            done += 1;
            self.last_cr = b == CR;
        }
        done
    }
}

/// Reply bytes waiting to be written at which network reads pause. One
/// read adds at most as many reply bytes as it brought, so the queue never
/// holds more than this plus one read.
pub const TELNET_BACKLOG: usize = 64 * 1024;

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;

/// Where the TELNET scanner is in a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TnState {
    #[default]
    Data,
    /// Saw IAC.
    Iac,
    /// Saw IAC and a negotiation verb; the reply verb waits for the option.
    Option(u8),
}

/// `-t`: refuses every option the peer negotiates.
#[derive(Debug, Default)]
pub struct Telnet {
    state: TnState,
    replies: Vec<u8>,
}

impl Telnet {
    pub fn new() -> Telnet {
        Telnet::default()
    }

    /// Scans bytes just read from the network, queueing replies.
    pub fn scan(&mut self, data: &[u8]) {
        for &b in data {
            self.state = match self.state {
                TnState::Data if b == IAC => TnState::Iac,
                TnState::Data => TnState::Data,
                TnState::Iac => match b {
                    WILL | WONT => TnState::Option(DONT),
                    DO | DONT => TnState::Option(WONT),
                    // Any other command (IAC IAC, SB, SE, NOP...) is one
                    // byte long, as nc skips it.
                    _ => TnState::Data,
                },
                TnState::Option(verb) => {
                    self.replies.extend_from_slice(&[IAC, verb, b]);
                    TnState::Data
                }
            };
        }
    }

    /// Replies not yet written.
    pub fn pending(&self) -> &[u8] {
        &self.replies
    }

    /// So many replies wait that the network should not be read for now.
    pub fn backlogged(&self) -> bool {
        self.replies.len() >= TELNET_BACKLOG
    }

    /// `n` bytes of the replies were written.
    pub fn consumed(&mut self, n: usize) {
        self.replies.drain(..n.min(self.replies.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testing::Rng;

    /// A seeded generator and a random input of fewer than `max` bytes
    /// drawn from `alphabet`, for the property tests.
    fn seeded_input(seed: u64, max: usize, alphabet: &[u8]) -> (Rng, Vec<u8>) {
        let mut rng = Rng::new(seed);
        let len = rng.below(max);
        let input = rng.bytes(len, alphabet);
        (rng, input)
    }

    fn crlf_once(input: &[u8]) -> Vec<u8> {
        let mut c = Crlf::new();
        let wire = c.encode(input).to_vec();
        assert_eq!(c.commit(input, wire.len()), input.len());
        wire
    }

    #[test]
    fn crlf_examples() {
        assert_eq!(crlf_once(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(crlf_once(b"a\r\nb\n"), b"a\r\nb\r\n");
        assert_eq!(crlf_once(b"\n\n"), b"\r\n\r\n");
        assert_eq!(crlf_once(b"nolf"), b"nolf");
        assert_eq!(crlf_once(b"x\r\r\n"), b"x\r\r\n");
        assert_eq!(crlf_once(b"bare\rcr"), b"bare\rcr");
    }

    #[test]
    fn crlf_pair_across_reads_is_kept() {
        // docs/compatibility.md departure 12: `a\r` then `\nb` is an existing CRLF.
        let mut c = Crlf::new();
        let mut wire = Vec::new();
        for part in [&b"a\r"[..], b"\nb"] {
            let w = c.encode(part).to_vec();
            assert_eq!(c.commit(part, w.len()), part.len());
            wire.extend(w);
        }
        assert_eq!(wire, b"a\r\nb");
    }

    #[test]
    fn crlf_partial_write_inside_added_pair() {
        let mut c = Crlf::new();
        let input = b"a\nb";
        assert_eq!(c.encode(input), b"a\r\nb");
        // Only "a\r" went out: the LF is still to send, without a new CR.
        assert_eq!(c.commit(input, 2), 1);
        let rest = &input[1..];
        assert_eq!(c.encode(rest), b"\nb");
        assert_eq!(c.commit(rest, 2), 2);
    }

    /// One write of what is pending in which `n(encoded length)` bytes of
    /// its encoding go out, as a socket may take any prefix.
    fn partial_write(
        c: &mut Crlf,
        pending: &mut Vec<u8>,
        wire: &mut Vec<u8>,
        n: impl FnOnce(usize) -> usize,
    ) {
        let enc = c.encode(pending).to_vec();
        let n = n(enc.len());
        wire.extend_from_slice(&enc[..n]);
        let done = c.commit(pending, n);
        pending.drain(..done);
    }

    /// Writes everything pending in random partial writes of at least one
    /// byte; returns how many writes it took (bounded by 1,000 so a lack of
    /// progress fails the caller's assertion instead of hanging).
    fn write_all(c: &mut Crlf, pending: &mut Vec<u8>, wire: &mut Vec<u8>, rng: &mut Rng) -> usize {
        let mut rounds = 0;
        while !pending.is_empty() && rounds < 1000 {
            partial_write(c, pending, wire, |len| 1 + rng.below(len));
            rounds += 1;
        }
        rounds
    }

    /// Any input, cut into any reads and written in any partial writes,
    /// puts the same bytes on the wire as one read and one write.
    #[test]
    fn crlf_property_split_and_partial_writes() {
        for seed in 0..3000u64 {
            let (mut rng, input) = seeded_input(seed, 64, b"ab\r\n\n\r");
            let expected = crlf_once(&input);
            let mut c = Crlf::new();
            let mut wire = Vec::new();
            let mut pending: Vec<u8> = Vec::new();
            for part in rng.split(&input) {
                pending.extend_from_slice(part);
                // Write some of what is pending, maybe in several writes.
                while !pending.is_empty() && rng.below(3) != 0 {
                    partial_write(&mut c, &mut pending, &mut wire, |len| rng.below(len + 1));
                }
            }
            let rounds = write_all(&mut c, &mut pending, &mut wire, &mut rng);
            assert!(rounds < 1000, "no progress (seed {seed})");
            assert_eq!(wire, expected, "seed {seed}: input {input:?}");
        }
    }

    fn telnet_once(input: &[u8]) -> Vec<u8> {
        let mut t = Telnet::new();
        t.scan(input);
        t.pending().to_vec()
    }

    #[test]
    fn telnet_reference_example() {
        // docs/compatibility.md §6.3: the server sent this and got back these replies.
        let input = [
            0xFF, 0xFD, 0x01, 0xFF, 0xFB, 0x03, 0x41, 0xFF, 0xFE, 0x05, 0xFF, 0xFC, 0x06, 0xFF,
            0xFA, 0x07,
        ];
        assert_eq!(
            telnet_once(&input),
            [
                0xFF, 0xFC, 0x01, 0xFF, 0xFE, 0x03, 0xFF, 0xFC, 0x05, 0xFF, 0xFE, 0x06
            ]
        );
        // IAC IAC is an escaped data byte, not a command.
        assert_eq!(telnet_once(&[0xFF, 0xFF, 0xFB, 0x01]), b"");
    }

    #[test]
    fn telnet_command_split_across_reads_is_answered_once() {
        let mut t = Telnet::new();
        t.scan(&[b'x', 0xFF]);
        t.scan(&[0xFD]);
        t.scan(&[0x18, b'y']);
        assert_eq!(t.pending(), [0xFF, 0xFC, 0x18]);
        t.consumed(3);
        t.scan(b"more");
        assert_eq!(t.pending(), b"");
    }

    #[test]
    fn telnet_property_split() {
        for seed in 0..3000u64 {
            let (mut rng, input) =
                seeded_input(seed, 48, &[IAC, WILL, WONT, DO, DONT, 250, 240, b'a', 1]);
            let expected = telnet_once(&input);
            let mut t = Telnet::new();
            for part in rng.split(&input) {
                t.scan(part);
            }
            assert_eq!(t.pending(), &expected[..], "seed {seed}: {input:?}");
        }
    }

    // --- Properties against reference models -----------------------------

    /// The reference conversion for `-C` on a whole stream: an LF not
    /// preceded by CR in the stream gets one.
    fn model_crlf(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() * 2);
        for (i, &b) in input.iter().enumerate() {
            if b == LF && (i == 0 || input[i - 1] != CR) {
                out.push(CR);
            }
            out.push(b);
        }
        out
    }

    /// The stream through [`Crlf`] in the given reads, each written whole.
    fn crlf_reads(parts: &[&[u8]]) -> Vec<u8> {
        let mut c = Crlf::new();
        let mut wire = Vec::new();
        for part in parts {
            let w = c.encode(part).to_vec();
            assert_eq!(c.commit(part, w.len()), part.len());
            wire.extend(w);
        }
        wire
    }

    /// Every cut of every short stream over {a, CR, LF} (CR at the end of
    /// a read included): one cut, and two cuts, give the reference.
    #[test]
    fn crlf_exhaustive_cuts() {
        let mut streams = 0usize;
        for len in 0..=7u32 {
            for code in 0..3u32.pow(len) {
                let input: Vec<u8> = (0..len)
                    .map(|i| [b'a', CR, LF][(code / 3u32.pow(i) % 3) as usize])
                    .collect();
                let want = model_crlf(&input);
                let n = input.len();
                for i in 0..=n {
                    assert_eq!(
                        crlf_reads(&[&input[..i], &input[i..]]),
                        want,
                        "{input:?} @{i}"
                    );
                    for j in i..=n {
                        let parts = [&input[..i], &input[i..j], &input[j..]];
                        assert_eq!(crlf_reads(&parts), want, "{input:?} @{i},{j}");
                    }
                }
                streams += 1;
            }
        }
        assert_eq!(streams, (0..=7).map(|l| 3usize.pow(l)).sum::<usize>());
    }

    /// Random streams in random reads and random partial writes give the
    /// reference conversion; the wire never holds CR CR LF made by us.
    #[test]
    fn crlf_property_matches_the_model() {
        for seed in 0..20_000u64 {
            let (mut rng, input) = seeded_input(seed, 200, b"a\r\n\n\r");
            let parts = rng.split(&input);
            assert_eq!(crlf_reads(&parts), model_crlf(&input), "seed {seed}");
            // Partial writes: any prefix of the encoding may go out.
            let mut c = Crlf::new();
            let mut wire = Vec::new();
            let mut pending = input.clone();
            let rounds = write_all(&mut c, &mut pending, &mut wire, &mut rng);
            assert!(rounds <= 2 * input.len() + 1, "seed {seed}: no progress");
            assert_eq!(wire, model_crlf(&input), "seed {seed}");
        }
    }

    /// nc's reply rules on one whole buffer (docs/compatibility.md §6.3), as the model of the
    /// stream: IAC WILL/WONT x → IAC DONT x, IAC DO/DONT x → IAC WONT x,
    /// IAC and any other byte is skipped; a command cut off by the end of
    /// the stream gets nothing.
    fn model_telnet(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            if input[i] != IAC {
                i += 1;
                continue;
            }
            let Some(&verb) = input.get(i + 1) else { break };
            let reply = match verb {
                WILL | WONT => DONT,
                DO | DONT => WONT,
                _ => {
                    i += 2;
                    continue;
                }
            };
            let Some(&opt) = input.get(i + 2) else { break };
            out.extend_from_slice(&[IAC, reply, opt]);
            i += 3;
        }
        out
    }

    #[test]
    fn telnet_property_matches_nc_on_the_whole_stream() {
        let alphabet = [IAC, WILL, WONT, DO, DONT, 250, 240, 1, 24, b'a'];
        for seed in 0..20_000u64 {
            let (mut rng, input) = seeded_input(seed, 80, &alphabet);
            let want = model_telnet(&input);
            // Random reads, with writes of the replies in between.
            let mut t = Telnet::new();
            let mut wire = Vec::new();
            for part in rng.split(&input) {
                t.scan(part);
                let n = rng.below(t.pending().len() + 1);
                wire.extend_from_slice(&t.pending()[..n]);
                t.consumed(n);
            }
            wire.extend_from_slice(t.pending());
            assert_eq!(wire, want, "seed {seed}: {input:?}");
            assert!(wire.len() <= input.len(), "a reply per command at most");
        }
    }

    /// Every single cut of short streams over the command bytes.
    #[test]
    fn telnet_exhaustive_cuts() {
        let alphabet = [IAC, WILL, DO, b'x'];
        for len in 0..=6u32 {
            for code in 0..4u32.pow(len) {
                let input: Vec<u8> = (0..len)
                    .map(|i| alphabet[(code / 4u32.pow(i) % 4) as usize])
                    .collect();
                let want = model_telnet(&input);
                for i in 0..=input.len() {
                    let mut t = Telnet::new();
                    t.scan(&input[..i]);
                    t.scan(&input[i..]);
                    assert_eq!(t.pending(), &want[..], "{input:?} @{i}");
                }
            }
        }
    }

    /// The queue says "backlogged" once it holds TELNET_BACKLOG bytes, and
    /// stops saying it as it is written.
    #[test]
    fn telnet_backlog_flag() {
        let mut t = Telnet::new();
        let burst: Vec<u8> = [IAC, DO, 1].repeat(TELNET_BACKLOG / 3 + 1);
        t.scan(&burst);
        assert!(t.backlogged());
        t.consumed(t.pending().len() - (TELNET_BACKLOG - 1));
        assert!(!t.backlogged());
    }
}
