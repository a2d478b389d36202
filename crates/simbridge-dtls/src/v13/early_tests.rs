//! 0-RTT on the server in memory (seeded RNG, virtual clock): taken on a fresh ticket offer
//! before Connected, refused on a replay, under an external PSK, after a HelloRetryRequest,
//! within a window of a start, and too much of it ends the handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::test_client::{EarlyClient, SUITE};
use super::*;
use crate::config::RetransmitConfig;
use crate::rng::SeededRng;
use crate::secret::SecretVec;
use crate::v13::connection::{Close13, Connection13, Event13};
use crate::v13::cookie::CookieKey13;
use crate::v13::issuer::{TicketIssuer, TicketOrigin};
use crate::v13::server::{Accepted13, HelloContext, Server13, ServerWaitFinished};
use crate::v13::strike::{DEFAULT_WINDOW_MS as W, EarlyVerdict, StrikeRegister};
use crate::v13::ticket::{NewSessionTicket, Ticket13};

const TICKET_KEY: [u8; 16] = [4; 16];
const ISSUED: u64 = 1_000;
const AGE_MS: u32 = 500;
const NOW_MS: u64 = ISSUED * 1000 + AGE_MS as u64;
const EXT_ID: &[u8] = b"3GPP-bootstrapping.tid@bsf";
const EXT_KEY: [u8; 32] = [7; 32];

fn server(max_early: Option<u32>, require_cookie: bool) -> Server13 {
    let mut issuer = TicketIssuer::new(Secret::new(TICKET_KEY), 3600);
    issuer.early_data = max_early;
    let mut s = Server13::psk_ke(vec![SUITE], CookieKey13::new(Secret::new([0x5c; 32])));
    s.require_cookie = require_cookie;
    s.tickets = Some(issuer);
    s
}

/// A ticket of `s` (a new one for each `seed`), as its client keeps it.
fn ticket_n(s: &Server13, seed: u64) -> Ticket13 {
    let res = Secret::new([9; 32]);
    let origin = TicketOrigin {
        identity: EXT_ID.to_vec(),
        key_expires: None,
    };
    let body = s
        .tickets
        .as_ref()
        .expect("tickets")
        .issue(&res, SUITE, 0, &origin, ISSUED, &SeededRng::new(seed))
        .expect("issue")
        .expect("a ticket");
    NewSessionTicket::parse(&body)
        .expect("parses")
        .into_ticket(&res, SUITE)
}

fn ticket(s: &Server13) -> Ticket13 {
    ticket_n(s, 5)
}

/// A register that started a window before the ticket was issued.
fn open_register() -> StrikeRegister {
    StrikeRegister::new(W, 16, ISSUED * 1000 - W)
}

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], port))
}

fn cx(rng: &SeededRng, port: u16) -> HelloContext<'_> {
    HelloContext {
        peer: peer(port),
        now_secs: ISSUED,
        rng,
        cid: None,
    }
}

fn ext_key(id: &[u8]) -> Option<SecretVec> {
    (id == EXT_ID).then(|| SecretVec::new(EXT_KEY.to_vec()))
}

/// `accept_early` with `register` at [`NOW_MS`].
fn accept(
    s: &Server13,
    hello: &[u8],
    register: &mut StrikeRegister,
    port: u16,
) -> Result<Accepted13, Handshake13Error> {
    let rng = SeededRng::new(u64::from(port));
    let mut gate = EarlyGate {
        register,
        now_ms: NOW_MS,
    };
    s.accept_early(hello, &cx(&rng, port), ext_key, true, Some(&mut gate))
}

fn connection(wait: Box<ServerWaitFinished>, flight: Vec<u8>, hello: &[u8]) -> Connection13 {
    Connection13::server(
        wait,
        flight,
        hello,
        RetransmitConfig::default(),
        Arc::new(SeededRng::new(8)),
        Instant::now(),
    )
}

fn events(c: &mut Connection13) -> Vec<Event13> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

