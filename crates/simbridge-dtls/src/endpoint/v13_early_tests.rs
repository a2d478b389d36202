//! The endpoint's DTLS 1.3 0-RTT in memory: a ticket's early data skips the cookie and comes
//! as `Event::EarlyData` before `Connected`; a replay from another address gets the cookie and
//! no early data; a start refuses early data for one window unless `load_all` restored the
//! strike register; the counters say why.

use std::time::Duration;

use super::tests::events;
use super::ticket_tests::{addr, endpoint_with, full};
use super::*;
use crate::config::EarlyData13;
use crate::v13::early::test_client::EarlyClient;

const STATE_KEY: [u8; 32] = [0x33; 32];

fn early_endpoint() -> Endpoint {
    endpoint_with(|s| {
        s.early_data13 = Some(EarlyData13 {
            max_size: 64,
            ..EarlyData13::default()
        })
    })
}

/// Sends the early client's ClientHello and `early` records from `from`; the datagrams the
/// endpoint sent back to it.
fn offer(
    ep: &mut Endpoint,
    now: Instant,
    from: SocketAddr,
    c: &mut EarlyClient,
    early: &[&[u8]],
) -> Vec<Vec<u8>> {
    ep.handle_datagram(now, from, &c.hello.clone());
    for d in early {
        let r = c.early_record(d);
        ep.handle_datagram(now, from, &r);
    }
    std::iter::from_fn(|| ep.poll_transmit())
        .filter(|t| t.destination == from)
        .map(|t| t.payload)
        .collect()
}

/// The client's Finished for the flight in `sent` (its first datagram).
fn finish(ep: &mut Endpoint, now: Instant, from: SocketAddr, c: &EarlyClient, sent: &[Vec<u8>]) {
    let (fin, _) = c.finish(&sent[0]);
    ep.handle_datagram(now, from, &fin);
}

#[test]
fn early_data_on_a_ticket_skips_the_cookie_and_comes_before_connected() {
    let mut ep = early_endpoint();
    let t0 = Instant::now();
    let (_, t) = full(&mut ep, t0, addr(4000), None);
    assert_eq!(t[0].max_early_data, Some(64), "the ticket announces 0-RTT");
    // past the first window after the start (no register was restored)
    let now = t0 + Duration::from_secs(11);
    let mut c = EarlyClient::ticket(&t[0], 11_000, true, 1);
    let retries = ep.stats().hello_verify_sent;
    let sent = offer(&mut ep, now, addr(4001), &mut c, &[b"GET /a", b"GET /b"]);
    assert_eq!(sent.len(), 1, "the server's flight at once");
    assert_eq!(
        ep.stats().hello_verify_sent,
        retries,
        "no cookie round trip"
    );
    assert_eq!(
        events(&mut ep),
        [
            (addr(4001), Event::EarlyData(b"GET /a".to_vec())),
            (addr(4001), Event::EarlyData(b"GET /b".to_vec())),
        ]
    );
    finish(&mut ep, now, addr(4001), &c, &sent);
    assert!(matches!(
        &events(&mut ep)[..],
        [(_, Event::Connected { resumed: true, identity, .. })] if identity == super::ticket_tests::ID
    ));
    let st = ep.stats();
    assert_eq!((st.early_data_accepted, st.early_data_bytes), (1, 12));
    // the peer's own counters: its early data; the ClientHello, two early records, Finished
    let p = ep.dtls13_peers().find(|p| p.addr == addr(4001)).unwrap();
    assert_eq!(p.stats.early_data_received, 12, "{:?}", p.stats);
    assert_eq!(p.stats.datagrams_received, 4, "{:?}", p.stats);

    // the recorded ClientHello and early data replayed from another port: the cookie, no
    // early data, counted as a replay
    let mut replayed = EarlyClient::ticket(&t[0], 11_000, true, 1);
    let sent = offer(&mut ep, now, addr(4002), &mut replayed, &[b"GET /a"]);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        ep.stats().hello_verify_sent,
        retries + 1,
        "a HelloRetryRequest"
    );
    assert!(
        events(&mut ep).is_empty(),
        "nothing of the replay delivered"
    );
    assert_eq!(ep.stats().early_data_refused_replay, 1);
}

