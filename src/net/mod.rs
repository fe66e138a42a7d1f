//! The network layer: ways of getting a connected or bound socket. It owns
//! socket creation and nc's common socket options (this file: [`Failed`],
//! [`SetupError`], [`ConnectResult`]), name resolution
//! ([`resolve::lookup`], [`resolve::Hints`]), port lists ([`ports`]), the
//! non-blocking connect over every address of a name ([`connect`]) and
//! the proxy dialogues ([`proxy::Dialog`]), and the access lists of
//! listeners ([`acl::Acl`]).
//!
//! A way of connecting returns a connected socket or an error and leaves
//! the verdict's wording to its caller. This layer never prints: what nc
//! prints in the middle of a connect (an address's failure before the
//! next is tried, a proxy's password prompt) it tells through
//! [`connect::Tell`] and [`proxy::Tell`],
//! which `report` implements; its error types live here, beside the code
//! that makes them, and `report` words them. It uses only `sys`; it never
//! imports `report`, `relay`, a mode or `cli`, and it takes small option
//! structs, never the whole `Config`.
//!
//! Sockets: creation, nc's common socket options, source binds.
//!
//! Every socket ncrab creates is non-blocking and close-on-exec. The
//! options of `set_common_sockopts` (docs/compatibility.md §6.3: -b -S -D -T -I -O -M -m) are set
//! on every client and listening socket, with nc's fatal error texts.

pub mod acl;
pub mod connect;
pub mod diagnose;
pub mod pace;
pub mod ports;
pub mod proxy;
pub mod resolve;
pub mod starttls;
pub mod targets;
pub mod tls;
pub mod udp;

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::sys::errno::Errno;
use crate::sys::passphrase::Secret;
use resolve::Hints;

/// Address family requested by `-4`, `-6` or `-U` (the last one wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    Any,
    Inet,
    Inet6,
    Unix,
}

/// Socket protocol: `-u` (UDP) wins over `-Z` (DCCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
    Dccp,
}

impl Proto {
    /// The name used in messages (`[tcp/ssh]`, `(udp)`).
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Dccp => "dccp",
        }
    }
}

/// nc's common socket options (`-b -S -D -T -I -O -M -m`) and a client's
/// source bind (`-s`, `-p`): what this layer reads of the command line,
/// derived from the `Config` once (`Config::sock_opts`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SockOpts {
    pub broadcast: bool,
    /// `-S`: the TCP MD5 signature key.
    pub md5sig: Option<Secret>,
    pub debug_socket: bool,
    pub tos: Option<u8>,
    pub rcvbuf: Option<u32>,
    pub sndbuf: Option<u32>,
    pub ttl: Option<u8>,
    pub minttl: Option<u8>,
    /// `-s` as typed.
    pub source_addr: Option<OsString>,
    pub source_port: Option<String>,
}

/// The error has been reported; the program exits 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

impl From<Failed> for crate::sys::exit::Abort {
    fn from(_: Failed) -> crate::sys::exit::Abort {
        crate::sys::exit::Abort::Failed
    }
}

/// A new non-blocking, close-on-exec socket.
pub fn socket(family: i32, socktype: i32, protocol: i32) -> io::Result<Socket> {
    let ty = Type::from(socktype).nonblocking().cloexec();
    let proto = if protocol == 0 {
        None
    } else {
        Some(Protocol::from(protocol))
    };
    Socket::new(Domain::from(family), ty, proto)
}

