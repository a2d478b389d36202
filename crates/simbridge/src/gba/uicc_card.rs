//! [`AkaCard`] for the `uicc` layer, so the Ub client runs on every card source (software USIM,
//! PC/SC reader, modem).

use super::card::{AkaCard, CardAka, GbaBp};
use super::{GbaError, kdf};
use crate::card::CardChannel;
use crate::secret::Secret;
use crate::uicc::{AuthResult, GbaBootstrapResult, Uicc, UiccError};

/// A card-layer error kept as the source of the GBA error, with what the card was doing.
fn card(doing: &'static str) -> impl FnOnce(UiccError) -> GbaError {
    move |source| GbaError::Uicc { doing, source }
}

impl<C: CardChannel> AkaCard for Uicc<C> {
    fn impi(&self) -> String {
        Uicc::impi(self).to_string()
    }

    fn supports_gba_u(&self) -> bool {
        Uicc::supports_gba_u(self)
    }

    fn authenticate(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError> {
        // AKA in the application the IMPI belongs to (the ISIM when it came from there).
        self.select_gba_app()
            .map_err(card("selecting the GBA application"))?;
        match Uicc::authenticate(self, rand, autn).map_err(card("AUTHENTICATE (3G context)"))? {
            AuthResult::Success { res, ck, ik, .. } => Ok(CardAka::Success {
                res,
                ks: Some(kdf::ks_from_ck_ik(&ck, &ik)),
            }),
            AuthResult::SyncFailure { auts } => Ok(CardAka::SyncFailure { auts }),
            AuthResult::MacFailure => Ok(CardAka::MacFailure),
        }
    }

    fn gba_bootstrap(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError> {
        self.select_gba_app()
            .map_err(card("selecting the GBA application"))?;
        match Uicc::gba_bootstrap(self, rand, autn)
            .map_err(card("AUTHENTICATE (GBA bootstrapping)"))?
        {
            GbaBootstrapResult::Success { res } => Ok(CardAka::Success { res, ks: None }),
            GbaBootstrapResult::SyncFailure { auts } => Ok(CardAka::SyncFailure { auts }),
            GbaBootstrapResult::MacFailure => Ok(CardAka::MacFailure),
        }
    }

    fn gba_naf_derive(&mut self, naf_id: &[u8], impi: &str) -> Result<Secret<32>, GbaError> {
        self.select_gba_app()
            .map_err(card("selecting the GBA application"))?;
        Uicc::gba_naf_derive(self, naf_id, impi).map_err(card("AUTHENTICATE (GBA NAF derivation)"))
    }

    fn gba_params(&mut self) -> Result<Option<GbaBp>, GbaError> {
        if !Uicc::supports_gba_u(self) {
            return Ok(None);
        }
        self.read_gba_bp().map_err(card("reading EF_GBABP"))
    }

    fn store_gba_params(
        &mut self,
        rand: &[u8; 16],
        btid: &str,
        lifetime: &str,
    ) -> Result<bool, GbaError> {
        if !Uicc::supports_gba_u(self) {
            return Ok(false);
        }
        self.write_gba_bp(rand, btid.as_bytes(), lifetime.as_bytes())
            .map_err(card("writing EF_GBABP"))
    }
}
