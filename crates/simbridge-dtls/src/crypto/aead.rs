//! Record protection for AEAD suites in DTLS 1.2: nonce = 4-byte salt || 8-byte explicit nonce
//! (we use epoch || seq, RFC 6655 §3 / RFC 5288 §3), additional data = epoch || seq || type ||
//! version || plaintext length (RFC 6347 §4.1.2.1, RFC 5246 §6.2.3.3).

use super::{ccm, gcm};
use crate::secret::Secret;
use crate::suite::AeadAlg;
use crate::wire::record::TLS12_CID;

/// Explicit nonce carried in each record.
pub const EXPLICIT_NONCE_LEN: usize = 8;

/// Authentication failed (bad MAC, truncated record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("record authentication failed")]
pub struct OpenError;

/// The plaintext is too long for the AEAD (CCM with the TLS nonce: 2^24 bytes and more; never
/// a DTLS record, which is at most 2^14 + 2048 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("plaintext too long to seal")]
pub struct SealError;

/// One direction's record protection state: the algorithm, the raw 16-byte key and the 4-byte
/// salt, all of it 21 bytes and no heap. The AES key schedule (and GCM's hash key) is expanded
/// on the stack for each record and wiped afterwards: a server holding many sessions keeps no
/// expanded schedules (the `aes` autodetect type alone is several hundred bytes per direction).
pub struct RecordCipher {
    alg: AeadAlg,
    key: Secret<16>,
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

/// Longest tls12_cid additional data: 23 fixed bytes and a CID of at most 255 bytes.
const MAX_CID_AD: usize = 23 + 255;

/// Additional data for a tls12_cid record (RFC 9146 §5, AEAD): seq_num_placeholder (8 x 0xff)
/// || tls12_cid || cid_length || tls12_cid || version || epoch || seq || cid ||
/// length_of_DTLSInnerPlaintext.
pub fn additional_data_cid(
    epoch_seq: [u8; 8],
    version: u16,
    cid: &[u8],
    inner_len: usize,
) -> Vec<u8> {
    let mut buf = [0u8; MAX_CID_AD];
    cid_ad_into(&mut buf, epoch_seq, version, cid, inner_len).to_vec()
}

/// Writes the tls12_cid AD into `buf` (no allocation). A CID is at most 255 bytes (its length
/// is one byte on the wire); a longer slice is cut there rather than overflow `buf`.
fn cid_ad_into<'a>(
    buf: &'a mut [u8; MAX_CID_AD],
    epoch_seq: [u8; 8],
    version: u16,
    cid: &[u8],
    inner_len: usize,
) -> &'a [u8] {
    let cid = cid.get(..cid.len().min(255)).unwrap_or(cid);
    buf[..8].fill(0xFF);
    buf[8] = TLS12_CID;
    buf[9] = cid.len() as u8;
    buf[10] = TLS12_CID;
    buf[11..13].copy_from_slice(&version.to_be_bytes());
    buf[13..21].copy_from_slice(&epoch_seq);
    let end = 21 + cid.len();
    buf[21..end].copy_from_slice(cid);
    buf[end..end + 2].copy_from_slice(&(inner_len as u16).to_be_bytes());
    &buf[..end + 2]
}

impl RecordCipher {
    /// A cipher for `alg` with a 16-byte key and 4-byte salt.
    pub fn new(alg: AeadAlg, key: &Secret<16>, salt: &Secret<4>) -> Self {
        Self {
            alg,
            key: key.clone(),
            salt: salt.clone(),
        }
    }

