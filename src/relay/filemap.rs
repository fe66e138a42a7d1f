//! A regular-file standard input sent from a memory window of the file.
//!
//! When stdin is a regular file, the relay maps it a window at a time and
//! hands the window to `send(2)`: one copy, from the page cache into the
//! socket buffer, where read-then-write makes two. `sendfile(2)` and
//! `splice(2)` make none but attach every 4 KiB page to the socket buffer
//! one by one; on loopback, measured (bench/README.md), they cost the
//! sender about as much CPU as read-then-write, and the window about half.
//!
//! The window starts at the offset stdin had (mapped from the page below
//! it), and stdin's offset is moved past each window as it is mapped, as
//! `read(2)` would have moved it, so a process sharing stdin afterwards
//! finds the offset where it would be after nc. ncrab never touches the
//! mapping itself; only the kernel reads it, in `send(2)`. A file
//! truncated under ncrab therefore makes `send` fail with EFAULT instead
//! of raising SIGBUS. That, and any refusal to map (a file of /proc, an fd
//! opened for writing only), ends the mapping: stdin's offset is put back
//! on the first byte not sent and the caller goes on with `read(2)`. At
//! the end of the file as `fstat` knew it, reading also goes back to
//! `read(2)`, so a file that grows, and the end of the file, are exactly
//! what `read(2)` says.

use std::io;
use std::os::fd::RawFd;

/// The window's size. Each window goes out in one `send(2)`: larger sends
/// keep the receiving side busy rather than waking it up again and again,
/// which on loopback costs more than the bytes (bench/README.md), but the
/// mapped pages count in the process's resident size.
pub const WINDOW: usize = 512 * 1024;

/// The current mapping: `len` bytes, the first `sent` already sent.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
    sent: usize,
    /// The file offset of the mapping's first byte.
    offset: u64,
}

/// A regular file read through a sliding memory window.
pub struct FileWindow {
    fd: RawFd,
    /// The file offset of the first byte not mapped yet.
    next: u64,
    /// The file's size when last asked.
    size: u64,
    map: Option<Mapping>,
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory effects.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as u64,
        _ => 4096,
    }
}

fn file_size(fd: RawFd) -> Option<u64> {
    // SAFETY: fstat fills a zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    u64::try_from(st.st_size).ok()
}

fn seek_to(fd: RawFd, offset: u64) {
    if let Ok(off) = libc::off_t::try_from(offset) {
        // SAFETY: lseek on stdin's fd; a failure leaves the offset as is.
        unsafe { libc::lseek(fd, off, libc::SEEK_SET) };
    }
}

impl FileWindow {
    /// The window over `fd` from its current offset, or None when the fd
    /// has no offset or size to start from.
    pub fn new(fd: RawFd) -> Option<FileWindow> {
        // SAFETY: lseek with SEEK_CUR only reads the offset.
        let cur = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
        Some(FileWindow {
            fd,
            next: u64::try_from(cur).ok()?,
            size: file_size(fd)?,
            map: None,
        })
    }

