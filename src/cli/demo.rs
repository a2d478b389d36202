//! `simbridge demo`: the whole chain on one machine with the embedded defaults — the software USIM
//! (sim-profiles/demo.toml), a BSF with HSS, a DTLS server with a CoAP echo backend, and the
//! gateway with a GBA-keyed route — then N CoAP messages through it, and what they cost on the air
//! compared with the naive design (a full handshake per message).

use super::{CliError, CliResult};
use serde_json::json;
use simbridge::bridge::keyservice::{CardOpener, KeyServiceConfig, OpenError};
use simbridge::bridge::naf_keys::KeyApiSource;
use simbridge::bridge::{
    Gateway, KeyService, NafKeySource, NafKeys, RouteSpec, Server, ServerSpec,
};
use simbridge::card::CardChannel;
use simbridge::dtls::{CipherSuite, ServerConfig, Versions};
use simbridge::gba::key_api::client::KeyApiClient;
use simbridge::gba::{ReusePolicy, UbConfig};
use simbridge::secret::SecretVec;
use simbridge::upstream::{KeySource, SessionConfig, SessionMetrics};
use simbridge_lab::bsf::server::{BsfConfig, BsfServer};
use simbridge_lab::softsim::{Profile, SoftUsim};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo card, embedded so `demo` works from any directory.
const DEMO_PROFILE: &str = include_str!("../../sim-profiles/demo.toml");
/// The NAF host name the demo's server answers to (SNI and NAF_Id).
pub(super) const NAF: &str = "naf.demo.simbridge.local";

/// `demo` options.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Messages to send through the bridge
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(super) messages: u32,
    /// CoAP payload bytes per message
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub(super) payload: u16,
    /// Print the result as JSON
    #[arg(long)]
    pub(super) json: bool,
    /// How CoAP crosses: a long-lived DTLS session, or OSCORE under a context established from
    /// the GBA key (no handshake)
    #[arg(long, value_enum, default_value_t = Protection::Dtls)]
    protection: Protection,
    /// The DTLS version of the gateway's route: 1.2 (ECDHE_PSK, CCM_8, CID) or 1.3 (psk_dhe_ke
    /// X25519 or psk_ke, CCM_8, CID); the server takes either
    #[arg(long = "dtls", value_name = "1.2|1.3", default_value = "1.2")]
    pub(super) dtls: Versions,
}

/// `--protection`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// DTLS (1.2 or 1.3, `--dtls`) with a GBA PSK
    Dtls,
    /// OSCORE (RFC 8613) keyed from GBA
    Oscore,
}

pub(super) fn fail(step: &str, e: impl std::fmt::Display) -> CliError {
    CliError::new(format!("demo: {step}: {e}"))
}

/// A scratch directory removed on drop (the demo leaves nothing behind).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        let mut rnd = [0u8; 8];
        let _ = getrandom::fill(&mut rnd);
        let p = std::env::temp_dir().join(format!(
            "simbridge-demo-{}-{}",
            std::process::id(),
            hex::encode(rnd)
        ));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CoAP echo backend: answers each CON/NON request with a 2.05 Content carrying the payload.
fn start_echo() -> std::io::Result<(SocketAddr, std::sync::mpsc::Sender<()>)> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let addr = sock.local_addr()?;
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while stop_rx.try_recv() == Err(std::sync::mpsc::TryRecvError::Empty) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let Some(reply) = coap_echo_reply(&buf[..n]) else {
                continue;
            };
            let _ = sock.send_to(&reply, from);
        }
    });
    Ok((addr, stop_tx))
}

/// 2.05 Content echoing a request's token and payload (ACK for CON, NON for NON).
fn coap_echo_reply(req: &[u8]) -> Option<Vec<u8>> {
    let (b0, mid) = match req {
        [b0, _code, m1, m2, ..] => (*b0, [*m1, *m2]),
        _ => return None,
    };
    let tkl = usize::from(b0 & 0x0F);
    let kind = (b0 >> 4) & 0x03;
    if b0 >> 6 != 1 || tkl > 8 || req.len() < 4 + tkl || kind > 1 {
        return None;
    }
    let token = &req[4..4 + tkl];
    let payload = req
        .iter()
        .position(|b| *b == 0xFF)
        .map(|i| &req[i + 1..])
        .unwrap_or(&[]);
    let reply_kind = if kind == 0 { 2 } else { 1 };
    let mut out = vec![0x40 | (reply_kind << 4) | tkl as u8, 0x45, mid[0], mid[1]];
    out.extend_from_slice(token);
    if !payload.is_empty() {
        out.push(0xFF);
        out.extend_from_slice(payload);
    }
    Some(out)
}

