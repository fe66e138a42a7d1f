//! Malformed command lines (issue #8, hardening): every option with an
//! empty, huge, negative, zero, non-UTF-8 and overlong (100,000 byte)
//! value, hostile positionals (host, port, path), hostile option names and
//! clusters. Each run must end within a few seconds with exit 1, at most
//! one line on stderr (plus the usage text where nc prints it), nothing on
//! stdout, and never a panic or a signal; and it must do what nc.openbsd does:
//! the same exit status and the same stderr, but for ncrab's own usage synopsis
//! (departure 1 of docs/compatibility.md) and the differences listed in
//! [`KNOWN`].
//!
//! Options are read from `nc --help` (plus the hidden `--generate`), so a
//! new option joins the sweep by itself. Runs that stop at the command line
//! (an option and its value, no operands) run on the host. Runs that may
//! reach the network or the name service (a host, a port, `-s`, `-p`,
//! `-x`, paths) run only in a private network namespace whose name service
//! is files-only, so no lookup can leave the machine; without one they are
//! skipped. A run that keeps going (a listener on an accepted port) is
//! fine only when nc.openbsd keeps going too; both are then killed.

mod common;
use common::*;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

/// How long any run may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(5);

/// How long a run that may legitimately keep going (a listener) is given.
const LISTEN_LIMIT: Duration = Duration::from_millis(1000);

/// One option, as `--help` lists it.
#[derive(Clone, Debug)]
struct Opt {
    short: Option<char>,
    long: String,
    value: bool,
}

/// Every option of ncrab, read from its `--help` (and the hidden
/// `--generate`). Empty for another binary under test: the sweeps over
/// options are ncrab's (nc.openbsd is their reference, run alongside).
fn options() -> Vec<Opt> {
    if !is_ncrab() {
        skip("the option sweeps run ncrab (and nc.openbsd beside it)");
        return Vec::new();
    }
    let o = Cmd::nc(&["--help"]).run(LIMIT);
    let mut opts = Vec::new();
    for line in o.stdout_str().lines() {
        let t = line.trim_start();
        if !t.starts_with('-') || line.len() == t.len() {
            continue;
        }
        let (short, rest) = match t.strip_prefix('-') {
            Some(r) if !r.starts_with('-') => {
                let c = r.chars().next();
                (c, r.split_once(", ").map_or("", |x| x.1))
            }
            _ => (None, t),
        };
        let Some(rest) = rest.strip_prefix("--") else {
            continue;
        };
        let long: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let after = &rest[long.len()..];
        let value = after.trim_start_matches("...").starts_with(" <");
        opts.push(Opt { short, long, value });
    }
    opts.push(Opt {
        short: None,
        long: "generate".into(),
        value: true,
    });
    assert!(
        opts.len() >= 35 && opts.iter().filter(|o| o.value).count() >= 15,
        "could not read the options from --help: {opts:?}"
    );
    opts
}

/// Options left out of the sweep: they print help and exit 0, or ask for
/// a key on the terminal (covered by tests/options.rs).
fn swept(o: &Opt) -> bool {
    !matches!(o.long.as_str(), "help" | "version" | "md5sig")
}

/// The hostile values.
fn values() -> Vec<(&'static str, OsString)> {
    vec![
        ("empty", OsString::new()),
        ("huge", "99999999999999999999".into()),
        ("negative", "-1".into()),
        ("zero", "0".into()),
        ("non-UTF-8", OsString::from_vec(b"\xff\xfe".to_vec())),
        ("overlong", "a".repeat(100_000).into()),
    ]
}

/// Differences from nc.openbsd that are known and deliberate, as
/// (substring of the case label, reason). Keep this list short.
const KNOWN: &[(&str, &str)] = &[
    // TLS (issue 14): OpenBSD's letters, which Debian's nc builds without.
    ("nc \"-c", "TLS: -c exists"),
    ("nc \"-K", "TLS: -K exists"),
    ("nc \"-R", "TLS: -R exists"),
    ("nc \"-e", "TLS: -e exists"),
    ("nc \"-H", "TLS: -H exists"),
    ("nc \"-o", "TLS: -o exists"),
    ("nc \"--tls", "TLS: long options"),
    ("nc \"--ssl", "TLS: ncat's aliases"),
];

/// How a run ended.
struct Ran {
    out: Outcome,
    /// Still running at the limit (then killed).
    running: bool,
}

