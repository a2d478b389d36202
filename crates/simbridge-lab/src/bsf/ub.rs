//! The BSF's Ub service (TS 24.109 §4, RFC 3310): challenges, responses, resynchronisation and
//! the creation of bootstrapping contexts. Sans-IO: requests come in as header values, replies go
//! out as status + headers + body, `now` is an input.
//!
//! Status codes: 401 with a fresh challenge for the first request and for any nonce that is
//! unknown, already used, expired (`stale=TRUE`) or issued to another IMPI; 400 for malformed
//! requests (the nonce is then left alone); 403 for a wrong response or a bad AUTS; 405 for
//! methods other than GET.
//!
//! Nonces are single use (removed at the first answer, right or wrong), bound to the IMPI they
//! were issued for, and expire after [`UbSettings::nonce_ttl`].
//!
//! Under a flood (TS 33.220 lets anyone who knows an IMPI ask for a challenge): pending challenges
//! are capped per IMPI ([`UbSettings::max_pending_per_impi`], the oldest goes), so a flood for one
//! IMPI never crowds out another subscriber; the HSS reserves SEQ in batches, so a challenge
//! costs no disk write in most cases. An unknown IMPI gets a decoy challenge (a vector from a
//! random key that no card holds) that goes through the same code as a real one, in a table of
//! its own with a global cap: the answers for unknown and known IMPIs have the same status,
//! headers and body, so Ub is no enumeration oracle. (A decoy evicted by a flood of other decoys
//! answers like an unknown nonce.)

use super::hss::Hss;
use super::store::{ContextStore, StoredBootstrap};
use super::{BsfError, random_bytes};
use base64::Engine;
use simbridge::aka::{AuthVector, SubscriberKeys};
use simbridge::gba::digest::{self, Challenge, Credentials, DigestInput};
use simbridge::gba::xml::BootstrappingInfo;
use simbridge::gba::{ids, kdf, time};
use simbridge::secret::{Secret, SecretVec};
use std::collections::{HashMap, VecDeque};
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
    /// Most challenges pending at once for one IMPI (default 4); a new one replaces the oldest,
    /// so a flood for one IMPI costs its own challenges only.
    pub max_pending_per_impi: usize,
    /// Most decoy challenges (for unknown IMPIs) kept at once (default 10,000); the oldest goes.
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
            max_pending_per_impi: 4,
            max_pending: 10_000,
            hex_res_password: false,
        }
    }
}

