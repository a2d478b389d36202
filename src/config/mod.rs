//! TOML configuration of the gateway (`simbridge bridge --config`) and the server
//! (`simbridge server --config`), validated at start with errors that name the file and the key.
//! A few settings can be overridden from the environment (`SIMBRIDGE_STATE_DIR`, `SIMBRIDGE_BSF`,
//! `SIMBRIDGE_PIN`), which is how container and systemd deployments usually pass them.

mod gateway;
pub mod key_api;
mod route_session;
mod server;
pub use server::EarlyDataFile;
mod toml_error;

use serde::Deserialize;
use simbridge::dtls::config::RetransmitConfig;
use simbridge::dtls::{CipherSuite, Versions};
use simbridge::gba::UaId;
use simbridge::secret::SecretVec;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration error, naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type (the parser names the key and line).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value that parses but is not acceptable.
    #[error("{path}: key `{key}`: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted (`route[1].upstream`).
        key: String,
        /// What is wrong.
        problem: String,
    },
}

/// `[card]`: exactly one source.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CardConfig {
    /// Software USIM profile.
    pub softsim: Option<PathBuf>,
    /// PC/SC reader name ("" = the only reader with a card).
    pub reader: Option<String>,
    /// Modem AT port.
    pub modem: Option<PathBuf>,
    /// Modem serial speed.
    pub baud: Option<u32>,
    /// PIN1 (prefer `SIMBRIDGE_PIN` in the environment).
    pub pin: Option<String>,
}

/// `[gba]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GbaConfig {
    /// BSF URL.
    pub bsf: Option<String>,
    /// "auto" (GBA_U when the card has it), "me" or "u".
    pub mode: Option<String>,
    /// For an https:// BSF: trust only the CAs of this PEM bundle.
    pub ca_file: Option<PathBuf>,
}

/// `[session]`: policy knobs, all optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SessionKnobs {
    /// Datagrams queued while no session is ready.
    pub queue_limit: Option<usize>,
    /// Seconds before Ks expiry to start make-before-break.
    pub rekey_before_secs: Option<u64>,
    /// Seconds without an answer before suspecting a lost session (0 = never).
    pub suspect_after_secs: Option<u64>,
    /// First DTLS retransmission timeout in ms (RFC 6347: 1000; RFC 7925 slow links: 9000).
    pub retransmit_initial_ms: Option<u64>,
    /// Largest retransmission timeout in ms.
    pub retransmit_max_ms: Option<u64>,
    /// Largest UDP payload sent.
    pub mtu: Option<usize>,
    /// Ask the server for an RFC 9146 Connection ID (default true).
    pub connection_id: Option<bool>,
    /// DTLS 1.3 routes: a KeyUpdate after this many records sent (default: only at the
    /// confidentiality limit, RFC 9147 §4.5.3).
    pub key_update_records: Option<u64>,
}

/// `[metrics]`: the Prometheus text endpoint (simbridge::status::prometheus).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// IP:PORT serving `GET /metrics` (default 127.0.0.1:9464: loopback only).
    pub listen: Option<String>,
}

/// The default metrics address: loopback, the port commonly used for exporters of this kind.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";

fn metrics_listen(
    path: &Path,
    m: &Option<MetricsConfig>,
) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(m) = m else {
        return Ok(None);
    };
    let v = m.listen.as_deref().unwrap_or(DEFAULT_METRICS_LISTEN);
    v.parse().map(Some).map_err(|_| {
        invalid(
            path,
            "metrics.listen",
            format!("{v:?} is not IP:PORT (e.g. {DEFAULT_METRICS_LISTEN:?})"),
        )
    })
}

/// A route's PSK: "gba", or a static identity with a key file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PskConfig {
    /// `psk = "gba"` (or, in the C library only, `"host"`).
    Named(String),
    /// `psk = { identity = "...", key_file = "..." }`.
    Static {
        /// psk_identity.
        identity: String,
        /// File holding the key as hex.
        key_file: PathBuf,
    },
}

