//! The client's 0-RTT in memory: the early traffic keys against RFC 8448 §4, our 0-RTT record
//! opened under keys derived here from the ticket and the ClientHello, when the offer is made
//! (and when not), the HelloRetryRequest that withdraws it, and the server's answer: a server
//! built here from the v13 blocks that takes the data, and our Server13 (no 0-RTT) that does
//! not, after which the data comes as application data.

use super::*;
use crate::rng::SeededRng;
use crate::v13::connection::{Connection13, Event13};
use crate::v13::handshake::tests::{KEY, client, server};
use crate::v13::hello::ClientHello13;
use crate::v13::issuer::TicketIssuer;
use crate::v13::key_schedule::LabelPrefix;
use crate::v13::key_update::Received13;
use crate::v13::server::{Accepted13, HelloContext, Server13};
use crate::v13::server_hello::ServerHello13;
use crate::v13::ticket::{Resume13, Ticket13};
use std::sync::Arc;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

const DATA: &[u8] = b"GET /sensor/1 (0-RTT)";

#[test]
fn the_early_traffic_keys_match_rfc8448() {
    // RFC 8448 §4: the resumed 0-RTT handshake; the ClientHello is its prefix plus binders
    let psk = h("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3");
    let hello = h(concat!(
        "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d95000006130113",
        "031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d001700180019010001",
        "01010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe051a66b4",
        "f18d668f0b002a0000002b0003020304000d0020001e04030503060302030804080508060401050106010201",
        "0402050206020202002d00020101001c00024001001500570000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000002900dd00b800b22c035d829359ee5ff7af4ec900",
        "000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a98211",
        "7283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4",
        "dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac",
        "5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb",
        "0021203add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d"
    ));
    let early = EarlySecret::new(LabelPrefix::Tls13, Some(&psk));
    let secret = early.client_early_traffic(&transcript_hash(&hello));
    assert_eq!(
        secret.expose().as_slice(),
        h("3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62")
    );
    let keys = TrafficKeys::from_secret(LabelPrefix::Tls13, &secret);
    assert_eq!(
        keys.key.expose().as_slice(),
        h("920205a5b7bf2115e6fc5c2942834f54")
    );
    assert_eq!(keys.iv.expose().as_slice(), h("6d475f0993c8e564610db2b9"));
}

/// A ticket of `srv` from a full handshake, allowing `max_early` bytes of early data (the
/// client reads that from the ticket; our issuer puts none in, so it is set here).
fn ticket(srv: &Server13, max_early: Option<u32>) -> Ticket13 {
    let cfg = client(&KEY, &[0x1305], &[], true);
    let (mut c, mut s, _, _) = crate::v13::handshake::tests::pair(&cfg, srv).expect("handshake");
    let nst = s
        .new_session_ticket(
            srv.tickets.as_ref().expect("issuer"),
            1_000,
            &SeededRng::new(31),
        )
        .expect("ticket");
    let Received13::Ticket { ticket, .. } = c.receive(&nst).expect("the ticket opens") else {
        panic!("a ticket expected");
    };
    Ticket13 {
        max_early_data: max_early,
        ..*ticket
    }
}

fn issuing_server() -> Server13 {
    Server13 {
        tickets: Some(TicketIssuer::new(Secret::new([0x7e; 16]), 3600)),
        ..server(&[], true, false)
    }
}

fn resuming(t: Ticket13) -> ClientConfig13 {
    ClientConfig13 {
        resume: Some(Resume13 {
            ticket: t,
            age_ms: 100,
        }),
        ..client(&KEY, &[0x1305], &[], true)
    }
}

/// The datagram's first record alone: the ClientHello, without the 0-RTT record after it (for
/// a server without 0-RTT, which refuses a datagram with more after its ClientHello, or one
/// that drops the record, as wolfSSL does when CIDs are on).
fn hello_record(datagram: &[u8]) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([datagram[11], datagram[12]]));
    &datagram[..13 + len]
}

/// The ClientHello body of a datagram and what follows its record.
fn hello_of(datagram: &[u8]) -> (ClientHello13, Vec<u8>, Vec<u8>) {
    let pt = parse_plaintext(datagram).expect("plaintext hello");
    let ch = ClientHello13::parse(pt.body).expect("hello");
    (ch, tls_message(CLIENT_HELLO, pt.body), pt.rest.to_vec())
}

