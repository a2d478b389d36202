//! The key API for servers (NAFs), modelled on Nbsp_GBA (TS 29.309) in JSON instead of Zn's
//! Diameter: `POST /nbsp-gba/v1/bootstrapping-info-retrieval` with
//! `{"btId": …, "nafId": {"nafFqdn": …, "uaSecProtId": "<10 hex>"}, "gbaUAware": bool?}` gives
//! `{"meKeyMaterial", "uiccKeyMaterial"?, "keyExpiryTime", "bootstrappingInfoCreationTime",
//! "impi", "gbaType"}`.
//!
//! Key material is **lower-case hex** (64 digits = the raw 32 bytes of Ks_NAF / Ks_ext_NAF; the
//! DTLS PSK is those bytes). `uiccKeyMaterial` (Ks_int_NAF) is present only for a context made in
//! GBA_U when the caller says `gbaUAware: true`. Times are RFC 3339 UTC.
//!
//! Only callers presenting `Authorization: Bearer <token>` of one of the BSF's NAF credentials
//! ([`super::nafs`]) are served, and only for the NAF FQDNs of that credential (TS 33.220);
//! `impi` is in the answer only for credentials allowed it. Status codes: 200; 400 bad
//! JSON, NAF_Id or B-TID; 401 missing or wrong token; 403 an FQDN outside the credential's list
//! (`cause` NAF_NOT_AUTHORIZED, checked before the B-TID so it tells nothing about it; logged at
//! WARN with the credential's name and the FQDN); 404 unknown, superseded or expired B-TID
//! (`cause` BTID_NOT_FOUND / BTID_EXPIRED); 405 not POST; 413 body over 64 KiB.

use super::nafs::NafCredential;
use super::store::{ContextStore, Lookup};
use super::ub::Reply;
use simbridge::gba::{NafId, UaId, kdf, time};
use simbridge::secret::SecretVec;

use std::time::SystemTime;

pub use simbridge::gba::key_api::{
    KEY_API_PATH, KeyRequest, KeyResponse, MAX_KEY_REQUEST, NafIdJson,
};

/// The key API over bearer-token NAF credentials.
pub struct KeyApi {
    credentials: Vec<NafCredential>,
}

impl std::fmt::Debug for KeyApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyApi(..)")
    }
}

fn problem(status: u16, cause: &str, detail: &str) -> Reply {
    let body = serde_json::json!({ "status": status, "cause": cause, "detail": detail })
        .to_string()
        .into_bytes();
    Reply {
        status,
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body,
    }
}

impl KeyApi {
    /// A key API accepting `token` for every NAF, with the IMPI ([`NafCredential::any_naf`]:
    /// the demo and tests).
    pub fn new(token: SecretVec) -> Self {
        Self::with_credentials(vec![NafCredential::any_naf(token)])
    }

    /// A key API for these NAF credentials.
    pub fn with_credentials(credentials: Vec<NafCredential>) -> Self {
        Self { credentials }
    }

    fn authorized(&self, authorization: Option<&str>) -> Result<&NafCredential, Reply> {
        let unauthorized = |err: &str| {
            let mut r = problem(401, "UNAUTHORIZED", "a valid bearer token is required");
            r.headers.push((
                "WWW-Authenticate".into(),
                format!("Bearer realm=\"simbridge-bsf\"{err}"),
            ));
            r
        };
        let Some(h) = authorization else {
            return Err(unauthorized(""));
        };
        let (scheme, tok) = h.trim().split_once(' ').unwrap_or((h, ""));
        let tok = tok.trim().as_bytes();
        // Every credential is compared, in constant time each, so timing says nothing about which.
        let mut found = None;
        for c in &self.credentials {
            let want = c.token.expose();
            let same =
                tok.len() == want.len() && bool::from(subtle::ConstantTimeEq::ct_eq(tok, want));
            if same && found.is_none() {
                found = Some(c);
            }
        }
        match found {
            Some(c) if scheme.eq_ignore_ascii_case("bearer") => Ok(c),
            _ => Err(unauthorized(", error=\"invalid_token\"")),
        }
    }

    /// Handles one call. `body` must already be bounded by [`MAX_KEY_REQUEST`] (the server
    /// answers 413 itself when it is not).
    pub fn handle(
        &self,
        store: &ContextStore,
        method: &str,
        authorization: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Reply {
        if method != "POST" {
            let mut r = problem(405, "METHOD_NOT_ALLOWED", "use POST");
            r.headers.push(("Allow".into(), "POST".into()));
            return r;
        }
        let cred = match self.authorized(authorization) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let req: KeyRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return problem(400, "INVALID_MSG_FORMAT", &e.to_string()),
        };
        let naf = match UaId::from_hex(&req.naf_id.ua_sec_prot_id)
            .and_then(|ua| NafId::new(&req.naf_id.naf_fqdn, ua))
        {
            Ok(n) => n,
            Err(e) => return problem(400, "INVALID_NAF_ID", &e.to_string()),
        };
        if !cred.allows(naf.fqdn()) {
            log::warn!(
                "key API: NAF credential {:?} asked a key for \"{}\", outside its FQDNs: refused (403)",
                cred.name,
                simbridge::gba::ids::escape_for_log(naf.fqdn().as_bytes())
            );
            return problem(
                403,
                "NAF_NOT_AUTHORIZED",
                "this NAF credential may not ask keys for the requested NAF FQDN",
            );
        }
        if req.bt_id.is_empty() || req.bt_id.len() > 1024 {
            return problem(400, "INVALID_BTID", "btId must be 1 to 1024 characters");
        }
        let ctx = match store.lookup(&req.bt_id, now) {
            Lookup::Found(c) => c,
            Lookup::Expired => {
                return problem(404, "BTID_EXPIRED", "the bootstrapping context has expired");
            }
            Lookup::Unknown => {
                return problem(404, "BTID_NOT_FOUND", "no such bootstrapping context");
            }
        };
        let keys = kdf::ks_naf(&ctx.ks, &ctx.rand, &ctx.impi, &naf).and_then(|me| {
            let uicc = if ctx.gba_u && req.gba_u_aware {
                Some(kdf::ks_int_naf(&ctx.ks, &ctx.rand, &ctx.impi, &naf)?)
            } else {
                None
            };
            Ok((me, uicc))
        });
        let (me, uicc) = match keys {
            Ok(k) => k,
            Err(e) => return problem(400, "INVALID_NAF_ID", &e.to_string()),
        };
        let resp = KeyResponse {
            me_key_material: hex::encode(me.expose()),
            uicc_key_material: uicc.map(|k| hex::encode(k.expose())),
            key_expiry_time: time::format_utc(ctx.expires),
            bootstrapping_info_creation_time: time::format_utc(ctx.created),
            impi: cred.impi.then(|| ctx.impi.clone()),
            gba_type: "3G_GBA".into(),
        };
        match serde_json::to_vec(&resp) {
            Ok(body) => Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body,
            },
            Err(e) => problem(500, "SYSTEM_FAILURE", &e.to_string()),
        }
    }
}
