//! The server's TOML configuration (`simbridge server --config`), validated at start with errors
//! that name the file and the key. The shared helpers and [`ConfigError`] live in
//! [`super::config`], which re-exports everything here.

use super::config::{invalid, read, read_key_file, resolve, suites, ConfigError};
use crate::dtls::CipherSuite;
use crate::gba::UaId;
use crate::secret::SecretVec;
use serde::Deserialize;
use std::net::SocketAddr;
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

/// `[keys]` of the server.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerKeysConfig {
    /// BSF URL for the key API.
    pub bsf: Option<String>,
    /// File with the key API's bearer token.
    pub token_file: Option<PathBuf>,
    /// The NAF FQDNs this server is: one or a list; the first when the client sends no SNI.
    pub naf: Option<OneOrMany>,
    /// Accept a bare B-TID as PSK identity (default false).
    pub accept_bare_btid: Option<bool>,
    /// Serve `3GPP-bootstrapping-uicc` identities with Ks_int_NAF (default false: refused).
    pub gba_u_aware: Option<bool>,
    /// Key-lookup worker threads: BSF requests in flight at most (default 4, 1 to 64).
    pub lookup_workers: Option<usize>,
    /// Seconds an identity the BSF does not know is answered without asking again (default
    /// 30, 0 to 3600).
    pub negative_cache_secs: Option<u64>,
    /// For an https:// key API: trust only the CAs of this PEM bundle.
    pub ca_file: Option<PathBuf>,
    /// Allow the key API over http:// to a host that is not loopback (bearer token and keys in
    /// clear on the network; logged at WARN at every start). Default false.
    pub insecure_http: Option<bool>,
    /// Ua id (10 hex digits).
    pub ua_id: Option<String>,
    /// Static identities.
    #[serde(default, rename = "static")]
    pub static_keys: Vec<StaticKeyConfig>,
}

/// One static identity of the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticKeyConfig {
    /// psk_identity.
    pub identity: String,
    /// Hex key file.
    pub key_file: PathBuf,
}

/// The server's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// DTLS listen address.
    pub listen: String,
    /// Backend UDP address.
    pub backend: String,
    /// State directory (session export for graceful restart).
    pub state_dir: Option<PathBuf>,
    /// Suites in preference order.
    pub suites: Option<Vec<String>>,
    /// psk_identity_hint (e.g. "3GPP-bootstrapping"; omitted by default, it costs bytes).
    pub hint: Option<String>,
    /// Most connections.
    pub max_connections: Option<usize>,
    /// Close a connection whose peer sent nothing for this long (default 90000 = 25 h).
    pub idle_timeout_secs: Option<u64>,
    /// Connections per PSK identity (default 2; 0 = no cap).
    pub max_per_identity: Option<usize>,
    /// Connections per client IP address (default 0 = no cap: carrier-grade NAT).
    pub max_per_address: Option<usize>,
    /// PSKs.
    #[serde(default)]
    pub keys: ServerKeysConfig,
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
    pub lookup: crate::bridge::key_lookup::LookupSettings,
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

/// A validated server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfigFile {
    /// DTLS listen address.
    pub listen: SocketAddr,
    /// Backend.
    pub backend: SocketAddr,
    /// State directory.
    pub state_dir: Option<PathBuf>,
    /// Suites.
    pub suites: Vec<CipherSuite>,
    /// Hint.
    pub hint: Option<String>,
    /// Most connections.
    pub max_connections: Option<usize>,
    /// Idle timeout of established connections.
    pub idle_timeout: Option<Duration>,
    /// Connections per identity.
    pub max_per_identity: Option<usize>,
    /// Connections per address.
    pub max_per_address: Option<usize>,
    /// The key API.
    pub key_api: Option<KeyApiConfig>,
    /// Static keys.
    pub static_keys: Vec<(Vec<u8>, SecretVec)>,
}

