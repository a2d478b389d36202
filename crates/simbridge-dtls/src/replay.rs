//! Anti-replay sliding window (RFC 6347 §4.1.2.6), 64 records wide, updated only after a record
//! authenticated.

/// Window width.
pub const WINDOW: u64 = 64;

/// Sliding bitmap over the highest sequence number seen. Bit 0 stands for `top` itself, so
/// `bits == 0` means nothing was marked yet (16 bytes, no `Option`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    top: u64,
    bits: u64,
}

impl ReplayWindow {
    /// True when `seq` is new and not too old.
    pub fn check(&self, seq: u64) -> bool {
        match self.top() {
            None => true,
            Some(top) if seq > top => true,
            Some(top) => {
                let d = top - seq;
                d < WINDOW && self.bits & (1u64 << d) == 0
            }
        }
    }

    /// The window as (highest marked, bitmap) for a state export.
    pub fn to_parts(&self) -> (Option<u64>, u64) {
        (self.top(), self.bits)
    }

    /// A window restored from [`ReplayWindow::to_parts`] (the top itself counts as marked).
    pub fn from_parts(top: Option<u64>, bits: u64) -> Self {
        match top {
            Some(top) => Self {
                top,
                bits: bits | 1,
            },
            None => Self::default(),
        }
    }

    /// Highest sequence number marked, if any.
    fn top(&self) -> Option<u64> {
        (self.bits != 0).then_some(self.top)
    }

    /// True when `seq` is above every sequence number marked so far.
    pub fn is_newest(&self, seq: u64) -> bool {
        self.top().is_none_or(|top| seq > top)
    }

    /// Marks `seq` as received (call after authentication).
    pub fn mark(&mut self, seq: u64) {
        match self.top() {
            None => {
                self.top = seq;
                self.bits = 1;
            }
            Some(top) if seq > top => {
                let shift = seq - top;
                self.bits = if shift >= WINDOW {
                    0
                } else {
                    self.bits << shift
                };
                self.bits |= 1;
                self.top = seq;
            }
            Some(top) => {
                let d = top - seq;
                if d < WINDOW {
                    self.bits |= 1u64 << d;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_new_rejects_replays_and_old() {
        let mut w = ReplayWindow::default();
        assert!(w.check(5));
        w.mark(5);
        assert!(!w.check(5));
        assert!(w.check(3));
        w.mark(3);
        assert!(!w.check(3));
        w.mark(100);
        assert!(!w.check(5), "now older than the window");
        assert!(!w.check(36));
        assert!(w.check(37));
        assert!(w.check(99));
        w.mark(99);
        assert!(!w.check(99));
        assert!(!w.check(100));
        w.mark(1000);
        assert!(w.check(999));
    }
}
