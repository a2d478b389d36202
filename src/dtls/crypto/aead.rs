//! Record protection for AEAD suites in DTLS 1.2: nonce = 4-byte salt || 8-byte explicit nonce
//! (we use epoch || seq, RFC 6655 §3 / RFC 5288 §3), additional data = epoch || seq || type ||
//! version || plaintext length (RFC 6347 §4.1.2.1, RFC 5246 §6.2.3.3).

use aes::Aes128;
use aes_gcm::{AeadInOut, Aes128Gcm, KeyInit};
use ccm::consts::{U12, U16, U8};
use ccm::Ccm;

use crate::dtls::suite::AeadAlg;
use crate::dtls::wire::record::TLS12_CID;
use crate::secret::Secret;

type Aes128Ccm8 = Ccm<Aes128, U8, U12>;
type Aes128Ccm16 = Ccm<Aes128, U16, U12>;

/// Explicit nonce carried in each record.
pub const EXPLICIT_NONCE_LEN: usize = 8;

/// Authentication failed (bad MAC, truncated record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("record authentication failed")]
pub struct OpenError;

enum Cipher {
    Ccm8(Box<Aes128Ccm8>),
    Ccm16(Box<Aes128Ccm16>),
    Gcm(Box<Aes128Gcm>),
}

/// One direction's record protection state (key + salt).
pub struct RecordCipher {
    cipher: Cipher,
    salt: Secret<4>,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordCipher(..)")
    }
}

/// Additional data for a record.
pub fn additional_data(
    epoch_seq: [u8; 8],
    content_type: u8,
    version: u16,
    plain_len: usize,
) -> [u8; 13] {
    let mut ad = [0u8; 13];
    ad[..8].copy_from_slice(&epoch_seq);
    ad[8] = content_type;
    ad[9..11].copy_from_slice(&version.to_be_bytes());
    ad[11..13].copy_from_slice(&(plain_len as u16).to_be_bytes());
    ad
}

/// Additional data for a tls12_cid record (RFC 9146 §5, AEAD): seq_num_placeholder (8 x 0xff)
/// || tls12_cid || cid_length || tls12_cid || version || epoch || seq || cid ||
/// length_of_DTLSInnerPlaintext.
pub fn additional_data_cid(
    epoch_seq: [u8; 8],
    version: u16,
    cid: &[u8],
    inner_len: usize,
) -> Vec<u8> {
    let mut ad = Vec::with_capacity(23 + cid.len());
    ad.extend_from_slice(&[0xFF; 8]);
    ad.push(TLS12_CID);
    // a CID is at most 255 bytes (its length is one byte on the wire)
    ad.push(cid.len() as u8);
    ad.push(TLS12_CID);
    ad.extend_from_slice(&version.to_be_bytes());
    ad.extend_from_slice(&epoch_seq);
    ad.extend_from_slice(cid);
    ad.extend_from_slice(&(inner_len as u16).to_be_bytes());
    ad
}

impl RecordCipher {
    /// A cipher for `alg` with a 16-byte key and 4-byte salt.
    pub fn new(alg: AeadAlg, key: &Secret<16>, salt: &Secret<4>) -> Self {
        let k = key.expose();
        let cipher = match alg {
            AeadAlg::Aes128Ccm8 => Cipher::Ccm8(Box::new(Aes128Ccm8::new(k.into()))),
            AeadAlg::Aes128Ccm => Cipher::Ccm16(Box::new(Aes128Ccm16::new(k.into()))),
            AeadAlg::Aes128Gcm => Cipher::Gcm(Box::new(Aes128Gcm::new(k.into()))),
        };
        Self {
            cipher,
            salt: salt.clone(),
        }
    }

    /// Tag length.
    pub fn tag_len(&self) -> usize {
        match self.cipher {
            Cipher::Ccm8(_) => 8,
            Cipher::Ccm16(_) | Cipher::Gcm(_) => 16,
        }
    }

    /// Bytes a record grows by.
    pub fn overhead(&self) -> usize {
        EXPLICIT_NONCE_LEN + self.tag_len()
    }

