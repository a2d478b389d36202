//! The endpoint's DTLS 1.3 side in memory: cookie, parked key request, events, wrong and
//! unknown keys, Connection ID moves, budgets, restart, version choice and the downgrade
//! sentinel.

use std::sync::Arc;

use super::*;
use crate::config::{ClientConfig, RetransmitConfig, ServerPskStore, StaticPsk};
use crate::conn::Connection;
use crate::conn::DOWNGRADE_SENTINEL_12;
use crate::event::FailureKind;
use crate::export::ExportError;
use crate::rng::SeededRng;
use crate::v13::client::ClientConfig13;
use crate::v13::connection::Stats13;
use crate::version::Versions;

const KEY: [u8; 32] = [9; 32];
const ID: &[u8] = b"3GPP-bootstrapping.tid@bsf";
const CCM8_13: CipherSuite = CipherSuite::Tls13Aes128Ccm8Sha256;

/// A key store that always answers later (a BSF lookup).
struct Later;

impl ServerPskStore for Later {
    fn lookup(&self, _req: &PskRequest) -> PskAnswer<SecretVec> {
        PskAnswer::Pending
    }
}

fn server_config(versions: Versions) -> ServerConfig {
    let mut s = ServerConfig::new(Arc::new(Later));
    s.common.rng = Arc::new(SeededRng::new(2));
    s.common.suites = vec![CCM8_13, CipherSuite::PskAes128Ccm8];
    s.versions = versions;
    s
}

fn endpoint(versions: Versions) -> Endpoint {
    Endpoint::new(Arc::new(server_config(versions))).unwrap()
}

