//! White-box tests that need a peer able to seal protected records with the real keys (an
//! authenticated peer misbehaving): invalid Finished, renegotiation attempts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::dtls::config::{ClientConfig, ServerConfig, StaticPsk};
use crate::dtls::rng::SeededRng;
use crate::dtls::wire::handshake::encode_full;
use crate::dtls::wire::record::split_datagram;
use crate::secret::SecretVec;

fn configs() -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let psk = Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(vec![7; 16]),
    });
    let mut c = ClientConfig::new(psk.clone());
    c.common.rng = Arc::new(SeededRng::new(1));
    let mut s = ServerConfig::new(psk);
    s.common.rng = Arc::new(SeededRng::new(2));
    (Arc::new(c), Arc::new(s))
}

/// Client and server connection after the client's first hello (no cookie exchange here).
fn start() -> (Connection, Connection, Instant) {
    let now = Instant::now();
    let (cc, sc) = configs();
    let mut client = Connection::client(cc, now).unwrap();
    let ch = client.poll_transmit().unwrap();
    let (recs, _) = split_datagram(&ch);
    let frags = parse_fragments(recs[0].fragment).unwrap();
    let hello = ClientHello::parse(frags[0].body).unwrap();
    let accepted = AcceptedHello {
        hello,
        message_seq: 0,
        record_seq: recs[0].header.seq,
        datagram_len: 0,
    };
    let server = Connection::server(sc, now, &accepted);
    (client, server, now)
}

fn pump(from: &mut Connection, to: &mut Connection, now: Instant) -> usize {
    let mut n = 0;
    while let Some(d) = from.poll_transmit() {
        to.handle_datagram(now, &d);
        n += 1;
    }
    n
}

fn connected(c: &mut Connection) -> bool {
    std::iter::from_fn(|| c.poll_event()).any(|e| matches!(e, Event::Connected { .. }))
}

fn sealed_handshake(c: &mut Connection, t: HandshakeType, seq: u16, body: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    c.rl.seal(
        1,
        ContentType::Handshake,
        &encode_full(t, seq, body),
        &mut d,
    )
    .unwrap();
    d
}

#[test]
fn invalid_finished_fails_the_handshake() {
    let (mut client, mut server, now) = start();
    pump(&mut server, &mut client, now); // flight 4
    let flight5: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_transmit()).collect();
    assert_eq!(flight5.len(), 1);
    let (recs, _) = split_datagram(&flight5[0]);
    assert_eq!(recs.len(), 3, "CKE, CCS, Finished in one datagram");
    let mut forged = Vec::new();
    for r in &recs[..2] {
        r.header.encode(&mut forged);
        forged.extend_from_slice(r.fragment);
    }
    forged.extend(sealed_handshake(
        &mut client,
        HandshakeType::Finished,
        2,
        &[0xEE; 12],
    ));
    server.handle_datagram(now, &forged);
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(
        events,
        vec![Event::Closed {
            reason: CloseReason::Error(Error::BadFinished)
        }]
    );
    // exactly one datagram out: the decrypt_error alert, not a retransmitted flight
    let out: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit()).collect();
    assert_eq!(out.len(), 1);
    let (recs, _) = split_datagram(&out[0]);
    assert_eq!(recs[0].header.content_type, ContentType::Alert);
    assert_eq!(recs[0].fragment, &[2, 51]);
}

#[test]
fn invalid_finished_is_not_taken_for_a_retransmission() {
    let (mut client, mut server, mut now) = start();
    pump(&mut server, &mut client, now);
    pump(&mut client, &mut server, now);
    assert!(connected(&mut server));
    // flight 6 is lost; the client's timer resends flight 5, the server answers it
    let lost: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit()).collect();
    assert_eq!(lost.len(), 1);
    now += Duration::from_secs(1);
    client.handle_timeout(now);
    assert_eq!(pump(&mut client, &mut server, now), 1);
    assert_eq!(
        server.stats().retransmissions,
        1,
        "a true repeat of Finished gets flight 6 again"
    );
    // an authenticated Finished with other verify_data at the same message_seq gets nothing
    let bogus = sealed_handshake(&mut client, HandshakeType::Finished, 2, &[0xEE; 12]);
    let _ = std::iter::from_fn(|| server.poll_transmit()).count();
    let before = server.stats().dropped_unexpected;
    server.handle_datagram(now, &bogus);
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.stats().retransmissions, 1);
    assert_eq!(server.stats().dropped_unexpected, before + 1);
    assert!(server.is_established());
}

#[test]
fn renegotiation_is_refused_both_ways() {
    let (mut client, mut server, now) = start();
    for _ in 0..3 {
        pump(&mut server, &mut client, now);
        pump(&mut client, &mut server, now);
    }
    assert!(connected(&mut client) && connected(&mut server));
    // any well-formed ClientHello body (the client's own is gone with its handshake state)
    let fresh = Connection::client(configs().0, now)
        .unwrap()
        .poll_transmit()
        .unwrap();
    let (recs, _) = split_datagram(&fresh);
    let hello = parse_fragments(recs[0].fragment).unwrap()[0].body.to_vec();
    let reneg = sealed_handshake(&mut client, HandshakeType::ClientHello, 3, &hello);
    server.handle_datagram(now, &reneg);
    let out: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit()).collect();
    assert_eq!(out.len(), 1, "one warning alert");
    for d in &out {
        client.handle_datagram(now, d);
    }
    assert!(server.is_established() && client.is_established());
    let hr = sealed_handshake(&mut server, HandshakeType::HelloRequest, 3, &[]);
    client.handle_datagram(now, &hr);
    assert_eq!(
        client.poll_transmit().map(|d| d.len()),
        Some(13 + 8 + 2 + 8),
        "no_renegotiation alert"
    );
    assert!(client.is_established());
    // data still flows
    client.send(b"after").unwrap();
    pump(&mut client, &mut server, now);
    assert_eq!(server.poll_event(), Some(Event::Data(b"after".to_vec())));
}