/// The Server header of Ub replies: our product, `3gpp-gba-tmpi` (TS 33.220 §4.5.2), and in a
/// challenge or a 200 OK what this bootstrap runs as: `3gpp-gba-uicc` for GBA_U, `simbridge-gba-me`
/// for GBA_ME (our way of telling the UE what the subscription decided; the Ub messages are
/// otherwise identical for both). `None`: replies that start no bootstrap (400, 403, 405).
pub fn server_header(gba_u: Option<bool>) -> String {
    use simbridge::gba::client::{TOKEN_ME, TOKEN_TMPI, TOKEN_UICC};
    let s = format!("simbridge-bsf/{} {TOKEN_TMPI}", env!("CARGO_PKG_VERSION"));
    match gba_u {
        Some(true) => format!("{s} {TOKEN_UICC}"),
        Some(false) => format!("{s} {TOKEN_ME}"),
        None => s,
    }
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

/// Who a Ub request names (see [`UbService::subject`]).
#[derive(Debug, Clone, Copy)]
struct Subject {
    /// The HSS knows the IMPI (else its challenges are decoys).
    known: bool,
    /// The bootstrap runs GBA_U.
    gba_u: bool,
}

/// A Ub request's method and Authorization header: GET only (405), Digest credentials required
/// and well-formed (400).
fn parse_request(method: &str, authorization: Option<&str>) -> Result<Credentials, Reply> {
    if method != "GET" {
        let mut r = Reply::text(405, "Ub takes GET");
        r.headers.push(("Allow".into(), "GET".into()));
        return Err(r);
    }
    let Some(auth) = authorization else {
        return Err(Reply::text(
            400,
            "an Authorization: Digest header with the IMPI as username is required",
        ));
    };
    Credentials::parse(auth).map_err(|e| Reply::text(400, &e.to_string()))
}

/// DEBUG lines for a first request: a UE whose User-Agent disagrees with the subscription, or an
/// unknown IMPI.
fn log_first_request(who: Subject, user_agent: Option<&str>) {
    let ue_says_uicc = user_agent.is_some_and(|ua| {
        ua.split_whitespace()
            .any(|t| t.eq_ignore_ascii_case(simbridge::gba::client::TOKEN_UICC))
    });
    if who.known && who.gba_u != ue_says_uicc {
        log::debug!(
            "Ub: the subscription says {} while the UE {} {}; the subscription decides",
            if who.gba_u { "GBA_U" } else { "GBA_ME" },
            if ue_says_uicc {
                "sends"
            } else {
                "does not send"
            },
            simbridge::gba::client::TOKEN_UICC
        );
    }
    if !who.known {
        log::debug!("Ub: challenge for an unknown IMPI (a decoy)");
    }
}

/// Pending challenges: by nonce, with a cap per IMPI (the oldest goes) and a global cap (the
/// oldest goes), and expiry in issue order. Every operation is O(1) amortised.
#[derive(Default)]
struct PendingTable {
    map: HashMap<String, Pending>,
    /// Nonces in issue order (may name nonces already removed; compacted when mostly such).
    order: VecDeque<(SystemTime, String)>,
    per_impi: HashMap<String, VecDeque<String>>,
    per_impi_cap: usize,
    total_cap: usize,
}

impl PendingTable {
    fn new(per_impi_cap: usize, total_cap: usize) -> Self {
        Self {
            per_impi_cap: per_impi_cap.max(1),
            total_cap: total_cap.max(1),
            ..Self::default()
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn get(&self, nonce: &str) -> Option<&Pending> {
        self.map.get(nonce)
    }

    fn remove(&mut self, nonce: &str) -> Option<Pending> {
        let p = self.map.remove(nonce)?;
        if let Some(q) = self.per_impi.get_mut(&p.impi) {
            q.retain(|n| n != nonce);
            if q.is_empty() {
                self.per_impi.remove(&p.impi);
            }
        }
        Some(p)
    }

    fn insert(&mut self, nonce: String, p: Pending) {
        let oldest_of_impi = self
            .per_impi
            .get(&p.impi)
            .filter(|q| q.len() >= self.per_impi_cap)
            .and_then(|q| q.front().cloned());
        if let Some(old) = oldest_of_impi {
            self.remove(&old);
        }
        while self.map.len() >= self.total_cap {
            let Some((_, old)) = self.order.pop_front() else {
                break;
            };
            self.remove(&old);
        }
        self.per_impi
            .entry(p.impi.clone())
            .or_default()
            .push_back(nonce.clone());
        self.order.push_back((p.issued, nonce.clone()));
        self.map.insert(nonce, p);
        if self.order.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            self.order.retain(|(_, n)| map.contains_key(n));
        }
    }

    /// Drops challenges issued more than `keep` ago.
    fn expire(&mut self, now: SystemTime, keep: Duration) {
        while let Some((issued, nonce)) = self.order.front() {
            if now.duration_since(*issued).map_or(true, |age| age <= keep) {
                break;
            }
            let nonce = nonce.clone();
            self.order.pop_front();
            self.remove(&nonce);
        }
    }
}

/// What decoy challenges are made from: a Milenage key no card holds, and a secret that gives each
/// unknown IMPI a stable GBA_U setting drawn with the subscribers' own proportion of GBA_U (so the
/// Server header's GBA_U / GBA_ME token tells an unknown IMPI from a known one no better than a
/// guess).
struct Decoy {
    keys: SubscriberKeys,
    secret: Secret<32>,
}

impl Decoy {
    fn new() -> Result<Self, BsfError> {
        Ok(Self {
            keys: SubscriberKeys::from_opc(random_bytes::<16>()?, random_bytes::<16>()?),
            secret: Secret::new(random_bytes::<32>()?),
        })
    }

    fn gba_u(&self, impi: &str, (u, total): (usize, usize)) -> bool {
        use hmac::{KeyInit, Mac};
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret.expose()) else {
            return u * 2 >= total;
        };
        mac.update(impi.as_bytes());
        let tag = mac.finalize().into_bytes();
        let draw = u64::from(u16::from_be_bytes([tag[0], tag[1]]));
        let total = total.max(1) as u64;
        draw * total < (u as u64) * 65_536
    }
}

/// The Ub service: HSS, pending challenges and the context store.
pub struct UbService {
    hss: Hss,
    store: ContextStore,
    pending: PendingTable,
    /// Decoy challenges for unknown IMPIs (see the module doc).
    decoys: PendingTable,
    /// The random keys decoys come from (made at the first decoy).
    decoy: Option<Decoy>,
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
        // Real challenges are bounded by subscribers × the per-IMPI cap: no global eviction, so
        // a flood over many IMPIs cannot push out a subscriber's challenge either.
        let real_cap = hss
            .subscriber_count()
            .saturating_mul(settings.max_pending_per_impi.max(1));
        Self {
            pending: PendingTable::new(settings.max_pending_per_impi, real_cap),
            decoys: PendingTable::new(settings.max_pending_per_impi, settings.max_pending),
            decoy: None,
            hss,
            store,
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

    /// Number of challenges waiting for an answer (subscribers' and decoys).
    pub fn pending_count(&self) -> usize {
        self.pending.len() + self.decoys.len()
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
            r.headers.push(("Server".into(), server_header(None)));
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
        let creds = match parse_request(method, authorization) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let who = match self.subject(&creds.username) {
            Ok(w) => w,
            Err(r) => return r,
        };
        if creds.nonce.is_empty() {
            log_first_request(who, user_agent);
            return self.challenge(&creds.username, who.known, who.gba_u, false, now);
        }
        if let Err(why) = self.check_form(&creds, uri) {
            return Reply::text(400, &why);
        }
        let p = match self.take_pending(&creds, who, now) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let input = DigestInput::from(&creds);
        if creds.auts.is_some() {
            return self.resync(&p, &creds, &input, method, who, now);
        }
        if !who.known
            || !digest::digests_equal(
                &creds.response,
                &digest::request_digest(&input, self.password(&p).expose(), method, b""),
            )
        {
            log::info!("Ub: wrong response");
            return Reply::text(403, "authentication failed");
        }
        self.complete(p, &input, now)
    }

    /// Who a request names: a subscriber of the HSS or an unknown IMPI (answered with decoys), and
    /// whether the bootstrap runs GBA_U. 500 when no decoy can be made.
    fn subject(&mut self, impi: &str) -> Result<Subject, Reply> {
        let known = self.hss.knows(impi);
        // GBA_U or GBA_ME comes from the subscription (TS 33.220 §5), never from the UE's words.
        let gba_u = if known {
            self.hss.gba_u(impi)
        } else {
            let share = self.hss.gba_u_share();
            match self.decoy() {
                Ok(d) => d.gba_u(impi, share),
                Err(e) => {
                    log::error!("Ub: cannot make a decoy: {e}");
                    return Err(Reply::text(500, "cannot make an authentication vector"));
                }
            }
        };
        Ok(Subject { known, gba_u })
    }

    /// Removes and returns the challenge this answer is for. Unknown, already used, issued to
    /// another IMPI or expired (`stale=TRUE`): a fresh challenge instead.
    fn take_pending(
        &mut self,
        creds: &Credentials,
        who: Subject,
        now: SystemTime,
    ) -> Result<Pending, Reply> {
        let table = if who.known {
            &mut self.pending
        } else {
            &mut self.decoys
        };
        let Some(p) = table.get(&creds.nonce) else {
            log::info!("Ub: unknown or already used nonce");
            return Err(self.challenge(&creds.username, who.known, who.gba_u, false, now));
        };
        if p.impi != creds.username {
            log::info!("Ub: nonce issued to another IMPI");
            return Err(self.challenge(&creds.username, who.known, who.gba_u, false, now));
        }
        let expired = now
            .duration_since(p.issued)
            .is_ok_and(|age| age > self.settings.nonce_ttl);
        let Some(p) = table.remove(&creds.nonce) else {
            return Err(self.challenge(&creds.username, who.known, who.gba_u, false, now));
        };
        if expired {
            return Err(self.challenge(&creds.username, who.known, who.gba_u, true, now));
        }
        Ok(p)
    }

    /// An answer with AUTS (the card's SQN was out of range): the response with the empty
    /// password must verify, then the HSS resynchronises and a fresh challenge goes out.
    fn resync(
        &mut self,
        p: &Pending,
        creds: &Credentials,
        input: &DigestInput<'_>,
        method: &str,
        who: Subject,
        now: SystemTime,
    ) -> Reply {
        let Some(auts) = creds.auts.as_deref().and_then(decode_auts) else {
            return Reply::text(400, "auts is not base64 of 14 bytes");
        };
        if !digest::digests_equal(
            &creds.response,
            &digest::request_digest(input, b"", method, b""),
        ) {
            return Reply::text(403, "wrong response");
        }
        let verdict = if who.known {
            self.hss.resync(&p.impi, &p.rand, &auts)
        } else {
            // No card holds the decoy key: its AUTS never verifies, like a forged one.
            Err(BsfError::BadAuts)
        };
        match verdict {
            Ok(()) => self.challenge(&p.impi, who.known, who.gba_u, false, now),
            Err(BsfError::BadAuts) => Reply::text(403, "AUTS does not verify"),
            Err(e) => {
                log::error!("Ub: resync failed: {e}");
                Reply::text(500, "resynchronisation failed")
            }
        }
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

    /// A vector for `impi`: from the HSS for a subscriber, from the decoy key otherwise (same
    /// Milenage work, an AUTN of the same look: random SQN ⊕ AK, the subscribers' AMF).
    fn vector(&mut self, impi: &str, known: bool, rand: &[u8; 16]) -> Result<AuthVector, BsfError> {
        if known {
            return self.hss.vector(impi, rand);
        }
        let amf = self.hss.ub_amf();
        let sqn = u64::from_be_bytes(random_bytes::<8>()?) & 0xFFFF_FFFF_FFFF;
        Ok(self.decoy()?.keys.generate_vector(rand, sqn, &amf))
    }

    fn decoy(&mut self) -> Result<&Decoy, BsfError> {
        if self.decoy.is_none() {
            self.decoy = Some(Decoy::new()?);
        }
        self.decoy
            .as_ref()
            .ok_or_else(|| BsfError::Random("no decoy".into()))
    }

    /// A 401 with a fresh vector for `impi` (a decoy one when it is not a subscriber).
    fn challenge(
        &mut self,
        impi: &str,
        known: bool,
        gba_u: bool,
        stale: bool,
        now: SystemTime,
    ) -> Reply {
        // Expired challenges are kept for one more TTL, so a late answer still gets stale=TRUE.
        let keep = self.settings.nonce_ttl.saturating_mul(2);
        self.pending.expire(now, keep);
        self.decoys.expire(now, keep);
        let made = (|| -> Result<(String, Pending), BsfError> {
            let rand = random_bytes::<16>()?;
            let server_data = random_bytes::<8>()?;
            let v = self.vector(impi, known, &rand)?;
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
        if known {
            self.pending.insert(nonce.clone(), p);
        } else {
            self.decoys.insert(nonce.clone(), p);
        }
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
                ("Server".into(), server_header(Some(gba_u))),
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
                ("Server".into(), server_header(Some(p.gba_u))),
            ],
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoy_gba_u_follows_the_subscribers_share_and_is_stable() {
        let d = Decoy::new().expect("random");
        let impis: Vec<String> = (0..2000).map(|i| format!("{i}@ims.example")).collect();
        let count = |share| impis.iter().filter(|i| d.gba_u(i, share)).count();
        assert_eq!(count((0, 5)), 0);
        assert_eq!(count((5, 5)), impis.len());
        let half = count((1, 2));
        assert!((800..1200).contains(&half), "{half}");
        assert!(
            impis
                .iter()
                .all(|i| d.gba_u(i, (1, 2)) == d.gba_u(i, (1, 2)))
        );
    }

    #[test]
    fn pending_table_caps_per_impi_and_in_total() {
        let p = |impi: &str, t: u64| Pending {
            impi: impi.into(),
            rand: [0; 16],
            xres: Secret::new([0; 8]),
            ck: Secret::new([0; 16]),
            ik: Secret::new([0; 16]),
            issued: SystemTime::UNIX_EPOCH + Duration::from_secs(t),
            gba_u: false,
        };
        let mut t = PendingTable::new(2, 3);
        t.insert("a1".into(), p("a", 1));
        t.insert("a2".into(), p("a", 2));
        t.insert("a3".into(), p("a", 3));
        assert!(
            t.get("a1").is_none() && t.get("a3").is_some(),
            "newest replaces oldest"
        );
        t.insert("b1".into(), p("b", 4));
        t.insert("c1".into(), p("c", 5));
        assert_eq!(t.len(), 3);
        assert!(t.get("a2").is_none(), "global cap: the oldest goes");
        t.expire(
            SystemTime::UNIX_EPOCH + Duration::from_secs(14),
            Duration::from_secs(10),
        );
        assert!(t.get("a3").is_none() && t.get("b1").is_some());
        assert!(t.remove("b1").is_some() && t.remove("b1").is_none());
    }
}