/// `[[route]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Local UDP address to listen on.
    pub listen: String,
    /// Upstream DTLS server, HOST:PORT.
    pub upstream: String,
    /// The PSK.
    pub psk: PskConfig,
    /// NAF FQDN for GBA and SNI (default: the host of `upstream`).
    pub naf: Option<String>,
    /// Ua security protocol id, 10 hex digits (default: `01 00 01` + the suite).
    pub ua_id: Option<String>,
    /// Cipher suites by IANA name, in preference order.
    pub suites: Option<Vec<String>>,
    /// `"dtls"` (the default) or `"oscore"`: CoAP protected end to end, no handshake.
    pub protection: Option<String>,
    /// The DTLS version: `"1.2"` (the default), `"1.3"` or `"auto"`.
    pub dtls: Option<String>,
    /// DTLS 1.3: offer the PSK imported per RFC 9258 (default false; the server must import).
    pub psk_importers: Option<bool>,
    /// DTLS 1.3 only: 0-RTT with the server's last ticket after a loss of session state
    /// (default false).
    pub early_data: Option<bool>,
}

/// The gateway's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFile {
    /// State directory (bootstrapping contexts, sessions).
    pub state_dir: Option<PathBuf>,
    /// The card.
    #[serde(default)]
    pub card: CardConfig,
    /// GBA.
    #[serde(default)]
    pub gba: GbaConfig,
    /// Session policy.
    #[serde(default)]
    pub session: SessionKnobs,
    /// Routes.
    #[serde(default)]
    pub route: Vec<RouteConfig>,
    /// Prometheus endpoint (off when absent).
    pub metrics: Option<MetricsConfig>,
}

/// A validated route.
#[derive(Debug, Clone)]
pub struct ValidRoute {
    /// As configured.
    pub name: String,
    /// Local address.
    pub listen: SocketAddr,
    /// Resolved upstream.
    pub upstream: SocketAddr,
    /// `Some(fqdn)` for GBA.
    pub gba_naf: Option<String>,
    /// Fixed Ua id.
    pub ua: Option<UaId>,
    /// Static identity and key.
    pub static_psk: Option<(Vec<u8>, SecretVec)>,
    /// `psk = "host"`: the embedding application gives the key (C library only).
    pub host_psk: bool,
    /// Suites.
    pub suites: Vec<CipherSuite>,
    /// SNI to send.
    pub sni: Option<String>,
    /// `protection = "oscore"`: OSCORE under a GBA-established context instead of DTLS.
    pub oscore: bool,
    /// The DTLS version of the upstream session.
    pub dtls: Versions,
    /// DTLS 1.3: the PSK imported per RFC 9258.
    pub psk_importers: bool,
    /// DTLS 1.3: 0-RTT after a loss of session state (`early_data`).
    pub early_data: bool,
}

/// A validated gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// State directory.
    pub state_dir: PathBuf,
    /// The card.
    pub card: CardConfig,
    /// BSF URL (required when a route uses GBA).
    pub bsf: Option<String>,
    /// GBA mode: "auto", "me", "u".
    pub gba_mode: String,
    /// `[gba] ca_file`: for an https:// BSF, trust only these CAs (checked at load).
    pub gba_ca_file: Option<PathBuf>,
    /// Session knobs.
    pub session: SessionKnobs,
    /// Routes.
    pub routes: Vec<ValidRoute>,
    /// Where to serve metrics (`None`: nowhere).
    pub metrics: Option<SocketAddr>,
}

pub(super) fn invalid(
    path: &Path,
    key: impl Into<String>,
    problem: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        key: key.into(),
        problem: problem.into(),
    }
}

