//! AUTHENTICATE (TS 31.102 §7.1.2): command data and response decoding for the 3G context
//! (P2 = 81) and the GBA context (P2 = 84, bootstrapping and NAF derivation modes).

use crate::secret::{Secret, SecretVec};

/// P2 of AUTHENTICATE in the 3G/EPS/5G security context.
pub const P2_3G: u8 = 0x81;
/// P2 of AUTHENTICATE in the GBA security context (GBA_U).
pub const P2_GBA: u8 = 0x84;
/// GBA bootstrapping mode tag.
pub const TAG_GBA_BOOTSTRAP: u8 = 0xDD;
/// GBA NAF derivation mode tag.
pub const TAG_GBA_NAF: u8 = 0xDE;
/// Successful-operation tag.
pub const TAG_SUCCESS: u8 = 0xDB;
/// Synchronisation-failure tag.
pub const TAG_SYNC_FAILURE: u8 = 0xDC;

/// Outcome of AUTHENTICATE in the 3G context.
#[derive(Debug)]
pub enum AuthResult {
    /// The network was authenticated.
    Success {
        /// RES (4–16 bytes; 8 with Milenage).
        res: SecretVec,
        /// Cipher key.
        ck: Secret<16>,
        /// Integrity key.
        ik: Secret<16>,
        /// GSM Kc, when the card offers GSM access (UST n°27).
        kc: Option<Secret<8>>,
    },
    /// SQN out of range: AUTS carries the card's SQN_MS.
    SyncFailure {
        /// AUTS (14 bytes).
        auts: [u8; 14],
    },
    /// AUTN's MAC did not verify (SW 9862): the network is not genuine or the keys differ.
    MacFailure,
}

/// Outcome of AUTHENTICATE in GBA bootstrapping mode (GBA_U): CK and IK stay in the card.
#[derive(Debug)]
pub enum GbaBootstrapResult {
    /// Accepted; the card stored Ks and RAND.
    Success {
        /// RES for the Ub digest.
        res: SecretVec,
    },
    /// SQN out of range.
    SyncFailure {
        /// AUTS (14 bytes).
        auts: [u8; 14],
    },
    /// AUTN's MAC did not verify.
    MacFailure,
}

/// Command data of a 3G AUTHENTICATE: `10 RAND 10 AUTN`.
pub fn data_3g(rand: &[u8; 16], autn: &[u8; 16]) -> Vec<u8> {
    let mut d = Vec::with_capacity(34);
    d.push(16);
    d.extend_from_slice(rand);
    d.push(16);
    d.extend_from_slice(autn);
    d
}

/// Command data of a GBA bootstrap: `DD 10 RAND 10 AUTN`.
pub fn data_gba_bootstrap(rand: &[u8; 16], autn: &[u8; 16]) -> Vec<u8> {
    let mut d = vec![TAG_GBA_BOOTSTRAP];
    d.extend_from_slice(&data_3g(rand, autn));
    d
}

/// Command data of a GBA NAF derivation: `DE L NAF_Id L IMPI`. `None` when a field exceeds 255 bytes
/// or the whole exceeds a short APDU.
pub fn data_gba_naf(naf_id: &[u8], impi: &[u8]) -> Option<Vec<u8>> {
    if naf_id.len() > 255 || impi.len() > 255 || 3 + naf_id.len() + impi.len() > 255 {
        return None;
    }
    let mut d = vec![TAG_GBA_NAF, naf_id.len() as u8];
    d.extend_from_slice(naf_id);
    d.push(impi.len() as u8);
    d.extend_from_slice(impi);
    Some(d)
}

/// Why a response could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed AUTHENTICATE response: {0}")]
pub struct AuthDecodeError(pub String);

fn lv<'a>(b: &'a [u8], what: &str) -> Result<(&'a [u8], &'a [u8]), AuthDecodeError> {
    let (len, rest) = b
        .split_first()
        .ok_or_else(|| AuthDecodeError(format!("{what} missing")))?;
    let len = usize::from(*len);
    if rest.len() < len {
        return Err(AuthDecodeError(format!(
            "{what} length {len} exceeds the {} bytes left",
            rest.len()
        )));
    }
    Ok(rest.split_at(len))
}

/// Decodes a sync-failure body `DC 0E AUTS`.
fn decode_auts(rest: &[u8]) -> Result<[u8; 14], AuthDecodeError> {
    let (auts, _) = lv(rest, "AUTS")?;
    auts.try_into()
        .map_err(|_| AuthDecodeError(format!("AUTS is {} bytes, expected 14", auts.len())))
}

/// Decodes the response data of a 3G AUTHENTICATE.
pub fn decode_3g(data: &[u8]) -> Result<AuthResult, AuthDecodeError> {
    match data.split_first() {
        Some((&TAG_SUCCESS, rest)) => {
            let (res, rest) = lv(rest, "RES")?;
            if !(4..=16).contains(&res.len()) {
                return Err(AuthDecodeError(format!(
                    "RES is {} bytes, expected 4 to 16",
                    res.len()
                )));
            }
            let (ck, rest) = lv(rest, "CK")?;
            let (ik, rest) = lv(rest, "IK")?;
            let ck = Secret::from_slice(ck)
                .ok_or_else(|| AuthDecodeError("CK is not 16 bytes".into()))?;
            let ik = Secret::from_slice(ik)
                .ok_or_else(|| AuthDecodeError("IK is not 16 bytes".into()))?;
            let kc = if rest.is_empty() {
                None
            } else {
                let (kc, _) = lv(rest, "Kc")?;
                Some(
                    Secret::from_slice(kc)
                        .ok_or_else(|| AuthDecodeError("Kc is not 8 bytes".into()))?,
                )
            };
            Ok(AuthResult::Success {
                res: SecretVec::from(res),
                ck,
                ik,
                kc,
            })
        }
        Some((&TAG_SYNC_FAILURE, rest)) => Ok(AuthResult::SyncFailure {
            auts: decode_auts(rest)?,
        }),
        Some((t, _)) => Err(AuthDecodeError(format!("unknown tag {t:02X}"))),
        None => Err(AuthDecodeError("empty response".into())),
    }
}

