//! The GBA_U security context inside the software USIM (TS 33.220 Annex G): the card keeps Ks and
//! RAND after a bootstrap, derives Ks_ext_NAF for the ME and keeps Ks_int_NAF to itself.

use simbridge::secret::Secret;

/// Ks_int_NAF entries kept at most (the least recently derived goes first).
const MAX_INT_KEYS: usize = 8;

/// The card-resident GBA state.
#[derive(Debug, Default)]
pub struct GbaU {
    ks: Option<(Secret<32>, [u8; 16])>,
    int_keys: Vec<(Vec<u8>, Secret<32>)>,
}

impl GbaU {
    /// Stores Ks = CK ‖ IK and RAND after a successful bootstrap.
    pub fn bootstrap(&mut self, ck: &[u8; 16], ik: &[u8; 16], rand: [u8; 16]) {
        let mut ks = [0u8; 32];
        ks[..16].copy_from_slice(ck);
        ks[16..].copy_from_slice(ik);
        self.ks = Some((Secret::new(ks), rand));
        zeroize::Zeroize::zeroize(&mut ks);
        self.int_keys.clear();
    }

    /// The stored Ks and RAND (for persistence).
    pub fn stored(&self) -> Option<(&Secret<32>, &[u8; 16])> {
        self.ks.as_ref().map(|(k, r)| (k, r))
    }

    /// Restores a persisted Ks and RAND.
    pub fn restore(&mut self, ks: Secret<32>, rand: [u8; 16]) {
        self.ks = Some((ks, rand));
        self.int_keys.clear();
    }

    /// Derives Ks_ext_NAF for `naf_id` and `impi`, keeping Ks_int_NAF; `None` without a bootstrap.
    pub fn derive(&mut self, naf_id: &[u8], impi: &[u8]) -> Option<Secret<32>> {
        let (ks, rand) = self.ks.as_ref()?;
        let ext = kdf(ks.expose(), &[b"gba-me", rand, impi, naf_id])?;
        let int = kdf(ks.expose(), &[b"gba-u", rand, impi, naf_id])?;
        self.int_keys.retain(|(n, _)| n != naf_id);
        if self.int_keys.len() >= MAX_INT_KEYS {
            self.int_keys.remove(0);
        }
        self.int_keys.push((naf_id.to_vec(), int));
        Some(ext)
    }

    /// Ks_int_NAF kept for `naf_id` (for a UICC-resident application; tests).
    pub fn int_key(&self, naf_id: &[u8]) -> Option<&Secret<32>> {
        self.int_keys
            .iter()
            .find(|(n, _)| n == naf_id)
            .map(|(_, k)| k)
    }
}

/// TS 33.220 Annex B.2 KDF with FC = 0x01 (the GBA one; parameters here fit in one APDU, so the
/// length check of the KDF cannot fail).
fn kdf(key: &[u8; 32], params: &[&[u8]]) -> Option<Secret<32>> {
    simbridge::gba::kdf(key, 0x01, params).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/sources.md sec. 8 (self-computed regression values, not published): Milenage set 1 CK/IK,
    /// RAND of set 1, IMPI 001010123456789@ims.mnc001.mcc001.3gppnetwork.org, NAF naf.example.com.
    #[test]
    fn ks_ext_and_int_naf_regression() {
        let h = |s: &str| hex::decode(s).expect("hex");
        let ck: [u8; 16] = h("b40ba9a3c58b2a05bbf0d987b21bf8cb")
            .try_into()
            .expect("16");
        let ik: [u8; 16] = h("f769bcd751044604127672711c6d3441")
            .try_into()
            .expect("16");
        let rand: [u8; 16] = h("23553cbe9637a89d218ae64dae47bf35")
            .try_into()
            .expect("16");
        let mut g = GbaU::default();
        assert!(g.derive(b"x", b"y").is_none(), "no key before a bootstrap");
        g.bootstrap(&ck, &ik, rand);
        let mut naf_id = b"naf.example.com".to_vec();
        naf_id.extend_from_slice(&[0x01, 0x00, 0x01, 0xC0, 0xA8]);
        let impi = b"001010123456789@ims.mnc001.mcc001.3gppnetwork.org";
        let ext = g.derive(&naf_id, impi).expect("bootstrapped");
        assert_eq!(
            hex::encode(ext.expose()),
            "707135a7b9ec1e2b54742e53f88615db38bd1d96a0ea63b149cd32f659a9da73"
        );
        let int = g.int_key(&naf_id).expect("kept");
        assert_eq!(
            hex::encode(int.expose()),
            "66e1e55a16b22ddfb0ec46198f9ec21412bbae45e4fdd3f12a8d9674a696364b"
        );
    }
}
