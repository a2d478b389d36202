//! `simbridge psk`: the (D)TLS PSK identity and key for a NAF, from the cached bootstrapping
//! context (bootstrapping first when there is none). The key is printed only with `--reveal`.

use super::bootstrap::{GbaArgs, gba_error};
use super::{CliError, CliResult};
use crate::config::GBA_DEFAULT_SUITES;
use serde_json::json;
use simbridge::gba::{self, NafId, UaId};
use std::process::ExitCode;
use std::time::SystemTime;

/// `psk` options.
#[derive(clap::Args, Debug)]
pub struct PskArgs {
    #[command(flatten)]
    gba: GbaArgs,
    /// The NAF host name, as the client sends it in SNI
    #[arg(long, value_name = "HOST")]
    naf: String,
    /// The (D)TLS 1.2 cipher suite by IANA name; NAF_Id ends with 01 00 01 and its code.
    /// Default: the suite the bridge offers first for GBA keys
    /// (TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256), so the key is the one the bridge uses
    #[arg(long, value_name = "IANA_NAME", conflicts_with_all = ["tls13", "ua_id"])]
    suite: Option<String>,
    /// (D)TLS 1.3: Ua id 01 00 00 00 07
    #[arg(long, conflicts_with = "ua_id")]
    tls13: bool,
    /// Any 5-byte Ua security protocol id in hex (e.g. for the unconfirmed DTLS Ua id)
    #[arg(long, value_name = "HEX10")]
    ua_id: Option<String>,
    /// Print the 32-byte key in hex
    #[arg(long)]
    reveal: bool,
    /// Print JSON (keys identity, psk with --reveal, btid, naf_id, expires)
    #[arg(long)]
    json: bool,
}

/// Runs `psk`.
pub fn run(a: PskArgs) -> CliResult {
    // Which Ua id, and in words why (so a cross-check with another tool uses the same one).
    let (ua, basis) = if a.tls13 {
        (UaId::TLS13, "(D)TLS 1.3 (--tls13)".to_string())
    } else if let Some(h) = &a.ua_id {
        let ua = UaId::from_hex(h)
            .map_err(|e| CliError::with_code(super::EXIT_USAGE, format!("--ua-id: {e}")))?;
        (ua, "given with --ua-id".to_string())
    } else {
        let (name, why) = match &a.suite {
            Some(s) => (s.as_str(), "--suite"),
            None => (
                GBA_DEFAULT_SUITES[0].name(),
                "the bridge's first choice; --suite picks another",
            ),
        };
        let code = gba::suite_code(name).ok_or_else(|| {
            CliError::with_code(
                super::EXIT_USAGE,
                format!("--suite: unknown PSK cipher suite {name:?} (give its IANA name)"),
            )
        })?;
        (UaId::tls12_suite(code), format!("{name} ({why})"))
    };
    let naf = NafId::new(&a.naf, ua).map_err(|e| CliError::new(e.to_string()))?;
    let mut card = a.gba.card.open()?;
    let mut p = a.gba.prepare(card.mcc(), card.mnc())?;
    let now = SystemTime::now();
    let (got, key) = gba::client::naf_key(
        &mut card,
        &mut p.transport,
        &p.cfg,
        &gba::CacheUse {
            cache: &p.cache,
            policy: p.policy,
            any_bsf: p.any_bsf,
        },
        now,
        &naf,
    )
    .map_err(gba_error)?;
    let ctx = &got.context;
    let identity = ctx.psk_identity();
    let expires = gba::time::format_utc(ctx.expires);
    if a.json {
        let mut v = json!({
            "identity": identity,
            "btid": ctx.btid,
            "naf_id": hex::encode(naf.to_bytes()),
            "ua_id": ua.to_hex(),
            "ua_basis": basis,
            "expires": expires,
        });
        if a.reveal {
            v["psk"] = json!(hex::encode(key.expose()));
        }
        println!("{v}");
    } else {
        println!("identity: {identity}");
        println!("NAF_Id: {} + {}", naf.fqdn(), ua.to_hex());
        println!("Ua id for: {basis}");
        println!("expires: {expires}");
        if a.reveal {
            println!("psk: {}", hex::encode(key.expose()));
        } else {
            println!("psk: (hidden; add --reveal to print it)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
