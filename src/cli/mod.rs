//! The command-line layer: every option defined once ([`options`]), the
//! GNU getopt walk over them ([`getopt`]), validation into the one plain
//! [`config::Config`] the rest of ncrab sees, and the manual page and
//! shell completions generated from the same definitions ([`generate`],
//! [`manual`]).
//!
//! This is the top layer under `main`: it may use every layer below (port
//! lists from `net`, the option structs of `relay` and `net` it derives in
//! `config.rs`, `report`, the passphrase prompt of `sys`); nothing below
//! imports it except for the `Config` a mode is handed (`cli::config`).
//!
//! This file is the parser: it walks the options in command-line order and
//! validates each one as nc does inside its getopt loop, so the first bad
//! option decides the error (docs/compatibility.md §1.1-1.2). The positional
//! arguments and the conflict checks then follow nc's rules in nc's order
//! (docs/compatibility.md §1.3).

pub mod config;
pub mod generate;
pub mod getopt;
pub mod manual;
pub mod options;
pub mod tls;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::cli::config::{Config, Family, Options, Proto, Proxy, ProxyProto, Target};
use crate::cli::getopt::{Getopt, Item};
use crate::cli::options::{GENERATE_TARGETS, TOS_KEYWORDS, help_text, opt_defs};
use crate::net::ports::{self, strtonum};
use crate::net::targets::Targets;
use crate::report;
use crate::sys::passphrase::{self, PromptError};

/// How parsing ended when it did not produce a configuration.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// `-h`/`--help` or `--version` was printed: exit 0.
    Done,
    /// An error was printed: exit with this status.
    Fail(u8),
}

/// `--generate WHAT`: print the manual page or a completion script.
fn generate(what: &str) -> Exit {
    if !GENERATE_TARGETS.contains(&what) {
        report::generate_unknown(what, GENERATE_TARGETS);
        return Exit::Fail(1);
    }
    let mut out = Vec::new();
    if let Err(e) = generate::render(what, &mut out) {
        report::warn(format_args!("--generate"), report::Errno::of(&e));
        return Exit::Fail(1);
    }
    print_text("--generate", &out)
}

/// Prints the text asked for (`-h`, `--version`, `--generate`) on stdout.
/// A reader that stops early (`ncrab -h | head`: EPIPE) is fine; any
/// other failure is reported as `PROG: WHAT: strerror`, status 1. Never a
/// panic, which `print!` would be.
fn print_text(what: &str, text: &[u8]) -> Exit {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Ok(()) => Exit::Done,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Done,
        Err(e) => {
            report::warn(format_args!("{what}"), report::Errno::of(&e));
            Exit::Fail(1)
        }
    }
}

/// A fatal error: print `PROG: MSG` and fail with status 1.
fn fail(msg: std::fmt::Arguments<'_>) -> Exit {
    report::warnx(msg);
    Exit::Fail(1)
}

/// A fatal error that echoes the user's argument as typed: status 1.
fn fail_arg(msg: std::fmt::Arguments<'_>, arg: &[u8]) -> Exit {
    report::warnx_arg(msg, arg);
    Exit::Fail(1)
}

/// Usage error: the synopsis, status 1.
fn usage() -> Exit {
    report::usage();
    Exit::Fail(1)
}

fn text(v: &OsString) -> String {
    v.to_string_lossy().into_owned()
}

/// nc's `-T` parsing: an exact keyword; `0x...` through `strtol(s, NULL,
/// 16)` cast to `int`; or decimal 0..255 through strtonum.
///
/// The `0x` form copies C to the letter: strtol stops at the first byte
/// that is not a hex digit (`0x` and `0xzz` read as 0), a value beyond
/// LONG_MAX is ERANGE (refused), and the cast keeps the low 32 bits, so
/// `0x100000010` is 16 and `0x80000000` is negative (refused).
pub fn parse_tos(s: impl AsRef<[u8]>) -> Option<u8> {
    let s = s.as_ref();
    if let Some(&(_, v)) = TOS_KEYWORDS.iter().find(|(k, _)| k.as_bytes() == s) {
        return Some(v);
    }
    if s.len() > 1 && s.starts_with(b"0x") {
        let mut v: u64 = 0;
        for &b in s[2..].iter().take_while(|b| b.is_ascii_hexdigit()) {
            let d = (b as char).to_digit(16).unwrap_or(0);
            v = v.saturating_mul(16).saturating_add(u64::from(d));
        }
        if v > i64::MAX as u64 {
            return None;
        }
        return u8::try_from(v as u32 as i32).ok();
    }
    strtonum(s, 0, 255).ok().map(|v| v as u8)
}

/// Validates a number option: `strtonum(min, max)` or nc's `errx`.
fn num(v: &[u8], min: i64, max: i64, what: &str) -> Result<i64, Exit> {
    strtonum(v, min, max).map_err(|e| fail_arg(format_args!("{what} {}: ", e.as_str()), v))
}

