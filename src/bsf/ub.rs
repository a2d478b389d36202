//! The BSF's Ub service (TS 24.109 §4, RFC 3310): challenges, responses, resynchronisation and
//! the creation of bootstrapping contexts. Sans-IO: requests come in as header values, replies go
//! out as status + headers + body, `now` is an input.
//!
//! Status codes: 401 with a fresh challenge for the first request and for any nonce that is
//! unknown, already used, expired (`stale=TRUE`) or issued to another IMPI; 400 for malformed
//! requests (the nonce is then left alone); 403 for an unknown IMPI, a wrong response or a bad
//! AUTS; 405 for methods other than GET; 503 when too many challenges are pending.
//!
//! Nonces are single use (removed at the first answer, right or wrong), bound to the IMPI they
//! were issued for, and expire after [`UbSettings::nonce_ttl`].

use super::hss::Hss;
use super::store::{ContextStore, StoredBootstrap};
use super::{random_bytes, BsfError};
use crate::gba::digest::{self, Challenge, Credentials, DigestInput};
use crate::gba::xml::BootstrappingInfo;
use crate::gba::{ids, kdf, time};
use crate::secret::{Secret, SecretVec};
use base64::Engine;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// An HTTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A plain-text reply.
    pub fn text(status: u16, msg: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: format!("{msg}\n").into_bytes(),
        }
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Ub settings.
#[derive(Debug, Clone)]
pub struct UbSettings {
    /// Realm of the challenges and domain of the B-TIDs (the BSF host name).
    pub realm: String,
    /// Lifetime of a bootstrapping context (default 24 h).
    pub lifetime: Duration,
    /// How long a challenge may be answered (default 60 s).
    pub nonce_ttl: Duration,
    /// Most challenges pending at once (default 10,000).
    pub max_pending: usize,
    /// Use hex(RES) instead of the raw RES octets as the Digest password. RFC 3310 §3.4 says raw;
    /// some BSFs (and clients) hex-encode, so interop tests can switch.
    pub hex_res_password: bool,
}

impl UbSettings {
    /// Defaults for a realm.
    pub fn new(realm: &str) -> Self {
        Self {
            realm: realm.to_string(),
            lifetime: Duration::from_secs(86_400),
            nonce_ttl: Duration::from_secs(60),
            max_pending: 10_000,
            hex_res_password: false,
        }
    }
}

/// The Server header of Ub replies: our product, `3gpp-gba-tmpi` (TS 33.220 §4.5.2), and
/// `3gpp-gba-uicc` when this bootstrap runs as GBA_U (our way of telling the UE what the
/// subscription decided; the Ub messages are otherwise identical for GBA_U and GBA_ME).
pub fn server_header(gba_u: bool) -> String {
    let mut s = format!(
        "simbridge-bsf/{} {}",
        env!("CARGO_PKG_VERSION"),
        crate::gba::client::TOKEN_TMPI
    );
    if gba_u {
        s.push(' ');
        s.push_str(crate::gba::client::TOKEN_UICC);
    }
    s
}

struct Pending {
    impi: String,
    rand: [u8; 16],
    xres: Secret<8>,
    ck: Secret<16>,
    ik: Secret<16>,
    issued: SystemTime,
    gba_u: bool,
}

fn decode_auts(b64: &str) -> Option<[u8; 14]> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .ok()
        .and_then(|v| v.try_into().ok())
}

/// The Ub service: HSS, pending challenges and the context store.
pub struct UbService {
    hss: Hss,
    store: ContextStore,
    pending: HashMap<String, Pending>,
    settings: UbSettings,
}

impl std::fmt::Debug for UbService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UbService")
            .field("pending", &self.pending.len())
            .field("contexts", &self.store.len())
            .finish()
    }
}

impl UbService {
    /// A service over an HSS and a context store.
    pub fn new(hss: Hss, store: ContextStore, settings: UbSettings) -> Self {
        Self {
            hss,
            store,
            pending: HashMap::new(),
            settings,
        }
    }

    /// The context store (for the key API).
    pub fn store(&self) -> &ContextStore {
        &self.store
    }

    /// Settings in force.
    pub fn settings(&self) -> &UbSettings {
        &self.settings
    }

    /// Number of challenges waiting for an answer.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Handles one Ub request. `uri` is the request target; `user_agent` is only logged against the
    /// subscription (which alone decides GBA_U or GBA_ME).
    /// Every reply carries `Server: simbridge-bsf/<version> 3gpp-gba-tmpi` (TS 33.220 §4.5.2).
    pub fn handle(
        &mut self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        user_agent: Option<&str>,
        now: SystemTime,
    ) -> Reply {
        let mut r = self.handle_inner(method, uri, authorization, user_agent, now);
        if r.header("server").is_none() {
            r.headers.push(("Server".into(), server_header(false)));
        }
        r
    }

