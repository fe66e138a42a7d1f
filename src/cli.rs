//! The command line: every option defined once, as clap arguments.
//!
//! These definitions are the single source of `--help`, the manual page and
//! the shell completions (`--generate`, [`crate::generate`]). Parsing itself follows GNU getopt exactly
//! ([`crate::getopt`]), walking the options in command-line order and
//! validating each one as nc does inside its getopt loop, so the first bad
//! option decides the error (B §1.1-1.2). The positional arguments and the
//! conflict checks then follow nc's rules in nc's order (B §1.3).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use clap::{Arg, ArgAction, Command};

use crate::config::{Config, Family, Options, Proto, Proxy, ProxyProto, Target};
use crate::generate;
use crate::getopt::{Getopt, Item, OptDef};
use crate::passphrase::{self, PromptError};
use crate::ports::{self, strtonum};
use crate::report;

/// How parsing ended when it did not produce a configuration.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// `-h`/`--help` or `--version` was printed: exit 0.
    Done,
    /// An error was printed: exit with this status.
    Fail(u8),
}

/// One option: its clap definition, built by [`command`].
struct Def {
    id: &'static str,
    short: Option<char>,
    long: &'static str,
    value: Option<&'static str>,
    help: &'static str,
    long_help: &'static str,
    /// The finite set of values, offered by the shell completions.
    values: &'static [&'static str],
    /// Left out of `--help` (and the usage synopsis): for packagers only.
    hide: bool,
}

/// The `-T` keywords and their values (B §1.2).
pub const TOS_KEYWORDS: &[(&str, u8)] = &[
    ("af11", 0x28),
    ("af12", 0x30),
    ("af13", 0x38),
    ("af21", 0x48),
    ("af22", 0x50),
    ("af23", 0x58),
    ("af31", 0x68),
    ("af32", 0x70),
    ("af33", 0x78),
    ("af41", 0x88),
    ("af42", 0x90),
    ("af43", 0x98),
    ("critical", 0xa0),
    ("cs0", 0x00),
    ("cs1", 0x20),
    ("cs2", 0x40),
    ("cs3", 0x60),
    ("cs4", 0x80),
    ("cs5", 0xa0),
    ("cs6", 0xc0),
    ("cs7", 0xe0),
    ("ef", 0xb8),
    ("inetcontrol", 0xc0),
    ("lowcost", 0x02),
    ("lowdelay", 0x10),
    ("netcontrol", 0xe0),
    ("reliability", 0x04),
    ("throughput", 0x08),
];

const TOS_NAMES: &[&str] = &[
    "af11",
    "af12",
    "af13",
    "af21",
    "af22",
    "af23",
    "af31",
    "af32",
    "af33",
    "af41",
    "af42",
    "af43",
    "critical",
    "cs0",
    "cs1",
    "cs2",
    "cs3",
    "cs4",
    "cs5",
    "cs6",
    "cs7",
    "ef",
    "inetcontrol",
    "lowcost",
    "lowdelay",
    "netcontrol",
    "reliability",
    "throughput",
];

