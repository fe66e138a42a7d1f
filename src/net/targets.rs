//! Many destinations in one run (extensions: nc rejects every one of
//! these forms): CIDR blocks (`10.0.0.0/24`, `fd00::/120`), IPv4 ranges
//! (`10.0.0.1-40`, `10.0.0-3.1`), comma lists of those and host names, and
//! `--hosts FILE` (one item per line, `#` comments, `-` for stdin).
//!
//! The list is parsed and checked whole before anything is sent, then
//! walked lazily: [`Targets::iter`] computes each address from its index,
//! so a /16 costs a few words, never 65,536 entries.
//!
//! What counts as an extension: a text with a comma; `ADDRESS/PREFIX`
//! where ADDRESS is a numeric IPv4 or IPv6 address; four dot-separated
//! parts made only of digits and `-` with at least one `-`. Anything else
//! is a host name, handed to getaddrinfo exactly as nc hands it (so
//! `example-1.net` and `foo/bar` behave as before).
//!
//! Network and broadcast addresses of an IPv4 block larger than /31 are
//! skipped (as nmap does); a /31 or /32 is used whole, and IPv6 blocks are
//! never trimmed. One block or range may hold at most [`MAX_BLOCK`]
//! addresses (2^24: a /8, an IPv6 /104); bigger ones are refused, so a
//! typo such as `/1` fails at once instead of starting a scan of years.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Why a list of destinations was refused (`report::target_error` words it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// An empty item (`a,,b`, a trailing comma).
    Empty,
    /// `ADDR/N` with N not a prefix length of the address's family.
    Prefix { item: String, max: u32 },
    /// Host bits set below the prefix (`10.0.0.1/24`).
    HostBits { item: String },
    /// A range part that is not `N` or `A-B` with A <= B <= 255.
    Range { item: String },
    /// More than `max` addresses in one item.
    TooLarge { item: String, max: u64 },
    /// The list holds no address at all (every block trimmed empty).
    NoHosts,
}

/// A `--hosts` failure: the file cannot be read, or line `line` is bad.
#[derive(Debug)]
pub enum HostsFileError {
    Read(std::io::Error),
    TooBig { max_mib: usize },
    Line { line: usize, err: TargetError },
    NoHosts,
}

/// The most addresses one block or range may hold (a /8).
pub const MAX_BLOCK: u64 = 1 << 24;

/// The most bytes `--hosts` reads (a file of a million long names).
pub const MAX_HOSTS_FILE: usize = 64 << 20;

/// One item of a target list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    /// A host name or address as typed, looked up as nc looks it up.
    Name(OsString),
    /// `count` consecutive IPv4 addresses from `first` (a CIDR block,
    /// already trimmed of its network and broadcast addresses).
    V4 { first: u32, count: u64 },
    /// An IPv4 range: each octet from `.0` to `.1`, the last the fastest.
    V4Range([(u8, u8); 4]),
    /// `count` consecutive IPv6 addresses from `first`.
    V6 { first: u128, count: u64 },
}

impl Item {
    fn count(&self) -> u64 {
        match self {
            Item::Name(_) => 1,
            Item::V4 { count, .. } | Item::V6 { count, .. } => *count,
            Item::V4Range(o) => o.iter().map(|&(a, b)| u64::from(b - a) + 1).product(),
        }
    }

    /// The `i`th host of the item (`i < count`).
    fn host(&self, i: u64) -> Host<'_> {
        match self {
            Item::Name(n) => Host::Name(n),
            Item::V4 { first, .. } => {
                Host::Addr(IpAddr::V4(Ipv4Addr::from(first.wrapping_add(i as u32))))
            }
            Item::V4Range(o) => {
                let mut rest = i;
                let mut out = [0u8; 4];
                for k in (0..4).rev() {
                    let (a, b) = o[k];
                    let n = u64::from(b - a) + 1;
                    out[k] = a + (rest % n) as u8;
                    rest /= n;
                }
                Host::Addr(IpAddr::V4(Ipv4Addr::from(out)))
            }
            Item::V6 { first, .. } => Host::Addr(IpAddr::V6(Ipv6Addr::from(
                first.wrapping_add(u128::from(i)),
            ))),
        }
    }
}

