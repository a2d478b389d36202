//! `simbridge energy`: projects energy per message and battery life for each DTLS strategy with
//! the library's energy model (simbridge_energy); this file only parses flags, reads files and
//! prints.

use super::{CliError, CliResult};
use serde_json::json;
use simbridge_energy::{Coverage, EnergyError, Model, Radio, input, report, svg};
use std::path::PathBuf;
use std::process::ExitCode;

/// `energy` options.
#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct EnergyArgs {
    /// Radio: nbiot or ltem
    #[arg(long, default_value = "nbiot")]
    radio: Radio,
    /// Coverage level: normal, extended or extreme
    #[arg(long, default_value = "normal")]
    coverage: Coverage,
    /// The device sends Release Assistance Indication (short RRC tail)
    #[arg(long)]
    rai: bool,
    /// Without CID, re-run a full handshake after a NAT rebinding (default: resume)
    #[arg(long)]
    rebind_full: bool,
    /// Application exchanges per day
    #[arg(long, value_name = "N")]
    messages_per_day: Option<f64>,
    /// Application payload per message, bytes
    #[arg(long, value_name = "BYTES")]
    payload: Option<f64>,
    /// Battery energy, Wh
    #[arg(long, value_name = "W")]
    battery_wh: Option<f64>,
    /// NAT binding changes at least every N minutes (costs a handshake without CID)
    #[arg(long, value_name = "N")]
    nat_rebind_min: Option<f64>,
    /// PSK (Ks_NAF) lifetime in hours: a full handshake per key
    #[arg(long, value_name = "H")]
    key_lifetime_h: Option<f64>,
    /// RRC inactivity tail without RAI, seconds (operator setting: 10 s .. 270 s seen)
    #[arg(long, value_name = "S")]
    tail_s: Option<f64>,
    /// Measured byte/RTT figures per strategy (format: docs/energy.md)
    #[arg(long, value_name = "RESULTS.json")]
    from: Option<PathBuf>,
    /// TOML parameter file ([scenario], [nbiot], [ltem], [strategies.NAME])
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// Override any parameter listed by --explain (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Print JSON instead of the table
    #[arg(long)]
    json: bool,
    /// Also write a battery-life chart (SVG) to FILE
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Also print every parameter with its value and source
    #[arg(long)]
    explain: bool,
}

/// Bad input: a usage error (64).
fn bad(e: EnergyError) -> CliError {
    CliError::with_code(super::EXIT_USAGE, format!("energy: {e}"))
}

fn read(flag: &str, path: &PathBuf) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::with_code(
            super::EXIT_USAGE,
            format!("energy: {flag} {}: cannot read: {e}", path.display()),
        )
    })
}

/// Builds the model from defaults, the parameter file, the results file and the flags, in that
/// order (later wins).
fn build(args: &EnergyArgs) -> Result<Model, CliError> {
    let mut model = Model::new(args.radio, args.coverage, args.rai);
    model.rebind_full = args.rebind_full;
    if let Some(p) = &args.params {
        let text = read("--params", p)?;
        input::apply_params_toml(&mut model, &text, &p.display().to_string()).map_err(bad)?;
    }
    if let Some(p) = &args.from {
        let text = read("--from", p)?;
        input::apply_results_json(&mut model, &text, &p.display().to_string()).map_err(bad)?;
    }
    let flags = [
        (
            "messages_per_day",
            "--messages-per-day",
            args.messages_per_day,
        ),
        ("payload_bytes", "--payload", args.payload),
        ("battery_wh", "--battery-wh", args.battery_wh),
        ("nat_rebind_min", "--nat-rebind-min", args.nat_rebind_min),
        ("key_lifetime_h", "--key-lifetime-h", args.key_lifetime_h),
        ("tail_s", "--tail-s", args.tail_s),
    ];
    for (key, flag, v) in flags {
        if let Some(v) = v {
            input::set_param(&mut model, key, v, flag).map_err(bad)?;
        }
    }
    for s in &args.settings {
        let (k, v) = input::parse_setting(s).map_err(bad)?;
        input::set_param(&mut model, &k, v, &format!("--set {k}")).map_err(bad)?;
    }
    Ok(model)
}

/// Runs `simbridge energy`.
pub fn run(args: EnergyArgs) -> CliResult {
    let model = build(&args)?;
    let rep = model.run().map_err(bad)?;
    if let Some(path) = &args.svg {
        std::fs::write(path, svg::chart(&rep)).map_err(|e| {
            CliError::new(format!(
                "energy: --svg {}: cannot write: {e}",
                path.display()
            ))
        })?;
        eprintln!("energy: chart written to {}", path.display());
    }
    if args.json {
        let params = |v: Vec<simbridge_energy::ParamView<'_>>| {
            v.into_iter()
                .map(|p| {
                    (
                        p.key.to_string(),
                        json!({"value": p.value.value, "unit": p.unit, "source": p.value.source}),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
        };
        let out = json!({
            "report": rep,
            "parameters": {
                "scenario": params(model.scenario.params()),
                "radio": params(model.radio.params()),
            },
            "strategy_figures": model.strategies.strategies.iter()
                .map(|(id, f)| (id.key().to_string(), json!(f)))
                .collect::<serde_json::Map<_, _>>(),
        });
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| CliError::new(format!("energy: JSON output: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", report::markdown(&rep));
        if args.explain {
            print!("{}", report::explain(&model));
        }
    }
    Ok(ExitCode::SUCCESS)
}
