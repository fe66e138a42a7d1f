//! A TLS session over a connected socket, and its non-blocking handshake.
//!
//! [`Session::drive`] does all the handshake work possible without
//! waiting (write what rustls has queued, read what the socket holds,
//! process it) and says what to wait for next, derived from rustls's
//! `wants_read`/`wants_write`. [`handshake`] runs that as a machine in the
//! loop with the `-w` deadline; the scanner drives many sessions with the
//! same step.
//!
//! During the handshake rustls reads the socket one record at a time
//! ([`Cut`]), so that when the handshake is over every later byte is
//! still in the socket: [`Session::into_records`] then hands the session
//! to ncrab's own record layer ([`super::record`]).
//!
//! Each flight goes out in one `sendmsg` (rustls's `write_tls` offers all
//! it holds as one vectored write): [`drive`] writes only once the socket
//! holds no more of the peer's records, never between two of them. A
//! session's last flight (the TLS 1.3 client's Certificate..Finished, the
//! TLS 1.2 server's ChangeCipherSpec and Finished) is not written by the
//! handshake at all: the record layer sends it with its first records.
//! The socket keeps Nagle on, as nc's does: a small segment sent on its own
//! would make the next one wait for the peer's delayed ACK (40 ms).

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::Interest;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use socket2::Socket;

use super::record::{Records, SecretLog};

use crate::sys::reactor::{self, Reactor, Stop, Turn};

/// Why a handshake did not finish.
#[derive(Debug)]
pub enum HandshakeError {
    /// The peer closed the connection before the handshake finished.
    Eof {
        got_any: bool,
    },
    Io(std::io::Error),
    Tls(rustls::Error),
    /// `-w` ran out.
    TimedOut,
    /// A serving listener's own handshake deadline (no `-w`) ran out.
    DefaultDeadline(std::time::Duration),
}

/// A connected socket and the TLS state on it.
pub struct Session {
    pub sock: Socket,
    pub conn: Connection,
    hs: HsState,
    /// The traffic secrets rustls logs, for the record layer's KeyUpdates.
    log: Arc<SecretLog>,
}

/// What a handshake keeps between its steps.
#[derive(Default)]
pub struct HsState {
    /// Some TLS bytes came from the peer (to tell "not a word" apart).
    got_any: bool,
    cut: Cut,
    /// The handshake is over before its last flight is written: a
    /// [`Session`]'s record layer sends it (a scan's probe has none).
    keep_last: bool,
}

/// Reads of the socket for rustls that stop at the end of each record:
/// first the 5-byte header, then the body it announces.
#[derive(Default)]
struct Cut {
    head: [u8; 5],
    have: usize,
    body_left: usize,
}

impl Cut {
    fn at_boundary(&self) -> bool {
        self.have == 0 && self.body_left == 0
    }

    fn read(&mut self, sock: &Socket, buf: &mut [u8]) -> io::Result<usize> {
        let want = if self.body_left > 0 {
            self.body_left
        } else {
            5 - self.have
        };
        let n = want.min(buf.len());
        let n = io::Read::read(&mut SockIo(sock), &mut buf[..n])?;
        if self.body_left > 0 {
            self.body_left -= n;
        } else {
            self.head[self.have..self.have + n].copy_from_slice(&buf[..n]);
            self.have += n;
            if self.have == 5 {
                self.have = 0;
                self.body_left = usize::from(u16::from_be_bytes([self.head[3], self.head[4]]));
            }
        }
        Ok(n)
    }
}

/// The socket read through a [`Cut`], for `read_tls`.
struct CutIo<'a>(&'a Socket, &'a mut Cut);

impl io::Read for CutIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.1.read(self.0, buf)
    }
}

/// Where a handshake stands after a step.
pub enum Progress {
    Done,
    /// Wait for this readiness, then step again.
    Wait(Interest),
    Failed(HandshakeError),
}

/// `read(2)`/`send(2)` on the socket for rustls, without SIGPIPE.
pub struct SockIo<'a>(pub &'a Socket);

impl io::Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

