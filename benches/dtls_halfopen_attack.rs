//! The half-open reassembly attack, replayed against a real `simbridge dtls server` process
//! (a benchmark, not a timed test): N handshakes complete the cookie exchange over real UDP
//! on loopback (our library as the client), and each is then sent one datagram of
//! out-of-order handshake fragments claiming 16 KiB (429 bytes: eight fragments of message_seq
//! 2..9, offset 16000, 40 bytes each). The server's RSS (VmRSS in /proc/PID/status) before and
//! after gives the growth per half-open handshake.
//!
//! ```sh
//! cargo bench --bench dtls_halfopen_attack -- [--n 400] [--per-ip 16] [--server-bin PATH] [--no-attack]
//! ```
//!
//! `--no-attack` sends no attack datagram: what a half-open handshake costs by itself.
//!
//! `--per-ip K` spreads the handshakes over source addresses 127.1.x.y, K per address (the
//! server allows 32 half-open handshakes per address); `--per-ip 0` sends them all from
//! 127.0.0.1 with a new source port each (one host, many ports). `--server-bin` runs another
//! build (for a before/after comparison; it must take `dtls server --listen --psk-identity
//! --psk --json-events`). Prints one JSON line.
//!
//! ```sh
//! cargo bench --bench dtls_halfopen_attack -- --flood 60 [--rate 1000] [--sessions 100] [--per-ip 16] [--openssl PATH]
//! ```
//!
//! `--flood SECS`: the flood (see `halfopen/flood.rs`): `--rate` hostile handshakes per second
//! for SECS seconds, each a cookie-valid ClientHello from its own source port followed at once
//! by the attack datagram, while `--sessions` established sessions (from 127.0.0.1) send one
//! record every 100 ms each to the server (run with `--echo`) and count what comes back. Then
//! the same attack on OpenSSL's libssl (`openssl_scale --flood`, in-process memory BIOs;
//! `--openssl` names the harness, default `.peers/openssl_scale`), printed beside ours with
//! the ratio.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::{ClientConfig, Connection};
use simbridge::secret::SecretVec;

#[path = "halfopen/flood.rs"]
mod flood;
#[path = "../tests/support/mod.rs"]
mod support;

use support::halfopen::attack_datagram;

const PSK_HEX: &str = "07070707070707070707070707070707";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn start_server(bin: &str, echo: bool) -> (Server, SocketAddr) {
    let mut child = Command::new(bin)
        .args(["dtls", "server", "--listen", "127.0.0.1:0"])
        .args(["--psk-identity", "dev", "--psk", PSK_HEX, "--json-events"])
        .args(echo.then_some("--echo"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let stderr = child.stderr.take().expect("stderr");
    let server = Server(child);
    let mut lines = BufReader::new(stderr).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l).ok()?;
            (v["event"] == "listening").then(|| v["addr"].as_str()?.parse().ok())?
        })
        .expect("listening event");
    // keep draining stderr so the server never blocks on a full pipe
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (server, addr)
}

/// Runs the cookie exchange from `sock` until the server's first flight arrives (the server
/// then holds a half-open handshake); true on success.
fn half_open(sock: &UdpSocket, cfg: &Arc<ClientConfig>) -> bool {
    let Ok(mut c) = Connection::client(cfg.clone(), Instant::now()) else {
        return false;
    };
    let mut buf = [0u8; 2048];
    for step in 0..2 {
        while let Some(d) = c.poll_transmit() {
            if sock.send(&d).is_err() {
                return false;
            }
        }
        match sock.recv(&mut buf) {
            Ok(n) => c.handle_datagram(Instant::now(), &buf[..n]),
            Err(_) => return false,
        }
        if step == 1 {
            // the server's flight 4 arrived: our flight 5 is ready and never sent
            return c.poll_transmit().is_some();
        }
    }
    false
}

fn client_config() -> Arc<ClientConfig> {
    Arc::new(ClientConfig::new(Arc::new(StaticPsk {
        identity: b"dev".to_vec(),
        key: SecretVec::new(vec![7; 16]),
    })))
}

/// Source address of the `i`-th hostile handshake: `per_ip` per address
/// (127.1.1.1, 127.1.1.2, ...; 0: all from 127.0.0.1, new source port each).
fn source(i: u32, per_ip: u32) -> Ipv4Addr {
    match i.checked_div(per_ip) {
        None => Ipv4Addr::LOCALHOST,
        Some(k) => Ipv4Addr::new(
            127,
            (1 + k / 62_500) as u8,
            (1 + (k / 250) % 250) as u8,
            (1 + k % 250) as u8,
        ),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = arg(&args, "--n", 400);
    let per_ip: u32 = arg(&args, "--per-ip", 16);
    let attack = !args.iter().any(|a| a == "--no-attack");
    let bin: String = arg(
        &args,
        "--server-bin",
        env!("CARGO_BIN_EXE_simbridge").to_string(),
    );
    let flood_secs: u64 = arg(&args, "--flood", 0);
    let (server, addr) = start_server(&bin, flood_secs > 0);
    let pid = server.0.id();
    let cfg = client_config();
    if flood_secs > 0 {
        let opts = flood::Options {
            secs: flood_secs,
            rate: arg(&args, "--rate", 1000),
            sessions: arg(&args, "--sessions", 100),
            per_ip,
            openssl: arg(&args, "--openssl", ".peers/openssl_scale".to_string()),
        };
        flood::run(&bin, pid, addr, &cfg, &opts);
        return;
    }
    // one genuine-looking half-open first, so start-up allocations are not counted
    let warm = UdpSocket::bind((Ipv4Addr::new(127, 0, 2, 254), 0)).expect("bind");
    warm.connect(addr).expect("connect");
    warm.set_read_timeout(Some(Duration::from_secs(2))).ok();
    half_open(&warm, &cfg);
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(pid);
    let started = Instant::now();
    let mut opened = 0u32;
    for i in 0..n {
        let sock = UdpSocket::bind((source(i, per_ip), 0)).expect("bind a loopback source");
        sock.connect(addr).expect("connect");
        sock.set_read_timeout(Some(Duration::from_millis(300))).ok();
        if half_open(&sock, &cfg) {
            opened += 1;
            if attack {
                let _ = sock.send(&attack_datagram(100));
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    let growth = after.saturating_sub(before);
    let v = serde_json::json!({
        "server": bin,
        "handshakes_tried": n,
        "half_open": opened,
        "per_source_address": per_ip,
        "attack_datagram_bytes": if attack { attack_datagram(100).len() } else { 0 },
        "rss_before_kib": before,
        "rss_after_kib": after,
        "rss_growth_kib": growth,
        "rss_growth_per_half_open_kib": if opened > 0 { growth as f64 / f64::from(opened) } else { 0.0 },
        "seconds": (secs * 100.0).round() / 100.0,
    });
    println!("{v}");
}