/// Parses the arguments after `argv[0]`.
pub fn parse(args: Vec<OsString>) -> Result<Config, Exit> {
    let defs = opt_defs();
    let posix = std::env::var_os("POSIXLY_CORRECT").is_some();
    let mut walk = Getopt::new(&defs, args, posix);
    let mut o = Options {
        quit_after: -1,
        ..Options::default()
    };
    let mut unix = false;
    let mut udp = false;
    let mut dccp = false;
    let mut tls = tls::TlsArgs::default();

    for item in walk.by_ref() {
        let (id, val) = match item {
            Ok(Item::Opt(id, val)) => (id, val),
            Err(e) => {
                report::getopt_error(&e.message());
                return Err(usage());
            }
        };
        // The value as typed (for numbers, messages and paths), and as text.
        let raw = val.as_ref().map_or(&b""[..], |v| v.as_bytes());
        let v = val.as_ref().map(text).unwrap_or_default();
        match id {
            "ipv4" => o.family = Family::Inet,
            "ipv6" => o.family = Family::Inet6,
            "unix" => {
                o.family = Family::Unix;
                unix = true;
            }
            "broadcast" => o.broadcast = true,
            "crlf" => o.crlf = true,
            "debug" => o.debug_socket = true,
            "detach" => o.detach_stdin = true,
            "pass_fd" => o.pass_fd = true,
            "help" => return Err(print_text("stdout", help_text().as_bytes())),
            "version" => {
                let v = format!("ncrab {}\n", env!("CARGO_PKG_VERSION"));
                return Err(print_text("stdout", v.as_bytes()));
            }
            "generate" => return Err(generate(&v)),
            "rcvbuf" => o.rcvbuf = Some(num(raw, 1, 65536 << 14, "TCP receive window")? as u32),
            "sndbuf" => o.sndbuf = Some(num(raw, 1, 65536 << 14, "TCP send window")? as u32),
            "interval" => o.interval = Some(num(raw, 0, u32::MAX as i64, "interval")? as u32),
            "keep" => o.keep = true,
            "listen" => o.listen = true,
            "ttl" => match strtonum(raw, 0, 255) {
                Ok(n) => o.ttl = Some(n as u8),
                Err(e) => return Err(fail(format_args!("ttl is {}", e.as_str()))),
            },
            "minttl" => match strtonum(raw, 0, 255) {
                Ok(n) => o.minttl = Some(n as u8),
                Err(e) => return Err(fail(format_args!("minttl is {}", e.as_str()))),
            },
            "shutdown" => o.shutdown_on_eof = true,
            "numeric" => o.numeric = true,
            "proxy_user" => o.proxy_user = Some(v),
            "source_port" => o.source_port = Some(v),
            "quit" => {
                let q = num(raw, i32::MIN as i64, i32::MAX as i64, "quit timer")? as i32;
                o.quit_after = q;
                if q >= 0 {
                    o.shutdown_on_eof = true;
                }
            }
            "randomize" => o.randomize = true,
            "md5sig" => {
                // nc asks for the key as soon as it meets -S (docs/compatibility.md §1.2).
                match passphrase::read(report::MD5SIG_PROMPT, libc::TCP_MD5SIG_MAXKEYLEN) {
                    Ok(key) => o.md5sig = Some(key),
                    Err(PromptError::NoTty) => {
                        report::md5sig_no_tty();
                        return Err(Exit::Fail(1));
                    }
                    Err(PromptError::Signal(sig)) => crate::sys::signals::die_by(sig),
                }
            }
            "source" => o.source_addr = val.clone(),
            // OpenBSD tries the TLS keywords first, then the TOS values.
            "tos" => match tls::keyword(raw) {
                Ok(Some(k)) => tls.keywords.push(k),
                Err(()) => return Err(fail(format_args!("invalid tls value `{v}'"))),
                Ok(None) => match parse_tos(raw) {
                    Some(t) => o.tos = Some(t),
                    None => return Err(fail_arg(format_args!("illegal tos value "), raw)),
                },
            },
            "tls" => tls.usetls = true,
            "tls_cert" => tls.cert = val.clone(),
            "tls_key" => tls.key = val.clone(),
            "tls_ca" => tls.ca = val.clone(),
            "tls_name" => tls.name = Some(v),
            "tls_pin" => tls.pin = Some(v),
            "tls_staple" => tls.staple = val.clone(),
            "tls_alpn" => tls.alpn = Some(v),
            "starttls" => tls.starttls = Some(v),
            "starttls_name" => tls.starttls_name = Some(v),
            "telnet" => o.telnet = true,
            "udp" => udp = true,
            "rtable" => {
                return Err(fail(format_args!(
                    "no alternate routing table support available"
                )));
            }
            "verbose" => o.verbose = o.verbose.saturating_add(1),
            "recv_limit" => {
                o.recv_limit = Some(num(raw, 1, i32::MAX as i64, "receive limit")? as u32)
            }
            "timeout" if raw == b"auto" => {
                o.timeout = None;
                o.timeout_auto = true;
            }
            "timeout" => {
                o.timeout = Some(num(raw, 0, (i32::MAX / 1000) as i64, "timeout")? as u32);
                o.timeout_auto = false;
            }
            "hosts" => o.hosts_file = val.clone(),
            "rate" => o.rate = Some(num(raw, 1, 1_000_000, "rate")? as u32),
            "wait_for" => o.wait_for = Some(num(raw, 1, (i32::MAX / 1000) as i64, "wait")? as u32),
            "progress" => o.progress = true,
            "no_progress" => o.no_progress = true,
            "proxy_proto" => {
                o.proxy_proto = if raw.eq_ignore_ascii_case(b"connect") {
                    ProxyProto::HttpConnect
                } else if raw == b"4" {
                    ProxyProto::Socks4
                } else if raw == b"5" {
                    ProxyProto::Socks5
                } else {
                    return Err(fail(format_args!("unsupported proxy protocol")));
                };
            }
            "proxy" => o.proxy_arg = val.clone(),
            "dccp" => dccp = true,
            "zero_io" => o.zero_io = true,
            "json" => o.json = true,
            "window" => match strtonum(raw, 1, 1 << 20) {
                Ok(n) => o.window = Some(n as usize),
                Err(e) => return Err(fail_arg(format_args!("window {}: ", e.as_str()), raw)),
            },
            "cert_warn" => o.cert_warn = Some(num(raw, 0, 36_500, "cert-warn")? as u32),
            "banner" => {
                let ms = match &val {
                    None => options::BANNER_DEFAULT_MS,
                    Some(_) => match strtonum(raw, 1, 60_000) {
                        Ok(n) => n as u64,
                        Err(e) => {
                            return Err(fail_arg(format_args!("banner {}: ", e.as_str()), raw));
                        }
                    },
                };
                o.banner = Some(std::time::Duration::from_millis(ms));
            }
            "exec" | "sh_exec" => {
                if o.serving.exec.is_some() {
                    return Err(fail(format_args!("cannot use --exec and --sh-exec twice")));
                }
                o.serving.exec = Some(exec_arg(id, val.clone().unwrap_or_default())?);
            }
            "max_conns" => match strtonum(raw, 1, 65536) {
                Ok(n) => o.serving.max_conns = Some(n as usize),
                Err(e) => return Err(fail_arg(format_args!("max-conns {}: ", e.as_str()), raw)),
            },
            "pty" => o.serving.pty = true,
            "raw" => o.serving.raw = true,
            "broker" => {
                o.serving.broker = true;
                o.listen = true;
            }
            "chat" => {
                o.serving.chat = true;
                o.serving.broker = true;
                o.listen = true;
            }
            "allow" | "deny" => acl_add(&mut o, id, &v)?,
            "allowfile" | "denyfile" => {
                let path = val.clone().unwrap_or_default();
                let text = match std::fs::read(&path) {
                    Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                    Err(e) => {
                        report::acl_file_failed(&format!("--{id}"), &path, report::Errno::of(&e));
                        return Err(Exit::Fail(1));
                    }
                };
                let list = crate::net::acl::file_text(&text);
                acl_add(&mut o, id.trim_end_matches("file"), &list)?;
            }
            "send_only" => o.serving.send_only = true,
            "recv_only" => o.serving.recv_only = true,
            "output" => o.serving.log.output = val.clone(),
            "hex_dump" => o.serving.log.hex_dump = val.clone(),
            "append_output" => o.serving.log.append = true,
            other => unreachable!("option {other} has no handler"),
        }
    }
    let _ = unix;
    o.proto = if udp {
        Proto::Udp
    } else if dccp {
        Proto::Dccp
    } else {
        Proto::Tcp
    };
    finish(o, walk.operands(), dccp, tls)
}

