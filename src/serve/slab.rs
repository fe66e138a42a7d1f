//! The table of a serving listener's clients: one typed slab, and the
//! loop's tokens and timer keys of each slot. (A scan's probes in flight
//! are held in one too.)
//!
//! A slot is an index into a vector of `Option<T>`; a freed index goes on
//! a free list and is handed out again (last freed, first reused), so the
//! table never grows past the most clients held at once. Each slot owns
//! a fixed range of the loop's tokens and one of its timer keys, `width`
//! of each, laid out by the slab's [`Layout`]: its owner names the fds and
//! timers of a client by their offsets in the range ([`Keys::token`],
//! [`Keys::timer`]) and finds the slot of an event or a timer with
//! [`Slab::by_token`] and [`Slab::by_timer`]. What lies below a layout's
//! first token and key is the owner's own (the loop's named tokens, the
//! listener's pause timer).
//!
//! There is no generation count: a timer a slot's earlier client left
//! behind reaches the slot's next client, so each one checks its own
//! deadline when a timer fires (as `Handshake::expire` does).
//!
//! The slab dereferences to its entries (`[Option<T>]`), so code that
//! walks the clients walks them in slot order, vacant slots included.

use std::ops::{Deref, DerefMut};

use mio::Token;

/// Where a slab's ranges start and how wide each slot's is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The token of slot 0's offset 0.
    pub first_token: usize,
    /// The timer key of slot 0's offset 0.
    pub first_timer: usize,
    /// Tokens (and timer keys) per slot.
    pub width: usize,
}

impl Layout {
    /// Slot `i`'s tokens and timer keys.
    pub const fn keys(self, i: usize) -> Keys {
        Keys {
            token: self.first_token + i * self.width,
            timer: self.first_timer + i * self.width,
            width: self.width,
        }
    }
}

/// One slot's tokens and timer keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    token: usize,
    timer: usize,
    width: usize,
}

impl Keys {
    /// The token at offset `k` of the slot's range.
    pub fn token(self, k: usize) -> Token {
        debug_assert!(k < self.width);
        Token(self.token + k)
    }

    /// The timer key at offset `k` of the slot's range.
    pub fn timer(self, k: usize) -> usize {
        debug_assert!(k < self.width);
        self.timer + k
    }
}

/// Clients by slot, with a free list.
pub struct Slab<T> {
    entries: Vec<Option<T>>,
    free: Vec<usize>,
    layout: Layout,
}

impl<T> Slab<T> {
    pub fn new(layout: Layout) -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            layout,
        }
    }

    /// A vacant slot, held for the caller until it [`put`](Slab::put)s a
    /// client there or [`release`](Slab::release)s it.
    pub fn reserve(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        })
    }

    /// Puts `value` in slot `i` (reserved, or held by a client it replaces).
    pub fn put(&mut self, i: usize, value: T) {
        self.entries[i] = Some(value);
    }

    /// Gives a reserved slot back, its entry vacant.
    pub fn release(&mut self, i: usize) {
        self.entries[i] = None;
        self.free.push(i);
    }

    /// Takes the client out of slot `i` and frees the slot.
    pub fn remove(&mut self, i: usize) -> Option<T> {
        let v = self.entries.get_mut(i)?.take()?;
        self.free.push(i);
        Some(v)
    }

    /// Drops every client, in slot order.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.free.clear();
    }

    /// Clients held now.
    pub fn occupied(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// Slot `i`'s tokens and timer keys.
    pub fn keys(&self, i: usize) -> Keys {
        self.layout.keys(i)
    }

    /// The slot and offset of a token of the layout's (the slot may be
    /// past the table, or vacant).
    pub fn by_token(&self, t: Token) -> Option<(usize, usize)> {
        let k = t.0.checked_sub(self.layout.first_token)?;
        Some((k / self.layout.width, k % self.layout.width))
    }

    /// The slot and offset of a timer key of the layout's.
    pub fn by_timer(&self, key: usize) -> Option<(usize, usize)> {
        let k = key.checked_sub(self.layout.first_timer)?;
        Some((k / self.layout.width, k % self.layout.width))
    }
}

impl<T> Deref for Slab<T> {
    type Target = [Option<T>];

    fn deref(&self) -> &[Option<T>] {
        &self.entries
    }
}

impl<T> DerefMut for Slab<T> {
    fn deref_mut(&mut self) -> &mut [Option<T>] {
        &mut self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Layout = Layout {
        first_token: 1024,
        first_timer: 1024,
        width: 4,
    };

    #[test]
    fn slots_are_reused_last_freed_first() {
        let mut s: Slab<&str> = Slab::new(L);
        let (a, b, c) = (s.reserve(), s.reserve(), s.reserve());
        assert_eq!((a, b, c), (0, 1, 2));
        s.put(a, "a");
        s.put(c, "c");
        s.release(b);
        assert_eq!(s.occupied(), 2);
        assert_eq!(s.remove(a), Some("a"));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.reserve(), a);
        assert_eq!(s.reserve(), b);
        assert_eq!(s.reserve(), 3);
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn keys_and_their_slots() {
        let s: Slab<()> = Slab::new(L);
        let k = s.keys(3);
        assert_eq!(k.token(2), Token(1024 + 3 * 4 + 2));
        assert_eq!(k.timer(1), 1024 + 3 * 4 + 1);
        assert_eq!(s.by_token(k.token(2)), Some((3, 2)));
        assert_eq!(s.by_timer(k.timer(1)), Some((3, 1)));
        assert_eq!(s.by_token(Token(4)), None);
        assert_eq!(s.by_timer(1), None);
        let scan: Slab<()> = Slab::new(Layout {
            first_token: 16,
            first_timer: 0,
            width: 1,
        });
        assert_eq!(scan.keys(5).token(0), Token(21));
        assert_eq!(scan.keys(5).timer(0), 5);
        assert_eq!(scan.by_timer(5), Some((5, 0)));
    }
}