/// Decodes the response data of a GBA bootstrap.
pub fn decode_gba_bootstrap(data: &[u8]) -> Result<GbaBootstrapResult, AuthDecodeError> {
    match data.split_first() {
        Some((&TAG_SUCCESS, rest)) => {
            let (res, _) = lv(rest, "RES")?;
            Ok(GbaBootstrapResult::Success {
                res: SecretVec::from(res),
            })
        }
        Some((&TAG_SYNC_FAILURE, rest)) => Ok(GbaBootstrapResult::SyncFailure {
            auts: decode_auts(rest)?,
        }),
        Some((t, _)) => Err(AuthDecodeError(format!("unknown tag {t:02X}"))),
        None => Err(AuthDecodeError("empty response".into())),
    }
}

/// Decodes the response data of a GBA NAF derivation: `DB 20 Ks_ext_NAF`.
pub fn decode_gba_naf(data: &[u8]) -> Result<Secret<32>, AuthDecodeError> {
    match data.split_first() {
        Some((&TAG_SUCCESS, rest)) => {
            let (ks, _) = lv(rest, "Ks_ext_NAF")?;
            Secret::from_slice(ks)
                .ok_or_else(|| AuthDecodeError(format!("Ks_ext_NAF is {} bytes", ks.len())))
        }
        Some((t, _)) => Err(AuthDecodeError(format!("unknown tag {t:02X}"))),
        None => Err(AuthDecodeError("empty response".into())),
    }
}

/// Encodes a 3G success response (used by the software USIM).
pub fn encode_3g_success(
    res: &[u8],
    ck: &[u8; 16],
    ik: &[u8; 16],
    kc: Option<&[u8; 8]>,
) -> Vec<u8> {
    let mut d = vec![TAG_SUCCESS, res.len() as u8];
    d.extend_from_slice(res);
    d.push(16);
    d.extend_from_slice(ck);
    d.push(16);
    d.extend_from_slice(ik);
    if let Some(kc) = kc {
        d.push(8);
        d.extend_from_slice(kc);
    }
    d
}

/// Encodes a sync-failure response `DC 0E AUTS` (used by the software USIM).
pub fn encode_sync_failure(auts: &[u8; 14]) -> Vec<u8> {
    let mut d = vec![TAG_SYNC_FAILURE, 14];
    d.extend_from_slice(auts);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_success_with_and_without_kc() {
        let enc = encode_3g_success(&[1; 8], &[2; 16], &[3; 16], Some(&[4; 8]));
        assert_eq!(enc.len(), 53, "TS 31.102 sec. 7.1.2: 53 bytes with Kc");
        match decode_3g(&enc) {
            Ok(AuthResult::Success { res, ck, ik, kc }) => {
                assert_eq!(res.expose(), &[1; 8]);
                assert_eq!((ck.expose(), ik.expose()), (&[2; 16], &[3; 16]));
                assert_eq!(kc.map(|k| *k.expose()), Some([4; 8]));
            }
            other => panic!("{other:?}"),
        }
        let enc = encode_3g_success(&[1; 8], &[2; 16], &[3; 16], None);
        assert_eq!(enc.len(), 44);
        assert!(matches!(
            decode_3g(&enc),
            Ok(AuthResult::Success { kc: None, .. })
        ));
    }

    #[test]
    fn decodes_sync_failure_and_rejects_garbage() {
        let enc = encode_sync_failure(&[9; 14]);
        assert!(matches!(decode_3g(&enc), Ok(AuthResult::SyncFailure { auts }) if auts == [9; 14]));
        assert!(decode_3g(&[]).is_err());
        assert!(decode_3g(&[0xDB, 0x08, 1, 2]).is_err());
        assert!(decode_3g(&[0xDC, 0x0D]).is_err());
        assert!(decode_3g(&[0xDB, 0x02, 1, 2]).is_err(), "RES below 4 bytes");
        assert!(decode_3g(&[0x77]).is_err());
    }

    #[test]
    fn gba_modes() {
        assert_eq!(data_gba_bootstrap(&[1; 16], &[2; 16])[..2], [0xDD, 0x10]);
        let naf = data_gba_naf(b"naf", b"impi").expect("fits");
        assert_eq!(naf, [&[0xDE, 3][..], b"naf", &[4], b"impi"].concat());
        assert!(data_gba_naf(&[0; 200], &[0; 60]).is_none());
        let mut ok = vec![0xDB, 0x20];
        ok.extend_from_slice(&[7; 32]);
        assert_eq!(decode_gba_naf(&ok).map(|k| *k.expose()), Ok([7; 32]));
        assert!(decode_gba_naf(&[0xDB, 0x10, 0]).is_err());
    }
}
