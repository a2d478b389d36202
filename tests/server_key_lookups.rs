//! The server's key lookups stay bounded: 1,000 bogus identities (each asked by two handshakes)
//! against a real HTTP key API in the test give at most `workers` requests in flight and exactly
//! one request per identity; asked again, they are answered from the negative cache without a
//! request.

use simbridge::bridge::key_lookup::{KeyLookups, LookupSettings, Outcome, Requested};
use simbridge::bridge::naf_keys::{KeyApiSource, KeyPlan, ServePolicy};
use simbridge::bridge::{NafKeySource, NafKeys};
use simbridge::dtls::CipherSuite;
use simbridge::gba::key_api::KeyApiClient;
use simbridge::secret::SecretVec;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A key API that answers 404 BTID_NOT_FOUND after `delay`, counting requests per B-TID and
/// the most in flight at once. Sixteen handler threads: it never limits the concurrency itself.
struct CountingBsf {
    addr: SocketAddr,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    per_btid: Arc<Mutex<HashMap<String, usize>>>,
    server: Arc<tiny_http::Server>,
}

impl CountingBsf {
    fn start(delay: Duration) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("listen"));
        let addr = server.server_addr().to_ip().expect("ip");
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let per_btid = Arc::new(Mutex::new(HashMap::new()));
        for _ in 0..16 {
            let (server, in_flight, max_in_flight, per_btid) = (
                server.clone(),
                in_flight.clone(),
                max_in_flight.clone(),
                per_btid.clone(),
            );
            std::thread::spawn(move || {
                while let Ok(mut req) = server.recv() {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_flight.fetch_max(now, Ordering::SeqCst);
                    let mut body = String::new();
                    let _ = req.as_reader().read_to_string(&mut body);
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let btid = v["btId"].as_str().unwrap_or("?").to_string();
                    *per_btid.lock().expect("lock").entry(btid).or_insert(0) += 1;
                    std::thread::sleep(delay);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let resp = tiny_http::Response::from_string(
                        r#"{"status":404,"cause":"BTID_NOT_FOUND"}"#,
                    )
                    .with_status_code(404);
                    let _ = req.respond(resp);
                }
            });
        }
        Self {
            addr,
            in_flight,
            max_in_flight,
            per_btid,
            server,
        }
    }
}

impl Drop for CountingBsf {
    fn drop(&mut self) {
        for _ in 0..16 {
            self.server.unblock();
        }
    }
}

#[test]
fn a_thousand_bogus_identities_cost_one_bounded_request_each() {
    const WORKERS: usize = 4;
    let bsf = CountingBsf::start(Duration::from_millis(5));
    let client = KeyApiClient::new(
        &format!("http://{}", bsf.addr),
        SecretVec::from(&b"token"[..]),
        Duration::from_secs(5),
    );
    let keys = Arc::new(
        NafKeys::new(NafKeySource {
            statics: HashMap::new(),
            key_api: Some(KeyApiSource {
                client: Arc::new(client),
                naf_fqdn: "naf.example.com".into(),
                ua: None,
            }),
        })
        .with_policy(ServePolicy::default()),
    );
    let settings = LookupSettings {
        workers: WORKERS,
        negative_ttl: Duration::from_secs(60),
        ..LookupSettings::default()
    };
    let mut lookups = KeyLookups::start(keys.clone(), settings, Arc::new(|| {})).expect("start");

    let plans: Vec<KeyPlan> = (0..1000u32)
        .map(|i| {
            let id = format!(
                "3GPP-bootstrapping.{:08}AAAAAAAAAAAAAA==@bsf.example.org",
                i
            );
            keys.plan(id.as_bytes(), None, CipherSuite::PskAes128Ccm8)
                .expect("a well-formed identity")
        })
        .collect();
    let now = Instant::now();
    for (i, plan) in plans.iter().enumerate() {
        // Two handshakes per identity: the second waits on the first's lookup.
        for port in [10_000 + i as u16, 30_000 + i as u16] {
            let peer: SocketAddr = ([127, 0, 0, 1], port).into();
            assert!(matches!(
                lookups.request(peer, plan.clone(), now),
                Requested::Queued
            ));
        }
    }
    let mut answered = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while answered < 2000 {
        assert!(Instant::now() < deadline, "only {answered} answers");
        for (_, _, outcome) in lookups.poll(Instant::now()) {
            assert!(matches!(outcome, Outcome::Unknown(_)), "{outcome:?}");
            answered += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let per = bsf.per_btid.lock().expect("lock").clone();
    assert_eq!(per.len(), 1000, "every identity asked");
    assert!(per.values().all(|n| *n == 1), "one request per identity");
    let max = bsf.max_in_flight.load(Ordering::SeqCst);
    assert!(
        max <= WORKERS,
        "{max} requests in flight with {WORKERS} workers"
    );
    assert!(max >= 2, "the workers ran in parallel ({max})");
    assert_eq!(bsf.in_flight.load(Ordering::SeqCst), 0);
    assert_eq!(lookups.requests(), 1000);

    // Asked again within the negative-cache time: answered at once, no request.
    for plan in plans.iter().take(100) {
        let peer: SocketAddr = ([127, 0, 0, 2], 5000).into();
        assert!(matches!(
            lookups.request(peer, plan.clone(), Instant::now()),
            Requested::Now(Outcome::Unknown(_))
        ));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        bsf.per_btid.lock().expect("lock").values().sum::<usize>(),
        1000
    );
    // After it, a new request.
    let later = Instant::now() + Duration::from_secs(61);
    let peer: SocketAddr = ([127, 0, 0, 3], 5000).into();
    assert!(matches!(
        lookups.request(peer, plans[0].clone(), later),
        Requested::Queued
    ));
}
