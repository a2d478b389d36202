//! The server's PSKs: a static table, or GBA keys fetched from the BSF's key API (Nbsp_GBA-like,
//! `POST /nbsp-gba/v1/bootstrapping-info-retrieval` with a bearer token) and cached until expiry.
//!
//! The DTLS engine asks [`NafKeys::lookup`]. For GBA it first decides whether the request may be
//! looked up at all ([`NafKeys::plan`]): the SNI must be one of this server's NAF FQDNs (no SNI =
//! the first; a key made for another NAF must not open sessions here, TS 33.220 key separation)
//! and the identity must be a well-formed GBA identity ([`crate::gba::ids::parse_psk_identity`]);
//! a refusal is logged at WARN and answered `Unknown` before any key lookup. A cache miss answers
//! `Pending`; the server loop then fetches the key with
//! [`crate::gba::key_api::client::KeyApiClient`] and hands it to the endpoint.

use crate::dtls::CipherSuite;
use crate::dtls::config::{PskAnswer, PskRequest, ServerPskStore};
use crate::gba::ids::normalize_fqdn;
use crate::gba::ids::{IdentityError, NafKeyKind, escape_for_log, parse_psk_identity};
use crate::gba::key_api::client::KeyApiClient;
use crate::gba::{NafId, UaId};
use crate::secret::SecretVec;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// Bound on cached GBA keys.
const MAX_CACHED: usize = 100_000;

/// At most 20 WARN lines about identities refused before any lookup every 10 s.
static REFUSED_BEFORE_LOOKUP: super::log_limit::LogLimit =
    super::log_limit::LogLimit::new(20, Duration::from_secs(10));

/// The BSF key API a server fetches GBA keys from.
pub struct KeyApiSource {
    /// The key-API client (BSF URL, bearer token, timeout).
    pub client: Arc<KeyApiClient>,
    /// Our FQDN when the client sent no SNI (and the only one served unless
    /// [`ServePolicy::naf_fqdns`] lists more).
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

/// Which GBA requests this server serves.
#[derive(Debug, Clone, Default)]
pub struct ServePolicy {
    /// The NAF FQDNs this server is (`[keys] naf`), the first used when the client sends no SNI;
    /// empty: [`KeyApiSource::naf_fqdn`] alone.
    pub naf_fqdns: Vec<String>,
    /// Accept a bare B-TID as identity (`accept_bare_btid`, default false).
    pub accept_bare_btid: bool,
    /// Serve `3GPP-bootstrapping-uicc` identities with Ks_int_NAF (`gba_u_aware`, default
    /// false: they are refused).
    pub gba_u_aware: bool,
    /// Bounds of the key lookups.
    pub lookup: super::key_lookup::LookupSettings,
}

/// What one GBA key lookup is for: the B-TID, the key kind and the NAF_Id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPlan {
    /// The B-TID from the identity.
    pub btid: String,
    /// Ks_(ext)_NAF or Ks_int_NAF.
    pub kind: NafKeyKind,
    /// NAF_Id = served FQDN ‖ Ua id.
    pub naf: NafId,
}

