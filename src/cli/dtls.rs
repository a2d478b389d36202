//! `simbridge dtls client|server`: diagnostic DTLS 1.2 / 1.3 PSK peers, like `openssl s_client` /
//! `s_server`. The engine is sans-IO (`simbridge::dtls`); this file only owns the UDP socket,
//! stdin/stdout and the clock.

use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;
use simbridge::dtls::client_link::ClientLink;
use simbridge::dtls::config::{CommonConfig, DEFAULT_MTU, EmsPolicy, StaticPsk};
use simbridge::dtls::{CipherSuite, CloseReason, Endpoint, Error, Event, Versions};
use simbridge::secret::SecretVec;

use super::{CliError, CliResult};

mod client;
mod server;
use client::{ClientLoop, Flow, client_config, connect_udp};
use server::{
    announce, flush_endpoint, receive_from, save_state, server_config, server_events, state_key,
};

/// DTLS 1.2 / 1.3 PSK diagnostic client and server.
#[derive(Args, Debug)]
pub struct DtlsArgs {
    #[command(subcommand)]
    command: DtlsCommand,
}

#[derive(Subcommand, Debug)]
enum DtlsCommand {
    /// Connect to a DTLS server; stdin lines are sent as records, received data goes to stdout.
    Client(ClientArgs),
    /// Accept DTLS clients on a UDP address.
    Server(ServerArgs),
    /// Benchmark harness (not a test): handshake bytes over an in-memory link and record
    /// seal+open throughput per suite.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Application record size in bytes for the throughput run.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Seconds per suite for the throughput run.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// PSK identity (client: sent; server: the one accepted).
    #[arg(long)]
    psk_identity: String,
    /// PSK as hex. Shows in `ps`: prefer --psk-file or SIMBRIDGE_PSK.
    #[arg(long, value_name = "HEX", conflicts_with = "psk_file")]
    psk: Option<String>,
    /// File holding the PSK as hex (one line; mode 0600, not readable by group or others).
    /// Without --psk and --psk-file the PSK comes from the SIMBRIDGE_PSK environment variable.
    #[arg(long, value_name = "FILE")]
    psk_file: Option<std::path::PathBuf>,
    /// Cipher suite by IANA name, in preference order (repeatable). Default TLS_PSK_WITH_AES_128_CCM_8.
    #[arg(long = "suite")]
    suites: Vec<String>,
    /// Print one JSON object per event on stderr.
    #[arg(long)]
    json_events: bool,
    /// Largest UDP payload to send (handshake flights are fragmented to fit).
    #[arg(long, default_value_t = DEFAULT_MTU)]
    mtu: usize,
    /// Initial retransmission timeout in milliseconds (RFC 6347: 1000; RFC 7925: 9000).
    #[arg(long, default_value_t = 1000)]
    retransmit_ms: u64,
    /// RFC 7627 extended master secret: `required` refuses a peer without it
    /// (handshake_failure); `preferred` accepts one, logs a warning and never resumes that
    /// session (it is open to the triple handshake attack; RFC 9325 asks for EMS).
    #[arg(long, value_enum, default_value_t = Ems::Required)]
    ems: Ems,
    /// DTLS version: `1.2`, `1.3` or `auto`. A server with `auto` (its default) gives DTLS 1.3
    /// to a client that offers it and 1.2 to the others; a client with `auto` tries 1.3 and
    /// falls back to 1.2 when the server answers in 1.2 (the downgrade sentinel checked). The
    /// client's default is 1.2.
    #[arg(long = "version", id = "dtls_version", value_name = "1.2|1.3|auto")]
    dtls_version: Option<Versions>,
    /// Pack several handshake messages of a flight into one record (13 bytes less per extra
    /// message; some constrained stacks refuse it). Default: one message per record.
    #[arg(long)]
    pack_handshake_records: bool,
}

/// `--ems` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Ems {
    Required,
    Preferred,
}

impl From<Ems> for EmsPolicy {
    fn from(e: Ems) -> Self {
        match e {
            Ems::Required => EmsPolicy::Required,
            Ems::Preferred => EmsPolicy::Preferred,
        }
    }
}

/// Logs why a handshake was refused, with what to change when it is a policy of ours.
fn log_refusal(peer: &str, reason: &CloseReason) {
    match reason {
        CloseReason::Error(Error::NoExtendedMasterSecret) => log::warn!(
            "{peer}: handshake refused: {reason} (`--ems preferred` accepts such peers, weaker)"
        ),
        // a flood makes one per hostile hello: counted in the JSON events, not worth a WARN
        CloseReason::Error(Error::HandshakeEvicted) => log::debug!("{peer}: {reason}"),
        CloseReason::Error(_) | CloseReason::PeerAlert(_) => {
            log::warn!("{peer}: connection failed: {reason}")
        }
        CloseReason::Local | CloseReason::PeerClosed => {}
    }
}

