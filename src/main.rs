//! ncrab: a netcat-style network tool, a drop-in for OpenBSD nc.
//!
//! The flow: `cli` turns the arguments into one validated `Config`; `main`
//! prepares the process (valid fds 0-2, signal handlers, the event loop)
//! and hands the config to the mode it asks for: `client` (connect and
//! relay on each port), `scan` (`-z`), `listen`, or `unix` (`-U`). Every
//! mode runs its state machines on the one `reactor`; `relay` moves the
//! bytes; `report` holds every message. A run ends in a status (B §4) or an `Abort` that
//! unwinds through every cleanup guard before the process exits or dies by
//! the signal that stopped it.
//!
//! Start-up: ncrab is often run once per tiny exchange (`printf x | nc -N
//! host port`), where process start-up is most of the time. Rust's own
//! `main` wrapper reads /proc/self/maps for a stack guard, sets up an
//! alternate signal stack and more (about 150-250 µs here, measured with
//! empty programs), none of which ncrab needs; so the C `main` is ncrab's
//! own (`no_main`). What the wrapper did that ncrab relies on is done here:
//! SIGPIPE is ignored (a write to a closed pipe is EPIPE, handled where it
//! happens), and fds 0-2 are made valid by `stdio::fix_closed_fds`.
//! `std::env::args_os` still works: the C library hands argv to std before
//! `main` runs.

#![cfg_attr(not(test), no_main)]

mod buffer;
mod cli;
mod client;
mod config;
mod connect;
mod exit;
mod fdpass;
mod filemap;
mod filter;
mod generate;
mod getopt;
mod listen;
mod manual;
mod net;
mod passphrase;
mod ports;
mod proxy;
mod reactor;
mod relay;
mod report;
mod resolve;
mod scan;
mod signals;
mod stdio;
mod tls;
mod udp;
mod unix;

use config::{Config, Target};
use exit::{Abort, Status};
use reactor::Reactor;
use stdio::Stdio;

/// The process entry point, called by the C library (unit tests use the
/// test harness's own).
#[cfg_attr(not(test), unsafe(no_mangle))]
#[cfg_attr(test, allow(dead_code))]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: setting a signal disposition with a valid constant.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    libc::c_int::from(ncrab_main())
}

/// ncrab's run: the exit status, or death by a signal (which never returns).
fn ncrab_main() -> u8 {
    let mut args = std::env::args_os();
    report::set_argv0(args.next().unwrap_or_default());
    // Departure 7: never let a socket become fd 0, 1 or 2.
    stdio::fix_closed_fds();
    let cfg = match cli::parse(args.collect()) {
        Ok(cfg) => cfg,
        Err(cli::Exit::Done) => return 0,
        Err(cli::Exit::Fail(n)) => return n,
    };
    signals::install();
    match run(&cfg) {
        Ok(status) => status,
        Err(Abort::Failed) => 1,
        Err(Abort::QuitTimer) => 0,
        Err(Abort::Signal(sig)) => signals::die_by(sig),
    }
}

/// Runs the mode the configuration asks for. Everything it sets up is
/// dropped (restored, removed) before it returns.
fn run(cfg: &Config) -> Result<Status, Abort> {
    let mut rx = match Reactor::new() {
        Ok(rx) => rx,
        Err(e) => {
            report::warn(format_args!("epoll"), report::Errno::of(&e));
            return Err(Abort::Failed);
        }
    };
    let stdin = Stdio::input();
    let stdout = Stdio::output();
    match cfg.target {
        Target::Connect { .. } => client::run(&mut rx, cfg, &stdin, &stdout),
        Target::Listen { .. } => listen::run(&mut rx, cfg, &stdin, &stdout),
        Target::UnixConnect { .. } => unix::run_client(&mut rx, cfg, &stdin, &stdout),
        Target::UnixListen { .. } => unix::run_listener(&mut rx, cfg, &stdin, &stdout),
    }
}