    /// Tag length.
    pub fn tag_len(&self) -> usize {
        self.alg.tag_len()
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

    /// Encrypts `buf` in place; writes the tag (`tag.len()` must be [`Self::tag_len`]).
    fn seal_detached(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), SealError> {
        let key = self.key.expose();
        match self.alg {
            AeadAlg::Aes128Ccm8 | AeadAlg::Aes128Ccm => {
                ccm::seal_in_place(key, nonce, ad, buf, tag).map_err(|_| SealError)
            }
            AeadAlg::Aes128Gcm => {
                let t = gcm::seal_in_place(key, nonce, ad, buf).map_err(|_| SealError)?;
                if tag.len() != t.len() {
                    return Err(SealError);
                }
                tag.copy_from_slice(&t);
                Ok(())
            }
        }
    }

    /// Decrypts `buf` in place after checking `tag`.
    fn open_detached(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), OpenError> {
        let key = self.key.expose();
        match self.alg {
            AeadAlg::Aes128Ccm8 | AeadAlg::Aes128Ccm => {
                if tag.len() != self.tag_len() {
                    return Err(OpenError);
                }
                ccm::open_in_place(key, nonce, ad, buf, tag).map_err(|_| OpenError)
            }
            AeadAlg::Aes128Gcm => {
                let t = tag.try_into().map_err(|_| OpenError)?;
                gcm::open_in_place(key, nonce, ad, buf, t).map_err(|_| OpenError)
            }
        }
    }

    /// Seals `plain` with a full 12-byte nonce and appends ciphertext || tag to `out`; on an
    /// error `out` is left as it was.
    pub fn seal_raw_append(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SealError> {
        let start = out.len();
        let tag_len = self.tag_len();
        out.reserve(plain.len() + tag_len);
        out.extend_from_slice(plain);
        out.resize(start + plain.len() + tag_len, 0);
        let res = match out.get_mut(start..).map(|s| s.split_at_mut(plain.len())) {
            Some((body, tag)) => self.seal_detached(nonce, ad, body, tag),
            None => Err(SealError),
        };
        if res.is_err() {
            out.truncate(start);
        }
        res
    }

    /// Raw AEAD seal with a full 12-byte nonce: returns ciphertext || tag, or [`SealError`]
    /// for a plaintext of 2^24 bytes or more, which CCM cannot take.
    pub fn seal_raw(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        plain: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::with_capacity(plain.len() + self.tag_len());
        self.seal_raw_append(nonce, ad, plain, &mut out)?;
        Ok(out)
    }

    /// Opens ciphertext || tag in place; returns the plaintext part of `sealed`.
    pub fn open_raw_in_place<'a>(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        sealed: &'a mut [u8],
    ) -> Result<&'a mut [u8], OpenError> {
        let split = sealed.len().checked_sub(self.tag_len()).ok_or(OpenError)?;
        let (body, tag) = sealed.split_at_mut(split);
        self.open_detached(nonce, ad, body, tag)?;
        Ok(body)
    }

    /// Raw AEAD open of ciphertext || tag with a full 12-byte nonce.
    pub fn open_raw(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let mut buf = sealed.to_vec();
        let n = self.open_raw_in_place(nonce, ad, &mut buf)?.len();
        buf.truncate(n);
        Ok(buf)
    }

