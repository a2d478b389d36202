//! `simbridge sim info|aka`: look at a card and run AKA on it.

use super::card_source::{CardSourceArgs, Opened, card_error, pin_advice};
use super::hexarg::parse_fixed;
use super::{CliError, CliResult};
use serde_json::json;
use simbridge::uicc::AuthResult;
use simbridge::uicc::pin::tries_left;
use std::process::ExitCode;

/// `sim` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SimCommand {
    /// ICCID, IMSI, MCC/MNC, IMPI, applications, GBA support and PIN state
    Info {
        #[command(flatten)]
        card: CardSourceArgs,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// AUTHENTICATE in the 3G context: prints RES, CK, IK (and Kc); AUTS on sync failure (exit 2);
    /// exit 3 on MAC failure
    Aka {
        #[command(flatten)]
        card: CardSourceArgs,
        /// RAND, 32 hex digits
        #[arg(long)]
        rand: String,
        /// AUTN, 32 hex digits
        #[arg(long)]
        autn: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// PIN1 by hand: verify, change, unblock with the PUK
    #[command(subcommand)]
    Pin(super::sim_pin::PinCommand),
}

/// Runs a `sim` subcommand.
pub fn run(cmd: SimCommand) -> CliResult {
    match cmd {
        SimCommand::Info { card, json } => info(&card, json),
        SimCommand::Aka {
            card,
            rand,
            autn,
            json,
        } => aka(&card, &rand, &autn, json),
        SimCommand::Pin(c) => super::sim_pin::run(c),
    }
}

fn info(src: &CardSourceArgs, json_out: bool) -> CliResult {
    let (mut u, locked) = match src.open_or_locked()? {
        Opened::Full(u) => (u, None),
        Opened::Locked(u, p) => (u, Some(p)),
    };
    let what = u.channel().describe();
    let pin_tries = match &locked {
        Some(_) => u.pin_state().tries_left,
        None => u.pin_tries().map_err(|e| card_error(&what, e))?,
    };
    let pin = match (u.pin_state().required, pin_tries) {
        (_, Some(0)) => json!({"state": "blocked", "tries_left": 0}),
        (_, Some(n)) => json!({"state": "required", "tries_left": n}),
        (true, None) => json!({"state": "verified"}),
        (false, None) => json!({"state": "disabled or verified"}),
    };
    // Locked: the USIM's files need PIN1; say so instead of failing.
    let hint = locked.as_ref().map(pin_advice);
    if json_out {
        println!("{}", info_json(&u, pin, hint.as_deref()));
        return Ok(ExitCode::SUCCESS);
    }
    print_info(&u, &what, hint.as_deref());
    println!(
        "PIN1         {}{}",
        pin.get("state").and_then(|s| s.as_str()).unwrap_or("?"),
        pin_tries
            .filter(|n| *n > 0)
            .map(|n| format!(" ({})", tries_left(n)))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// `sim info --json`: what the card says; behind a PIN (`hint`), only what needs none.
fn info_json(u: &Card, pin: serde_json::Value, hint: Option<&str>) -> serde_json::Value {
    let apps: Vec<_> = u
        .applications()
        .iter()
        .map(|a| json!({"aid": hex::encode_upper(&a.aid), "label": a.label, "type": app_kind(a)}))
        .collect();
    match hint {
        None => json!({
            "iccid": u.iccid(),
            "imsi": u.imsi(),
            "mcc": u.mcc(),
            "mnc": u.mnc(),
            "impi": u.impi(),
            "impi_source": u.impi_source(),
            "applications": apps,
            "gba_me": true,
            "gba_u": u.supports_gba_u(),
            "pin1": pin,
        }),
        Some(h) => json!({
            "iccid": u.iccid(),
            "applications": apps,
            "pin1": pin,
            "locked": h,
        }),
    }
}

/// `sim info` as text, up to the PIN line; behind a PIN (`hint`), only what needs none.
fn print_info(u: &Card, what: &str, hint: Option<&str>) {
    println!("card         {what}, ATR {}", hex::encode_upper(u.atr()));
    println!("ICCID        {}", u.iccid().unwrap_or("(no EF_ICCID)"));
    if let Some(h) = hint {
        println!("IMSI         (locked) {h}");
    } else {
        println!("IMSI         {}", u.imsi());
        println!("MCC/MNC      {}/{}", u.mcc(), u.mnc());
        println!("IMPI         {} ({:?})", u.impi(), u.impi_source());
    }
    for a in u.applications() {
        println!(
            "application  {} {}{}",
            app_kind(a).to_uppercase().replace("OTHER", "other"),
            hex::encode_upper(&a.aid),
            a.label
                .as_deref()
                .map(|l| format!(" {l:?}"))
                .unwrap_or_default()
        );
    }
    if hint.is_none() {
        println!(
            "GBA          GBA_ME yes; GBA_U {}",
            if u.supports_gba_u() {
                "yes (UST service 68)"
            } else {
                "no"
            }
        );
    }
}

/// The card as `sim` opens it.
type Card = simbridge::uicc::Uicc<Box<dyn simbridge::card::CardChannel>>;

fn app_kind(a: &simbridge::uicc::files::AppTemplate) -> &'static str {
    if a.is_usim() {
        "usim"
    } else if a.is_isim() {
        "isim"
    } else {
        "other"
    }
}

fn aka(src: &CardSourceArgs, rand: &str, autn: &str, json_out: bool) -> CliResult {
    let rand = parse_fixed::<16>("--rand", rand)?;
    let autn = parse_fixed::<16>("--autn", autn)?;
    let mut u = src.open()?;
    let what = u.channel().describe();
    match u
        .authenticate(&rand, &autn)
        .map_err(|e| card_error(&what, e))?
    {
        AuthResult::Success { res, ck, ik, kc } => {
            // Printing key material is this command's job (it is a diagnostic for the card itself).
            let kc_hex = kc.as_ref().map(|k| hex::encode(k.expose()));
            if json_out {
                let v = json!({"result": "success", "res": hex::encode(res.expose()), "ck": hex::encode(ck.expose()), "ik": hex::encode(ik.expose()), "kc": kc_hex});
                println!("{v}");
            } else {
                println!("RES  {}", hex::encode(res.expose()));
                println!("CK   {}", hex::encode(ck.expose()));
                println!("IK   {}", hex::encode(ik.expose()));
                if let Some(kc) = kc_hex {
                    println!("Kc   {kc}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthResult::SyncFailure { auts } => {
            if json_out {
                println!(
                    "{}",
                    json!({"result": "sync_failure", "auts": hex::encode(auts)})
                );
            } else {
                println!("AUTS {}", hex::encode(auts));
            }
            eprintln!(
                "simbridge: synchronisation failure: the card's SQN is ahead of the challenge (AUTS printed)"
            );
            Ok(ExitCode::from(2))
        }
        AuthResult::MacFailure => {
            if json_out {
                // Scripts read stdout: they get an object for every outcome.
                println!(
                    "{}",
                    json!({"result": "mac_failure", "error": "network authentication failed (MAC): the challenge did not come from the card's home network"})
                );
            }
            Err(CliError::with_code(
                3,
                "network authentication failed (MAC)",
            ))
        }
    }
}
