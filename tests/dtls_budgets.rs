//! Handshake memory budgets on a server endpoint (virtual clock, in memory): a claimed length
//! beyond what the expected message can be is refused without allocating, at most one message
//! ahead is buffered, each half-open handshake and all of them together stay within their
//! byte budgets, one source address cannot hold more than its share of handshakes, and a
//! handshake that does not complete is dropped at the end of its half-open lifetime.

mod dtls_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dtls_support::*;
use simbridge::dtls::internal::wire::handshake::HandshakeType;
use simbridge::dtls::internal::wire::record::ContentType;
use simbridge::dtls::{CipherSuite, CloseReason, Connection, Endpoint, Error, Event, ServerConfig};

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;

fn addr(ip: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, ip], port))
}

/// Runs the cookie exchange for a fresh client from `from`: the server then holds a
/// half-open handshake (its flight 4 is sent and dropped here). Returns the client.
fn half_open(ep: &mut Endpoint, from: SocketAddr, now: Instant, seed: u64) -> Connection {
    let mut c = Connection::client(Arc::new(client_config(&[CCM8], seed)), now).unwrap();
    for _ in 0..2 {
        while let Some(d) = c.poll_transmit() {
            ep.handle_datagram(now, from, &d);
        }
        while let Some(t) = ep.poll_transmit() {
            if t.destination == from {
                c.handle_datagram(now, &t.payload);
            }
        }
    }
    // the client answered the cookie and got flight 4; its flight 5 is pending, not sent
    c
}

fn server() -> ServerConfig {
    server_config(&[CCM8], 2)
}

#[test]
fn the_reassembly_attack_costs_no_buffer() {
    // the reported attack: cookie-valid handshakes, each followed by one datagram of
    // out-of-order fragments claiming 16 KiB
    let now = Instant::now();
    let mut cfg = server();
    cfg.max_half_open_per_address = 1000;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    for i in 0..400u16 {
        let from = addr(1, 10_000 + i);
        let _c = half_open(&mut ep, from, now, u64::from(i));
        let mut d = Vec::new();
        for (k, seq) in [2u16, 3, 4, 5, 6, 7, 8, 9].iter().enumerate() {
            d.extend(plain_fragment(
                100 + k as u64,
                HandshakeType::ClientKeyExchange,
                *seq,
                16384,
                16000,
                &[0xAA; 30],
            ));
        }
        ep.handle_datagram(now, from, &d);
        let conn = ep.connection(&from).expect("half-open connection");
        assert_eq!(conn.handshake_buffered(), 0, "handshake {i}");
        assert!(
            conn.stats().dropped_overflow >= 2,
            "claimed 16 KiB: refused"
        );
    }
    let (n, addrs, bytes) = ep.half_open();
    assert_eq!((n, addrs, bytes), (400, 1, 0));
}

#[test]
fn a_legal_length_out_of_order_fragment_holds_only_what_arrived_and_one_message_ahead() {
    let now = Instant::now();
    let mut ep = Endpoint::new(Arc::new(server())).unwrap();
    let from = addr(1, 1);
    let _c = half_open(&mut ep, from, now, 1);
    // a ClientKeyExchange may claim 648 bytes: the 30 received bytes at its far end cost
    // its extent (at most the type's bound), and a message two ahead is not kept at all
    let d = plain_fragment(100, HandshakeType::ClientKeyExchange, 2, 648, 600, &[1; 30]);
    ep.handle_datagram(now, from, &d);
    let held = ep.connection(&from).unwrap().handshake_buffered();
    assert!(held > 0 && held <= 648, "{held}");
    let d = plain_fragment(101, HandshakeType::Finished, 4, 12, 0, &[1; 12]);
    ep.handle_datagram(now, from, &d);
    assert_eq!(ep.connection(&from).unwrap().handshake_buffered(), held);
}

