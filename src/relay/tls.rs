//! The TLS relay: standard input into the session, the session out to
//! standard output, with nc's end-of-file rules.
//!
//! The plain relay ([`crate::relay::Relay`]) takes level-triggered snapshots of
//! the socket; here the socket's readiness says little (a readable socket
//! may hold half a record, plaintext may wait in the record layer with
//! nothing on the socket), so each pass simply tries every move that has
//! room, until none makes progress, and then waits for the readiness its
//! state derives: stdin readable while it has room, the socket readable
//! while the output buffer has room, writable while sealed records wait,
//! stdout writable while plaintext waits. nc's four ends and its rules on
//! them are kept as in `readwrite` (docs/compatibility.md §6.1):
//!
//! - stdin's EOF with its buffer empty ends the network's write side;
//!   with `-N` that is close_notify, then shutdown(SHUT_WR) once it left
//!   (docs/compatibility.md departure 18);
//! - a received close_notify is the network's EOF, and so is a bare FIN
//!   (libtls treats it so; `-vv` notes the truncation);
//! - a TLS error ends the network's read side only after every byte
//!   decrypted before it went to stdout;
//! - `-q`, `-w`, `-d`, `-W` and the listener's rules as in the plain relay
//!   (the end-of-session part is the same code, [`crate::relay::rules`]);
//!   `-C` as in the plain relay (on the plaintext). `-t` and `-i` are
//!   refused with `-c` (`cli`).
//!
//! Both directions go through fixed buffers: one [`Buf`] of [`BUF`] bytes
//! of plaintext per direction (the plain relay's copying buffer), and the
//! record layer's two ([`Records`]: records read and decrypted in place,
//! records sealed): no allocation per record.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use mio::Interest;
use socket2::Socket;

use crate::net::tls::record::{self, Records};
use crate::net::tls::session::Session;
use crate::relay::RelayOpts;
use crate::relay::buffer::Buf;
use crate::relay::filter::Crlf;
use crate::relay::log::{Dir, Log};
use crate::relay::rules::{Mover, NETIN, NETOUT, Rules, STDIN, STDOUT};
use crate::relay::stdio::{Kind, Stdio};
use crate::report::tls as tls_report;
use crate::sys::reactor::{self, Ctx, would_block};

/// Plaintext buffered per direction.
const BUF: usize = 256 * 1024;
/// Sealed records waiting for the socket, at most (and records read
/// from it: one read(2) takes many).
const RECORDS_BUF: usize = 256 * 1024;
/// Reads of the socket in one pass, at most.
const READS_PER_PASS: usize = 64;

/// One relay over a TLS session (its [`crate::sys::reactor::Machine`] is
/// [`crate::relay::rules`]'s, for a [`Mover`]).
pub struct TlsRelay<'a> {
    /// Owned here: closed when the relay ends.
    sock: Socket,
    rec: Records,
    /// close_notify went (or the session failed): nothing more is sealed.
    session_closed: bool,
    stdin: &'a Stdio,
    stdout: &'a Stdio,
    opts: RelayOpts,
    rules: Rules,
    up: Buf,
    down: Buf,
    /// `-N`: close_notify queued, SHUT_WR once it has left.
    shut_wr_pending: bool,
    /// The socket can no longer be written.
    sock_write_dead: bool,
    /// `-C`: LF from stdin goes out as CR LF.
    crlf: Option<Crlf>,
    /// The socket said EOF (the records before it are read first).
    raw_eof: bool,
    log: Option<&'a Log>,
}

impl<'a> TlsRelay<'a> {
    /// The relay of `s`, its handshake over; Err (its line printed) when
    /// the session cannot be handed to the record layer.
    pub fn new(
        s: Session,
        stdin: &'a Stdio,
        stdout: &'a Stdio,
        opts: RelayOpts,
    ) -> Result<Self, ()> {
        let (sock, rec) = match s.into_records(RECORDS_BUF, RECORDS_BUF) {
            Ok(r) => r,
            Err((_, e)) => {
                tls_report::handshake_failed(&tls_report::HandshakeError::Tls(e));
                return Err(());
            }
        };
        // A pipe on either side: a larger pipe buffer lets one read or
        // write move a whole buffer's worth (the plain relay's splice
        // path sizes its own pipes the same way).
        for io in [stdin, stdout] {
            if io.kind == Kind::Pipe {
                // SAFETY: fcntl on our own fd; a refusal changes nothing.
                unsafe { libc::fcntl(io.fd, libc::F_SETPIPE_SZ, BUF as libc::c_int) };
            }
        }
        Ok(TlsRelay {
            sock,
            rec,
            session_closed: false,
            stdin,
            stdout,
            opts,
            rules: Rules::new(&opts),
            up: Buf::new(BUF),
            down: Buf::new(BUF),
            shut_wr_pending: false,
            sock_write_dead: false,
            crlf: opts.crlf.then(Crlf::new),
            raw_eof: false,
            log: None,
        })
    }

