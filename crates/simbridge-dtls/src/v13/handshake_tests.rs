//! The psk_ke handshake in memory, client and server: every suite, application data both ways,
//! the bytes of each flight, and the refusals (wrong key, unknown identity, no common suite,
//! a tampered flight).

use super::*;

fn client(key: &[u8], suites: &[u16]) -> ClientConfig13 {
    ClientConfig13 {
        identity:
            b"3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org"
                .to_vec(),
        key: SecretVec::from(key),
        suites: suites.to_vec(),
    }
}

const KEY: [u8; 32] = [0x4b; 32];

fn server_key(identity: &[u8]) -> Option<SecretVec> {
    identity
        .starts_with(b"3GPP-bootstrapping.")
        .then(|| SecretVec::from(&KEY[..]))
}

fn handshake(suite: u16) -> (Established13, Established13, [usize; 3]) {
    let (wait, ch) = Client13::start(&client(&KEY, &[suite]), [1; 32]);
    let server = Server13 {
        suites: SUITES.iter().map(|(s, _)| *s).collect(),
    };
    let (swait, flight) = server
        .accept(&ch, [2; 32], server_key)
        .expect("server accepts");
    let (c, fin) = wait.handle(&flight).expect("client finishes");
    let (s, ack) = swait.finish(&fin).expect("server finishes");
    // the server ACKs the client's Finished in epoch 3: 2-byte header, 18-byte ACK, type, tag
    assert_eq!(ack.len(), 18 + s.send.overhead(18, 0, LAST));
    (c, s, [ch.len(), flight.len(), fin.len()])
}

#[test]
fn every_suite_completes_and_carries_data_both_ways() {
    for (suite, _) in SUITES {
        let (mut c, mut s, _) = handshake(suite);
        assert_eq!((c.suite, s.suite), (suite, suite));
        for i in 0..300u16 {
            let up = format!("reading {i}").into_bytes();
            assert_eq!(
                s.open(&c.seal(&up).expect("seal")).expect("server opens"),
                up
            );
            let down = format!("ack {i}").into_bytes();
            assert_eq!(
                c.open(&s.seal(&down).expect("seal")).expect("client opens"),
                down
            );
        }
    }
}

#[test]
fn the_flights_are_small_and_a_record_costs_11_bytes() {
    let (mut c, _, [ch, flight, fin]) = handshake(0x1305);
    // ClientHello (185-byte body with an 81-byte GBA identity) + 12 + 13; ServerHello (52-byte
    // body) + 12 + 13, then EncryptedExtensions (a record with its length) and Finished in
    // CCM_8 records
    assert_eq!(ch, 185 + 12 + 13);
    assert_eq!(flight, (52 + 12 + 13) + (2 + 12 + 13) + (32 + 12 + 11));
    assert_eq!(fin, 32 + 12 + 11);
    assert_eq!(c.seal(&[0u8; 50]).expect("seal").len(), 50 + 11);
}

#[test]
fn a_wrong_key_or_an_unknown_identity_is_refused() {
    let server = Server13 {
        suites: vec![0x1305],
    };
    let (_, ch) = Client13::start(&client(&[0x4c; 32], &[0x1305]), [1; 32]);
    assert_eq!(
        server.accept(&ch, [2; 32], server_key).map(|_| ()),
        Err(Handshake13Error::BadMac("PSK binder"))
    );
    let (_, ch) = Client13::start(&client(&KEY, &[0x1305]), [1; 32]);
    assert_eq!(
        server.accept(&ch, [2; 32], |_| None).map(|_| ()),
        Err(Handshake13Error::UnknownIdentity)
    );
    let gcm_only = Server13 {
        suites: vec![0x1301],
    };
    assert_eq!(
        gcm_only.accept(&ch, [2; 32], server_key).map(|_| ()),
        Err(Handshake13Error::Incompatible("no common cipher suite"))
    );
}

#[test]
fn a_tampered_flight_is_refused_at_every_byte() {
    let (wait, ch) = Client13::start(&client(&KEY, &[0x1305]), [1; 32]);
    let server = Server13 {
        suites: vec![0x1305],
    };
    let (swait, flight) = server.accept(&ch, [2; 32], server_key).expect("accepts");
    // every byte of the server's flight matters (a change breaks a parse, a tag or Finished),
    // except the plaintext ServerHello record's legacy version and sequence number, which are
    // not authenticated and which RFC 9147 §4 has receivers ignore
    for i in 0..flight.len() {
        if (1..3).contains(&i) || (5..11).contains(&i) {
            continue;
        }
        let (wait, _) = Client13::start(&client(&KEY, &[0x1305]), [1; 32]);
        let mut bad = flight.clone();
        bad[i] ^= 0x01;
        assert!(wait.handle(&bad).is_err(), "byte {i} of the server flight");
    }
    let (_, fin) = wait.handle(&flight).expect("finishes");
    let mut bad = fin.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert!(swait.finish(&bad).is_err());
}
