//! `simbridge bridge --config FILE`: the gateway. Runs until SIGTERM/SIGINT, then closes its
//! sessions and exits 0; SIGHUP reloads what can change live (bridge_reload.rs). Exit 1: the
//! configuration or the start failed (the message names why); 78: stopped over PIN1.

use super::card_source::CardSourceArgs;
use super::signals::{hangup_flag, termination_flag};
use super::{CliError, CliResult};
use crate::config::{ConfigError, GatewayConfig, ValidRoute};
use simbridge::bridge::keyservice::CardOpener;
use simbridge::bridge::route_state::RouteState;
use simbridge::bridge::{Gateway, KeyService, KeyServiceConfig, RouteSpec};
use simbridge::gba::{GbaModeChoice, ReusePolicy, UbConfig};
use simbridge::status::ops::Operations;
use simbridge::uicc::pin::PinProblem;
use simbridge::upstream::{KeySource, SessionConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `bridge` options.
#[derive(clap::Args, Debug)]
pub struct BridgeArgs {
    /// Configuration file (TOML; see dist/simbridge.toml)
    #[arg(long, env = "SIMBRIDGE_CONFIG")]
    config: PathBuf,
}

/// Where a configured route's PSK comes from (shared with the C ABI: [`ValidRoute::key_source`]).
pub(super) fn key_source(r: &ValidRoute) -> KeySource {
    r.key_source()
}

/// The session policy of a route (shared with the C ABI: [`GatewayConfig::session_config`]).
pub(super) fn session_config(cfg: &GatewayConfig, r: &ValidRoute) -> SessionConfig {
    cfg.session_config(r)
}

/// Runs the gateway.
pub fn run(args: BridgeArgs) -> CliResult {
    let cfg = load_config(&args.config)?;
    let stop = termination_flag()
        .map_err(|e| CliError::new(format!("cannot install signal handlers: {e}")))?;
    let hangup =
        hangup_flag().map_err(|e| CliError::new(format!("cannot install signal handlers: {e}")))?;
    prepare_state_dir(&cfg, &args.config)?;
    let claim = simbridge::status::ops::Operations::claim(
        simbridge::status::Role::Gateway,
        Some(&cfg.state_dir),
    )
    .map_err(CliError::new)?;
    let key_service = start_key_service(&cfg)?;
    let specs = route_specs(&cfg, &args.config)?;
    let gateway = Gateway::start(specs, key_service.as_ref().and_then(|k| k.sender()))
        .map_err(|e| CliError::new(format!("{}: {e}", args.config.display())))?;
    let oscore_routes = start_oscore_routes(&cfg, key_service.as_ref())
        .map_err(|e| CliError::new(format!("{}: {e}", args.config.display())))?;
    let mut ops = claim
        .start(cfg.metrics, gateway.status())
        .map_err(CliError::new)?;
    for r in gateway.routes() {
        println!("route {} listening on {}", r.name(), r.local_addr());
    }
    for r in &oscore_routes {
        println!(
            "route {} (OSCORE) listening on {}",
            r.name(),
            r.local_addr()
        );
    }
    let _ = std::io::stdout().flush();
    let mut reloader = super::bridge_reload::Reloader::new(&args.config, cfg.clone());
    ops.ready(&format!("{} routes listening", gateway.routes().len()));
    let pin_problem = serve(&stop, &hangup, key_service.as_ref(), &mut ops, |ops| {
        ops.reloading();
        reloader.reload(&gateway);
        ops.ready("configuration reloaded");
    });
    drop(ops);
    if pin_problem.is_none() {
        log::info!("signal received: closing sessions");
    }
    log_shutdown(gateway);
    for r in oscore_routes {
        let name = r.name().to_string();
        let m = r.shutdown();
        log::info!(
            "route {name}: {} bootstraps, {} OSCORE establishments, {} B on air",
            m.bootstraps,
            m.establishments,
            m.bytes_on_air()
        );
    }
    drop(key_service);
    match pin_problem {
        Some(p) => Err(pin_stop_error(&p, &args.config)),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Loads the configuration; an unreadable file is named with where its path came from.
fn load_config(path: &Path) -> Result<GatewayConfig, CliError> {
    GatewayConfig::load(path).map_err(|e| match e {
        ConfigError::Read { path, source } => CliError::new(format!(
            "cannot read the configuration file (--config or SIMBRIDGE_CONFIG) {}: {source}",
            path.display()
        )),
        e => CliError::new(e.to_string()),
    })
}

/// The state directory, as an error message names it.
fn state_dir_of(cfg: &GatewayConfig, config: &Path) -> String {
    format!(
        "state_dir {} (from {} or SIMBRIDGE_STATE_DIR)",
        cfg.state_dir.display(),
        config.display()
    )
}

/// Creates the state directory (private: contexts and session exports live there) or checks
/// that the existing one is a directory.
fn prepare_state_dir(cfg: &GatewayConfig, config: &Path) -> Result<(), CliError> {
    if cfg.state_dir.exists() && !cfg.state_dir.is_dir() {
        return Err(CliError::new(format!(
            "{}: exists and is not a directory",
            state_dir_of(cfg, config)
        )));
    }
    // Contexts and session exports live here: only our user may look (files are 0600 too).
    simbridge::fsutil::create_private_dir(&cfg.state_dir).map_err(|e| {
        CliError::new(format!(
            "{}: cannot create it: {e}",
            state_dir_of(cfg, config)
        ))
    })
}

/// The GBA mode of `[gba] mode` (validated at load).
fn gba_mode(mode: &str) -> GbaModeChoice {
    match mode {
        "me" => GbaModeChoice::Me,
        "u" => GbaModeChoice::U,
        _ => GbaModeChoice::Auto,
    }
}

/// Starts the key service on the configured card and BSF when a route uses GBA.
fn start_key_service(cfg: &GatewayConfig) -> Result<Option<KeyService>, CliError> {
    if !cfg.routes.iter().any(|r| r.gba_naf.is_some()) {
        return Ok(None);
    }
    let card = CardSourceArgs {
        softsim: cfg.card.softsim.clone(),
        reader: cfg.card.reader.clone(),
        modem: cfg.card.modem.clone(),
        baud: cfg.card.baud.unwrap_or(115_200),
        ..CardSourceArgs::default()
    };
    let opener: CardOpener = Box::new(move || card.open_channel().map_err(|e| e.message.into()));
    let mut ub = UbConfig::new(cfg.bsf.as_deref().unwrap_or_default());
    ub.mode = gba_mode(&cfg.gba_mode);
    let tls = simbridge::gba::transport::tls_config(cfg.gba_ca_file.as_deref()).map_err(|e| {
        CliError::new(format!(
            "[gba] ca_file: {}",
            simbridge::error_chain::chain(&e)
        ))
    })?;
    KeyService::start(KeyServiceConfig {
        card: opener,
        pin: cfg.card.pin.clone(),
        ub,
        state_dir: cfg.state_dir.clone(),
        policy: ReusePolicy::default(),
        http_timeout: Duration::from_secs(20),
        tls,
    })
    .map(Some)
    .map_err(|e| CliError::new(format!("cannot start the key service: {e}")))
}

/// The routes to start, each with the state directory's export key for its sessions.
fn route_specs(cfg: &GatewayConfig, config: &Path) -> Result<Vec<RouteSpec>, CliError> {
    let key_file = cfg.state_dir.join("export.key");
    let key = simbridge::bridge::state::load_or_create_key(&key_file).map_err(|e| {
        CliError::new(format!(
            "{}: cannot read or create {}: {e}",
            state_dir_of(cfg, config),
            key_file.display()
        ))
    })?;
    let state = RouteState {
        dir: cfg.state_dir.clone(),
        key: Arc::new(key),
    };
    Ok(cfg
        .routes
        .iter()
        .filter(|r| !r.oscore)
        .map(|r| RouteSpec {
            name: r.name.clone(),
            listen: r.listen,
            upstream: r.upstream,
            keys: key_source(r),
            session: session_config(cfg, r),
            state: Some(state.clone()),
        })
        .collect())
}

/// Starts the `protection = "oscore"` routes (GBA keys from the key service).
fn start_oscore_routes(
    cfg: &GatewayConfig,
    key_service: Option<&KeyService>,
) -> std::io::Result<Vec<simbridge::bridge::oscore::OscoreRoute>> {
    use simbridge::bridge::oscore::{DEFAULT_SEQ_STEP, OscoreRoute, OscoreRouteSpec};
    let mut out = Vec::new();
    for r in cfg.routes.iter().filter(|r| r.oscore) {
        let keys = key_service.and_then(|k| k.sender()).ok_or_else(|| {
            std::io::Error::other(format!("route {}: OSCORE needs a card and a BSF", r.name))
        })?;
        let mut choices = simbridge::gba::oscore::Choices::default();
        if let Some(ua) = r.ua {
            choices.ua_id = ua;
        }
        out.push(OscoreRoute::start(
            OscoreRouteSpec {
                name: r.name.clone(),
                listen: r.listen,
                upstream: r.upstream,
                naf_fqdn: r.gba_naf.clone().unwrap_or_default(),
                choices,
                state_dir: Some(cfg.state_dir.clone()),
                seq_step: DEFAULT_SEQ_STEP,
                renew_before: cfg.session_config(r).rekey_before,
            },
            keys,
        )?);
    }
    Ok(out)
}

/// Runs until SIGTERM/SIGINT or until the key service stops over the PIN (returned); SIGHUP
/// calls `reload`.
fn serve(
    stop: &AtomicBool,
    hangup: &AtomicBool,
    key_service: Option<&KeyService>,
    ops: &mut Operations,
    mut reload: impl FnMut(&mut Operations),
) -> Option<PinProblem> {
    while !stop.load(Ordering::SeqCst) {
        let pin_problem = key_service.and_then(|k| k.stopped_by());
        if pin_problem.is_some() {
            return pin_problem;
        }
        if hangup.swap(false, Ordering::SeqCst) {
            reload(ops);
        }
        ops.tick();
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Closes the routes' sessions and logs what each route did.
fn log_shutdown(gateway: Gateway) {
    for (name, m) in gateway.shutdown() {
        log::info!(
            "route {name}: {} bootstraps, {} full + {} abbreviated handshakes, {} B on air",
            m.bootstraps,
            m.handshakes_full,
            m.handshakes_abbreviated,
            m.bytes_on_air()
        );
    }
}

/// Exit code of a PIN problem: EX_CONFIG (sysexits), which the systemd unit lists in
/// `RestartPreventExitStatus` so a restart cannot spend another PIN try.
pub const EXIT_PIN: u8 = 78;

/// The gateway's last words when the key service stopped over the PIN: the problem, where the PIN
/// comes from and what a person does about it.
fn pin_stop_error(p: &PinProblem, config: &std::path::Path) -> CliError {
    let source = format!("[card] pin in {} or SIMBRIDGE_PIN", config.display());
    let todo = match p {
        PinProblem::NotConfigured { .. } => format!("set {source}"),
        PinProblem::Malformed { .. } | PinProblem::Rejected { .. } => format!(
            "correct {source}, check it by hand with `simbridge sim pin verify`, then start again"
        ),
        PinProblem::LastTry => "verify the PIN by hand with `simbridge sim pin verify` (the card then has all its tries again), then start again".into(),
        PinProblem::Blocked => "unblock it with `simbridge sim pin unblock --puk PUK --new-pin PIN`, then start again".into(),
    };
    CliError::with_code(EXIT_PIN, format!("stopped: PIN1 problem: {p}; {todo}"))
}
