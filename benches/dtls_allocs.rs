//! Heap allocations per application-data round trip in steady state (a harness, not a timed
//! test): `cargo bench --bench dtls_allocs [-- ROUND_TRIPS]`.
//!
//! A client `Connection` and a server `Endpoint` joined in memory finish a handshake
//! (TLS_PSK_WITH_AES_128_CCM_8 and TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256), exchange 1,000 round
//! trips to warm up, then ROUND_TRIPS more (default 10,000) of a 64-byte record each way while a
//! counting global allocator tallies the allocations made inside the client's calls and inside
//! the server's calls separately, once through the Vec-returning API (`send`, `poll_transmit`,
//! `handle_datagram`, `poll_event`) and once through the caller-owned-buffer API (`send_into`,
//! `handle_datagram_in_place`, `poll_transmit_into`). Plain UDP over a loopback socket pair allocates nothing per
//! datagram, so 0 is the reference (no DTLS peer here exposes an allocation counter).
//! Also times the counted round trips (both sides in one thread, counting on: a comparison of
//! the two APIs, not a throughput figure). Prints a Markdown table and writes
//! target/bench/dtls_allocs.json.

use serde_json::json;
use simbridge::dtls::config::{ClientConfig, ServerConfig, StaticPsk};
use simbridge::dtls::rng::SeededRng;
use simbridge::dtls::{CipherSuite, Connection, Endpoint, Event};
use simbridge::secret::SecretVec;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocated_bytes, allocations};

/// Allocations and bytes counted while `f` runs.
#[derive(Default, Clone, Copy)]
struct Tally {
    allocs: u64,
    bytes: u64,
}

fn counted<T>(t: &mut Tally, f: impl FnOnce() -> T) -> T {
    let (a, b) = (allocations(), allocated_bytes());
    let r = f();
    t.allocs += allocations() - a;
    t.bytes += allocated_bytes() - b;
    r
}

struct Link {
    client: Connection,
    server: Endpoint,
    from: SocketAddr,
    now: Instant,
}

impl Link {
    fn new(suite: CipherSuite) -> Self {
        let psk = Arc::new(StaticPsk {
            identity: b"bench".to_vec(),
            key: SecretVec::new(vec![7; 16]),
        });
        let mut c = ClientConfig::new(psk.clone());
        c.common.suites = vec![suite];
        c.common.rng = Arc::new(SeededRng::new(1));
        let mut s = ServerConfig::new(psk);
        s.common.suites = vec![suite];
        s.common.rng = Arc::new(SeededRng::new(2));
        let now = Instant::now();
        let client = Connection::client(Arc::new(c), now).expect("client config");
        let server = Endpoint::new(Arc::new(s)).expect("server config");
        let mut l = Link {
            client,
            server,
            from: "192.0.2.1:40000".parse().expect("address"),
            now,
        };
        for _ in 0..20 {
            l.pump(&mut Tally::default(), &mut Tally::default());
        }
        assert!(l.client.is_established(), "handshake did not finish");
        l
    }

    /// Moves every pending datagram both ways and drains the events; returns the client's data.
    fn pump(&mut self, ct: &mut Tally, st: &mut Tally) -> usize {
        let mut got = 0;
        while let Some(d) = counted(ct, || self.client.poll_transmit()) {
            counted(st, || self.server.handle_datagram(self.now, self.from, &d));
        }
        while let Some((from, e)) = counted(st, || self.server.poll_event()) {
            if let Event::Data(d) = e {
                counted(st, || self.server.send(from, &d)).expect("echo");
            }
        }
        while let Some(t) = counted(st, || self.server.poll_transmit()) {
            counted(ct, || self.client.handle_datagram(self.now, &t.payload));
        }
        while let Some(e) = counted(ct, || self.client.poll_event()) {
            if let Event::Data(d) = e {
                got += d.len();
            }
        }
        got
    }

    fn round_trip(&mut self, msg: &[u8], ct: &mut Tally, st: &mut Tally) {
        counted(ct, || self.client.send(msg)).expect("send");
        let got = self.pump(ct, st);
        assert_eq!(got, msg.len(), "echo lost");
    }

