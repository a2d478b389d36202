//! 3GPP AKA arithmetic (TS 33.102, TS 35.206): Milenage behind a key wrapper, authentication
//! vectors, AUTS for resynchronisation, and the USIM's SQN array (TS 33.102 Annex C).
//!
//! Shared by the software USIM (card side) and the HSS/AuC (network side), so both compute the
//! same bytes from the same code.

mod sqn;

pub use sqn::{SqnArray, SqnCheck, SqnPolicy};

use crate::secret::Secret;
use zeroize::Zeroize;

/// A 48-bit sequence number as 6 big-endian bytes.
pub fn sqn_to_bytes(sqn: u64) -> [u8; 6] {
    let b = (sqn & 0xFFFF_FFFF_FFFF).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Reads 6 big-endian bytes as a 48-bit sequence number.
pub fn sqn_from_bytes(b: &[u8; 6]) -> u64 {
    b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

fn xor6(a: &[u8; 6], b: &[u8; 6]) -> [u8; 6] {
    let mut out = [0u8; 6];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = x ^ y;
    }
    out
}

/// The subscriber secrets K and OPc. Milenage state is built per call and wiped after it, because
/// the `milenage` crate neither zeroizes nor hides K in `Debug`.
#[derive(Clone, Debug)]
pub struct SubscriberKeys {
    k: Secret<16>,
    opc: Secret<16>,
}

/// Output of f2..f5 for one RAND.
#[derive(Debug)]
pub struct AkaOutputs {
    /// RES / XRES (f2).
    pub res: [u8; 8],
    /// Cipher key (f3).
    pub ck: Secret<16>,
    /// Integrity key (f4).
    pub ik: Secret<16>,
    /// Anonymity key (f5).
    pub ak: [u8; 6],
}

impl SubscriberKeys {
    /// Keys from K and OP (OPc is derived, TS 35.206 §4.1).
    pub fn from_op(k: [u8; 16], op: [u8; 16]) -> Self {
        let mut m = milenage::Milenage::new_with_op(k, op);
        let opc = *m.opc();
        wipe(&mut m);
        Self {
            k: Secret::new(k),
            opc: Secret::new(opc),
        }
    }

    /// Keys from K and OPc.
    pub fn from_opc(k: [u8; 16], opc: [u8; 16]) -> Self {
        Self {
            k: Secret::new(k),
            opc: Secret::new(opc),
        }
    }

    /// OPc (secret).
    pub fn opc(&self) -> &Secret<16> {
        &self.opc
    }

    fn with<R>(&self, f: impl FnOnce(&mut milenage::Milenage) -> R) -> R {
        let mut m = milenage::Milenage::new_with_opc(*self.k.expose(), *self.opc.expose());
        let r = f(&mut m);
        wipe(&mut m);
        r
    }

    /// f1: network authentication code MAC-A.
    pub fn f1(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> [u8; 8] {
        self.with(|m| m.f1(rand, sqn, amf))
    }

    /// f1*: resynchronisation code MAC-S.
    pub fn f1star(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> [u8; 8] {
        self.with(|m| m.f1star(rand, sqn, amf))
    }

    /// f2..f5: RES, CK, IK, AK.
    pub fn f2345(&self, rand: &[u8; 16]) -> AkaOutputs {
        self.with(|m| {
            let (res, mut ck, mut ik, ak) = m.f2345(rand);
            let out = AkaOutputs {
                res,
                ck: Secret::new(ck),
                ik: Secret::new(ik),
                ak,
            };
            ck.zeroize();
            ik.zeroize();
            out
        })
    }

    /// f5*: the anonymity key used to conceal SQN_MS in AUTS.
    pub fn f5star(&self, rand: &[u8; 16]) -> [u8; 6] {
        self.with(|m| m.f5star(rand))
    }

    /// Builds AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A and the rest of an authentication vector.
    pub fn generate_vector(&self, rand: &[u8; 16], sqn: u64, amf: &[u8; 2]) -> AuthVector {
        let sqn_b = sqn_to_bytes(sqn);
        let mac = self.f1(rand, &sqn_b, amf);
        let out = self.f2345(rand);
        let mut autn = [0u8; 16];
        autn[..6].copy_from_slice(&xor6(&sqn_b, &out.ak));
        autn[6..8].copy_from_slice(amf);
        autn[8..].copy_from_slice(&mac);
        AuthVector {
            rand: *rand,
            autn,
            xres: out.res,
            ck: out.ck,
            ik: out.ik,
        }
    }

    /// Builds AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S with the dummy AMF* = 0000 (TS 33.102 §6.3.3).
    pub fn build_auts(&self, rand: &[u8; 16], sqn_ms: u64) -> [u8; 14] {
        let sqn_b = sqn_to_bytes(sqn_ms);
        let ak_star = self.f5star(rand);
        let mac_s = self.f1star(rand, &sqn_b, &[0, 0]);
        let mut auts = [0u8; 14];
        auts[..6].copy_from_slice(&xor6(&sqn_b, &ak_star));
        auts[6..].copy_from_slice(&mac_s);
        auts
    }

    /// Network side of resynchronisation: recovers SQN_MS from AUTS and checks MAC-S.
    /// Returns `None` when MAC-S does not verify.
    pub fn verify_auts(&self, rand: &[u8; 16], auts: &[u8; 14]) -> Option<u64> {
        let mut conc = [0u8; 6];
        conc.copy_from_slice(&auts[..6]);
        let sqn_b = xor6(&conc, &self.f5star(rand));
        let mac_s = self.f1star(rand, &sqn_b, &[0, 0]);
        bool::from(subtle::ConstantTimeEq::ct_eq(&mac_s[..], &auts[6..]))
            .then(|| sqn_from_bytes(&sqn_b))
    }
}

/// Overwrites the milenage state (K, OPc and cached results) with a volatile write, so the
/// compiler cannot drop the store as dead. The one `unsafe` of the workspace: the milenage crate
/// keeps K and OPc in a type without `Zeroize`, and a plain assignment may be optimised away.
#[allow(unsafe_code)]
fn wipe(m: &mut milenage::Milenage) {
    // SAFETY: `m` is a valid, aligned, exclusive reference; `Milenage` has no Drop impl, so
    // overwriting without dropping the old value leaks nothing.
    unsafe { std::ptr::write_volatile(m, milenage::Milenage::default()) };
}

/// A UMTS authentication vector (RAND, AUTN, XRES, CK, IK).
#[derive(Debug, Clone)]
pub struct AuthVector {
    /// Random challenge.
    pub rand: [u8; 16],
    /// Network authentication token.
    pub autn: [u8; 16],
    /// Expected response.
    pub xres: [u8; 8],
    /// Cipher key.
    pub ck: Secret<16>,
    /// Integrity key.
    pub ik: Secret<16>,
}

/// GSM conversion c3 (TS 33.102 §6.8.1.2): Kc = CK1 ⊕ CK2 ⊕ IK1 ⊕ IK2.
pub fn gsm_kc(ck: &[u8; 16], ik: &[u8; 16]) -> [u8; 8] {
    let mut kc = [0u8; 8];
    for (i, k) in kc.iter_mut().enumerate() {
        *k = ck[i] ^ ck[i + 8] ^ ik[i] ^ ik[i + 8];
    }
    kc
}

/// GSM conversion c2: SRES = RES[0..4] ⊕ RES[4..8] (8-byte RES).
pub fn gsm_sres(res: &[u8; 8]) -> [u8; 4] {
    [
        res[0] ^ res[4],
        res[1] ^ res[5],
        res[2] ^ res[6],
        res[3] ^ res[7],
    ]
}

#[cfg(test)]
mod tests;
