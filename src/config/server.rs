//! The steps of [`ServerConfigFile`](super::ServerConfigFile)'s validation: the key API, the
//! static keys, and the limits. Each error names the file and the key.

use super::key_api::{self, KeyApiConfig};
use super::{ConfigError, ServerFile, ServerKeysConfig, invalid, read_key_file, read_token};
use simbridge::secret::SecretVec;
use std::path::Path;
use std::time::Duration;

/// `[keys]`' key API: `bsf` and `token_file` together, or neither.
pub(super) fn key_api(
    path: &Path,
    keys: &ServerKeysConfig,
) -> Result<Option<KeyApiConfig>, ConfigError> {
    match (&keys.bsf, &keys.token_file) {
        (Some(url), Some(tf)) => {
            let token = read_token(path, tf)?;
            Ok(Some(key_api::validate(path, keys, url, token)?))
        }
        (Some(_), None) => Err(invalid(
            path,
            "keys.token_file",
            "missing (the key API needs the bearer token)",
        )),
        (None, Some(_)) => Err(invalid(
            path,
            "keys.bsf",
            "missing (token_file given without the BSF URL)",
        )),
        (None, None) => Ok(None),
    }
}

/// `[[keys.static]]`: each identity with the key of its file.
pub(super) fn static_keys(
    path: &Path,
    keys: &ServerKeysConfig,
) -> Result<Vec<(Vec<u8>, SecretVec)>, ConfigError> {
    keys.static_keys
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok((
                s.identity.as_bytes().to_vec(),
                read_key_file(path, &format!("keys.static[{i}].key_file"), &s.key_file)?,
            ))
        })
        .collect()
}

/// `max_handshaking` must stay below `max_connections` (given or the default), so that
/// established sessions keep room.
pub(super) fn max_handshaking(path: &Path, f: &ServerFile) -> Result<Option<usize>, ConfigError> {
    match (
        f.max_handshaking,
        f.max_connections
            .unwrap_or(simbridge::dtls::config::DEFAULT_MAX_CONNECTIONS),
    ) {
        (Some(h), m) if h >= m => Err(invalid(
            path,
            "max_handshaking",
            format!("must be below max_connections ({m}), so that established sessions keep room"),
        )),
        (h, _) => Ok(h),
    }
}

/// `idle_timeout_secs`: at least 1.
pub(super) fn idle_timeout(path: &Path, f: &ServerFile) -> Result<Option<Duration>, ConfigError> {
    match f.idle_timeout_secs {
        Some(0) => Err(invalid(path, "idle_timeout_secs", "must be at least 1")),
        s => Ok(s.map(Duration::from_secs)),
    }
}

/// `protection`: `"dtls"` (the default) or `"oscore"`. OSCORE contexts are established with
/// GBA keys only, so it needs the key API and takes no static keys, suites or hint.
pub(super) fn protection(
    path: &Path,
    f: &ServerFile,
    has_key_api: bool,
    has_statics: bool,
) -> Result<bool, ConfigError> {
    match f.protection.as_deref() {
        None | Some("dtls") => {
            if f.max_contexts.is_some() {
                return Err(invalid(
                    path,
                    "max_contexts",
                    "for protection = \"oscore\" only",
                ));
            }
            Ok(false)
        }
        Some("oscore") => {
            if !has_key_api {
                return Err(invalid(
                    path,
                    "keys",
                    "protection = \"oscore\" establishes contexts with GBA keys: give the key API (bsf, token_file, naf)",
                ));
            }
            let dtls_only = [
                ("keys.static", has_statics),
                ("suites", f.suites.is_some()),
                ("hint", f.hint.is_some()),
            ];
            if let Some((key, _)) = dtls_only.iter().find(|(_, set)| *set) {
                return Err(invalid(
                    path,
                    *key,
                    "a DTLS setting; remove it for protection = \"oscore\"",
                ));
            }
            if f.max_contexts == Some(0) {
                return Err(invalid(path, "max_contexts", "must be at least 1"));
            }
            Ok(true)
        }
        Some(other) => Err(invalid(
            path,
            "protection",
            format!("{other:?}: expected \"dtls\" or \"oscore\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::ServerConfigFile;

    fn load(dir: &std::path::Path, body: &str) -> Result<ServerConfigFile, String> {
        let token = dir.join("token");
        std::fs::write(&token, "t\n").map_err(|e| e.to_string())?;
        #[cfg(unix)]
        std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        let text = format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:9\"\n{body}\n[keys]\nbsf = \"http://127.0.0.1:1\"\ntoken_file = \"{}\"\nnaf = \"n.example\"\n",
            token.display()
        );
        let p = dir.join("s.toml");
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
        ServerConfigFile::load(&p).map_err(|e| e.to_string())
    }

    #[test]
    fn protection_takes_dtls_or_oscore_and_oscore_refuses_dtls_settings() {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(!load(d.path(), "").expect("dtls by default").oscore);
        let c = load(d.path(), "protection = \"oscore\"").expect("oscore");
        assert!(c.oscore);
        assert_eq!(c.max_contexts, 100_000);
        let cases = [
            ("protection = \"tls\"", "protection"),
            (
                "protection = \"oscore\"\nsuites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]",
                "suites",
            ),
            ("protection = \"oscore\"\nhint = \"x\"", "hint"),
            ("protection = \"oscore\"\nmax_contexts = 0", "max_contexts"),
            ("max_contexts = 5", "max_contexts"),
        ];
        for (body, key) in cases {
            let e = load(d.path(), body).expect_err(body);
            assert!(e.contains("s.toml") && e.contains(key), "{body}: {e}");
        }
    }
}
