//! RFC 9258 imported PSKs through the endpoint in memory (seeded RNG, one virtual instant).
//!
//! Our v13 client binds its external PSK with "ext binder" only (v13/client.rs), so the
//! imported offers here are ClientHellos built by hand with "imp binder" binders, through the
//! cookie exchange; the server's answer shows whether it took the imported PSK (a ServerHello
//! selecting it) or refused it (an alert). A plain client still completes its handshake with
//! importers on.

use std::sync::Arc;

use super::tests::{events, pump};
use super::*;
use crate::config::RetransmitConfig;
use crate::config::ServerPskStore;
use crate::rng::SeededRng;
use crate::v13::client::ClientConfig13;
use crate::v13::connection::Connection13;
use crate::v13::hello::{EXT_PSK_KEY_EXCHANGE_MODES, EXT_SUPPORTED_VERSIONS, PskIdentity};
use crate::v13::importer::{ImportedIdentity, import_for_dtls13, imported_key};
use crate::v13::key_schedule::{BinderKind, EarlySecret, LabelPrefix, transcript_hash};
use crate::v13::server_hello::{EXT_COOKIE, ServerHello13};
use crate::wire::codec::{put_u16, put_u24, put_vec16};

const KEY: [u8; 32] = [9; 32];
const EXT_ID: &[u8] = b"3GPP-bootstrapping.tid@bsf";
const OTHER_ID: &[u8] = b"3GPP-bootstrapping.other@bsf";

/// A key store that always answers later (a BSF lookup).
struct Later;

impl ServerPskStore for Later {
    fn lookup(&self, _req: &PskRequest) -> PskAnswer<SecretVec> {
        PskAnswer::Pending
    }
}

fn endpoint(importers: bool) -> Endpoint {
    let mut s = ServerConfig::new(Arc::new(Later));
    s.common.rng = Arc::new(SeededRng::new(2));
    s.common.suites = vec![CipherSuite::Tls13Aes128Ccm8Sha256];
    s.versions = crate::version::Versions::Dtls13;
    s.psk_importers = importers;
    Endpoint::new(Arc::new(s)).unwrap()
}

fn from() -> SocketAddr {
    "192.0.2.1:4000".parse().unwrap()
}

fn imported(context: &[u8], target_protocol: u16) -> Vec<u8> {
    let mut i = ImportedIdentity::dtls13(EXT_ID.to_vec(), context.to_vec());
    i.target_protocol = target_protocol;
    i.encode().unwrap()
}

/// One PSK a hand-built ClientHello offers: identity, the key its binder is made with, and
/// the binder kind.
struct Offer {
    identity: Vec<u8>,
    key: Vec<u8>,
    kind: BinderKind,
}

/// The imported offer of `EXT_ID` / `KEY` as RFC 9258 makes it: imported key, "imp binder".
fn imported_offer() -> Offer {
    let identity = imported(b"", 0xfefc);
    let key = imported_key(&KEY, &identity).expose().to_vec();
    Offer {
        identity,
        key,
        kind: BinderKind::Imported,
    }
}

/// A bound ClientHello body offering `offers` in psk_ke, with the HelloRetryRequest `cookie`
/// and binders over `prefix` (after a HelloRetryRequest) when given.
fn client_hello(offers: &[Offer], cookie: Option<&[u8]>, prefix: &[u8]) -> Vec<u8> {
    let mut extensions = vec![
        (EXT_SUPPORTED_VERSIONS, vec![2, 0xfe, 0xfc]),
        (EXT_PSK_KEY_EXCHANGE_MODES, vec![1, 0]),
    ];
    if let Some(c) = cookie {
        let mut d = Vec::new();
        put_vec16(&mut d, c);
        extensions.push((EXT_COOKIE, d));
    }
    let mut ch = ClientHello13 {
        random: [7; 32],
        session_id: Vec::new(),
        cipher_suites: vec![0x1305],
        extensions,
        psks: offers
            .iter()
            .map(|o| {
                (
                    PskIdentity {
                        identity: o.identity.clone(),
                        obfuscated_ticket_age: 0,
                    },
                    Vec::new(),
                )
            })
            .collect(),
    };
    let earlies: Vec<EarlySecret> = offers
        .iter()
        .map(|o| EarlySecret::new(LabelPrefix::Dtls13, Some(&o.key)))
        .collect();
    let binders: Vec<(&EarlySecret, BinderKind)> = earlies
        .iter()
        .zip(offers)
        .map(|(e, o)| (e, o.kind))
        .collect();
    ch.bind(prefix, &binders);
    ch.encode()
}