fn setsockopt_int(sock: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: passing a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A failure while preparing a client socket: fatal, reported in order.
#[derive(Debug, Clone, Copy)]
pub enum SetupError {
    /// M5: the `-s`/`-p` lookup failed.
    Lookup(crate::sys::errno::GaiError),
    /// M6: the bind failed.
    Bind(Errno),
    /// M14/M24: a socket option failed (`None`: no text of its own).
    Option(Option<&'static str>, Errno),
}

/// Linux's `struct tcp_md5sig` (linux/tcp.h).
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: i32,
    key: [u8; libc::TCP_MD5SIG_MAXKEYLEN],
}

/// `TCP_MD5SIG_FLAG_PREFIX`.
const TCP_MD5SIG_FLAG_PREFIX: u8 = 1;

/// `-S` (Debian): the key for `addr` with TCP_MD5SIG_EXT and the prefix
/// flag, as nc sets it: the address is the peer for a client and the bind
/// address for a listener; the prefix length stays 0.
fn set_md5sig(sock: &Socket, addr: &SockAddr, key: &[u8]) -> io::Result<()> {
    // SAFETY: an all-zero tcp_md5sig is valid; the address is copied within
    // the bounds of both buffers.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    let len = (addr.len() as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: addr points to at least addr.len() valid bytes, sig.addr has
    // room for a whole sockaddr_storage.
    unsafe {
        std::ptr::copy_nonoverlapping(
            addr.as_ptr().cast::<u8>(),
            (&mut sig.addr as *mut libc::sockaddr_storage).cast::<u8>(),
            len,
        );
    }
    let n = key.len().min(libc::TCP_MD5SIG_MAXKEYLEN);
    sig.key[..n].copy_from_slice(&key[..n]);
    sig.keylen = n as u16;
    sig.flags = TCP_MD5SIG_FLAG_PREFIX;
    // SAFETY: passing a pointer to a live tcp_md5sig and its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG_EXT,
            (&sig as *const TcpMd5Sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    // The key must not linger in memory.
    for b in sig.key.iter_mut() {
        // SAFETY: writing through a valid &mut u8.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// nc's `set_common_sockopts` for a socket that will connect to (or bind)
/// `addr`: any failure is fatal with nc's text.
pub fn set_common_options(sock: &Socket, addr: &SockAddr, o: &SockOpts) -> Result<(), SetupError> {
    let set = |level, name, value, what: Option<&'static str>| {
        setsockopt_int(sock, level, name, value)
            .map_err(|e| SetupError::Option(what, Errno::of(&e)))
    };
    let family = i32::from(addr.family());
    let v4 = family == libc::AF_INET;
    let v6 = family == libc::AF_INET6;
    if o.broadcast {
        set(libc::SOL_SOCKET, libc::SO_BROADCAST, 1, None)?;
    }
    if let Some(key) = &o.md5sig {
        set_md5sig(sock, addr, key.as_bytes())
            .map_err(|e| SetupError::Option(None, Errno::of(&e)))?;
    }
    if o.debug_socket {
        set(libc::SOL_SOCKET, libc::SO_DEBUG, 1, None)?;
    }
    if let Some(tos) = o.tos.map(i32::from) {
        if v4 {
            set(libc::IPPROTO_IP, libc::IP_TOS, tos, Some("set IP ToS"))?;
        } else if v6 {
            set(
                libc::IPPROTO_IPV6,
                libc::IPV6_TCLASS,
                tos,
                Some("set IPv6 traffic class"),
            )?;
        }
    }
    if let Some(n) = o.rcvbuf {
        set(
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            n as i32,
            Some("set TCP receive buffer size"),
        )?;
    }
    if let Some(n) = o.sndbuf {
        set(
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            n as i32,
            Some("set TCP send buffer size"),
        )?;
    }
    if let Some(ttl) = o.ttl.map(i32::from) {
        if v4 {
            set(libc::IPPROTO_IP, libc::IP_TTL, ttl, Some("set IP TTL"))?;
        } else if v6 {
            set(
                libc::IPPROTO_IPV6,
                libc::IPV6_UNICAST_HOPS,
                ttl,
                Some("set IPv6 unicast hops"),
            )?;
        }
    }
    if let Some(minttl) = o.minttl.map(i32::from) {
        if v4 {
            set(
                libc::IPPROTO_IP,
                libc::IP_MINTTL,
                minttl,
                Some("set IP min TTL"),
            )?;
        } else if v6 {
            set(
                libc::IPPROTO_IPV6,
                libc::IPV6_MINHOPCOUNT,
                minttl,
                Some("set IPv6 min hop count"),
            )?;
        }
    }
    Ok(())
}

/// Binds a client socket to `-s`/`-p` (docs/compatibility.md §3.2 step 2): lookup with the
/// socket's family and type and AI_PASSIVE, bind the first result; any
/// error is fatal (M5/M6). SO_REUSEADDR is set first so a `-p` port in
/// TIME_WAIT from an earlier port of the same run does not kill the run
/// (docs/compatibility.md departure 8).
pub fn bind_source(
    sock: &Socket,
    family: i32,
    hints: Hints,
    o: &SockOpts,
) -> Result<(), SetupError> {
    if o.source_addr.is_none() && o.source_port.is_none() {
        return Ok(());
    }
    let fam = match family {
        libc::AF_INET => Family::Inet,
        libc::AF_INET6 => Family::Inet6,
        _ => hints.family,
    };
    let h = Hints {
        family: fam,
        passive: true,
        ..hints
    };
    let port = o.source_port.as_deref().map(OsStr::new);
    let addrs = resolve::lookup(o.source_addr.as_deref(), port, h).map_err(SetupError::Lookup)?;
    let first = addrs
        .first()
        .ok_or(SetupError::Lookup(crate::sys::errno::GaiError {
            code: libc::EAI_NONAME,
            errno: 0,
        }))?;
    let _ = sock.set_reuse_address(true);
    sock.bind(&first.addr)
        .map_err(|e| SetupError::Bind(Errno::of(&e)))
}

/// Prepares a client socket that will connect to `peer`: source bind,
/// then common options, then ncrab's own error queue last, so that the
/// user's options are set in nc's order before any of ncrab's (strace
/// shows nc's sequence, as Debian's `08-setsockopt` check reads it).
pub fn prepare_client(
    sock: &Socket,
    peer: &SockAddr,
    hints: Hints,
    o: &SockOpts,
) -> Result<(), SetupError> {
    bind_source(sock, i32::from(peer.family()), hints, o)?;
    set_common_options(sock, peer, o)?;
    diagnose::errqueue::enable(sock, i32::from(peer.family()));
    Ok(())
}

/// How a non-blocking connect ended.
#[derive(Debug)]
pub enum ConnectResult {
    Connected,
    Failed(Errno),
    /// The `-w` timer expired first.
    TimedOut,
}

/// Starts a non-blocking connect. `Ok(true)`: connected at once;
/// `Ok(false)`: in progress; `Err`: failed at once with that errno.
pub fn start_connect(sock: &Socket, addr: &SockAddr) -> Result<bool, Errno> {
    match sock.connect(addr) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(Errno::of(&e)),
    }
}

/// Asks a connect in progress for its result by calling `connect()` on the
/// same address again (instead of reading SO_ERROR). The second call
/// answers `EALREADY` while the handshake is under way (None), succeeds
/// once connected, and once the connect has failed returns its errno and
/// dissolves the failed association, so the socket may connect again.
/// The flag says whether that happened: the socket is free for reuse.
pub fn connect_again(sock: &Socket, addr: &SockAddr) -> Option<(ConnectResult, bool)> {
    match sock.connect(addr) {
        Ok(()) => Some((check_self_connect(sock), false)),
        Err(e) => match e.raw_os_error() {
            Some(libc::EALREADY | libc::EINPROGRESS | libc::EINTR) => None,
            Some(libc::EISCONN) => Some((check_self_connect(sock), false)),
            _ => Some((ConnectResult::Failed(Errno::of(&e)), true)),
        },
    }
}

/// Binds a socket that has no `-s`/`-p` to a free ephemeral port of its
/// own, chosen by the kernel for a throw-away socket. An explicitly bound
/// port stays with the socket when a connect fails, so a socket reused for
/// many connects (a scan) skips the kernel's ephemeral-port search on each
/// one. Best effort: on any failure the socket is left unbound.
pub fn pin_ephemeral_port(sock: &Socket, family: i32) {
    let any: std::net::SocketAddr = if family == libc::AF_INET6 {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let Ok(probe) = socket(family, libc::SOCK_STREAM, 0) else {
        return;
    };
    if probe.bind(&any.into()).is_err() {
        return;
    }
    let Some(port) = probe.local_addr().ok().and_then(|a| a.as_socket()) else {
        return;
    };
    drop(probe);
    let _ = sock.bind(&port.into());
}

/// After writability: the result of the connect, from SO_ERROR. `None`
/// means it is still in progress (a spurious wake-up).
pub fn finish_connect(sock: &Socket) -> Option<ConnectResult> {
    match sock.take_error() {
        Ok(Some(e)) => return Some(ConnectResult::Failed(Errno::of(&e))),
        Ok(None) => {}
        Err(e) => return Some(ConnectResult::Failed(Errno::of(&e))),
    }
    match sock.peer_addr() {
        Ok(_) => Some(check_self_connect(sock)),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => None,
        Err(e) => Some(ConnectResult::Failed(Errno::of(&e))),
    }
}

/// docs/compatibility.md departure 10: a TCP socket connected to itself (simultaneous open when
/// the scanned port equals the ephemeral source port) is not an open port.
pub fn check_self_connect(sock: &Socket) -> ConnectResult {
    if let (Ok(local), Ok(peer)) = (sock.local_addr(), sock.peer_addr()) {
        if let (Some(l), Some(p)) = (local.as_socket(), peer.as_socket()) {
            if l == p {
                return ConnectResult::Failed(Errno(libc::ECONNREFUSED));
            }
        }
    }
    ConnectResult::Connected
}
