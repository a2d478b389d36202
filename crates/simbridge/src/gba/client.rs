//! The Ub bootstrapping client (TS 24.109 §4 over RFC 3310 HTTP Digest AKAv1-MD5, qop=auth-int).
//!
//! 1. GET with `Authorization: Digest username=IMPI, nonce="", response=""`;
//! 2. 401 with nonce = base64(RAND ‖ AUTN ‖ server data) → AUTHENTICATE on the card;
//! 3. GET with the digest response (password = RES as raw bytes); on a sync failure instead
//!    `auts=` with an empty password, and the BSF answers with a new challenge;
//! 4. 200 OK: `rspauth` in Authentication-Info must verify (it proves the BSF knew RES and
//!    protects the body), then the XML gives the B-TID and the key lifetime.
//!
//! A MAC failure on the card aborts with [`GbaError::NetworkAuthFailed`]; nothing is cached.

use super::cache::{ContextCache, ReusePolicy};
use super::card::{AkaCard, CardAka};
use super::context::{BootstrapContext, GbaMode};
use super::digest::{self, Challenge, Credentials, DigestInput};
use super::naf::NafId;
use super::transport::{HttpResponse, UbTransport};
use super::xml::BootstrappingInfo;
use super::{GbaError, time};
use crate::secret::{Secret, SecretVec};
use base64::Engine;
use std::time::SystemTime;

/// Product token a UE sends in User-Agent on every Ub request (TS 33.220 §4.5.2: "A UE shall
/// always include the product token "3gpp-gba-tmpi" in the user agent request-header field when
/// communicating over Ub"); a BSF that supports TMPI answers with it in its Server header.
pub const TOKEN_TMPI: &str = "3gpp-gba-tmpi";
/// Product token of a UE that bootstraps in GBA_U (TS 24.109 §4.3). Our BSF also puts it in its
/// Server header when the subscription makes it run GBA_U (see [`bsf_gba_u`]).
pub const TOKEN_UICC: &str = "3gpp-gba-uicc";
/// Our BSF's Server token for "this bootstrap runs as GBA_ME" (our convention, not a 3GPP token:
/// TS 33.220 keeps the Ub messages identical for GBA_U and GBA_ME).
pub const TOKEN_ME: &str = "simbridge-gba-me";

/// The product tokens of a Server header (`product[/version]` tokens, comments in parentheses
/// dropped). Empty when the header is absent.
pub fn server_tokens(resp: &HttpResponse) -> Vec<&str> {
    let Some(v) = resp.header("server") else {
        return Vec::new();
    };
    let mut depth = 0usize;
    v.split(|c: char| {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        c.is_whitespace() || c == '(' || c == ')' || depth > 0
    })
    .filter(|t| !t.is_empty())
    .collect()
}

/// What the BSF says it decided for this subscriber, from its Server header: `Some(true)` GBA_U
/// (`3gpp-gba-uicc`), `Some(false)` GBA_ME ([`TOKEN_ME`]), `None` when it says neither (any BSF
/// but ours). TS 33.220 §5 leaves the choice to the BSF (from the user's GBA security settings)
/// and keeps the Ub messages identical, so the header is the only place a BSF can tell; a BSF
/// that does not is taken to follow the card's capability, and Ks_ext_NAF equals the GBA_ME
/// Ks_NAF anyway.
pub fn bsf_gba_u(resp: &HttpResponse) -> Option<bool> {
    let tokens = server_tokens(resp);
    let has = |t: &str| tokens.iter().any(|x| x.eq_ignore_ascii_case(t));
    if has(TOKEN_UICC) {
        Some(true)
    } else if has(TOKEN_ME) {
        Some(false)
    } else {
        None
    }
}

/// Which GBA flavour to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GbaModeChoice {
    /// GBA_U when the card supports it, else GBA_ME.
    #[default]
    Auto,
    /// Always GBA_ME (3G context; CK/IK leave the card).
    Me,
    /// Always GBA_U (GBA context; fails on a card without it).
    U,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct UbConfig {
    /// BSF URL, e.g. `http://bsf.mnc001.mcc001.pub.3gppnetwork.org/`.
    pub bsf_url: String,
    /// GBA_ME / GBA_U selection.
    pub mode: GbaModeChoice,
    /// Product token sent before the GBA tokens in User-Agent.
    pub product: String,
    /// How many AUTS resynchronisations to allow in one bootstrap.
    pub max_resyncs: u32,
    /// Send hex(RES) as the Digest password instead of the raw octets of RFC 3310 §3.4, for
    /// BSFs that hex-encode.
    pub hex_res_password: bool,
}

