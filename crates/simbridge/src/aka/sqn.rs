//! The USIM's sequence-number freshness check (TS 33.102 Annex C.2/C.3): SQN = SEQ ‖ IND, an array
//! of the highest SEQ accepted per IND slot, the Δ wrap-around limit and the optional age limit L.

use serde::{Deserialize, Serialize};

/// Parameters of the freshness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqnPolicy {
    /// Number of IND bits (the array has 2^ind_bits slots). TS 33.102 recommends 5.
    pub ind_bits: u8,
    /// Δ: the largest accepted jump of SEQ above the highest SEQ seen (in SEQ units).
    pub delta: u64,
    /// L: reject a SEQ that is this far or further below the highest SEQ seen (optional).
    pub age_limit: Option<u64>,
}

impl Default for SqnPolicy {
    fn default() -> Self {
        Self {
            ind_bits: 5,
            delta: 1 << 28,
            age_limit: None,
        }
    }
}

/// Outcome of checking one SQN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqnCheck {
    /// Fresh: the card may accept it.
    Accept,
    /// Not fresh: send a sync failure carrying `sqn_ms` (the highest SQN accepted so far).
    Reject {
        /// SEQ_MS ‖ IND of the highest accepted SQN.
        sqn_ms: u64,
    },
}

/// The per-IND array of accepted SEQ values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqnArray {
    policy: SqnPolicy,
    seq: Vec<u64>,
    highest: u64,
}

const SQN_MASK: u64 = 0xFFFF_FFFF_FFFF;

impl SqnArray {
    /// A fresh array whose only accepted entry is `initial_sqn` (0 = nothing accepted yet).
    /// `ind_bits` is clamped to 0..=10 so the array stays small.
    pub fn new(mut policy: SqnPolicy, initial_sqn: u64) -> Self {
        policy.ind_bits = policy.ind_bits.min(10);
        let mut a = Self {
            policy,
            seq: vec![0; 1usize << policy.ind_bits],
            highest: 0,
        };
        if initial_sqn != 0 {
            a.accept(initial_sqn);
        }
        a
    }

    /// The policy in force.
    pub fn policy(&self) -> SqnPolicy {
        self.policy
    }

    /// The highest SQN accepted so far (SQN_MS).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    fn split(&self, sqn: u64) -> (u64, usize) {
        let sqn = sqn & SQN_MASK;
        let mask = (1u64 << self.policy.ind_bits) - 1;
        (sqn >> self.policy.ind_bits, (sqn & mask) as usize)
    }

    /// Checks `sqn` against the array without changing it.
    pub fn check(&self, sqn: u64) -> SqnCheck {
        let (seq, ind) = self.split(sqn);
        let (seq_ms, _) = self.split(self.highest);
        let reject = SqnCheck::Reject {
            sqn_ms: self.highest,
        };
        if seq > seq_ms && seq - seq_ms > self.policy.delta {
            return reject;
        }
        if seq <= self.seq.get(ind).copied().unwrap_or(u64::MAX) {
            return reject;
        }
        if let Some(l) = self.policy.age_limit {
            if seq_ms > seq && seq_ms - seq >= l {
                return reject;
            }
        }
        SqnCheck::Accept
    }

    /// Records `sqn` as accepted.
    pub fn accept(&mut self, sqn: u64) {
        let (seq, ind) = self.split(sqn);
        if let Some(slot) = self.seq.get_mut(ind) {
            *slot = (*slot).max(seq);
        }
        if seq > self.highest >> self.policy.ind_bits || self.highest == 0 {
            self.highest = sqn & SQN_MASK;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqn(seq: u64, ind: u64) -> u64 {
        (seq << 5) | ind
    }

    #[test]
    fn replay_rejected_with_highest() {
        let mut a = SqnArray::new(SqnPolicy::default(), 0);
        assert_eq!(a.check(sqn(1, 0)), SqnCheck::Accept);
        a.accept(sqn(1, 0));
        assert_eq!(a.check(sqn(1, 0)), SqnCheck::Reject { sqn_ms: sqn(1, 0) });
    }

    #[test]
    fn ind_slots_accept_out_of_order() {
        let mut a = SqnArray::new(SqnPolicy::default(), 0);
        a.accept(sqn(5, 3));
        // An older SEQ in another slot is still fresh for that slot.
        assert_eq!(a.check(sqn(4, 7)), SqnCheck::Accept);
        a.accept(sqn(4, 7));
        assert_eq!(a.highest(), sqn(5, 3));
        // ... but not in the slot that already saw SEQ 5.
        assert_eq!(a.check(sqn(4, 3)), SqnCheck::Reject { sqn_ms: sqn(5, 3) });
    }

    #[test]
    fn delta_limit_enforced() {
        let policy = SqnPolicy {
            delta: 100,
            ..SqnPolicy::default()
        };
        let a = SqnArray::new(policy, sqn(10, 0));
        assert_eq!(a.check(sqn(110, 1)), SqnCheck::Accept);
        assert_eq!(
            a.check(sqn(111, 1)),
            SqnCheck::Reject { sqn_ms: sqn(10, 0) }
        );
    }

    #[test]
    fn age_limit_enforced() {
        let policy = SqnPolicy {
            age_limit: Some(10),
            ..SqnPolicy::default()
        };
        let a = SqnArray::new(policy, sqn(100, 0));
        assert_eq!(a.check(sqn(91, 2)), SqnCheck::Accept);
        assert_eq!(
            a.check(sqn(90, 2)),
            SqnCheck::Reject {
                sqn_ms: sqn(100, 0)
            }
        );
    }
}