fn coap_put(mid: u16, token: u16, payload: &[u8]) -> Vec<u8> {
    // CON PUT, 2-byte token, Uri-Path "d", payload.
    let mut m = vec![0x42, 0x03];
    m.extend_from_slice(&mid.to_be_bytes());
    m.extend_from_slice(&token.to_be_bytes());
    m.extend_from_slice(&[0xB1, b'd']);
    if !payload.is_empty() {
        m.push(0xFF);
        m.extend_from_slice(payload);
    }
    m
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> CliResult {
    if args.dtls == Versions::Auto {
        return Err(fail(
            "--dtls",
            "the gateway's route speaks one version: choose 1.2 or 1.3",
        ));
    }
    let t0 = Instant::now();
    let scratch = Scratch::new().map_err(|e| fail("scratch directory", e))?;
    let (profiles, card_profile) = write_profile(&scratch)?;

    // Network side: BSF (with HSS) and the DTLS server with its CoAP echo backend.
    let token = SecretVec::from(&b"demo-key-api-token"[..]);
    let bsf = BsfServer::start(BsfConfig::new(
        &profiles,
        &scratch.0.join("bsf"),
        "127.0.0.1:0",
        token.clone(),
    ))
    .map_err(|e| fail("BSF", e))?;
    let (echo, stop_echo) = start_echo().map_err(|e| fail("echo backend", e))?;
    if args.protection == Protection::Oscore {
        let r =
            super::demo_oscore::run(&args, &bsf.url(), token, echo, card_profile, &scratch.0, t0);
        let _ = stop_echo.send(());
        return r;
    }
    let server = start_server(&bsf.url(), token, echo)?;

    // Gateway: the card behind the key service, one GBA route to the server.
    let key_service = start_key_service(card_profile, scratch.0.join("gateway"), &bsf.url())?;
    let gateway = Gateway::start(
        vec![gba_route(server.local_addr(), args.dtls)?],
        key_service.sender(),
    )
    .map_err(|e| fail("gateway", e))?;
    let local = gateway
        .routes()
        .first()
        .map(|r| r.local_addr())
        .ok_or_else(|| fail("gateway", "no route"))?;

    let t_msgs = Instant::now();
    let answered = exchange(&args, local)?;
    let msg_time = t_msgs.elapsed();
    let m: SessionMetrics = gateway
        .shutdown()
        .into_iter()
        .map(|(_, m)| m)
        .fold(SessionMetrics::default(), |a, b| a.merged(&b));
    let server_handshakes = server
        .counters()
        .handshakes
        .load(std::sync::atomic::Ordering::Relaxed);
    drop(server);
    drop(key_service);
    let _ = stop_echo.send(());
    drop(bsf);
    report(
        &args,
        &m,
        answered,
        server_handshakes,
        msg_time,
        t0.elapsed(),
    )
}

/// GBA keys: (EC)DHE-PSK first for forward secrecy (3GPP's TLS profile), plain PSK as fall-back;
/// for DTLS 1.3 the three 1.3 suites, CCM_8 first (the key exchange is negotiated apart).
fn demo_suites(versions: Versions) -> Vec<CipherSuite> {
    versions.default_suites(&[
        CipherSuite::EcdhePskAes128Ccm8Sha256,
        CipherSuite::PskAes128Ccm8,
    ])
}

/// Writes the demo card's profile into `profiles/` of the scratch directory (where the BSF's
/// HSS reads it too) and checks that it loads. Returns the folder and the file.
fn write_profile(scratch: &Scratch) -> Result<(PathBuf, PathBuf), CliError> {
    let profiles = scratch.0.join("profiles");
    std::fs::create_dir_all(&profiles).map_err(|e| fail("profiles", e))?;
    let card_profile = profiles.join("demo.toml");
    std::fs::write(&card_profile, DEMO_PROFILE).map_err(|e| fail("profile", e))?;
    Profile::load(&card_profile).map_err(|e| fail("profile", e))?;
    Ok((profiles, card_profile))
}

/// The DTLS server in front of the echo backend, with its keys from the BSF's key API.
fn start_server(bsf_url: &str, token: SecretVec, echo: SocketAddr) -> Result<Server, CliError> {
    let keys = Arc::new(NafKeys::new(NafKeySource {
        statics: Default::default(),
        key_api: Some(KeyApiSource {
            client: Arc::new(KeyApiClient::new(bsf_url, token, Duration::from_secs(5))),
            naf_fqdn: NAF.into(),
            ua: None,
        }),
    }));
    let mut server_cfg = ServerConfig::new(keys.clone());
    server_cfg.versions = Versions::Auto;
    server_cfg.common.suites = demo_suites(Versions::Auto);
    Server::start(ServerSpec {
        listen: "127.0.0.1:0".parse().map_err(|e| fail("address", e))?,
        backend: echo,
        dtls: server_cfg,
        keys,
        state_dir: None,
        early_forward: Default::default(),
    })
    .map_err(|e| fail("server", e))
}

/// The gateway's key service over the demo card (a software USIM) and the BSF.
pub(super) fn start_key_service(
    card_path: PathBuf,
    state_dir: PathBuf,
    bsf_url: &str,
) -> Result<KeyService, CliError> {
    let opener: CardOpener = Box::new(move || {
        SoftUsim::load(&card_path)
            .map(|c| Box::new(c) as Box<dyn CardChannel>)
            .map_err(|e| Box::new(e) as OpenError)
    });
    KeyService::start(KeyServiceConfig {
        card: opener,
        pin: None,
        ub: UbConfig::new(bsf_url),
        state_dir,
        policy: ReusePolicy::default(),
        http_timeout: Duration::from_secs(5),
        tls: simbridge::gba::transport::tls_config(None).map_err(|e| fail("key service", e))?,
    })
    .map_err(|e| fail("key service", e))
}

/// The gateway's one route: GBA keys for [`NAF`], to the server at `upstream`.
fn gba_route(upstream: SocketAddr, versions: Versions) -> Result<RouteSpec, CliError> {
    let mut session = SessionConfig {
        versions,
        ..SessionConfig::default()
    };
    session.dtls.common.suites = demo_suites(versions);
    session.dtls.connection_id = Some(0);
    Ok(RouteSpec {
        name: NAF.into(),
        listen: "127.0.0.1:0".parse().map_err(|e| fail("address", e))?,
        upstream,
        keys: KeySource::Gba {
            naf_fqdn: NAF.into(),
            ua: None,
        },
        session,
        state: None,
    })
}

/// A local CoAP client sends the messages through the gateway at `local`, one at a time, and
/// checks each echo. Returns how many came back.
pub(super) fn exchange(args: &DemoArgs, local: SocketAddr) -> Result<u32, CliError> {
    let client = UdpSocket::bind("127.0.0.1:0").map_err(|e| fail("client socket", e))?;
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| fail("client socket", e))?;
    let payload = vec![0x5Au8; usize::from(args.payload)];
    let mut buf = [0u8; 2048];
    let mut answered = 0u32;
    for i in 0..args.messages {
        let mid = i as u16;
        let req = coap_put(mid, mid ^ 0xBEEF, &payload);
        client.send_to(&req, local).map_err(|e| fail("send", e))?;
        let (n, _) = client
            .recv_from(&mut buf)
            .map_err(|e| fail(&format!("reply to message {}", i + 1), e))?;
        let ok = buf.get(2..4) == Some(&mid.to_be_bytes()[..]) && buf[..n].ends_with(&payload);
        if !ok {
            return Err(fail(
                "reply",
                format!("message {} came back altered", i + 1),
            ));
        }
        answered += 1;
    }
    Ok(answered)
}