impl UbConfig {
    /// Defaults for a BSF URL.
    pub fn new(bsf_url: &str) -> Self {
        Self {
            bsf_url: bsf_url.to_string(),
            mode: GbaModeChoice::Auto,
            product: concat!("simbridge/", env!("CARGO_PKG_VERSION")).to_string(),
            max_resyncs: 2,
            hex_res_password: false,
        }
    }
}

/// A completed bootstrap.
#[derive(Debug)]
pub struct UbOutcome {
    /// The new context.
    pub context: BootstrapContext,
    /// HTTP request/response pairs used.
    pub round_trips: u32,
    /// AUTS resynchronisations done.
    pub resyncs: u32,
}

/// Splits an http(s) URL into (host without port, path); the realm is the host.
fn split_url(url: &str) -> Result<(String, String), GbaError> {
    let bad = || GbaError::BadUrl(url.chars().take(200).collect());
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or("/"),
        ),
        None => (rest, "/"),
    };
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    Ok((host.to_string(), path.to_string()))
}

fn random_hex(n: usize) -> Result<String, GbaError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(GbaError::Random)?;
    Ok(hex::encode(b))
}

fn short(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// Reads the 401 challenge: Digest AKAv1-MD5 with qop auth-int; returns it with RAND and AUTN.
fn read_challenge(resp: &HttpResponse) -> Result<(Challenge, [u8; 16], [u8; 16]), GbaError> {
    if resp.status != 401 {
        return Err(GbaError::Refused {
            status: resp.status,
            reason: short(&resp.body),
        });
    }
    let header = resp
        .header("www-authenticate")
        .ok_or_else(|| GbaError::Protocol("401 without WWW-Authenticate".into()))?;
    let ch = Challenge::parse(header)?;
    if !ch.algorithm.eq_ignore_ascii_case(digest::ALGORITHM) {
        return Err(GbaError::Protocol(format!(
            "algorithm {:?}, expected {}",
            ch.algorithm,
            digest::ALGORITHM
        )));
    }
    if !ch.qop.iter().any(|q| q == digest::QOP_AUTH_INT) {
        return Err(GbaError::Protocol(
            "the BSF does not offer qop=auth-int".into(),
        ));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(ch.nonce.as_bytes())
        .map_err(|_| GbaError::Protocol("nonce is not base64".into()))?;
    let rand: [u8; 16] = raw
        .get(..16)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| GbaError::Protocol("nonce shorter than RAND ‖ AUTN".into()))?;
    let autn: [u8; 16] = raw
        .get(16..32)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| GbaError::Protocol("nonce shorter than RAND ‖ AUTN".into()))?;
    Ok((ch, rand, autn))
}

/// The mode to run AKA in once the BSF's challenge says what the subscription decided
/// ([`bsf_gba_u`]): `Auto` follows it (GBA_U only on a card that supports it); an explicit choice
/// stays, with a WARN when the BSF disagrees; a BSF that says nothing leaves the mode alone.
fn follow_bsf(
    mode: GbaMode,
    choice: GbaModeChoice,
    card_gba_u: bool,
    bsf: Option<bool>,
) -> GbaMode {
    let Some(bsf_u) = bsf else {
        return mode;
    };
    let wanted = if bsf_u { GbaMode::U } else { GbaMode::Me };
    if wanted == mode {
        return mode;
    }
    match choice {
        GbaModeChoice::Auto if bsf_u && !card_gba_u => {
            log::warn!(
                "Ub: the subscription says GBA_U but the card does not support it; running GBA_ME"
            );
            GbaMode::Me
        }
        GbaModeChoice::Auto => {
            log::info!(
                "Ub: the BSF runs {} for this subscription; the card bootstraps in it",
                wanted.as_str()
            );
            wanted
        }
        GbaModeChoice::Me | GbaModeChoice::U => {
            log::warn!(
                "Ub: the BSF runs {} for this subscription but {} was asked for; keeping it",
                wanted.as_str(),
                mode.as_str()
            );
            mode
        }
    }
}

