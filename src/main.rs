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

/// The layer rule of ARCHITECTURE.md, checked on the sources. A file's
/// layer is its path (`src/cli/**` is `cli`, `src/modes/<mode>.rs` and
/// `src/modes/<mode>/**` are the mode `<mode>`, and so on); every path it
/// names from `crate`, `super` or `self` (in code and in comments, not in
/// string literals) is resolved to the file of that module, and:
/// - a file names only its own layer or the layers below it; the one
///   exception is the `Config` a mode is handed (`cli/config.rs`);
/// - a mode never names another mode;
/// - a `super` of a `super` is refused (name the layer with `crate::`);
/// - a file outside the known layers is an error;
/// - the files of a layer name each other (in code: docs may point both
///   ways) in no cycle.
#[cfg(test)]
mod layers {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    /// The layers, from the top.
    const ORDER: &[&str] = &[
        "main", "cli", "modes", "serve", "relay", "report", "net", "sys",
    ];

    /// A file's place: the rank of its layer in [`ORDER`] and, in
    /// `modes`, its mode (`None` for `modes/mod.rs`).
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Layer {
        rank: usize,
        mode: Option<String>,
    }

    /// The layer of the file at `rel` (relative to `src/`).
    fn layer_of(rel: &str) -> Result<Layer, String> {
        let parts: Vec<&str> = rel.split('/').collect();
        let top = parts[0].strip_suffix(".rs").unwrap_or(parts[0]);
        let rank = ORDER
            .iter()
            .position(|l| *l == top)
            .filter(|_| top != "main" || rel == "main.rs")
            .ok_or_else(|| format!("{rel}: in no layer (the layers: {})", ORDER.join(", ")))?;
        let mode = match parts.as_slice() {
            ["modes", "mod.rs"] => None,
            ["modes", m, ..] => Some(m.trim_end_matches(".rs").to_string()),
            _ => None,
        };
        Ok(Layer { rank, mode })
    }

    /// The module path of the file at `rel`: `net/tls/mod.rs` is
    /// `net::tls`, `main.rs` the crate's root.
    fn module_of(rel: &str) -> Vec<String> {
        let stem = rel.trim_end_matches(".rs");
        let stem = stem.strip_suffix("/mod").unwrap_or(stem);
        if stem == "main" {
            return Vec::new();
        }
        stem.split('/').map(String::from).collect()
    }

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    fn ident(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_'
    }

