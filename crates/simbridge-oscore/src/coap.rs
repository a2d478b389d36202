//! A minimal CoAP message codec (RFC 7252 §3) and the OSCORE option classes (RFC 8613 §4.1).
//!
//! Ours because OSCORE needs to take a message apart and put it together byte-exact (the inner
//! plaintext is options and payload without a header; the outer message keeps the header and
//! token), and because this crate must not pull a CoAP stack. Parsing never panics: a message
//! that does not parse is a [`WireError`] naming the field.
//!
//! Option classes, as implemented ([`class_of`]):
//! - **Class U (outer only):** Uri-Host, Uri-Port, Proxy-Uri, Proxy-Scheme (§4.1.3.3 — we take
//!   Proxy-Uri as given; splitting it into Proxy-Scheme + inner Uri-Path is the caller's job)
//!   and OSCORE itself.
//! - **Class E and U:** Observe (§4.1.3.5): the value is protected inside and repeated outside
//!   for proxies; on reception the inner value wins.
//! - **Class E (inner):** everything else, including Block1/Block2/Size1/Size2 (§4.1.3.4.1:
//!   end-to-end block-wise transfer is protected). Outer Block options are only added by a proxy
//!   fragmenting an OSCORE message (§4.1.3.4.2); we neither add nor interpret them, and an outer
//!   Class E option on reception is discarded (§8.2/§8.4).

use crate::error::{Field, WireError};
use crate::reader::Reader;

/// Option numbers this crate knows (RFC 7252 §12.2, RFC 7641, RFC 7959, RFC 8613, RFC 9175).
pub mod number {
    /// If-Match.
    pub const IF_MATCH: u16 = 1;
    /// Uri-Host (Class U).
    pub const URI_HOST: u16 = 3;
    /// ETag.
    pub const ETAG: u16 = 4;
    /// If-None-Match.
    pub const IF_NONE_MATCH: u16 = 5;
    /// Observe (Class E and U).
    pub const OBSERVE: u16 = 6;
    /// Uri-Port (Class U).
    pub const URI_PORT: u16 = 7;
    /// Location-Path.
    pub const LOCATION_PATH: u16 = 8;
    /// OSCORE (RFC 8613 §2).
    pub const OSCORE: u16 = 9;
    /// Uri-Path.
    pub const URI_PATH: u16 = 11;
    /// Content-Format.
    pub const CONTENT_FORMAT: u16 = 12;
    /// Max-Age.
    pub const MAX_AGE: u16 = 14;
    /// Uri-Query.
    pub const URI_QUERY: u16 = 15;
    /// Accept.
    pub const ACCEPT: u16 = 17;
    /// Location-Query.
    pub const LOCATION_QUERY: u16 = 20;
    /// Block2 (RFC 7959).
    pub const BLOCK2: u16 = 23;
    /// Block1 (RFC 7959).
    pub const BLOCK1: u16 = 27;
    /// Size2 (RFC 7959).
    pub const SIZE2: u16 = 28;
    /// Proxy-Uri (Class U).
    pub const PROXY_URI: u16 = 35;
    /// Proxy-Scheme (Class U).
    pub const PROXY_SCHEME: u16 = 39;
    /// Size1.
    pub const SIZE1: u16 = 60;
    /// Echo (RFC 9175).
    pub const ECHO: u16 = 252;
}

/// Codes this crate uses (class << 5 | detail).
pub mod code {
    /// 0.01 GET.
    pub const GET: u8 = 0x01;
    /// 0.02 POST: the outer code of a protected request.
    pub const POST: u8 = 0x02;
    /// 0.05 FETCH: the outer code of a protected Observe request.
    pub const FETCH: u8 = 0x05;
    /// 2.04 Changed: the outer code of a protected response.
    pub const CHANGED: u8 = 0x44;
    /// 2.05 Content: the outer code of a protected notification.
    pub const CONTENT: u8 = 0x45;
    /// 4.01 Unauthorized: the answer carrying an Echo challenge.
    pub const UNAUTHORIZED: u8 = 0x81;
}

/// How OSCORE treats an option (RFC 8613 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionClass {
    /// Encrypted and integrity protected (inner).
    E,
    /// Unprotected (outer).
    U,
    /// Both: a protected inner value and an outer copy for intermediaries.
    EAndU,
}

/// The class of an option number, as this crate implements it (see the module docs).
pub fn class_of(number: u16) -> OptionClass {
    match number {
        number::URI_HOST
        | number::URI_PORT
        | number::PROXY_URI
        | number::PROXY_SCHEME
        | number::OSCORE => OptionClass::U,
        number::OBSERVE => OptionClass::EAndU,
        _ => OptionClass::E,
    }
}

/// The CoAP message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// CON.
    Confirmable,
    /// NON.
    NonConfirmable,
    /// ACK.
    Acknowledgement,
    /// RST.
    Reset,
}