/// `--exec CMD` (split on spaces and tabs, no shell) or `--sh-exec CMD`.
fn exec_arg(id: &str, v: OsString) -> Result<crate::serve::child::Exec, Exit> {
    use crate::serve::child::Exec;
    if id == "sh_exec" {
        if v.is_empty() {
            return Err(fail(format_args!("--sh-exec: empty command")));
        }
        return Ok(Exec::Shell(v));
    }
    let argv: Vec<OsString> = v
        .as_bytes()
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    if argv.is_empty() {
        return Err(fail(format_args!("--exec: empty command")));
    }
    Ok(Exec::Argv(argv))
}

/// Adds an `--allow` or `--deny` list; a bad entry is a fatal error.
fn acl_add(o: &mut Options, id: &str, list: &str) -> Result<(), Exit> {
    let r = if id == "allow" {
        o.serving.acl.allow(list)
    } else {
        o.serving.acl.deny(list)
    };
    r.map_err(|e| {
        report::acl_bad_entry(&format!("--{id}"), &e.entry, e.why);
        Exit::Fail(1)
    })
}

/// nc's positional rules and conflict checks, in nc's order (docs/compatibility.md §1.3).
/// The operands stay as typed: a Unix path or a port spec that is not
/// UTF-8 is used, or echoed in a message, byte for byte.
fn finish(o: Options, argv: Vec<OsString>, dccp: bool, tls: tls::TlsArgs) -> Result<Config, Exit> {
    let is_unix = o.family == Family::Unix;
    let argc = argv.len();
    let hosts_file = o.hosts_file.is_some() && !o.listen && !is_unix;
    let (host, ports): (Option<OsString>, Vec<OsString>) = if hosts_file && argc > 0 {
        // `--hosts`: every operand is a port.
        (Some(OsString::new()), argv)
    } else if argc == 0 && o.listen {
        (
            o.source_addr.clone(),
            o.source_port.iter().map(OsString::from).collect(),
        )
    } else if argc == 1
        && o.source_port.is_none()
        && (o.source_addr.is_none() || (is_unix && o.proto == Proto::Udp && !o.listen))
    {
        if is_unix {
            (Some(argv[0].clone()), vec![])
        } else if o.listen {
            (None, argv)
        } else {
            (None, vec![])
        }
    } else if argc >= 2 {
        if o.listen && (o.source_port.is_some() || o.source_addr.is_some() || argc > 2) {
            return Err(usage());
        }
        (Some(argv[0].clone()), argv[1..].to_vec())
    } else {
        return Err(usage());
    };

    if is_unix {
        if dccp {
            return Err(fail(format_args!("cannot use -Z and -U")));
        }
        if !ports.is_empty() {
            return Err(fail(format_args!("cannot use port with -U")));
        }
        if host.is_none() {
            return Err(fail(format_args!("missing socket pathname")));
        }
    } else if ports.is_empty() {
        return Err(fail(format_args!("missing port number")));
    }
    if o.listen && o.zero_io {
        return Err(fail(format_args!("cannot use -z and -l")));
    }
    if o.banner.is_some() && !o.zero_io {
        return Err(fail(format_args!("cannot use --banner without -z")));
    }
    if !o.listen && o.keep {
        return Err(fail(format_args!("must use -l with -k")));
    }
    let modes = tls::Modes {
        udp: o.proto == Proto::Udp,
        unix: is_unix,
        dccp,
        pass_fd: o.pass_fd,
        listen: o.listen,
        telnet: o.telnet,
        line_interval: o.interval.is_some() && !o.zero_io,
    };
    if let Err(msg) = tls.check_modes(&modes) {
        return Err(fail(format_args!("{msg}")));
    }
    if is_unix && o.pass_fd {
        return Err(fail(format_args!("cannot use -F and -U")));
    }
    let tls = match tls.validate(&modes) {
        Ok(t) => t,
        Err(msg) => return Err(fail(format_args!("{msg}"))),
    };
    serve_checks(&o, is_unix)?;
    if o.cert_warn.is_some() && tls.is_none() {
        return Err(fail(format_args!("you must specify -c to use --cert-warn")));
    }
    if tls.is_some() {
        // The listeners that serve and the session logs run over TLS too
        // (docs/compatibility.md §A.3); what still has no TLS path (-t,
        // -i, -u) is refused by `validate` above.
        // A scan's TLS probe speaks first; the banner wait would not.
        if o.banner.is_some() {
            return Err(fail(format_args!("cannot use -c and --banner")));
        }
        // `--raw`'s relay is over a plain socket only.
        if o.serving.raw {
            return Err(fail(format_args!("cannot use -c and --raw")));
        }
    }

    let proxy = match &o.proxy_arg {
        None => None,
        Some(arg) => Some(proxy_config(&o, arg, is_unix)?),
    };

    let host = host.unwrap_or_default();
    let target = if is_unix {
        let path = host;
        if o.listen {
            Target::UnixListen { path }
        } else {
            Target::UnixConnect { path }
        }
    } else if o.listen {
        Target::Listen {
            host: if argc == 0 {
                o.source_addr.clone()
            } else if argc == 2 {
                Some(host)
            } else {
                None
            },
            port: ports[0].clone(),
        }
    } else {
        let specs: Vec<&[u8]> = ports.iter().map(|p| p.as_bytes()).collect();
        let mut list = match ports::build(&specs, o.proto) {
            Ok(l) => l,
            Err(e) => {
                let (msg, arg) = e.parts();
                let exit = fail_arg(format_args!("{msg}"), arg);
                if o.verbose >= 2 && arg.first().is_some_and(|c| !c.is_ascii_digit()) {
                    let d = crate::net::diagnose::names::unknown_service(arg, o.proto.name());
                    report::diagnosis::detail_line(&d);
                }
                return Err(exit);
            }
        };
        if o.randomize {
            ports::shuffle(&mut list);
        }
        let hosts = destinations(&o, &host)?;
        Target::Connect {
            host,
            ports: list,
            hosts,
        }
    };
    Ok(Config {
        opts: o,
        target,
        proxy,
        tls,
    })
}