    /// Bytes mapped and not sent yet.
    pub fn pending(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len - m.sent)
    }

    /// Maps the next window once the current one is sent: `Some(n)` with
    /// `n` bytes now pending, or None when the caller must go on with
    /// `read(2)` (the known end of the file, or no mapping possible);
    /// stdin's offset is then where `read(2)` must start.
    pub fn map_next(&mut self) -> Option<usize> {
        if self.pending() > 0 {
            return Some(self.pending());
        }
        self.unmap();
        if self.next >= self.size {
            self.size = file_size(self.fd)?;
            if self.next >= self.size {
                return None;
            }
        }
        let start = self.next - self.next % page_size();
        let end = self.size.min(self.next + WINDOW as u64);
        let len = usize::try_from(end - start).ok()?;
        let off = libc::off_t::try_from(start).ok()?;
        // SAFETY: a new read-only shared mapping of stdin; the result is
        // checked, and the memory is only ever read by the kernel.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.fd,
                off,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        let skip = (self.next - start) as usize;
        self.map = Some(Mapping {
            ptr,
            len,
            sent: skip,
            offset: start,
        });
        self.next = end;
        seek_to(self.fd, end);
        Some(len - skip)
    }

    /// One `send(2)` of at most `max` pending bytes to the socket `sock`.
    /// EFAULT means the file no longer covers the window: the caller then
    /// calls [`FileWindow::rewind`] and goes on with `read(2)`.
    pub fn send(&mut self, sock: RawFd, max: usize) -> io::Result<usize> {
        let Some(m) = self.map.as_mut() else {
            return Ok(0);
        };
        let len = (m.len - m.sent).min(max);
        // SAFETY: ptr..ptr+len lies inside the live mapping; the kernel
        // reads it (a page past the end of a truncated file gives EFAULT).
        let n = unsafe {
            libc::send(
                sock,
                m.ptr.cast::<u8>().add(m.sent).cast(),
                len,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        m.sent += n as usize;
        Ok(n as usize)
    }

    /// Drops the mapping and puts stdin's offset on the first byte not
    /// sent, for `read(2)` to go on from there.
    pub fn rewind(&mut self) {
        if let Some(m) = &self.map {
            self.next = m.offset + m.sent as u64;
            seek_to(self.fd, self.next);
        }
        self.unmap();
    }

    /// Drops the mapping (what it still holds counts as read, as for a
    /// buffer of nc's).
    pub fn unmap(&mut self) {
        if let Some(m) = self.map.take() {
            // SAFETY: unmapping exactly the mapping we made.
            unsafe { libc::munmap(m.ptr, m.len) };
        }
    }
}

impl Drop for FileWindow {
    fn drop(&mut self) {
        self.unmap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn temp_file(name: &str, data: &[u8]) -> (std::fs::File, std::path::PathBuf) {
        let path =
            std::env::temp_dir().join(format!("ncrab-filemap-{}-{name}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(data)
            .unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (f, path)
    }

    fn drain_all(w: &mut FileWindow, a: &UnixStream, b: &mut UnixStream, out: &mut Vec<u8>) {
        let mut buf = vec![0u8; 1 << 16];
        while w.pending() > 0 {
            let _ = w.send(a.as_raw_fd(), usize::MAX);
            if let Ok(n) = b.read(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
        }
    }

    #[test]
    fn sends_from_the_offset_and_moves_it_as_read_would() {
        let data: Vec<u8> = (0..3 * WINDOW as u32 + 12_345)
            .map(|i| (i % 253) as u8)
            .collect();
        let (mut f, path) = temp_file("offset", &data);
        let mut head = [0u8; 1000];
        f.read_exact(&mut head).unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let mut w = FileWindow::new(f.as_raw_fd()).unwrap();
        let mut out = Vec::new();
        while let Some(n) = w.map_next() {
            assert!(n > 0);
            drain_all(&mut w, &a, &mut b, &mut out);
        }
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = b.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out.len(), data.len() - 1000);
        assert!(out == data[1000..], "bytes differ");
        // SAFETY: reading the offset of our own file.
        let off = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_CUR) };
        assert_eq!(off as usize, data.len());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn truncation_gives_an_error_and_rewinds_not_a_signal() {
        let data = vec![7u8; 256 * 1024];
        let (f, path) = temp_file("trunc", &data);
        let (a, _b) = UnixStream::pair().unwrap();
        let mut w = FileWindow::new(f.as_raw_fd()).unwrap();
        assert_eq!(w.map_next(), Some(data.len()));
        f.set_len(4096).unwrap();
        let r = w.send(a.as_raw_fd(), usize::MAX);
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EFAULT));
        w.rewind();
        assert_eq!(w.pending(), 0);
        // SAFETY: reading the offset of our own file.
        let off = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_CUR) };
        assert_eq!(off, 0);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn the_known_end_hands_over_to_read() {
        let (f, path) = temp_file("end", b"");
        let mut w = FileWindow::new(f.as_raw_fd()).unwrap();
        assert_eq!(w.map_next(), None);
        let _ = std::fs::remove_file(path);
    }
}
