//! An end a relay moves bytes to and from, whatever is under it: a
//! socket, one peer of a shared UDP socket or a served TLS session (all
//! three [`Conn`]), a child's pipe ([`OwnedFd`]), standard input or
//! output ([`Stdio`]).
//!
//! Every call is non-blocking: `read`'s `Ok(0)` is the end of stream,
//! `WouldBlock` says to wait for the readiness [`Endpoint::pollable`]
//! says can be waited for. An end that buffers below its caller (TLS:
//! sealed records, the handshake's flight, close_notify and the FIN after
//! it) says so in [`Endpoint::flushed`] and moves it in
//! [`Endpoint::flush`].

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::relay::stdio::{Stdio, cvt};

pub trait Endpoint {
    /// The fd to register with the loop.
    fn fd(&self) -> RawFd;

    /// One non-blocking read; `Ok(0)` is the end of stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// One non-blocking write.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Ends the write side (FIN; TLS: close_notify, then FIN), keeping
    /// the read side open.
    fn shutdown_write(&mut self) {}

    /// Writes what the end holds below its caller; true when nothing is
    /// left.
    fn flush(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// Nothing waits below the caller's buffers.
    fn flushed(&self) -> bool {
        true
    }

    /// Its readiness can be waited for (a regular file's cannot: it is
    /// always ready).
    fn pollable(&self) -> bool {
        true
    }
}

/// A child's pipe (its stdin to write, its stdout to read).
impl Endpoint for OwnedFd {
    fn fd(&self) -> RawFd {
        self.as_raw_fd()
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_fd(self.as_raw_fd(), buf)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_fd(self.as_raw_fd(), buf)
    }
}

impl Endpoint for &Stdio {
    /// (The fd whose readiness counts, nc's fd 0 or 1: see
    /// [`Stdio::poll_fd`].)
    #[allow(clippy::misnamed_getters)]
    fn fd(&self) -> RawFd {
        self.poll_fd
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Stdio::read(self, buf)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Stdio::write(self, buf)
    }
    fn pollable(&self) -> bool {
        Stdio::pollable(self)
    }
}

/// One non-blocking read(2) from a pipe or other fd.
pub fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// One non-blocking write(2) to a pipe or other fd.
pub fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}