    fn handle_inner(
        &mut self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        user_agent: Option<&str>,
        now: SystemTime,
    ) -> Reply {
        if method != "GET" {
            let mut r = Reply::text(405, "Ub takes GET");
            r.headers.push(("Allow".into(), "GET".into()));
            return r;
        }
        let Some(auth) = authorization else {
            return Reply::text(
                400,
                "an Authorization: Digest header with the IMPI as username is required",
            );
        };
        let creds = match Credentials::parse(auth) {
            Ok(c) => c,
            Err(e) => return Reply::text(400, &e.to_string()),
        };
        let ue_says_uicc = user_agent.is_some_and(|ua| {
            ua.split_whitespace()
                .any(|t| t.eq_ignore_ascii_case(crate::gba::client::TOKEN_UICC))
        });
        if !self.hss.knows(&creds.username) {
            return Reply::text(403, "unknown IMPI");
        }
        // GBA_U or GBA_ME comes from the subscription (TS 33.220 §5), never from the UE's words.
        let gba_u = self.hss.gba_u(&creds.username);
        if creds.nonce.is_empty() && gba_u != ue_says_uicc {
            log::debug!(
                "Ub: the subscription says {} while the UE {} {}; the subscription decides",
                if gba_u { "GBA_U" } else { "GBA_ME" },
                if ue_says_uicc {
                    "sends"
                } else {
                    "does not send"
                },
                crate::gba::client::TOKEN_UICC
            );
        }
        if creds.nonce.is_empty() {
            return self.challenge(&creds.username, gba_u, false, now);
        }
        if let Err(why) = self.check_form(&creds, uri) {
            return Reply::text(400, &why);
        }
        let Some(p) = self.pending.get(&creds.nonce) else {
            log::info!("Ub: unknown or already used nonce");
            return self.challenge(&creds.username, gba_u, false, now);
        };
        if p.impi != creds.username {
            log::info!("Ub: nonce issued to another IMPI");
            return self.challenge(&creds.username, gba_u, false, now);
        }
        let expired = now
            .duration_since(p.issued)
            .is_ok_and(|age| age > self.settings.nonce_ttl);
        let Some(p) = self.pending.remove(&creds.nonce) else {
            return self.challenge(&creds.username, gba_u, false, now);
        };
        if expired {
            return self.challenge(&creds.username, gba_u, true, now);
        }
        let nc = creds.nc.as_deref().unwrap_or_default();
        let cnonce = creds.cnonce.as_deref().unwrap_or_default();
        let input = DigestInput {
            username: &creds.username,
            realm: &creds.realm,
            nonce: &creds.nonce,
            nc,
            cnonce,
            uri: &creds.uri,
        };
        if let Some(auts_b64) = &creds.auts {
            let Some(auts) = decode_auts(auts_b64) else {
                return Reply::text(400, "auts is not base64 of 14 bytes");
            };
            if !digest::digests_equal(
                &creds.response,
                &digest::request_digest(&input, b"", method, b""),
            ) {
                return Reply::text(403, "wrong response");
            }
            return match self.hss.resync(&p.impi, &p.rand, &auts) {
                Ok(()) => self.challenge(&p.impi, gba_u, false, now),
                Err(BsfError::BadAuts) => Reply::text(403, "AUTS does not verify"),
                Err(e) => {
                    log::error!("Ub: resync failed: {e}");
                    Reply::text(500, "resynchronisation failed")
                }
            };
        }
        if !digest::digests_equal(
            &creds.response,
            &digest::request_digest(&input, self.password(&p).expose(), method, b""),
        ) {
            log::info!("Ub: wrong response for a subscriber");
            return Reply::text(403, "authentication failed");
        }
        self.complete(p, &input, now)
    }

    /// The Digest password for a pending challenge: RES raw (default) or hex.
    fn password(&self, p: &Pending) -> SecretVec {
        if self.settings.hex_res_password {
            SecretVec::new(hex::encode(p.xres.expose()).into_bytes())
        } else {
            SecretVec::from(&p.xres.expose()[..])
        }
    }

