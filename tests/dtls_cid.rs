//! RFC 9146 Connection ID between our client and our server endpoint over an in-memory link:
//! negotiation (both, zero-length, declined), the tls12_cid record format on the wire, NAT
//! rebinding without a handshake, and the RFC 9146 §6 rule that only an authenticated, newest
//! record moves the peer's address.

mod dtls_support;

use std::net::SocketAddr;
use std::sync::Arc;

use dtls_support::*;
use simbridge::dtls::{CipherSuite, Event, PrefixedCid, RandomCid};

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;

fn cid_pair(client_cid: Option<usize>, server_cid: Option<usize>) -> Pair {
    let mut c = client_config(&[CCM8], 1);
    c.connection_id = client_cid;
    let mut s = server_config(&[CCM8], 2);
    s.connection_id = server_cid.map(|n| Arc::new(RandomCid::new(n)) as _);
    let mut p = Pair::new(c, s);
    p.drive();
    assert!(p.client_connected().is_some());
    assert!(p.server_connected());
    p
}

fn handshakes(p: &Pair) -> usize {
    p.client_events
        .iter()
        .filter(|e| matches!(e, Event::Connected { .. }))
        .count()
}

/// Sends `msg` from the client and returns the datagram as it crossed the link.
fn client_sends(p: &mut Pair, msg: &[u8]) -> Vec<u8> {
    p.client.send(msg).unwrap();
    let mut seen = Vec::new();
    p.c2s_with(|d| {
        seen = d.clone();
        vec![d]
    });
    seen
}

#[test]
fn both_cids_negotiated_and_every_protected_record_is_tls12_cid() {
    for suite in CipherSuite::ALL {
        let mut c = client_config(&[suite], 1);
        c.connection_id = Some(2);
        let mut p = Pair::new(c, server_config(&[suite], 2));
        p.drive();
        assert_eq!(p.client_connected(), Some(suite));
        let ours = p.client.connection_id().to_vec();
        let theirs = p.client.peer_connection_id().to_vec();
        assert_eq!(ours.len(), 2, "{suite}");
        assert_eq!(theirs.len(), 4, "server default length, {suite}");
        let sc = p.server.connection(&p.client_addr).unwrap();
        assert_eq!(sc.connection_id(), theirs.as_slice());
        assert_eq!(sc.peer_connection_id(), ours.as_slice());
        // client -> server: outer type 25, the server's CID after the sequence number
        let d = client_sends(&mut p, b"up");
        assert_eq!(d[0], 25, "{suite}");
        assert_eq!(&d[11..15], theirs.as_slice());
        p.collect();
        assert_eq!(p.server_data(), vec![b"up".to_vec()]);
        // server -> client: outer type 25 with the client's CID
        let addr = p.client_addr;
        p.server.send(addr, b"down").unwrap();
        let mut seen = Vec::new();
        p.s2c_with(|d| {
            seen = d.clone();
            vec![d]
        });
        assert_eq!(seen[0], 25);
        assert_eq!(&seen[11..13], ours.as_slice());
        assert_eq!(p.client_data(), vec![b"down".to_vec()]);
    }
}

#[test]
fn zero_length_client_cid_gets_plain_records_and_sends_cid_records() {
    let mut p = cid_pair(Some(0), Some(4));
    assert!(p.client.cid_negotiated());
    assert!(p.client.connection_id().is_empty());
    assert_eq!(p.client.peer_connection_id().len(), 4);
    let d = client_sends(&mut p, b"up");
    assert_eq!(d[0], 25);
    let addr = p.client_addr;
    p.server.send(addr, b"down").unwrap();
    let mut seen = Vec::new();
    p.s2c_with(|d| {
        seen = d.clone();
        vec![d]
    });
    assert_eq!(
        seen[0], 23,
        "the client needs no CID: plain application_data"
    );
    assert_eq!(p.client_data(), vec![b"down".to_vec()]);
    assert_eq!(p.server_data(), vec![b"up".to_vec()]);
}

