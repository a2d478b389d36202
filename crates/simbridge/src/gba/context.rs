//! A bootstrapping context: what one successful Ub run leaves on the device.

use super::cache::CacheError;
use super::card::AkaCard;
use super::naf::NafId;
use super::{GbaError, ids, kdf, time};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Where Ks lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GbaMode {
    /// GBA_ME: Ks = CK ‖ IK is on the device; Ks_NAF is computed here.
    #[serde(rename = "GBA_ME")]
    Me,
    /// GBA_U: Ks stays in the UICC; the card computes Ks_ext_NAF.
    #[serde(rename = "GBA_U")]
    U,
}

impl GbaMode {
    /// `GBA_ME` or `GBA_U`.
    pub fn as_str(self) -> &'static str {
        match self {
            GbaMode::Me => "GBA_ME",
            GbaMode::U => "GBA_U",
        }
    }
}

/// The result of a bootstrap: B-TID, RAND, IMPI, key lifetime and (GBA_ME) Ks.
#[derive(Debug, Clone)]
pub struct BootstrapContext {
    /// Bootstrapping transaction identifier (opaque).
    pub btid: String,
    /// The RAND of the AKA run (an input of every NAF key).
    pub rand: [u8; 16],
    /// The IMPI used.
    pub impi: String,
    /// When Ks (and every key derived from it) expires.
    pub expires: SystemTime,
    /// When the bootstrap completed.
    pub created: SystemTime,
    /// GBA_ME or GBA_U.
    pub mode: GbaMode,
    /// The BSF it was obtained from.
    pub bsf_url: String,
    /// Ks = CK ‖ IK (GBA_ME only).
    pub ks: Option<Secret<32>>,
}

impl BootstrapContext {
    /// The PSK identity for (D)TLS: `3GPP-bootstrapping.` + B-TID.
    pub fn psk_identity(&self) -> String {
        ids::psk_identity(&self.btid)
    }

    /// Whether the context can still be used at `now`, keeping `margin` before expiry (so a
    /// handshake started now does not end with an expired key).
    pub fn usable_at(&self, now: SystemTime, margin: Duration) -> bool {
        now.checked_add(margin).is_some_and(|t| t < self.expires)
    }

    /// Time left until expiry (zero when expired).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.expires.duration_since(now).unwrap_or_default()
    }

    /// The NAF key for `naf`: Ks_NAF computed here (GBA_ME) or Ks_ext_NAF from the card (GBA_U;
    /// `card` is then required and must hold this context's Ks).
    pub fn naf_key(
        &self,
        card: Option<&mut dyn AkaCard>,
        naf: &NafId,
    ) -> Result<Secret<32>, GbaError> {
        match (self.mode, &self.ks, card) {
            (GbaMode::Me, Some(ks), _) => kdf::ks_naf(ks, &self.rand, &self.impi, naf),
            (GbaMode::Me, None, _) => Err(GbaError::Protocol("GBA_ME context without Ks".into())),
            (GbaMode::U, _, Some(card)) => card.gba_naf_derive(&naf.to_bytes(), &self.impi),
            (GbaMode::U, _, None) => Err(GbaError::Card(
                "GBA_U context: the card is needed to derive Ks_ext_NAF".into(),
            )),
        }
    }

    pub(crate) fn to_stored(&self) -> StoredContext {
        StoredContext {
            version: 1,
            btid: self.btid.clone(),
            rand: hex::encode(self.rand),
            impi: self.impi.clone(),
            expires: time::format_utc(self.expires),
            created: time::format_utc(self.created),
            mode: self.mode,
            bsf_url: self.bsf_url.clone(),
            ks: self.ks.as_ref().map(|k| hex::encode(k.expose())),
        }
    }

    pub(crate) fn from_stored(s: StoredContext) -> Result<Self, CacheError> {
        if s.version != 1 {
            return Err(CacheError::Version(s.version));
        }
        let time = |field: &'static str, text: &str| {
            time::parse_utc(text).map_err(|e| CacheError::Time {
                field,
                source: Box::new(e),
            })
        };
        let mut rand = [0u8; 16];
        hex::decode_to_slice(&s.rand, &mut rand).map_err(|_| CacheError::Field("bad rand"))?;
        let ks = match &s.ks {
            Some(h) => {
                let mut b = [0u8; 32];
                hex::decode_to_slice(h, &mut b).map_err(|_| CacheError::Field("bad ks"))?;
                let k = Secret::new(b);
                zeroize::Zeroize::zeroize(&mut b);
                Some(k)
            }
            None => None,
        };
        if s.mode == GbaMode::Me && ks.is_none() {
            return Err(CacheError::Field("GBA_ME context without ks"));
        }
        Ok(Self {
            btid: s.btid.clone(),
            rand,
            impi: s.impi.clone(),
            expires: time("expires", &s.expires)?,
            created: time("created", &s.created)?,
            mode: s.mode,
            bsf_url: s.bsf_url.clone(),
            ks,
        })
    }
}

/// The on-disk form (JSON). Ks is hex; the file is mode 0600.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredContext {
    version: u32,
    btid: String,
    rand: String,
    impi: String,
    expires: String,
    created: String,
    mode: GbaMode,
    bsf_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ks: Option<String>,
}

impl Drop for StoredContext {
    fn drop(&mut self) {
        if let Some(k) = &mut self.ks {
            zeroize::Zeroize::zeroize(k);
        }
    }
}
