//! `--raw`: a client on a terminal in raw mode, for a `--pty` server
//! (docs/compatibility.md §A.3). What is typed goes to the socket with
//! every 0xFF doubled, after the stream's opening window-size message and
//! one more at each SIGWINCH ([`crate::relay::winsize`]); `~.` at the
//! start of a line leaves, `~~` sends one `~` (as ssh). What the socket
//! sends goes to standard output as it came. The peer's end of stream
//! ends the session once its bytes are written; the terminal's own end
//! (a hang-up) half-closes the socket. The terminal's mode is the
//! caller's guard (`sys::rawmode::RawMode`).

use std::io;
use std::os::fd::AsRawFd;

use mio::Interest;
use mio::event::Event;
use socket2::Socket;

use crate::relay::direction::Direction;
use crate::relay::endpoint::read_fd;
use crate::relay::stdio::Stdio;
use crate::relay::winsize;
use crate::sys::rawmode::window_size;
use crate::sys::reactor::{self, Ctx, Interests, Machine, Step};
use crate::sys::signals;

/// Bytes read from the terminal at once (doubled at most, plus a message,
/// they fit [`TO_NET`]'s free space).
const TYPED: usize = 1024;
const TO_NET: usize = 4 * TYPED;
const FROM_NET: usize = 64 * 1024;
/// Moves before letting the loop look at its fds again.
const PASSES: usize = 16;

/// How a raw session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The peer closed, its bytes written.
    PeerClosed,
    /// `~.` was typed.
    Escape,
    /// The socket failed (reset).
    NetError,
}

/// Where the `~` escape stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Line {
    /// At the start of a line: a `~` may begin an escape.
    Start,
    Middle,
    /// A `~` at the start of a line, held.
    Tilde,
}

/// The `~` escape over typed bytes: what to send (appended to `out`,
/// escaped for the wire) and whether `~.` was typed.
fn typed(line: &mut Line, input: &[u8], out: &mut Vec<u8>) -> bool {
    for &b in input {
        match (*line, b) {
            (Line::Tilde, b'.') => return true,
            (Line::Tilde, b'~') => {
                out.push(b'~');
                *line = Line::Middle;
                continue;
            }
            (Line::Tilde, _) => out.push(b'~'),
            (Line::Start, b'~') => {
                *line = Line::Tilde;
                continue;
            }
            _ => {}
        }
        winsize::encode(&[b], out);
        *line = if matches!(b, b'\r' | b'\n') {
            Line::Start
        } else {
            Line::Middle
        };
    }
    false
}

pub struct RawRelay<'a> {
    sock: Socket,
    stdin: &'a Stdio,
    stdout: &'a Stdio,
    to_net: Direction,
    from_net: Direction,
    line: Line,
    /// The window size is to be sent (at the start, then per SIGWINCH).
    size_due: bool,
    scratch: Vec<u8>,
    in_r: bool,
    out_w: bool,
    net_r: bool,
    net_w: bool,
    in_open: bool,
    net_in_open: bool,
    net_out_open: bool,
    ended: Option<Ended>,
    regs: [Interests; 3],
}