#[test]
fn early_data_on_a_fresh_ticket_comes_before_connected_without_a_cookie_round_trip() {
    let s = server(Some(64), true);
    let t = ticket(&s);
    assert_eq!(t.max_early_data, Some(64), "the ticket announces 0-RTT");
    let mut client = EarlyClient::ticket(&t, AGE_MS, true, 1);
    let mut register = open_register();
    // require_cookie, yet the server answers at once: a cookie would lose the early data
    let Ok(Accepted13::Flight(wait, flight)) = accept(&s, &client.hello, &mut register, 1) else {
        panic!("a flight, not a HelloRetryRequest");
    };
    assert_eq!(wait.early_outcome(), EarlyOutcome::Accepted(64));
    assert_eq!(register.len(), 1, "its binder is in the register");
    let mut c = connection(wait, flight, &client.hello);
    let flight = c.poll_transmit().expect("the flight");
    c.handle_datagram(Instant::now(), &client.early_record(b"GET /status"));
    assert_eq!(
        events(&mut c),
        [Event13::EarlyData(b"GET /status".to_vec())]
    );
    let (fin, taken) = client.finish(&flight);
    assert!(taken, "EncryptedExtensions carry early_data");
    c.handle_datagram(Instant::now(), &fin);
    assert!(matches!(&events(&mut c)[..], [Event13::Connected { .. }]));
    // early data ends with the client's Finished: a late epoch-1 record is dropped
    let dropped = c.stats().dropped;
    c.handle_datagram(Instant::now(), &client.early_record(b"late"));
    assert!(events(&mut c).is_empty());
    assert_eq!(c.stats().dropped, dropped + 1);
}

#[test]
fn a_replayed_client_hello_gets_no_early_data_and_never_completes() {
    let s = server(Some(64), true);
    let t = ticket(&s);
    let mut client = EarlyClient::ticket(&t, AGE_MS, true, 1);
    let early = client.early_record(b"pay 10 EUR");
    let mut register = open_register();
    let Ok(Accepted13::Flight(wait, flight)) = accept(&s, &client.hello, &mut register, 1) else {
        panic!("a flight");
    };
    let mut original = connection(wait, flight, &client.hello);
    original.handle_datagram(Instant::now(), &early);
    assert_eq!(events(&mut original).len(), 1);
    let (fin, _) = client.finish(&original.poll_transmit().expect("flight"));

    // the same datagrams from elsewhere: the ticket was used, so no early-data shortcut: the
    // cookie round trip, and after it the single-use ticket refuses the resumption
    assert!(matches!(
        accept(&s, &client.hello, &mut register, 2),
        Ok(Accepted13::Retry(_))
    ));
    // a server sharing the ticket key but not the used register (another process): the
    // strike register still refuses the early data
    let other = server(Some(64), true);
    let Ok(Accepted13::Flight(wait, flight)) = accept(&other, &client.hello, &mut register, 3)
    else {
        panic!("the ticket opens for a server that never saw it");
    };
    assert_eq!(
        wait.early_outcome(),
        EarlyOutcome::Refused(EarlyRefusal::Register(EarlyVerdict::Replay))
    );
    let mut replay = connection(wait, flight, &client.hello);
    let _ = replay.poll_transmit();
    replay.handle_datagram(Instant::now(), &early);
    assert!(
        events(&mut replay).is_empty(),
        "no early data from a replay"
    );
    assert_eq!(replay.stats().dropped, 1);
    // the recorded Finished is under the keys of another ServerHello: dropped, the replay
    // never completes
    replay.handle_datagram(Instant::now(), &fin);
    assert!(events(&mut replay).is_empty());
    assert!(!replay.is_established());
    assert_eq!(replay.stats().dropped, 2);
}

#[test]
fn early_data_under_an_external_psk_is_refused_and_the_handshake_goes_on() {
    let s = server(Some(64), false);
    let mut client = EarlyClient::external(EXT_ID, &EXT_KEY, true, 2);
    let mut register = open_register();
    let Ok(Accepted13::Flight(wait, flight)) = accept(&s, &client.hello, &mut register, 1) else {
        panic!("a flight");
    };
    assert_eq!(
        wait.early_outcome(),
        EarlyOutcome::Refused(EarlyRefusal::Register(EarlyVerdict::NoAge))
    );
    let mut c = connection(wait, flight, &client.hello);
    let flight = c.poll_transmit().expect("flight");
    c.handle_datagram(Instant::now(), &client.early_record(b"x"));
    assert!(events(&mut c).is_empty(), "dropped unread");
    let (fin, taken) = client.finish(&flight);
    assert!(!taken, "no early_data in EncryptedExtensions");
    c.handle_datagram(Instant::now(), &fin);
    assert!(matches!(&events(&mut c)[..], [Event13::Connected { .. }]));
    assert!(register.is_empty());
}

