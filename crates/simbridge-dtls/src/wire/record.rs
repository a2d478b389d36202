//! DTLS record header (RFC 6347 §4.1), the RFC 9146 tls12_cid header (the Connection ID sits
//! between the sequence number and the length) and splitting a datagram into records.

use super::codec::{Reader, put_u16, put_u48};
use super::{Field, WireError};

/// Length of the DTLS 1.2 record header.
pub const RECORD_HEADER_LEN: usize = 13;
/// DTLS 1.2 on the wire.
pub const DTLS12: u16 = 0xFEFD;
/// DTLS 1.0 on the wire (allowed in the record carrying a ClientHello).
pub const DTLS10: u16 = 0xFEFF;
/// Largest record fragment we accept (2^14 plaintext + 2048 expansion, RFC 6347 §4.1).
pub const MAX_FRAGMENT: usize = 16384 + 2048;
/// The tls12_cid content type (RFC 9146).
pub const TLS12_CID: u8 = 25;
/// Longest Connection ID (RFC 9146: `opaque cid<0..2^8-1>`).
pub const MAX_CID: usize = 255;
/// Largest 48-bit sequence number.
pub const MAX_SEQ: u64 = (1 << 48) - 1;

/// Record content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// change_cipher_spec (20)
    ChangeCipherSpec,
    /// alert (21)
    Alert,
    /// handshake (22)
    Handshake,
    /// application_data (23)
    ApplicationData,
    /// tls12_cid (25, RFC 9146): the outer type of a record carrying a Connection ID; the real
    /// type is inside the encrypted DTLSInnerPlaintext.
    Tls12Cid,
}

impl ContentType {
    /// Wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::ChangeCipherSpec => 20,
            Self::Alert => 21,
            Self::Handshake => 22,
            Self::ApplicationData => 23,
            Self::Tls12Cid => TLS12_CID,
        }
    }

    /// Parses a wire value.
    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        match v {
            20 => Ok(Self::ChangeCipherSpec),
            21 => Ok(Self::Alert),
            22 => Ok(Self::Handshake),
            23 => Ok(Self::ApplicationData),
            TLS12_CID => Ok(Self::Tls12Cid),
            _ => Err(WireError::Invalid(Field::ContentType)),
        }
    }
}

/// A validated record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type.
    pub content_type: ContentType,
    /// Protocol version on the wire.
    pub version: u16,
    /// Epoch.
    pub epoch: u16,
    /// 48-bit sequence number.
    pub seq: u64,
    /// Length of the fragment that follows.
    pub length: u16,
}

impl RecordHeader {
    /// The 8-byte `epoch || seq` used in nonces and additional data.
    pub fn epoch_seq(&self) -> [u8; 8] {
        epoch_seq(self.epoch, self.seq)
    }

    /// Appends the header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with_cid(out, &[]);
    }

    /// Appends the header with `cid` before the length (tls12_cid records; empty: plain header).
    pub fn encode_with_cid(&self, out: &mut Vec<u8>, cid: &[u8]) {
        out.push(self.content_type.to_u8());
        put_u16(out, self.version);
        put_u16(out, self.epoch);
        put_u48(out, self.seq);
        out.extend_from_slice(cid);
        put_u16(out, self.length);
    }

    /// Writes the header (with `cid` before the length, as [`Self::encode_with_cid`]) at the
    /// front of `out`; returns its length, or `None` when `out` is too short.
    pub fn encode_into(&self, out: &mut [u8], cid: &[u8]) -> Option<usize> {
        let len = RECORD_HEADER_LEN + cid.len();
        let h = out.get_mut(..len)?;
        h[0] = self.content_type.to_u8();
        h[1..3].copy_from_slice(&self.version.to_be_bytes());
        h[3..5].copy_from_slice(&self.epoch.to_be_bytes());
        h[5..11].copy_from_slice(&self.seq.to_be_bytes()[2..]);
        h[11..11 + cid.len()].copy_from_slice(cid);
        h[len - 2..].copy_from_slice(&self.length.to_be_bytes());
        Some(len)
    }
}

/// `epoch || seq48` as 8 bytes.
pub fn epoch_seq(epoch: u16, seq: u64) -> [u8; 8] {
    let mut b = (seq & MAX_SEQ).to_be_bytes();
    b[..2].copy_from_slice(&epoch.to_be_bytes());
    b
}

/// One record inside a datagram: header plus a view of its fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Header.
    pub header: RecordHeader,
    /// Connection ID (tls12_cid records only; empty otherwise).
    pub cid: &'a [u8],
    /// Fragment (ciphertext for protected epochs).
    pub fragment: &'a [u8],
}

/// Parses one record from the front of `r` (no Connection ID expected).
pub fn parse_record<'a>(r: &mut Reader<'a>) -> Result<Record<'a>, WireError> {
    parse_record_cid(r, 0)
}