/// Runs the binary under test and, when installed and `compare`,
/// nc.openbsd, side by side with stdin from /dev/null.
fn run_both(
    args: &[OsString],
    ns: Option<&Netns>,
    limit: Duration,
    compare: bool,
) -> (Ran, Option<Ran>) {
    let cmd = |c: Cmd| match ns {
        Some(ns) => c.netns(ns),
        None => c,
    };
    let mut a = cmd(Cmd::nc(args)).stdin(Input::Null).spawn();
    let mut b = (compare && std::path::Path::new(NC_OPENBSD).exists())
        .then(|| cmd(Cmd::openbsd(args)).stdin(Input::Null).spawn());
    let finish = |p: &mut Proc| {
        let running = p.wait_timeout(limit).is_none();
        Ran {
            out: p.kill(),
            running,
        }
    };
    let ra = finish(&mut a);
    let rb = b.as_mut().map(finish);
    (ra, rb)
}

/// A label for a command line: long arguments are shortened.
fn label(args: &[OsString]) -> String {
    let mut parts = vec!["nc".to_string()];
    for a in args {
        let b = a.as_bytes();
        let shown = if b.len() > 24 {
            format!("{}...({} bytes)", escape(&b[..12]), b.len())
        } else if b.is_empty() {
            "''".into()
        } else {
            escape(b)
        };
        parts.push(shown);
    }
    parts.join(" ")
}

/// stderr with the usage synopsis cut to its first words (departure 1)
/// and argv[0]'s directory removed (`ip netns exec` runs the binary by
/// its full path; glibc's getopt messages print it).
fn normalize(stderr: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in stderr.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(USAGE_START.as_bytes()) {
            out.extend_from_slice(b"usage: nc ...\n");
            break;
        }
        let line = match line.windows(4).position(|w| w == b"nc: ") {
            Some(i) if line.starts_with(b"/") => &line[i..],
            _ => line,
        };
        out.extend_from_slice(line);
    }
    out
}

/// What one sweep found: cases run, and the differences from nc.
#[derive(Default)]
struct Tally {
    cases: usize,
    compared: usize,
    diffs: Vec<String>,
    failures: Vec<String>,
    /// A scan with -v prints a line per port: no one-line rule.
    many_lines: bool,
}

impl Tally {
    /// Runs one command line and checks it.
    fn case(&mut self, args: &[OsString], ns: Option<&Netns>, compare: bool, may_run: bool) {
        let limit = if may_run { LISTEN_LIMIT } else { LIMIT };
        let (ours, theirs) = run_both(args, ns, limit, compare);
        let what = label(args);
        self.cases += 1;
        let o = &ours.out;
        let err = o.stderr_str();
        let mut bad = Vec::new();
        if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
            bad.push("panicked".to_string());
        }
        let nc_running = theirs.as_ref().is_some_and(|t| t.running);
        if ours.running {
            if !(may_run && (nc_running || theirs.is_none())) {
                bad.push(format!("still running after {limit:?}"));
            }
        } else {
            if o.signal().is_some() {
                bad.push(format!("killed by signal {:?}", o.signal()));
            }
            if o.code() != Some(1) {
                bad.push(format!("exit status {:?}", o.code()));
            }
            let norm = normalize(&o.stderr);
            let lines = norm
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            let usage = norm.ends_with(b"usage: nc ...\n");
            // (An echoed value may hold newlines of its own.)
            let echoed: usize = args
                .iter()
                .map(|a| a.as_bytes().iter().filter(|&&b| b == b'\n').count())
                .sum();
            if lines > 1 + usize::from(usage) + echoed && !self.many_lines {
                bad.push(format!("{lines} lines on stderr"));
            }
            if !o.stdout.is_empty() {
                bad.push(format!("{} bytes on stdout", o.stdout.len()));
            }
        }
        if !bad.is_empty() {
            self.failures.push(format!(
                "{what}: {}\n    stderr: {}",
                bad.join(", "),
                escape(&o.stderr[..o.stderr.len().min(300)])
            ));
        }
        let Some(t) = theirs else { return };
        self.compared += 1;
        let same = if ours.running || t.running {
            ours.running == t.running
        } else {
            o.code() == t.out.code() && normalize(&o.stderr) == normalize(&t.out.stderr)
        };
        if !same {
            let show = |r: &Ran| {
                if r.running {
                    "still running".to_string()
                } else {
                    let n = normalize(&r.out.stderr);
                    format!(
                        "{}, stderr {}",
                        status_text(r.out.status),
                        escape(&n[..n.len().min(160)])
                    )
                }
            };
            self.diffs.push(format!(
                "{what}\n    ncrab: {}\n    nc:    {}",
                show(&ours),
                show(&t)
            ));
        }
    }

    /// Prints the tally; fails on any broken rule or unknown difference.
    fn check(self, name: &str) {
        note(&format!(
            "{name}: {} command lines, {} compared with nc.openbsd, {} differences",
            self.cases,
            self.compared,
            self.diffs.len()
        ));
        let unknown: Vec<&String> = self
            .diffs
            .iter()
            .filter(|d| !KNOWN.iter().any(|(k, _)| d.contains(k)))
            .collect();
        for d in &self.diffs {
            note(&format!("  DIFF {d}"));
        }
        assert!(
            self.failures.is_empty(),
            "{name}: {} runs broke the rules:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(
            unknown.is_empty(),
            "{name}: {} differences from nc.openbsd (see above)",
            unknown.len()
        );
    }
}

