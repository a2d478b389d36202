//! The server's PSKs: a static table, or GBA keys fetched from the BSF's key API (Nbsp_GBA-like,
//! `POST /nbsp-gba/v1/bootstrapping-info-retrieval` with a bearer token) and cached until expiry.
//!
//! The DTLS engine asks [`NafKeys::lookup`]; a cache miss answers `Pending`, the server loop then
//! fetches the key in a worker thread ([`fetch_key`]) and hands it to the endpoint.

use crate::bsf::keyapi::{KeyRequest, KeyResponse, NafIdJson, KEY_API_PATH};
use crate::dtls::config::{PskAnswer, PskRequest, ServerPskStore};
use crate::dtls::CipherSuite;
use crate::gba::{btid_from_psk_identity, time, NafId, UaId};
use crate::secret::SecretVec;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Bound on cached GBA keys.
const MAX_CACHED: usize = 100_000;

/// The BSF key API a server fetches GBA keys from.
pub struct KeyApiSource {
    /// Base URL of the BSF (the key API path is appended).
    pub url: String,
    /// Bearer token.
    pub token: SecretVec,
    /// Our FQDN when the client sent no SNI.
    pub naf_fqdn: String,
    /// A fixed Ua security protocol id instead of `01 00 01 yy zz`.
    pub ua: Option<UaId>,
}

/// Where the server's keys come from: static identities (checked first) and the key API.
#[derive(Default)]
pub struct NafKeySource {
    /// identity → key.
    pub statics: HashMap<Vec<u8>, SecretVec>,
    /// The BSF key API, for every other identity.
    pub key_api: Option<KeyApiSource>,
}

/// The server's PSK store.
pub struct NafKeys {
    source: NafKeySource,
    cache: Mutex<HashMap<(String, Vec<u8>), (SecretVec, SystemTime)>>,
}

impl NafKeys {
    /// A store over a source.
    pub fn new(source: NafKeySource) -> Self {
        Self { source, cache: Mutex::new(HashMap::new()) }
    }

    /// The NAF_Id the key is bound to for this request (GBA only).
    pub fn naf_id(&self, sni: Option<&str>, suite: CipherSuite) -> Option<NafId> {
        let api = self.source.key_api.as_ref()?;
        NafId::new(sni.unwrap_or(&api.naf_fqdn), api.ua.unwrap_or_else(|| UaId::tls12_suite(suite.iana()))).ok()
    }

    /// Key API location and token (GBA only).
    pub fn key_api(&self) -> Option<(&str, &SecretVec)> {
        self.source.key_api.as_ref().map(|a| (a.url.as_str(), &a.token))
    }

    /// Stores a fetched key until its expiry.
    pub fn remember(&self, btid: &str, naf_id: &NafId, key: SecretVec, expires: SystemTime) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_CACHED {
                let now = SystemTime::now();
                c.retain(|_, (_, exp)| *exp > now);
                if c.len() >= MAX_CACHED {
                    c.clear();
                }
            }
            c.insert((btid.to_string(), naf_id.to_bytes()), (key, expires));
        }
    }
}

impl ServerPskStore for NafKeys {
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec> {
        if let Some(k) = self.source.statics.get(&req.identity) {
            return PskAnswer::Ready(k.clone());
        }
        if self.source.key_api.is_none() {
            return PskAnswer::Unknown;
        }
        let Ok(identity) = std::str::from_utf8(&req.identity) else { return PskAnswer::Unknown };
        let btid = btid_from_psk_identity(identity);
        let Some(naf) = self.naf_id(req.sni.as_deref(), req.suite) else { return PskAnswer::Unknown };
        let now = SystemTime::now();
        if let Ok(c) = self.cache.lock() {
            if let Some((k, exp)) = c.get(&(btid.to_string(), naf.to_bytes())) {
                if *exp > now {
                    return PskAnswer::Ready(k.clone());
                }
            }
        }
        PskAnswer::Pending
    }
}

/// Why a key could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum KeyFetchError {
    /// The BSF does not know the B-TID (or it expired): the client must bootstrap again.
    #[error("the BSF does not know B-TID {0} (unknown or expired)")]
    UnknownBtid(String),
    /// Any other failure.
    #[error("key API: {0}")]
    Other(String),
}

/// Fetches Ks_NAF for a B-TID and NAF_Id from the key API.
pub fn fetch_key(url: &str, token: &SecretVec, btid: &str, naf: &NafId, timeout: Duration) -> Result<(SecretVec, SystemTime), KeyFetchError> {
    let body = serde_json::to_vec(&KeyRequest {
        bt_id: btid.to_string(),
        naf_id: NafIdJson { naf_fqdn: naf.fqdn().to_string(), ua_sec_prot_id: naf.ua().to_hex() },
        gba_u_aware: false,
    })
    .map_err(|e| KeyFetchError::Other(e.to_string()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let auth = format!("Bearer {}", String::from_utf8_lossy(token.expose()));
    let endpoint = format!("{}{}", url.trim_end_matches('/'), KEY_API_PATH);
    let mut resp = agent
        .post(&endpoint)
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(&body[..])
        .map_err(|e| KeyFetchError::Other(format!("{endpoint}: {e}")))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .map_err(|e| KeyFetchError::Other(format!("{endpoint}: reading the answer: {e}")))?;
    match status {
        200 => {}
        404 => return Err(KeyFetchError::UnknownBtid(btid.to_string())),
        s => return Err(KeyFetchError::Other(format!("{endpoint} answered HTTP {s}"))),
    }
    let r: KeyResponse = serde_json::from_slice(&text).map_err(|e| KeyFetchError::Other(format!("bad JSON from {endpoint}: {e}")))?;
    let key = hex::decode(&r.me_key_material).map_err(|_| KeyFetchError::Other("meKeyMaterial is not hex".into()))?;
    let expires = time::parse_utc(&r.key_expiry_time).map_err(|e| KeyFetchError::Other(format!("keyExpiryTime: {e}")))?;
    Ok((SecretVec::new(key), expires))
}
