//! OSCORE keyed from GBA: the establishment exchange that turns a Ks_NAF into an OSCORE
//! security context (RFC 8613) with one CoAP round trip and no handshake, sans-IO.
//!
//! 3GPP specifies this as TS 33.220 Annex P ("OSCORE as a GBA Ua protocol"), whose text we could
//! not obtain. TS 33.535 Annex D ("OSCORE as an AKMA Ua* protocol") says it follows Annex P with
//! the AF in the NAF's role, and gives the procedure, which this module follows with GBA's B-TID
//! and Ks_NAF in place of AKMA's A-KID and K_AF:
//!
//! 1. The UE sends a CoAP POST whose payload is {CoAP security protocol identifier, B-TID, N1,
//!    the NAF's sender ID the UE proposes, optional input}.
//! 2. The NAF fetches Ks_NAF for the B-TID from the BSF and answers 2.01 Created with {N2, the
//!    UE's sender ID it assigns}.
//! 3. Both derive Master Secret = HKDF(Ks_NAF, label) and Master Salt = request payload ‖
//!    response payload (TS 33.535 §D.3.3).
//!
//! Every detail Annex D leaves to Annex P is one of the [`Choices`] below, each configurable:
//! the OSCORE Ua security protocol identifier (its value was not found: we use one from the
//! experimental organisation octet 0xFF until it is), the HKDF label ("GBA-OSCORE", after
//! Annex D's "AKMA-OSCORE"), the CBOR encoding of the two payloads (a definite-length array
//! of byte and text strings, in Annex D's order), the nonce length and the CoAP path.
//!
//! Why our own CBOR: two fixed arrays of byte and text strings; a general CBOR crate would be
//! the largest dependency of the library for about 80 lines (the parser is fuzzed with the
//! rest of the OSCORE targets and refuses anything but the expected shapes).

use super::naf::UaId;
use crate::secret::SecretVec;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Everything Annex P would fix and we had to choose (docs/oscore.md lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    /// Ua security protocol identifier of OSCORE, for NAF_Id and the request payload.
    pub ua_id: UaId,
    /// The HKDF info of the Master Secret.
    pub secret_label: &'static str,
    /// Length of N1 and N2.
    pub nonce_len: usize,
    /// The CoAP path of the establishment resource at the NAF.
    pub path: &'static str,
}

impl Default for Choices {
    fn default() -> Self {
        Self {
            ua_id: OSCORE_UA_ID,
            secret_label: "GBA-OSCORE",
            nonce_len: 8,
            path: "gba-oscore",
        }
    }
}

/// Our OSCORE Ua security protocol identifier: organisation 0xFF (local/experimental), since the
/// 3GPP value of TS 33.220 Annex H.3 for Annex P was not found.
pub const OSCORE_UA_ID: UaId = UaId([0xff, 0x00, 0x00, 0x05, 0x01]);

/// Master Secret length (AES-CCM-16-64-128's key length, RFC 8613 §3.2).
pub const MASTER_SECRET_LEN: usize = 16;

/// Longest B-TID, sender ID and optional input we accept (a B-TID is base64(RAND)@FQDN).
const MAX_BTID: usize = 255;
/// RFC 8613 §3.3: a sender ID is at most nonce length − 6 = 7 bytes with AES-CCM-16-64-128.
const MAX_SENDER_ID: usize = 7;
const MAX_INPUT: usize = 255;

/// Why an establishment payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstablishError {
    /// The payload is not the CBOR array expected, or a field is malformed.
    #[error("OSCORE establishment {0}: {1}")]
    Payload(&'static str, &'static str),
    /// The request names another security protocol than OSCORE.
    #[error("OSCORE establishment: security protocol id {0} is not OSCORE's {1}")]
    Protocol(String, String),
}

/// The UE's request (TS 33.535 §D.3.2 step 1, GBA names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstablishRequest {
    /// CoAP security protocol identifier.
    pub ua_id: UaId,
    /// The B-TID of the bootstrap whose Ks the keys come from.
    pub btid: String,
    /// The UE's nonce.
    pub n1: Vec<u8>,
    /// The sender ID the UE proposes for the NAF (the UE's recipient ID).
    pub naf_sender_id: Vec<u8>,
    /// Optional OSCORE input parameters (opaque here).
    pub input: Option<Vec<u8>>,
}

/// The NAF's 2.01 Created answer (§D.3.2 step 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstablishResponse {
    /// The NAF's nonce.
    pub n2: Vec<u8>,
    /// The sender ID the NAF assigns to the UE.
    pub ue_sender_id: Vec<u8>,
}