impl MessageType {
    fn bits(self) -> u8 {
        match self {
            Self::Confirmable => 0,
            Self::NonConfirmable => 1,
            Self::Acknowledgement => 2,
            Self::Reset => 3,
        }
    }

    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Self::Confirmable,
            1 => Self::NonConfirmable,
            2 => Self::Acknowledgement,
            _ => Self::Reset,
        }
    }
}

/// One option: number and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapOption {
    /// The option number.
    pub number: u16,
    /// The option value.
    pub value: Vec<u8>,
}

/// Longest token (RFC 7252 §3).
pub const MAX_TOKEN: usize = 8;

/// A CoAP message (RFC 7252 §3). Options stay sorted by number; repeated options keep their
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message type.
    pub mtype: MessageType,
    /// The code (class << 5 | detail).
    pub code: u8,
    /// The message ID.
    pub message_id: u16,
    token: Vec<u8>,
    options: Vec<CoapOption>,
    /// The payload (empty: no payload marker).
    pub payload: Vec<u8>,
}

impl Message {
    /// A message without token, options or payload.
    pub fn new(mtype: MessageType, code: u8, message_id: u16) -> Self {
        Self {
            mtype,
            code,
            message_id,
            token: Vec::new(),
            options: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// The token.
    pub fn token(&self) -> &[u8] {
        &self.token
    }

    /// Sets the token (at most 8 bytes).
    pub fn set_token(&mut self, token: &[u8]) -> Result<(), WireError> {
        if token.len() > MAX_TOKEN {
            return Err(WireError::Invalid(Field::TokenLength));
        }
        self.token = token.to_vec();
        Ok(())
    }

    /// The options, sorted by number.
    pub fn options(&self) -> &[CoapOption] {
        &self.options
    }

    /// Adds an option after any others of the same or a lower number.
    pub fn add_option(&mut self, number: u16, value: &[u8]) {
        let at = self.options.partition_point(|o| o.number <= number);
        self.options.insert(
            at,
            CoapOption {
                number,
                value: value.to_vec(),
            },
        );
    }

    /// The value of the first option `number`, if present.
    pub fn option(&self, number: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|o| o.number == number)
            .map(|o| o.value.as_slice())
    }

    /// Removes every option `number`.
    pub fn remove_option(&mut self, number: u16) {
        self.options.retain(|o| o.number != number);
    }

    /// True for a request code (class 0, not Empty).
    pub fn is_request(&self) -> bool {
        self.code != 0 && self.code >> 5 == 0
    }

    /// Parses a message. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let hdr = r.take(4, Field::Header)?;
        let (b0, code, mid) = match *hdr {
            [b0, code, hi, lo] => (b0, code, u16::from_be_bytes([hi, lo])),
            _ => return Err(WireError::Truncated(Field::Header)),
        };
        if b0 >> 6 != 1 {
            return Err(WireError::Invalid(Field::Version));
        }
        let tkl = usize::from(b0 & 0x0f);
        if tkl > MAX_TOKEN {
            return Err(WireError::Invalid(Field::TokenLength));
        }
        let token = r.take(tkl, Field::Token)?.to_vec();
        let (options, payload) = parse_options(&mut r)?;
        Ok(Self {
            mtype: MessageType::from_bits(b0 >> 4),
            code,
            message_id: mid,
            token,
            options,
            payload,
        })
    }

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.token.len() + self.payload.len() + 16);
        // `set_token` keeps the token at 8 bytes or fewer.
        out.push(0x40 | self.mtype.bits() << 4 | (self.token.len() as u8 & 0x0f));
        out.push(self.code);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.token);
        encode_options(&mut out, &self.options);
        if !self.payload.is_empty() {
            out.push(0xff);
            out.extend_from_slice(&self.payload);
        }
        out
    }

    pub(crate) fn from_parts(
        mtype: MessageType,
        code: u8,
        message_id: u16,
        token: Vec<u8>,
        options: Vec<CoapOption>,
        payload: Vec<u8>,
    ) -> Self {
        let mut m = Self {
            mtype,
            code,
            message_id,
            token,
            options: Vec::with_capacity(options.len()),
            payload,
        };
        for o in options {
            m.add_option(o.number, &o.value);
        }
        m
    }
}

/// Reads one delta or length: the nibble, or its 1- or 2-byte extension (RFC 7252 §3.1).
fn extended(r: &mut Reader<'_>, nibble: u8, what: Field) -> Result<u32, WireError> {
    match nibble {
        0..=12 => Ok(u32::from(nibble)),
        13 => Ok(u32::from(r.u8(what)?) + 13),
        14 => Ok(u32::from(r.u16(what)?) + 269),
        _ => Err(WireError::Invalid(what)),
    }
}

