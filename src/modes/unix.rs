//! Unix-domain sockets (`-U`, docs/compatibility.md §6.5): addresses, the stream and datagram
//! clients and listeners, and the files they create.
//!
//! Addresses: a path shorter than 108 bytes, or an abstract name written
//! `@name` (the `@` becomes the leading NUL, the address length is the
//! offset plus the name's length, up to 108 bytes with the `@`; `@` alone
//! is the empty abstract name). An empty path is EINVAL, a longer one
//! ENAMETOOLONG. Messages print the path as given.
//!
//! Files (docs/compatibility.md departure 4): every socket file ncrab binds is removed when the
//! run ends, whatever ends it (normal end, `-q` timer, error, SIGINT or
//! SIGTERM, which all unwind through the guards below): a listener's
//! socket, the `-Uu` client's private directory with its `recv.sock`, and
//! a receiving socket named with `-s`. Before binding, an existing socket
//! file at the path is removed (as nc does), but nothing else is: a
//! regular file, a directory or a symlink there fails with `PATH: File
//! exists`. A guard removes its file only while it is still the socket
//! ncrab bound (same device and inode).

use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use socket2::{SockAddr, Socket};

use crate::cli::config::{Config, Proto, Target};
use crate::net;
use crate::relay::log::Log;
use crate::relay::stdio::Stdio;
use crate::relay::{End, Relay};
use crate::report::{self, Errno};
use crate::serve::listen::{Local, Relays, serve_datagrams, serve_streams};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::Reactor;

/// The size of `sun_path`.
const SUN_PATH_LEN: usize = 108;
/// Where nc puts the `-Uu` client's private directory.
const TMP_TEMPLATE: &str = "/tmp/nc-XXXXXX";
/// The receiving socket's name in that directory.
const RECV_NAME: &str = "recv.sock";
/// How long to wait before trying a connect again when the listener's
/// backlog is full (a blocking nc would sleep in connect()).
const BACKLOG_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

fn is_abstract(path: &OsStr) -> bool {
    path.as_bytes().first() == Some(&b'@')
}