const DEFS: &[Def] = &[
    Def {
        id: "ipv4",
        short: Some('4'),
        long: "ipv4",
        value: None,
        values: &[],
        hide: false,
        help: "Use IPv4 addresses only",
        long_help: "Use IPv4 addresses only. A later -6 or -U overrides it.",
    },
    Def {
        id: "ipv6",
        short: Some('6'),
        long: "ipv6",
        value: None,
        values: &[],
        hide: false,
        help: "Use IPv6 addresses only",
        long_help: "Use IPv6 addresses only. A listener with -6 binds :: and is dual-stack: IPv4 clients appear as ::ffff:a.b.c.d.",
    },
    Def {
        id: "broadcast",
        short: Some('b'),
        long: "broadcast",
        value: None,
        values: &[],
        hide: false,
        help: "Allow broadcast",
        long_help: "Set SO_BROADCAST on the socket, so UDP datagrams may be sent to a broadcast address.",
    },
    Def {
        id: "crlf",
        short: Some('C'),
        long: "crlf",
        value: None,
        values: &[],
        hide: false,
        help: "Send CRLF as line-ending",
        long_help: "Send CRLF as line-ending: each LF read from standard input that is not already preceded by CR is sent as CR LF.",
    },
    Def {
        id: "debug",
        short: Some('D'),
        long: "debug",
        value: None,
        values: &[],
        hide: false,
        help: "Enable the debug socket option",
        long_help: "Enable the SO_DEBUG socket option (needs privileges).",
    },
    Def {
        id: "detach",
        short: Some('d'),
        long: "detach",
        value: None,
        values: &[],
        hide: false,
        help: "Detach from stdin",
        long_help: "Do not read from standard input: it counts as closed from the start.",
    },
    Def {
        id: "pass_fd",
        short: Some('F'),
        long: "pass-fd",
        value: None,
        values: &[],
        hide: false,
        help: "Pass socket fd",
        long_help: "Pass the connected socket over standard output (which must be a Unix-domain socket) with SCM_RIGHTS, then exit. Ignored with -l.",
    },
    Def {
        id: "help",
        short: Some('h'),
        long: "help",
        value: None,
        values: &[],
        hide: false,
        help: "This help text",
        long_help: "Print this help to standard output and exit 0.",
    },
    Def {
        id: "rcvbuf",
        short: Some('I'),
        long: "recv-buf",
        value: Some("length"),
        values: &[],
        hide: false,
        help: "TCP receive buffer length",
        long_help: "Set the socket receive buffer (SO_RCVBUF) to length bytes, 1 to 1073741824.",
    },
    Def {
        id: "interval",
        short: Some('i'),
        long: "interval",
        value: Some("interval"),
        values: &[],
        hide: false,
        help: "Delay interval for lines sent, ports scanned",
        long_help: "Wait interval seconds after each line sent, and between the ports of a scan (which makes a scan sequential).",
    },
    Def {
        id: "keep",
        short: Some('k'),
        long: "keep-open",
        value: None,
        values: &[],
        hide: false,
        help: "Keep inbound sockets open for multiple connects",
        long_help: "With -l, serve one connection after another instead of exiting after the first. Standard input is shared between them.",
    },
    Def {
        id: "listen",
        short: Some('l'),
        long: "listen",
        value: None,
        values: &[],
        hide: false,
        help: "Listen mode, for inbound connects",
        long_help: "Listen for an incoming connection instead of connecting. The port is the operand or -p, the bind address the first of two operands or -s; without either, 0.0.0.0 (IPv4 only; -6 for dual stack).",
    },
    Def {
        id: "ttl",
        short: Some('M'),
        long: "ttl",
        value: Some("ttl"),
        values: &[],
        hide: false,
        help: "Outgoing TTL / Hop Limit",
        long_help: "Set the outgoing IP TTL or IPv6 hop limit, 0 to 255.",
    },
    Def {
        id: "minttl",
        short: Some('m'),
        long: "min-ttl",
        value: Some("minttl"),
        values: &[],
        hide: false,
        help: "Minimum incoming TTL / Hop Limit",
        long_help: "Drop incoming packets whose TTL or hop limit is below minttl, 0 to 255.",
    },
    Def {
        id: "shutdown",
        short: Some('N'),
        long: "shutdown",
        value: None,
        values: &[],
        hide: false,
        help: "Shutdown the network socket after EOF on stdin",
        long_help: "Send a FIN (shutdown the write side of the socket) once standard input reaches end of file and everything read from it has been sent.",
    },
    Def {
        id: "numeric",
        short: Some('n'),
        long: "numeric",
        value: None,
        values: &[],
        hide: false,
        help: "Suppress name/port resolutions",
        long_help: "Do not resolve names: hosts must be numeric addresses, and messages show numbers only.",
    },
    Def {
        id: "sndbuf",
        short: Some('O'),
        long: "send-buf",
        value: Some("length"),
        values: &[],
        hide: false,
        help: "TCP send buffer length",
        long_help: "Set the socket send buffer (SO_SNDBUF) to length bytes, 1 to 1073741824.",
    },
    Def {
        id: "proxy_user",
        short: Some('P'),
        long: "proxy-user",
        value: Some("proxy_username"),
        values: &[],
        hide: false,
        help: "Username for proxy authentication",
        long_help: "User name for proxy authentication (HTTP CONNECT 407, SOCKS5 username/password). The password is read from the terminal, or from NCRAB_PROXY_PASSWORD.",
    },
    Def {
        id: "source_port",
        short: Some('p'),
        long: "source-port",
        value: Some("source_port"),
        values: &[],
        hide: false,
        help: "Specify local port for remote connects",
        long_help: "Bind the client socket to this local port (a number or a service name), or give the port to listen on with -l.",
    },
    Def {
        id: "quit",
        short: Some('q'),
        long: "quit",
        value: Some("seconds"),
        values: &[],
        hide: false,
        help: "quit after EOF on stdin and delay of secs",
        long_help: "After end of file on standard input and the end of the session, wait seconds and quit. A value of 0 or more also implies -N. A negative value waits forever (the default).",
    },
    Def {
        id: "randomize",
        short: Some('r'),
        long: "randomize",
        value: None,
        values: &[],
        hide: false,
        help: "Randomize remote ports",
        long_help: "Visit the ports of the list in random order.",
    },
    Def {
        id: "md5sig",
        short: Some('S'),
        long: "md5sig",
        value: None,
        values: &[],
        hide: false,
        help: "Enable the TCP MD5 signature option",
        long_help: "Enable the TCP MD5 signature option (RFC 2385); the key is read from the terminal.",
    },
    Def {
        id: "source",
        short: Some('s'),
        long: "source",
        value: Some("sourceaddr"),
        values: &[],
        hide: false,
        help: "Local source address",
        long_help: "Bind the client socket to this local address, or listen on it with -l. With -Uu, the path of the client's receiving socket.",
    },
    Def {
        id: "tos",
        short: Some('T'),
        long: "tos",
        value: Some("keyword"),
        values: TOS_NAMES,
        hide: false,
        help: "TOS value or TLS options",
        long_help: "A TLS keyword, tried first: noverify (do not verify the peer certificate), noname (do not check its name), clientcert (with -l: require a client certificate verified against -R), muststaple (require a stapled OCSP response), protocols=LIST (tlsv1.2, tlsv1.3, all, default, secure; separated by , or :, ! negates), ciphers=LIST (IANA or OpenSSL names, or secure, all), alpn=LIST. Otherwise the IP type of service (IPv6 traffic class): a keyword (af11..af43, critical, cs0..cs7, ef, inetcontrol, lowcost, lowdelay, netcontrol, reliability, throughput), a number 0 to 255, or 0x followed by hexadecimal digits.",
    },
    Def {
        id: "telnet",
        short: Some('t'),
        long: "telnet",
        value: None,
        values: &[],
        hide: false,
        help: "Answer TELNET negotiation",
        long_help: "Refuse every TELNET option the peer proposes: answer WILL/WONT with DONT and DO/DONT with WONT.",
    },
    Def {
        id: "unix",
        short: Some('U'),
        long: "unix",
        value: None,
        values: &[],
        hide: false,
        help: "Use UNIX domain socket",
        long_help: "Use a Unix-domain socket: the operand is its path; a path starting with @ names an abstract socket.",
    },
    Def {
        id: "udp",
        short: Some('u'),
        long: "udp",
        value: None,
        values: &[],
        hide: false,
        help: "UDP mode",
        long_help: "Use UDP (or Unix datagram sockets with -U) instead of a stream.",
    },
    Def {
        id: "rtable",
        short: Some('V'),
        long: "rtable",
        value: Some("rtable"),
        values: &[],
        hide: false,
        help: "Specify alternate routing table",
        long_help: "Select an alternate routing table. Linux has none: this always fails, as in nc.",
    },
    Def {
        id: "verbose",
        short: Some('v'),
        long: "verbose",
        value: None,
        values: &[],
        hide: false,
        help: "Verbose",
        long_help: "Report connections and failures on standard error, exactly as nc does. Twice (-vv): also explain each probe's outcome and what to check next, and summarise each transfer.",
    },
    Def {
        id: "recv_limit",
        short: Some('W'),
        long: "recv-limit",
        value: Some("recvlimit"),
        values: &[],
        hide: false,
        help: "Terminate after receiving a number of packets",
        long_help: "End the session after this many reads from the network (datagrams, for UDP).",
    },
    Def {
        id: "wait",
        short: Some('w'),
        long: "wait",
        value: Some("timeout"),
        values: &[],
        hide: false,
        help: "Timeout for connects and final net reads",
        long_help: "Give up a connection attempt after timeout seconds (per address), and end a session idle for that long. Also the duration of a UDP probe. It does not limit waiting for a client with -l.",
    },
    Def {
        id: "proxy_proto",
        short: Some('X'),
        long: "proxy-type",
        value: Some("proxy_protocol"),
        values: &["4", "5", "connect"],
        hide: false,
        help: "Proxy protocol: \"4\", \"5\" (SOCKS) or \"connect\"",
        long_help: "The protocol to speak to the proxy given with -x: 4 (SOCKS v4), 5 (SOCKS v5, the default) or connect (HTTP CONNECT).",
    },
    Def {
        id: "proxy",
        short: Some('x'),
        long: "proxy",
        value: Some("proxy_address[:port]"),
        values: &[],
        hide: false,
        help: "Specify proxy address and port",
        long_help: "Connect through this proxy; the port defaults to 1080 for SOCKS and 3128 for HTTP CONNECT. Write an IPv6 address in brackets: [::1]:1080.",
    },
    Def {
        id: "dccp",
        short: Some('Z'),
        long: "dccp",
        value: None,
        values: &[],
        hide: false,
        help: "DCCP mode",
        long_help: "Use DCCP instead of TCP (needs kernel support).",
    },
    Def {
        id: "zero_io",
        short: Some('z'),
        long: "zero-io",
        value: None,
        values: &[],
        hide: false,
        help: "Zero-I/O mode [used for scanning]",
        long_help: "Only check that the ports accept a connection, sending no data. Probes run concurrently; the report is exactly nc's, in nc's order.",
    },
    Def {
        id: "tls",
        short: Some('c'),
        long: "tls",
        value: None,
        values: &[],
        hide: false,
        help: "Use TLS",
        long_help: "Use TLS over TCP: as a client the server certificate is verified against the trust anchors (-R, else the system store) and the name (-e, else the destination host); with -l, serve TLS (with --tls-cert and -K, or a throw-away self-signed certificate whose hash -v prints); with -z, a port is open when the handshake and verification succeed; with -x, TLS runs inside the proxy tunnel. Not with -u, -U or -F.",
    },
    Def {
        id: "tls_cert",
        short: None,
        long: "tls-cert",
        value: Some("certfile"),
        values: &[],
        hide: false,
        help: "TLS certificate chain (PEM)",
        long_help: "The PEM certificate chain to present (OpenBSD nc's -C, which here stays CRLF). Needs -c.",
    },
    Def {
        id: "tls_key",
        short: Some('K'),
        long: "tls-key",
        value: Some("keyfile"),
        values: &[],
        hide: false,
        help: "TLS private key (PEM)",
        long_help: "The PEM private key of --tls-cert (default: the certificate file itself). Needs -c.",
    },
    Def {
        id: "tls_ca",
        short: Some('R'),
        long: "tls-ca",
        value: Some("CAfile"),
        values: &[],
        hide: false,
        help: "TLS trust anchors (PEM)",
        long_help: "The PEM file of trust anchors. Default: the system store (/etc/ssl/certs/ca-certificates.crt, or SSL_CERT_FILE). A listener given -R asks clients for a certificate and verifies it. Needs -c.",
    },
    Def {
        id: "tls_name",
        short: Some('e'),
        long: "tls-name",
        value: Some("name"),
        values: &[],
        hide: false,
        help: "Required name in peer certificate",
        long_help: "The name the peer certificate must carry, and the SNI sent (default: the destination host; SNI only for a host name). A listener refuses a client certificate without it. Needs -c.",
    },
    Def {
        id: "tls_pin",
        short: Some('H'),
        long: "tls-pin",
        value: Some("hash"),
        values: &[],
        hide: false,
        help: "Hash string of peer certificate",
        long_help: "Accept only the peer certificate whose hash is this: SHA256: and the hex of SHA-256 over its DER, as -v prints it. A matching certificate is accepted even if it does not chain to a trust anchor or carry the name. Needs -c; not with -T noverify.",
    },
    Def {
        id: "tls_staple",
        short: Some('o'),
        long: "tls-staple",
        value: Some("staplefile"),
        values: &[],
        hide: false,
        help: "OCSP response to staple",
        long_help: "With -l, the DER OCSP response to staple to the certificate. Needs --tls-cert.",
    },
    Def {
        id: "tls_alpn",
        short: None,
        long: "tls-alpn",
        value: Some("protocols"),
        values: &[],
        hide: false,
        help: "TLS ALPN protocols, comma-separated",
        long_help: "The application protocols to offer (client) or accept (listener), comma-separated, most preferred first; the same as -T alpn=. Needs -c.",
    },
    Def {
        id: "json",
        short: None,
        long: "json",
        value: None,
        values: &[],
        hide: false,
        help: "Print one JSON object per probe on stdout",
        long_help: "With -z, print one JSON object per line on standard output for every probe: host, ip, port, proto, service, state (open, closed, filtered, error), errno, error, ms. Lines come in nc's report order.",
    },
    Def {
        id: "window",
        short: None,
        long: "window",
        value: Some("count"),
        values: &[],
        hide: false,
        help: "Probes in flight at once during a scan",
        long_help: "How many probes of a scan run at once. The default follows the open-file limit; 1 makes the scan sequential, as nc.",
    },
    Def {
        id: "version",
        short: None,
        long: "version",
        value: None,
        values: &[],
        hide: false,
        help: "Print the version and exit",
        long_help: "Print the version and exit 0.",
    },
    Def {
        id: "generate",
        short: None,
        long: "generate",
        value: Some("what"),
        values: generate::TARGETS,
        hide: true,
        help: "Print the manual page or a shell's completion script",
        long_help: "Print the manual page (man) or the completion script of a shell (bash, zsh, fish, elvish, powershell) on standard output and exit 0. The files in man/ and completions/ are this output. Not listed by --help.",
    },
];

