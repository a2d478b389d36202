//! NewSessionTicket (RFC 5077 §3.3): lifetime hint and opaque ticket.

use super::codec::{Reader, put_vec16};
use super::{Field, WireError};

/// A NewSessionTicket message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSessionTicket {
    /// ticket_lifetime_hint in seconds (0: unspecified).
    pub lifetime_hint: u32,
    /// The opaque ticket.
    pub ticket: Vec<u8>,
}

impl NewSessionTicket {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let h = r.take(4, Field::TicketLifetimeHint)?;
        let lifetime_hint = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let ticket = r.vec16(Field::Ticket)?.to_vec();
        r.finish(Field::NewSessionTicket)?;
        Ok(Self {
            lifetime_hint,
            ticket,
        })
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.ticket.len());
        out.extend_from_slice(&self.lifetime_hint.to_be_bytes());
        put_vec16(&mut out, &self.ticket);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let t = NewSessionTicket {
            lifetime_hint: 7200,
            ticket: vec![1, 2, 3],
        };
        let b = t.encode();
        assert_eq!(b, [0, 0, 0x1C, 0x20, 0, 3, 1, 2, 3]);
        assert_eq!(NewSessionTicket::parse(&b).unwrap(), t);
        for n in 0..b.len() {
            assert!(NewSessionTicket::parse(&b[..n]).is_err());
        }
    }
}
