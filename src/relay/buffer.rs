//! The relay's buffer for one direction: user memory, or a kernel pipe.
//!
//! nc's relay moves bytes through a buffer per direction: read into it,
//! write out of it. [`Chan`] keeps exactly that shape, so the relay's EOF
//! rules never change, but the buffer can also be a pipe inside the kernel,
//! filled and drained with `splice(2)`: socket to pipe, pipe to stdout, or
//! stdin (a pipe, a regular file, a socket) to pipe, pipe to socket. The
//! bytes then never enter user space. A side that cannot splice (a tty, a
//! file opened with O_APPEND, an old kernel) makes the direction fall back
//! to the copying buffer, carrying over what the pipe already holds, so the
//! switch is silent and loses nothing.
//!
//! A regular file on stdin takes a third kind of buffer: a window of the
//! file mapped into memory and sent from there (see [`crate::relay::filemap`]);
//! it falls back to the copying buffer at the end of the file or on any
//! refusal, again without losing or repeating a byte.
//!
//! A pipe counts its capacity in pages, not bytes, so it can refuse more
//! data before `pending` reaches `cap`; a refused fill with data pending
//! marks the pipe full until the next drain, so the loop never spins.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::relay::filemap::FileWindow;
use crate::relay::stdio::{Kind, Stdio, cvt};

/// Each direction's buffer in copying mode. nc uses 16 KiB; larger
/// buffers mean fewer system calls per byte.
pub const BUF_SIZE: usize = 128 * 1024;

/// The size asked for a kernel pipe buffer.
const PIPE_SIZE: i32 = 1024 * 1024;

/// One end of a transfer: standard input or output, or the socket.
#[derive(Clone, Copy)]
pub enum Io<'a> {
    Stdio(&'a Stdio),
    Sock(RawFd),
}

impl Io<'_> {
    fn fd(&self) -> RawFd {
        match self {
            Io::Stdio(s) => s.fd,
            Io::Sock(fd) => *fd,
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Stdio(s) => s.read(buf),
            Io::Sock(fd) => cvt(unsafe {
                // SAFETY: buf is valid for buf.len() bytes.
                libc::read(*fd, buf.as_mut_ptr().cast(), buf.len())
            }),
        }
    }

    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Stdio(s) => s.write(buf),
            Io::Sock(fd) => cvt(unsafe {
                // SAFETY: buf is valid for buf.len() bytes.
                libc::send(*fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL)
            }),
        }
    }
}