    /// Protects a record fragment and appends explicit nonce || ciphertext || tag to `out`
    /// (no allocation beyond growing `out`).
    pub fn seal_append(
        &self,
        epoch_seq: [u8; 8],
        content_type: u8,
        version: u16,
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SealError> {
        let ad = additional_data(epoch_seq, content_type, version, plain.len());
        let start = out.len();
        out.extend_from_slice(&epoch_seq);
        let res = self.seal_raw_append(&self.nonce(&epoch_seq), &ad, plain, out);
        if res.is_err() {
            out.truncate(start);
        }
        res
    }

    /// Protects a record fragment in place: `frag` is explicit nonce space || plaintext ||
    /// tag space ([`Self::overhead`] bytes more than the plaintext); the explicit nonce is
    /// written and the plaintext encrypted where it lies (no allocation, no copy).
    pub fn seal_in_place(
        &self,
        epoch_seq: [u8; 8],
        content_type: u8,
        version: u16,
        frag: &mut [u8],
    ) -> Result<(), SealError> {
        let plain_len = frag.len().checked_sub(self.overhead()).ok_or(SealError)?;
        let ad = additional_data(epoch_seq, content_type, version, plain_len);
        self.seal_fragment(epoch_seq, &ad, frag, plain_len)
    }

    /// Protects a tls12_cid record fragment in place: `frag` is explicit nonce space ||
    /// DTLSInnerPlaintext || tag space, as for [`Self::seal_in_place`].
    pub fn seal_cid_in_place(
        &self,
        epoch_seq: [u8; 8],
        version: u16,
        cid: &[u8],
        frag: &mut [u8],
    ) -> Result<(), SealError> {
        let inner_len = frag.len().checked_sub(self.overhead()).ok_or(SealError)?;
        let mut ad_buf = [0u8; MAX_CID_AD];
        let ad = cid_ad_into(&mut ad_buf, epoch_seq, version, cid, inner_len);
        self.seal_fragment(epoch_seq, ad, frag, inner_len)
    }

    /// Writes the explicit nonce at the front of `frag` and seals the `plain_len` bytes after it.
    fn seal_fragment(
        &self,
        epoch_seq: [u8; 8],
        ad: &[u8],
        frag: &mut [u8],
        plain_len: usize,
    ) -> Result<(), SealError> {
        let (explicit, rest) = frag.split_at_mut(EXPLICIT_NONCE_LEN.min(frag.len()));
        explicit.copy_from_slice(&epoch_seq[..explicit.len()]);
        if rest.len() < plain_len {
            return Err(SealError);
        }
        let (body, tag) = rest.split_at_mut(plain_len);
        self.seal_detached(&self.nonce(&epoch_seq), ad, body, tag)
    }

    /// Protects a record fragment: explicit nonce || ciphertext || tag. Tests only: the record
    /// layer seals into its datagram buffer with [`Self::seal_append`].
    #[cfg(test)]
    pub fn seal(
        &self,
        epoch_seq: [u8; 8],
        content_type: u8,
        version: u16,
        plain: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(plain.len() + self.overhead());
        match self.seal_append(epoch_seq, content_type, version, plain, &mut out) {
            Ok(()) => out,
            Err(SealError) => Vec::new(),
        }
    }

    /// Protects a tls12_cid record whose DTLSInnerPlaintext is `content || real_type` (no
    /// padding) and appends explicit nonce || ciphertext || tag to `out`.
    pub fn seal_cid_append(
        &self,
        epoch_seq: [u8; 8],
        version: u16,
        cid: &[u8],
        content: &[u8],
        real_type: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), SealError> {
        let inner_len = content.len() + 1;
        let mut ad_buf = [0u8; MAX_CID_AD];
        let ad = cid_ad_into(&mut ad_buf, epoch_seq, version, cid, inner_len);
        let start = out.len();
        let tag_len = self.tag_len();
        out.reserve(EXPLICIT_NONCE_LEN + inner_len + tag_len);
        out.extend_from_slice(&epoch_seq);
        out.extend_from_slice(content);
        out.push(real_type);
        out.resize(start + EXPLICIT_NONCE_LEN + inner_len + tag_len, 0);
        let nonce = self.nonce(&epoch_seq);
        let res = match out
            .get_mut(start + EXPLICIT_NONCE_LEN..)
            .map(|s| s.split_at_mut(inner_len))
        {
            Some((body, tag)) => self.seal_detached(&nonce, ad, body, tag),
            None => Err(SealError),
        };
        if res.is_err() {
            out.truncate(start);
        }
        res
    }

    /// Protects a tls12_cid record fragment (`inner` is the DTLSInnerPlaintext). Tests only:
    /// the reference [`Self::seal_cid_append`] is checked against.
    #[cfg(test)]
    pub fn seal_cid(&self, epoch_seq: [u8; 8], version: u16, cid: &[u8], inner: &[u8]) -> Vec<u8> {
        let mut ad_buf = [0u8; MAX_CID_AD];
        let ad = cid_ad_into(&mut ad_buf, epoch_seq, version, cid, inner.len());
        let mut out = Vec::with_capacity(inner.len() + self.overhead());
        out.extend_from_slice(&epoch_seq);
        match self.seal_raw_append(&self.nonce(&epoch_seq), ad, inner, &mut out) {
            Ok(()) => out,
            Err(SealError) => Vec::new(),
        }
    }

    /// Splits a fragment into its explicit nonce and ciphertext || tag; the length of the
    /// plaintext it claims.
    fn split_fragment(&self, fragment_len: usize) -> Result<usize, OpenError> {
        fragment_len.checked_sub(self.overhead()).ok_or(OpenError)
    }

    fn explicit(fragment: &[u8]) -> Result<[u8; 8], OpenError> {
        fragment
            .get(..EXPLICIT_NONCE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(OpenError)
    }

    /// Opens a tls12_cid record fragment; returns the DTLSInnerPlaintext.
    pub fn open_cid(
        &self,
        epoch_seq: [u8; 8],
        version: u16,
        cid: &[u8],
        fragment: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let explicit = Self::explicit(fragment)?;
        let inner_len = self.split_fragment(fragment.len())?;
        let mut ad_buf = [0u8; MAX_CID_AD];
        let ad = cid_ad_into(&mut ad_buf, epoch_seq, version, cid, inner_len);
        let sealed = fragment.get(EXPLICIT_NONCE_LEN..).ok_or(OpenError)?;
        self.open_raw(&self.nonce(&explicit), ad, sealed)
    }

    /// Opens a tls12_cid record fragment in place; returns the DTLSInnerPlaintext part of
    /// `fragment`.
    pub fn open_cid_in_place<'a>(
        &self,
        epoch_seq: [u8; 8],
        version: u16,
        cid: &[u8],
        fragment: &'a mut [u8],
    ) -> Result<&'a mut [u8], OpenError> {
        let explicit = Self::explicit(fragment)?;
        let inner_len = self.split_fragment(fragment.len())?;
        let mut ad_buf = [0u8; MAX_CID_AD];
        let ad = cid_ad_into(&mut ad_buf, epoch_seq, version, cid, inner_len);
        let sealed = fragment.get_mut(EXPLICIT_NONCE_LEN..).ok_or(OpenError)?;
        self.open_raw_in_place(&self.nonce(&explicit), ad, sealed)
    }

