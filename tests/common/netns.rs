//! Network namespaces: [`Netns`] (one created and deleted by this
//! process, with its own /etc/netns files) and [`Net`], the network a test
//! runs in (a private namespace, or the host's loopback outside CI when
//! namespaces cannot be created).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use super::{
    Cmd, Conn, FixedListener, Proc, Server, current_test, find_in_path, in_ci, note,
    skip_or_fail_in_ci, unique, wait_tcp_listen_in,
};

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
