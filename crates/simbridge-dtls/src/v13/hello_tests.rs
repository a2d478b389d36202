//! The ClientHello: round trips, binders made and checked on the received bytes, and every
//! malformed offer refused with the field named.

use super::*;
use crate::v13::key_schedule::LabelPrefix;

const KS_NAF: [u8; 32] = [0x4b; 32];
const IDENTITY: &[u8] =
    b"3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";

fn hello(identities: &[&[u8]]) -> ClientHello13 {
    ClientHello13 {
        random: [7; 32],
        session_id: Vec::new(),
        cipher_suites: vec![0x1305, 0x1304, 0x1301],
        extensions: vec![
            (EXT_SUPPORTED_VERSIONS, vec![2, 0xfe, 0xfc]),
            (EXT_PSK_KEY_EXCHANGE_MODES, vec![1, 0]),
        ],
        psks: identities
            .iter()
            .map(|i| {
                (
                    PskIdentity {
                        identity: i.to_vec(),
                        obfuscated_ticket_age: 0,
                    },
                    Vec::new(),
                )
            })
            .collect(),
    }
}

fn early(key: &[u8]) -> EarlySecret {
    EarlySecret::new(LabelPrefix::Dtls13, Some(key))
}

#[test]
fn a_bound_client_hello_round_trips_and_its_binder_verifies_on_the_received_bytes() {
    let mut ch = hello(&[IDENTITY]);
    let e = early(&KS_NAF);
    ch.bind(&[], &[(&e, BinderKind::External)]);
    let body = ch.encode();
    let parsed = ClientHello13::parse(&body).expect("parses");
    assert_eq!(parsed, ch);
    assert!(parsed.offers_dtls13());
    assert!(verify_binder(
        &[],
        &body,
        &parsed,
        0,
        &e,
        BinderKind::External
    ));
    // another key, another kind of PSK, another index: no
    assert!(!verify_binder(
        &[],
        &body,
        &parsed,
        0,
        &early(&[0x4c; 32]),
        BinderKind::External
    ));
    assert!(!verify_binder(
        &[],
        &body,
        &parsed,
        0,
        &e,
        BinderKind::Resumption
    ));
    assert!(!verify_binder(
        &[],
        &body,
        &parsed,
        1,
        &e,
        BinderKind::External
    ));
    // any byte changed before the binders breaks the binder (or the parse)
    let binders_at = body.len() - (2 + 1 + 32);
    for i in 0..binders_at {
        let mut b = body.clone();
        b[i] ^= 0x20;
        if let Ok(p) = ClientHello13::parse(&b) {
            assert!(
                !verify_binder(&[], &b, &p, 0, &e, BinderKind::External),
                "byte {i}"
            );
        }
    }
}

#[test]
fn two_psks_get_one_binder_each() {
    let mut ch = hello(&[IDENTITY, b"second"]);
    let (a, b) = (early(&KS_NAF), early(&[1; 16]));
    ch.bind(
        &[],
        &[(&a, BinderKind::External), (&b, BinderKind::External)],
    );
    let body = ch.encode();
    let p = ClientHello13::parse(&body).expect("parses");
    assert!(verify_binder(&[], &body, &p, 0, &a, BinderKind::External));
    assert!(verify_binder(&[], &body, &p, 1, &b, BinderKind::External));
    assert!(!verify_binder(&[], &body, &p, 1, &a, BinderKind::External));
}

#[test]
fn a_psk_ke_client_hello_with_a_gba_identity_is_small() {
    let mut ch = hello(&[IDENTITY]);
    ch.cipher_suites = vec![0x1305];
    let e = early(&KS_NAF);
    ch.bind(&[], &[(&e, BinderKind::External)]);
    // 2 version + 32 random + 1 session id + 1 cookie + 4 one suite + 2 compression + 2
    // extensions length + 7 supported_versions + 6 psk modes + 4 psk header + 2 + 2 +
    // identity + 4 age + 2 + 1 + 32 binder
    let want = 2 + 32 + 1 + 1 + 4 + 2 + 2 + 7 + 6 + 4 + 2 + 2 + IDENTITY.len() + 4 + 2 + 1 + 32;
    assert_eq!(ch.encode().len(), want);
}

#[test]
fn malformed_offers_name_the_field() {
    let mut ch = hello(&[IDENTITY]);
    let e = early(&KS_NAF);
    ch.bind(&[], &[(&e, BinderKind::External)]);
    let body = ch.encode();
    // every truncation is an error, never a panic
    for n in 0..body.len() {
        assert!(ClientHello13::parse(&body[..n]).is_err(), "{n}");
    }
    let with = |f: &dyn Fn(&mut ClientHello13)| {
        let mut c = ch.clone();
        f(&mut c);
        ClientHello13::parse(&c.encode())
    };
    // an extension after pre_shared_key: build it by hand
    let mut after = body.clone();
    after.extend_from_slice(&[0, 10, 0, 0]);
    let ext_len_at = 2 + 32 + 1 + 1 + 2 + 6 + 2;
    let n = u16::from_be_bytes([after[ext_len_at], after[ext_len_at + 1]]) + 4;
    after[ext_len_at..ext_len_at + 2].copy_from_slice(&n.to_be_bytes());
    assert_eq!(
        ClientHello13::parse(&after),
        Err(WireError::Invalid(Field::PreSharedKeyNotLast))
    );
    assert_eq!(
        with(&|c| c
            .extensions
            .push((EXT_SUPPORTED_VERSIONS, vec![2, 0xfe, 0xfc]))),
        Err(WireError::Invalid(Field::DuplicateExtension))
    );
    assert_eq!(
        with(&|c| c.psks[0].1.truncate(16)),
        Err(WireError::Invalid(Field::PskBinders))
    );
    assert_eq!(
        with(&|c| c.psks[0].0.identity.clear()),
        Err(WireError::Invalid(Field::PskIdentity))
    );
    assert_eq!(
        with(&|c| c.cipher_suites.clear()),
        Err(WireError::Invalid(Field::CipherSuites))
    );
    let mut cookie = body.clone();
    cookie[2 + 32 + 1] = 1; // a legacy_cookie of one byte
    assert!(ClientHello13::parse(&cookie).is_err());
    let mut version = body.clone();
    version[1] = 0xfc;
    assert_eq!(
        ClientHello13::parse(&version),
        Err(WireError::Invalid(Field::ClientVersion))
    );
}
