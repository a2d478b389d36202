//! AES-128-GCM (NIST SP 800-38D) with the 12-byte TLS nonce and a 16-byte tag, for one record
//! at a time with the key expanded on the stack.
//!
//! Why our own: `aes-gcm` enters the AES backend three times per record (hash key, tag mask,
//! CTR; each entry re-broadcasts the round keys on VAES machines) and hashes through a clone of
//! a precomputed state, which costs more than the 64-byte records themselves. Here one
//! `encrypt_with_backend` closure computes H = E(0), the tag mask E(J0) and the CTR keystream
//! (independent blocks, in parallel batches) and runs GHASH through the `polyval` crate's
//! CLMUL backend (RFC 8452 Appendix A: GHASH is POLYVAL over byte-reversed blocks with H·x).

use aes::Aes128Enc;
use aes::cipher::consts::U16;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{
    Array, Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser,
    KeyInit, ParBlocks, ParBlocksSizeUser,
};
use polyval::Polyval;
use polyval::universal_hash::{UhfBackend, UniversalHash};
use subtle::ConstantTimeEq;

/// Tag length.
pub const TAG_LEN: usize = 16;
/// Largest payload: 2^32 - 2 counter blocks (SP 800-38D §5.2.1.1).
pub const MAX_PAYLOAD: u64 = ((1 << 32) - 2) * 16;

/// Why a GCM operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GcmError {
    /// Payload or additional data beyond the GCM limits.
    #[error("GCM input too long")]
    TooLong,
    /// The tag does not match (the buffer is left as it was: ciphertext).
    #[error("GCM authentication failed")]
    Auth,
}

/// Encrypts `buf` in place; returns the 16-byte tag. The key schedule is expanded for this
/// call only.
pub fn seal_in_place(
    key: &[u8; 16],
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], GcmError> {
    seal_in_place_with(&Aes128Enc::new(key.into()), nonce, ad, buf)
}

/// [`seal_in_place`] with an already expanded AES key (H and its powers are still derived
/// per call); the benchmark uses it to price the per-record expansion.
pub fn seal_in_place_with(
    aes: &Aes128Enc,
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], GcmError> {
    check(ad.len(), buf.len())?;
    Ok(run(aes, nonce, ad, buf, None))
}

/// Checks `tag` in constant time, then decrypts `buf` in place; on a mismatch `buf` stays
/// ciphertext. The key schedule is expanded for this call only.
pub fn open_in_place(
    key: &[u8; 16],
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), GcmError> {
    open_in_place_with(&Aes128Enc::new(key.into()), nonce, ad, buf, tag)
}

/// [`open_in_place`] with an already expanded AES key.
pub fn open_in_place_with(
    aes: &Aes128Enc,
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), GcmError> {
    check(ad.len(), buf.len())?;
    let mut ok = false;
    run(aes, nonce, ad, buf, Some((tag, &mut ok)));
    if ok { Ok(()) } else { Err(GcmError::Auth) }
}

fn check(ad_len: usize, len: usize) -> Result<(), GcmError> {
    // SP 800-38D: AD below 2^64 bits (no slice in memory comes near that).
    if len as u64 > MAX_PAYLOAD || ad_len as u64 >= 1 << 61 {
        return Err(GcmError::TooLong);
    }
    Ok(())
}

/// `open`: the expected tag and where to say whether it matched (decrypting only then).
type OpenCheck<'a> = Option<(&'a [u8; TAG_LEN], &'a mut bool)>;

fn run(
    aes: &Aes128Enc,
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
    open: OpenCheck<'_>,
) -> [u8; TAG_LEN] {
    let mut tag = [0u8; TAG_LEN];
    aes.encrypt_with_backend(Gcm {
        nonce,
        ad,
        buf,
        open,
        tag_out: &mut tag,
    });
    tag
}

struct Gcm<'a> {
    nonce: &'a [u8; 12],
    ad: &'a [u8],
    buf: &'a mut [u8],
    open: OpenCheck<'a>,
    tag_out: &'a mut [u8; TAG_LEN],
}

impl BlockSizeUser for Gcm<'_> {
    type BlockSize = U16;
}

/// Counter block: nonce || 32-bit big-endian counter.
#[inline(always)]
fn counter(nonce: &[u8; 12], i: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..12].copy_from_slice(nonce);
    c[12..].copy_from_slice(&i.to_be_bytes());
    c
}

/// H·x in POLYVAL's field for a GHASH key H (RFC 8452 Appendix A, mulX_POLYVAL of
/// ByteReverse(H)), as POLYVAL key bytes.
#[inline(always)]
fn polyval_key(h: [u8; 16]) -> [u8; 16] {
    let v = u128::from_be_bytes(h);
    let carry = v >> 127;
    ((v << 1) ^ (carry * 0xC200_0000_0000_0000_0000_0000_0000_0001)).to_le_bytes()
}

