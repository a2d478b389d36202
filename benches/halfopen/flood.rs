//! `dtls_halfopen_attack --flood SECS`: the half-open attack as a sustained flood against a
//! real `simbridge dtls server --echo`, while established sessions keep talking.
//!
//! - `sessions` clients (our library, each its own UDP socket on 127.0.0.1) complete a
//!   handshake first, then each sends one 32-byte record every 100 ms; the server echoes it.
//!   A record not echoed back within 1.5 s after the flood ends is counted as lost.
//! - Four flood threads together start `rate` hostile handshakes per second for `secs`
//!   seconds, each from a new socket (a new source port; `per_ip` per source address
//!   127.1.x.y): ClientHello, HelloVerifyRequest, ClientHello with the cookie, and at once the
//!   attack datagram (out-of-order fragments claiming 16 KiB). A handshake whose server flight
//!   came back within 500 ms is half-open at the server; one that got no answer was refused by
//!   a cap (half-open per address, handshake rate, connection limit: all are silent).
//! - Every [`PROBE_EVERY`] during the flood, a genuine client (our library, a fresh source
//!   address 127.200.0.x the flood never uses) tries one full handshake within
//!   [`PROBE_WITHIN`]: how many completed, and the slowest, are printed.
//! - The server's VmRSS is sampled every 50 ms: start, peak, end (after the grace period).
//!   Growth per half-open handshake = (peak - start) / the most half-open handshakes the
//!   server held at once (accepted within one 30 s half-open lifetime, the server's default,
//!   and at most its default handshake budget: beyond it each new one evicts the stalest).
//!
//! Then the same flood on OpenSSL's libssl (`openssl_scale --flood RATE SECS`), printed beside.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use simbridge::dtls::{ClientConfig, Connection, Event};

use super::support::halfopen::{attack_datagram, establish};
use super::{rss_kib, source};

/// What `--flood` runs.
pub struct Options {
    pub secs: u64,
    pub rate: u32,
    pub sessions: usize,
    pub per_ip: u32,
    pub openssl: String,
}

const ROUND: Duration = Duration::from_millis(100);
const FLOOD_THREADS: u32 = 4;
const VERDICT_AFTER: Duration = Duration::from_millis(500);
const GRACE: Duration = Duration::from_millis(1500);
/// `ServerConfig::half_open_timeout` by default.
const HALF_OPEN_LIFETIME: Duration = Duration::from_secs(30);
/// `ServerConfig::max_handshaking` by default.
const MAX_HANDSHAKING: usize = 2_500;
/// How often a genuine client tries a new handshake during the flood.
const PROBE_EVERY: Duration = Duration::from_secs(3);
/// How long a genuine probe handshake may take (a lost flight costs the client 1 s).
const PROBE_WITHIN: Duration = Duration::from_secs(3);

/// Genuine handshakes tried during the flood: (tried, completed, slowest completed).
fn probe_genuine(
    addr: SocketAddr,
    cfg: &Arc<ClientConfig>,
    stop: &AtomicBool,
) -> (u64, u64, Duration) {
    let (mut tried, mut done, mut slowest) = (0u64, 0u64, Duration::ZERO);
    // the first probe once the flood has filled the handshake budget
    std::thread::sleep(PROBE_EVERY);
    while !stop.load(Ordering::Relaxed) {
        let next = Instant::now() + PROBE_EVERY;
        let ip = std::net::Ipv4Addr::new(127, 200, 0, (1 + tried % 250) as u8);
        let Ok(sock) = UdpSocket::bind((ip, 0)) else {
            break;
        };
        if sock.connect(addr).is_err() {
            break;
        }
        tried += 1;
        let t0 = Instant::now();
        if establish(&sock, cfg, PROBE_WITHIN).is_some() {
            done += 1;
            slowest = slowest.max(t0.elapsed());
        }
        if let Some(w) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
    }
    (tried, done, slowest)
}

/// A session from 127.0.0.1 that completes its handshake (at most 5 s).
fn established(addr: SocketAddr, cfg: &Arc<ClientConfig>) -> Option<(UdpSocket, Connection)> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.connect(addr).ok()?;
    let conn = establish(&sock, cfg, Duration::from_secs(5))?;
    sock.set_nonblocking(true).ok()?;
    Some((sock, conn))
}