/// One destination: a name to look up, or an address from a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    Name(&'a OsStr),
    Addr(IpAddr),
}

/// A parsed list of destinations.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Targets {
    items: Vec<Item>,
}

impl Targets {
    /// Parses a destination operand. `None` when it is an ordinary host
    /// name or address, which keeps nc's behaviour untouched.
    pub fn parse_operand(text: &OsStr) -> Result<Option<Targets>, TargetError> {
        let b = text.as_bytes();
        if !b.contains(&b',') && !matches!(classify(b), Kind::Cidr | Kind::Range) {
            return Ok(None);
        }
        let mut t = Targets::default();
        t.push_list(b)?;
        t.check_nonempty()?;
        Ok(Some(t))
    }

    /// Parses the text of a `--hosts` file: one item (or comma list) per
    /// line, `#` to the end of a line is a comment, blank lines skipped.
    pub fn parse_file(text: &[u8]) -> Result<Targets, HostsFileError> {
        let mut t = Targets::default();
        for (i, line) in text.split(|&c| c == b'\n').enumerate() {
            let line = match line.iter().position(|&c| c == b'#') {
                Some(p) => &line[..p],
                None => line,
            };
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            t.push_list(line)
                .map_err(|err| HostsFileError::Line { line: i + 1, err })?;
        }
        t.check_nonempty().map_err(|_| HostsFileError::NoHosts)?;
        Ok(t)
    }

    /// Reads and parses `--hosts PATH` (`-` is standard input).
    pub fn read_file(path: &OsStr) -> Result<Targets, HostsFileError> {
        use std::io::Read;
        let mut buf = Vec::new();
        let limit = MAX_HOSTS_FILE as u64 + 1;
        let r = if path.as_bytes() == b"-" {
            std::io::stdin().lock().take(limit).read_to_end(&mut buf)
        } else {
            std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf))
        };
        r.map_err(HostsFileError::Read)?;
        if buf.len() > MAX_HOSTS_FILE {
            return Err(HostsFileError::TooBig {
                max_mib: MAX_HOSTS_FILE >> 20,
            });
        }
        Targets::parse_file(&buf)
    }

    fn check_nonempty(&self) -> Result<(), TargetError> {
        if self.count() == 0 {
            return Err(TargetError::NoHosts);
        }
        Ok(())
    }

    fn push_list(&mut self, text: &[u8]) -> Result<(), TargetError> {
        for piece in text.split(|&c| c == b',') {
            let piece = piece.trim_ascii();
            if piece.is_empty() {
                return Err(TargetError::Empty);
            }
            self.items.push(parse_item(piece)?);
        }
        Ok(())
    }

    /// How many hosts the list names (each name counts once).
    pub fn count(&self) -> u64 {
        self.items.iter().map(Item::count).sum()
    }

    /// The hosts in order, computed one at a time.
    pub fn iter(&self) -> Hosts<'_> {
        Hosts {
            items: &self.items,
            item: 0,
            pos: 0,
        }
    }
}

/// The lazy walk over a [`Targets`].
#[derive(Clone)]
pub struct Hosts<'a> {
    items: &'a [Item],
    item: usize,
    pos: u64,
}

impl<'a> Iterator for Hosts<'a> {
    type Item = Host<'a>;

    fn next(&mut self) -> Option<Host<'a>> {
        loop {
            let it = self.items.get(self.item)?;
            if self.pos < it.count() {
                self.pos += 1;
                return Some(it.host(self.pos - 1));
            }
            self.item += 1;
            self.pos = 0;
        }
    }
}

enum Kind {
    Cidr,
    Range,
    Name,
}

/// Which form a piece is written in (see the module comment).
fn classify(b: &[u8]) -> Kind {
    if let Some(slash) = b.iter().rposition(|&c| c == b'/') {
        if parse_ip(&b[..slash]).is_some() {
            return Kind::Cidr;
        }
        return Kind::Name;
    }
    let parts = b.split(|&c| c == b'.').count();
    if parts == 4
        && b.contains(&b'-')
        && b.iter()
            .all(|&c| c.is_ascii_digit() || c == b'.' || c == b'-')
    {
        return Kind::Range;
    }
    Kind::Name
}

fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_item(b: &[u8]) -> Result<Item, TargetError> {
    match classify(b) {
        Kind::Name => Ok(Item::Name(OsString::from_vec(b.to_vec()))),
        Kind::Cidr => parse_cidr(b),
        Kind::Range => parse_range(b),
    }
}

/// A decimal number of at most `digits` digits, no sign, no spaces.
fn small_number(b: &[u8], digits: usize) -> Option<u32> {
    if b.is_empty() || b.len() > digits || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn too_large(item: &[u8]) -> Result<Item, TargetError> {
    Err(TargetError::TooLarge {
        item: lossy(item),
        max: MAX_BLOCK,
    })
}

fn parse_cidr(b: &[u8]) -> Result<Item, TargetError> {
    let slash = b.iter().rposition(|&c| c == b'/').unwrap_or(b.len());
    let ip = parse_ip(&b[..slash]);
    let bits = if matches!(ip, Some(IpAddr::V6(_))) {
        128
    } else {
        32
    };
    let prefix = b
        .get(slash + 1..)
        .and_then(|p| small_number(p, 3))
        .filter(|&p| p <= bits);
    let (Some(ip), Some(prefix)) = (ip, prefix) else {
        return Err(TargetError::Prefix {
            item: lossy(b),
            max: bits,
        });
    };
    let host_bits = bits - prefix;
    if host_bits > MAX_BLOCK.trailing_zeros() {
        return too_large(b);
    }
    let size = 1u64 << host_bits;
    match ip {
        IpAddr::V4(a) => {
            let a = u32::from(a);
            let mask = if host_bits == 32 {
                0
            } else {
                u32::MAX << host_bits
            };
            if a & !mask != 0 {
                return Err(TargetError::HostBits { item: lossy(b) });
            }
            // Larger than /31: the network and broadcast addresses go.
            let (first, count) = if prefix < 31 {
                (a + 1, size - 2)
            } else {
                (a, size)
            };
            Ok(Item::V4 { first, count })
        }
        IpAddr::V6(a) => {
            let a = u128::from(a);
            let mask = if host_bits == 128 {
                0
            } else {
                u128::MAX << host_bits
            };
            if a & !mask != 0 {
                return Err(TargetError::HostBits { item: lossy(b) });
            }
            Ok(Item::V6 {
                first: a,
                count: size,
            })
        }
    }
}

fn parse_range(b: &[u8]) -> Result<Item, TargetError> {
    let bad = || TargetError::Range { item: lossy(b) };
    let mut o = [(0u8, 0u8); 4];
    for (k, part) in b.split(|&c| c == b'.').enumerate() {
        let (lo, hi) = match part.iter().position(|&c| c == b'-') {
            None => {
                let v = small_number(part, 3).ok_or_else(bad)?;
                (v, v)
            }
            Some(d) => (
                small_number(&part[..d], 3).ok_or_else(bad)?,
                small_number(&part[d + 1..], 3).ok_or_else(bad)?,
            ),
        };
        if lo > hi || hi > 255 || k >= 4 {
            return Err(bad());
        }
        o[k] = (lo as u8, hi as u8);
    }
    let item = Item::V4Range(o);
    let count = item.count();
    if count > MAX_BLOCK {
        return too_large(b);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testing::Rng;

    fn parse(s: &str) -> Result<Option<Targets>, TargetError> {
        Targets::parse_operand(OsStr::new(s))
    }

    fn hosts(s: &str) -> Vec<String> {
        parse(s)
            .unwrap()
            .unwrap()
            .iter()
            .map(|h| match h {
                Host::Name(n) => n.to_string_lossy().into_owned(),
                Host::Addr(a) => a.to_string(),
            })
            .collect()
    }

    #[test]
    fn ordinary_names_are_not_extensions() {
        for s in [
            "localhost",
            "127.0.0.1",
            "::1",
            "example-1.net",
            "foo/24",
            "a-b.c-d.e-f.g-h",
            "1-2",
            "10.0.0.1-40.5.6",
            "fe80::1%lo",
            "",
        ] {
            assert_eq!(parse(s), Ok(None), "{s}");
        }
    }

    #[test]
    fn forms() {
        assert_eq!(hosts("10.0.0.0/30"), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(hosts("10.0.0.0/31"), ["10.0.0.0", "10.0.0.1"]);
        assert_eq!(hosts("10.0.0.7/32"), ["10.0.0.7"]);
        assert_eq!(hosts("10.0.0.1-3"), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(
            hosts("10.0.0-1.1-2"),
            ["10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"]
        );
        assert_eq!(hosts("fd00::/127"), ["fd00::", "fd00::1"]);
        assert_eq!(
            hosts("localhost, 10.0.0.0/31,::1"),
            ["localhost", "10.0.0.0", "10.0.0.1", "::1"]
        );
        assert_eq!(hosts("a,b"), ["a", "b"]);
        assert_eq!(parse("10.0.0.0/24").unwrap().unwrap().count(), 254);
        assert_eq!(parse("10.0.0.0/16").unwrap().unwrap().count(), 65534);
        assert_eq!(parse("10.0.0.0/8").unwrap().unwrap().count(), (1 << 24) - 2);
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            parse("10.0.0.0/33"),
            Err(TargetError::Prefix { max: 32, .. })
        ));
        assert!(matches!(
            parse("::/129"),
            Err(TargetError::Prefix { max: 128, .. })
        ));
        assert!(matches!(
            parse("10.0.0.0/"),
            Err(TargetError::Prefix { .. })
        ));
        assert!(matches!(
            parse("10.0.0.0/-1"),
            Err(TargetError::Prefix { .. })
        ));
        assert!(matches!(
            parse("10.0.0.1/24"),
            Err(TargetError::HostBits { .. })
        ));
        assert!(matches!(
            parse("10.0.0.0/7"),
            Err(TargetError::TooLarge { .. })
        ));
        assert!(matches!(
            parse("0.0.0.0/0"),
            Err(TargetError::TooLarge { .. })
        ));
        assert!(matches!(parse("::/0"), Err(TargetError::TooLarge { .. })));
        assert!(matches!(parse("::/103"), Err(TargetError::TooLarge { .. })));
        assert!(parse("::/104").is_ok());
        assert!(matches!(
            parse("10.0.0.5-3"),
            Err(TargetError::Range { .. })
        ));
        assert!(matches!(
            parse("10.0.0.1-256"),
            Err(TargetError::Range { .. })
        ));
        assert!(matches!(parse("10.0.0.-1"), Err(TargetError::Range { .. })));
        assert!(matches!(
            parse("0-255.0-255.0-255.0-1"),
            Err(TargetError::TooLarge { .. })
        ));
        assert!(matches!(parse("a,,b"), Err(TargetError::Empty)));
        assert!(matches!(parse("a,"), Err(TargetError::Empty)));
    }

    #[test]
    fn hosts_file() {
        let t = Targets::parse_file(b"# web\n10.0.0.1\n\n  db.local  # the db\n10.0.1.0/30,x\n")
            .unwrap();
        let v: Vec<_> = t.iter().collect();
        assert_eq!(v.len(), 5);
        assert_eq!(v[1], Host::Name(OsStr::new("db.local")));
        match Targets::parse_file(b"a\n# c\n10.0.0.0/40\n") {
            Err(HostsFileError::Line { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Targets::parse_file(b"# only a comment\n"),
            Err(HostsFileError::NoHosts)
        ));
    }

    /// Every prefix length of both families: the count is the arithmetic
    /// (minus network and broadcast for IPv4 blocks larger than /31), the
    /// walk yields exactly that many distinct addresses inside the block,
    /// in ascending order, or the block is refused as too large.
    #[test]
    fn property_every_prefix_counts_right() {
        let mut rng = Rng::new(7);
        for p in 0..=32u32 {
            let base = (rng.next() as u32) & if p == 0 { 0 } else { u32::MAX << (32 - p) };
            let text = format!("{}/{p}", Ipv4Addr::from(base));
            let size = 1u64 << (32 - p);
            match parse(&text) {
                Err(TargetError::TooLarge { .. }) => assert!(size > MAX_BLOCK, "{text}"),
                Ok(Some(t)) => {
                    let want = if p < 31 { size - 2 } else { size };
                    assert_eq!(t.count(), want, "{text}");
                    if want <= 70_000 {
                        let mut prev = None;
                        let mut n = 0;
                        for h in t.iter() {
                            let Host::Addr(IpAddr::V4(a)) = h else {
                                panic!()
                            };
                            let a = u32::from(a);
                            let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                            assert_eq!(a & mask, base, "{text}");
                            assert!(prev.is_none_or(|q| a > q), "{text}");
                            if p < 31 {
                                assert!(a != base && a != base | !(u32::MAX << (32 - p)));
                            }
                            prev = Some(a);
                            n += 1;
                        }
                        assert_eq!(n, want);
                    }
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        for p in 0..=128u32 {
            let base = u128::from(rng.next()) << 64 | u128::from(rng.next());
            let base = base & u128::MAX.checked_shl(128 - p).unwrap_or(0);
            let text = format!("{}/{p}", Ipv6Addr::from(base));
            let size = 1u128.checked_shl(128 - p).unwrap_or(u128::MAX);
            match parse(&text) {
                Err(TargetError::TooLarge { .. }) => assert!(size > u128::from(MAX_BLOCK)),
                Ok(Some(t)) => {
                    assert_eq!(u128::from(t.count()), size, "{text}");
                    let last = t.iter().last();
                    assert_eq!(
                        last,
                        Some(Host::Addr(IpAddr::V6(Ipv6Addr::from(base + size - 1))))
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    /// Random texts (lists, ranges, blocks, junk) never panic; what is
    /// accepted counts exactly what its walk yields.
    #[test]
    fn property_random_lists() {
        for seed in 0..10_000u64 {
            let mut rng = Rng::new(seed);
            let n = 1 + rng.below(4);
            let mut pieces = Vec::new();
            let mut want: u64 = 0;
            let mut valid = true;
            for _ in 0..n {
                match rng.below(4) {
                    0 => {
                        let p = 16 + rng.below(17) as u32;
                        let a = (rng.next() as u32) & (u32::MAX << (32 - p));
                        pieces.push(format!("{}/{p}", Ipv4Addr::from(a)));
                        want += if p < 31 {
                            (1 << (32 - p)) - 2
                        } else {
                            1 << (32 - p)
                        };
                    }
                    1 => {
                        let mut o = Vec::new();
                        let mut c = 1u64;
                        for k in 0..4 {
                            let a = rng.below(256);
                            let b = a + rng.below(if k >= 2 { 256 - a } else { 2.min(256 - a) });
                            c *= (b - a + 1) as u64;
                            o.push(if a == b && k < 3 {
                                a.to_string()
                            } else {
                                format!("{a}-{b}")
                            });
                        }
                        pieces.push(o.join("."));
                        want += c;
                    }
                    2 => {
                        pieces.push("host.example".into());
                        want += 1;
                    }
                    _ => {
                        let len = rng.below(12);
                        let junk = rng.bytes(len, b"0123456789./-:af,");
                        pieces.push(String::from_utf8_lossy(&junk).into_owned());
                        valid = false;
                    }
                }
            }
            let text = pieces.join(",");
            let r = Targets::parse_operand(OsStr::new(&text));
            if valid {
                let Some(t) = r.unwrap_or_else(|e| panic!("seed {seed}: {text}: {e:?}")) else {
                    // One plain name: not an extension, nc's own path.
                    assert_eq!((n, want), (1, 1), "seed {seed}: {text}");
                    continue;
                };
                assert_eq!(t.count(), want, "seed {seed}: {text}");
                if want < 3_000 {
                    assert_eq!(t.iter().count() as u64, want, "seed {seed}: {text}");
                }
            } else if let Ok(Some(t)) = r {
                if t.count() < 3_000 {
                    assert_eq!(t.iter().count() as u64, t.count(), "seed {seed}: {text}");
                }
            }
        }
    }
}
