//! A client Connection fed arbitrary datagrams after its first ClientHello.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use simbridge::dtls::config::{ClientConfig, StaticPsk};
use simbridge::dtls::rng::SeededRng;
use simbridge::dtls::{CipherSuite, Connection};
use simbridge::secret::SecretVec;

fuzz_target!(|data: &[u8]| {
    let psk = Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(vec![1; 16]),
    });
    let mut cfg = ClientConfig::new(psk);
    cfg.common.suites = CipherSuite::ALL.to_vec();
    cfg.common.rng = Arc::new(SeededRng::new(1));
    let mut now = Instant::now();
    let Ok(mut c) = Connection::client(Arc::new(cfg), now) else {
        return;
    };
    for d in data.split(|b| *b == 0xFF) {
        c.handle_datagram(now, d);
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}
        now += Duration::from_millis(300);
        c.handle_timeout(now);
    }
});
