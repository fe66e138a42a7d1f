//! Which binary runs, the skip policy for missing peers, and temporary
//! directories: the binary under test or ncrab itself, nc.openbsd and the
//! other peer tools found on PATH, a skip that is a failure under
//! `CI=true`, and visible notes and figures in the test output.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

/// The reference implementation, used as a peer.
pub const NC_OPENBSD: &str = "/usr/bin/nc.openbsd";

/// The first line of every usage text (ncrab's synopsis differs after this).
pub const USAGE_START: &str = "usage: nc ";

// ---------------------------------------------------------------------------
// Which binary, which mode
// ---------------------------------------------------------------------------

/// The binary under test.
pub fn bin() -> PathBuf {
    match std::env::var_os("NCRAB_TEST_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_ncrab")),
    }
}

/// ncrab itself, whatever `NCRAB_TEST_BIN` says: for the tests of its
/// departures and extensions, and for the tests that run ncrab and nc.openbsd
/// side by side ([`ncrab_and_openbsd`]).
pub fn ncrab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ncrab"))
}

/// ncrab, and nc.openbsd when installed (required under CI=true): the
/// binaries an nc-compatible expectation is checked against.
pub fn ncrab_and_openbsd() -> Vec<PathBuf> {
    let mut v = vec![ncrab()];
    v.extend(tool(NC_OPENBSD, "netcat-openbsd"));
    v
}

/// The file name of a binary (`ncrab`, `nc.openbsd`), for messages.
pub fn bin_name(bin: &Path) -> String {
    bin.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// True when the binary under test is ncrab itself: NCRAB_TEST_BIN unset,
/// or naming a file called `ncrab` (e.g. a release build). Tests of
/// ncrab's deliberate departures and extensions run only then.
pub fn is_ncrab() -> bool {
    match std::env::var_os("NCRAB_TEST_BIN") {
        Some(p) if !p.is_empty() => Path::new(&p).file_name().is_some_and(|n| n == "ncrab"),
        _ => true,
    }
}

/// True under CI (`CI=true`): a missing peer or facility is then a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Print a line that is visible even though cargo captures test output.
pub fn note(msg: &str) {
    let _ = writeln!(io::stderr(), "{msg}");
}

/// Skip the current test with a printed reason (always a plain skip).
pub fn skip(reason: &str) {
    note(&format!("SKIP {}: {reason}", current_test()));
}

/// Skip the current test, or fail it under CI=true.
pub fn skip_or_fail_in_ci(reason: &str) {
    if in_ci() {
        panic!("{reason} (CI=true: this is a failure, not a skip)");
    }
    skip(reason);
}

/// The running test's name, from the thread name cargo test gives it.
pub fn current_test() -> String {
    thread::current().name().unwrap_or("?").to_string()
}

/// Is `name` an executable in PATH, /usr/sbin or /sbin (or an absolute
/// executable path)?
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Check that a peer tool exists. If not: print a reason and return false
/// (the test then returns early), or panic under CI=true.
pub fn peer_required(name: &str) -> bool {
    if find_in_path(name).is_some() {
        return true;
    }
    skip_or_fail_in_ci(&format!("peer tool `{name}` is not installed"));
    false
}

/// A tool's path; or None after printing why the test is skipped (a
/// failure under CI=true), naming the Debian package that brings it.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = find_in_path(name);
    if found.is_none() {
        skip_or_fail_in_ci(&format!(
            "`{name}` is not installed (Debian package {package})"
        ));
    }
    found
}

/// nc.openbsd as a peer: true when available (see [`peer_required`]).
pub fn openbsd_required() -> bool {
    peer_required(NC_OPENBSD)
}

// ---------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique, process-wide number (for names of files, namespaces...).
pub fn unique() -> usize {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "ncrab-test-{}-{}-{}-{}",
            std::process::id(),
            tag,
            unique(),
            nanos
        ));
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Names of the entries left in the directory, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One line of measured figures, visible in the test output:
/// `FIGURE test: text`.
pub fn figure(text: &str) {
    note(&format!("FIGURE {}: {text}", current_test()));
}
