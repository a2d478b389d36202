//! The handshake in memory, client and server: psk_ke and psk_dhe_ke (X25519, P-256) in every
//! suite, the HelloRetryRequest with its stateless cookie (asked for, or for a missing key
//! share), application data both ways, the bytes of each flight, and the refusals (wrong key,
//! unknown identity, no common suite or mode, a forged or stale cookie, a tampered flight).

use super::*;
use crate::rng::SeededRng;
use crate::secret::SecretVec;
use crate::v13::client::{Client13, ClientConfig13, ClientStep, ClientWaitServer};
use crate::v13::cookie::{CookieError, CookieKey13};
use crate::v13::key_share::{SECP256R1, X25519};
use crate::v13::server::{Accepted13, HelloContext, Server13, ServerWaitFinished};
use std::net::SocketAddr;

pub(crate) const IDENTITY: &[u8] =
    b"3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";
pub(crate) const KEY: [u8; 32] = [0x4b; 32];
const SERVER_CID: [u8; 4] = [0x5e, 0x4b, 0x01, 0x02];

pub(crate) fn client(key: &[u8], suites: &[u16], groups: &[u16], psk_ke: bool) -> ClientConfig13 {
    ClientConfig13 {
        identity: IDENTITY.to_vec(),
        key: SecretVec::from(key),
        suites: suites.to_vec(),
        groups: groups.to_vec(),
        psk_ke,
        cid: None,
        resume: None,
    }
}

pub(crate) fn server(groups: &[u16], psk_ke: bool, require_cookie: bool) -> Server13 {
    Server13 {
        suites: SUITES.iter().map(|(s, _)| *s).collect(),
        groups: groups.to_vec(),
        psk_ke,
        require_cookie,
        cookie_key: CookieKey13::new(Secret::new([0x5c; 32])),
        tickets: None,
        importers: false,
        fragment: None,
    }
}

pub(crate) fn server_key(identity: &[u8]) -> Option<SecretVec> {
    (identity == IDENTITY).then(|| SecretVec::from(&KEY[..]))
}

fn peer() -> SocketAddr {
    "192.0.2.7:40000".parse().expect("addr")
}

pub(crate) fn cx(rng: &SeededRng) -> HelloContext<'_> {
    HelloContext {
        peer: peer(),
        now_secs: 1_000,
        rng,
        cid: Some(&SERVER_CID),
    }
}

/// The datagrams of one handshake, by size, in the order sent.
pub(crate) type Sizes = Vec<usize>;

fn flight(
    server: &Server13,
    wait: ClientWaitServer,
    ch: Vec<u8>,
    rng: &SeededRng,
    sizes: &mut Sizes,
) -> Result<(Box<ServerWaitFinished>, ClientStep), Handshake13Error> {
    sizes.push(ch.len());
    match server.accept(&ch, &cx(rng), server_key)? {
        Accepted13::Retry(hrr) => {
            sizes.push(hrr.len());
            match wait.handle(&hrr, rng)? {
                ClientStep::Retry(wait, ch2) => flight(server, wait, ch2, rng, sizes),
                _ => panic!("a HelloRetryRequest gives a second ClientHello"),
            }
        }
        Accepted13::Flight(swait, fl) => {
            sizes.push(fl.len());
            Ok((swait, wait.handle(&fl, rng)?))
        }
    }
}

/// A whole handshake: (client, server, the datagram sizes, the server's ACK of the client's
/// Finished).
pub(crate) fn pair(
    cfg: &ClientConfig13,
    server: &Server13,
) -> Result<(Established13, Established13, Sizes, Vec<u8>), Handshake13Error> {
    let rng = SeededRng::new(1);
    let (wait, ch) = Client13::start(cfg, &rng)?;
    let mut sizes = Vec::new();
    let (swait, step) = flight(server, wait, ch, &rng, &mut sizes)?;
    let ClientStep::Done(c, fin) = step else {
        panic!("the server's flight in one datagram completes the client");
    };
    sizes.push(fin.len());
    let (s, ack) = swait.verify_and_finish(&fin)?;
    // the server ACKs the client's Finished in epoch 3: 2-byte header, 18-byte ACK, type, tag
    assert_eq!(ack.len(), 18 + s.send.overhead(18, s.cids.send.len(), LAST));
    Ok((*c, s, sizes, ack))
}

