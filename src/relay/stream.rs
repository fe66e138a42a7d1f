//! The network end of a served session, as a byte stream.
//!
//! Sessions, the broker and the logs see a connection only through
//! [`Conn`]: non-blocking `read`, `write` and `shutdown_write`, plus the fd
//! to register with the loop. Today it is a plain socket; a TLS session
//! (rustls over the same socket) becomes one more variant whose reads
//! and writes go through the TLS state machine, without any change to the
//! code that serves it.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use socket2::{SockAddr, Socket};

/// Datagrams waiting for a `-luk --exec` session (past it, dropped: UDP).
pub const PEER_INBOX: usize = 64;

/// A connected, non-blocking byte stream.
pub enum Conn {
    Plain(Socket),
    /// One peer of an unconnected UDP socket shared by many sessions
    /// (`-luk --exec`): the server hands it the peer's datagrams
    /// ([`Conn::deliver`]); writes go to the peer with `sendto`.
    Peer {
        sock: Rc<Socket>,
        peer: SockAddr,
        inbox: VecDeque<Vec<u8>>,
    },
}

fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl Conn {
    pub fn fd(&self) -> RawFd {
        match self {
            Conn::Plain(s) => s.as_raw_fd(),
            Conn::Peer { sock, .. } => sock.as_raw_fd(),
        }
    }

    /// The fd is shared with other sessions: its owner registers it.
    pub fn is_shared(&self) -> bool {
        matches!(self, Conn::Peer { .. })
    }

    /// A datagram from the peer, for a shared socket's session. False when
    /// the inbox is full (the datagram is dropped, as UDP may).
    pub fn deliver(&mut self, d: Vec<u8>) -> bool {
        match self {
            Conn::Peer { inbox, .. } if inbox.len() < PEER_INBOX => {
                inbox.push_back(d);
                true
            }
            _ => false,
        }
    }

    /// One non-blocking read; `Ok(0)` is the peer's end of stream.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            // SAFETY: buf is valid for buf.len() bytes.
            Conn::Plain(s) => cvt(unsafe {
                libc::recv(
                    s.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            }),
            Conn::Peer { inbox, .. } => match inbox.pop_front() {
                Some(d) => {
                    let n = d.len().min(buf.len());
                    buf[..n].copy_from_slice(&d[..n]);
                    Ok(n)
                }
                None => Err(io::ErrorKind::WouldBlock.into()),
            },
        }
    }

    /// One non-blocking write (never SIGPIPE).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            // SAFETY: buf is valid for buf.len() bytes.
            Conn::Plain(s) => cvt(unsafe {
                libc::send(
                    s.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            }),
            // SAFETY: buf is valid for buf.len() bytes; the address is a
            // valid sockaddr of its stated length.
            Conn::Peer { sock, peer, .. } => cvt(unsafe {
                libc::sendto(
                    sock.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                    peer.as_ptr().cast(),
                    peer.len(),
                )
            }),
        }
    }

    /// Sends the end of stream (FIN), keeping the read side open.
    pub fn shutdown_write(&mut self) {
        match self {
            Conn::Plain(s) => {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            Conn::Peer { .. } => {}
        }
    }

    /// A (connected) datagram socket: one read is one datagram, one write
    /// one datagram, and there is no end of stream.
    pub fn is_datagram(&self) -> bool {
        match self {
            Conn::Plain(s) => matches!(s.r#type(), Ok(t) if t == socket2::Type::DGRAM),
            Conn::Peer { .. } => true,
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Conn::Plain(s) => s.local_addr().ok().and_then(|a| a.as_socket()),
            Conn::Peer { sock, .. } => sock.local_addr().ok().and_then(|a| a.as_socket()),
        }
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Conn::Plain(s) => s.peer_addr().ok().and_then(|a| a.as_socket()),
            Conn::Peer { peer, .. } => peer.as_socket(),
        }
    }
}

/// A fixed-size byte buffer with a read and a write position.
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
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    pub fn has_room(&self) -> bool {
        self.start > 0 || self.end < self.data.len()
    }
    pub fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
    /// Free space at the end, compacting first when that frees more.
    pub fn space(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.data[self.end..]
    }
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
