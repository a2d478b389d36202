//! A server Endpoint fed arbitrary datagrams (split at 0xFF bytes into several datagrams).
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use simbridge::dtls::config::{ServerConfig, StaticPsk};
use simbridge::dtls::rng::SeededRng;
use simbridge::dtls::{CipherSuite, Endpoint};
use simbridge::secret::SecretVec;

fuzz_target!(|data: &[u8]| {
    let psk = Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(vec![1; 16]),
    });
    let mut cfg = ServerConfig::new(psk);
    cfg.common.suites = CipherSuite::ALL.to_vec();
    cfg.common.rng = Arc::new(SeededRng::new(1));
    cfg.identity_hint = Some(b"hint".to_vec());
    let Ok(mut ep) = Endpoint::new(Arc::new(cfg)) else {
        return;
    };
    let mut now = Instant::now();
    let from = "127.0.0.1:9999".parse().unwrap();
    for d in data.split(|b| *b == 0xFF) {
        ep.handle_datagram(now, from, d);
        while ep.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}
        now += Duration::from_millis(300);
        ep.handle_timeout(now);
    }
});