    /// Two views of a source, offsets kept: string and character
    /// literals blanked in both, comments blanked in the first too.
    fn blank(src: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut code, mut text) = (src.to_vec(), src.to_vec());
        let mut wipe = |from: usize, to: usize, comment: bool| {
            for i in from..to.min(src.len()) {
                if src[i] != b'\n' {
                    code[i] = b' ';
                    if !comment {
                        text[i] = b' ';
                    }
                }
            }
        };
        let at = |i: usize| src.get(i).copied().unwrap_or(0);
        let mut i = 0;
        while i < src.len() {
            let start = i;
            let before = if i == 0 { 0 } else { src[i - 1] };
            match (src[i], at(i + 1)) {
                (b'/', b'/') => {
                    while i < src.len() && src[i] != b'\n' {
                        i += 1;
                    }
                    wipe(start, i, true);
                }
                (b'/', b'*') => {
                    let mut depth = 0;
                    while i < src.len() {
                        match (src[i], at(i + 1)) {
                            (b'/', b'*') => (depth, i) = (depth + 1, i + 2),
                            (b'*', b'/') => (depth, i) = (depth - 1, i + 2),
                            _ => i += 1,
                        }
                        if depth == 0 {
                            break;
                        }
                    }
                    wipe(start, i, true);
                }
                (b'r' | b'b', _) if !ident(before) => {
                    // r"..", r#".."#, br".." (b".." is handled at its quote).
                    let mut j = i + usize::from(src[i] == b'b');
                    if at(j) != b'r' {
                        i += 1;
                        continue;
                    }
                    j += 1;
                    let hashes = src[j..].iter().take_while(|&&c| c == b'#').count();
                    if at(j + hashes) != b'"' {
                        i += 1;
                        continue;
                    }
                    let close: Vec<u8> = std::iter::once(b'"')
                        .chain(std::iter::repeat_n(b'#', hashes))
                        .collect();
                    let body = j + hashes + 1;
                    let end = src[body..]
                        .windows(close.len())
                        .position(|w| w == close.as_slice())
                        .map_or(src.len(), |p| body + p + close.len());
                    wipe(start, end, false);
                    i = end;
                }
                (b'"', _) => {
                    i += 1;
                    while i < src.len() && src[i] != b'"' {
                        i += if src[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                    wipe(start, i, false);
                }
                (b'\'', c) => {
                    // A character literal ('x', '\n', '\u{..}', 'é'), or a
                    // lifetime (left as it is).
                    let end = if c == b'\\' {
                        src[i + 3..]
                            .iter()
                            .position(|&c| c == b'\'')
                            .map(|p| i + 4 + p)
                    } else if c >= 0x80 {
                        src[i + 2..]
                            .iter()
                            .take(4)
                            .position(|&c| c == b'\'')
                            .map(|p| i + 3 + p)
                    } else if at(i + 2) == b'\'' {
                        Some(i + 3)
                    } else {
                        None
                    };
                    i = end.unwrap_or(i + 1);
                    if end.is_some() {
                        wipe(start, i, false);
                    }
                }
                _ => i += 1,
            }
        }
        (code, text)
    }

    /// The inline modules (`mod name { .. }`) open at each offset of
    /// `code`: (offset, name) for each opening, (offset, "") for each end.
    fn inline_mods(code: &[u8]) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let mut open: Vec<usize> = Vec::new(); // the depth each one opened at
        let mut depth = 0usize;
        let mut i = 0;
        while i < code.len() {
            match code[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if open.last() == Some(&depth) {
                        open.pop();
                        out.push((i, String::new()));
                    }
                }
                b'm' if code[i..].starts_with(b"mod ") && (i == 0 || !ident(code[i - 1])) => {
                    let rest = &code[i + 4..];
                    let ws = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
                    let n = rest[ws..].iter().take_while(|&&c| ident(c)).count();
                    let after = &rest[ws + n..];
                    let ws2 = after.iter().take_while(|c| c.is_ascii_whitespace()).count();
                    if n > 0 && after.get(ws2) == Some(&b'{') {
                        let name = String::from_utf8_lossy(&rest[ws..ws + n]).into_owned();
                        out.push((i, name));
                        open.push(depth);
                        depth += 1;
                        i += 4 + ws + n + ws2 + 1;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    /// The paths of a path or `use` tree starting at `s[i..]` (`a::b`,
    /// `a::{b, c::{d, self}}`, `a::*`), each as its segments.
    fn paths(s: &[u8], mut i: usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let skip_ws = |i: &mut usize| {
            while s.get(*i).is_some_and(|c| c.is_ascii_whitespace()) {
                *i += 1;
            }
        };
        loop {
            skip_ws(&mut i);
            if s.get(i) == Some(&b'{') {
                i += 1;
                loop {
                    paths(s, i, prefix.clone(), out);
                    // On to the next item of this group.
                    let mut nest = 0;
                    while let Some(&c) = s.get(i) {
                        match c {
                            b'{' => nest += 1,
                            b'}' if nest == 0 => return,
                            b'}' => nest -= 1,
                            b',' if nest == 0 => break,
                            _ => {}
                        }
                        i += 1;
                    }
                    if s.get(i).is_none() {
                        return;
                    }
                    i += 1;
                }
            }
            let n = s[i.min(s.len())..]
                .iter()
                .take_while(|&&c| ident(c))
                .count();
            if n == 0 {
                out.push(prefix);
                return;
            }
            let seg = String::from_utf8_lossy(&s[i..i + n]).into_owned();
            if seg != "self" || prefix.is_empty() {
                prefix.push(seg);
            }
            i += n;
            skip_ws(&mut i);
            if !s[i.min(s.len())..].starts_with(b"::") {
                out.push(prefix);
                return;
            }
            i += 2;
        }
    }

    /// Every path `text` names from `crate`, `super` or `self`: (offset,
    /// segments, in code). `code` is `text` with its comments blanked.
    fn named(code: &[u8], text: &[u8]) -> Vec<(usize, Vec<String>, bool)> {
        let mut out = Vec::new();
        for i in 0..text.len() {
            let start = ["crate::", "super::", "self::"]
                .iter()
                .any(|k| text[i..].starts_with(k.as_bytes()));
            let before = if i == 0 { b' ' } else { text[i - 1] };
            if !start || ident(before) || before == b':' || before == b'$' {
                continue;
            }
            let in_code = code[i] == text[i];
            let mut found = Vec::new();
            paths(if in_code { code } else { text }, i, Vec::new(), &mut found);
            out.extend(found.into_iter().map(|p| (i, p, in_code)));
        }
        out
    }

    /// The file (relative to `src/`) that holds the module `path`: the
    /// longest prefix of it that is a file (items and inline modules
    /// live in their file).
    fn file_of<'a>(modules: &'a BTreeMap<Vec<String>, String>, path: &[String]) -> &'a str {
        (0..=path.len())
            .rev()
            .find_map(|n| modules.get(&path[..n]))
            .map_or("main.rs", String::as_str)
    }

    /// The cycles of the graph `edges`, each as the files along it.
    fn cycles(edges: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
        fn walk<'a>(
            f: &'a str,
            edges: &'a BTreeMap<String, Vec<String>>,
            stack: &mut Vec<&'a str>,
            done: &mut Vec<&'a str>,
            out: &mut Vec<Vec<String>>,
        ) {
            if done.contains(&f) {
                return;
            }
            if let Some(at) = stack.iter().position(|s| *s == f) {
                let mut c: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
                c.push(f.to_string());
                out.push(c);
                return;
            }
            stack.push(f);
            for t in edges.get(f).into_iter().flatten() {
                walk(t, edges, stack, done, out);
            }
            stack.pop();
            done.push(f);
        }
        let (mut out, mut done) = (Vec::new(), Vec::new());
        for f in edges.keys() {
            walk(f, edges, &mut Vec::new(), &mut done, &mut out);
        }
        out
    }

    /// What is wrong with the sources under `src`, one line each.
    fn check(src: &Path) -> Vec<String> {
        let mut all = Vec::new();
        files(src, &mut all);
        all.sort();
        let rel = |f: &PathBuf| {
            f.strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        };
        let modules: BTreeMap<Vec<String>, String> =
            all.iter().map(|f| (module_of(&rel(f)), rel(f))).collect();
        let mut bad = Vec::new();
        let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in &all {
            let from = rel(f);
            let layer = match layer_of(&from) {
                Ok(l) => l,
                Err(e) => {
                    bad.push(e);
                    continue;
                }
            };
            let module = module_of(&from);
            let src_text = std::fs::read(f).unwrap();
            let (code, text) = blank(&src_text);
            let mods = inline_mods(&code);
            let mut inline: Vec<String> = Vec::new();
            let mut next_mod = 0;
            for (at, path, in_code) in named(&code, &text) {
                while mods.get(next_mod).is_some_and(|(o, _)| *o < at) {
                    match mods[next_mod].1.as_str() {
                        "" => drop(inline.pop()),
                        name => inline.push(name.to_string()),
                    }
                    next_mod += 1;
                }
                let shown = path.join("::");
                let mut here: Vec<String> = module.iter().chain(&inline).cloned().collect();
                let target = match path[0].as_str() {
                    "crate" => path[1..].to_vec(),
                    "self" => here.into_iter().chain(path[1..].iter().cloned()).collect(),
                    _ if path.get(1).is_some_and(|s| s == "super") => {
                        bad.push(format!(
                            "{from}: {shown}: a super of a super (name it from crate::)"
                        ));
                        continue;
                    }
                    _ => {
                        if here.pop().is_none() {
                            bad.push(format!("{from}: {shown}: super of the crate's root"));
                            continue;
                        }
                        here.into_iter().chain(path[1..].iter().cloned()).collect()
                    }
                };
                let to = file_of(&modules, &target);
                if to == from {
                    continue;
                }
                let Ok(to_layer) = layer_of(to) else {
                    continue; // reported as a file of its own
                };
                let upward =
                    to_layer.rank < layer.rank && !(layer.mode.is_some() && to == "cli/config.rs");
                let other_mode =
                    layer.mode.is_some() && to_layer.mode.is_some() && layer.mode != to_layer.mode;
                if upward {
                    bad.push(format!(
                        "{from}: {shown} ({to}): names a layer above its own"
                    ));
                } else if other_mode {
                    bad.push(format!("{from}: {shown} ({to}): a mode names another mode"));
                }
                // A cycle through other layers has an upward step, refused above.
                if in_code && to_layer == layer {
                    let out = edges.entry(from.clone()).or_default();
                    if !out.iter().any(|t| t == to) {
                        out.push(to.to_string());
                    }
                }
            }
        }
        for c in cycles(&edges) {
            bad.push(format!("import cycle: {}", c.join(" -> ")));
        }
        bad
    }

    #[test]
    fn dependencies_point_down() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let bad = check(&src);
        assert!(bad.is_empty(), "against the layer rule: {bad:#?}");
    }