fn report(
    args: &DemoArgs,
    m: &SessionMetrics,
    answered: u32,
    server_handshakes: u64,
    msg_time: Duration,
    total: Duration,
) -> CliResult {
    let n = f64::from(answered.max(1));
    let handshakes = (m.handshakes_full + m.handshakes_abbreviated).max(1);
    let hs_bytes = m.handshake_bytes_sent + m.handshake_bytes_received;
    let data_bytes = m.data_bytes_sent + m.data_bytes_received;
    let overhead = m.overhead_bytes_sent + m.overhead_bytes_received;
    let per_msg = m.bytes_on_air() as f64 / n;
    // The naive design: a full handshake for every message, plus the same data and overhead.
    let naive_per_msg = hs_bytes as f64 / handshakes as f64 + (data_bytes + overhead) as f64 / n;
    let v = json!({
        "dtls": args.dtls.name(),
        "messages": answered,
        "payload_bytes": args.payload,
        "bootstraps": m.bootstraps,
        "handshakes": {"full": m.handshakes_full, "abbreviated": m.handshakes_abbreviated, "server_side": server_handshakes},
        "bytes_on_air": {"handshake": hs_bytes, "data": data_bytes, "overhead": overhead, "total": m.bytes_on_air()},
        "datagrams": {"handshake": m.handshake_datagrams_sent + m.handshake_datagrams_received, "data": m.data_datagrams_sent + m.data_datagrams_received},
        "per_message_bytes": per_msg,
        "naive_per_message_bytes": naive_per_msg,
        "saving_ratio": if per_msg > 0.0 { naive_per_msg / per_msg } else { 0.0 },
        "rtt_estimate_ms": m.rtt_estimate_ms,
        "dropped": m.dropped_queue_full + m.dropped_no_session,
        "messages_ms": msg_time.as_secs_f64() * 1000.0,
        "total_ms": total.as_secs_f64() * 1000.0,
    });
    if args.json {
        println!("{v}");
    } else {
        print_head(&format!("DTLS {}", args.dtls), args, answered, m.bootstraps);
        println!(
            "  | DTLS handshakes: full / abbreviated | {} / {} |",
            m.handshakes_full, m.handshakes_abbreviated
        );
        println!("  | bytes on air: handshake | {hs_bytes} B |");
        println!("  | bytes on air: data / record overhead | {data_bytes} B / {overhead} B |");
        println!("  | bytes on air per message | {per_msg:.1} B |");
        println!(
            "  | naive design (full handshake per message) | {naive_per_msg:.1} B per message ({:.1}x) |",
            naive_per_msg / per_msg.max(1e-9)
        );
        print_tail(m.dropped_queue_full + m.dropped_no_session, msg_time, total);
    }
    outcome(args, answered)
}

