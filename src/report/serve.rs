//! Listeners that serve (docs/compatibility.md §A.3): exec, access
//! lists, limits, broker, logs.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::out::{emit_parts, note, warn, warnx};
use super::{Errno, human_bytes};

/// `IP PORT` of a peer, numeric (a refused peer never costs a lookup).
fn peer_text(peer: &socket2::SockAddr) -> String {
    match peer.as_socket() {
        Some(a) => format!("{} {}", a.ip(), a.port()),
        None => String::from("unknown"),
    }
}

/// `-v`: a connection the access lists refuse (closed at once).
pub fn conn_refused_acl(peer: &socket2::SockAddr) {
    note(format_args!(
        "Connection from {} refused: not allowed",
        peer_text(peer)
    ));
}

/// `-v`: a connection over `--max-conns` (closed at once).
pub fn conn_refused_limit(peer: &socket2::SockAddr, max: usize) {
    note(format_args!(
        "Connection from {} refused: connection limit ({max}) reached",
        peer_text(peer)
    ));
}

/// `-v`: a broker client that stopped keeping up, dropped.
pub fn broker_dropped_slow(peer: &socket2::SockAddr, queue: usize) {
    note(format_args!(
        "Connection from {} dropped: it reads too slowly ({} queued)",
        peer_text(peer),
        human_bytes(queue as u64)
    ));
}

/// `--raw`: the terminal could not be put in raw mode.
pub fn raw_mode_failed(errno: Errno) {
    emit_parts(true, &[format!("--raw: terminal: {errno}").as_bytes()]);
}

/// The program of `--exec`/`--sh-exec` could not be started.
pub fn exec_failed(program: &OsStr, errno: Errno) {
    emit_parts(
        true,
        &[
            b"cannot run ",
            program.as_bytes(),
            format!(": {errno}").as_bytes(),
        ],
    );
}

/// An `--allow`/`--deny` list holds an entry that is not an address, a
/// CIDR block or a known host.
pub fn acl_bad_entry(option: &str, entry: &str, why: &str) {
    warnx(format_args!("{option}: bad entry '{entry}': {why}"));
}

/// An `--allowfile`/`--denyfile` could not be read.
pub fn acl_file_failed(option: &str, path: &OsStr, errno: Errno) {
    emit_parts(
        true,
        &[
            option.as_bytes(),
            b" ",
            path.as_bytes(),
            format!(": {errno}").as_bytes(),
        ],
    );
}

/// `--output`/`--hex-dump` could not be opened.
pub fn log_open_failed(path: &OsStr, errno: Errno) {
    emit_parts(true, &[path.as_bytes(), format!(": {errno}").as_bytes()]);
}

/// Writing `--output`/`--hex-dump` failed: logging stops, the session not.
pub fn log_write_failed(errno: Errno) {
    warn(format_args!("session log"), errno);
}
