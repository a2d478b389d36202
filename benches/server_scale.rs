//! Server scale, measured (not a timed test): full PSK CCM_8 handshakes per second on one core
//! through our `Endpoint` (clients in the same thread over an in-memory link, so the figure is
//! the engine's CPU cost for both sides), and the memory an established session holds at 10k and
//! 100k sessions. Run: `cargo bench --bench server_scale` (`-- 100000` sets the largest count).
//! Prints a Markdown table and writes target/bench/server_scale.json.
//!
//! Memory is measured two ways, side by side:
//! - RSS delta / sessions (the headline figure, from /proc/self/statm): what the process really
//!   holds, allocator overhead and fragmentation included;
//! - live heap delta / sessions: bytes the engine has allocated and not freed (a counting global
//!   allocator), plus the endpoint's tables; this is the state itself.
//!
//! So that the RSS figure is the server's, the memory phase runs every client in its own thread:
//! glibc gives that thread its own malloc arena, so client state made and dropped per handshake
//! leaves no holes between the server's allocations. Each client sends one application record
//! after its handshake (what a device does next), which tells the server its last flight arrived
//! (RFC 6347 §4.2.4), so the server keeps only the established state. The throughput phase
//! runs afterwards on a fresh endpoint, clients in the same thread.
//!
//! Variants (each writes target/bench/server_scale_<variant>.json instead of the main file):
//! `--no-data` (clients send nothing after the handshake: the server keeps its last flight for
//! RFC 6347's 2*MSL), `--session-cache` (the default bounded session-ID cache of 1024 sessions;
//! off otherwise), `--cid` (clients ask for a Connection ID: zero-length theirs, the server's
//! 4 bytes).

use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::internal::crypto::aead::RecordCipher;
use simbridge::dtls::internal::record_layer::RecordLayer;
use simbridge::dtls::internal::replay::ReplayWindow;
use simbridge::dtls::stats::Stats;
use simbridge::dtls::suite::AeadAlg;
use simbridge::dtls::{ClientConfig, Connection, Endpoint, ServerConfig, Session};
use simbridge::secret::{Secret, SecretVec};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

#[path = "counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live_heap;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn addr(i: u32) -> SocketAddr {
    let ip = Ipv4Addr::from(0x0A00_0000 + (i / 60_000));
    SocketAddr::V4(SocketAddrV4::new(ip, 1024 + (i % 60_000) as u16))
}

/// What the run measures.
#[derive(Debug, Clone, Copy)]
struct Opts {
    max: u32,
    /// Clients send one record after the handshake.
    data: bool,
    /// The server keeps its default session-ID cache.
    session_cache: bool,
    /// Clients negotiate a Connection ID.
    cid: bool,
}

impl Opts {
    fn variant(&self) -> String {
        let mut v = Vec::new();
        if !self.data {
            v.push("no_data");
        }
        if self.session_cache {
            v.push("session_cache");
        }
        if self.cid {
            v.push("cid");
        }
        if v.is_empty() {
            "default".into()
        } else {
            v.join("+")
        }
    }
}

fn configs(o: &Opts) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let psk = Arc::new(StaticPsk {
        identity: b"dev".to_vec(),
        key: SecretVec::from(&[7u8; 16][..]),
    });
    let mut scfg = ServerConfig::new(psk.clone());
    scfg.max_connections = o.max as usize + 10;
    scfg.handshakes_per_second = u32::MAX;
    if !o.session_cache {
        scfg.session_cache = 0;
    }
    let mut ccfg = ClientConfig::new(psk);
    if o.cid {
        ccfg.connection_id = Some(0);
    }
    (Arc::new(scfg), Arc::new(ccfg))
}

