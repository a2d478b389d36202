//! DTLS 1.3 handshake messages (`simbridge_dtls::v13`): the ClientHello, ServerHello /
//! HelloRetryRequest, key_share, supported_groups and ACK parsers on arbitrary bytes; the
//! server's `accept` (with and without a required cookie, tickets and RFC 9258 importers) and
//! the client's `handle` on arbitrary datagrams; the ImportedIdentity parser.
//!
//! Asserts: no panic; every message that parses re-encodes to a message that parses to the
//! same value; a HelloRetryRequest our server sends is one our client takes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge_dtls::rng::SeededRng;
use simbridge_dtls::secret::{Secret, SecretVec};
use simbridge_dtls::v13::ack;
use simbridge_dtls::v13::client::{Client13, ClientConfig13, ClientStep};
use simbridge_dtls::v13::cookie::CookieKey13;
use simbridge_dtls::v13::hello::ClientHello13;
use simbridge_dtls::v13::importer::ImportedIdentity;
use simbridge_dtls::v13::issuer::TicketIssuer;
use simbridge_dtls::v13::key_share::{self, GROUPS};
use simbridge_dtls::v13::server::{Accepted13, HelloContext, Server13};
use simbridge_dtls::v13::server_hello::ServerHello13;
use simbridge_dtls::v13::ticket::NewSessionTicket;

fuzz_target!(|data: &[u8]| {
    if let Ok(ch) = ClientHello13::parse(data) {
        assert_eq!(ClientHello13::parse(&ch.encode()).as_ref(), Ok(&ch));
    }
    if let Ok(sh) = ServerHello13::parse(data) {
        assert_eq!(ServerHello13::parse(&sh.encode()).as_ref(), Ok(&sh));
    }
    let _ = key_share::parse_client_shares(data);
    let _ = key_share::parse_groups(data);
    let _ = ack::parse(data);
    if let Ok(id) = ImportedIdentity::parse(data) {
        if let Ok(bytes) = id.encode() {
            assert_eq!(ImportedIdentity::parse(&bytes).as_ref(), Ok(&id));
        }
    }
    if let Ok(nst) = NewSessionTicket::parse(data) {
        assert_eq!(NewSessionTicket::parse(&nst.encode()).as_ref(), Ok(&nst));
    }

    let Some((&sel, datagram)) = data.split_first() else {
        return;
    };
    let rng = SeededRng::new(u64::from(sel));
    let server = Server13 {
        suites: vec![0x1305, 0x1301],
        groups: GROUPS.to_vec(),
        psk_ke: sel & 1 != 0,
        require_cookie: sel & 2 != 0,
        cookie_key: CookieKey13::new(Secret::new([0x5c; 32])),
        // a ticket of another key, an imported identity: both paths look at the identities
        tickets: (sel & 32 != 0).then(|| TicketIssuer::new(Secret::new([0x7e; 16]), 3600)),
        importers: sel & 64 != 0,
    };
    let cx = HelloContext {
        peer: "192.0.2.1:5684".parse().expect("address"),
        now_secs: 1_000,
        rng: &rng,
        cid: (sel & 16 != 0).then_some(&[0x5e, 0x4b][..]),
    };
    let key = |_: &[u8]| Some(SecretVec::from(&[0x4b; 32][..]));
    let _ = server.accept(datagram, &cx, key);

    let groups = if sel & 4 != 0 { GROUPS.to_vec() } else { Vec::new() };
    let config = ClientConfig13 {
        identity: b"fuzz".to_vec(),
        key: SecretVec::from(&[0x4b; 32][..]),
        suites: vec![0x1305, 0x1301],
        psk_ke: groups.is_empty() || sel & 8 != 0,
        groups,
        cid: (sel & 32 != 0).then(|| vec![0xc1]),
        resume: None,
    };
    let Ok((wait, ch)) = Client13::start(&config, &rng) else {
        return;
    };
    // the client's real hello through the server: a HelloRetryRequest must be taken
    if let Ok(Accepted13::Retry(hrr)) = server.accept(&ch, &cx, key) {
        assert!(
            matches!(wait.handle(&hrr, &rng), Ok(ClientStep::Retry(..))),
            "our client refused our HelloRetryRequest"
        );
        return;
    }
    if let Ok(ClientStep::Wait(w)) = wait.handle(datagram, &rng) {
        let _ = w.handle(datagram);
    }
});
