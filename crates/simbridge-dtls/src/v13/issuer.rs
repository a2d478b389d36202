//! The server's tickets (RFC 8446 §4.6.1), stateless and single-use: a ticket is the
//! resumption PSK sealed under the server's ticket key, so the server keeps nothing per ticket
//! but the ids of the ones used, until they expire.
//!
//! ```text
//! ticket = nonce(12) | AES-128-GCM(key, nonce, ad = "simbridge dtls13 ticket",
//!          id(8) | issued(8, seconds) | lifetime(4) | suite(2) | psk(32)) | tag(16)
//! ```
//!
//! 82 bytes (wolfSSL's are 174). Single use (RFC 8446 §8.1): a ticket that resumed a session
//! once is refused after, so a replayed ClientHello cannot resume again. The ticket's lifetime
//! is the caller's to bound by the GBA key's (a ticket must not outlive the Ks_NAF it came
//! from).

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
const PLAIN_LEN: usize = 8 + 8 + 4 + 2 + HASH_LEN;
/// A ticket's length on the wire.
pub const TICKET_LEN: usize = 12 + PLAIN_LEN + 16;

/// What a ticket gives back when it opens.
#[derive(Debug)]
pub struct Resumable {
    /// The resumption PSK.
    pub psk: SecretVec,
    /// The suite of the session it came from.
    pub suite: u16,
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
    /// It resumed a session already.
    #[error("ticket used before")]
    Used,
}

/// The server's ticket key, lifetime and the ids of the tickets used.
pub struct TicketIssuer {
    cipher: RecordCipher,
    /// Lifetime of the tickets issued, seconds (at most 7 days).
    pub lifetime_secs: u32,
    used: Mutex<HashMap<u64, u64>>,
}

impl std::fmt::Debug for TicketIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketIssuer(lifetime {} s)", self.lifetime_secs)
    }
}

impl TicketIssuer {
    /// An issuer with a 16-byte ticket key (random, the caller's) and a lifetime (capped at
    /// the 7 days RFC 8446 allows).
    pub fn new(key: Secret<16>, lifetime_secs: u32) -> Self {
        Self {
            cipher: RecordCipher::new(AeadAlg::Aes128Gcm, &key, &Secret::new([0; 4])),
            lifetime_secs: lifetime_secs.min(604_800),
            used: Mutex::new(HashMap::new()),
        }
    }

    /// A NewSessionTicket body for a session with `resumption` (its resumption_master_secret)
    /// in `suite`, the `n`-th ticket of that session.
    pub fn issue(
        &self,
        resumption: &Secret<HASH_LEN>,
        suite: u16,
        n: u8,
        now_secs: u64,
        rng: &dyn DtlsRng,
    ) -> Result<Vec<u8>, Handshake13Error> {
        let nonce = vec![n];
        let mut psk = zeroize::Zeroizing::new([0u8; HASH_LEN]);
        // a 10-byte label and a 1-byte nonce always fit an HkdfLabel
        let _ = expand_label(P, resumption.expose(), b"resumption", &nonce, psk.as_mut());
        let mut rand = [0u8; 12 + 8 + 4];
        rng.fill(&mut rand)?;
        let (iv, rest) = rand.split_at(12);
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(PLAIN_LEN));
        plain.extend_from_slice(&rest[..8]);
        plain.extend_from_slice(&now_secs.to_be_bytes());
        plain.extend_from_slice(&self.lifetime_secs.to_be_bytes());
        plain.extend_from_slice(&suite.to_be_bytes());
        plain.extend_from_slice(psk.as_ref());
        let mut iv12 = [0u8; 12];
        iv12.copy_from_slice(iv);
        let mut ticket = iv.to_vec();
        // AES-GCM seals any plaintext this short; a failure would be a plaintext too long
        self.cipher
            .seal_raw_append(&iv12, AD, &plain, &mut ticket)
            .map_err(|_| RecordError13::TooLong)?;
        let age_add = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
        Ok(NewSessionTicket {
            lifetime_secs: self.lifetime_secs,
            age_add,
            nonce,
            ticket,
            max_early_data: None,
        }
        .encode())
    }

    /// Opens a ticket offered as a PSK identity (not yet marked used: see [`Self::redeem`]).
    pub fn open(&self, ticket: &[u8], now_secs: u64) -> Result<Resumable, TicketError> {
        if ticket.len() != TICKET_LEN {
            return Err(TicketError::Invalid);
        }
        let (iv, sealed) = ticket.split_at(12);
        let mut iv12 = [0u8; 12];
        iv12.copy_from_slice(iv);
        let plain = zeroize::Zeroizing::new(
            self.cipher
                .open_raw(&iv12, AD, sealed)
                .map_err(|_| TicketError::Invalid)?,
        );
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&plain[i..i + 8]);
            u64::from_be_bytes(b)
        };
        let id = u64_at(0);
        let issued = u64_at(8);
        let lifetime = u64::from(u32::from_be_bytes([
            plain[16], plain[17], plain[18], plain[19],
        ]));
        let expires = issued.saturating_add(lifetime);
        if now_secs >= expires || now_secs < issued {
            return Err(TicketError::Expired);
        }
        if self.used.lock().map_or(true, |u| u.contains_key(&id)) {
            return Err(TicketError::Used);
        }
        Ok(Resumable {
            psk: SecretVec::from(&plain[22..22 + HASH_LEN]),
            suite: u16::from_be_bytes([plain[20], plain[21]]),
            id,
            expires,
        })
    }

    /// Marks a ticket used, once its binder verified; false if it was used meanwhile.
    pub fn redeem(&self, r: &Resumable, now_secs: u64) -> bool {
        let Ok(mut used) = self.used.lock() else {
            return false;
        };
        // forget the ids of tickets that expired: they cannot open any more
        used.retain(|_, exp| *exp > now_secs);
        used.insert(r.id, r.expires).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn a_ticket_opens_once_within_its_lifetime_under_its_key() {
        let rng = SeededRng::new(1);
        let issuer = TicketIssuer::new(Secret::new([3; 16]), 3600);
        let res = Secret::new([9; 32]);
        let nst = issuer.issue(&res, 0x1305, 0, 1000, &rng).expect("issue");
        let nst = NewSessionTicket::parse(&nst).expect("parse");
        assert_eq!(nst.ticket.len(), TICKET_LEN);
        assert_eq!(TICKET_LEN, 82);
        // the client's PSK from the ticket is the one sealed in it
        let client_side = nst.clone().into_ticket(&res, 0x1305);
        let r = issuer.open(&nst.ticket, 1500).expect("opens");
        assert_eq!(r.psk, client_side.psk);
        assert_eq!(r.suite, 0x1305);
        assert!(issuer.redeem(&r, 1500));
        assert_eq!(
            issuer.open(&nst.ticket, 1501).map(|_| ()),
            Err(TicketError::Used)
        );
        let nst2 = NewSessionTicket::parse(&issuer.issue(&res, 0x1305, 1, 1000, &rng).expect("x"))
            .expect("parse");
        assert_eq!(
            issuer.open(&nst2.ticket, 4600).map(|_| ()),
            Err(TicketError::Expired)
        );
        let other = TicketIssuer::new(Secret::new([4; 16]), 3600);
        assert_eq!(
            other.open(&nst2.ticket, 1500).map(|_| ()),
            Err(TicketError::Invalid)
        );
        let mut bad = nst2.ticket.clone();
        bad[20] ^= 1;
        assert_eq!(
            issuer.open(&bad, 1500).map(|_| ()),
            Err(TicketError::Invalid)
        );
    }
}