/// One full handshake between a fresh client and the endpoint, in one thread; the client sends
/// one application record once established and is dropped.
fn handshake(
    ep: &mut Endpoint,
    client_cfg: &Arc<ClientConfig>,
    from: SocketAddr,
    now: Instant,
) -> bool {
    let Ok(mut c) = Connection::client(client_cfg.clone(), now) else {
        return false;
    };
    for _ in 0..20 {
        let mut moved = false;
        while let Some(d) = c.poll_transmit() {
            moved = true;
            ep.handle_datagram(now, from, &d);
        }
        while let Some(t) = ep.poll_transmit() {
            moved = true;
            c.handle_datagram(now, &t.payload);
        }
        while ep.poll_event().is_some() {}
        if c.is_established() {
            let _ = c.send(b"hello");
            while let Some(d) = c.poll_transmit() {
                ep.handle_datagram(now, from, &d);
            }
            while ep.poll_transmit().is_some() {}
            while ep.poll_event().is_some() {}
            return true;
        }
        if !moved {
            break;
        }
    }
    false
}

/// Datagrams from the client thread and the answers back.
type Batch = Vec<Vec<u8>>;

/// The client side of the memory phase: runs in its own thread (its own malloc arena).
/// Sends `(datagrams, done)` and waits for the server's answers.
fn client_thread(
    cfg: Arc<ClientConfig>,
    n: u32,
    data: bool,
    to_server: mpsc::Sender<(Batch, bool)>,
    from_server: mpsc::Receiver<Batch>,
    now: Instant,
) -> bool {
    for _ in 0..n {
        let Ok(mut c) = Connection::client(cfg.clone(), now) else {
            return false;
        };
        let mut ok = false;
        for _ in 0..20 {
            let mut out = Vec::new();
            while let Some(d) = c.poll_transmit() {
                out.push(d);
            }
            if c.is_established() {
                if data && c.send(b"hello").is_err() {
                    return false;
                }
                while let Some(d) = c.poll_transmit() {
                    out.push(d);
                }
                ok = to_server.send((out, true)).is_ok();
                break;
            }
            if to_server.send((out, false)).is_err() {
                return false;
            }
            let Ok(answer) = from_server.recv() else {
                return false;
            };
            for d in answer {
                c.handle_datagram(now, &d);
            }
        }
        if !ok {
            return false;
        }
    }
    true
}

struct MemRow {
    sessions: u32,
    held: usize,
    rss_per: f64,
    heap_per: f64,
}

/// Builds up to `max` sessions on one endpoint; measures RSS and live heap at each checkpoint.
fn memory_phase(o: &Opts, checkpoints: &[u32]) -> Vec<MemRow> {
    let max = o.max;
    let data = o.data;
    let (scfg, ccfg) = configs(o);
    let now = Instant::now();
    let mut ep = Endpoint::new(scfg).expect("endpoint");
    let (to_server, from_client) = mpsc::channel::<(Batch, bool)>();
    let (to_client, from_server) = mpsc::channel::<Batch>();
    let client =
        std::thread::spawn(move || client_thread(ccfg, max, data, to_server, from_server, now));
    let mut rows = Vec::new();
    let mut done = 0u32;
    let mut cps = checkpoints.iter().copied().peekable();
    // the baseline is taken once the client thread runs (its arena exists)
    let mut base: Option<(u64, i64)> = None;
    while let Ok((batch, last)) = from_client.recv() {
        let (base_rss, base_heap) = *base.get_or_insert_with(|| (rss_bytes(), live_heap()));
        let from = addr(done);
        for d in &batch {
            ep.handle_datagram(now, from, d);
        }
        drop(batch);
        let answer: Batch = std::iter::from_fn(|| ep.poll_transmit())
            .map(|t| t.payload)
            .collect();
        while ep.poll_event().is_some() {}
        if last {
            done += 1;
            if cps.peek() == Some(&done) {
                cps.next();
                let n = f64::from(done);
                rows.push(MemRow {
                    sessions: done,
                    held: ep.connection_count(),
                    rss_per: rss_bytes().saturating_sub(base_rss) as f64 / n,
                    heap_per: (live_heap() - base_heap) as f64 / n,
                });
            }
            if done == max {
                break;
            }
        } else if to_client.send(answer).is_err() {
            break;
        }
    }
    drop(to_client);
    assert!(
        client.join().unwrap_or(false),
        "a handshake failed after {done} sessions"
    );
    assert_eq!(done, max, "handshakes completed");
    assert_eq!(ep.connection_count(), max as usize, "sessions held");
    rows
}

