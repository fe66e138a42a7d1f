//! A running child ([`Proc`]): its captured output, its stdin, signals,
//! and the wait that turns it into an [`Outcome`]. A child still running
//! when dropped gets SIGTERM, then SIGKILL, by PID.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Outcome, TempDir, escape, fd_flags};

/// Output collected from a child pipe by a reader thread: the bytes so
/// far, and whether the writer side has closed.
pub(super) struct Capture {
    state: Mutex<(Vec<u8>, bool)>,
    cv: Condvar,
}

impl Capture {
    pub(super) fn new() -> Arc<Capture> {
        Arc::new(Capture {
            state: Mutex::new((Vec::new(), false)),
            cv: Condvar::new(),
        })
    }
    pub(super) fn mark_done(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }
    pub(super) fn read_from<R: Read + Send + 'static>(self: Arc<Self>, mut r: R) {
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
    pub(super) child: Child,
    pub(super) pid: i32,
    pub(super) out: Arc<Capture>,
    pub(super) err: Arc<Capture>,
    pub(super) stdout_r: Option<File>,
    pub(super) stdin_w: Option<File>,
    pub(super) stdin_r_dup: Option<OwnedFd>,
    pub(super) stdin_flags0: Option<i32>,
    pub(super) feeder: Option<JoinHandle<()>>,
    pub(super) started: Instant,
    pub(super) status: Option<ExitStatus>,
    pub(super) elapsed: Option<Duration>,
    pub(super) label: String,
    pub(super) _dir: TempDir,
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

    /// The write end of an [`Input::Pipe`] stdin (once): for a writer
    /// thread of the test's own, e.g. one that feeds more than a pipe
    /// holds while the test watches other things, and closes stdin (drops
    /// it) when the test says. Unlike [`Proc::write_stdin`], the test
    /// itself never blocks on a child that stopped reading.
    ///
    /// [`Input::Pipe`]: super::Input::Pipe
    pub fn take_stdin(&mut self) -> File {
        self.stdin_w.take().expect("stdin is not Input::Pipe")
    }

    /// Bytes written to the stdin pipe that the child has not read yet
    /// (FIONREAD on the pipe): 0 once it took everything.
    pub fn stdin_unread(&self) -> usize {
        let fd = self.stdin_r_dup.as_ref().expect("stdin is not a pipe");
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let rc =
            unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(fd), libc::FIONREAD, &mut n) };
        if rc != 0 { usize::MAX } else { n as usize }
    }

    /// Waits up to `limit` until the child has read everything written to
    /// its stdin pipe; false on timeout. Programs that take a whole read(2)
    /// as one command (openssl s_client/s_server) need each command read
    /// alone: write it, wait for this, then write the next.
    pub fn wait_stdin_read(&self, limit: Duration) -> bool {
        super::eventually(limit, || self.stdin_unread() == 0)
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

/// The children of `pid`: (pid, state letter, command name).
pub fn children(pid: i32) -> Vec<(i32, char, String)> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{n}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat[stat.find('(').map_or(0, |i| i + 1)..close].to_string();
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        if rest.len() > 1 && rest[1].parse::<i32>().ok() == Some(pid) {
            out.push((n, rest[0].chars().next().unwrap_or('?'), comm));
        }
    }
    out
}

/// Waits until `pid` has no children at all (none running, no zombie).
#[track_caller]
pub fn expect_no_children(pid: i32, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        let c = children(pid);
        if c.is_empty() {
            return;
        }
        if Instant::now() >= end {
            panic!("children of {pid} left: {c:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}
