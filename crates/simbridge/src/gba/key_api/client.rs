//! The server (NAF) side of the key API: fetch Ks_(ext_)NAF for a B-TID and NAF_Id from a BSF
//! that speaks this key API ([`super::KeyRequest`], [`super::KeyResponse`]; ours is `simbridge_lab::bsf::keyapi`). Blocking, on `ureq`; a server's PSK lookup runs it off
//! its I/O loop and caches the result until `expires`.

use super::{KEY_API_PATH, KeyRequest, KeyResponse, NafIdJson};
use crate::gba::transport::{body_error, timed_out};
use crate::gba::{NafId, time};
use crate::secret::{Secret, SecretVec};
use std::io::Read;
use std::time::{Duration, SystemTime};

/// Key material for one (B-TID, NAF_Id).
#[derive(Debug)]
pub struct NafKeyMaterial {
    /// Ks_NAF (GBA_ME) or Ks_ext_NAF (GBA_U): the PSK.
    pub key: Secret<32>,
    /// Ks_int_NAF, when the context is GBA_U and it was asked for.
    pub uicc_key: Option<Secret<32>>,
    /// Key expiry.
    pub expires: SystemTime,
    /// The subscriber, when the BSF gives it to this NAF.
    pub impi: Option<String>,
}

/// Why a key could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum KeyFetchError {
    /// The BSF does not know the B-TID (the UE must bootstrap again).
    #[error("B-TID unknown to the BSF")]
    NotFound,
    /// The B-TID has expired (the UE must bootstrap again).
    #[error("B-TID expired")]
    Expired,
    /// The BSF refused our token.
    #[error("the BSF refused our bearer token")]
    Unauthorized,
    /// The BSF does not let our credential ask keys for this NAF FQDN.
    #[error("the BSF does not authorise this server for the NAF FQDN")]
    Forbidden,
    /// Network failure (connection, DNS, TLS, an answer cut short).
    #[error("cannot reach the BSF key API{}", crate::gba::transport::untrusted_hint(.0))]
    Http(#[source] ureq::Error),
    /// No answer within the request timeout.
    #[error("no answer from the key API at {url} within {secs} s")]
    NoAnswer {
        /// The key API URL.
        url: String,
        /// The timeout, in seconds.
        secs: f64,
    },
    /// The BSF answered with a server error (it may work later).
    #[error("cannot reach the BSF key API: the BSF answered HTTP {0}")]
    ServerError(u16),
    /// The BSF answered something unexpected.
    #[error("unexpected key API answer: {0}")]
    Protocol(String),
    /// The BSF's JSON could not be read.
    #[error("unexpected key API answer")]
    Json(#[source] serde_json::Error),
    /// The key expiry time could not be read.
    #[error("unexpected key API answer: keyExpiryTime")]
    Expiry(#[source] crate::gba::GbaError),
}

/// A key-API client.
pub struct KeyApiClient {
    url: String,
    token: SecretVec,
    agent: ureq::Agent,
    timeout: Duration,
}

impl std::fmt::Debug for KeyApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyApiClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn key32(hex_str: &str) -> Result<Secret<32>, KeyFetchError> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut b)
        .map_err(|_| KeyFetchError::Protocol("key material is not 64 hex digits".into()))?;
    let k = Secret::new(b);
    zeroize::Zeroize::zeroize(&mut b);
    Ok(k)
}

impl KeyApiClient {
    /// A client for the BSF at `base_url` (e.g. `http://127.0.0.1:8080`), with a request timeout
    /// (bundled Mozilla roots for HTTPS).
    pub fn new(base_url: &str, token: SecretVec, timeout: Duration) -> Self {
        Self::with_tls(
            base_url,
            token,
            timeout,
            ureq::tls::TlsConfig::builder().build(),
        )
    }

    /// The same with these TLS settings ([`crate::gba::transport::tls_config`]).
    pub fn with_tls(
        base_url: &str,
        token: SecretVec,
        timeout: Duration,
        tls: ureq::tls::TlsConfig,
    ) -> Self {
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .build();
        let url = format!("{}{KEY_API_PATH}", base_url.trim_end_matches('/'));
        Self {
            url,
            token,
            agent: ureq::Agent::new_with_config(config),
            timeout,
        }
    }

    /// The request took longer than the timeout: said with the URL and the limit (ureq's own
    /// text, "timeout: global", names neither).
    fn timed_out(&self) -> KeyFetchError {
        KeyFetchError::NoAnswer {
            url: self.url.clone(),
            secs: self.timeout.as_secs_f64(),
        }
    }

    /// Fetches the key for `btid` and `naf`.
    pub fn fetch(
        &self,
        btid: &str,
        naf: &NafId,
        gba_u_aware: bool,
    ) -> Result<NafKeyMaterial, KeyFetchError> {
        let req = KeyRequest {
            bt_id: btid.to_string(),
            naf_id: NafIdJson {
                naf_fqdn: naf.fqdn().to_string(),
                ua_sec_prot_id: naf.ua().to_hex(),
            },
            gba_u_aware,
        };
        let body = serde_json::to_vec(&req).map_err(KeyFetchError::Json)?;
        let mut auth = b"Bearer ".to_vec();
        auth.extend_from_slice(self.token.expose());
        let auth = SecretVec::new(auth);
        let auth_str = std::str::from_utf8(auth.expose())
            .map_err(|_| KeyFetchError::Protocol("token is not UTF-8".into()))?;
        let mut resp = self
            .agent
            .post(&self.url)
            .header("Authorization", auth_str)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map_err(|e| match e {
                e if timed_out(&e) => self.timed_out(),
                e => KeyFetchError::Http(e),
            })?;
        let status = resp.status().as_u16();
        let mut text = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(64 * 1024)
            .read_to_end(&mut text)
            .map_err(|e| match body_error(e) {
                e if timed_out(&e) => self.timed_out(),
                e => KeyFetchError::Http(e),
            })?;
        match status {
            200 => {}
            401 => return Err(KeyFetchError::Unauthorized),
            403 => return Err(KeyFetchError::Forbidden),
            404 => {
                let v: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
                return Err(if v["cause"] == "BTID_EXPIRED" {
                    KeyFetchError::Expired
                } else {
                    KeyFetchError::NotFound
                });
            }
            s if s >= 500 => return Err(KeyFetchError::ServerError(s)),
            s => return Err(KeyFetchError::Protocol(format!("HTTP {s}"))),
        }
        let r: KeyResponse = serde_json::from_slice(&text).map_err(KeyFetchError::Json)?;
        zeroize::Zeroize::zeroize(&mut text);
        Ok(NafKeyMaterial {
            key: key32(&r.me_key_material)?,
            uicc_key: r.uicc_key_material.as_deref().map(key32).transpose()?,
            expires: time::parse_utc(&r.key_expiry_time).map_err(KeyFetchError::Expiry)?,
            impi: r.impi.clone(),
        })
    }
}