/// Parses options and the payload (what follows the token; also an OSCORE plaintext after its
/// code byte).
pub(crate) fn parse_options(r: &mut Reader<'_>) -> Result<(Vec<CoapOption>, Vec<u8>), WireError> {
    let mut options = Vec::new();
    let mut number: u32 = 0;
    while !r.is_empty() {
        let b = r.u8(Field::OptionDelta)?;
        if b == 0xff {
            let payload = r.rest();
            if payload.is_empty() {
                // RFC 7252 §3: a marker followed by nothing is a format error.
                return Err(WireError::Invalid(Field::PayloadMarker));
            }
            return Ok((options, payload.to_vec()));
        }
        let delta = extended(r, b >> 4, Field::OptionDelta)?;
        let len = extended(r, b & 0x0f, Field::OptionLength)?;
        number += delta;
        let n = u16::try_from(number).map_err(|_| WireError::Invalid(Field::OptionNumber))?;
        let value = r.take(len as usize, Field::OptionValue)?;
        options.push(CoapOption {
            number: n,
            value: value.to_vec(),
        });
    }
    Ok((options, Vec::new()))
}

/// Splits a delta or length into its nibble and extension bytes.
fn nibble(v: u32) -> (u8, Vec<u8>) {
    if v < 13 {
        (v as u8, Vec::new())
    } else if v < 269 {
        (13, vec![(v - 13) as u8])
    } else {
        (14, ((v - 269) as u16).to_be_bytes().to_vec())
    }
}

/// Appends options, which must be sorted by number (values longer than 65804 bytes, which no
/// datagram carries, are cut).
pub(crate) fn encode_options(out: &mut Vec<u8>, options: &[CoapOption]) {
    let mut prev = 0u16;
    for o in options {
        let delta = u32::from(o.number.saturating_sub(prev));
        prev = o.number;
        let len = o.value.len().min(65535 + 269);
        let (dn, dx) = nibble(delta);
        let (ln, lx) = nibble(len as u32);
        out.push(dn << 4 | ln);
        out.extend_from_slice(&dx);
        out.extend_from_slice(&lx);
        out.extend_from_slice(o.value.get(..len).unwrap_or(&[]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_encodes_appendix_c4_request() {
        // RFC 8613 Appendix C.4: the unprotected request.
        let bytes = hex::decode("44015d1f00003974396c6f63616c686f737483747631").unwrap();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.mtype, MessageType::Confirmable);
        assert_eq!(m.code, code::GET);
        assert_eq!(m.message_id, 0x5d1f);
        assert_eq!(m.token(), [0, 0, 0x39, 0x74]);
        assert_eq!(m.option(number::URI_HOST), Some(&b"localhost"[..]));
        assert_eq!(m.option(number::URI_PATH), Some(&b"tv1"[..]));
        assert_eq!(m.encode(), bytes);
    }

    #[test]
    fn extended_deltas_and_lengths_round_trip() {
        let mut m = Message::new(MessageType::NonConfirmable, code::POST, 7);
        m.set_token(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        m.add_option(number::URI_PATH, b"a");
        m.add_option(number::URI_PATH, b"b");
        m.add_option(number::OBSERVE, &[]);
        m.add_option(number::ECHO, &[9; 13]);
        m.add_option(2000, &[7; 300]);
        m.add_option(65000, &[]);
        m.payload = b"hi".to_vec();
        let bytes = m.encode();
        let back = Message::parse(&bytes).unwrap();
        assert_eq!(back, m);
        let paths: Vec<_> = back
            .options()
            .iter()
            .filter(|o| o.number == number::URI_PATH)
            .map(|o| o.value.clone())
            .collect();
        assert_eq!(paths, [b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn malformed_messages_name_their_field() {
        let cases: &[(&str, WireError)] = &[
            ("440100", WireError::Truncated(Field::Header)),
            ("84010000", WireError::Invalid(Field::Version)),
            ("49010000", WireError::Invalid(Field::TokenLength)),
            ("4401000001", WireError::Truncated(Field::Token)),
            ("40010000ff", WireError::Invalid(Field::PayloadMarker)),
            ("40010000f1", WireError::Invalid(Field::OptionDelta)),
            ("400100001f", WireError::Invalid(Field::OptionLength)),
            ("40010000d1", WireError::Truncated(Field::OptionDelta)),
            ("40010000e0ff", WireError::Truncated(Field::OptionDelta)),
            ("400100001d", WireError::Truncated(Field::OptionLength)),
            ("4001000013aa", WireError::Truncated(Field::OptionValue)),
            (
                "40010000e0fef2e0fef2",
                WireError::Invalid(Field::OptionNumber),
            ),
        ];
        for (hex, want) in cases {
            let bytes = hex::decode(hex).unwrap();
            assert_eq!(Message::parse(&bytes), Err(*want), "{hex}");
        }
    }

    #[test]
    fn classes() {
        assert_eq!(class_of(number::URI_HOST), OptionClass::U);
        assert_eq!(class_of(number::PROXY_URI), OptionClass::U);
        assert_eq!(class_of(number::OBSERVE), OptionClass::EAndU);
        assert_eq!(class_of(number::BLOCK2), OptionClass::E);
        assert_eq!(class_of(number::URI_PATH), OptionClass::E);
    }
}
