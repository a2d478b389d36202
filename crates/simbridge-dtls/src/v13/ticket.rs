//! NewSessionTicket (RFC 8446 §4.6.1) on the client: what a server's ticket lets the client
//! resume with, a PSK that needs no GBA key at all (no bootstrap, no BSF on the server's side).
//!
//! The resumption PSK is HKDF-Expand-Label(resumption_master_secret, "resumption",
//! ticket_nonce, 32); the client offers the ticket as a PSK identity with the obfuscated age
//! (milliseconds since the ticket came, plus `ticket_age_add`, modulo 2^32) and a "res binder".
//! The server's side of tickets (issuing them) is not built yet.

use super::handshake::P;
use super::key_schedule::{HASH_LEN, expand_label};
use crate::secret::{Secret, SecretVec};
use crate::wire::codec::{Reader, put_u16, put_vec8, put_vec16};
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

/// A ticket and how old it is when the client offers it.
#[derive(Debug, Clone)]
pub struct Resume13 {
    /// The ticket.
    pub ticket: Ticket13,
    /// Milliseconds since it was received.
    pub age_ms: u32,
}

impl Resume13 {
    /// The obfuscated_ticket_age of the offer.
    pub fn obfuscated_age(&self) -> u32 {
        self.age_ms.wrapping_add(self.ticket.age_add)
    }
}

/// The early_data extension (in a NewSessionTicket: max_early_data_size).
const EXT_EARLY_DATA: u16 = 42;
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
}
