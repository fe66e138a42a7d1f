//! `-F`: hand the connected socket to whoever holds our standard output.
//!
//! nc's `fdpass`: standard output must be a Unix-domain socket; the
//! connected socket travels as SCM_RIGHTS ancillary data with one data
//! byte, NUL, and the run ends with status 0 (docs/compatibility.md §6.3). A terminal on stdout
//! is refused before trying; anything else that is not a socket fails in
//! sendmsg (`sendmsg: Socket operation on non-socket`). When the receiver's
//! queue is full, the loop waits for stdout to become writable.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use mio::Interest;
use socket2::Socket;

use crate::relay::stdio::{Kind, Stdio};
use crate::report::{self, Errno};
use crate::sys::exit::{Abort, Status};
use crate::sys::reactor::{self, Ctx, Interests, Machine, Reactor, Step};

/// Passes `sock` over standard output; Ok(0) once it is sent.
pub fn pass(rx: &mut Reactor, stdout: &Stdio, sock: &Socket) -> Result<Status, Abort> {
    if stdout.kind == Kind::Tty {
        report::fdpass_tty();
        return Err(Abort::Failed);
    }
    loop {
        match send_fd(stdout.fd, sock.as_raw_fd()) {
            Ok(1) => return Ok(0),
            Ok(n) => {
                report::sendmsg_unexpected(n);
                return Err(Abort::Failed);
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) => {
                let mut m = Writable {
                    fd: stdout.fd,
                    reg: Interests::default(),
                    ready: false,
                };
                if let Err(e) = rx.run(&mut m)? {
                    report::fdpass_poll_failed(Errno::of(&e));
                    return Err(Abort::Failed);
                }
            }
            Err(e) => {
                report::sendmsg_failed(Errno::of(&e));
                return Err(Abort::Failed);
            }
        }
    }
}

/// One `sendmsg` of a NUL byte carrying `fd` as SCM_RIGHTS.
fn send_fd(out: RawFd, fd: RawFd) -> io::Result<usize> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one cmsghdr with one int, aligned as cmsghdr needs.
    let mut space = [0u64; 8];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let cmsg_space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    if cmsg_space > std::mem::size_of_val(&space) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: an all-zero msghdr is valid; every pointer set below points
    // to live local storage of the stated length, and the control buffer
    // holds one cmsghdr of CMSG_LEN(sizeof(int)) bytes.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = cmsg_space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        libc::sendmsg(out, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Waits until `fd` is writable.
struct Writable {
    fd: RawFd,
    reg: Interests,
    ready: bool,
}

impl Machine for Writable {
    type Output = io::Result<()>;

    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: &mio::event::Event) {
        if ev.token() == reactor::STDOUT {
            self.ready = true;
        }
    }

    fn advance(&mut self, cx: &mut Ctx<'_>) -> Step<io::Result<()>> {
        if self.ready {
            self.reg.clear(cx.registry, self.fd);
            return Step::Done(Ok(()));
        }
        if let Err(e) = self.reg.set(
            cx.registry,
            self.fd,
            reactor::STDOUT,
            Some(Interest::WRITABLE),
        ) {
            return Step::Done(Err(e));
        }
        Step::Wait
    }
}
