//! Standard input and output as the relay's two local ends.
//!
//! They may be a tty, a pipe, a socket, a regular file, `/dev/null`, or
//! closed at start-up. The loop must never block on them, yet their
//! file-status flags belong to whoever shares them (the shell's tty, the
//! other end's process), so ncrab avoids changing them:
//! - a pipe, FIFO or tty is reopened through `/proc/self/fd/N` with
//!   `O_NONBLOCK`, which gives ncrab its own open file description for
//!   reading and writing; readiness is still polled on the original fd
//!   (see [`Stdio::poll_fd`]). Only an fd open for that direction is
//!   reopened: stdin that is the write end of a pipe stays as it is (its
//!   reads fail, as nc's do), since reopening it would give the read end;
//! - a socket is read and written with `MSG_DONTWAIT`; a datagram socket
//!   (bash's `>/dev/udp/HOST/PORT`) takes each write as one datagram, so
//!   the relay writes it at most nc's 16,384 bytes at a time
//!   ([`Stdio::datagram`]);
//! - a regular file or a device such as `/dev/null` never blocks for long
//!   and cannot be registered with epoll: it takes the always-ready path
//!   (the relay's poll snapshot reports it ready). Whether epoll can watch
//!   a device or another kind of file is asked of epoll itself: a device
//!   that does wait for data (`/dev/kmsg`, an input device) or an eventfd
//!   is registered like a pipe, so its data wakes the loop;
//! - only when reopening fails is `O_NONBLOCK` set on the shared
//!   description, and then restored when this value is dropped, which
//!   happens on every exit path including Ctrl-C (see `signals`).
//!
//! [`fix_closed_fds`] makes fds 0, 1 and 2 valid before any socket exists
//! (docs/compatibility.md departure 7), so a closed stdin never turns a socket into "stdin".

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

/// What kind of file an fd is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Tty,
    Pipe,
    Socket,
    /// A character device that is not a tty (`/dev/null`, `/dev/zero`).
    Device,
    Other,
}

/// One of the relay's local ends.
#[derive(Debug)]
pub struct Stdio {
    /// The fd ncrab reads or writes (fd 0/1, or a private reopened fd).
    pub fd: RawFd,
    /// The fd whose readiness decides when `fd` is read or written: always
    /// the original fd 0 or 1, the one nc polls. Readiness is not the same
    /// on every description of a FIFO: Linux reports the hang-up of a
    /// FIFO's last writer (POLLHUP) only to a reader that has seen a
    /// writer since it opened, and a description opened with `O_NONBLOCK`
    /// while no writer exists has not. The shell's blocking open has, so
    /// nc sees the EOF of a writer gone before it started; a reopened fd
    /// would wait for a writer that may never come.
    pub poll_fd: RawFd,
    pub kind: Kind,
    /// epoll can watch it (see [`Stdio::pollable`]).
    watchable: bool,
    /// A socket that keeps message boundaries (see [`Stdio::datagram`]).
    dgram: bool,
    /// The reopened fd is ours to close.
    owned: bool,
    /// Flags to put back on the original fd when we had to change them.
    restore: Option<(RawFd, i32)>,
}

/// Opens /dev/null onto each of fds 0, 1, 2 that is closed (docs/compatibility.md departure 7).
pub fn fix_closed_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on a possibly closed fd only reports EBADF.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
            continue;
        }
        let flags = if fd == 0 {
            libc::O_RDONLY
        } else {
            libc::O_WRONLY
        };
        // SAFETY: opening a constant path; open returns the lowest free fd,
        // which is `fd` because all lower ones are valid by now.
        let n = unsafe { libc::open(c"/dev/null".as_ptr(), flags) };
        if n >= 0 && n != fd {
            // SAFETY: n is a valid fd we just opened.
            unsafe {
                libc::dup2(n, fd);
                libc::close(n);
            }
        }
    }
}

/// The kind of file behind `fd`.
pub fn kind_of(fd: RawFd) -> Kind {
    // SAFETY: fstat fills a zeroed stat buffer; failure leaves it unused.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Kind::Other;
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::Regular,
        libc::S_IFIFO => Kind::Pipe,
        libc::S_IFSOCK => Kind::Socket,
        // SAFETY: isatty only inspects the fd.
        libc::S_IFCHR if unsafe { libc::isatty(fd) } == 1 => Kind::Tty,
        libc::S_IFCHR => Kind::Device,
        _ => Kind::Other,
    }
}

impl Stdio {
    /// Standard input, ready for non-blocking reads.
    pub fn input() -> Stdio {
        Stdio::open(0, libc::O_RDONLY)
    }

    /// Standard output, ready for non-blocking writes.
    pub fn output() -> Stdio {
        Stdio::open(1, libc::O_WRONLY)
    }

