//! Fragmented handshake messages (RFC 9147 §5.5): pieces in any order, duplicated, over
//! several datagrams, complete the message once; a server flight in pieces completes our
//! client's handshake; a NewSessionTicket in pieces gives one ticket and one ACK naming every
//! record that carried a piece; pieces that claim too much are refused without memory.

use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::config::RetransmitConfig;
use crate::rng::SeededRng;
use crate::v13::connection::{Connection13, Event13};
use crate::v13::handshake::tests::{KEY, client, cx, pair, server, server_key};
use crate::v13::handshake::{HANDSHAKE, LAST};
use crate::v13::header::UnifiedHeader;
use crate::v13::key_share::X25519;
use crate::v13::key_update::Received13;
use crate::v13::server::Accepted13;
use crate::v13::ticket::NewSessionTicket;

/// `body[start..end]` as a fragment of a message of type `t`, sequence `seq`.
fn fragment(t: u8, seq: u16, body: &[u8], start: usize, end: usize) -> Vec<u8> {
    let mut m = vec![t];
    put_u24(&mut m, body.len() as u32);
    put_u16(&mut m, seq);
    put_u24(&mut m, start as u32);
    put_u24(&mut m, (end - start) as u32);
    m.extend_from_slice(&body[start..end]);
    m
}

#[test]
fn pieces_in_any_order_make_the_message_once() {
    let body: Vec<u8> = (0..40).collect();
    let mut r = Reassembler::starting_at(3);
    let mut record = fragment(ENCRYPTED_EXTENSIONS, 3, &body, 20, 40);
    record.extend_from_slice(&fragment(ENCRYPTED_EXTENSIONS, 3, &body, 5, 25));
    assert!(absorb(&mut r, &record, 2, true).unwrap());
    assert!(r.pop().is_none());
    absorb(
        &mut r,
        &fragment(ENCRYPTED_EXTENSIONS, 3, &body, 0, 6),
        2,
        true,
    )
    .unwrap();
    let m = r.pop().unwrap();
    assert_eq!(
        (m.msg_type, m.seq, m.body),
        (ENCRYPTED_EXTENSIONS, 3, body.clone())
    );
    // a retransmitted piece of it is old now
    assert!(
        !absorb(
            &mut r,
            &fragment(ENCRYPTED_EXTENSIONS, 3, &body, 0, 6),
            2,
            true
        )
        .unwrap()
    );
}

#[test]
fn split_pieces_parse_back_to_the_message() {
    let body: Vec<u8> = (0..=255).collect();
    let pieces = split(NEW_SESSION_TICKET, 9, &body, 100);
    assert_eq!(pieces.len(), 3);
    assert!(pieces.iter().all(|p| p.len() <= 12 + 100));
    let mut r = Reassembler::starting_at(9);
    for p in pieces.iter().rev() {
        absorb(&mut r, p, 3, true).unwrap();
    }
    assert_eq!(r.pop().unwrap().body, body);
    // an empty message is one empty piece
    assert_eq!(
        split(FINISHED, 0, &[], 10),
        vec![fragment(FINISHED, 0, &[], 0, 0)]
    );
}

#[test]
fn a_fragment_past_its_message_or_beyond_its_type_is_refused() {
    let mut bad = fragment(FINISHED, 0, &[0; 32], 0, 32);
    bad[9..12].copy_from_slice(&[0, 0, 33]); // fragment_length 33 of a 32-byte message
    assert_eq!(
        parse(&bad).map(|_| ()),
        Err(WireError::Invalid(Field::FragmentBounds))
    );
    let mut r = Reassembler::starting_at(0);
    // a Finished claiming 4,000 bytes, a KeyUpdate claiming 2: nothing is kept
    let big = vec![0u8; 4000];
    assert!(!absorb(&mut r, &fragment(FINISHED, 0, &big, 0, 100), 2, true).unwrap());
    assert!(!absorb(&mut r, &fragment(KEY_UPDATE, 0, &[1, 1], 0, 1), 3, false).unwrap());
    assert_eq!(r.buffered(), 0);
}

