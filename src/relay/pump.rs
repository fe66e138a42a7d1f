//! The moves between two ends, written once: the local end (standard
//! input and output, a child's pipes) and the network's (a [`Conn`], or
//! the TLS relay's [`crate::relay::tls_stream::TlsEnd`]), one
//! [`Direction`] each way. A move is one call of an end and the
//! bookkeeping of its buffer: the read into the free space, `-C`, the log
//! tap and what was consumed. What a move's result means (an EOF closes
//! an end, an error ends the session, which end closes next) is the
//! engine's end-of-session policy, applied in its pass: nc's rules for
//! the TLS relay ([`crate::relay::rules`]), the EOF rules of an exec
//! session (`serve::session`, in the layer above).
//!
//! [`Conn`]: crate::relay::stream::Conn

use std::io;

use crate::relay::direction::{Direction, Sent};
use crate::relay::endpoint::Endpoint;
use crate::relay::log::Log;

/// The two directions of a relayed stream.
pub struct Pump {
    /// Local end to the network (`-C` applies here).
    pub to_net: Direction,
    /// The network to the local end.
    pub from_net: Direction,
}

impl Pump {
    /// Buffers of `size` bytes each way; `crlf`: `-C` toward the network.
    pub fn new(size: usize, crlf: bool) -> Pump {
        Pump {
            to_net: Direction::new(size, crlf),
            from_net: Direction::new(size, false),
        }
    }

    /// The local end into the buffer toward the network (a read is
    /// offered the free space, compacted first when less than `want` is
    /// free at the end).
    pub fn read_local(&mut self, local: &mut impl Endpoint, want: usize) -> io::Result<usize> {
        let n = local.read(self.to_net.space(want))?;
        self.to_net.filled(n);
        Ok(n)
    }

    /// The buffer toward the network to it, at most `max` bytes on the
    /// wire (see [`crate::relay::direction::send`]).
    pub fn send_net(
        &mut self,
        net: &mut impl Endpoint,
        log: Option<&Log>,
        max: usize,
    ) -> io::Result<Sent> {
        self.to_net.send(log, max, |wire| net.write(wire))
    }

    /// The network into its buffer, offered all the free space (the
    /// pending bytes moved to the front first: as few reads as can be, a
    /// datagram read whole), logged as received.
    pub fn read_net(&mut self, net: &mut impl Endpoint, log: Option<&Log>) -> io::Result<usize> {
        let n = net.read(self.from_net.space(usize::MAX))?;
        self.from_net.received(n, log);
        Ok(n)
    }

    /// What came from the network to the local end.
    pub fn write_local(&mut self, local: &mut impl Endpoint) -> io::Result<usize> {
        let n = local.write(self.from_net.pending())?;
        self.from_net.consumed(n);
        Ok(n)
    }

    /// Nothing is buffered either way.
    pub fn is_empty(&self) -> bool {
        self.to_net.is_empty() && self.from_net.is_empty()
    }

    pub fn clear(&mut self) {
        self.to_net.clear();
        self.from_net.clear();
    }
}
