//! ServerKeyExchange, ClientKeyExchange (RFC 4279 PSK, RFC 5489 ECDHE_PSK) and Finished.

use super::codec::{Reader, put_u16, put_vec8, put_vec16};
use super::extensions::GROUP_SECP256R1;
use super::{Field, WireError};

/// Length of an uncompressed P-256 point.
pub const P256_POINT_LEN: usize = 65;
/// Length of Finished.verify_data in TLS 1.2.
pub const VERIFY_DATA_LEN: usize = 12;

/// ServerKeyExchange contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKeyExchange {
    /// Plain PSK: only the identity hint.
    Psk {
        /// psk_identity_hint.
        hint: Vec<u8>,
    },
    /// ECDHE_PSK on a named curve (we accept secp256r1 only).
    EcdhePsk {
        /// psk_identity_hint (may be empty).
        hint: Vec<u8>,
        /// Server's ephemeral public key, uncompressed SEC1.
        point: Vec<u8>,
    },
}

impl ServerKeyExchange {
    /// Parses the body; `ecdhe` says which form the negotiated suite uses.
    pub fn parse(body: &[u8], ecdhe: bool) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let hint = r.vec16(Field::PskIdentityHint)?.to_vec();
        let out = if ecdhe {
            if r.u8(Field::CurveType)? != 3 {
                return Err(WireError::Invalid(Field::CurveType));
            }
            if r.u16(Field::NamedCurve)? != GROUP_SECP256R1 {
                return Err(WireError::Invalid(Field::NamedCurve));
            }
            let point = r.vec8(Field::EcPoint)?.to_vec();
            if point.len() != P256_POINT_LEN {
                return Err(WireError::Invalid(Field::EcPoint));
            }
            Self::EcdhePsk { hint, point }
        } else {
            Self::Psk { hint }
        };
        r.finish(Field::ServerKeyExchange)?;
        Ok(out)
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Psk { hint } => put_vec16(&mut out, hint),
            Self::EcdhePsk { hint, point } => {
                put_vec16(&mut out, hint);
                out.push(3);
                put_u16(&mut out, GROUP_SECP256R1);
                put_vec8(&mut out, point);
            }
        }
        out
    }

    /// The identity hint.
    pub fn hint(&self) -> &[u8] {
        match self {
            Self::Psk { hint } | Self::EcdhePsk { hint, .. } => hint,
        }
    }
}

/// ClientKeyExchange contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyExchange {
    /// psk_identity.
    pub identity: Vec<u8>,
    /// Client's ephemeral public key for ECDHE_PSK.
    pub point: Option<Vec<u8>>,
}

impl ClientKeyExchange {
    /// Parses the body; `ecdhe` says which form the negotiated suite uses.
    pub fn parse(body: &[u8], ecdhe: bool) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let identity = r.vec16(Field::PskIdentity)?.to_vec();
        let point = if ecdhe {
            let p = r.vec8(Field::EcPoint)?.to_vec();
            if p.len() != P256_POINT_LEN {
                return Err(WireError::Invalid(Field::EcPoint));
            }
            Some(p)
        } else {
            None
        };
        r.finish(Field::ClientKeyExchange)?;
        Ok(Self { identity, point })
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_vec16(&mut out, &self.identity);
        if let Some(p) = &self.point {
            put_vec8(&mut out, p);
        }
        out
    }
}

/// Parses a Finished body.
pub fn parse_finished(body: &[u8]) -> Result<[u8; VERIFY_DATA_LEN], WireError> {
    body.try_into()
        .map_err(|_| WireError::Invalid(Field::FinishedLength))
}

/// Checks an empty body (ServerHelloDone, HelloRequest).
pub fn parse_empty(body: &[u8], what: Field) -> Result<(), WireError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(WireError::Trailing(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_exchange_round_trips() {
        let ske = ServerKeyExchange::EcdhePsk {
            hint: b"3GPP-bootstrapping".to_vec(),
            point: vec![4; 65],
        };
        assert_eq!(ServerKeyExchange::parse(&ske.encode(), true).unwrap(), ske);
        assert!(ServerKeyExchange::parse(&ske.encode(), false).is_err());
        let cke = ClientKeyExchange {
            identity: b"client1".to_vec(),
            point: None,
        };
        assert_eq!(ClientKeyExchange::parse(&cke.encode(), false).unwrap(), cke);
        assert!(ClientKeyExchange::parse(&cke.encode(), true).is_err());
        assert!(parse_finished(&[0; 11]).is_err());
    }
}