#[test]
fn early_records_are_held_within_the_per_connection_budget() {
    let now = Instant::now();
    let mut cfg = server();
    cfg.handshake_buffer_per_connection = 1024;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let from = addr(1, 1);
    let _c = half_open(&mut ep, from, now, 1);
    // records of epoch 1 before any ChangeCipherSpec are kept for later, within the budget
    for i in 0..8u64 {
        let mut rec = plain_record(ContentType::Handshake, i, &[0u8; 600]);
        rec[3..5].copy_from_slice(&1u16.to_be_bytes()); // epoch 1
        ep.handle_datagram(now, from, &rec);
    }
    let c = ep.connection(&from).unwrap();
    assert!(c.handshake_buffered() <= 1024, "{}", c.handshake_buffered());
    assert!(c.handshake_buffered() >= 600, "one record kept");
    assert!(c.stats().dropped_overflow >= 1);
}

#[test]
fn all_handshakes_together_stay_within_the_global_budget() {
    let now = Instant::now();
    let mut cfg = server();
    cfg.handshake_buffer_total = 4096;
    cfg.max_half_open_per_address = 1000;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    for i in 0..50u16 {
        let from = addr(2, 1000 + i);
        let _c = half_open(&mut ep, from, now, u64::from(i));
        let mut rec = plain_record(ContentType::Handshake, 100, &[0u8; 600]);
        rec[3..5].copy_from_slice(&1u16.to_be_bytes());
        ep.handle_datagram(now, from, &rec);
        assert!(ep.half_open().2 <= 4096, "{:?}", ep.half_open());
    }
    let (n, _, bytes) = ep.half_open();
    assert_eq!(n, 50);
    assert!(
        bytes > 4096 - 700,
        "the budget is used, not refused outright: {bytes}"
    );
    // and a genuine handshake still completes: it needs no buffer when nothing is reordered
    let mut c = half_open(&mut ep, addr(3, 1), now, 99);
    complete(&mut ep, &mut c, addr(3, 1), now);
    assert!(c.is_established());
}

/// Runs the rest of a handshake started by [`half_open`].
fn complete(ep: &mut Endpoint, c: &mut Connection, from: SocketAddr, now: Instant) {
    for _ in 0..3 {
        while let Some(d) = c.poll_transmit() {
            ep.handle_datagram(now, from, &d);
        }
        while let Some(t) = ep.poll_transmit() {
            if t.destination == from {
                c.handle_datagram(now, &t.payload);
            }
        }
    }
}

#[test]
fn one_address_holds_at_most_its_share_of_half_open_handshakes() {
    let now = Instant::now();
    let mut cfg = server();
    cfg.max_half_open_per_address = 4;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let mut held = Vec::new();
    for i in 0..6u16 {
        held.push(half_open(&mut ep, addr(1, 100 + i), now, u64::from(i)));
    }
    assert_eq!(ep.half_open().0, 4);
    assert_eq!(ep.stats().half_open_limited, 2);
    // another address is not affected
    let _other = half_open(&mut ep, addr(2, 100), now, 50);
    assert_eq!(ep.half_open().0, 5);
    // a restart from an address already counted replaces its own handshake
    let _again = half_open(&mut ep, addr(1, 100), now, 60);
    assert_eq!(ep.half_open().0, 5);
    assert_eq!(ep.stats().half_open_limited, 2);
    // once one completes, the address has room again
    let c = &mut held[1];
    complete(&mut ep, c, addr(1, 101), now);
    assert!(c.is_established());
    assert_eq!(ep.half_open().0, 4);
    let _late = half_open(&mut ep, addr(1, 200), now, 70);
    assert_eq!(ep.half_open().0, 5);
    assert_eq!(ep.stats().half_open_limited, 2);
}

