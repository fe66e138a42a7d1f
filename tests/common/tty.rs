//! A pseudo-terminal ([`Pty`]) for prompts (`-S`, proxy passwords) and
//! for a terminal as stdin or stdout.

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use super::{contains, eventually};

// ---------------------------------------------------------------------------
// Pseudo-terminals
// ---------------------------------------------------------------------------

/// A new pseudo-terminal: the test keeps the master side; the child gets
/// the slave as its controlling terminal ([`Cmd::tty`]) or as a plain
/// descriptor ([`Pty::open_slave`] with [`Input::Fd`] or [`OutputTo::Fd`]).
pub struct Pty {
    master: OwnedFd,
    pub slave: PathBuf,
    seen: Vec<u8>,
}

impl Pty {
    pub fn open() -> io::Result<Pty> {
        // SAFETY: plain libc pty calls; the master fd is wrapped at once.
        unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            if m < 0 {
                return Err(io::Error::last_os_error());
            }
            let master = OwnedFd::from_raw_fd(m);
            if libc::grantpt(m) != 0 || libc::unlockpt(m) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut name = [0 as libc::c_char; 128];
            if libc::ptsname_r(m, name.as_mut_ptr(), name.len()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let slave = CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned();
            let flags = libc::fcntl(m, libc::F_GETFL);
            libc::fcntl(m, libc::F_SETFL, flags | libc::O_NONBLOCK);
            Ok(Pty {
                master,
                slave: PathBuf::from(slave),
                seen: Vec::new(),
            })
        }
    }

    /// The slave side as a descriptor (not made anyone's terminal).
    #[track_caller]
    pub fn open_slave(&self) -> OwnedFd {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&self.slave)
            .unwrap_or_else(|e| panic!("open {}: {e}", self.slave.display()))
            .into()
    }

    /// Reads what the terminal shows until `needle` appears (true) or the
    /// limit passes (false).
    pub fn wait_for(&mut self, needle: &[u8], limit: Duration) -> bool {
        let start = self.seen.len();
        eventually(limit, || {
            self.drain();
            contains(&self.seen[start..], needle)
        })
    }

    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a valid buffer from our master fd.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            self.seen.extend_from_slice(&buf[..n as usize]);
        }
    }

    /// Types text at the terminal.
    pub fn type_text(&self, text: &[u8]) {
        // SAFETY: writing a valid buffer to our master fd.
        unsafe { libc::write(self.master.as_raw_fd(), text.as_ptr().cast(), text.len()) };
    }

    /// Whether the terminal echoes what is typed (read on the slave side).
    pub fn echo_on(&self) -> Option<bool> {
        let path = CString::new(self.slave.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: opening the slave without making it our terminal, reading
        // its settings into a zeroed termios, closing it.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
            if fd < 0 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            let ok = libc::tcgetattr(fd, &mut t) == 0;
            libc::close(fd);
            ok.then_some(t.c_lflag & libc::ECHO != 0)
        }
    }

    /// Everything the terminal has shown so far.
    pub fn screen(&mut self) -> Vec<u8> {
        self.drain();
        self.seen.clone()
    }
}