/// `body` as a ClientHello in an epoch-0 record (RFC 9147 §4, §5.2).
fn record(body: &[u8], seq: u16) -> Vec<u8> {
    let mut m = vec![1];
    put_u24(&mut m, body.len() as u32);
    put_u16(&mut m, seq);
    put_u24(&mut m, 0);
    put_u24(&mut m, body.len() as u32);
    m.extend_from_slice(body);
    let mut r = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, seq as u8];
    put_vec16(&mut r, &m);
    r
}

fn tls_message(t: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![t];
    put_u24(&mut m, body.len() as u32);
    m.extend_from_slice(body);
    m
}

/// Sends the ClientHello offering `offers` through the cookie exchange; returns what the
/// endpoint asked for.
fn offer(ep: &mut Endpoint, now: Instant, offers: &[Offer]) -> Vec<(SocketAddr, Event)> {
    let ch1 = client_hello(offers, None, &[]);
    ep.handle_datagram(now, from(), &record(&ch1, 0));
    let hrr = ep.poll_transmit().expect("a HelloRetryRequest");
    let hrr_body = parse_plaintext(&hrr.payload).unwrap().body.to_vec();
    let retry = ServerHello13::parse(&hrr_body).unwrap();
    assert!(retry.is_retry());
    // RFC 8446 §4.4.1: message_hash(ClientHello1), then the HelloRetryRequest
    let mut prefix = tls_message(254, &transcript_hash(&tls_message(1, &ch1)));
    prefix.extend_from_slice(&tls_message(2, &hrr_body));
    let ch2 = client_hello(offers, retry.cookie.as_deref(), &prefix);
    ep.handle_datagram(now, from(), &record(&ch2, 1));
    events(ep)
}

fn asked(identity: &[u8]) -> Vec<(SocketAddr, Event)> {
    vec![(
        from(),
        Event::PskRequested {
            identity: identity.to_vec(),
            hint: None,
            sni: None,
            suite: CipherSuite::Tls13Aes128Ccm8Sha256,
        },
    )]
}