fn os(s: &str) -> OsString {
    s.into()
}

/// Each option with each value and no operand: the value is refused with
/// one line, or accepted and the missing operands give the usage text.
/// Nothing here reaches the network, so it runs on the host.
#[test]
fn every_option_with_every_hostile_value() {
    let mut t = Tally::default();
    for opt in options().iter().filter(|o| o.value && swept(o)) {
        for (_, v) in values() {
            if let Some(c) = opt.short {
                t.case(&[format!("-{c}").into(), v.clone()], None, true, false);
                // Attached: `-wVALUE`.
                let mut attached = format!("-{c}").into_bytes();
                attached.extend_from_slice(v.as_bytes());
                t.case(&[OsString::from_vec(attached)], None, true, false);
            }
            // Long forms are ncrab's: `--name VALUE`, `--name=VALUE`.
            t.case(
                &[format!("--{}", opt.long).into(), v.clone()],
                None,
                false,
                false,
            );
            let mut eq = format!("--{}=", opt.long).into_bytes();
            eq.extend_from_slice(v.as_bytes());
            t.case(&[OsString::from_vec(eq)], None, false, false);
        }
    }
    t.check("every_option_with_every_hostile_value");
}

/// The long and the short form of an option give the same result.
#[test]
fn long_and_short_forms_agree() {
    let mut n = 0;
    for opt in options().iter().filter(|o| o.value && swept(o)) {
        let Some(c) = opt.short else { continue };
        for (_, v) in values() {
            let short = Cmd::nc(&[OsString::from(format!("-{c}")), v.clone()]).run(LIMIT);
            let mut eq = format!("--{}=", opt.long).into_bytes();
            eq.extend_from_slice(v.as_bytes());
            let long = Cmd::nc(&[OsString::from_vec(eq)]).run(LIMIT);
            assert_eq!(
                (short.code(), &short.stderr),
                (long.code(), &long.stderr),
                "-{c} and --{}",
                opt.long
            );
            n += 1;
        }
    }
    note(&format!("long_and_short_forms_agree: {n} pairs"));
}

/// Hostile option names, clusters and argument counts.
#[test]
fn hostile_option_names_and_clusters() {
    let mut t = Tally::default();
    let raw = |b: &[u8]| OsString::from_vec(b.to_vec());
    let many_v = "v".repeat(100_000);
    let cases: Vec<(Vec<OsString>, bool)> = vec![
        (vec![raw(b"-\xff")], true),
        (vec![raw(b"-v\xfe")], true),
        (vec![raw(b"--\xff")], false),
        (vec![raw(b"--wait=\xff")], false),
        (vec![os("--"), raw(b"\xff")], true),
        (vec![os("-")], true),
        (vec![os("---")], false),
        (vec![os(&format!("--{}", "w".repeat(100_000)))], false),
        (vec![os(&format!("-{many_v}"))], true),
        (vec![os(&format!("-{many_v}w"))], true),
        (vec![os(&format!("-{many_v}Y"))], true),
        (vec![os("-w")], true),
        (vec![os("-w"), os("--")], true),
        ((0..10_000).map(|_| os("-v")).collect(), true),
        ((0..10_000).map(|_| os("-w1")).collect(), true),
        ((0..1000).map(|_| os("-V")).collect(), true),
    ];
    for (args, compare) in cases {
        t.case(&args, None, compare, false);
    }
    t.check("hostile_option_names_and_clusters");
}