/// Why a GBA request is refused before any key lookup.
#[derive(Debug, thiserror::Error)]
pub enum PlanRefusal {
    /// The server has no key API.
    #[error("no key API configured")]
    NoKeyApi,
    /// The SNI is not one of this server's NAF FQDNs (escaped for the log).
    #[error("SNI \"{0}\" is not one of this server's NAF FQDNs")]
    NotServed(String),
    /// The identity is not one this server accepts.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A `3GPP-bootstrapping-uicc` identity without `gba_u_aware = true`.
    #[error("a 3GPP-bootstrapping-uicc identity (Ks_int_NAF) and gba_u_aware is off")]
    UiccNotServed,
    /// The FQDN and Ua id make no NAF_Id.
    #[error("no NAF_Id")]
    NafId(#[source] crate::gba::GbaError),
}

type KeyCacheId = KeyPlan;

/// The server's PSK store.
pub struct NafKeys {
    source: NafKeySource,
    /// The static keys, replaceable while running (a configuration reload); `source.statics`
    /// stays empty.
    statics: RwLock<HashMap<Vec<u8>, SecretVec>>,
    /// The key-API client, replaceable while running (BSF URL, token, CA of a reload).
    api_client: RwLock<Option<Arc<KeyApiClient>>>,
    policy: ServePolicy,
    cache: Mutex<HashMap<KeyCacheId, (SecretVec, SystemTime)>>,
    /// The identity (escaped) and NAF_Id of the last key answered `Ready`, so that the server
    /// loop can name them if that handshake then fails at Finished (a wrong key).
    last_ready: Mutex<Option<(String, String)>>,
}

impl NafKeys {
    /// A store over a source, with the default [`ServePolicy`].
    pub fn new(mut source: NafKeySource) -> Self {
        let statics = std::mem::take(&mut source.statics);
        let api_client = source.key_api.as_ref().map(|a| a.client.clone());
        Self {
            source,
            statics: RwLock::new(statics),
            api_client: RwLock::new(api_client),
            policy: ServePolicy::default(),
            cache: Mutex::new(HashMap::new()),
            last_ready: Mutex::new(None),
        }
    }

    /// The same store with this policy.
    pub fn with_policy(mut self, policy: ServePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &ServePolicy {
        &self.policy
    }

    /// The NAF FQDNs this server serves (lower case, no trailing dot), the default first; empty
    /// without a key API.
    pub fn served_names(&self) -> Vec<String> {
        let Some(api) = self.source.key_api.as_ref() else {
            return Vec::new();
        };
        if self.policy.naf_fqdns.is_empty() {
            vec![normalize_fqdn(&api.naf_fqdn)]
        } else {
            self.policy
                .naf_fqdns
                .iter()
                .map(|f| normalize_fqdn(f))
                .collect()
        }
    }

    /// Decides what a GBA request looks up, or why it is refused (no lookup then).
    pub fn plan(
        &self,
        identity: &[u8],
        sni: Option<&str>,
        suite: CipherSuite,
    ) -> Result<KeyPlan, PlanRefusal> {
        let api = self.source.key_api.as_ref().ok_or(PlanRefusal::NoKeyApi)?;
        let served = self.served_names();
        let fqdn = match sni {
            None => served.first().cloned().ok_or(PlanRefusal::NoKeyApi)?,
            Some(s) => {
                let s = normalize_fqdn(s);
                if !served.contains(&s) {
                    return Err(PlanRefusal::NotServed(escape_for_log(s.as_bytes())));
                }
                s
            }
        };
        let id = parse_psk_identity(identity, self.policy.accept_bare_btid)?;
        if id.kind == NafKeyKind::Uicc && !self.policy.gba_u_aware {
            return Err(PlanRefusal::UiccNotServed);
        }
        let naf = NafId::new(&fqdn, api.ua.unwrap_or_else(|| UaId::for_suite(suite)))
            .map_err(PlanRefusal::NafId)?;
        Ok(KeyPlan {
            btid: id.btid.to_string(),
            kind: id.kind,
            naf,
        })
    }

    /// The key-API client (GBA only).
    pub fn key_api(&self) -> Option<Arc<KeyApiClient>> {
        self.api_client.read().ok()?.clone()
    }

    /// Replaces the static keys (a configuration reload): used from the next handshake on;
    /// established sessions keep the keys they were made with.
    pub fn set_statics(&self, statics: HashMap<Vec<u8>, SecretVec>) {
        if let Ok(mut s) = self.statics.write() {
            *s = statics;
        }
    }

    /// Replaces the key-API client (a reload with another BSF URL, token or CA): used from the
    /// next lookup on; keys already fetched stay cached until they expire. False (nothing
    /// changed) for a server started without a key API.
    pub fn set_key_api_client(&self, client: Arc<KeyApiClient>) -> bool {
        if self.source.key_api.is_none() {
            return false;
        }
        match self.api_client.write() {
            Ok(mut c) => {
                *c = Some(client);
                true
            }
            Err(_) => false,
        }
    }

    fn static_key(&self, identity: &[u8]) -> Option<SecretVec> {
        self.statics.read().ok()?.get(identity).cloned()
    }

    fn has_static(&self, identity: &[u8]) -> bool {
        self.statics.read().is_ok_and(|s| s.contains_key(identity))
    }

    /// Stores a fetched key until its expiry.
    pub fn remember(&self, plan: &KeyPlan, key: SecretVec, expires: SystemTime) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_CACHED {
                let now = SystemTime::now();
                c.retain(|_, (_, exp)| *exp > now);
                if c.len() >= MAX_CACHED {
                    c.clear();
                }
            }
            c.insert(plan.clone(), (key, expires));
        }
    }