/// The extension forms of the destination (a CIDR block, a range, a
/// comma list, `--hosts`), checked whole, and the options that only a
/// scan takes. `None`: one ordinary host, exactly as nc.
fn destinations(o: &Options, host: &OsString) -> Result<Option<Targets>, Exit> {
    let scan_only = |what: &str| fail(format_args!("{what} needs -z"));
    if o.timeout_auto && !o.zero_io {
        return Err(scan_only("-w auto"));
    }
    if o.rate.is_some() && !o.zero_io {
        return Err(scan_only("--rate"));
    }
    if o.wait_for.is_some() && !o.zero_io {
        return Err(scan_only("--wait"));
    }
    if o.cert_warn.is_some() && !o.zero_io {
        return Err(scan_only("--cert-warn"));
    }
    let hosts = match &o.hosts_file {
        Some(path) => match Targets::read_file(path) {
            Ok(t) => Some(t),
            Err(e) => {
                report::hosts_file_error(path, &e);
                return Err(Exit::Fail(1));
            }
        },
        None => match Targets::parse_operand(host) {
            Ok(t) => t,
            Err(e) => {
                report::target_error(&e);
                return Err(Exit::Fail(1));
            }
        },
    };
    if hosts.is_some() {
        if !o.zero_io {
            return Err(scan_only("a list of destinations"));
        }
        if o.proxy_arg.is_some() {
            return Err(fail(format_args!(
                "no proxy support for a list of destinations"
            )));
        }
        if o.pass_fd {
            return Err(fail(format_args!(
                "cannot use -F with a list of destinations"
            )));
        }
    }
    Ok(hosts)
}

