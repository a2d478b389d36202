//! Gateway cost, measured (not a timed test): datagrams per second and added round-trip latency
//! (p50, p99) of local UDP → gateway → DTLS → server → UDP echo and back, next to the same echo
//! through a plain UDP relay, all on loopback in one process. Run: `cargo bench --bench gateway_latency`.
//! Prints a Markdown table with ratios and writes target/bench/gateway_latency.json.

use simbridge::bridge::{Gateway, NafKeySource, NafKeys, RouteSpec, Server, ServerSpec};
use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::{ClientConfig, ServerConfig};
use simbridge::secret::SecretVec;
use simbridge::upstream::{KeySource, SessionConfig};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 5_000;

fn echo() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let a = s.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok((n, f)) = s.recv_from(&mut b) {
            let _ = s.send_to(&b[..n], f);
        }
    });
    a
}

/// A plain UDP relay: what any forwarder costs without DTLS.
fn plain_relay(to: SocketAddr) -> SocketAddr {
    let front = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let back = UdpSocket::bind("127.0.0.1:0").expect("bind");
    back.connect(to).expect("connect");
    let a = front.local_addr().expect("addr");
    let (f2, b2) = (
        front.try_clone().expect("clone"),
        back.try_clone().expect("clone"),
    );
    let client = Arc::new(std::sync::Mutex::new(None::<SocketAddr>));
    let c2 = client.clone();
    std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok((n, f)) = front.recv_from(&mut b) {
            if let Ok(mut c) = client.lock() {
                *c = Some(f);
            }
            let _ = back.send(&b[..n]);
        }
    });
    std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok(n) = b2.recv(&mut b) {
            if let Some(c) = c2.lock().ok().and_then(|c| *c) {
                let _ = f2.send_to(&b[..n], c);
            }
        }
    });
    a
}

/// Round-trip times of N sequential 64-byte datagrams, and datagrams/s with 32 in flight.
fn measure(target: SocketAddr) -> (Vec<Duration>, f64) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    let msg = [0x42u8; 64];
    // Warm up (handshake happens here for the gateway).
    for _ in 0..10 {
        s.send_to(&msg, target).expect("send");
        let _ = s.recv_from(&mut buf);
    }
    let mut rtts = Vec::with_capacity(N);
    for _ in 0..N {
        let t = Instant::now();
        s.send_to(&msg, target).expect("send");
        if s.recv_from(&mut buf).is_ok() {
            rtts.push(t.elapsed());
        }
    }
    rtts.sort();
    let window = 32;
    let t = Instant::now();
    let (mut sent, mut got) = (0usize, 0usize);
    while got < N && t.elapsed() < Duration::from_secs(30) {
        while sent < N && sent - got < window {
            s.send_to(&msg, target).expect("send");
            sent += 1;
        }
        match s.recv_from(&mut buf) {
            Ok(_) => got += 1,
            Err(_) => sent = got, // a loss: refill the window
        }
    }
    (rtts, got as f64 / t.elapsed().as_secs_f64())
}

fn pct(v: &[Duration], p: f64) -> f64 {
    v.get(((v.len() as f64 - 1.0) * p) as usize)
        .map(|d| d.as_secs_f64() * 1e6)
        .unwrap_or(f64::NAN)
}

fn main() {
    let backend = echo();
    let key = SecretVec::from(&[7u8; 16][..]);
    let keys = Arc::new(NafKeys::new(NafKeySource {
        statics: [(b"dev".to_vec(), key.clone())].into_iter().collect(),
        key_api: None,
    }));
    let server = Server::start(ServerSpec {
        listen: "127.0.0.1:0".parse().expect("addr"),
        backend,
        dtls: ServerConfig::new(keys.clone()),
        keys,
        state_dir: None,
        early_forward: Default::default(),
    })
    .expect("server");
    let psk = Arc::new(StaticPsk {
        identity: b"dev".to_vec(),
        key: key.clone(),
    });
    let mut dtls = ClientConfig::new(psk);
    dtls.connection_id = Some(0);
    let gw = Gateway::start(
        vec![RouteSpec {
            name: "bench".into(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            upstream: server.local_addr(),
            keys: KeySource::Static {
                identity: b"dev".to_vec(),
                key,
            },
            session: SessionConfig::new(dtls),
            state: None,
        }],
        None,
    )
    .expect("gateway");
    let gw_addr = gw.routes()[0].local_addr();
    let relay = plain_relay(backend);
    let (r_rtt, r_dps) = measure(relay);
    let (g_rtt, g_dps) = measure(gw_addr);
    println!("| path | datagrams/s (32 in flight) | RTT p50 | RTT p99 |");
    println!("|---|---:|---:|---:|");
    println!(
        "| plain UDP relay | {r_dps:.0} | {:.0} µs | {:.0} µs |",
        pct(&r_rtt, 0.5),
        pct(&r_rtt, 0.99)
    );
    println!(
        "| gateway + DTLS + server | {g_dps:.0} | {:.0} µs | {:.0} µs |",
        pct(&g_rtt, 0.5),
        pct(&g_rtt, 0.99)
    );
    println!(
        "| ratio (gateway / relay) | {:.2} | {:.2} | {:.2} |",
        g_dps / r_dps,
        pct(&g_rtt, 0.5) / pct(&r_rtt, 0.5),
        pct(&g_rtt, 0.99) / pct(&r_rtt, 0.99)
    );
    let json = serde_json::json!({
        "relay": {"datagrams_per_s": r_dps, "p50_us": pct(&r_rtt, 0.5), "p99_us": pct(&r_rtt, 0.99)},
        "gateway": {"datagrams_per_s": g_dps, "p50_us": pct(&g_rtt, 0.5), "p99_us": pct(&g_rtt, 0.99)},
    });
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write(
        "target/bench/gateway_latency.json",
        serde_json::to_vec_pretty(&json).unwrap_or_default(),
    );
    drop(gw);
}