/// Handshakes per second on one core, both sides in this thread, on a fresh endpoint.
fn throughput(o: &Opts, n: u32) -> f64 {
    let (scfg, ccfg) = configs(&Opts { max: n, ..*o });
    let mut ep = Endpoint::new(scfg).expect("endpoint");
    let now = Instant::now();
    let t0 = Instant::now();
    for i in 0..n {
        assert!(
            handshake(&mut ep, &ccfg, addr(i), now),
            "handshake {i} failed"
        );
    }
    f64::from(n) / t0.elapsed().as_secs_f64()
}

/// Heap bytes one CCM_8 record cipher (one direction) allocates.
fn record_cipher_heap() -> i64 {
    let before = live_heap();
    let c = RecordCipher::new(
        AeadAlg::Aes128Ccm8,
        &Secret::new([1u8; 16]),
        &Secret::new([2u8; 4]),
    );
    let after = live_heap();
    drop(c);
    after - before
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let max: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let opts = Opts {
        max,
        data: !flag("--no-data"),
        session_cache: flag("--session-cache"),
        cid: flag("--cid"),
    };
    let variant = opts.variant();
    let checkpoints: Vec<u32> = [10_000u32, max]
        .into_iter()
        .filter(|c| *c <= max)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mem = memory_phase(&opts, &checkpoints);
    let hps = throughput(&opts, max.min(20_000));
    println!("variant: {variant}\n");

    println!(
        "| sessions | held by the endpoint | handshakes/s (both sides, one core) | memory per session (RSS delta) | live heap per session |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for r in &mem {
        println!(
            "| {} | {} | {hps:.0} | {:.2} KB | {:.2} KB |",
            r.sessions,
            r.held,
            r.rss_per / 1024.0,
            r.heap_per / 1024.0
        );
    }
    println!(
        "\nPublished for comparison (OpenSSL issue #31492, Californium README; docs/sources.md sec. 6): Californium ≈ 3 KB, OpenSSL ≈ 70 KB per session; target ≤ 2 KB."
    );
    let cipher_heap = record_cipher_heap();
    println!(
        "Record cipher (CCM_8, one direction): {} B inline + {cipher_heap} B heap; a session holds two.",
        std::mem::size_of::<RecordCipher>()
    );
    println!(
        "Inline sizes (bytes): Connection {}, RecordLayer {}, RecordCipher {} (its heap: line above), Stats {}, Session {}, ReplayWindow {}, SocketAddr {}.",
        std::mem::size_of::<Connection>(),
        std::mem::size_of::<RecordLayer>(),
        std::mem::size_of::<RecordCipher>(),
        std::mem::size_of::<Stats>(),
        std::mem::size_of::<Session>(),
        std::mem::size_of::<ReplayWindow>(),
        std::mem::size_of::<SocketAddr>(),
    );
    let json: Vec<_> = mem
        .iter()
        .map(|r| {
            serde_json::json!({
                "sessions": r.sessions,
                "held": r.held,
                "handshakes_per_s": hps,
                "bytes_per_session": r.rss_per,
                "live_heap_bytes_per_session": r.heap_per,
                "connection_inline_bytes": std::mem::size_of::<Connection>(),
                "variant": variant,
                "record_cipher_bytes": std::mem::size_of::<RecordCipher>() as i64 + cipher_heap,
            })
        })
        .collect();
    let _ = std::fs::create_dir_all("target/bench");
    let file = if variant == "default" {
        "target/bench/server_scale.json".to_string()
    } else {
        format!("target/bench/server_scale_{variant}.json")
    };
    let _ = std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap_or_default());
}