#[test]
fn the_0rtt_record_follows_the_hello_and_opens_under_the_tickets_early_keys() {
    let srv = issuing_server();
    let t = ticket(&srv, Some(1024));
    let psk = t.psk.clone();
    let rng = SeededRng::new(5);
    let (wait, flight) =
        Client13::start_with_early_data(&resuming(t), DATA, 1200, &rng).expect("start");
    assert!(
        wait.early_offered() && flight.early.is_none(),
        "one datagram"
    );
    let (ch, transcript, rest) = hello_of(&flight.hello);
    assert_eq!(ch.extension(EXT_EARLY_DATA), Some(&[][..]));
    // client_early_traffic_secret of the FIRST PSK (the ticket's) over the whole ClientHello
    let early = EarlySecret::new(P, Some(psk.expose()));
    let secret = early.client_early_traffic(&transcript_hash(&transcript));
    let keys = TrafficKeys::from_secret(P, &secret);
    let open = Protection13::new(AeadAlg::Aes128Ccm8, &keys, 1);
    let (opened, after) = open.open(&rest, 0, 0).expect("opens");
    assert_eq!(
        (opened.seq, opened.content_type, opened.content.as_slice()),
        (0, APPLICATION_DATA, DATA)
    );
    assert!(after.is_empty());
    // epoch 1 in the header's low bits, no CID, no length (the datagram's last record)
    assert_eq!(rest[0] & 0b0000_0011, 1);
    assert_eq!(rest[0] & 0b0001_0100, 0);
    // not under the external PSK's early secret
    let wrong = EarlySecret::new(P, Some(&KEY)).client_early_traffic(&transcript_hash(&transcript));
    let wrong = Protection13::new(AeadAlg::Aes128Ccm8, &TrafficKeys::from_secret(P, &wrong), 1);
    assert!(wrong.open(&rest, 0, 0).is_err());
}

#[test]
fn no_0rtt_without_a_ticket_that_allows_all_of_the_data() {
    let srv = issuing_server();
    let rng = SeededRng::new(6);
    let cases = [
        ("external PSK only", client(&KEY, &[0x1305], &[], true)),
        ("ticket without early_data", resuming(ticket(&srv, None))),
        ("max_early_data 0", resuming(ticket(&srv, Some(0)))),
        (
            "data over max_early_data",
            resuming(ticket(&srv, Some(DATA.len() as u32 - 1))),
        ),
    ];
    for (what, cfg) in cases {
        let (wait, flight) =
            Client13::start_with_early_data(&cfg, DATA, 1200, &rng).expect("start");
        let (ch, _, rest) = hello_of(&flight.hello);
        assert!(
            !wait.early_offered() && ch.extension(EXT_EARLY_DATA).is_none(),
            "{what}"
        );
        assert!(rest.is_empty() && flight.early.is_none(), "{what}");
    }
    // the exact allowance is enough
    let cfg = resuming(ticket(&srv, Some(DATA.len() as u32)));
    let (wait, _) = Client13::start_with_early_data(&cfg, DATA, 1200, &rng).expect("start");
    assert!(wait.early_offered());
}

#[test]
fn a_0rtt_record_that_does_not_fit_beside_the_hello_gets_its_own_datagram() {
    let srv = issuing_server();
    let cfg = resuming(ticket(&srv, Some(4096)));
    let rng = SeededRng::new(7);
    let (_, alone) = Client13::start(&cfg, &rng).expect("start");
    let (_, flight) =
        Client13::start_with_early_data(&cfg, DATA, alone.len() + 10, &rng).expect("start");
    let early = flight.early.expect("a datagram of its own");
    let (ch, _, rest) = hello_of(&flight.hello);
    assert!(rest.is_empty() && ch.extension(EXT_EARLY_DATA).is_some());
    // one record of epoch 1: header byte, 1-byte sequence number, data, type, 8-byte tag
    assert_eq!(early.len(), 1 + 1 + DATA.len() + 1 + 8);
    assert_eq!(early[0] & 0b11, 1);
}

