//! The key API between a server (NAF) and the BSF, modelled on Nbsp_GBA
//! (TS 29.309, bootstrapping-info-retrieval): its JSON bodies ([`KeyRequest`], [`KeyResponse`])
//! and the client a server uses to fetch Ks_NAF ([`client::KeyApiClient`]). The BSF side lives in
//! the lab crate (`simbridge_lab::bsf::keyapi`).

pub mod client;

pub use client::{KeyApiClient, KeyFetchError, NafKeyMaterial};

use serde::{Deserialize, Serialize};

/// The path of the key API.
pub const KEY_API_PATH: &str = "/nbsp-gba/v1/bootstrapping-info-retrieval";
/// Largest request body accepted.
pub const MAX_KEY_REQUEST: usize = 64 * 1024;

/// NAF identity in a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NafIdJson {
    /// FQDN the UE used (SNI).
    pub naf_fqdn: String,
    /// Ua security protocol id, 10 hex digits.
    pub ua_sec_prot_id: String,
}

/// A key request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyRequest {
    /// B-TID the UE presented.
    pub bt_id: String,
    /// NAF_Id.
    pub naf_id: NafIdJson,
    /// Whether the NAF can use Ks_int_NAF.
    #[serde(default)]
    pub gba_u_aware: bool,
}

/// A key response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyResponse {
    /// Ks_NAF (GBA_ME) or Ks_ext_NAF (GBA_U), hex.
    pub me_key_material: String,
    /// Ks_int_NAF, hex (GBA_U context and a GBA_U-aware NAF only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uicc_key_material: Option<String>,
    /// Key expiry (RFC 3339 UTC).
    pub key_expiry_time: String,
    /// When the bootstrap happened (RFC 3339 UTC).
    pub bootstrapping_info_creation_time: String,
    /// The subscriber's IMPI (only to credentials allowed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impi: Option<String>,
    /// `3G_GBA`.
    pub gba_type: String,
}

impl Drop for KeyResponse {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.me_key_material);
        if let Some(k) = &mut self.uicc_key_material {
            zeroize::Zeroize::zeroize(k);
        }
    }
}
