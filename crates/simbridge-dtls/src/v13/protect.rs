//! DTLS 1.3 record protection (RFC 9147 §4): the record is `DTLSInnerPlaintext` (content ||
//! true content type || zero padding) sealed under the traffic key with nonce = iv XOR the
//! 64-bit record sequence number (the epoch is not in it, unlike DTLS 1.2) and the unified
//! header, with its sequence number in the clear, as additional data. Then the sequence number
//! on the wire is encrypted (§4.2.3): XOR with the first bytes of AES-ECB(sn_key, the first 16
//! bytes of the ciphertext), so a record carries at least 16 bytes of ciphertext (we pad).
//!
//! A receiver unmasks the low bits and picks the full sequence number closest to the one it
//! expects next (§4.2.2). The AEAD itself is the crate's own CCM and GCM ([`RecordCipher`]).

use super::header::{SeqLen, UnifiedHeader};
use super::key_schedule::TrafficKeys;
use crate::crypto::aead::RecordCipher;
use crate::secret::Secret;
use crate::suite::AeadAlg;
use crate::wire::{Field, WireError};
use aes::Aes128Enc;
use aes::cipher::{Block, BlockCipherEncrypt, KeyInit};

/// Bytes of ciphertext the record number mask samples.
pub const SAMPLE_LEN: usize = 16;

/// Why a record was not sealed or not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError13 {
    /// The header or body is malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The epoch bits name another epoch than this key's.
    #[error("record of another epoch")]
    Epoch,
    /// The tag did not verify (forged, corrupted, or another key).
    #[error("record authentication failed")]
    Auth,
    /// The content does not fit a record (2^14 bytes of plaintext at most).
    #[error("record too long")]
    TooLong,
    /// A record that opened but was received before, or is older than the replay window
    /// (RFC 9147 §4.5.1).
    #[error("record replayed")]
    Replay,
}

/// How a sealed record's header looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderForm {
    /// Sequence number width.
    pub seq_len: SeqLen,
    /// Whether to carry the length (needed unless the record is the datagram's last).
    pub with_length: bool,
}

/// A record that opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened13 {
    /// Its full sequence number.
    pub seq: u64,
    /// The true content type from inside the record.
    pub content_type: u8,
    /// The content, padding removed.
    pub content: Vec<u8>,
}

/// The record protection of one direction and one epoch.
pub struct Protection13 {
    alg: AeadAlg,
    cipher: RecordCipher,
    iv: Secret<12>,
    sn_key: Secret<16>,
    epoch: u64,
}

impl std::fmt::Debug for Protection13 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protection13({:?}, epoch {})", self.alg, self.epoch)
    }
}

/// The mask for the record number: AES-ECB of the sample under the sn key.
pub fn record_number_mask(sn_key: &Secret<16>, sample: &[u8; SAMPLE_LEN]) -> [u8; SAMPLE_LEN] {
    let aes = Aes128Enc::new(sn_key.expose().into());
    let mut b = Block::<Aes128Enc>::from(*sample);
    aes.encrypt_block(&mut b);
    b.into()
}

/// The full sequence number whose low `bits` bits are `low`, closest to `expected` (the next
/// one the receiver expects; RFC 9147 §4.2.2).
pub fn reconstruct_seq(expected: u64, low: u64, bits: u32) -> u64 {
    let window = 1u64 << bits;
    let mask = window - 1;
    let candidate = (expected & !mask) | (low & mask);
    let half = window / 2;
    if candidate.saturating_add(half) < expected && candidate.checked_add(window).is_some() {
        candidate + window
    } else if candidate > expected.saturating_add(half) && candidate >= window {
        candidate - window
    } else {
        candidate
    }
}

impl Protection13 {
    /// Protection for `alg` with `keys`, in `epoch`.
    pub fn new(alg: AeadAlg, keys: &TrafficKeys, epoch: u64) -> Self {
        Self {
            alg,
            // DTLS 1.3 builds the whole 12-byte nonce itself: the salt is unused
            cipher: RecordCipher::new(alg, &keys.key, &Secret::new([0; 4])),
            iv: keys.iv.clone(),
            sn_key: keys.sn_key.clone(),
            epoch,
        }
    }

    /// Bytes a record with `content_len` bytes of content takes beyond them.
    pub fn overhead(&self, content_len: usize, cid_len: usize, form: HeaderForm) -> usize {
        let tag = self.alg.tag_len();
        let inner = (content_len + 1).max(SAMPLE_LEN.saturating_sub(tag));
        1 + cid_len
            + form.seq_len.bytes()
            + if form.with_length { 2 } else { 0 }
            + (inner - content_len)
            + tag
    }