#[test]
fn a_hello_retry_request_withdraws_the_offer_and_the_data_is_not_taken() {
    let srv = Server13 {
        require_cookie: true,
        ..issuing_server()
    };
    let cfg = resuming(ticket(&srv, Some(1024)));
    let rng = SeededRng::new(8);
    let (wait, flight) = Client13::start_with_early_data(&cfg, DATA, 1200, &rng).expect("start");
    let cx = HelloContext {
        peer: "192.0.2.7:40000".parse().expect("addr"),
        now_secs: 1_000,
        rng: &rng,
        cid: None,
    };
    let hello = hello_record(&flight.hello);
    let Accepted13::Retry(hrr) = srv.accept(hello, &cx, |_| None).expect("hrr") else {
        panic!("a HelloRetryRequest expected");
    };
    let ClientStep::Retry(wait, ch2) = wait.handle(&hrr, &rng).expect("second hello") else {
        panic!("a second ClientHello expected");
    };
    let (ch, _, rest) = hello_of(&ch2);
    assert!(ch.extension(EXT_EARLY_DATA).is_none() && rest.is_empty());
    let Accepted13::Flight(swait, fl) = srv.accept(&ch2, &cx, |_| None).expect("flight") else {
        panic!("flight expected");
    };
    let ClientStep::Done(c, fin) = wait.handle(&fl, &rng).expect("done") else {
        panic!("done expected");
    };
    swait.verify_and_finish(&fin).expect("server done");
    assert_eq!(c.early_data_accepted, Some(false));
    assert!(c.resumed, "the ticket still resumes");
}

/// A server that takes 0-RTT, built from the blocks: it resumes with the ticket (psk_ke),
/// opens the early record and answers with early_data in its EncryptedExtensions (or, with
/// `accept` false, without). The server's flight and the early data it opened.
fn zero_rtt_server(hello: &[u8], psk: &[u8], accept: bool) -> (Vec<u8>, Vec<u8>) {
    let (_, mut transcript, rest) = hello_of(hello);
    let early = EarlySecret::new(P, Some(psk));
    let secret = early.client_early_traffic(&transcript_hash(&transcript));
    let open = Protection13::new(
        AeadAlg::Aes128Ccm8,
        &TrafficKeys::from_secret(P, &secret),
        1,
    );
    let (opened, _) = open.open(&rest, 0, 0).expect("the early record opens");
    let sh = ServerHello13 {
        random: [0x22; 32],
        session_id: Vec::new(),
        suite: 0x1305,
        selected_psk: Some(0),
        key_share: None,
        cookie: None,
        cid: None,
    }
    .encode();
    transcript.extend_from_slice(&tls_message(SERVER_HELLO, &sh));
    let hs = early.into_handshake(None);
    let server_hs = hs.server_traffic(&transcript_hash(&transcript));
    let ee: &[u8] = if accept {
        &[0, 4, 0, 42, 0, 0]
    } else {
        &[0, 0]
    };
    transcript.extend_from_slice(&tls_message(ENCRYPTED_EXTENSIONS, ee));
    let fin = verify_data(P, &server_hs, &transcript_hash(&transcript));
    let mut datagram = Vec::new();
    plaintext_record(0, &dtls_message(SERVER_HELLO, 0, &sh), &mut datagram);
    let content = [
        dtls_message(ENCRYPTED_EXTENSIONS, 1, ee),
        dtls_message(FINISHED, 2, &fin),
    ]
    .concat();
    let seal = Protection13::new(
        AeadAlg::Aes128Ccm8,
        &TrafficKeys::from_secret(P, &server_hs),
        2,
    );
    seal.seal(0, HANDSHAKE, &content, None, LAST, &mut datagram)
        .expect("seal");
    (datagram, opened.content)
}

#[test]
fn early_data_in_the_encrypted_extensions_means_accepted_and_nothing_is_sent_again() {
    let srv = issuing_server();
    let t = ticket(&srv, Some(1024));
    let psk = t.psk.clone();
    let rng = Arc::new(SeededRng::new(9));
    let now = std::time::Instant::now();
    let cfg = resuming(t);
    let mut c = Connection13::client_with_early_data(
        &cfg,
        DATA.to_vec(),
        1200,
        crate::config::RetransmitConfig::default(),
        rng,
        now,
    )
    .expect("client");
    let hello = c.poll_transmit().expect("hello");
    assert!(c.poll_transmit().is_none(), "the 0-RTT record rides along");
    let (flight, got) = zero_rtt_server(&hello, psk.expose(), true);
    assert_eq!(got, DATA);
    c.handle_datagram(now, &flight);
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(
            &events[..],
            [
                Event13::Connected { .. },
                Event13::EarlyDataStatus { accepted: true }
            ]
        ),
        "{events:?}"
    );
    // only our Finished goes out: no copy of the data
    let fin = c.poll_transmit().expect("Finished");
    assert!(c.poll_transmit().is_none());
    assert_eq!(fin[0] & 0b11, 2, "epoch 2: no EndOfEarlyData before it");
}

