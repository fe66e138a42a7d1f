//! Byte-exact bulk transfers: 64 MiB of random data, generated per test,
//! checked with sha256sum, in both directions (client -> listener and
//! listener -> client), from a pipe and from a regular file, between two
//! copies of the binary under test and between it and nc.openbsd in both
//! roles. The sender uses -N so that both ends exit on their own.
//!
//! Also the regular-file stdin's details (it is sent from a memory window
//! of the file on the default path): it goes out from the offset stdin had
//! and leaves the offset at the end, as read(2) would; and a short tail
//! after a bulk transfer is not held back by the receive batching.
//!
//! (No full-duplex case: a listener ends as soon as the client's data has
//! ended, even with its own stdin unsent (docs/compatibility.md §6.1 rule c),
//! so the outcome would depend on which side finishes first.)

mod common;
use common::*;
use std::path::PathBuf;

const SIZE: usize = 64 << 20;

#[derive(Clone, Copy, Debug)]
enum Who {
    Bin,
    OpenBsd,
}

#[derive(Clone, Copy, Debug)]
enum From {
    File,
    Pipe,
}

fn cmd(net: &Net, who: Who, args: &[&str]) -> Cmd {
    match who {
        Who::Bin => net.nc(args),
        Who::OpenBsd => net.openbsd(args),
    }
}

/// Send SIZE random bytes from `sender` to `receiver`; `listener_sends`
/// says which side listens.
fn transfer(listener: Who, client: Who, listener_sends: bool, from: From) {
    let needs_openbsd = matches!(listener, Who::OpenBsd) || matches!(client, Who::OpenBsd);
    if needs_openbsd && !openbsd_required() {
        return;
    }
    let net = Net::new("xfer");
    let dir = TempDir::new("xfer");
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    random_file(&src, SIZE);
    let input = || match from {
        From::File => Input::File(src.clone()),
        From::Pipe => Input::PipeFrom(src.clone()),
    };

    let port = free_port();
    let ps = port.to_string();
    let (l_args, c_args): (Vec<&str>, Vec<&str>) = if listener_sends {
        (vec!["-l", "-N", &ps], vec!["127.0.0.1", &ps])
    } else {
        (vec!["-l", &ps], vec!["-N", "127.0.0.1", &ps])
    };
    let (l_in, l_out, c_in, c_out) = if listener_sends {
        (
            input(),
            OutputTo::Capture,
            Input::Null,
            OutputTo::File(dst.clone()),
        )
    } else {
        (
            Input::Null,
            OutputTo::File(dst.clone()),
            input(),
            OutputTo::Capture,
        )
    };
    let mut l = cmd(&net, listener, &l_args)
        .stdin(l_in)
        .stdout(l_out)
        .spawn();
    net.expect_listen(&mut l, port);
    let mut c = cmd(&net, client, &c_args).stdin(c_in).stdout(c_out).spawn();
    let co = c.expect_exit(secs(60));
    let lo = l.expect_exit(secs(10));
    lo.assert(0, b"", b"");
    co.assert(0, b"", b"");
    let (a, b) = (sha256(&src), sha256(&dst));
    let got = std::fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        a, b,
        "sha256 differs: sent {SIZE} bytes, received {got} (listener {listener:?}, client {client:?}, listener_sends {listener_sends}, from {from:?})"
    );
}

#[test]
fn bin_client_file_to_bin_listener() {
    transfer(Who::Bin, Who::Bin, false, From::File);
}

#[test]
fn bin_listener_pipe_to_bin_client() {
    transfer(Who::Bin, Who::Bin, true, From::Pipe);
}

#[test]
fn bin_client_pipe_to_openbsd_listener() {
    transfer(Who::OpenBsd, Who::Bin, false, From::Pipe);
}

#[test]
fn openbsd_client_file_to_bin_listener() {
    transfer(Who::Bin, Who::OpenBsd, false, From::File);
}

#[test]
fn bin_listener_file_to_openbsd_client() {
    transfer(Who::Bin, Who::OpenBsd, true, From::File);
}

#[test]
fn openbsd_listener_pipe_to_bin_client() {
    transfer(Who::OpenBsd, Who::Bin, true, From::Pipe);
}

/// Regular-file stdin: the bytes go out from the offset the shell left
/// (dd read 1000 bytes first), and afterwards the offset is at the end of
/// the file: `cat` reading the same stdin finds nothing more.
#[test]
fn file_stdin_from_its_offset_leaves_the_offset_at_the_end() {
    let net = Net::new("xoff");
    let dir = TempDir::new("xoff");
    let src = dir.join("src.bin");
    let len = (3 << 20) + 777;
    random_file(&src, len);
    let data = std::fs::read(&src).unwrap();
    let s = net.one(|mut c| {
        c.read_to_eof(secs(30));
    });
    let script = format!(
        "dd bs=1000 count=1 of=/dev/null 2>/dev/null; '{}' -N 127.0.0.1 {} && cat",
        bin().display(),
        s.port()
    );
    let o = net
        .wrap(Cmd::with_target(
            PathBuf::from("/bin/sh"),
            "sh",
            &["-c", script.as_str()],
        ))
        .stdin(Input::File(src.clone()))
        .run(secs(60));
    o.assert(0, b"", b"");
    assert!(s.wait_eof(secs(10)), "the server never saw EOF");
    let got = s.received();
    assert_eq!(got.len(), len - 1000, "bytes received");
    assert!(
        got == data[1000..],
        "the bytes differ from the file's after offset 1000"
    );
}

/// After a bulk transfer (which turns on receive batching), a short tail
/// with no end of stream behind it still reaches stdout while the
/// connection stays open. (Stdout is a file, so that the reads are as
/// large as in a real bulk transfer.)
#[test]
fn a_short_tail_after_a_bulk_transfer_is_not_held_back() {
    let net = Net::new("xtail");
    let dir = TempDir::new("xtail");
    let out = dir.join("out.bin");
    let len = 32 << 20;
    let s = net.one(move |mut c| {
        c.send(&vec![b'b'; len]);
        std::thread::sleep(ms(300));
        c.send(b"TAIL\n");
        c.hold(secs(8));
    });
    let mut p = net
        .nc(&["127.0.0.1", &s.port_str()])
        .stdin(Input::Pipe)
        .stdout(OutputTo::File(out.clone()))
        .spawn();
    let start = std::time::Instant::now();
    let size = || {
        std::fs::metadata(&out)
            .map(|m| m.len() as usize)
            .unwrap_or(0)
    };
    while size() < len + 5 && start.elapsed() < secs(5) {
        std::thread::sleep(ms(20));
    }
    let got = size();
    let o = p.kill();
    assert_eq!(
        got,
        len + 5,
        "bytes on stdout while the connection was open: {o}"
    );
    let data = std::fs::read(&out).unwrap();
    assert!(data.ends_with(b"bTAIL\n"), "the tail is not last");
}