/// Checks the 200 OK's Authentication-Info. Missing: accepted with a WARN (RFC 2617 makes the
/// header optional, and some BSFs leave it out; the B-TID is then unauthenticated, but a forged
/// one only makes the NAF refuse the key, since the keys come from RES). Present: `rspauth` must
/// verify, in the qop=auth-int form (covers the body) or the qop=auth form (does not; WARN), and
/// an echoed `cnonce` must be ours.
fn verify_rspauth(
    ok: &HttpResponse,
    input: &DigestInput<'_>,
    password: &[u8],
    cnonce: &str,
) -> Result<(), GbaError> {
    let Some(info) = ok.header("authentication-info") else {
        log::warn!(
            "Ub: the BSF's 200 OK has no Authentication-Info, so it did not prove it knows RES; \
             accepting the bootstrap (the NAF will refuse the key if the answer was forged)"
        );
        return Ok(());
    };
    let params = digest::parse_authentication_info(info)?;
    let got = digest::param(&params, "rspauth").ok_or_else(|| {
        GbaError::BsfNotAuthenticated("Authentication-Info without rspauth".into())
    })?;
    if digest::param(&params, "cnonce").is_some_and(|c| c != cnonce) {
        return Err(GbaError::BsfNotAuthenticated("cnonce not echoed".into()));
    }
    let qop = digest::param(&params, "qop").unwrap_or(digest::QOP_AUTH_INT);
    let int_ok = !qop.eq_ignore_ascii_case(digest::QOP_AUTH)
        && digest::digests_equal(got, &digest::rspauth(input, password, &ok.body));
    if int_ok {
        return Ok(());
    }
    if digest::digests_equal(got, &digest::rspauth_auth(input, password)) {
        log::warn!(
            "Ub: the BSF's rspauth is in the qop=auth form: it proves the BSF knew RES but does not cover the body"
        );
        return Ok(());
    }
    Err(GbaError::BsfNotAuthenticated(
        "rspauth does not verify".into(),
    ))
}

/// The Ub link of one bootstrap: every request carries the same User-Agent, and the round trips
/// are counted for [`UbOutcome`].
struct UbLink<'a> {
    transport: &'a mut dyn UbTransport,
    url: &'a str,
    user_agent: String,
    round_trips: u32,
}

impl UbLink<'_> {
    /// Sends one GET with these credentials.
    fn send(&mut self, creds: &Credentials) -> Result<HttpResponse, GbaError> {
        self.round_trips += 1;
        let headers = vec![
            ("User-Agent".to_string(), self.user_agent.clone()),
            ("Authorization".to_string(), creds.to_header()),
        ];
        self.transport.get(self.url, &headers)
    }
}

/// The mode asked for before the BSF has said anything: `Auto` follows the card.
fn initial_mode(choice: GbaModeChoice, card_gba_u: bool) -> GbaMode {
    match choice {
        GbaModeChoice::Auto if card_gba_u => GbaMode::U,
        GbaModeChoice::Auto | GbaModeChoice::Me => GbaMode::Me,
        GbaModeChoice::U => GbaMode::U,
    }
}

/// The User-Agent of every Ub request: the product, then the GBA tokens of `mode`.
fn user_agent(product: &str, mode: GbaMode) -> String {
    match mode {
        GbaMode::Me => format!("{product} {TOKEN_TMPI}"),
        GbaMode::U => format!("{product} {TOKEN_TMPI} {TOKEN_UICC}"),
    }
}

/// A DEBUG line when the BSF's first answer does not announce TMPI support.
fn note_tmpi(resp: &HttpResponse) {
    if !server_tokens(resp)
        .iter()
        .any(|t| t.eq_ignore_ascii_case(TOKEN_TMPI))
    {
        log::debug!("Ub: the BSF does not announce {TOKEN_TMPI} in a Server header");
    }
}

/// Runs AKA on the card in `mode`: 3G AUTHENTICATE for GBA_ME, GBA bootstrap for GBA_U.
fn run_aka(
    card: &mut dyn AkaCard,
    mode: GbaMode,
    rand: &[u8; 16],
    autn: &[u8; 16],
) -> Result<CardAka, GbaError> {
    Ok(match mode {
        GbaMode::Me => card.authenticate(rand, autn)?,
        GbaMode::U => card.gba_bootstrap(rand, autn)?,
    })
}

