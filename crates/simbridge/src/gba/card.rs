//! What the Ub client needs from a card: AKA in the 3G context (GBA_ME) or the GBA context (GBA_U),
//! and, for GBA_U, the NAF key derivation done inside the card.
//!
//! A small trait of its own so the client works with any card source (the `uicc` layer over PC/SC,
//! a modem or the software USIM) and with fakes in tests.

use super::GbaError;
use crate::secret::{Secret, SecretVec};
pub use crate::uicc::gba_files::GbaBp;

/// The outcome of one AUTHENTICATE.
#[derive(Debug)]
pub enum CardAka {
    /// AUTN verified: RES, and Ks = CK ‖ IK when the keys leave the card (3G context / GBA_ME).
    Success {
        /// RES (the Digest password).
        res: SecretVec,
        /// CK ‖ IK; `None` in GBA_U, where they stay in the card.
        ks: Option<Secret<32>>,
    },
    /// SQN out of range: AUTS for resynchronisation.
    SyncFailure {
        /// AUTS (14 bytes).
        auts: [u8; 14],
    },
    /// AUTN's MAC did not verify.
    MacFailure,
}

/// A card that can run GBA.
pub trait AkaCard {
    /// The IMPI to bootstrap with (ISIM IMPI, or derived from the IMSI).
    fn impi(&self) -> String;

    /// Whether the card supports the GBA_U security context.
    fn supports_gba_u(&self) -> bool;

    /// AUTHENTICATE in the 3G context: RES and CK ‖ IK.
    fn authenticate(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError>;

    /// AUTHENTICATE in the GBA context, bootstrapping mode: RES only; the card keeps Ks and RAND.
    fn gba_bootstrap(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError>;

    /// AUTHENTICATE in the GBA context, NAF derivation mode: the card returns Ks_ext_NAF.
    fn gba_naf_derive(&mut self, naf_id: &[u8], impi: &str) -> Result<Secret<32>, GbaError>;

    /// GBA_U: EF_GBABP (RAND of the card's last GBA bootstrap, B-TID, lifetime) as the card holds
    /// it; `Ok(None)` when the card keeps none or this card cannot tell (the default).
    fn gba_params(&mut self) -> Result<Option<GbaBp>, GbaError> {
        Ok(None)
    }

    /// GBA_U: writes B-TID and key lifetime into EF_GBABP beside the card's RAND, which must be
    /// `rand`; `Ok(false)` when nothing was written (another RAND on the card, no EF_GBABP, or a
    /// card that cannot; the default).
    fn store_gba_params(
        &mut self,
        rand: &[u8; 16],
        btid: &str,
        lifetime: &str,
    ) -> Result<bool, GbaError> {
        let _ = (rand, btid, lifetime);
        Ok(false)
    }
}
