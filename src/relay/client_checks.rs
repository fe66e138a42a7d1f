//! The server side of `-lc` after a handshake: OpenBSD's checks of the
//! client's certificate (`-T clientcert`, `-H`, `-e`) and their `-v`
//! lines ([`ClientChecks`]), shared by the nc listener's TLS loop
//! (`serve::listen`) and the serving listeners' handshakes (`stream`). The
//! listener's configuration is `net::tls::setup::server`.

use std::ffi::OsStr;

use crate::net::tls::client::Summary;
use crate::net::tls::session::Session;
use crate::net::tls::{TlsConfig, certinfo, verify};
use crate::report::tls as report;

/// OpenBSD's checks of a client after its handshake (and its `-v` lines).
#[derive(Debug, Default)]
pub struct ClientChecks {
    /// The listening host as OpenBSD prints it.
    host: String,
    verbose: bool,
    clientcert: bool,
    pin: Option<String>,
    name: Option<String>,
}

impl ClientChecks {
    /// The checks `t` asks for, of the clients of a listener on `host`
    /// (`-v` with `verbose`).
    pub fn new(t: &TlsConfig, host: Option<&OsStr>, verbose: bool) -> ClientChecks {
        ClientChecks {
            // OpenBSD prints the listening host, "(null)" when none was
            // given (printf's rendering of a null string on glibc and
            // OpenBSD).
            host: host
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|| "(null)".into()),
            verbose,
            clientcert: t.clientcert,
            pin: t.pin.clone(),
            name: t.name.clone(),
        }
    }

    /// With `-v`, prints the client certificate's lines; false (its line
    /// printed) when the client is refused.
    pub fn check(&self, s: &Session) -> bool {
        let der = s.peer_cert().map(<[u8]>::to_vec);
        if self.verbose && der.is_some() {
            let name = self.name.clone().unwrap_or_else(|| self.host.clone());
            Summary::of(s).print(&self.host, &name);
        }
        match der {
            None if self.clientcert => {
                report::no_client_cert();
                false
            }
            Some(d) if self.pin.as_ref().is_some_and(|p| *p != certinfo::hash(&d)) => {
                report::pin_mismatch(self.pin.as_deref().unwrap_or(""));
                false
            }
            Some(d)
                if self
                    .name
                    .as_ref()
                    .is_some_and(|n| !verify::cert_has_name(&d, n)) =>
            {
                report::name_not_in_client_cert(self.name.as_deref().unwrap_or(""));
                false
            }
            _ => true,
        }
    }
}