/// Operands that reach the name service or the network: only in a private
/// namespace with files-only name service and nothing listening.
fn sandbox() -> Option<Netns> {
    Netns::sandbox("hcli")
}

/// Each value-taking option with each value, followed by operands that
/// would connect (to a closed port in the namespace).
#[test]
fn every_option_with_every_hostile_value_then_connecting() {
    let Some(ns) = sandbox() else { return };
    let mut t = Tally::default();
    for opt in options().iter().filter(|o| o.value && swept(o)) {
        let Some(c) = opt.short else { continue };
        for (_, v) in values() {
            let args = [os(&format!("-{c}")), v.clone(), os("127.0.0.1"), os("9")];
            t.case(&args, Some(&ns), true, false);
            // Through a SOCKS and an HTTP proxy (nothing listens there).
            if c == 'x' {
                for p in ["4", "5", "connect"] {
                    let args = [
                        os("-X"),
                        os(p),
                        os("-x"),
                        v.clone(),
                        os("127.0.0.1"),
                        os("9"),
                    ];
                    t.case(&args, Some(&ns), true, false);
                }
            }
        }
    }
    // -v with a value: the success/failure lines too.
    for (_, v) in values() {
        t.case(
            &[os("-v"), os("-x"), v.clone(), os("127.0.0.1"), os("9")],
            Some(&ns),
            true,
            false,
        );
        t.case(
            &[os("-v"), os("-s"), v.clone(), os("127.0.0.1"), os("9")],
            Some(&ns),
            true,
            false,
        );
        t.case(
            &[os("-v"), os("-p"), v.clone(), os("127.0.0.1"), os("9")],
            Some(&ns),
            true,
            false,
        );
    }
    t.check("every_option_with_every_hostile_value_then_connecting");
}

/// Hostile hosts, ports and paths as operands, client and listener.
#[test]
fn hostile_positionals() {
    let Some(ns) = sandbox() else { return };
    let mut t = Tally::default();
    for (_, v) in values() {
        let forms: Vec<(Vec<OsString>, bool)> = vec![
            (vec![v.clone(), os("9")], false),
            (vec![os("-v"), v.clone(), os("9")], false),
            (vec![os("-n"), v.clone(), os("9")], false),
            (vec![os("-4"), v.clone(), os("9")], false),
            (vec![os("-6"), v.clone(), os("9")], false),
            (
                vec![
                    os("-X"),
                    os("4"),
                    os("-x"),
                    os("127.0.0.1:9"),
                    v.clone(),
                    os("9"),
                ],
                false,
            ),
            (vec![os("127.0.0.1"), v.clone()], false),
            (vec![os("-z"), os("127.0.0.1"), v.clone()], false),
            (vec![os("-z"), os("127.0.0.1"), os("9"), v.clone()], false),
            (vec![os("-u"), os("127.0.0.1"), v.clone()], false),
            (vec![os("127.0.0.1"), os("1-2"), v.clone()], false),
            (vec![v.clone()], false),
            (vec![os("-U"), v.clone()], false),
            // Listeners: an accepted port or path keeps them waiting.
            (vec![os("-l"), v.clone()], true),
            (vec![os("-l"), os("-p"), v.clone()], true),
            (vec![os("-l"), v.clone(), os("9")], true),
            (vec![os("-l"), os("127.0.0.1"), v.clone()], true),
            (vec![os("-lu"), os("127.0.0.1"), v.clone()], true),
            (vec![os("-lU"), v.clone()], true),
        ];
        for (args, may_run) in forms {
            t.case(&args, Some(&ns), true, may_run);
        }
    }
    t.check("hostile_positionals");
}

/// Every flag with a hostile port operand (and the flag's own conflicts).
#[test]
fn every_flag_with_hostile_operands() {
    let Some(ns) = sandbox() else { return };
    let mut t = Tally::default();
    for opt in options().iter().filter(|o| !o.value && swept(o)) {
        let flag = match opt.short {
            Some(c) => format!("-{c}"),
            None => format!("--{}", opt.long),
        };
        let compare = opt.short.is_some();
        // -l makes the first operand a bind address and -U a path: those
        // may start a listener on an accepted value (so do --broker and
        // --chat, which imply -l).
        let may_run = matches!(opt.short, Some('l' | 'k' | 'U'))
            || matches!(opt.long.as_str(), "broker" | "chat");
        for (_, v) in values() {
            let args = [os(&flag), os("127.0.0.1"), v.clone()];
            t.case(&args, Some(&ns), compare, may_run);
        }
    }
    t.check("every_flag_with_hostile_operands");
}

