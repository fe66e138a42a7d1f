//! Access control for listeners: `--allow`, `--deny`, `--allowfile`,
//! `--denyfile`. An extension:
//! docs/compatibility.md §A.3.
//!
//! A list holds addresses, CIDR blocks and host names, separated by
//! commas or white space (a file: the same, with `#` starting a comment).
//! Host names are resolved once, at start-up, into one entry per address.
//! Every entry is checked when the command line is read: a list with one
//! entry that is none of these is an error, never a rule silently
//! skipped. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`), in a rule or
//! as a peer, are matched as the IPv4 address they carry, so a dual-stack
//! `-6` listener applies IPv4 rules to IPv4 clients.
//!
//! The decision: with any allow rule, a peer must match one; a peer that
//! matches a deny rule is refused, allowed or not.

use std::ffi::OsStr;
use std::net::IpAddr;

use crate::net::resolve::{self, Hints};
use crate::net::{Family, Proto};

/// One rule: an address and how many leading bits must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn new(addr: IpAddr, prefix: u8) -> Net {
        // A v4-mapped rule is an IPv4 rule.
        if let IpAddr::V6(v6) = addr {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Net {
                    addr: IpAddr::V4(v4),
                    prefix: prefix.saturating_sub(96),
                };
            }
        }
        Net { addr, prefix }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The allow and deny rules of a listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    allow: Option<Vec<Net>>,
    deny: Vec<Net>,
}

/// Why a list was refused: the entry as written and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub struct BadEntry {
    pub entry: String,
    pub why: &'static str,
}

impl Acl {
    /// No rules at all: every peer is allowed without a look.
    pub fn is_empty(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }

    /// Adds the entries of an `--allow` list (or allow file).
    pub fn allow(&mut self, list: &str) -> Result<(), BadEntry> {
        let nets = parse_list(list)?;
        self.allow.get_or_insert_with(Vec::new).extend(nets);
        Ok(())
    }

    /// Adds the entries of a `--deny` list (or deny file).
    pub fn deny(&mut self, list: &str) -> Result<(), BadEntry> {
        let nets = parse_list(list)?;
        self.deny.extend(nets);
        Ok(())
    }

    /// Whether a peer at `ip` may connect.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        if let Some(allow) = &self.allow {
            if !allow.iter().any(|n| n.contains(ip)) {
                return false;
            }
        }
        !self.deny.iter().any(|n| n.contains(ip))
    }
}

/// A v4-mapped IPv6 address as the IPv4 address it carries.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The text of an allow or deny file: comments (`#` to the end of the
/// line) removed.
pub fn file_text(contents: &str) -> String {
    contents
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_list(list: &str) -> Result<Vec<Net>, BadEntry> {
    let mut out = Vec::new();
    for entry in list
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|e| !e.is_empty())
    {
        out.extend(parse_entry(entry)?);
    }
    Ok(out)
}

fn parse_entry(entry: &str) -> Result<Vec<Net>, BadEntry> {
    let bad = |why| BadEntry {
        entry: entry.to_string(),
        why,
    };
    if let Some((addr, bits)) = entry.split_once('/') {
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match bits.parse::<u8>() {
            Ok(p) if p <= max && !bits.starts_with('+') => p,
            _ => return Err(bad("not a prefix length")),
        };
        return Ok(vec![Net::new(addr, prefix)]);
    }
    if let Ok(addr) = entry.parse::<IpAddr>() {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        return Ok(vec![Net::new(addr, max)]);
    }
    // A host name: letters, digits, hyphens, dots, underscores only, so
    // that garbage never reaches the resolver.
    let name_like = entry
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        && entry.bytes().any(|b| b.is_ascii_alphabetic());
    if !name_like {
        return Err(bad("not an address, a CIDR block or a host name"));
    }
    let hints = Hints {
        family: Family::Any,
        proto: Proto::Tcp,
        numeric: false,
        passive: false,
    };
    let addrs =
        resolve::lookup(Some(OsStr::new(entry)), None, hints).map_err(|_| bad("unknown host"))?;
    let mut nets: Vec<Net> = addrs
        .iter()
        .filter_map(|ai| ai.addr.as_socket())
        .map(|sa| {
            let ip = sa.ip();
            Net::new(ip, if ip.is_ipv4() { 32 } else { 128 })
        })
        .collect();
    nets.dedup();
    if nets.is_empty() {
        return Err(bad("unknown host"));
    }
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_and_mapped() {
        let mut a = Acl::default();
        a.allow("10.0.0.0/8, 192.168.1.7 ::1").unwrap();
        assert!(a.permits(ip("10.200.3.4")));
        assert!(a.permits(ip("::ffff:10.1.2.3")));
        assert!(a.permits(ip("192.168.1.7")));
        assert!(!a.permits(ip("192.168.1.8")));
        assert!(a.permits(ip("::1")));
        assert!(!a.permits(LOOPBACK));
        a.deny("10.1.0.0/16").unwrap();
        assert!(!a.permits(ip("10.1.2.3")));
        assert!(!a.permits(ip("::ffff:10.1.2.3")));
        assert!(a.permits(ip("10.2.2.3")));
    }

    #[test]
    fn deny_only_and_zero_prefix() {
        let mut a = Acl::default();
        a.deny("::ffff:127.0.0.0/104").unwrap();
        assert!(!a.permits(LOOPBACK));
        assert!(a.permits(ip("10.0.0.1")));
        let mut b = Acl::default();
        b.deny("0.0.0.0/0").unwrap();
        assert!(!b.permits(ip("1.2.3.4")));
        assert!(b.permits(ip("2001:db8::1")));
    }

    #[test]
    fn garbage_is_refused() {
        let mut a = Acl::default();
        for bad in [
            "1.2.3.4/33",
            "1.2.3.4/",
            "::1/129",
            "!!",
            "1.2.3/x",
            "a b/+3",
        ] {
            assert!(a.deny(bad).is_err(), "{bad}");
        }
        assert_eq!(
            a.deny("10.0.0.1,@x").unwrap_err(),
            BadEntry {
                entry: "@x".into(),
                why: "not an address, a CIDR block or a host name"
            }
        );
        assert!(a.is_empty());
    }

    #[test]
    fn comments_in_files() {
        let mut a = Acl::default();
        a.allow(&file_text("# local\n127.0.0.1 # me\n\n10.0.0.0/8\n"))
            .unwrap();
        assert!(a.permits(LOOPBACK));
        assert!(!a.permits(ip("11.0.0.1")));
    }
}