/// The context material both sides derive: feed it to an OSCORE context derivation.
pub struct OscoreKeying {
    /// Master Secret (zeroized on drop, never printed).
    pub master_secret: SecretVec,
    /// Master Salt = request payload ‖ response payload.
    pub master_salt: Vec<u8>,
    /// This side's sender ID.
    pub sender_id: Vec<u8>,
    /// This side's recipient ID.
    pub recipient_id: Vec<u8>,
}

impl std::fmt::Debug for OscoreKeying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscoreKeying")
            .field("sender_id", &hex::encode(&self.sender_id))
            .field("recipient_id", &hex::encode(&self.recipient_id))
            .finish_non_exhaustive()
    }
}

impl EstablishRequest {
    /// CBOR: [ bstr ua_id, tstr btid, bstr n1, bstr naf_sender_id, ? bstr input ].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.btid.len());
        head(&mut out, 4, 4 + u64::from(self.input.is_some()));
        bytes(&mut out, 2, &self.ua_id.0);
        bytes(&mut out, 3, self.btid.as_bytes());
        bytes(&mut out, 2, &self.n1);
        bytes(&mut out, 2, &self.naf_sender_id);
        if let Some(i) = &self.input {
            bytes(&mut out, 2, i);
        }
        out
    }

    /// Parses a request payload and checks it asks for OSCORE under `choices`.
    pub fn parse(payload: &[u8], choices: &Choices) -> Result<Self, EstablishError> {
        let mut r = Reader(payload);
        let n = r.array("request")?;
        if !(4..=5).contains(&n) {
            return Err(EstablishError::Payload(
                "request",
                "not an array of 4 or 5 items",
            ));
        }
        let ua: [u8; 5] = r
            .bstr("protocol id", 5)?
            .try_into()
            .map_err(|_| EstablishError::Payload("protocol id", "not 5 bytes"))?;
        let ua_id = UaId(ua);
        if ua_id != choices.ua_id {
            return Err(EstablishError::Protocol(
                ua_id.to_hex(),
                choices.ua_id.to_hex(),
            ));
        }
        let btid = std::str::from_utf8(r.tstr("B-TID", MAX_BTID)?)
            .map_err(|_| EstablishError::Payload("B-TID", "not UTF-8"))?
            .to_string();
        if btid.is_empty() {
            return Err(EstablishError::Payload("B-TID", "empty"));
        }
        let n1 = r.bstr("N1", choices.nonce_len)?.to_vec();
        if n1.len() != choices.nonce_len {
            return Err(EstablishError::Payload("N1", "wrong length"));
        }
        let naf_sender_id = r.bstr("NAF sender ID", MAX_SENDER_ID)?.to_vec();
        let input = if n == 5 {
            Some(r.bstr("OSCORE input", MAX_INPUT)?.to_vec())
        } else {
            None
        };
        r.end("request")?;
        Ok(Self {
            ua_id,
            btid,
            n1,
            naf_sender_id,
            input,
        })
    }
}

impl EstablishResponse {
    /// CBOR: [ bstr n2, bstr ue_sender_id ].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        head(&mut out, 4, 2);
        bytes(&mut out, 2, &self.n2);
        bytes(&mut out, 2, &self.ue_sender_id);
        out
    }

    /// Parses a response payload.
    pub fn parse(payload: &[u8], choices: &Choices) -> Result<Self, EstablishError> {
        let mut r = Reader(payload);
        if r.array("response")? != 2 {
            return Err(EstablishError::Payload(
                "response",
                "not an array of 2 items",
            ));
        }
        let n2 = r.bstr("N2", choices.nonce_len)?.to_vec();
        if n2.len() != choices.nonce_len {
            return Err(EstablishError::Payload("N2", "wrong length"));
        }
        let ue_sender_id = r.bstr("UE sender ID", MAX_SENDER_ID)?.to_vec();
        r.end("response")?;
        Ok(Self { n2, ue_sender_id })
    }
}

/// Master Secret = HKDF-SHA-256(salt: none, IKM: Ks_NAF, info: label), 16 bytes.
pub fn master_secret(ks_naf: &[u8], choices: &Choices) -> SecretVec {
    let hmac = |key: &[u8], data: &[&[u8]]| -> Zeroizing<[u8; 32]> {
        // HMAC takes keys of any length
        let mut m = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => return Zeroizing::new([0; 32]),
        };
        for d in data {
            m.update(d);
        }
        Zeroizing::new(m.finalize().into_bytes().into())
    };
    let prk = hmac(&[0u8; 32], &[ks_naf]);
    let okm = hmac(&prk[..], &[choices.secret_label.as_bytes(), &[1]]);
    SecretVec::from(&okm[..MASTER_SECRET_LEN])
}

