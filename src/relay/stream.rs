//! The network end of a served session, as a byte stream.
//!
//! Sessions, the broker and the logs see a connection only through
//! [`Conn`]: non-blocking `read`, `write` and `shutdown_write`, plus the fd
//! to register with the loop: a plain socket, one peer of a shared UDP
//! socket, or a TLS session ([`TlsStream`]: rustls over the socket, its
//! handshake and client checks driven to the end by the listener before
//! the session starts, its records moved as the socket allows). Code that
//! serves a `Conn` calls [`Conn::flush`] when the socket turns writable
//! (TLS records sealed and not yet sent), after its writes (a TLS write
//! seals behind what waits, so that it all leaves in one send), and
//! [`Conn::take_kick`] after each step (plaintext or records may wait in
//! the record layer or the socket with no event to come).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use socket2::{SockAddr, Socket};

use crate::net::tls::record;
use crate::net::tls::session::{Progress, Session};
use crate::relay::client_checks::ClientChecks;
use crate::relay::endpoint::Endpoint;
use crate::relay::stdio::{self, cvt};
use crate::relay::tls_stream::{Got, TlsEnd, Voice};
use crate::report::tls as tls_report;

/// Socket reads one [`TlsStream`] read makes before it yields (a peer
/// sending records without plaintext does not hold the loop).
const TLS_READS_PER_CALL: usize = 16;

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
    /// A TLS session: reads and writes are plaintext.
    Tls(Box<TlsStream>),
}

/// A TLS session over a connected socket, as a non-blocking byte stream.
///
/// - [`TlsStream::handshake`]: a listener drives the handshake and its
///   client checks to the end before anything else (`serve::handshake::Handshake`
///   does, with its deadline): no child, no broker membership before;
///   then the session moves to ncrab's record layer (a [`TlsEnd`]: two
///   buffers of [`RECORDS_BUF`]);
/// - `read`: plaintext; `Ok(0)` is the peer's end of stream, a
///   close_notify or a bare FIN (libtls treats both as EOF); a TLS error
///   after the handshake prints one line (the client relay's words) and
///   fails this call and every later one;
/// - `write`: plaintext, sealed as far as the record buffer takes it;
/// - `flush`/`flushed`: sealed records go out as the socket allows;
/// - `shutdown_write`: close_notify, then FIN once it has gone out;
/// - `take_kick`: true once after the handshake finished, after a read
///   that yielded with socket data left, or after a read that sealed a
///   record of its own (read and flush again whatever the events).
pub struct TlsStream {
    state: State,
    fd: RawFd,
    /// A listener's checks of the client's certificate, after the handshake.
    checks: Option<Rc<ClientChecks>>,
    kick: bool,
}

/// Records buffered per direction of a served TLS session: two records,
/// so that many sessions stay small.
const RECORDS_BUF: usize = 2 * record::OUTPUT_MIN;

enum State {
    Handshake(Box<Session>),
    /// The session's byte stream (it keeps its own failure state).
    Records(Box<TlsEnd>),
    /// The handshake or the checks failed.
    Failed(Socket),
    /// Only while the state moves on.
    Moving,
}

impl TlsStream {
    /// `s` handshaking (a listener's session; `checks` after it), or with
    /// its handshake done (`checks` None, the client checked it).
    pub fn new(s: Session, checks: Option<Rc<ClientChecks>>) -> TlsStream {
        TlsStream {
            fd: s.sock.as_raw_fd(),
            state: State::Handshake(Box::new(s)),
            checks,
            kick: false,
        }
    }

