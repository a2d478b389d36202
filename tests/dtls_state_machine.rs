//! The DTLS state-machine bug patterns of DTLS-Fuzzer (USENIX Security 2020; docs/sources.md
//! sec. 5), each rejected by our client or server, plus EMS and suite negotiation checks.

mod dtls_support;

use dtls_support::*;
use simbridge::dtls::internal::wire::alert::AlertDescription;
use simbridge::dtls::internal::wire::handshake::HandshakeType;
use simbridge::dtls::internal::wire::record::ContentType;
use simbridge::dtls::{CipherSuite, CloseReason, Error};

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;

fn pair() -> Pair {
    Pair::new(client_config(&[CCM8], 1), server_config(&[CCM8], 2))
}

/// Runs CH, HVR, CH+cookie, server flight 4 to the client; the client's flight 5 is pending.
fn to_flight5(p: &mut Pair) {
    p.c2s_with(pass);
    p.s2c_with(pass);
    p.c2s_with(pass);
    p.s2c_with(pass);
}

#[test]
fn state_before_cookie_server_keeps_nothing() {
    let mut p = pair();
    let ch1 = p.client.poll_transmit().unwrap();
    for _ in 0..5 {
        p.server.handle_datagram(p.now, p.client_addr, &ch1);
    }
    assert_eq!(
        p.server.connection_count(),
        0,
        "no state before a valid cookie"
    );
    assert_eq!(
        p.server.stats().hello_verify_sent,
        5,
        "every cookie-less hello gets a stateless HVR"
    );
}

#[test]
fn non_conforming_cookie_rejected() {
    let mut p = pair();
    p.c2s_with(pass);
    p.s2c_with(pass);
    // the second hello with a flipped byte in its random: the cookie no longer matches
    p.c2s_with(|mut d| {
        d[13 + 12 + 2 + 5] ^= 1;
        vec![d]
    });
    assert_eq!(p.server.connection_count(), 0);
    assert_eq!(p.server.stats().bad_cookies, 1);
    // a cookie made for another address is refused too
    let mut q = pair();
    q.c2s_with(pass);
    q.s2c_with(pass);
    let ch2 = q.client.poll_transmit().unwrap();
    q.server
        .handle_datagram(q.now, "127.0.0.1:40001".parse().unwrap(), &ch2);
    assert_eq!(q.server.connection_count(), 0);
}

#[test]
fn finished_before_change_cipher_spec_rejected_by_server() {
    let mut p = pair();
    to_flight5(&mut p);
    // keep ClientKeyExchange, drop CCS, send a plaintext Finished in epoch 0
    p.c2s_with(|d| {
        let recs = records(&d);
        let mut out = recs[0].clone();
        out.extend(plain_handshake(9, HandshakeType::Finished, 3, &[0u8; 12]));
        vec![out]
    });
    assert!(!p.server_connected());
    assert!(
        matches!(
            p.server_closed(),
            Some(CloseReason::Error(Error::UnexpectedMessage(_)))
        ),
        "{:?}",
        p.server_closed()
    );
    p.s2c_with(pass);
    assert_eq!(
        p.client_closed(),
        Some(CloseReason::PeerAlert(AlertDescription::UnexpectedMessage))
    );
}

#[test]
fn finished_before_change_cipher_spec_rejected_by_client() {
    let mut p = pair();
    to_flight5(&mut p);
    p.c2s_with(pass);
    // the server's CCS is dropped and a plaintext Finished arrives instead
    p.s2c_with(|_| vec![plain_handshake(5, HandshakeType::Finished, 3, &[0u8; 12])]);
    assert!(p.client_connected().is_none());
    assert!(matches!(
        p.client_closed(),
        Some(CloseReason::Error(Error::UnexpectedMessage(_)))
    ));
}

#[test]
fn unexpected_change_cipher_spec_never_moves_the_state() {
    let mut p = pair();
    p.c2s_with(pass);
    p.s2c_with(pass);
    p.c2s_with(pass);
    // CCS to the server before ClientKeyExchange, and to the client before ServerHello
    let ccs = plain_record(ContentType::ChangeCipherSpec, 7, &[1]);
    p.server.handle_datagram(p.now, p.client_addr, &ccs);
    p.client.handle_datagram(p.now, &ccs);
    // garbage CCS bodies too (tinydtls CVE-2017-7243 crashed here)
    p.server.handle_datagram(
        p.now,
        p.client_addr,
        &plain_record(ContentType::ChangeCipherSpec, 8, &[]),
    );
    p.server.handle_datagram(
        p.now,
        p.client_addr,
        &plain_record(ContentType::ChangeCipherSpec, 9, &[1, 1]),
    );
    assert!(
        p.server
            .connection(&p.client_addr)
            .unwrap()
            .stats()
            .dropped_unexpected
            >= 1
    );
    assert!(p.client.stats().dropped_unexpected >= 1);
    // the honest handshake still completes
    p.drive();
    assert!(p.client_connected().is_some() && p.server_connected());
    // and a CCS after the handshake is dropped
    let before = p
        .server
        .connection(&p.client_addr)
        .unwrap()
        .stats()
        .dropped_unexpected;
    p.server.handle_datagram(
        p.now,
        p.client_addr,
        &plain_record(ContentType::ChangeCipherSpec, 20, &[1]),
    );
    assert!(
        p.server
            .connection(&p.client_addr)
            .unwrap()
            .stats()
            .dropped_unexpected
            > before
    );
    assert!(
        p.server
            .connection(&p.client_addr)
            .unwrap()
            .is_established()
    );
}

