//! Every user-visible text ncrab prints, in one place.
//!
//! This module is the readable form of the behaviour contract
//! (docs/compatibility.md §2): each function here prints one message of
//! the catalogue, byte for byte as OpenBSD netcat does, or one of ncrab's
//! opt-in extensions (`-vv` diagnoses, `--json`). Error texts always come from
//! the C library (`strerror`, `gai_strerror`), never from Rust's `Display`
//! for `io::Error`, which appends "(os error N)".
//!
//! Messages are prefixed with the basename of `argv[0]` ([`prog`]), except
//! getopt's own errors, which use the full `argv[0]` as glibc does.

//! The texts live in one file a subject: [`out`] (where lines go),
//! [`nc`] (nc's messages), [`proxy`], [`detail`] (`-vv` lines under nc's
//! verdicts), [`json`], [`targets`], [`terminal`] (the status line),
//! [`serve`] (the serving listeners), [`tls`] and [`diagnosis`]. The
//! functions of the first ones are re-exported here, so a caller names a
//! message `report::connect_failed` whatever file holds it.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

pub mod detail;
pub mod diagnosis;
pub mod json;
pub mod nc;
pub mod out;
pub mod proxy;
pub mod serve;
pub mod targets;
pub mod tell;
pub mod terminal;
pub mod tls;

pub use detail::*;
pub use json::*;
pub use nc::*;
pub use out::*;
pub use proxy::*;
pub use serve::*;
pub use targets::*;
pub use tell::Lines;
pub use terminal::*;

pub use crate::sys::errno::{Errno, GaiError};

static ARGV0: OnceLock<OsString> = OnceLock::new();

/// Records `argv[0]`; called once at start-up.
pub fn set_argv0(argv0: OsString) {
    let _ = ARGV0.set(argv0);
}

/// The full `argv[0]`, as glibc's getopt prints it.
pub fn argv0() -> &'static [u8] {
    ARGV0.get().map(|s| s.as_bytes()).unwrap_or(b"ncrab")
}

/// The message prefix: the basename of `argv[0]` (glibc's
/// `program_invocation_short_name`), so a symlink named `nc` prints `nc: `.
pub fn prog() -> &'static [u8] {
    let full = argv0();
    match full.iter().rposition(|&b| b == b'/') {
        Some(i) => &full[i + 1..],
        None => full,
    }
}

/// The program name as text, for the usage line and help.
pub fn prog_str() -> String {
    String::from_utf8_lossy(prog()).into_owned()
}

/// A stopped loop ends the run: a signal unwinds to die by it, a failed
/// `epoll_wait` is reported (`polling error`) and fails the run.
impl From<crate::sys::reactor::Stop> for crate::sys::exit::Abort {
    fn from(s: crate::sys::reactor::Stop) -> crate::sys::exit::Abort {
        match s {
            crate::sys::reactor::Stop::Signal(sig) => crate::sys::exit::Abort::Signal(sig),
            crate::sys::reactor::Stop::Poll(e) => {
                warn(format_args!("polling error"), Errno::of(&e));
                crate::sys::exit::Abort::Failed
            }
        }
    }
}
