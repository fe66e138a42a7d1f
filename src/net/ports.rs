//! Port specifications, as nc's `build_ports` and `strtoport` read them
//! (docs/compatibility.md §5): service names first, then `lo-hi` ranges (swapped when reversed,
//! the high end checked first), then single ports through `strtonum`.
//! Also the service-name lookups for the `[tcp/SERVICE]` part of messages.

use std::collections::HashMap;
use std::ffi::{CStr, CString};

use crate::net::Proto;

/// Why a port specification was refused: nc's message and the text it
/// echoes, as the user typed it (bytes, which need not be UTF-8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortError {
    Invalid(Vec<u8>),
    TooSmall(Vec<u8>),
    TooLarge(Vec<u8>),
    /// ncrab: the list would pass [`MAX_PORTS`] (nc overflows its
    /// 65536-entry array and crashes).
    TooMany(Vec<u8>),
}

impl PortError {
    /// The message before the echoed text, and the text.
    pub fn parts(&self) -> (&'static str, &[u8]) {
        match self {
            PortError::Invalid(s) => ("port number invalid: ", s),
            PortError::TooSmall(s) => ("port number too small: ", s),
            PortError::TooLarge(s) => ("port number too large: ", s),
            PortError::TooMany(s) => ("too many ports: ", s),
        }
    }
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (msg, arg) = self.parts();
        write!(f, "{msg}{}", String::from_utf8_lossy(arg))
    }
}

/// The longest port list ncrab builds: sixteen times every port. nc's
/// list is a static array of 65536 entries that more ports overflow; a
/// bound keeps a command line of thousands of `1-65535` from asking for
/// gigabytes.
pub const MAX_PORTS: usize = 16 << 16;

/// Why `strtonum` refused a number: its three reasons, as nc words them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    Invalid,
    TooSmall,
    TooLarge,
}

impl NumError {
    pub fn as_str(self) -> &'static str {
        match self {
            NumError::Invalid => "invalid",
            NumError::TooSmall => "too small",
            NumError::TooLarge => "too large",
        }
    }
}

/// libbsd's `strtonum`, which is NetBSD's `strtoi`: `strtoll` base 10
/// (leading white space and a sign allowed), then, in this order: no digits
/// is invalid; a number past ±LLONG_MAX is too large / too small *even with
/// bytes after it* (strtoll's ERANGE wins); bytes after the digits are
/// invalid; then the range check. Takes bytes, so an argument that is not
/// UTF-8 is handled as C would.
pub fn strtonum(s: impl AsRef<[u8]>, min: i64, max: i64) -> Result<i64, NumError> {
    let s = s.as_ref();
    let start = s
        .iter()
        .position(|b| !b" \t\n\r\x0b\x0c".contains(b))
        .unwrap_or(s.len());
    let t = &s[start..];
    let (neg, rest) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let ndigits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if ndigits == 0 {
        return Err(NumError::Invalid);
    }
    // Accumulate with saturation: strtoll clamps to LLONG_MIN/MAX (ERANGE).
    let mut v: i128 = 0;
    for b in &rest[..ndigits] {
        v = (v * 10 + i128::from(b - b'0')).min(i128::from(i64::MAX) + 2);
    }
    let v = if neg { -v } else { v };
    if v > i128::from(i64::MAX) {
        return Err(NumError::TooLarge);
    }
    if v < i128::from(i64::MIN) {
        return Err(NumError::TooSmall);
    }
    if ndigits < rest.len() {
        return Err(NumError::Invalid);
    }
    if v < i128::from(min) {
        Err(NumError::TooSmall)
    } else if v > i128::from(max) {
        Err(NumError::TooLarge)
    } else {
        Ok(v as i64)
    }
}

/// `strtoport`: a port number from 1 to 65535.
fn strtoport(s: &[u8]) -> Result<u16, PortError> {
    match strtonum(s, 1, 65535) {
        Ok(v) => Ok(v as u16),
        Err(NumError::Invalid) => Err(PortError::Invalid(s.to_vec())),
        Err(NumError::TooSmall) => Err(PortError::TooSmall(s.to_vec())),
        Err(NumError::TooLarge) => Err(PortError::TooLarge(s.to_vec())),
    }
}

