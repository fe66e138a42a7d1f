//! What to run: [`Cmd`] (the binary under test, nc.openbsd or any peer,
//! through a symlink), its stdin ([`Input`]) and stdout ([`OutputTo`]),
//! environment, terminal, wrapper, namespace, fd limit and injected
//! faults; [`Cmd::spawn`] starts it as a [`Proc`].

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{
    Capture, Fault, NC_OPENBSD, Netns, Outcome, Pattern, Proc, TempDir, bin, bin_name,
    find_in_path, install_seccomp, ncrab, seccomp_filter,
};

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