/// The records of a datagram, each as a datagram of its own (plaintext records first).
fn records(mut datagram: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(&first) = datagram.first() {
        let len = if first == HANDSHAKE {
            13 + usize::from(u16::from_be_bytes([datagram[11], datagram[12]]))
        } else {
            let r = UnifiedHeader::parse(datagram, 0).expect("record");
            datagram.len() - r.rest.len()
        };
        let (rec, rest) = datagram.split_at(len);
        out.push(rec.to_vec());
        datagram = rest;
    }
    out
}

#[test]
fn a_server_flight_in_pieces_over_datagrams_and_out_of_order_completes_our_client() {
    let rng = Arc::new(SeededRng::new(5));
    let now = Instant::now();
    let cfg = client(&KEY, &[0x1305], &[X25519], false);
    let mut conn =
        Connection13::client(&cfg, RetransmitConfig::default(), rng.clone(), now).expect("start");
    let hello = conn.poll_transmit().expect("ClientHello");
    let mut srv = server(&[X25519], false, false);
    srv.fragment = Some(24);
    let Accepted13::Flight(swait, flight) =
        srv.accept(&hello, &cx(&rng), server_key).expect("flight")
    else {
        panic!("a flight expected");
    };
    let recs = records(&flight);
    let plain: Vec<_> = recs.iter().filter(|r| r[0] == HANDSHAKE).collect();
    let protected: Vec<_> = recs.iter().filter(|r| r[0] != HANDSHAKE).collect();
    // ServerHello (~90 B) in 24-byte pieces; EncryptedExtensions and Finished (32 B) too
    assert!(plain.len() >= 4, "{} ServerHello pieces", plain.len());
    assert!(protected.len() >= 3, "{} protected pieces", protected.len());
    // the ServerHello's pieces last first, one again; then the protected ones last first
    for r in plain.iter().rev().chain([&plain[1]]) {
        conn.handle_datagram(now, r);
        assert!(!conn.is_established());
    }
    for r in protected.iter().rev() {
        conn.handle_datagram(now, r);
    }
    assert!(
        conn.is_established(),
        "the flight in pieces completes the handshake"
    );
    assert_eq!(conn.stats().dropped, 0);
    let fin = conn.poll_transmit().expect("our Finished");
    let (mut s, _ack) = swait.verify_and_finish(&fin).expect("server done");
    conn.send(b"pieces").expect("send");
    let d = conn.poll_transmit().expect("data");
    assert_eq!(s.open(&d).expect("opens"), b"pieces");
    assert!(matches!(conn.poll_event(), Some(Event13::Connected { .. })));
}

#[test]
fn a_ticket_in_pieces_gives_one_ticket_and_one_ack_of_every_piece() {
    let cfg = client(&KEY, &[0x1305], &[], true);
    let (mut c, mut s, ..) = pair(&cfg, &server(&[], true, false)).expect("handshake");
    let nst = NewSessionTicket {
        lifetime_secs: 3600,
        age_add: 7,
        nonce: vec![0],
        ticket: vec![0x71; 150],
        max_early_data: None,
    }
    .encode();
    let pieces = split(NEW_SESSION_TICKET, s.next_msg_seq, &nst, 60);
    assert_eq!(pieces.len(), 3);
    let mut sealed: Vec<_> = pieces
        .iter()
        .map(|p| s.seal_record(HANDSHAKE, p).expect("seal").1)
        .collect();
    // the middle piece first, then the last, then the first
    sealed.swap(0, 1);
    sealed.swap(1, 2);
    let mut got = Vec::new();
    for d in &sealed {
        got.push(c.receive(d).expect("piece"));
    }
    assert_eq!(got[0], Received13::Pending);
    assert_eq!(got[1], Received13::Pending);
    let Some(Received13::Ticket { ack, ticket }) = got.pop() else {
        panic!("the last piece completes the ticket: {got:?}");
    };
    assert_eq!(ticket.ticket, vec![0x71; 150]);
    // the ACK names the three records: 2 + 3 * 16 bytes of content
    let content = 2 + 3 * 16;
    assert_eq!(ack.len(), content + c.send.overhead(content, 0, LAST));
    assert_eq!(s.receive(&ack), Ok(Received13::Ack { switched: false }));
    // the whole ticket again (a retransmission) is old: dropped, as before
    let (_, again) = s.seal_record(HANDSHAKE, &pieces[0]).expect("seal");
    assert!(c.receive(&again).is_err());
}