    /// The same round trip through the caller-owned-buffer API: `send_into` seals into the
    /// caller's datagram buffer, `handle_datagram_in_place` opens the records where they lie
    /// and hands the data over as a slice, `poll_transmit_into` drains anything queued.
    fn round_trip_into(&mut self, msg: &[u8], b: &mut Buffers, ct: &mut Tally, st: &mut Tally) {
        let now = self.now;
        let from = self.from;
        let n = counted(ct, || self.client.send_into(msg, &mut b.up)).expect("send_into");
        let (plain, echo) = (&mut b.plain, &mut b.echo);
        let mut got = None;
        counted(st, || {
            self.server
                .handle_datagram_in_place(now, from, &mut b.up[..n], |peer, d| {
                    plain[..d.len()].copy_from_slice(d);
                    got = Some((peer, d.len()));
                })
        });
        while let Some(n) = counted(ct, || self.client.poll_transmit_into(echo)).expect("queue") {
            counted(st, || self.server.handle_datagram(now, from, &echo[..n]));
        }
        while counted(st, || self.server.poll_event()).is_some() {}
        let (peer, len) = got.expect("server got no data");
        let m = counted(st, || {
            self.server.send_into(peer, &plain[..len], &mut b.down)
        })
        .expect("echo");
        let mut back = 0;
        counted(ct, || {
            self.client
                .handle_datagram_in_place(now, &mut b.down[..m], |d| back += d.len())
        });
        while let Some(t) = counted(st, || self.server.poll_transmit_into(echo)).expect("queue") {
            counted(ct, || self.client.handle_datagram(now, &echo[..t.len]));
        }
        while counted(ct, || self.client.poll_event()).is_some() {}
        assert_eq!(back, msg.len(), "echo lost");
    }
}

/// The caller's buffers for [`Link::round_trip_into`], made once.
struct Buffers {
    up: Vec<u8>,
    down: Vec<u8>,
    plain: Vec<u8>,
    echo: Vec<u8>,
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            up: vec![0; 2048],
            down: vec![0; 2048],
            plain: vec![0; 2048],
            echo: vec![0; 2048],
        }
    }
}

/// Allocations per round trip with `round_trip` (Vec API) or `round_trip_into` (buffers), and
/// the wall time of the counted round trips (both sides in this thread, allocator counting on).
fn measure(suite: CipherSuite, n: u64, msg: &[u8], into: bool) -> (Tally, Tally, Duration) {
    let mut link = Link::new(suite);
    let mut b = Buffers::new();
    let mut run = |link: &mut Link, rounds: u64| {
        let (mut ct, mut st) = (Tally::default(), Tally::default());
        for _ in 0..rounds {
            if into {
                link.round_trip_into(msg, &mut b, &mut ct, &mut st);
            } else {
                link.round_trip(msg, &mut ct, &mut st);
            }
        }
        (ct, st)
    };
    run(&mut link, 1_000);
    let t0 = Instant::now();
    let (ct, st) = run(&mut link, n);
    (ct, st, t0.elapsed())
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let msg = [0x5a; 64];
    let mut rows = Vec::new();
    println!(
        "| suite | API | client allocs / round trip | client bytes / round trip | server allocs / round trip | server bytes / round trip | plain UDP | µs / round trip |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for suite in [
        CipherSuite::PskAes128Ccm8,
        CipherSuite::EcdhePskAes128GcmSha256,
    ] {
        for (api, into) in [
            (
                "send / handle_datagram / poll_transmit / poll_event (Vec)",
                false,
            ),
            (
                "send_into / handle_datagram_in_place / poll_transmit_into (caller's buffers)",
                true,
            ),
        ] {
            let (ct, st, took) = measure(suite, n, &msg, into);
            let per = |x: u64| x as f64 / n as f64;
            let us = took.as_secs_f64() * 1e6 / n as f64;
            println!(
                "| {} | {api} | {:.2} | {:.0} | {:.2} | {:.0} | 0 | {us:.2} |",
                suite.name(),
                per(ct.allocs),
                per(ct.bytes),
                per(st.allocs),
                per(st.bytes)
            );
            rows.push(json!({
                "suite": suite.name(),
                "api": if into { "buffers" } else { "vec" },
                "round_trips": n,
                "record_bytes": msg.len(),
                "client_allocs_per_round_trip": per(ct.allocs),
                "client_bytes_per_round_trip": per(ct.bytes),
                "server_allocs_per_round_trip": per(st.allocs),
                "server_bytes_per_round_trip": per(st.bytes),
                "us_per_round_trip": us,
            }));
        }
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench");
    let out = dir.join("dtls_allocs.json");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&out, json!({ "rows": rows }).to_string()));
    match written {
        Ok(()) => println!("\nwritten: {}", out.display()),
        Err(e) => eprintln!("dtls_allocs: cannot write {}: {e}", out.display()),
    }
}
