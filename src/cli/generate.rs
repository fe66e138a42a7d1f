//! `--generate`: the manual page and the shell completion scripts, rendered
//! from the one definition of the options.
//!
//! `options::command()` is the single source of every option; clap renders it
//! as `--help`, clap_mangen as the NAME, SYNOPSIS, DESCRIPTION and OPTIONS
//! of `man/ncrab.1`, and clap_complete as the scripts in `completions/`.
//! The rest of the manual (the EOF rules, the scan report, exit statuses,
//! examples...) is hand-written roff kept in [`crate::cli::manual`] and appended
//! here. The committed files are exactly this output (`man/generate.sh`
//! writes them, `tests/docs.rs` fails when they differ), so the manual and
//! the completions cannot drift from the options the parser accepts.

use std::io::{self, Write};

use clap::Command;
use clap_complete::Shell;
use clap_mangen::Man;

use crate::cli::manual;
use crate::cli::options;

/// Renders `target` (one of [`options::GENERATE_TARGETS`]) into `out`.
pub fn render(target: &str, out: &mut Vec<u8>) -> io::Result<()> {
    if target == "man" {
        return man(out);
    }
    let shell: Shell = target
        .parse()
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // clap_complete panics when its writer fails; a Vec never does.
    clap_complete::generate(shell, &mut documented(), "ncrab", out);
    Ok(())
}

/// The command as the manual and the completions present it: every option,
/// including those `--help` leaves out (`--generate`), which packagers use.
fn documented() -> Command {
    let hidden: Vec<String> = options::command()
        .get_arguments()
        .filter(|a| a.is_hide_set())
        .map(|a| a.get_id().to_string())
        .collect();
    let mut cmd = options::command();
    for id in hidden {
        cmd = cmd.mut_arg(id, |a| a.hide(false));
    }
    cmd
}

/// The manual page: clap_mangen's title, NAME, SYNOPSIS, DESCRIPTION and
/// OPTIONS, with the hand-written text of [`manual`] added to DESCRIPTION
/// and after OPTIONS.
fn man(out: &mut Vec<u8>) -> io::Result<()> {
    let page = Man::new(documented())
        .title("NCRAB")
        .date(manual::DATE)
        .manual("User Commands");
    let render = |part: fn(&Man, &mut dyn Write) -> io::Result<()>| {
        let mut buf = Vec::new();
        part(&page, &mut buf).map(|()| buf)
    };
    let title = render(Man::render_title)?;
    // Each clap_mangen part starts with the same roff preamble (it defines
    // the apostrophe string `\*(Aq`): everything the title part holds before
    // its `.TH` line. Keep it once, at the top.
    let preamble_len = find(&title, b".TH ").unwrap_or(0);
    let preamble = &title[..preamble_len];
    let body = |part: Vec<u8>| -> Vec<u8> {
        let text = part.strip_prefix(preamble).unwrap_or(&part);
        wrap_text_lines(&String::from_utf8_lossy(text)).into_bytes()
    };
    // The first line tells man(1) to run the page through tbl(1).
    out.extend_from_slice(b"'\\\" t\n");
    out.extend_from_slice(&title);
    out.extend(body(render(Man::render_name_section)?));
    out.extend(body(render(Man::render_synopsis_section)?));
    out.extend(body(render(Man::render_description_section)?));
    out.extend_from_slice(manual::DESCRIPTION.as_bytes());
    out.extend(body(render(Man::render_options_section)?));
    out.extend_from_slice(manual::SECTIONS.as_bytes());
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The longest text line `mandoc -T lint` accepts without a style warning.
const MAX_LINE: usize = 80;

/// Breaks roff text lines longer than [`MAX_LINE`] at spaces.
///
/// clap_mangen writes each help text as one input line, and mandoc's lint
/// flags input lines over 80 bytes. In fill mode a line break in the input
/// is the same word space as a blank, so breaking at a space changes
/// nothing in the output. Control lines are left alone, as are escaped
/// spaces (`\ `), and no new line may start with `.` or `'` (which would
/// make it a control line).
fn wrap_text_lines(roff: &str) -> String {
    let mut out = String::with_capacity(roff.len() + roff.len() / 40);
    for line in roff.split_inclusive('\n') {
        let (text, nl) = match line.strip_suffix('\n') {
            Some(t) => (t, "\n"),
            None => (line, ""),
        };
        if text.len() <= MAX_LINE || text.starts_with(['.', '\'']) {
            out.push_str(line);
            continue;
        }
        let mut current = String::new();
        for word in words(text) {
            let fits = current.len() + 1 + word.len() <= MAX_LINE;
            if current.is_empty() || fits || word.starts_with(['.', '\'']) {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(word);
            } else {
                out.push_str(&current);
                out.push('\n');
                current = word.to_string();
            }
        }
        out.push_str(&current);
        out.push_str(nl);
    }
    out
}

/// Splits a roff text line at its unescaped single spaces: a space after an
/// odd number of backslashes is an escape (`\ `), and a run of spaces is
/// kept as it is, inside one word.
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut backslashes = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let lone =
            i > start && bytes[i - 1] != b' ' && bytes.get(i + 1).is_some_and(|&n| n != b' ');
        if b == b' ' && backslashes % 2 == 0 && lone {
            words.push(&text[start..i]);
            start = i + 1;
        }
        backslashes = if b == b'\\' { backslashes + 1 } else { 0 };
    }
    words.push(&text[start..]);
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::options::GENERATE_TARGETS;

    #[test]
    fn long_text_lines_break_at_plain_spaces() {
        let long = format!("{} tail", "word ".repeat(20));
        let out = wrap_text_lines(&format!(".TP\n{long}\nshort\n"));
        assert!(out.lines().all(|l| l.len() <= MAX_LINE));
        assert_eq!(out.split_whitespace().collect::<Vec<_>>(), {
            let mut w = vec![".TP"];
            w.extend(long.split_whitespace());
            w.push("short");
            w
        });
        // Never a new line that starts as a control line, never at `\ `.
        let tricky = format!("{}\\ x .dot 'q", "a".repeat(78));
        let out = wrap_text_lines(&tricky);
        assert!(out.lines().skip(1).all(|l| !l.starts_with(['.', '\''])));
        assert!(out.contains("\\ x"));
    }

    #[test]
    fn every_target_renders() {
        for t in GENERATE_TARGETS {
            let mut out = Vec::new();
            render(t, &mut out).unwrap();
            assert!(out.len() > 1000, "{t}");
        }
    }

    #[test]
    fn the_manual_documents_every_option_once_with_one_preamble() {
        let mut out = Vec::new();
        render("man", &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert_eq!(page.matches(".ds Aq").count(), 2, "one .ie/.el pair");
        for a in options::command().get_arguments() {
            if let Some(l) = a.get_long() {
                let l = l.replace('-', "\\-");
                assert!(page.contains(&format!("\\-\\-{l}")), "--{l}");
            }
        }
    }
}
