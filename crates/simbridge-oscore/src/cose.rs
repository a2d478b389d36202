//! The COSE side of OSCORE (RFC 8613 §5): the AEAD nonce (§5.2), the additional authenticated
//! data (the COSE `Enc_structure` with OSCORE's `external_aad`, §5.3/§5.4) and sealing and
//! opening with AES-CCM-16-64-128.
//!
//! The AEAD is RustCrypto's `ccm` over `aes` (13-byte nonce, 8-byte tag); what is ours is only
//! the OSCORE framing around it.

use aes::Aes128;
use ccm::Ccm;
use ccm::aead::{AeadInOut, KeyInit};
use ccm::consts::{U8, U13};

use crate::cbor;
use crate::context::{ALG_AES_CCM_16_64_128, KEY_LEN, MAX_ID_LEN, NONCE_LEN, TAG_LEN};
use crate::error::Error;

/// AES-CCM-16-64-128: 16-byte key, 8-byte tag, 13-byte nonce.
type Aes128Ccm16_64 = Ccm<Aes128, U8, U13>;

/// Longest partial IV (§6.1: n <= 5, a 40-bit sequence number).
pub const MAX_PIV_LEN: usize = 5;

/// The AEAD nonce of §5.2: `[len(ID_PIV)] || ID_PIV left-padded to nonce_len - 6 bytes ||
/// PIV left-padded to 5 bytes`, XORed with the Common IV. `None` when the ID or partial IV is
/// too long to fit.
pub fn nonce(common_iv: &[u8; NONCE_LEN], id_piv: &[u8], piv: &[u8]) -> Option<[u8; NONCE_LEN]> {
    if id_piv.len() > MAX_ID_LEN || piv.len() > MAX_PIV_LEN {
        return None;
    }
    let mut n = [0u8; NONCE_LEN];
    n[0] = id_piv.len() as u8;
    let id_end = 1 + MAX_ID_LEN;
    n.get_mut(id_end - id_piv.len()..id_end)?
        .copy_from_slice(id_piv);
    n.get_mut(NONCE_LEN - piv.len()..)?.copy_from_slice(piv);
    for (b, iv) in n.iter_mut().zip(common_iv) {
        *b ^= iv;
    }
    Some(n)
}

/// `external_aad` of §5.4: `[oscore_version: 1, algorithms: [alg_aead], request_kid,
/// request_piv, options]`, with `options` empty (no Class I options are defined yet).
pub fn external_aad(request_kid: &[u8], request_piv: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + request_kid.len() + request_piv.len());
    cbor::array(&mut out, 5);
    cbor::uint(&mut out, 1);
    cbor::array(&mut out, 1);
    cbor::uint(&mut out, ALG_AES_CCM_16_64_128);
    cbor::bstr(&mut out, request_kid);
    cbor::bstr(&mut out, request_piv);
    cbor::bstr(&mut out, &[]);
    out
}

/// The AEAD's additional data (§5.3): the COSE `Enc_structure`
/// `["Encrypt0", protected: h'', external_aad]`.
pub fn aad(request_kid: &[u8], request_piv: &[u8]) -> Vec<u8> {
    let ext = external_aad(request_kid, request_piv);
    let mut out = Vec::with_capacity(12 + ext.len());
    cbor::array(&mut out, 3);
    cbor::tstr(&mut out, "Encrypt0");
    cbor::bstr(&mut out, &[]);
    cbor::bstr(&mut out, &ext);
    out
}

/// Encrypts `plaintext`, returning ciphertext || 8-byte tag.
pub fn seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let cipher = Aes128Ccm16_64::new(&(*key).into());
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    // Fails only for messages longer than CCM's 2^16 length field allows with L = 2.
    let tag = cipher
        .encrypt_inout_detached(&(*nonce).into(), aad, buf.as_mut_slice().into())
        .map_err(|_| Error::Decrypt)?;
    buf.extend_from_slice(&tag);
    Ok(buf)
}

/// Verifies and decrypts ciphertext || tag; [`Error::Decrypt`] when the tag does not verify or
/// the input is shorter than a tag.
pub fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, Error> {
    let split = sealed.len().checked_sub(TAG_LEN).ok_or(Error::Decrypt)?;
    let (ct, tag) = sealed.split_at(split);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Decrypt)?;
    let cipher = Aes128Ccm16_64::new(&(*key).into());
    let mut buf = ct.to_vec();
    cipher
        .decrypt_inout_detached(
            &(*nonce).into(),
            aad,
            buf.as_mut_slice().into(),
            &tag.into(),
        )
        .map_err(|_| Error::Decrypt)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_rejects_long_inputs() {
        let iv = [0u8; NONCE_LEN];
        assert!(nonce(&iv, &[0; 8], &[1]).is_none());
        assert!(nonce(&iv, &[0; 7], &[1; 6]).is_none());
        assert_eq!(
            nonce(&iv, &[0xaa; 7], &[1, 2, 3, 4, 5]),
            Some([7, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 1, 2, 3, 4, 5])
        );
    }

    #[test]
    fn open_rejects_tampering_and_short_input() {
        let key = [7u8; KEY_LEN];
        let n = [1u8; NONCE_LEN];
        let mut sealed = seal(&key, &n, b"aad", b"hello").unwrap();
        assert_eq!(open(&key, &n, b"aad", &sealed).unwrap(), b"hello");
        assert_eq!(open(&key, &n, b"aaD", &sealed), Err(Error::Decrypt));
        sealed[0] ^= 1;
        assert_eq!(open(&key, &n, b"aad", &sealed), Err(Error::Decrypt));
        assert_eq!(open(&key, &n, b"aad", &[0; 7]), Err(Error::Decrypt));
    }
}
