//! A client Connection fed arbitrary datagrams (u16 length-prefixed) after its first hello.
//! The first input byte picks the suite.
#![no_main]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use simbridge::dtls::{CipherSuite, Connection};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let suite = CipherSuite::ALL[usize::from(pick) % CipherSuite::ALL.len()];
    let mut now = Instant::now();
    let Ok(mut c) = Connection::client(Arc::new(common::client_config(suite)), now) else {
        return;
    };
    for d in common::datagrams(rest) {
        c.handle_datagram(now, d);
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}
        let _ = c.send(b"x");
        now += Duration::from_millis(300);
        c.handle_timeout(now);
    }
});
