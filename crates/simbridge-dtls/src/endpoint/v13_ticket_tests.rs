//! The endpoint's DTLS 1.3 tickets in memory: issued after a handshake with the key's
//! expiry, resumed without a key request under the original identity, refused when used,
//! expired, rotated out or from before a restart (falling back to the external PSK), off.

use std::sync::Arc;
use std::time::Duration;

use super::tests::{events, pump};
use super::*;
use crate::config::{RetransmitConfig, ServerPskStore};
use crate::rng::SeededRng;
use crate::v13::client::ClientConfig13;
use crate::v13::ticket::{Resume13, Ticket13};
use crate::version::Versions;

pub(super) const KEY: [u8; 32] = [9; 32];
pub(super) const ID: &[u8] = b"3GPP-bootstrapping.tid@bsf";
const CCM8_13: CipherSuite = CipherSuite::Tls13Aes128Ccm8Sha256;

/// A key store that answers later (a BSF lookup) and knows the key's remaining lifetime.
struct Later(Option<Duration>);

impl ServerPskStore for Later {
    fn lookup(&self, _req: &PskRequest) -> PskAnswer<SecretVec> {
        PskAnswer::Pending
    }
    fn key_lifetime(&self, _req: &PskRequest) -> Option<Duration> {
        self.0
    }
}

pub(super) fn endpoint_with(f: impl FnOnce(&mut ServerConfig)) -> Endpoint {
    let mut s = ServerConfig::new(Arc::new(Later(None)));
    s.common.rng = Arc::new(SeededRng::new(2));
    s.common.suites = vec![CCM8_13, CipherSuite::PskAes128Ccm8];
    s.versions = Versions::Auto;
    s.tickets13 = true;
    f(&mut s);
    Endpoint::new(Arc::new(s)).unwrap()
}

fn client(seed: u64, identity: &[u8], resume: Option<&Ticket13>) -> Connection13 {
    let mut cfg = ClientConfig13::psk_ke(
        identity.to_vec(),
        SecretVec::new(KEY.to_vec()),
        vec![0x1305],
    );
    cfg.resume = resume.map(|t| Resume13 {
        ticket: t.clone(),
        age_ms: 0,
    });
    Connection13::client(
        &cfg,
        RetransmitConfig::default(),
        Arc::new(SeededRng::new(seed)),
        Instant::now(),
    )
    .unwrap()
}

pub(super) fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

/// The tickets the client got.
fn tickets(c: &mut Connection13) -> Vec<Ticket13> {
    std::iter::from_fn(|| c.poll_event())
        .filter_map(|e| match e {
            Event13::Ticket(t) => Some(*t),
            _ => None,
        })
        .collect()
}

