//! What listens on this machine: `/proc/net/{tcp,tcp6,udp,udp6}`, the
//! owning process from `/proc/PID/fd` when this process may look, and
//! this machine's own addresses (`getifaddrs`).
//!
//! `/proc/net` is the network namespace of the reader, the same as the
//! socket's. Read only to explain a refused connect to a local address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub use super::model::Listener;

/// The table files of a protocol.
fn files(proto: &str) -> [&'static str; 2] {
    if proto == "udp" {
        ["/proc/net/udp", "/proc/net/udp6"]
    } else {
        ["/proc/net/tcp", "/proc/net/tcp6"]
    }
}

/// The most lines read from one table.
const MAX_LINES: usize = 200_000;

/// Every listener of `proto` ("tcp" or "udp"), without owners.
pub fn all(proto: &'static str) -> Vec<Listener> {
    let mut out = Vec::new();
    for path in files(proto) {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines().skip(1).take(MAX_LINES) {
            if let Some(l) = parse_line(line, proto) {
                out.push(l);
            }
        }
    }
    out
}

/// One line of a /proc/net table, when it is a listener: TCP state 0A
/// (LISTEN), or a UDP socket in state 07 with no remote address.
fn parse_line(line: &str, proto: &'static str) -> Option<Listener> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let (local, remote, state) = (f[1], f[2], f[3]);
    let listening = if proto == "udp" {
        state == "07" && parse_addr(remote).is_some_and(|a| a.port() == 0)
    } else {
        state == "0A"
    };
    if !listening {
        return None;
    }
    Some(Listener {
        addr: parse_addr(local)?,
        proto,
        inode: f[9].parse().ok()?,
        owner: None,
    })
}

/// `0100007F:1F90` (IPv4: a 32-bit word in host order) or 32 hex digits
/// (IPv6: four such words) and the port in hex.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let word = |h: &str| u32::from_str_radix(h, 16).ok().map(u32::to_ne_bytes);
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(a)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(a.get(i * 8..i * 8 + 8)?)?);
            }
            let v6 = Ipv6Addr::from(b);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The most /proc entries looked at to find owners.
const MAX_FDS: usize = 100_000;

/// Fills in the owner of each listener, where /proc lets this process see
/// the other's descriptors.
pub fn find_owners(ls: &mut [Listener]) {
    if ls.is_empty() {
        return;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    let mut seen = 0;
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            seen += 1;
            if seen > MAX_FDS {
                return;
            }
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            let Some(inode) = t
                .strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            for l in ls
                .iter_mut()
                .filter(|l| l.inode == inode && l.owner.is_none())
            {
                let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                l.owner = Some((pid, comm.trim_end().to_string()));
            }
            if ls.iter().all(|l| l.owner.is_some()) {
                return;
            }
        }
    }
}

/// This machine's addresses (every interface, loopback included).
pub fn local_addrs() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we free below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut p = ifap;
    while !p.is_null() {
        // SAFETY: p walks the list getifaddrs returned.
        let ifa = unsafe { &*p };
        // SAFETY: ifa_addr is null or a valid sockaddr of its family.
        if let Some(ip) = unsafe { sockaddr_ip(ifa.ifa_addr) } {
            out.push(ip);
        }
        p = ifa.ifa_next;
    }
    // SAFETY: ifap came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    out
}

/// The broadcast addresses of this machine's IPv4 interfaces.
pub fn broadcast_addrs() -> Vec<IpAddr> {
    let mut out = vec![IpAddr::V4(Ipv4Addr::BROADCAST)];
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: as in local_addrs.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut p = ifap;
    while !p.is_null() {
        // SAFETY: p walks the list getifaddrs returned.
        let ifa = unsafe { &*p };
        if ifa.ifa_flags & libc::IFF_BROADCAST as u32 != 0 {
            // SAFETY: with IFF_BROADCAST, ifa_ifu is the broadcast address.
            if let Some(ip) = unsafe { sockaddr_ip(ifa.ifa_ifu) } {
                out.push(ip);
            }
        }
        // The subnet's own broadcast address, which the kernel routes as
        // broadcast even when none was configured.
        // SAFETY: ifa_addr and ifa_netmask are null or valid sockaddrs.
        if let (Some(IpAddr::V4(a)), Some(IpAddr::V4(m))) =
            unsafe { (sockaddr_ip(ifa.ifa_addr), sockaddr_ip(ifa.ifa_netmask)) }
        {
            let b = u32::from(a) | !u32::from(m);
            if u32::from(m) != u32::MAX {
                out.push(IpAddr::V4(Ipv4Addr::from(b)));
            }
        }
        p = ifa.ifa_next;
    }
    // SAFETY: ifap came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    out
}

/// # Safety
/// `sa` is null or points to a valid sockaddr of its family.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: (caller) a valid sockaddr.
    match i32::from(unsafe { (*sa).sa_family }) {
        libc::AF_INET => {
            // SAFETY: an AF_INET sockaddr is a sockaddr_in.
            let a = unsafe { &*sa.cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 sockaddr is a sockaddr_in6.
            let a = unsafe { &*sa.cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// Whether `ip` is an address of this machine (loopback included).
pub fn is_local(ip: IpAddr, locals: &[IpAddr]) -> bool {
    ip.is_loopback() || locals.contains(&ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_lines() {
        let l = parse_line(
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0",
            "tcp",
        )
        .expect("a listener");
        assert_eq!(l.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(l.inode, 12345);
        let l6 = parse_line(
            "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0",
            "tcp",
        )
        .expect("a listener");
        assert_eq!(l6.addr, "[::1]:8080".parse().unwrap());
        // Established: not a listener.
        assert!(parse_line(
            "   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0",
            "tcp"
        )
        .is_none());
        // v4-mapped IPv6 is shown as IPv4.
        let m = parse_addr("0000000000000000FFFF00000100007F:0050").expect("mapped");
        assert_eq!(m, "127.0.0.1:80".parse().unwrap());
    }
}
