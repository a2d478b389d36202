//! `simbridge server --config FILE`: the DTLS server in front of a UDP backend. Runs until
//! SIGTERM/SIGINT. Exit 1: the configuration or the start failed.

use super::signals::termination_flag;
use super::{CliError, CliResult};
use simbridge::bridge::config::ServerConfigFile;
use simbridge::bridge::naf_keys::KeyApiSource;
use simbridge::bridge::{NafKeySource, NafKeys, Server, ServerSpec};
use simbridge::bsf::keyclient::KeyApiClient;
use simbridge::dtls::ServerConfig;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
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
    let claim = simbridge::status::ops::Operations::claim(
        simbridge::status::Role::Server,
        cfg.state_dir.as_deref(),
    )
    .map_err(CliError::new)?;
    let source = NafKeySource {
        statics: cfg.static_keys.iter().cloned().collect(),
        key_api: cfg
            .key_api
            .clone()
            .map(|(url, token, naf_fqdn, ua)| KeyApiSource {
                client: Arc::new(KeyApiClient::new(&url, token, Duration::from_secs(10))),
                naf_fqdn,
                ua,
            }),
    };
    let keys = Arc::new(NafKeys::new(source));
    let mut dtls = ServerConfig::new(keys.clone());
    dtls.common.suites = cfg.suites.clone();
    dtls.identity_hint = cfg.hint.as_ref().map(|h| h.as_bytes().to_vec());
    if let Some(m) = cfg.max_connections {
        dtls.max_connections = m;
    }
    let server = Server::start(ServerSpec {
        listen: cfg.listen,
        backend: cfg.backend,
        dtls,
        keys,
        state_dir: cfg.state_dir.clone(),
    })
    .map_err(|e| CliError::new(format!("{}: {e}", args.config.display())))?;
    let mut ops = claim
        .start(cfg.metrics, server.status())
        .map_err(CliError::new)?;
    println!("server listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();
    ops.ready(&format!("DTLS on {}", server.local_addr()));
    while !stop.load(Ordering::SeqCst) {
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
