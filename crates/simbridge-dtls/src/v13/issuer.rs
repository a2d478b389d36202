//! The server's tickets (RFC 8446 §4.6.1), stateless and single-use: a ticket is the
//! resumption PSK sealed under the server's ticket key together with what the server needs to
//! treat the resumed session like the one it descends from, so the server keeps nothing per
//! ticket but the ids of the ones used, until they expire.
//!
//! ```text
//! ticket = version(1) = 2 | key_id(1) | nonce(12)
//!        | AES-128-GCM(ticket key[key_id], nonce, ad = "simbridge dtls13 ticket" | version | key_id,
//!            issued(4) | expires(4) | key_expires(4) | suite(2) | max_early_data(4) | psk(32)
//!            | identity(0..=128))
//!        | tag(16)
//! ```
//!
//! 80 bytes plus the external PSK identity the session descends from (a GBA identity of about
//! 90 bytes: ~160 B; wolfSSL's tickets are 174). The identity is kept whole, not as a digest:
//! the bridge needs it for its per-identity caps, key expiry and logs, and a digest would need
//! a table on the server to map it back (state a restart loses). Identities longer than
//! [`MAX_IDENTITY`] get no ticket (their client resumes with the external PSK). The nonce's
//! first 8 bytes are the ticket's id (unique per key: the nonce must be), for the used register.
//!
//! Times are seconds on the caller's clock. `key_expires` is when the Ks_NAF the session
//! descends from expires (all ones: no limit known); `expires` is the least of that and the
//! issuer's lifetime, so a ticket never outlives its key, and a session resumed from a ticket
//! passes the key's expiry on to the tickets it gets.
//!
//! Single use (RFC 8446 §8.1): a ticket that resumed a session once is refused after, so a
//! replayed ClientHello cannot resume again. The register of used ids is bounded
//! ([`TicketIssuer::with_capacity`]); when full, tickets are refused (a full handshake) rather
//! than forgotten early.
//!
//! 0-RTT (RFC 8446 §4.2.10): a ticket carries the max_early_data_size it was issued with (0:
//! none), so the server takes early data only on tickets that announced it. The server needs
//! the client's real ticket age for its freshness check (v13/strike.rs): `ticket_age_add` is
//! not stored but derived from the ticket's PSK (HKDF-Expand-Label(psk, "age add", "", 4)),
//! secret to anyone without the PSK as RFC 8446 §4.6.1 wants, 4 bytes fewer on the wire.
//! Version 1 tickets (before 0-RTT) no longer open.
//!
//! Keys rotate ([`TicketIssuer::rotate`]): the previous key still opens, so a ticket lives at
//! most two rotation periods even if its lifetime is longer.

use std::collections::HashMap;
use std::sync::Mutex;

use super::handshake::Handshake13Error;
use super::handshake::P;
use super::key_schedule::{HASH_LEN, expand_label};
use super::protect::RecordError13;
use super::ticket::NewSessionTicket;
use crate::crypto::aead::RecordCipher;
use crate::rng::DtlsRng;
use crate::secret::{Secret, SecretVec};
use crate::suite::AeadAlg;

const AD: &[u8] = b"simbridge dtls13 ticket";
/// The ticket format's version (first byte; never a printable character, so a ticket is not
/// taken for a GBA identity and the other way round).
pub const TICKET_VERSION: u8 = 2;
const HEAD_LEN: usize = 2 + 12;
const FIXED_PLAIN: usize = 4 + 4 + 4 + 2 + 4 + HASH_LEN;
/// Where the PSK starts in a ticket's plaintext.
const PSK_AT: usize = 4 + 4 + 4 + 2 + 4;
/// `key_expires` of a key without a known limit.
const NO_LIMIT: u32 = u32::MAX;
/// The longest PSK identity a ticket carries.
pub const MAX_IDENTITY: usize = 128;
/// A ticket's length on the wire without the identity it carries.
pub const TICKET_OVERHEAD: usize = HEAD_LEN + FIXED_PLAIN + 16;
/// Default bound of the used register (ids kept until their ticket expires).
pub const DEFAULT_USED_CAPACITY: usize = 100_000;
/// RFC 8446 §4.6.1: a ticket lives at most 7 days.
const MAX_LIFETIME: u32 = 604_800;

/// What the session a ticket is issued for descends from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketOrigin {
    /// The external PSK identity of the full handshake (a GBA identity).
    pub identity: Vec<u8>,
    /// When that PSK expires (seconds on the issuer's clock); `None`: no limit known.
    pub key_expires: Option<u64>,
}

