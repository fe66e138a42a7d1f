//! `--pty` and `--raw` (issue 25): children on pseudo-terminals, the
//! window-size message, and the raw client on a real terminal
//! ([`Pty`]). Every session is a real `/bin/sh` on its pty; what the
//! tests read is what the terminal shows (the pty echoes what is typed,
//! so each marker is computed by the shell, never typed as it is shown).

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

/// Starts `ncrab ARGS PORT` (a listener) in `net` and waits until it listens.
fn listener(net: &Net, args: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let ps = port.to_string();
    let mut a: Vec<&str> = args.to_vec();
    a.push(&ps);
    let mut p = net.wrap(Cmd::ncrab(&a)).spawn();
    net.expect_listen(&mut p, port);
    (p, port)
}

/// A plain TCP client of a `--pty` server: what it typed, what it saw.
struct Term {
    s: TcpStream,
    seen: Vec<u8>,
    /// Where the next [`Term::expect`] looks from: after the last match.
    pos: usize,
}

impl Term {
    fn open(net: &Net, port: u16) -> Term {
        let s = net.connect(&format!("127.0.0.1:{port}"));
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        Term {
            s,
            seen: Vec::new(),
            pos: 0,
        }
    }

    fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    /// Reads until `needle` shows after the last match: the bytes after
    /// it.
    #[track_caller]
    fn expect(&mut self, needle: &[u8], limit: Duration) -> Vec<u8> {
        let from = self.pos;
        let end = Instant::now() + limit;
        loop {
            if let Some(i) = find(&self.seen[from..], needle) {
                self.pos = from + i + needle.len();
                return self.seen[self.pos..].to_vec();
            }
            if Instant::now() >= end {
                panic!("no {} in {}", escape(needle), escape(&self.seen[from..]));
            }
            let mut buf = [0u8; 4096];
            match self.s.read(&mut buf) {
                Ok(0) => thread_sleep(10),
                Ok(n) => self.seen.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    }

    /// Reads to the end of the stream: true if it came.
    fn until_eof(&mut self, limit: Duration) -> bool {
        self.s.set_read_timeout(Some(limit)).unwrap();
        let (rest, eof) = read_until_eof(&mut self.s, limit);
        self.seen.extend_from_slice(&rest);
        eof
    }
}

fn thread_sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The decimal number at the start of `b`.
fn number(b: &[u8]) -> u64 {
    let digits: Vec<u8> = b.iter().copied().take_while(u8::is_ascii_digit).collect();
    String::from_utf8(digits).unwrap().parse().unwrap()
}

/// The window-size message (see src/relay/winsize.rs).
fn size_msg(rows: u16, cols: u16) -> Vec<u8> {
    let mut m = vec![0xFF, b'W'];
    m.extend_from_slice(&rows.to_be_bytes());
    m.extend_from_slice(&cols.to_be_bytes());
    m
}

const LIMIT: Duration = Duration::from_secs(5);

#[test]
fn listener_child_is_a_session_leader_on_its_terminal() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("pty_session");
    let (mut srv, port) = listener(&net, &["-l", "--pty", "--exec", "/bin/sh"]);
    let mut t = Term::open(&net, port);
    // /proc/$$/stat: pid comm state ppid pgrp session tty_nr tpgid.
    t.send(b"read p c s pp g sid tty tpgid r < /proc/$$/stat; echo \"S$((1))=$sid:P=$$:T=$tty:G=$tpgid:\"\n");
    let after = t.expect(b"S1=", LIMIT);
    let sid = number(&after);
    let rest = &after[find(&after, b"P=").unwrap() + 2..];
    assert_eq!(number(rest), sid, "the shell leads its session");
    let rest = &rest[find(rest, b"T=").unwrap() + 2..];
    assert_ne!(number(rest), 0, "it has a controlling terminal");
    let rest = &rest[find(rest, b"G=").unwrap() + 2..];
    assert_eq!(number(rest), sid, "it is the terminal's foreground group");
    t.send(b"tty; stty size; ls /nonexistent-pty-$((6*7))\n");
    let after = t.expect(b"/dev/pts/", LIMIT);
    assert!(after[0].is_ascii_digit(), "{}", escape(&after));
    // The first window size (no message from a plain client); stderr
    // on the terminal too.
    t.expect(b"24 80\r\n", LIMIT);
    t.expect(b"/nonexistent-pty-42", LIMIT);
    // The client's end of stream is typed as ^D: the shell exits, the
    // session ends, the listener exits 0 with no child left.
    t.s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(t.until_eof(LIMIT), "{}", escape(&t.seen));
    let o = srv.expect_exit(LIMIT);
    o.assert_code(0);
    expect_no_children(srv.pid(), LIMIT);
}

#[test]
fn ctrl_c_and_job_control_reach_the_child() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("pty_jobs");
    let (mut srv, port) = listener(&net, &["-l", "--pty", "--exec", "/bin/sh"]);
    let mut t = Term::open(&net, port);
    t.send(b"sleep 30 &\njobs; echo J$((6*7))\n");
    let jobs = t.expect(b"J42\r\n", LIMIT);
    let shown = &t.seen[..t.seen.len() - jobs.len()];
    assert!(find(shown, b"Running").is_some(), "{}", escape(shown));
    assert!(find(shown, b"sleep 30").is_some(), "{}", escape(shown));
    // ^C interrupts a foreground sleep: the next command runs at once
    // (timed on purpose: without the interrupt it would wait 30 s).
    t.send(b"echo F$((5*5)); sleep 30\n");
    t.expect(b"F25\r\n", LIMIT);
    thread_sleep(300);
    let sent = Instant::now();
    t.send(b"\x03");
    t.send(b"echo C$((7*7))\n");
    t.expect(b"C49\r\n", LIMIT);
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    t.send(b"kill %1; exit\n");
    assert!(t.until_eof(LIMIT), "{}", escape(&t.seen));
    srv.expect_exit(LIMIT).assert_code(0);
    expect_no_children(srv.pid(), LIMIT);
}

