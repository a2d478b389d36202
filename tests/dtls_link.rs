//! Link behaviour: loss, reordering, retransmission timers, replay, bad MACs, fragmentation,
//! parked PSK lookups, and garbage that must never panic.

mod dtls_support;

use std::sync::Arc;
use std::time::Duration;

use dtls_support::*;
use simbridge::dtls::config::{PskAnswer, PskRequest, ServerPskStore};
use simbridge::dtls::{CipherSuite, CloseReason, Error, Event};
use simbridge::secret::SecretVec;

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;

#[test]
fn lossy_reordering_link_completes_by_retransmission() {
    for suite in [CCM8, CipherSuite::EcdhePskAes128GcmSha256] {
        let mut p = Pair::new(client_config(&[suite], 3), server_config(&[suite], 4));
        p.c2s.loss_every = Some(3);
        p.s2c.lost = vec![0, 2];
        p.c2s.reorder = true;
        p.s2c.reorder = true;
        p.drive();
        assert_eq!(
            p.client_connected(),
            Some(suite),
            "{:?} {:?} {:?}",
            p.client_closed(),
            p.server_closed(),
            p.client.stats()
        );
        assert!(p.server_connected());
        let retx = p.client.stats().retransmissions
            + p.server
                .connection(&p.client_addr)
                .map_or(0, |c| c.stats().retransmissions);
        assert!(retx > 0, "completed only thanks to retransmission");
    }
}

#[test]
fn retransmission_timer_doubles_and_gives_up() {
    let mut c = client_config(&[CCM8], 1);
    c.common.retransmit.initial = Duration::from_secs(1);
    c.common.retransmit.max = Duration::from_secs(4);
    c.common.retransmit.max_retransmits = 4;
    let mut p = Pair::new(c, server_config(&[CCM8], 2));
    let start = p.now;
    let mut sent_at = Vec::new();
    while p.client_closed().is_none() {
        while p.client.poll_transmit().is_some() {
            sent_at.push(p.now - start);
        }
        let Some(t) = p.client.poll_timeout() else {
            break;
        };
        p.now = t;
        p.client.handle_timeout(p.now);
        p.collect();
    }
    let secs: Vec<u64> = sent_at.iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, vec![0, 1, 3, 7, 11], "1 s, doubling, capped at 4 s");
    assert_eq!(
        p.client_closed(),
        Some(CloseReason::Error(Error::HandshakeTimeout(4)))
    );
}

#[test]
fn replayed_and_tampered_records_are_dropped_and_counted() {
    let mut p = Pair::new(client_config(&[CCM8], 1), server_config(&[CCM8], 2));
    p.drive();
    p.client.send(b"once").unwrap();
    let d = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, p.client_addr, &d);
    p.server.handle_datagram(p.now, p.client_addr, &d);
    let mut bad = d.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    bad[10] ^= 0x10; // new sequence number so it passes the replay check and reaches the MAC
    p.server.handle_datagram(p.now, p.client_addr, &bad);
    p.collect();
    assert_eq!(p.server_data(), vec![b"once".to_vec()]);
    let s = p.server.connection(&p.client_addr).unwrap().stats();
    assert_eq!(s.dropped_replay, 1);
    assert_eq!(s.dropped_bad_mac, 1);
    assert!(
        p.server
            .connection(&p.client_addr)
            .unwrap()
            .is_established()
    );
}

#[test]
fn small_mtu_fragments_every_flight() {
    for suite in [CCM8, CipherSuite::EcdhePskAes128CcmSha256] {
        let mut c = client_config(&[suite], 5);
        c.common.mtu = 128;
        c.server_name = Some("naf.example.org".into());
        let mut s = server_config(&[suite], 6);
        s.common.mtu = 128;
        s.identity_hint = Some(b"3GPP-bootstrapping-a-long-hint-to-force-fragmentation".to_vec());
        let mut p = Pair::new(c, s);
        p.drive();
        assert_eq!(
            p.client_connected(),
            Some(suite),
            "{:?} {:?} {:?}",
            p.client_closed(),
            p.server_closed(),
            p.client.stats()
        );
        assert!(
            p.c2s_sizes
                .iter()
                .skip(2)
                .chain(&p.s2c_sizes)
                .all(|&n| n <= 128),
            "{:?} {:?}",
            p.c2s_sizes,
            p.s2c_sizes
        );
        assert!(
            p.s2c_sizes.len() > 3,
            "flight 4 was split: {:?}",
            p.s2c_sizes
        );
    }
}

