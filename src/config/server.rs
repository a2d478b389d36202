//! The steps of [`ServerConfigFile`](super::ServerConfigFile)'s validation: the key API, the
//! static keys, and the limits. Each error names the file and the key.

use super::key_api::{self, KeyApiConfig};
use super::{ConfigError, ServerFile, ServerKeysConfig, invalid, read_key_file, read_token};
use simbridge::bridge::early::{CoapMethod, EarlyPolicy};
use simbridge::dtls::{CipherSuite, Versions};
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

/// `psk_importers` (default false): imported PSKs exist only for DTLS 1.3 (RFC 9258 §5.1
/// forbids importing for DTLS 1.2), so it needs `dtls` to allow 1.3 and DTLS protection.
pub(super) fn psk_importers(
    path: &Path,
    f: &ServerFile,
    versions: Versions,
    oscore: bool,
) -> Result<bool, ConfigError> {
    let on = f.psk_importers.unwrap_or(false);
    if on && (oscore || !versions.allows_13()) {
        return Err(invalid(
            path,
            "psk_importers",
            "imported PSKs are for DTLS 1.3 only: needs dtls = \"1.3\" or \"auto\" and DTLS protection",
        ));
    }
    Ok(on)
}

/// A listener's 0-RTT settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyDataFile {
    /// What reaches the backend before the handshake completes (`early_data_forward`).
    pub forward: EarlyPolicy,
    /// The anti-replay window (`early_data_window_secs`).
    pub window: Duration,
}

/// `early_data` (default false) with `early_data_forward` and `early_data_window_secs`: 0-RTT
/// exists in DTLS 1.3 only and our server takes it only with one of its tickets (an external
/// PSK has no ticket age to judge a replay by), so it needs `dtls` to allow 1.3, DTLS
/// protection and `tickets = true`; the other two keys mean nothing without it.
pub(super) fn early_data(
    path: &Path,
    f: &ServerFile,
    versions: Versions,
    oscore: bool,
) -> Result<Option<EarlyDataFile>, ConfigError> {
    if !f.early_data.unwrap_or(false) {
        for (key, given) in [
            ("early_data_forward", f.early_data_forward.is_some()),
            ("early_data_window_secs", f.early_data_window_secs.is_some()),
        ] {
            if given {
                return Err(invalid(
                    path,
                    key,
                    "has no effect without early_data = true",
                ));
            }
        }
        return Ok(None);
    }
    if oscore || !versions.allows_13() {
        return Err(invalid(
            path,
            "early_data",
            "0-RTT is DTLS 1.3 only: needs dtls = \"1.3\" or \"auto\" and DTLS protection",
        ));
    }
    if !f.tickets.unwrap_or(false) {
        return Err(invalid(
            path,
            "early_data",
            "needs tickets = true (0-RTT is taken only with one of this server's tickets)",
        ));
    }
    let forward = match &f.early_data_forward {
        None => EarlyPolicy::default(),
        Some(names) => EarlyPolicy::new(
            &names
                .iter()
                .map(|n| CoapMethod::parse(n))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(path, "early_data_forward", e.to_string()))?,
        ),
    };
    let window = match f.early_data_window_secs {
        None => Duration::from_secs(10),
        Some(s @ 1..=3600) => Duration::from_secs(s),
        Some(s) => {
            return Err(invalid(
                path,
                "early_data_window_secs",
                format!("{s} is outside 1..=3600"),
            ));
        }
    };
    Ok(Some(EarlyDataFile { forward, window }))
}

