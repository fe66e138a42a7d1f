//! The socket's error queue: which host sent the ICMP error that failed a
//! connect, and what it said.
//!
//! With `IP_RECVERR` / `IPV6_RECVERR` set, the kernel keeps each ICMP
//! error a socket receives (and errors it raises itself) on the socket's
//! error queue as a `sock_extended_err` plus the address of the host that
//! sent it (`SO_EE_OFFENDER`), beside the plain errno it reports. Setting
//! the option costs nothing while no error arrives. It changes one thing
//! for a connected TCP socket (ICMP errors become hard errors), so a
//! socket that goes on to relay has it cleared first ([`disable`]), which
//! also empties the queue.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};

use socket2::Socket;

pub use super::model::QueuedError;

fn set(fd: RawFd, level: i32, name: i32, on: bool) -> bool {
    let v: libc::c_int = on.into();
    // SAFETY: a pointer to a live c_int and its size.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

/// Asks the kernel to queue the errors of `sock` (of `family`). An IPv6
/// socket gets both options: it may talk to a v4-mapped address, whose
/// errors are ICMPv4. Best effort: nothing depends on it but `-vv`.
pub fn enable(sock: &Socket, family: i32) {
    let fd = sock.as_raw_fd();
    match family {
        libc::AF_INET => {
            set(fd, libc::SOL_IP, libc::IP_RECVERR, true);
        }
        libc::AF_INET6 => {
            set(fd, libc::SOL_IPV6, libc::IPV6_RECVERR, true);
            set(fd, libc::SOL_IP, libc::IP_RECVERR, true);
        }
        _ => {}
    }
}

/// Turns the queue off again (and empties it): a socket that relays
/// behaves as nc's, where an ICMP error on an established connection is
/// only a soft error.
pub fn disable(sock: &Socket) {
    let fd = sock.as_raw_fd();
    let Ok(addr) = sock.local_addr() else {
        return;
    };
    match i32::from(addr.family()) {
        libc::AF_INET => {
            set(fd, libc::SOL_IP, libc::IP_RECVERR, false);
        }
        libc::AF_INET6 => {
            set(fd, libc::SOL_IPV6, libc::IPV6_RECVERR, false);
            set(fd, libc::SOL_IP, libc::IP_RECVERR, false);
        }
        _ => {}
    }
}

/// The most entries read at once: the queue is bounded by the receive
/// buffer, and only the newest matters.
const MAX_ENTRIES: usize = 16;

/// Reads the whole error queue (emptying it, so a reused socket starts
/// clean) and returns its last ICMP entry, or its last entry of any kind.
pub fn take(sock: &Socket) -> Option<QueuedError> {
    let fd = sock.as_raw_fd();
    let mut best: Option<QueuedError> = None;
    for _ in 0..MAX_ENTRIES {
        let Some(e) = recv_one(fd) else {
            break;
        };
        if e.errno == 0 && e.origin == 0 {
            continue; // not one of ours
        }
        if e.is_icmp() || best.is_none_or(|b| !b.is_icmp()) {
            best = Some(e);
        }
    }
    best
}

/// Empties the queue without looking at it.
pub fn drain(sock: &Socket) {
    let fd = sock.as_raw_fd();
    for _ in 0..MAX_ENTRIES {
        if recv_one(fd).is_none() {
            break;
        }
    }
}

/// One `recvmsg(MSG_ERRQUEUE)`.
fn recv_one(fd: RawFd) -> Option<QueuedError> {
    // The offending packet's start comes back as data; a little is enough.
    let mut data = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for one cmsg: sock_extended_err + a sockaddr_in6, aligned.
    let mut control = [0u64; 16];
    // SAFETY: an all-zero msghdr is valid; the pointers set below live
    // across the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg describes valid buffers.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    // SAFETY: walking the control messages the kernel wrote within msg.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: cmsg points into `control`.
        let c = unsafe { &*cmsg };
        let ours = (c.cmsg_level == libc::SOL_IP && c.cmsg_type == libc::IP_RECVERR)
            || (c.cmsg_level == libc::SOL_IPV6 && c.cmsg_type == libc::IPV6_RECVERR);
        let ee_len = std::mem::size_of::<libc::sock_extended_err>();
        // SAFETY: CMSG_LEN(0) is the header length.
        let header = unsafe { libc::CMSG_LEN(0) } as usize;
        if ours && (c.cmsg_len as usize) >= header + ee_len {
            // SAFETY: the data holds at least a sock_extended_err.
            let data = unsafe { libc::CMSG_DATA(cmsg) };
            let ee: libc::sock_extended_err =
                unsafe { std::ptr::read_unaligned(data.cast::<libc::sock_extended_err>()) };
            let after = c.cmsg_len as usize - header - ee_len;
            // SAFETY: the offender follows the sock_extended_err, `after`
            // bytes long.
            let reporter = unsafe { offender(data.add(ee_len), after) };
            return Some(QueuedError {
                errno: ee.ee_errno as i32,
                origin: ee.ee_origin,
                icmp_type: ee.ee_type,
                icmp_code: ee.ee_code,
                info: ee.ee_info,
                reporter,
            });
        }
        // SAFETY: advancing within the control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    // An entry without our control message: skip it, look at the next.
    Some(QueuedError {
        errno: 0,
        origin: 0,
        icmp_type: 0,
        icmp_code: 0,
        info: 0,
        reporter: None,
    })
}

/// `SO_EE_OFFENDER`: the sockaddr after the extended error (family
/// AF_UNSPEC when the kernel does not know).
///
/// # Safety
/// `p` must point to `len` readable bytes.
unsafe fn offender(p: *const u8, len: usize) -> Option<IpAddr> {
    if len < 2 {
        return None;
    }
    // SAFETY: (caller) at least 2 bytes: the family.
    let family = i32::from(unsafe { std::ptr::read_unaligned(p.cast::<libc::sa_family_t>()) });
    match family {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: a whole sockaddr_in is there.
            let sa = unsafe { std::ptr::read_unaligned(p.cast::<libc::sockaddr_in>()) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr))))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: a whole sockaddr_in6 is there.
            let sa = unsafe { std::ptr::read_unaligned(p.cast::<libc::sockaddr_in6>()) };
            let v6 = Ipv6Addr::from(sa.sin6_addr.s6_addr);
            Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
        }
        _ => None,
    }
}