    /// When the key of `plan` expires, if it was fetched here (an OSCORE context lives as long
    /// as the key it was established with).
    pub fn plan_expiry(&self, plan: &KeyPlan) -> Option<SystemTime> {
        let c = self.cache.lock().ok()?;
        c.get(plan).map(|(_, exp)| *exp)
    }

    /// When the GBA key this request would use expires, if the key is (or was) cached; `None`
    /// for a static key or a key never fetched here.
    pub fn key_expiry(
        &self,
        identity: &[u8],
        sni: Option<&str>,
        suite: CipherSuite,
    ) -> Option<SystemTime> {
        if self.has_static(identity) {
            return None;
        }
        let plan = self.plan(identity, sni, suite).ok()?;
        let c = self.cache.lock().ok()?;
        c.get(&plan).map(|(_, exp)| *exp)
    }

    /// Takes what [`ServerPskStore::lookup`] last answered `Ready` from: the identity
    /// (escaped and cut) and a description of the NAF_Id. The engine looks keys up while it
    /// handles a datagram, so the server loop takes this right after each datagram.
    pub fn take_last_ready(&self) -> Option<(String, String)> {
        self.last_ready.lock().ok()?.take()
    }

    fn set_last_ready(&self, identity: &[u8], naf: String) {
        if let Ok(mut l) = self.last_ready.lock() {
            *l = Some((identity_for_log(identity), naf));
        }
    }

    fn cached(&self, plan: &KeyPlan, now: SystemTime) -> Option<(SecretVec, Duration)> {
        let c = self.cache.lock().ok()?;
        let (k, exp) = c.get(plan)?;
        exp.duration_since(now)
            .ok()
            .filter(|left| !left.is_zero())
            .map(|left| (k.clone(), left))
    }
}

/// How a NAF_Id shows in the server's log: `NAF <fqdn> Ua id <hex>`.
pub fn describe_naf(naf: &NafId) -> String {
    format!(
        "NAF {} Ua id {}",
        escape_for_log(naf.fqdn().as_bytes()),
        naf.ua().to_hex()
    )
}

/// How a PSK identity shows in the server's log: escaped and cut.
pub fn identity_for_log(identity: &[u8]) -> String {
    escape_for_log(identity)
}

impl ServerPskStore for NafKeys {
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec> {
        if let Some(k) = self.static_key(&req.identity) {
            self.set_last_ready(&req.identity, "static key".into());
            return PskAnswer::Ready(k);
        }
        if self.source.key_api.is_none() {
            return PskAnswer::Unknown;
        }
        let plan = match self.plan(&req.identity, req.sni.as_deref(), req.suite) {
            Ok(p) => p,
            Err(e) => {
                if let Some(n) = REFUSED_BEFORE_LOOKUP.allow(std::time::Instant::now()) {
                    log::warn!(
                        "server: PSK identity \"{}\" refused before any key lookup: {}{}",
                        identity_for_log(&req.identity),
                        crate::error_chain::chain(&e),
                        super::log_limit::left_out(n)
                    );
                }
                return PskAnswer::Unknown;
            }
        };
        match self.cached(&plan, SystemTime::now()) {
            Some((k, _)) => {
                self.set_last_ready(&req.identity, describe_naf(&plan.naf));
                PskAnswer::Ready(k)
            }
            None => PskAnswer::Pending,
        }
    }

