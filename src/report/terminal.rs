//! The terminal's status line (`--progress`): drawn on standard error
//! when it is a terminal, erased before any other line goes there.

use std::time::Duration;

use super::human_bytes;
use super::out::{STATUS_SHOWN, Stream, write_to};
use super::prog_str;

/// Erases the status line, if shown.
pub fn status_clear() {
    if STATUS_SHOWN.get() {
        STATUS_SHOWN.set(false);
        write_to(Stream::Stderr, b"\r\x1b[K");
    }
}

/// Draws a status line in place (no newline): the terminal's line is
/// rewritten from its start and cleared to its end.
fn status_draw(text: &str) {
    let mut b = Vec::with_capacity(text.len() + 8);
    b.extend_from_slice(b"\r");
    b.extend_from_slice(text.as_bytes());
    b.extend_from_slice(b"\x1b[K");
    write_to(Stream::Stderr, &b);
    STATUS_SHOWN.set(true);
}

/// `h:mm:ss` or `m:ss`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A scan's status line: `PROG: 1200/254000 ports, 3 open, 950/s, 4:26 left`.
pub fn scan_status(done: u64, total: u64, open: u64, rate: f64, left: Option<Duration>) {
    let left = left.map_or_else(|| "--:--".to_string(), clock);
    let text = format!(
        "{}: {done}/{total} ports, {open} open, {rate:.0}/s, {left} left",
        prog_str()
    );
    status_draw(&text);
}

/// A transfer's status line (`--progress`): bytes each way and the rate,
/// and with a known size the percentage and time left.
pub fn transfer_status(
    sent: u64,
    received: u64,
    rate: f64,
    size: Option<u64>,
    left: Option<Duration>,
) {
    let mut text = format!(
        "{}: sent {}, received {}, {}/s",
        prog_str(),
        human_bytes(sent),
        human_bytes(received),
        human_bytes(rate as u64)
    );
    if let Some(size) = size.filter(|&s| s > 0) {
        let pct = (sent as f64 * 100.0 / size as f64).min(100.0);
        text.push_str(&format!(" ({pct:.0}% of {}", human_bytes(size)));
        if let Some(l) = left {
            text.push_str(&format!(", {} left", clock(l)));
        }
        text.push(')');
    }
    status_draw(&text);
}