/// Peers already warned about a session without extended master secret (bounded: cleared
/// when full, so a flood of peers costs a repeated warning, not memory).
#[derive(Default)]
struct WarnedOnce(std::collections::HashSet<std::net::IpAddr>);

impl WarnedOnce {
    const MAX: usize = 4096;

    /// Warns about `peer`'s session without EMS unless it was warned about before.
    fn no_ems(&mut self, peer: SocketAddr) {
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        if self.0.insert(peer.ip()) {
            log::warn!(
                "{peer}: session without extended master secret (RFC 7627) accepted by `--ems preferred`; it will not be resumed"
            );
        }
    }
}

#[derive(Args, Debug)]
struct ClientArgs {
    /// Server address, HOST:PORT.
    #[arg(long)]
    connect: String,
    /// Host name to send as SNI.
    #[arg(long)]
    sni: Option<String>,
    /// Give up when the handshake has not completed after this many milliseconds.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// Offer an RFC 9146 Connection ID of LEN bytes (0: "I need none", but the server may
    /// still give us one, which keeps the session across NAT rebinding).
    #[arg(long, value_name = "LEN")]
    cid: Option<usize>,
    /// Resume the session saved in FILE (if it exists) and save the new one there after the
    /// handshake (like openssl -sess_in/-sess_out; asks for a ticket too). DTLS 1.2: the
    /// session. DTLS 1.3: the server's last ticket, offered once (the file is emptied when
    /// the handshake is done and gets the session's new ticket, if the server sends one). The
    /// file holds the master secret or ticket PSK: it is written with mode 0600.
    #[arg(long, value_name = "FILE")]
    session_file: Option<std::path::PathBuf>,
    /// DTLS 1.3: send the content of FILE (`-`: stdin, read to its end first; there are then
    /// no lines to send and the client closes once the data is out) as 0-RTT early data, with the ClientHello, when --session-file
    /// holds a ticket that allows early data of that size. Without such a ticket, or when the
    /// server does not take it (it asked for a cookie, or refused), the data is sent as the
    /// first record after the handshake, so it always arrives once. Prints (stderr) whether
    /// it went as 0-RTT. 0-RTT data can be replayed by an attacker: send only requests that
    /// are safe to repeat.
    #[arg(long, value_name = "FILE|-")]
    early_data: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct ServerArgs {
    /// Address to listen on, e.g. 127.0.0.1:5684 (port 0 picks one).
    #[arg(long)]
    listen: String,
    /// Send each received record back.
    #[arg(long)]
    echo: bool,
    /// psk_identity_hint to send (omitted by default).
    #[arg(long)]
    hint: Option<String>,
    /// Length of the RFC 9146 Connection IDs handed to clients that ask (0: "I need none").
    #[arg(long, value_name = "LEN", default_value_t = simbridge::dtls::cid::DEFAULT_SERVER_CID_LEN)]
    cid: usize,
    /// Ignore the Connection ID extension (plain records, routing by address only).
    #[arg(long, conflicts_with = "cid")]
    no_cid: bool,
    /// Issue no RFC 5077 session tickets (session-ID resumption only).
    #[arg(long)]
    no_tickets: bool,
    /// Most connections (established or handshaking) held (ServerConfig::max_connections;
    /// default 10,000).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Most connections still handshaking; when full, a new cookie-valid hello evicts the
    /// handshake that made no progress for the longest time (ServerConfig::max_handshaking;
    /// default 2,500).
    #[arg(long, value_name = "N")]
    max_handshaking: Option<usize>,
    /// DTLS 1.3 0-RTT: issue tickets (implies DTLS 1.3 tickets) that allow early data, and take
    /// a resuming client's early data when the strike register finds it fresh and unseen
    /// (ServerConfig::early_data13). Early data is printed like other data, marked: "EARLY "
    /// before it on stdout, an "early_data" JSON event with --json-events.
    #[arg(long)]
    early_data: bool,
    /// With --early-data: the most early data taken per handshake, bytes.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 1024,
        requires = "early_data"
    )]
    max_early_data: u32,
    /// With --early-data: the anti-replay window, milliseconds (a ClientHello sent, by its
    /// ticket age, further from now is refused early data; a start refuses early data for one
    /// window unless --state restored the strike register). Keep it well above 1000: tickets
    /// carry their issue time in whole seconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 10_000,
        requires = "early_data"
    )]
    early_data_window_ms: u64,
    /// Resume without the cookie round trip when a hello offers a resumable session
    /// (weaker amplification protection; see ServerConfig::resume_without_cookie).
    #[arg(long)]
    resume_without_cookie: bool,
    /// Graceful restart: on start, load the connections exported in FILE (the file is
    /// consumed: overwritten and removed, and its id recorded in FILE.ledger, so an export is
    /// never loaded twice, not even from a backup); on SIGTERM or SIGINT, export every
    /// established connection to FILE (mode 0600) and exit.
    #[arg(long, value_name = "FILE", requires = "state_key")]
    state: Option<std::path::PathBuf>,
    /// Key (hex) that encrypts the --state file.
    #[arg(
        long,
        value_name = "HEX",
        env = "SIMBRIDGE_STATE_KEY",
        hide_env_values = true
    )]
    state_key: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `simbridge dtls ...`.
