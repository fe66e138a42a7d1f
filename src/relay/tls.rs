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
//! - stdin's EOF with its buffer sealed and every sealed record written
//!   ends the network's write side (the records are the rest of nc's
//!   stdin buffer: nothing counted as sent is dropped); with `-N` that is
//!   close_notify after the data, then shutdown(SHUT_WR) once it left
//!   (docs/compatibility.md departure 18);
//! - a received close_notify is the network's EOF, and so is a bare FIN
//!   (libtls treats it so; `-vv` notes the truncation);
//! - a TLS error after the handshake (a bad record, the peer's fatal
//!   alert, a reset) is OpenBSD's `tls read failed (REASON)`, and a
//!   failed write `tls write failed (REASON)`: the session is over, every
//!   byte decrypted before the error still goes to stdout, and the run
//!   then exits 1 ([`crate::relay::End::Failed`], nc's `errx`);
//! - the session ends with close_notify (libtls's `tls_close`), and the
//!   relay ends only once it has left, or the socket failed, or `-w` ran
//!   out ([`Mover::closing`]);
//! - `-q`, `-w`, `-d`, `-W` and the listener's rules as in the plain relay
//!   (the end-of-session part is the same code, [`crate::relay::rules`]);
//!   `-C` as in the plain relay (on the plaintext). `-t` and `-i` are
//!   refused with `-c` (`cli`).
//!
//! Both directions go through fixed buffers: a [`Pump`] of two
//! [`crate::relay::direction::Direction`]s of [`BUF`] bytes of plaintext
//! (stdin to the session, the session to stdout), and the record layer's
//! two under the session's [`TlsEnd`] (records read and decrypted in
//! place, records sealed): no allocation per record.

use std::io;
use std::os::fd::RawFd;

use mio::Interest;

