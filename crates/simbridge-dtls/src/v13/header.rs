//! The DTLS 1.3 unified header (RFC 9147 §4): one first byte `001CSLEE` — C: a Connection ID
//! follows, S: a 16-bit (else 8-bit) sequence number, L: a 16-bit length follows (else the
//! record runs to the end of the datagram), EE: the low two bits of the epoch — then the CID,
//! the sequence number and the length. The shortest form (no CID, 8-bit sequence number, no
//! length) is 2 bytes where DTLS 1.2's header is 13.
//!
//! A representation, validated on parse, never panicking: the sequence number here is what the
//! wire carries (still encrypted on a received record; [`super::protect`] removes the mask).

use crate::wire::{Field, WireError};

/// The three fixed bits of a unified header's first byte.
const FIXED: u8 = 0b0010_0000;
const FIXED_MASK: u8 = 0b1110_0000;
const C: u8 = 0b0001_0000;
const S: u8 = 0b0000_1000;
const L: u8 = 0b0000_0100;

/// How many bytes of the sequence number a record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqLen {
    /// 8 bits: enough while fewer than 128 records are in flight.
    One,
    /// 16 bits.
    Two,
}

impl SeqLen {
    /// Bytes on the wire.
    pub fn bytes(self) -> usize {
        match self {
            SeqLen::One => 1,
            SeqLen::Two => 2,
        }
    }

    /// Bits of the sequence number carried.
    pub fn bits(self) -> u32 {
        8 * self.bytes() as u32
    }
}

/// A unified header, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnifiedHeader<'a> {
    /// The Connection ID (its length is agreed, not carried: the receiver says how long).
    pub cid: Option<&'a [u8]>,
    /// Width of the sequence number field.
    pub seq_len: SeqLen,
    /// The low bits of the sequence number, as carried.
    pub seq: u16,
    /// The length field, when present.
    pub length: Option<u16>,
    /// The low two bits of the epoch.
    pub epoch_bits: u8,
}

/// One record cut from a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedRecord<'a> {
    /// Its header.
    pub header: UnifiedHeader<'a>,
    /// The header's bytes (the AEAD's additional data, once the sequence number is unmasked).
    pub header_bytes: &'a [u8],
    /// The encrypted record.
    pub body: &'a [u8],
    /// What follows it in the datagram (empty without a length field).
    pub rest: &'a [u8],
}

/// Whether `first` starts a unified header (and not a DTLS 1.2 or plaintext record).
pub fn is_unified(first: u8) -> bool {
    first & FIXED_MASK == FIXED
}

impl<'a> UnifiedHeader<'a> {
    /// Bytes this header takes.
    pub fn len(&self) -> usize {
        1 + self.cid.map_or(0, <[u8]>::len)
            + self.seq_len.bytes()
            + if self.length.is_some() { 2 } else { 0 }
    }

    /// Never empty: the first byte is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut first = FIXED | (self.epoch_bits & 0b11);
        if self.cid.is_some() {
            first |= C;
        }
        if self.seq_len == SeqLen::Two {
            first |= S;
        }
        if self.length.is_some() {
            first |= L;
        }
        out.push(first);
        if let Some(cid) = self.cid {
            out.extend_from_slice(cid);
        }
        match self.seq_len {
            // the low 8 bits of the field
            SeqLen::One => out.push(self.seq as u8),
            SeqLen::Two => out.extend_from_slice(&self.seq.to_be_bytes()),
        }
        if let Some(l) = self.length {
            out.extend_from_slice(&l.to_be_bytes());
        }
    }

    /// Parses one record from `datagram`, whose Connection IDs are `cid_len` bytes long (0:
    /// none negotiated, and a record that carries one is refused).
    pub fn parse(datagram: &'a [u8], cid_len: usize) -> Result<ParsedRecord<'a>, WireError> {
        let (&first, mut rest) = datagram
            .split_first()
            .ok_or(WireError::Truncated(Field::UnifiedHeader))?;
        if !is_unified(first) {
            return Err(WireError::Invalid(Field::UnifiedHeader));
        }
        let cid = if first & C != 0 {
            if cid_len == 0 {
                return Err(WireError::Invalid(Field::UnifiedCid));
            }
            let (c, r) = split(rest, cid_len, Field::UnifiedCid)?;
            rest = r;
            Some(c)
        } else {
            None
        };
        let seq_len = if first & S != 0 {
            SeqLen::Two
        } else {
            SeqLen::One
        };
        let (s, r) = split(rest, seq_len.bytes(), Field::UnifiedSeq)?;
        rest = r;
        let seq = match s {
            [a] => u16::from(*a),
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => return Err(WireError::Invalid(Field::UnifiedSeq)),
        };
        let length = if first & L != 0 {
            let (l, r) = split(rest, 2, Field::UnifiedLength)?;
            rest = r;
            Some(u16::from_be_bytes([l[0], l[1]]))
        } else {
            None
        };
        let header_len = datagram.len() - rest.len();
        let (body, after) = match length {
            Some(l) => split(rest, usize::from(l), Field::UnifiedBody)?,
            None => (rest, &rest[rest.len()..]),
        };
        Ok(ParsedRecord {
            header: UnifiedHeader {
                cid,
                seq_len,
                seq,
                length,
                epoch_bits: first & 0b11,
            },
            header_bytes: &datagram[..header_len],
            body,
            rest: after,
        })
    }
}

