//! SIGINT, SIGTERM and SIGHUP: wake the loop, clean up, die by the signal.
//!
//! ctrlc runs our handler on its own thread; the handler only records the
//! signal and wakes the event loop through its mio `Waker`. The loop then
//! returns [`crate::reactor::Stop::Signal`], every guard on the way up
//! restores what ncrab changed (file-status flags, socket files, temporary
//! directories), and `main` re-raises the signal with its default action so
//! the shell sees a real signal death (departure 9: status 130 for SIGINT).
//!
//! ctrlc cannot tell which signal fired, so a tiny async-signal-safe handler
//! is chained in front of its own: it stores the signal number (and marks
//! it pending at once), then calls ctrlc's handler.
//!
//! The signals are delivered to the main thread only (ctrlc's thread
//! blocks them), and without SA_RESTART: a blocking system call the main
//! thread is in, such as a message written to a full stderr pipe whose
//! reader has stopped, returns EINTR instead of holding off the signal
//! until the reader wakes up (nc, with no handlers, dies at once there).
//!
//! Name lookups (getaddrinfo, getnameinfo) are the one place the main
//! thread blocks outside the loop, possibly for many seconds when no name
//! server answers, and the C library retries its calls after EINTR. A
//! signal that arrives during one ([`during_lookup`]) ends the process at
//! once, as it ends nc: the handler puts back any file-status flags ncrab
//! changed on a shared stdin or stdout ([`remember_flags`]), which is all
//! there can be to undo at that point (no socket file, temporary directory
//! or terminal mode is ever set up around a lookup), and re-raises the
//! signal with its default action.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use mio::Waker;

const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The last signal recorded by [`record`].
static LAST: AtomicI32 = AtomicI32::new(0);
/// The signal the loop should act on (0 = none).
static PENDING: AtomicI32 = AtomicI32::new(0);
/// ctrlc's own handlers, by index in [`SIGNALS`].
static CHAINED: [AtomicUsize; 3] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];
static WAKER: OnceLock<Arc<Waker>> = OnceLock::new();
/// Set while the main thread is inside a name lookup.
static IN_LOOKUP: AtomicBool = AtomicBool::new(false);
/// File-status flags to put back on fds 0 and 1 (-1: nothing to restore).
static SAVED_FLAGS: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];

/// Async-signal-safe: store the number, then run ctrlc's handler, which
/// writes to its pipe so its thread wakes up.
extern "C" fn record(sig: libc::c_int) {
    LAST.store(sig, Ordering::SeqCst);
    PENDING.store(sig, Ordering::SeqCst);
    if IN_LOOKUP.load(Ordering::SeqCst) {
        die_now(sig);
        return;
    }
    if let Some(i) = SIGNALS.iter().position(|&s| s == sig) {
        let h = CHAINED[i].load(Ordering::SeqCst);
        if h > 1 {
            // SAFETY: h is the sa_handler ctrlc installed for this signal.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
            f(sig);
        }
    }
}

/// Installs the handlers. Failure is not fatal: ncrab then simply dies by
/// the signal's default action, as nc does.
pub fn install() {
    // A signal ignored when ncrab starts stays ignored, as in nc, which
    // installs no handlers: `nohup` (SIGHUP) and the background jobs of a
    // non-interactive shell (SIGINT) rely on it.
    let ignored = SIGNALS.map(|sig| {
        // SAFETY: querying a disposition into a zeroed sigaction.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        }
    });
    // ctrlc's thread inherits this mask: it never takes these signals, so
    // the kernel delivers them to the main thread.
    // SAFETY: building a signal set and changing this thread's mask.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        for &sig in &SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let ok = ctrlc::set_handler(|| {
        let sig = match LAST.load(Ordering::SeqCst) {
            0 => libc::SIGINT,
            s => s,
        };
        PENDING.store(sig, Ordering::SeqCst);
        if let Some(w) = WAKER.get() {
            let _ = w.wake();
        }
    });
    // SAFETY: unblocking what was blocked above, in this thread only.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    if ok.is_err() {
        return;
    }
    for (i, &sig) in SIGNALS.iter().enumerate() {
        if ignored[i] {
            // SAFETY: putting back the ignored disposition.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
            continue;
        }
        // SAFETY: querying and replacing a signal disposition with valid
        // sigaction structures; `record` is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                continue;
            }
            CHAINED[i].store(old.sa_sigaction, Ordering::SeqCst);
            let mut new = old;
            new.sa_sigaction = record as extern "C" fn(libc::c_int) as usize;
            new.sa_flags &= !libc::SA_RESTART;
            libc::sigaction(sig, &new, std::ptr::null_mut());
        }
    }
}

/// Async-signal-safe: restore the saved flags, then raise `sig` with its
/// default action. Inside the handler the signal is blocked, so it is
/// delivered, and ends the process, as soon as the handler returns.
fn die_now(sig: libc::c_int) {
    for (fd, saved) in SAVED_FLAGS.iter().enumerate() {
        let flags = saved.load(Ordering::SeqCst);
        if flags >= 0 {
            // SAFETY: fcntl is async-signal-safe; fd is 0 or 1.
            unsafe { libc::fcntl(fd as libc::c_int, libc::F_SETFL, flags) };
        }
    }
    // SAFETY: signal and raise are async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
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
        die_now(sig);
        die_by(sig);
    }
    let r = lookup();
    IN_LOOKUP.store(false, Ordering::SeqCst);
    r
}

/// Hands the loop's waker to the handler.
pub fn set_waker(w: Arc<Waker>) {
    let _ = WAKER.set(w);
}

/// The signal waiting to be acted on, if any.
pub fn pending() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Ends the process by `sig` with its default action.
pub fn die_by(sig: i32) -> ! {
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
