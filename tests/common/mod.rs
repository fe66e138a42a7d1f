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
//! Tests of ncrab's deliberate departures and extensions (docs/compatibility.md
//! §A.2, §A.3) check `is_ncrab()` and do nothing for another binary, or run
//! [`Cmd::ncrab`], which is always ncrab. Tests with listeners run in private
//! network namespaces (see [`Net`]), so they need root; without it they fall
//! back to the host's loopback outside CI.
//!
//! One way to run a program: [`Cmd`] (what to run, with which stdin, stdout,
//! environment, terminal, wrapper or namespace) starts a [`Proc`] (a running
//! child: wait for its output, signal it, write to its stdin), which ends in
//! an [`Outcome`] (exit status, stdout, stderr, asserted exactly). One skip
//! policy: a missing peer tool or facility is a printed skip, and a failure
//! under `CI=true` ([`skip_or_fail_in_ci`]).
//!
//! The submodules, one concern each, all re-exported here:
//! - `binaries`: which binary runs, peer tools and the skip policy,
//!   temporary directories, notes and figures;
//! - `certs`: the test CA and certificates, made with openssl
//!   ([`certs`], [`Certs`]);
//! - `cmd`: what to run and with which stdio ([`Cmd`], [`Input`],
//!   [`OutputTo`]);
//! - `proc`: a running child ([`Proc`]);
//! - `assert`: byte-exact assertions, the [`Outcome`] of a run, bounded
//!   waiting;
//! - `faults`: system calls made to fail in a child ([`Fault`]);
//! - `ports`: free, refused and fixed ports;
//! - `netns`: network namespaces and the network a test runs in ([`Net`]);
//! - `peers`: scripted TCP servers (closures per connection, or [`Step`]
//!   lists) and plain sockets driven by the test;
//! - `sockets`: socket pairs, fd passing, service names, test data and
//!   checksums;
//! - `tls_peers`: openssl and socat in a test's network, socat's TLS
//!   addresses and ncrab's TLS listener arguments with the test
//!   certificates;
//! - `starttls_servers`: a scripted server per `--starttls` protocol, its
//!   RFC's preamble then TLS with rustls ([`starttls_server`], [`How`]);
//! - `tls_crafted`: a TLS server of the test's own that seals its
//!   records itself and opens ncrab's ([`crafted_server`]);
//! - `tty`: a pseudo-terminal ([`Pty`]) for prompts and terminal stdio.
//!
//! Everything here is bounded: every wait has a deadline, a child still
//! running when its `Proc` is dropped gets SIGTERM and then SIGKILL, by PID,
//! and every helper server thread stops by itself after a deadline. Only
//! 127.0.0.0/8, ::1, Unix sockets in private directories and network
//! namespaces created here are ever used.
#![allow(dead_code)]

mod assert;
mod binaries;
mod certs;
mod cmd;
mod faults;
mod netns;
mod peers;
mod ports;
mod proc;
mod sockets;
mod starttls_servers;
mod tls_crafted;
mod tls_peers;
mod tty;

#[allow(unused_imports)]
pub use assert::*;
#[allow(unused_imports)]
pub use binaries::*;
#[allow(unused_imports)]
pub use certs::*;
#[allow(unused_imports)]
pub use cmd::*;
#[allow(unused_imports)]
pub use faults::*;
#[allow(unused_imports)]
pub use netns::*;
#[allow(unused_imports)]
pub use peers::*;
#[allow(unused_imports)]
pub use ports::*;
#[allow(unused_imports)]
pub use proc::*;
#[allow(unused_imports)]
pub use sockets::*;
#[allow(unused_imports)]
pub use starttls_servers::*;
#[allow(unused_imports)]
pub use tls_crafted::*;
#[allow(unused_imports)]
pub use tty::*;
