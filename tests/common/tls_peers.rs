//! TLS peers shared by tests/tls.rs and tests/tls_records.rs: openssl and
//! socat in a test's network, socat's TLS addresses with the test
//! certificates, ncrab's arguments as a TLS listener, and a listener
//! started and waited for until it listens.

use std::ffi::OsStr;
use std::path::Path;

use super::{Certs, Cmd, Net, Proc, find_in_path};

impl Net {
    /// `openssl ARGS` in this network ([`certs`](super::certs) made sure
    /// openssl is installed).
    pub fn openssl<S: AsRef<OsStr>>(&self, args: &[S]) -> Cmd {
        let bin = find_in_path("openssl").expect("openssl");
        self.wrap(Cmd::with_target(bin, "openssl", args))
    }

    /// `socat ARGS` in this network; `socat` is its path, from
    /// [`tool`](super::tool) (which skips the test without it).
    pub fn socat<S: AsRef<OsStr>>(&self, socat: &Path, args: &[S]) -> Cmd {
        self.wrap(Cmd::with_target(socat.to_path_buf(), "socat", args))
    }

    /// Starts `cmd` (in this network, to listen on `port`) and waits
    /// until it listens.
    #[track_caller]
    pub fn spawn_listening(&self, cmd: Cmd, port: u16) -> Proc {
        let mut p = cmd.spawn();
        self.expect_listen(&mut p, port);
        p
    }
}

impl Certs {
    /// ncrab's arguments as a TLS listener on 127.0.0.1:`port` with
    /// `NAME.pem` and `NAME.key`:
    /// `-lc FLAGS --tls-cert NAME.pem -K NAME.key MORE 127.0.0.1 PORT`.
    pub fn listener_args(
        &self,
        name: &str,
        flags: &[&str],
        more: &[String],
        port: &str,
    ) -> Vec<String> {
        let mut a: Vec<String> = vec!["-lc".into()];
        a.extend(flags.iter().map(|f| f.to_string()));
        a.extend([
            "--tls-cert".into(),
            self.path(&format!("{name}.pem")),
            "-K".into(),
            self.path(&format!("{name}.key")),
        ]);
        a.extend(more.iter().cloned());
        a.extend(["127.0.0.1".into(), port.into()]);
        a
    }

    /// socat's address of a TLS listener on 127.0.0.1:`port` with `srv`,
    /// asking for no client certificate.
    pub fn socat_listen(&self, port: &str) -> String {
        format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,cert={},key={},verify=0",
            self.path("srv.pem"),
            self.path("srv.key")
        )
    }

    /// socat's address of a TLS client of localhost:`port`, verifying
    /// with the test CA.
    pub fn socat_connect(&self, port: &str) -> String {
        format!("OPENSSL:localhost:{port},cafile={}", self.path("ca.pem"))
    }
}