/// What a ticket gives back when it opens.
#[derive(Debug)]
pub struct Resumable {
    /// The resumption PSK.
    pub psk: SecretVec,
    /// The suite of the session it came from.
    pub suite: u16,
    /// The identity and key expiry of the session it descends from.
    pub origin: TicketOrigin,
    /// When it was issued, seconds on the issuer's clock.
    pub issued: u64,
    /// Its ticket_age_add (to read the client's obfuscated_ticket_age).
    pub age_add: u32,
    /// The max_early_data_size it was issued with; `None`: no 0-RTT on it.
    pub max_early_data: Option<u32>,
    id: u64,
    expires: u64,
}

/// Why a ticket was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Not one of ours (another key, damaged, not a ticket at all).
    #[error("not a ticket of this server")]
    Invalid,
    /// Past its lifetime.
    #[error("ticket expired")]
    Expired,
    /// It resumed a session already (or the used register is full).
    #[error("ticket used before")]
    Used,
}

struct Key {
    id: u8,
    cipher: RecordCipher,
}

/// The server's ticket keys, lifetime and the ids of the tickets used.
pub struct TicketIssuer {
    current: Key,
    previous: Option<Key>,
    /// Lifetime of the tickets issued, seconds (at most 7 days).
    pub lifetime_secs: u32,
    capacity: usize,
    used: Mutex<HashMap<u64, u64>>,
    /// 0-RTT: the max_early_data_size announced in the tickets issued (the early_data
    /// extension of NewSessionTicket); `None` (the default): no early data.
    pub early_data: Option<u32>,
}

impl std::fmt::Debug for TicketIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketIssuer(lifetime {} s)", self.lifetime_secs)
    }
}

fn cipher(key: &Secret<16>) -> RecordCipher {
    RecordCipher::new(AeadAlg::Aes128Gcm, key, &Secret::new([0; 4]))
}

impl TicketIssuer {
    /// An issuer with a 16-byte ticket key (random, the caller's) and a lifetime (capped at
    /// the 7 days RFC 8446 allows).
    pub fn new(key: Secret<16>, lifetime_secs: u32) -> Self {
        Self::with_capacity(key, lifetime_secs, DEFAULT_USED_CAPACITY)
    }

    /// [`Self::new`] with a bound on the used register.
    pub fn with_capacity(key: Secret<16>, lifetime_secs: u32, capacity: usize) -> Self {
        Self {
            current: Key {
                id: 0,
                cipher: cipher(&key),
            },
            previous: None,
            lifetime_secs: lifetime_secs.min(MAX_LIFETIME),
            capacity,
            used: Mutex::new(HashMap::new()),
            early_data: None,
        }
    }

    /// A new current key; the current one becomes the previous (still opens), the previous
    /// one is dropped (its tickets no longer open).
    pub fn rotate(&mut self, key: Secret<16>) {
        let next = Key {
            id: self.current.id.wrapping_add(1),
            cipher: cipher(&key),
        };
        self.previous = Some(std::mem::replace(&mut self.current, next));
    }

    /// Sets both keys with their ids (keys derived from a persistent master secret, see
    /// [`super::ticket_master`]): tickets sealed under either open, others do not.
    pub fn set_keys(&mut self, current: (u8, Secret<16>), previous: Option<(u8, Secret<16>)>) {
        self.current = Key {
            id: current.0,
            cipher: cipher(&current.1),
        };
        self.previous = previous.map(|(id, k)| Key {
            id,
            cipher: cipher(&k),
        });
    }

    /// Whether `identity` has our ticket's shape (version and length), opened or not: a
    /// server does not ask its key store for such an identity.
    pub fn looks_like_ticket(identity: &[u8]) -> bool {
        identity.first() == Some(&TICKET_VERSION)
            && (TICKET_OVERHEAD..=TICKET_OVERHEAD + MAX_IDENTITY).contains(&identity.len())
    }

