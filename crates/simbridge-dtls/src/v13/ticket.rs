//! NewSessionTicket (RFC 8446 §4.6.1) on the client: what a server's ticket lets the client
//! resume with, a PSK that needs no GBA key at all (no bootstrap, no BSF on the server's side).
//!
//! The resumption PSK is HKDF-Expand-Label(resumption_master_secret, "resumption",
//! ticket_nonce, 32); the client offers the ticket as a PSK identity with the obfuscated age
//! (milliseconds since the ticket came, plus `ticket_age_add`, modulo 2^32) and a "res binder".
//! The server's side of tickets (issuing them) is in issuer.rs. A client keeps a ticket across
//! restarts with [`Ticket13::to_bytes`] (with the time it came) and [`Resume13::from_saved`].

use super::handshake::{EXT_EARLY_DATA, P};
use super::key_schedule::{HASH_LEN, expand_label};
use crate::secret::{Secret, SecretVec};
use crate::wire::codec::{Reader, put_u16, put_u48, put_vec8, put_vec16};
use crate::wire::{Field, WireError};

/// A ticket to resume with.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket13 {
    /// The opaque ticket, offered as the PSK identity.
    pub ticket: Vec<u8>,
    /// The resumption PSK.
    pub psk: SecretVec,
    /// How long the server lets it be used, seconds (at most 7 days).
    pub lifetime_secs: u32,
    /// Added to the ticket's age in the offer, so that the age is not seen on the wire.
    pub age_add: u32,
    /// The suite of the session it came from (a resumption must keep its hash).
    pub suite: u16,
    /// The early data the server allows with it (the early_data extension), if any.
    pub max_early_data: Option<u32>,
}

impl std::fmt::Debug for Ticket13 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Ticket13({} B, lifetime {} s, suite {:#06x})",
            self.ticket.len(),
            self.lifetime_secs,
            self.suite
        )
    }
}

/// The start of a saved ticket (and its format version), told apart from a DTLS 1.2 session.
const SAVED_MAGIC: &[u8; 6] = b"SBT13\x01";

impl Ticket13 {
    /// Whether this ticket lets a client send early data (0-RTT).
    pub fn allows_early_data(&self) -> bool {
        self.max_early_data.is_some_and(|m| m > 0)
    }

    /// The ticket to keep (in a file of mode 0600: it holds the resumption PSK), with the
    /// time it was received, milliseconds since the Unix epoch (its age is counted from it).
    pub fn to_bytes(&self, received_unix_ms: u64) -> SecretVec {
        let mut b = Vec::with_capacity(self.ticket.len() + 64);
        b.extend_from_slice(SAVED_MAGIC);
        put_u48(&mut b, received_unix_ms);
        b.extend_from_slice(&self.lifetime_secs.to_be_bytes());
        b.extend_from_slice(&self.age_add.to_be_bytes());
        put_u16(&mut b, self.suite);
        match self.max_early_data {
            Some(m) => {
                b.push(1);
                b.extend_from_slice(&m.to_be_bytes());
            }
            None => b.push(0),
        }
        put_vec16(&mut b, &self.ticket);
        put_vec8(&mut b, self.psk.expose());
        SecretVec::new(b)
    }

    /// Whether `bytes` look like [`Self::to_bytes`] (and not a DTLS 1.2 session).
    pub fn is_saved(bytes: &[u8]) -> bool {
        bytes.starts_with(SAVED_MAGIC)
    }

    /// A ticket from [`Self::to_bytes`], with the time it was received.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, u64), WireError> {
        let mut r = Reader::new(bytes);
        if r.take(SAVED_MAGIC.len(), Field::Ticket)? != SAVED_MAGIC {
            return Err(WireError::Invalid(Field::Ticket));
        }
        let received = r.u48(Field::Ticket)?;
        let lifetime_secs = r.u32(Field::TicketLifetimeHint)?;
        let age_add = r.u32(Field::Ticket)?;
        let suite = r.u16(Field::Ticket)?;
        let max_early_data = match r.u8(Field::Ticket)? {
            0 => None,
            1 => Some(r.u32(Field::Ticket)?),
            _ => return Err(WireError::Invalid(Field::Ticket)),
        };
        let ticket = r.vec16(Field::Ticket)?.to_vec();
        let psk = SecretVec::from(r.vec8(Field::Ticket)?);
        r.finish(Field::Ticket)?;
        if ticket.is_empty() || psk.len() != HASH_LEN || lifetime_secs > MAX_LIFETIME {
            return Err(WireError::Invalid(Field::Ticket));
        }
        let t = Self {
            ticket,
            psk,
            lifetime_secs,
            age_add,
            suite,
            max_early_data,
        };
        Ok((t, received))
    }
}

