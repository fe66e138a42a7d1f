//! The runtime layer: the one event loop ([`reactor::Reactor`]), signal
//! handling ([`signals`]), the terminal prompt for secrets ([`passphrase`]),
//! `--raw`'s terminal mode ([`rawmode`])
//! how a run ends ([`exit::Abort`], [`exit::Status`]) and errors in the C
//! library's words ([`errno::Errno`], [`errno::GaiError`]).
//!
//! This is the bottom layer: it imports nothing else from ncrab (not even
//! `report`; whoever turns a [`reactor::Stop`] into an [`exit::Abort`]
//! prints what needs printing). Every other layer may use it.

pub mod errno;
pub mod exit;
pub mod passphrase;
pub mod rawmode;
pub mod reactor;
pub mod signals;
#[cfg(test)]
pub mod testing;