/// The socket address for `path` (nc's `unix_setup_sockaddr`).
pub fn sockaddr(path: &OsStr) -> Result<SockAddr, Errno> {
    let b = path.as_bytes();
    if b.is_empty() {
        return Err(Errno(libc::EINVAL));
    }
    let abs = is_abstract(path);
    if (abs && b.len() > SUN_PATH_LEN) || (!abs && b.len() >= SUN_PATH_LEN) {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    let offset = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    // SAFETY: socket2 hands us zeroed storage large enough for any
    // sockaddr; we write a sockaddr_un whose name fits sun_path (checked
    // above) and set the length to the bytes used.
    let res = unsafe {
        SockAddr::try_init(|storage, len| {
            let sun = storage.cast::<libc::sockaddr_un>();
            (*sun).sun_family = libc::AF_UNIX as libc::sa_family_t;
            let dst = (*sun).sun_path.as_mut_ptr().cast::<u8>();
            std::ptr::copy_nonoverlapping(b.as_ptr(), dst, b.len());
            if abs {
                *dst = 0;
                *len = (offset + b.len()) as libc::socklen_t;
            } else {
                *len = (offset + b.len() + 1) as libc::socklen_t;
            }
            Ok(())
        })
    };
    res.map(|((), addr)| addr).map_err(|e| Errno::of(&e))
}

/// A socket file ncrab bound: removed when dropped, if it is still ours.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(m) = fs::symlink_metadata(&self.path) {
            if m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// The `-Uu` client's private directory: removed, with its socket, when
/// dropped.
#[derive(Debug)]
pub struct TempDir {
    dir: PathBuf,
}

impl TempDir {
    /// `mkdtemp("/tmp/nc-XXXXXX")` (mode 0700).
    fn create() -> io::Result<TempDir> {
        let template =
            CString::new(TMP_TEMPLATE).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut buf = template.into_bytes_with_nul();
        // SAFETY: buf is a NUL-terminated template that mkdtemp rewrites in place.
        let p = unsafe { libc::mkdtemp(buf.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(io::Error::last_os_error());
        }
        buf.pop();
        Ok(TempDir {
            dir: PathBuf::from(OsString::from_vec(buf)),
        })
    }

    fn socket_path(&self) -> PathBuf {
        self.dir.join(RECV_NAME)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.socket_path());
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Why a bind failed.
enum BindError {
    /// Something that is not a socket is at the path: left alone.
    NotASocket,
    Failed(Errno),
}

impl BindError {
    fn errno(&self) -> Errno {
        match self {
            BindError::NotASocket => Errno(libc::EEXIST),
            BindError::Failed(e) => *e,
        }
    }
}

/// Binds `sock` to `path` (address `addr`), first removing a socket file
/// left there, and returns the guard that removes the new one.
fn bind(sock: &Socket, path: &OsStr, addr: &SockAddr) -> Result<Option<SocketFile>, BindError> {
    let abs = is_abstract(path);
    if !abs {
        match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                let _ = fs::remove_file(path);
            }
            Ok(_) => return Err(BindError::NotASocket),
            Err(_) => {}
        }
    }
    sock.bind(addr)
        .map_err(|e| BindError::Failed(Errno::of(&e)))?;
    if abs {
        return Ok(None);
    }
    Ok(fs::symlink_metadata(path).ok().map(|m| SocketFile {
        path: PathBuf::from(path),
        dev: m.dev(),
        ino: m.ino(),
    }))
}

fn socket(proto: Proto) -> io::Result<Socket> {
    let ty = if proto == Proto::Udp {
        libc::SOCK_DGRAM
    } else {
        libc::SOCK_STREAM
    };
    net::socket(libc::AF_UNIX, ty, 0)
}

/// Connects, trying again while a stream listener's backlog is full.
fn connect(rx: &mut Reactor, sock: &Socket, addr: &SockAddr) -> Result<Result<(), Errno>, Abort> {
    loop {
        match sock.connect(addr) {
            Ok(()) => return Ok(Ok(())),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                crate::sys::reactor::pause(rx, BACKLOG_RETRY)?
            }
            Err(e) => return Ok(Err(Errno::of(&e))),
        }
    }
}

/// The files a client's receiving socket leaves, removed when dropped.
#[allow(dead_code)] // held for their Drop
enum Receiver {
    Temp(TempDir, Option<SocketFile>),
    Named(Option<SocketFile>),
}

/// The `-Uu` client's own socket, bound so the peer can answer: at `-s
/// PATH`, or `recv.sock` in a fresh private directory. With `-v`:
/// `Bound on PATH`.
fn bind_receiver(cfg: &Config, sock: &Socket) -> Result<Receiver, Abort> {
    let (path, temp) = match &cfg.opts.source_addr {
        Some(s) => (PathBuf::from(s), None),
        None => match TempDir::create() {
            Ok(t) => (t.socket_path(), Some(t)),
            Err(e) => {
                report::mkdtemp_failed(Errno::of(&e));
                return Err(Abort::Failed);
            }
        },
    };
    let os = path.as_os_str();
    let bound = sockaddr(os)
        .map_err(BindError::Failed)
        .and_then(|addr| bind(sock, os, &addr));
    let file = match bound {
        Ok(f) => f,
        Err(e) => {
            // M26: fatal, with the receiving path (the directory goes too).
            report::path_failed(os.as_bytes(), e.errno());
            return Err(Abort::Failed);
        }
    };
    if cfg.opts.verbose > 0 {
        report::path_line("Bound", os.as_bytes());
    }
    Ok(match temp {
        Some(t) => Receiver::Temp(t, file),
        None => Receiver::Named(file),
    })
}