#[test]
fn a_start_refuses_early_data_for_one_window_unless_the_register_was_restored() {
    let mut ep = early_endpoint();
    let t0 = Instant::now();
    let (_, t) = full(&mut ep, t0, addr(4000), None);
    // within the first window: the handshake resumes, the early data is dropped
    let now = t0 + Duration::from_secs(1);
    let mut c = EarlyClient::ticket(&t[0], 1_000, true, 2);
    let sent = offer(&mut ep, now, addr(4001), &mut c, &[b"early"]);
    assert!(events(&mut ep).is_empty(), "no early data");
    finish(&mut ep, now, addr(4001), &c, &sent);
    assert!(matches!(
        &events(&mut ep)[..],
        [(_, Event::Connected { .. })]
    ));
    assert_eq!(ep.stats().early_data_refused_starting, 1);

    // a graceful restart with the register: the next process takes early data at once
    let blob = ep.save_all(&STATE_KEY, 1000).expect("save_all");
    let mut next = early_endpoint();
    next.load_all(&blob, &STATE_KEY).expect("load_all");
    let t1 = Instant::now();
    let (_, t) = full(&mut next, t1, addr(5000), None);
    let mut c = EarlyClient::ticket(&t[0], 100, true, 3);
    let sent = offer(&mut next, t1, addr(5001), &mut c, &[b"at once"]);
    assert_eq!(
        events(&mut next),
        [(addr(5001), Event::EarlyData(b"at once".to_vec()))]
    );
    finish(&mut next, t1, addr(5001), &c, &sent);
    assert_eq!(next.stats().early_data_accepted, 1);

    // one that starts without it waits a window
    let mut cold = early_endpoint();
    let (_, t) = full(&mut cold, t1, addr(6000), None);
    let mut c = EarlyClient::ticket(&t[0], 100, true, 4);
    offer(&mut cold, t1, addr(6001), &mut c, &[b"too soon"]);
    assert!(events(&mut cold).is_empty());
    assert_eq!(cold.stats().early_data_refused_starting, 1);
}

#[test]
fn without_early_data13_tickets_announce_none_and_early_data_is_refused() {
    let mut ep = endpoint_with(|_| {});
    let t0 = Instant::now();
    let (_, t) = full(&mut ep, t0, addr(4000), None);
    assert_eq!(t[0].max_early_data, None);
    let now = t0 + Duration::from_secs(11);
    let mut c = EarlyClient::ticket(&t[0], 11_000, true, 5);
    let sent = offer(&mut ep, now, addr(4001), &mut c, &[b"early"]);
    // the cookie round trip as for any ClientHello, and nothing delivered
    assert_eq!(ep.stats().hello_verify_sent, 2);
    assert_eq!(sent.len(), 1);
    assert!(events(&mut ep).is_empty());
    assert_eq!(ep.stats().early_data_accepted, 0);
}

#[test]
fn zero_rtt_spares_the_first_request_two_round_trips_and_the_cookie_exchange_bytes() {
    const REQUEST: &[u8] = b"GET /sensors/temp";
    let bytes = |d: &[Vec<u8>]| d.iter().map(Vec::len).sum::<usize>();
    let mut ep = early_endpoint();
    let t0 = Instant::now();
    let (_, t) = full(&mut ep, t0, addr(4000), None);
    let (_, t2) = full(&mut ep, t0, addr(4100), None);
    let now = t0 + Duration::from_secs(11);

    // 0-RTT: ClientHello + early record -> flight; Finished -> ACK (+ a new ticket)
    let mut c = EarlyClient::ticket(&t[0], 11_000, true, 9);
    let hello = c.hello.clone();
    let early = c.early_record(REQUEST);
    ep.handle_datagram(now, addr(4001), &hello);
    ep.handle_datagram(now, addr(4001), &early);
    let got_at_once = events(&mut ep);
    let flight: Vec<Vec<u8>> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| t.payload)
        .collect();
    let (fin, _) = c.finish(&flight[0]);
    ep.handle_datagram(now, addr(4001), &fin);
    let after: Vec<Vec<u8>> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| t.payload)
        .collect();
    assert_eq!(
        got_at_once,
        [(addr(4001), Event::EarlyData(REQUEST.to_vec()))]
    );
    assert!(matches!(
        &events(&mut ep)[..],
        [(_, Event::Connected { resumed: true, .. })]
    ));
    let with_0rtt = hello.len() + early.len() + bytes(&flight) + fin.len() + bytes(&after);
    eprintln!(
        "0-RTT: ClientHello {} B, early record {} B, flight {} B",
        hello.len(),
        early.len(),
        bytes(&flight)
    );
    assert!(
        bytes(&flight) < hello.len(),
        "no amplification without the cookie"
    );

    // the same resumption without early data: the cookie round trip, then the request after
    // the Finished (its record is as long as the early one: same AEAD, same header)
    let c = EarlyClient::ticket(&t2[0], 11_000, false, 10);
    ep.handle_datagram(now, addr(4101), &c.hello);
    let hrr: Vec<Vec<u8>> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| t.payload)
        .collect();
    assert_eq!(hrr.len(), 1, "a HelloRetryRequest");
    let c2 = c.retried(&hrr[0], false);
    ep.handle_datagram(now, addr(4101), &c2.hello);
    let flight: Vec<Vec<u8>> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| t.payload)
        .collect();
    let (fin, _) = c2.finish(&flight[0]);
    ep.handle_datagram(now, addr(4101), &fin);
    let after: Vec<Vec<u8>> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| t.payload)
        .collect();
    assert!(matches!(
        &events(&mut ep)[..],
        [(_, Event::Connected { resumed: true, .. })]
    ));
    let without = c.hello.len()
        + bytes(&hrr)
        + c2.hello.len()
        + bytes(&flight)
        + fin.len()
        + early.len()
        + bytes(&after);
    // the first request reaches the server after 0.5 round trips instead of 2.5
    eprintln!(
        "0-RTT resumption: {with_0rtt} B, request at 0.5 RTT; without: {without} B, request \
         at 2.5 RTT (HelloRetryRequest {} B, second ClientHello {} B)",
        bytes(&hrr),
        c2.hello.len()
    );
    assert!(with_0rtt < without);
}