/// The serving options' conflicts (ncrab's extensions, checked after nc's).
fn serve_checks(o: &Options, is_unix: bool) -> Result<(), Exit> {
    let s = &o.serving;
    let udp = o.proto == Proto::Udp;
    if s.exec.is_some() {
        if s.broker {
            return Err(fail(format_args!("cannot use --exec and --broker")));
        }
        if o.proto == Proto::Dccp {
            return Err(fail(format_args!("cannot use --exec and -Z")));
        }
        if is_unix {
            return Err(fail(format_args!("cannot use --exec and -U")));
        }
        if o.zero_io {
            return Err(fail(format_args!("cannot use --exec and -z")));
        }
    }
    if s.pty && s.exec.is_none() {
        return Err(fail(format_args!("--pty needs --exec or --sh-exec")));
    }
    // A terminal is a byte stream: a datagram session has none to give it.
    if s.pty && udp {
        return Err(fail(format_args!("cannot use --pty and -u")));
    }
    if s.raw {
        if o.listen {
            return Err(fail(format_args!("cannot use --raw and -l")));
        }
        if s.exec.is_some() {
            return Err(fail(format_args!("cannot use --raw and --exec")));
        }
        if udp {
            return Err(fail(format_args!("cannot use --raw and -u")));
        }
        // SAFETY: isatty on fd 0.
        if unsafe { libc::isatty(0) } != 1 {
            return Err(fail(format_args!(
                "--raw: standard input is not a terminal"
            )));
        }
    }
    if s.broker {
        if udp {
            return Err(fail(format_args!("cannot use --broker and -u")));
        }
        if is_unix {
            return Err(fail(format_args!("cannot use --broker and -U")));
        }
    }
    if s.send_only && s.recv_only {
        return Err(fail(format_args!("cannot use --send-only and --recv-only")));
    }
    if !s.acl.is_empty() {
        if !o.listen {
            return Err(fail(format_args!("--allow and --deny need -l")));
        }
        // A Unix-domain peer has no address to match; a -luk listener
        // relays datagrams from every peer on one socket.
        if is_unix {
            return Err(fail(format_args!("cannot use --allow and --deny with -U")));
        }
        if udp && o.keep {
            return Err(fail(format_args!(
                "cannot use --allow and --deny with -u -k"
            )));
        }
    }
    Ok(())
}

