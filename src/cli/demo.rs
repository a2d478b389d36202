//! `simbridge demo`: the main job on the embedded default. Until the bridge lands it runs 3GPP AKA
//! between an emulated network (HSS/AuC arithmetic) and the software USIM from
//! sim-profiles/demo.toml, including a replay that the card rejects and the resynchronisation.

use super::{CliError, CliResult};
use serde_json::json;
use simbridge::card::CardChannel;
use simbridge::softsim::{Profile, SoftUsim};
use simbridge::uicc::{AuthResult, Uicc};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// The demo card, embedded so `demo` works from any directory.
const DEMO_PROFILE: &str = include_str!("../../sim-profiles/demo.toml");

/// `demo` options.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

fn fail(step: &str, e: impl std::fmt::Display) -> CliError {
    CliError::new(format!("demo: {step}: {e}"))
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> CliResult {
    let t0 = Instant::now();
    let profile = Profile::parse(DEMO_PROFILE, Path::new("sim-profiles/demo.toml"))
        .map_err(|e| fail("profile", e))?;
    // The network side knows the same subscriber keys (they came from the same profile).
    let network_keys = profile.keys.clone();
    let amf = profile.amf;
    let card = SoftUsim::from_profile(profile, None).map_err(|e| fail("software USIM", e))?;
    let mut uicc = Uicc::open(card, None).map_err(|e| fail("open card", e))?;
    let apdus_open = uicc.apdu_count();

    let mut rand = [0u8; 16];
    getrandom::fill(&mut rand).map_err(|e| fail("random", e))?;
    let mut sqn_he: u64 = 1 << 5; // SEQ 1, IND 0
    let av = network_keys.generate_vector(&rand, sqn_he, &amf);
    let first = uicc
        .authenticate(&av.rand, &av.autn)
        .map_err(|e| fail("AUTHENTICATE", e))?;
    let ok1 = matches!(&first, AuthResult::Success { res, ck, ik, .. }
        if res.expose() == av.xres && ck == &av.ck && ik == &av.ik);
    if !ok1 {
        return Err(fail("first AKA", format!("unexpected outcome {first:?}")));
    }

    // A replayed challenge must be refused with AUTS; the network resynchronises from it.
    let replay = uicc
        .authenticate(&av.rand, &av.autn)
        .map_err(|e| fail("replayed AUTHENTICATE", e))?;
    let AuthResult::SyncFailure { auts } = replay else {
        return Err(fail(
            "replay",
            format!("card accepted a replayed AUTN: {replay:?}"),
        ));
    };
    let sqn_ms = network_keys
        .verify_auts(&rand, &auts)
        .ok_or_else(|| fail("resync", "MAC-S of AUTS did not verify"))?;
    sqn_he = sqn_ms + (1 << 5);
    getrandom::fill(&mut rand).map_err(|e| fail("random", e))?;
    let av2 = network_keys.generate_vector(&rand, sqn_he, &amf);
    let second = uicc
        .authenticate(&av2.rand, &av2.autn)
        .map_err(|e| fail("AUTHENTICATE after resync", e))?;
    let ok2 = matches!(&second, AuthResult::Success { res, .. } if res.expose() == av2.xres);
    if !ok2 {
        return Err(fail(
            "AKA after resync",
            format!("unexpected outcome {second:?}"),
        ));
    }
    let elapsed = t0.elapsed();

    let v = json!({
        "card": uicc.channel().describe(),
        "imsi": uicc.imsi(),
        "impi": uicc.impi(),
        "gba_u": uicc.supports_gba_u(),
        "apdus_open": apdus_open,
        "apdus_total": uicc.apdu_count(),
        "aka_success": true,
        "replay_rejected": true,
        "resync_sqn_ms": sqn_ms,
        "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
    });
    if args.json {
        println!("{v}");
    } else {
        println!("simbridge demo: 3GPP AKA on the software USIM (sim-profiles/demo.toml)");
        println!(
            "  card opened: USIM selected via EF_DIR, IMSI {}, IMPI {} ({} APDUs)",
            uicc.imsi(),
            uicc.impi(),
            apdus_open
        );
        println!("  AKA 1: network challenge accepted, RES = XRES, CK/IK agree with the network");
        println!("  replay of the same AUTN: refused with AUTS; network recovered SQN_MS = {sqn_ms} (MAC-S verified)");
        println!("  AKA 2 after resynchronisation: accepted");
        println!(
            "  {} APDUs in all, {:.1} ms",
            uicc.apdu_count(),
            elapsed.as_secs_f64() * 1000.0
        );
        println!("(the full chain - GBA bootstrap, DTLS bridge and server - joins this demo as it lands)");
    }
    Ok(ExitCode::SUCCESS)
}