fn exchange(c: &mut Established13, s: &mut Established13, n: u16) {
    for i in 0..n {
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

#[test]
fn every_suite_and_mode_completes_and_carries_data_both_ways() {
    for (suite, _) in SUITES {
        for (groups, psk_ke, want) in [
            (&[][..], true, None),
            (&[X25519][..], false, Some(X25519)),
            (&[SECP256R1][..], false, Some(SECP256R1)),
        ] {
            let (mut c, mut s, _, _) = pair(
                &client(&KEY, &[suite], groups, psk_ke),
                &server(&[X25519, SECP256R1], true, false),
            )
            .expect("handshake");
            assert_eq!((c.suite, s.suite), (suite, suite));
            assert_eq!((c.group, s.group), (want, want));
            exchange(&mut c, &mut s, 100);
        }
    }
}

#[test]
fn the_flights_are_small_and_a_record_costs_11_bytes() {
    let (mut c, _, sizes, _) = pair(
        &client(&KEY, &[0x1305], &[], true),
        &server(&[], true, false),
    )
    .expect("handshake");
    // ClientHello (185-byte body with an 81-byte GBA identity) + 12 + 13; ServerHello (52-byte
    // body) + 12 + 13, then EncryptedExtensions and Finished in one CCM_8 record
    assert_eq!(
        sizes,
        [
            185 + 12 + 13,
            (52 + 12 + 13) + (2 + 12 + 32 + 12 + 11),
            32 + 12 + 11
        ]
    );
    assert_eq!(c.seal(&[0u8; 50]).expect("seal").len(), 50 + 11);
    // psk_dhe_ke with X25519: supported_groups (4 + 4) and key_share (4 + 2 + 4 + 32) more in
    // the ClientHello, psk_dhe_ke instead of psk_ke, and the server's share (4 + 4 + 32)
    let (_, _, dhe, _) = pair(
        &client(&KEY, &[0x1305], &[X25519], false),
        &server(&[X25519], false, false),
    )
    .expect("handshake");
    assert_eq!(dhe, [sizes[0] + 8 + 42, sizes[1] + 40, sizes[2]]);
}

#[test]
fn the_server_prefers_psk_dhe_ke_and_falls_back_to_psk_ke() {
    // the client offers both: forward secrecy wins
    let (c, _, _, _) = pair(
        &client(&KEY, &[0x1305], &[X25519], true),
        &server(&[X25519], true, false),
    )
    .expect("handshake");
    assert_eq!(c.group, Some(X25519));
    // a server without groups takes psk_ke
    let (c, _, _, _) = pair(
        &client(&KEY, &[0x1305], &[X25519], true),
        &server(&[], true, false),
    )
    .expect("handshake");
    assert_eq!(c.group, None);
    // nothing in common
    assert_eq!(
        pair(
            &client(&KEY, &[0x1305], &[], true),
            &server(&[X25519], false, false)
        )
        .map(|_| ()),
        Err(Handshake13Error::Incompatible(
            "no common key exchange mode or group"
        ))
    );
    assert_eq!(
        Client13::start(&client(&KEY, &[0x1305], &[], false), &SeededRng::new(1)).map(|_| ()),
        Err(Handshake13Error::Config("no key exchange mode to offer"))
    );
    assert_eq!(
        Client13::start(&client(&KEY, &[0x1305], &[0x18], false), &SeededRng::new(1)).map(|_| ()),
        Err(Handshake13Error::Config("a group this build does not have"))
    );
}

#[test]
fn a_cookie_exchange_costs_one_round_trip_and_no_key_lookup_before_it() {
    let srv = server(&[X25519], true, true);
    let rng = SeededRng::new(3);
    let (wait, ch) =
        Client13::start(&client(&KEY, &[0x1305], &[X25519], false), &rng).expect("start");
    // the first ClientHello is answered without looking its identity up
    let Accepted13::Retry(hrr) = srv
        .accept(&ch, &cx(&rng), |_| {
            panic!("no key lookup before the cookie")
        })
        .expect("retry")
    else {
        panic!("HelloRetryRequest expected");
    };
    // plaintext record 13 + handshake header 12 + HelloRetryRequest: 38 fixed, extensions
    // 2 + supported_versions 6 + cookie 4 + 2 + 57 (no key_share: the client's is fine)
    assert_eq!(hrr.len(), 13 + 12 + 38 + 2 + 6 + 4 + 2 + 57);
    let ClientStep::Retry(wait, ch2) = wait.handle(&hrr, &rng).expect("second hello") else {
        panic!("second ClientHello expected");
    };
    // the cookie extension is the only growth
    assert_eq!(ch2.len(), ch.len() + 4 + 2 + 57);
    let Accepted13::Flight(swait, fl) = srv.accept(&ch2, &cx(&rng), server_key).expect("flight")
    else {
        panic!("flight expected");
    };
    let ClientStep::Done(mut c, fin) = wait.handle(&fl, &rng).expect("done") else {
        panic!("done expected");
    };
    let (mut s, _) = swait.verify_and_finish(&fin).expect("server done");
    exchange(&mut c, &mut s, 10);
    // the whole exchange: one round trip more than without the cookie
    let (_, _, sizes, _) = pair(&client(&KEY, &[0x1305], &[X25519], false), &srv).expect("again");
    assert_eq!(sizes.len(), 5);
}

#[test]
fn a_missing_key_share_is_asked_for_in_the_servers_group() {
    // the client's first share is X25519; the server takes only P-256
    let (mut c, mut s, sizes, _) = pair(
        &client(&KEY, &[0x1301], &[X25519, SECP256R1], false),
        &server(&[SECP256R1], false, false),
    )
    .expect("handshake");
    assert_eq!((c.group, s.group), (Some(SECP256R1), Some(SECP256R1)));
    assert_eq!(sizes.len(), 5);
    exchange(&mut c, &mut s, 10);
    // a client that supports no group of the server's and offers psk_ke gets psk_ke, no retry
    let (c, _, sizes, _) = pair(
        &client(&KEY, &[0x1301], &[X25519], true),
        &server(&[SECP256R1], true, false),
    )
    .expect("handshake");
    assert_eq!((c.group, sizes.len()), (None, 3));
}

#[test]
fn a_cookie_from_another_address_or_too_old_is_refused() {
    let srv = server(&[], true, true);
    let rng = SeededRng::new(4);
    let (wait, ch) = Client13::start(&client(&KEY, &[0x1305], &[], true), &rng).expect("start");
    let Accepted13::Retry(hrr) = srv.accept(&ch, &cx(&rng), server_key).expect("retry") else {
        panic!("HelloRetryRequest expected");
    };
    let ClientStep::Retry(_, ch2) = wait.handle(&hrr, &rng).expect("second hello") else {
        panic!("second ClientHello expected");
    };
    let elsewhere = HelloContext {
        peer: "192.0.2.8:40000".parse().expect("addr"),
        ..cx(&rng)
    };
    assert_eq!(
        srv.accept(&ch2, &elsewhere, server_key).map(|_| ()),
        Err(Handshake13Error::Cookie(CookieError::Invalid))
    );
    let later = HelloContext {
        now_secs: 1_061,
        ..cx(&rng)
    };
    assert_eq!(
        srv.accept(&ch2, &later, server_key).map(|_| ()),
        Err(Handshake13Error::Cookie(CookieError::Expired))
    );
    // a second HelloRetryRequest (the answer to a retransmitted first ClientHello) brings the
    // same second ClientHello again, not a third one
    let (wait, ch) = Client13::start(&client(&KEY, &[0x1305], &[], true), &rng).expect("start");
    let Accepted13::Retry(hrr) = srv.accept(&ch, &cx(&rng), server_key).expect("retry") else {
        panic!("HelloRetryRequest expected");
    };
    let ClientStep::Retry(wait, ch2) = wait.handle(&hrr, &rng).expect("second hello") else {
        panic!("second ClientHello expected");
    };
    assert!(wait.retried());
    // (message_seq 0 again would be refused first; rewrite it to 1)
    let mut again = hrr.clone();
    again[18] = 1;
    let ClientStep::Retry(_, ch2_again) = wait.handle(&again, &rng).expect("taken") else {
        panic!("the same second ClientHello expected");
    };
    assert_eq!(ch2_again, ch2);
}

#[test]
fn a_wrong_key_or_an_unknown_identity_is_refused() {
    let srv = server(&[X25519], true, false);
    let rng = SeededRng::new(5);
    let (_, ch) = Client13::start(&client(&[0x4c; 32], &[0x1305], &[], true), &rng).expect("ch");
    assert_eq!(
        srv.accept(&ch, &cx(&rng), server_key).map(|_| ()),
        Err(Handshake13Error::BadMac("PSK binder"))
    );
    let (_, ch) = Client13::start(&client(&KEY, &[0x1305], &[X25519], false), &rng).expect("ch");
    assert_eq!(
        srv.accept(&ch, &cx(&rng), |_| None).map(|_| ()),
        Err(Handshake13Error::UnknownIdentity)
    );
    let gcm_only = Server13 {
        suites: vec![0x1301],
        ..server(&[], true, false)
    };
    assert_eq!(
        gcm_only.accept(&ch, &cx(&rng), server_key).map(|_| ()),
        Err(Handshake13Error::Incompatible("no common cipher suite"))
    );
}

#[test]
fn a_tampered_flight_never_completes() {
    for groups in [&[][..], &[X25519][..]] {
        let rng = SeededRng::new(6);
        let cfg = client(&KEY, &[0x1305], groups, groups.is_empty());
        let srv = server(groups, true, false);
        let (wait, ch) = Client13::start(&cfg, &rng).expect("start");
        let Accepted13::Flight(swait, fl) = srv.accept(&ch, &cx(&rng), server_key).expect("ok")
        else {
            panic!("flight expected");
        };
        // every byte of the server's flight matters (a change breaks a parse, a tag or
        // Finished), except the plaintext ServerHello record's legacy version and sequence
        // number, which are not authenticated and which RFC 9147 §4 has receivers ignore
        for i in 0..fl.len() {
            if (1..3).contains(&i) || (5..11).contains(&i) {
                continue;
            }
            let (wait, _) = Client13::start(&cfg, &SeededRng::new(6)).expect("start");
            let mut bad = fl.clone();
            bad[i] ^= 0x01;
            assert!(
                !matches!(wait.handle(&bad, &rng), Ok(ClientStep::Done(..))),
                "byte {i} of the server flight"
            );
        }
        let ClientStep::Done(_, fin) = wait.handle(&fl, &rng).expect("finishes") else {
            panic!("done expected");
        };
        let mut bad = fin.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert!(swait.verify_and_finish(&bad).is_err());
    }
}

#[test]
fn a_flight_split_over_datagrams_with_junk_between_still_completes() {
    // wolfSSL sends every handshake message in its own datagram (tests/dtls13_wolfssl_server.rs
    // has its EncryptedExtensions and Finished); here the ServerHello and the encrypted record
    // come apart, with a damaged copy of the record first
    let rng = SeededRng::new(7);
    let cfg = client(&KEY, &[0x1305], &[X25519], false);
    let (wait, ch) = Client13::start(&cfg, &rng).expect("start");
    let srv = server(&[X25519], false, false);
    let Accepted13::Flight(swait, fl) = srv.accept(&ch, &cx(&rng), server_key).expect("ok") else {
        panic!("flight expected");
    };
    // ServerHello record: 13 + its length
    let sh_len = 13 + usize::from(u16::from_be_bytes([fl[11], fl[12]]));
    let (sh, encrypted) = fl.split_at(sh_len);
    let ClientStep::Wait(w) = wait.handle(sh, &rng).expect("ServerHello") else {
        panic!("waits for the rest");
    };
    let mut junk = encrypted.to_vec();
    junk[6] ^= 0x10;
    let ClientStep::Wait(w) = w.handle(&junk).expect("damaged record dropped") else {
        panic!("still waits");
    };
    assert_eq!(w.discarded, 1);
    // the ServerHello again (a retransmitted flight) is skipped
    let ClientStep::Wait(w) = w.handle(sh).expect("ServerHello again") else {
        panic!("still waits");
    };
    let ClientStep::Done(mut c, cfin) = w.handle(encrypted).expect("complete") else {
        panic!("done expected");
    };
    let (mut s, _) = swait.verify_and_finish(&cfin).expect("server done");
    exchange(&mut c, &mut s, 5);
}

#[test]
fn connection_ids_go_in_every_encrypted_record_both_ways() {
    let mut cfg = client(&KEY, &[0x1305], &[X25519], false);
    cfg.cid = Some(vec![0xc1]);
    let (mut c, mut s, sizes, ack) = pair(&cfg, &server(&[X25519], false, false)).expect("hs");
    assert_eq!(c.cids.send, SERVER_CID);
    assert_eq!(c.cids.recv, [0xc1]);
    assert_eq!(
        (s.cids.send.as_slice(), s.cids.recv.as_slice()),
        (&[0xc1][..], &SERVER_CID[..])
    );
    // the client's records carry the server's 4-byte CID, the server's the client's 1 byte
    assert_eq!(c.seal(&[0u8; 50]).expect("seal").len(), 50 + 11 + 4);
    assert_eq!(s.seal(&[0u8; 50]).expect("seal").len(), 50 + 11 + 1);
    assert_eq!(ack.len(), 18 + 11 + 1);
    // against the same handshake without CIDs: ClientHello + 4 + 1 + 1, ServerHello + 4 + 1 +
    // 4 and one CID byte in its encrypted record, Finished + 4
    let (_, _, plain, _) = pair(
        &client(&KEY, &[0x1305], &[X25519], false),
        &server(&[X25519], false, false),
    )
    .expect("hs");
    assert_eq!(sizes, [plain[0] + 6, plain[1] + 9 + 1, plain[2] + 4]);
    exchange(&mut c, &mut s, 20);
    // a server that gives no CID: none either way, though the client offered one
    let rng = SeededRng::new(9);
    let (wait, ch) = Client13::start(&cfg, &rng).expect("start");
    let no_cid = HelloContext {
        cid: None,
        ..cx(&rng)
    };
    let Accepted13::Flight(swait, fl) = server(&[X25519], false, false)
        .accept(&ch, &no_cid, server_key)
        .expect("flight")
    else {
        panic!("flight expected");
    };
    let ClientStep::Done(c, fin) = wait.handle(&fl, &rng).expect("done") else {
        panic!("done expected");
    };
    let (s, _) = swait.verify_and_finish(&fin).expect("server done");
    assert_eq!(
        (c.cids.clone(), s.cids.clone()),
        (Cids::default(), Cids::default())
    );
    // an empty CID from the client: the server's records carry none, the client's do
    cfg.cid = Some(Vec::new());
    let (mut c, mut s, _, _) = pair(&cfg, &server(&[X25519], false, false)).expect("hs");
    assert_eq!(s.seal(&[0u8; 50]).expect("seal").len(), 50 + 11);
    assert_eq!(c.seal(&[0u8; 50]).expect("seal").len(), 50 + 15);
    exchange(&mut c, &mut s, 5);
}

#[test]
fn a_ticket_of_ours_resumes_once_and_a_replay_falls_back_to_the_key() {
    use crate::v13::issuer::TicketIssuer;
    use crate::v13::key_update::Received13;
    use crate::v13::ticket::Resume13;
    let srv = Server13 {
        tickets: Some(TicketIssuer::new(Secret::new([0x7e; 16]), 3600)),
        ..server(&[X25519], true, false)
    };
    let cfg = client(&KEY, &[0x1305], &[], true);
    let (mut c, mut s, full, _) = pair(&cfg, &srv).expect("full handshake");
    assert!(!c.resumed && !s.resumed);
    let rng = SeededRng::new(21);
    let nst = s
        .new_session_ticket(srv.tickets.as_ref().expect("issuer"), 1_000, &rng)
        .expect("ticket");
    let Received13::Ticket { ticket, .. } = c.receive(&nst).expect("client takes it") else {
        panic!("a ticket expected");
    };
    assert_eq!(ticket.ticket.len(), crate::v13::issuer::TICKET_OVERHEAD);
    let resume = ClientConfig13 {
        resume: Some(Resume13 {
            ticket: *ticket,
            age_ms: 100,
        }),
        ..client(&KEY, &[0x1305], &[], true)
    };
    // no key lookup for a ticket of ours: the key is not known here
    let rng = SeededRng::new(22);
    let (wait, ch) = Client13::start(&resume, &rng).expect("start");
    let Accepted13::Flight(swait, fl) = srv
        .accept(&ch, &cx(&rng), |_| None)
        .expect("resumes without the external key")
    else {
        panic!("flight expected");
    };
    let ClientStep::Done(mut c2, fin) = wait.handle(&fl, &rng).expect("client") else {
        panic!("done expected");
    };
    let (mut s2, _) = swait.verify_and_finish(&fin).expect("server");
    assert!(c2.resumed && s2.resumed);
    exchange(&mut c2, &mut s2, 5);
    // the ticket offer (82 B identity, a 7-byte age and length, a binder) on top of the full
    // ClientHello's external PSK
    assert!(ch.len() > full[0]);
    // the same ClientHello again (a replay): the ticket is used, the external key takes over
    let Accepted13::Flight(..) = srv.accept(&ch, &cx(&rng), server_key).expect("falls back") else {
        panic!("flight expected");
    };
    let (wait, ch) = Client13::start(&resume, &SeededRng::new(23)).expect("start");
    let Accepted13::Flight(swait, fl) = srv.accept(&ch, &cx(&rng), server_key).expect("again")
    else {
        panic!("flight expected");
    };
    let ClientStep::Done(c3, fin) = wait.handle(&fl, &rng).expect("client") else {
        panic!("done expected");
    };
    let (s3, _) = swait.verify_and_finish(&fin).expect("server");
    assert!(
        !c3.resumed && !s3.resumed,
        "a used ticket does not resume again"
    );
}
