//! Session resumption between our client and our server endpoint (in memory, virtual clock):
//! session-ID resumption from the bounded cache, RFC 5077 tickets from a stateless server,
//! abbreviated handshakes in both roles, the cookie-skip knob, lifetimes (never beyond the
//! PSK's), ticket key rotation with overlap, fallback to a full handshake, loss of the last
//! flight, and resumption with a Connection ID.

mod dtls_support;

use std::sync::Arc;
use std::time::Duration;

use dtls_support::*;
use simbridge::dtls::config::{PskAnswer, PskRequest, ServerPskStore};
use simbridge::dtls::stats::HandshakeKind;
use simbridge::dtls::{CipherSuite, ClientConfig, Connection, Event, ServerConfig, Session};
use simbridge::secret::SecretVec;

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;

fn connected(p: &Pair) -> Option<bool> {
    p.client_events.iter().find_map(|e| match e {
        Event::Connected { resumed, .. } => Some(*resumed),
        _ => None,
    })
}

fn server_resumed(p: &Pair) -> Vec<bool> {
    p.server_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Connected { resumed, .. } => Some(*resumed),
            _ => None,
        })
        .collect()
}

/// Runs a first full handshake and returns the pair and the client's session.
fn first(client: ClientConfig, server: ServerConfig) -> (Pair, Session) {
    let mut p = Pair::new(client, server);
    p.drive();
    assert_eq!(connected(&p), Some(false));
    let s = p.client.session().expect("session").clone();
    (p, s)
}

/// Starts a new client connection (new random, same address) on the same server endpoint.
fn again(p: &mut Pair, mut cfg: ClientConfig, session: Option<Session>) -> (usize, usize) {
    cfg.resume = session;
    p.client = Connection::client(Arc::new(cfg), p.now).unwrap();
    p.client_events.clear();
    p.server_events.clear();
    let (c0, s0) = (p.c2s_sizes.len(), p.s2c_sizes.len());
    p.drive();
    (p.c2s_sizes.len() - c0, p.s2c_sizes.len() - s0)
}

#[test]
fn session_id_resumption_is_abbreviated_both_ways_and_carries_data() {
    let (mut p, s) = first(client_config(&[CCM8], 1), server_config(&[CCM8], 2));
    assert_eq!(
        s.session_id.len(),
        16,
        "the server gave a session ID (16 bytes by default)"
    );
    assert!(s.ticket.is_empty());
    assert_eq!(p.server.cached_sessions(), 1);
    let full_bytes: usize = p.c2s_sizes.iter().chain(&p.s2c_sizes).sum();
    let (c2s, s2c) = again(&mut p, client_config(&[CCM8], 3), Some(s.clone()));
    assert_eq!(connected(&p), Some(true));
    assert_eq!(server_resumed(&p), vec![true]);
    assert_eq!(
        p.client.stats().handshake_kind,
        Some(HandshakeKind::Abbreviated)
    );
    assert_eq!((c2s, s2c), (3, 2), "CH, HVR, CH, SH+CCS+Fin, CCS+Fin");
    let resumed_bytes: usize = p.c2s_sizes.iter().chain(&p.s2c_sizes).sum::<usize>() - full_bytes;
    println!("full {full_bytes} B, session-ID resumption {resumed_bytes} B");
    // with a plain PSK the abbreviated handshake saves a round trip and the PSK lookup, and
    // only some bytes: the session ID rides in both hellos and the ServerHello
    assert_eq!(p.client.stats().round_trips, 2, "full: 3");
    assert!(
        resumed_bytes < full_bytes,
        "{resumed_bytes} vs {full_bytes}"
    );
    assert_eq!(p.client.session().unwrap().session_id, s.session_id);
    assert_eq!(
        p.client.session().unwrap().master,
        s.master,
        "same master secret"
    );
    p.client.send(b"resumed").unwrap();
    p.drive();
    assert_eq!(p.server_data(), vec![b"resumed".to_vec()]);
    let a = p.client_addr;
    p.server.send(a, b"yes").unwrap();
    p.drive();
    assert_eq!(p.client_data(), vec![b"yes".to_vec()]);
    assert_eq!(p.server.stats().abbreviated_handshakes, 1);
    assert_eq!(p.server.stats().full_handshakes, 1);
}

#[test]
fn ticket_resumption_from_a_stateless_server() {
    let mut c = client_config(&[CCM8], 1);
    c.session_tickets = true;
    let mut sc = server_config(&[CCM8], 2);
    sc.session_cache = 0;
    let (mut p, s) = first(c.clone(), sc);
    assert!(s.session_id.is_empty(), "no cache, no session ID");
    assert!(!s.ticket.is_empty(), "a ticket came in NewSessionTicket");
    assert!(s.ticket_lifetime > 24 * 3600 - 10 && s.ticket_lifetime <= 24 * 3600);
    assert_eq!(p.server.cached_sessions(), 0);
    again(&mut p, c.clone(), Some(s.clone()));
    assert_eq!(connected(&p), Some(true));
    assert_eq!(server_resumed(&p), vec![true]);
    let s2 = p.client.session().unwrap().clone();
    assert!(!s2.ticket.is_empty());
    assert_ne!(s2.ticket, s.ticket, "a fresh ticket on resumption");
    p.client.send(b"x").unwrap();
    p.drive();
    assert_eq!(p.server_data(), vec![b"x".to_vec()]);
    // the new ticket resumes too
    again(&mut p, c, Some(s2));
    assert_eq!(connected(&p), Some(true));
}

