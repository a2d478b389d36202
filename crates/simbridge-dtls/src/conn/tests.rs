//! White-box tests that need a peer able to seal protected records with the real keys (an
//! authenticated peer misbehaving): invalid Finished, renegotiation attempts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{ClientConfig, ServerConfig, StaticPsk};
use crate::rng::SeededRng;
use crate::secret::SecretVec;
use crate::wire::handshake::encode_full;
use crate::wire::hello::ClientHello;
use crate::wire::record::split_datagram;

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
    start_with(|_| {})
}

/// [`start`], with `edit` applied to what the server is given.
fn start_with(edit: impl FnOnce(&mut AcceptedHello)) -> (Connection, Connection, Instant) {
    let now = Instant::now();
    let (cc, sc) = configs();
    let mut client = Connection::client(cc, now).unwrap();
    let ch = client.poll_transmit().unwrap();
    let (recs, _) = split_datagram(&ch);
    let frags = parse_fragments(recs[0].fragment).unwrap();
    let hello = ClientHello::parse(frags[0].body).unwrap();
    let mut accepted = AcceptedHello {
        hello,
        body: frags[0].body.to_vec(),
        message_seq: 0,
        record_seq: recs[0].header.seq,
        datagram_len: 0,
    };
    edit(&mut accepted);
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

/// The client's Finished as it sent it (message_seq, verify_data), read from its kept flight.
fn client_finished(client: &Connection) -> (u16, Vec<u8>) {
    let items = &client.handshake().unwrap().flow.flight.items;
    items
        .iter()
        .find_map(|i| match i {
            crate::flight::FlightItem::Handshake {
                msg_type: HandshakeType::Finished,
                seq,
                body,
                ..
            } => Some((*seq, body.clone())),
            _ => None,
        })
        .unwrap()
}

/// Content types and epochs of the records in `d`.
fn record_kinds(d: &[u8]) -> Vec<(ContentType, u16)> {
    let (recs, err) = split_datagram(d);
    assert!(err.is_none());
    recs.iter()
        .map(|r| (r.header.content_type, r.header.epoch))
        .collect()
}

#[test]
fn server_resends_ccs_finished_for_a_repeated_finished_until_client_data() {
    let (mut client, mut server, now) = start();
    pump(&mut server, &mut client, now);
    let (fin_seq, fin) = client_finished(&client);
    pump(&mut client, &mut server, now);
    assert!(connected(&mut server));
    assert!(
        server.holds_handshake_state(),
        "the last flight is kept until the client shows it got it"
    );
    assert!(server.poll_timeout().is_none(), "no retransmission timer");
    // flight 6 (CCS + Finished) is lost
    let lost: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit()).collect();
    assert_eq!(lost.len(), 1);
    let kinds = vec![
        (ContentType::ChangeCipherSpec, 0),
        (ContentType::Handshake, 1),
    ];
    assert_eq!(record_kinds(&lost[0]), kinds);
    // the client repeats its Finished (a fresh record): the server sends flight 6 again
    let repeat = sealed_handshake(&mut client, HandshakeType::Finished, fin_seq, &fin);
    server.handle_datagram(now, &repeat);
    let again: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit()).collect();
    assert_eq!(again.len(), 1, "flight 6 again");
    assert_eq!(record_kinds(&again[0]), kinds);
    assert_eq!(again[0].len(), lost[0].len());
    assert_ne!(again[0], lost[0], "new record sequence numbers");
    assert_eq!(server.stats().retransmissions, 1);
    for d in &again {
        client.handle_datagram(now, d);
    }
    assert!(connected(&mut client));
    assert!(
        server.holds_handshake_state(),
        "no data from the client yet"
    );
    // the client's first data record shows it has flight 6: the handshake state goes
    client.send(b"first").unwrap();
    pump(&mut client, &mut server, now);
    assert_eq!(server.poll_event(), Some(Event::Data(b"first".to_vec())));
    assert!(!server.holds_handshake_state());
    // a late repeat of the Finished now gets nothing, and the connection carries on
    let late = sealed_handshake(&mut client, HandshakeType::Finished, fin_seq, &fin);
    server.handle_datagram(now, &late);
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.stats().retransmissions, 1);
    assert!(server.is_established());
    server.send(b"reply").unwrap();
    pump(&mut server, &mut client, now);
    assert_eq!(client.poll_event(), Some(Event::Data(b"reply".to_vec())));
}

#[test]
fn kept_last_flight_goes_after_the_linger_time_without_data() {
    let (mut client, mut server, now) = start();
    pump(&mut server, &mut client, now);
    pump(&mut client, &mut server, now);
    assert!(connected(&mut server));
    let until = server.kept_flight_until().expect("flight kept");
    assert_eq!(until, now + FINAL_FLIGHT_LINGER);
    server.handle_timeout(until - Duration::from_secs(1));
    assert!(server.holds_handshake_state());
    server.handle_timeout(until);
    assert!(!server.holds_handshake_state());
    assert!(server.kept_flight_until().is_none());
    // still established, identity and session kept
    assert!(server.is_established());
    assert_eq!(server.identity(), b"client1");
    assert!(server.session().is_some());
    pump(&mut server, &mut client, now);
    assert!(connected(&mut client));
    assert!(
        !client.holds_handshake_state(),
        "the client of a full handshake sent no last flight: nothing to keep"
    );
    client.send(b"x").unwrap();
    pump(&mut client, &mut server, now);
    assert_eq!(server.poll_event(), Some(Event::Data(b"x".to_vec())));
}

