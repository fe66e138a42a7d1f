//! Test harness shared by the integration tests: every test file starts
//! with `mod common; use common::*;`.
//!
//! Every test runs a real binary: ncrab (`CARGO_BIN_EXE_ncrab`) or, when the
//! environment variable `NCRAB_TEST_BIN` names one, that binary (for example
//! `/usr/bin/nc.openbsd`, to prove that a test encodes real nc behaviour).
//! The binary is always started through a symlink named `nc` in a fresh
//! temporary directory, with argv[0] = `nc`, so messages carry the `nc: `
//! prefix whatever the binary is called.
//!
//! Run against the reference, from the crate root:
//!
//! ```text
//! NCRAB_TEST_BIN=/usr/bin/nc.openbsd cargo test -- --test-threads=4
//! ```
//!
//! Tests of ncrab's deliberate departures and extensions (reference A.2,
//! A.3) check `is_ncrab()` and do nothing for another binary, or run
//! [`Cmd::ncrab`], which is always ncrab. Tests with listeners run in
//! private network namespaces (see [`Net`]), so they need root; without it
//! they fall back to the host's loopback outside CI.
//!
//! One way to run a program: [`Cmd`] (what to run, with which stdin, stdout,
//! environment, terminal, wrapper or namespace) starts a [`Proc`] (a running
//! child: wait for its output, signal it, write to its stdin), which ends in
//! an [`Outcome`] (exit status, stdout, stderr, asserted exactly). One skip
//! policy: a missing peer tool or facility is a printed skip, and a failure
//! under `CI=true` ([`skip_or_fail_in_ci`]).
//!
//! The submodules: `peers` (scripted TCP servers: closures per connection,
//! or [`Step`] lists; a pseudo-terminal), `sockets` (socket pairs, fd
//! passing, ports, test data and checksums).
//!
//! Everything here is bounded: every wait has a deadline, a child still
//! running when its `Proc` is dropped gets SIGTERM and then SIGKILL, by PID,
//! and every helper server thread stops by itself after a deadline. Only
//! 127.0.0.0/8, ::1, Unix sockets in private directories and network
//! namespaces created here are ever used.
#![allow(dead_code)]

mod peers;
mod sockets;
#[allow(unused_imports)]
pub use peers::*;
#[allow(unused_imports)]
pub use sockets::*;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

// ---------------------------------------------------------------------------
// Running a binary
// ---------------------------------------------------------------------------

/// What the child gets as stdin.
pub enum Input {
    /// /dev/null.
    Null,
    /// fd 0 closed at exec (`<&-`).
    Closed,
    /// A pipe fed with these bytes, then closed (immediate EOF after them).
    Bytes(Vec<u8>),
    /// A regular file opened read-only.
    File(PathBuf),
    /// A pipe whose write end the test keeps: write with
    /// [`Proc::write_stdin`], end with [`Proc::close_stdin`].
    Pipe,
    /// A pipe fed with the contents of this file, then closed.
    PipeFrom(PathBuf),
    /// A pipe fed by a slow writer: each chunk after its delay, then closed.
    Slow(Vec<(Duration, Vec<u8>)>),
    /// This descriptor (a terminal, a socket...). Its file-status flags at
    /// spawn are recorded ([`Proc::stdin_flags_at_spawn`]).
    Fd(OwnedFd),
    /// A pipe fed with the first `len` bytes of a [`Pattern`], then closed.
    Pattern(Pattern, u64),
}

/// Where the child's stdout goes.
pub enum OutputTo {
    /// Captured in memory.
    Capture,
    /// Written to this file.
    File(PathBuf),
    /// fd 1 closed at exec (`>&-`).
    Closed,
    /// This descriptor (a socket pair, a pipe, a terminal...).
    Fd(OwnedFd),
    /// A pipe whose read end the test keeps and reads at its own pace
    /// ([`Proc::take_stdout`]): a slow, stalled or vanishing reader.
    Pipe,
}

/// A command to run: the binary under test, or a peer, through a symlink.
///
/// The child never has a controlling terminal unless [`Cmd::tty`] gives it
/// one (it runs in a session of its own), so a prompt fails as it does
/// under CI. `LC_ALL=C`; `POSIXLY_CORRECT` and `NCRAB_PROXY_PASSWORD` are
/// removed unless set with [`Cmd::env`].
pub struct Cmd {
    target: PathBuf,
    link_name: String,
    args: Vec<OsString>,
    arg0: Option<OsString>,
    stdin: Input,
    stdout: OutputTo,
    netns: Option<String>,
    envs: Vec<(OsString, OsString)>,
    tty: Option<PathBuf>,
    wrapper: Vec<OsString>,
    nofile: Option<u64>,
    faults: Vec<Fault>,
    stderr: ErrTo,
    label: String,
}

/// Where the child's stderr goes (captured unless said otherwise).
enum ErrTo {
    Capture,
    /// fd 2 closed at exec (`2>&-`).
    Closed,
    /// This descriptor (e.g. a pipe nobody reads).
    Fd(OwnedFd),
}

impl Cmd {
    /// The binary under test, invoked as `nc`.
    pub fn nc<S: AsRef<OsStr>>(args: &[S]) -> Cmd {
        Cmd::with_target(bin(), "nc", args)
    }

    /// ncrab itself (whatever `NCRAB_TEST_BIN` says), invoked as `nc`.
    pub fn ncrab<S: AsRef<OsStr>>(args: &[S]) -> Cmd {
        Cmd::with_target(ncrab(), "nc", args)
    }

    /// nc.openbsd as a peer, also invoked as `nc`.
    pub fn openbsd<S: AsRef<OsStr>>(args: &[S]) -> Cmd {
        Cmd::with_target(PathBuf::from(NC_OPENBSD), "nc", args)
    }

