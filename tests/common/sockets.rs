//! Data and descriptors for the tests: test data and checksums.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use super::unique;

/// Write `len` pseudo-random bytes (xorshift, seeded per call) to a file.
pub fn random_file(path: &Path, len: usize) {
    let mut x: u64 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ ((unique() as u64 + 1) << 32)
        ^ 0x9E37_79B9_7F4A_7C15;
    let mut f =
        io::BufWriter::with_capacity(1 << 20, File::create(path).expect("create data file"));
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for w in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(chunk.len());
        f.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    f.flush().unwrap();
}

/// sha256 of a file, through `sha256sum`.
pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum failed");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}
