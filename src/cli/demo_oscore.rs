//! `simbridge demo --protection oscore`: the demo chain with OSCORE instead of DTLS — the
//! gateway establishes one context from the card's GBA key, then every CoAP message crosses
//! protected end to end with no handshake — and the same bytes-on-air table.

use super::CliResult;
use super::demo::{
    DemoArgs, NAF, exchange, fail, outcome, print_head, print_tail, start_key_service,
};
use serde_json::json;
use simbridge::bridge::NafKeySource;
use simbridge::bridge::NafKeys;
use simbridge::bridge::naf_keys::KeyApiSource;
use simbridge::bridge::oscore::{
    DEFAULT_SEQ_STEP, OscoreMetrics, OscoreRoute, OscoreRouteSpec, OscoreServer, OscoreServerSpec,
};
use simbridge::gba::key_api::client::KeyApiClient;
use simbridge::gba::oscore::Choices;
use simbridge::secret::SecretVec;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Runs the OSCORE demo against the BSF at `bsf_url` and the echo backend at `echo`.
pub(super) fn run(
    args: &DemoArgs,
    bsf_url: &str,
    token: SecretVec,
    echo: SocketAddr,
    card_profile: PathBuf,
    scratch: &Path,
    t0: Instant,
) -> CliResult {
    let keys = Arc::new(NafKeys::new(NafKeySource {
        statics: Default::default(),
        key_api: Some(KeyApiSource {
            client: Arc::new(KeyApiClient::new(bsf_url, token, Duration::from_secs(5))),
            naf_fqdn: NAF.into(),
            ua: None,
        }),
    }));
    let any: SocketAddr = "127.0.0.1:0".parse().map_err(|e| fail("address", e))?;
    let server = OscoreServer::start(OscoreServerSpec {
        listen: any,
        backend: echo,
        keys,
        choices: Choices::default(),
        state_dir: None,
        seq_step: DEFAULT_SEQ_STEP,
        max_contexts: 16,
    })
    .map_err(|e| fail("OSCORE server", e))?;
    let key_service = start_key_service(card_profile, scratch.join("gateway"), bsf_url)?;
    let sender = key_service
        .sender()
        .ok_or_else(|| fail("key service", "not running"))?;
    let route = OscoreRoute::start(
        OscoreRouteSpec {
            name: NAF.into(),
            listen: any,
            upstream: server.local_addr(),
            naf_fqdn: NAF.into(),
            choices: Choices::default(),
            state_dir: None,
            seq_step: DEFAULT_SEQ_STEP,
            renew_before: Duration::from_secs(3600),
        },
        sender,
    )
    .map_err(|e| fail("gateway", e))?;
    let t_msgs = Instant::now();
    let answered = exchange(args, route.local_addr())?;
    let msg_time = t_msgs.elapsed();
    let m = route.shutdown();
    let server_establishments = server.counters().establishments.load(Ordering::Relaxed);
    drop(server);
    drop(key_service);
    report(
        args,
        &m,
        answered,
        server_establishments,
        msg_time,
        t0.elapsed(),
    )
}

fn report(
    args: &DemoArgs,
    m: &OscoreMetrics,
    answered: u32,
    server_establishments: u64,
    msg_time: Duration,
    total: Duration,
) -> CliResult {
    let n = f64::from(answered.max(1));
    let est = m.establishment_bytes_sent + m.establishment_bytes_received;
    let data = m.plain_bytes_sent + m.plain_bytes_received;
    let overhead = (m.bytes_sent + m.bytes_received).saturating_sub(data);
    let per_msg = m.bytes_on_air() as f64 / n;
    let per_msg_steady = (m.bytes_sent + m.bytes_received) as f64 / n;
    let v = json!({
        "protection": "oscore",
        "messages": answered,
        "payload_bytes": args.payload,
        "bootstraps": m.bootstraps,
        "establishments": {"gateway": m.establishments, "server_side": server_establishments},
        "handshakes": {"full": 0, "abbreviated": 0},
        "bytes_on_air": {"establishment": est, "data": data, "overhead": overhead, "total": m.bytes_on_air()},
        "overhead_per_message": overhead as f64 / n,
        "per_message_bytes": per_msg,
        "per_message_bytes_after_establishment": per_msg_steady,
        "dropped": m.dropped,
        "messages_ms": msg_time.as_secs_f64() * 1000.0,
        "total_ms": total.as_secs_f64() * 1000.0,
    });
    if args.json {
        println!("{v}");
    } else {
        print_head("OSCORE", args, answered, m.bootstraps);
        println!(
            "  | OSCORE establishments (DTLS handshakes: none) | {} |",
            m.establishments
        );
        println!("  | bytes on air: establishment | {est} B |");
        println!(
            "  | bytes on air: CoAP / OSCORE overhead | {data} B / {overhead} B ({:.1} B per message, both ways) |",
            overhead as f64 / n
        );
        println!(
            "  | bytes on air per message | {per_msg:.1} B ({per_msg_steady:.1} B after the establishment) |"
        );
        print_tail(m.dropped, msg_time, total);
    }
    outcome(args, answered)
}