/// A `ca_file` setting that does not give a usable CA bundle, as an error naming the setting.
pub(super) fn check_ca_file(path: &Path, key: &str, ca: &Path) -> Result<(), ConfigError> {
    simbridge::gba::transport::tls_config(Some(ca))
        .map(drop)
        .map_err(|e| invalid(path, key, simbridge::error_chain::chain(&e).to_string()))
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn resolve(path: &Path, key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.to_socket_addrs()
        .map_err(|e| invalid(path, key, format!("{v:?} is not HOST:PORT ({e})")))?
        .next()
        .ok_or_else(|| invalid(path, key, format!("{v:?} resolves to no address")))
}

fn host_of(v: &str) -> String {
    let host = v.rsplit_once(':').map(|(h, _)| h).unwrap_or(v);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// A GBA route's suites when the configuration names none, in offer order: the first is what the
/// bridge negotiates with a server that has it (and what `simbridge psk` shows by default).
pub const GBA_DEFAULT_SUITES: [CipherSuite; 2] = [
    CipherSuite::EcdhePskAes128Ccm8Sha256,
    CipherSuite::PskAes128Ccm8,
];

fn suites(
    path: &Path,
    key: &str,
    names: &Option<Vec<String>>,
    gba: bool,
) -> Result<Vec<CipherSuite>, ConfigError> {
    match names {
        Some(list) => {
            if list.is_empty() {
                return Err(invalid(path, key, "empty list"));
            }
            list.iter()
                .map(|n| {
                    CipherSuite::from_name(n)
                        .ok_or_else(|| invalid(path, key, format!("unknown cipher suite {n:?}")))
                })
                .collect()
        }
        // GBA keys: 3GPP's TLS profile wants (EC)DHE-PSK, so it goes first; plain CCM_8 stays
        // for servers without it (TS 33.222 sec. 5.4, RFC 8442; docs/sources.md sec. 9).
        None if gba => Ok(GBA_DEFAULT_SUITES.to_vec()),
        None => Ok(vec![CipherSuite::PskAes128Ccm8]),
    }
}

/// Reads a hex key file (whitespace ignored); the error names the config key that pointed to it.
pub fn read_key_file(cfg: &Path, key: &str, file: &Path) -> Result<SecretVec, ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| invalid(cfg, key, format!("cannot read {}: {e}", file.display())))?;
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = hex::decode(&clean).map_err(|_| {
        invalid(
            cfg,
            key,
            format!("{} does not hold a hex key", file.display()),
        )
    })?;
    if bytes.is_empty() || bytes.len() > 64 {
        return Err(invalid(
            cfg,
            key,
            format!(
                "{}: a PSK has 1 to 64 bytes, found {}",
                file.display(),
                bytes.len()
            ),
        ));
    }
    Ok(SecretVec::new(bytes))
}

impl GatewayConfig {
    /// Loads and validates a gateway configuration; environment overrides apply.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read(path)?;
        Self::from_toml(path, &text)
    }

    /// Parses and validates a gateway configuration given as text; `origin` names it in errors
    /// (a file name, or what the embedding application calls it). Environment overrides apply.
    pub fn from_toml(origin: &Path, text: &str) -> Result<Self, ConfigError> {
        let f: GatewayFile =
            toml::from_str(text).map_err(|e| toml_error::plain(origin, text, &e))?;
        Self::validate(origin, f, false)
    }

    /// [`GatewayConfig::from_toml`] for an embedding application (the C library): a route may
    /// also say `psk = "host"`, the application then gives its key.
    pub fn from_toml_for_host(origin: &Path, text: &str) -> Result<Self, ConfigError> {
        let f: GatewayFile =
            toml::from_str(text).map_err(|e| toml_error::plain(origin, text, &e))?;
        Self::validate(origin, f, true)
    }

    fn validate(path: &Path, mut f: GatewayFile, host_keys: bool) -> Result<Self, ConfigError> {
        gateway::apply_env(&mut f);
        let state_dir = f
            .state_dir
            .or_else(simbridge::gba::default_state_dir)
            .ok_or_else(|| invalid(path, "state_dir", "missing (and no $HOME for a default)"))?;
        if f.route.is_empty() {
            return Err(invalid(path, "route", "no [[route]] given"));
        }
        let routes = f
            .route
            .iter()
            .enumerate()
            .map(|(i, r)| gateway::route(path, i, r, host_keys))
            .collect::<Result<Vec<_>, _>>()?;
        let needs_gba = routes.iter().any(|r| r.gba_naf.is_some());
        gateway::check_gba_needs(path, &f.card, &f.gba, needs_gba)?;
        let gba_mode = gateway::gba_mode(path, &f.gba)?;
        check_knobs(path, &f.session)?;
        if let Some(ca) = &f.gba.ca_file {
            check_ca_file(path, "gba.ca_file", ca)?;
        }
        let metrics = metrics_listen(path, &f.metrics)?;
        Ok(Self {
            state_dir,
            card: f.card,
            bsf: f.gba.bsf,
            gba_mode,
            gba_ca_file: f.gba.ca_file,
            session: f.session,
            routes,
            metrics,
        })
    }
}