#[test]
fn export_while_the_last_flight_is_kept_imports_compact_and_working() {
    use crate::export::ImportRole;
    let (mut client, mut server, now) = start();
    pump(&mut server, &mut client, now);
    pump(&mut client, &mut server, now);
    pump(&mut server, &mut client, now);
    assert!(connected(&mut server) && connected(&mut client));
    assert!(
        server.holds_handshake_state(),
        "last flight kept: no data yet"
    );
    let plain = server.export_plain(100).unwrap();
    let Role::Server(cfg) = &server.role else {
        panic!("server role")
    };
    let mut imported =
        Connection::import_plain(plain.expose(), ImportRole::Server(cfg.clone())).unwrap();
    assert!(imported.is_established());
    assert!(!imported.holds_handshake_state());
    assert_eq!(imported.identity(), b"client1");
    assert_eq!(
        imported.session().map(|s| s.master.expose().to_vec()),
        server.session().map(|s| s.master.expose().to_vec())
    );
    // the imported connection reads the client's records and answers in the same epoch
    client.send(b"to the new process").unwrap();
    pump(&mut client, &mut imported, now);
    assert_eq!(
        imported.poll_event(),
        Some(Event::Data(b"to the new process".to_vec()))
    );
    imported.send(b"back").unwrap();
    pump(&mut imported, &mut client, now);
    assert_eq!(client.poll_event(), Some(Event::Data(b"back".to_vec())));
}

/// Client and server after the client's first hello, the server given a parsed hello that
/// encodes differently from the bytes sent (an unknown extension added, which negotiation
/// ignores) and `body` as received (`received_body`) or that re-encoding.
fn start_reordered(received_body: bool) -> (Connection, Connection, Instant) {
    start_with(|a| {
        a.hello.extensions.push(0xFAFA, vec![]);
        assert_ne!(
            a.hello.encode(),
            a.body,
            "a re-encoding differs from the bytes sent"
        );
        if !received_body {
            a.body = a.hello.encode();
        }
    })
}

#[test]
fn the_transcript_hashes_the_client_hello_as_received() {
    let (mut client, mut server, now) = start_reordered(true);
    for _ in 0..3 {
        pump(&mut server, &mut client, now);
        pump(&mut client, &mut server, now);
    }
    assert!(client.is_established() && server.is_established());
    // a re-encoding that differs from the bytes sent is not what the client hashed
    let (mut client, mut server, now) = start_reordered(false);
    pump(&mut server, &mut client, now);
    pump(&mut client, &mut server, now);
    assert!(!server.is_established());
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert!(events.contains(&Event::Closed {
        reason: CloseReason::Error(Error::BadFinished)
    }));
}

/// An established client and server, the server's state exported under `key`.
fn exported_server(key: &[u8]) -> (Connection, Vec<u8>, Arc<ServerConfig>) {
    let (mut client, mut server, now) = start();
    for _ in 0..2 {
        pump(&mut server, &mut client, now);
        pump(&mut client, &mut server, now);
    }
    assert!(server.is_established());
    let Role::Server(cfg) = &server.role else {
        panic!("server role")
    };
    let cfg = cfg.clone();
    let blob = server.export_state(key, 100).unwrap();
    (server, blob, cfg)
}

#[test]
fn an_export_with_a_trailing_byte_is_refused_as_trailing_bytes() {
    use crate::export::{self, ExportError, ExportField, ImportRole, MemoryLedger};
    let key = b"export key";
    let (mut server, _, cfg) = exported_server(key);
    // a well-sealed export whose state has one byte too many
    let mut plain = server.export_plain(100).unwrap().expose().to_vec();
    plain.push(0);
    let blob = export::seal(key, &SecretVec::new(plain), &SeededRng::new(3)).unwrap();
    let mut ledger = MemoryLedger::default();
    let Err(e) = Connection::import_state(&blob, key, ImportRole::Server(cfg), &mut ledger) else {
        panic!("an export with a trailing byte imported")
    };
    assert_eq!(e, ExportError::Format(ExportField::TrailingBytes));
    assert_eq!(e.to_string(), "malformed state export: trailing bytes");
}

#[test]
fn an_export_with_a_corrupt_magic_is_refused_as_magic() {
    use crate::export::{ExportError, ExportField, ImportRole, MemoryLedger};
    let key = b"export key";
    let (_, mut blob, cfg) = exported_server(key);
    blob[0] ^= 0xFF;
    let mut ledger = MemoryLedger::default();
    let Err(e) = Connection::import_state(&blob, key, ImportRole::Server(cfg), &mut ledger) else {
        panic!("an export with a corrupt magic imported")
    };
    assert_eq!(e, ExportError::Format(ExportField::Magic));
    assert_eq!(e.to_string(), "malformed state export: magic");
}

#[test]
fn a_truncated_state_names_the_field_it_ended_in() {
    use crate::export::{ExportError, ExportField, ImportRole};
    use crate::wire::Field;
    let (mut server, _, cfg) = exported_server(b"k");
    let plain = server.export_plain(100).unwrap();
    // role (1) + suite (2) + 10 of the master secret's 48 bytes
    let cut = &plain.expose()[..1 + 2 + 10];
    let Err(e) = Connection::import_plain(cut, ImportRole::Server(cfg)) else {
        panic!("a truncated state imported")
    };
    assert_eq!(e, ExportError::Format(ExportField::Field(Field::Master)));
    assert_eq!(e.to_string(), "malformed state export: master");
}
