//! Port specifications, as nc's `build_ports` and `strtoport` read them
//! (B §5): service names first, then `lo-hi` ranges (swapped when reversed,
//! the high end checked first), then single ports through `strtonum`.
//! Also the service-name lookups for the `[tcp/SERVICE]` part of messages.

use std::collections::HashMap;
use std::ffi::{CStr, CString};

use crate::config::Proto;

/// Why a port specification was refused; `Display`s as nc's message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortError {
    Invalid(String),
    TooSmall(String),
    TooLarge(String),
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortError::Invalid(s) => write!(f, "port number invalid: {s}"),
            PortError::TooSmall(s) => write!(f, "port number too small: {s}"),
            PortError::TooLarge(s) => write!(f, "port number too large: {s}"),
        }
    }
}

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

/// libbsd's `strtonum`: `strtoll` base 10 (leading white space and a sign
/// allowed, nothing after the digits), then a range check.
pub fn strtonum(s: &str, min: i64, max: i64) -> Result<i64, NumError> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumError::Invalid);
    }
    // Accumulate with saturation: strtoll clamps to LLONG_MIN/MAX (ERANGE),
    // which strtonum reports as too small / too large.
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = (v * 10 + (b - b'0') as i128).min(i128::from(i64::MAX) + 2);
    }
    let v = if neg { -v } else { v };
    if v < min as i128 {
        Err(NumError::TooSmall)
    } else if v > max as i128 {
        Err(NumError::TooLarge)
    } else {
        Ok(v as i64)
    }
}

/// `strtoport`: a port number from 1 to 65535.
fn strtoport(s: &str) -> Result<u16, PortError> {
    match strtonum(s, 1, 65535) {
        Ok(v) => Ok(v as u16),
        Err(NumError::Invalid) => Err(PortError::Invalid(s.to_string())),
        Err(NumError::TooSmall) => Err(PortError::TooSmall(s.to_string())),
        Err(NumError::TooLarge) => Err(PortError::TooLarge(s.to_string())),
    }
}

/// `getservbyname(name, proto)`: the port of a service in /etc/services.
pub fn service_port(name: &str, proto: Proto) -> Option<u16> {
    let cname = CString::new(name).ok()?;
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
pub fn add_spec(spec: &str, proto: Proto, out: &mut Vec<u16>) -> Result<(), PortError> {
    if let Some(p) = service_port(spec, proto) {
        out.push(p);
        return Ok(());
    }
    let first_is_digit = spec.as_bytes().first().is_some_and(|b| b.is_ascii_digit());
    if let (true, Some(dash)) = (first_is_digit, spec.find('-')) {
        let hi = strtoport(&spec[dash + 1..])?;
        let lo = strtoport(&spec[..dash])?;
        let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
        out.extend(lo..=hi);
        return Ok(());
    }
    out.push(strtoport(spec)?);
    Ok(())
}

/// Builds the whole port list from the port arguments, left to right.
pub fn build(specs: &[String], proto: Proto) -> Result<Vec<u16>, PortError> {
    let mut out = Vec::new();
    for s in specs {
        add_spec(s, proto, &mut out)?;
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
}
