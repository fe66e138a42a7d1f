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

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::event::Event;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use socket2::Socket;

use super::record::{Records, SecretLog};

use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step, Stop, TimerId};

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
            hs: HsState::default(),
            log,
        }
    }

    /// Hands the session, its handshake over and its output sent, to
    /// ncrab's record layer with buffers of `input` and `output` bytes.
    /// Err keeps the socket (to deregister and close).
    pub fn into_records(
        self,
        input: usize,
        output: usize,
    ) -> Result<(Socket, Records), (Socket, rustls::Error)> {
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
        match Records::new(secrets, version, client, &self.log, input, output) {
            Ok(rec) => Ok((self.sock, rec)),
            Err(e) => Err((self.sock, e)),
        }
    }

    /// One handshake step: all the work possible now.
    pub fn drive(&mut self) -> Progress {
        drive(&mut self.conn, &self.sock, &mut self.hs)
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
pub fn drive(conn: &mut Connection, sock: &Socket, hs: &mut HsState) -> Progress {
    loop {
        if let Err(e) = flush_conn(conn, sock) {
            return Progress::Failed(HandshakeError::Io(e));
        }
        if !conn.is_handshaking() {
            return if conn.wants_write() {
                Progress::Wait(Interest::WRITABLE)
            } else {
                Progress::Done
            };
        }
        if !conn.wants_read() {
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
                return Progress::Wait(if conn.wants_write() {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                });
            }
            Err(e) => return Progress::Failed(HandshakeError::Io(e)),
        }
    }
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

const TIMER_DEADLINE: usize = 1;

/// The handshake as a machine in the loop.
struct Handshaking<'a> {
    s: &'a mut Session,
    deadline: Option<Duration>,
    timer: Option<TimerId>,
    timed_out: bool,
    reg: Interests,
}

impl Machine for Handshaking<'_> {
    type Output = Result<(), HandshakeError>;

    fn on_event(&mut self, _cx: &mut Ctx<'_>, _ev: &Event) {}

    fn on_timer(&mut self, _cx: &mut Ctx<'_>, key: usize) {
        if key == TIMER_DEADLINE {
            self.timed_out = true;
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<Self::Output> {
        let fd = self.s.sock.as_raw_fd();
        let result = match self.s.drive() {
            Progress::Done => Some(Ok(())),
            Progress::Failed(e) => Some(Err(e)),
            Progress::Wait(_) if self.timed_out => Some(Err(HandshakeError::TimedOut)),
            Progress::Wait(want) => {
                if let Err(e) = self.reg.set(cx.registry, fd, reactor::NET, Some(want)) {
                    Some(Err(HandshakeError::Io(e)))
                } else {
                    None
                }
            }
        };
        if let Some(r) = result {
            self.reg.clear(cx.registry, fd);
            if let Some(t) = self.timer.take() {
                cx.timers.cancel(t);
            }
            return Step::Done(r);
        }
        if let (Some(d), None) = (self.deadline, self.timer) {
            self.timer = Some(cx.timers.add(Instant::now() + d, TIMER_DEADLINE));
        }
        Step::Wait
    }
}

/// Runs the handshake of `s` in the loop, for at most `deadline`.
pub fn handshake(
    rx: &mut Reactor,
    s: &mut Session,
    deadline: Option<Duration>,
) -> Result<Result<(), HandshakeError>, Stop> {
    let mut m = Handshaking {
        s,
        deadline,
        timer: None,
        timed_out: false,
        reg: Interests::default(),
    };
    rx.run(&mut m)
}