/// The PSK the server's ServerHello selects, or the alert description it sent instead.
fn answer(ep: &mut Endpoint) -> Result<u16, u8> {
    let t = ep.poll_transmit().expect("an answer");
    match parse_plaintext(&t.payload) {
        Ok(p) => {
            let sh = ServerHello13::parse(p.body).unwrap();
            assert!(!sh.is_retry());
            Ok(sh.selected_psk.expect("a selected PSK"))
        }
        // an alert record: type 21, description last
        Err(_) if t.payload[0] == 21 => Err(t.payload[14]),
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn importers_on_an_imported_identity_is_asked_by_its_external_identity_and_taken() {
    let mut ep = endpoint(true);
    let now = Instant::now();
    assert_eq!(offer(&mut ep, now, &[imported_offer()]), asked(EXT_ID));
    // the bridge's lookup gives the external key (Ks_NAF); the endpoint imports it
    ep.provide_psk(now, from(), Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    assert_eq!(answer(&mut ep), Ok(0));
    let info = ep.peer_info(&from()).unwrap();
    assert_eq!(
        info.identity, EXT_ID,
        "the session keeps the external identity"
    );
}

#[test]
fn importers_on_an_imported_identity_with_an_ext_binder_is_refused() {
    // RFC 9258 §5.2: a client that imports must bind with "imp binder"; "ext binder" over
    // the imported key is a wrong binder
    let mut ep = endpoint(true);
    let now = Instant::now();
    let o = Offer {
        kind: BinderKind::External,
        ..imported_offer()
    };
    assert_eq!(offer(&mut ep, now, &[o]), asked(EXT_ID));
    ep.provide_psk(now, from(), Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    assert_eq!(answer(&mut ep), Err(51), "decrypt_error");
    assert!(matches!(&events(&mut ep)[..], [(_, Event::Closed { .. })]));
}

#[test]
fn importers_on_an_imported_and_a_plain_identity_offered_together_either_is_taken() {
    let plain = |id: &[u8]| Offer {
        identity: id.to_vec(),
        key: KEY.to_vec(),
        kind: BinderKind::External,
    };
    // imported first: asked by its external identity, selected
    let mut ep = endpoint(true);
    let now = Instant::now();
    assert_eq!(
        offer(&mut ep, now, &[imported_offer(), plain(OTHER_ID)]),
        asked(EXT_ID)
    );
    ep.provide_psk(now, from(), Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    assert_eq!(answer(&mut ep), Ok(0));
    // plain first: looked up as it is, not imported, selected
    let mut ep = endpoint(true);
    assert_eq!(
        offer(&mut ep, now, &[plain(OTHER_ID), imported_offer()]),
        asked(OTHER_ID)
    );
    ep.provide_psk(now, from(), Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    assert_eq!(answer(&mut ep), Ok(0));
}

/// Our DTLS 1.3 client with `cfg`, its ClientHello queued.
fn our_client(cfg: &ClientConfig13, now: Instant) -> Connection13 {
    let rng = Arc::new(SeededRng::new(1));
    Connection13::client(cfg, RetransmitConfig::default(), rng, now).unwrap()
}

#[test]
fn importers_on_a_plain_client_still_completes_its_handshake() {
    let mut ep = endpoint(true);
    let now = Instant::now();
    let cfg = ClientConfig13::psk_ke(EXT_ID.to_vec(), SecretVec::new(KEY.to_vec()), vec![0x1305]);
    let mut c = our_client(&cfg, now);
    let pump = |c: &mut Connection13, ep: &mut Endpoint| pump(c, ep, now, from());
    pump(&mut c, &mut ep);
    assert_eq!(events(&mut ep), asked(EXT_ID));
    ep.provide_psk(now, from(), Some(SecretVec::new(KEY.to_vec())))
        .unwrap();
    pump(&mut c, &mut ep);
    assert!(c.is_established());
    assert!(matches!(
        &events(&mut ep)[..],
        [(_, Event::Connected { identity, .. })] if identity == EXT_ID
    ));
}

#[test]
fn importers_off_an_imported_identity_is_asked_as_it_is_and_unknown_fails_cleanly() {
    let mut ep = endpoint(false);
    let now = Instant::now();
    let o = imported_offer();
    let wire_identity = o.identity.clone();
    // the key store sees bytes it never issued: it does not know them
    assert_eq!(offer(&mut ep, now, &[o]), asked(&wire_identity));
    ep.refuse_psk(now, from(), PskRefusal::UnknownIdentity)
        .unwrap();
    assert_eq!(answer(&mut ep), Err(51), "decrypt_error");
    let ev = events(&mut ep);
    assert!(
        matches!(
            &ev[..],
            [(
                _,
                Event::Closed {
                    reason: CloseReason::Error(Error::UnknownPskIdentity)
                }
            )]
        ),
        "{ev:?}"
    );
    assert_eq!(ep.connection_count(), 0);
}

#[test]
fn importers_on_only_dtls13_sha256_with_an_empty_context_is_imported() {
    let now = Instant::now();
    for identity in [imported(b"naf.example", 0xfefc), imported(b"", 0x0304)] {
        let mut ep = endpoint(true);
        let o = Offer {
            identity: identity.clone(),
            key: KEY.to_vec(),
            kind: BinderKind::External,
        };
        // not ours to import: asked as it is, like any identity
        assert_eq!(offer(&mut ep, now, &[o]), asked(&identity));
    }
}

#[test]
fn the_client_side_import_gives_what_the_server_imports() {
    let (identity, key) = import_for_dtls13(EXT_ID, b"", &SecretVec::new(KEY.to_vec())).unwrap();
    let o = imported_offer();
    assert_eq!(identity, o.identity);
    assert_eq!(key.expose(), o.key.as_slice());
}

#[test]
fn our_client_with_an_imported_identity_completes_with_importers_on_and_fails_with_them_off() {
    let now = Instant::now();
    for importers in [true, false] {
        let mut ep = endpoint(importers);
        let (identity, key) =
            import_for_dtls13(EXT_ID, b"", &SecretVec::new(KEY.to_vec())).unwrap();
        let cfg = ClientConfig13::psk_ke(identity.clone(), key, vec![0x1305]);
        let mut c = our_client(&cfg, now);
        let pump = |c: &mut Connection13, ep: &mut Endpoint| pump(c, ep, now, from());
        pump(&mut c, &mut ep);
        if importers {
            assert_eq!(events(&mut ep), asked(EXT_ID));
            ep.provide_psk(now, from(), Some(SecretVec::new(KEY.to_vec())))
                .unwrap();
            pump(&mut c, &mut ep);
            assert!(c.is_established());
            assert!(matches!(
                &events(&mut ep)[..],
                [(_, Event::Connected { identity, .. })] if identity == EXT_ID
            ));
            c.send(b"up").unwrap();
            pump(&mut c, &mut ep);
            assert_eq!(events(&mut ep), vec![(from(), Event::Data(b"up".to_vec()))]);
        } else {
            assert_eq!(events(&mut ep), asked(&identity));
            ep.refuse_psk(now, from(), PskRefusal::UnknownIdentity)
                .unwrap();
            pump(&mut c, &mut ep);
            assert!(!c.is_established());
            assert_eq!(ep.connection_count(), 0);
        }
    }
}