/// Records sent and echoed by the established sessions, and sessions that closed.
#[derive(Default)]
struct Talk {
    sent: u64,
    echoed: u64,
    closed: u64,
}

fn keep_talking(mut sessions: Vec<(UdpSocket, Connection)>, stop: &AtomicBool) -> Talk {
    let mut t = Talk::default();
    let mut buf = [0u8; 2048];
    let mut next_round = Instant::now();
    let mut stopped_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if stopped_at.is_none() && stop.load(Ordering::Relaxed) {
            stopped_at = Some(now);
        }
        if stopped_at.is_none() && now >= next_round {
            for (i, (_, c)) in sessions.iter_mut().enumerate() {
                let mut rec = [0u8; 32];
                rec[..8].copy_from_slice(&t.sent.to_be_bytes());
                rec[8..16].copy_from_slice(&(i as u64).to_be_bytes());
                if c.send(&rec).is_ok() {
                    t.sent += 1;
                }
            }
            next_round += ROUND;
        }
        for (sock, c) in &mut sessions {
            while let Some(d) = c.poll_transmit() {
                let _ = sock.send(&d);
            }
            while let Ok(n) = sock.recv(&mut buf) {
                c.handle_datagram(now, &buf[..n]);
            }
            c.handle_timeout(now);
            while let Some(e) = c.poll_event() {
                match e {
                    Event::Data(d) if d.len() == 32 => t.echoed += 1,
                    Event::Closed { .. } => t.closed += 1,
                    _ => {}
                }
            }
        }
        if stopped_at.is_some_and(|s| now >= s + GRACE) {
            return t;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What one flood thread saw.
#[derive(Default)]
struct Flood {
    tried: u64,
    no_cookie: u64,
    refused: u64,
    accepted: Vec<Instant>,
    /// When this thread sent its last hostile datagram.
    last_sent: Option<Instant>,
}

/// Verdict on the hostile handshakes started at least [`VERDICT_AFTER`] ago (all with `all`):
/// did the server's flight come back?
fn settle(pending: &mut VecDeque<(Instant, UdpSocket)>, f: &mut Flood, all: bool) {
    let mut buf = [0u8; 2048];
    while let Some((at, _)) = pending.front() {
        if !all && at.elapsed() < VERDICT_AFTER {
            return;
        }
        let Some((at, sock)) = pending.pop_front() else {
            return;
        };
        let answered = sock.set_nonblocking(true).is_ok() && sock.recv(&mut buf).is_ok();
        if answered {
            f.accepted.push(at);
        } else {
            f.refused += 1;
        }
    }
}

fn flood_thread(
    t: u32,
    opts: &Options,
    addr: SocketAddr,
    cfg: &Arc<ClientConfig>,
    start: Instant,
) -> Flood {
    let mut f = Flood::default();
    let total = u64::from(opts.rate) * opts.secs;
    let per_thread_rate = f64::from(opts.rate) / f64::from(FLOOD_THREADS);
    let mut pending = VecDeque::new();
    let mut buf = [0u8; 2048];
    for j in 0.. {
        let i = j * u64::from(FLOOD_THREADS) + u64::from(t);
        if i >= total {
            break;
        }
        settle(&mut pending, &mut f, false);
        let due = start + Duration::from_secs_f64(j as f64 / per_thread_rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        f.tried += 1;
        let Ok(sock) = UdpSocket::bind((source(i as u32, opts.per_ip), 0)) else {
            f.no_cookie += 1;
            continue;
        };
        let ready = sock.connect(addr).is_ok()
            && sock.set_read_timeout(Some(Duration::from_secs(1))).is_ok();
        let Ok(mut c) = Connection::client(cfg.clone(), Instant::now()) else {
            f.no_cookie += 1;
            continue;
        };
        let hello = c.poll_transmit();
        let hvr = match (ready, hello) {
            (true, Some(h)) if sock.send(&h).is_ok() => sock.recv(&mut buf).ok(),
            _ => None,
        };
        let Some(n) = hvr else {
            f.no_cookie += 1;
            continue;
        };
        c.handle_datagram(Instant::now(), &buf[..n]);
        match c.poll_transmit() {
            Some(hello) if sock.send(&hello).is_ok() => {
                let _ = sock.send(&attack_datagram(100));
                let at = Instant::now();
                f.last_sent = Some(at);
                pending.push_back((at, sock));
            }
            _ => f.no_cookie += 1,
        }
    }
    std::thread::sleep(VERDICT_AFTER);
    settle(&mut pending, &mut f, true);
    f
}

/// The most of `accepted` (sorted) within any one half-open lifetime.
fn most_held(accepted: &[Instant]) -> usize {
    let mut lo = 0;
    let mut best = 0;
    for (hi, at) in accepted.iter().enumerate() {
        while at.duration_since(accepted[lo]) >= HALF_OPEN_LIFETIME {
            lo += 1;
        }
        best = best.max(hi + 1 - lo);
    }
    best
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs the flood against the server `pid` at `addr`, then against libssl; prints both.
pub fn run(bin: &str, pid: u32, addr: SocketAddr, cfg: &Arc<ClientConfig>, opts: &Options) {
    let sessions: Vec<_> = (0..opts.sessions)
        .filter_map(|_| established(addr, cfg))
        .collect();
    assert_eq!(
        sessions.len(),
        opts.sessions,
        "every established session came up before the flood"
    );
    std::thread::sleep(Duration::from_millis(300));
    let rss_start = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(rss_start));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let talker = {
        let stop = stop.clone();
        std::thread::spawn(move || keep_talking(sessions, &stop))
    };
    let start = Instant::now();
    let flooding = AtomicBool::new(false);
    let (floods, probes): (Vec<Flood>, _) = std::thread::scope(|s| {
        let flooding = &flooding;
        let prober = s.spawn(move || probe_genuine(addr, cfg, flooding));
        let hs: Vec<_> = (0..FLOOD_THREADS)
            .map(|t| s.spawn(move || flood_thread(t, opts, addr, cfg, start)))
            .collect();
        let floods = hs
            .into_iter()
            .map(|h| h.join().expect("flood thread"))
            .collect();
        flooding.store(true, Ordering::Relaxed);
        (floods, prober.join().expect("prober"))
    });
    stop.store(true, Ordering::Relaxed);
    let talk = talker.join().expect("talker");
    sampler.join().expect("sampler");
    let rss_end = rss_kib(pid);
    let rss_peak = peak.load(Ordering::Relaxed).max(rss_end);
    let tried: u64 = floods.iter().map(|f| f.tried).sum();
    let no_cookie: u64 = floods.iter().map(|f| f.no_cookie).sum();
    let flood_secs = floods
        .iter()
        .filter_map(|f| f.last_sent)
        .max()
        .map_or(0.0, |l| l.duration_since(start).as_secs_f64())
        .max(1e-3);
    let refused: u64 = floods.iter().map(|f| f.refused).sum();
    let mut accepted: Vec<Instant> = floods.into_iter().flat_map(|f| f.accepted).collect();
    accepted.sort();
    let held = most_held(&accepted).min(MAX_HANDSHAKING);
    let growth = rss_peak.saturating_sub(rss_start);
    let per_half_open = if held > 0 {
        growth as f64 / held as f64
    } else {
        0.0
    };
    let ours = serde_json::json!({
        "server": bin,
        "flood_seconds": (flood_secs * 10.0).round() / 10.0,
        "hostile_handshakes": tried,
        "hostile_per_second": (tried as f64 / flood_secs).round(),
        "per_source_address": opts.per_ip,
        "no_cookie_answer": no_cookie,
        "half_open_accepted": accepted.len(),
        "half_open_refused_by_caps": refused,
        "half_open_held_peak": held,
        "sessions": opts.sessions,
        "session_records_sent": talk.sent,
        "session_records_lost": talk.sent.saturating_sub(talk.echoed),
        "sessions_closed": talk.closed,
        "rss_start_kib": rss_start,
        "rss_peak_kib": rss_peak,
        "rss_end_kib": rss_end,
        "rss_growth_per_half_open_kib": (per_half_open * 100.0).round() / 100.0,
        "genuine_handshakes_tried": probes.0,
        "genuine_handshakes_completed": probes.1,
        "genuine_handshake_slowest_ms": probes.2.as_millis() as u64,
    });
    let theirs = openssl_flood(opts);
    print_side_by_side(&ours, theirs.as_ref(), opts);
    println!(
        "genuine new handshakes during the flood (one every {} s, each within {} s): {} of {} completed, slowest {} ms",
        PROBE_EVERY.as_secs(),
        PROBE_WITHIN.as_secs(),
        probes.1,
        probes.0,
        probes.2.as_millis()
    );
    println!(
        "{}",
        serde_json::json!({"simbridge": ours, "openssl": theirs})
    );
    let required = std::env::var("SIMBRIDGE_REQUIRE_PEERS").is_ok_and(|v| !v.is_empty());
    if theirs.is_none() && required {
        eprintln!("dtls_halfopen_attack: the OpenSSL flood did not run (SIMBRIDGE_REQUIRE_PEERS)");
        std::process::exit(1);
    }
}

/// `openssl_scale --flood RATE SECS --sessions N`: its JSON line, or `None` (said on stderr).
fn openssl_flood(opts: &Options) -> Option<serde_json::Value> {
    let out = std::process::Command::new(&opts.openssl)
        .args(["--flood", &opts.rate.to_string(), &opts.secs.to_string()])
        .args(["--sessions", &opts.sessions.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let v = String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| serde_json::from_str(l).ok());
            if v.is_none() {
                eprintln!("{}: no JSON line in its output", opts.openssl);
            }
            v
        }
        Ok(o) => {
            eprintln!(
                "{}: exit {} (an old build without --flood?)",
                opts.openssl, o.status
            );
            None
        }
        Err(e) => {
            eprintln!(
                "{}: {e} (scripts/setup.d/40-openssl-scale.sh builds it)",
                opts.openssl
            );
            None
        }
    }
}

fn print_side_by_side(ours: &serde_json::Value, theirs: Option<&serde_json::Value>, o: &Options) {
    let n = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let missing = serde_json::Value::Null;
    let t = theirs.unwrap_or(&missing);
    let version = t["version"].as_str().unwrap_or("OpenSSL (missing)");
    println!(
        "flood: {} s, {} hostile handshakes/s asked ({} achieved), {} per source address, {} established sessions",
        o.secs, o.rate, ours["hostile_per_second"], o.per_ip, o.sessions
    );
    println!(
        "{:<44} {:>19} {:>26} {:>8}",
        "", "simbridge", version, "ours/them"
    );
    let row = |name: &str, a: f64, b: f64, unit: &str| {
        let ratio = if b.is_finite() && b != 0.0 {
            format!("{:.2}", a / b)
        } else {
            "-".into()
        };
        let p = if unit.is_empty() { 0 } else { 1 };
        println!("{name:<44} {a:>15.p$} {unit:<3} {b:>22.p$} {unit:<3} {ratio:>8}");
    };
    row(
        "datagrams lost by the established sessions",
        n(ours, "session_records_lost"),
        n(t, "session_records_lost"),
        "",
    );
    for (name, k) in [
        ("RSS at start", "rss_start_kib"),
        ("RSS peak", "rss_peak_kib"),
        ("RSS at end", "rss_end_kib"),
    ] {
        row(name, mib(n(ours, k) as u64), n(t, k) / 1024.0, "MiB");
    }
    row(
        "RSS peak - start",
        mib(n(ours, "rss_peak_kib") as u64) - mib(n(ours, "rss_start_kib") as u64),
        (n(t, "rss_peak_kib") - n(t, "rss_start_kib")) / 1024.0,
        "MiB",
    );
    row(
        "RSS growth per half-open handshake",
        n(ours, "rss_growth_per_half_open_kib"),
        n(t, "rss_growth_per_half_open_kib"),
        "KiB",
    );
    row(
        "half-open handshakes held at peak",
        n(ours, "half_open_held_peak"),
        n(t, "half_open_held_peak"),
        "",
    );
    row(
        "half-open handshakes refused by the caps",
        n(ours, "half_open_refused_by_caps"),
        n(t, "half_open_refused_by_caps"),
        "",
    );
}