#[test]
fn zero_length_server_cid_routes_by_address() {
    let mut p = cid_pair(Some(3), Some(0));
    assert!(p.client.cid_negotiated());
    assert!(p.client.peer_connection_id().is_empty());
    let d = client_sends(&mut p, b"up");
    assert_eq!(d[0], 23);
    assert_eq!(p.server_data(), vec![b"up".to_vec()]);
    let addr = p.client_addr;
    p.server.send(addr, b"down").unwrap();
    p.drive();
    assert_eq!(p.client_data(), vec![b"down".to_vec()]);
}

#[test]
fn server_without_cid_support_falls_back_to_plain_records() {
    let mut p = cid_pair(Some(4), None);
    assert!(!p.client.cid_negotiated());
    assert!(p.client.connection_id().is_empty());
    let d = client_sends(&mut p, b"up");
    assert_eq!(d[0], 23);
    assert_eq!(p.server_data(), vec![b"up".to_vec()]);
}

#[test]
fn rebinding_keeps_the_session_without_a_handshake_and_data_flows_both_ways() {
    let mut p = cid_pair(Some(0), Some(6));
    let hs_before = p.client.stats().handshake_datagrams_sent;
    let accepted = p.server.stats().accepted;
    let old = p.client_addr;
    let new: SocketAddr = "127.0.0.1:50123".parse().unwrap();
    p.client_addr = new;
    p.client.send(b"after nat rebinding").unwrap();
    p.drive();
    assert_eq!(p.server_data(), vec![b"after nat rebinding".to_vec()]);
    assert_eq!(p.server.poll_address_change(), Some((old, new)));
    assert_eq!(p.server.stats().address_changes, 1);
    // the server answers at the new address (Pair asserts every destination)
    p.server.send(new, b"reply").unwrap();
    p.drive();
    assert_eq!(p.client_data(), vec![b"reply".to_vec()]);
    assert!(p.server.send(old, b"x").is_err(), "the old address is gone");
    assert_eq!(p.client.stats().handshake_datagrams_sent, hs_before);
    assert_eq!(p.server.stats().accepted, accepted);
    assert_eq!(handshakes(&p), 1);
    assert_eq!(p.server.connection_count(), 1);
}

#[test]
fn off_path_forged_or_replayed_records_do_not_move_the_session() {
    let mut p = cid_pair(Some(2), Some(4));
    let real = p.client_addr;
    let attacker: SocketAddr = "127.0.0.1:6666".parse().unwrap();
    let cid = p.client.peer_connection_id().to_vec();
    // a genuine record, captured on path
    let captured = client_sends(&mut p, b"one");
    assert_eq!(p.server_data().len(), 1);
    // 1. forged: right CID, garbage ciphertext
    let mut forged = captured.clone();
    let n = forged.len();
    forged[n - 3] ^= 0x55;
    forged[5..11].copy_from_slice(&[0, 0, 0, 0, 0x40, 0]);
    p.server.handle_datagram(p.now, attacker, &forged);
    // 2. the captured record replayed from elsewhere
    p.server.handle_datagram(p.now, attacker, &captured);
    // 3. a record with the right CID and nothing else
    let mut stub = vec![25, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 9];
    stub.extend_from_slice(&cid);
    stub.extend_from_slice(&[0, 0]);
    p.server.handle_datagram(p.now, attacker, &stub);
    p.collect();
    assert_eq!(p.server.poll_address_change(), None);
    assert_eq!(p.server.stats().address_changes, 0);
    assert!(p.server.stats().address_change_refused >= 3);
    assert_eq!(p.server_data().len(), 1, "nothing forged was delivered");
    assert!(p.server.connection(&real).is_some());
    assert!(p.server.connection(&attacker).is_none());
    let sc = p.server.connection(&real).unwrap().stats();
    assert!(sc.dropped_bad_mac >= 1 && sc.dropped_replay >= 1);
    p.server.send(real, b"still here").unwrap();
    p.drive();
    assert_eq!(p.client_data(), vec![b"still here".to_vec()]);
}