/// The UE's side: the keying once the NAF's response payload is in.
pub fn ue_keying(
    ks_naf: &[u8],
    request_payload: &[u8],
    response_payload: &[u8],
    choices: &Choices,
) -> Result<OscoreKeying, EstablishError> {
    keying(Side::Ue, ks_naf, request_payload, response_payload, choices)
}

/// The NAF's side: the keying for a request it answered with `response_payload`.
pub fn naf_keying(
    ks_naf: &[u8],
    request_payload: &[u8],
    response_payload: &[u8],
    choices: &Choices,
) -> Result<OscoreKeying, EstablishError> {
    keying(
        Side::Naf,
        ks_naf,
        request_payload,
        response_payload,
        choices,
    )
}

#[derive(Clone, Copy)]
enum Side {
    Ue,
    Naf,
}

/// One context from one exchange: the same secret and salt on both sides, the IDs crossed.
fn keying(
    side: Side,
    ks_naf: &[u8],
    request_payload: &[u8],
    response_payload: &[u8],
    choices: &Choices,
) -> Result<OscoreKeying, EstablishError> {
    let req = EstablishRequest::parse(request_payload, choices)?;
    let resp = EstablishResponse::parse(response_payload, choices)?;
    if req.naf_sender_id == resp.ue_sender_id {
        return Err(EstablishError::Payload(
            "UE sender ID",
            "equal to the NAF's (RFC 8613 §3.3: the IDs of one context differ)",
        ));
    }
    let (sender_id, recipient_id) = match side {
        Side::Ue => (resp.ue_sender_id, req.naf_sender_id),
        Side::Naf => (req.naf_sender_id, resp.ue_sender_id),
    };
    Ok(OscoreKeying {
        master_secret: master_secret(ks_naf, choices),
        master_salt: [request_payload, response_payload].concat(),
        sender_id,
        recipient_id,
    })
}

fn head(out: &mut Vec<u8>, major: u8, len: u64) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, len as u8]),
        _ => {
            // our payloads' strings are under 64 KiB
            out.push(m | 25);
            out.extend_from_slice(&(len.min(0xffff) as u16).to_be_bytes());
        }
    }
}

fn bytes(out: &mut Vec<u8>, major: u8, b: &[u8]) {
    head(out, major, b.len() as u64);
    out.extend_from_slice(b);
}

/// A reader for the two payloads' CBOR: definite lengths, byte and text strings, one array.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn head(&mut self, what: &'static str) -> Result<(u8, usize), EstablishError> {
        let short = || EstablishError::Payload(what, "truncated");
        let (&first, rest) = self.0.split_first().ok_or_else(short)?;
        let (len, rest) = match first & 0x1f {
            n @ 0..=23 => (usize::from(n), rest),
            24 => {
                let (&b, r) = rest.split_first().ok_or_else(short)?;
                (usize::from(b), r)
            }
            25 => {
                let b = rest.get(..2).ok_or_else(short)?;
                (usize::from(u16::from_be_bytes([b[0], b[1]])), &rest[2..])
            }
            _ => return Err(EstablishError::Payload(what, "length form not accepted")),
        };
        self.0 = rest;
        Ok((first >> 5, len))
    }

    fn array(&mut self, what: &'static str) -> Result<usize, EstablishError> {
        match self.head(what)? {
            (4, n) => Ok(n),
            _ => Err(EstablishError::Payload(what, "not a CBOR array")),
        }
    }

    fn string(
        &mut self,
        major: u8,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], EstablishError> {
        let (m, len) = self.head(what)?;
        if m != major {
            return Err(EstablishError::Payload(
                what,
                if major == 2 {
                    "not a byte string"
                } else {
                    "not a text string"
                },
            ));
        }
        if len > max {
            return Err(EstablishError::Payload(what, "too long"));
        }
        let s = self
            .0
            .get(..len)
            .ok_or(EstablishError::Payload(what, "truncated"))?;
        self.0 = &self.0[len..];
        Ok(s)
    }

    fn bstr(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], EstablishError> {
        self.string(2, what, max)
    }

    fn tstr(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], EstablishError> {
        self.string(3, what, max)
    }

    fn end(&self, what: &'static str) -> Result<(), EstablishError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(EstablishError::Payload(what, "trailing bytes"))
        }
    }
}

#[cfg(test)]
#[path = "oscore_tests.rs"]
mod tests;
