//! RFC 5077 session tickets for a stateless server: ticket = key_name (4) || nonce (12) ||
//! AES-128-GCM(ticket key, session state || issue offset || lifetime), with the key name as
//! additional data. Keys rotate; the previous key still opens tickets for one more period
//! (overlap), so a ticket lives at most two periods, and never beyond the lifetime sealed into
//! it (which the server cuts to what is left of the PSK's lifetime).

use std::time::{Duration, Instant};

use super::crypto::aead::{RecordCipher, SealError};
use super::rng::{DtlsRng, RngError};
use super::session::Session;
use super::suite::AeadAlg;
use super::wire::Field;
use super::wire::codec::Reader;
use crate::secret::{Secret, SecretVec};

const NAME_LEN: usize = 4;
const NONCE_LEN: usize = 12;
/// Bytes a ticket adds around the session state (name, nonce, offset, lifetime, GCM tag).
pub const TICKET_OVERHEAD: usize = NAME_LEN + NONCE_LEN + 16 + 16;

/// Why a ticket could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketSealError {
    /// The random source failed (the nonce).
    #[error("random source failed")]
    Rng(#[from] RngError),
    /// The session state is too large for the AEAD (never a real session).
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// One ticket key.
#[derive(Debug, Clone)]
pub struct TicketKey {
    name: [u8; NAME_LEN],
    key: Secret<16>,
    created: Instant,
}

impl TicketKey {
    fn new(rng: &dyn DtlsRng, now: Instant) -> Result<Self, RngError> {
        let mut name = [0u8; NAME_LEN];
        let mut key = [0u8; 16];
        rng.fill(&mut name)?;
        rng.fill(&mut key)?;
        Ok(Self {
            name,
            key: Secret::new(key),
            created: now,
        })
    }

    fn cipher(&self) -> RecordCipher {
        RecordCipher::new(AeadAlg::Aes128Gcm, &self.key, &Secret::new([0; 4]))
    }

    /// Seals `s` (its ticket and session ID are not stored) for `lifetime` from `now`.
    pub fn seal(
        &self,
        s: &Session,
        now: Instant,
        lifetime: Duration,
        rng: &dyn DtlsRng,
    ) -> Result<Vec<u8>, TicketSealError> {
        let mut inner = s.clone();
        inner.ticket.clear();
        inner.session_id.clear();
        let mut plain = inner.to_bytes().expose().to_vec();
        let offset = now.saturating_duration_since(self.created).as_millis() as u64;
        plain.extend_from_slice(&offset.to_be_bytes());
        plain.extend_from_slice(&(lifetime.as_millis() as u64).to_be_bytes());
        let plain = SecretVec::new(plain);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let mut t = Vec::with_capacity(NAME_LEN + NONCE_LEN + plain.len() + 16);
        t.extend_from_slice(&self.name);
        t.extend_from_slice(&nonce);
        self.cipher()
            .seal_raw_append(&nonce, &self.name, plain.expose(), &mut t)?;
        Ok(t)
    }

    /// Opens a ticket sealed with this key; `None` if it does not authenticate or expired.
    fn open(&self, t: &[u8], now: Instant) -> Option<(Session, Instant)> {
        let name = t.get(..NAME_LEN)?;
        if name != self.name {
            return None;
        }
        let nonce: [u8; NONCE_LEN] = t.get(NAME_LEN..NAME_LEN + NONCE_LEN)?.try_into().ok()?;
        let sealed = t.get(NAME_LEN + NONCE_LEN..)?;
        let plain = SecretVec::new(self.cipher().open_raw(&nonce, &self.name, sealed).ok()?);
        let p = plain.expose();
        let split = p.len().checked_sub(16)?;
        let (state, times) = p.split_at(split);
        let mut r = Reader::new(times);
        let offset = u64::from_be_bytes(r.take(8, Field::Offset).ok()?.try_into().ok()?);
        let lifetime = u64::from_be_bytes(r.take(8, Field::Lifetime).ok()?.try_into().ok()?);
        let expires = self
            .created
            .checked_add(Duration::from_millis(offset.checked_add(lifetime)?))?;
        if now >= expires {
            return None;
        }
        Some((Session::from_bytes(state).ok()?, expires))
    }
}

/// The current and previous ticket keys.
#[derive(Debug)]
pub struct TicketKeys {
    current: TicketKey,
    previous: Option<TicketKey>,
    period: Duration,
}

impl TicketKeys {
    /// Fresh keys; a key is current for `period`, then opens tickets for one more period.
    pub fn new(rng: &dyn DtlsRng, now: Instant, period: Duration) -> Result<Self, RngError> {
        Ok(Self {
            current: TicketKey::new(rng, now)?,
            previous: None,
            period,
        })
    }

    /// Rotates when the current key is one period old; drops keys two periods old.
    pub fn maybe_rotate(&mut self, now: Instant, rng: &dyn DtlsRng) {
        if now.saturating_duration_since(self.current.created) >= self.period {
            if let Ok(k) = TicketKey::new(rng, now) {
                self.previous = Some(std::mem::replace(&mut self.current, k));
            }
        }
        if self.previous.as_ref().is_some_and(|p| {
            now.saturating_duration_since(p.created) >= self.period.saturating_mul(2)
        }) {
            self.previous = None;
        }
    }

    /// The key new tickets are sealed with.
    pub fn current(&self) -> &TicketKey {
        &self.current
    }

    /// Longest a ticket sealed now can be opened (the key's remaining overlap).
    pub fn max_lifetime(&self, now: Instant) -> Duration {
        (self.current.created + self.period.saturating_mul(2)).saturating_duration_since(now)
    }

    /// Opens a ticket with the current or the previous key.
    pub fn open(&self, t: &[u8], now: Instant) -> Option<(Session, Instant)> {
        self.current
            .open(t, now)
            .or_else(|| self.previous.as_ref().and_then(|p| p.open(t, now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use crate::suite::CipherSuite;

    fn session() -> Session {
        Session {
            suite: CipherSuite::PskAes128GcmSha256,
            master: Secret::new([9; 48]),
            identity: b"id".to_vec(),
            session_id: vec![1; 32],
            ticket: vec![],
            ticket_lifetime: 0,
            server_name: None,
        }
    }

    #[test]
    fn tickets_open_until_expiry_and_across_one_rotation_only() {
        let rng = SeededRng::new(3);
        let t0 = Instant::now();
        let h = Duration::from_secs(3600);
        let mut keys = TicketKeys::new(&rng, t0, h).unwrap();
        let t = keys.current().seal(&session(), t0, h * 3, &rng).unwrap();
        let (s, _) = keys.open(&t, t0).unwrap();
        assert_eq!(s.master, session().master);
        assert!(
            s.session_id.is_empty(),
            "the ticket does not store the session ID"
        );
        // tampering fails
        let mut bad = t.clone();
        bad[20] ^= 1;
        assert!(keys.open(&bad, t0).is_none());
        // one rotation: still opens with the previous key
        keys.maybe_rotate(t0 + h, &rng);
        assert!(keys.open(&t, t0 + h).is_some());
        // two periods: the key is gone
        keys.maybe_rotate(t0 + h * 2, &rng);
        assert!(keys.open(&t, t0 + h * 2).is_none());
        // a short lifetime expires on its own
        let t2 = keys
            .current()
            .seal(&session(), t0 + h * 2, Duration::from_secs(5), &rng)
            .unwrap();
        assert!(
            keys.open(&t2, t0 + h * 2 + Duration::from_secs(4))
                .is_some()
        );
        assert!(
            keys.open(&t2, t0 + h * 2 + Duration::from_secs(5))
                .is_none()
        );
    }
}
