//! AES-128-CCM (NIST SP 800-38C, RFC 3610) with the 12-byte TLS nonce (so L = 3: payloads below
//! 2^24 bytes), tags of 4..=16 bytes (DTLS uses 8 and 16) and additional data below 2^32 bytes.
//!
//! Why our own: the `ccm` crate drives the block cipher one call per block through the generic
//! dispatch of `aes`, which makes CCM 4x slower than OpenSSL. Here the whole record runs inside
//! one `encrypt_with_backend` closure, so the AES-NI rounds are inlined, and each step encrypts
//! the CBC-MAC block together with an independent counter block: the serial MAC chain sets the
//! pace and the CTR keystream comes for free (the interleaving OpenSSL's assembly does).
//!
//! The key schedule lives on the stack for one record and is wiped when dropped (`aes` is built
//! with its `zeroize` feature).

use aes::Aes128Enc;
use aes::cipher::consts::U16;
use aes::cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit,
};
use subtle::ConstantTimeEq;

/// Nonce length: the 4-byte salt and the 8-byte explicit nonce of a DTLS 1.2 record.
pub const NONCE_LEN: usize = 12;
/// Largest payload with a 3-byte length field (L = 15 - 12).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;

/// Why a CCM operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CcmError {
    /// Tag length is not one of 4, 6, ..., 16.
    #[error("CCM tag length must be even and 4..=16")]
    TagLen,
    /// Payload of 2^24 bytes or more, or additional data of 2^32 bytes or more.
    #[error("CCM input too long")]
    TooLong,
    /// The tag does not match (the buffer has been wiped).
    #[error("CCM authentication failed")]
    Auth,
}

/// Encrypts `buf` in place and writes the tag (its length is `tag.len()`) into `tag`; the key
/// schedule is expanded for this call only.
pub fn seal_in_place(
    key: &[u8; 16],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), CcmError> {
    seal_in_place_with(&Aes128Enc::new(key.into()), nonce, ad, buf, tag)
}

/// [`seal_in_place`] with an already expanded key (the benchmark uses it to price the
/// per-record expansion).
pub fn seal_in_place_with(
    aes: &Aes128Enc,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), CcmError> {
    check(tag.len(), ad.len(), buf.len())?;
    let mac = run(aes, nonce, ad, buf, tag.len(), Direction::Seal);
    tag.copy_from_slice(mac.get(..tag.len()).ok_or(CcmError::TagLen)?);
    Ok(())
}

/// Decrypts `buf` in place and checks `tag` in constant time; on a mismatch `buf` is zeroed so
/// that no unauthenticated plaintext leaves. The key schedule is expanded for this call only.
pub fn open_in_place(
    key: &[u8; 16],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), CcmError> {
    open_in_place_with(&Aes128Enc::new(key.into()), nonce, ad, buf, tag)
}

/// [`open_in_place`] with an already expanded key.
pub fn open_in_place_with(
    aes: &Aes128Enc,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), CcmError> {
    check(tag.len(), ad.len(), buf.len())?;
    let mac = run(aes, nonce, ad, buf, tag.len(), Direction::Open);
    let expected = mac.get(..tag.len()).ok_or(CcmError::TagLen)?;
    if bool::from(expected.ct_eq(tag)) {
        Ok(())
    } else {
        buf.fill(0);
        Err(CcmError::Auth)
    }
}

fn check(tag_len: usize, ad_len: usize, len: usize) -> Result<(), CcmError> {
    if !(4..=16).contains(&tag_len) || tag_len % 2 != 0 {
        return Err(CcmError::TagLen);
    }
    if len > MAX_PAYLOAD || ad_len as u64 >= 1 << 32 {
        return Err(CcmError::TooLong);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Seal,
    Open,
}

/// Runs CCM over `buf` and returns the full 16-byte tag (MAC xor S0).
fn run(
    aes: &Aes128Enc,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag_len: usize,
    dir: Direction,
) -> [u8; 16] {
    let mut tag = [0u8; 16];
    aes.encrypt_with_backend(Ccm {
        nonce,
        ad,
        buf,
        tag_len,
        dir,
        tag: &mut tag,
    });
    tag
}

/// The whole CCM computation as a backend closure: monomorphised for, and inlined into, the
/// AES-NI / VAES backend that `aes` selects at run time.
struct Ccm<'a> {
    nonce: &'a [u8; NONCE_LEN],
    ad: &'a [u8],
    buf: &'a mut [u8],
    tag_len: usize,
    dir: Direction,
    tag: &'a mut [u8; 16],
}

impl BlockSizeUser for Ccm<'_> {
    type BlockSize = U16;
}

/// Flags byte of the counter blocks: L - 1 = 2.
const CTR_FLAGS: u8 = 2;