    /// Opens a protected record fragment in place; returns the plaintext part of `fragment`.
    pub fn open_in_place<'a>(
        &self,
        epoch_seq: [u8; 8],
        content_type: u8,
        version: u16,
        fragment: &'a mut [u8],
    ) -> Result<&'a mut [u8], OpenError> {
        let explicit = Self::explicit(fragment)?;
        let plain_len = self.split_fragment(fragment.len())?;
        let ad = additional_data(epoch_seq, content_type, version, plain_len);
        let sealed = fragment.get_mut(EXPLICIT_NONCE_LEN..).ok_or(OpenError)?;
        self.open_raw_in_place(&self.nonce(&explicit), &ad, sealed)
    }

    /// Opens a protected record fragment (one allocation: the returned plaintext).
    pub fn open(
        &self,
        epoch_seq: [u8; 8],
        content_type: u8,
        version: u16,
        fragment: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let explicit = Self::explicit(fragment)?;
        let plain_len = self.split_fragment(fragment.len())?;
        let ad = additional_data(epoch_seq, content_type, version, plain_len);
        let sealed = fragment.get(EXPLICIT_NONCE_LEN..).ok_or(OpenError)?;
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
        let sealed = c.seal_raw(&nonce, &ad, &p).unwrap();
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
        let p = h(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let c = RecordCipher::new(AeadAlg::Aes128Gcm, &key, &Secret::new([0; 4]));
        let sealed = c.seal_raw(&nonce, &ad, &p).unwrap();
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

    /// The per-session cost the server pays for each direction: the algorithm, the raw key
    /// and the salt, inline (no Box, no expanded schedule).
    #[test]
    fn record_cipher_is_alg_key_and_salt_only() {
        assert!(std::mem::size_of::<RecordCipher>() <= 24);
        assert_eq!(std::mem::size_of::<RecordCipher>(), 21);
    }

    #[test]
    fn seal_append_and_open_in_place_match_seal_and_open() {
        for alg in [AeadAlg::Aes128Ccm8, AeadAlg::Aes128Ccm, AeadAlg::Aes128Gcm] {
            let c = RecordCipher::new(alg, &Secret::new([3; 16]), &Secret::new([9, 8, 7, 6]));
            for len in [0usize, 1, 15, 16, 17, 64, 1000] {
                let es = [0, 1, 0, 0, 0, 0, 1, len as u8];
                let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut out = b"header".to_vec();
                c.seal_append(es, 23, 0xFEFD, &plain, &mut out).unwrap();
                assert_eq!(&out[..6], b"header", "{alg:?} {len}");
                assert_eq!(
                    out[6..],
                    c.seal(es, 23, 0xFEFD, &plain)[..],
                    "{alg:?} {len}"
                );
                let frag = &mut out[6..];
                let opened = c.open_in_place(es, 23, 0xFEFD, frag).unwrap();
                assert_eq!(opened, &plain[..], "{alg:?} {len}");
                // a flipped bit anywhere in ciphertext or tag fails, in place too
                let mut rec = c.seal(es, 23, 0xFEFD, &plain);
                let last = rec.len() - 1;
                rec[last] ^= 1;
                assert_eq!(c.open_in_place(es, 23, 0xFEFD, &mut rec), Err(OpenError));
                assert!(c.open_in_place(es, 23, 0xFEFD, &mut [0u8; 7]).is_err());
            }
        }
    }

    #[test]
    fn seal_cid_append_matches_seal_cid_of_inner_plaintext() {
        for alg in [AeadAlg::Aes128Ccm8, AeadAlg::Aes128Ccm, AeadAlg::Aes128Gcm] {
            let c = RecordCipher::new(alg, &Secret::new([4; 16]), &Secret::new([1; 4]));
            let es = [0, 1, 0, 0, 0, 0, 0, 2];
            let cid = [0xC1, 0xD0];
            let mut out = Vec::new();
            c.seal_cid_append(es, 0xFEFD, &cid, b"payload", 23, &mut out)
                .unwrap();
            assert_eq!(out, c.seal_cid(es, 0xFEFD, &cid, b"payload\x17"), "{alg:?}");
            assert_eq!(
                c.open_cid(es, 0xFEFD, &cid, &out).unwrap(),
                b"payload\x17",
                "{alg:?}"
            );
        }
    }

    /// CCM's 3-byte length field: a plaintext of 2^24 bytes is refused and leaves `out` as
    /// it was (never a record: they are at most 2^14 + 2048 bytes).
    #[test]
    fn oversized_ccm_plaintext_is_refused_without_touching_out() {
        let c = RecordCipher::new(
            AeadAlg::Aes128Ccm8,
            &Secret::new([1; 16]),
            &Secret::new([0; 4]),
        );
        let big = vec![0u8; 1 << 24];
        let mut out = b"hdr".to_vec();
        assert_eq!(
            c.seal_append([0; 8], 23, 0xFEFD, &big, &mut out),
            Err(SealError)
        );
        assert_eq!(out, b"hdr");
        assert_eq!(c.seal_raw(&[0; 12], &[], &big), Err(SealError));
    }
}