/// nc's `-x` checks, in its order (docs/compatibility.md §1.3 step 7, §7.1).
fn proxy_config(o: &Options, arg: &OsString, is_unix: bool) -> Result<Proxy, Exit> {
    if o.proto == Proto::Udp {
        return Err(fail(format_args!("no proxy support for UDP mode")));
    }
    if o.proto == Proto::Dccp {
        return Err(fail(format_args!("no proxy support for DCCP mode")));
    }
    if o.listen {
        return Err(fail(format_args!("no proxy support for listen")));
    }
    if is_unix {
        return Err(fail(format_args!("no proxy support for unix sockets")));
    }
    if o.source_addr.is_some() {
        return Err(fail(format_args!(
            "no proxy support for local source address"
        )));
    }
    let bytes = |b: &[u8]| OsString::from_vec(b.to_vec());
    let (host, port) = match split_proxy(arg.as_bytes()) {
        Ok((host, port)) => (bytes(host), port.map(bytes)),
        Err(msg) => return Err(fail(format_args!("{msg}"))),
    };
    let port = port.unwrap_or_else(|| {
        if o.proxy_proto == ProxyProto::HttpConnect {
            "3128".into()
        } else {
            "1080".into()
        }
    });
    Ok(Proxy {
        host,
        port,
        proto: o.proxy_proto,
        user: o.proxy_user.clone(),
    })
}

