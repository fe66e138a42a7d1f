//! The modes: what a run does once the command line is a `Config`. `main`
//! enters one with the whole `Config`, and the mode derives the small option
//! structs the lower layers take (`Config::relay_opts`, `connect_opts`, ...):
//! [`client`] (connect to each port in turn, directly or through a proxy,
//! and relay or pass the socket), [`scan`] (`-z`: many probes at once, nc's
//! report in nc's order), [`listen`] (bind, then serve clients) and
//! [`unix`] (`-U` clients and listeners, and the files they create).
//!
//! A mode is a file or a folder of its own (`scan/`). It may use `serve`, `relay`,
//! `net`, `report` and `sys`, and `cli::config` for the `Config` it is
//! handed; it never imports another mode: what two modes
//! share lives in the layer below (the listener sessions in
//! `serve::listen`, the UDP probe in `net::udp`).

pub mod client;
pub mod listen;
pub mod scan;
pub mod unix;