#[test]
fn a_ticket_offer_that_needs_a_key_share_gets_the_hello_retry_request_after_all() {
    let mut ep = early_endpoint();
    let t0 = Instant::now();
    let (_, t) = full(&mut ep, t0, addr(4000), None);
    let now = t0 + Duration::from_secs(11);
    let c = EarlyClient::ticket_without_share(&t[0], 11_000, 11);
    let retries = ep.stats().hello_verify_sent;
    ep.handle_datagram(now, addr(4001), &c.hello);
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| t.payload)
        .collect();
    assert_eq!(sent.len(), 1);
    let hrr = crate::v13::handshake::parse_plaintext(&sent[0]).expect("plaintext");
    let hrr = crate::v13::server_hello::ServerHello13::parse(hrr.body).expect("ServerHello");
    assert_eq!(
        hrr.random,
        crate::v13::server_hello::HRR_RANDOM,
        "a HelloRetryRequest"
    );
    assert_eq!(ep.stats().hello_verify_sent, retries + 1);
    // nothing kept, nothing reported, the ticket not spent, the early data counted as lost
    assert!(events(&mut ep).is_empty());
    assert_eq!(ep.stats().early_data_refused_other, 1);
    assert_eq!(ep.dtls13_tickets_used(), 0, "the ticket not spent");
}

#[test]
fn early_data_under_an_external_psk_gets_the_cookie_and_is_counted_as_having_no_age() {
    let mut ep = early_endpoint();
    let now = Instant::now() + Duration::from_secs(11);
    let mut c = EarlyClient::external(super::ticket_tests::ID, &[9; 32], true, 12);
    let sent = offer(&mut ep, now, addr(4001), &mut c, &[b"early"]);
    assert_eq!(sent.len(), 1, "a HelloRetryRequest");
    assert_eq!(ep.stats().hello_verify_sent, 1);
    assert!(events(&mut ep).is_empty());
    assert_eq!(ep.stats().early_data_refused_no_age, 1);
}

#[test]
fn our_client_puts_its_0_rtt_record_in_the_hello_datagram_and_the_endpoint_takes_it() {
    use super::tests::pump;
    use crate::config::RetransmitConfig;
    use crate::rng::SeededRng;
    use crate::v13::client::ClientConfig13;
    use crate::v13::ticket::Resume13;
    use std::sync::Arc;
    let mut ep = early_endpoint();
    let t0 = Instant::now();
    let (_, t) = full(&mut ep, t0, addr(4100), None);
    let now = t0 + Duration::from_secs(11);
    let mut cfg = ClientConfig13::psk_ke(
        super::ticket_tests::ID.to_vec(),
        SecretVec::new(super::ticket_tests::KEY.to_vec()),
        vec![0x1305],
    );
    cfg.resume = Some(Resume13 {
        ticket: t[0].clone(),
        age_ms: 11_000,
    });
    let mut c = Connection13::client_with_early_data(
        &cfg,
        b"GET /temp".to_vec(),
        1200,
        RetransmitConfig::default(),
        Arc::new(SeededRng::new(41)),
        now,
    )
    .unwrap();
    let first = c.poll_transmit().expect("the ClientHello's datagram");
    assert!(
        c.poll_transmit().is_none(),
        "the 0-RTT record rides in the ClientHello's datagram"
    );
    ep.handle_datagram(now, addr(4101), &first);
    pump(&mut c, &mut ep, now, addr(4101));
    let ev = events(&mut ep);
    assert!(
        matches!(&ev[..], [(_, Event::EarlyData(d)), (_, Event::Connected { resumed: true, .. })] if d == b"GET /temp"),
        "{ev:?}"
    );
    let client_events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        client_events
            .iter()
            .any(|e| matches!(e, Event13::EarlyDataStatus { accepted: true })),
        "{client_events:?}"
    );
    assert!(
        !client_events.iter().any(|e| matches!(e, Event13::Data(_))),
        "nothing sent twice"
    );
    // both ends count the 9 bytes as 0-RTT; the server counts the datagram they came in
    assert_eq!(c.stats().early_data_sent, 9);
    let p = ep.dtls13_peers().find(|p| p.addr == addr(4101)).unwrap();
    assert_eq!(p.stats.early_data_received, 9);
    assert!(
        p.stats.bytes_received >= first.len() as u64,
        "{:?}",
        p.stats
    );
}
