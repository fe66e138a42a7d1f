//! GNU getopt_long, as glibc does it, over the options clap defines.
//!
//! nc's command line is parsed by glibc getopt: options are permuted past
//! operands, flags cluster (`-zvw1`), values attach (`-q-1`) or take the next
//! word whatever it looks like (`-w -5`), `--` ends the options, and
//! `POSIXLY_CORRECT` stops at the first operand. nc validates each option
//! *inside* the getopt loop, so the first bad option on the line decides the
//! error. This module reproduces exactly that walk and yields the options one
//! at a time, in command-line order, so the caller can validate as it goes.
//! Long options (ncrab's extension) follow getopt_long: `--name`,
//! `--name=value`, `--name value`, and unambiguous prefixes.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// One option as the command line defines it.
#[derive(Clone, Debug)]
pub struct OptDef {
    /// clap's id of the argument.
    pub id: &'static str,
    pub short: Option<char>,
    pub long: Option<&'static str>,
    pub takes_value: bool,
    /// A long option whose value is optional (`--banner`, `--banner=MS`):
    /// given only attached with `=`, never taken from the next word.
    pub optional_value: bool,
}

/// What the walk found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// An option with its value, if it takes one.
    Opt(&'static str, Option<OsString>),
}

/// getopt's own errors, with glibc's texts (less the `argv[0]: ` prefix).
#[derive(Debug, PartialEq, Eq)]
pub enum GetoptError {
    /// `invalid option -- 'Y'`
    InvalidShort(u8),
    /// `option requires an argument -- 'w'`
    MissingShort(char),
    /// `unrecognized option '--foo'`
    UnknownLong(OsString),
    /// `option '--wait' requires an argument`
    MissingLong(&'static str),
    /// `option '--verbose' doesn't allow an argument`
    LongNoArg(&'static str),
    /// `option '--ver' is ambiguous; possibilities: '--verbose' '--version'`
    Ambiguous(OsString, Vec<&'static str>),
}

impl GetoptError {
    /// The message as glibc prints it after `argv[0]: `.
    pub fn message(&self) -> Vec<u8> {
        match self {
            GetoptError::InvalidShort(c) => {
                let mut m = b"invalid option -- '".to_vec();
                m.push(*c);
                m.push(b'\'');
                m
            }
            GetoptError::MissingShort(c) => {
                format!("option requires an argument -- '{c}'").into_bytes()
            }
            GetoptError::UnknownLong(s) => {
                let mut m = b"unrecognized option '".to_vec();
                m.extend_from_slice(s.as_bytes());
                m.push(b'\'');
                m
            }
            GetoptError::MissingLong(l) => {
                format!("option '--{l}' requires an argument").into_bytes()
            }
            GetoptError::LongNoArg(l) => {
                format!("option '--{l}' doesn't allow an argument").into_bytes()
            }
            GetoptError::Ambiguous(s, cands) => {
                let mut m = b"option '".to_vec();
                m.extend_from_slice(s.as_bytes());
                m.extend_from_slice(b"' is ambiguous; possibilities:");
                for c in cands {
                    m.extend_from_slice(format!(" '--{c}'").as_bytes());
                }
                m
            }
        }
    }
}

/// The walk over `args` (without `argv[0]`).
pub struct Getopt<'a> {
    defs: &'a [OptDef],
    args: Vec<OsString>,
    /// Index of the word being examined.
    idx: usize,
    /// Position inside a cluster of short options (0 = not in a cluster).
    sub: usize,
    operands: Vec<OsString>,
    posixly_correct: bool,
    done: bool,
}

impl<'a> Getopt<'a> {
    pub fn new(defs: &'a [OptDef], args: Vec<OsString>, posixly_correct: bool) -> Self {
        Getopt {
            defs,
            args,
            idx: 0,
            sub: 0,
            operands: Vec::new(),
            posixly_correct,
            done: false,
        }
    }

    /// The operands, in order, once the walk has ended.
    pub fn operands(self) -> Vec<OsString> {
        self.operands
    }

    fn finish_rest(&mut self) {
        while self.idx < self.args.len() {
            self.operands.push(std::mem::take(&mut self.args[self.idx]));
            self.idx += 1;
        }
        self.done = true;
    }

    fn next_short(&mut self) -> Option<Result<Item, GetoptError>> {
        let word = self.args[self.idx].as_bytes().to_vec();
        let c = word[self.sub];
        self.sub += 1;
        let at_end = self.sub >= word.len();
        let def = self.defs.iter().find(|d| {
            d.short
                .is_some_and(|s| s.is_ascii() && s as u32 == c as u32)
        });
        let Some(def) = def else {
            if at_end {
                self.idx += 1;
                self.sub = 0;
            }
            return Some(Err(GetoptError::InvalidShort(c)));
        };
        if !def.takes_value {
            if at_end {
                self.idx += 1;
                self.sub = 0;
            }
            return Some(Ok(Item::Opt(def.id, None)));
        }
        // An option with a value: the rest of this word, or the next word.
        let value = if !at_end {
            let v = OsString::from_vec(word[self.sub..].to_vec());
            self.idx += 1;
            v
        } else if self.idx + 1 < self.args.len() {
            let v = std::mem::take(&mut self.args[self.idx + 1]);
            self.idx += 2;
            v
        } else {
            self.idx += 1;
            self.sub = 0;
            self.done = true;
            return Some(Err(GetoptError::MissingShort(c as char)));
        };
        self.sub = 0;
        Some(Ok(Item::Opt(def.id, Some(value))))
    }

    fn next_long(&mut self) -> Option<Result<Item, GetoptError>> {
        let word = std::mem::take(&mut self.args[self.idx]);
        self.idx += 1;
        let body = &word.as_bytes()[2..];
        let (name, inline) = match body.iter().position(|&b| b == b'=') {
            Some(i) => (
                &body[..i],
                Some(OsStr::from_bytes(&body[i + 1..]).to_os_string()),
            ),
            None => (body, None),
        };
        let longs = self.defs.iter().filter(|d| d.long.is_some());
        let exact = longs.clone().find(|d| d.long.unwrap().as_bytes() == name);
        let def = match exact {
            Some(d) => d,
            None => {
                let cands: Vec<&OptDef> = longs
                    .filter(|d| d.long.unwrap().as_bytes().starts_with(name))
                    .collect();
                match cands.len() {
                    1 => cands[0],
                    0 => {
                        let shown = OsStr::from_bytes(&word.as_bytes()[..2 + name.len()]);
                        return Some(Err(GetoptError::UnknownLong(shown.to_os_string())));
                    }
                    _ => {
                        let shown = OsStr::from_bytes(&word.as_bytes()[..2 + name.len()]);
                        return Some(Err(GetoptError::Ambiguous(
                            shown.to_os_string(),
                            cands.iter().map(|d| d.long.unwrap()).collect(),
                        )));
                    }
                }
            }
        };
        let long = def.long.unwrap();
        if !def.takes_value {
            if inline.is_some() {
                return Some(Err(GetoptError::LongNoArg(long)));
            }
            return Some(Ok(Item::Opt(def.id, None)));
        }
        if let Some(v) = inline {
            return Some(Ok(Item::Opt(def.id, Some(v))));
        }
        if def.optional_value {
            return Some(Ok(Item::Opt(def.id, None)));
        }
        if self.idx < self.args.len() {
            let v = std::mem::take(&mut self.args[self.idx]);
            self.idx += 1;
            return Some(Ok(Item::Opt(def.id, Some(v))));
        }
        self.done = true;
        Some(Err(GetoptError::MissingLong(long)))
    }
}

impl Iterator for Getopt<'_> {
    type Item = Result<Item, GetoptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.sub > 0 {
            return self.next_short();
        }
        loop {
            if self.idx >= self.args.len() {
                self.done = true;
                return None;
            }
            let word = self.args[self.idx].as_bytes();
            if word == b"--" {
                self.idx += 1;
                self.finish_rest();
                return None;
            }
            if word.len() >= 2 && word.starts_with(b"--") {
                return self.next_long();
            }
            if word.len() >= 2 && word[0] == b'-' {
                self.sub = 1;
                return self.next_short();
            }
            // An operand ("-" alone included).
            if self.posixly_correct {
                self.finish_rest();
                return None;
            }
            self.operands.push(std::mem::take(&mut self.args[self.idx]));
            self.idx += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<OptDef> {
        vec![
            OptDef {
                id: "z",
                short: Some('z'),
                long: Some("zero-io"),
                takes_value: false,
                optional_value: false,
            },
            OptDef {
                id: "v",
                short: Some('v'),
                long: Some("verbose"),
                takes_value: false,
                optional_value: false,
            },
            OptDef {
                id: "w",
                short: Some('w'),
                long: Some("wait"),
                takes_value: true,
                optional_value: false,
            },
            OptDef {
                id: "q",
                short: Some('q'),
                long: Some("quit"),
                takes_value: true,
                optional_value: false,
            },
            OptDef {
                id: "ver",
                short: None,
                long: Some("version"),
                takes_value: false,
                optional_value: false,
            },
        ]
    }

    fn walk(args: &[&str], posix: bool) -> (Vec<Result<Item, GetoptError>>, Vec<OsString>) {
        let d = defs();
        let mut g = Getopt::new(&d, args.iter().map(OsString::from).collect(), posix);
        let items: Vec<_> = g.by_ref().collect();
        (items, g.operands())
    }

    fn opt(id: &'static str, v: Option<&str>) -> Result<Item, GetoptError> {
        Ok(Item::Opt(id, v.map(OsString::from)))
    }

    #[test]
    fn clusters_and_attached_values() {
        let (items, ops) = walk(&["-zvw1", "host", "80"], false);
        assert_eq!(
            items,
            vec![opt("z", None), opt("v", None), opt("w", Some("1"))]
        );
        assert_eq!(ops, vec![OsString::from("host"), OsString::from("80")]);
        let (items, _) = walk(&["-q-1"], false);
        assert_eq!(items, vec![opt("q", Some("-1"))]);
        let (items, _) = walk(&["-w", "-5"], false);
        assert_eq!(items, vec![opt("w", Some("-5"))]);
    }

    #[test]
    fn permutes_and_stops_at_double_dash() {
        let (items, ops) = walk(&["host", "-v", "80", "--", "-z"], false);
        assert_eq!(items, vec![opt("v", None)]);
        assert_eq!(ops, ["host", "80", "-z"].map(OsString::from).to_vec());
        let (items, ops) = walk(&["host", "-v"], true);
        assert!(items.is_empty());
        assert_eq!(ops, ["host", "-v"].map(OsString::from).to_vec());
    }

    #[test]
    fn errors() {
        let (items, _) = walk(&["-zY"], false);
        assert_eq!(
            items,
            vec![opt("z", None), Err(GetoptError::InvalidShort(b'Y'))]
        );
        let (items, _) = walk(&["-w"], false);
        assert_eq!(items, vec![Err(GetoptError::MissingShort('w'))]);
        let (items, _) = walk(&["--help"], false);
        assert_eq!(items, vec![Err(GetoptError::UnknownLong("--help".into()))]);
        let (items, _) = walk(&["--ver"], false);
        assert_eq!(
            items,
            vec![Err(GetoptError::Ambiguous(
                "--ver".into(),
                vec!["verbose", "version"]
            ))]
        );
    }

    #[test]
    fn long_forms() {
        let (items, _) = walk(&["--wait=3", "--wait", "4", "--verb", "--zero-io"], false);
        assert_eq!(
            items,
            vec![
                opt("w", Some("3")),
                opt("w", Some("4")),
                opt("v", None),
                opt("z", None)
            ]
        );
        let (items, _) = walk(&["--verbose=1"], false);
        assert_eq!(items, vec![Err(GetoptError::LongNoArg("verbose"))]);
        let (items, _) = walk(&["--wait"], false);
        assert_eq!(items, vec![Err(GetoptError::MissingLong("wait"))]);
        assert_eq!(
            GetoptError::Ambiguous("--ver".into(), vec!["verbose", "version"]).message(),
            b"option '--ver' is ambiguous; possibilities: '--verbose' '--version'".to_vec()
        );
    }
}