    /// Drives the handshake and then the listener's client checks:
    /// `Ok(true)` once both are done, `Ok(false)` while it waits for the
    /// socket, `Err` when it failed (its line printed).
    pub fn handshake(&mut self) -> Result<bool, ()> {
        match self.ready() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(_) => Err(()),
        }
    }

    /// The socket under the session (to register).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The socket under the session (for addresses).
    pub fn socket(&self) -> Option<&Socket> {
        match &self.state {
            State::Handshake(s) => Some(&s.sock),
            State::Records(t) => Some(t.socket()),
            State::Failed(sock) => Some(sock),
            State::Moving => None,
        }
    }

    /// Nothing waits to be written (or the stream failed).
    pub fn flushed(&self) -> bool {
        match &self.state {
            State::Handshake(s) => !s.conn.wants_write(),
            State::Records(t) => t.flushed(),
            State::Failed(_) | State::Moving => true,
        }
    }

    /// True once after the handshake finished, after a read that
    /// yielded with records left, or after one that sealed a record.
    pub fn take_kick(&mut self) -> bool {
        std::mem::take(&mut self.kick)
    }

    fn failed() -> io::Error {
        io::Error::from(io::ErrorKind::ConnectionAborted)
    }

    /// Ends the handshake: the socket stays (to deregister and close).
    fn fail(&mut self) -> io::Error {
        if let State::Handshake(s) = std::mem::replace(&mut self.state, State::Moving) {
            self.state = State::Failed(s.sock);
        }
        Self::failed()
    }

    /// Drives the handshake and the checks, then hands the session to
    /// the record layer; its stream once it is there (and has not
    /// failed).
    fn ready(&mut self) -> io::Result<&mut TlsEnd> {
        if let State::Handshake(s) = &mut self.state {
            if s.conn.is_handshaking() || s.conn.wants_write() {
                match s.drive() {
                    Progress::Wait(_) => return Err(io::ErrorKind::WouldBlock.into()),
                    Progress::Failed(e) => {
                        tls_report::handshake_failed(&e);
                        return Err(self.fail());
                    }
                    Progress::Done => {}
                }
            }
            if let Some(c) = self.checks.take() {
                if !c.check(s) {
                    s.send_last();
                    return Err(self.fail());
                }
            }
            let State::Handshake(s) = std::mem::replace(&mut self.state, State::Moving) else {
                return Err(Self::failed());
            };
            match s.into_records(RECORDS_BUF, RECORDS_BUF) {
                Ok((sock, rec)) => {
                    self.state = State::Records(Box::new(TlsEnd::new(sock, rec, Voice::Served)));
                    self.kick = true;
                }
                Err((sock, e)) => {
                    self.state = State::Failed(sock);
                    tls_report::handshake_failed(&tls_report::HandshakeError::Tls(e));
                    return Err(Self::failed());
                }
            }
        }
        match &mut self.state {
            State::Records(t) if !t.is_failed() => Ok(t),
            _ => Err(Self::failed()),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let waiting = self.ready()?.unwritten();
        let r = self.read_records(buf);
        // A KeyUpdate or a warning of ours, sealed while reading: it
        // leaves with the next write, or at the caller's flush, which the
        // kick brings (not in a send of its own that Nagle would make the
        // next records wait behind). (Records already waiting go when the
        // socket turns writable.)
        if let State::Records(t) = &self.state {
            if !waiting && t.unwritten() {
                self.kick = true;
            }
        }
        r
    }

    fn read_records(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let t = self.ready()?;
        for _ in 0..TLS_READS_PER_CALL {
            match t.read_step(buf) {
                Got::Data(n) => return Ok(n),
                Got::End { .. } => return Ok(0),
                Got::Failed => return Err(Self::failed()),
                Got::Filled(_) => {}
                Got::Io(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Got::Io(e) => return Err(e),
            }
        }
        // Records without plaintext kept coming: let the other sessions
        // have their turn, and come back without waiting for an event.
        self.kick = true;
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// Seals `buf` behind what already waits (the handshake's last
    /// flight, a KeyUpdate, records the socket did not take), so that all
    /// of it leaves in one send; only when the buffer was full is it
    /// flushed first.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ready()?;
        let mut n = self.seal(buf)?;
        let flushed = self.flush()?;
        if n == 0 && !buf.is_empty() {
            if !flushed {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            n = self.seal(buf)?;
            self.flush()?;
        }
        Ok(n)
    }

    /// Seals what of `buf` the record buffer takes.
    fn seal(&mut self, buf: &[u8]) -> io::Result<usize> {
        let t = self.ready()?;
        match t.write(buf) {
            Ok(n) => Ok(n),
            Err(()) => {
                // (The close_notify of a key at its record limit, or our
                // alert, if the socket takes it.)
                t.flush_now();
                t.fail();
                Err(Self::failed())
            }
        }
    }

    /// Writes what is sealed; true when nothing is left (and then the FIN
    /// of a finished stream has gone out).
    fn flush(&mut self) -> io::Result<bool> {
        let t = match self.ready() {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        };
        t.flush()?;
        Ok(t.flushed())
    }

    fn shutdown_write(&mut self) {
        match &mut self.state {
            State::Records(t) if !t.is_failed() => {
                t.close_notify_then_fin();
                let _ = t.flush();
            }
            _ => {
                // SAFETY: shutdown on the session's own socket.
                unsafe { libc::shutdown(self.fd, libc::SHUT_WR) };
            }
        }
    }
}

impl Conn {
    /// True once after a TLS handshake finished, after a TLS read that
    /// yielded with records left, or after one that sealed a record of its
    /// own (a KeyUpdate): read and write again whatever the events.
    pub fn take_kick(&mut self) -> bool {
        match self {
            Conn::Tls(t) => t.take_kick(),
            _ => false,
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

    /// A (connected) datagram socket: one read is one datagram, one write
    /// one datagram, and there is no end of stream.
    pub fn is_datagram(&self) -> bool {
        match self {
            Conn::Plain(s) => matches!(s.r#type(), Ok(t) if t == socket2::Type::DGRAM),
            Conn::Peer { .. } => true,
            Conn::Tls(_) => false,
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Conn::Plain(s) => s.local_addr().ok().and_then(|a| a.as_socket()),
            Conn::Peer { sock, .. } => sock.local_addr().ok().and_then(|a| a.as_socket()),
            Conn::Tls(t) => t.socket()?.local_addr().ok().and_then(|a| a.as_socket()),
        }
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Conn::Plain(s) => s.peer_addr().ok().and_then(|a| a.as_socket()),
            Conn::Peer { peer, .. } => peer.as_socket(),
            Conn::Tls(t) => t.socket()?.peer_addr().ok().and_then(|a| a.as_socket()),
        }
    }
}

impl Endpoint for Conn {
    fn fd(&self) -> RawFd {
        match self {
            Conn::Plain(s) => s.as_raw_fd(),
            Conn::Peer { sock, .. } => sock.as_raw_fd(),
            Conn::Tls(t) => t.fd(),
        }
    }

    /// Writes what a TLS session holds (call it when the socket turns
    /// writable); true when nothing is left to write.
    fn flush(&mut self) -> io::Result<bool> {
        match self {
            Conn::Tls(t) => t.flush(),
            _ => Ok(true),
        }
    }

    /// Nothing is waiting to be written below the caller's buffers.
    fn flushed(&self) -> bool {
        match self {
            Conn::Tls(t) => t.flushed(),
            _ => true,
        }
    }

    /// One non-blocking read; `Ok(0)` is the peer's end of stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => stdio::recv(s.as_raw_fd(), buf),
            Conn::Peer { inbox, .. } => match inbox.pop_front() {
                Some(d) => {
                    let n = d.len().min(buf.len());
                    buf[..n].copy_from_slice(&d[..n]);
                    Ok(n)
                }
                None => Err(io::ErrorKind::WouldBlock.into()),
            },
            Conn::Tls(t) => t.read(buf),
        }
    }

    /// One non-blocking write (never SIGPIPE).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => stdio::send(s.as_raw_fd(), buf),
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
            Conn::Tls(t) => t.write(buf),
        }
    }

    /// Sends the end of stream (FIN), keeping the read side open.
    fn shutdown_write(&mut self) {
        match self {
            Conn::Plain(s) => {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            Conn::Peer { .. } => {}
            Conn::Tls(t) => t.shutdown_write(),
        }
    }
}