#[test]
fn full_screen_output_and_window_size_messages() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("pty_size");
    let (mut srv, port) = listener(&net, &["-l", "--pty", "--sh-exec", "exec /bin/sh"]);
    let mut t = Term::open(&net, port);
    // An ncrab --raw client's opening: its size.
    let mut first = size_msg(30, 100);
    first.extend_from_slice(b"printf '\\033[2J\\033[%dH' 1; stty size\n");
    t.send(&first);
    t.expect(b"\x1b[2J\x1b[1H30 100\r\n", LIMIT);
    // A resize mid-stream, then a literal 0xFF (escaped) reaching the
    // child: `od` shows it.
    let mut next = size_msg(50, 132);
    next.extend_from_slice(b"stty size; stty raw -echo; head -c 1 | od -An -tx1; stty sane\n");
    t.send(&next);
    t.expect(b"50 132\r\n", LIMIT);
    thread_sleep(300);
    t.send(b"\xff\xff");
    t.expect(b" ff", LIMIT);
    t.send(b"exit\n");
    assert!(t.until_eof(LIMIT), "{}", escape(&t.seen));
    srv.expect_exit(LIMIT).assert_code(0);
}

#[test]
fn concurrent_sessions_each_get_a_terminal() {
    if !is_ncrab() {
        return;
    }
    let net = Net::new("pty_lk");
    let (mut srv, port) = listener(&net, &["-lk", "--pty", "--exec", "/bin/sh"]);
    let mut terms: Vec<Term> = (0..3).map(|_| Term::open(&net, port)).collect();
    let mut ttys = Vec::new();
    for t in &mut terms {
        t.send(b"tty\n");
        let after = t.expect(b"/dev/pts/", LIMIT);
        ttys.push(number(&after));
    }
    ttys.sort();
    ttys.dedup();
    assert_eq!(ttys.len(), 3, "{ttys:?}");
    let kids = children(srv.pid());
    assert_eq!(kids.len(), 3, "{kids:?}");
    for t in &mut terms {
        t.send(b"exit\n");
        assert!(t.until_eof(LIMIT), "{}", escape(&t.seen));
    }
    // No zombie, no child: every session's child was reaped.
    expect_no_children(srv.pid(), LIMIT);
    srv.expect_running(Duration::from_millis(200));
    srv.signal(libc::SIGTERM);
    srv.expect_exit(LIMIT);
}

// ---------------------------------------------------------------------------
// --raw
// ---------------------------------------------------------------------------

/// `stty -g` of the terminal `slave`.
fn stty_g(slave: &std::path::Path) -> String {
    let o = Command::new("stty")
        .arg("-g")
        .arg("-F")
        .arg(slave)
        .output()
        .expect("stty");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn set_size(pty: &Pty, rows: u16, cols: u16) {
    let fd = pty.open_slave();
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize on our own fd.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
        0
    );
}