struct Parking;

impl ServerPskStore for Parking {
    fn lookup(&self, _req: &PskRequest) -> PskAnswer<SecretVec> {
        PskAnswer::Pending
    }
}

#[test]
fn server_psk_lookup_parks_and_resumes() {
    let mut s = server_config(&[CipherSuite::EcdhePskAes128Ccm8Sha256, CCM8], 2);
    s.psk = Arc::new(Parking);
    let mut c = client_config(&[CipherSuite::EcdhePskAes128Ccm8Sha256], 1);
    c.server_name = Some("naf.example.org".into());
    let mut p = Pair::new(c, s);
    while p.step() {}
    let req = p.server_events.iter().find_map(|(a, e)| match e {
        Event::PskRequested {
            identity,
            sni,
            suite,
            ..
        } => Some((*a, identity.clone(), sni.clone(), *suite)),
        _ => None,
    });
    let (addr, identity, sni, suite) = req.expect("PskRequested");
    assert_eq!(identity, b"client1");
    assert_eq!(sni.as_deref(), Some("naf.example.org"));
    assert_eq!(suite, CipherSuite::EcdhePskAes128Ccm8Sha256);
    assert!(p.client_connected().is_none());
    p.server
        .provide_psk(p.now, addr, Some(SecretVec::new(PSK.to_vec())))
        .unwrap();
    p.drive();
    assert!(p.server_connected());
    assert_eq!(
        p.client_connected(),
        Some(CipherSuite::EcdhePskAes128Ccm8Sha256)
    );
}

#[test]
fn client_psk_depends_on_suite_and_hint() {
    struct Pick;
    impl simbridge::dtls::config::ClientPskSource for Pick {
        fn psk(
            &self,
            hint: Option<&[u8]>,
            suite: CipherSuite,
        ) -> PskAnswer<simbridge::dtls::ClientPsk> {
            assert_eq!(hint, Some(&b"3GPP-bootstrapping"[..]));
            assert_eq!(suite, CipherSuite::PskAes128GcmSha256);
            PskAnswer::Pending
        }
    }
    let mut c = client_config(&[CCM8, CipherSuite::PskAes128GcmSha256], 1);
    c.psk = Arc::new(Pick);
    let mut s = server_config(&[CipherSuite::PskAes128GcmSha256], 2);
    s.identity_hint = Some(b"3GPP-bootstrapping".to_vec());
    let mut p = Pair::new(c, s);
    while p.step() {}
    assert!(
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::PskRequested { .. }))
    );
    p.client
        .provide_client_psk(
            p.now,
            Some(simbridge::dtls::ClientPsk {
                identity: b"client1".to_vec(),
                key: SecretVec::new(PSK.to_vec()),
            }),
        )
        .unwrap();
    p.drive();
    assert_eq!(p.client_connected(), Some(CipherSuite::PskAes128GcmSha256));
}