/// Feeds `data` (zero-padded to whole blocks) to POLYVAL as GHASH blocks, byte-reversed, in
/// batches of POLYVAL's parallel width.
#[inline(always)]
fn ghash_update(pv: &mut Polyval, data: &[u8]) {
    type Par = <Polyval as ParBlocksSizeUser>::ParBlocksSize;
    let mut par: ParBlocks<Polyval> = Array::default();
    let mut chunks = data.chunks_exact(16 * Par::USIZE);
    for chunk in &mut chunks {
        for (dst, src) in par.iter_mut().zip(chunk.chunks_exact(16)) {
            let b: [u8; 16] = src.try_into().unwrap_or([0; 16]);
            *dst = u128::from_be_bytes(b).to_le_bytes().into();
        }
        pv.proc_par_blocks(&par);
    }
    for src in chunks.remainder().chunks(16) {
        let mut b = [0u8; 16];
        b[..src.len()].copy_from_slice(src);
        pv.proc_block(&u128::from_be_bytes(b).to_le_bytes().into());
    }
}

impl Gcm<'_> {
    /// GHASH(AD, C, lengths) xor mask.
    #[inline(always)]
    fn tag(&self, h: [u8; 16], mask: [u8; 16]) -> [u8; 16] {
        let mut pv = Polyval::new(&polyval_key(h).into());
        ghash_update(&mut pv, self.ad);
        ghash_update(&mut pv, self.buf);
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&(self.ad.len() as u64 * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(self.buf.len() as u64 * 8).to_be_bytes());
        pv.proc_block(&u128::from_be_bytes(lens).to_le_bytes().into());
        let s: [u8; 16] = pv.finalize().into();
        (u128::from_le_bytes(s) ^ u128::from_be_bytes(mask)).to_be_bytes()
    }

    /// XORs the keystream from counter 2 on into `buf`: whole batches of `B::ParBlocksSize`
    /// blocks through the backend's parallel path (VAES: 30 or 64 blocks), the rest in groups
    /// of at most 8 independent blocks (the CPU overlaps them), so that a short record does not
    /// pay for building a 1 KiB batch.
    #[inline(always)]
    fn ctr<B: BlockCipherEncBackend<BlockSize = U16>>(&mut self, b: &B) {
        let p = B::ParBlocksSize::USIZE;
        let mut i: u32 = 2;
        let par_bytes = if p > SMALL {
            self.buf.len() / (16 * p) * (16 * p)
        } else {
            0
        };
        let (head, tail) = self.buf.split_at_mut(par_bytes);
        if !head.is_empty() {
            let mut ks: ParBlocks<B> = Array::default();
            for chunk in head.chunks_exact_mut(16 * p) {
                for blk in ks.iter_mut() {
                    *blk = counter(self.nonce, i).into();
                    i = i.wrapping_add(1);
                }
                b.encrypt_par_blocks_inplace(&mut ks);
                xor_keystream(chunk, &ks);
            }
        }
        let mut ks = [Block::<B>::default(); SMALL];
        for chunk in tail.chunks_mut(16 * SMALL) {
            let n = chunk.len().div_ceil(16);
            let batch = ks.get_mut(..n).unwrap_or_default();
            for blk in batch.iter_mut() {
                *blk = counter(self.nonce, i).into();
                i = i.wrapping_add(1);
            }
            if n < p {
                b.encrypt_tail_blocks_inplace(batch);
            } else {
                for blk in batch.iter_mut() {
                    b.encrypt_block_inplace(blk);
                }
            }
            xor_keystream(chunk, batch);
        }
    }
}

/// Largest group of blocks encrypted outside the backend's parallel path.
const SMALL: usize = 8;

/// XORs keystream blocks into `data` (the last block may be partial).
#[inline(always)]
fn xor_keystream(data: &mut [u8], ks: &[Array<u8, U16>]) {
    for (c, k) in data.chunks_mut(16).zip(ks) {
        if let Ok(full) = <&mut [u8; 16]>::try_from(&mut *c) {
            let v = u128::from_ne_bytes(*full) ^ u128::from_ne_bytes((*k).into());
            *full = v.to_ne_bytes();
        } else {
            for (x, y) in c.iter_mut().zip(k.iter()) {
                *x ^= y;
            }
        }
    }
}

impl BlockCipherEncClosure for Gcm<'_> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(mut self, b: &B) {
        // H = E(0^128) and the tag mask E(J0), J0 = nonce || 1: independent, overlapped.
        let mut h = Block::<B>::default();
        let mut mask: Block<B> = counter(self.nonce, 1).into();
        b.encrypt_block((&mut h).into());
        b.encrypt_block((&mut mask).into());
        let (h, mask): ([u8; 16], [u8; 16]) = (h.into(), mask.into());
        match self.open.take() {
            None => {
                self.ctr(b);
                *self.tag_out = self.tag(h, mask);
            }
            Some((expected, ok)) => {
                let t = self.tag(h, mask);
                *ok = bool::from(t.ct_eq(expected));
                if *ok {
                    self.ctr(b);
                }
            }
        }
    }
}