/// The first rows of the table: what crossed, how many answered, the bootstraps.
pub(super) fn print_head(protection: &str, args: &DemoArgs, answered: u32, bootstraps: u64) {
    println!(
        "simbridge demo: software USIM -> GBA bootstrap at the BSF -> gateway -> {protection} -> server -> CoAP echo"
    );
    println!("  card: sim-profiles/demo.toml (software USIM); NAF {NAF}");
    println!();
    println!("  | what | value |");
    println!("  |---|---|");
    println!(
        "  | CoAP messages answered | {answered} of {} ({} B payload) |",
        args.messages, args.payload
    );
    println!("  | GBA bootstraps (AKA on the card) | {bootstraps} |");
}

/// The last rows: drops and time.
pub(super) fn print_tail(dropped: u64, msg_time: Duration, total: Duration) {
    println!("  | datagrams dropped | {dropped} |");
    println!(
        "  | time | {:.0} ms for the messages, {:.0} ms in all |",
        msg_time.as_secs_f64() * 1000.0,
        total.as_secs_f64() * 1000.0
    );
}

/// Success when every message came back.
pub(super) fn outcome(args: &DemoArgs, answered: u32) -> CliResult {
    if answered == args.messages {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::new(format!(
            "demo: only {answered} of {} messages were answered",
            args.messages
        )))
    }
}
