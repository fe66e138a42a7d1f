//! Errors as the C library words them: an errno whose `Display` is
//! `strerror` ([`Errno`]) and a getaddrinfo code whose `Display` is
//! `gai_strerror` ([`GaiError`]), never Rust's "(os error N)". Every layer
//! carries these to `report`, which prints them.

use std::ffi::CStr;
use std::fmt;
use std::io;

/// An errno value whose `Display` is the C library's `strerror` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The errno carried by an `io::Error` (EIO when it has none).
    pub fn of(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The symbolic name (`ECONNREFUSED`), for `--json`.
    pub fn name(self) -> &'static str {
        name(self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0 as libc::c_char; 256];
        // SAFETY: the XSI strerror_r writes a NUL-terminated string into buf.
        let rc = unsafe { libc::strerror_r(self.0, buf.as_mut_ptr(), buf.len()) };
        if rc != 0 {
            return write!(f, "Unknown error {}", self.0);
        }
        // SAFETY: strerror_r succeeded, so buf holds a C string.
        let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
        f.write_str(&s.to_string_lossy())
    }
}

impl From<&io::Error> for Errno {
    fn from(e: &io::Error) -> Errno {
        Errno::of(e)
    }
}

/// A getaddrinfo/getnameinfo error code whose `Display` is `gai_strerror`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GaiError {
    pub code: i32,
    /// errno at the time of an EAI_SYSTEM failure.
    pub errno: i32,
}

impl fmt::Display for GaiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == libc::EAI_SYSTEM {
            return Errno(self.errno).fmt(f);
        }
        // SAFETY: gai_strerror returns a pointer to a static string.
        let s = unsafe { CStr::from_ptr(libc::gai_strerror(self.code)) };
        f.write_str(&s.to_string_lossy())
    }
}

/// The symbolic name of an errno value.
fn name(e: i32) -> &'static str {
    match e {
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EINVAL => "EINVAL",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ECONNRESET => "ECONNRESET",
        libc::EPIPE => "EPIPE",
        libc::ENOENT => "ENOENT",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOBUFS => "ENOBUFS",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENETDOWN => "ENETDOWN",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EPROTO => "EPROTO",
        _ => "EUNKNOWN",
    }
}