/// A fixed byte buffer with a read and a write position: the copying
/// path's buffer here, each direction's plaintext in the TLS relay
/// ([`crate::relay::tls`]) and a served session's two buffers (the
/// `serve` layer's exec sessions).
pub struct Buf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Buf {
    pub fn new(size: usize) -> Buf {
        Buf {
            data: vec![0; size].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    /// Another read can take at least a byte (after compacting).
    pub fn has_room(&self) -> bool {
        self.end < self.data.len() || self.start > 0
    }
    pub fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
    /// Free space at the end, compacting first if that frees more.
    pub fn space(&mut self) -> &mut [u8] {
        self.space_for(1)
    }
    /// Free space at the end, after moving the pending bytes to the front
    /// when fewer than `want` bytes are free there (a datagram is then
    /// read whole).
    pub fn space_for(&mut self, want: usize) -> &mut [u8] {
        if self.data.len() - self.end < want && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.data[self.end..]
    }
    /// `n` bytes were written into [`Buf::space`].
    pub fn filled(&mut self, n: usize) {
        self.end += n;
    }
    pub fn consumed(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
}

/// A pipe inside the kernel used as the buffer.
pub struct KernelPipe {
    rd: OwnedFd,
    wr: OwnedFd,
    pending: usize,
    cap: usize,
    /// The pipe refused data while `pending < cap` (page granularity).
    stalled: bool,
}

impl KernelPipe {
    fn new() -> io::Result<KernelPipe> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds are fresh and owned by nobody else.
        let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on our own pipe; a refusal keeps the default size.
        let cap = unsafe {
            libc::fcntl(wr.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE);
            libc::fcntl(wr.as_raw_fd(), libc::F_GETPIPE_SZ)
        };
        Ok(KernelPipe {
            rd,
            wr,
            pending: 0,
            cap: usize::try_from(cap).unwrap_or(65536).max(4096),
            stalled: false,
        })
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: plain splice between two fds with no offsets.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    cvt(n)
}

/// Errors that mean "this fd cannot splice": fall back to copying.
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

/// A direction's buffer.
pub enum Chan {
    Copy(Buf),
    Kernel(KernelPipe),
    /// Stdin's regular file, mapped a window at a time (stdin to socket).
    Mapped(FileWindow),
}

impl Chan {
    /// A kernel pipe when `zero_copy` is asked and pipes can be made,
    /// otherwise the copying buffer.
    pub fn new(zero_copy: bool) -> Chan {
        if zero_copy {
            if let Ok(p) = KernelPipe::new() {
                return Chan::Kernel(p);
            }
        }
        Chan::Copy(Buf::new(BUF_SIZE))
    }

    /// The buffer from `stdin` to the socket: a window of the file when
    /// stdin is a regular file, otherwise as [`Chan::new`].
    pub fn for_input(zero_copy: bool, stdin: &Stdio) -> Chan {
        if zero_copy && stdin.kind == Kind::Regular {
            if let Some(w) = FileWindow::new(stdin.fd) {
                return Chan::Mapped(w);
            }
        }
        Chan::new(zero_copy)
    }

    /// Whether the bytes go through user space.
    #[cfg(test)]
    pub fn is_copy(&self) -> bool {
        matches!(self, Chan::Copy(_))
    }

    pub fn len(&self) -> usize {
        match self {
            Chan::Copy(b) => b.len(),
            Chan::Kernel(p) => p.pending,
            Chan::Mapped(w) => w.pending(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_full(&self) -> bool {
        match self {
            Chan::Copy(b) => !b.has_room(),
            Chan::Kernel(p) => p.pending >= p.cap || p.stalled,
            // The next window is mapped once this one is sent.
            Chan::Mapped(w) => w.pending() > 0,
        }
    }

    /// Room left, in all.
    pub fn free(&self) -> usize {
        match self {
            Chan::Copy(b) => b.data.len() - b.len(),
            Chan::Kernel(p) if p.stalled => 0,
            Chan::Kernel(p) => p.cap.saturating_sub(p.pending),
            Chan::Mapped(w) if w.pending() > 0 => 0,
            Chan::Mapped(_) => crate::relay::filemap::WINDOW,
        }
    }

    /// The pending bytes, when they are in user space (for `-i` lines).
    pub fn pending_bytes(&self) -> Option<&[u8]> {
        match self {
            Chan::Copy(b) => Some(b.pending()),
            Chan::Kernel(_) | Chan::Mapped(_) => None,
        }
    }

    /// Drops `n` pending bytes the caller wrote itself from
    /// [`Chan::pending_bytes`] (a filtered write; copying path only).
    pub fn consumed(&mut self, n: usize) {
        if let Chan::Copy(b) = self {
            b.consumed(n.min(b.len()));
        }
    }

    /// Empties the buffer (the session is over).
    pub fn clear(&mut self) {
        match self {
            Chan::Copy(b) => b.clear(),
            Chan::Kernel(p) => {
                let mut sink = [0u8; 4096];
                while p.pending > 0 {
                    match Io::Sock(p.rd.as_raw_fd()).read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => p.pending = p.pending.saturating_sub(n),
                    }
                }
                p.pending = 0;
                p.stalled = false;
            }
            Chan::Mapped(w) => w.unmap(),
        }
    }

    /// One read from `src` into the buffer (one `read(2)` or `splice(2)`).
    /// `Ok(0)` is end of file.
    pub fn fill(&mut self, src: Io<'_>) -> io::Result<usize> {
        match self {
            Chan::Copy(b) => {
                let n = src.read(b.space())?;
                b.filled(n);
                Ok(n)
            }
            Chan::Kernel(p) => match splice(src.fd(), p.wr.as_raw_fd(), p.cap - p.pending) {
                Ok(n) => {
                    p.pending += n;
                    Ok(n)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && p.pending > 0 => {
                    p.stalled = true;
                    Err(e)
                }
                Err(e) if unsupported(&e) => {
                    self.fall_back_to_copy()?;
                    self.fill(src)
                }
                Err(e) => Err(e),
            },
            Chan::Mapped(w) => match w.map_next() {
                Some(n) => Ok(n),
                // The end of the file as known, or no mapping: read(2)
                // goes on from stdin's offset.
                None => {
                    *self = Chan::Copy(Buf::new(BUF_SIZE));
                    self.fill(src)
                }
            },
        }
    }

    /// One read of at most `max` bytes, offering at least `room`
    /// contiguous bytes (compacting first): a datagram read is then never
    /// cut, and a datagram to send never outgrows one send. The caller
    /// checks [`Chan::free`] first. A kernel pipe reads as [`Chan::fill`].
    pub fn fill_bounded(&mut self, src: Io<'_>, room: usize, max: usize) -> io::Result<usize> {
        match self {
            Chan::Copy(b) => {
                let space = b.space_for(room);
                let n = space.len().min(max);
                let n = src.read(&mut space[..n])?;
                b.filled(n);
                Ok(n)
            }
            Chan::Kernel(_) | Chan::Mapped(_) => self.fill(src),
        }
    }

    /// One write of at most `max` pending bytes to `dst`.
    pub fn drain(&mut self, dst: Io<'_>, max: usize) -> io::Result<usize> {
        match self {
            Chan::Copy(b) => {
                let len = b.len().min(max);
                let n = dst.write(&b.pending()[..len])?;
                b.consumed(n);
                Ok(n)
            }
            Chan::Kernel(p) => match splice(p.rd.as_raw_fd(), dst.fd(), p.pending.min(max)) {
                Ok(n) => {
                    p.pending -= n;
                    p.stalled = false;
                    Ok(n)
                }
                Err(e) if unsupported(&e) => {
                    self.fall_back_to_copy()?;
                    self.drain(dst, max)
                }
                Err(e) => Err(e),
            },
            Chan::Mapped(w) => {
                let r = match dst {
                    Io::Sock(fd) => w.send(fd, max),
                    Io::Stdio(_) => Err(io::Error::from_raw_os_error(libc::EFAULT)),
                };
                match r {
                    // The window is gone (the file shrank): what was not
                    // sent is read again from the file with read(2).
                    Err(e) if e.raw_os_error() == Some(libc::EFAULT) => {
                        w.rewind();
                        *self = Chan::Copy(Buf::new(BUF_SIZE));
                        Ok(0)
                    }
                    r => r,
                }
            }
        }
    }

    /// Falls back to copying, moving what the pipe holds into user memory.
    fn fall_back_to_copy(&mut self) -> io::Result<()> {
        let Chan::Kernel(p) = self else {
            return Ok(());
        };
        let mut b = Buf::new(BUF_SIZE.max(p.pending));
        while b.len() < p.pending {
            let n = Io::Sock(p.rd.as_raw_fd()).read(b.space())?;
            if n == 0 {
                break;
            }
            b.filled(n);
        }
        *self = Chan::Copy(b);
        Ok(())
    }
}

/// Whether `NCRAB_NO_SPLICE` forces the copying path: no splice, no file
/// window, no receive batching (so tests can cover both paths).
pub fn splice_disabled() -> bool {
    std::env::var_os("NCRAB_NO_SPLICE").is_some_and(|v| !v.is_empty() && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socketpair() -> (OwnedFd, OwnedFd) {
        socketpair_of(libc::SOCK_STREAM)
    }

    /// A non-blocking Unix socket pair of type `ty`.
    fn socketpair_of(ty: libc::c_int) -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two fds.
        assert_eq!(
            unsafe {
                libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_NONBLOCK, 0, fds.as_mut_ptr())
            },
            0
        );
        // SAFETY: fresh fds.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    #[test]
    fn both_kinds_move_the_same_bytes() {
        for zero_copy in [false, true] {
            let (a, b) = socketpair();
            let (c, d) = socketpair();
            let mut ch = Chan::new(zero_copy);
            let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
            let mut sent = 0;
            let mut got = Vec::new();
            let mut buf = [0u8; 65536];
            for _ in 0..10_000 {
                if sent < data.len() {
                    if let Ok(n) = Io::Sock(a.as_raw_fd()).write(&data[sent..]) {
                        sent += n;
                    }
                }
                let _ = ch.fill(Io::Sock(b.as_raw_fd()));
                if !ch.is_empty() {
                    let _ = ch.drain(Io::Sock(c.as_raw_fd()), usize::MAX);
                }
                if let Ok(n) = Io::Sock(d.as_raw_fd()).read(&mut buf) {
                    got.extend_from_slice(&buf[..n]);
                }
                if got.len() == data.len() {
                    break;
                }
            }
            assert_eq!(got, data, "zero_copy={zero_copy}");
        }
    }

    #[test]
    fn bounded_fill_keeps_a_datagram_whole() {
        let (a, b) = socketpair_of(libc::SOCK_DGRAM);
        let mut ch = Chan::new(false);
        let big = vec![7u8; 60_000];
        for _ in 0..2 {
            Io::Sock(a.as_raw_fd()).write(&big).unwrap();
        }
        // Leave the buffer's tail too short for a whole datagram.
        assert_eq!(
            ch.fill_bounded(Io::Sock(b.as_raw_fd()), 60_000, usize::MAX)
                .unwrap(),
            60_000
        );
        if let Chan::Copy(buf) = &mut ch {
            buf.consumed(50_000);
        }
        assert!(ch.free() >= 60_000);
        assert_eq!(
            ch.fill_bounded(Io::Sock(b.as_raw_fd()), 60_000, usize::MAX)
                .unwrap(),
            60_000
        );
        assert_eq!(ch.len(), 70_000);
        // `max` bounds a read.
        Io::Sock(a.as_raw_fd()).write(b"0123456789").unwrap();
        if let Chan::Copy(buf) = &mut ch {
            buf.consumed(70_000);
        }
        assert_eq!(ch.fill_bounded(Io::Sock(b.as_raw_fd()), 1, 4).unwrap(), 4);
    }

    #[test]
    fn falls_back_without_losing_bytes() {
        let (a, b) = socketpair();
        let mut ch = Chan::new(true);
        Io::Sock(a.as_raw_fd()).write(b"hello").unwrap();
        ch.fill(Io::Sock(b.as_raw_fd())).unwrap();
        ch.fall_back_to_copy().unwrap();
        assert!(ch.is_copy());
        assert_eq!(ch.pending_bytes(), Some(&b"hello"[..]));
    }
}
