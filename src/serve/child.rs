//! A child process that serves one connection (`--exec`, `--sh-exec`). An extension:
//! docs/compatibility.md §A.3.
//!
//! The child's stdin and stdout are pipes whose other ends ncrab keeps,
//! non-blocking, for the event loop; its stderr is ncrab's. Every fd ncrab
//! opens is close-on-exec (sockets through `SOCK_CLOEXEC`, pipes, the
//! epoll fd, log files), so the child starts with fds 0-2 only. The child
//! learns about the connection from its environment: `NCRAB_REMOTE_ADDR`,
//! `NCRAB_REMOTE_PORT`, `NCRAB_LOCAL_ADDR`, `NCRAB_LOCAL_PORT`,
//! `NCRAB_PROTO`, and the same under ncat's `NCAT_` names.
//!
//! With `--pty` the child runs on a pseudo-terminal instead, as socat's
//! `EXEC:...,pty,setsid,ctty,stderr`: a new session whose controlling
//! terminal is the slave side, on its fds 0, 1 and 2; ncrab keeps the
//! master, non-blocking, as both ends (`stdin` and `stdout` are two
//! descriptors of the one master). The window starts at [`PTY_SIZE`].
//! Once the child and everything it started have closed the slave, a
//! read of the master fails with EIO: the end of its output.
//!
//! Reaping goes through the loop: a pidfd (`pidfd_open`) becomes readable
//! when the child exits, and only then is it reaped with `waitpid`, so
//! nothing ever blocks on a child. A kernel without pidfds falls back to
//! looking (`WNOHANG`) on a short timer. [`Child::terminate`] sends
//! SIGTERM; dropping a `Child` that has not been reaped sends SIGTERM and
//! waits for it a bounded time, so a run that ends by a signal leaves no
//! zombie and no orphan behind that would not end.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The program to run for each connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exec {
    /// `--exec`: the program and its arguments, split on spaces.
    Argv(Vec<OsString>),
    /// `--sh-exec`: a command for `/bin/sh -c`.
    Shell(OsString),
}

impl Exec {
    /// The name used in messages: the program, or `/bin/sh`.
    pub fn program(&self) -> &std::ffi::OsStr {
        match self {
            Exec::Argv(v) => v[0].as_os_str(),
            Exec::Shell(_) => std::ffi::OsStr::new("/bin/sh"),
        }
    }
}

/// The connection a child serves, for its environment.
#[derive(Clone, Copy, Debug)]
pub struct Ends {
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    pub proto: &'static str,
}

/// A running (or exited, not yet reaped) child.
pub struct Child {
    pid: libc::pid_t,
    /// Readable once the child has exited; None without pidfd support.
    pidfd: Option<OwnedFd>,
    /// Our end of the child's stdin (None once closed).
    pub stdin: Option<OwnedFd>,
    /// Our end of the child's stdout (None once closed).
    pub stdout: Option<OwnedFd>,
    /// The exit status, once reaped.
    status: Option<i32>,
    /// `--pty`: the terminal's end-of-file character (VEOF), written
    /// when the peer's stream ends.
    pub veof: Option<u8>,
}

/// A `--pty` child's first window size (rows, columns), until the peer
/// tells its own.
pub const PTY_SIZE: (u16, u16) = (24, 80);

/// Sets the window size of the terminal whose master (or slave) is `fd`;
/// the kernel sends SIGWINCH to its foreground process group.
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one valid winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new pseudo-terminal: the master (close-on-exec, non-blocking) and
/// the slave, at [`PTY_SIZE`].
fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut m, mut s) = (-1, -1);
    let ws = libc::winsize {
        ws_row: PTY_SIZE.0,
        ws_col: PTY_SIZE.1,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds; the name and termios are unused.
    let r = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just returned to us.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    for fd in [m, s] {
        // SAFETY: fcntl on our own fds.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    set_nonblocking(m)?;
    Ok((master, slave))
}

/// The terminal's VEOF character (^D unless changed).
fn veof_of(fd: RawFd) -> u8 {
    // SAFETY: tcgetattr into a zeroed termios.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) == 0 {
            return t.c_cc[libc::VEOF];
        }
    }
    4
}

