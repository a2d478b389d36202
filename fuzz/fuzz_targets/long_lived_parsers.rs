//! Parsers of the long-lived-session features on arbitrary bytes: tls12_cid records, session
//! files, NewSessionTicket, tickets, and state exports (decryption with a fixed key, and the
//! state plaintext behind it through `Connection::import_state` with a fresh ledger).
#![no_main]

use std::sync::Arc;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use simbridge::dtls::config::{ServerConfig, StaticPsk};
use simbridge::dtls::export::{self, ImportRole, MemoryLedger};
use simbridge::dtls::rng::SeededRng;
use simbridge::dtls::ticket::TicketKeys;
use simbridge::dtls::internal::wire::record::{peek_cid, split_datagram_cid};
use simbridge::dtls::internal::wire::ticket::NewSessionTicket;
use simbridge::dtls::{Connection, Session};
use simbridge::secret::SecretVec;

fuzz_target!(|data: &[u8]| {
    let cid_len = data.first().map_or(0, |b| usize::from(*b % 8));
    let _ = peek_cid(data, cid_len);
    let _ = split_datagram_cid(data, cid_len);
    let _ = Session::from_bytes(data);
    let _ = NewSessionTicket::parse(data);
    let rng = SeededRng::new(1);
    let now = Instant::now();
    if let Ok(keys) = TicketKeys::new(&rng, now, std::time::Duration::from_secs(60)) {
        let _ = keys.open(data, now);
    }
    let _ = export::open(b"key", data);
    let cfg = Arc::new(ServerConfig::new(Arc::new(StaticPsk {
        identity: b"id".to_vec(),
        key: SecretVec::new(vec![1; 16]),
    })));
    // a valid envelope around arbitrary state bytes reaches the state parser
    let blob = export::seal(b"key", &SecretVec::new(data.to_vec()), &rng);
    if let Ok(blob) = blob {
        let _ = Connection::import_state(
            &blob,
            b"key",
            ImportRole::Server(cfg),
            &mut MemoryLedger::default(),
        );
    }
});
