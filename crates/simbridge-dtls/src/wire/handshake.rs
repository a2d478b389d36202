//! Handshake message header and fragments (RFC 6347 §4.2.2-4.2.3).

use super::codec::{Reader, put_u16, put_u24};
use super::{Field, WireError};

/// Length of the DTLS handshake header.
pub const HANDSHAKE_HEADER_LEN: usize = 12;
/// Largest handshake message we reassemble (a PSK handshake never comes near it).
pub const MAX_HANDSHAKE_LEN: u32 = 16384;

/// Handshake message types used by the PSK handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeType {
    /// hello_request (0)
    HelloRequest,
    /// client_hello (1)
    ClientHello,
    /// server_hello (2)
    ServerHello,
    /// hello_verify_request (3)
    HelloVerifyRequest,
    /// new_session_ticket (4), parsed in the resumption issue
    NewSessionTicket,
    /// certificate (11), never used with PSK
    Certificate,
    /// server_key_exchange (12)
    ServerKeyExchange,
    /// certificate_request (13), never used with PSK
    CertificateRequest,
    /// server_hello_done (14)
    ServerHelloDone,
    /// certificate_verify (15), never used with PSK
    CertificateVerify,
    /// client_key_exchange (16)
    ClientKeyExchange,
    /// finished (20)
    Finished,
}

impl HandshakeType {
    /// Wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::HelloRequest => 0,
            Self::ClientHello => 1,
            Self::ServerHello => 2,
            Self::HelloVerifyRequest => 3,
            Self::NewSessionTicket => 4,
            Self::Certificate => 11,
            Self::ServerKeyExchange => 12,
            Self::CertificateRequest => 13,
            Self::ServerHelloDone => 14,
            Self::CertificateVerify => 15,
            Self::ClientKeyExchange => 16,
            Self::Finished => 20,
        }
    }

    /// Parses a wire value.
    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            0 => Self::HelloRequest,
            1 => Self::ClientHello,
            2 => Self::ServerHello,
            3 => Self::HelloVerifyRequest,
            4 => Self::NewSessionTicket,
            11 => Self::Certificate,
            12 => Self::ServerKeyExchange,
            13 => Self::CertificateRequest,
            14 => Self::ServerHelloDone,
            15 => Self::CertificateVerify,
            16 => Self::ClientKeyExchange,
            20 => Self::Finished,
            _ => return Err(WireError::Invalid(Field::HandshakeType)),
        })
    }
}

/// A validated handshake fragment: header fields plus a view of the fragment bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Message type.
    pub msg_type: HandshakeType,
    /// Length of the whole message body.
    pub length: u32,
    /// Handshake message sequence number.
    pub message_seq: u16,
    /// Offset of this fragment in the body.
    pub offset: u32,
    /// The fragment bytes (`offset + body.len() <= length` is checked).
    pub body: &'a [u8],
}

impl Fragment<'_> {
    /// Appends this fragment (header and bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_header(
            out,
            self.msg_type,
            self.length,
            self.message_seq,
            self.offset,
            self.body.len() as u32,
        );
        out.extend_from_slice(self.body);
    }
}

/// Appends a handshake header.
pub fn encode_header(
    out: &mut Vec<u8>,
    t: HandshakeType,
    length: u32,
    seq: u16,
    offset: u32,
    frag_len: u32,
) {
    out.push(t.to_u8());
    put_u24(out, length);
    put_u16(out, seq);
    put_u24(out, offset);
    put_u24(out, frag_len);
}

/// The whole message as it enters the transcript: header with offset 0 and full length.
pub fn encode_full(t: HandshakeType, seq: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HANDSHAKE_HEADER_LEN + body.len());
    encode_header(&mut out, t, body.len() as u32, seq, 0, body.len() as u32);
    out.extend_from_slice(body);
    out
}

/// Parses one fragment from the front of `r`, checking the bounds of its header.
pub fn parse_fragment<'a>(r: &mut Reader<'a>) -> Result<Fragment<'a>, WireError> {
    let msg_type = HandshakeType::from_u8(r.u8(Field::HandshakeType)?)?;
    let (length, message_seq, offset, body) = parse_fragment_rest(r)?;
    Ok(Fragment {
        msg_type,
        length,
        message_seq,
        offset,
        body,
    })
}

/// The fragment header after its type byte, with the bounds checked, and the fragment's bytes:
/// (length, message_seq, fragment_offset, body). DTLS 1.3 (`v13/fragment.rs`) reads the type
/// itself: it has types [`HandshakeType`] does not name.
pub fn parse_fragment_rest<'a>(r: &mut Reader<'a>) -> Result<(u32, u16, u32, &'a [u8]), WireError> {
    let length = r.u24(Field::HandshakeLength)?;
    let message_seq = r.u16(Field::MessageSeq)?;
    let offset = r.u24(Field::FragmentOffset)?;
    let frag_len = r.u24(Field::FragmentLength)?;
    if length > MAX_HANDSHAKE_LEN {
        return Err(WireError::Invalid(Field::HandshakeLength));
    }
    let end = offset
        .checked_add(frag_len)
        .ok_or(WireError::Invalid(Field::FragmentBounds))?;
    if end > length {
        return Err(WireError::Invalid(Field::FragmentBounds));
    }
    let body = r.take(frag_len as usize, Field::FragmentBody)?;
    Ok((length, message_seq, offset, body))
}

/// Parses every fragment in a handshake record.
pub fn parse_fragments(record: &[u8]) -> Result<Vec<Fragment<'_>>, WireError> {
    let mut r = Reader::new(record);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(parse_fragment(&mut r)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_bounds_are_checked() {
        let mut d = Vec::new();
        encode_header(&mut d, HandshakeType::Finished, 12, 3, 10, 4);
        d.extend_from_slice(&[0; 4]);
        assert_eq!(
            parse_fragments(&d),
            Err(WireError::Invalid(Field::FragmentBounds))
        );
        let full = encode_full(HandshakeType::Finished, 3, &[7; 12]);
        let f = parse_fragments(&full).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].message_seq, 3);
        assert_eq!(f[0].body, &[7; 12]);
    }
}