    /// Records the plaintext that passes in the session log.
    pub fn with_log(mut self, log: Option<&'a Log>) -> Self {
        self.log = log;
        self
    }

    fn shutdown(&self, how: i32) {
        // SAFETY: shutdown on our own socket; errors are ignored as in nc.
        unsafe { libc::shutdown(self.sock.as_raw_fd(), how) };
    }

    /// Closes the network's read side (nc: shutdown(SHUT_RD) on EOF).
    fn close_netin(&mut self) {
        if self.rules.open[NETIN] {
            self.shutdown(libc::SHUT_RD);
        }
        self.rules.open[NETIN] = false;
    }

    /// One pass: every move with room. True when something moved.
    fn moves(&mut self) -> bool {
        if self.session_closed {
            return false;
        }
        let mut progress = false;

        // stdin -> up
        if self.rules.open[STDIN] && self.up.has_room() {
            match self.stdin.read(self.up.space()) {
                Ok(0) => {
                    self.rules.open[STDIN] = false;
                    progress = true;
                }
                Ok(n) => {
                    self.up.filled(n);
                    progress = true;
                }
                Err(e) if would_block(&e) => {}
                Err(_) => {
                    self.rules.open[STDIN] = false;
                    progress = true;
                }
            }
        }
        // up -> records (bounded by the record layer's buffer)
        if self.rules.open[NETOUT] && !self.up.is_empty() {
            let pending = self.up.pending();
            let log = self.log;
            let rec = &mut self.rec;
            let moved = match self.crlf.as_mut() {
                Some(c) => {
                    let wire_bytes = c.encode(pending);
                    match rec.write(wire_bytes) {
                        Ok(wire) => {
                            if let Some(l) = log {
                                l.record(Dir::Sent, &wire_bytes[..wire]);
                            }
                            Ok((c.commit(pending, wire), wire))
                        }
                        Err(()) => Err(()),
                    }
                }
                None => rec.write(pending).map(|n| {
                    if let Some(l) = log {
                        l.record(Dir::Sent, &pending[..n]);
                    }
                    (n, n)
                }),
            };
            match moved {
                Ok((n, wire)) if wire > 0 => {
                    self.up.consumed(n);
                    self.rules.sent += wire as u64;
                    progress = true;
                }
                Ok(_) => {}
                Err(()) => {
                    // The session failed: nothing more can be sent.
                    self.rules.open[NETOUT] = false;
                    progress = true;
                }
            }
        }
        // records -> socket
        if !self.sock_write_dead && self.rec.wants_write() {
            match self.rec.flush(self.sock.as_raw_fd()) {
                Ok(n) => progress |= n > 0,
                Err(_) => {
                    self.sock_write_dead = true;
                    self.rules.open[NETOUT] = false;
                    self.shut_wr_pending = false;
                    progress = true;
                }
            }
        }
        if self.shut_wr_pending && !self.rec.wants_write() {
            self.shut_wr_pending = false;
            self.shutdown(libc::SHUT_WR);
        }

        // socket -> records -> down
        progress |= self.receive();
        // down -> stdout
        if self.rules.open[STDOUT] && !self.down.is_empty() {
            match self.stdout.write(self.down.pending()) {
                Ok(n) => {
                    self.down.consumed(n);
                    progress = progress || n > 0;
                }
                Err(e) if would_block(&e) => {}
                Err(_) => {
                    self.rules.open[STDOUT] = false;
                    progress = true;
                }
            }
        }

        // nc's rules.
        if !self.rules.open[NETOUT] {
            self.rules.open[STDIN] = false;
        }
        if !self.rules.open[STDOUT] && self.rules.open[NETIN] {
            self.close_netin();
        }
        if !self.rules.open[STDIN] && self.up.is_empty() {
            if self.rules.open[NETOUT] && (self.opts.shutdown_on_eof || self.opts.send_only) {
                self.rec.send_close_notify();
                self.shut_wr_pending = true;
                progress = true;
            }
            self.rules.open[NETOUT] = false;
            // --send-only: the session is over once stdin is sent.
            if self.opts.send_only && self.rules.open[NETIN] {
                self.close_netin();
                progress = true;
            }
            if self.opts.listen
                && self.rules.open[NETIN]
                && self.opts.quit_after >= 0
                && self.down.is_empty()
            {
                self.close_netin();
                self.rules.clear_keep = true;
            }
        }
        if !self.rules.open[NETIN] && self.down.is_empty() {
            self.rules.open[STDOUT] = false;
        }
        progress
    }

