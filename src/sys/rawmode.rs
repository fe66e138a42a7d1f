//! `--raw`: the client's terminal in raw mode for the session, put back
//! by [`RawMode`]'s drop on every way out. A signal that ends the run
//! (SIGINT, SIGTERM, SIGHUP) unwinds through it too: the loop stops, the
//! `Abort` goes up through the guard, then `signals::die_by` ends the
//! process. No name lookup runs while the terminal is raw (the connection
//! is made first), so the handler's immediate death of a lookup
//! (`signals::during_lookup`) never leaves it raw.

use std::io;
use std::os::fd::RawFd;

/// The terminal's settings before raw mode, put back on drop.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts the terminal `fd` in raw mode (cfmakeraw: no echo, no line
    /// editing, no signal keys, no output processing).
    pub fn enter(fd: RawFd) -> io::Result<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on a valid fd with valid termios.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut saved) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(fd, libc::TCSADRAIN, &raw) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(RawMode { fd, saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restoring the settings read from this fd.
        unsafe { libc::tcsetattr(self.fd, libc::TCSADRAIN, &self.saved) };
    }
}

/// The terminal's window size (rows, columns), if it has one.
pub fn window_size(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills one winsize.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0).then_some((ws.ws_row, ws.ws_col))
    }
}