/// Long aliases: ncat's `--ssl*` names for the TLS options.
const ALIASES: &[(&str, &str)] = &[
    ("ssl", "tls"),
    ("ssl-cert", "tls_cert"),
    ("ssl-key", "tls_key"),
    ("ssl-trustfile", "tls_ca"),
    ("ssl-servername", "tls_name"),
    ("ssl-alpn", "tls_alpn"),
];

/// The clap command: the one definition of every option, rendered into
/// `--help`, `man/ncrab.1` and `completions/`.
pub fn command() -> Command {
    let mut cmd = Command::new("ncrab")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A netcat-style network tool: a drop-in for OpenBSD nc")
        .long_about(
            "ncrab connects to, listens on and scans TCP, UDP and Unix-domain sockets, \
             relaying standard input and output. It accepts OpenBSD nc's options and prints \
             nc's messages byte for byte; scans are concurrent and -vv explains each outcome.",
        )
        .override_usage(
            "ncrab [options] destination port...\n       ncrab -l [options] [address] port\n       ncrab -U [options] path",
        )
        .disable_help_flag(true)
        .disable_version_flag(true)
        .after_help("Port numbers can be individual or ranges: lo-hi [inclusive]");
    for d in DEFS {
        let mut a = Arg::new(d.id)
            .long(d.long)
            .help(d.help)
            .long_help(d.long_help);
        if let Some(s) = d.short {
            a = a.short(s);
        }
        if d.hide {
            a = a.hide(true);
        }
        for (alias, _) in ALIASES.iter().filter(|(_, id)| *id == d.id) {
            a = a.visible_alias(*alias);
        }
        a = match d.value {
            Some(v) => {
                let a = a.value_name(v).action(ArgAction::Append);
                if d.values.is_empty() {
                    a
                } else {
                    a.value_parser(clap::builder::PossibleValuesParser::new(d.values))
                        .hide_possible_values(true)
                }
            }
            None if d.id == "verbose" => a.action(ArgAction::Count),
            None if d.id == "help" => a.action(ArgAction::Help),
            None if d.id == "version" => a.action(ArgAction::Version),
            None => a.action(ArgAction::SetTrue),
        };
        cmd = cmd.arg(a);
    }
    cmd.arg(
        Arg::new("destination")
            .help("Host to connect to, or address to listen on with -l; the socket path with -U")
            .value_name("destination"),
    )
    .arg(
        Arg::new("port")
            .help("Ports to connect to (numbers, service names or lo-hi ranges), or the port to listen on")
            .value_name("port")
            .num_args(0..),
    )
}