impl io::Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let iov: Vec<libc::iovec> = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: an all-zero msghdr is valid; it points at iov below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = iov.len() as _;
        // SAFETY: msg points at valid iovecs for the duration of the call.
        let n = unsafe { libc::sendmsg(self.0.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl Session {
    /// A client session on `sock` before its handshake. The session gets
    /// its own copy of `config` with secret extraction on and a
    /// [`SecretLog`] (the record layer takes over after the handshake).
    pub fn client(
        sock: Socket,
        config: &Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<Session, rustls::Error> {
        let log = Arc::new(SecretLog::default());
        let mut c = (**config).clone();
        c.key_log = log.clone();
        c.enable_secret_extraction = true;
        let conn = ClientConnection::new(Arc::new(c), name)?;
        Ok(Session::with(sock, Connection::Client(conn), log))
    }

    /// An accepted client's session on `sock` before its handshake.
    pub fn server(sock: Socket, config: &Arc<ServerConfig>) -> Result<Session, rustls::Error> {
        let log = Arc::new(SecretLog::default());
        let mut c = (**config).clone();
        c.key_log = log.clone();
        c.enable_secret_extraction = true;
        let conn = ServerConnection::new(Arc::new(c))?;
        Ok(Session::with(sock, Connection::Server(conn), log))
    }

    fn with(sock: Socket, conn: Connection, log: Arc<SecretLog>) -> Session {
        Session {
            sock,
            conn,
            hs: HsState {
                keep_last: true,
                ..HsState::default()
            },
            log,
        }
    }

    /// Hands the session, its handshake over, to ncrab's record layer
    /// with buffers of `input` and `output` bytes; the handshake's last
    /// flight, if rustls holds it, waits at the front of the output
    /// buffer, to go out with the first records. Err keeps the socket (to
    /// deregister and close).
    pub fn into_records(
        mut self,
        input: usize,
        output: usize,
    ) -> Result<(Socket, Records), (Socket, rustls::Error)> {
        let mut last = Vec::new();
        while self.conn.wants_write() {
            // (A Vec takes all that is offered.)
            match self.conn.write_tls(&mut last) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        if !self.hs.cut.at_boundary() || self.conn.wants_write() || self.conn.is_handshaking() {
            let e = rustls::Error::General(
                "the session cannot leave rustls in the middle of a record".into(),
            );
            return Err((self.sock, e));
        }
        let version = self
            .conn
            .protocol_version()
            .unwrap_or(rustls::ProtocolVersion::TLSv1_3);
        let client = matches!(self.conn, Connection::Client(_));
        let secrets = match self.conn.dangerous_extract_secrets() {
            Ok(s) => s,
            Err(e) => return Err((self.sock, e)),
        };
        match Records::new(secrets, version, client, &self.log, input, output, &last) {
            Ok(rec) => Ok((self.sock, rec)),
            Err(e) => Err((self.sock, e)),
        }
    }

    /// One handshake step: all the work possible now. Done once the
    /// handshake is over, its last flight perhaps still in rustls (see
    /// [`Session::into_records`], [`Session::send_last`]).
    pub fn drive(&mut self) -> Progress {
        drive(&mut self.conn, &self.sock, &mut self.hs)
    }

    /// Writes the handshake's last flight, if the socket takes it, for a
    /// session that ends before the record layer takes over (a client
    /// refused by the listener's checks, a server whose certificate fails
    /// `-H`): the peer sees the handshake end, as it did from libtls.
    pub fn send_last(&mut self) {
        let _ = flush_conn(&mut self.conn, &self.sock);
    }

    /// The peer's end-entity certificate, when it sent one.
    pub fn peer_cert(&self) -> Option<&[u8]> {
        self.conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref())
    }
}

/// Writes what `conn` has queued until the socket is full.
fn flush_conn(conn: &mut Connection, sock: &Socket) -> io::Result<usize> {
    let mut total = 0;
    while conn.wants_write() {
        match conn.write_tls(&mut SockIo(sock)) {
            Ok(n) => total += n,
            Err(e) if would_block(&e) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// One handshake step of `conn` on `sock`: all the work possible now.
///
/// What rustls queues while it processes the peer's records is written
/// only once the socket holds no more of them: a flight rustls builds
/// over several records goes out in one `sendmsg`. The peer's records
/// already in the socket were sent before it saw any of ours, so reading
/// them first never keeps the peer waiting. A TLS 1.3 client's
/// change_cipher_spec (rustls queues it at the ServerHello) waits for the
/// rest of its flight even when the socket runs dry in the middle of the
/// server's: the peer ignores it and waits for nothing from it. With
/// `keep_last`, Done comes as soon as the handshake is over, its last
/// flight still in rustls.
pub fn drive(conn: &mut Connection, sock: &Socket, hs: &mut HsState) -> Progress {
    loop {
        if !conn.is_handshaking() {
            if hs.keep_last {
                return Progress::Done;
            }
            if let Err(e) = flush_conn(conn, sock) {
                return Progress::Failed(HandshakeError::Io(e));
            }
            return if conn.wants_write() {
                Progress::Wait(Interest::WRITABLE)
            } else {
                Progress::Done
            };
        }
        // During the handshake rustls wants no input while it has output
        // queued: read on all the same, the output goes when reading stops.
        if !conn.wants_read() && !conn.wants_write() {
            return Progress::Wait(Interest::WRITABLE);
        }
        match conn.read_tls(&mut CutIo(sock, &mut hs.cut)) {
            Ok(0) => {
                return Progress::Failed(HandshakeError::Eof {
                    got_any: hs.got_any,
                });
            }
            Ok(_) => {
                hs.got_any = true;
                if let Err(e) = conn.process_new_packets() {
                    // Send the alert rustls queued, if the socket takes it.
                    let _ = flush_conn(conn, sock);
                    discard_input(sock);
                    return Progress::Failed(HandshakeError::Tls(e));
                }
            }
            Err(e) if would_block(&e) => {
                if holds_only_ccs(conn) {
                    return Progress::Wait(Interest::READABLE);
                }
                if let Err(e) = flush_conn(conn, sock) {
                    return Progress::Failed(HandshakeError::Io(e));
                }
                return Progress::Wait(match (conn.wants_read(), conn.wants_write()) {
                    (_, true) => Interest::READABLE | Interest::WRITABLE,
                    (true, false) => Interest::READABLE,
                    (false, false) => Interest::WRITABLE,
                });
            }
            Err(e) => return Progress::Failed(HandshakeError::Io(e)),
        }
    }
}

/// A change_cipher_spec record, as TLS 1.3's middlebox compatibility
/// sends it.
const CCS: [u8; 6] = [20, 3, 3, 0, 1, 1];

/// Whether all rustls has queued is one change_cipher_spec record. (It is
/// offered to a writer that takes none of it.)
fn holds_only_ccs(conn: &mut Connection) -> bool {
    struct Peek(bool);
    impl io::Write for Peek {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 = buf == CCS;
            Ok(0)
        }
        fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
            self.0 = matches!(bufs, [b] if **b == CCS);
            Ok(0)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut peek = Peek(false);
    conn.wants_write() && conn.write_tls(&mut peek).is_ok() && peek.0
}

/// Reads and drops what the peer already sent (at most 256 KiB): reads
/// stop at record boundaries, and a socket closed with unread bytes
/// sends a reset where the peer should see the end of the stream.
fn discard_input(sock: &Socket) {
    let mut junk = [0u8; 16384];
    for _ in 0..16 {
        match io::Read::read(&mut SockIo(sock), &mut junk) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Runs the handshake of `s` in the loop, for at most `deadline`.
pub fn handshake(
    rx: &mut Reactor,
    s: &mut Session,
    deadline: Option<Duration>,
) -> Result<Result<(), HandshakeError>, Stop> {
    let fd = s.sock.as_raw_fd();
    reactor::run_on(
        rx,
        fd,
        deadline,
        |timed_out| match s.drive() {
            Progress::Done => Turn::Done(Ok(())),
            Progress::Failed(e) => Turn::Done(Err(e)),
            Progress::Wait(_) if timed_out => Turn::Done(Err(HandshakeError::TimedOut)),
            Progress::Wait(want) => Turn::Wait(want),
        },
        |e| Err(HandshakeError::Io(e)),
    )
}
