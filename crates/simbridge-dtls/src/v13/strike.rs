//! The server's anti-replay for 0-RTT (RFC 8446 §8): a strike register of the ClientHellos
//! whose early data it took, and a freshness window.
//!
//! Early data comes before the handshake proves the client is live, so an attacker who
//! recorded a ClientHello can send it again. RFC 8446 §8.2 and §8.3 together bound that:
//! - **Freshness:** from a ticket's issue time and the client's ticket age the server knows when
//!   the client sent its ClientHello; one that arrives more than the window away from that is
//!   refused early data. With an external PSK (a GBA key) the age is 0 and says nothing: the
//!   register alone would catch a replay within its window but take one sent an hour later, so
//!   early data under an external PSK is refused ([`EarlyVerdict::NoAge`]); it comes with a
//!   ticket.
//! - **Register:** the binder of every ClientHello whose early data was taken is kept for the
//!   window; the same binder again is a replay (the binder covers the whole ClientHello, so a
//!   replay cannot change it and keep it valid).
//! - **Restarts:** a register that was not restored from disk cannot know what it took before, so
//!   it refuses early data for one window after its start; by then every ClientHello it could
//!   have taken is stale.
//! - **Bounded:** at `capacity` entries it refuses early data (the handshake still goes on),
//!   never forgets an entry early.
//!
//! Refusing early data is always safe: the client sends the data again after the handshake.
//! Sans-IO: the caller gives the time (milliseconds on a clock that survives restarts, e.g. wall
//! time) and keeps the export where it keeps other state.

use std::collections::{HashSet, VecDeque};

use sha2::{Digest, Sha256};

/// Default window: 10 s (RFC 8446 §8.3 leaves it to the server; a few RTTs on NB-IoT).
pub const DEFAULT_WINDOW_MS: u64 = 10_000;
/// Default capacity: ClientHellos with early data taken within one window.
pub const DEFAULT_CAPACITY: usize = 100_000;

const EXPORT_FORMAT: u8 = 1;
const DIGEST_LEN: usize = 16;

/// Whether a ClientHello's early data may be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyVerdict {
    /// Fresh and never seen: take it (now recorded).
    Accept,
    /// The same ClientHello was taken within the window.
    Replay,
    /// Sent (by its ticket age) further from now than the window.
    Stale,
    /// No ticket age to judge freshness by (an external PSK).
    NoAge,
    /// Within one window of a start without a restored register.
    Starting,
    /// The register is full.
    Full,
}

/// A strike register with its window.
#[derive(Debug)]
pub struct StrikeRegister {
    window_ms: u64,
    capacity: usize,
    /// Early data is refused before this time (a start without a restored register).
    open_at_ms: u64,
    seen: HashSet<[u8; DIGEST_LEN]>,
    /// The same entries in the order they came, with their time, for expiry.
    order: VecDeque<(u64, [u8; DIGEST_LEN])>,
}

/// An export that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StrikeImportError {
    /// Not an export of this format.
    #[error("strike register export: unknown format")]
    Format,
    /// Cut short or with bytes left over.
    #[error("strike register export: length does not match its entries")]
    Length,
}

