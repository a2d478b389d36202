//! A strict peer that accepts exactly one handshake message per record, as many constrained
//! stacks do: our server and our client complete handshakes with it in every suite (full,
//! with a hint, with a ticket, and resumed), and the packed option is what it refuses.
//!
//! The strict peer is our own engine behind a filter written over our wire parsers: a
//! datagram holding a plaintext handshake record with more than one message is refused (the
//! datagram is dropped and counted), which is what such a stack does before answering with a
//! fatal alert. Protected handshake records (Finished) hold one message by construction of the
//! flight (it is the only epoch-1 message) and cannot be read here.

mod dtls_support;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use dtls_support::*;
use simbridge::dtls::internal::wire::handshake::parse_fragments;
use simbridge::dtls::internal::wire::record::{ContentType, split_datagram};
use simbridge::dtls::{CipherSuite, ClientConfig, Connection, Event, ServerConfig};

/// Handshake messages in each plaintext handshake record of `d`.
fn messages_per_record(d: &[u8]) -> Vec<usize> {
    let (recs, err) = split_datagram(d);
    assert!(err.is_none(), "our datagrams parse");
    recs.iter()
        .filter(|r| r.header.content_type == ContentType::Handshake && r.header.epoch == 0)
        .map(|r| parse_fragments(r.fragment).expect("fragments parse").len())
        .collect()
}

/// The strict peer's input filter: refuses datagrams with a packed handshake record.
fn strict(refused: Rc<Cell<usize>>, seen: Rc<Cell<usize>>) -> impl FnMut(Vec<u8>) -> Vec<Vec<u8>> {
    move |d| {
        let counts = messages_per_record(&d);
        seen.set(seen.get() + counts.len());
        if counts.iter().any(|&n| n != 1) {
            refused.set(refused.get() + 1);
            Vec::new()
        } else {
            vec![d]
        }
    }
}

struct Outcome {
    connected: bool,
    resumed: bool,
    /// Datagrams the strict side refused, and plaintext handshake records it checked.
    refused: usize,
    checked: usize,
}

/// Runs a handshake through the strict filter both ways (a strict server for our client,
/// a strict client for our server), firing timers on the virtual clock.
fn run(p: &mut Pair) -> Outcome {
    let refused = Rc::new(Cell::new(0));
    let seen = Rc::new(Cell::new(0));
    p.drive_with(strict(refused.clone(), seen.clone()));
    let resumed = p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::Connected { resumed: true, .. }));
    Outcome {
        connected: p.client_connected().is_some() && p.server_connected(),
        resumed,
        refused: refused.get(),
        checked: seen.get(),
    }
}

fn configs(suite: CipherSuite, pack: bool) -> (ClientConfig, ServerConfig) {
    let mut c = client_config(&[suite], 1);
    c.session_tickets = true;
    c.pack_handshake_records = pack;
    let mut s = server_config(&[suite], 2);
    s.identity_hint = Some(b"hint".to_vec());
    s.pack_handshake_records = pack;
    (c, s)
}

#[test]
fn strict_peer_completes_full_and_resumed_handshakes_with_us_in_every_suite() {
    for suite in CipherSuite::ALL {
        for tickets in [false, true] {
            let (mut c, s) = configs(suite, false);
            c.session_tickets = tickets;
            let mut p = Pair::new(c.clone(), s);
            let full = run(&mut p);
            assert!(
                full.connected,
                "{suite:?} tickets={tickets}: {:?} {:?}",
                p.client_closed(),
                p.server_closed()
            );
            assert_eq!(full.refused, 0, "{suite:?}");
            // hellos, HVR, SH, SKE, SHD, CKE, (NST): every plaintext record was checked
            assert!(full.checked >= 7, "{suite:?}: {}", full.checked);
            // resumption (abbreviated: SH [NST] CCS Finished from the server)
            let session = p.client.session().expect("session").clone();
            c.resume = Some(session);
            p.client = Connection::client(Arc::new(c), p.now).unwrap();
            p.client_events.clear();
            p.server_events.clear();
            let again = run(&mut p);
            assert!(again.connected && again.resumed, "{suite:?} resumed");
            assert_eq!(again.refused, 0, "{suite:?} resumed");
        }
    }
}

#[test]
fn the_packed_option_is_what_a_strict_peer_refuses() {
    for suite in CipherSuite::ALL {
        let (c, s) = configs(suite, true);
        let mut p = Pair::new(c, s);
        let o = run(&mut p);
        assert!(
            o.refused > 0,
            "{suite:?}: the packed server flight is refused"
        );
        assert!(!o.connected, "{suite:?}");
    }
    // and the same packed pair connects when nobody is strict
    let (c, s) = configs(CipherSuite::PskAes128Ccm8, true);
    let mut p = Pair::new(c, s);
    p.drive();
    assert!(p.client_connected().is_some() && p.server_connected());
}
