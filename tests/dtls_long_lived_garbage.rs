//! The long-lived-session parsers never panic on garbage (a seeded stand-in for the
//! `long_lived_parsers` fuzz target, so CI runs it): tls12_cid records, session files,
//! NewSessionTicket, tickets, state exports and state plaintexts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use simbridge::dtls::config::{ServerConfig, StaticPsk};
use simbridge::dtls::export::{self, ExportError, ImportRole, MemoryLedger};
use simbridge::dtls::internal::wire::record::{peek_cid, split_datagram_cid};
use simbridge::dtls::internal::wire::ticket::NewSessionTicket;
use simbridge::dtls::rng::{DtlsRng, SeededRng};
use simbridge::dtls::ticket::TicketKeys;
use simbridge::dtls::{Connection, Session};
use simbridge::secret::SecretVec;

#[test]
fn garbage_never_panics_and_is_refused() {
    let rng = SeededRng::new(42);
    let now = Instant::now();
    let keys = TicketKeys::new(&rng, now, Duration::from_secs(60)).unwrap();
    let cfg = Arc::new(ServerConfig::new(Arc::new(StaticPsk {
        identity: b"id".to_vec(),
        key: SecretVec::new(vec![1; 16]),
    })));
    let mut refused = 0;
    for i in 0..3000usize {
        let mut len = [0u8; 2];
        rng.fill(&mut len).unwrap();
        let mut data = vec![0u8; usize::from(u16::from_be_bytes(len)) % 400];
        rng.fill(&mut data).unwrap();
        if i % 3 == 0 && !data.is_empty() {
            data[0] = 25; // looks like tls12_cid
        }
        let _ = peek_cid(&data, i % 6);
        let _ = split_datagram_cid(&data, i % 6);
        assert!(Session::from_bytes(&data).is_err() || data.first() == Some(&1));
        let _ = NewSessionTicket::parse(&data);
        assert!(
            keys.open(&data, now).is_none(),
            "random bytes never open as a ticket"
        );
        assert!(export::open(b"k", &data).is_err());
        let blob = export::seal(b"k", &SecretVec::new(data.clone()), &rng).unwrap();
        let r = Connection::import_state(
            &blob,
            b"k",
            ImportRole::Server(cfg.clone()),
            &mut MemoryLedger::default(),
        );
        // a first byte of 2 or 3 names a DTLS 1.3 session's state: refused by name too
        if matches!(
            r,
            Err(ExportError::Format(_) | ExportError::WrongRole | ExportError::OtherProtocol(_))
        ) {
            refused += 1;
        }
    }
    assert_eq!(refused, 3000, "random state plaintexts are all refused");
}
