//! Lists of destinations (extensions): why a list, block, range or
//! `--hosts` file was refused.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::Errno;
use super::out::{emit_parts, warnx};

/// Why a list of destinations (net/targets.rs) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// An empty item (`a,,b`, a trailing comma).
    Empty,
    /// `ADDR/N` with N not a prefix length of the address's family.
    Prefix { item: String, max: u32 },
    /// Host bits set below the prefix (`10.0.0.1/24`).
    HostBits { item: String },
    /// A range part that is not `N` or `A-B` with A <= B <= 255.
    Range { item: String },
    /// More than `max` addresses in one item.
    TooLarge { item: String, max: u64 },
    /// The list holds no address at all (every block trimmed empty).
    NoHosts,
}

/// A `--hosts` failure: the file cannot be read, or line `line` is bad.
#[derive(Debug)]
pub enum HostsFileError {
    Read(std::io::Error),
    TooBig { max_mib: usize },
    Line { line: usize, err: TargetError },
    NoHosts,
}

fn target_error_text(e: &TargetError) -> String {
    use TargetError as E;
    match e {
        E::Empty => "empty destination in list".to_string(),
        E::Prefix { item, max } => format!("{item}: prefix length must be 0 to {max}"),
        E::HostBits { item } => format!("{item}: address has bits set beyond the prefix"),
        E::Range { item } => {
            format!("{item}: bad range: each part must be N or A-B with A <= B <= 255")
        }
        E::TooLarge { item, max } => {
            format!("{item}: too many addresses (at most {max} in one block or range)")
        }
        E::NoHosts => "no destinations".to_string(),
    }
}

/// A destination operand that looks like a list, block or range but is
/// not a valid one.
pub fn target_error(e: &TargetError) {
    warnx(format_args!("{}", target_error_text(e)));
}

/// `--hosts FILE` could not be read, or a line of it is bad (named by
/// its number).
pub fn hosts_file_error(path: &OsStr, e: &HostsFileError) {
    use HostsFileError as E;
    let path = path.as_bytes();
    let tail = match e {
        E::Read(err) => format!(": {}", Errno::of(err)),
        E::TooBig { max_mib } => format!(": larger than {max_mib} MiB"),
        E::Line { line, err } => format!(":{line}: {}", target_error_text(err)),
        E::NoHosts => ": no destinations".to_string(),
    };
    emit_parts(true, &[path, tail.as_bytes()]);
}
