//! What `net` tells in the middle of a connect ([`crate::net::connect::Tell`], [`crate::net::proxy::Tell`]),
//! in nc's words: [`Lines`] is what every mode hands to `net`.

use std::ffi::OsStr;

use crate::net::SetupError;
use crate::net::connect::{self, AttemptFailed};
use crate::net::diagnose::Diagnosis;
use crate::net::proxy::{self, ProxyError};
use crate::sys::errno::GaiError;

/// nc's lines on standard error for what `net` tells.
pub struct Lines;

impl connect::Tell for Lines {
    fn setup_failed(&mut self, e: &SetupError) {
        super::setup_failed(e);
    }

    fn attempt_failed(&mut self, a: &AttemptFailed<'_>) {
        let dest = super::Dest {
            host: a.host,
            ip: a.ip,
        };
        match a.errno {
            Some(errno) => super::connect_failed(&dest, a.port, a.proto, errno),
            None => super::connect_timed_out(&dest, a.port, a.proto),
        }
    }

    fn diagnosis(&mut self, d: &Diagnosis) {
        super::diagnosis::probe_lines(d);
    }
}

impl proxy::Tell for Lines {
    fn proxy_lookup_failed(&mut self, host: &OsStr, port: &OsStr, e: GaiError) {
        super::getaddrinfo_host_failed(host, port, e);
    }

    fn proxy_failed(&mut self, e: &ProxyError) {
        super::proxy_failed(e);
    }

    fn proxy_auth_failed(&mut self) {
        super::proxy_auth_failed();
    }

    fn password_prompt(&mut self, user: &str, proxy_host: &str) -> String {
        super::proxy_password_prompt(user, proxy_host)
    }
}
