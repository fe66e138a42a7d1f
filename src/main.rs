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
mod udp;
mod unix;

use std::process::ExitCode;

use config::{Config, Target};
use exit::{Abort, Status};
use reactor::Reactor;
use stdio::Stdio;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    report::set_argv0(args.next().unwrap_or_default());
    // Departure 7: never let a socket become fd 0, 1 or 2.
    stdio::fix_closed_fds();
    let cfg = match cli::parse(args.collect()) {
        Ok(cfg) => cfg,
        Err(cli::Exit::Done) => return ExitCode::SUCCESS,
        Err(cli::Exit::Fail(n)) => return ExitCode::from(n),
    };
    signals::install();
    match run(&cfg) {
        Ok(status) => ExitCode::from(status),
        Err(Abort::Failed) => ExitCode::from(1),
        Err(Abort::QuitTimer) => ExitCode::SUCCESS,
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
