//! The sender sequence number and its persistence (RFC 8613 Appendix B.1.1).
//!
//! A sequence number used twice with one key reuses an AES-CCM nonce, which breaks
//! confidentiality and integrity. A context that outlives a restart (simbridge derives its
//! Master Secret once per GBA key, which lives for hours) therefore writes the sequence number
//! ahead to stable storage in steps of K: before number `n` may be used, some stored value `S`
//! with `S <= n < S + K` must be on disk. After a restart the sender continues at the saved
//! value + K, beyond any number the crashed run could have used.
//!
//! Sans-IO: [`SenderSeq::next`] returns [`Next::NeedsStore`] with the value to write; the
//! caller writes it (and syncs), then calls [`SenderSeq::stored`] and asks again. Larger K
//! means fewer writes and more numbers skipped per restart.

use crate::error::{Error, Field};

/// The largest sequence number a 5-byte partial IV carries (§7.2.1).
pub const MAX_SEQ: u64 = (1 << 40) - 1;

/// What [`SenderSeq::next`] hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// This number may be used now (it has been consumed).
    Ok(u64),
    /// Store this value durably, call [`SenderSeq::stored`] with it, then ask again. No number
    /// was consumed.
    NeedsStore(u64),
}

/// A sender sequence number, persisted ahead in steps of K or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderSeq {
    next: u64,
    /// `None`: volatile (never asks to store). `Some(k)`: persisted in steps of k.
    step: Option<u64>,
    /// The last value confirmed stored in this run; numbers below `stored + step` are covered.
    stored: Option<u64>,
}

impl SenderSeq {
    /// A counter that is never persisted, starting at `start`: for contexts derived anew at
    /// every start (RFC 8613 Appendix B.2) and tests.
    pub fn volatile(start: u64) -> Self {
        Self {
            next: start,
            step: None,
            stored: None,
        }
    }

    /// A fresh persisted counter (nothing stored yet) starting at 0, stored in steps of `k`.
    pub fn persisted(k: u64) -> Result<Self, Error> {
        Self::resume_at(0, k)
    }

    /// The counter after a restart: `saved` is the last value stored by the previous run; we
    /// continue at `saved + k`, which no earlier message can have used.
    pub fn resume(saved: u64, k: u64) -> Result<Self, Error> {
        Self::resume_at(saved.saturating_add(k), k)
    }

    fn resume_at(start: u64, k: u64) -> Result<Self, Error> {
        if k == 0 {
            return Err(Error::Parameter(Field::PersistStep));
        }
        Ok(Self {
            next: start,
            step: Some(k),
            stored: None,
        })
    }

    /// The number the next message will use (nothing consumed).
    pub fn peek(&self) -> u64 {
        self.next
    }

    /// Hands out the next sequence number, or asks for a store first.
    // Not an Iterator: it can fail, and a NeedsStore answer consumes nothing.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Next, Error> {
        let n = self.next;
        if n > MAX_SEQ {
            return Err(Error::SequenceExhausted);
        }
        if let Some(k) = self.step {
            let covered = self.stored.is_some_and(|s| n >= s && n - s < k);
            if !covered {
                return Ok(Next::NeedsStore(n));
            }
        }
        self.next = n + 1;
        Ok(Next::Ok(n))
    }

    /// Confirms that `value` (a [`Next::NeedsStore`] value) is on stable storage.
    pub fn stored(&mut self, value: u64) {
        // A value ahead of `next` covers nothing in between; keep it simple and monotonic.
        if value <= self.next && self.stored.is_none_or(|s| value >= s) {
            self.stored = Some(value);
        }
    }

    /// Consumes a number as [`Self::next`] does, mapping a needed store to
    /// [`Error::NeedsStore`] (what the protect functions return).
    pub(crate) fn take(&mut self) -> Result<u64, Error> {
        match self.next()? {
            Next::Ok(n) => Ok(n),
            Next::NeedsStore(v) => Err(Error::NeedsStore(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sender until it has sent `count` messages, storing on request into `disk`.
    fn send(seq: &mut SenderSeq, disk: &mut Option<u64>, count: usize) -> Vec<u64> {
        let mut used = Vec::new();
        while used.len() < count {
            match seq.next().unwrap() {
                Next::Ok(n) => used.push(n),
                Next::NeedsStore(v) => {
                    *disk = Some(v);
                    seq.stored(v);
                }
            }
        }
        used
    }

    #[test]
    fn stores_every_k_numbers() {
        let mut seq = SenderSeq::persisted(10).unwrap();
        let mut disk = None;
        let mut stores = 0;
        let mut used = Vec::new();
        while used.len() < 25 {
            match seq.next().unwrap() {
                Next::Ok(n) => used.push(n),
                Next::NeedsStore(v) => {
                    stores += 1;
                    disk = Some(v);
                    seq.stored(v);
                }
            }
        }
        assert_eq!(used, (0..25).collect::<Vec<_>>());
        assert_eq!(stores, 3);
        assert_eq!(disk, Some(20));
    }

    #[test]
    fn no_number_is_reused_after_a_crash() {
        for k in [1, 3, 16, 100] {
            for crash_after in [0, 1, 2, 15, 16, 17, 250] {
                let mut disk = None;
                let mut seq = SenderSeq::persisted(k).unwrap();
                let used = send(&mut seq, &mut disk, crash_after);
                // crash: in-memory state lost, only `disk` survives
                let mut seq = match disk {
                    Some(saved) => SenderSeq::resume(saved, k).unwrap(),
                    None => SenderSeq::persisted(k).unwrap(),
                };
                let after = send(&mut seq, &mut disk, 5);
                let max_used = used.iter().max();
                for n in &after {
                    assert!(
                        max_used.is_none_or(|m| n > m),
                        "k={k} crash={crash_after}: {n} reused"
                    );
                }
            }
        }
    }

    #[test]
    fn unconfirmed_store_blocks_sending() {
        let mut seq = SenderSeq::resume(40, 8).unwrap();
        assert_eq!(seq.next().unwrap(), Next::NeedsStore(48));
        assert_eq!(seq.next().unwrap(), Next::NeedsStore(48));
        assert_eq!(seq.take(), Err(Error::NeedsStore(48)));
        seq.stored(48);
        assert_eq!(seq.next().unwrap(), Next::Ok(48));
    }

    #[test]
    fn volatile_and_limits() {
        let mut seq = SenderSeq::volatile(MAX_SEQ);
        assert_eq!(seq.next().unwrap(), Next::Ok(MAX_SEQ));
        assert_eq!(seq.next(), Err(Error::SequenceExhausted));
        assert_eq!(
            SenderSeq::persisted(0),
            Err(Error::Parameter(Field::PersistStep))
        );
    }
}
