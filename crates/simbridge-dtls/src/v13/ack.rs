//! The DTLS 1.3 ACK message (RFC 9147 §7): the record numbers (epoch, sequence number) of the
//! handshake records a peer received, sent as its own content type (26) so that the sender
//! retransmits only what is missing instead of whole flights.
//!
//! `struct { RecordNumber record_numbers<0..2^16-1>; } ACK;` with
//! `struct { uint64 epoch; uint64 sequence_number; } RecordNumber;`.

use crate::wire::{Field, WireError};

/// The content type of an ACK record.
pub const CONTENT_TYPE_ACK: u8 = 26;

/// One acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordNumber {
    /// Its epoch.
    pub epoch: u64,
    /// Its sequence number.
    pub seq: u64,
}

/// Most record numbers one ACK carries: 2^16 − 1 bytes of 16-byte entries.
pub const MAX_RECORD_NUMBERS: usize = 0xffff / 16;

/// Encodes an ACK of `numbers` (at most [`MAX_RECORD_NUMBERS`]; the rest are left for the
/// next ACK, whose count is returned).
pub fn encode(numbers: &[RecordNumber], out: &mut Vec<u8>) -> usize {
    let n = numbers.len().min(MAX_RECORD_NUMBERS);
    // n * 16 <= 0xfff0: fits the 16-bit length
    out.extend_from_slice(&((n * 16) as u16).to_be_bytes());
    for r in &numbers[..n] {
        out.extend_from_slice(&r.epoch.to_be_bytes());
        out.extend_from_slice(&r.seq.to_be_bytes());
    }
    n
}

/// Parses an ACK body.
pub fn parse(body: &[u8]) -> Result<Vec<RecordNumber>, WireError> {
    let (len, rest) = match body {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => return Err(WireError::Truncated(Field::AckRecordNumbers)),
    };
    if len % 16 != 0 {
        return Err(WireError::Invalid(Field::AckRecordNumbers));
    }
    let list = rest
        .get(..len)
        .ok_or(WireError::Truncated(Field::AckRecordNumbers))?;
    if rest.len() > len {
        return Err(WireError::Trailing(Field::AckRecordNumbers));
    }
    Ok(list
        .chunks_exact(16)
        .map(|c| {
            let mut e = [0u8; 8];
            let mut s = [0u8; 8];
            e.copy_from_slice(&c[..8]);
            s.copy_from_slice(&c[8..]);
            RecordNumber {
                epoch: u64::from_be_bytes(e),
                seq: u64::from_be_bytes(s),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_round_trip_in_rfc9147_layout() {
        let nums = [
            RecordNumber { epoch: 2, seq: 0 },
            RecordNumber { epoch: 2, seq: 1 },
            RecordNumber {
                epoch: 3,
                seq: 0x0102_0304_0506,
            },
        ];
        let mut out = Vec::new();
        assert_eq!(encode(&nums, &mut out), 3);
        assert_eq!(out.len(), 2 + 3 * 16);
        assert_eq!(&out[..2], &[0, 48]);
        assert_eq!(
            &out[2..18],
            &[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(parse(&out), Ok(nums.to_vec()));
        let mut empty = Vec::new();
        encode(&[], &mut empty);
        assert_eq!(parse(&empty), Ok(Vec::new()));
    }

    #[test]
    fn a_long_list_is_cut_at_what_one_ack_holds() {
        let many: Vec<RecordNumber> = (0..5000)
            .map(|s| RecordNumber { epoch: 2, seq: s })
            .collect();
        let mut out = Vec::new();
        assert_eq!(encode(&many, &mut out), MAX_RECORD_NUMBERS);
        assert_eq!(parse(&out).map(|v| v.len()), Ok(MAX_RECORD_NUMBERS));
    }

    #[test]
    fn bad_acks_name_the_field() {
        assert_eq!(
            parse(&[0]),
            Err(WireError::Truncated(Field::AckRecordNumbers))
        );
        assert_eq!(
            parse(&[0, 15]),
            Err(WireError::Invalid(Field::AckRecordNumbers))
        );
        assert_eq!(
            parse(&[0, 16, 1]),
            Err(WireError::Truncated(Field::AckRecordNumbers))
        );
        assert_eq!(
            parse(&[0, 0, 1]),
            Err(WireError::Trailing(Field::AckRecordNumbers))
        );
    }
}
