//! How a run ends, and the exit status each ending gives (docs/compatibility.md §4).

/// Why a run stopped early. Each variant unwinds to `main` through the
/// normal return path, so every guard on the way (file-status flags,
/// socket files, temporary directories) is restored or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    /// An error was reported; exit 1.
    Failed,
    /// A signal arrived; die by it once cleaned up (docs/compatibility.md departure 9).
    Signal(i32),
    /// The `-q` timer fired: nc exits 0 from its alarm handler.
    QuitTimer,
}

/// The exit status of a finished run.
pub type Status = u8;