    fn nonce(&self, explicit: &[u8; 8]) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(self.salt.expose());
        n[4..].copy_from_slice(explicit);
        n
    }

    /// Raw AEAD seal with a full 12-byte nonce: returns ciphertext || tag.
    pub fn seal_raw(&self, nonce: &[u8; 12], ad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        let n = nonce.into();
        // The AEADs only fail for inputs beyond 2^32 bytes; records are at most 2^14.
        let tag: Vec<u8> = match &self.cipher {
            Cipher::Ccm8(c) => c
                .encrypt_inout_detached(n, ad, buf.as_mut_slice().into())
                .map(|t| t.to_vec()),
            Cipher::Ccm16(c) => c
                .encrypt_inout_detached(n, ad, buf.as_mut_slice().into())
                .map(|t| t.to_vec()),
            Cipher::Gcm(c) => c
                .encrypt_inout_detached(n, ad, buf.as_mut_slice().into())
                .map(|t| t.to_vec()),
        }
        .unwrap_or_default();
        buf.extend_from_slice(&tag);
        buf
    }

    /// Raw AEAD open of ciphertext || tag with a full 12-byte nonce.
    pub fn open_raw(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let tag_len = self.tag_len();
        let split = sealed.len().checked_sub(tag_len).ok_or(OpenError)?;
        let (ct, tag) = sealed.split_at(split);
        let mut buf = ct.to_vec();
        let n = nonce.into();
        let ok = match &self.cipher {
            Cipher::Ccm8(c) => {
                let t = tag.try_into().map_err(|_| OpenError)?;
                c.decrypt_inout_detached(n, ad, buf.as_mut_slice().into(), t)
                    .is_ok()
            }
            Cipher::Ccm16(c) => {
                let t = tag.try_into().map_err(|_| OpenError)?;
                c.decrypt_inout_detached(n, ad, buf.as_mut_slice().into(), t)
                    .is_ok()
            }
            Cipher::Gcm(c) => {
                let t = tag.try_into().map_err(|_| OpenError)?;
                c.decrypt_inout_detached(n, ad, buf.as_mut_slice().into(), t)
                    .is_ok()
            }
        };
        if ok {
            Ok(buf)
        } else {
            Err(OpenError)
        }
    }

    /// Protects a record fragment: explicit nonce || ciphertext || tag.
    pub fn seal(
        &self,
        epoch_seq: [u8; 8],
        content_type: u8,
        version: u16,
        plain: &[u8],
    ) -> Vec<u8> {
        let ad = additional_data(epoch_seq, content_type, version, plain.len());
        let sealed = self.seal_raw(&self.nonce(&epoch_seq), &ad, plain);
        let mut out = Vec::with_capacity(EXPLICIT_NONCE_LEN + sealed.len());
        out.extend_from_slice(&epoch_seq);
        out.extend_from_slice(&sealed);
        out
    }

    /// Protects a tls12_cid record fragment (`inner` is the DTLSInnerPlaintext).
    pub fn seal_cid(&self, epoch_seq: [u8; 8], version: u16, cid: &[u8], inner: &[u8]) -> Vec<u8> {
        let ad = additional_data_cid(epoch_seq, version, cid, inner.len());
        let sealed = self.seal_raw(&self.nonce(&epoch_seq), &ad, inner);
        let mut out = Vec::with_capacity(EXPLICIT_NONCE_LEN + sealed.len());
        out.extend_from_slice(&epoch_seq);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a tls12_cid record fragment; returns the DTLSInnerPlaintext.
    pub fn open_cid(
        &self,
        epoch_seq: [u8; 8],
        version: u16,
        cid: &[u8],
        fragment: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let explicit: [u8; 8] = fragment
            .get(..EXPLICIT_NONCE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(OpenError)?;
        let sealed = fragment.get(EXPLICIT_NONCE_LEN..).ok_or(OpenError)?;
        let inner_len = sealed.len().checked_sub(self.tag_len()).ok_or(OpenError)?;
        let ad = additional_data_cid(epoch_seq, version, cid, inner_len);
        self.open_raw(&self.nonce(&explicit), &ad, sealed)
    }

    /// Opens a protected record fragment.
    pub fn open(
        &self,
        epoch_seq: [u8; 8],
        content_type: u8,
        version: u16,
        fragment: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let explicit: [u8; 8] = fragment
            .get(..EXPLICIT_NONCE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(OpenError)?;
        let sealed = fragment.get(EXPLICIT_NONCE_LEN..).ok_or(OpenError)?;
        let plain_len = sealed.len().checked_sub(self.tag_len()).ok_or(OpenError)?;
        let ad = additional_data(epoch_seq, content_type, version, plain_len);
        self.open_raw(&self.nonce(&explicit), &ad, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// NIST SP 800-38C Appendix C, Example 3: Tlen = 64, Nlen = 96, i.e. exactly CCM_8 with the
    /// 12-byte TLS nonce.
    #[test]
    fn ccm8_nist_sp800_38c_example3() {
        let key = Secret::from_slice(&h("404142434445464748494a4b4c4d4e4f")).unwrap();
        let nonce: [u8; 12] = h("101112131415161718191a1b").try_into().unwrap();
        let ad = h("000102030405060708090a0b0c0d0e0f10111213");
        let p = h("202122232425262728292a2b2c2d2e2f3031323334353637");
        let c = RecordCipher::new(AeadAlg::Aes128Ccm8, &key, &Secret::new([0; 4]));
        let sealed = c.seal_raw(&nonce, &ad, &p);
        assert_eq!(
            hex::encode(&sealed),
            "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951"
        );
        assert_eq!(c.open_raw(&nonce, &ad, &sealed).unwrap(), p);
        let mut bad = sealed.clone();
        bad[3] ^= 1;
        assert_eq!(c.open_raw(&nonce, &ad, &bad), Err(OpenError));
    }

    /// McGrew & Viega GCM spec, Test Case 4 (also NIST's gcmEncryptExtIV128).
    #[test]
    fn gcm_test_case_4() {
        let key = Secret::from_slice(&h("feffe9928665731c6d6a8f9467308308")).unwrap();
        let nonce: [u8; 12] = h("cafebabefacedbaddecaf888").try_into().unwrap();
        let ad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let p = h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        let c = RecordCipher::new(AeadAlg::Aes128Gcm, &key, &Secret::new([0; 4]));
        let sealed = c.seal_raw(&nonce, &ad, &p);
        assert_eq!(
            hex::encode(&sealed),
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
             5bc94fbc3221a5db94fae95ae7121a47"
        );
    }

    /// RFC 9146 §5 layout, byte by byte: 8 x ff, 25, cid_length, 25, version, epoch, seq,
    /// cid, inner length.
    #[test]
    fn cid_additional_data_layout() {
        let ad = additional_data_cid([0, 1, 0, 0, 0, 0, 0, 9], 0xFEFD, &[0xAA, 0xBB], 0x0123);
        assert_eq!(
            hex::encode(&ad),
            "ffffffffffffffff".to_owned()
                + "19"
                + "02"
                + "19"
                + "fefd"
                + "0001000000000009"
                + "aabb"
                + "0123"
        );
        let c = RecordCipher::new(
            AeadAlg::Aes128Ccm8,
            &Secret::new([7; 16]),
            &Secret::new([1; 4]),
        );
        let es = [0, 1, 0, 0, 0, 0, 0, 9];
        let rec = c.seal_cid(es, 0xFEFD, &[0xAA, 0xBB], b"hi\x17");
        assert_eq!(
            c.open_cid(es, 0xFEFD, &[0xAA, 0xBB], &rec).unwrap(),
            b"hi\x17"
        );
        // the CID is authenticated
        assert!(c.open_cid(es, 0xFEFD, &[0xAA, 0xBC], &rec).is_err());
        // and a tls12_cid record is not a plain record
        assert!(c.open(es, 23, 0xFEFD, &rec).is_err());
    }

    #[test]
    fn record_seal_open_uses_salt_explicit_nonce_and_ad() {
        for alg in [AeadAlg::Aes128Ccm8, AeadAlg::Aes128Ccm, AeadAlg::Aes128Gcm] {
            let c = RecordCipher::new(alg, &Secret::new([7; 16]), &Secret::new([1, 2, 3, 4]));
            let es = [0, 1, 0, 0, 0, 0, 0, 5];
            let rec = c.seal(es, 23, 0xFEFD, b"hello");
            assert_eq!(rec.len(), 5 + c.overhead());
            assert_eq!(&rec[..8], &es);
            assert_eq!(c.open(es, 23, 0xFEFD, &rec).unwrap(), b"hello");
            // a different header (type, epoch/seq) fails authentication
            assert!(c.open(es, 22, 0xFEFD, &rec).is_err());
            assert!(c.open([0, 1, 0, 0, 0, 0, 0, 6], 23, 0xFEFD, &rec).is_err());
            assert!(c.open(es, 23, 0xFEFD, &rec[..10]).is_err());
        }
    }
}