/// The credentials answering challenge `ch` (qop=auth-int), without the response digest yet.
fn answer_credentials(input: &DigestInput<'_>, ch: &Challenge) -> Credentials {
    Credentials {
        username: input.username.to_string(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: input.uri.to_string(),
        response: String::new(),
        qop: Some(digest::QOP_AUTH_INT.into()),
        nc: Some(input.nc.into()),
        cnonce: Some(input.cnonce.to_string()),
        opaque: ch.opaque.clone(),
        algorithm: Some(digest::ALGORITHM.into()),
        auts: None,
    }
}

/// The Digest password from RES: its raw octets (RFC 3310 §3.4), or hex for BSFs that want it.
fn res_password(cfg: &UbConfig, res: SecretVec) -> SecretVec {
    if cfg.hex_res_password {
        SecretVec::new(hex::encode(res.expose()).into_bytes())
    } else {
        res
    }
}

/// Whether the BSF answered with a fresh challenge flagged stale=TRUE (our answer came too late:
/// a slow card, a slow link).
fn is_stale(resp: &HttpResponse) -> bool {
    resp.status == 401
        && resp
            .header("www-authenticate")
            .and_then(|h| Challenge::parse(h).ok())
            .is_some_and(|c| c.stale)
}

/// Accepts the BSF's final answer: a 200 OK whose rspauth verifies, with a lifetime after `now`.
/// Returns the B-TID and the expiry.
fn accept_answer(
    ok: &HttpResponse,
    input: &DigestInput<'_>,
    password: &[u8],
    now: SystemTime,
) -> Result<(String, SystemTime), GbaError> {
    if ok.status != 200 {
        return Err(GbaError::Refused {
            status: ok.status,
            reason: short(&ok.body),
        });
    }
    verify_rspauth(ok, input, password, input.cnonce)?;
    let body = BootstrappingInfo::parse(&ok.body)?;
    let expires = time::parse_xs_datetime(&body.lifetime)?;
    if expires <= now {
        return Err(GbaError::AlreadyExpired(body.lifetime));
    }
    Ok((body.btid, expires))
}

/// The Ks to keep: CK ‖ IK from the card in GBA_ME (which must have given them), none in GBA_U.
fn me_ks(mode: GbaMode, ks: Option<Secret<32>>) -> Result<Option<Secret<32>>, GbaError> {
    match mode {
        GbaMode::Me => {
            Ok(Some(ks.ok_or_else(|| {
                GbaError::Card("3G AKA gave no CK/IK".into())
            })?))
        }
        GbaMode::U => Ok(None),
    }
}

/// Runs one bootstrap against the BSF. `now` is only used to check the lifetime it gives.
pub fn bootstrap(
    card: &mut dyn AkaCard,
    transport: &mut dyn UbTransport,
    cfg: &UbConfig,
    now: SystemTime,
) -> Result<UbOutcome, GbaError> {
    let impi = card.impi();
    let mode = initial_mode(cfg.mode, card.supports_gba_u());
    let (host, uri) = split_url(&cfg.bsf_url)?;
    let mut ub = UbLink {
        transport,
        url: &cfg.bsf_url,
        user_agent: user_agent(&cfg.product, mode),
        round_trips: 0,
    };
    let first = Credentials {
        username: impi.clone(),
        realm: host,
        nonce: String::new(),
        uri: uri.clone(),
        ..Default::default()
    };
    let mut resp = ub.send(&first)?;
    note_tmpi(&resp);
    let mut rounds = Rounds {
        card,
        cfg,
        now,
        impi,
        uri,
        mode,
        resyncs: 0,
        stale_retries: 0,
    };
    loop {
        match rounds.answer(&mut ub, &resp)? {
            Round::Again(next) => resp = next,
            Round::Done(context) => {
                return Ok(UbOutcome {
                    context,
                    round_trips: ub.round_trips,
                    resyncs: rounds.resyncs,
                });
            }
        }
    }
}

/// What answering one challenge led to.
enum Round {
    /// The BSF sent another challenge (after a resynchronisation, or a stale answer).
    Again(HttpResponse),
    /// The bootstrap is done.
    Done(BootstrapContext),
}

/// One bootstrap's state across its challenges.
struct Rounds<'a> {
    card: &'a mut dyn AkaCard,
    cfg: &'a UbConfig,
    now: SystemTime,
    impi: String,
    uri: String,
    mode: GbaMode,
    resyncs: u32,
    stale_retries: u32,
}

