//! The modes: what a run does once the command line is a `Config`. Each
//! mode is entered from `main` with the whole `Config` and derives the small
//! option structs the lower layers take: [`client`] (connect to each port
//! and relay), [`scan`] (`-z`, many probes at once), [`listen`] (bind,
//! accept, relay, `-k`), [`udp`] (datagram probes and the datagram
//! listener's first datagram), [`unix`] (`-U` clients and listeners) and
//! [`fdpass`] (`-F`).
//!
//! A mode may use `relay`, `net`, `report` and `sys`, and `cli::config` for
//! the `Config` it is handed; it never imports another mode: what two modes
//! share lives in the layer below.

pub mod client;
pub mod listen;
pub mod scan;
pub mod unix;