impl StrikeRegister {
    /// A register that started at `now_ms` and knows nothing of before: early data waits one
    /// window.
    pub fn new(window_ms: u64, capacity: usize, now_ms: u64) -> Self {
        Self {
            window_ms,
            capacity,
            open_at_ms: now_ms.saturating_add(window_ms),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// The verdict on a ClientHello with early data, identified by its binder. `sent_ms` is when
    /// the client sent it by its ticket age (the ticket's issue time + the client's age; `None`
    /// with an external PSK). An accepted one is recorded.
    pub fn check(&mut self, binder: &[u8], sent_ms: Option<u64>, now_ms: u64) -> EarlyVerdict {
        self.expire(now_ms);
        if now_ms < self.open_at_ms {
            return EarlyVerdict::Starting;
        }
        let Some(sent_ms) = sent_ms else {
            return EarlyVerdict::NoAge;
        };
        if sent_ms.abs_diff(now_ms) > self.window_ms {
            return EarlyVerdict::Stale;
        }
        let d = digest(binder);
        if self.seen.contains(&d) {
            return EarlyVerdict::Replay;
        }
        if self.seen.len() >= self.capacity {
            return EarlyVerdict::Full;
        }
        self.seen.insert(d);
        self.order.push_back((now_ms, d));
        EarlyVerdict::Accept
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn expire(&mut self, now_ms: u64) {
        while let Some(&(t, d)) = self.order.front() {
            if now_ms.saturating_sub(t) <= self.window_ms {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&d);
        }
    }

    /// The entries still within the window at `now_ms`, to restore after a restart (not secret:
    /// digests of binders).
    pub fn export(&mut self, now_ms: u64) -> Vec<u8> {
        self.expire(now_ms);
        let mut out = Vec::with_capacity(9 + self.order.len() * (8 + DIGEST_LEN));
        out.push(EXPORT_FORMAT);
        out.extend_from_slice(&(self.order.len() as u64).to_be_bytes());
        for (t, d) in &self.order {
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(d);
        }
        out
    }

    /// A register restored from `export`: it takes early data at once, refusing what the
    /// export holds. Entries past the window, or beyond `capacity`, are dropped.
    pub fn import(
        bytes: &[u8],
        window_ms: u64,
        capacity: usize,
        now_ms: u64,
    ) -> Result<Self, StrikeImportError> {
        let (&format, rest) = bytes.split_first().ok_or(StrikeImportError::Format)?;
        if format != EXPORT_FORMAT {
            return Err(StrikeImportError::Format);
        }
        let (count, mut rest) = rest.split_at_checked(8).ok_or(StrikeImportError::Length)?;
        let count = u64::from_be_bytes(count.try_into().map_err(|_| StrikeImportError::Length)?);
        if Some(rest.len() as u64) != count.checked_mul((8 + DIGEST_LEN) as u64) {
            return Err(StrikeImportError::Length);
        }
        let mut r = Self {
            window_ms,
            capacity,
            open_at_ms: 0,
            seen: HashSet::new(),
            order: VecDeque::new(),
        };
        while let Some((entry, tail)) = rest.split_at_checked(8 + DIGEST_LEN) {
            rest = tail;
            let (t, d) = entry.split_at(8);
            let t = u64::from_be_bytes(t.try_into().map_err(|_| StrikeImportError::Length)?);
            let d: [u8; DIGEST_LEN] = d.try_into().map_err(|_| StrikeImportError::Length)?;
            if now_ms.saturating_sub(t) <= window_ms && r.seen.len() < capacity && r.seen.insert(d)
            {
                r.order.push_back((t, d));
            }
        }
        r.order.make_contiguous().sort_by_key(|(t, _)| *t);
        Ok(r)
    }
}

impl StrikeRegister {
    /// Moves the register to another clock: `from_ms` on the old one is `to_ms` on the new one
    /// (a restored register whose times were on the previous process's clock). Taking the
    /// save time as the load time counts the restart as no time at all: entries live longer,
    /// never shorter.
    pub fn shift(&mut self, from_ms: u64, to_ms: u64) {
        let moved = |t: u64| {
            if to_ms >= from_ms {
                t.saturating_add(to_ms - from_ms)
            } else {
                t.saturating_sub(from_ms - to_ms)
            }
        };
        self.open_at_ms = if self.open_at_ms == 0 {
            0
        } else {
            moved(self.open_at_ms)
        };
        for (t, _) in &mut self.order {
            *t = moved(*t);
        }
    }
}

fn digest(binder: &[u8]) -> [u8; DIGEST_LEN] {
    let h = Sha256::digest(binder);
    let mut d = [0u8; DIGEST_LEN];
    d.copy_from_slice(&h[..DIGEST_LEN]);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = DEFAULT_WINDOW_MS;

    fn open(now: u64) -> StrikeRegister {
        // A register that started a window ago.
        StrikeRegister::new(W, 4, now - W)
    }

    #[test]
    fn refuses_early_data_for_one_window_after_a_start_without_its_register() {
        let t0 = 1_000_000;
        let mut r = StrikeRegister::new(W, 4, t0);
        assert_eq!(r.check(b"a", Some(t0), t0), EarlyVerdict::Starting);
        assert_eq!(
            r.check(b"a", Some(t0 + W - 1), t0 + W - 1),
            EarlyVerdict::Starting
        );
        assert_eq!(r.check(b"a", Some(t0 + W), t0 + W), EarlyVerdict::Accept);
    }

    #[test]
    fn early_data_under_an_external_psk_is_refused_for_want_of_an_age() {
        let now = 5_000_000;
        let mut r = open(now);
        assert_eq!(r.check(b"a", None, now), EarlyVerdict::NoAge);
        assert!(r.is_empty(), "nothing recorded");
    }

    #[test]
    fn a_binder_seen_within_the_window_is_a_replay_and_forgotten_after() {
        let now = 5_000_000;
        let mut r = open(now);
        assert_eq!(r.check(b"binder-1", Some(now), now), EarlyVerdict::Accept);
        assert_eq!(
            r.check(b"binder-1", Some(now), now + 1),
            EarlyVerdict::Replay
        );
        assert_eq!(
            r.check(b"binder-1", Some(now), now + W),
            EarlyVerdict::Replay
        );
        assert_eq!(
            r.check(b"binder-2", Some(now + W), now + W),
            EarlyVerdict::Accept
        );
        // past the window the entry is gone, and the same ClientHello is stale by its age
        assert_eq!(
            r.check(b"binder-1", Some(now), now + W + 1),
            EarlyVerdict::Stale
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn a_client_hello_sent_further_than_the_window_from_now_is_stale() {
        let now = 5_000_000;
        let mut r = open(now);
        assert_eq!(r.check(b"x", Some(now - W - 1), now), EarlyVerdict::Stale);
        assert_eq!(r.check(b"x", Some(now + W + 1), now), EarlyVerdict::Stale);
        assert_eq!(r.check(b"x", Some(now - W), now), EarlyVerdict::Accept);
    }

    #[test]
    fn a_full_register_refuses_rather_than_forgets() {
        let now = 5_000_000;
        let mut r = open(now);
        for b in [b"1", b"2", b"3", b"4"] {
            assert_eq!(r.check(b, Some(now), now), EarlyVerdict::Accept);
        }
        assert_eq!(r.check(b"5", Some(now), now), EarlyVerdict::Full);
        assert_eq!(r.check(b"1", Some(now), now), EarlyVerdict::Replay);
    }

    #[test]
    fn a_restored_register_takes_early_data_at_once_and_still_refuses_what_it_took() {
        let now = 5_000_000;
        let mut r = StrikeRegister::new(W, 4, now - 3 * W);
        assert_eq!(
            r.check(b"old", Some(now - W - 5), now - W - 5),
            EarlyVerdict::Accept
        );
        assert_eq!(r.check(b"taken", Some(now), now), EarlyVerdict::Accept);
        let saved = r.export(now);
        let later = now + 100;
        let mut back = StrikeRegister::import(&saved, W, 4, later).expect("import");
        assert_eq!(back.len(), 1, "the entry past the window was not exported");
        assert_eq!(back.check(b"taken", Some(now), later), EarlyVerdict::Replay);
        assert_eq!(back.check(b"new", Some(later), later), EarlyVerdict::Accept);
    }

    #[test]
    fn a_register_moved_to_a_new_clock_keeps_its_entries_for_their_window() {
        let now = 5_000_000;
        let mut r = open(now);
        assert_eq!(r.check(b"taken", Some(now), now), EarlyVerdict::Accept);
        let saved = r.export(now);
        // the next process's clock reads 20 at the load
        let mut back = StrikeRegister::import(&saved, W, 4, now).expect("import");
        back.shift(now, 20);
        assert_eq!(back.check(b"taken", Some(20), 20), EarlyVerdict::Replay);
        assert_eq!(back.check(b"new", Some(20), 20), EarlyVerdict::Accept);
        // the entry still expires one window after it was taken
        assert_eq!(
            back.check(b"taken", Some(20 + W + 1), 20 + W + 1),
            EarlyVerdict::Accept
        );
    }

    #[test]
    fn a_damaged_export_is_refused_by_name() {
        let mut r = open(5_000_000);
        let _ = r.check(b"a", Some(5_000_000), 5_000_000);
        let saved = r.export(5_000_000);
        assert_eq!(
            StrikeRegister::import(&saved[..saved.len() - 1], W, 4, 5_000_000).err(),
            Some(StrikeImportError::Length)
        );
        assert_eq!(
            StrikeRegister::import(&[9], W, 4, 5_000_000).err(),
            Some(StrikeImportError::Format)
        );
        assert_eq!(
            StrikeRegister::import(&[], W, 4, 5_000_000).err(),
            Some(StrikeImportError::Format)
        );
        let mut huge = vec![EXPORT_FORMAT];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            StrikeRegister::import(&huge, W, 4, 5_000_000).err(),
            Some(StrikeImportError::Length)
        );
    }
}