    fn key_lifetime(&self, req: &PskRequest) -> Option<Duration> {
        if self.has_static(&req.identity) {
            return None;
        }
        let plan = self
            .plan(&req.identity, req.sni.as_deref(), req.suite)
            .ok()?;
        self.cached(&plan, SystemTime::now()).map(|(_, left)| left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.org";

    fn keys(policy: ServePolicy) -> NafKeys {
        let client = KeyApiClient::new(
            "http://127.0.0.1:9",
            SecretVec::from(&b"t"[..]),
            Duration::from_secs(1),
        );
        NafKeys::new(NafKeySource {
            statics: HashMap::new(),
            key_api: Some(KeyApiSource {
                client: Arc::new(client),
                naf_fqdn: "naf-a.example.com".into(),
                ua: None,
            }),
        })
        .with_policy(policy)
    }

    fn req(identity: &str, sni: Option<&str>) -> PskRequest {
        PskRequest {
            identity: identity.as_bytes().to_vec(),
            sni: sni.map(str::to_string),
            suite: CipherSuite::PskAes128Ccm8,
        }
    }

    #[test]
    fn serves_only_its_own_fqdns() {
        let k = keys(ServePolicy {
            naf_fqdns: vec!["naf-a.example.com".into(), "Naf-A2.example.com.".into()],
            ..Default::default()
        });
        let id = format!("3GPP-bootstrapping.{B}").into_bytes();
        let s = CipherSuite::PskAes128Ccm8;
        assert_eq!(
            k.plan(&id, None, s).expect("default").naf.fqdn(),
            "naf-a.example.com"
        );
        assert_eq!(
            k.plan(&id, Some("NAF-A2.example.com"), s)
                .expect("second")
                .naf
                .fqdn(),
            "naf-a2.example.com"
        );
        assert!(matches!(
            k.plan(&id, Some("naf-b.example.com"), s),
            Err(PlanRefusal::NotServed(n)) if n == "naf-b.example.com"
        ));
        // Refused before any lookup: Unknown, not Pending.
        assert!(matches!(
            k.lookup(&req(
                &format!("3GPP-bootstrapping.{B}"),
                Some("naf-b.example.com")
            )),
            PskAnswer::Unknown
        ));
        assert!(matches!(
            k.lookup(&req(
                &format!("3GPP-bootstrapping.{B}"),
                Some("naf-a.example.com")
            )),
            PskAnswer::Pending
        ));
    }

    #[test]
    fn identity_policy_and_key_kinds() {
        let strict = keys(ServePolicy::default());
        let s = CipherSuite::PskAes128Ccm8;
        assert!(matches!(
            strict.plan(format!("3GPP-bootstrapping-uicc.{B}").as_bytes(), None, s),
            Err(PlanRefusal::UiccNotServed)
        ));
        assert!(matches!(
            strict.plan(B.as_bytes(), None, s),
            Err(PlanRefusal::Identity(IdentityError::BareBtid))
        ));
        assert!(matches!(
            strict.lookup(&req(&"A".repeat(16 * 1024), None)),
            PskAnswer::Unknown
        ));
        let lax = keys(ServePolicy {
            accept_bare_btid: true,
            gba_u_aware: true,
            ..Default::default()
        });
        let me = lax.plan(B.as_bytes(), None, s).expect("bare");
        let int = lax
            .plan(format!("3GPP-bootstrapping-uicc{B}").as_bytes(), None, s)
            .expect("uicc");
        assert_eq!((me.kind, int.kind), (NafKeyKind::Me, NafKeyKind::Uicc));
        // Cached per kind: the Ks_int_NAF entry does not answer a Ks_(ext)_NAF identity.
        let exp = SystemTime::now() + Duration::from_secs(100);
        lax.remember(&int, SecretVec::from(&[7u8; 32][..]), exp);
        assert!(matches!(
            lax.lookup(&req(&format!("3GPP-bootstrapping-uicc.{B}"), None)),
            PskAnswer::Ready(_)
        ));
        assert!(matches!(
            lax.lookup(&req(&format!("3GPP-bootstrapping.{B}"), None)),
            PskAnswer::Pending
        ));
        let left = lax
            .key_lifetime(&req(&format!("3GPP-bootstrapping-uicc.{B}"), None))
            .expect("lifetime");
        assert!(left <= Duration::from_secs(100) && left > Duration::from_secs(90));
    }
}
