//! ncrab: a netcat-style network tool, a drop-in for OpenBSD nc.
//!
//! The flow: `cli` turns the arguments into one validated `Config`; `main`
//! prepares the process (valid fds 0-2, signal handlers, the event loop)
//! and hands the config to the mode it asks for (`modes`: `client`,
//! `scan` for `-z`, `listen`, `unix` for `-U`). Every mode runs its state
//! machines on the one `sys::reactor`; `relay` moves the bytes, `net` gets
//! the sockets; `report` holds every message. A run ends in a status
//! (docs/compatibility.md §4) or an `Abort` that unwinds through every
//! cleanup guard before the process exits or dies by the signal that
//! stopped it. The layers and their rules: ARCHITECTURE.md.
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

mod cli;
mod modes;
mod net;
mod relay;
mod report;
mod sys;

use cli::config::{Config, Target};
use relay::stdio::{self, Stdio};
use sys::exit::{Abort, Status};
use sys::reactor::Reactor;

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
    // docs/compatibility.md departure 7: never let a socket become fd 0, 1 or 2.
    stdio::fix_closed_fds();
    let cfg = match cli::parse(args.collect()) {
        Ok(cfg) => cfg,
        Err(cli::Exit::Done) => return 0,
        Err(cli::Exit::Fail(n)) => return n,
    };
    sys::signals::install();
    match run(&cfg) {
        Ok(status) => status,
        Err(Abort::Failed) => 1,
        Err(Abort::QuitTimer) => 0,
        Err(Abort::Signal(sig)) => sys::signals::die_by(sig),
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
    // --send-only: what arrives is read and thrown away.
    let stdout = if cfg.opts.serving.send_only {
        Stdio::null_output()
    } else {
        Stdio::output()
    };
    match cfg.target {
        // `-zF` connects and passes the socket like `-F` alone (nc).
        Target::Connect {
            ref host,
            ref ports,
            ..
        } if cfg.opts.zero_io && cfg.proxy.is_none() && !cfg.opts.pass_fd => {
            modes::scan::run(&mut rx, cfg, host, ports)
        }
        Target::Connect { .. } => modes::client::run(&mut rx, cfg, &stdin, &stdout),
        Target::Listen { .. } => modes::listen::run(&mut rx, cfg, &stdin, &stdout),
        Target::UnixConnect { .. } => modes::unix::run_client(&mut rx, cfg, &stdin, &stdout),
        Target::UnixListen { .. } => modes::unix::run_listener(&mut rx, cfg, &stdin, &stdout),
    }
}

/// The layer rule of ARCHITECTURE.md, checked on the sources: a file
/// names (`crate::X`) only its own folder or the layers below it, and a
/// mode never names another mode; the one exception is the `Config` a
/// mode is handed (`crate::cli::config`).
#[cfg(test)]
mod layers {
    const ORDER: &[&str] = &["main", "cli", "modes", "relay", "net", "report", "sys"];

    fn rank(layer: &str) -> usize {
        ORDER.iter().position(|l| *l == layer).unwrap_or(0)
    }

    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn dependencies_point_down() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        let mut bad = Vec::new();
        for f in &all {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            if rel == "main.rs" {
                continue; // the top: it may name every layer
            }
            let (layer, name) = match rel.split_once('/') {
                Some((dir, file)) => (dir.to_string(), file.trim_end_matches(".rs").to_string()),
                None => (rel.trim_end_matches(".rs").to_string(), String::new()),
            };
            let text = std::fs::read_to_string(f).unwrap();
            for (i, _) in text.match_indices("crate::") {
                let path: Vec<&str> = text[i + 7..]
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .unwrap_or("")
                    .split("::")
                    .collect();
                let (to, sub) = (path[0], path.get(1).copied().unwrap_or(""));
                let upward = to != layer && rank(to) <= rank(&layer);
                let sibling_mode = layer == "modes"
                    && to == "modes"
                    && name != "mod"
                    && !sub.is_empty()
                    && sub != name;
                let config = layer == "modes" && to == "cli" && sub == "config";
                if (upward && !config) || sibling_mode {
                    bad.push(format!("{rel} -> crate::{to}::{sub}"));
                }
            }
        }
        assert!(all.len() > 20, "sources found: {}", all.len());
        assert!(bad.is_empty(), "imports against the layer order: {bad:#?}");
    }
}