/// `getservbyname(name, proto)`: the port of a service in /etc/services.
pub fn service_port(name: impl AsRef<[u8]>, proto: Proto) -> Option<u16> {
    let cname = CString::new(name.as_ref()).ok()?;
    let cproto = CString::new(proto.name()).ok()?;
    // SAFETY: both arguments are valid C strings; the result points to
    // static storage that we read before any other call.
    let ent = unsafe { libc::getservbyname(cname.as_ptr(), cproto.as_ptr()) };
    if ent.is_null() {
        return None;
    }
    // SAFETY: non-null servent from libc.
    let port = unsafe { (*ent).s_port };
    Some(u16::from_be(port as u16))
}

/// `getservbyport(port, proto)`: the service name, `*` when there is none.
pub fn service_name(port: u16, proto: Proto) -> String {
    let Ok(cproto) = CString::new(proto.name()) else {
        return "*".into();
    };
    // SAFETY: the protocol is a valid C string; the result is static storage.
    let ent = unsafe { libc::getservbyport(i32::from(port.to_be()), cproto.as_ptr()) };
    if ent.is_null() {
        return "*".into();
    }
    // SAFETY: non-null servent with a NUL-terminated name.
    unsafe { CStr::from_ptr((*ent).s_name) }
        .to_string_lossy()
        .into_owned()
}

/// Every service name of one protocol, read once with `getservent`: for a
/// report that names many ports (`--json`), where a `getservbyport` per
/// port would re-read /etc/services each time. The first entry for a port
/// wins, as with `getservbyport`.
pub struct ServiceNames(HashMap<u16, String>);

impl ServiceNames {
    pub fn load(proto: Proto) -> ServiceNames {
        let mut map = HashMap::new();
        let want = proto.name().as_bytes();
        // SAFETY: the servent database calls are used from this one thread;
        // each entry is copied out before the next call.
        unsafe {
            libc::setservent(0);
            loop {
                let ent = libc::getservent();
                if ent.is_null() {
                    break;
                }
                if (*ent).s_proto.is_null() || CStr::from_ptr((*ent).s_proto).to_bytes() != want {
                    continue;
                }
                let port = u16::from_be((*ent).s_port as u16);
                map.entry(port).or_insert_with(|| {
                    CStr::from_ptr((*ent).s_name).to_string_lossy().into_owned()
                });
            }
            libc::endservent();
        }
        ServiceNames(map)
    }

    /// The service name of `port`, `*` when there is none.
    pub fn get(&self, port: u16) -> &str {
        self.0.get(&port).map_or("*", String::as_str)
    }
}

/// Appends the ports of one argument to `out`, as nc's build_ports does.
pub fn add_spec(spec: &[u8], proto: Proto, out: &mut Vec<u16>) -> Result<(), PortError> {
    let (lo, hi) = match service_port(spec, proto) {
        Some(p) => (p, p),
        None => match spec.iter().position(|&b| b == b'-') {
            Some(dash) if spec[0].is_ascii_digit() => {
                let hi = strtoport(&spec[dash + 1..])?;
                let lo = strtoport(&spec[..dash])?;
                (lo.min(hi), lo.max(hi))
            }
            _ => {
                let p = strtoport(spec)?;
                (p, p)
            }
        },
    };
    if out.len() + usize::from(hi - lo) + 1 > MAX_PORTS {
        return Err(PortError::TooMany(spec.to_vec()));
    }
    out.extend(lo..=hi);
    Ok(())
}

/// Builds the whole port list from the port arguments, left to right.
pub fn build<S: AsRef<[u8]>>(specs: &[S], proto: Proto) -> Result<Vec<u16>, PortError> {
    let mut out = Vec::new();
    for s in specs {
        add_spec(s.as_ref(), proto, &mut out)?;
    }
    Ok(out)
}