impl ServerConfigFile {
    /// Loads and validates a server configuration.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read(path)?;
        let f: ServerFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let listen: SocketAddr = f
            .listen
            .parse()
            .map_err(|_| invalid(path, "listen", format!("{:?} is not IP:PORT", f.listen)))?;
        let backend = resolve(path, "backend", &f.backend)?;
        let key_api = match (&f.keys.bsf, &f.keys.token_file) {
            (Some(url), Some(tf)) => {
                let token = read_token(path, tf)?;
                let nafs = f.keys.naf.as_ref().map(OneOrMany::to_vec).ok_or_else(|| {
                    invalid(
                        path,
                        "keys.naf",
                        "missing (the FQDN clients use for this server)",
                    )
                })?;
                if nafs.is_empty() {
                    return Err(invalid(path, "keys.naf", "empty list"));
                }
                if let Some(bad) = nafs.iter().find(|n| !crate::bsf::nafs::check_fqdn(n)) {
                    return Err(invalid(
                        path,
                        "keys.naf",
                        format!("{bad:?} is not a host name"),
                    ));
                }
                let ua = f
                    .keys
                    .ua_id
                    .as_deref()
                    .map(|u| {
                        UaId::from_hex(u).map_err(|e| invalid(path, "keys.ua_id", e.to_string()))
                    })
                    .transpose()?;
                let mut lookup = crate::bridge::key_lookup::LookupSettings::default();
                if let Some(w) = f.keys.lookup_workers {
                    if !(1..=64).contains(&w) {
                        return Err(invalid(
                            path,
                            "keys.lookup_workers",
                            format!("{w}: must be 1 to 64"),
                        ));
                    }
                    lookup.workers = w;
                }
                if let Some(n) = f.keys.negative_cache_secs {
                    if n > 3600 {
                        return Err(invalid(
                            path,
                            "keys.negative_cache_secs",
                            format!("{n}: must be 0 to 3600"),
                        ));
                    }
                    lookup.negative_ttl = Duration::from_secs(n);
                }
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        path,
                        "keys.bsf",
                        format!("{url:?} is not an http(s) URL"),
                    ));
                }
                let insecure = url.starts_with("http://") && !is_loopback_url(url);
                if insecure && f.keys.insecure_http != Some(true) {
                    return Err(invalid(
                        path,
                        "keys.bsf",
                        format!(
                            "{url:?}: the key API over plain http:// to a host that is not loopback would send the bearer token and the session keys in clear; use https:// (and ca_file), or set keys.insecure_http = true"
                        ),
                    ));
                }
                if let Some(ca) = &f.keys.ca_file {
                    crate::gba::transport::tls_config(Some(ca))
                        .map_err(|e| invalid(path, "keys.ca_file", e))?;
                }
                Some(KeyApiConfig {
                    lookup,
                    ca_file: f.keys.ca_file.clone(),
                    insecure_http: insecure,
                    url: url.clone(),
                    token,
                    nafs,
                    ua,
                    accept_bare_btid: f.keys.accept_bare_btid.unwrap_or(false),
                    gba_u_aware: f.keys.gba_u_aware.unwrap_or(false),
                })
            }
            (Some(_), None) => {
                return Err(invalid(
                    path,
                    "keys.token_file",
                    "missing (the key API needs the bearer token)",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    path,
                    "keys.bsf",
                    "missing (token_file given without the BSF URL)",
                ))
            }
            (None, None) => None,
        };
        let mut static_keys = Vec::new();
        for (i, s) in f.keys.static_keys.iter().enumerate() {
            static_keys.push((
                s.identity.as_bytes().to_vec(),
                read_key_file(path, &format!("keys.static[{i}].key_file"), &s.key_file)?,
            ));
        }
        if key_api.is_none() && static_keys.is_empty() {
            return Err(invalid(
                path,
                "keys",
                "give the key API (bsf, token_file, naf) or [[keys.static]] entries",
            ));
        }
        let suites = suites(path, "suites", &f.suites, key_api.is_some())?;
        Ok(Self {
            listen,
            backend,
            state_dir: f.state_dir,
            suites,
            hint: f.hint,
            max_connections: f.max_connections,
            idle_timeout: match f.idle_timeout_secs {
                Some(0) => {
                    return Err(invalid(path, "idle_timeout_secs", "must be at least 1"));
                }
                s => s.map(Duration::from_secs),
            },
            max_per_identity: f.max_per_identity,
            max_per_address: f.max_per_address,
            key_api,
            static_keys,
        })
    }
}

fn read_token(cfg: &Path, file: &Path) -> Result<SecretVec, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        invalid(
            cfg,
            "keys.token_file",
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(invalid(
            cfg,
            "keys.token_file",
            format!("{} is empty", file.display()),
        ));
    }
    Ok(SecretVec::from(t.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn server_config_needs_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            dir.path(),
            "s.toml",
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:5683\"\n",
        );
        let e = ServerConfigFile::load(&p).expect_err("no keys").to_string();
        assert!(e.contains("`keys`"), "{e}");
        let tok = write(dir.path(), "tok", "secret\n");
        let p = write(
            dir.path(),
            "s2.toml",
            &format!("listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:5683\"\n[keys]\nbsf = \"http://x\"\ntoken_file = \"{}\"\n", tok.display()),
        );
        let e = ServerConfigFile::load(&p).expect_err("no naf").to_string();
        assert!(e.contains("keys.naf"), "{e}");
        let base = format!("listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:5683\"\n[keys]\nbsf = \"http://127.0.0.1:1\"\ntoken_file = \"{}\"\n", tok.display());
        let p = write(
            dir.path(),
            "s3.toml",
            &format!("{base}naf = \"a.example\"\n"),
        );
        let c = ServerConfigFile::load(&p).expect("one naf");
        let api = c.key_api.expect("key api");
        assert_eq!(api.nafs, vec!["a.example".to_string()]);
        assert!(!api.accept_bare_btid && !api.gba_u_aware);
        let p = write(
            dir.path(),
            "s4.toml",
            &format!("{base}naf = [\"a.example\", \"b.example\"]\naccept_bare_btid = true\ngba_u_aware = true\n"),
        );
        let api = ServerConfigFile::load(&p)
            .expect("list")
            .key_api
            .expect("key api");
        assert_eq!(
            api.nafs,
            vec!["a.example".to_string(), "b.example".to_string()]
        );
        assert!(api.accept_bare_btid && api.gba_u_aware);
        for (bad, want) in [
            ("naf = []", "empty list"),
            ("naf = [\"a b\"]", "not a host name"),
        ] {
            let p = write(dir.path(), "s5.toml", &format!("{base}{bad}\n"));
            let e = ServerConfigFile::load(&p).expect_err(bad).to_string();
            assert!(e.contains("keys.naf") && e.contains(want), "{e}");
        }
    }
}
