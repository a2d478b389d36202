//! The key-API part of the server's `[keys]` table, validated into [`KeyApiConfig`] with errors
//! that name the file and the key (`keys.naf`, `keys.bsf`, `keys.ca_file`, …).

use super::{ConfigError, ServerKeysConfig, check_ca_file, invalid};
use serde::Deserialize;
use simbridge::gba::UaId;
use simbridge::secret::SecretVec;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One value or a list of them (`naf = "a"` or `naf = ["a", "b"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// As a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// The validated key-API part of `[keys]`.
#[derive(Debug, Clone)]
pub struct KeyApiConfig {
    /// BSF base URL.
    pub url: String,
    /// Bearer token.
    pub token: SecretVec,
    /// The NAF FQDNs this server is (at least one; the first when there is no SNI).
    pub nafs: Vec<String>,
    /// Fixed Ua id.
    pub ua: Option<UaId>,
    /// Accept bare B-TIDs.
    pub accept_bare_btid: bool,
    /// Serve Ks_int_NAF for `-uicc` identities.
    pub gba_u_aware: bool,
    /// Bounds of the key lookups.
    pub lookup: simbridge::bridge::key_lookup::LookupSettings,
    /// TLS trust for an https:// key API (the CA file's name in errors).
    pub ca_file: Option<PathBuf>,
    /// http:// to a non-loopback host was allowed by `insecure_http = true`: WARN at start.
    pub insecure_http: bool,
}

/// Whether `url` (http:// or https://) names a loopback host: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Validates the key-API settings of `[keys]` (`bsf = url`, its token already read).
pub(super) fn validate(
    path: &Path,
    keys: &ServerKeysConfig,
    url: &str,
    token: SecretVec,
) -> Result<KeyApiConfig, ConfigError> {
    let nafs = nafs(path, keys)?;
    let ua = keys
        .ua_id
        .as_deref()
        .map(|u| UaId::from_hex(u).map_err(|e| invalid(path, "keys.ua_id", e.to_string())))
        .transpose()?;
    let lookup = lookup_settings(path, keys)?;
    let insecure = check_url(path, keys, url)?;
    if let Some(ca) = &keys.ca_file {
        check_ca_file(path, "keys.ca_file", ca)?;
    }
    Ok(KeyApiConfig {
        lookup,
        ca_file: keys.ca_file.clone(),
        insecure_http: insecure,
        url: url.to_string(),
        token,
        nafs,
        ua,
        accept_bare_btid: keys.accept_bare_btid.unwrap_or(false),
        gba_u_aware: keys.gba_u_aware.unwrap_or(false),
    })
}

/// `keys.naf`: one or more host names, required.
fn nafs(path: &Path, keys: &ServerKeysConfig) -> Result<Vec<String>, ConfigError> {
    let nafs = keys.naf.as_ref().map(OneOrMany::to_vec).ok_or_else(|| {
        invalid(
            path,
            "keys.naf",
            "missing (the FQDN clients use for this server)",
        )
    })?;
    if nafs.is_empty() {
        return Err(invalid(path, "keys.naf", "empty list"));
    }
    if let Some(bad) = nafs.iter().find(|n| !simbridge::gba::ids::check_fqdn(n)) {
        return Err(invalid(
            path,
            "keys.naf",
            format!("{bad:?} is not a host name"),
        ));
    }
    Ok(nafs)
}

/// `keys.lookup_workers` (1 to 64) and `keys.negative_cache_secs` (0 to 3600).
fn lookup_settings(
    path: &Path,
    keys: &ServerKeysConfig,
) -> Result<simbridge::bridge::key_lookup::LookupSettings, ConfigError> {
    let mut lookup = simbridge::bridge::key_lookup::LookupSettings::default();
    if let Some(w) = keys.lookup_workers {
        if !(1..=64).contains(&w) {
            return Err(invalid(
                path,
                "keys.lookup_workers",
                format!("{w}: must be 1 to 64"),
            ));
        }
        lookup.workers = w;
    }
    if let Some(n) = keys.negative_cache_secs {
        if n > 3600 {
            return Err(invalid(
                path,
                "keys.negative_cache_secs",
                format!("{n}: must be 0 to 3600"),
            ));
        }
        lookup.negative_ttl = Duration::from_secs(n);
    }
    Ok(lookup)
}

/// The key API URL must be http(s); plain http to a host that is not loopback needs
/// `keys.insecure_http = true`. Returns whether it is such an insecure URL.
fn check_url(path: &Path, keys: &ServerKeysConfig, url: &str) -> Result<bool, ConfigError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid(
            path,
            "keys.bsf",
            format!("{url:?} is not an http(s) URL"),
        ));
    }
    let insecure = url.starts_with("http://") && !is_loopback_url(url);
    if insecure && keys.insecure_http != Some(true) {
        return Err(invalid(
            path,
            "keys.bsf",
            format!(
                "{url:?}: the key API over plain http:// to a host that is not loopback would send the bearer token and the session keys in clear; use https:// (and ca_file), or set keys.insecure_http = true"
            ),
        ));
    }
    Ok(insecure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(toml_text: &str) -> ServerKeysConfig {
        toml::from_str(toml_text).expect("keys table")
    }

    fn check(toml_text: &str, url: &str) -> Result<KeyApiConfig, ConfigError> {
        validate(
            Path::new("s.toml"),
            &keys(toml_text),
            url,
            SecretVec::from(&b"t"[..]),
        )
    }

    #[test]
    fn loopback_urls() {
        assert!(is_loopback_url("http://127.0.0.1:8080/x") && is_loopback_url("http://[::1]:1"));
        assert!(is_loopback_url("https://LOCALHOST/") && is_loopback_url("http://127.9.9.9"));
        assert!(!is_loopback_url("http://10.0.0.1:80") && !is_loopback_url("http://[::2]:1"));
        assert!(!is_loopback_url("http://127.0.0.1.evil.example/"));
        assert!(!is_loopback_url("http://localhost@evil.example/"));
    }

    #[test]
    fn plain_http_to_a_remote_key_api_needs_insecure_http() {
        let e = check("naf = \"a.example\"", "http://bsf.example.net:8080")
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("s.toml") && e.contains("keys.bsf") && e.contains("insecure_http"),
            "{e}"
        );
        let c = check(
            "naf = \"a.example\"\ninsecure_http = true",
            "http://bsf.example.net:8080",
        )
        .expect("allowed");
        assert!(c.insecure_http);
        assert!(
            !check("naf = \"a.example\"", "http://127.0.0.1:1")
                .expect("loopback")
                .insecure_http
        );
        assert!(
            !check("naf = \"a.example\"", "https://bsf.example.net")
                .expect("tls")
                .insecure_http
        );
        let e = check("naf = \"a.example\"", "ftp://x")
            .expect_err("scheme")
            .to_string();
        assert!(e.contains("keys.bsf") && e.contains("http(s)"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (
                "naf = \"a.example\"\nca_file = \"/nonexistent/ca.pem\"",
                "keys.ca_file",
            ),
            (
                "naf = \"a.example\"\nlookup_workers = 0",
                "keys.lookup_workers",
            ),
            (
                "naf = \"a.example\"\nnegative_cache_secs = 4000",
                "keys.negative_cache_secs",
            ),
            ("naf = \"a.example\"\nua_id = \"xyz\"", "keys.ua_id"),
            ("naf = []", "keys.naf"),
        ] {
            let e = check(text, "http://127.0.0.1:1")
                .expect_err(key)
                .to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
        let c = check(
            "naf = \"a.example\"\nlookup_workers = 8\nnegative_cache_secs = 0",
            "http://127.0.0.1:1",
        )
        .expect("valid");
        assert_eq!(c.lookup.workers, 8);
        assert_eq!(c.lookup.negative_ttl, Duration::ZERO);
    }
}
