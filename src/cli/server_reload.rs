//! SIGHUP for `server`: re-read and check the configuration file; the static keys and the key
//! API's BSF URL, token and CA apply live (from the next handshake or lookup; established
//! sessions keep their keys and carry on); everything else (addresses, state directory, suites,
//! limits, the NAF FQDNs and Ua id, the metrics address) is named in the log as needing a
//! restart. A file that no longer loads changes nothing: the error is logged, the server runs on.

use crate::config::ServerConfigFile;
use crate::config::key_api::KeyApiConfig;
use simbridge::bridge::NafKeys;
use simbridge::gba::key_api::client::KeyApiClient;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long the server waits for the key API's answer.
pub const KEY_API_TIMEOUT: Duration = Duration::from_secs(10);

/// The key-API client for `[keys]` (the CA file's errors name the configuration file).
pub fn key_api_client(config: &Path, k: &KeyApiConfig) -> Result<Arc<KeyApiClient>, String> {
    let tls = simbridge::gba::transport::tls_config(k.ca_file.as_deref()).map_err(|e| {
        format!(
            "{}: keys.ca_file: {}",
            config.display(),
            simbridge::error_chain::chain(&e)
        )
    })?;
    Ok(Arc::new(KeyApiClient::with_tls(
        &k.url,
        k.token.clone(),
        KEY_API_TIMEOUT,
        tls,
    )))
}

/// What a reload compares with.
pub struct ServerReloader {
    path: PathBuf,
    running: ServerConfigFile,
}

impl ServerReloader {
    /// A reloader for the server started from `path` with `running`.
    pub fn new(path: &Path, running: ServerConfigFile) -> Self {
        Self {
            path: path.to_path_buf(),
            running,
        }
    }

    /// Re-reads the file, applies what can change live to `keys` and logs the rest.
    pub fn reload(&mut self, keys: &NafKeys) {
        let file = self.path.display().to_string();
        let new = match ServerConfigFile::load(&self.path) {
            Ok(c) => c,
            Err(e) => {
                log::error!(
                    "SIGHUP: {e}; nothing changed: the running configuration stays and the sessions carry on"
                );
                return;
            }
        };
        let mut live = Vec::new();
        let mut restart = needs_restart(&self.running, &new);
        if !same_statics(&self.running.static_keys, &new.static_keys) {
            keys.set_statics(new.static_keys.iter().cloned().collect());
            live.push(format!(
                "keys.static ({} identities)",
                new.static_keys.len()
            ));
            self.running.static_keys = new.static_keys.clone();
        }
        if let (Some(old), Some(k)) = (&self.running.key_api, &new.key_api) {
            let changed: Vec<&str> = [
                ("keys.bsf", old.url != k.url),
                ("keys.token_file", old.token.expose() != k.token.expose()),
                ("keys.ca_file", old.ca_file != k.ca_file),
            ]
            .into_iter()
            .filter_map(|(name, c)| c.then_some(name))
            .collect();
            if !changed.is_empty() {
                match key_api_client(&self.path, k) {
                    Ok(client) if keys.set_key_api_client(client.clone()) => {
                        if k.insecure_http {
                            log::warn!(
                                "key API {} over plain http:// to a host that is not loopback (insecure_http = true): the bearer token and session keys cross the network in clear",
                                k.url
                            );
                        }
                        live.push(format!("{} (key API now {})", changed.join(", "), k.url));
                        if let Some(r) = self.running.key_api.as_mut() {
                            r.url = k.url.clone();
                            r.token = k.token.clone();
                            r.ca_file = k.ca_file.clone();
                        }
                    }
                    Ok(_) => restart.push("[keys] key API".into()),
                    Err(e) => {
                        log::error!("SIGHUP: {e}; the key API stays {}", old.url);
                    }
                }
            }
        }
        if live.is_empty() && restart.is_empty() {
            log::info!("SIGHUP: {file} re-read: unchanged; sessions kept");
        }
        if !live.is_empty() {
            log::info!(
                "SIGHUP: {file}: applied {} from the next handshake; the established sessions carry on",
                live.join(", ")
            );
        }
        if !restart.is_empty() {
            log::warn!(
                "SIGHUP: {file}: {} changed: a restart applies it (systemctl restart simbridge-server; with state_dir the sessions continue across it); until then the old settings stay",
                restart.join(", ")
            );
        }
    }
}

/// Same identities with the same keys.
fn same_statics(
    a: &[(Vec<u8>, simbridge::secret::SecretVec)],
    b: &[(Vec<u8>, simbridge::secret::SecretVec)],
) -> bool {
    let map = |v: &[(Vec<u8>, simbridge::secret::SecretVec)]| {
        let mut m: Vec<(Vec<u8>, Vec<u8>)> = v
            .iter()
            .map(|(id, k)| (id.clone(), k.expose().to_vec()))
            .collect();
        m.sort();
        m
    };
    let (mut x, mut y) = (map(a), map(b));
    let same = x == y;
    for (_, k) in x.iter_mut().chain(y.iter_mut()) {
        zeroize::Zeroize::zeroize(k);
    }
    same
}

/// The keys that differ between the running and the new configuration and that only a restart
/// applies.
fn needs_restart(old: &ServerConfigFile, new: &ServerConfigFile) -> Vec<String> {
    let mut out = Vec::new();
    let mut differs = |name: &str, c: bool| {
        if c {
            out.push(name.to_string());
        }
    };
    differs("listen", old.listen != new.listen);
    differs("backend", old.backend != new.backend);
    differs("state_dir", old.state_dir != new.state_dir);
    differs("suites", old.suites != new.suites);
    differs("dtls", old.dtls != new.dtls);
    differs("tickets", old.tickets != new.tickets);
    differs("psk_importers", old.psk_importers != new.psk_importers);
    differs("hint", old.hint != new.hint);
    differs(
        "max_connections",
        old.max_connections != new.max_connections,
    );
    differs(
        "max_handshaking",
        old.max_handshaking != new.max_handshaking,
    );
    differs("idle_timeout_secs", old.idle_timeout != new.idle_timeout);
    differs(
        "max_per_identity",
        old.max_per_identity != new.max_per_identity,
    );
    differs(
        "max_per_address",
        old.max_per_address != new.max_per_address,
    );
    differs("metrics", old.metrics != new.metrics);
    match (&old.key_api, &new.key_api) {
        (None, None) => {}
        (None, Some(_)) => differs("[keys] key API (added)", true),
        (Some(_), None) => differs("[keys] key API (removed)", true),
        (Some(a), Some(b)) => {
            differs("keys.naf", a.nafs != b.nafs);
            differs("keys.ua_id", a.ua != b.ua);
            differs(
                "keys.accept_bare_btid",
                a.accept_bare_btid != b.accept_bare_btid,
            );
            differs("keys.gba_u_aware", a.gba_u_aware != b.gba_u_aware);
            differs("keys.lookup_workers", a.lookup.workers != b.lookup.workers);
            differs(
                "keys.negative_cache_secs",
                a.lookup.negative_ttl != b.lookup.negative_ttl,
            );
        }
    }
    out
}
