//! Where the texts go: standard error and standard output, written
//! whole, never blocking past a signal, held in order while a [`batch`]
//! is open, with the terminal's status line erased before a line.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Write};

use super::{Errno, prog};

/// Where a line goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Stream {
    Stdout,
    Stderr,
}

/// Held output: runs of bytes, in order, each for one stream.
type Runs = Vec<(Stream, Vec<u8>)>;

thread_local! {
    /// The lines held while a [`batch`] is open.
    static HELD: RefCell<Option<Runs>> = const { RefCell::new(None) };
}

/// A held run larger than this is written at once.
const HELD_MAX: usize = 64 * 1024;

thread_local! {
    /// A status line is on the terminal (stderr) and must be erased
    /// before anything else is written there.
    pub(super) static STATUS_SHOWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether standard output is a terminal (asked once).
fn stdout_is_tty() -> bool {
    thread_local! {
        static TTY: bool = unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1;
    }
    TTY.with(|t| *t)
}

/// Erases the status line before `stream` is written to, when the two
/// share the terminal.
fn erase_status_for(stream: Stream) {
    if STATUS_SHOWN.get() && (stream == Stream::Stderr || stdout_is_tty()) {
        STATUS_SHOWN.set(false);
        write_to(Stream::Stderr, b"\r\x1b[K");
    }
}

/// Writes bytes to a stream, ignoring failures (stderr may be closed; a
/// message is never worth dying for).
///
/// The stream may also be a full pipe whose reader has stopped: the write
/// then waits, but never past SIGINT or SIGTERM. It waits for room with
/// poll(2), a fifth of a second at a time, looking at the pending signal
/// in between, and writes at most PIPE_BUF bytes at once (which a pipe
/// with room takes without blocking); a signal also interrupts a write
/// that does block (see `signals`). Once a signal is pending the rest is
/// dropped: the run is ending.
pub(super) fn write_to(stream: Stream, bytes: &[u8]) {
    let fd = match stream {
        Stream::Stdout => libc::STDOUT_FILENO,
        Stream::Stderr => libc::STDERR_FILENO,
    };
    if !bytes.starts_with(b"\r") {
        erase_status_for(stream);
    }
    let mut rest = bytes;
    while !rest.is_empty() && crate::sys::signals::pending().is_none() {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 200) } <= 0 {
            continue; // no room yet, or EINTR: look at the signal again
        }
        let n = rest.len().min(libc::PIPE_BUF);
        // SAFETY: rest is valid for n bytes.
        let w = unsafe { libc::write(fd, rest.as_ptr().cast(), n) };
        if w > 0 {
            rest = &rest[w as usize..];
        } else if w == 0
            || !matches!(
                io::Error::last_os_error().raw_os_error(),
                Some(libc::EINTR | libc::EAGAIN)
            )
        {
            return;
        }
    }
}

/// One whole line to `stream`: written at once in a single write, or
/// held while a [`batch`] is open.
fn output(stream: Stream, line: &[u8]) {
    enum Then {
        Write,
        Hold,
        Flush,
    }
    let then = HELD.with_borrow_mut(|held| {
        let Some(held) = held else {
            return Then::Write;
        };
        match held.last_mut() {
            Some((s, buf)) if *s == stream => buf.extend_from_slice(line),
            _ => held.push((stream, line.to_vec())),
        }
        match held.last() {
            Some((_, buf)) if buf.len() > HELD_MAX => Then::Flush,
            _ => Then::Hold,
        }
    });
    match then {
        Then::Write => write_to(stream, line),
        Then::Hold => {}
        Then::Flush => flush_held(),
    }
}

fn flush_held() {
    let runs = HELD.with_borrow_mut(|held| held.as_mut().map(std::mem::take));
    for (stream, bytes) in runs.into_iter().flatten() {
        write_to(stream, &bytes);
    }
}

/// Runs `f`, holding every line it prints and writing them when it
/// returns, in order, with one write per run of lines to the same stream.
/// A scan's report becomes known in batches (all the answers of one pass
/// of the loop); this prints each batch at once, as it becomes known.
pub fn batch<R>(f: impl FnOnce() -> R) -> R {
    let outer = HELD.with_borrow_mut(|held| {
        let outer = held.is_some();
        held.get_or_insert_with(Vec::new);
        outer
    });
    let r = f();
    if !outer {
        flush_held();
        HELD.set(None);
    }
    r
}

/// One whole line to stderr.
pub(super) fn emit(line: &[u8]) {
    output(Stream::Stderr, line);
}

/// `PROG: MSG\n` (nc's `warnx`/`errx`).
pub fn warnx(msg: fmt::Arguments<'_>) {
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(prog());
    line.extend_from_slice(b": ");
    let _ = line.write_fmt(msg);
    line.push(b'\n');
    emit(&line);
}

/// `PROG: MSG` followed by an argument exactly as the user typed it (nc's
/// `errx("... %s", optarg)`: bytes that are not UTF-8 come back unchanged).
pub fn warnx_arg(msg: fmt::Arguments<'_>, arg: &[u8]) {
    emit_parts(true, &[msg.to_string().as_bytes(), arg]);
}

/// `PROG: MSG: STRERROR\n` (nc's `warn`/`err`).
pub fn warn(msg: fmt::Arguments<'_>, errno: Errno) {
    warnx(format_args!("{msg}: {errno}"));
}

/// `PROG: STRERROR\n` (nc's `err(1, NULL)`, M14).
pub fn warn_errno(errno: Errno) {
    warnx(format_args!("{errno}"));
}

/// A plain line on stderr with no prefix (nc's `fprintf(stderr, ...)`).
pub fn note(msg: fmt::Arguments<'_>) {
    let mut line = Vec::with_capacity(128);
    let _ = line.write_fmt(msg);
    line.push(b'\n');
    emit(&line);
}

/// A line built from pieces, some of them the user's bytes: with the
/// `PROG: ` prefix (nc's warnx) or without (fprintf).
pub fn emit_parts(prefixed: bool, parts: &[&[u8]]) {
    let mut line = Vec::with_capacity(128);
    if prefixed {
        line.extend_from_slice(prog());
        line.extend_from_slice(b": ");
    }
    for p in parts {
        line.extend_from_slice(p);
    }
    line.push(b'\n');
    emit(&line);
}

/// Writes raw bytes to stdout (used for `--json` lines).
pub fn stdout_line(line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    output(Stream::Stdout, &bytes);
}