/// `dtls`: `"1.2"`, `"1.3"` or `"auto"` (the default). When `suites` is not given, they are the
/// DTLS 1.2 defaults where 1.2 is served, then the DTLS 1.3 suites where 1.3 is
/// (`Versions::default_suites`); a listener must have a suite of every version it alone serves
/// (`"1.3"`: a 1.3 suite, `"1.2"`: a 1.2 suite).
pub(super) fn dtls_versions(
    path: &Path,
    f: &ServerFile,
    suites: &mut Vec<CipherSuite>,
) -> Result<Versions, ConfigError> {
    let versions = match f.dtls.as_deref() {
        None => Versions::Auto,
        Some(s) => s.parse().map_err(|_| {
            invalid(
                path,
                "dtls",
                format!("{s:?}: expected \"1.2\", \"1.3\" or \"auto\""),
            )
        })?,
    };
    if f.suites.is_none() {
        *suites = versions.default_suites(suites);
    }
    versions
        .check_suites(suites)
        .map_err(|e| invalid(path, "suites", format!("dtls = \"{versions}\": {e}")))?;
    Ok(versions)
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
                ("dtls", f.dtls.is_some()),
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

    #[test]
    fn tickets_are_off_by_default_and_a_boolean() {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(!load(d.path(), "").expect("default").tickets);
        assert!(load(d.path(), "tickets = true").expect("on").tickets);
        let e = load(d.path(), "tickets = 3600").expect_err("not a boolean");
        assert!(e.contains("tickets"), "{e}");
    }

    #[test]
    fn psk_importers_are_off_by_default_and_need_dtls_13() {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(!load(d.path(), "").expect("default").psk_importers);
        assert!(
            load(d.path(), "psk_importers = true")
                .expect("on")
                .psk_importers
        );
        let on_13 = load(d.path(), "psk_importers = true\ndtls = \"1.3\"").expect("1.3");
        assert!(on_13.psk_importers);
        for body in ["psk_importers = 1", "psk_importers = true\ndtls = \"1.2\""] {
            let e = load(d.path(), body).expect_err(body);
            assert!(e.contains("psk_importers"), "{body}: {e}");
        }
        assert!(
            !load(d.path(), "psk_importers = false\ndtls = \"1.2\"")
                .expect("off with 1.2")
                .psk_importers
        );
    }

    #[test]
    fn dtls_takes_versions_appends_13_suites_by_default_and_checks_suites() {
        use simbridge::bridge::early::{CoapMethod, EarlyPolicy};
        use simbridge::dtls::{CipherSuite, Versions};
        let d = tempfile::tempdir().expect("tempdir");
        let c = load(d.path(), "").expect("auto by default");
        assert_eq!(c.dtls, Versions::Auto);
        assert!(c.suites.ends_with(&CipherSuite::TLS13), "{:?}", c.suites);
        assert!(!c.suites[0].is_tls13(), "the 1.2 defaults stay first");
        let c = load(d.path(), "dtls = \"1.2\"").expect("1.2");
        assert_eq!(c.dtls, Versions::Dtls12);
        assert!(c.suites.iter().all(|s| !s.is_tls13()));
        let c = load(d.path(), "dtls = \"1.3\"").expect("1.3");
        assert_eq!(c.dtls, Versions::Dtls13);
        let c = load(
            d.path(),
            "dtls = \"1.3\"\nsuites = [\"TLS_AES_128_GCM_SHA256\"]",
        )
        .expect("a named 1.3 suite");
        assert_eq!(c.suites, vec![CipherSuite::Tls13Aes128GcmSha256]);
        let c = load(d.path(), "suites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]").expect("given");
        assert_eq!(
            c.suites,
            vec![CipherSuite::PskAes128Ccm8],
            "given suites stay as given"
        );
        let cases = [
            ("dtls = \"1.4\"", "dtls"),
            (
                "dtls = \"1.3\"\nsuites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]",
                "suites",
            ),
            (
                "dtls = \"1.2\"\nsuites = [\"TLS_AES_128_CCM_8_SHA256\"]",
                "suites",
            ),
            ("protection = \"oscore\"\ndtls = \"1.3\"", "dtls"),
        ];
        for (body, key) in cases {
            let e = load(d.path(), body).expect_err(body);
            assert!(e.contains("s.toml") && e.contains(key), "{body}: {e}");
        }
    }

    #[test]
    fn early_data_is_off_by_default_needs_tickets_and_1_3_and_names_bad_methods() {
        use simbridge::bridge::early::{CoapMethod, EarlyPolicy};
        let d = tempfile::tempdir().expect("tempdir");
        assert!(load(d.path(), "").expect("default").early_data.is_none());
        let on = load(d.path(), "tickets = true\nearly_data = true")
            .expect("on")
            .early_data
            .expect("early data on");
        assert_eq!(on.forward, EarlyPolicy::default());
        assert_eq!(on.window, std::time::Duration::from_secs(10));
        let given = load(
            d.path(),
            "tickets = true\nearly_data = true\nearly_data_forward = [\"get\", \"PUT\"]\nearly_data_window_secs = 3",
        )
        .expect("given")
        .early_data
        .expect("early data on");
        assert_eq!(given.forward.methods(), [CoapMethod::Get, CoapMethod::Put]);
        assert_eq!(given.window, std::time::Duration::from_secs(3));
        for (body, key, says) in [
            ("early_data = true", "early_data", "tickets = true"),
            (
                "tickets = true\nearly_data = true\ndtls = \"1.2\"",
                "early_data",
                "DTLS 1.3",
            ),
            (
                "tickets = true\nearly_data = true\nearly_data_forward = [\"OBSERVE\"]",
                "early_data_forward",
                "OBSERVE",
            ),
            (
                "tickets = true\nearly_data = true\nearly_data_window_secs = 0",
                "early_data_window_secs",
                "outside",
            ),
            (
                "early_data_forward = [\"GET\"]",
                "early_data_forward",
                "without early_data = true",
            ),
            ("early_data = 1", "early_data", ""),
        ] {
            let e = load(d.path(), body).expect_err(body);
            assert!(e.contains(key) && e.contains(says), "{body}: {e}");
        }
    }
}