    /// What [`check`] says of a tree of `files` (path, text).
    fn check_tree(name: &str, files: &[(&str, &str)]) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("ncrab-layers-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let bad = check(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        bad
    }

    #[test]
    fn paths_resolve_to_their_files() {
        let bad = check_tree(
            "ok",
            &[
                ("main.rs", "mod modes; mod relay; use modes::scan;"),
                ("modes/mod.rs", "pub mod scan;"),
                (
                    "modes/scan/mod.rs",
                    "mod slots; use self::slots::Slots; use crate::cli::config::Config;",
                ),
                (
                    "modes/scan/slots.rs",
                    "use crate::relay::{stream::{self, Conn}, x};\n\
                     #[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::Other;\n}",
                ),
                (
                    "relay/mod.rs",
                    "//! Uses [`crate::modes::scan`] (a doc: upward).\n",
                ),
                (
                    "relay/stream.rs",
                    "use super::x; const T: &str = \"crate::modes\";",
                ),
                (
                    "relay/x.rs",
                    "const S: &str = \"use super::stream;\"; const C: [char; 2] = ['\\'', '{'];",
                ),
                ("cli/config.rs", ""),
                (
                    "net/mod.rs",
                    "#[cfg(test)]\nmod tests {\n    const C: char = '}';\n    use super::*;\n}",
                ),
            ],
        );
        assert_eq!(
            bad,
            [
                "modes/scan/slots.rs: super::super::Other: a super of a super (name it from crate::)",
                "relay/mod.rs: crate::modes::scan (modes/scan/mod.rs): names a layer above its own",
            ]
        );
    }

    #[test]
    fn modes_layers_and_cycles_are_checked() {
        let bad = check_tree(
            "bad",
            &[
                ("main.rs", ""),
                ("modes/client.rs", "use crate::modes::scan::run;"),
                ("modes/scan/mod.rs", "use crate::serve::x;"),
                ("serve/mod.rs", "use crate::relay::a;"),
                ("relay/a.rs", "use super::b::B;"),
                ("relay/b.rs", "use crate::relay::c::C;"),
                ("relay/c.rs", "use crate::relay::a::A; use crate::serve::Y;"),
                ("tools/x.rs", ""),
            ],
        );
        assert_eq!(
            bad,
            [
                "modes/client.rs: crate::modes::scan::run (modes/scan/mod.rs): a mode names another mode",
                "relay/c.rs: crate::serve::Y (serve/mod.rs): names a layer above its own",
                "tools/x.rs: in no layer (the layers: main, cli, modes, serve, relay, report, net, sys)",
                "import cycle: relay/a.rs -> relay/b.rs -> relay/c.rs -> relay/a.rs",
            ]
        );
    }
}
