//! A persistent ticket master secret, so a restarted server opens the tickets it issued before
//! (even after a crash: nothing is saved at shutdown). Each rotation period's ticket key is
//! derived from the master secret and the period's number on the wall clock:
//!
//! ```text
//! period   = wall-clock seconds / ticket_rotation
//! key(p)   = HKDF-Expand-Label("dtls13", master, "ticket key", p as u64 BE, 16)
//! key id   = p mod 256 (the ticket's key_id byte)
//! ```
//!
//! The endpoint holds key(p) as current and key(p - 1) as previous, as the random rotation
//! does, so a ticket opens for one to two periods. Sans-IO: the caller gives the wall-clock
//! milliseconds at the endpoint's first time ([`TicketMaster::wall_ms`]; milliseconds, not
//! seconds: a start's truncated second would shift the strike register's clock by up to a
//! second against the tickets of the process before, enough to refuse 0-RTT as stale in a
//! short window); the endpoint's seconds
//! (cookies, ticket issue and expiry, key expiry, the strike register's milliseconds) then
//! count from there, so they mean the same in the next process.

use super::key_schedule::{LabelPrefix, expand_label};
use crate::secret::Secret;

/// The ticket master secret and the wall clock it is anchored to.
#[derive(Clone)]
pub struct TicketMaster {
    /// 32 random bytes kept by the server across restarts.
    pub secret: Secret<32>,
    /// Wall-clock milliseconds (UNIX time) at the first `Instant` given to the endpoint.
    pub wall_ms: u64,
}

impl std::fmt::Debug for TicketMaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketMaster(wall {} ms)", self.wall_ms)
    }
}

impl TicketMaster {
    /// The rotation period that `secs` (wall clock) falls in; `rotation_secs` 0 counts as 1.
    pub fn period(secs: u64, rotation_secs: u64) -> u64 {
        secs / rotation_secs.max(1)
    }

    /// The key id and the ticket key of period `p`.
    pub fn key(&self, p: u64) -> (u8, Secret<16>) {
        let mut k = [0u8; 16];
        // 16 bytes from a 32-byte PRK cannot exceed HKDF's output limit
        let _ = expand_label(
            LabelPrefix::Dtls13,
            self.secret.expose(),
            b"ticket key",
            &p.to_be_bytes(),
            &mut k,
        );
        let key = Secret::new(k);
        zeroize::Zeroize::zeroize(&mut k);
        ((p % 256) as u8, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> TicketMaster {
        TicketMaster {
            secret: Secret::new([7; 32]),
            wall_ms: 1_000_000_000,
        }
    }

    #[test]
    fn keys_are_per_period_and_reproducible() {
        let m = master();
        let (id1, k1) = m.key(41);
        let (id2, k2) = m.key(41);
        let (id3, k3) = m.key(42);
        assert_eq!((id1, id2, id3), (41, 41, 42));
        assert_eq!(k1.expose(), k2.expose());
        assert_ne!(k1.expose(), k3.expose());
        let other = TicketMaster {
            secret: Secret::new([8; 32]),
            wall_ms: 0,
        };
        assert_ne!(other.key(41).1.expose(), k1.expose());
    }

    #[test]
    fn period_of_wall_seconds() {
        assert_eq!(TicketMaster::period(3599, 3600), 0);
        assert_eq!(TicketMaster::period(3600, 3600), 1);
        assert_eq!(TicketMaster::period(5, 0), 5);
    }
}