impl<'a> RawRelay<'a> {
    pub fn new(sock: Socket, stdin: &'a Stdio, stdout: &'a Stdio) -> RawRelay<'a> {
        signals::watch_winch();
        RawRelay {
            sock,
            stdin,
            stdout,
            to_net: Direction::new(TO_NET, false),
            from_net: Direction::new(FROM_NET, false),
            line: Line::Start,
            size_due: true,
            scratch: Vec::with_capacity(2 * TYPED),
            in_r: true,
            out_w: true,
            net_r: true,
            net_w: true,
            in_open: true,
            net_in_open: true,
            net_out_open: true,
            ended: None,
            regs: Default::default(),
        }
    }

    /// One round of the moves; true when something moved.
    fn pass(&mut self) -> bool {
        let mut progress = false;
        let free = TO_NET - self.to_net.pending().len();
        if self.size_due && free >= winsize::MSG_LEN {
            self.size_due = false;
            let (rows, cols) = window_size(self.stdin.poll_fd).unwrap_or((0, 0));
            self.push(&winsize::message(rows, cols));
            progress = true;
        }
        let free = TO_NET - self.to_net.pending().len();
        if self.in_open && self.in_r && free >= 2 * TYPED + 2 {
            let mut buf = [0u8; TYPED];
            match self.stdin.read(&mut buf) {
                Ok(0) => {
                    self.in_open = false;
                    progress = true;
                }
                Ok(n) => {
                    let mut out = std::mem::take(&mut self.scratch);
                    out.clear();
                    if typed(&mut self.line, &buf[..n], &mut out) {
                        self.ended = Some(Ended::Escape);
                    }
                    self.push(&out);
                    self.scratch = out;
                    progress = true;
                }
                Err(e) if reactor::would_block(&e) => self.in_r = false,
                Err(_) => {
                    self.in_open = false;
                    progress = true;
                }
            }
        }
        if self.net_out_open && self.net_w && !self.to_net.is_empty() {
            let sock = &self.sock;
            match self.to_net.send(None, usize::MAX, |b| sock.send(b)) {
                Ok(_) => progress = true,
                Err(e) if reactor::would_block(&e) => self.net_w = false,
                Err(_) => self.ended = Some(Ended::NetError),
            }
        }
        if self.net_out_open && !self.in_open && self.to_net.is_empty() {
            let _ = self.sock.shutdown(std::net::Shutdown::Write);
            self.net_out_open = false;
        }
        if self.net_in_open && self.net_r && self.from_net.has_room() {
            let fd = self.sock.as_raw_fd();
            match read_fd(fd, self.from_net.space(usize::MAX)) {
                Ok(0) => {
                    self.net_in_open = false;
                    progress = true;
                }
                Ok(n) => {
                    self.from_net.filled(n);
                    progress = true;
                }
                Err(e) if reactor::would_block(&e) => self.net_r = false,
                Err(_) => self.ended = Some(Ended::NetError),
            }
        }
        if self.out_w && !self.from_net.is_empty() {
            match self.stdout.write(self.from_net.pending()) {
                Ok(n) => {
                    self.from_net.consumed(n);
                    progress = true;
                }
                Err(e) if reactor::would_block(&e) => self.out_w = false,
                // Nowhere to show the peer's bytes: the session is over.
                Err(_) => self.ended = Some(Ended::PeerClosed),
            }
        }
        if !self.net_in_open && self.from_net.is_empty() && self.ended.is_none() {
            self.ended = Some(Ended::PeerClosed);
        }
        progress
    }

    /// Appends wire bytes (the caller checked the room).
    fn push(&mut self, bytes: &[u8]) {
        let space = self.to_net.space(bytes.len());
        let n = bytes.len().min(space.len());
        space[..n].copy_from_slice(&bytes[..n]);
        self.to_net.filled(n);
    }

    fn register(&mut self, cx: &mut Ctx<'_>) -> io::Result<()> {
        let rw = Interest::READABLE | Interest::WRITABLE;
        let [i, o, n] = &mut self.regs;
        i.set(
            cx.registry,
            self.stdin.poll_fd,
            reactor::STDIN,
            self.in_open.then_some(Interest::READABLE),
        )?;
        if self.stdout.pollable() {
            o.set(
                cx.registry,
                self.stdout.poll_fd,
                reactor::STDOUT,
                Some(Interest::WRITABLE),
            )?;
        }
        n.set(cx.registry, self.sock.as_raw_fd(), reactor::NET, Some(rw))
    }
}

impl Machine for RawRelay<'_> {
    type Output = io::Result<Ended>;

    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: &Event) {
        let hup = ev.is_error() || ev.is_read_closed() || ev.is_write_closed();
        match ev.token() {
            reactor::STDIN => self.in_r = true,
            reactor::STDOUT => self.out_w = true,
            reactor::NET => {
                self.net_r |= ev.is_readable() || hup;
                self.net_w |= ev.is_writable() || hup;
            }
            _ => {}
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output> {
        if signals::take_winch() {
            self.size_due = true;
        }
        if !self.stdout.pollable() {
            self.out_w = true;
        }
        let mut busy = true;
        for _ in 0..PASSES {
            if !self.pass() {
                busy = false;
                break;
            }
            if self.ended.is_some() {
                break;
            }
        }
        if let Some(e) = self.ended {
            return Step::Done(Ok(e));
        }
        if let Err(e) = self.register(cx) {
            return Step::Done(Err(e));
        }
        if busy { Step::Again } else { Step::Wait }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<u8>, bool) {
        let (mut line, mut out) = (Line::Start, Vec::new());
        let quit = typed(&mut line, input, &mut out);
        (out, quit)
    }

    #[test]
    fn tilde_dot_at_line_start_leaves() {
        assert_eq!(run(b"~."), (vec![], true));
        assert_eq!(run(b"ls\r~."), (b"ls\r".to_vec(), true));
        assert_eq!(run(b"a~.b"), (b"a~.b".to_vec(), false));
    }

    #[test]
    fn tilde_tilde_sends_one_and_others_pass() {
        assert_eq!(run(b"~~."), (b"~.".to_vec(), false));
        assert_eq!(run(b"~x\n~"), (b"~x\n".to_vec(), false));
        assert_eq!(run(b"\xff"), (b"\xff\xff".to_vec(), false));
    }
}