#[test]
fn early_data_after_a_hello_retry_request_is_refused() {
    // an external PSK's ClientHello gets the cookie first
    let s = server(Some(64), true);
    let client = EarlyClient::external(EXT_ID, &EXT_KEY, true, 3);
    let mut register = open_register();
    let Ok(Accepted13::Retry(hrr)) = accept(&s, &client.hello, &mut register, 1) else {
        panic!("a HelloRetryRequest");
    };
    let second = client.after_retry(&hrr);
    let Ok(Accepted13::Flight(wait, _)) = accept(&s, &second.hello, &mut register, 1) else {
        panic!("a flight");
    };
    assert_eq!(
        wait.early_outcome(),
        EarlyOutcome::Refused(EarlyRefusal::AfterRetry)
    );
    // a ticket without early data: no cookie skipped, nothing taken
    let s = server(None, false);
    let t = ticket(&s);
    let client = EarlyClient::ticket(&t, AGE_MS, true, 4);
    let Ok(Accepted13::Flight(wait, _)) = accept(&s, &client.hello, &mut register, 2) else {
        panic!("a flight");
    };
    assert_eq!(
        wait.early_outcome(),
        EarlyOutcome::Refused(EarlyRefusal::NotAllowed)
    );
    assert!(register.is_empty());
}

#[test]
fn a_start_without_the_register_refuses_early_data_for_a_window_and_a_restored_one_does_not() {
    let s = server(Some(64), true);
    let t = ticket(&s);
    // started just now, nothing restored
    let mut fresh = StrikeRegister::new(W, 16, NOW_MS - 1);
    let client = EarlyClient::ticket(&t, AGE_MS, true, 5);
    let Ok(Accepted13::Flight(wait, _)) = accept(&s, &client.hello, &mut fresh, 1) else {
        panic!("a flight");
    };
    assert_eq!(
        wait.early_outcome(),
        EarlyOutcome::Refused(EarlyRefusal::Register(EarlyVerdict::Starting))
    );
    // the same start with the previous process's register restored
    let saved = open_register().export(NOW_MS);
    let mut restored = StrikeRegister::import(&saved, W, 16, NOW_MS).expect("imports");
    let t = ticket_n(&s, 6);
    let client = EarlyClient::ticket(&t, AGE_MS, true, 6);
    let Ok(Accepted13::Flight(wait, _)) = accept(&s, &client.hello, &mut restored, 2) else {
        panic!("a flight");
    };
    assert_eq!(wait.early_outcome(), EarlyOutcome::Accepted(64));
    // a stale offer (sent, by its age, two windows ago) is refused
    let t = ticket_n(&s, 7);
    let client = EarlyClient::ticket(&t, AGE_MS + 2 * W as u32, true, 7);
    let Ok(Accepted13::Flight(wait, _)) = accept(&s, &client.hello, &mut restored, 3) else {
        panic!("a flight");
    };
    assert_eq!(
        wait.early_outcome(),
        EarlyOutcome::Refused(EarlyRefusal::Register(EarlyVerdict::Stale))
    );
}

#[test]
fn more_early_data_than_the_ticket_allowed_ends_the_handshake_with_unexpected_message() {
    let s = server(Some(16), true);
    let t = ticket(&s);
    let mut client = EarlyClient::ticket(&t, AGE_MS, true, 8);
    let mut register = open_register();
    let Ok(Accepted13::Flight(wait, flight)) = accept(&s, &client.hello, &mut register, 1) else {
        panic!("a flight");
    };
    let mut c = connection(wait, flight, &client.hello);
    let _ = c.poll_transmit();
    c.handle_datagram(Instant::now(), &client.early_record(b"0123456789"));
    c.handle_datagram(Instant::now(), &client.early_record(b"0123456789"));
    let ev = events(&mut c);
    assert_eq!(ev[0], Event13::EarlyData(b"0123456789".to_vec()));
    assert_eq!(
        ev[1],
        Event13::Closed(Close13::Failed(Handshake13Error::UnexpectedMessage(
            TOO_MUCH_EARLY_DATA
        )))
    );
    let alert = c.poll_transmit().expect("an alert");
    assert_eq!(
        (alert[0], alert[alert.len() - 1]),
        (21, 10),
        "unexpected_message"
    );
}