    /// `/dev/null` as the output (`--send-only` throws away what
    /// arrives); standard output itself if /dev/null cannot be opened.
    pub fn null_output() -> Stdio {
        // SAFETY: opening a constant path; the result is checked.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Stdio::output();
        }
        Stdio {
            fd,
            poll_fd: fd,
            kind: Kind::Device,
            // epoll refuses /dev/null: it is always ready for writes.
            watchable: false,
            dgram: false,
            owned: true,
            restore: None,
        }
    }

    fn open(fd: RawFd, mode: i32) -> Stdio {
        let kind = kind_of(fd);
        let watchable = match kind {
            Kind::Tty | Kind::Pipe | Kind::Socket => true,
            Kind::Regular => false,
            Kind::Device | Kind::Other => epoll_accepts(fd),
        };
        let mut s = Stdio {
            fd,
            poll_fd: fd,
            kind,
            watchable,
            dgram: kind == Kind::Socket && !is_stream_socket(fd),
            owned: false,
            restore: None,
        };
        // An fd not open for this direction (stdin the write end of a pipe,
        // stdout a tty opened read-only) is left as it is: its reads or
        // writes fail with EBADF, as nc's do. Reopening it by path would
        // give the other end of the pipe, or a tty opened the other way.
        if matches!(kind, Kind::Pipe | Kind::Tty) && open_for(fd, mode) {
            if let Some(n) = reopen(fd, mode) {
                s.fd = n;
                s.owned = true;
            } else {
                // SAFETY: fcntl on a valid fd.
                let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
                if flags >= 0 && flags & libc::O_NONBLOCK == 0 {
                    // SAFETY: as above.
                    unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
                    s.restore = Some((fd, flags));
                    crate::sys::signals::remember_flags(fd, Some(flags));
                }
            }
        }
        s
    }

    /// Whether epoll can watch this fd. Regular files and devices such as
    /// /dev/null cannot be registered; they are always ready. Any other
    /// file (a device that waits for data, an eventfd) must be watched, or
    /// its data would wait for something else to wake the loop.
    pub fn pollable(&self) -> bool {
        self.watchable
    }

    /// A socket where each write is one message (UDP, a Unix datagram or
    /// seqpacket socket): a write must not be larger than a peer reads of
    /// one, nor than the socket can send.
    pub fn datagram(&self) -> bool {
        self.dgram
    }

    /// One non-blocking read.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.kind == Kind::Socket {
            return recv(self.fd, buf);
        }
        // SAFETY: buf is valid for buf.len() bytes.
        cvt(unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) })
    }

    /// One non-blocking write.
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        if self.kind == Kind::Socket {
            return send(self.fd, buf);
        }
        // SAFETY: buf is valid for buf.len() bytes.
        cvt(unsafe { libc::write(self.fd, buf.as_ptr().cast(), buf.len()) })
    }
}

/// One non-blocking recv(2) on a socket.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) })
}

/// One non-blocking send(2) on a socket, never SIGPIPE.
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: buf is valid for buf.len() bytes.
    cvt(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) })
}

/// A syscall's return: the count, or the error it left in errno.
pub fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl Drop for Stdio {
    fn drop(&mut self) {
        if let Some((fd, flags)) = self.restore.take() {
            // SAFETY: restoring the flags we read from this fd.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
            crate::sys::signals::remember_flags(fd, None);
        }
        if self.owned {
            // SAFETY: the reopened fd is ours and closed once.
            unsafe { libc::close(self.fd) };
        }
    }
}

/// Whether epoll accepts `fd` (it refuses, with EPERM, files whose driver
/// has no poll method: regular files, directories, /dev/null, /dev/zero).
fn epoll_accepts(fd: RawFd) -> bool {
    // SAFETY: a fresh epoll instance, one registration with a zeroed event,
    // closed before returning.
    unsafe {
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        if ep < 0 {
            return false;
        }
        let mut ev: libc::epoll_event = std::mem::zeroed();
        let ok = libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) == 0;
        libc::close(ep);
        ok
    }
}

/// Whether the socket `fd` is a byte stream (SOCK_STREAM).
fn is_stream_socket(fd: RawFd) -> bool {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `v`.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    r != 0 || v == libc::SOCK_STREAM
}

/// Whether `fd` was opened for `mode` (O_RDONLY or O_WRONLY); O_RDWR
/// allows both.
fn open_for(fd: RawFd, mode: i32) -> bool {
    // SAFETY: F_GETFL on an fd only reads its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return false;
    }
    let acc = flags & libc::O_ACCMODE;
    acc == libc::O_RDWR || acc == mode
}

/// Opens a private, non-blocking description of the pipe or tty behind
/// `fd`, or None when the system does not allow it.
fn reopen(fd: RawFd, mode: i32) -> Option<RawFd> {
    let path = CString::new(format!("/proc/self/fd/{fd}")).ok()?;
    // SAFETY: opening a valid C path; the result is checked.
    let n = unsafe {
        libc::open(
            path.as_ptr(),
            mode | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY,
        )
    };
    if n < 0 {
        return None;
    }
    // Make sure it is the same file (not, say, a pty that was reallocated).
    // SAFETY: fstat on two valid fds with zeroed buffers.
    let same = unsafe {
        let mut a: libc::stat = std::mem::zeroed();
        let mut b: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut a) == 0
            && libc::fstat(n, &mut b) == 0
            && a.st_dev == b.st_dev
            && a.st_ino == b.st_ino
    };
    if !same {
        // SAFETY: n is ours.
        unsafe { libc::close(n) };
        return None;
    }
    Some(n)
}