/// `-r`: a Fisher-Yates shuffle of the whole list.
pub fn shuffle(ports: &mut [u16]) {
    let mut seed = random_seed();
    for i in (1..ports.len()).rev() {
        // xorshift64*: good enough to randomize a scan order.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let r = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let j = (r % (i as u64 + 1)) as usize;
        ports.swap(i, j);
    }
}

fn random_seed() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    let mut seed = u64::from_ne_bytes(buf);
    if n != 8 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        seed ^= now ^ u64::from(std::process::id());
    }
    seed | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(specs: &[&str]) -> Result<Vec<u16>, String> {
        let v: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        build(&v, Proto::Tcp).map_err(|e| e.to_string())
    }

    #[test]
    fn table_of_b5() {
        assert_eq!(b(&["0"]), Err("port number too small: 0".into()));
        assert_eq!(b(&["65535"]), Ok(vec![65535]));
        assert_eq!(b(&["65536"]), Err("port number too large: 65536".into()));
        assert_eq!(b(&["0-5"]), Err("port number too small: 0".into()));
        assert_eq!(b(&["5-70000"]), Err("port number too large: 70000".into()));
        assert_eq!(b(&["1-"]), Err("port number invalid: ".into()));
        assert_eq!(b(&[""]), Err("port number invalid: ".into()));
        assert_eq!(b(&["abc"]), Err("port number invalid: abc".into()));
        assert_eq!(b(&["80abc"]), Err("port number invalid: 80abc".into()));
        assert_eq!(b(&["0x50"]), Err("port number invalid: 0x50".into()));
        assert_eq!(b(&["1-abc"]), Err("port number invalid: abc".into()));
        assert_eq!(b(&["abc-5"]), Err("port number invalid: abc-5".into()));
        assert_eq!(b(&["1-2-3"]), Err("port number invalid: 2-3".into()));
        assert_eq!(b(&[" 80", "+80", "080"]), Ok(vec![80, 80, 80]));
        assert_eq!(b(&["5-1"]), Ok(vec![1, 2, 3, 4, 5]));
        assert_eq!(b(&["22-22"]), Ok(vec![22]));
        assert_eq!(
            b(&["99999999999999999999999"]),
            Err("port number too large: 99999999999999999999999".into())
        );
    }

    #[test]
    fn specs_that_are_not_utf8_are_echoed_as_typed() {
        assert_eq!(
            build(&[&b"1-\xff"[..]], Proto::Tcp),
            Err(PortError::Invalid(b"\xff".to_vec()))
        );
        assert_eq!(
            build(&[&b"\xfe-1"[..]], Proto::Tcp),
            Err(PortError::Invalid(b"\xfe-1".to_vec()))
        );
    }

    #[test]
    fn the_list_is_bounded() {
        let mut full = vec!["1-65535"; 16];
        full.push("16-1");
        assert_eq!(build(&full, Proto::Tcp).map(|l| l.len()), Ok(MAX_PORTS));
        let mut over = full.clone();
        over.push("7");
        assert_eq!(
            b(&over),
            Err("too many ports: 7".into()),
            "the spec that crosses the bound is named"
        );
    }

    #[test]
    fn services_first() {
        if service_port("http-alt", Proto::Tcp).is_none() {
            return; // no /etc/services entry on this machine
        }
        assert_eq!(b(&["http-alt", "20", "22-23"]), Ok(vec![8080, 20, 22, 23]));
        assert_eq!(service_name(8080, Proto::Tcp), "http-alt");
        assert_eq!(service_name(1, Proto::Tcp), "tcpmux");
    }

    #[test]
    fn strtonum_edges() {
        assert_eq!(strtonum("-1", 0, 10), Err(NumError::TooSmall));
        assert_eq!(strtonum(" 7", 0, 10), Ok(7));
        assert_eq!(strtonum("7 ", 0, 10), Err(NumError::Invalid));
        assert_eq!(strtonum("-", 0, 10), Err(NumError::Invalid));
        // ERANGE wins over what follows the digits (nc.openbsd: "timeout
        // too large: 9223372036854775808x"); in range it does not.
        assert_eq!(
            strtonum("9223372036854775808x", 0, 10),
            Err(NumError::TooLarge)
        );
        assert_eq!(
            strtonum("-9223372036854775809 ", 0, 10),
            Err(NumError::TooSmall)
        );
        assert_eq!(
            strtonum("9223372036854775807x", 0, 10),
            Err(NumError::Invalid)
        );
        assert_eq!(strtonum("99x", 0, 10), Err(NumError::Invalid));
        assert_eq!(strtonum("-9223372036854775808", i64::MIN, 0), Ok(i64::MIN));
        assert_eq!(
            strtonum("-99999999999999999999999", i64::from(i32::MIN), 10),
            Err(NumError::TooSmall)
        );
    }

    #[test]
    fn shuffle_keeps_the_multiset() {
        let mut v: Vec<u16> = (1..=1000).collect();
        shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (1..=1000).collect::<Vec<u16>>());
        assert_ne!(v, s);
    }

    // --- Property tests against a reference model ------------------------

    use crate::sys::testing::Rng;

    /// The model of libbsd's strtonum (NetBSD's strtoi over strtoll): C's
    /// isspace, an optional sign, the longest run of digits; none is
    /// invalid; past ±LLONG_MAX is out of range whatever follows (ERANGE
    /// comes first); anything after the digits is invalid; then the
    /// bounds. Written from the C definitions, independently of
    /// [`strtonum`] (checked against nc.openbsd by tests/hostile_cli.rs).
    fn model_strtonum(s: &[u8], min: i64, max: i64) -> Result<i64, NumError> {
        let i = s
            .iter()
            .take_while(|b| b" \t\n\x0b\x0c\r".contains(b))
            .count();
        let rest = &s[i..];
        let (neg, rest) = match rest.split_first() {
            Some((b'-', d)) => (true, d),
            Some((b'+', d)) => (false, d),
            _ => (false, rest),
        };
        let digits: String = rest
            .iter()
            .map(|&b| b as char)
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            return Err(NumError::Invalid);
        }
        let significant = digits.trim_start_matches('0');
        let v: i128 = if significant.len() > 30 {
            i128::MAX / 2
        } else {
            significant.parse().unwrap_or(0)
        };
        let v = if neg { -v } else { v };
        if v > i128::from(i64::MAX) {
            return Err(NumError::TooLarge);
        }
        if v < i128::from(i64::MIN) {
            return Err(NumError::TooSmall);
        }
        if digits.len() < rest.len() {
            return Err(NumError::Invalid);
        }
        if v < i128::from(min) {
            Err(NumError::TooSmall)
        } else if v > i128::from(max) {
            Err(NumError::TooLarge)
        } else {
            Ok(v as i64)
        }
    }

    /// The model of build_ports for one argument that is not a service
    /// name (docs/compatibility.md §5): a range when it starts with a digit and holds a `-`
    /// (the part after the first `-` checked first, ends swapped), else
    /// one port; every port 1..65535.
    fn model_spec(spec: &[u8]) -> Result<Vec<u16>, PortError> {
        let port = |t: &[u8]| match model_strtonum(t, 1, 65535) {
            Ok(v) => Ok(v as u16),
            Err(NumError::Invalid) => Err(PortError::Invalid(t.to_vec())),
            Err(NumError::TooSmall) => Err(PortError::TooSmall(t.to_vec())),
            Err(NumError::TooLarge) => Err(PortError::TooLarge(t.to_vec())),
        };
        let starts_with_digit = spec.first().is_some_and(u8::is_ascii_digit);
        match spec.splitn(2, |&b| b == b'-').collect::<Vec<_>>()[..] {
            [lo, hi] if starts_with_digit => {
                let hi = port(hi)?;
                let lo = port(lo)?;
                let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                Ok((a..=b).collect())
            }
            _ => port(spec).map(|p| vec![p]),
        }
    }

    /// A number near one of the interesting bounds, as text.
    fn edge_number(rng: &mut Rng) -> String {
        const EDGES: &[&str] = &[
            "0",
            "1",
            "2",
            "80",
            "65534",
            "65535",
            "65536",
            "99999",
            "2147483647",
            "2147483648",
            "4294967295",
            "4294967296",
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999",
            "000000000000000000000000080",
        ];
        let n = EDGES[rng.below(EDGES.len())];
        let tail = ["", "", "", "x", " ", "-1"][rng.below(6)];
        match rng.below(6) {
            0 => format!("-{n}{tail}"),
            1 => format!("+{n}{tail}"),
            2 => format!(" {n}{tail}"),
            3 => format!("\t\n{n}{tail}"),
            _ => format!("{n}{tail}"),
        }
    }

    /// A port argument: edge numbers, small ranges either way round,
    /// random bytes from a hostile alphabet, or any bytes at all.
    fn random_spec(rng: &mut Rng) -> Vec<u8> {
        match rng.below(5) {
            0 => edge_number(rng).into_bytes(),
            1 => {
                let lo = 1 + rng.below(65535);
                let hi = (lo + rng.below(40)).min(65535);
                let (a, b) = if rng.below(2) == 0 {
                    (lo, hi)
                } else {
                    (hi, lo)
                };
                format!("{a}-{b}").into_bytes()
            }
            2 => format!("{}-{}", edge_number(rng), edge_number(rng)).into_bytes(),
            3 => {
                let len = rng.below(12);
                rng.bytes(len, b"0123456789-+ \tax")
            }
            _ => {
                let len = rng.below(10);
                (0..len).map(|_| rng.next() as u8).collect()
            }
        }
    }

    #[test]
    fn property_strtonum_matches_the_c_model() {
        let bounds = [
            (1, 65535),
            (0, 255),
            (0, i64::from(u32::MAX)),
            (i64::from(i32::MIN), i64::from(i32::MAX)),
            (1, 1 << 30),
        ];
        for seed in 0..20_000u64 {
            let mut rng = Rng::new(seed);
            let s = match rng.below(3) {
                0 => edge_number(&mut rng).into_bytes(),
                _ => random_spec(&mut rng),
            };
            let (min, max) = bounds[rng.below(bounds.len())];
            assert_eq!(
                strtonum(&s, min, max),
                model_strtonum(&s, min, max),
                "seed {seed}: {s:?} in {min}..={max}"
            );
        }
    }

    /// Any list of arguments builds the same list (or fails with the same
    /// message on the same argument) as the model, never panics, and
    /// every port is 1..65535.
    #[test]
    fn property_port_lists_match_build_ports() {
        let mut checked = 0;
        for seed in 0..20_000u64 {
            let mut rng = Rng::new(seed);
            let specs: Vec<Vec<u8>> = (0..1 + rng.below(4))
                .map(|_| random_spec(&mut rng))
                .collect();
            let got = build(&specs, Proto::Tcp);
            if specs.iter().any(|s| service_port(s, Proto::Tcp).is_some()) {
                continue; // a service name: not the model's business
            }
            let mut want = Ok(Vec::new());
            for s in &specs {
                want = want.and_then(|mut v: Vec<u16>| {
                    v.extend(model_spec(s)?);
                    Ok(v)
                });
            }
            assert_eq!(got, want, "seed {seed}: {specs:?}");
            if let Ok(list) = got {
                assert!(list.iter().all(|&p| p >= 1));
            }
            checked += 1;
        }
        assert!(checked > 15_000, "only {checked} cases were checked");
    }

    /// A range and its reverse give the same ascending ports.
    #[test]
    fn property_ranges_swap() {
        let mut rng = Rng::new(7);
        for _ in 0..2_000 {
            let a = 1 + rng.below(65535);
            let b = 1 + rng.below(65535);
            let fwd = build(&[format!("{a}-{b}")], Proto::Tcp).unwrap();
            let rev = build(&[format!("{b}-{a}")], Proto::Tcp).unwrap();
            assert_eq!(fwd, rev);
            assert_eq!(fwd.len(), a.abs_diff(b) + 1);
            assert!(fwd.windows(2).all(|w| w[1] == w[0] + 1));
        }
    }
}
