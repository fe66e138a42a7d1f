//! Secrets typed at the terminal: the `-S` TCP MD5 key and the proxy
//! password (docs/compatibility.md §6.3, §7.4).
//!
//! nc reads both with readpassphrase(3) and RPP_REQUIRE_TTY: the prompt is
//! written to `/dev/tty` and the answer read from it with echo off, so a
//! process without a controlling terminal cannot answer (nc then fails with
//! `Unable to read ...`). [`read`] does the same: open `/dev/tty`, turn echo
//! off (flushing typed-ahead input), print the prompt, read one line, put
//! the terminal back and print the newline the user could not see.
//!
//! The wait is for a person, so it blocks, but never past a signal: while
//! the prompt is up, SIGINT, SIGTERM, SIGHUP and SIGQUIT are caught by a
//! handler of our own, the terminal is restored, the previous handlers are
//! put back and the caller is told which signal arrived (ncrab then cleans
//! up and dies by it). The job-control stops (SIGTSTP, SIGTTIN, SIGTTOU)
//! restore the terminal, stop the process, and ask again after SIGCONT.
//!
//! A [`Secret`] never prints its contents (`Debug` is redacted) and is
//! zeroed when dropped.

use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};

/// Bytes that must never reach any output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: writing through a valid &mut u8; volatile so the
            // store is not optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Why no secret was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptError {
    /// There is no terminal to ask on, or reading it failed.
    NoTty,
    /// This signal arrived while the prompt was up; the terminal has been
    /// restored and the caller should end the run by it.
    Signal(i32),
}

/// The signal caught while the prompt is up (0 = none).
static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn caught(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// Signals that end the prompt, and those that only suspend it.
const ENDING: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
const STOPPING: [i32; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// Closes the terminal fd on every path.
struct Tty(i32);

impl Drop for Tty {
    fn drop(&mut self) {
        // SAFETY: our own fd, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// Our handlers while the prompt is up; the previous ones come back on drop.
struct Handlers(Vec<(i32, libc::sigaction)>);

impl Handlers {
    fn install() -> Handlers {
        let mut saved = Vec::new();
        for &sig in ENDING.iter().chain(STOPPING.iter()) {
            // SAFETY: a zeroed sigaction with a valid handler and an empty
            // mask; no SA_RESTART, so a blocked poll(2) returns EINTR.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = caught as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &new, &mut old) == 0 {
                    saved.push((sig, old));
                }
            }
        }
        Handlers(saved)
    }
}

impl Drop for Handlers {
    fn drop(&mut self) {
        for (sig, old) in &self.0 {
            // SAFETY: restoring a disposition sigaction gave us.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
    }
}

/// Echo off while alive; the saved settings come back on drop.
struct NoEcho {
    fd: i32,
    saved: Option<libc::termios>,
}

impl NoEcho {
    fn new(fd: i32) -> NoEcho {
        // SAFETY: tcgetattr fills a zeroed termios for a valid fd.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
            return NoEcho { fd, saved: None };
        }
        let mut quiet = t;
        quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
        // SAFETY: as above; TCSAFLUSH drops input typed before the prompt.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
            return NoEcho { fd, saved: None };
        }
        NoEcho { fd, saved: Some(t) }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        if let Some(t) = self.saved.take() {
            write_all(self.fd, b"\n");
            // SAFETY: restoring the settings read from this fd.
            unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &t) };
        }
    }
}

fn write_all(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n > 0 {
            buf = &buf[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            return;
        }
    }
}

/// How one prompt ended.
enum Line {
    Read(Vec<u8>),
    Failed,
    Signal(i32),
}

/// Reads one line from the terminal with echo off, keeping at most
/// `max - 1` bytes (readpassphrase's buffer of `max` bytes, NUL included).
fn read_line(fd: i32, prompt: &str, max: usize) -> Line {
    let _echo = NoEcho::new(fd);
    write_all(fd, prompt.as_bytes());
    let mut line = Vec::new();
    loop {
        let sig = CAUGHT.load(Ordering::SeqCst);
        if sig != 0 {
            return Line::Signal(sig);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd. The timeout only bounds how long a
        // signal delivered to another thread goes unnoticed.
        let n = unsafe { libc::poll(&mut pfd, 1, 200) };
        if n <= 0 {
            continue; // timeout or EINTR: look at CAUGHT again
        }
        let mut ch = 0u8;
        // SAFETY: reading one byte into a valid u8.
        let r = unsafe { libc::read(fd, (&mut ch as *mut u8).cast(), 1) };
        match r {
            1 if ch == b'\n' || ch == b'\r' => return Line::Read(line),
            1 => {
                if line.len() + 1 < max {
                    line.push(ch);
                }
            }
            0 => return Line::Read(line), // EOF ends the line
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return Line::Failed,
        }
    }
}

/// readpassphrase(prompt, buf, max, RPP_REQUIRE_TTY).
pub fn read(prompt: &str, max: usize) -> Result<Secret, PromptError> {
    loop {
        // SAFETY: opening a constant path; the fd is owned by `Tty`.
        let fd = unsafe {
            libc::open(
                c"/dev/tty".as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(PromptError::NoTty);
        }
        let tty = Tty(fd);
        CAUGHT.store(0, Ordering::SeqCst);
        let handlers = Handlers::install();
        let line = read_line(tty.0, prompt, max);
        drop(handlers);
        drop(tty);
        match line {
            Line::Read(v) => return Ok(Secret::new(v)),
            Line::Failed => return Err(PromptError::NoTty),
            Line::Signal(sig) if STOPPING.contains(&sig) => {
                // Stop as the terminal asked; prompt again once continued.
                // SAFETY: sending a job-control signal to ourselves with
                // its previous (default) disposition back in place.
                unsafe { libc::kill(libc::getpid(), sig) };
            }
            Line::Signal(sig) => return Err(PromptError::Signal(sig)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(s.as_bytes(), b"hunter2");
    }
}