/// Parses one record from the front of `r`; a tls12_cid record carries a CID of `cid_len`
/// bytes (the receiver's own length: the header does not say it). With `cid_len` 0 a
/// tls12_cid record is malformed (a zero-length CID means plain records, RFC 9146 §3).
pub fn parse_record_cid<'a>(r: &mut Reader<'a>, cid_len: usize) -> Result<Record<'a>, WireError> {
    let content_type = ContentType::from_u8(r.u8(Field::RecordType)?)?;
    let version = r.u16(Field::RecordVersion)?;
    if version != DTLS12 && version != DTLS10 {
        return Err(WireError::Invalid(Field::RecordVersion));
    }
    let epoch = r.u16(Field::RecordEpoch)?;
    let seq = r.u48(Field::RecordSeq)?;
    let cid = if content_type == ContentType::Tls12Cid {
        if cid_len == 0 || epoch == 0 {
            return Err(WireError::Invalid(Field::Tls12CidRecord));
        }
        r.take(cid_len, Field::RecordCid)?
    } else {
        &[]
    };
    let length = r.u16(Field::RecordLength)?;
    if usize::from(length) > MAX_FRAGMENT {
        return Err(WireError::Invalid(Field::RecordLength));
    }
    let fragment = r.take(usize::from(length), Field::RecordFragment)?;
    Ok(Record {
        header: RecordHeader {
            content_type,
            version,
            epoch,
            seq,
            length,
        },
        cid,
        fragment,
    })
}

/// Splits a datagram into records. A malformed record ends the datagram (RFC 6347 §4.1.2.7:
/// invalid records are discarded); the records before it are kept.
pub fn split_datagram(data: &[u8]) -> (Vec<Record<'_>>, Option<WireError>) {
    split_datagram_cid(data, 0)
}

/// [`split_datagram`] for a receiver whose Connection ID is `cid_len` bytes long.
pub fn split_datagram_cid(data: &[u8], cid_len: usize) -> (Vec<Record<'_>>, Option<WireError>) {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    while !r.is_empty() {
        match parse_record_cid(&mut r, cid_len) {
            Ok(rec) => out.push(rec),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// The Connection ID of a datagram that starts with a tls12_cid record, for routing; `None`
/// for anything else (or too short).
pub fn peek_cid(data: &[u8], cid_len: usize) -> Option<&[u8]> {
    if cid_len == 0 || data.first() != Some(&TLS12_CID) {
        return None;
    }
    data.get(11..11 + cid_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_records_in_one_datagram() {
        let mut d = Vec::new();
        for (t, e) in [
            (ContentType::Handshake, 0u16),
            (ContentType::ApplicationData, 1),
        ] {
            RecordHeader {
                content_type: t,
                version: DTLS12,
                epoch: e,
                seq: 7,
                length: 2,
            }
            .encode(&mut d);
            d.extend_from_slice(&[0xAA, 0xBB]);
        }
        let (recs, err) = split_datagram(&d);
        assert!(err.is_none());
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].header.epoch, 1);
        assert_eq!(recs[1].header.epoch_seq(), [0, 1, 0, 0, 0, 0, 0, 7]);
        // truncated second record: the first survives
        let (recs, err) = split_datagram(&d[..d.len() - 1]);
        assert_eq!(recs.len(), 1);
        assert!(err.is_some());
    }

    #[test]
    fn rejects_unknown_version_and_type() {
        let mut d = vec![22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(split_datagram(&d).1.is_some());
        d[1] = 0xFE;
        d[2] = 0xFD;
        assert!(split_datagram(&d).1.is_none());
        d[0] = 99;
        assert!(split_datagram(&d).1.is_some());
    }

    #[test]
    fn tls12_cid_header_carries_the_cid_before_the_length() {
        let h = RecordHeader {
            content_type: ContentType::Tls12Cid,
            version: DTLS12,
            epoch: 1,
            seq: 2,
            length: 3,
        };
        let mut d = Vec::new();
        h.encode_with_cid(&mut d, &[0xC1, 0xD5, 0xE7, 0xF0]);
        d.extend_from_slice(&[7, 8, 9]);
        assert_eq!(&d[..11], &[25, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 2]);
        assert_eq!(&d[11..17], &[0xC1, 0xD5, 0xE7, 0xF0, 0, 3]);
        assert_eq!(peek_cid(&d, 4), Some(&[0xC1, 0xD5, 0xE7, 0xF0][..]));
        let mut into = [0u8; 17];
        assert_eq!(
            h.encode_into(&mut into, &[0xC1, 0xD5, 0xE7, 0xF0]),
            Some(17)
        );
        assert_eq!(&into[..], &d[..17]);
        assert_eq!(
            h.encode_into(&mut into[..16], &[0xC1, 0xD5, 0xE7, 0xF0]),
            None
        );
        let (recs, err) = split_datagram_cid(&d, 4);
        assert!(err.is_none());
        assert_eq!(recs[0].cid, &[0xC1, 0xD5, 0xE7, 0xF0]);
        assert_eq!(recs[0].fragment, &[7, 8, 9]);
        // without a CID length, or in epoch 0, a tls12_cid record does not parse
        assert!(split_datagram(&d).1.is_some());
        d[4] = 0;
        assert!(split_datagram_cid(&d, 4).1.is_some());
    }
}