#[test]
fn a_stalled_handshake_is_dropped_at_the_end_of_its_half_open_lifetime() {
    let start = Instant::now();
    let mut cfg = server();
    cfg.half_open_timeout = Duration::from_secs(5);
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let from = addr(1, 1);
    let _c = half_open(&mut ep, from, start, 1);
    assert_eq!(ep.half_open().0, 1);
    // the endpoint's timer runs the server's retransmissions (1 s, 2 s, ...) and the expiry
    let mut now = start;
    while let Some(t) = ep.poll_timeout() {
        now = t;
        ep.handle_timeout(now);
        while ep.poll_transmit().is_some() {}
        if ep.connection_count() == 0 {
            break;
        }
    }
    assert_eq!(
        now - start,
        Duration::from_secs(5),
        "dropped at the lifetime, not later"
    );
    assert_eq!(ep.connection_count(), 0);
    assert_eq!(ep.half_open(), (0, 0, 0));
    assert_eq!(ep.stats().handshakes_expired, 1);
    let closed = std::iter::from_fn(|| ep.poll_event()).find_map(|(_, e)| match e {
        Event::Closed { reason } => Some(reason),
        _ => None,
    });
    assert_eq!(closed, Some(CloseReason::Error(Error::HandshakeExpired)));
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = server();
    assert_eq!(c.handshake_buffer_per_connection, 2048);
    assert_eq!(c.handshake_buffer_total, 8 << 20);
    assert_eq!(c.max_half_open_per_address, 32);
    assert_eq!(c.half_open_timeout, Duration::from_secs(30));
    assert_eq!(c.max_handshaking, 2_500);
    assert_eq!(c.max_connections, 10_000);
}

/// Sends only the first record of the client's pending flight (its ClientKeyExchange): the
/// server has its answer to flight 4 (progress) but not yet its Finished. Returns the rest.
fn answer_partly(
    ep: &mut Endpoint,
    c: &mut Connection,
    from: SocketAddr,
    now: Instant,
) -> Vec<Vec<u8>> {
    let mut recs: Vec<Vec<u8>> = std::iter::from_fn(|| c.poll_transmit())
        .flat_map(|d| records(&d))
        .collect();
    assert!(recs.len() >= 3, "CKE, CCS, Finished: {}", recs.len());
    let first = recs.remove(0);
    ep.handle_datagram(now, from, &first);
    while ep.poll_transmit().is_some() {}
    assert!(ep.connection(&from).is_some_and(|s| s.is_handshaking()));
    recs
}

