//! The server's PSKs: a static table, or GBA keys fetched from the BSF's key API (Nbsp_GBA-like,
//! `POST /nbsp-gba/v1/bootstrapping-info-retrieval` with a bearer token) and cached until expiry.
//!
//! The DTLS engine asks [`NafKeys::lookup`]; a cache miss answers `Pending`, the server loop then
//! fetches the key in a worker thread with [`crate::bsf::keyclient::KeyApiClient`] and hands it to
//! the endpoint.

use crate::bsf::keyclient::KeyApiClient;
use crate::dtls::config::{PskAnswer, PskRequest, ServerPskStore};
use crate::dtls::CipherSuite;
use crate::gba::{btid_from_psk_identity, NafId, UaId};
use crate::secret::SecretVec;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Bound on cached GBA keys.
const MAX_CACHED: usize = 100_000;

/// The BSF key API a server fetches GBA keys from.
pub struct KeyApiSource {
    /// The key-API client (BSF URL, bearer token, timeout).
    pub client: Arc<KeyApiClient>,
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

/// (B-TID, NAF_Id bytes): what a cached key is bound to.
type KeyCacheId = (String, Vec<u8>);

/// The server's PSK store.
pub struct NafKeys {
    source: NafKeySource,
    cache: Mutex<HashMap<KeyCacheId, (SecretVec, SystemTime)>>,
}

impl NafKeys {
    /// A store over a source.
    pub fn new(source: NafKeySource) -> Self {
        Self {
            source,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The NAF_Id the key is bound to for this request (GBA only).
    pub fn naf_id(&self, sni: Option<&str>, suite: CipherSuite) -> Option<NafId> {
        let api = self.source.key_api.as_ref()?;
        NafId::new(
            sni.unwrap_or(&api.naf_fqdn),
            api.ua.unwrap_or_else(|| UaId::tls12_suite(suite.iana())),
        )
        .ok()
    }

    /// The key-API client (GBA only).
    pub fn key_api(&self) -> Option<Arc<KeyApiClient>> {
        self.source.key_api.as_ref().map(|a| a.client.clone())
    }

    /// When the cached GBA key for this identity, SNI and suite expires (static keys: `None`).
    pub fn expiry(
        &self,
        identity: &[u8],
        sni: Option<&str>,
        suite: CipherSuite,
    ) -> Option<SystemTime> {
        let btid = btid_from_psk_identity(std::str::from_utf8(identity).ok()?);
        let naf = self.naf_id(sni, suite)?;
        let c = self.cache.lock().ok()?;
        c.get(&(btid.to_string(), naf.to_bytes()))
            .map(|(_, exp)| *exp)
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
        let Ok(identity) = std::str::from_utf8(&req.identity) else {
            return PskAnswer::Unknown;
        };
        let btid = btid_from_psk_identity(identity);
        let Some(naf) = self.naf_id(req.sni.as_deref(), req.suite) else {
            return PskAnswer::Unknown;
        };
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
