//! `simbridge bridge --config FILE`: the gateway. Runs until SIGTERM/SIGINT, then closes its
//! sessions and exits 0. Exit 1: the configuration or the start failed (the message names why).

use super::card_source::CardSourceArgs;
use super::signals::termination_flag;
use super::{CliError, CliResult};
use simbridge::bridge::config::GatewayConfig;
use simbridge::bridge::keyservice::CardOpener;
use simbridge::bridge::route_state::RouteState;
use simbridge::bridge::{Gateway, KeyService, KeyServiceConfig, RouteSpec};
use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::ClientConfig;
use simbridge::gba::{GbaModeChoice, ReusePolicy, UbConfig};
use simbridge::secret::SecretVec;
use simbridge::session::{KeySource, SessionConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// `bridge` options.
#[derive(clap::Args, Debug)]
pub struct BridgeArgs {
    /// Configuration file (TOML; see dist/simbridge.toml)
    #[arg(long, env = "SIMBRIDGE_CONFIG")]
    config: PathBuf,
}

/// Builds the session policy of a route from the configuration.
fn session_config(cfg: &GatewayConfig, r: &simbridge::bridge::config::ValidRoute) -> SessionConfig {
    let placeholder = Arc::new(StaticPsk {
        identity: Vec::new(),
        key: SecretVec::default(),
    });
    let mut dtls = ClientConfig::new(placeholder);
    dtls.common.suites = r.suites.clone();
    dtls.common.retransmit = cfg.session.retransmit();
    if let Some(mtu) = cfg.session.mtu {
        dtls.common.mtu = mtu;
    }
    dtls.server_name = r.sni.clone();
    // Ask the server for a Connection ID (we need none ourselves): a NAT rebinding then costs
    // no handshake (RFC 9146).
    dtls.connection_id = cfg.session.connection_id.unwrap_or(true).then_some(0);
    let mut s = SessionConfig::new(dtls);
    if let Some(q) = cfg.session.queue_limit {
        s.queue_limit = q;
    }
    if let Some(r) = cfg.session.rekey_before_secs {
        s.rekey_before = Duration::from_secs(r);
    }
    if let Some(a) = cfg.session.suspect_after_secs {
        s.suspect_after = (a > 0).then(|| Duration::from_secs(a));
    }
    s
}

/// Runs the gateway.
pub fn run(args: BridgeArgs) -> CliResult {
    let cfg = GatewayConfig::load(&args.config).map_err(|e| CliError::new(e.to_string()))?;
    let stop = termination_flag()
        .map_err(|e| CliError::new(format!("cannot install signal handlers: {e}")))?;
    let claim = simbridge::status::ops::Operations::claim(
        simbridge::status::Role::Gateway,
        Some(&cfg.state_dir),
    )
    .map_err(CliError::new)?;
    let needs_gba = cfg.routes.iter().any(|r| r.gba_naf.is_some());
    let key_service = if needs_gba {
        let card = CardSourceArgs {
            softsim: cfg.card.softsim.clone(),
            reader: cfg.card.reader.clone(),
            modem: cfg.card.modem.clone(),
            baud: cfg.card.baud.unwrap_or(115_200),
            ..CardSourceArgs::default()
        };
        let opener: CardOpener = Box::new(move || card.open_channel().map_err(|e| e.message));
        let mut ub = UbConfig::new(cfg.bsf.as_deref().unwrap_or_default());
        ub.mode = match cfg.gba_mode.as_str() {
            "me" => GbaModeChoice::Me,
            "u" => GbaModeChoice::U,
            _ => GbaModeChoice::Auto,
        };
        Some(
            KeyService::start(KeyServiceConfig {
                card: opener,
                pin: cfg.card.pin.clone(),
                ub,
                state_dir: cfg.state_dir.clone(),
                policy: ReusePolicy::default(),
                http_timeout: Duration::from_secs(20),
            })
            .map_err(|e| CliError::new(format!("cannot start the key service: {e}")))?,
        )
    } else {
        None
    };
    std::fs::create_dir_all(&cfg.state_dir)
        .map_err(|e| CliError::new(format!("state_dir {}: {e}", cfg.state_dir.display())))?;
    let key = simbridge::bridge::state::load_or_create_key(&cfg.state_dir.join("export.key"))
        .map_err(|e| CliError::new(format!("state_dir {}: {e}", cfg.state_dir.display())))?;
    let state = RouteState {
        dir: cfg.state_dir.clone(),
        key: Arc::new(key),
    };
    let specs = cfg
        .routes
        .iter()
        .map(|r| RouteSpec {
            name: r.name.clone(),
            listen: r.listen,
            upstream: r.upstream,
            keys: match (&r.gba_naf, &r.static_psk) {
                (Some(naf), _) => KeySource::Gba {
                    naf_fqdn: naf.clone(),
                    ua: r.ua,
                },
                (None, Some((identity, key))) => KeySource::Static {
                    identity: identity.clone(),
                    key: key.clone(),
                },
                (None, None) => KeySource::Static {
                    identity: Vec::new(),
                    key: SecretVec::default(),
                },
            },
            session: session_config(&cfg, r),
            state: Some(state.clone()),
        })
        .collect();
    let gateway = Gateway::start(specs, key_service.as_ref().and_then(|k| k.sender()))
        .map_err(|e| CliError::new(format!("{}: {e}", args.config.display())))?;
    let mut ops = claim
        .start(cfg.metrics, gateway.status())
        .map_err(CliError::new)?;
    for r in gateway.routes() {
        println!("route {} listening on {}", r.name(), r.local_addr());
    }
    let _ = std::io::stdout().flush();
    ops.ready(&format!("{} routes listening", gateway.routes().len()));
    while !stop.load(Ordering::SeqCst) {
        ops.tick();
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(ops);
    log::info!("signal received: closing sessions");
    for (name, m) in gateway.shutdown() {
        log::info!(
            "route {name}: {} bootstraps, {} full + {} abbreviated handshakes, {} B on air",
            m.bootstraps,
            m.handshakes_full,
            m.handshakes_abbreviated,
            m.bytes_on_air()
        );
    }
    drop(key_service);
    Ok(ExitCode::SUCCESS)
}