#[test]
fn a_server_that_leaves_early_data_out_gets_the_data_after_the_handshake() {
    let srv = issuing_server();
    let t = ticket(&srv, Some(1024));
    let psk = t.psk.clone();
    let now = std::time::Instant::now();
    let mut c = Connection13::client_with_early_data(
        &resuming(t),
        DATA.to_vec(),
        1200,
        crate::config::RetransmitConfig::default(),
        Arc::new(SeededRng::new(10)),
        now,
    )
    .expect("client");
    let hello = c.poll_transmit().expect("hello");
    let (flight, _) = zero_rtt_server(&hello, psk.expose(), false);
    c.handle_datagram(now, &flight);
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(
            &events[..],
            [
                Event13::Connected { .. },
                Event13::EarlyDataStatus { accepted: false }
            ]
        ),
        "{events:?}"
    );
    let _fin = c.poll_transmit().expect("Finished");
    let again = c.poll_transmit().expect("the data again, in epoch 3");
    assert_eq!(again[0] & 0b11, 3);
}

#[test]
fn a_server13_that_drops_the_0rtt_record_resumes_and_receives_the_data_as_application_data() {
    let srv = issuing_server();
    let cfg = resuming(ticket(&srv, Some(1024)));
    let now = std::time::Instant::now();
    let rng = Arc::new(SeededRng::new(12));
    let mut c = Connection13::client_with_early_data(
        &cfg,
        DATA.to_vec(),
        1200,
        crate::config::RetransmitConfig::default(),
        rng.clone(),
        now,
    )
    .expect("client");
    let datagram = c.poll_transmit().expect("hello");
    let hello = hello_record(&datagram);
    assert!(hello.len() < datagram.len());
    let cx = HelloContext {
        peer: "192.0.2.7:40000".parse().expect("addr"),
        now_secs: 1_000,
        rng: rng.as_ref(),
        cid: None,
    };
    let Accepted13::Flight(w, fl) = srv.accept(hello, &cx, |_| None).expect("resumes") else {
        panic!("flight expected");
    };
    let mut s = Connection13::server(
        w,
        fl,
        hello,
        crate::config::RetransmitConfig::default(),
        rng,
        now,
    );
    while let Some(d) = s.poll_transmit() {
        c.handle_datagram(now, &d);
    }
    while let Some(d) = c.poll_transmit() {
        s.handle_datagram(now, &d);
    }
    let cev: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(
            &cev[..],
            [
                Event13::Connected { .. },
                Event13::EarlyDataStatus { accepted: false }
            ]
        ),
        "{cev:?}"
    );
    let sev: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(
        matches!(&sev[..], [Event13::Connected { .. }, Event13::Data(d)] if d == DATA),
        "{sev:?}"
    );
    assert!(c.session().is_some_and(|u| u.resumed));
}

#[test]
fn the_0rtt_record_goes_again_with_every_copy_of_the_hello() {
    let srv = issuing_server();
    let cfg = resuming(ticket(&srv, Some(1024)));
    let now = std::time::Instant::now();
    let (_, alone) = Client13::start(&cfg, &SeededRng::new(13)).expect("start");
    let mut c = Connection13::client_with_early_data(
        &cfg,
        DATA.to_vec(),
        alone.len() + 10,
        crate::config::RetransmitConfig::default(),
        Arc::new(SeededRng::new(13)),
        now,
    )
    .expect("client");
    let first: Vec<_> = std::iter::from_fn(|| c.poll_transmit()).collect();
    assert_eq!(first.len(), 2, "hello, then the 0-RTT record");
    let t = c.poll_timeout().expect("timer");
    c.handle_timeout(t);
    let again: Vec<_> = std::iter::from_fn(|| c.poll_transmit()).collect();
    assert_eq!(again, first);
}