    /// A NewSessionTicket body for a session with `resumption` (its resumption_master_secret)
    /// in `suite`, the `n`-th ticket of that session, descending from `origin`. `Ok(None)`: no
    /// ticket (the identity is too long, or the key expires within the second).
    pub fn issue(
        &self,
        resumption: &Secret<HASH_LEN>,
        suite: u16,
        n: u8,
        origin: &TicketOrigin,
        now_secs: u64,
        rng: &dyn DtlsRng,
    ) -> Result<Option<Vec<u8>>, Handshake13Error> {
        if origin.identity.len() > MAX_IDENTITY {
            return Ok(None);
        }
        let expires = origin
            .key_expires
            .unwrap_or(u64::MAX)
            .min(now_secs.saturating_add(u64::from(self.lifetime_secs)));
        let (Ok(issued), Ok(expires32)) = (u32::try_from(now_secs), u32::try_from(expires)) else {
            return Ok(None);
        };
        let lifetime = expires32.saturating_sub(issued);
        if lifetime == 0 {
            return Ok(None);
        }
        let nonce = vec![n];
        let mut psk = zeroize::Zeroizing::new([0u8; HASH_LEN]);
        // a 10-byte label and a 1-byte nonce always fit an HkdfLabel
        let _ = expand_label(P, resumption.expose(), b"resumption", &nonce, psk.as_mut());
        let mut iv = [0u8; 12];
        rng.fill(&mut iv)?;
        let early = self.early_data.filter(|m| *m > 0);
        let mut plain =
            zeroize::Zeroizing::new(Vec::with_capacity(FIXED_PLAIN + origin.identity.len()));
        plain.extend_from_slice(&issued.to_be_bytes());
        plain.extend_from_slice(&expires32.to_be_bytes());
        let key_expires = origin
            .key_expires
            .map_or(NO_LIMIT, |k| u32::try_from(k).unwrap_or(NO_LIMIT - 1));
        plain.extend_from_slice(&key_expires.to_be_bytes());
        plain.extend_from_slice(&suite.to_be_bytes());
        plain.extend_from_slice(&early.unwrap_or(0).to_be_bytes());
        plain.extend_from_slice(psk.as_ref());
        plain.extend_from_slice(&origin.identity);
        let key = &self.current;
        let mut ticket = Vec::with_capacity(TICKET_OVERHEAD + origin.identity.len());
        ticket.extend_from_slice(&[TICKET_VERSION, key.id]);
        ticket.extend_from_slice(&iv);
        // AES-GCM seals any plaintext this short; a failure would be a plaintext too long
        key.cipher
            .seal_raw_append(&iv, &ad(key.id), &plain, &mut ticket)
            .map_err(|_| RecordError13::TooLong)?;
        Ok(Some(
            NewSessionTicket {
                lifetime_secs: lifetime,
                age_add: age_add(psk.as_ref()),
                nonce,
                ticket,
                max_early_data: early,
            }
            .encode(),
        ))
    }

    /// Opens a ticket offered as a PSK identity (not yet marked used: see [`Self::redeem`]).
    pub fn open(&self, ticket: &[u8], now_secs: u64) -> Result<Resumable, TicketError> {
        if !Self::looks_like_ticket(ticket) {
            return Err(TicketError::Invalid);
        }
        let key_id = ticket[1];
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == key_id)
            .ok_or(TicketError::Invalid)?;
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&ticket[2..HEAD_LEN]);
        let plain = zeroize::Zeroizing::new(
            key.cipher
                .open_raw(&iv, &ad(key_id), &ticket[HEAD_LEN..])
                .map_err(|_| TicketError::Invalid)?,
        );
        let u32_at =
            |i: usize| u32::from_be_bytes([plain[i], plain[i + 1], plain[i + 2], plain[i + 3]]);
        let issued = u64::from(u32_at(0));
        let expires = u64::from(u32_at(4));
        let key_expires = Some(u32_at(8)).filter(|k| *k != NO_LIMIT).map(u64::from);
        if now_secs >= expires || now_secs < issued {
            return Err(TicketError::Expired);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&iv[..8]);
        let id = u64::from_be_bytes(id);
        if self.used.lock().map_or(true, |u| u.contains_key(&id)) {
            return Err(TicketError::Used);
        }
        let psk = &plain[PSK_AT..PSK_AT + HASH_LEN];
        Ok(Resumable {
            psk: SecretVec::from(psk),
            suite: u16::from_be_bytes([plain[12], plain[13]]),
            issued,
            age_add: age_add(psk),
            max_early_data: Some(u32_at(14)).filter(|m| *m > 0),
            origin: TicketOrigin {
                identity: plain[FIXED_PLAIN..].to_vec(),
                key_expires,
            },
            id,
            expires,
        })
    }

    /// Marks a ticket used, once its binder verified; false if it was used meanwhile or the
    /// used register is full (refused rather than forgotten early).
    pub fn redeem(&self, r: &Resumable, now_secs: u64) -> bool {
        let Ok(mut used) = self.used.lock() else {
            return false;
        };
        // forget the ids of tickets that expired: they cannot open any more
        used.retain(|_, exp| *exp > now_secs);
        if used.len() >= self.capacity {
            return false;
        }
        used.insert(r.id, r.expires).is_none()
    }

    /// Ids in the used register now.
    pub fn used_count(&self) -> usize {
        self.used.lock().map_or(0, |u| u.len())
    }
}

/// The ticket_age_add of a ticket with resumption PSK `psk`: derived, not stored (see the
/// module docs).
fn age_add(psk: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    // a 7-byte label and an empty context always fit an HkdfLabel
    let _ = expand_label(P, psk, b"age add", &[], &mut a);
    u32::from_be_bytes(a)
}

fn ad(key_id: u8) -> Vec<u8> {
    let mut a = AD.to_vec();
    a.extend_from_slice(&[TICKET_VERSION, key_id]);
    a
}

#[cfg(test)]
#[path = "issuer_tests.rs"]
mod tests;