/// A ticket and how old it is when the client offers it.
#[derive(Debug, Clone)]
pub struct Resume13 {
    /// The ticket.
    pub ticket: Ticket13,
    /// Milliseconds since it was received.
    pub age_ms: u32,
}

impl Resume13 {
    /// The ticket saved by [`Ticket13::to_bytes`], offered at `now_unix_ms`; `Ok(None)` when
    /// its lifetime is over (or it comes from the future: a clock set back).
    pub fn from_saved(bytes: &[u8], now_unix_ms: u64) -> Result<Option<Self>, WireError> {
        let (ticket, received) = Ticket13::from_bytes(bytes)?;
        let Some(age) = now_unix_ms.checked_sub(received) else {
            return Ok(None);
        };
        if age >= u64::from(ticket.lifetime_secs) * 1000 {
            return Ok(None);
        }
        // under 7 days in milliseconds: fits a u32
        let age_ms = u32::try_from(age).map_err(|_| WireError::Invalid(Field::Ticket))?;
        Ok(Some(Self { ticket, age_ms }))
    }

    /// The obfuscated_ticket_age of the offer.
    pub fn obfuscated_age(&self) -> u32 {
        self.age_ms.wrapping_add(self.ticket.age_add)
    }
}

/// RFC 8446 §4.6.1: a ticket lives at most 7 days.
const MAX_LIFETIME: u32 = 604_800;

/// A NewSessionTicket body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSessionTicket {
    /// ticket_lifetime, seconds.
    pub lifetime_secs: u32,
    /// ticket_age_add.
    pub age_add: u32,
    /// ticket_nonce.
    pub nonce: Vec<u8>,
    /// The ticket.
    pub ticket: Vec<u8>,
    /// max_early_data_size from early_data, if present.
    pub max_early_data: Option<u32>,
}