fn split(b: &[u8], n: usize, field: Field) -> Result<(&[u8], &[u8]), WireError> {
    if b.len() < n {
        Err(WireError::Truncated(field))
    } else {
        Ok(b.split_at(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(h: UnifiedHeader<'_>, cid_len: usize) {
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), h.len());
        let body = [0xaa; 20];
        let body_len = h.length.map_or(body.len(), usize::from);
        out.extend_from_slice(&body[..body_len]);
        let p = UnifiedHeader::parse(&out, cid_len).expect("parses");
        assert_eq!(p.header, h);
        assert_eq!(p.header_bytes.len(), h.len());
        assert_eq!(p.body, &body[..body_len]);
        assert!(p.rest.is_empty());
    }

    #[test]
    fn every_form_round_trips() {
        let cid = [1, 2, 3, 4];
        for c in [None, Some(&cid[..1]), Some(&cid[..])] {
            for (seq_len, seq) in [(SeqLen::One, 0xab), (SeqLen::Two, 0xabcd)] {
                for length in [None, Some(0), Some(17)] {
                    for epoch_bits in 0..4 {
                        let h = UnifiedHeader {
                            cid: c,
                            seq_len,
                            seq,
                            length,
                            epoch_bits,
                        };
                        roundtrip(h, c.map_or(0, <[u8]>::len));
                    }
                }
            }
        }
    }

    #[test]
    fn the_shortest_form_is_two_bytes_and_bits_sit_where_rfc9147_puts_them() {
        let h = UnifiedHeader {
            cid: None,
            seq_len: SeqLen::One,
            seq: 5,
            length: None,
            epoch_bits: 3,
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [0b0010_0011, 5]);
        let h = UnifiedHeader {
            cid: Some(&[9]),
            seq_len: SeqLen::Two,
            seq: 0x0102,
            length: Some(0x0304),
            epoch_bits: 2,
        };
        out.clear();
        h.encode(&mut out);
        assert_eq!(out, [0b0011_1110, 9, 1, 2, 3, 4]);
    }

    #[test]
    fn a_second_record_follows_a_length() {
        let mut d = Vec::new();
        let h = UnifiedHeader {
            cid: None,
            seq_len: SeqLen::One,
            seq: 1,
            length: Some(3),
            epoch_bits: 3,
        };
        h.encode(&mut d);
        d.extend_from_slice(&[7, 7, 7]);
        let last = UnifiedHeader {
            length: None,
            seq: 2,
            ..h
        };
        last.encode(&mut d);
        d.extend_from_slice(&[8; 5]);
        let first = UnifiedHeader::parse(&d, 0).expect("first");
        assert_eq!(first.body, [7, 7, 7]);
        let second = UnifiedHeader::parse(first.rest, 0).expect("second");
        assert_eq!(second.header.seq, 2);
        assert_eq!(second.body, [8; 5]);
    }

    #[test]
    fn bad_input_names_the_field() {
        assert_eq!(
            UnifiedHeader::parse(&[], 0),
            Err(WireError::Truncated(Field::UnifiedHeader))
        );
        // a DTLS 1.2 application_data record is not a unified header
        assert_eq!(
            UnifiedHeader::parse(&[23, 0xfe, 0xfd], 0),
            Err(WireError::Invalid(Field::UnifiedHeader))
        );
        // a CID where none was agreed
        assert_eq!(
            UnifiedHeader::parse(&[0b0011_0000, 1, 2], 0),
            Err(WireError::Invalid(Field::UnifiedCid))
        );
        assert_eq!(
            UnifiedHeader::parse(&[0b0011_0000, 1], 4),
            Err(WireError::Truncated(Field::UnifiedCid))
        );
        assert_eq!(
            UnifiedHeader::parse(&[0b0010_1000, 1], 0),
            Err(WireError::Truncated(Field::UnifiedSeq))
        );
        assert_eq!(
            UnifiedHeader::parse(&[0b0010_0100, 1, 0], 0),
            Err(WireError::Truncated(Field::UnifiedLength))
        );
        assert_eq!(
            UnifiedHeader::parse(&[0b0010_0100, 1, 0, 9, 1, 2], 0),
            Err(WireError::Truncated(Field::UnifiedBody))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // every first byte with every short tail, every CID length
        for first in 0..=255u8 {
            for tail in 0..8usize {
                let d: Vec<u8> = std::iter::once(first)
                    .chain((0..tail).map(|i| i as u8 * 37))
                    .collect();
                for cid_len in [0, 1, 4] {
                    let _ = UnifiedHeader::parse(&d, cid_len);
                }
            }
        }
    }
}
