//! `--banner`: reading what an open port's server says first, without
//! sending anything. The scan drives it from its event loop (readiness and
//! a timer); this is only the reading, bounded to the first line.

use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::Banner;

/// The most bytes of a banner kept: its first line, up to this.
pub const BANNER_MAX: usize = 1024;

/// A banner being read.
#[derive(Debug)]
pub struct BannerRead {
    buf: Vec<u8>,
    /// How long the handshake took (the time the report shows).
    pub handshake: Duration,
}

impl BannerRead {
    pub fn new(handshake: Duration) -> BannerRead {
        BannerRead {
            buf: Vec::new(),
            handshake,
        }
    }

    /// Reads what has arrived. The banner, once the first line is
    /// complete, the server has closed, or (`timed_out`) the wait of
    /// `wait` is over; None while it may still come.
    pub fn step(&mut self, sock: &Socket, timed_out: bool, wait: Duration) -> Option<Banner> {
        let buf = &mut self.buf;
        let mut closed = false;
        while buf.len() < BANNER_MAX && !buf.contains(&b'\n') {
            let mut chunk = [0u8; 512];
            let room = (BANNER_MAX - buf.len()).min(chunk.len());
            // SAFETY: chunk is valid for `room` bytes.
            let n = unsafe { libc::recv(sock.as_raw_fd(), chunk.as_mut_ptr().cast(), room, 0) };
            if n > 0 {
                buf.extend_from_slice(&chunk[..n as usize]);
                continue;
            }
            let e = std::io::Error::last_os_error().raw_os_error();
            if n < 0 && e == Some(libc::EINTR) {
                continue;
            }
            // EOF, or an error other than "nothing yet" (a reset).
            closed = n == 0 || e != Some(libc::EAGAIN);
            break;
        }
        let line_done = buf.len() >= BANNER_MAX || buf.contains(&b'\n');
        if !(line_done || closed || timed_out) {
            return None;
        }
        if buf.is_empty() {
            return Some(if closed {
                Banner::Closed
            } else {
                Banner::Silent(wait)
            });
        }
        let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
        let mut line = buf[..end].to_vec();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(Banner::Line(line))
    }
}
