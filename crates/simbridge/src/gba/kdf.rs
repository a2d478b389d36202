//! The generic key derivation function of TS 33.220 Annex B.2 and the GBA keys built on it
//! (Annex B.3 Ks_NAF / Ks_ext_NAF / Ks_int_NAF, Annex B.4 TMPI).

use super::GbaError;
use super::naf::NafId;
use crate::secret::Secret;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// FC of the GBA NAF-key derivations (TS 33.220 Annex B.3).
pub const FC_GBA: u8 = 0x01;
/// FC of CK'/IK' (TS 33.402 Annex A.2, RFC 5448 §3.3); same KDF plumbing.
pub const FC_CK_IK_PRIME: u8 = 0x20;

/// P0 for Ks_NAF (GBA_ME) and Ks_ext_NAF (GBA_U).
pub const LABEL_GBA_ME: &[u8] = b"gba-me";
/// P0 for Ks_int_NAF (GBA_U, computed in the UICC).
pub const LABEL_GBA_U: &[u8] = b"gba-u";

/// The Ua id used to derive the TMPI (Annex B.4 / H.3).
const UA_TMPI: [u8; 5] = [0x01, 0x00, 0x00, 0x01, 0x00];

/// Builds S = FC ‖ P0 ‖ L0 ‖ … ‖ Pn ‖ Ln, each Li the 2-byte big-endian length of Pi.
pub fn kdf_input(fc: u8, params: &[&[u8]]) -> Result<Vec<u8>, GbaError> {
    let mut s = Vec::with_capacity(1 + params.iter().map(|p| p.len() + 2).sum::<usize>());
    s.push(fc);
    for p in params {
        let len = u16::try_from(p.len()).map_err(|_| GbaError::ParamTooLong(p.len()))?;
        s.extend_from_slice(p);
        s.extend_from_slice(&len.to_be_bytes());
    }
    Ok(s)
}

/// KDF(Key, S) = HMAC-SHA-256(Key, FC ‖ P0 ‖ L0 ‖ …) (TS 33.220 Annex B.2.2). A parameter longer
/// than 65535 bytes cannot be encoded and gives [`GbaError::ParamTooLong`].
pub fn kdf(key: &[u8], fc: u8, params: &[&[u8]]) -> Result<Secret<32>, GbaError> {
    let s = kdf_input(fc, params)?;
    // HMAC accepts keys of any length, so this cannot fail; map it anyway instead of panicking.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| GbaError::ParamTooLong(key.len()))?;
    mac.update(&s);
    let out: [u8; 32] = mac.finalize().into_bytes().into();
    Ok(Secret::new(out))
}

/// Ks = CK ‖ IK (TS 33.220 §4.5.2).
pub fn ks_from_ck_ik(ck: &Secret<16>, ik: &Secret<16>) -> Secret<32> {
    let mut ks = [0u8; 32];
    ks[..16].copy_from_slice(ck.expose());
    ks[16..].copy_from_slice(ik.expose());
    let out = Secret::new(ks);
    zeroize::Zeroize::zeroize(&mut ks);
    out
}

fn naf_key(
    label: &[u8],
    ks: &Secret<32>,
    rand: &[u8; 16],
    impi: &str,
    naf_id: &NafId,
) -> Result<Secret<32>, GbaError> {
    let naf = naf_id.to_bytes();
    kdf(ks.expose(), FC_GBA, &[label, rand, impi.as_bytes(), &naf])
}

/// Ks_NAF (GBA_ME), equal to Ks_ext_NAF (GBA_U) for the same inputs:
/// KDF(Ks, 0x01, "gba-me", RAND, IMPI, NAF_Id).
pub fn ks_naf(
    ks: &Secret<32>,
    rand: &[u8; 16],
    impi: &str,
    naf_id: &NafId,
) -> Result<Secret<32>, GbaError> {
    naf_key(LABEL_GBA_ME, ks, rand, impi, naf_id)
}

/// Ks_int_NAF (GBA_U; the card keeps it, the BSF hands it to UICC-aware NAFs):
/// KDF(Ks, 0x01, "gba-u", RAND, IMPI, NAF_Id).
pub fn ks_int_naf(
    ks: &Secret<32>,
    rand: &[u8; 16],
    impi: &str,
    naf_id: &NafId,
) -> Result<Secret<32>, GbaError> {
    naf_key(LABEL_GBA_U, ks, rand, impi, naf_id)
}

/// TMPI (TS 33.220 Annex B.4): base64 of the first 24 octets of
/// KDF(Ks, 0x01, "gba-me", RAND, IMPI, BSF-FQDN ‖ 01 00 00 01 00), then `@tmpi.bsf.3gppnetwork.org`.
pub fn tmpi(
    ks: &Secret<32>,
    rand: &[u8; 16],
    impi: &str,
    bsf_fqdn: &str,
) -> Result<String, GbaError> {
    let mut p3 = bsf_fqdn.as_bytes().to_vec();
    p3.extend_from_slice(&UA_TMPI);
    let k = kdf(
        ks.expose(),
        FC_GBA,
        &[LABEL_GBA_ME, rand, impi.as_bytes(), &p3],
    )?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&k.expose()[..24]);
    Ok(format!("{b64}@tmpi.bsf.3gppnetwork.org"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_two_bytes_big_endian() {
        let s = kdf_input(0x01, &[b"ab", &[0u8; 300]]).expect("short params");
        assert_eq!(&s[..5], &[0x01, b'a', b'b', 0x00, 0x02]);
        assert_eq!(&s[s.len() - 2..], &[0x01, 0x2c]);
    }

    #[test]
    fn overlong_parameter_is_an_error() {
        let big = vec![0u8; 65536];
        assert!(matches!(
            kdf(&[0; 32], 1, &[&big]),
            Err(GbaError::ParamTooLong(65536))
        ));
        assert!(kdf(&[0; 32], 1, &[&big[..65535]]).is_ok());
    }
}