pub fn run(args: DtlsArgs) -> CliResult {
    match args.command {
        DtlsCommand::Client(a) => run_client(a),
        DtlsCommand::Server(a) => run_server(a),
        DtlsCommand::Bench(a) => run_bench(a),
    }
}

/// The suites of `--suite` (default: TLS_PSK_WITH_AES_128_CCM_8 for DTLS 1.2 and every DTLS
/// 1.3 suite for 1.3), checked against `--version`.
fn parse_suites(names: &[String], versions: Versions) -> Result<Vec<CipherSuite>, CliError> {
    if names.is_empty() {
        return Ok(versions.default_suites(&[CipherSuite::PskAes128Ccm8]));
    }
    let suites = names
        .iter()
        .map(|n| {
            CipherSuite::from_name(n)
                .ok_or_else(|| CliError::new(format!("unknown cipher suite {n}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    versions
        .check_suites(&suites)
        .map_err(|e| CliError::new(format!("--suite: {e} (with --version {versions})")))?;
    Ok(suites)
}

/// The PSK from --psk, --psk-file or SIMBRIDGE_PSK (in that order), as hex.
/// The settings client and server share: suites, MTU, first retransmission timeout.
fn apply_common(common: &mut CommonConfig, a: &CommonArgs, suites: Vec<CipherSuite>) {
    common.suites = suites;
    common.mtu = a.mtu;
    common.retransmit.initial = Duration::from_millis(a.retransmit_ms.max(1));
}

fn static_psk(c: &CommonArgs) -> Result<Arc<StaticPsk>, CliError> {
    let (text, from) = match (&c.psk, &c.psk_file) {
        (Some(p), _) => (zeroize::Zeroizing::new(p.clone()), "--psk".to_string()),
        (None, Some(f)) => (read_psk_file(f)?, f.display().to_string()),
        (None, None) => match std::env::var("SIMBRIDGE_PSK") {
            Ok(v) => (zeroize::Zeroizing::new(v), "SIMBRIDGE_PSK".to_string()),
            Err(_) => {
                return Err(CliError::new(
                    "no PSK: give --psk-file FILE (hex, mode 0600), SIMBRIDGE_PSK=HEX or --psk HEX",
                ));
            }
        },
    };
    let key = hex::decode(text.trim())
        .map_err(|e| CliError::new(format!("{from}: the PSK must be hex digits ({e})")))?;
    if key.is_empty() {
        return Err(CliError::new(format!("{from}: the PSK is empty")));
    }
    Ok(Arc::new(StaticPsk {
        identity: c.psk_identity.as_bytes().to_vec(),
        key: SecretVec::new(key),
    }))
}

/// Reads a PSK file, refusing one that group or others may read.
fn read_psk_file(path: &std::path::Path) -> Result<zeroize::Zeroizing<String>, CliError> {
    let err = |e: std::io::Error| CliError::new(format!("--psk-file {}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata().map_err(err)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(CliError::new(format!(
                "--psk-file {}: readable by group or others (mode {:o}); run chmod 600 on it",
                path.display(),
                mode & 0o777
            )));
        }
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::Read::read_to_string(&mut &f, &mut text).map_err(err)?;
    Ok(text)
}

fn emit(json: bool, v: serde_json::Value) {
    if json {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{v}");
        let _ = e.flush();
    }
}

fn event_json(e: &Event, peer: Option<SocketAddr>) -> Option<serde_json::Value> {
    let mut v = match e {
        Event::Connected {
            suite,
            identity,
            resumed,
        } => json!({
            "event": "connected",
            "version": if suite.is_tls13() { "1.3" } else { "1.2" },
            "suite": suite.name(),
            "identity": String::from_utf8_lossy(identity),
            "resumed": resumed,
        }),
        Event::Closed { reason } => json!({"event": "closed", "reason": reason.to_string()}),
        Event::EarlyDataStatus { accepted } => json!({"event": "early_data", "accepted": accepted}),
        // the length only: the data is the application's
        Event::EarlyData(d) => json!({"event": "early_data", "bytes": d.len()}),
        _ => return None,
    };
    if let (Some(p), Some(o)) = (peer, v.as_object_mut()) {
        o.insert("peer".into(), json!(p.to_string()));
    }
    Some(v)
}

/// The import ledger of `--state FILE`: `FILE.ledger`.
fn ledger_path(state: &std::path::Path) -> std::path::PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".ledger");
    p.into()
}

/// Loads a graceful-restart export. The file is consumed first (its bytes overwritten, then
/// removed: no copy of the session keys is left behind) and its id is recorded in the
/// persistent ledger `FILE.ledger` before the import, so the same export, restored from a
/// backup, is refused (importing it twice would reuse record sequence numbers).
fn load_state(
    ep: &mut Endpoint,
    path: &std::path::Path,
    key: &[u8],
    json: bool,
) -> Result<(), CliError> {
    let err = |e: std::io::Error| CliError::new(format!("--state {}: {e}", path.display()));
    let blob = match std::fs::read(path) {
        Ok(b) => zeroize::Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    scrub_and_remove(path, blob.len()).map_err(err)?;
    let ledger = ledger_path(path);
    let mut ledger = simbridge::bridge::state::FileLedger::open(&ledger)
        .map_err(|e| CliError::new(format!("{}: {e}", ledger.display())))?;
    match ep.load_all_with(&blob, key, &mut ledger) {
        Ok(n) => emit(json, json!({"event": "state_loaded", "connections": n})),
        Err(e) => {
            log::warn!("--state {}: not loaded: {e}", path.display());
            emit(
                json,
                json!({"event": "state_refused", "reason": e.to_string()}),
            );
        }
    }
    Ok(())
}

/// Overwrites the first `len` bytes of `path` with zeros, syncs, and removes it.
fn scrub_and_remove(path: &std::path::Path, len: usize) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(&vec![0u8; len])?;
    f.sync_all()?;
    drop(f);
    std::fs::remove_file(path)
}

/// Writes a file with mode 0600, atomically.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    simbridge::fsutil::write_atomic_private(path, bytes)
        .map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

/// Adds the negotiated Connection IDs (hex; absent when not negotiated) and whether the
/// session has extended master secret to a connected event.
/// Adds to a `connected` event: the extended master secret (DTLS 1.2 only) and the CIDs
/// (ours, the peer's) when negotiated.
fn add_cids(v: &mut serde_json::Value, ems: Option<bool>, cids: Option<(&[u8], &[u8])>) {
    if let Some(o) = v.as_object_mut() {
        if let Some(ems) = ems {
            o.insert("extended_master_secret".into(), json!(ems));
        }
        if let Some((ours, peer)) = cids {
            o.insert("cid".into(), json!(hex::encode(ours)));
            o.insert("peer_cid".into(), json!(hex::encode(peer)));
        }
    }
}

fn send_all(sock: &UdpSocket, conn: &mut ClientLink) -> Result<(), CliError> {
    while let Some(d) = conn.poll_transmit() {
        if let Err(e) = sock.send(&d) {
            log::warn!("send failed: {e}");
        }
    }
    Ok(())
}

enum Input {
    Line(Vec<u8>),
    Eof,
}

fn spawn_stdin() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut line = Vec::new();
            match lock.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Input::Eof);
                    return;
                }
                Ok(_) => {
                    if tx.send(Input::Line(line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

fn run_client(a: ClientArgs) -> CliResult {
    let versions = a.common.dtls_version.unwrap_or(Versions::Dtls12);
    if versions == Versions::Auto && a.session_file.is_some() {
        return Err(CliError::new(
            "--session-file keeps a DTLS 1.2 session or a DTLS 1.3 ticket: choose --version 1.2 or 1.3, not auto",
        ));
    }
    if versions != Versions::Dtls13 && a.early_data.is_some() {
        return Err(CliError::new(format!(
            "--early-data is DTLS 1.3's 0-RTT: it needs --version 1.3, not {versions}"
        )));
    }
    let early = client::read_early_data(a.early_data.as_deref())?;
    let suites = parse_suites(&a.common.suites, versions)?;
    let psk = static_psk(&a.common)?;
    let (sock, peer) = connect_udp(&a.connect)?;
    let start = Instant::now();
    let conn = if versions == Versions::Dtls13 {
        let cfg = client_config(&a, psk, suites, false)?;
        let resume = client::saved_ticket(&a)?;
        client::announce_early(early.as_deref(), resume.as_ref());
        ClientLink::connect_with_early_data(Arc::new(cfg), resume, early, start)
    } else {
        let cfg = client_config(&a, psk, suites, true)?;
        ClientLink::client(Arc::new(cfg), versions, start)
    }
    .map_err(|e| CliError::new(format!("client: {e}")))?;
    let handshake_deadline = start + Duration::from_millis(a.timeout_ms);
    // stdin went into the early data: no lines to send after it
    let stdin = if a.early_data.as_deref() == Some("-") {
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(Input::Eof);
        rx
    } else {
        spawn_stdin()
    };
    let mut buf = vec![0u8; 65536];
    let mut out = std::io::stdout();
    let mut c = ClientLoop {
        a: &a,
        sock,
        peer,
        conn,
        connected: false,
        eof_at: None,
        failure: None,
        handshake_failed: false,
    };
    loop {
        send_all(&c.sock, &mut c.conn)?;
        if c.events(&mut out)? == Flow::Stop {
            break;
        }
        send_all(&c.sock, &mut c.conn)?;
        let now = Instant::now();
        if c.deadlines(now, handshake_deadline) == Flow::Stop {
            break;
        }
        if c.connected && c.eof_at.is_none() {
            if c.stdin_lines(&stdin) == Flow::Stop {
                break;
            }
            send_all(&c.sock, &mut c.conn)?;
        }
        if c.receive(now, &mut buf)? == Flow::Stop {
            break;
        }
        c.conn.handle_timeout(Instant::now());
    }
    c.finish()
}

fn run_server(a: ServerArgs) -> CliResult {
    let versions = a.common.dtls_version.unwrap_or(Versions::Auto);
    let suites = parse_suites(&a.common.suites, versions)?;
    let psk = static_psk(&a.common)?;
    let sock =
        UdpSocket::bind(&a.listen).map_err(|e| CliError::new(format!("bind {}: {e}", a.listen)))?;
    let local = sock
        .local_addr()
        .map_err(|e| CliError::new(format!("local_addr: {e}")))?;
    let cfg = server_config(&a, psk, suites);
    let mut ep = Endpoint::new(Arc::new(cfg)).map_err(|e| CliError::new(format!("server: {e}")))?;
    let json = a.common.json_events;
    let state_key = state_key(&a)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let (Some(path), Some(key)) = (&a.state, &state_key) {
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, stop.clone())
                .map_err(|e| CliError::new(format!("signal handler: {e}")))?;
        }
        load_state(&mut ep, path, key.expose(), json)?;
    }
    // the endpoint's clock (and the 0-RTT start window) starts before we say we listen, not
    // at the first timer after the first 200 ms wait for a datagram
    ep.handle_timeout(Instant::now());
    announce(json, local);
    let mut buf = vec![0u8; 65536];
    let mut out = std::io::stdout();
    let mut warned = WarnedOnce::default();
    loop {
        flush_endpoint(&mut ep, &sock);
        server_events(&mut ep, &a, &mut out, &mut warned);
        if ep.poll_transmit_pending() {
            continue;
        }
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            save_state(&mut ep, &a, state_key.as_ref())?;
            return Ok(ExitCode::SUCCESS);
        }
        receive_from(&mut ep, &sock, &mut buf)?;
        ep.handle_timeout(Instant::now());
    }
}

fn run_bench(a: BenchArgs) -> CliResult {
    use simbridge::dtls::internal::bench::{handshake_bytes, seal_open_throughput};
    for suite in CipherSuite::ALL {
        let hs = handshake_bytes(suite).map_err(|e| CliError::new(format!("{suite}: {e}")))?;
        let tp = seal_open_throughput(suite, a.size, Duration::from_secs_f64(a.seconds.max(0.01)));
        println!(
            "{}",
            json!({
                "suite": suite.name(),
                "handshake_bytes": hs.total(),
                "client_datagrams": hs.client_to_server,
                "server_datagrams": hs.server_to_client,
                "record_size": a.size,
                "seal_open_mb_per_s": (tp * 100.0).round() / 100.0,
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}
