//! Ticket keys derived from a persistent master secret: a ticket issued before a crash (no
//! `save_all`) resumes in the next process started with the same secret, later on the wall
//! clock; another secret, or two periods later, refuses it.

use std::sync::Arc;
use std::time::Duration;

use super::ticket_tests::{addr, endpoint_with, full};
use super::*;
use crate::rng::SeededRng;
use crate::secret::Secret;
use crate::v13::ticket_master::TicketMaster;

const WALL: u64 = 1_800_000_000;

fn with_master(seed: u64, secret: u8, wall_secs: u64) -> Endpoint {
    endpoint_with(|s| {
        s.common.rng = Arc::new(SeededRng::new(seed));
        s.ticket_rotation = Duration::from_secs(3600);
        s.ticket_master = Some(TicketMaster {
            secret: Secret::new([secret; 32]),
            wall_ms: wall_secs * 1000,
        });
    })
}

fn resumed(ep: &mut Endpoint, now: Instant, from: SocketAddr, t: &Ticket13) -> bool {
    let mut c = v13_client(from, t);
    super::tests::pump(&mut c, ep, now, from);
    let ev = super::tests::events(ep);
    matches!(&ev[..], [(_, Event::Connected { resumed: true, .. })])
}

fn v13_client(from: SocketAddr, t: &Ticket13) -> Connection13 {
    let mut cfg = crate::v13::client::ClientConfig13::psk_ke(
        super::ticket_tests::ID.to_vec(),
        SecretVec::new(super::ticket_tests::KEY.to_vec()),
        vec![0x1305],
    );
    cfg.resume = Some(crate::v13::ticket::Resume13 {
        ticket: t.clone(),
        age_ms: 0,
    });
    Connection13::client(
        &cfg,
        crate::config::RetransmitConfig::default(),
        Arc::new(SeededRng::new(u64::from(from.port()))),
        Instant::now(),
    )
    .unwrap()
}

use crate::v13::ticket::Ticket13;

#[test]
fn a_ticket_from_before_a_crash_resumes_with_the_same_master_secret() {
    let now = Instant::now();
    let mut first = with_master(2, 1, WALL);
    let (_, t) = full(&mut first, now, addr(4000), None);
    drop(first); // a crash: nothing saved
    // the next process starts 30 s later on the wall clock, with other random state
    let mut next = with_master(3, 1, WALL + 30);
    assert!(resumed(&mut next, Instant::now(), addr(4001), &t[0]));
    assert_eq!(next.stats().abbreviated_handshakes, 1);
    assert_eq!(next.stats().tickets_refused, 0);
}

#[test]
fn another_master_secret_or_two_periods_later_refuses_the_ticket() {
    let now = Instant::now();
    let mut first = with_master(2, 1, WALL);
    let (_, t) = full(&mut first, now, addr(4000), None);
    let mut other = with_master(3, 2, WALL + 30);
    assert!(!resumed(&mut other, Instant::now(), addr(4001), &t[0]));
    // two rotation periods later the ticket's key is no longer derived
    let mut late = with_master(3, 1, WALL + 2 * 3600 + 10);
    assert!(!resumed(&mut late, Instant::now(), addr(4002), &t[0]));
    // one period later (the previous key) it still opens
    let mut soon = with_master(3, 1, WALL + 3600);
    assert!(resumed(&mut soon, Instant::now(), addr(4003), &t[0]));
}

#[test]
fn the_endpoint_rotates_derived_keys_on_the_wall_clock_period() {
    let now = Instant::now();
    // start 10 s before a period boundary
    let start = (WALL / 3600 + 1) * 3600 - 10;
    let mut ep = with_master(2, 1, start);
    let (_, t) = full(&mut ep, now, addr(4000), None);
    ep.handle_timeout(now + Duration::from_secs(20));
    // one period on: the ticket's key is the previous one, still open here and in a restart
    assert!(resumed(
        &mut ep,
        now + Duration::from_secs(20),
        addr(4001),
        &t[0]
    ));
    let mut restarted = with_master(3, 1, start + 20);
    assert!(resumed(&mut restarted, Instant::now(), addr(4002), &t[0]));
}
