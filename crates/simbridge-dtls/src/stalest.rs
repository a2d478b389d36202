//! An endpoint's handshakes in progress ordered by when each last made progress (its start,
//! or a flight of the peer that answered ours), so that when the handshake budget
//! (`ServerConfig::max_handshaking`) is full the one idle longest is found in O(log n), with
//! no scan of the table per ClientHello.

use std::collections::BTreeSet;

/// Handshakes in progress by last progress, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Stalest {
    /// `(stamp, connection id)`; stamps come from a counter, so their order is the order in
    /// which progress happened (no clock: two events in the same instant still differ).
    order: BTreeSet<(u64, u64)>,
    next: u64,
}

impl Stalest {
    /// Connection `id` made progress (or started): returns its new stamp. `old` is the stamp
    /// it had, if any.
    pub(crate) fn touch(&mut self, id: u64, old: Option<u64>) -> u64 {
        if let Some(s) = old {
            self.order.remove(&(s, id));
        }
        let s = self.next;
        self.next += 1;
        self.order.insert((s, id));
        s
    }

    /// Connection `id`, stamped `stamp`, completed its handshake or went.
    pub(crate) fn leave(&mut self, id: u64, stamp: u64) {
        self.order.remove(&(stamp, id));
    }

    /// The handshake that made no progress for the longest time.
    pub(crate) fn stalest(&self) -> Option<u64> {
        self.order.first().map(|&(_, id)| id)
    }

    /// Handshakes in progress.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stalest_is_the_one_touched_longest_ago() {
        let mut s = Stalest::default();
        let a = s.touch(1, None);
        let b = s.touch(2, None);
        let _c = s.touch(3, None);
        assert_eq!(s.stalest(), Some(1));
        let a2 = s.touch(1, Some(a));
        assert_eq!(s.stalest(), Some(2));
        s.leave(2, b);
        assert_eq!(s.stalest(), Some(3));
        assert_eq!(s.len(), 2);
        s.leave(1, a2);
        s.leave(3, _c);
        assert_eq!((s.stalest(), s.len()), (None, 0));
    }
}