fn client13(seed: u64, cid: Option<Vec<u8>>, key: &[u8]) -> Connection13 {
    let mut cfg = ClientConfig13::psk_ke(ID.to_vec(), SecretVec::new(key.to_vec()), vec![0x1305]);
    cfg.cid = cid;
    Connection13::client(
        &cfg,
        RetransmitConfig::default(),
        Arc::new(SeededRng::new(seed)),
        Instant::now(),
    )
    .unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Moves datagrams both ways until nothing moves; the client sends from `from` (the ticket and
/// importer tests use it too).
pub(super) fn pump(c: &mut Connection13, ep: &mut Endpoint, now: Instant, from: SocketAddr) {
    for _ in 0..10 {
        let mut moved = false;
        while let Some(d) = c.poll_transmit() {
            moved = true;
            ep.handle_datagram(now, from, &d);
        }
        while let Some(t) = ep.poll_transmit() {
            moved = true;
            if t.destination == from {
                c.handle_datagram(now, &t.payload);
            }
        }
        if !moved {
            return;
        }
    }
}

pub(super) fn events(ep: &mut Endpoint) -> Vec<(SocketAddr, Event)> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// A client connected through the cookie and a parked key request answered with `KEY`.
fn connected(ep: &mut Endpoint, seed: u64, cid: Option<Vec<u8>>, from: SocketAddr) -> Connection13 {
    let now = Instant::now();
    let mut c = client13(seed, cid, &KEY);
    pump(&mut c, ep, now, from);
    let ev = events(ep);
    assert!(
        matches!(&ev[..], [(a, Event::PskRequested { .. })] if *a == from),
        "{ev:?}"
    );
    ep.provide_psk(now, from, Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    pump(&mut c, ep, now, from);
    assert!(c.is_established());
    while c.poll_event().is_some() {}
    assert!(matches!(&events(ep)[..], [(_, Event::Connected { .. })]));
    c
}

#[test]
fn cookie_then_parked_key_request_then_connected_with_data_both_ways() {
    let mut ep = endpoint(Versions::Auto);
    let now = Instant::now();
    let from = addr("192.0.2.1:4000");
    let mut c = client13(1, None, &KEY);
    // the first ClientHello gets a HelloRetryRequest and leaves nothing behind
    let hello = c.poll_transmit().unwrap();
    ep.handle_datagram(now, from, &hello);
    assert_eq!(ep.stats().hello_verify_sent, 1);
    assert_eq!(ep.connection_count(), 0);
    let hrr = ep.poll_transmit().unwrap();
    c.handle_datagram(now, &hrr.payload);
    // the second is parked until the key comes, counted as half-open
    let hello2 = c.poll_transmit().unwrap();
    ep.handle_datagram(now, from, &hello2);
    assert_eq!(
        events(&mut ep),
        vec![(
            from,
            Event::PskRequested {
                identity: ID.to_vec(),
                hint: None,
                sni: None,
                suite: CCM8_13,
            }
        )]
    );
    assert_eq!(ep.half_open().0, 1);
    assert!(
        ep.poll_transmit().is_none(),
        "nothing is sent before the key"
    );
    // a retransmitted hello while parked changes nothing
    ep.handle_datagram(now, from, &hello2);
    assert!(ep.poll_transmit().is_none() && ep.poll_event().is_none());
    ep.provide_psk(now, from, Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    pump(&mut c, &mut ep, now, from);
    assert!(c.is_established());
    assert_eq!(
        events(&mut ep),
        vec![(
            from,
            Event::Connected {
                suite: CCM8_13,
                identity: ID.to_vec(),
                resumed: false
            }
        )]
    );
    assert_eq!(ep.half_open().0, 0);
    assert_eq!(ep.stats().full_handshakes, 1);
    let info = ep.peer_info(&from).unwrap();
    assert_eq!((info.identity.as_slice(), info.dtls13), (ID, true));

    c.send(b"up").unwrap();
    pump(&mut c, &mut ep, now, from);
    assert_eq!(events(&mut ep), vec![(from, Event::Data(b"up".to_vec()))]);
    ep.send(from, b"down").unwrap();
    pump(&mut c, &mut ep, now, from);
    while let Some(ev) = c.poll_event() {
        if let Event13::Data(d) = ev {
            assert_eq!(d, b"down");
        }
    }
    c.close();
    pump(&mut c, &mut ep, now, from);
    assert_eq!(
        events(&mut ep),
        vec![(
            from,
            Event::Closed {
                reason: CloseReason::PeerClosed
            }
        )]
    );
    assert_eq!(ep.connection_count(), 0);
}

/// The close reason after the parked key request is answered by `answer`, and the alert
/// the client was sent (a plaintext record of epoch 0).
fn failed_with(answer: impl FnOnce(&mut Endpoint, Instant, SocketAddr)) -> (u8, CloseReason) {
    let mut ep = endpoint(Versions::Auto);
    let now = Instant::now();
    let from = addr("192.0.2.1:4000");
    let mut c = client13(1, None, &KEY);
    pump(&mut c, &mut ep, now, from);
    events(&mut ep);
    answer(&mut ep, now, from);
    let sent: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
    let [t] = &sent[..] else { panic!("{sent:?}") };
    assert_eq!((t.payload.len(), t.payload[0], t.payload[13]), (15, 21, 2));
    let ev = events(&mut ep);
    let [(_, Event::Closed { reason })] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(ep.connection_count(), 0);
    assert_eq!(ep.half_open().0, 0);
    (t.payload[14], reason.clone())
}

#[test]
fn a_wrong_key_is_refused_with_decrypt_error_and_key_rejected() {
    let (alert, reason) = failed_with(|ep, now, from| {
        ep.provide_psk(now, from, Some(SecretVec::new(vec![1; 32])))
            .unwrap();
    });
    assert_eq!(reason, CloseReason::Error(Error::BadBinder));
    assert_eq!(reason.failure_kind(), Some(FailureKind::KeyRejected));
    assert_eq!(alert, 51, "decrypt_error");
}

#[test]
fn an_unknown_identity_looks_like_a_wrong_key_to_the_client() {
    let (alert, reason) = failed_with(|ep, now, from| {
        ep.refuse_psk(now, from, PskRefusal::UnknownIdentity)
            .unwrap();
    });
    assert_eq!(reason, CloseReason::Error(Error::UnknownPskIdentity));
    assert_eq!(reason.failure_kind(), Some(FailureKind::KeyRejected));
    assert_eq!(alert, 51, "decrypt_error");
}

#[test]
fn an_unavailable_key_source_is_internal_error_and_peer_unavailable() {
    let (alert, reason) = failed_with(|ep, now, from| {
        ep.refuse_psk(now, from, PskRefusal::Unavailable).unwrap();
    });
    assert_eq!(reason.failure_kind(), Some(FailureKind::PeerUnavailable));
    assert_eq!(alert, 80, "internal_error");
}

#[test]
fn a_cid_peer_moves_only_on_an_authenticated_record_and_never_onto_a_live_address() {
    let mut ep = endpoint(Versions::Auto);
    let now = Instant::now();
    let (a, b, nat) = (
        addr("192.0.2.1:4000"),
        addr("192.0.2.2:4000"),
        addr("192.0.2.1:5555"),
    );
    let mut ca = connected(&mut ep, 1, Some(Vec::new()), a);
    let mut cb = connected(&mut ep, 2, Some(Vec::new()), b);
    events(&mut ep);
    // a forged copy from the new address: delivered nowhere, the peer stays
    ca.send(b"moved").unwrap();
    let mut d = ca.poll_transmit().unwrap();
    let good = d.clone();
    let last = d.len() - 1;
    d[last] ^= 1;
    ep.handle_datagram(now, nat, &d);
    assert_eq!(ep.poll_address_change(), None);
    // the real one moves it
    ep.handle_datagram(now, nat, &good);
    assert_eq!(ep.poll_address_change(), Some((a, nat)));
    assert_eq!(events(&mut ep), vec![(nat, Event::Data(b"moved".to_vec()))]);
    // a replay from yet another address does not
    ep.handle_datagram(now, addr("192.0.2.1:6666"), &good);
    assert_eq!(ep.poll_address_change(), None);
    // b's newest record from a's address: delivered, not moved (a lives there)
    cb.send(b"b").unwrap();
    let d = cb.poll_transmit().unwrap();
    ep.handle_datagram(now, nat, &d);
    assert_eq!(ep.poll_address_change(), None);
    assert_eq!(ep.stats().address_in_use, 1);
    assert_eq!(events(&mut ep), vec![(b, Event::Data(b"b".to_vec()))]);
    ep.send(nat, b"to the new address").unwrap();
    let t = ep.poll_transmit().unwrap();
    assert_eq!(t.destination, nat);
}

#[test]
fn parked_hellos_count_in_the_per_address_and_handshake_budgets() {
    let mut cfg = server_config(Versions::Auto);
    cfg.max_half_open_per_address = 2;
    cfg.max_handshaking = 3;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let now = Instant::now();
    for port in 1..=3 {
        let from = addr(&format!("192.0.2.1:{port}"));
        let mut c = client13(port, None, &KEY);
        pump(&mut c, &mut ep, now, from);
    }
    assert_eq!(ep.half_open().0, 2, "the third from one IP is refused");
    assert_eq!(ep.stats().half_open_limited, 1);
    for port in 1..=2 {
        let from = addr(&format!("192.0.2.2:{port}"));
        let mut c = client13(10 + port, None, &KEY);
        pump(&mut c, &mut ep, now, from);
    }
    // the budget of 3 handshakes: the fourth took the stalest one's place
    assert_eq!(ep.half_open().0, 3);
    assert_eq!(ep.stats().handshakes_evicted, 1);
    let evicted: Vec<_> = events(&mut ep)
        .into_iter()
        .filter(|(_, e)| matches!(e, Event::Closed { .. }))
        .collect();
    assert_eq!(evicted.len(), 1);
    // and a parked hello expires at half_open_timeout
    ep.handle_timeout(now + Duration::from_secs(31));
    assert_eq!(ep.half_open().0, 0);
    assert_eq!(ep.connection_count(), 0);
    assert_eq!(ep.stats().handshakes_expired, 3);
}

#[test]
fn save_all_and_load_all_carry_a_dtls13_session_over_a_restart() {
    let mut ep = endpoint(Versions::Auto);
    let now = Instant::now();
    let (a, nat) = (addr("192.0.2.1:4000"), addr("192.0.2.1:4001"));
    let mut c = connected(&mut ep, 1, Some(Vec::new()), a);
    events(&mut ep);
    let key = [5u8; 32];
    let blob = ep.save_all(&key, 64).unwrap();
    let mut next = endpoint(Versions::Auto);
    assert_eq!(next.load_all(&blob, &key).unwrap(), 1);
    assert_eq!(next.peer_info(&a).unwrap().identity, ID);
    assert_eq!(
        next.load_all(&blob, &key),
        Err(ExportError::AlreadyImported)
    );
    c.send(b"after restart").unwrap();
    pump(&mut c, &mut next, now, a);
    assert_eq!(
        events(&mut next),
        vec![(a, Event::Data(b"after restart".to_vec()))]
    );
    next.send(a, b"back").unwrap();
    pump(&mut c, &mut next, now, a);
    assert!(std::iter::from_fn(|| c.poll_event()).any(|e| e == Event13::Data(b"back".to_vec())));
    // routed by CID after the restart too
    c.send(b"nat").unwrap();
    let d = c.poll_transmit().unwrap();
    next.handle_datagram(now, nat, &d);
    assert_eq!(next.poll_address_change(), Some((a, nat)));
}

#[test]
fn a_dtls13_only_endpoint_refuses_a_dtls12_client_with_protocol_version() {
    let mut ep = endpoint(Versions::Dtls13);
    let psk = Arc::new(StaticPsk {
        identity: ID.to_vec(),
        key: SecretVec::new(KEY.to_vec()),
    });
    let mut cfg = ClientConfig::new(psk);
    cfg.common.rng = Arc::new(SeededRng::new(3));
    let now = Instant::now();
    let mut c = Connection::client(Arc::new(cfg), now).unwrap();
    let from = addr("192.0.2.1:4000");
    let hello = c.poll_transmit().unwrap();
    ep.handle_datagram(now, from, &hello);
    let t = ep.poll_transmit().unwrap();
    assert_eq!(&t.payload[..1], &[21]);
    assert_eq!(&t.payload[13..], &[2, 70]);
    assert_eq!(ep.stats().version_refused, 1);
    assert_eq!(ep.connection_count(), 0);
}

/// The random of the ServerHello a DTLS 1.2 client gets from an endpoint.
fn server_hello_random(versions: Versions) -> [u8; 32] {
    let psk = Arc::new(StaticPsk {
        identity: ID.to_vec(),
        key: SecretVec::new(KEY.to_vec()),
    });
    let mut s = ServerConfig::new(psk.clone());
    s.common.rng = Arc::new(SeededRng::new(2));
    s.common.suites = vec![CCM8_13, CipherSuite::PskAes128Ccm8];
    s.versions = versions;
    let mut ep = Endpoint::new(Arc::new(s)).unwrap();
    let mut cfg = ClientConfig::new(psk);
    cfg.common.rng = Arc::new(SeededRng::new(3));
    let now = Instant::now();
    let mut c = Connection::client(Arc::new(cfg), now).unwrap();
    let from = addr("192.0.2.1:4000");
    for _ in 0..4 {
        while let Some(d) = c.poll_transmit() {
            ep.handle_datagram(now, from, &d);
        }
        while let Some(t) = ep.poll_transmit() {
            // record header (13), handshake header (12), server_version (2), random (32)
            if t.payload[0] == 22 && t.payload[13] == 2 {
                let mut r = [0u8; 32];
                r.copy_from_slice(&t.payload[27..59]);
                return r;
            }
            c.handle_datagram(now, &t.payload);
        }
    }
    panic!("no ServerHello")
}

#[test]
fn a_dtls12_server_hello_carries_the_downgrade_sentinel_only_when_13_is_allowed() {
    assert_eq!(
        server_hello_random(Versions::Auto)[24..],
        DOWNGRADE_SENTINEL_12
    );
    assert_eq!(DOWNGRADE_SENTINEL_12, *b"DOWNGRD\x01");
    let plain = server_hello_random(Versions::Dtls12);
    assert_ne!(plain[24..], DOWNGRADE_SENTINEL_12);
}

#[test]
fn the_cookie_key_rotates_with_the_12_period_and_the_previous_key_still_opens() {
    let mut cfg = server_config(Versions::Auto);
    cfg.cookie_rotation = Duration::from_secs(10);
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let t0 = Instant::now();
    let junk = addr("192.0.2.99:1");
    // each client's second ClientHello, answering a HelloRetryRequest made at t0
    let second_hello = |ep: &mut Endpoint, seed: u64, from: SocketAddr| {
        let mut c = client13(seed, None, &KEY);
        ep.handle_datagram(t0, from, &c.poll_transmit().unwrap());
        let hrr = ep.poll_transmit().unwrap();
        c.handle_datagram(t0, &hrr.payload);
        c.poll_transmit().unwrap()
    };
    let (a, b) = (addr("192.0.2.1:1"), addr("192.0.2.2:1"));
    let hello_a = second_hello(&mut ep, 1, a);
    let hello_b = second_hello(&mut ep, 2, b);
    // one rotation: the previous key still opens a's cookie
    ep.handle_datagram(t0 + Duration::from_secs(11), junk, b"x");
    ep.handle_datagram(t0 + Duration::from_secs(12), a, &hello_a);
    assert!(matches!(&events(&mut ep)[..], [(p, Event::PskRequested { .. })] if *p == a));
    // a second rotation: b's cookie (two keys ago) no longer opens
    ep.handle_datagram(t0 + Duration::from_secs(22), junk, b"x");
    ep.handle_datagram(t0 + Duration::from_secs(23), b, &hello_b);
    assert!(events(&mut ep).is_empty());
    assert_eq!(ep.stats().bad_cookies, 1);
}

#[test]
fn dtls13_connections_count_against_max_connections() {
    let mut cfg = server_config(Versions::Auto);
    cfg.max_connections = 1;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let now = Instant::now();
    let _a = connected(&mut ep, 1, None, addr("192.0.2.1:1"));
    assert_eq!(ep.connection_count(), 1);
    let mut b = client13(2, None, &KEY);
    pump(&mut b, &mut ep, now, addr("192.0.2.2:1"));
    assert!(
        events(&mut ep).is_empty(),
        "no key asked for a refused hello"
    );
    assert_eq!(ep.stats().connection_limited, 1);
    assert_eq!(ep.connection_count(), 1);
}

/// What crossed one way: datagrams and UDP payload bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Crossed {
    datagrams: u64,
    bytes: u64,
}

impl Crossed {
    fn add(&mut self, d: &[u8]) {
        self.datagrams += 1;
        self.bytes += d.len() as u64;
    }
}

/// [`pump`] that counts what crosses each way.
fn pump_counted(
    c: &mut Connection13,
    ep: &mut Endpoint,
    now: Instant,
    from: SocketAddr,
    up: &mut Crossed,
    down: &mut Crossed,
) {
    for _ in 0..10 {
        let mut moved = false;
        while let Some(d) = c.poll_transmit() {
            moved = true;
            up.add(&d);
            ep.handle_datagram(now, from, &d);
        }
        while let Some(t) = ep.poll_transmit() {
            moved = true;
            down.add(&t.payload);
            c.handle_datagram(now, &t.payload);
        }
        if !moved {
            return;
        }
    }
}

#[test]
fn a_dtls13_peer_counts_the_bytes_and_datagrams_that_crossed_retransmissions_included() {
    let mut ep = endpoint(Versions::Auto);
    let now = Instant::now();
    let from = addr("192.0.2.1:4000");
    let mut c = client13(7, None, &KEY);
    let (mut up, mut down) = (Crossed::default(), Crossed::default());
    // ClientHello, HelloRetryRequest (stateless: no connection's), ClientHello with the cookie
    let hello = c.poll_transmit().unwrap();
    up.add(&hello);
    ep.handle_datagram(now, from, &hello);
    let hrr = ep.poll_transmit().unwrap();
    down.add(&hrr.payload);
    c.handle_datagram(now, &hrr.payload);
    let before_cookie = (up, down);
    pump_counted(&mut c, &mut ep, now, from, &mut up, &mut down);
    assert!(matches!(
        &events(&mut ep)[..],
        [(_, Event::PskRequested { .. })]
    ));
    let parked = ep.dtls13_peers().next().unwrap();
    assert_eq!(
        parked.stats,
        Stats13::default(),
        "nothing counted while parked"
    );

    // the key comes; the server's flight is lost once
    ep.provide_psk(now, from, Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    let mut lost = Crossed::default();
    while let Some(t) = ep.poll_transmit() {
        lost.add(&t.payload);
    }
    assert!(lost.datagrams >= 1);
    // the client's timer sends its ClientHello again; the server answers with its flight
    c.handle_timeout(now + Duration::from_secs(2));
    pump_counted(&mut c, &mut ep, now, from, &mut up, &mut down);
    assert!(c.is_established());
    c.send(b"up").unwrap();
    ep.send(from, b"down").unwrap();
    pump_counted(&mut c, &mut ep, now, from, &mut up, &mut down);

    let p = ep.dtls13_peers().next().unwrap();
    let s = p.stats;
    assert!(s.retransmitted >= 1, "{s:?}");
    // the server: everything from the ClientHello with the cookie on, the lost flight too
    assert_eq!(
        (s.datagrams_received, s.bytes_received),
        (
            up.datagrams - before_cookie.0.datagrams,
            up.bytes - before_cookie.0.bytes
        ),
        "{s:?}"
    );
    assert_eq!(
        (s.datagrams_sent, s.bytes_sent),
        (
            down.datagrams + lost.datagrams - before_cookie.1.datagrams,
            down.bytes + lost.bytes - before_cookie.1.bytes
        ),
        "{s:?}"
    );
    // the client: everything it sent and everything that reached it
    let cs = c.stats();
    assert_eq!((cs.datagrams_sent, cs.bytes_sent), (up.datagrams, up.bytes));
    assert_eq!(
        (cs.datagrams_received, cs.bytes_received),
        (down.datagrams, down.bytes)
    );
    assert_eq!(cs.retransmitted, 1, "its ClientHello once");
}