fn check_knobs(path: &Path, s: &SessionKnobs) -> Result<(), ConfigError> {
    if s.queue_limit == Some(0) {
        return Err(invalid(path, "session.queue_limit", "must be at least 1"));
    }
    if let Some(m) = s.mtu {
        if !(simbridge::dtls::config::MIN_MTU..=65_507).contains(&m) {
            return Err(invalid(
                path,
                "session.mtu",
                format!("{m}: must be {} to 65507", simbridge::dtls::config::MIN_MTU),
            ));
        }
    }
    if let (Some(a), Some(b)) = (s.retransmit_initial_ms, s.retransmit_max_ms) {
        if a > b {
            return Err(invalid(
                path,
                "session.retransmit_initial_ms",
                "larger than retransmit_max_ms",
            ));
        }
    }
    if s.retransmit_initial_ms == Some(0) {
        return Err(invalid(
            path,
            "session.retransmit_initial_ms",
            "must be above 0",
        ));
    }
    if s.key_update_records == Some(0) {
        return Err(invalid(
            path,
            "session.key_update_records",
            "must be at least 1 (leave it out for a KeyUpdate only at the limit)",
        ));
    }
    Ok(())
}

impl SessionKnobs {
    /// The DTLS retransmission policy these knobs give.
    pub fn retransmit(&self) -> RetransmitConfig {
        let d = RetransmitConfig::default();
        RetransmitConfig {
            initial: self
                .retransmit_initial_ms
                .map(Duration::from_millis)
                .unwrap_or(d.initial),
            max: self
                .retransmit_max_ms
                .map(Duration::from_millis)
                .unwrap_or(d.max),
            max_retransmits: d.max_retransmits,
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
    pub naf: Option<key_api::OneOrMany>,
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
    /// Most connections still handshaking (default: a quarter of max_connections, at most 2500).
    pub max_handshaking: Option<usize>,
    /// Close a connection whose peer sent nothing for this long (default 90000 = 25 h).
    pub idle_timeout_secs: Option<u64>,
    /// Connections per PSK identity (default 2; 0 = no cap).
    pub max_per_identity: Option<usize>,
    /// Connections per client IP address (default 0 = no cap: carrier-grade NAT).
    pub max_per_address: Option<usize>,
    /// `"dtls"` (the default) or `"oscore"`: gateways establish OSCORE contexts, no DTLS.
    pub protection: Option<String>,
    /// OSCORE: most contexts at once (default 100,000).
    pub max_contexts: Option<usize>,
    /// DTLS versions served: `"1.2"`, `"1.3"` or `"auto"` (the default: DTLS 1.3 to clients
    /// that offer it, 1.2 to the others).
    pub dtls: Option<String>,
    /// DTLS 1.3 session tickets (default false): a NewSessionTicket after every DTLS 1.3
    /// handshake, taken back once to resume.
    pub tickets: Option<bool>,
    /// RFC 9258 PSK importers for DTLS 1.3 (default false): an imported identity is looked up
    /// by its external identity and the GBA key imported before the binder check.
    pub psk_importers: Option<bool>,
    /// DTLS 1.3 0-RTT early data (default false; needs `tickets = true`).
    pub early_data: Option<bool>,
    /// CoAP methods whose early data reaches the backend before the handshake completes
    /// (default `["GET", "FETCH"]`); the rest waits for it.
    pub early_data_forward: Option<Vec<String>>,
    /// The anti-replay window of 0-RTT, seconds (default 10).
    pub early_data_window_secs: Option<u64>,
    /// PSKs.
    #[serde(default)]
    pub keys: ServerKeysConfig,
    /// Prometheus endpoint (off when absent).
    pub metrics: Option<MetricsConfig>,
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
    /// Most connections still handshaking.
    pub max_handshaking: Option<usize>,
    /// Idle timeout of established connections.
    pub idle_timeout: Option<Duration>,
    /// Connections per identity.
    pub max_per_identity: Option<usize>,
    /// Connections per address.
    pub max_per_address: Option<usize>,
    /// The key API.
    pub key_api: Option<key_api::KeyApiConfig>,
    /// Static keys.
    pub static_keys: Vec<(Vec<u8>, SecretVec)>,
    /// Where to serve metrics (`None`: nowhere).
    pub metrics: Option<SocketAddr>,
    /// `protection = "oscore"`.
    pub oscore: bool,
    /// OSCORE: most contexts at once.
    pub max_contexts: usize,
    /// DTLS versions served (`dtls`).
    pub dtls: simbridge::dtls::Versions,
    /// DTLS 1.3 tickets issued and taken (`tickets`).
    pub tickets: bool,
    /// RFC 9258 imported PSKs taken beside plain ones (`psk_importers`).
    pub psk_importers: bool,
    /// 0-RTT accepted (`early_data`, `early_data_forward`, `early_data_window_secs`); `None`:
    /// off.
    pub early_data: Option<EarlyDataFile>,
}

impl ServerConfigFile {
    /// Loads and validates a server configuration.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read(path)?;
        let f: ServerFile =
            toml::from_str(&text).map_err(|e| toml_error::plain(path, &text, &e))?;
        let listen: SocketAddr = f
            .listen
            .parse()
            .map_err(|_| invalid(path, "listen", format!("{:?} is not IP:PORT", f.listen)))?;
        let backend = resolve(path, "backend", &f.backend)?;
        let key_api = server::key_api(path, &f.keys)?;
        let static_keys = server::static_keys(path, &f.keys)?;
        if key_api.is_none() && static_keys.is_empty() {
            return Err(invalid(
                path,
                "keys",
                "give the key API (bsf, token_file, naf) or [[keys.static]] entries",
            ));
        }
        let oscore = server::protection(path, &f, key_api.is_some(), !static_keys.is_empty())?;
        let mut suites = suites(path, "suites", &f.suites, key_api.is_some())?;
        let dtls = server::dtls_versions(path, &f, &mut suites)?;
        let metrics = metrics_listen(path, &f.metrics)?;
        let max_handshaking = server::max_handshaking(path, &f)?;
        let idle_timeout = server::idle_timeout(path, &f)?;
        let psk_importers = server::psk_importers(path, &f, dtls, oscore)?;
        let early_data = server::early_data(path, &f, dtls, oscore)?;
        Ok(Self {
            listen,
            backend,
            state_dir: f.state_dir,
            suites,
            hint: f.hint,
            max_connections: f.max_connections,
            max_handshaking,
            idle_timeout,
            max_per_identity: f.max_per_identity,
            max_per_address: f.max_per_address,
            key_api,
            static_keys,
            metrics,
            oscore,
            max_contexts: f.max_contexts.unwrap_or(100_000),
            dtls,
            tickets: f.tickets.unwrap_or(false),
            psk_importers,
            early_data,
        })
    }
}

/// The key API's bearer token: the same rules as the BSF's token files (mode 0600, printable,
/// not empty); the error names `keys.token_file` and the file.
fn read_token(cfg: &Path, file: &Path) -> Result<SecretVec, ConfigError> {
    simbridge_lab::bsf::nafs::read_token_file(file)
        .map_err(|e| invalid(cfg, "keys.token_file", e.to_string()))
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
    fn gateway_config_errors_name_file_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = write(dir.path(), "k.hex", "00112233445566778899aabbccddeeff\n");
        let ok = format!(
            "state_dir = \"{0}\"\n[[route]]\nlisten = \"127.0.0.1:5683\"\nupstream = \"127.0.0.1:5684\"\npsk = {{ identity = \"dev\", key_file = \"{1}\" }}\n",
            dir.path().display(),
            key.display()
        );
        let p = write(dir.path(), "ok.toml", &ok);
        let c = GatewayConfig::load(&p).expect("valid");
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].suites, vec![CipherSuite::PskAes128Ccm8]);
        assert!(c.routes[0].sni.is_none(), "no SNI for an IP literal");

        let cases = [
            (ok.replace("127.0.0.1:5683", "nonsense"), "route[0].listen"),
            (
                ok.replace("[[route]]", "[[route]]\nsuites = [\"TLS_NOPE\"]"),
                "route[0].suites",
            ),
            (ok.replace("psk = {", "psk = \"gbaa\"\n#"), "route[0].psk"),
            (format!("{ok}\n[session]\nmtu = 10\n"), "session.mtu"),
            (ok.replace("psk = {", "psk = \"gba\"\n#"), "card"),
            (format!("{ok}bogus = 1\n"), "bogus"),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), "bad.toml", &text);
            let e = GatewayConfig::load(&p).expect_err(want).to_string();
            assert!(e.contains("bad.toml") && e.contains(want), "{want}: {e}");
        }
        let p = write(
            dir.path(),
            "badkey.toml",
            &ok.replace(&key.display().to_string(), "/nonexistent/k"),
        );
        let e = GatewayConfig::load(&p).expect_err("key file").to_string();
        assert!(
            e.contains("route[0].psk.key_file") && e.contains("/nonexistent/k"),
            "{e}"
        );
    }

    #[test]
    fn an_oscore_route_needs_gba_and_takes_no_suites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let card = write(dir.path(), "card.toml", "");
        let base = format!(
            "state_dir = \"{0}\"\n[card]\nsoftsim = \"{1}\"\n[gba]\nbsf = \"http://127.0.0.1:1\"\n[[route]]\nlisten = \"127.0.0.1:5683\"\nupstream = \"127.0.0.1:5684\"\n",
            dir.path().display(),
            card.display()
        );
        let ok = write(
            dir.path(),
            "o.toml",
            &format!("{base}psk = \"gba\"\nprotection = \"oscore\"\n"),
        );
        assert!(GatewayConfig::load(&ok).expect("valid").routes[0].oscore);
        let key = write(dir.path(), "k.hex", "00112233445566778899aabbccddeeff\n");
        let cases = [
            (
                format!(
                    "{base}psk = {{ identity = \"d\", key_file = \"{}\" }}\nprotection = \"oscore\"\n",
                    key.display()
                ),
                "route[0].psk",
            ),
            (
                format!(
                    "{base}psk = \"gba\"\nprotection = \"oscore\"\nsuites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]\n"
                ),
                "route[0].suites",
            ),
            (
                format!("{base}psk = \"gba\"\nprotection = \"quic\"\n"),
                "route[0].protection",
            ),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), "bad.toml", &text);
            let e = GatewayConfig::load(&p).expect_err(want).to_string();
            assert!(e.contains("bad.toml") && e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn gba_route_defaults_to_ecdhe_first_and_needs_a_bsf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"x.toml\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"localhost:5684\"\npsk = \"gba\"\n",
            dir.path().display()
        );
        let p = write(dir.path(), "g.toml", &text);
        let e = GatewayConfig::load(&p).expect_err("no bsf").to_string();
        assert!(e.contains("gba.bsf"), "{e}");
        let p = write(
            dir.path(),
            "g2.toml",
            &format!("{text}[gba]\nbsf = \"http://127.0.0.1:1\"\n"),
        );
        let c = GatewayConfig::load(&p).expect("valid");
        assert_eq!(c.routes[0].suites[0], CipherSuite::EcdhePskAes128Ccm8Sha256);
        assert_eq!(c.routes[0].gba_naf.as_deref(), Some("localhost"));
        assert_eq!(c.routes[0].sni.as_deref(), Some("localhost"));
    }

    #[test]
    fn the_handshake_budget_must_stay_below_the_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = write(dir.path(), "k.hex", "00112233");
        let base = format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:5683\"\n[[keys.static]]\nidentity = \"d\"\nkey_file = \"{}\"\n",
            key.display()
        );
        let p = write(
            dir.path(),
            "s.toml",
            &format!("max_connections = 100\nmax_handshaking = 100\n{base}"),
        );
        let e = ServerConfigFile::load(&p).expect_err("budget").to_string();
        assert!(
            e.contains("max_handshaking") && e.contains("below max_connections (100)"),
            "{e}"
        );
        let p = write(
            dir.path(),
            "s2.toml",
            &format!("max_handshaking = 10000\n{base}"),
        );
        assert!(
            ServerConfigFile::load(&p).is_err(),
            "the default table is 10000"
        );
        let p = write(
            dir.path(),
            "s3.toml",
            &format!("max_handshaking = 50\n{base}"),
        );
        let c = ServerConfigFile::load(&p).expect("valid");
        assert_eq!(c.max_handshaking, Some(50));
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
            &format!(
                "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:5683\"\n[keys]\nbsf = \"http://x\"\ntoken_file = \"{}\"\n",
                tok.display()
            ),
        );
        // A token file others can read is refused, naming the key and the mode.
        let e = ServerConfigFile::load(&p).expect_err("0644").to_string();
        assert!(e.contains("keys.token_file") && e.contains("0644"), "{e}");
        std::fs::set_permissions(&tok, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        let e = ServerConfigFile::load(&p).expect_err("no naf").to_string();
        assert!(e.contains("keys.naf"), "{e}");
        let base = format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:5683\"\n[keys]\nbsf = \"http://127.0.0.1:1\"\ntoken_file = \"{}\"\n",
            tok.display()
        );
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
            &format!(
                "{base}naf = [\"a.example\", \"b.example\"]\naccept_bare_btid = true\ngba_u_aware = true\n"
            ),
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
