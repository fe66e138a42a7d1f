//! Name resolution through the C library, with nc's hints (docs/compatibility.md §3.1).
//!
//! nc hands every lookup to `getaddrinfo` (family from `-4`/`-6`,
//! `AI_NUMERICHOST` with `-n`, `AI_PASSIVE` for binds) and tries every
//! result in order; reverse lookups for the `Listening on` and
//! `Connection received on` lines go through `getnameinfo`. Using the C
//! library keeps glibc's quirks (`127.1`, `/etc/hosts` answers, port
//! numbers taken modulo 65536) and its error texts.

use std::ffi::{CStr, CString, OsStr};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;

use socket2::SockAddr;

use crate::net::{Family, Proto};
use crate::sys::errno::GaiError;

/// One getaddrinfo result.
#[derive(Clone, Debug)]
pub struct AddrInfo {
    pub family: i32,
    pub socktype: i32,
    pub protocol: i32,
    pub addr: SockAddr,
}

/// What a lookup is for.
#[derive(Clone, Copy, Debug)]
pub struct Hints {
    pub family: Family,
    pub proto: Proto,
    pub numeric: bool,
    pub passive: bool,
}

impl Hints {
    pub fn socktype(&self) -> (i32, i32) {
        match self.proto {
            Proto::Tcp => (libc::SOCK_STREAM, libc::IPPROTO_TCP),
            Proto::Udp => (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
            Proto::Dccp => (libc::SOCK_DCCP, libc::IPPROTO_DCCP),
        }
    }
}

/// `getaddrinfo(host, port, hints)`; `host` None means the wildcard
/// (with `passive`) or loopback. Both are handed over byte for byte, as
/// typed (they need not be UTF-8).
pub fn lookup(
    host: Option<&OsStr>,
    port: Option<&OsStr>,
    hints: Hints,
) -> Result<Vec<AddrInfo>, GaiError> {
    let chost = match host.map(|h| CString::new(h.as_bytes())) {
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            return Err(GaiError {
                code: libc::EAI_NONAME,
                errno: 0,
            });
        }
        None => None,
    };
    let cport = match port.map(|p| CString::new(p.as_bytes())) {
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            return Err(GaiError {
                code: libc::EAI_SERVICE,
                errno: 0,
            });
        }
        None => None,
    };
    // SAFETY: an all-zero addrinfo is a valid "no hints" value.
    let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
    h.ai_family = match hints.family {
        Family::Inet => libc::AF_INET,
        Family::Inet6 => libc::AF_INET6,
        _ => libc::AF_UNSPEC,
    };
    let (st, pr) = hints.socktype();
    h.ai_socktype = st;
    h.ai_protocol = pr;
    if hints.numeric {
        h.ai_flags |= libc::AI_NUMERICHOST;
    }
    if hints.passive {
        h.ai_flags |= libc::AI_PASSIVE;
    }
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: pointers are valid C strings or null; res receives a list we free.
    let rc = crate::sys::signals::during_lookup(|| unsafe {
        libc::getaddrinfo(
            chost.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            cport.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            &h,
            &mut res,
        )
    });
    if rc != 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(GaiError { code: rc, errno });
    }
    let mut out = Vec::new();
    let mut p = res;
    while !p.is_null() {
        // SAFETY: p walks the list getaddrinfo returned.
        let ai = unsafe { &*p };
        if !ai.ai_addr.is_null()
            && ai.ai_addrlen as usize <= std::mem::size_of::<libc::sockaddr_storage>()
        {
            // SAFETY: ai_addr points to ai_addrlen valid bytes.
            let addr = unsafe {
                SockAddr::try_init(|storage, len| {
                    std::ptr::copy_nonoverlapping(
                        ai.ai_addr as *const u8,
                        storage as *mut u8,
                        ai.ai_addrlen as usize,
                    );
                    *len = ai.ai_addrlen;
                    Ok(())
                })
            };
            if let Ok(((), addr)) = addr {
                out.push(AddrInfo {
                    family: ai.ai_family,
                    socktype: ai.ai_socktype,
                    protocol: ai.ai_protocol,
                    addr,
                });
            }
        }
        p = ai.ai_next;
    }
    // SAFETY: res came from a successful getaddrinfo.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// `getnameinfo`: the host and service text of an address. With `numeric`
/// both are numbers; otherwise the host is reverse-resolved and the service
/// stays numeric (nc passes NI_NUMERICSERV for these lines).
pub fn name_info(addr: &SockAddr, numeric: bool) -> Result<(String, String), GaiError> {
    let mut host = [0 as libc::c_char; 1025];
    let mut serv = [0 as libc::c_char; 32];
    let mut flags = libc::NI_NUMERICSERV;
    if numeric {
        flags |= libc::NI_NUMERICHOST;
    }
    // SAFETY: buffers and their lengths are valid; addr is a valid sockaddr.
    let rc = crate::sys::signals::during_lookup(|| unsafe {
        libc::getnameinfo(
            addr.as_ptr().cast(),
            addr.len(),
            host.as_mut_ptr(),
            host.len() as u32,
            serv.as_mut_ptr(),
            serv.len() as u32,
            flags,
        )
    });
    if rc != 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(GaiError { code: rc, errno });
    }
    // SAFETY: getnameinfo NUL-terminates both on success.
    let h = unsafe { CStr::from_ptr(host.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let s = unsafe { CStr::from_ptr(serv.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Ok((h, s))
}

/// The numeric host of an address (`127.0.0.1`, `::1`).
pub fn numeric_host(addr: &SockAddr) -> String {
    match addr.as_socket() {
        Some(SocketAddr::V4(a)) => a.ip().to_string(),
        Some(SocketAddr::V6(a)) => {
            // getnameinfo prints the scope as %ifname; keep it simple with
            // the C library when a scope is present.
            if a.scope_id() != 0 {
                name_info(addr, true)
                    .map(|(h, _)| h)
                    .unwrap_or_else(|_| a.ip().to_string())
            } else {
                a.ip().to_string()
            }
        }
        None => String::new(),
    }
}
