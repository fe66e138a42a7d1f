//! Every option defined once, as clap arguments: the single source of
//! `--help` ([`help_text`]), the manual page and the shell completions
//! ([`super::generate`]), and of the getopt table the parser walks
//! ([`opt_defs`]).

use clap::{Arg, ArgAction, Command};

use crate::cli::getopt::OptDef;
use crate::report;

/// What `--generate` can print: the manual page or a shell's completions.
pub const GENERATE_TARGETS: &[&str] = &["man", "bash", "zsh", "fish", "elvish", "powershell"];

/// One option: its clap definition, built by [`command`].
pub(super) struct Def {
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

/// The `-T` keywords and their values (docs/compatibility.md §1.2).
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

pub(super) const TOS_NAMES: &[&str] = &[
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
        id: "timeout",
        short: Some('w'),
        long: "timeout",
        value: Some("timeout"),
        values: &[],
        hide: false,
        help: "Timeout for connects and final net reads",
        long_help: "Give up a connection attempt after timeout seconds (per address), and end a session idle for that long. Also the duration of a UDP probe. It does not limit waiting for a client with -l. With -z, auto learns each host's connect timeout from its answers: the smoothed round-trip time plus four deviations, between 100 ms and 3 s, starting at 1 s.",
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
        id: "starttls",
        short: None,
        long: "starttls",
        value: Some("proto"),
        values: crate::net::starttls::NAMES,
        hide: false,
        help: "With -c, speak proto's plaintext preamble, then TLS on the same connection",
        long_help: "With -c (client or -z scan), first speak the plaintext preamble of proto on the connection, as openssl s_client -starttls does, then run the TLS handshake on the same connection: smtp (greeting, EHLO, STARTTLS), lmtp (LHLO), pop3 (STLS), imap (CAPABILITY, STARTTLS), ftp (AUTH TLS), xmpp and xmpp-server (stream header, <starttls/>), irc (STARTTLS, 670), postgres (SSLRequest), mysql (the SSL request packet), nntp (STARTTLS), sieve (STARTTLS) or ldap (the StartTLS extended operation). A refusal ends the run with `PROG: starttls PROTO failed: ...' and the server's reply; in a scan the port fails with that reason, and -vv shows the server's replies. -w bounds the preamble too; a server's preamble over 64 KiB fails.",
    },
    Def {
        id: "starttls_name",
        short: None,
        long: "starttls-name",
        value: Some("name"),
        values: &[],
        hide: false,
        help: "The EHLO/LHLO name or XMPP domain of --starttls",
        long_help: "The name --starttls sends: smtp's EHLO and lmtp's LHLO name (default: this machine's host name, gethostname) and the to= domain of xmpp's stream header (default: the destination host as typed). Needs --starttls.",
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
        long_help: "How many probes of a scan run at once. The default follows the open-file limit, up to 1024 (8192 for a list of destinations); 1 makes the scan sequential, as nc.",
    },
    Def {
        id: "hosts",
        short: None,
        long: "hosts",
        value: Some("file"),
        values: &[],
        hide: false,
        help: "Scan the hosts listed in file (- for stdin)",
        long_help: "With -z, read the destinations from file (- for standard input), one per line: a host name, an address, a CIDR block or an IPv4 range (or a comma list of them). Text from # to the end of a line is a comment. Every operand is then a port.",
    },
    Def {
        id: "rate",
        short: None,
        long: "rate",
        value: Some("count"),
        values: &[],
        hide: false,
        help: "Start at most count connects per second during a scan",
        long_help: "With -z, start at most count connects per second (1 to 1000000), spread evenly; --window still caps the probes in flight.",
    },
    Def {
        id: "wait_for",
        short: None,
        long: "wait",
        value: Some("seconds"),
        values: &[],
        hide: false,
        help: "With -z, retry each port until it accepts, for up to seconds",
        long_help: "With -z, retry every listed port until it accepts a connection, backing off from 50 ms to 1 s, for at most seconds. Exit 0 as soon as every port has accepted, 1 at the deadline. With -v, nc's line for each port once it is known, and the last failure of each port that never opened.",
    },
    Def {
        id: "progress",
        short: None,
        long: "progress",
        value: None,
        values: &[],
        hide: false,
        help: "Show a transfer's progress on stderr",
        long_help: "Show the bytes sent and received and the rate on standard error while relaying (with a regular-file standard input, also the percentage and the time left), cleared at the end. Scans show their own status line on a terminal without this option.",
    },
    Def {
        id: "no_progress",
        short: None,
        long: "no-progress",
        value: None,
        values: &[],
        hide: false,
        help: "No scan status line on a terminal",
        long_help: "Do not show the status line a scan longer than a second shows on a terminal standard error (probes done, open ports, rate, time left).",
    },
    Def {
        id: "banner",
        short: None,
        long: "banner",
        value: Some("ms"),
        values: &[],
        hide: false,
        help: "With -z: report what an open port's server says first",
        long_help: "With -z: after an open TCP port's handshake, wait up to ms milliseconds (default 500, written --banner=ms) for the server to speak first, and report its first line, escaped: on a -vv line and in --json's banner field. Nothing is sent. Probes stay concurrent.",
    },
    Def {
        id: "cert_warn",
        short: None,
        long: "cert-warn",
        value: Some("days"),
        values: &[],
        hide: false,
        help: "With -zc, fail ports whose certificate expires within days or does not verify",
        long_help: "With -zc, a monitoring check: each port whose certificate expires within days (0 to 36500; 0: has expired) gets the line `PROG: certificate of HOST port PORT (tcp) expires in N days, on DATE`, and each port whose handshake or certificate check failed gets nc's failure line, with or without -v; the run then exits 1. --json's tls object carries chain_ok either way.",
    },
    Def {
        id: "exec",
        short: None,
        long: "exec",
        value: Some("command"),
        values: &[],
        hide: false,
        help: "Serve each connection with a program (split on spaces, no shell)",
        long_help: "Run the program for each connection, its standard input and output relayed to and from the connection (-C and the logs apply); its standard error stays ncrab's. The command is split on spaces, with no shell. The child's environment names the connection: NCRAB_REMOTE_ADDR, NCRAB_REMOTE_PORT, NCRAB_LOCAL_ADDR, NCRAB_LOCAL_PORT, NCRAB_PROTO, and the same under ncat's NCAT_ names. The peer's end of stream closes the child's input; the child's exit ends the session once its output is sent; when the peer or -w ends the session first, a child still running a second later gets SIGTERM. With -l -k, clients are served at the same time, one child each. With -u the child talks in datagrams: a client's, a -lu listener's first peer, or with -luk one child per peer. Not with -U, -Z or -z.",
    },
    Def {
        id: "sh_exec",
        short: None,
        long: "sh-exec",
        value: Some("command"),
        values: &[],
        hide: false,
        help: "Serve each connection with a /bin/sh -c command",
        long_help: "As --exec, but the command is run by /bin/sh -c, so it may use pipes, redirections and variables.",
    },
    Def {
        id: "pty",
        short: None,
        long: "pty",
        value: None,
        values: &[],
        hide: false,
        help: "With --exec/--sh-exec: run each child on a pseudo-terminal",
        long_help: "With --exec or --sh-exec, on a client or a listener: each child runs on its own pseudo-terminal, as socat's EXEC:...,pty,setsid,ctty,stderr: a new session whose controlling terminal is the terminal's slave side, on its standard input, output and error, so shells give prompts and job control and full-screen programs work. The window is 24 rows by 80 columns until an ncrab --raw client tells its own size (see TERMINALS). The peer's end of stream is typed as the terminal's end-of-file character (^D); the child's exit ends the session once its output is sent. Not with -u.",
    },
    Def {
        id: "raw",
        short: None,
        long: "raw",
        value: None,
        values: &[],
        hide: false,
        help: "Client on a terminal: raw mode, ~. to leave, sizes to a --pty server",
        long_help: "A client whose standard input is a terminal puts it in raw mode for the session (every key, ^C and ^Z included, goes to the peer) and restores it on every way out, a signal included. Typing ~. at the start of a line leaves (~~ sends one ~). The client opens its stream with the terminal's window size and sends each change (SIGWINCH), for a --pty server to apply (see TERMINALS). Not with -l, -c, --exec or -u.",
    },
    Def {
        id: "max_conns",
        short: None,
        long: "max-conns",
        value: Some("count"),
        values: &[],
        hide: false,
        help: "Most connections served at once (default 100)",
        long_help: "With -l -k --exec or --broker: how many connections are served at once, 1 to 65536 (default 100). A connection over the limit is accepted and closed at once, with a line under -v.",
    },
    Def {
        id: "broker",
        short: None,
        long: "broker",
        value: None,
        values: &[],
        hide: false,
        help: "Relay what each client sends to all the others",
        long_help: "Listen (implies -l) and accept many clients at once: what each one sends goes to every other one and to standard output, and standard input goes to all of them. A client that reads slower than the others send is dropped once 1 MiB waits for it for a second (a line under -v). Not with --exec, -u or -U.",
    },
    Def {
        id: "chat",
        short: None,
        long: "chat",
        value: None,
        values: &[],
        hide: false,
        help: "A broker for people: a chat room",
        long_help: "A --broker that starts each line a client sends with <userN> (N is the client's file descriptor, as in ncat; standard input is <user0>), shows control characters as \\ooo, and announces who joins and leaves.",
    },
    Def {
        id: "allow",
        short: None,
        long: "allow",
        value: Some("list"),
        values: &[],
        hide: false,
        help: "Accept connections only from these hosts",
        long_help: "A listener accepts only peers matching an entry of the list: addresses, CIDR blocks (10.0.0.0/8, fd00::/8) and host names (resolved once, at start), separated by commas or spaces. IPv4-mapped IPv6 peers match their IPv4 form. A refused connection is closed at once, with one line under -v. May be repeated.",
    },
    Def {
        id: "allowfile",
        short: None,
        long: "allowfile",
        value: Some("file"),
        values: &[],
        hide: false,
        help: "Read --allow entries from a file",
        long_help: "As --allow, with the entries read from a file (one or more per line; # starts a comment).",
    },
    Def {
        id: "deny",
        short: None,
        long: "deny",
        value: Some("list"),
        values: &[],
        hide: false,
        help: "Refuse connections from these hosts",
        long_help: "A listener refuses peers matching an entry of the list (same forms as --allow), whatever --allow says. An entry that is not an address, a CIDR block or a known host name is an error at start.",
    },
    Def {
        id: "denyfile",
        short: None,
        long: "denyfile",
        value: Some("file"),
        values: &[],
        hide: false,
        help: "Read --deny entries from a file",
        long_help: "As --deny, with the entries read from a file (one or more per line; # starts a comment).",
    },
    Def {
        id: "send_only",
        short: None,
        long: "send-only",
        value: None,
        values: &[],
        hide: false,
        help: "Only send: discard what arrives, end after stdin's EOF",
        long_help: "Only send data: what the peer sends is read and thrown away, and the session ends once standard input reaches end of file and everything read from it is sent.",
    },
    Def {
        id: "recv_only",
        short: None,
        long: "recv-only",
        value: None,
        values: &[],
        hide: false,
        help: "Only receive: never read stdin",
        long_help: "Only receive data: standard input is never read (as -d).",
    },
    Def {
        id: "output",
        short: None,
        long: "output",
        value: Some("file"),
        values: &[],
        hide: false,
        help: "Write everything sent and received to a file",
        long_help: "Write every byte sent and received, in the order they passed, to the file (truncated first, unless --append-output).",
    },
    Def {
        id: "hex_dump",
        short: None,
        long: "hex-dump",
        value: Some("file"),
        values: &[],
        hide: false,
        help: "Write a hex dump of everything sent and received to a file",
        long_help: "Write a hex dump of every chunk sent and received to the file: a line giving the direction and length (> 12 bytes sent, < 3 bytes received), then ncat's layout: offset, 16 bytes in hex, the same as text.",
    },
    Def {
        id: "append_output",
        short: None,
        long: "append-output",
        value: None,
        values: &[],
        hide: false,
        help: "Append to the --output and --hex-dump files",
        long_help: "Append to the --output and --hex-dump files instead of truncating them.",
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
        values: GENERATE_TARGETS,
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
/// Options whose value is optional, given as `--name=value` only.
const OPTIONAL_VALUE: &[&str] = &["banner"];

/// `--banner` without a value: milliseconds.
pub const BANNER_DEFAULT_MS: u64 = 500;

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
            Some(v) if OPTIONAL_VALUE.contains(&d.id) => a
                .value_name(v)
                .num_args(0..=1)
                .require_equals(true)
                .action(ArgAction::Append),
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
pub(super) fn opt_defs() -> Vec<OptDef> {
    let mut defs: Vec<OptDef> = DEFS
        .iter()
        .map(|d| OptDef {
            id: d.id,
            short: d.short,
            long: Some(d.long),
            takes_value: d.value.is_some(),
            optional_value: OPTIONAL_VALUE.contains(&d.id),
        })
        .collect();
    for &(alias, id) in ALIASES {
        if let Some(d) = DEFS.iter().find(|d| d.id == id) {
            defs.push(OptDef {
                id: d.id,
                short: None,
                long: Some(alias),
                takes_value: d.value.is_some(),
                optional_value: false,
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