    /// The network into `down`: decrypted plaintext first, then the
    /// records buffered, then one read(2) of the socket, as long as
    /// `down` has room. True when something moved.
    fn receive(&mut self) -> bool {
        let mut progress = false;
        for _ in 0..READS_PER_PASS {
            if !self.rules.open[NETIN] || !self.down.has_room() {
                break;
            }
            match self.rec.read(self.down.space()) {
                record::Read::Data(n) => {
                    self.down.filled(n);
                    if let Some(l) = self.log {
                        let p = self.down.pending();
                        l.record(Dir::Received, &p[p.len() - n..]);
                    }
                    self.rules.received += n as u64;
                    progress = true;
                    continue;
                }
                record::Read::CloseNotify => {
                    self.close_netin();
                    return true;
                }
                record::Read::Failed => {
                    if let (true, Some(e)) = (self.opts.summary, self.rec.error()) {
                        tls_report::stream_error(e);
                    }
                    // (Our alert, if the socket takes it.)
                    let _ = self.rec.flush(self.sock.as_raw_fd());
                    self.close_netin();
                    return true;
                }
                record::Read::NeedMore => {}
            }
            if self.raw_eof {
                // The socket ended without close_notify: its EOF all the
                // same, as libtls treats it.
                if self.opts.summary {
                    tls_report::truncated();
                }
                self.close_netin();
                return true;
            }
            match self.rec.fill(self.sock.as_raw_fd()) {
                Ok(0) => self.raw_eof = true,
                Ok(_) => self.count_read(),
                Err(e) if would_block(&e) => return progress,
                Err(_) => self.raw_eof = true,
            }
            progress = true;
        }
        progress
    }

    /// `-W`: network reads before the end.
    fn count_read(&mut self) {
        if self.rules.count_read() {
            self.close_netin();
            self.rules.open[STDIN] = false;
        }
    }

    /// Ends the session as libtls's tls_close does: close_notify, sent if
    /// the socket takes it now.
    fn close_session(&mut self) {
        if !std::mem::replace(&mut self.session_closed, true) && !self.sock_write_dead {
            self.rec.send_close_notify();
            let _ = self.rec.flush(self.sock.as_raw_fd());
        }
    }
}

impl Mover for TlsRelay<'_> {
    fn rules(&mut self) -> &mut Rules {
        &mut self.rules
    }

    fn drained(&self) -> bool {
        self.up.is_empty() && self.down.is_empty()
    }

    fn pass(&mut self, _cx: &mut Ctx<'_>) -> io::Result<bool> {
        Ok(self.moves())
    }

    fn fds(&self) -> [RawFd; 3] {
        [self.stdin.fd, self.sock.as_raw_fd(), self.stdout.fd]
    }

    fn interest(&self) -> [Option<Interest>; 3] {
        let open = &self.rules.open;
        let stdin_want = open[STDIN] && self.up.has_room() && self.stdin.pollable();
        let (read, write) = if self.session_closed {
            (false, false)
        } else {
            (
                open[NETIN] && self.down.has_room() && !self.raw_eof,
                !self.sock_write_dead && self.rec.wants_write(),
            )
        };
        let stdout_want = open[STDOUT] && !self.down.is_empty() && self.stdout.pollable();
        [
            reactor::interest(stdin_want, false),
            reactor::interest(read, write),
            reactor::interest(false, stdout_want),
        ]
    }

    fn close(&mut self) {
        self.close_session();
        self.up.clear();
        self.down.clear();
    }

    fn end(&mut self) {
        self.close_session();
    }
}
