//! The test relay itself (tests/support/relay.rs), checked with plain UDP sockets so the
//! interop tests and the wire benchmark can trust its counts and its faults.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use support::{Relay, RelayConfig};

fn sock() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn recv(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 2048];
    s.recv_from(&mut buf)
        .ok()
        .map(|(n, a)| (buf[..n].to_vec(), a))
}

#[test]
fn counts_bytes_datagrams_flights_and_drops_listed_datagrams() {
    let server = sock();
    let relay = Relay::start(
        server.local_addr().unwrap(),
        RelayConfig {
            drop_c2s: vec![2],
            ..RelayConfig::default()
        },
    );
    let client = sock();
    for n in [10usize, 20, 30] {
        client.send_to(&vec![n as u8; n], relay.addr()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let (a, back) = recv(&server).expect("first datagram");
    let (b, _) = recv(&server).expect("third datagram");
    assert_eq!(
        (a.len(), b.len()),
        (10, 30),
        "datagram 2 dropped, order kept"
    );
    assert!(recv(&server).is_none(), "nothing else arrives");
    server.send_to(&[1; 7], back).unwrap();
    let (r, from) = recv(&client).expect("answer through the relay");
    assert_eq!((r.len(), from), (7, relay.addr()));
    client.send_to(&[2; 5], relay.addr()).unwrap();
    let s = relay.wait_for(Duration::from_secs(2), |s| s.c2s.datagrams == 4);
    assert_eq!(s.c2s.datagrams, 4);
    assert_eq!(s.c2s.bytes, 65);
    assert_eq!(s.c2s.dropped, 1);
    assert_eq!(s.c2s.sizes, vec![10, 20, 30, 5]);
    assert_eq!((s.s2c.datagrams, s.s2c.bytes), (1, 7));
    assert_eq!(s.ip_bytes(), 65 + 7 + 5 * 28);
    assert_eq!(s.flights, 3, "c2s run, s2c, c2s");
}

#[test]
fn duplicates_every_datagram_at_100_percent() {
    let server = sock();
    let relay = Relay::start(
        server.local_addr().unwrap(),
        RelayConfig {
            duplicate_percent: 100,
            ..RelayConfig::default()
        },
    );
    let client = sock();
    client.send_to(b"dup", relay.addr()).unwrap();
    assert_eq!(recv(&server).expect("copy 1").0, b"dup");
    assert_eq!(recv(&server).expect("copy 2").0, b"dup");
    assert!(recv(&server).is_none());
    let s = relay.stats();
    assert_eq!((s.c2s.datagrams, s.c2s.duplicated), (1, 1));
}

#[test]
fn reorders_a_held_datagram_behind_its_successor() {
    let server = sock();
    let relay = Relay::start(
        server.local_addr().unwrap(),
        RelayConfig {
            seed: 5,
            reorder_percent: 100,
            hold: Duration::from_secs(5),
            ..RelayConfig::default()
        },
    );
    let client = sock();
    client.send_to(b"first", relay.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    client.send_to(b"second", relay.addr()).unwrap();
    assert_eq!(recv(&server).expect("successor first").0, b"second");
    assert_eq!(recv(&server).expect("held one after").0, b"first");
    assert_eq!(relay.stats().c2s.reordered, 1);
}

#[test]
fn a_held_datagram_goes_out_after_the_hold_time_alone() {
    let server = sock();
    let relay = Relay::start(
        server.local_addr().unwrap(),
        RelayConfig {
            reorder_percent: 100,
            hold: Duration::from_millis(100),
            ..RelayConfig::default()
        },
    );
    let client = sock();
    client.send_to(b"late", relay.addr()).unwrap();
    assert_eq!(
        recv(&server).expect("released by the hold timer").0,
        b"late"
    );
}

fn dropped_pattern(seed: u64) -> Vec<u8> {
    let server = sock();
    let relay = Relay::start(
        server.local_addr().unwrap(),
        RelayConfig {
            seed,
            drop_percent: 50,
            ..RelayConfig::default()
        },
    );
    let client = sock();
    for i in 0..40u8 {
        client.send_to(&[i], relay.addr()).unwrap();
    }
    relay.wait_for(Duration::from_secs(2), |s| s.c2s.datagrams == 40);
    let mut got = Vec::new();
    while let Some((d, _)) = recv(&server) {
        got.extend(d);
    }
    assert_eq!(
        relay.stats().c2s.dropped as usize,
        40 - got.len(),
        "counted drops match what was lost"
    );
    got
}

#[test]
fn random_drops_follow_the_seed() {
    let a = dropped_pattern(42);
    let b = dropped_pattern(42);
    let c = dropped_pattern(43);
    assert_eq!(a, b, "same seed, same datagrams through");
    assert_ne!(a, c, "another seed, another pattern");
    assert!(
        (8..=32).contains(&a.len()),
        "about half dropped: {}",
        a.len()
    );
}

#[test]
fn logs_each_datagrams_record_header_and_follows_a_client_that_moved() {
    let server = sock();
    let relay = Relay::start(
        server.local_addr().unwrap(),
        RelayConfig {
            follow_client: true,
            ..RelayConfig::default()
        },
    );
    let client = sock();
    // a handshake record (type 22, epoch 0), then application data (23, epoch 1)
    client
        .send_to(&[22, 0xfe, 0xfd, 0, 0, 0, 0], relay.addr())
        .unwrap();
    let (_, first_from) = recv(&server).expect("first");
    client
        .send_to(&[23, 0xfe, 0xfd, 0, 1, 9], relay.addr())
        .unwrap();
    let (_, same_from) = recv(&server).expect("second");
    assert_eq!(first_from, same_from, "same client, same source port");
    let moved = sock();
    moved
        .send_to(&[23, 0xfe, 0xfd, 0, 1], relay.addr())
        .unwrap();
    let (_, new_from) = recv(&server).expect("from the moved client");
    assert_ne!(new_from, first_from, "the server sees the rebinding too");
    server.send_to(&[21, 0xfe, 0xfd, 0, 1], new_from).unwrap();
    assert!(recv(&moved).is_some(), "answers go to the moved client");
    let s = relay.wait_for(Duration::from_secs(2), |s| s.log.len() == 4);
    let heads: Vec<(bool, usize, u8, u16)> = s
        .log
        .iter()
        .map(|d| (d.c2s, d.len, d.content_type, d.epoch))
        .collect();
    assert_eq!(
        heads,
        [
            (true, 7, 22, 0),
            (true, 6, 23, 1),
            (true, 5, 23, 1),
            (false, 5, 21, 1)
        ]
    );
    assert_eq!(s.rebinds, 1);
}