#[test]
fn suite_switching_rejected() {
    let mut p = Pair::new(
        client_config(&[CCM8, CipherSuite::PskAes128Ccm], 1),
        server_config(&[CCM8], 2),
    );
    p.c2s_with(pass);
    p.s2c_with(pass);
    p.c2s_with(pass);
    p.s2c_with(|d| {
        vec![rewrite_server_hello(&d, |sh| {
            sh.cipher_suite = CipherSuite::PskAes128GcmSha256.iana()
        })]
    });
    assert_eq!(
        p.client_closed(),
        Some(CloseReason::Error(Error::SuiteNotOffered(0x00A8)))
    );
    p.c2s_with(pass);
    assert_eq!(
        p.server_closed(),
        Some(CloseReason::PeerAlert(AlertDescription::IllegalParameter))
    );
}

#[test]
fn server_without_extended_master_secret_refused() {
    let mut p = pair();
    p.c2s_with(pass);
    p.s2c_with(pass);
    p.c2s_with(pass);
    p.s2c_with(|d| {
        vec![rewrite_server_hello(&d, |sh| {
            sh.extensions.0.retain(|e| {
                e.typ != simbridge::dtls::internal::wire::extensions::EXT_EXTENDED_MASTER_SECRET
            })
        })]
    });
    assert_eq!(
        p.client_closed(),
        Some(CloseReason::Error(Error::NoExtendedMasterSecret))
    );
}

#[test]
fn server_hello_flight_restart_rejected() {
    let mut p = pair();
    to_flight5(&mut p);
    // a new ServerHello (or HelloVerifyRequest) at the next message_seq: not a restart we follow
    let sh = simbridge::dtls::internal::wire::hello::ServerHello {
        version: 0xFEFD,
        random: [9; 32],
        session_id: vec![],
        cipher_suite: CCM8.iana(),
        compression_method: 0,
        extensions: Default::default(),
    };
    p.client.handle_datagram(
        p.now,
        &plain_handshake(30, HandshakeType::ServerHello, 3, &sh.encode()),
    );
    p.collect();
    assert!(matches!(
        p.client_closed(),
        Some(CloseReason::Error(Error::UnexpectedMessage(_)))
    ));

    let mut q = pair();
    to_flight5(&mut q);
    let hvr = simbridge::dtls::internal::wire::hello::HelloVerifyRequest {
        version: 0xFEFF,
        cookie: vec![1; 16],
    };
    q.client.handle_datagram(
        q.now,
        &plain_handshake(30, HandshakeType::HelloVerifyRequest, 3, &hvr.encode()),
    );
    q.collect();
    assert!(matches!(
        q.client_closed(),
        Some(CloseReason::Error(Error::UnexpectedMessage(_)))
    ));
}

#[test]
fn client_hello_restart_mid_handshake_rejected() {
    let mut p = pair();
    p.c2s_with(pass);
    p.s2c_with(pass);
    let ch2 = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, p.client_addr, &ch2);
    // the same hello again, now at the next message_seq (2): a restart inside the handshake
    let recs = records(&ch2);
    let (r, _) = simbridge::dtls::internal::wire::record::split_datagram(&recs[0]);
    let frags = simbridge::dtls::internal::wire::handshake::parse_fragments(r[0].fragment).unwrap();
    let restarted = plain_handshake(5, HandshakeType::ClientHello, 2, frags[0].body);
    p.server.handle_datagram(p.now, p.client_addr, &restarted);
    p.collect();
    assert!(matches!(
        p.server_closed(),
        Some(CloseReason::Error(Error::UnexpectedMessage(_)))
    ));
}

#[test]
fn retransmitted_hello_gets_the_same_flight_not_a_new_connection() {
    let mut p = pair();
    p.c2s_with(pass);
    p.s2c_with(pass);
    let ch2 = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, p.client_addr, &ch2);
    let first: Vec<_> = std::iter::from_fn(|| p.server.poll_transmit()).collect();
    p.server.handle_datagram(p.now, p.client_addr, &ch2);
    let again: Vec<_> = std::iter::from_fn(|| p.server.poll_transmit()).collect();
    assert_eq!(p.server.stats().accepted, 1);
    assert_eq!(first.len(), again.len());
    assert_eq!(first[0].payload.len(), again[0].payload.len());
    assert_eq!(
        p.server
            .connection(&p.client_addr)
            .unwrap()
            .stats()
            .retransmissions,
        1
    );
}

