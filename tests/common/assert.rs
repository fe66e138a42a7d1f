//! Byte-exact assertions: escaped diffs of byte strings, the [`Outcome`]
//! of a finished child (exit status, stdout, stderr) with its exact
//! checks, the usage-error check, and bounded waiting ([`eventually`]).

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use super::USAGE_START;

// ---------------------------------------------------------------------------
// Byte-exact assertions
// ---------------------------------------------------------------------------

/// Bytes as readable text: printable ASCII as is, the rest escaped.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::from("\"");
    s.push_str(&b.escape_ascii().to_string());
    s.push('"');
    s
}

fn diff_text(what: &str, expected: &[u8], got: &[u8]) -> Option<String> {
    if expected == got {
        return None;
    }
    let at = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    Some(format!(
        "{what} differs (first difference at byte {at}):\n  expected: {}\n  got:      {}\n",
        escape(expected),
        escape(got)
    ))
}

/// Assert two byte strings are equal; on failure print both, escaped.
#[track_caller]
pub fn assert_bytes(what: &str, expected: &[u8], got: &[u8]) {
    if let Some(d) = diff_text(what, expected, got) {
        panic!("{d}");
    }
}

/// How a child ended, and what it printed.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
    pub label: String,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }
    /// The exit code; the test fails if a signal ended the child.
    #[track_caller]
    pub fn exit_code(&self) -> i32 {
        self.code()
            .unwrap_or_else(|| panic!("`{}`: killed by a signal: {self}", self.label))
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Exit code, stdout and stderr all exactly as given; all differences
    /// are reported together.
    #[track_caller]
    pub fn assert(&self, code: i32, stdout: &[u8], stderr: &[u8]) {
        let mut msg = String::new();
        if self.code() != Some(code) {
            msg.push_str(&format!(
                "exit status: expected exit {code}, got {}\n",
                status_text(self.status)
            ));
        }
        msg.extend(diff_text("stdout", stdout, &self.stdout));
        msg.extend(diff_text("stderr", stderr, &self.stderr));
        if !msg.is_empty() {
            panic!("`{}`:\n{msg}full outcome: {self}", self.label);
        }
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) {
        if self.code() != Some(code) {
            panic!("`{}`: expected exit {code}: {self}", self.label);
        }
    }
    #[track_caller]
    pub fn assert_stderr(&self, expected: &[u8]) {
        if let Some(d) = diff_text("stderr", expected, &self.stderr) {
            panic!("`{}`:\n{d}full outcome: {self}", self.label);
        }
    }
    #[track_caller]
    pub fn assert_stdout(&self, expected: &[u8]) {
        if let Some(d) = diff_text("stdout", expected, &self.stdout) {
            panic!("`{}`:\n{d}full outcome: {self}", self.label);
        }
    }
    #[track_caller]
    pub fn assert_elapsed_between(&self, lo: Duration, hi: Duration) {
        if self.elapsed < lo || self.elapsed > hi {
            panic!(
                "`{}`: took {:?}, expected between {lo:?} and {hi:?}: {self}",
                self.label, self.elapsed
            );
        }
    }
}

pub fn status_text(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{s:?}"),
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = |b: &[u8]| {
            if b.len() > 2000 {
                format!("{}... ({} bytes)", escape(&b[..2000]), b.len())
            } else {
                escape(b)
            }
        };
        write!(
            f,
            "{} after {:?}; stdout {}; stderr {}",
            status_text(self.status),
            self.elapsed,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

/// Assert that stderr is exactly `first` followed by a usage text (ncrab's
/// usage synopsis differs from nc's after its first words: departure 1 of docs/compatibility.md).
#[track_caller]
pub fn assert_usage_error(o: &Outcome, first: &str) {
    let err = o.stderr_str();
    let ok = o.code() == Some(1)
        && err.starts_with(first)
        && err[first.len()..].starts_with(USAGE_START)
        && o.stdout.is_empty();
    if !ok {
        panic!(
            "`{}`: expected exit 1, stderr = {} + usage text starting {}, empty stdout; got {o}",
            o.label,
            escape(first.as_bytes()),
            escape(USAGE_START.as_bytes())
        );
    }
}

/// Wait until `cond` holds (polling every 10 ms), up to `limit`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The size of the file at `path` (0 when it does not exist).
pub fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Short durations used throughout.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
