//! The recipient replay window (RFC 8613 §7.4): a sliding window over the partial IVs of
//! requests, so each is accepted at most once and one far behind the newest is refused.
//!
//! Ours: the window is a bitmap of up to 64 sequence numbers below the highest accepted one
//! (default 32, as RFC 8613 §7.4 says). After a
//! restart without saved state the window is [`ReplayWindow::unknown`]: nothing can be
//! told fresh, so requests are verified but reported unfresh until the Echo exchange of
//! Appendix B.1.2 (see [`crate::echo`]) initializes the window with [`ReplayWindow::init_at`].

use thiserror::Error;

use crate::error::{Error, Field};

/// The default window size (RFC 8613 §7.4).
pub const DEFAULT_WINDOW: u32 = 32;
/// The largest window this type keeps (one u64 bitmap).
pub const MAX_WINDOW: u32 = 64;

/// Why the window refused a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// This sequence number was accepted before.
    #[error("replayed sequence number {0}")]
    Replayed(u64),
    /// This sequence number is older than the window reaches.
    #[error("sequence number {0} too old for the replay window")]
    TooOld(u64),
    /// The window is unknown (after a restart) and must be initialized first (Echo, B.1.2).
    #[error("replay window unknown since restart")]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Unknown after a restart: nothing is known fresh.
    Unknown,
    /// Nothing received yet: any sequence number is new.
    Empty,
    /// `top` is the highest accepted; bit i of `seen` is top - i (bit 0 is top itself).
    Sliding { top: u64, seen: u64 },
}

/// A sliding replay window over the partial IVs received in requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    size: u32,
    state: State,
}

impl Default for ReplayWindow {
    /// An empty window of [`DEFAULT_WINDOW`].
    fn default() -> Self {
        Self {
            size: DEFAULT_WINDOW,
            state: State::Empty,
        }
    }
}

impl ReplayWindow {
    /// An empty window of `size` (1..=64) sequence numbers.
    pub fn new(size: u32) -> Result<Self, Error> {
        if size == 0 || size > MAX_WINDOW {
            return Err(Error::Parameter(Field::WindowSize));
        }
        Ok(Self {
            size,
            state: State::Empty,
        })
    }

    /// A window of [`DEFAULT_WINDOW`] whose state was lost (a server after a restart).
    pub fn unknown() -> Self {
        Self {
            size: DEFAULT_WINDOW,
            state: State::Unknown,
        }
    }

    /// True while the window is unknown (since a restart, until [`Self::init_at`]).
    pub fn is_unknown(&self) -> bool {
        self.state == State::Unknown
    }

    /// The highest sequence number accepted, if any.
    pub fn top(&self) -> Option<u64> {
        match self.state {
            State::Sliding { top, .. } => Some(top),
            _ => None,
        }
    }

    /// Whether `seq` would be accepted; changes nothing (check before decrypting, accept after
    /// the tag verified, so a forgery cannot move the window).
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        match self.state {
            State::Unknown => Err(ReplayError::Unknown),
            State::Empty => Ok(()),
            State::Sliding { top, seen } => {
                if seq > top {
                    return Ok(());
                }
                let age = top - seq;
                if age >= u64::from(self.size) {
                    return Err(ReplayError::TooOld(seq));
                }
                if seen >> age & 1 == 1 {
                    Err(ReplayError::Replayed(seq))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Records `seq` as received; fails as [`Self::check`] does and then changes nothing.
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        self.state = match self.state {
            State::Unknown => return Err(ReplayError::Unknown),
            State::Empty => State::Sliding { top: seq, seen: 1 },
            State::Sliding { top, seen } if seq > top => {
                let shift = seq - top;
                let seen = if shift >= 64 { 0 } else { seen << shift };
                State::Sliding {
                    top: seq,
                    seen: seen | 1,
                }
            }
            State::Sliding { top, seen } => State::Sliding {
                top,
                seen: seen | 1 << (top - seq),
            },
        };
        Ok(())
    }

    /// Initializes a window (after an Echo exchange, RFC 8613 Appendix B.1.2): `seq` is
    /// accepted and everything at or below it is refused from now on.
    pub fn init_at(&mut self, seq: u64) {
        self.state = State::Sliding {
            top: seq,
            seen: u64::MAX,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_are_refused() {
        let mut w = ReplayWindow::default();
        w.accept(5).unwrap();
        assert_eq!(w.accept(5), Err(ReplayError::Replayed(5)));
        w.accept(3).unwrap();
        assert_eq!(w.check(3), Err(ReplayError::Replayed(3)));
        assert_eq!(w.check(4), Ok(()));
    }

    #[test]
    fn too_old_is_refused_and_the_window_slides() {
        let mut w = ReplayWindow::default();
        w.accept(100).unwrap();
        assert_eq!(w.check(100 - 31), Ok(()));
        assert_eq!(w.check(100 - 32), Err(ReplayError::TooOld(68)));
        w.accept(140).unwrap();
        // 100 is now 40 behind: too old, though it was seen.
        assert_eq!(w.check(100), Err(ReplayError::TooOld(100)));
        assert_eq!(w.check(139), Ok(()));
        assert_eq!(w.accept(140), Err(ReplayError::Replayed(140)));
        // A jump beyond the bitmap clears it.
        w.accept(140 + 1000).unwrap();
        assert_eq!(w.check(140 + 999), Ok(()));
    }

    #[test]
    fn window_sizes() {
        assert!(ReplayWindow::new(0).is_err());
        assert!(ReplayWindow::new(65).is_err());
        let mut w = ReplayWindow::new(64).unwrap();
        w.accept(64).unwrap();
        assert_eq!(w.check(1), Ok(()));
        assert_eq!(w.check(0), Err(ReplayError::TooOld(0)));
        w.accept(1).unwrap();
        assert_eq!(w.check(1), Err(ReplayError::Replayed(1)));
    }

    #[test]
    fn unknown_until_initialized() {
        let mut w = ReplayWindow::unknown();
        assert!(w.is_unknown());
        assert_eq!(w.check(7), Err(ReplayError::Unknown));
        assert_eq!(w.accept(7), Err(ReplayError::Unknown));
        w.init_at(7);
        assert_eq!(w.check(7), Err(ReplayError::Replayed(7)));
        assert_eq!(w.check(6), Err(ReplayError::Replayed(6)));
        assert_eq!(w.check(8), Ok(()));
    }
}