/// A full handshake through the parked key request; the client and the tickets it got.
pub(super) fn full(
    ep: &mut Endpoint,
    now: Instant,
    from: SocketAddr,
    resume: Option<&Ticket13>,
) -> (Connection13, Vec<Ticket13>) {
    let mut c = client(u64::from(from.port()), ID, resume);
    pump(&mut c, ep, now, from);
    let ev = events(ep);
    assert!(
        matches!(&ev[..], [(a, Event::PskRequested { identity, .. })] if *a == from && identity == ID),
        "{ev:?}"
    );
    ep.provide_psk(now, from, Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    pump(&mut c, ep, now, from);
    assert!(c.is_established());
    let ev = events(ep);
    assert!(
        matches!(&ev[..], [(_, Event::Connected { resumed: false, .. })]),
        "{ev:?}"
    );
    let t = tickets(&mut c);
    (c, t)
}

/// A resumption that needs no key: the events it gave, the client and its new tickets.
fn resume(
    ep: &mut Endpoint,
    now: Instant,
    from: SocketAddr,
    t: &Ticket13,
) -> (Vec<(SocketAddr, Event)>, Connection13, Vec<Ticket13>) {
    let mut c = client(u64::from(from.port()), ID, Some(t));
    pump(&mut c, ep, now, from);
    let ev = events(ep);
    let got = tickets(&mut c);
    (ev, c, got)
}

#[test]
fn a_ticket_is_issued_after_a_handshake_and_resumes_without_a_key_request() {
    let mut ep = endpoint_with(|_| {});
    let now = Instant::now();
    let (_, t) = full(&mut ep, now, addr(4000), None);
    assert_eq!(t.len(), 1, "one NewSessionTicket per handshake");
    assert_eq!(t[0].ticket.len(), TICKET_OVERHEAD_FOR_ID);
    assert_eq!(
        t[0].lifetime_secs,
        24 * 3600,
        "session_lifetime, no key limit known"
    );
    assert_eq!(ep.stats().tickets_issued, 1);
    let (ev, mut c, t2) = resume(&mut ep, now, addr(4001), &t[0]);
    assert_eq!(
        ev,
        vec![(
            addr(4001),
            Event::Connected {
                suite: CCM8_13,
                identity: ID.to_vec(),
                resumed: true
            }
        )],
        "no PskRequested: the ticket is the key; the original identity"
    );
    assert!(c.is_established() && c.session().unwrap().resumed);
    assert_eq!(ep.peer_info(&addr(4001)).unwrap().identity, ID);
    assert_eq!(t2.len(), 1, "a resumed session gets a ticket too");
    let st = ep.stats();
    assert_eq!((st.full_handshakes, st.abbreviated_handshakes), (1, 1));
    assert_eq!((st.tickets_issued, st.resumptions_offered), (2, 1));
    assert_eq!(ep.dtls13_tickets_used(), 1);
    // data flows on the resumed session
    c.send(b"resumed").unwrap();
    pump(&mut c, &mut ep, now, addr(4001));
    assert_eq!(
        events(&mut ep),
        vec![(addr(4001), Event::Data(b"resumed".to_vec()))]
    );
}

/// The ticket length for `ID`.
const TICKET_OVERHEAD_FOR_ID: usize = crate::v13::issuer::TICKET_OVERHEAD + ID.len();

#[test]
fn a_used_ticket_is_refused_and_the_external_psk_beside_it_does_a_full_handshake() {
    let mut ep = endpoint_with(|_| {});
    let now = Instant::now();
    let (_, t) = full(&mut ep, now, addr(4000), None);
    let (ev, ..) = resume(&mut ep, now, addr(4001), &t[0]);
    assert!(matches!(
        &ev[..],
        [(_, Event::Connected { resumed: true, .. })]
    ));
    // the same ticket again (a replayed or copied ClientHello): the key is asked for
    let (_, again) = full(&mut ep, now, addr(4002), Some(&t[0]));
    assert_eq!(again.len(), 1);
    let st = ep.stats();
    assert_eq!((st.full_handshakes, st.abbreviated_handshakes), (2, 1));
    assert_eq!(st.tickets_refused, 1);
}

#[test]
fn a_used_ticket_without_an_external_psk_beside_it_fails_with_handshake_failure() {
    let mut ep = endpoint_with(|_| {});
    let now = Instant::now();
    let (_, t) = full(&mut ep, now, addr(4000), None);
    let (ev, ..) = resume(&mut ep, now, addr(4001), &t[0]);
    assert!(matches!(
        &ev[..],
        [(_, Event::Connected { resumed: true, .. })]
    ));
    // a client whose "external" identity is a ticket too offers nothing we can take
    let mut c = client(7, &t[0].ticket, Some(&t[0]));
    let from = addr(4003);
    let hello = c.poll_transmit().unwrap();
    ep.handle_datagram(now, from, &hello);
    let hrr = ep.poll_transmit().unwrap();
    c.handle_datagram(now, &hrr.payload);
    ep.handle_datagram(now, from, &c.poll_transmit().unwrap());
    let sent: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
    let [alert] = &sent[..] else {
        panic!("{sent:?}")
    };
    // a plaintext alert record of epoch 0: handshake_failure (40)
    assert_eq!(
        (alert.payload[0], alert.payload[13], alert.payload[14]),
        (21, 2, 40)
    );
    assert!(events(&mut ep).is_empty(), "no key request, no connection");
    assert_eq!(ep.connection_count(), 2, "the two earlier sessions only");
    assert_eq!(ep.stats().tickets_refused, 1);
}

#[test]
fn a_ticket_lives_no_longer_than_its_key_and_an_expired_one_is_refused() {
    let mut ep = endpoint_with(|s| {
        s.psk = Arc::new(Later(Some(Duration::from_secs(50))));
    });
    let now = Instant::now();
    let (_, t) = full(&mut ep, now, addr(4000), None);
    assert_eq!(
        t[0].lifetime_secs, 50,
        "cut to the key's remaining lifetime"
    );
    // a resumption within the key's life carries the key's expiry on: its ticket is shorter
    let (ev, _, t2) = resume(&mut ep, now + Duration::from_secs(20), addr(4001), &t[0]);
    assert!(matches!(
        &ev[..],
        [(_, Event::Connected { resumed: true, .. })]
    ));
    assert!(
        (29..=30).contains(&t2[0].lifetime_secs),
        "{}",
        t2[0].lifetime_secs
    );
    // past the key's expiry the new ticket does not open: the key is asked for again
    let (_, t3) = full(
        &mut ep,
        now + Duration::from_secs(51),
        addr(4002),
        Some(&t2[0]),
    );
    assert_eq!(ep.stats().tickets_refused, 1);
    assert_eq!(t3.len(), 1);
    // and the issuer's own lifetime when the key lives longer
    let mut ep = endpoint_with(|s| s.session_lifetime = Duration::from_secs(100));
    let (_, t) = full(&mut ep, now, addr(4000), None);
    assert_eq!(t[0].lifetime_secs, 100);
    full(
        &mut ep,
        now + Duration::from_secs(101),
        addr(4001),
        Some(&t[0]),
    );
    assert_eq!(ep.stats().tickets_refused, 1);
}

#[test]
fn the_ticket_key_rotates_and_the_previous_key_still_opens() {
    let mut ep = endpoint_with(|s| s.ticket_rotation = Duration::from_secs(10));
    let now = Instant::now();
    let (_, t) = full(&mut ep, now, addr(4000), None);
    let (_, old) = full(&mut ep, now, addr(4001), None);
    // one rotation: a ticket of the previous key still resumes
    let (ev, ..) = resume(&mut ep, now + Duration::from_secs(11), addr(4002), &t[0]);
    assert!(
        matches!(&ev[..], [(_, Event::Connected { resumed: true, .. })]),
        "{ev:?}"
    );
    // two rotations: it no longer opens
    ep.handle_timeout(now + Duration::from_secs(22));
    let (_, fresh) = full(
        &mut ep,
        now + Duration::from_secs(22),
        addr(4003),
        Some(&old[0]),
    );
    assert_eq!(ep.stats().tickets_refused, 1);
    // a ticket of the current key resumes
    let (ev, ..) = resume(
        &mut ep,
        now + Duration::from_secs(23),
        addr(4004),
        &fresh[0],
    );
    assert!(
        matches!(&ev[..], [(_, Event::Connected { resumed: true, .. })]),
        "{ev:?}"
    );
}

#[test]
fn a_ticket_from_before_a_restart_is_refused_while_the_session_carries_on() {
    let mut ep = endpoint_with(|_| {});
    let now = Instant::now();
    let (mut c, t) = full(&mut ep, now, addr(4000), None);
    let key = [5u8; 32];
    let blob = ep.save_all(&key, 64).unwrap();
    // the next process draws its own ticket key
    let mut next = endpoint_with(|s| s.common.rng = Arc::new(SeededRng::new(3)));
    assert_eq!(next.load_all(&blob, &key).unwrap(), 1);
    // the continued session works
    c.send(b"after restart").unwrap();
    pump(&mut c, &mut next, now, addr(4000));
    assert_eq!(
        events(&mut next),
        vec![(addr(4000), Event::Data(b"after restart".to_vec()))]
    );
    // its ticket does not open in the new process: a full handshake, never a second use
    full(&mut next, now, addr(4001), Some(&t[0]));
    assert_eq!(next.stats().tickets_refused, 1);
    assert_eq!(next.stats().abbreviated_handshakes, 0);
}

#[test]
fn tickets_are_off_by_default_and_then_none_is_sent_and_none_taken() {
    let mut on = endpoint_with(|_| {});
    let now = Instant::now();
    let (_, t) = full(&mut on, now, addr(4000), None);
    // off by default
    let default = ServerConfig::new(Arc::new(Later(None))).tickets13;
    assert!(!default);
    let mut ep = endpoint_with(|s| s.tickets13 = default);
    let (_, none) = full(&mut ep, now, addr(4000), None);
    assert!(none.is_empty());
    assert_eq!(ep.stats().tickets_issued, 0);
    full(&mut ep, now, addr(4001), Some(&t[0]));
    assert_eq!(ep.stats().abbreviated_handshakes, 0);
}