#[test]
fn an_older_genuine_record_from_a_new_address_is_delivered_but_does_not_move_the_peer() {
    let mut p = cid_pair(Some(0), Some(4));
    let real = p.client_addr;
    let elsewhere: SocketAddr = "127.0.0.1:7777".parse().unwrap();
    p.client.send(b"first").unwrap();
    p.client.send(b"second").unwrap();
    let mut held = Vec::new();
    while let Some(d) = p.client.poll_transmit() {
        held.push(d);
    }
    // the newer record arrives first from the real address, the older one later from elsewhere
    p.server.handle_datagram(p.now, real, &held[1]);
    p.server.handle_datagram(p.now, elsewhere, &held[0]);
    p.collect();
    assert_eq!(
        p.server_data(),
        vec![b"second".to_vec(), b"first".to_vec()],
        "inside the replay window: delivered"
    );
    assert_eq!(p.server.poll_address_change(), None);
    assert!(p.server.connection(&real).is_some());
}

#[test]
fn unknown_cid_is_counted_and_dropped() {
    let mut p = cid_pair(Some(1), Some(4));
    let mut d = client_sends(&mut p, b"x");
    d[11] ^= 0xFF;
    let from: SocketAddr = "127.0.0.1:9999".parse().unwrap();
    p.server.handle_datagram(p.now, from, &d);
    assert_eq!(p.server.stats().unknown_cid, 1);
    assert!(!p.server.poll_transmit_pending());
}

#[test]
fn a_pluggable_generator_encodes_a_node_id_and_cids_are_unique() {
    let mut s = server_config(&[CCM8], 2);
    s.connection_id = Some(Arc::new(PrefixedCid::new(vec![0x4E, 0x31], 2)));
    let mut c = client_config(&[CCM8], 1);
    c.connection_id = Some(0);
    let mut p = Pair::new(c, s);
    p.drive();
    let cid = p.client.peer_connection_id().to_vec();
    assert_eq!(cid.len(), 4);
    assert_eq!(&cid[..2], &[0x4E, 0x31]);
    assert_eq!(&client_sends(&mut p, b"x")[11..13], &[0x4E, 0x31]);
}

/// A CID peer whose datagrams come from an address another live connection owns is not
/// moved there (that would cut the other connection off); its data is still delivered, and
/// once the owner is gone the move happens.
#[test]
fn a_cid_move_never_takes_an_address_a_live_connection_owns() {
    let mut p = cid_pair(Some(0), Some(4));
    let a_addr = p.client_addr;
    // a second client, without CID, established at `b_addr` on the same endpoint
    let b_addr: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let mut b =
        simbridge::dtls::Connection::client(Arc::new(client_config(&[CCM8], 7)), p.now).unwrap();
    for _ in 0..4 {
        while let Some(d) = b.poll_transmit() {
            p.server.handle_datagram(p.now, b_addr, &d);
        }
        while let Some(t) = p.server.poll_transmit() {
            assert_eq!(t.destination, b_addr);
            b.handle_datagram(p.now, &t.payload);
        }
    }
    assert!(b.is_established());
    while p.server.poll_event().is_some() {}
    // A's authenticated, newest record arrives from B's address
    p.client.send(b"from b's address").unwrap();
    let d = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, b_addr, &d);
    p.collect();
    assert_eq!(p.server_data(), vec![b"from b's address".to_vec()]);
    assert_eq!(p.server.poll_address_change(), None);
    assert_eq!(p.server.stats().address_in_use, 1);
    assert_eq!(p.server.stats().address_changes, 0);
    // both still reachable where they were
    p.server.send(b_addr, b"to b").unwrap();
    let t = p.server.poll_transmit().unwrap();
    assert_eq!(t.destination, b_addr);
    b.handle_datagram(p.now, &t.payload);
    assert!(std::iter::from_fn(|| b.poll_event()).any(|e| e == Event::Data(b"to b".to_vec())));
    p.server.send(a_addr, b"to a").unwrap();
    p.drive();
    assert_eq!(p.client_data(), vec![b"to a".to_vec()]);
    // B closes; now A's next newest record from that address moves it
    b.close();
    while let Some(d) = b.poll_transmit() {
        p.server.handle_datagram(p.now, b_addr, &d);
    }
    while p.server.poll_transmit().is_some() {}
    assert!(p.server.connection(&b_addr).is_none(), "B is gone");
    p.client.send(b"moved").unwrap();
    let d = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, b_addr, &d);
    assert_eq!(p.server.poll_address_change(), Some((a_addr, b_addr)));
    assert_eq!(p.server.stats().address_changes, 1);
}