#[inline(always)]
fn xor16(a: [u8; 16], b: [u8; 16]) -> [u8; 16] {
    (u128::from_ne_bytes(a) ^ u128::from_ne_bytes(b)).to_ne_bytes()
}

/// `B` encrypts `x` and `y` in place; the two are independent, so the CPU overlaps their rounds.
#[inline(always)]
fn enc2<B: BlockCipherEncBackend<BlockSize = U16>>(b: &B, x: &mut [u8; 16], y: &mut [u8; 16]) {
    let mut bx = Block::<B>::from(*x);
    let mut by = Block::<B>::from(*y);
    b.encrypt_block((&mut bx).into());
    b.encrypt_block((&mut by).into());
    *x = bx.into();
    *y = by.into();
}

#[inline(always)]
fn enc1<B: BlockCipherEncBackend<BlockSize = U16>>(b: &B, x: &mut [u8; 16]) {
    let mut bx = Block::<B>::from(*x);
    b.encrypt_block((&mut bx).into());
    *x = bx.into();
}

/// Counter block `i` (A_i of SP 800-38C): flags || nonce || i as 3 bytes.
#[inline(always)]
fn counter(base: &[u8; 16], i: u32) -> [u8; 16] {
    let mut c = *base;
    let be = i.to_be_bytes();
    c[13] = be[1];
    c[14] = be[2];
    c[15] = be[3];
    c
}

impl BlockCipherEncClosure for Ccm<'_> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, b: &B) {
        let len = self.buf.len();
        // B0: flags || nonce || payload length (3 bytes; checked < 2^24 by the caller).
        let mut x = [0u8; 16];
        x[0] = (u8::from(!self.ad.is_empty()) << 6) | ((((self.tag_len - 2) / 2) as u8) << 3) | 2;
        x[1..13].copy_from_slice(self.nonce);
        let lb = (len as u32).to_be_bytes();
        x[13..16].copy_from_slice(&lb[1..4]);
        let mut base = [0u8; 16];
        base[0] = CTR_FLAGS;
        base[1..13].copy_from_slice(self.nonce);
        // S0 = E(A_0) masks the tag; computed next to E(B0).
        let mut s0 = base;
        enc2(b, &mut x, &mut s0);

        if !self.ad.is_empty() {
            // a < 2^16 - 2^8: 2-byte length; else 0xfffe || 4-byte length (a < 2^32 checked).
            let a = self.ad.len();
            let mut first = [0u8; 16];
            let hl = if a < 0xFF00 {
                first[..2].copy_from_slice(&(a as u16).to_be_bytes());
                2
            } else {
                first[..2].copy_from_slice(&[0xFF, 0xFE]);
                first[2..6].copy_from_slice(&(a as u32).to_be_bytes());
                6
            };
            let take = a.min(16 - hl);
            let (head, rest) = self.ad.split_at(take);
            first[hl..hl + take].copy_from_slice(head);
            x = xor16(x, first);
            enc1(b, &mut x);
            for chunk in rest.chunks(16) {
                let mut blk = [0u8; 16];
                blk[..chunk.len()].copy_from_slice(chunk);
                x = xor16(x, blk);
                enc1(b, &mut x);
            }
        }

        let mut chunks = self.buf.chunks_exact_mut(16);
        let mut i: u32 = 1;
        match self.dir {
            Direction::Seal => {
                for chunk in &mut chunks {
                    let p: [u8; 16] = (&*chunk).try_into().unwrap_or([0; 16]);
                    let mut ks = counter(&base, i);
                    x = xor16(x, p);
                    enc2(b, &mut x, &mut ks);
                    chunk.copy_from_slice(&xor16(p, ks));
                    i += 1;
                }
            }
            Direction::Open => {
                for chunk in &mut chunks {
                    let c: [u8; 16] = (&*chunk).try_into().unwrap_or([0; 16]);
                    let mut ks = counter(&base, i);
                    enc1(b, &mut ks);
                    let p = xor16(c, ks);
                    chunk.copy_from_slice(&p);
                    x = xor16(x, p);
                    enc1(b, &mut x);
                    i += 1;
                }
            }
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            // The last partial block: the MAC takes the plaintext zero-padded.
            let mut ks = counter(&base, i);
            enc1(b, &mut ks);
            let mut p = [0u8; 16];
            for ((o, t), k) in p.iter_mut().zip(tail.iter_mut()).zip(ks) {
                *o = match self.dir {
                    Direction::Seal => *t,
                    Direction::Open => *t ^ k,
                };
                *t ^= k;
            }
            x = xor16(x, p);
            enc1(b, &mut x);
        }
        *self.tag = xor16(x, s0);
    }
}
