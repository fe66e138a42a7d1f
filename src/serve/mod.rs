//! The serve layer: listeners and the clients they serve. It owns nc's
//! listener loop ([`listen`]: accept or wait for the first datagram,
//! relay, the `-k`/`-q` rule, over a plain or a TLS relay), the accepting
//! of the listeners that serve many clients at once ([`accept`]: the
//! access lists, `--max-conns`, the open-file limit, the pause on EMFILE,
//! the per-turn budget), the table of their clients with each one's
//! tokens and timer keys ([`slab`]), a TLS client's handshake and checks
//! before it is served ([`handshake`]), connections served by child
//! processes ([`exec`], [`session`], [`child`]) and the broker and chat
//! room ([`broker`]). (docs/compatibility.md §A.3)
//!
//! It may use `relay` (the relays, buffers, logs and the byte-stream end
//! a session relays), `net`, `report` and `sys`; it never imports a mode
//! or `cli` (a mode hands it a socket and the option structs derived in
//! `cli/config.rs`: [`listen::ServeOpts`], [`exec::ExecOpts`],
//! [`broker::BrokerOpts`], [`handshake::TlsServeOpts`]).

pub mod accept;
pub mod broker;
pub mod child;
pub mod exec;
pub mod handshake;
pub mod listen;
pub mod session;
pub mod slab;