/// `-U PATH` and `-Uu PATH`: connect, then relay (or with `-z` just
/// close). No success line, even with `-v`, as nc.
pub fn run_client(
    rx: &mut Reactor,
    cfg: &Config,
    stdin: &Stdio,
    stdout: &Stdio,
) -> Result<Status, Abort> {
    let Target::UnixConnect { path } = &cfg.target else {
        return Err(Abort::Failed);
    };
    let path = path.as_os_str();
    let fail = |e: Errno| {
        report::path_failed(path.as_bytes(), e);
        Ok(1)
    };
    let addr = match sockaddr(path) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let sock = match socket(cfg.opts.proto) {
        Ok(s) => s,
        Err(e) => return fail(Errno::of(&e)),
    };
    let _receiver = if cfg.opts.proto == Proto::Udp {
        Some(bind_receiver(cfg, &sock)?)
    } else {
        None
    };
    if let Err(e) = connect(rx, &sock, &addr)? {
        return fail(e);
    }
    if cfg.opts.zero_io {
        return Ok(0);
    }
    let log = Log::open(&cfg.opts.serving.log).map_err(|()| Abort::Failed)?;
    let mut relay = Relay::new(sock, stdin, stdout, cfg.relay_opts()).with_log(log.as_ref());
    if rx.run(&mut relay)?.end == End::QuitTimer {
        return Err(Abort::QuitTimer);
    }
    Ok(0)
}

/// `-lU PATH` and `-lUu PATH`: bind (`Bound on PATH`), then for a stream
/// listen (`Listening on PATH`) and accept, for datagrams wait for the
/// first one; `Connection received on PATH` names the listener's path.
pub fn run_listener(
    rx: &mut Reactor,
    cfg: &Config,
    stdin: &Stdio,
    stdout: &Stdio,
) -> Result<Status, Abort> {
    let Target::UnixListen { path } = &cfg.target else {
        return Err(Abort::Failed);
    };
    let path = path.as_os_str();
    let fatal = |e: Errno| {
        report::warn_errno(e);
        Err(Abort::Failed)
    };
    let addr = match sockaddr(path) {
        Ok(a) => a,
        Err(e) => return fatal(e),
    };
    let sock = match socket(cfg.opts.proto) {
        Ok(s) => s,
        Err(e) => return fatal(Errno::of(&e)),
    };
    let _file = match bind(&sock, path, &addr) {
        Ok(f) => f,
        Err(BindError::NotASocket) => {
            report::path_failed(path.as_bytes(), Errno(libc::EEXIST));
            return Err(Abort::Failed);
        }
        Err(BindError::Failed(e)) => return fatal(e),
    };
    let verbose = cfg.opts.verbose > 0;
    if verbose {
        report::path_line("Bound", path.as_bytes());
    }
    let received = |_: &SockAddr| report::path_line("Connection received", path.as_bytes());
    let log = Log::open(&cfg.opts.serving.log).map_err(|()| Abort::Failed)?;
    let log = log.as_ref();
    let local = Local { stdin, stdout, log };
    if cfg.opts.proto == Proto::Udp {
        return serve_datagrams(rx, &cfg.serve_opts(), sock, &local, &received);
    }
    if let Err(e) = sock.listen(5) {
        return fatal(Errno::of(&e));
    }
    if verbose {
        report::path_line("Listening", path.as_bytes());
    }
    serve_streams(
        rx,
        &cfg.serve_opts(),
        &Relays::Plain,
        &sock,
        &local,
        &received,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(sockaddr(OsStr::new("")).err(), Some(Errno(libc::EINVAL)));
        let a = sockaddr(OsStr::new("@")).unwrap();
        assert_eq!(a.len(), 3);
        let a = sockaddr(OsStr::new("@ab")).unwrap();
        assert_eq!(a.len(), 5);
        let a = sockaddr(OsStr::new("/tmp/x")).unwrap();
        assert_eq!(a.len(), 2 + 6 + 1);
        let p107 = "/".repeat(107);
        assert!(sockaddr(OsStr::new(&p107)).is_ok());
        let p108 = "/".repeat(108);
        assert_eq!(
            sockaddr(OsStr::new(&p108)).err(),
            Some(Errno(libc::ENAMETOOLONG))
        );
        let a108 = format!("@{}", "c".repeat(107));
        assert!(sockaddr(OsStr::new(&a108)).is_ok());
        let a109 = format!("@{}", "c".repeat(108));
        assert_eq!(
            sockaddr(OsStr::new(&a109)).err(),
            Some(Errno(libc::ENAMETOOLONG))
        );
    }
}