    /// Form checks for an answer to a challenge (before the nonce is consumed).
    fn check_form(&self, c: &Credentials, uri: &str) -> Result<(), String> {
        if c.realm != self.settings.realm {
            return Err("wrong realm".into());
        }
        if c.uri != uri {
            return Err("digest-uri does not match the request".into());
        }
        if c.algorithm
            .as_deref()
            .is_some_and(|a| !a.eq_ignore_ascii_case(digest::ALGORITHM))
        {
            return Err("algorithm must be AKAv1-MD5".into());
        }
        if c.qop.as_deref() != Some(digest::QOP_AUTH_INT) {
            return Err("qop must be auth-int".into());
        }
        if !c
            .nc
            .as_deref()
            .is_some_and(|n| n.len() == 8 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err("nc must be 8 hex digits".into());
        }
        let cnonce_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 256
                && s.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        };
        if !c.cnonce.as_deref().is_some_and(cnonce_ok) {
            return Err("cnonce missing or not printable ASCII".into());
        }
        if c.response.len() != 32 || !c.response.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("response must be 32 hex digits".into());
        }
        if c.auts.as_deref().is_some_and(|a| decode_auts(a).is_none()) {
            return Err("auts is not base64 of 14 bytes".into());
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(c.nonce.as_bytes())
            .map_err(|_| "nonce is not base64".to_string())?;
        if raw.len() < 32 {
            return Err("nonce too short".into());
        }
        Ok(())
    }

    /// A 401 with a fresh vector for `impi`.
    fn challenge(&mut self, impi: &str, gba_u: bool, stale: bool, now: SystemTime) -> Reply {
        let ttl = self.settings.nonce_ttl;
        self.pending
            .retain(|_, p| now.duration_since(p.issued).map_or(true, |age| age <= ttl));
        if self.pending.len() >= self.settings.max_pending {
            return Reply::text(503, "too many pending challenges");
        }
        let made = (|| -> Result<(String, Pending), BsfError> {
            let rand = random_bytes::<16>()?;
            let server_data = random_bytes::<8>()?;
            let v = self.hss.vector(impi, &rand)?;
            let mut raw = Vec::with_capacity(40);
            raw.extend_from_slice(&v.rand);
            raw.extend_from_slice(&v.autn);
            raw.extend_from_slice(&server_data);
            let nonce = base64::engine::general_purpose::STANDARD.encode(&raw);
            let p = Pending {
                impi: impi.to_string(),
                rand,
                xres: Secret::new(v.xres),
                ck: v.ck.clone(),
                ik: v.ik.clone(),
                issued: now,
                gba_u,
            };
            Ok((nonce, p))
        })();
        let (nonce, p) = match made {
            Ok(x) => x,
            Err(e) => {
                log::error!("Ub: cannot make a vector: {e}");
                return Reply::text(500, "cannot make an authentication vector");
            }
        };
        self.pending.insert(nonce.clone(), p);
        let ch = Challenge {
            realm: self.settings.realm.clone(),
            nonce,
            opaque: None,
            qop: vec![digest::QOP_AUTH_INT.into()],
            algorithm: digest::ALGORITHM.into(),
            stale,
        };
        // No body: every byte on Ub costs airtime, and the challenge header says it all.
        Reply {
            status: 401,
            headers: vec![
                ("WWW-Authenticate".into(), ch.to_header()),
                ("Server".into(), server_header(gba_u)),
            ],
            body: Vec::new(),
        }
    }

    /// Stores the context and builds the 200 OK with rspauth over the XML body.
    fn complete(&mut self, p: Pending, input: &DigestInput<'_>, now: SystemTime) -> Reply {
        let ks = kdf::ks_from_ck_ik(&p.ck, &p.ik);
        let btid = ids::btid(&p.rand, &self.settings.realm);
        // Whole seconds, so the XML and the key API give the same instant.
        let Some(end) = now.checked_add(self.settings.lifetime) else {
            return Reply::text(500, "key lifetime out of range");
        };
        let expires = time::from_unix_secs(time::unix_secs(end));
        let ctx = StoredBootstrap {
            btid: btid.clone(),
            impi: p.impi.clone(),
            rand: p.rand,
            ks,
            created: now,
            expires,
            gba_u: p.gba_u,
        };
        if let Err(e) = self.store.insert(ctx, now) {
            log::error!("Ub: cannot store the context: {e}");
            return Reply::text(500, "cannot store the bootstrapping context");
        }
        let body = BootstrappingInfo {
            btid,
            lifetime: time::format_utc(expires),
        }
        .to_xml()
        .into_bytes();
        let rspauth = digest::rspauth(input, self.password(&p).expose(), &body);
        let info = format!(
            "qop={}, rspauth=\"{rspauth}\", cnonce=\"{}\", nc={}",
            digest::QOP_AUTH_INT,
            input.cnonce,
            input.nc
        );
        Reply {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/vnd.3gpp.bsf+xml".into()),
                ("Authentication-Info".into(), info),
                ("Server".into(), server_header(p.gba_u)),
            ],
            body,
        }
    }
}