impl NewSessionTicket {
    /// Parses a NewSessionTicket body; unknown extensions are skipped (RFC 8446 §4.6.1).
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let lifetime_secs = r.u32(Field::TicketLifetimeHint)?;
        if lifetime_secs > MAX_LIFETIME {
            return Err(WireError::Invalid(Field::TicketLifetimeHint));
        }
        let age_add = r.u32(Field::NewSessionTicket)?;
        let nonce = r.vec8(Field::NewSessionTicket)?.to_vec();
        let ticket = r.vec16(Field::Ticket)?.to_vec();
        if ticket.is_empty() {
            return Err(WireError::Invalid(Field::Ticket));
        }
        let mut ext = Reader::new(r.vec16(Field::Extensions)?);
        r.finish(Field::NewSessionTicket)?;
        let mut max_early_data = None;
        while !ext.is_empty() {
            let t = ext.u16(Field::ExtensionType)?;
            let mut d = Reader::new(ext.vec16(Field::ExtensionData)?);
            if t == EXT_EARLY_DATA {
                max_early_data = Some(d.u32(Field::ExtensionData)?);
                d.finish(Field::ExtensionData)?;
            }
        }
        Ok(Self {
            lifetime_secs,
            age_add,
            nonce,
            ticket,
            max_early_data,
        })
    }

    /// The body.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.ticket.len() + 32);
        b.extend_from_slice(&self.lifetime_secs.to_be_bytes());
        b.extend_from_slice(&self.age_add.to_be_bytes());
        put_vec8(&mut b, &self.nonce);
        put_vec16(&mut b, &self.ticket);
        let mut ext = Vec::new();
        if let Some(m) = self.max_early_data {
            put_u16(&mut ext, EXT_EARLY_DATA);
            put_vec16(&mut ext, &m.to_be_bytes());
        }
        put_vec16(&mut b, &ext);
        b
    }

    /// The ticket the client keeps, under the session's resumption_master_secret.
    pub fn into_ticket(self, resumption: &Secret<HASH_LEN>, suite: u16) -> Ticket13 {
        let mut psk = [0u8; HASH_LEN];
        // a 10-byte label and a nonce of at most 255 bytes always fit an HkdfLabel
        if expand_label(P, resumption.expose(), b"resumption", &self.nonce, &mut psk).is_err() {
            psk = [0; HASH_LEN];
        }
        let t = Ticket13 {
            ticket: self.ticket,
            psk: SecretVec::from(&psk[..]),
            lifetime_secs: self.lifetime_secs,
            age_add: self.age_add,
            suite,
            max_early_data: self.max_early_data,
        };
        zeroize::Zeroize::zeroize(&mut psk);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_round_trips_and_bad_ones_name_the_field() {
        let nst = NewSessionTicket {
            lifetime_secs: 7200,
            age_add: 0x0102_0304,
            nonce: vec![0],
            ticket: vec![0xaa; 40],
            max_early_data: Some(1024),
        };
        let b = nst.encode();
        assert_eq!(NewSessionTicket::parse(&b), Ok(nst.clone()));
        for cut in 0..b.len() {
            assert!(NewSessionTicket::parse(&b[..cut]).is_err(), "cut {cut}");
        }
        let long = NewSessionTicket {
            lifetime_secs: MAX_LIFETIME + 1,
            ..nst.clone()
        };
        assert_eq!(
            NewSessionTicket::parse(&long.encode()),
            Err(WireError::Invalid(Field::TicketLifetimeHint))
        );
        let empty = NewSessionTicket {
            ticket: Vec::new(),
            ..nst.clone()
        };
        assert_eq!(
            NewSessionTicket::parse(&empty.encode()),
            Err(WireError::Invalid(Field::Ticket))
        );
        // two tickets from one session differ in their nonce, so in their PSK
        let res = Secret::new([7; 32]);
        let a = nst.clone().into_ticket(&res, 0x1305);
        let b = NewSessionTicket {
            nonce: vec![1],
            ..nst
        }
        .into_ticket(&res, 0x1305);
        assert_ne!(a.psk, b.psk);
        let r = Resume13 {
            ticket: a,
            age_ms: u32::MAX,
        };
        assert_eq!(r.obfuscated_age(), 0x0102_0303);
    }

    #[test]
    fn a_saved_ticket_comes_back_with_its_age_until_its_lifetime_ends() {
        let t = NewSessionTicket {
            lifetime_secs: 60,
            age_add: 9,
            nonce: vec![0],
            ticket: vec![0xbb; 20],
            max_early_data: Some(16384),
        }
        .into_ticket(&Secret::new([3; 32]), 0x1305);
        assert!(t.allows_early_data());
        let saved = t.to_bytes(1_000_000);
        assert!(Ticket13::is_saved(saved.expose()));
        assert_eq!(
            Ticket13::from_bytes(saved.expose()),
            Ok((t.clone(), 1_000_000))
        );
        let r = Resume13::from_saved(saved.expose(), 1_002_500)
            .expect("parses")
            .expect("alive");
        assert_eq!((r.ticket, r.age_ms), (t.clone(), 2500));
        assert!(
            Resume13::from_saved(saved.expose(), 1_060_000)
                .expect("parses")
                .is_none()
        );
        assert!(
            Resume13::from_saved(saved.expose(), 999_999)
                .expect("parses")
                .is_none()
        );
        for cut in 0..saved.len() {
            assert!(
                Ticket13::from_bytes(&saved.expose()[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let without = Ticket13 {
            max_early_data: None,
            ..t
        };
        assert!(!without.allows_early_data());
        let saved = without.to_bytes(5);
        assert_eq!(Ticket13::from_bytes(saved.expose()), Ok((without, 5)));
        assert!(!Ticket13::is_saved(b"a DTLS 1.2 session"));
    }
}
