//! White-box tests of the RFC 7627 policy: a client that does not offer extended master secret
//! is made here by taking the extension out of our own client's hello before it is sent (our
//! client always offers it, so no public knob exists for this).

use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::config::{ClientConfig, EmsPolicy, ServerConfig, StaticPsk};
use crate::rng::SeededRng;
use crate::secret::SecretVec;
use crate::wire::extensions::EXT_EXTENDED_MASTER_SECRET;
use crate::wire::hello::ClientHello;
use crate::wire::record::split_datagram;

fn configs(client: EmsPolicy, server: EmsPolicy) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let psk = Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(vec![7; 16]),
    });
    let mut c = ClientConfig::new(psk.clone());
    c.common.rng = Arc::new(SeededRng::new(1));
    c.extended_master_secret = client;
    c.session_tickets = true;
    let mut s = ServerConfig::new(psk);
    s.common.rng = Arc::new(SeededRng::new(2));
    s.extended_master_secret = server;
    (Arc::new(c), Arc::new(s))
}

/// A client whose (second) hello lacks the EMS extension, and the server answering it.
fn start_without_ems(client: EmsPolicy, server: EmsPolicy) -> (Connection, Connection, Instant) {
    let now = Instant::now();
    let (cc, sc) = configs(client, server);
    let mut c = Connection::client(cc, now).unwrap();
    while c.poll_transmit().is_some() {}
    c.resend_edited_hello(now, |ch| {
        ch.extensions
            .0
            .retain(|e| e.typ != EXT_EXTENDED_MASTER_SECRET);
    });
    let d = c.poll_transmit().unwrap();
    let (recs, _) = split_datagram(&d);
    let f = &parse_fragments(recs[0].fragment).unwrap()[0];
    let hello = ClientHello::parse(f.body).unwrap();
    assert!(!hello.extensions.extended_master_secret().unwrap());
    let accepted = AcceptedHello {
        hello,
        body: f.body.to_vec(),
        message_seq: f.message_seq,
        record_seq: recs[0].header.seq,
        datagram_len: d.len(),
    };
    let s = Connection::server(sc, now, &accepted);
    (c, s, now)
}

fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
    while let Some(d) = from.poll_transmit() {
        to.handle_datagram(now, &d);
    }
}

fn closed(c: &mut Connection) -> Option<CloseReason> {
    std::iter::from_fn(|| c.poll_event()).find_map(|e| match e {
        Event::Closed { reason } => Some(reason),
        _ => None,
    })
}

#[test]
fn required_refuses_a_client_without_ems() {
    let (_c, mut s, _) = start_without_ems(EmsPolicy::Required, EmsPolicy::Required);
    assert_eq!(
        closed(&mut s),
        Some(CloseReason::Error(Error::NoExtendedMasterSecret))
    );
    let alert = s.poll_transmit().unwrap();
    let (recs, _) = split_datagram(&alert);
    assert_eq!(recs[0].fragment, &[2, 40], "fatal handshake_failure");
}

#[test]
fn preferred_accepts_without_ems_and_never_makes_it_resumable() {
    let (mut c, mut s, now) = start_without_ems(EmsPolicy::Preferred, EmsPolicy::Preferred);
    for _ in 0..3 {
        pump(&mut s, &mut c, now);
        pump(&mut c, &mut s, now);
    }
    assert!(c.is_established() && s.is_established());
    // both sides know, and neither keeps anything resumable (RFC 7627 §5.3)
    assert!(!s.extended_master_secret() && !c.extended_master_secret());
    assert!(s.stats().without_extended_master_secret);
    assert!(s.resumable_session().is_none(), "no session-ID cache entry");
    let sess = c.session().unwrap();
    assert!(
        sess.session_id.is_empty() && sess.ticket.is_empty(),
        "the client kept nothing it could offer for resumption"
    );
    // the session works: the legacy master secret agrees on both sides
    c.send(b"ping").unwrap();
    pump(&mut c, &mut s, now);
    assert!(std::iter::from_fn(|| s.poll_event()).any(|e| e == Event::Data(b"ping".to_vec())));
}

#[test]
fn client_requiring_ems_refuses_a_server_without_it() {
    // the server accepts the hello without EMS (preferred) and so answers without it; a client
    // that requires EMS (the default) refuses that ServerHello
    let (mut c, mut s, now) = start_without_ems(EmsPolicy::Required, EmsPolicy::Preferred);
    pump(&mut s, &mut c, now);
    assert_eq!(
        closed(&mut c),
        Some(CloseReason::Error(Error::NoExtendedMasterSecret))
    );
}

#[test]
fn with_ems_offered_preferred_still_uses_it() {
    let now = Instant::now();
    let (cc, sc) = configs(EmsPolicy::Preferred, EmsPolicy::Preferred);
    let mut c = Connection::client(cc, now).unwrap();
    let d = c.poll_transmit().unwrap();
    let (recs, _) = split_datagram(&d);
    let f = &parse_fragments(recs[0].fragment).unwrap()[0];
    let hello = ClientHello::parse(f.body).unwrap();
    let accepted = AcceptedHello {
        hello,
        body: f.body.to_vec(),
        message_seq: 0,
        record_seq: recs[0].header.seq,
        datagram_len: d.len(),
    };
    let mut s = Connection::server(sc, now, &accepted);
    for _ in 0..3 {
        pump(&mut s, &mut c, now);
        pump(&mut c, &mut s, now);
    }
    assert!(c.is_established() && s.is_established());
    assert!(c.extended_master_secret() && s.extended_master_secret());
    assert!(s.resumable_session().is_some());
}
