//! A server Endpoint fed arbitrary datagrams (u16 length-prefixed). Seeds recorded by
//! `gen_corpus` carry a full handshake with a valid cookie, so mutations reach every state.
#![no_main]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use simbridge::dtls::Endpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(mut ep) = Endpoint::new(Arc::new(common::server_config())) else {
        return;
    };
    let mut now = Instant::now();
    let from = "127.0.0.1:9999".parse().unwrap();
    for d in common::datagrams(data) {
        ep.handle_datagram(now, from, d);
        while ep.poll_transmit().is_some() {}
        while let Some((a, e)) = ep.poll_event() {
            if matches!(e, simbridge::dtls::Event::Connected { .. }) {
                let _ = ep.send(a, b"x");
            }
        }
        now += Duration::from_millis(300);
        ep.handle_timeout(now);
    }
});