/// Marks every fd from 3 up close-on-exec, including any ncrab inherited
/// without the flag from whoever started it, so a child gets fds 0-2
/// only. Called once before the first child starts (fd flags belong to
/// this process's table: nobody else sees the change).
pub fn cloexec_inherited() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets FD_CLOEXEC.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    // An older kernel: one fcntl per open fd.
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<RawFd> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: F_GETFD/F_SETFD on an fd number; a closed one fails.
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFD);
                if fl >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, fl | libc::FD_CLOEXEC);
                }
            }
        }
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a valid fd we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Child {
    /// Starts `exec` with piped stdin and stdout and the connection's
    /// environment; `pty`: on a new pseudo-terminal instead (see the
    /// module text).
    pub fn spawn(exec: &Exec, ends: &Ends, pty: bool) -> io::Result<Child> {
        let mut cmd = match exec {
            Exec::Argv(v) => {
                let mut c = Command::new(&v[0]);
                c.args(&v[1..]);
                c
            }
            Exec::Shell(s) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(s);
                c
            }
        };
        for prefix in ["NCRAB_", "NCAT_"] {
            let var = |name: &str| format!("{prefix}{name}");
            if let Some(a) = ends.remote {
                cmd.env(var("REMOTE_ADDR"), a.ip().to_string());
                cmd.env(var("REMOTE_PORT"), a.port().to_string());
            }
            if let Some(a) = ends.local {
                cmd.env(var("LOCAL_ADDR"), a.ip().to_string());
                cmd.env(var("LOCAL_PORT"), a.port().to_string());
            }
            cmd.env(var("PROTO"), ends.proto.to_ascii_uppercase());
        }
        let master = if pty {
            let (master, slave) = open_pty()?;
            cmd.stdin(Stdio::from(slave.try_clone()?))
                .stdout(Stdio::from(slave.try_clone()?))
                .stderr(Stdio::from(slave));
            // SAFETY: setsid and ioctl are async-signal-safe; the new
            // session (its own process group too, for SIGTERM) takes the
            // slave, now fd 0, as its controlling terminal.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            Some(master)
        } else {
            // Its own process group, so that SIGTERM reaches what a shell
            // command started too.
            cmd.process_group(0);
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            None
        };
        let mut child = cmd.spawn()?;
        // (The slave's copies in `cmd` close with it, so that the child's
        // exit is the master's EIO.)
        drop(cmd);
        let pid = child.id() as libc::pid_t;
        let (stdin, stdout, veof) = match master {
            Some(m) => {
                let veof = veof_of(m.as_raw_fd());
                (Some(m.try_clone()?), Some(m), Some(veof))
            }
            None => (
                child.stdin.take().map(OwnedFd::from),
                child.stdout.take().map(OwnedFd::from),
                None,
            ),
        };
        // std's `Child` never reaps on drop; ncrab reaps through the pidfd.
        drop(child);
        for fd in stdin.iter().chain(stdout.iter()) {
            set_nonblocking(fd.as_raw_fd())?;
        }
        // SAFETY: pidfd_open on our own unreaped child; the fd returned is
        // close-on-exec and owned here.
        let pidfd = unsafe {
            let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
            (fd >= 0).then(|| OwnedFd::from_raw_fd(fd as RawFd))
        };
        Ok(Child {
            pid,
            pidfd,
            stdin,
            stdout,
            status: None,
            veof,
        })
    }

    /// The fd that becomes readable when the child exits, if any.
    pub fn pidfd(&self) -> Option<RawFd> {
        self.pidfd.as_ref().map(|f| f.as_raw_fd())
    }

    /// Whether the child has been reaped.
    pub fn exited(&self) -> bool {
        self.status.is_some()
    }

    /// Reaps the child if it has exited (never blocks). True once reaped.
    pub fn try_reap(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        let mut st = 0;
        // SAFETY: waitpid on our own child with WNOHANG.
        let r = unsafe { libc::waitpid(self.pid, &mut st, libc::WNOHANG) };
        if r == self.pid
            || (r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
        {
            self.status = Some(st);
            self.pidfd = None;
        }
        self.status.is_some()
    }

    /// Closes our ends of both pipes.
    pub fn close_pipes(&mut self) {
        self.stdin = None;
        self.stdout = None;
    }

    /// Sends SIGTERM to the child's process group, unless it is reaped.
    pub fn terminate(&self) {
        if self.status.is_none() {
            // SAFETY: kill on our own unreaped child's process group (the
            // pid, hence the group id, cannot be reused before we reap it).
            unsafe { libc::kill(-self.pid, libc::SIGTERM) };
        }
    }
}

/// How long dropping a live child waits for it after SIGTERM.
const DROP_WAIT: Duration = Duration::from_millis(1000);

impl Drop for Child {
    fn drop(&mut self) {
        self.close_pipes();
        if self.try_reap() {
            return;
        }
        self.terminate();
        let until = Instant::now() + DROP_WAIT;
        while Instant::now() < until {
            if self.try_reap() {
                return;
            }
            match &self.pidfd {
                Some(fd) => {
                    let mut p = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: poll on one valid pollfd.
                    unsafe { libc::poll(&mut p, 1, 50) };
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}
