//! Server scale, measured (not a timed test): full PSK CCM_8 handshakes per second on one core
//! through our `Endpoint` (clients in the same process over an in-memory link, so the figure is
//! the engine's CPU cost for both sides), and the memory an established session holds at 10k and
//! 100k sessions (RSS delta / sessions, from /proc/self/statm). Run: `cargo bench --bench server_scale`
//! (`-- 100000` sets the largest count). Prints a Markdown table and writes target/bench/server_scale.json.

use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::{ClientConfig, Connection, Endpoint, ServerConfig};
use simbridge::secret::SecretVec;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

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

/// One full handshake between a fresh client and the endpoint; the client is dropped after it
/// (only the server's state stays, which is what a server holds per session).
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
            while let Some(d) = c.poll_transmit() {
                ep.handle_datagram(now, from, &d);
            }
            return true;
        }
        if !moved {
            break;
        }
    }
    false
}

fn main() {
    let max: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let psk = Arc::new(StaticPsk {
        identity: b"dev".to_vec(),
        key: SecretVec::from(&[7u8; 16][..]),
    });
    let mut scfg = ServerConfig::new(psk.clone());
    scfg.max_connections = max as usize + 10;
    scfg.handshakes_per_second = u32::MAX;
    scfg.session_cache = 0;
    let client_cfg = Arc::new(ClientConfig::new(psk));
    let mut ep = Endpoint::new(Arc::new(scfg)).expect("endpoint");
    let now = Instant::now();
    let base = rss_bytes();
    let mut rows = Vec::new();
    let t0 = Instant::now();
    let mut done = 0u32;
    for checkpoint in [10_000u32, max].into_iter().filter(|c| *c <= max) {
        while done < checkpoint {
            assert!(
                handshake(&mut ep, &client_cfg, addr(done), now),
                "handshake {done} failed"
            );
            done += 1;
        }
        let secs = t0.elapsed().as_secs_f64();
        let per = (rss_bytes().saturating_sub(base)) as f64 / f64::from(done);
        rows.push((done, ep.connection_count(), f64::from(done) / secs, per));
    }
    println!("| sessions | held by the endpoint | handshakes/s (both sides, one core) | memory per session |");
    println!("|---:|---:|---:|---:|");
    for (n, held, hps, per) in &rows {
        println!("| {n} | {held} | {hps:.0} | {:.2} KB |", per / 1024.0);
    }
    println!("\nPublished for comparison (reference/dtls.md): Californium ≈ 3 KB, OpenSSL ≈ 70 KB per session; target ≤ 2 KB.");
    let json: Vec<_> = rows
        .iter()
        .map(|(n, held, hps, per)| serde_json::json!({"sessions": n, "held": held, "handshakes_per_s": hps, "bytes_per_session": per}))
        .collect();
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write(
        "target/bench/server_scale.json",
        serde_json::to_vec_pretty(&json).unwrap_or_default(),
    );
}
