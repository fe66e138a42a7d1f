//! Command-line behaviour: getopt, option-argument validation, positional
//! rules, port specifications, and the texts and exit codes of every error
//! (docs/compatibility.md §1, §5; §12 rows 1-14). Nothing here touches the
//! network: every case fails (or is shown to be accepted) before any socket
//! exists.
//!
//! A value is shown to be *accepted* by adding `-k` without `-l`: nc then
//! fails later, with `must use -l with -k`, which it only reaches once every
//! option argument has been validated.

mod common;
use common::*;

const K: &str = "nc: must use -l with -k\n";

/// Run every case; report all mismatches together.
fn check_errors(cases: &[(&[&str], &str)]) {
    let mut failures = Vec::new();
    for (args, expected) in cases {
        let o = Cmd::nc(args).run(secs(5));
        if o.code() != Some(1) || o.stderr != expected.as_bytes() || !o.stdout.is_empty() {
            failures.push(format!(
                "nc {}:\n  expected: exit 1, stderr {}\n  got:      {o}",
                args.join(" "),
                escape(expected.as_bytes())
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every case must print `first` then a usage text, exit 1.
fn check_usage_errors(cases: &[(&[&str], &str)]) {
    let mut failures = Vec::new();
    for (args, first) in cases {
        let o = Cmd::nc(args).run(secs(5));
        let err = o.stderr_str();
        let ok = o.code() == Some(1)
            && o.stdout.is_empty()
            && err.starts_with(first)
            && err[first.len()..].starts_with(USAGE_START);
        if !ok {
            failures.push(format!(
                "nc {}:\n  expected: exit 1, stderr {} + usage\n  got:      {o}",
                args.join(" "),
                escape(first.as_bytes())
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// --- §12 rows 1-14 ---------------------------------------------------------

/// Row 1 / departure 1: `-h` exits 0. ncrab prints its help on stdout;
/// nc.openbsd prints its banner + usage + summary on stderr.
#[test]
fn row01_help_exits_0() {
    let o = Cmd::nc(&["-h"]).run(secs(5));
    o.assert_code(0);
    if is_ncrab() {
        assert!(
            !o.stdout.is_empty(),
            "ncrab -h must print help on stdout: {o}"
        );
        o.assert_stderr(b"");
    } else {
        o.assert_stderr(NC_OPENBSD_HELP);
        o.assert_stdout(b"");
    }
}

/// Departure 1: `--help` is ncrab's help on stdout, exit 0. (nc.openbsd has
/// no long options: `invalid option -- '-'` + usage.)
#[test]
fn long_help() {
    let o = Cmd::nc(&["--help"]).run(secs(5));
    if is_ncrab() {
        o.assert_code(0);
        assert!(
            !o.stdout.is_empty(),
            "ncrab --help must print help on stdout: {o}"
        );
        o.assert_stderr(b"");
    } else {
        assert_usage_error(&o, "nc: invalid option -- '-'\n");
    }
}

const NC_OPENBSD_HELP: &[u8] = b"OpenBSD netcat (Debian patchlevel 1.219-1)\nusage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n\t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]\n\t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]\n\t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]\n\t  [destination] [port]\n\tCommand Summary:\n\t\t-4\t\tUse IPv4\n\t\t-6\t\tUse IPv6\n\t\t-b\t\tAllow broadcast\n\t\t-C\t\tSend CRLF as line-ending\n\t\t-D\t\tEnable the debug socket option\n\t\t-d\t\tDetach from stdin\n\t\t-F\t\tPass socket fd\n\t\t-h\t\tThis help text\n\t\t-I length\tTCP receive buffer length\n\t\t-i interval\tDelay interval for lines sent, ports scanned\n\t\t-k\t\tKeep inbound sockets open for multiple connects\n\t\t-l\t\tListen mode, for inbound connects\n\t\t-M ttl\t\tOutgoing TTL / Hop Limit\n\t\t-m minttl\tMinimum incoming TTL / Hop Limit\n\t\t-N\t\tShutdown the network socket after EOF on stdin\n\t\t-n\t\tSuppress name/port resolutions\n\t\t-O length\tTCP send buffer length\n\t\t-P proxyuser\tUsername for proxy authentication\n\t\t-p port\t\tSpecify local port for remote connects\n\t\t-q secs\t\tquit after EOF on stdin and delay of secs\n\t\t-r\t\tRandomize remote ports\n\t\t-S\t\tEnable the TCP MD5 signature option\n\t\t-s sourceaddr\tLocal source address\n\t\t-T keyword\tTOS value\n\t\t-t\t\tAnswer TELNET negotiation\n\t\t-U\t\tUse UNIX domain socket\n\t\t-u\t\tUDP mode\n\t\t-V rtable\tSpecify alternate routing table\n\t\t-v\t\tVerbose\n\t\t-W recvlimit\tTerminate after receiving a number of packets\n\t\t-w timeout\tTimeout for connects and final net reads\n\t\t-X proto\tProxy protocol: \"4\", \"5\" (SOCKS) or \"connect\"\n\t\t-x addr[:port]\tSpecify proxy address and port\n\t\t-Z\t\tDCCP mode\n\t\t-z\t\tZero-I/O mode [used for scanning]\n\tPort numbers can be individual or ranges: lo-hi [inclusive]\n";

#[test]
fn row02_no_arguments_prints_usage() {
    let o = Cmd::nc::<&str>(&[]).run(secs(5));
    assert_usage_error(&o, "");
}

#[test]
fn row03_unknown_option() {
    assert_usage_error(
        &Cmd::nc(&["-Y"]).run(secs(5)),
        "nc: invalid option -- 'Y'\n",
    );
}

#[test]
fn row04_missing_option_argument() {
    assert_usage_error(
        &Cmd::nc(&["-w"]).run(secs(5)),
        "nc: option requires an argument -- 'w'\n",
    );
}

#[test]
fn rows05_to_14_errors() {
    check_errors(&[
        (&["localhost"], "nc: missing port number\n"),
        (&["-lz", "1234"], "nc: cannot use -z and -l\n"),
        (&["-k", "127.0.0.1", "80"], "nc: must use -l with -k\n"),
        (&["-z", "127.0.0.1", "0"], "nc: port number too small: 0\n"),
        (
            &["-z", "127.0.0.1", "65536"],
            "nc: port number too large: 65536\n",
        ),
        (&["-z", "127.0.0.1", "1-"], "nc: port number invalid: \n"),
        (
            &["-z", "127.0.0.1", "nosuchsvc"],
            "nc: port number invalid: nosuchsvc\n",
        ),
        (&["-w", "x", "127.0.0.1", "80"], "nc: timeout invalid: x\n"),
        (
            &["-T", "foo", "127.0.0.1", "80"],
            "nc: illegal tos value foo\n",
        ),
    ]);
}

#[test]
fn row06_listen_with_p_and_port_is_usage() {
    assert_usage_error(&Cmd::nc(&["-l", "-p", "1234", "5678"]).run(secs(5)), "");
}

// --- §1.1: getopt ----------------------------------------------------------

#[test]
fn getopt_errors_use_full_argv0_others_the_basename() {
    let o = Cmd::nc(&["-Y"]).arg0("/some/dir/weird-name").run(secs(5));
    assert_usage_error(&o, "/some/dir/weird-name: invalid option -- 'Y'\n");

    let o = Cmd::nc(&["-q"]).arg0("/some/dir/weird-name").run(secs(5));
    assert_usage_error(
        &o,
        "/some/dir/weird-name: option requires an argument -- 'q'\n",
    );

    let o = Cmd::nc(&["-w", "x", "1", "2"])
        .arg0("/some/dir/weird-name")
        .run(secs(5));
    o.assert(1, b"", b"weird-name: timeout invalid: x\n");

    let o = Cmd::nc(&["-w", "x", "1", "2"])
        .arg0("nc.openbsd")
        .run(secs(5));
    o.assert(1, b"", b"nc.openbsd: timeout invalid: x\n");

    let o = Cmd::nc(&["-w", "x", "1", "2"]).arg0("").run(secs(5));
    o.assert(1, b"", b": timeout invalid: x\n");
}

/// Invoked by its path (argv[0] = `./nc`), getopt says `./nc:`.
#[test]
fn getopt_error_with_relative_argv0() {
    let o = Cmd::nc(&["-Y"]).arg0("./nc").run(secs(5));
    assert_usage_error(&o, "./nc: invalid option -- 'Y'\n");
}

/// OpenBSD's TLS letters exist (Debian leaves them free); their checks
/// and texts are OpenBSD's (tests/tls.rs has the rest).
#[test]
fn tls_options_need_c() {
    check_errors(&[
        (&["-c", "-u", "1", "2"], "nc: cannot use -c and -u\n"),
        (
            &["-e", "x", "1", "2"],
            "nc: you must specify -c to use -e\n",
        ),
        (
            &["-R", "x", "1", "2"],
            "nc: you must specify -c to use -R\n",
        ),
    ]);
}

/// `-zvw1`: clustered flags with an attached value.
#[test]
fn clustered_flags() {
    let p = free_port();
    let o = Cmd::nc(&["-zvw1", "127.0.0.1", &p.to_string()]).run(secs(5));
    o.assert(
        1,
        b"",
        format!("nc: connect to 127.0.0.1 port {p} (tcp) failed: Connection refused\n").as_bytes(),
    );
}

/// Attached values, including ones that start with `-`.
#[test]
fn attached_values() {
    check_errors(&[
        (&["-q-x", "1", "2"], "nc: quit timer invalid: -x\n"),
        (&["-w1x", "1", "2"], "nc: timeout invalid: 1x\n"),
        (&["-q-1", "-k", "1", "2"], K),
        (&["-w1", "-k", "1", "2"], K),
        (&["-kq5", "1", "2"], K),
    ]);
}

/// Options after operands are still options (GNU permutation).
#[test]
fn options_after_operands() {
    let p = free_port();
    let o = Cmd::nc(&["127.0.0.1", &p.to_string(), "-z", "-v"]).run(secs(5));
    o.assert(
        1,
        b"",
        format!("nc: connect to 127.0.0.1 port {p} (tcp) failed: Connection refused\n").as_bytes(),
    );
}

/// With POSIXLY_CORRECT, permutation stops at the first operand.
#[test]
fn posixly_correct_stops_at_first_operand() {
    let o = Cmd::nc(&["127.0.0.1", "9", "-v"])
        .env("POSIXLY_CORRECT", "1")
        .run(secs(5));
    o.assert(1, b"", b"nc: port number invalid: -v\n");
}

/// `--` ends the options: `-1` after it is a port, not an option.
#[test]
fn double_dash_ends_options() {
    check_errors(&[
        (
            &["-z", "--", "127.0.0.1", "0"],
            "nc: port number too small: 0\n",
        ),
        (
            &["-z", "127.0.0.1", "--", "-1"],
            "nc: port number too small: -1\n",
        ),
    ]);
    assert_usage_error(
        &Cmd::nc(&["-z", "127.0.0.1", "-1"]).run(secs(5)),
        "nc: invalid option -- '1'\n",
    );
}

// --- §1.2: option-argument validation --------------------------------------

#[test]
fn option_argument_errors() {
    check_errors(&[
        (&["-i", "x", "1", "2"], "nc: interval invalid: x\n"),
        (&["-i", "-1", "1", "2"], "nc: interval too small: -1\n"),
        (
            &["-i", "4294967296", "1", "2"],
            "nc: interval too large: 4294967296\n",
        ),
        (&["-w", "x", "1", "2"], "nc: timeout invalid: x\n"),
        (&["-w", "-1", "1", "2"], "nc: timeout too small: -1\n"),
        (
            &["-w", "2147484", "1", "2"],
            "nc: timeout too large: 2147484\n",
        ),
        (&["-q", "x", "1", "2"], "nc: quit timer invalid: x\n"),
        (
            &["-q", "99999999999", "1", "2"],
            "nc: quit timer too large: 99999999999\n",
        ),
        (
            &["-q", "-2147483649", "1", "2"],
            "nc: quit timer too small: -2147483649\n",
        ),
        (&["-W", "0", "1", "2"], "nc: receive limit too small: 0\n"),
        (&["-W", "-1", "1", "2"], "nc: receive limit too small: -1\n"),
        (&["-W", "x", "1", "2"], "nc: receive limit invalid: x\n"),
        (
            &["-W", "2147483648", "1", "2"],
            "nc: receive limit too large: 2147483648\n",
        ),
        (
            &["-I", "0", "1", "2"],
            "nc: TCP receive window too small: 0\n",
        ),
        (
            &["-I", "1073741825", "1", "2"],
            "nc: TCP receive window too large: 1073741825\n",
        ),
        (
            &["-I", "x", "1", "2"],
            "nc: TCP receive window invalid: x\n",
        ),
        (&["-O", "0", "1", "2"], "nc: TCP send window too small: 0\n"),
        (
            &["-O", "1073741825", "1", "2"],
            "nc: TCP send window too large: 1073741825\n",
        ),
        (&["-O", "x", "1", "2"], "nc: TCP send window invalid: x\n"),
        (&["-M", "256", "1", "2"], "nc: ttl is too large\n"),
        (&["-M", "-1", "1", "2"], "nc: ttl is too small\n"),
        (&["-M", "x", "1", "2"], "nc: ttl is invalid\n"),
        (&["-m", "256", "1", "2"], "nc: minttl is too large\n"),
        (&["-m", "-1", "1", "2"], "nc: minttl is too small\n"),
        (&["-m", "x", "1", "2"], "nc: minttl is invalid\n"),
        (&["-T", "foo", "1", "2"], "nc: illegal tos value foo\n"),
        (&["-T", "256", "1", "2"], "nc: illegal tos value 256\n"),
        (&["-T", "-1", "1", "2"], "nc: illegal tos value -1\n"),
        (&["-T", "0x100", "1", "2"], "nc: illegal tos value 0x100\n"),
        (&["-T", "AF41", "1", "2"], "nc: illegal tos value AF41\n"),
        (
            &["-V", "1", "1", "2"],
            "nc: no alternate routing table support available\n",
        ),
        (&["-X", "foo", "1", "2"], "nc: unsupported proxy protocol\n"),
        (&["-X", "6", "1", "2"], "nc: unsupported proxy protocol\n"),
    ]);
}

/// Values at the edges of their ranges, and odd forms nc accepts.
#[test]
fn option_arguments_accepted() {
    let cases: &[&[&str]] = &[
        &["-i", "0"],
        &["-i", "4294967295"],
        &["-w", "0"],
        &["-w", "2147483"],
        &["-q", "-2147483648"],
        &["-q", "2147483647"],
        &["-q", "-1"],
        &["-W", "1"],
        &["-W", "2147483647"],
        &["-I", "1"],
        &["-I", "1073741824"],
        &["-O", "1073741824"],
        &["-M", "0"],
        &["-M", "255"],
        &["-m", "0"],
        &["-m", "255"],
        &["-T", "0"],
        &["-T", "255"],
        &["-T", "0xff"],
        &["-T", "0xzz"],
        &["-T", "0x"],
        &["-T", "lowdelay"],
        &["-T", "af41"],
        &["-T", "cs7"],
        &["-T", "ef"],
        &["-T", "lowcost"],
        &["-X", "connect"],
        &["-X", "CONNECT"],
        &["-X", "4"],
        &["-X", "5"],
    ];
    let full: Vec<(Vec<&str>, &str)> = cases
        .iter()
        .map(|c| {
            let mut v = c.to_vec();
            v.extend_from_slice(&["-k", "127.0.0.1", "80"]);
            (v, K)
        })
        .collect();
    let refs: Vec<(&[&str], &str)> = full.iter().map(|(v, e)| (v.as_slice(), *e)).collect();
    check_errors(&refs);
}

/// Options are validated in command-line order: the first bad one wins.
#[test]
fn first_bad_option_wins() {
    check_errors(&[
        (
            &["-w", "x", "-T", "foo", "127.0.0.1", "80"],
            "nc: timeout invalid: x\n",
        ),
        (
            &["-T", "foo", "-w", "x", "127.0.0.1", "80"],
            "nc: illegal tos value foo\n",
        ),
        (
            &["-q", "x", "-I", "0", "1", "2"],
            "nc: quit timer invalid: x\n",
        ),
        (
            &["-I", "0", "-q", "x", "1", "2"],
            "nc: TCP receive window too small: 0\n",
        ),
        (
            &["-V", "1", "-w", "x", "1", "2"],
            "nc: no alternate routing table support available\n",
        ),
    ]);
    // An option error comes before any positional error.
    check_errors(&[
        (&["-w", "x"], "nc: timeout invalid: x\n"),
        (&["-l", "-z", "-w", "x", "1"], "nc: timeout invalid: x\n"),
    ]);
    // getopt errors are found in order too.
    check_errors(&[(&["-w", "x", "-Y", "1", "2"], "nc: timeout invalid: x\n")]);
    assert_usage_error(
        &Cmd::nc(&["-Y", "-w", "x", "1", "2"]).run(secs(5)),
        "nc: invalid option -- 'Y'\n",
    );
}

// --- §1.3: positional rules and conflict checks ----------------------------

#[test]
fn positional_usage_errors() {
    check_usage_errors(&[
        (&["-l", "-p", "1234", "5678"], ""),
        (&["-p", "5", "host"], ""),
        (&["-s", "x", "host"], ""),
        (&["-l", "1", "2", "3"], ""),
        (&["-l", "-s", "127.0.0.1", "1234", "5678"], ""),
        (&["-l", "-s", "127.0.0.1", "-p", "1", "1234", "5678"], ""),
    ]);
}

#[test]
fn conflict_checks() {
    check_errors(&[
        (&["-lz", "1234"], "nc: cannot use -z and -l\n"),
        (&["-k", "h", "80"], "nc: must use -l with -k\n"),
        (&["-l"], "nc: missing port number\n"),
        (&["localhost"], "nc: missing port number\n"),
        (&["-U", "-4", "/tmp/x"], "nc: missing port number\n"),
        (&["-lU"], "nc: missing socket pathname\n"),
        (&["-U", "-Z", "/tmp/x"], "nc: cannot use -Z and -U\n"),
        (&["-U", "/tmp/x", "80"], "nc: cannot use port with -U\n"),
        (&["-U", "-F", "/tmp/x"], "nc: cannot use -F and -U\n"),
        // The first check that matches wins.
        (&["-lzk"], "nc: missing port number\n"),
        (&["-lzk", "1"], "nc: cannot use -z and -l\n"),
        (
            &["-U", "-Z", "-F", "/tmp/x", "80"],
            "nc: cannot use -Z and -U\n",
        ),
    ]);
}

#[test]
fn proxy_conflicts_in_order() {
    check_errors(&[
        (
            &["-x", "127.0.0.1:1", "-u", "h", "1"],
            "nc: no proxy support for UDP mode\n",
        ),
        (
            &["-x", "127.0.0.1:1", "-Z", "h", "1"],
            "nc: no proxy support for DCCP mode\n",
        ),
        (
            &["-l", "-x", "127.0.0.1", "1234"],
            "nc: no proxy support for listen\n",
        ),
        (
            &["-x", "127.0.0.1", "-U", "/tmp/x"],
            "nc: no proxy support for unix sockets\n",
        ),
        (
            &["-x", "127.0.0.1", "-s", "127.0.0.1", "h", "1"],
            "nc: no proxy support for local source address\n",
        ),
        (
            &["-x", "[::1", "h", "1"],
            "nc: missing closing bracket in proxy\n",
        ),
        (
            &["-x", "[::1]x", "h", "1"],
            "nc: garbage proxy port delimiter\n",
        ),
        (
            &["-x", "[::1", "-l", "-u", "1"],
            "nc: no proxy support for UDP mode\n",
        ),
        (
            &["-x", "[::1", "-l", "1"],
            "nc: no proxy support for listen\n",
        ),
    ]);
}

// --- §5: port specifications -----------------------------------------------

#[test]
fn port_spec_errors() {
    let cases: &[(&str, &str)] = &[
        ("0", "nc: port number too small: 0\n"),
        ("65536", "nc: port number too large: 65536\n"),
        ("0-5", "nc: port number too small: 0\n"),
        ("5-70000", "nc: port number too large: 70000\n"),
        ("1-", "nc: port number invalid: \n"),
        ("", "nc: port number invalid: \n"),
        ("abc", "nc: port number invalid: abc\n"),
        ("80abc", "nc: port number invalid: 80abc\n"),
        ("0x50", "nc: port number invalid: 0x50\n"),
        ("1-abc", "nc: port number invalid: abc\n"),
        ("abc-5", "nc: port number invalid: abc-5\n"),
        ("1-2-3", "nc: port number invalid: 2-3\n"),
        ("nosuchsvc", "nc: port number invalid: nosuchsvc\n"),
        // hi is parsed before lo
        ("x-y", "nc: port number invalid: x-y\n"),
        ("9x-y", "nc: port number invalid: y\n"),
        ("9x-5", "nc: port number invalid: 9x\n"),
        ("0-70000", "nc: port number too large: 70000\n"),
    ];
    let full: Vec<([&str; 3], &str)> = cases
        .iter()
        .map(|(p, e)| (["-z", "127.0.0.1", *p], *e))
        .collect();
    let refs: Vec<(&[&str], &str)> = full.iter().map(|(v, e)| (&v[..], *e)).collect();
    check_errors(&refs);
}

/// Forms nc accepts: shown by a bad port *after* them (all specs are
/// parsed before anything is connected).
#[test]
fn port_spec_accepted_forms() {
    let good = [
        " 80",
        "+80",
        "080",
        "65535",
        "5-1",
        "22-22",
        "1",
        "http-alt",
        "ssh",
        "65535-65535",
    ];
    let full: Vec<([&str; 4], &str)> = good
        .iter()
        .map(|g| {
            (
                ["-z", "127.0.0.1", *g, "0"],
                "nc: port number too small: 0\n",
            )
        })
        .collect();
    let refs: Vec<(&[&str], &str)> = full.iter().map(|(v, e)| (&v[..], *e)).collect();
    check_errors(&refs);
}

/// The first bad spec wins, left to right.
#[test]
fn port_specs_checked_left_to_right() {
    check_errors(&[
        (
            &["-z", "127.0.0.1", "abc", "0"],
            "nc: port number invalid: abc\n",
        ),
        (
            &["-z", "127.0.0.1", "0", "abc"],
            "nc: port number too small: 0\n",
        ),
    ]);
}