impl Rounds<'_> {
    /// Answers the BSF's challenge in `resp`: AKA on the card, then the Digest answer (with AUTS
    /// on a sync failure; once more on a stale challenge).
    fn answer(&mut self, ub: &mut UbLink<'_>, resp: &HttpResponse) -> Result<Round, GbaError> {
        let (ch, rand, autn) = read_challenge(resp)?;
        let card_u = self.card.supports_gba_u();
        self.mode = follow_bsf(self.mode, self.cfg.mode, card_u, bsf_gba_u(resp));
        let result = run_aka(&mut *self.card, self.mode, &rand, &autn)?;
        let cnonce = random_hex(16)?;
        let input = DigestInput {
            username: &self.impi,
            realm: &ch.realm,
            nonce: &ch.nonce,
            nc: "00000001",
            cnonce: &cnonce,
            uri: &self.uri,
        };
        let mut creds = answer_credentials(&input, &ch);
        match result {
            CardAka::MacFailure => Err(GbaError::NetworkAuthFailed),
            CardAka::SyncFailure { auts } => {
                self.resyncs += 1;
                if self.resyncs > self.cfg.max_resyncs {
                    return Err(GbaError::TooManyResyncs(self.cfg.max_resyncs));
                }
                // RFC 3310 §3.4: with AUTS the password is empty.
                creds.response = digest::request_digest(&input, b"", "GET", b"");
                creds.auts = Some(base64::engine::general_purpose::STANDARD.encode(auts));
                Ok(Round::Again(ub.send(&creds)?))
            }
            CardAka::Success { res, ks } => {
                let res = res_password(self.cfg, res);
                creds.response = digest::request_digest(&input, res.expose(), "GET", b"");
                let ok = ub.send(&creds)?;
                // Run AKA once more on a stale challenge.
                if is_stale(&ok) && self.stale_retries < 1 {
                    self.stale_retries += 1;
                    return Ok(Round::Again(ok));
                }
                let (btid, expires) = accept_answer(&ok, &input, res.expose(), self.now)?;
                let ks = me_ks(self.mode, ks)?;
                Ok(Round::Done(self.context(rand, btid, expires, ks)))
            }
        }
    }

    /// The new context; in GBA_U, B-TID and lifetime also go to the card.
    fn context(
        &mut self,
        rand: [u8; 16],
        btid: String,
        expires: SystemTime,
        ks: Option<Secret<32>>,
    ) -> BootstrapContext {
        if self.mode == GbaMode::U {
            // TS 33.220 Annex G: the ME stores B-TID and lifetime on the card, so any
            // later user of the card can tell which bootstrap its Ks belongs to.
            write_gba_params(&mut *self.card, &rand, &btid, expires);
        }
        BootstrapContext {
            btid,
            rand,
            impi: self.impi.clone(),
            expires,
            created: self.now,
            mode: self.mode,
            bsf_url: self.cfg.bsf_url.clone(),
            ks,
        }
    }
}

/// Writes B-TID and lifetime into EF_GBABP; a card that refuses only costs the later check.
fn write_gba_params(card: &mut dyn AkaCard, rand: &[u8; 16], btid: &str, expires: SystemTime) {
    match card.store_gba_params(rand, btid, &time::format_utc(expires)) {
        Ok(true) => log::debug!("GBA_U: B-TID and lifetime written to EF_GBABP"),
        Ok(false) => log::info!(
            "GBA_U: B-TID not written to EF_GBABP (the card has none, or already holds a newer bootstrap)"
        ),
        Err(e) => log::warn!("GBA_U: {}", crate::error_chain::chain(&e)),
    }
}

/// Why a cached GBA_U context no longer matches the card (TS 31.102 §4.2.79: EF_GBABP holds the
/// RAND of the card's last bootstrap and the B-TID the ME wrote for it), or `None` when it does
/// or the card cannot tell. A RAND without a B-TID (the write after our bootstrap did not
/// happen) is completed now.
fn card_mismatch(card: &mut dyn AkaCard, ctx: &BootstrapContext) -> Option<String> {
    let bp = match card.gba_params() {
        Ok(Some(bp)) => bp,
        Ok(None) => return None,
        Err(e) => {
            log::warn!(
                "GBA_U: cannot check the card's bootstrap ({}); using the cached context",
                crate::error_chain::chain(&e)
            );
            return None;
        }
    };
    if bp.rand != ctx.rand {
        return Some(
            "the card's EF_GBABP holds another RAND: the card was bootstrapped again since \
             (another process, state directory or the modem's own GBA)"
                .into(),
        );
    }
    if bp.btid.is_empty() {
        write_gba_params(card, &ctx.rand, &ctx.btid, ctx.expires);
        return None;
    }
    if bp.btid != ctx.btid.as_bytes() {
        return Some(format!(
            "the card's EF_GBABP names B-TID {:?}, not ours",
            String::from_utf8_lossy(&bp.btid)
                .chars()
                .take(80)
                .collect::<String>()
        ));
    }
    None
}

