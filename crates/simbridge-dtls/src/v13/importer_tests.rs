//! RFC 9258 has no test vectors and none were found in a public implementation, so the
//! imported key is recomputed here from RFC 5869 / RFC 8446 §7.1 with independent code (the
//! `hmac` crate's HMAC-SHA256 directly, the HkdfLabel built by hand), and the encoding is
//! checked byte by byte against RFC 9258 §5.1.

use super::*;
use crate::v13::key_schedule::{BinderKind, EarlySecret};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const EXT_ID: &[u8] = b"3GPP-bootstrapping.tid@bsf";

fn hmac256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().into()
}

#[test]
fn encoding_follows_rfc9258_layout() {
    let id = ImportedIdentity::dtls13(b"abc".to_vec(), vec![0xaa, 0xbb]);
    assert_eq!(
        id.encode().unwrap(),
        [
            0, 3, b'a', b'b', b'c', 0, 2, 0xaa, 0xbb, 0xfe, 0xfc, 0x00, 0x01
        ]
    );
    assert_eq!(ImportedIdentity::parse(&id.encode().unwrap()).unwrap(), id);
    assert!(id.is_dtls13_sha256());
}

#[test]
fn parse_names_the_bad_field() {
    let cases: &[(&[u8], WireError)] = &[
        (&[], WireError::Truncated(Field::ImportedExternalIdentity)),
        (
            &[0, 0, 0, 0, 0xfe, 0xfc, 0, 1],
            WireError::Invalid(Field::ImportedExternalIdentity),
        ),
        (
            &[0, 1, b'a', 0, 5, 1],
            WireError::Truncated(Field::ImportedContext),
        ),
        (
            &[0, 1, b'a', 0, 0, 0xfe],
            WireError::Truncated(Field::ImportedTargetProtocol),
        ),
        (
            &[0, 1, b'a', 0, 0, 0xfe, 0xfc, 0],
            WireError::Truncated(Field::ImportedTargetKdf),
        ),
        (
            &[0, 1, b'a', 0, 0, 0xfe, 0xfc, 0, 1, 9],
            WireError::Trailing(Field::ImportedIdentity),
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(ImportedIdentity::parse(bytes), Err(*want), "{bytes:02x?}");
    }
    // a GBA identity as sent without importing does not parse as an imported one
    assert!(ImportedIdentity::parse(EXT_ID).is_err());
}

#[test]
fn encode_refuses_what_no_psk_identity_can_carry() {
    let empty = ImportedIdentity::dtls13(Vec::new(), Vec::new());
    assert_eq!(
        empty.encode(),
        Err(WireError::Invalid(Field::ImportedExternalIdentity))
    );
    let long = ImportedIdentity::dtls13(vec![1; 40_000], vec![2; 30_000]);
    assert_eq!(
        long.encode(),
        Err(WireError::Invalid(Field::ImportedIdentity))
    );
    let context = ImportedIdentity::dtls13(vec![1], vec![2; 70_000]);
    assert_eq!(
        context.encode(),
        Err(WireError::Invalid(Field::ImportedContext))
    );
}

#[test]
fn other_targets_are_not_ours() {
    let mut id = ImportedIdentity::dtls13(EXT_ID.to_vec(), Vec::new());
    id.target_protocol = 0x0304; // TLS 1.3
    assert!(!id.is_dtls13_sha256());
    let mut id = ImportedIdentity::dtls13(EXT_ID.to_vec(), Vec::new());
    id.target_kdf = 0x0002; // HKDF_SHA384
    assert!(!id.is_dtls13_sha256());
}

#[test]
fn imported_key_matches_an_independent_computation() {
    let epsk = [0x5a_u8; 32];
    let (identity, key) = import_for_dtls13(EXT_ID, b"", &SecretVec::new(epsk.to_vec())).unwrap();
    let mut want_id = vec![0, EXT_ID.len() as u8];
    want_id.extend_from_slice(EXT_ID);
    want_id.extend_from_slice(&[0, 0, 0xfe, 0xfc, 0, 1]);
    assert_eq!(identity, want_id);

    // epskx = HKDF-Extract(0^32, epsk)
    let epskx = hmac256(&[0; 32], &epsk);
    // HkdfLabel { uint16 32; "dtls13" + "derived psk"; SHA-256(ImportedIdentity) }
    let label = b"dtls13derived psk";
    let mut info = vec![0, 32, label.len() as u8];
    info.extend_from_slice(label);
    info.push(32);
    info.extend_from_slice(&Sha256::digest(&want_id));
    // one block of HKDF-Expand: T(1) = HMAC(PRK, info || 0x01)
    info.push(1);
    let want = hmac256(&epskx, &info);
    assert_eq!(key.expose(), want);
    assert_ne!(
        key.expose(),
        epsk,
        "the imported key is not the external key"
    );
}

#[test]
fn context_and_identity_change_the_key() {
    let k = SecretVec::new(vec![7; 32]);
    let (_, a) = import_for_dtls13(EXT_ID, b"", &k).unwrap();
    let (_, b) = import_for_dtls13(EXT_ID, b"naf.example", &k).unwrap();
    let (_, c) = import_for_dtls13(b"3GPP-bootstrapping.other@bsf", b"", &k).unwrap();
    assert_ne!(a.expose(), b.expose());
    assert_ne!(a.expose(), c.expose());
}

#[test]
fn imp_binder_key_is_not_the_ext_binder_key() {
    // RFC 9258 §5.2: Derive-Secret(early, "imp binder", "")
    let e = EarlySecret::new(LabelPrefix::Dtls13, Some(&[3; 32]));
    let imp = e.binder_key(BinderKind::Imported);
    assert_ne!(imp.expose(), e.binder_key(BinderKind::External).expose());
    assert_ne!(imp.expose(), e.binder_key(BinderKind::Resumption).expose());
    let mut info = vec![0, 32, 16];
    info.extend_from_slice(b"dtls13imp binder");
    info.push(32);
    info.extend_from_slice(&Sha256::digest(b""));
    info.push(1);
    assert_eq!(imp.expose(), &hmac256(e.secret().expose(), &info));
}