/// Who was evicted, in order (from the Closed events).
fn evicted(ep: &mut Endpoint) -> Vec<SocketAddr> {
    std::iter::from_fn(|| ep.poll_event())
        .filter_map(|(a, e)| match e {
            Event::Closed {
                reason: CloseReason::Error(Error::HandshakeEvicted),
            } => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn the_handshake_budget_holds_and_a_new_hello_evicts_the_stalest_handshake() {
    let mut now = Instant::now();
    let mut cfg = server();
    cfg.max_handshaking = 3;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let mut c0 = half_open(&mut ep, addr(1, 0), now, 0);
    now += Duration::from_millis(10);
    let _c1 = half_open(&mut ep, addr(1, 1), now, 1);
    now += Duration::from_millis(10);
    let _c2 = half_open(&mut ep, addr(1, 2), now, 2);
    now += Duration::from_millis(10);
    // c0 started first but its client answered: it progressed last, c1 is now the stalest
    let rest = answer_partly(&mut ep, &mut c0, addr(1, 0), now);
    assert_eq!(ep.half_open().0, 3);
    assert!(evicted(&mut ep).is_empty());
    now += Duration::from_millis(10);
    let _c3 = half_open(&mut ep, addr(1, 3), now, 3);
    assert_eq!(ep.half_open().0, 3, "the budget holds");
    assert_eq!(ep.stats().handshakes_evicted, 1);
    assert_eq!(evicted(&mut ep), vec![addr(1, 1)]);
    assert!(ep.connection(&addr(1, 1)).is_none());
    assert!(
        ep.connection(&addr(1, 0)).is_some(),
        "the one that progressed stays"
    );
    // c0 completes: no longer handshaking, so it leaves the budget and cannot be evicted
    for r in rest {
        ep.handle_datagram(now, addr(1, 0), &r);
    }
    while let Some(t) = ep.poll_transmit() {
        c0.handle_datagram(now, &t.payload);
    }
    assert!(c0.is_established());
    assert_eq!(ep.half_open().0, 2);
    // next: c2, then c3 (oldest first), never c0
    let _c4 = half_open(&mut ep, addr(1, 4), now, 4);
    assert!(evicted(&mut ep).is_empty(), "room after c0 completed");
    let _c5 = half_open(&mut ep, addr(1, 5), now, 5);
    let _c6 = half_open(&mut ep, addr(1, 6), now, 6);
    assert_eq!(evicted(&mut ep), vec![addr(1, 2), addr(1, 3)]);
    assert_eq!(ep.stats().handshakes_evicted, 3);
    assert_eq!(ep.half_open().0, 3);
    assert_eq!(ep.connection_count(), 4);
    assert!(
        ep.connection(&addr(1, 0))
            .is_some_and(|s| s.is_established())
    );
    assert_eq!(ep.stats().connection_limited, 0, "nobody refused");
}

#[test]
fn established_connections_are_never_evicted_and_keep_their_room_under_a_handshake_flood() {
    let now = Instant::now();
    let mut cfg = server();
    cfg.max_connections = 6;
    cfg.max_handshaking = 2;
    cfg.max_half_open_per_address = 1000;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let mut up = Vec::new();
    for i in 0..4u16 {
        let mut c = half_open(&mut ep, addr(2, i), now, u64::from(i));
        complete(&mut ep, &mut c, addr(2, i), now);
        assert!(c.is_established());
        up.push(c);
    }
    // a flood of cookie-valid handshakes that never finish, from many ports
    for i in 0..100u16 {
        let _h = half_open(&mut ep, addr(9, 1000 + i), now, 100 + u64::from(i));
        assert!(ep.half_open().0 <= 2);
    }
    assert_eq!(ep.half_open().0, 2);
    assert_eq!(ep.connection_count(), 6);
    assert_eq!(ep.stats().handshakes_evicted, 98);
    assert_eq!(ep.stats().connection_limited, 0);
    let gone = evicted(&mut ep);
    assert_eq!(gone.len(), 98);
    assert!(
        gone.iter().all(|a| a.ip() == addr(9, 0).ip()),
        "only flood handshakes evicted"
    );
    // the established ones are all there and still carry data
    for (i, c) in up.iter_mut().enumerate() {
        let a = addr(2, i as u16);
        assert!(ep.connection(&a).is_some_and(|s| s.is_established()));
        c.send(b"still here").unwrap();
        while let Some(d) = c.poll_transmit() {
            ep.handle_datagram(now, a, &d);
        }
        let got = std::iter::from_fn(|| ep.poll_event()).any(|(from, e)| {
            from == a && matches!(&e, Event::Data(d) if d.as_slice() == b"still here")
        });
        assert!(got, "connection {i} lost its data");
    }
    // and a genuine newcomer during the flood completes its handshake
    let mut g = half_open(&mut ep, addr(3, 1), now, 999);
    complete(&mut ep, &mut g, addr(3, 1), now);
    assert!(g.is_established());
    assert_eq!(ep.stats().handshakes_evicted, 99);
}

#[test]
fn a_full_table_with_room_in_the_handshake_budget_still_refuses() {
    // the budget only ever evicts handshakes beyond it: it never makes a full table bigger
    let now = Instant::now();
    let mut cfg = server();
    cfg.max_connections = 3;
    cfg.max_handshaking = 2;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    for i in 0..2u16 {
        let mut c = half_open(&mut ep, addr(2, i), now, u64::from(i));
        complete(&mut ep, &mut c, addr(2, i), now);
        assert!(c.is_established());
    }
    let _h = half_open(&mut ep, addr(9, 1), now, 10);
    let _refused = half_open(&mut ep, addr(9, 2), now, 11);
    assert_eq!(ep.connection_count(), 3);
    assert_eq!(ep.stats().connection_limited, 1);
    assert_eq!(ep.stats().handshakes_evicted, 0);
    assert!(ep.connection(&addr(9, 1)).is_some());
}

#[test]
fn a_handshake_budget_of_zero_refuses_every_new_handshake() {
    let now = Instant::now();
    let mut cfg = server();
    cfg.max_handshaking = 0;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let _c = half_open(&mut ep, addr(1, 1), now, 1);
    assert_eq!(ep.connection_count(), 0);
    assert_eq!(ep.stats().connection_limited, 1);
    assert_eq!(ep.stats().handshakes_evicted, 0);
}
