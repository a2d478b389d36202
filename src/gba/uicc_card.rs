//! [`AkaCard`] for the `uicc` layer, so the Ub client runs on every card source (software USIM,
//! PC/SC reader, modem).

use super::card::{AkaCard, CardAka};
use super::{kdf, GbaError};
use crate::card::CardChannel;
use crate::secret::Secret;
use crate::uicc::{AuthResult, GbaBootstrapResult, Uicc};

impl<C: CardChannel> AkaCard for Uicc<C> {
    fn impi(&self) -> String {
        Uicc::impi(self).to_string()
    }

    fn supports_gba_u(&self) -> bool {
        Uicc::supports_gba_u(self)
    }

    fn authenticate(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError> {
        match Uicc::authenticate(self, rand, autn).map_err(|e| GbaError::Card(e.to_string()))? {
            AuthResult::Success { res, ck, ik, .. } => Ok(CardAka::Success {
                res,
                ks: Some(kdf::ks_from_ck_ik(&ck, &ik)),
            }),
            AuthResult::SyncFailure { auts } => Ok(CardAka::SyncFailure { auts }),
            AuthResult::MacFailure => Ok(CardAka::MacFailure),
        }
    }

    fn gba_bootstrap(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError> {
        match Uicc::gba_bootstrap(self, rand, autn).map_err(|e| GbaError::Card(e.to_string()))? {
            GbaBootstrapResult::Success { res } => Ok(CardAka::Success { res, ks: None }),
            GbaBootstrapResult::SyncFailure { auts } => Ok(CardAka::SyncFailure { auts }),
            GbaBootstrapResult::MacFailure => Ok(CardAka::MacFailure),
        }
    }

    fn gba_naf_derive(&mut self, naf_id: &[u8], impi: &str) -> Result<Secret<32>, GbaError> {
        Uicc::gba_naf_derive(self, naf_id, impi).map_err(|e| GbaError::Card(e.to_string()))
    }
}