/// xorshift: deterministic noise without a dependency.
fn noise(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn garbage_and_mutated_datagrams_never_panic() {
    let mut p = Pair::new(client_config(&[CCM8], 1), server_config(&[CCM8], 2));
    // capture a real handshake to mutate
    let mut captured = Vec::new();
    for _ in 0..4 {
        p.c2s_with(|d| {
            captured.push(d.clone());
            vec![d]
        });
        p.s2c_with(|d| {
            captured.push(d.clone());
            vec![d]
        });
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut victims = Pair::new(client_config(&[CCM8], 7), server_config(&[CCM8], 8));
    for i in 0..20_000 {
        let base = &captured[i % captured.len()];
        let mut d = base.clone();
        match noise(&mut rng) % 4 {
            0 => d.truncate((noise(&mut rng) as usize) % (d.len() + 1)),
            1 => {
                for _ in 0..(1 + noise(&mut rng) % 4) {
                    let j = (noise(&mut rng) as usize) % d.len().max(1);
                    if let Some(b) = d.get_mut(j) {
                        *b = noise(&mut rng) as u8;
                    }
                }
            }
            2 => {
                d = (0..(noise(&mut rng) % 300))
                    .map(|_| noise(&mut rng) as u8)
                    .collect()
            }
            _ => d.extend((0..(noise(&mut rng) % 40)).map(|_| noise(&mut rng) as u8)),
        }
        victims.client.handle_datagram(victims.now, &d);
        victims
            .server
            .handle_datagram(victims.now, victims.client_addr, &d);
        p.client.handle_datagram(p.now, &d);
        p.server.handle_datagram(p.now, p.client_addr, &d);
    }
    // and every parser on raw noise
    use simbridge::dtls::internal::wire::{handshake, hello, kx};
    for _ in 0..20_000 {
        let d: Vec<u8> = (0..(noise(&mut rng) % 200))
            .map(|_| noise(&mut rng) as u8)
            .collect();
        let _ = hello::ClientHello::parse(&d);
        let _ = hello::ServerHello::parse(&d);
        let _ = hello::HelloVerifyRequest::parse(&d);
        let _ = kx::ServerKeyExchange::parse(&d, true);
        let _ = kx::ClientKeyExchange::parse(&d, true);
        let _ = handshake::parse_fragments(&d);
    }
}

/// Found by the `server_endpoint` fuzzer: a hello with message_seq 65535 overflowed the
/// server's next message_seq.
#[test]
fn hello_with_the_last_message_seq_does_not_panic() {
    use simbridge::dtls::conn::AcceptedHello;
    use simbridge::dtls::internal::wire::hello::ClientHello;
    let mut p = Pair::new(client_config(&[CCM8], 1), server_config(&[CCM8], 2));
    let d = p.client.poll_transmit().unwrap();
    let (recs, _) = simbridge::dtls::internal::wire::record::split_datagram(&d);
    let frags =
        simbridge::dtls::internal::wire::handshake::parse_fragments(recs[0].fragment).unwrap();
    let hello = ClientHello::parse(frags[0].body).unwrap();
    let accepted = AcceptedHello {
        hello,
        body: frags[0].body.to_vec(),
        message_seq: u16::MAX,
        record_seq: (1 << 48) - 1,
        datagram_len: 0,
    };
    let mut c =
        simbridge::dtls::Connection::server(Arc::new(server_config(&[CCM8], 2)), p.now, &accepted);
    while c.poll_transmit().is_some() {}
    // and the endpoint ignores such a hello outright
    let mut raw = d.clone();
    raw[13 + 4] = 0xFF;
    raw[13 + 5] = 0xFF;
    p.server.handle_datagram(p.now, p.client_addr, &raw);
    assert!(p.server.poll_transmit().is_none());
}

#[test]
fn client_retransmissions_while_the_server_is_parked_are_kept_not_lost() {
    let mut s = server_config(&[CCM8], 2);
    s.psk = Arc::new(Parking);
    let mut p = Pair::new(client_config(&[CCM8], 1), s);
    while p.step() {}
    assert!(
        p.server_events
            .iter()
            .any(|(_, e)| matches!(e, Event::PskRequested { .. }))
    );
    // the BSF is slow: the client's flight 5 timer fires twice meanwhile
    for _ in 0..2 {
        let t = p.client.poll_timeout().expect("client waits for flight 6");
        p.now = t;
        p.client.handle_timeout(p.now);
        while p.step() {}
    }
    assert!(p.client.stats().retransmissions >= 2);
    let addr = p.client_addr;
    p.server
        .provide_psk(p.now, addr, Some(SecretVec::new(PSK.to_vec())))
        .unwrap();
    while p.step() {}
    assert!(p.server_connected());
    assert_eq!(p.client_connected(), Some(CCM8));
    let server_retx = p.server.connection(&addr).unwrap().stats().retransmissions;
    assert!(
        server_retx <= 1,
        "replayed duplicates answered at most once, got {server_retx}"
    );
}
