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
    assert_eq!(ep.stats().hello_verify_sent, retries, "no cookie round trip");
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

    // the recorded ClientHello and early data replayed from another port: the cookie, no
    // early data, counted as a replay
    let mut replayed = EarlyClient::ticket(&t[0], 11_000, true, 1);
    let sent = offer(&mut ep, now, addr(4002), &mut replayed, &[b"GET /a"]);
    assert_eq!(sent.len(), 1);
    assert_eq!(ep.stats().hello_verify_sent, retries + 1, "a HelloRetryRequest");
    assert!(events(&mut ep).is_empty(), "nothing of the replay delivered");
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