/// ncrab's bound on the port list: a command line of many full ranges
/// gets one line instead of gigabytes (nc.openbsd overflows its array and
/// dies by SIGSEGV as soon as the list passes 65,536 ports).
#[test]
fn very_long_port_lists_are_refused() {
    if !is_ncrab() {
        return;
    }
    let mut args = vec![os("-z"), os("127.0.0.1")];
    args.extend((0..20_000).map(|_| os("1-65535")));
    let o = Cmd::nc(&args).run(LIMIT);
    o.assert(1, b"", b"nc: too many ports: 1-65535\n");
}

/// A small deterministic generator (xorshift64*), as in the unit tests.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// A value for a number option: edges with signs, white space and junk.
fn random_number(rng: &mut Rng) -> Vec<u8> {
    let n = rng.pick(&[
        "0",
        "1",
        "255",
        "256",
        "65535",
        "65536",
        "1073741824",
        "1073741825",
        "2147483",
        "2147484",
        "2147483647",
        "2147483648",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "0x10",
        "0x100000010",
        "0x80000000",
        "0x",
        "0xzz",
        "010",
        "lowdelay",
        "af41",
        "connect",
        "CONNECT",
        "4",
        "5",
    ]);
    let pre = rng.pick(&["", "", "", "-", "+", " ", "\t", "-0", "+-"]);
    let post = rng.pick(&["", "", "", " ", "x", "\u{ff}", "0", "\n"]);
    let mut v = format!("{pre}{n}{post}").into_bytes();
    if rng.below(8) == 0 {
        let at = rng.below(v.len() + 1);
        v.insert(at, rng.next() as u8);
    }
    v.retain(|&b| b != 0);
    v
}

/// Random values for every option that validates its value, alone on
/// the command line (nothing reaches the network): the same status and
/// stderr as nc.openbsd.
#[test]
fn random_option_values_match_nc() {
    if !openbsd_required() {
        return;
    }
    let mut t = Tally::default();
    for seed in 0..1000u64 {
        let mut rng = Rng::new(seed);
        let opt = rng.pick(&[
            "-I", "-i", "-M", "-m", "-O", "-q", "-T", "-V", "-W", "-w", "-X",
        ]);
        let v = OsString::from_vec(random_number(&mut rng));
        t.case(&[os(opt), v], None, true, false);
    }
    t.check("random_option_values_match_nc");
}

/// Random port lists scanned with -zv in a namespace where every port is
/// closed: nc.openbsd and ncrab report the same ports in the same order
/// (or refuse the same argument with the same message). Ports stay below
/// the ephemeral range, where nc may connect to itself (departure 10).
#[test]
fn random_port_lists_match_nc() {
    if !openbsd_required() {
        return;
    }
    let Some(ns) = sandbox() else { return };
    let mut t = Tally {
        many_lines: true,
        ..Tally::default()
    };
    let below = usize::from(ephemeral_range().0.min(32768)) - 20;
    for seed in 0..150u64 {
        let mut rng = Rng::new(seed);
        let mut args = vec![os("-zvn"), os("127.0.0.1")];
        for _ in 0..1 + rng.below(3) {
            let spec = match rng.below(4) {
                0 => String::from_utf8_lossy(&random_number(&mut rng)).into_owned(),
                1 => {
                    let lo = 1 + rng.below(below);
                    let hi = lo + rng.below(12);
                    if rng.below(2) == 0 {
                        format!("{lo}-{hi}")
                    } else {
                        format!("{hi}-{lo}")
                    }
                }
                2 => format!(
                    "{}-{}",
                    rng.below(70_000),
                    rng.pick(&["", "x", "0", "1-2", "65536"])
                ),
                _ => (1 + rng.below(below)).to_string(),
            };
            args.push(os(&spec));
        }
        t.case(&args, Some(&ns), true, false);
    }
    t.check("random_port_lists_match_nc");
}
