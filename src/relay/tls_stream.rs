//! One TLS byte stream after the handshake, for both users of it: the
//! client's (and `nc -lc`'s) relay ([`crate::relay::tls::TlsRelay`]) and a
//! served session ([`crate::relay::stream::TlsStream`]). What the stream
//! is, is here once:
//!
//! - the socket and its record layer ([`Records`]: records read and
//!   decrypted in place, records sealed, two fixed buffers);
//! - reading: plaintext already decrypted, else the next record, else one
//!   read(2) of the socket ([`TlsEnd::read_step`]); a close_notify is the
//!   peer's end of stream, and so is a bare FIN (libtls treats it so);
//! - our end of the write side: close_notify, then FIN once every sealed
//!   record (and it) has left ([`TlsEnd::close_notify_then_fin`],
//!   [`TlsEnd::flush`]), or close_notify alone at the session's end
//!   ([`TlsEnd::close_notify`], libtls's `tls_close`);
//! - the failure state: after a TLS error (its line said in the user's
//!   words, [`Voice`]) or a socket that can no longer be written, nothing
//!   more is sealed, read or written; our fatal alert goes if the socket
//!   takes it at once;
//! - whether anything waits for the socket ([`TlsEnd::unwritten`],
//!   [`TlsEnd::flushed`]).
//!
//! What follows from an end or an error (nc's rules, a session's end) is
//! the user's.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use socket2::Socket;

use crate::net::tls::record::{self, Records};
use crate::report::tls::{self as tls_report, StreamError};

/// Whose words a TLS error after the handshake is said in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voice {
    /// The client's or `-lc`'s relay: OpenBSD's `tls read failed (REASON)`
    /// (the run then exits 1).
    Relay,
    /// A served session: `\tTLS error: REASON` (that session ends, the
    /// listener goes on).
    Served,
}

/// What one [`TlsEnd::read_step`] found.
#[derive(Debug)]
pub enum Got {
    /// Plaintext copied out.
    Data(usize),
    /// The peer's end of stream: its close_notify, or (`truncated`) a FIN
    /// without one.
    End { truncated: bool },
    /// A TLS error (said, in the stream's [`Voice`]): the stream failed.
    Failed,
    /// One read(2) of the socket took this many bytes (0: its EOF, seen
    /// as [`Got::End`] once the records before it are read).
    Filled(usize),
    /// The read(2) failed (`WouldBlock` and `Interrupted` included).
    Io(io::Error),
}

/// A TLS session's byte stream over its socket (see the module).
pub struct TlsEnd {
    /// Owned here: closed when the stream is dropped.
    sock: Socket,
    rec: Records,
    voice: Voice,
    /// The socket said EOF (the records before it are read first).
    eof: bool,
    /// Our write side is ending: close_notify queued, FIN to follow.
    shut: bool,
    /// The FIN goes once every sealed record has left.
    fin_pending: bool,
    /// The socket can no longer be written.
    write_dead: bool,
    /// The stream failed: nothing more is sealed, read or written.
    failed: bool,
}

impl TlsEnd {
    pub fn new(sock: Socket, rec: Records, voice: Voice) -> TlsEnd {
        TlsEnd {
            sock,
            rec,
            voice,
            eof: false,
            shut: false,
            fin_pending: false,
            write_dead: false,
            failed: false,
        }
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    /// The session's error, once it failed in the record layer.
    pub fn error(&self) -> Option<&rustls::Error> {
        self.rec.error()
    }

    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// The socket said EOF.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Our write side is ending ([`TlsEnd::close_notify_then_fin`]).
    pub fn is_shut(&self) -> bool {
        self.shut
    }

    /// Sealed records wait for the socket (and can still go).
    pub fn unwritten(&self) -> bool {
        !self.failed && !self.write_dead && self.rec.wants_write()
    }

    /// Nothing waits to be written (or nothing can be): no sealed record,
    /// no FIN.
    pub fn flushed(&self) -> bool {
        !self.unwritten() && !self.fin_pending
    }

    /// The stream failed (its line said): nothing more goes either way.
    pub fn fail(&mut self) {
        self.failed = true;
        self.fin_pending = false;
    }

    /// Seals as much of `data` as the record buffer takes (0 when it is
    /// full). Err when nothing more can be sealed: the session failed
    /// ([`TlsEnd::error`]), or close_notify is due (a TLS 1.2 key at its
    /// record limit).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, ()> {
        if self.failed {
            return Err(());
        }
        self.rec.write(data)
    }

    /// Sealed records to the socket, as far as it takes them, then the
    /// FIN of a write side that ended once all have left; the bytes
    /// written. A failure leaves the socket unwritable (the caller says
    /// whether that is worth a line).
    pub fn flush(&mut self) -> io::Result<usize> {
        if self.failed || self.write_dead {
            return Ok(0);
        }
        let mut n = 0;
        if self.rec.wants_write() {
            match self.rec.flush(self.sock.as_raw_fd()) {
                Ok(w) => n = w,
                Err(e) => {
                    self.write_dead = true;
                    self.fin_pending = false;
                    return Err(e);
                }
            }
        }
        if !self.rec.wants_write() && std::mem::take(&mut self.fin_pending) {
            self.shutdown(libc::SHUT_WR);
        }
        Ok(n)
    }

    /// Writes what the socket takes now, a failure unsaid (what is left
    /// then is our close_notify or alert, as nc ignores tls_close's
    /// failure).
    pub fn flush_now(&mut self) {
        if !self.failed && !self.write_dead {
            let _ = self.rec.flush(self.sock.as_raw_fd());
        }
    }

    /// Ends our write side: close_notify after what is sealed, then FIN
    /// once it has left (see [`TlsEnd::flush`]).
    pub fn close_notify_then_fin(&mut self) {
        self.shut = true;
        self.fin_pending = true;
        self.rec.send_close_notify();
    }

    /// The session's close_notify (libtls's `tls_close`), if it can still
    /// go.
    pub fn close_notify(&mut self) {
        if !self.failed && !self.write_dead {
            self.rec.send_close_notify();
        }
    }

    /// shutdown(2) of the socket; errors are ignored as in nc.
    pub fn shutdown(&self, how: i32) {
        // SAFETY: shutdown on our own socket.
        unsafe { libc::shutdown(self.sock.as_raw_fd(), how) };
    }

    /// Plaintext into `buf`: what is decrypted, else the next record,
    /// else one read(2) of the socket.
    pub fn read_step(&mut self, buf: &mut [u8]) -> Got {
        match self.rec.read(buf) {
            record::Read::Data(n) => return Got::Data(n),
            record::Read::CloseNotify => return Got::End { truncated: false },
            record::Read::Failed => {
                // A bad record, an unexpected message, the peer's alert
                // (the record layer keeps the error it failed on): one
                // line; our alert goes if the socket takes it.
                if let Some(e) = self.rec.error() {
                    match self.voice {
                        Voice::Relay => tls_report::read_failed(StreamError::Tls(e)),
                        Voice::Served => tls_report::stream_error(e),
                    }
                }
                self.flush_now();
                self.fail();
                return Got::Failed;
            }
            record::Read::NeedMore => {}
        }
        if self.eof {
            return Got::End { truncated: true };
        }
        match self.rec.fill(self.sock.as_raw_fd()) {
            Ok(0) => {
                self.eof = true;
                Got::Filled(0)
            }
            Ok(n) => Got::Filled(n),
            Err(e) => Got::Io(e),
        }
    }
}