/// An `ncrab --raw` client on a new terminal, connected to a `--pty`
/// listener, with its terminal's settings before.
fn raw_session(tag: &str) -> (Net, Proc, Pty, Proc, String) {
    let net = Net::new(tag);
    let (srv, port) = listener(&net, &["-l", "--pty", "--exec", "/bin/sh"]);
    let pty = Pty::open().unwrap();
    set_size(&pty, 33, 111);
    let before = stty_g(&pty.slave);
    let ps = port.to_string();
    let cli = net
        .wrap(Cmd::ncrab(&["--raw", "127.0.0.1", &ps]))
        .tty(&pty.slave)
        .stdin(Input::Fd(pty.open_slave()))
        .stdout(OutputTo::Fd(pty.open_slave()))
        .spawn();
    (net, srv, pty, cli, before)
}

#[test]
fn raw_client_sizes_and_leaves_with_tilde_dot() {
    if !is_ncrab() {
        return;
    }
    let (_net, mut srv, mut pty, mut cli, before) = raw_session("pty_raw_escape");
    pty.type_text(b"stty size\r");
    assert!(
        pty.wait_for(b"33 111\r\n", LIMIT),
        "{}",
        escape(&pty.screen())
    );
    // Raw while the session lasts.
    assert_ne!(stty_g(&pty.slave), before);
    assert_eq!(pty.echo_on(), Some(false));
    // A resize of the client's terminal reaches the child.
    set_size(&pty, 40, 120);
    cli.signal(libc::SIGWINCH);
    pty.type_text(b"stty size\r");
    assert!(
        pty.wait_for(b"40 120\r\n", LIMIT),
        "{}",
        escape(&pty.screen())
    );
    pty.type_text(b"\r~.");
    let o = cli.expect_exit(LIMIT);
    o.assert_code(0);
    assert_eq!(stty_g(&pty.slave), before);
    // The server's session ends with the connection.
    srv.expect_exit(LIMIT).assert_code(0);
    expect_no_children(srv.pid(), LIMIT);
}

#[test]
fn raw_client_restores_the_terminal_when_the_peer_ends() {
    if !is_ncrab() {
        return;
    }
    let (_net, mut srv, mut pty, mut cli, before) = raw_session("pty_raw_exit");
    pty.type_text(b"echo R$((8*8))\r");
    assert!(pty.wait_for(b"R64\r\n", LIMIT), "{}", escape(&pty.screen()));
    assert_ne!(stty_g(&pty.slave), before);
    pty.type_text(b"exit\r");
    cli.expect_exit(LIMIT).assert_code(0);
    assert_eq!(stty_g(&pty.slave), before);
    srv.expect_exit(LIMIT).assert_code(0);
}

#[test]
fn raw_client_restores_the_terminal_after_sigterm() {
    if !is_ncrab() {
        return;
    }
    let (_net, _srv, mut pty, mut cli, before) = raw_session("pty_raw_term");
    pty.type_text(b"echo T$((9*9))\r");
    assert!(pty.wait_for(b"T81\r\n", LIMIT), "{}", escape(&pty.screen()));
    assert_ne!(stty_g(&pty.slave), before);
    cli.signal(libc::SIGTERM);
    let o = cli.expect_exit(LIMIT);
    assert_eq!(o.signal(), Some(libc::SIGTERM), "{o}");
    assert_eq!(stty_g(&pty.slave), before);
}

#[test]
fn raw_needs_a_terminal() {
    if !is_ncrab() {
        return;
    }
    let o = Cmd::ncrab(&["--raw", "127.0.0.1", "9"]).run(LIMIT);
    o.assert_code(1);
    o.assert_stderr(b"nc: --raw: standard input is not a terminal\n");
    let o = Cmd::ncrab(&["-l", "--pty", "127.0.0.1", "9"]).run(LIMIT);
    o.assert_code(1);
    o.assert_stderr(b"nc: --pty needs --exec or --sh-exec\n");
    let o = Cmd::ncrab(&["-lu", "--pty", "--exec", "/bin/sh", "127.0.0.1", "9"]).run(LIMIT);
    o.assert_code(1);
    o.assert_stderr(b"nc: cannot use --pty and -u\n");
    // With a terminal as stdin, the combinations without a raw relay.
    let pty = Pty::open().unwrap();
    for (args, line) in [
        (
            &["--raw", "-l", "127.0.0.1", "9"][..],
            "cannot use --raw and -l",
        ),
        (
            &["--raw", "--exec", "cat", "127.0.0.1", "9"][..],
            "cannot use --raw and --exec",
        ),
        (
            &["--raw", "-c", "127.0.0.1", "9"][..],
            "cannot use -c and --raw",
        ),
    ] {
        let o = Cmd::ncrab(args)
            .stdin(Input::Fd(pty.open_slave()))
            .run(LIMIT);
        o.assert_code(1);
        o.assert_stderr(format!("nc: {line}\n").as_bytes());
    }
}