    fn nonce(&self, seq: u64) -> [u8; 12] {
        let mut n = *self.iv.expose();
        for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// Seals `content` of `content_type` as record `seq` and appends it to `out`.
    pub fn seal(
        &self,
        seq: u64,
        content_type: u8,
        content: &[u8],
        cid: Option<&[u8]>,
        form: HeaderForm,
        out: &mut Vec<u8>,
    ) -> Result<(), RecordError13> {
        if content.len() > 1 << 14 {
            return Err(RecordError13::TooLong);
        }
        let tag = self.alg.tag_len();
        let mut inner = Vec::with_capacity(content.len().max(SAMPLE_LEN) + 1);
        inner.extend_from_slice(content);
        inner.push(content_type);
        // the mask samples 16 bytes of ciphertext: pad short records with zeros (§4.2.3)
        if inner.len() + tag < SAMPLE_LEN {
            inner.resize(SAMPLE_LEN - tag, 0);
        }
        let sealed_len = inner.len() + tag;
        let seq_bits = match form.seq_len {
            SeqLen::One => seq & 0xff,
            SeqLen::Two => seq & 0xffff,
        };
        let header = UnifiedHeader {
            cid,
            seq_len: form.seq_len,
            // masked to the field width above
            seq: seq_bits as u16,
            length: if form.with_length {
                Some(u16::try_from(sealed_len).map_err(|_| RecordError13::TooLong)?)
            } else {
                None
            },
            epoch_bits: (self.epoch & 0b11) as u8,
        };
        let start = out.len();
        header.encode(out);
        let header_end = out.len();
        let aad = out[start..header_end].to_vec();
        if self
            .cipher
            .seal_raw_append(&self.nonce(seq), &aad, &inner, out)
            .is_err()
        {
            out.truncate(start);
            return Err(RecordError13::TooLong);
        }
        let mut sample = [0u8; SAMPLE_LEN];
        sample.copy_from_slice(&out[header_end..header_end + SAMPLE_LEN]);
        let mask = record_number_mask(&self.sn_key, &sample);
        let seq_at = header_end - form.seq_len.bytes() - if form.with_length { 2 } else { 0 };
        for (b, m) in out[seq_at..seq_at + form.seq_len.bytes()]
            .iter_mut()
            .zip(mask)
        {
            *b ^= m;
        }
        Ok(())
    }

    /// Opens the first record of `datagram` (Connection IDs `cid_len` bytes long), expecting
    /// sequence number `expected_seq` next. Returns the record and the rest of the datagram.
    pub fn open<'a>(
        &self,
        datagram: &'a [u8],
        cid_len: usize,
        expected_seq: u64,
    ) -> Result<(Opened13, &'a [u8]), RecordError13> {
        let rec = UnifiedHeader::parse(datagram, cid_len)?;
        if u64::from(rec.header.epoch_bits) != self.epoch & 0b11 {
            return Err(RecordError13::Epoch);
        }
        let sample: &[u8; SAMPLE_LEN] = rec
            .body
            .get(..SAMPLE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(WireError::Truncated(Field::UnifiedBody))?;
        let mask = record_number_mask(&self.sn_key, sample);
        let n = rec.header.seq_len.bytes();
        let seq_at = rec.header_bytes.len() - n - if rec.header.length.is_some() { 2 } else { 0 };
        let mut aad = rec.header_bytes.to_vec();
        let mut low = 0u64;
        for (b, m) in aad[seq_at..seq_at + n].iter_mut().zip(mask) {
            *b ^= m;
            low = (low << 8) | u64::from(*b);
        }
        let seq = reconstruct_seq(expected_seq, low, rec.header.seq_len.bits());
        let mut body = rec.body.to_vec();
        let plain_len = self
            .cipher
            .open_raw_in_place(&self.nonce(seq), &aad, &mut body)
            .map_err(|_| RecordError13::Auth)?
            .len();
        body.truncate(plain_len);
        // DTLSInnerPlaintext: the content type is the last non-zero byte
        let Some(at) = body.iter().rposition(|b| *b != 0) else {
            return Err(WireError::Invalid(Field::InnerContentType).into());
        };
        let content_type = body[at];
        body.truncate(at);
        Ok((
            Opened13 {
                seq,
                content_type,
                content: body,
            },
            rec.rest,
        ))
    }
}

#[cfg(test)]
#[path = "protect_tests.rs"]
mod tests;