/// nc's split of `-x`: `[host]`, `[host]:port`, or `host[:port]` at the
/// last colon (docs/compatibility.md §7.1), on the bytes as typed. The error is nc's message.
fn split_proxy(arg: &[u8]) -> Result<(&[u8], Option<&[u8]>), &'static str> {
    let Some(rest) = arg.strip_prefix(b"[") else {
        return Ok(match arg.iter().rposition(|&b| b == b':') {
            Some(i) => (&arg[..i], Some(&arg[i + 1..])),
            None => (arg, None),
        });
    };
    let Some(close) = rest.iter().position(|&b| b == b']') else {
        return Err("missing closing bracket in proxy");
    };
    let (host, after) = (&rest[..close], &rest[close + 1..]);
    if after.is_empty() {
        Ok((host, None))
    } else if let Some(port) = after.strip_prefix(b":") {
        Ok((host, Some(port)))
    } else {
        Err("garbage proxy port delimiter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::options::{TOS_NAMES, command};

    #[test]
    fn tos_values() {
        assert_eq!(parse_tos("lowdelay"), Some(0x10));
        assert_eq!(parse_tos("af41"), Some(0x88));
        assert_eq!(parse_tos("0x10"), Some(16));
        assert_eq!(parse_tos("0xzz"), Some(0));
        assert_eq!(parse_tos("0x"), Some(0));
        assert_eq!(parse_tos("0x100"), None);
        assert_eq!(parse_tos("256"), None);
        assert_eq!(parse_tos("foo"), None);
        assert_eq!(parse_tos("LOWDELAY"), None);
        assert_eq!(parse_tos("255"), Some(255));
        // strtol then a cast to int: the low 32 bits decide (nc.openbsd
        // accepts 0x100000010 as 16), beyond LONG_MAX is ERANGE.
        assert_eq!(parse_tos("0x100000010"), Some(16));
        assert_eq!(parse_tos("0x1000000ff"), Some(255));
        assert_eq!(parse_tos("0x80000000"), None);
        assert_eq!(parse_tos("0x7fffffffffffffff"), None);
        assert_eq!(parse_tos("0x8000000000000000"), None);
        assert_eq!(parse_tos("0x-1"), Some(0));
        assert_eq!(parse_tos(b"0x1\xff"), Some(1));
        assert_eq!(parse_tos(b"\xff"), None);
    }

    #[test]
    fn unix_paths_and_source_are_kept_byte_for_byte() {
        use std::os::unix::ffi::OsStringExt;
        let path = OsString::from_vec(b"/tmp/x\xff\xfe".to_vec());
        let c = parse(vec!["-U".into(), path.clone()]).unwrap();
        assert_eq!(c.target, Target::UnixConnect { path: path.clone() });
        let c = parse(vec!["-Uu".into(), "-s".into(), path.clone(), "p".into()]).unwrap();
        assert_eq!(c.opts.source_addr, Some(path.clone()));
        // Hosts, listen addresses and proxies too.
        let c = parse(vec![path.clone(), "1".into()]).unwrap();
        assert_eq!(
            c.target,
            Target::Connect {
                host: path.clone(),
                ports: vec![1],
                hosts: None,
            }
        );
        let c = parse(vec!["-l".into(), path.clone(), path.clone()]).unwrap();
        assert_eq!(
            c.target,
            Target::Listen {
                host: Some(path.clone()),
                port: path.clone()
            }
        );
        let mut x = path.clone();
        x.push(":");
        x.push(&path);
        let p = parse(vec!["-x".into(), x, "h".into(), "1".into()])
            .unwrap()
            .proxy
            .unwrap();
        assert_eq!((p.host, p.port), (path.clone(), path));
    }

    #[test]
    fn every_definition_is_a_valid_clap_arg() {
        command().debug_assert();
        assert_eq!(TOS_KEYWORDS.len(), TOS_NAMES.len());
        for (k, n) in TOS_KEYWORDS.iter().zip(TOS_NAMES) {
            assert_eq!(k.0, *n);
        }
    }

    fn cfg(args: &[&str]) -> Result<Config, Exit> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn positional_rules() {
        let c = cfg(&["-l", "-p", "1234"]).unwrap();
        assert_eq!(
            c.target,
            Target::Listen {
                host: None,
                port: "1234".into()
            }
        );
        let c = cfg(&["-l", "127.0.0.1", "99"]).unwrap();
        assert_eq!(
            c.target,
            Target::Listen {
                host: Some("127.0.0.1".into()),
                port: "99".into()
            }
        );
        let c = cfg(&["host", "80", "22-23", "-v"]).unwrap();
        assert_eq!(
            c.target,
            Target::Connect {
                host: "host".into(),
                ports: vec![80, 22, 23],
                hosts: None,
            }
        );
        assert_eq!(c.opts.verbose, 1);
        let c = cfg(&["-q-1", "h", "1"]).unwrap();
        assert_eq!(c.opts.quit_after, -1);
        assert!(!c.opts.shutdown_on_eof);
        let c = cfg(&["-q0", "h", "1"]).unwrap();
        assert!(c.opts.shutdown_on_eof);
    }

    #[test]
    fn proxy_forms() {
        let c = cfg(&["-x", "[::1]:9", "h", "1"]).unwrap();
        assert_eq!(c.proxy.unwrap().host, "::1");
        let c = cfg(&["-x", "::1", "h", "1"]).unwrap().proxy.unwrap();
        assert_eq!(
            (c.host.as_os_str(), c.port.as_os_str()),
            (":".as_ref(), "1".as_ref())
        );
        let c = cfg(&["-Xconnect", "-x", "p", "h", "1"])
            .unwrap()
            .proxy
            .unwrap();
        assert_eq!(c.port, "3128");
        let c = cfg(&["-x", "p:", "h", "1"]).unwrap().proxy.unwrap();
        assert_eq!(c.port, "");
    }

    // --- Property tests against reference models --------------------------

    use crate::sys::testing::Rng;

    /// [`split_proxy`] on text (the cuts fall on ASCII bytes).
    fn split(arg: &str) -> Result<(&str, Option<&str>), &'static str> {
        let text = |b| std::str::from_utf8(b).unwrap();
        split_proxy(arg.as_bytes()).map(|(h, p)| (text(h), p.map(text)))
    }

    /// nc's `-T` keyword table (docs/compatibility.md §1.2), written out again for the model.
    const NC_TOS: &[(&str, u8)] = &[
        ("af11", 40),
        ("af12", 48),
        ("af13", 56),
        ("af21", 72),
        ("af22", 80),
        ("af23", 88),
        ("af31", 104),
        ("af32", 112),
        ("af33", 120),
        ("af41", 136),
        ("af42", 144),
        ("af43", 152),
        ("critical", 160),
        ("cs0", 0),
        ("cs1", 32),
        ("cs2", 64),
        ("cs3", 96),
        ("cs4", 128),
        ("cs5", 160),
        ("cs6", 192),
        ("cs7", 224),
        ("ef", 184),
        ("inetcontrol", 192),
        ("lowcost", 2),
        ("lowdelay", 16),
        ("netcontrol", 224),
        ("reliability", 4),
        ("throughput", 8),
    ];

    /// The model of nc's `-T`: keyword; else for `0x...` glibc's
    /// `strtol(s, NULL, 16)` (the longest run of hex digits after `0x`,
    /// ERANGE past LONG_MAX) cast to int and checked 0..255; else strtonum.
    fn model_tos(s: &[u8]) -> Option<u8> {
        if let Some(&(_, v)) = NC_TOS.iter().find(|(k, _)| k.as_bytes() == s) {
            return Some(v);
        }
        if s.len() > 1 && s[0] == b'0' && s[1] == b'x' {
            let hex: String = s[2..]
                .iter()
                .map(|&b| b as char)
                .take_while(char::is_ascii_hexdigit)
                .collect();
            let hex = hex.trim_start_matches('0');
            if hex.len() > 16 {
                return None; // more than 64 bits: ERANGE
            }
            let v = u64::from_str_radix(if hex.is_empty() { "0" } else { hex }, 16).ok()?;
            let long = i64::try_from(v).ok()?; // past LONG_MAX: ERANGE
            let int = long as i32;
            return (0..=255).contains(&int).then_some(int as u8);
        }
        strtonum(s, 0, 255).ok().map(|v| v as u8)
    }

    fn random_tos(rng: &mut Rng) -> Vec<u8> {
        let hex = |rng: &mut Rng, n: usize| rng.bytes(n, b"0123456789abcdefABCDEF");
        match rng.below(7) {
            0 => NC_TOS[rng.below(NC_TOS.len())].0.as_bytes().to_vec(),
            1 => {
                // A keyword with a changed case, a prefix or a suffix.
                let k = NC_TOS[rng.below(NC_TOS.len())].0;
                match rng.below(3) {
                    0 => k.to_uppercase().into_bytes(),
                    1 => format!(" {k}").into_bytes(),
                    _ => format!("{k}x").into_bytes(),
                }
            }
            2 | 3 => {
                let mut v = b"0x".to_vec();
                if rng.below(3) == 0 {
                    v.extend(std::iter::repeat_n(b'0', rng.below(20)));
                }
                let n = rng.below(18);
                v.extend(hex(rng, n));
                if rng.below(3) == 0 {
                    let n = rng.below(4);
                    v.extend(rng.bytes(n, b"zx- \xff"));
                }
                v
            }
            4 => {
                let n = rng.below(300);
                let pre = ["", "-", "+", " ", "0"][rng.below(5)];
                format!("{pre}{n}").into_bytes()
            }
            5 => {
                let n = rng.below(8);
                rng.bytes(n, b"0x1f-+ \tX")
            }
            _ => {
                let n = rng.below(8);
                (0..n).map(|_| rng.next() as u8).collect()
            }
        }
    }

    #[test]
    fn property_tos_matches_the_c_model() {
        for seed in 0..30_000u64 {
            let mut rng = Rng::new(seed);
            let s = random_tos(&mut rng);
            assert_eq!(parse_tos(&s), model_tos(&s), "seed {seed}: {s:?}");
        }
        // Every value 0..=255 in each written form.
        for v in 0..=255u32 {
            assert_eq!(parse_tos(v.to_string()), Some(v as u8));
            assert_eq!(parse_tos(format!("0x{v:x}")), Some(v as u8));
            assert_eq!(parse_tos(format!("0x{v:02X}")), Some(v as u8));
            assert_eq!(
                parse_tos(format!("0x{:x}", u64::from(v) | 0x1_0000_0000)),
                Some(v as u8)
            );
        }
    }

    /// A host or port piece for `-x`, often with colons and brackets.
    fn random_piece(rng: &mut Rng) -> String {
        let n = rng.below(10);
        let b = rng.bytes(n, b"a1:.[]f");
        String::from_utf8_lossy(&b).into_owned()
    }

    /// nc's `-x` split on any text: never panics, and what it returns
    /// puts the argument back together exactly.
    #[test]
    fn property_proxy_split_reassembles() {
        for seed in 0..30_000u64 {
            let mut rng = Rng::new(seed);
            let arg = match rng.below(4) {
                0 => format!("[{}", random_piece(&mut rng)),
                _ => random_piece(&mut rng),
            };
            match split(&arg) {
                Ok((host, port)) => {
                    let back = match (arg.starts_with('['), port) {
                        (true, Some(p)) => format!("[{host}]:{p}"),
                        (true, None) => format!("[{host}]"),
                        (false, Some(p)) => format!("{host}:{p}"),
                        (false, None) => host.to_string(),
                    };
                    assert_eq!(back, arg, "seed {seed}");
                    if arg.starts_with('[') {
                        assert!(!host.contains(']'), "seed {seed}: {arg:?}");
                    } else {
                        assert!(!port.unwrap_or("").contains(':'), "seed {seed}");
                        assert_eq!(port.is_none(), !arg.contains(':'), "seed {seed}");
                    }
                }
                Err(msg) => {
                    assert!(arg.starts_with('['), "seed {seed}: {arg:?}");
                    let closed = arg.contains(']');
                    assert_eq!(
                        msg,
                        if closed {
                            "garbage proxy port delimiter"
                        } else {
                            "missing closing bracket in proxy"
                        },
                        "seed {seed}: {arg:?}"
                    );
                }
            }
        }
    }

    /// Hosts and ports written the ways docs/compatibility.md §7.1 allows come back out.
    #[test]
    fn property_proxy_split_round_trip() {
        for seed in 0..10_000u64 {
            let mut rng = Rng::new(seed);
            let n = rng.below(12);
            // (`bytes` mixes in any byte now and then: keep each form valid.)
            let host = String::from_utf8_lossy(&rng.bytes(n, b"ab.1-")).replace([':', '['], "");
            let n = rng.below(6);
            let v6 = String::from_utf8_lossy(&rng.bytes(n, b"0f:.")).replace(']', "");
            let port = rng.below(70_000).to_string();
            assert_eq!(split(&host), Ok((host.as_str(), None)));
            assert_eq!(
                split(&format!("{host}:{port}")),
                Ok((host.as_str(), Some(port.as_str())))
            );
            assert_eq!(split(&format!("[{v6}]")), Ok((v6.as_str(), None)));
            assert_eq!(
                split(&format!("[{v6}]:{port}")),
                Ok((v6.as_str(), Some(port.as_str())))
            );
        }
    }
}
