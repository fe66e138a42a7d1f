//! Lists of destinations (extensions): why a list, block, range or
//! `--hosts` file was refused.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::Errno;
use super::out::{emit_parts, warnx};
use crate::net::targets::{HostsFileError, TargetError};

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