    /// This binary (e.g. one of [`ncrab_and_openbsd`]), invoked as `nc`.
    pub fn as_nc<S: AsRef<OsStr>>(bin: &Path, args: &[S]) -> Cmd {
        Cmd::with_target(bin.to_path_buf(), "nc", args)
    }

    /// Any program, through a symlink of the given name.
    pub fn with_target<S: AsRef<OsStr>>(target: PathBuf, link_name: &str, args: &[S]) -> Cmd {
        let args: Vec<OsString> = args.iter().map(|a| a.as_ref().to_os_string()).collect();
        let mut label = link_name.to_string();
        for a in &args {
            label.push(' ');
            label.push_str(&a.to_string_lossy());
        }
        let target_name = bin_name(&target);
        if target_name != link_name {
            label.push_str(&format!(" [{target_name}]"));
        }
        Cmd {
            target,
            link_name: link_name.to_string(),
            args,
            arg0: None,
            stdin: Input::Null,
            stdout: OutputTo::Capture,
            netns: None,
            envs: Vec::new(),
            tty: None,
            wrapper: Vec::new(),
            nofile: None,
            faults: Vec::new(),
            stderr: ErrTo::Capture,
            label,
        }
    }

    pub fn stdin(mut self, i: Input) -> Cmd {
        self.stdin = i;
        self
    }
    pub fn stdin_bytes(self, b: &[u8]) -> Cmd {
        self.stdin(Input::Bytes(b.to_vec()))
    }
    pub fn stdout(mut self, o: OutputTo) -> Cmd {
        self.stdout = o;
        self
    }
    /// Set argv[0] exactly (default: `nc`).
    pub fn arg0<S: AsRef<OsStr>>(mut self, a: S) -> Cmd {
        self.arg0 = Some(a.as_ref().to_os_string());
        self
    }
    /// Run inside a network namespace (through `ip netns exec`, which also
    /// bind-mounts `/etc/netns/NAME/*`). argv[0] is then the symlink's path.
    pub fn netns(mut self, ns: &Netns) -> Cmd {
        self.netns = Some(ns.name.clone());
        self
    }
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, k: K, v: V) -> Cmd {
        self.envs
            .push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }
    /// Make this pty slave (see [`Pty`]) the child's controlling terminal.
    pub fn tty(mut self, slave: &Path) -> Cmd {
        self.tty = Some(slave.to_path_buf());
        self
    }
    /// Run under another program (e.g. strace): `{}` in `wrapper` stands
    /// for the symlink; the command's arguments follow the wrapper's.
    /// argv[0] is then the symlink's path.
    pub fn under<S: AsRef<OsStr>>(mut self, wrapper: &[S]) -> Cmd {
        self.wrapper = wrapper.iter().map(|w| w.as_ref().to_os_string()).collect();
        self
    }
    /// Limit the child's open files (RLIMIT_NOFILE, soft and hard, so the
    /// child cannot raise it): `ulimit -n N`. In a namespace the limit is
    /// set after `ip netns exec` (which needs descriptors of its own), by
    /// prlimit(1) when it is installed.
    pub fn nofile(mut self, n: u64) -> Cmd {
        self.nofile = Some(n);
        self
    }
    /// Make these system calls fail in the child (see [`Fault`]).
    pub fn faults(mut self, f: &[Fault]) -> Cmd {
        self.faults.extend_from_slice(f);
        self
    }
    /// fd 2 closed at exec (`2>&-`); nothing is captured from it.
    pub fn stderr_closed(mut self) -> Cmd {
        self.stderr = ErrTo::Closed;
        self
    }
    /// stderr goes to this descriptor (e.g. a pipe the test never reads);
    /// nothing is captured from it.
    pub fn stderr_to(mut self, fd: OwnedFd) -> Cmd {
        self.stderr = ErrTo::Fd(fd);
        self
    }

    /// prlimit(1), when the open-file limit must be set after `ip netns
    /// exec` rather than before it.
    fn prlimit(&self) -> Option<PathBuf> {
        self.netns.as_ref()?;
        self.nofile?;
        find_in_path("prlimit")
    }

    /// The program and its argv[0], as `spawn` will run them.
    fn command(&self, link: &Path) -> Command {
        if let Some(ns) = &self.netns {
            assert!(
                self.arg0.is_none() && self.wrapper.is_empty(),
                "arg0 and a wrapper cannot be used through ip netns exec"
            );
            let mut c = Command::new(find_in_path("ip").unwrap_or_else(|| "/usr/sbin/ip".into()));
            c.arg("netns").arg("exec").arg(ns);
            if let (Some(prlimit), Some(n)) = (self.prlimit(), self.nofile) {
                c.arg(prlimit).arg(format!("--nofile={n}:{n}")).arg("--");
            }
            c.arg(link);
            return c;
        }
        if let Some((prog, rest)) = self.wrapper.split_first() {
            assert!(self.arg0.is_none(), "arg0 cannot be set under a wrapper");
            let mut c = Command::new(prog);
            c.args(rest.iter().map(|w| {
                if w == "{}" {
                    link.as_os_str().to_os_string()
                } else {
                    w.clone()
                }
            }));
            return c;
        }
        let mut c = Command::new(link);
        c.arg0(
            self.arg0
                .clone()
                .unwrap_or_else(|| OsString::from(&self.link_name)),
        );
        c
    }

    /// Start the child.
    pub fn spawn(self) -> Proc {
        let dir = TempDir::new("bin");
        let link = dir.join(&self.link_name);
        symlink(&self.target, &link).expect("symlink the binary");

        let mut cmd = self.command(&link);
        let nofile = if self.prlimit().is_some() {
            None // set by prlimit, after ip
        } else {
            self.nofile
        };
        cmd.args(&self.args)
            .current_dir(dir.path())
            .env("LC_ALL", "C");
        cmd.env_remove("POSIXLY_CORRECT");
        cmd.env_remove("NCRAB_PROXY_PASSWORD");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }

        let mut stdin_w: Option<File> = None;
        let mut stdin_r_dup: Option<OwnedFd> = None;
        let mut stdin_flags0: Option<i32> = None;
        let mut feeder: Option<(File, Feed)> = None;
        let mut close_fds: Vec<i32> = Vec::new();
        match self.stdin {
            Input::Null => {
                cmd.stdin(Stdio::null());
            }
            Input::Closed => {
                cmd.stdin(Stdio::null());
                close_fds.push(0);
            }
            Input::File(ref p) => {
                cmd.stdin(File::open(p).expect("open stdin file"));
            }
            Input::Fd(fd) => {
                stdin_r_dup = Some(fd.try_clone().expect("dup stdin fd"));
                stdin_flags0 = Some(fd_flags(&fd));
                cmd.stdin(Stdio::from(fd));
            }
            Input::Bytes(_)
            | Input::Pipe
            | Input::PipeFrom(_)
            | Input::Slow(_)
            | Input::Pattern(..) => {
                let (r, w) = pipe();
                stdin_r_dup = Some(r.try_clone().expect("dup pipe"));
                stdin_flags0 = Some(fd_flags(&r));
                cmd.stdin(Stdio::from(r));
                let w = File::from(w);
                match self.stdin {
                    Input::Bytes(b) => feeder = Some((w, Feed::Bytes(b))),
                    Input::PipeFrom(p) => feeder = Some((w, Feed::File(p))),
                    Input::Slow(chunks) => feeder = Some((w, Feed::Slow(chunks))),
                    Input::Pattern(p, len) => feeder = Some((w, Feed::Pattern(p, len))),
                    _ => stdin_w = Some(w),
                }
            }
        }
        let out = Capture::new();
        let mut out_pipe = None;
        let mut stdout_r: Option<File> = None;
        match self.stdout {
            OutputTo::Capture => {
                cmd.stdout(Stdio::piped());
                out_pipe = Some(());
            }
            OutputTo::File(ref p) => {
                cmd.stdout(File::create(p).expect("create stdout file"));
                out.mark_done();
            }
            OutputTo::Closed => {
                cmd.stdout(Stdio::null());
                close_fds.push(1);
                out.mark_done();
            }
            OutputTo::Fd(fd) => {
                cmd.stdout(Stdio::from(fd));
                out.mark_done();
            }
            OutputTo::Pipe => {
                let (r, w) = pipe();
                cmd.stdout(Stdio::from(w));
                stdout_r = Some(File::from(r));
                out.mark_done();
            }
        }
        let err = Capture::new();
        match self.stderr {
            ErrTo::Capture => {
                cmd.stderr(Stdio::piped());
            }
            ErrTo::Closed => {
                cmd.stderr(Stdio::null());
                close_fds.push(2);
                err.mark_done();
            }
            ErrTo::Fd(fd) => {
                cmd.stderr(Stdio::from(fd));
                err.mark_done();
            }
        }
        let tty = self
            .tty
            .as_ref()
            .map(|p| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("pty path"));
        let filter = seccomp_filter(&self.faults);
        // SAFETY: only async-signal-safe calls (signal, setsid, open, ioctl,
        // close, close_range, setrlimit, prctl) between fork and exec; the
        // seccomp filter was built before the fork.
        unsafe {
            cmd.pre_exec(move || {
                // What an interactive shell does for a foreground command:
                // default dispositions, whatever the test runner inherited.
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                libc::signal(libc::SIGQUIT, libc::SIG_DFL);
                // A session of its own: no controlling terminal, unless
                // the given pty becomes it.
                libc::setsid();
                if let Some(path) = &tty {
                    let fd = libc::open(path.as_ptr(), libc::O_RDWR);
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    libc::ioctl(fd, libc::TIOCSCTTY, 0);
                    libc::close(fd);
                }
                if let Some(n) = nofile {
                    let rl = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                for &fd in &close_fds {
                    libc::close(fd);
                }
                // Nothing but 0, 1 and 2 survives exec, whatever the test
                // runner inherited: a clean start, and exact fd counts.
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                if let Some(f) = &filter {
                    install_seccomp(f)?;
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.label));
        drop(cmd); // drop our copies of the child's stdin (read end) and files
        let pid = child.id() as i32;
        if out_pipe.is_some() {
            out.clone().read_from(child.stdout.take().unwrap());
        }
        if let Some(e) = child.stderr.take() {
            err.clone().read_from(e);
        }
        let feeder = feeder.map(|(w, f)| thread::spawn(move || f.run(w)));
        Proc {
            child,
            pid,
            out,
            err,
            stdout_r,
            stdin_w,
            stdin_r_dup,
            stdin_flags0,
            feeder,
            started,
            status: None,
            elapsed: None,
            label: self.label,
            _dir: dir,
        }
    }

    /// Run to completion; the child must exit within `limit`.
    #[track_caller]
    pub fn run(self, limit: Duration) -> Outcome {
        self.spawn().expect_exit(limit)
    }
}

enum Feed {
    Bytes(Vec<u8>),
    File(PathBuf),
    Slow(Vec<(Duration, Vec<u8>)>),
    Pattern(Pattern, u64),
}

impl Feed {
    fn run(self, mut w: File) {
        // Errors (EPIPE when the child is gone) just end the feeding.
        match self {
            Feed::Bytes(b) => {
                let _ = w.write_all(&b);
            }
            Feed::File(p) => {
                if let Ok(mut f) = File::open(p) {
                    let _ = io::copy(&mut f, &mut w);
                }
            }
            Feed::Slow(chunks) => {
                for (d, b) in chunks {
                    thread::sleep(d);
                    if w.write_all(&b).is_err() {
                        break;
                    }
                }
            }
            Feed::Pattern(p, len) => {
                let _ = p.write_to(&mut w, 0, len);
            }
        }
    }
}

/// A pipe with both ends close-on-exec (the child gets its end by dup2).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid 2-element array.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: pipe2 just returned two fresh fds we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// File-status flags (F_GETFL) of an fd.
pub fn fd_flags(fd: &impl AsRawFd) -> i32 {
    // SAFETY: F_GETFL on an fd we hold.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }
}

/// Output collected from a child pipe by a reader thread: the bytes so
/// far, and whether the writer side has closed.
struct Capture {
    state: Mutex<(Vec<u8>, bool)>,
    cv: Condvar,
}

impl Capture {
    fn new() -> Arc<Capture> {
        Arc::new(Capture {
            state: Mutex::new((Vec::new(), false)),
            cv: Condvar::new(),
        })
    }
    fn mark_done(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }
    fn read_from<R: Read + Send + 'static>(self: Arc<Self>, mut r: R) {
        thread::spawn(move || {
            let mut chunk = vec![0u8; 65536];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        self.state.lock().unwrap().0.extend_from_slice(&chunk[..n]);
                        self.cv.notify_all();
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            self.mark_done();
        });
    }
    fn snapshot(&self) -> Vec<u8> {
        self.state.lock().unwrap().0.clone()
    }
    /// Wait until the bytes contain `needle` (true), the writer closes, or
    /// the deadline passes.
    fn wait_for(&self, needle: &[u8], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut st = self.state.lock().unwrap();
        loop {
            if contains(&st.0, needle) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || st.1 {
                return false;
            }
            st = self
                .cv
                .wait_timeout(st, (deadline - now).min(Duration::from_millis(50)))
                .unwrap()
                .0;
        }
    }
    /// Wait for the writer side to close (bounded).
    fn wait_done(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut st = self.state.lock().unwrap();
        while !st.1 {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            st = self
                .cv
                .wait_timeout(st, (deadline - now).min(Duration::from_millis(50)))
                .unwrap()
                .0;
        }
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// A running child. If still running when dropped, it gets SIGTERM (so
/// ncrab removes its socket files even when a test failed half-way), then
/// SIGKILL 3 s later, by PID.
pub struct Proc {
    child: Child,
    pid: i32,
    out: Arc<Capture>,
    err: Arc<Capture>,
    stdout_r: Option<File>,
    stdin_w: Option<File>,
    stdin_r_dup: Option<OwnedFd>,
    stdin_flags0: Option<i32>,
    feeder: Option<JoinHandle<()>>,
    started: Instant,
    status: Option<ExitStatus>,
    elapsed: Option<Duration>,
    label: String,
    _dir: TempDir,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.pid
    }
    pub fn label(&self) -> &str {
        &self.label
    }
    pub fn started(&self) -> Instant {
        self.started
    }
    pub fn stdout_now(&self) -> Vec<u8> {
        self.out.snapshot()
    }
    pub fn stderr_now(&self) -> Vec<u8> {
        self.err.snapshot()
    }
    /// stderr so far, as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.err.snapshot()).into_owned()
    }

    /// Write to a kept-open stdin pipe.
    pub fn write_stdin(&mut self, b: &[u8]) -> io::Result<()> {
        self.stdin_w
            .as_mut()
            .expect("stdin is not Input::Pipe")
            .write_all(b)
    }
    /// Close the kept-open stdin pipe (EOF for the child).
    pub fn close_stdin(&mut self) {
        self.stdin_w = None;
    }
    /// F_GETFL of the child's stdin pipe (read end), through our own dup.
    pub fn stdin_flags(&self) -> i32 {
        fd_flags(self.stdin_r_dup.as_ref().expect("stdin is not a pipe"))
    }

    /// F_GETFL of the stdin pipe as it was before the child started.
    pub fn stdin_flags_at_spawn(&self) -> i32 {
        self.stdin_flags0.expect("stdin is not a pipe")
    }

    /// Has it exited? (non-blocking)
    pub fn exited(&mut self) -> bool {
        self.poll_status().is_some()
    }
    /// Is it still running? (non-blocking)
    pub fn running(&mut self) -> bool {
        !self.exited()
    }

    fn poll_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.status = Some(s);
                self.elapsed = Some(self.started.elapsed());
            }
        }
        self.status
    }

    /// Wait up to `limit` for the child to exit.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.poll_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn outcome(&mut self) -> Outcome {
        let status = self.status.expect("not exited");
        self.out.wait_done(Duration::from_secs(3));
        self.err.wait_done(Duration::from_secs(3));
        Outcome {
            status,
            stdout: self.out.snapshot(),
            stderr: self.err.snapshot(),
            elapsed: self.elapsed.unwrap_or_default(),
            label: self.label.clone(),
        }
    }

    /// The child must exit within `limit`; else it is killed and the test
    /// fails, showing what it printed.
    #[track_caller]
    pub fn expect_exit(&mut self, limit: Duration) -> Outcome {
        if self.wait_timeout(limit).is_some() {
            return self.outcome();
        }
        let o = self.kill();
        panic!(
            "`{}` did not exit within {:?}; killed. {}",
            self.label, limit, o
        );
    }

    /// The child must still be running after `d` (checked all along).
    #[track_caller]
    pub fn expect_running(&mut self, d: Duration) {
        if self.wait_timeout(d).is_some() {
            let o = self.outcome();
            panic!(
                "`{}` exited but should still be running after {:?}: {}",
                self.label, d, o
            );
        }
    }

    /// Kill with SIGKILL (if still running) and collect the outcome.
    pub fn kill(&mut self) -> Outcome {
        if self.poll_status().is_none() {
            let _ = self.child.kill();
            if let Ok(s) = self.child.wait() {
                self.status = Some(s);
                self.elapsed = Some(self.started.elapsed());
            }
        }
        self.outcome()
    }

    /// Send a signal to the child (by PID), if it has not been reaped.
    pub fn signal(&mut self, sig: i32) {
        if self.poll_status().is_none() {
            // SAFETY: plain kill(2) on our own child's PID.
            unsafe {
                libc::kill(self.pid, sig);
            }
        }
    }

    /// Wait until stderr contains `needle`.
    pub fn wait_stderr(&self, needle: &str, limit: Duration) -> bool {
        self.err.wait_for(needle.as_bytes(), limit)
    }

    /// Wait until stdout contains `needle`.
    pub fn wait_stdout(&self, needle: &[u8], limit: Duration) -> bool {
        self.out.wait_for(needle, limit)
    }

    /// stderr must come to contain `needle` within `limit`.
    #[track_caller]
    pub fn expect_stderr(&mut self, needle: &str, limit: Duration) {
        if !self.wait_stderr(needle, limit) {
            let o = self.kill();
            panic!(
                "`{}`: stderr never contained {} within {:?}: {}",
                self.label,
                escape(needle.as_bytes()),
                limit,
                o
            );
        }
    }

    /// stdout must come to contain `needle` within `limit`.
    #[track_caller]
    pub fn expect_stdout(&mut self, needle: &[u8], limit: Duration) {
        if !self.wait_stdout(needle, limit) {
            let o = self.kill();
            panic!(
                "`{}`: stdout never contained {} within {:?}: {}",
                self.label,
                escape(needle),
                limit,
                o
            );
        }
    }

    /// For a `-l -v` child: wait for its `Listening on`/`Bound on` line and
    /// return the port it printed last on that line.
    #[track_caller]
    pub fn expect_listening(&mut self, limit: Duration) -> u16 {
        let deadline = Instant::now() + limit;
        loop {
            let e = self.stderr_now();
            let text = String::from_utf8_lossy(&e);
            for line in text.lines() {
                if line.starts_with("Listening on ") || line.starts_with("Bound on ") {
                    if let Some(p) = line.rsplit(' ').next().and_then(|p| p.parse().ok()) {
                        return p;
                    }
                }
            }
            if Instant::now() >= deadline || self.exited() {
                let o = self.kill();
                panic!("`{}`: no `Listening on` line: {}", self.label, o);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The read end of an [`OutputTo::Pipe`] stdout (once).
    pub fn take_stdout(&mut self) -> File {
        self.stdout_r.take().expect("stdout is not OutputTo::Pipe")
    }

    /// A `kB` field of /proc/PID/status (`VmHWM`, `VmRSS`...).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let s = fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = s.lines().find(|l| l.starts_with(&format!("{field}:")))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The open file descriptors: (number, what it points to), sorted.
    pub fn fds(&self) -> Vec<(i32, String)> {
        let dir = format!("/proc/{}/fd", self.pid);
        let mut v: Vec<(i32, String)> = fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let n = e.file_name().to_str()?.parse().ok()?;
                        let t = fs::read_link(e.path()).ok()?;
                        Some((n, t.to_string_lossy().into_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// [`Proc::fds`] once it has stopped changing (two readings 20 ms
    /// apart agree; at most a second): a session that just ended may still
    /// be closing its last descriptors when its peer sees EOF.
    pub fn settled_fds(&self) -> Vec<(i32, String)> {
        let mut last = self.fds();
        for _ in 0..50 {
            thread::sleep(Duration::from_millis(20));
            let now = self.fds();
            if now == last {
                break;
            }
            last = now;
        }
        last
    }

    /// As [`Proc::expect_exit`], also returning the CPU ticks the child
    /// used in all (read from /proc until it is reaped: a zombie still
    /// shows its final times).
    #[track_caller]
    pub fn expect_exit_ticks(&mut self, limit: Duration) -> (Outcome, u64) {
        let deadline = Instant::now() + limit;
        let mut used = 0;
        loop {
            if let Some(t) = self.cpu_ticks() {
                used = t;
            }
            if self.exited() {
                return (self.expect_exit(Duration::ZERO), used);
            }
            if Instant::now() >= deadline {
                let o = self.kill();
                panic!(
                    "`{}` did not exit within {limit:?}; killed. {o}",
                    self.label
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// CPU time (utime + stime, in clock ticks) from /proc/PID/stat.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let s = fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let rest = &s[s.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        // After "pid (comm) ", field 3 (state) is index 0: utime is field 14.
        let utime: u64 = f.get(11)?.parse().ok()?;
        let stime: u64 = f.get(12)?.parse().ok()?;
        Some(utime + stime)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.poll_status().is_none() {
            self.signal(libc::SIGTERM);
            if self.wait_timeout(Duration::from_secs(3)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        self.stdin_w = None;
        // The feeder ends on EPIPE once the child is gone; do not join it
        // (a slow feeder's sleeps are bounded by the test's own chunks).
        let _ = self.feeder.take();
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
/// usage synopsis differs from nc's after its first words: departure 1).
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

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

fn services_tcp_ports() -> &'static Vec<u16> {
    static S: OnceLock<Vec<u16>> = OnceLock::new();
    S.get_or_init(|| {
        let text = fs::read_to_string("/etc/services").unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter_map(|pp| pp.split_once('/'))
            .filter_map(|(p, _)| p.parse().ok())
            .collect()
    })
}

/// The kernel's ephemeral port range (ports it picks for bind(0) and for
/// the source of outgoing connections).
pub fn ephemeral_range() -> (u16, u16) {
    let t = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let v: Vec<u16> = t
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match v[..] {
        [lo, hi] => (lo, hi),
        _ => (32768, 60999),
    }
}

/// A port, free on 127.0.0.1 and ::1 a moment ago, with no /etc/services
/// name (so messages show `[tcp/*]` with or without -n), for a test to
/// listen on or to use as a closed port.
///
/// It is taken *outside* the kernel's ephemeral range and from a
/// process-wide counter, so two tests never get the same port, a scripted
/// server (bound to port 0) never takes it, and a connection to it can
/// never be a TCP self-connect (source port = destination port).
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let (lo, hi) = ephemeral_range();
    let (base, span) = if lo >= 11024 {
        (lo as usize - 10000, 10000usize)
    } else if hi < 63000 {
        (hi as usize + 1, 65535 - hi as usize)
    } else {
        (1024, 1000) // unusual range: best effort
    };
    let start = (std::process::id() as usize).wrapping_mul(2654435761) % span;
    for _ in 0..span {
        let p = (base + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span) as u16;
        if services_tcp_ports().contains(&p) {
            continue;
        }
        let v4 = TcpListener::bind(("127.0.0.1", p)).is_ok();
        let v6 = TcpListener::bind(("::1", p)).is_ok() || TcpListener::bind("[::1]:0").is_err();
        if v4 && v6 {
            return p;
        }
    }
    panic!("no free port found in {base}..{}", base + span);
}

/// Wait until a TCP socket listens on `port` (any address, v4 or v6) in
/// the host's network namespace, read from /proc/net/tcp{,6}.
pub fn wait_tcp_listen(port: u16, limit: Duration) -> bool {
    wait_tcp_listen_in("/proc/net", port, limit)
}

/// The same, reading `DIR/tcp` and `DIR/tcp6` (e.g. /proc/PID/net).
pub fn wait_tcp_listen_in(dir: &str, port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let needle = format!(":{port:04X}");
    loop {
        for f in ["tcp", "tcp6"] {
            let t = fs::read_to_string(format!("{dir}/{f}")).unwrap_or_default();
            for line in t.lines().skip(1) {
                let cols: Vec<&str> = line.split_whitespace().collect();
                if cols.len() > 3 && cols[3] == "0A" && cols[1].ends_with(&needle) {
                    return true;
                }
            }
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Serialises tests that need fixed well-known ports (8080, 22, 9, 20, 21, 23).
pub fn fixed_ports_lock() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

/// Is nothing listening on 127.0.0.1:port (connection refused)?
pub fn ensure_closed(addr: &str) -> Result<(), String> {
    let sa: SocketAddr = addr.parse().unwrap();
    match TcpStream::connect_timeout(&sa, Duration::from_secs(1)) {
        Ok(_) => Err(format!(
            "something listens on {addr}; it must be closed for this test"
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(format!("cannot check {addr}: {e}")),
    }
}

/// A listener on a fixed port that accepts and drops connections until
/// dropped. If the port is already taken by someone else but connectable,
/// it counts as open (no thread is started).
pub struct FixedListener {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FixedListener {
    /// On the host's loopback.
    pub fn open(addr: &str) -> Result<FixedListener, String> {
        FixedListener::open_with(addr, TcpListener::bind(addr), |sa| {
            TcpStream::connect_timeout(&sa, Duration::from_secs(1)).map(drop)
        })
    }

    fn open_with(
        addr: &str,
        bound: io::Result<TcpListener>,
        probe: impl FnOnce(SocketAddr) -> io::Result<()>,
    ) -> Result<FixedListener, String> {
        let stop = Arc::new(AtomicBool::new(false));
        match bound {
            Ok(l) => {
                l.set_nonblocking(true).unwrap();
                let s = stop.clone();
                let handle = thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                        match l.accept() {
                            Ok(_) => {}
                            Err(_) => thread::sleep(Duration::from_millis(5)),
                        }
                    }
                });
                Ok(FixedListener {
                    stop,
                    handle: Some(handle),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                let sa: SocketAddr = addr.parse().unwrap();
                match probe(sa) {
                    Ok(()) => Ok(FixedListener { stop, handle: None }),
                    Err(e2) => Err(format!("{addr} is in use but not connectable ({e2})")),
                }
            }
            Err(e) => Err(format!("cannot listen on {addr}: {e}")),
        }
    }
}

impl Drop for FixedListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Network namespaces
// ---------------------------------------------------------------------------

/// A network namespace created (and deleted on drop) by this process.
pub struct Netns {
    pub name: String,
    etc: Option<PathBuf>,
}

/// Guards /etc/netns: (live directories of ours in it, did we create it).
fn etc_netns_lock() -> MutexGuard<'static, (usize, bool)> {
    static M: Mutex<(usize, bool)> = Mutex::new((0, false));
    M.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `ip ARGS`; Err with its stderr on failure.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new(find_in_path("ip").ok_or("the `ip` tool (iproute2) is not installed")?)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// Create a namespace with `lo` up. On failure: skip (or fail under CI)
    /// and return None.
    pub fn create(tag: &str) -> Option<Netns> {
        match Netns::try_create(tag) {
            Ok(ns) => Some(ns),
            Err(e) => {
                skip_or_fail_in_ci(&format!("cannot create a network namespace: {e}"));
                None
            }
        }
    }

    /// Create a namespace with `lo` up; Err with the reason.
    pub fn try_create(tag: &str) -> Result<Netns, String> {
        let name = format!("ncrabt-{}-{}-{}", std::process::id(), tag, unique());
        let _ = ip(&["netns", "del", &name]);
        ip(&["netns", "add", &name])?;
        let ns = Netns { name, etc: None };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A sandbox: a namespace whose name service is files-only, with
    /// `hosts` mapping localhost to both 127.0.0.1 and ::1 (::1 first, as
    /// glibc sorts them), so no lookup can ever leave the machine.
    pub fn sandbox(tag: &str) -> Option<Netns> {
        Netns::sandbox_with_hosts(tag, "127.0.0.1 localhost\n::1 localhost\n")
    }

    /// A sandbox whose `/etc/hosts` is `hosts`.
    pub fn sandbox_with_hosts(tag: &str, hosts: &str) -> Option<Netns> {
        let mut ns = Netns::create(tag)?;
        if let Err(e) = ns.write_etc(hosts) {
            skip_or_fail_in_ci(&format!("cannot write /etc/netns files: {e}"));
            return None;
        }
        Some(ns)
    }

    /// Give the namespace's processes (run through `ip netns exec`) their
    /// own `/etc/hosts`, and a files-only name service.
    pub fn write_etc(&mut self, hosts: &str) -> io::Result<()> {
        let mut g = etc_netns_lock();
        if !Path::new("/etc/netns").exists() {
            fs::create_dir("/etc/netns")?;
            g.1 = true;
        }
        let d = Path::new("/etc/netns").join(&self.name);
        fs::create_dir_all(&d)?;
        g.0 += 1;
        self.etc = Some(d.clone());
        fs::write(d.join("hosts"), hosts)?;
        fs::write(
            d.join("nsswitch.conf"),
            "passwd: files\ngroup: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\n",
        )?;
        fs::write(d.join("resolv.conf"), "nameserver 127.0.0.1\n")?;
        Ok(())
    }

    /// Run `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        ip(&a)
    }

    /// Run `f` on a thread that has joined this namespace: sockets it
    /// creates live in the namespace (and may be used from any thread).
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> T {
        let path = format!("/run/netns/{}", self.name);
        thread::scope(|s| {
            s.spawn(|| {
                let fd = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: setns on a namespace fd; affects this thread only.
                let r = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(r, 0, "setns {path}: {}", io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// Connect from inside the namespace.
    pub fn connect(&self, addr: &str) -> io::Result<TcpStream> {
        let sa: SocketAddr = addr.parse().unwrap();
        let s = self.run_in(|| TcpStream::connect_timeout(&sa, Duration::from_secs(3)))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(s)
    }

    /// Listen from inside the namespace.
    pub fn listen(&self, addr: &str) -> io::Result<TcpListener> {
        let a = addr.to_string();
        self.run_in(move || TcpListener::bind(a))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
        if let Some(d) = self.etc.take() {
            let mut g = etc_netns_lock();
            let _ = fs::remove_dir_all(&d);
            g.0 -= 1;
            if g.0 == 0 && g.1 {
                let _ = fs::remove_dir("/etc/netns"); // only succeeds when empty
                g.1 = false;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The network a test runs in
// ---------------------------------------------------------------------------

/// Where a test's sockets live: a private network namespace (the default),
/// or, when namespaces cannot be created outside CI, the host's loopback.
///
/// Why a namespace: on the host, listeners on loopback can receive
/// connections that are not the test's (this workplace has an agent that
/// probes every listening port), and `-l -v` without `-n` would send a
/// reverse DNS query. A private namespace has its own loopback, nobody
/// else in it, files-only name service and its own free well-known ports.
pub struct Net {
    pub ns: Option<Netns>,
}

impl Net {
    pub fn new(tag: &str) -> Net {
        match Netns::try_create(tag).and_then(|mut ns| {
            ns.write_etc("127.0.0.1 localhost\n::1 localhost\n")
                .map_err(|e| e.to_string())?;
            Ok(ns)
        }) {
            Ok(ns) => Net { ns: Some(ns) },
            Err(e) => {
                if in_ci() {
                    panic!("cannot create a network namespace: {e} (CI=true: this is a failure)");
                }
                note(&format!(
                    "NOTE {}: no private namespace ({e}); using the host's loopback",
                    current_test()
                ));
                Net { ns: None }
            }
        }
    }

    /// Is this the host's own network (not a private namespace)?
    pub fn is_host(&self) -> bool {
        self.ns.is_none()
    }

    /// The binary under test, in this network.
    pub fn nc<S: AsRef<OsStr>>(&self, args: &[S]) -> Cmd {
        self.wrap(Cmd::nc(args))
    }

    /// nc.openbsd, in this network.
    pub fn openbsd<S: AsRef<OsStr>>(&self, args: &[S]) -> Cmd {
        self.wrap(Cmd::openbsd(args))
    }

    pub fn wrap(&self, c: Cmd) -> Cmd {
        match &self.ns {
            Some(ns) => c.netns(ns),
            None => c,
        }
    }

    /// Run `f` with this network as the thread's network.
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> T {
        match &self.ns {
            Some(ns) => ns.run_in(f),
            None => f(),
        }
    }

    pub fn listen(&self, addr: &str) -> io::Result<TcpListener> {
        let a = addr.to_string();
        self.run_in(move || TcpListener::bind(a))
    }

    /// A scripted server in this network (see [`Server::start`]).
    pub fn server<F>(&self, bind: &str, conns: usize, script: F) -> Server
    where
        F: FnMut(Conn) + Send + 'static,
    {
        Server::start_on(self.listen(bind).expect("bind server"), conns, script)
    }

    /// One connection on 127.0.0.1, ephemeral port.
    pub fn one<F>(&self, script: F) -> Server
    where
        F: FnMut(Conn) + Send + 'static,
    {
        self.server("127.0.0.1:0", 1, script)
    }

    pub fn try_connect(&self, addr: &str) -> io::Result<TcpStream> {
        let sa = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other("no address"))?;
        let s = self.run_in(|| TcpStream::connect_timeout(&sa, Duration::from_secs(3)))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(s)
    }

    /// Connect (must succeed).
    #[track_caller]
    pub fn connect(&self, addr: &str) -> TcpStream {
        self.try_connect(addr)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    /// Is nothing listening on `addr` (connection refused)?
    pub fn ensure_closed(&self, addr: &str) -> Result<(), String> {
        match self.try_connect(addr) {
            Ok(_) => Err(format!(
                "something listens on {addr}; it must be closed for this test"
            )),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => Err(format!("cannot check {addr}: {e}")),
        }
    }

    /// A listener that accepts and drops connections on a fixed address.
    pub fn fixed_listener(&self, addr: &str) -> Result<FixedListener, String> {
        FixedListener::open_with(addr, self.listen(addr), |sa| {
            self.run_in(|| TcpStream::connect_timeout(&sa, Duration::from_secs(1)).map(drop))
        })
    }

    /// An IPv4 address in this namespace that never answers: a veth pair
    /// whose far end has no address, and a permanent neighbour entry, so
    /// SYNs to it leave and are dropped (a connect only ends by its own
    /// timer, as behind a DROP rule). None on the host's network.
    pub fn silent_ip(&self) -> Option<&'static str> {
        let ns = self.ns.as_ref()?;
        let setup = [
            vec![
                "link", "add", "sil0", "type", "veth", "peer", "name", "sil1",
            ],
            vec!["addr", "add", "10.255.0.1/24", "dev", "sil0"],
            vec!["link", "set", "sil0", "up"],
            vec!["link", "set", "sil1", "up"],
            vec![
                "neigh",
                "add",
                "10.255.0.2",
                "lladdr",
                "02:00:00:00:00:02",
                "dev",
                "sil0",
                "nud",
                "permanent",
            ],
        ];
        for a in setup {
            if let Err(e) = ns.ip(&a) {
                skip_or_fail_in_ci(&format!("cannot build a silent address: {e}"));
                return None;
            }
        }
        Some("10.255.0.2")
    }

    /// Wait until `p` (a child in this network) has a TCP socket listening
    /// on `port`, read from /proc/PID/net/tcp{,6}.
    pub fn wait_listen(&self, p: &Proc, port: u16, limit: Duration) -> bool {
        let dir = match self.ns {
            Some(_) => format!("/proc/{}/net", p.pid()),
            None => "/proc/net".to_string(),
        };
        wait_tcp_listen_in(&dir, port, limit)
    }

    /// Start `nc ARGS` that listens on `port` and wait until it does.
    #[track_caller]
    pub fn expect_listen(&self, p: &mut Proc, port: u16) {
        if !self.wait_listen(p, port, Duration::from_secs(5)) {
            let o = p.kill();
            panic!("`{}` never listened on port {port}: {o}", o.label);
        }
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

/// Short durations used throughout.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One line of measured figures, visible in the test output:
/// `FIGURE test: text`.
pub fn figure(text: &str) {
    note(&format!("FIGURE {}: {text}", current_test()));
}

// ---------------------------------------------------------------------------
// Faults injected into a child
// ---------------------------------------------------------------------------

/// A system call made to fail with `errno` in a child, by a seccomp filter
/// installed just before exec (so the dynamic loader is affected too: keep
/// the rules narrow). `arg` restricts the rule to calls whose argument
/// number `.0` (low 32 bits), masked with `.1`, equals `.2`.
///
/// This is how the tests reach errors that cannot be provoked safely:
/// ENFILE (the system-wide file table is shared with everything else on
/// the machine), or EMFILE at one precise call.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub syscall: i64,
    pub arg: Option<(u32, u32, u32)>,
    pub errno: i32,
}

impl Fault {
    /// socket() for IPv4 and IPv6 (netlink and Unix sockets still work).
    pub fn inet_socket(errno: i32) -> Vec<Fault> {
        [libc::AF_INET, libc::AF_INET6]
            .iter()
            .map(|&af| Fault {
                syscall: libc::SYS_socket,
                arg: Some((0, u32::MAX, af as u32)),
                errno,
            })
            .collect()
    }
    /// accept() and accept4().
    pub fn accept(errno: i32) -> Vec<Fault> {
        [libc::SYS_accept, libc::SYS_accept4]
            .iter()
            .map(|&syscall| Fault {
                syscall,
                arg: None,
                errno,
            })
            .collect()
    }
    /// openat() with O_NONBLOCK: ncrab's private reopening of a stdin or
    /// stdout pipe or tty through /proc/self/fd fails, so it must fall back
    /// to setting O_NONBLOCK on the shared description (and restore it).
    pub fn nonblocking_open(errno: i32) -> Vec<Fault> {
        vec![Fault {
            syscall: libc::SYS_openat,
            arg: Some((2, libc::O_NONBLOCK as u32, libc::O_NONBLOCK as u32)),
            errno,
        }]
    }
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The BPF program for `faults` (None when there are none).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn seccomp_filter(faults: &[Fault]) -> Option<Vec<libc::sock_filter>> {
    if faults.is_empty() {
        return None;
    }
    const LD_ABS_W: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k, jt, jf| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    // struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i (the
    // low half first on these little-endian machines).
    let mut p = vec![stmt(LD_ABS_W, 4), jeq(AUDIT_ARCH, 1, 0)];
    p.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    for f in faults {
        let ret = stmt(RET_K, libc::SECCOMP_RET_ERRNO | (f.errno as u32 & 0xffff));
        p.push(stmt(LD_ABS_W, 0));
        match f.arg {
            None => {
                p.push(jeq(f.syscall as u32, 0, 1));
                p.push(ret);
            }
            Some((i, mask, value)) => {
                p.push(jeq(f.syscall as u32, 0, 4));
                p.push(stmt(LD_ABS_W, 16 + 8 * i));
                p.push(stmt(AND_K, mask));
                p.push(jeq(value, 0, 1));
                p.push(ret);
            }
        }
    }
    p.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    Some(p)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn seccomp_filter(faults: &[Fault]) -> Option<Vec<libc::sock_filter>> {
    assert!(faults.is_empty(), "fault injection needs x86_64 or aarch64");
    None
}

/// Installs the filter (in the child, between fork and exec).
fn install_seccomp(f: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: f.len() as u16,
        filter: f.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with a valid, live filter program.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
