//! `simbridge bootstrap`: GBA bootstrapping (Ub) with the card, cached in the state directory.
//! Prints the B-TID and the key lifetime, never Ks. Exit 3 on a MAC failure (the challenge did
//! not come from the card's home network), 1 on any other error.

use super::card_source::CardSourceArgs;
use super::{CliError, CliResult};
use serde_json::json;
use simbridge::bridge::keyservice::BsfTransport;
use simbridge::gba::{self, GbaError, GbaModeChoice, ReusePolicy, UbConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// Options shared by `bootstrap` and `psk`.
#[derive(clap::Args, Debug, Clone)]
pub struct GbaArgs {
    #[command(flatten)]
    pub card: CardSourceArgs,
    /// BSF URL (default: http://bsf.mnc<MNC>.mcc<MCC>.pub.3gppnetwork.org/ from the IMSI)
    #[arg(long, value_name = "URL", env = "SIMBRIDGE_BSF")]
    pub bsf: Option<String>,
    /// State directory for the bootstrapping context (default: $XDG_STATE_HOME/simbridge or
    /// ~/.local/state/simbridge)
    #[arg(long, value_name = "DIR", env = "SIMBRIDGE_STATE_DIR")]
    pub state: Option<PathBuf>,
    /// Bootstrap again even when the cached context is still valid
    #[arg(long)]
    pub force: bool,
    /// GBA flavour: auto (GBA_U when the card has it), me or u
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// Re-bootstrap this many seconds before the key expires
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub margin: u64,
    /// Send hex(RES) as the Digest password instead of the raw octets (RFC 3310), for BSFs that
    /// hex-encode
    #[arg(long)]
    pub hex_res_password: bool,
    /// HTTP timeout in seconds
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub timeout: u64,
    /// For an https:// BSF: trust only the CAs in this PEM bundle (default: the bundled Mozilla
    /// roots)
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

/// GBA flavour on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum Mode {
    /// GBA_U when the card supports it, else GBA_ME
    Auto,
    /// GBA_ME
    Me,
    /// GBA_U
    U,
}

/// What the GBA commands resolved from the options.
pub struct Prepared {
    pub cfg: UbConfig,
    pub cache: gba::ContextCache,
    pub policy: ReusePolicy,
    pub any_bsf: bool,
    pub transport: BsfTransport,
}

impl GbaArgs {
    /// Resolves the BSF URL, state directory and policy for an opened card.
    pub fn prepare(&self, mcc: &str, mnc: &str) -> Result<Prepared, CliError> {
        let url = match &self.bsf {
            Some(u) => u.clone(),
            None => gba::default_bsf_url(mcc, mnc).map_err(|e| CliError::new(e.to_string()))?,
        };
        let state = match &self.state {
            Some(s) => s.clone(),
            None => gba::default_state_dir().ok_or_else(|| {
                CliError::new("no --state and neither XDG_STATE_HOME nor HOME is set")
            })?,
        };
        let mut cfg = UbConfig::new(&url);
        cfg.hex_res_password = self.hex_res_password;
        cfg.mode = match self.mode {
            Mode::Auto => GbaModeChoice::Auto,
            Mode::Me => GbaModeChoice::Me,
            Mode::U => GbaModeChoice::U,
        };
        Ok(Prepared {
            cfg,
            cache: gba::ContextCache::new(&state),
            policy: ReusePolicy {
                margin: Duration::from_secs(self.margin),
                force: self.force,
            },
            any_bsf: self.bsf.is_none(),
            transport: BsfTransport::with_tls(
                Duration::from_secs(self.timeout.max(1)),
                gba::transport::tls_config(self.ca_file.as_deref())
                    .map_err(|e| CliError::new(simbridge::error_chain::chain(&e).to_string()))?,
            ),
        })
    }
}

/// A GBA error as a CLI error, with its causes: exit 3 for a MAC failure, 1 otherwise.
pub fn gba_error(e: GbaError) -> CliError {
    let message = simbridge::error_chain::chain(&e).to_string();
    match e {
        GbaError::NetworkAuthFailed => CliError::with_code(3, message),
        _ => CliError::new(message),
    }
}

/// `bootstrap` options.
#[derive(clap::Args, Debug)]
pub struct BootstrapArgs {
    #[command(flatten)]
    gba: GbaArgs,
    /// Print JSON (keys btid, lifetime, impi, mode, bootstrapped)
    #[arg(long)]
    json: bool,
}

/// Runs `bootstrap`.
pub fn run(a: BootstrapArgs) -> CliResult {
    let mut card = a.gba.card.open()?;
    let mut p = a.gba.prepare(card.mcc(), card.mnc())?;
    let now = SystemTime::now();
    let got = gba::obtain_context(
        &mut card,
        &mut p.transport,
        &p.cfg,
        &gba::CacheUse {
            cache: &p.cache,
            policy: p.policy,
            any_bsf: p.any_bsf,
        },
        now,
    )
    .map_err(gba_error)?;
    let ctx = &got.context;
    let lifetime = gba::time::format_utc(ctx.expires);
    if a.json {
        let v = json!({
            "btid": ctx.btid,
            "lifetime": lifetime,
            "impi": ctx.impi,
            "mode": ctx.mode.as_str(),
            "bootstrapped": got.bootstrapped,
        });
        println!("{v}");
    } else {
        let left = ctx.remaining(now).as_secs();
        println!("B-TID: {}", ctx.btid);
        println!(
            "lifetime: {lifetime} ({}h{:02}m left)",
            left / 3600,
            left / 60 % 60
        );
        println!("IMPI: {} ({})", ctx.impi, ctx.mode.as_str());
        println!(
            "{}",
            if got.bootstrapped {
                "bootstrapped now"
            } else {
                "reused the cached context"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
