//! `simbridge server --config FILE`: the DTLS server in front of a UDP backend. Runs until
//! SIGTERM/SIGINT; SIGHUP reloads what can change live (server_reload.rs). Exit 1: the
//! configuration or the start failed.

use super::server_reload::{ServerReloader, key_api_client};
use super::signals::{hangup_flag, termination_flag};
use super::{CliError, CliResult};
use crate::config::ServerConfigFile;
use simbridge::bridge::lifecycle::LifecycleConfig;
use simbridge::bridge::naf_keys::{KeyApiSource, ServePolicy};
use simbridge::bridge::{NafKeySource, NafKeys, Server, ServerSpec};
use simbridge::dtls::{EarlyData13, ServerConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `server` options.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Configuration file (TOML; see dist/server.toml)
    #[arg(long, env = "SIMBRIDGE_SERVER_CONFIG")]
    config: PathBuf,
}

/// Runs the server.
pub fn run(args: ServerArgs) -> CliResult {
    let cfg = ServerConfigFile::load(&args.config).map_err(|e| CliError::new(e.to_string()))?;
    let stop = termination_flag()
        .map_err(|e| CliError::new(format!("cannot install signal handlers: {e}")))?;
    let hangup =
        hangup_flag().map_err(|e| CliError::new(format!("cannot install signal handlers: {e}")))?;
    let key_api = key_api_source(&args.config, &cfg)?;
    if let Some(dir) = &cfg.state_dir {
        check_state_dir(dir).map_err(|e| {
            CliError::new(format!(
                "{}: state_dir {}: {e}",
                args.config.display(),
                dir.display()
            ))
        })?;
    }
    let claim = simbridge::status::ops::Operations::claim(
        simbridge::status::Role::Server,
        cfg.state_dir.as_deref(),
    )
    .map_err(CliError::new)?;
    let keys = naf_keys(&cfg, key_api);
    if cfg.oscore {
        drop(claim);
        return run_oscore(&args.config, &cfg, keys, &stop, &hangup);
    }
    let dtls = dtls_config(&cfg, keys.clone());
    let lifecycle = lifecycle_config(&cfg, dtls.max_connections);
    let server = Server::start_with(
        ServerSpec {
            listen: cfg.listen,
            backend: cfg.backend,
            dtls,
            keys: keys.clone(),
            state_dir: cfg.state_dir.clone(),
            early_forward: cfg
                .early_data
                .as_ref()
                .map(|e| e.forward.clone())
                .unwrap_or_default(),
        },
        lifecycle,
    )
    .map_err(|e| CliError::new(format!("{}: {e}", args.config.display())))?;
    let mut ops = claim
        .start(cfg.metrics, server.status())
        .map_err(CliError::new)?;
    println!("server listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();
    ops.ready(&format!("DTLS on {}", server.local_addr()));
    let mut reloader = ServerReloader::new(&args.config, cfg);
    while !stop.load(Ordering::SeqCst) {
        if hangup.swap(false, Ordering::SeqCst) {
            ops.reloading();
            reloader.reload(&keys);
            ops.ready("configuration reloaded");
        }
        ops.tick();
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(ops);
    log::info!("signal received: stopping");
    server
        .shutdown()
        .map_err(|e| CliError::new(format!("server: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// `protection = "oscore"`: the OSCORE server until SIGTERM/SIGINT. Its contexts are saved in
/// the state directory as they change, so a SIGHUP has nothing to reload but is logged.
fn run_oscore(
    config: &Path,
    cfg: &ServerConfigFile,
    keys: Arc<NafKeys>,
    stop: &std::sync::atomic::AtomicBool,
    hangup: &std::sync::atomic::AtomicBool,
) -> CliResult {
    use simbridge::bridge::oscore::{DEFAULT_SEQ_STEP, OscoreServer, OscoreServerSpec};
    let server = OscoreServer::start(OscoreServerSpec {
        listen: cfg.listen,
        backend: cfg.backend,
        keys,
        choices: simbridge::gba::oscore::Choices::default(),
        state_dir: cfg.state_dir.clone(),
        seq_step: DEFAULT_SEQ_STEP,
        max_contexts: cfg.max_contexts,
    })
    .map_err(|e| CliError::new(format!("{}: {e}", config.display())))?;
    println!("server (OSCORE) listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();
    while !stop.load(Ordering::SeqCst) {
        if hangup.swap(false, Ordering::SeqCst) {
            log::warn!(
                "SIGHUP: an OSCORE server reloads nothing yet; restart it to apply changes (its contexts survive)"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    log::info!("signal received: stopping");
    server
        .shutdown()
        .map_err(|e| CliError::new(format!("server: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The key API client of `[keys]` (with a WARN when it runs over plain http to another host).
fn key_api_source(config: &Path, cfg: &ServerConfigFile) -> Result<Option<KeyApiSource>, CliError> {
    let Some(k) = cfg.key_api.clone() else {
        return Ok(None);
    };
    if k.insecure_http {
        log::warn!(
            "key API {} over plain http:// to a host that is not loopback (insecure_http = true): the bearer token and session keys cross the network in clear",
            k.url
        );
    }
    Ok(Some(KeyApiSource {
        client: key_api_client(config, &k).map_err(CliError::new)?,
        naf_fqdn: k.nafs.first().cloned().unwrap_or_default(),
        ua: k.ua,
    }))
}

/// The server's PSKs: the static ones and the key API, served under `[keys]`' policy.
fn naf_keys(cfg: &ServerConfigFile, key_api: Option<KeyApiSource>) -> Arc<NafKeys> {
    let source = NafKeySource {
        statics: cfg.static_keys.iter().cloned().collect(),
        key_api,
    };
    let policy = cfg
        .key_api
        .as_ref()
        .map(|k| ServePolicy {
            naf_fqdns: k.nafs.clone(),
            accept_bare_btid: k.accept_bare_btid,
            gba_u_aware: k.gba_u_aware,
            lookup: k.lookup.clone(),
        })
        .unwrap_or_default();
    Arc::new(NafKeys::new(source).with_policy(policy))
}

/// The DTLS server configuration: suites, hint, tickets and the connection and handshake
/// budgets.
fn dtls_config(cfg: &ServerConfigFile, keys: Arc<NafKeys>) -> ServerConfig {
    let mut dtls = ServerConfig::new(keys);
    dtls.common.suites = cfg.suites.clone();
    dtls.versions = cfg.dtls;
    dtls.identity_hint = cfg.hint.as_ref().map(|h| h.as_bytes().to_vec());
    dtls.tickets13 = cfg.tickets;
    dtls.psk_importers = cfg.psk_importers;
    dtls.early_data13 = cfg.early_data.as_ref().map(|e| EarlyData13 {
        window: e.window,
        ..EarlyData13::default()
    });
    if let Some(m) = cfg.max_connections {
        dtls.max_connections = m;
        // The handshake budget only protects established sessions while it is below the table.
        dtls.max_handshaking = dtls.max_handshaking.min(m / 4);
    }
    if let Some(h) = cfg.max_handshaking {
        dtls.max_handshaking = h;
    }
    dtls
}

/// The session lifecycle limits (idle timeout, sessions per identity and per address).
fn lifecycle_config(cfg: &ServerConfigFile, max_connections: usize) -> LifecycleConfig {
    let mut lifecycle = LifecycleConfig::new(max_connections);
    if let Some(t) = cfg.idle_timeout {
        lifecycle.idle_timeout = t;
    }
    if let Some(n) = cfg.max_per_identity {
        lifecycle.max_per_identity = n;
    }
    if let Some(n) = cfg.max_per_address {
        lifecycle.max_per_address = n;
    }
    lifecycle
}

/// Checks that the state directory can hold the server's state before anything starts, so a
/// bad `state_dir` is named as such (not as an error of the configuration file): its parent must
/// exist (only the last component is created, 0700: a typo must not grow a tree; under systemd
/// `StateDirectory=` creates it), it must be a directory and writable.
fn check_state_dir(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err("exists and is not a directory".into()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(p) = parent.filter(|p| !p.is_dir()) {
                return Err(format!(
                    "its parent directory {} does not exist (only the state directory itself is created; with systemd, StateDirectory= creates it)",
                    p.display()
                ));
            }
            simbridge::fsutil::create_private_dir(dir)
                .map_err(|e| format!("cannot create it: {e}"))?;
        }
        Err(e) => return Err(format!("cannot use it: {e}")),
    }
    let probe = dir.join(".simbridge-write-test");
    simbridge::fsutil::write_atomic_private(&probe, b"")
        .map_err(|e| format!("not writable: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