/// The getopt view of the definitions.
fn opt_defs() -> Vec<OptDef> {
    let mut defs: Vec<OptDef> = DEFS
        .iter()
        .map(|d| OptDef {
            id: d.id,
            short: d.short,
            long: Some(d.long),
            takes_value: d.value.is_some(),
        })
        .collect();
    for &(alias, id) in ALIASES {
        if let Some(d) = DEFS.iter().find(|d| d.id == id) {
            defs.push(OptDef {
                id: d.id,
                short: None,
                long: Some(alias),
                takes_value: d.value.is_some(),
            });
        }
    }
    defs
}

/// ncrab's help, on stdout, naming the program as it was run.
pub fn help_text() -> String {
    let p = report::prog_str();
    command()
        .override_usage(format!(
            "{p} [options] destination port...\n       {p} -l [options] [address] port\n       {p} -U [options] path"
        ))
        .render_help()
        .to_string()
}

/// `--generate WHAT`: print the manual page or a completion script.
fn generate(what: &str) -> Exit {
    if !generate::TARGETS.contains(&what) {
        report::generate_unknown(what, generate::TARGETS);
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
    let mut tls = crate::tls::args::TlsArgs::default();

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
                // nc asks for the key as soon as it meets -S (B §1.2).
                match passphrase::read(report::MD5SIG_PROMPT, libc::TCP_MD5SIG_MAXKEYLEN) {
                    Ok(key) => o.md5sig = Some(key),
                    Err(PromptError::NoTty) => {
                        report::md5sig_no_tty();
                        return Err(Exit::Fail(1));
                    }
                    Err(PromptError::Signal(sig)) => crate::signals::die_by(sig),
                }
            }
            "source" => o.source_addr = val.clone(),
            // OpenBSD tries the TLS keywords first, then the TOS values.
            "tos" => match crate::tls::keyword(raw) {
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
            "wait" => o.timeout = Some(num(raw, 0, (i32::MAX / 1000) as i64, "timeout")? as u32),
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

/// nc's positional rules and conflict checks, in nc's order (B §1.3).
/// The operands stay as typed: a Unix path or a port spec that is not
/// UTF-8 is used, or echoed in a message, byte for byte.
fn finish(
    o: Options,
    argv: Vec<OsString>,
    dccp: bool,
    tls: crate::tls::args::TlsArgs,
) -> Result<Config, Exit> {
    let is_unix = o.family == Family::Unix;
    let argc = argv.len();
    let (host, ports): (Option<OsString>, Vec<OsString>) = if argc == 0 && o.listen {
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
    if !o.listen && o.keep {
        return Err(fail(format_args!("must use -l with -k")));
    }
    let modes = crate::tls::args::Modes {
        udp: o.proto == Proto::Udp,
        unix: is_unix,
        dccp,
        pass_fd: o.pass_fd,
        listen: o.listen,
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
                return Err(fail_arg(format_args!("{msg}"), arg));
            }
        };
        if o.randomize {
            ports::shuffle(&mut list);
        }
        Target::Connect { host, ports: list }
    };
    Ok(Config {
        opts: o,
        target,
        proxy,
        tls,
    })
}

/// nc's `-x` checks, in its order (B §1.3 step 7, §7.1).
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
/// last colon (B §7.1), on the bytes as typed. The error is nc's message.
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
                ports: vec![1]
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
                ports: vec![80, 22, 23]
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

    use crate::filter::tests::Rng;

    /// [`split_proxy`] on text (the cuts fall on ASCII bytes).
    fn split(arg: &str) -> Result<(&str, Option<&str>), &'static str> {
        let text = |b| std::str::from_utf8(b).unwrap();
        split_proxy(arg.as_bytes()).map(|(h, p)| (text(h), p.map(text)))
    }

    /// nc's `-T` keyword table (B §1.2), written out again for the model.
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

    /// Hosts and ports written the ways B §7.1 allows come back out.
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
