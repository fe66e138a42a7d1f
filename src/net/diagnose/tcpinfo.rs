//! `TCP_INFO` of a connect that did not complete: how many SYNs went out.
//!
//! While a connect is in progress (and after the kernel gave up on it, as
//! long as the socket has not been reused), `tcpi_retransmits` counts the
//! SYNs sent again after the first. `tcpi_retrans` counts the
//! retransmissions that actually left this host: a SYN whose transmission
//! failed locally (a DROP rule in this host's netfilter OUTPUT chain
//! answers EPERM to the kernel, which retries silently) is counted in the
//! first but not the second. The counters are reset when the socket is
//! connected again, so they are read before the result is collected.

use std::os::fd::AsRawFd;

use socket2::Socket;

/// What `TCP_INFO` says about the SYNs of a connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syns {
    /// SYNs sent: the first and its retransmissions.
    pub sent: u32,
    /// Retransmissions the kernel could not send at all (EPERM from this
    /// host's firewall), as far as TCP_INFO tells.
    pub failed_locally: bool,
    /// The TCP state (`TCP_SYN_SENT` = 2, `TCP_CLOSE` = 7, ...).
    pub state: u8,
}

/// Reads the SYN counters of `sock`; None when the call fails (not TCP).
pub fn syns(sock: &Socket) -> Option<Syns> {
    // SAFETY: an all-zero tcp_info is valid; the kernel fills at most len.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info and len are valid for the call.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    let retransmits = u32::from(info.tcpi_retransmits);
    Some(Syns {
        sent: 1 + retransmits,
        failed_locally: retransmits > 0 && info.tcpi_retrans == 0 && info.tcpi_state == 2,
        state: info.tcpi_state,
    })
}
