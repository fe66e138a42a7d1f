//! Session logs: `--output FILE` and `--hex-dump FILE`. An extension:
//! docs/compatibility.md §A.3.
//!
//! `--output` gets every byte sent and received, in the order they passed,
//! as ncat writes it. `--hex-dump` gets the same bytes as ncat's hex dump
//! (the layout of nbase's `hexdump`: a 4-digit offset, 16 bytes in hex
//! with a gap after 8, then the bytes as text, `.` for anything but ASCII
//! letters, digits and punctuation), each chunk after a line that gives
//! its direction and length (`> 12 bytes sent`, `< 3 bytes received`),
//! which ncat's dump leaves out. Files are truncated at start unless
//! `--append-output`. Writing a log never stops a session: the first
//! failure is reported and logging stops.

use std::cell::Cell;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;

use crate::report::{self, Errno};

/// The open log files of a run, shared by all its sessions.
pub struct Log {
    output: Option<File>,
    hex: Option<File>,
    failed: Cell<bool>,
}

/// What to log, as given on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOpts {
    pub output: Option<OsString>,
    pub hex_dump: Option<OsString>,
    pub append: bool,
}

impl LogOpts {
    pub fn any(&self) -> bool {
        self.output.is_some() || self.hex_dump.is_some()
    }
}

/// The direction of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Sent,
    Received,
}

impl Log {
    /// Opens the files; an error is reported (`PROG: FILE: strerror`).
    pub fn open(o: &LogOpts) -> Result<Option<Log>, ()> {
        if !o.any() {
            return Ok(None);
        }
        let open = |path: &OsString| {
            let mut oo = OpenOptions::new();
            oo.create(true);
            if o.append {
                oo.append(true);
            } else {
                oo.write(true).truncate(true);
            }
            oo.open(path).map_err(|e| {
                report::log_open_failed(path, Errno::of(&e));
            })
        };
        let output = o.output.as_ref().map(open).transpose()?;
        let hex = o.hex_dump.as_ref().map(open).transpose()?;
        Ok(Some(Log {
            output,
            hex,
            failed: Cell::new(false),
        }))
    }

    /// Records one chunk.
    pub fn record(&self, dir: Dir, bytes: &[u8]) {
        if bytes.is_empty() || self.failed.get() {
            return;
        }
        let mut r = Ok(());
        if let Some(f) = &self.output {
            r = (&*f).write_all(bytes);
        }
        if let (Ok(()), Some(f)) = (&r, &self.hex) {
            r = (&*f).write_all(&hex_chunk(dir, bytes));
        }
        if let Err(e) = r {
            self.failed.set(true);
            report::log_write_failed(Errno::of(&e));
        }
    }
}

/// One chunk of the hex dump: the direction line, then ncat's lines.
pub fn hex_chunk(dir: Dir, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + bytes.len().div_ceil(16) * 74);
    let head = match dir {
        Dir::Sent => format!("> {} bytes sent\n", bytes.len()),
        Dir::Received => format!("< {} bytes received\n", bytes.len()),
    };
    out.extend_from_slice(head.as_bytes());
    for (n, row) in bytes.chunks(16).enumerate() {
        let mut line = [b' '; 74];
        let off = format!("{:04x}", (16 * n) % 0xffff);
        line[..4].copy_from_slice(&off.as_bytes()[off.len() - 4..]);
        let mut hex = 7;
        for (i, &b) in row.iter().enumerate() {
            if i == 8 {
                hex += 1;
            }
            let h = format!("{b:02x}");
            line[hex..hex + 2].copy_from_slice(h.as_bytes());
            hex += 3;
            line[57 + i] = if b.is_ascii_graphic() { b } else { b'.' };
        }
        line[73] = b'\n';
        out.extend_from_slice(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_layout_is_ncats() {
        // What ncat 7.x writes for this input (checked by hand against
        // `ncat --hex-dump`), after ncrab's direction line.
        let got = hex_chunk(Dir::Received, b"Hello, world! 0123456789abcdef\n");
        let want = "< 31 bytes received\n\
0000   48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 20 30 31  Hello,.world!.01\n\
0010   32 33 34 35 36 37 38 39  61 62 63 64 65 66 0a     23456789abcdef. \n";
        assert_eq!(String::from_utf8(got).unwrap(), want);
    }
}