#[test]
fn unknown_session_falls_back_to_a_full_handshake() {
    let (_, s) = first(client_config(&[CCM8], 1), server_config(&[CCM8], 2));
    // a restarted server (empty cache, new ticket keys)
    let mut p = Pair::new(
        {
            let mut c = client_config(&[CCM8], 5);
            c.resume = Some(s);
            c
        },
        server_config(&[CCM8], 6),
    );
    p.drive();
    assert_eq!(connected(&p), Some(false));
    assert_eq!(server_resumed(&p), vec![false]);
    p.client.send(b"ok").unwrap();
    p.drive();
    assert_eq!(p.server_data(), vec![b"ok".to_vec()]);
}

#[test]
fn cookie_skip_knob_saves_a_round_trip_only_when_enabled() {
    for (skip, want) in [(false, (3, 2)), (true, (2, 1))] {
        let mut sc = server_config(&[CCM8], 2);
        sc.resume_without_cookie = skip;
        let (mut p, s) = first(client_config(&[CCM8], 1), sc);
        let got = again(&mut p, client_config(&[CCM8], 3), Some(s));
        assert_eq!(connected(&p), Some(true), "skip={skip}");
        assert_eq!(got, want, "skip={skip}: datagrams c2s, s2c");
        assert_eq!(p.client.stats().round_trips, if skip { 1 } else { 2 });
    }
}

struct ShortLivedKey;
impl ServerPskStore for ShortLivedKey {
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec> {
        if req.identity == b"client1" {
            PskAnswer::Ready(SecretVec::new(PSK.to_vec()))
        } else {
            PskAnswer::Unknown
        }
    }
    fn key_lifetime(&self, _req: &PskRequest) -> Option<Duration> {
        Some(Duration::from_secs(10))
    }
}

#[test]
fn sessions_and_tickets_never_outlive_the_psk() {
    for tickets in [false, true] {
        let mut c = client_config(&[CCM8], 1);
        c.session_tickets = tickets;
        let mut sc = server_config(&[CCM8], 2);
        sc.psk = Arc::new(ShortLivedKey);
        if tickets {
            sc.session_cache = 0;
        }
        let (mut p, s) = first(c.clone(), sc);
        if tickets {
            assert!(s.ticket_lifetime <= 10, "hint {}", s.ticket_lifetime);
        }
        p.now += Duration::from_secs(5);
        again(&mut p, c.clone(), Some(s.clone()));
        assert_eq!(
            connected(&p),
            Some(true),
            "tickets={tickets}: within the key's life"
        );
        p.now += Duration::from_secs(6);
        let s2 = p.client.session().unwrap().clone();
        again(&mut p, c.clone(), Some(s2));
        assert_eq!(
            connected(&p),
            Some(false),
            "tickets={tickets}: the key expired, so did the session"
        );
    }
}

#[test]
fn ticket_keys_rotate_with_one_period_of_overlap() {
    let mut c = client_config(&[CCM8], 1);
    c.session_tickets = true;
    let mut sc = server_config(&[CCM8], 2);
    sc.session_cache = 0;
    sc.ticket_rotation = Duration::from_secs(100);
    sc.session_lifetime = Duration::from_secs(10_000);
    let (mut p, s) = first(c.clone(), sc);
    p.now += Duration::from_secs(150);
    // one rotation later the old key still opens the ticket
    again(&mut p, c.clone(), Some(s.clone()));
    assert_eq!(connected(&p), Some(true));
    // two periods after the key was made it is gone
    p.now += Duration::from_secs(100);
    again(&mut p, c, Some(s));
    assert_eq!(connected(&p), Some(false));
}

#[test]
fn losing_the_clients_last_flight_is_repaired_by_retransmission() {
    let (mut p, s) = first(client_config(&[CCM8], 1), server_config(&[CCM8], 2));
    let base = p.c2s.sent;
    // c2s in the resumption: CH (base), CH+cookie (base+1), CCS+Finished (base+2): lost
    p.c2s.lost = vec![base + 2];
    again(&mut p, client_config(&[CCM8], 3), Some(s));
    assert_eq!(connected(&p), Some(true));
    assert_eq!(server_resumed(&p), vec![true]);
    assert!(
        p.client.stats().retransmissions >= 1,
        "the client resent its flight"
    );
    p.client.send(b"after loss").unwrap();
    p.drive();
    assert_eq!(p.server_data(), vec![b"after loss".to_vec()]);
}

#[test]
fn resumption_with_a_connection_id_and_with_ecdhe_suites() {
    for suite in [CCM8, CipherSuite::EcdhePskAes128GcmSha256] {
        let mut c = client_config(&[suite], 1);
        c.connection_id = Some(2);
        c.session_tickets = true;
        let (mut p, s) = first(c.clone(), server_config(&[suite], 2));
        again(&mut p, c, Some(s));
        assert_eq!(connected(&p), Some(true), "{suite}");
        assert_eq!(p.client.peer_connection_id().len(), 4);
        p.client.send(b"cid").unwrap();
        let mut first_byte = 0;
        p.c2s_with(|d| {
            first_byte = d[0];
            vec![d]
        });
        assert_eq!(first_byte, 25, "tls12_cid after resumption");
        assert_eq!(p.server_data(), vec![b"cid".to_vec()]);
    }
}

#[test]
fn a_session_for_another_suite_or_sni_is_not_offered() {
    let (mut p, s) = first(
        client_config(&[CCM8], 1),
        server_config(&[CCM8, CipherSuite::PskAes128GcmSha256], 2),
    );
    let c = client_config(&[CipherSuite::PskAes128GcmSha256], 3);
    again(&mut p, c, Some(s.clone()));
    assert_eq!(connected(&p), Some(false));
    let mut c = client_config(&[CCM8], 4);
    c.server_name = Some("other.example".into());
    again(&mut p, c, Some(s));
    assert_eq!(connected(&p), Some(false));
}