/// A context from the cache or a fresh bootstrap.
#[derive(Debug)]
pub struct Obtained {
    /// The context.
    pub context: BootstrapContext,
    /// True when a bootstrap ran (false: reused from the cache).
    pub bootstrapped: bool,
    /// HTTP round trips spent (0 when reused).
    pub round_trips: u32,
}

/// How the cache is used: where it is, when a context is reused, and whether a context from
/// another BSF URL than `UbConfig::bsf_url` is acceptable (`any_bsf`, when the user named none).
#[derive(Debug, Clone, Copy)]
pub struct CacheUse<'a> {
    /// The cache.
    pub cache: &'a ContextCache,
    /// Reuse policy (margin, force).
    pub policy: ReusePolicy,
    /// Accept a cached context from any BSF.
    pub any_bsf: bool,
}

/// The cached context for the card's IMPI when it is still usable under the policy (and comes
/// from `cfg.bsf_url` unless `any_bsf`), else a new bootstrap, stored in the cache. Nothing is
/// stored when the bootstrap fails.
pub fn obtain_context(
    card: &mut dyn AkaCard,
    transport: &mut dyn UbTransport,
    cfg: &UbConfig,
    cache: &CacheUse<'_>,
    now: SystemTime,
) -> Result<Obtained, GbaError> {
    let impi = card.impi();
    let wanted_mode = match cfg.mode {
        GbaModeChoice::Auto => None,
        GbaModeChoice::Me => Some(GbaMode::Me),
        GbaModeChoice::U => Some(GbaMode::U),
    };
    let bsf = (!cache.any_bsf).then_some(cfg.bsf_url.as_str());
    if let Some(ctx) = cache.cache.reusable(&impi, bsf, now, cache.policy)? {
        if wanted_mode.is_none_or(|m| m == ctx.mode) {
            let mismatch = match ctx.mode {
                GbaMode::U => card_mismatch(card, &ctx),
                GbaMode::Me => None,
            };
            match mismatch {
                None => {
                    return Ok(Obtained {
                        context: ctx,
                        bootstrapped: false,
                        round_trips: 0,
                    });
                }
                Some(why) => log::info!(
                    "cached GBA_U context {} not used: {why}; bootstrapping again",
                    ctx.btid
                ),
            }
        }
    }
    let out = bootstrap(card, transport, cfg, now)?;
    cache.cache.store(&out.context)?;
    Ok(Obtained {
        context: out.context,
        bootstrapped: true,
        round_trips: out.round_trips,
    })
}

/// The NAF key for `naf` from a cached or new context. A GBA_U card that no longer holds the Ks
/// of the cached context (a card reset, another bootstrap elsewhere) triggers one re-bootstrap.
pub fn naf_key(
    card: &mut dyn AkaCard,
    transport: &mut dyn UbTransport,
    cfg: &UbConfig,
    cache: &CacheUse<'_>,
    now: SystemTime,
    naf: &NafId,
) -> Result<(Obtained, Secret<32>), GbaError> {
    let got = obtain_context(card, transport, cfg, cache, now)?;
    match got.context.naf_key(Some(&mut *card), naf) {
        Ok(k) => Ok((got, k)),
        Err(e) if e.card_failed() && !got.bootstrapped => {
            log::info!(
                "card could not derive the NAF key from the cached context ({}); bootstrapping again",
                crate::error_chain::chain(&e)
            );
            let forced = CacheUse {
                policy: ReusePolicy {
                    force: true,
                    ..cache.policy
                },
                ..*cache
            };
            let again = obtain_context(card, transport, cfg, &forced, now)?;
            let k = again.context.naf_key(Some(card), naf)?;
            Ok((again, k))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