#[test]
fn data_after_fatal_alert_is_ignored() {
    // the server ends the handshake with a fatal alert (unknown identity: decrypt_error at
    // the client's Finished, RFC 4279 §2) ...
    let mut c = client_config(&[CCM8], 1);
    c.psk = std::sync::Arc::new(simbridge::dtls::StaticPsk {
        identity: b"mallory".to_vec(),
        key: simbridge::secret::SecretVec::new(PSK.to_vec()),
    });
    let mut p = Pair::new(c, server_config(&[CCM8], 2));
    to_flight5(&mut p);
    let flight5: Vec<Vec<u8>> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    for d in &flight5 {
        p.server.handle_datagram(p.now, p.client_addr, d);
    }
    p.s2c_with(pass);
    assert_eq!(
        p.client_closed(),
        Some(CloseReason::PeerAlert(AlertDescription::DecryptError))
    );
    // ... then more records arrive at the client: nothing is processed, nothing is sent
    let before = p.client.stats().dropped_closed;
    p.client.handle_datagram(
        p.now,
        &plain_record(ContentType::ApplicationData, 100, b"x"),
    );
    p.client.handle_datagram(
        p.now,
        &plain_handshake(101, HandshakeType::Finished, 3, &[0; 12]),
    );
    p.collect();
    assert_eq!(p.client.stats().dropped_closed, before + 2);
    assert!(p.client.poll_transmit().is_none());
    assert!(p.client.send(b"late").is_err());
    assert_eq!(p.client_events.len(), 1, "only the Closed event");
    // and the server forgot the connection: its records from that peer go nowhere
    for d in &flight5 {
        p.server.handle_datagram(p.now, p.client_addr, d);
    }
    assert_eq!(p.server.connection_count(), 0);
}

#[test]
fn close_notify_both_ways() {
    let mut p = pair();
    p.drive();
    let forged = plain_record(ContentType::Alert, 99, &[2, 40]);
    p.client.handle_datagram(p.now, &forged);
    p.collect();
    assert!(
        p.client_closed().is_none(),
        "an unauthenticated epoch-0 alert after the handshake is ignored"
    );
    p.client.close();
    p.c2s_with(pass);
    assert_eq!(p.server_closed(), Some(CloseReason::PeerClosed));
    p.s2c_with(pass);
    assert_eq!(p.client_closed(), Some(CloseReason::Local));
    // continue after close_notify: nothing is accepted or sent any more
    assert_eq!(p.server.connection_count(), 0);
    assert!(p.client.send(b"late").is_err());
    let before = p.client.stats().dropped_closed;
    p.client.handle_datagram(
        p.now,
        &plain_record(ContentType::ApplicationData, 200, b"x"),
    );
    assert_eq!(p.client.stats().dropped_closed, before + 1);
    assert!(p.client.poll_transmit().is_none());
}

#[test]
fn no_common_suite_gets_handshake_failure() {
    let mut p = Pair::new(
        client_config(&[CipherSuite::PskAes128Ccm], 1),
        server_config(&[CCM8], 2),
    );
    p.drive();
    assert_eq!(
        p.client_closed(),
        Some(CloseReason::PeerAlert(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn client_without_extended_master_secret_refused() {
    use simbridge::dtls::internal::wire::handshake::parse_fragments;
    use simbridge::dtls::internal::wire::hello::{
        ClientHello, EMPTY_RENEGOTIATION_INFO_SCSV, HelloVerifyRequest,
    };
    use simbridge::dtls::internal::wire::record::split_datagram;
    let mut p = pair();
    let mut ch = ClientHello {
        version: 0xFEFD,
        random: [5; 32],
        session_id: vec![],
        cookie: vec![],
        cipher_suites: vec![CCM8.iana(), EMPTY_RENEGOTIATION_INFO_SCSV],
        compression_methods: vec![0],
        extensions: Default::default(),
    };
    p.server.handle_datagram(
        p.now,
        p.client_addr,
        &plain_handshake(0, HandshakeType::ClientHello, 0, &ch.encode()),
    );
    let hvr = p.server.poll_transmit().unwrap().payload;
    let (recs, _) = split_datagram(&hvr);
    let frags = parse_fragments(recs[0].fragment).unwrap();
    ch.cookie = HelloVerifyRequest::parse(frags[0].body).unwrap().cookie;
    p.server.handle_datagram(
        p.now,
        p.client_addr,
        &plain_handshake(1, HandshakeType::ClientHello, 1, &ch.encode()),
    );
    p.collect();
    assert_eq!(
        p.server_closed(),
        Some(CloseReason::Error(Error::NoExtendedMasterSecret))
    );
    let alert = p.server.poll_transmit().unwrap().payload;
    let (recs, _) = split_datagram(&alert);
    assert_eq!(recs[0].header.content_type, ContentType::Alert);
    assert_eq!(recs[0].fragment, &[2, 40], "fatal handshake_failure");
    assert_eq!(p.server.connection_count(), 0);
}
