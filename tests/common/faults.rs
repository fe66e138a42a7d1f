//! Faults injected into a child: system calls made to fail with a chosen
//! errno by a seccomp filter installed between fork and exec.

use std::io;

// ---------------------------------------------------------------------------
// Faults injected into a child
// ---------------------------------------------------------------------------

/// A system call made to fail with `errno` in a child, by a seccomp filter
/// installed just before exec (so the dynamic loader is affected too: keep
/// the rules narrow). `arg` restricts the rule to calls whose argument
/// number `.0` (low 32 bits), masked with `.1`, equals `.2`.
///
/// This is how the tests reach errors that cannot be provoked safely:
/// ENFILE (the system-wide file table is shared with everything else on
/// the machine), or EMFILE at one precise call.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub syscall: i64,
    pub arg: Option<(u32, u32, u32)>,
    pub errno: i32,
}

impl Fault {
    /// socket() for IPv4 and IPv6 (netlink and Unix sockets still work).
    pub fn inet_socket(errno: i32) -> Vec<Fault> {
        [libc::AF_INET, libc::AF_INET6]
            .iter()
            .map(|&af| Fault {
                syscall: libc::SYS_socket,
                arg: Some((0, u32::MAX, af as u32)),
                errno,
            })
            .collect()
    }
    /// accept() and accept4().
    pub fn accept(errno: i32) -> Vec<Fault> {
        [libc::SYS_accept, libc::SYS_accept4]
            .iter()
            .map(|&syscall| Fault {
                syscall,
                arg: None,
                errno,
            })
            .collect()
    }
    /// openat() with O_NONBLOCK: ncrab's private reopening of a stdin or
    /// stdout pipe or tty through /proc/self/fd fails, so it must fall back
    /// to setting O_NONBLOCK on the shared description (and restore it).
    pub fn nonblocking_open(errno: i32) -> Vec<Fault> {
        vec![Fault {
            syscall: libc::SYS_openat,
            arg: Some((2, libc::O_NONBLOCK as u32, libc::O_NONBLOCK as u32)),
            errno,
        }]
    }
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The BPF program for `faults` (None when there are none).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(super) fn seccomp_filter(faults: &[Fault]) -> Option<Vec<libc::sock_filter>> {
    if faults.is_empty() {
        return None;
    }
    const LD_ABS_W: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k, jt, jf| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    // struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i (the
    // low half first on these little-endian machines).
    let mut p = vec![stmt(LD_ABS_W, 4), jeq(AUDIT_ARCH, 1, 0)];
    p.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    for f in faults {
        let ret = stmt(RET_K, libc::SECCOMP_RET_ERRNO | (f.errno as u32 & 0xffff));
        p.push(stmt(LD_ABS_W, 0));
        match f.arg {
            None => {
                p.push(jeq(f.syscall as u32, 0, 1));
                p.push(ret);
            }
            Some((i, mask, value)) => {
                p.push(jeq(f.syscall as u32, 0, 4));
                p.push(stmt(LD_ABS_W, 16 + 8 * i));
                p.push(stmt(AND_K, mask));
                p.push(jeq(value, 0, 1));
                p.push(ret);
            }
        }
    }
    p.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    Some(p)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn seccomp_filter(faults: &[Fault]) -> Option<Vec<libc::sock_filter>> {
    assert!(faults.is_empty(), "fault injection needs x86_64 or aarch64");
    None
}

/// Installs the filter (in the child, between fork and exec).
pub(super) fn install_seccomp(f: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: f.len() as u16,
        filter: f.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with a valid, live filter program.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
