//! KeyUpdate in memory: both sides move to epoch 4 and on, data crosses in every epoch, a
//! record reordered across the update still opens, and the keys really change.

use super::*;
use crate::v13::handshake::LAST;
use crate::v13::handshake::tests::{KEY, client, pair, server};

fn established() -> (Established13, Established13) {
    let (mut c, s, _, ack) = pair(
        &client(&KEY, &[0x1305], &[], true),
        &server(&[], true, false),
    )
    .expect("handshake");
    assert_eq!(
        c.receive(&ack).expect("ack"),
        Received13::Ack { switched: false }
    );
    (c, s)
}

fn data(to: &mut Established13, d: &[u8]) -> Vec<u8> {
    match to.receive(d).expect("opens") {
        Received13::Data(v) => v,
        other => panic!("expected data, got {other:?}"),
    }
}

#[test]
fn a_requested_update_moves_both_directions_to_the_next_epoch() {
    let (mut c, mut s) = established();
    for round in 0..3u64 {
        let before = c.seal(b"old keys").expect("seal");
        let ku = c.update_keys(true).expect("update").expect("a KeyUpdate");
        assert!(
            c.update_keys(true).expect("again").is_none(),
            "one at a time"
        );
        // Until its ACK the client still sends with the old keys.
        let still_old = c.seal(b"still old").expect("seal");
        let Received13::KeyUpdate { ack, update } = s.receive(&ku).expect("server") else {
            panic!("the server sees the KeyUpdate")
        };
        let s_ku = update.expect("update_requested: the server updates too");
        // Reordered: records of the old epoch arrive after the KeyUpdate and still open.
        assert_eq!(data(&mut s, &still_old), b"still old");
        assert_eq!(data(&mut s, &before), b"old keys");
        assert_eq!(
            c.receive(&ack).expect("ack"),
            Received13::Ack { switched: true }
        );
        let Received13::KeyUpdate { ack: c_ack, update } = c.receive(&s_ku).expect("client") else {
            panic!("the client sees the server's KeyUpdate")
        };
        assert!(update.is_none(), "not requested back");
        assert_eq!(
            s.receive(&c_ack).expect("ack"),
            Received13::Ack { switched: true }
        );
        assert_eq!(c.epochs(), (4 + round, 4 + round));
        assert_eq!(s.epochs(), (4 + round, 4 + round));
        let up = c.seal(b"new keys up").expect("seal");
        assert_eq!(data(&mut s, &up), b"new keys up");
        let down = s.seal(b"new keys down").expect("seal");
        assert_eq!(data(&mut c, &down), b"new keys down");
    }
}

#[test]
fn a_record_under_the_new_keys_does_not_open_with_the_old_ones() {
    let (mut c, mut s) = established();
    let ku = c.update_keys(false).expect("update").expect("KeyUpdate");
    // The client switches only on the ACK; fake a lost ACK by not delivering it and check
    // that a record from a client that did switch would be refused by a server that did not.
    let Received13::KeyUpdate { ack, update } = s.receive(&ku).expect("server") else {
        panic!("KeyUpdate")
    };
    assert!(update.is_none());
    assert_eq!(
        c.receive(&ack).expect("ack"),
        Received13::Ack { switched: true }
    );
    let (_, mut s_fresh) = established();
    let rec = c.seal(b"epoch 4").expect("seal");
    assert!(
        s_fresh.receive(&rec).is_err(),
        "epoch-4 record opened with epoch-3 keys"
    );
    assert_eq!(data(&mut s, &rec), b"epoch 4");
}

#[test]
fn a_malformed_key_update_is_refused() {
    let (mut c, mut s) = established();
    for body in [&[2u8][..], &[], &[0, 0]] {
        let msg = dtls_message(KEY_UPDATE, c.next_msg_seq, body);
        let mut out = Vec::new();
        c.send
            .seal(c.next_send, HANDSHAKE, &msg, None, LAST, &mut out)
            .expect("seal");
        c.next_send += 1;
        assert!(s.receive(&out).is_err(), "{body:?} accepted");
        assert_eq!(s.epochs(), (3, 3));
    }
}

#[test]
fn the_limit_asks_for_an_update_before_it_is_reached() {
    let (mut c, _) = established();
    assert!(!c.needs_key_update());
    c.next_send = record_limit(AeadAlg::Aes128Ccm8) / 4 * 3;
    assert!(c.needs_key_update());
    assert_eq!(record_limit(AeadAlg::Aes128Gcm), 1 << 24);
}

#[test]
fn close_notify_is_an_alert_the_peer_reads_as_the_end() {
    let (mut c, mut s) = established();
    let bye = c.close_notify().expect("close_notify");
    // 2-byte header, then the 2-byte alert and its type padded to 8 bytes so that the body
    // with its 8-byte tag holds the 16 bytes the record number mask samples
    assert_eq!(bye.len(), 2 + 8 + 8);
    assert_eq!(
        s.receive(&bye).expect("opens"),
        Received13::Alert {
            description: crate::v13::handshake::CLOSE_NOTIFY
        }
    );
}

#[test]
fn a_replayed_record_is_refused_in_the_current_and_the_previous_epoch() {
    let (mut c, mut s) = established();
    let r = c.seal(b"once").expect("seal");
    assert_eq!(data(&mut s, &r), b"once");
    assert_eq!(
        s.receive(&r),
        Err(Handshake13Error::Record(RecordError13::Replay))
    );
    // a record of epoch 3 held back across a KeyUpdate opens once, and only once
    let late = c.seal(b"late").expect("seal");
    let u = c.update_keys(false).expect("update").expect("a KeyUpdate");
    let Received13::KeyUpdate { ack, .. } = s.receive(&u).expect("KeyUpdate") else {
        panic!("KeyUpdate expected");
    };
    c.receive(&ack).expect("ACK");
    assert_eq!(data(&mut s, &late), b"late");
    assert_eq!(
        s.receive(&late),
        Err(Handshake13Error::Record(RecordError13::Replay))
    );
}