use crate::net::tls::session::Session;
use crate::relay::RelayOpts;
use crate::relay::log::Log;
use crate::relay::pump::Pump;
use crate::relay::rules::{Mover, NETIN, NETOUT, NetEnd, Rules, STDIN, STDOUT};
use crate::relay::stdio::{Kind, Stdio};
use crate::relay::tls_stream::{Got, TlsEnd, Voice};
use crate::report::tls::{self as tls_report, StreamError};
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
    /// The session's byte stream (its socket is closed when the relay
    /// ends).
    tls: TlsEnd,
    /// The session is over: its close_notify is queued, nothing more is
    /// sealed or read, the records left only go out.
    ending: bool,
    stdin: &'a Stdio,
    stdout: &'a Stdio,
    opts: RelayOpts,
    rules: Rules,
    /// Stdin to the session (`-C`: LF goes out as CR LF), the session
    /// to stdout.
    pump: Pump,
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
            tls: TlsEnd::new(sock, rec, Voice::Relay),
            ending: false,
            stdin,
            stdout,
            opts,
            rules: Rules::new(&opts),
            pump: Pump::new(BUF, opts.crlf),
            log: None,
        })
    }

    /// Records the plaintext that passes in the session log.
    pub fn with_log(mut self, log: Option<&'a Log>) -> Self {
        self.log = log;
        self
    }

    /// Closes the network's read side (nc: shutdown(SHUT_RD) on EOF).
    fn close_netin(&mut self) {
        self.rules.close_netin(&mut self.tls);
    }

    /// The session failed, its line printed: nothing more goes to or
    /// comes from the network; what was decrypted before still goes to
    /// stdout, then the relay ends in [`crate::relay::End::Failed`].
    fn fail(&mut self) {
        self.tls.fail();
        self.rules.failed = true;
        self.close_netin();
        self.rules.open[NETOUT] = false;
        self.rules.open[STDIN] = false;
    }

    /// Sealed records to the socket, as far as it takes them (and -N's
    /// FIN after them). True when something moved (or the socket failed).
    fn flush(&mut self) -> bool {
        if !self.tls.unwritten() {
            return false;
        }
        match self.tls.flush() {
            Ok(n) => n > 0,
            Err(e) => {
                if self.rules.open[NETOUT] {
                    // Data (or -N's close_notify) was still to go.
                    tls_report::write_failed(StreamError::Io(&e));
                    self.fail();
                }
                // (Else only our last words were lost, as nc ignores
                // tls_close's failure; a reset shows on the read side.)
                true
            }
        }
    }

    /// One pass: every move with room. True when something moved.
    fn moves(&mut self) -> bool {
        if self.ending {
            return self.flush();
        }
        let mut progress = false;

        // stdin -> up
        if self.rules.open[STDIN] && self.pump.to_net.has_room() {
            match self.pump.read_local(&mut self.stdin, 1) {
                Ok(0) => {
                    self.rules.open[STDIN] = false;
                    progress = true;
                }
                Ok(_) => progress = true,
                Err(e) if would_block(&e) => {}
                Err(_) => {
                    self.rules.open[STDIN] = false;
                    progress = true;
                }
            }
        }
        // up -> records (bounded by the record layer's buffer)
        if self.rules.open[NETOUT] && !self.pump.to_net.is_empty() {
            progress |= self.seal();
        }
        // records -> socket
        progress |= self.flush();

        // socket -> records -> down
        progress |= self.receive();
        // down -> stdout
        if self.rules.open[STDOUT] && !self.pump.from_net.is_empty() {
            match self.pump.write_local(&mut self.stdout) {
                Ok(n) => progress = progress || n > 0,
                Err(e) if would_block(&e) => {}
                Err(_) => {
                    self.rules.open[STDOUT] = false;
                    progress = true;
                }
            }
        }

        // nc's rules.
        self.rules.propagate(&mut self.tls);
        let (up_empty, down_empty) = (self.pump.to_net.is_empty(), self.pump.from_net.is_empty());
        progress |= self
            .rules
            .settle(&mut self.tls, &self.opts, up_empty, down_empty);
        progress
    }

    /// Seals what `up` holds, as far as the record layer's buffer takes
    /// it. True when something moved (or the session failed).
    fn seal(&mut self) -> bool {
        let tls = &mut self.tls;
        match self
            .pump
            .to_net
            .send(self.log, usize::MAX, |wire| tls.write(wire))
        {
            Ok(s) if s.wire > 0 => {
                self.rules.sent += s.wire as u64;
                true
            }
            Ok(_) => false,
            Err(()) => {
                // The session failed: nothing more can be sent.
                match self.tls.error() {
                    Some(e) => {
                        tls_report::write_failed(StreamError::Tls(e));
                        self.fail();
                    }
                    None => self.rules.open[NETOUT] = false,
                }
                true
            }
        }
    }

    /// The network into `down`: decrypted plaintext first, then the
    /// records buffered, then one read(2) of the socket, as long as
    /// `down` has room. True when something moved.
    fn receive(&mut self) -> bool {
        let mut progress = false;
        for _ in 0..READS_PER_PASS {
            if !self.rules.open[NETIN] || !self.pump.from_net.has_room() {
                break;
            }
            match self.tls.read_step(self.pump.from_net.space(1)) {
                Got::Data(n) => {
                    self.pump.from_net.received(n, self.log);
                    self.rules.received += n as u64;
                    progress = true;
                    continue;
                }
                Got::End { truncated } => {
                    // (A bare FIN: its EOF all the same, as libtls
                    // treats it.)
                    if truncated && self.opts.summary {
                        tls_report::truncated();
                    }
                    self.close_netin();
                    return true;
                }
                Got::Failed => {
                    self.fail();
                    return true;
                }
                Got::Filled(0) => {}
                Got::Filled(_) => self.count_read(),
                Got::Io(e) if would_block(&e) => return progress,
                Got::Io(e) => {
                    // A reset: the session cannot end cleanly.
                    tls_report::read_failed(StreamError::Io(&e));
                    self.tls.flush_now();
                    self.fail();
                    return true;
                }
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

    /// The session's close_notify (libtls's tls_close), once; nothing
    /// more is sealed or read after it.
    fn queue_close_notify(&mut self) {
        if std::mem::replace(&mut self.ending, true) {
            return;
        }
        self.rules.open[STDIN] = false;
        self.rules.open[NETOUT] = false;
        self.tls.close_notify();
    }
}

impl Mover for TlsRelay<'_> {
    fn rules(&mut self) -> &mut Rules {
        &mut self.rules
    }

    fn drained(&self) -> bool {
        self.pump.is_empty() && !self.tls.unwritten()
    }

    fn closing(&mut self) -> bool {
        self.queue_close_notify();
        !self.tls.unwritten()
    }

    fn pass(&mut self, _cx: &mut Ctx<'_>) -> io::Result<bool> {
        Ok(self.moves())
    }

    fn fds(&self) -> [RawFd; 3] {
        [self.stdin.fd, self.tls.fd(), self.stdout.fd]
    }

    fn interest(&self) -> [Option<Interest>; 3] {
        let open = &self.rules.open;
        let stdin_want =
            !self.ending && open[STDIN] && self.pump.to_net.has_room() && self.stdin.pollable();
        let read =
            !self.ending && open[NETIN] && self.pump.from_net.has_room() && !self.tls.at_eof();
        let stdout_want = !self.ending
            && open[STDOUT]
            && !self.pump.from_net.is_empty()
            && self.stdout.pollable();
        [
            reactor::interest(stdin_want, false),
            reactor::interest(read, self.tls.unwritten()),
            reactor::interest(false, stdout_want),
        ]
    }

    /// `-q N > 0`: the session's end went out (see [`Mover::closing`]);
    /// what is left buffered is dropped.
    fn close(&mut self) {
        self.queue_close_notify();
        self.tls.flush_now();
        self.pump.clear();
    }

    /// The relay ends; when that was not through [`Mover::closing`] (`-w`
    /// ran out, the `-q` timer), close_notify goes if the socket takes it
    /// now.
    fn end(&mut self) {
        self.queue_close_notify();
        self.tls.flush_now();
    }
}

/// nc's rules on the session's stream: shutdown(SHUT_RD) as on a plain
/// socket; after stdin, with `-N` or `--send-only`, close_notify and then
/// FIN once every sealed record has left.
impl NetEnd for TlsEnd {
    fn shutdown_read(&mut self) {
        self.shutdown(libc::SHUT_RD);
    }

    fn end_write(&mut self, shut: bool, progress: &mut bool) -> bool {
        if shut && !self.is_shut() {
            self.close_notify_then_fin();
            *progress = true;
        }
        !self.unwritten()
    }

    const SEND_ONLY_SHUTS_READ: bool = true;
}
