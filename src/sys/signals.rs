//! SIGINT, SIGTERM and SIGHUP: wake the loop, clean up, die by the signal.
//! SIGWINCH, for `--raw` only ([`watch_winch`]): wake the loop, which
//! takes the news with [`take_winch`].
//!
//! The handler is async-signal-safe and tiny: it records the signal and
//! writes one byte to a non-blocking pipe whose read end the event loop
//! watches (token [`crate::sys::reactor::WAKER`]), so a wait never sleeps
//! through a signal, even one that lands just before the loop blocks. The
//! loop then returns [`crate::sys::reactor::Stop::Signal`], every guard on the
//! way up restores what ncrab changed (file-status flags, socket files,
//! temporary directories), and `main` re-raises the signal with its default
//! action so the shell sees a real signal death (docs/compatibility.md departure 9: status 130
//! for SIGINT). No thread is involved: the whole program is the one loop.
//!
//! The handlers are installed without SA_RESTART: a blocking system call
//! the program is in, such as a message written to a full stderr pipe whose
//! reader has stopped, returns EINTR instead of holding off the signal
//! until the reader wakes up (nc, with no handlers, dies at once there).
//!
//! A signal ignored when ncrab starts stays ignored, as in nc, which
//! installs no handlers: `nohup` (SIGHUP) and the background jobs of a
//! non-interactive shell (SIGINT) rely on it.
//!
//! Name lookups (getaddrinfo, getnameinfo) are the one place the program
//! blocks outside the loop, possibly for many seconds when no name server
//! answers, and the C library retries its calls after EINTR. A signal that
//! arrives during one ([`during_lookup`]) ends the process at once, as it
//! ends nc: the handler puts back any file-status flags ncrab changed on a
//! shared stdin or stdout ([`remember_flags`]), which is all there can be
//! to undo at that point (no socket file, temporary directory or terminal
//! mode is ever set up around a lookup), and re-raises the signal with its
//! default action.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The signal the loop should act on (0 = none).
static PENDING: AtomicI32 = AtomicI32::new(0);
/// The write end of the loop's wake-up pipe (-1 = none yet).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Set while the program is inside a name lookup.
static IN_LOOKUP: AtomicBool = AtomicBool::new(false);
/// File-status flags to put back on fds 0 and 1 (-1: nothing to restore).
static SAVED_FLAGS: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];

/// SIGWINCH arrived since the last [`take_winch`].
static WINCH: AtomicBool = AtomicBool::new(false);

/// Async-signal-safe: one byte to the loop's wake-up pipe.
fn wake() {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: errno is thread-local and valid; write(2) of one byte
        // from a valid buffer to our own pipe (a full pipe just fails).
        unsafe {
            let errno = *libc::__errno_location();
            let _ = libc::write(fd, [1u8].as_ptr().cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// SIGWINCH's handler: async-signal-safe (an atomic, [`wake`]).
extern "C" fn record_winch(_sig: libc::c_int) {
    WINCH.store(true, Ordering::SeqCst);
    wake();
}

/// Catches SIGWINCH (the terminal's size changed) from now on.
/// SA_RESTART: the signal only carries news, no blocking call needs to
/// end for it.
pub fn watch_winch() {
    let new = action(record_winch, &[], libc::SA_RESTART);
    // SAFETY: a valid sigaction; `record_winch` is async-signal-safe.
    unsafe { libc::sigaction(libc::SIGWINCH, &new, std::ptr::null_mut()) };
}

/// A sigaction running `handler` with `masked` blocked meanwhile.
fn action(handler: extern "C" fn(libc::c_int), masked: &[i32], flags: i32) -> libc::sigaction {
    // SAFETY: a zeroed sigaction is valid; sigemptyset/sigaddset fill
    // its mask.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut new.sa_mask);
        for &sig in masked {
            libc::sigaddset(&mut new.sa_mask, sig);
        }
        new.sa_flags = flags;
        new
    }
}

/// Whether SIGWINCH arrived since the last call.
pub fn take_winch() -> bool {
    WINCH.swap(false, Ordering::SeqCst)
}

/// The handler. Async-signal-safe: atomics, write(2), and errno saved and
/// put back so the interrupted code sees its own.
extern "C" fn record(sig: libc::c_int) {
    PENDING.store(sig, Ordering::SeqCst);
    if IN_LOOKUP.load(Ordering::SeqCst) {
        die_now(sig);
        return;
    }
    wake();
}

/// Installs the handlers. A failure is not fatal: ncrab then simply dies
/// by the signal's default action, as nc does.
pub fn install() {
    // No SA_RESTART (see the module text).
    let new = action(record, &SIGNALS, 0);
    // SAFETY: sigaction with a zeroed old structure; `record` is
    // async-signal-safe.
    unsafe {
        for &sig in &SIGNALS {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            libc::sigaction(sig, &new, std::ptr::null_mut());
        }
    }
}

/// The loop's wake-up pipe: the handler writes to `fd`.
pub fn set_wake_fd(fd: RawFd) {
    WAKE_FD.store(fd, Ordering::SeqCst);
}

/// Async-signal-safe: restore the saved flags, then raise `sig` with its
/// default action. Inside the handler the signal is blocked, so it is
/// delivered, and ends the process, as soon as the handler returns.
fn die_now(sig: libc::c_int) {
    restore_saved_flags();
    // SAFETY: signal and raise are async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Async-signal-safe: puts back the flags [`remember_flags`] recorded.
fn restore_saved_flags() {
    for (fd, saved) in SAVED_FLAGS.iter().enumerate() {
        let flags = saved.load(Ordering::SeqCst);
        if flags >= 0 {
            // SAFETY: fcntl is async-signal-safe; fd is 0 or 1.
            unsafe { libc::fcntl(fd as libc::c_int, libc::F_SETFL, flags) };
        }
    }
}

/// Records the flags `fd` (0 or 1) had before ncrab set O_NONBLOCK on its
/// shared description, for a death during a lookup; None forgets them.
pub fn remember_flags(fd: i32, flags: Option<i32>) {
    if let Some(slot) = usize::try_from(fd).ok().and_then(|i| SAVED_FLAGS.get(i)) {
        slot.store(flags.unwrap_or(-1), Ordering::SeqCst);
    }
}

/// Runs a blocking name lookup during which SIGINT, SIGTERM and SIGHUP end
/// the process at once (see the module text). A signal already pending
/// ends it before the lookup starts.
pub fn during_lookup<T>(lookup: impl FnOnce() -> T) -> T {
    IN_LOOKUP.store(true, Ordering::SeqCst);
    if let Some(sig) = pending() {
        die_by(sig);
    }
    let r = lookup();
    IN_LOOKUP.store(false, Ordering::SeqCst);
    r
}

/// The signal waiting to be acted on, if any.
pub fn pending() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Ends the process by `sig` with its default action. Flags still
/// recorded by [`remember_flags`] (none once the guards have run) are put
/// back first.
pub fn die_by(sig: i32) -> ! {
    restore_saved_flags();
    // SAFETY: resetting a disposition, unblocking and raising are plain
    // libc calls with valid arguments.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}
