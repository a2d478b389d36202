//! The establishment payloads and the keying both sides derive.

use super::*;
use simbridge_dtls::v13::key_schedule::{hkdf_expand, hkdf_extract};

fn request() -> EstablishRequest {
    EstablishRequest {
        ua_id: OSCORE_UA_ID,
        btid: "AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org".into(),
        n1: vec![1, 2, 3, 4, 5, 6, 7, 8],
        naf_sender_id: vec![0x00],
        input: None,
    }
}

fn response() -> EstablishResponse {
    EstablishResponse {
        n2: vec![9, 10, 11, 12, 13, 14, 15, 16],
        ue_sender_id: vec![0x2a],
    }
}

const KS_NAF: [u8; 32] = [0x5c; 32];

#[test]
fn both_sides_derive_one_context_with_the_ids_crossed() {
    let c = Choices::default();
    let (req, resp) = (request().encode(), response().encode());
    let ue = ue_keying(&KS_NAF, &req, &resp, &c).expect("UE");
    let naf = naf_keying(&KS_NAF, &req, &resp, &c).expect("NAF");
    assert_eq!(ue.master_secret.expose(), naf.master_secret.expose());
    assert_eq!(ue.master_salt, [req.clone(), resp.clone()].concat());
    assert_eq!(ue.master_salt, naf.master_salt);
    assert_eq!(
        (ue.sender_id.clone(), ue.recipient_id.clone()),
        (vec![0x2a], vec![0x00])
    );
    assert_eq!(
        (naf.sender_id, naf.recipient_id),
        (ue.recipient_id.clone(), ue.sender_id.clone())
    );
    // another Ks_NAF, another secret
    let other = ue_keying(&[0x5d; 32], &req, &resp, &c).expect("UE");
    assert_ne!(other.master_secret.expose(), ue.master_secret.expose());
    // the secret never shows in Debug
    let dbg = format!("{ue:?}");
    assert!(
        !dbg.contains(&hex::encode(ue.master_secret.expose())),
        "{dbg}"
    );
}

#[test]
fn the_master_secret_is_hkdf_as_an_independent_implementation_computes_it() {
    let c = Choices::default();
    let prk = hkdf_extract(&[], &KS_NAF);
    let mut okm = [0u8; 16];
    hkdf_expand(prk.expose(), b"GBA-OSCORE", &mut okm).expect("16 bytes");
    assert_eq!(master_secret(&KS_NAF, &c).expose(), okm);
}

#[test]
fn payloads_are_the_cbor_arrays_docs_oscore_md_shows() {
    let r = EstablishRequest {
        btid: "b@x".into(),
        n1: vec![0xaa; 8],
        ..request()
    };
    assert_eq!(
        hex::encode(r.encode()),
        // array(4), bstr(5) ff00000501, tstr(3) "b@x", bstr(8) aa.., bstr(1) 00
        "8445ff000005016362407848aaaaaaaaaaaaaaaa4100"
    );
    assert_eq!(hex::encode(response().encode()), "8248090a0b0c0d0e0f10412a");
    let c = Choices::default();
    for r in [
        request(),
        EstablishRequest {
            input: Some(vec![7; 3]),
            ..request()
        },
    ] {
        assert_eq!(EstablishRequest::parse(&r.encode(), &c), Ok(r));
    }
    assert_eq!(
        EstablishResponse::parse(&response().encode(), &c),
        Ok(response())
    );
}

#[test]
fn bad_payloads_name_what_is_wrong() {
    let c = Choices::default();
    let req = request().encode();
    let err = |p: &[u8]| EstablishRequest::parse(p, &c).unwrap_err().to_string();
    assert_eq!(err(&[]), "OSCORE establishment request: truncated");
    assert_eq!(
        err(&[0xa0]),
        "OSCORE establishment request: not a CBOR array"
    );
    assert_eq!(
        err(&[0x9f]),
        "OSCORE establishment request: length form not accepted"
    );
    assert_eq!(
        err(&[0x83]),
        "OSCORE establishment request: not an array of 4 or 5 items"
    );
    let mut trailing = req.clone();
    trailing.push(0);
    assert_eq!(
        err(&trailing),
        "OSCORE establishment request: trailing bytes"
    );
    let dtls = EstablishRequest {
        ua_id: UaId::TLS13,
        ..request()
    };
    assert_eq!(
        err(&dtls.encode()),
        "OSCORE establishment: security protocol id 0100000007 is not OSCORE's ff00000501"
    );
    let short_n1 = EstablishRequest {
        n1: vec![1; 4],
        ..request()
    };
    assert_eq!(
        err(&short_n1.encode()),
        "OSCORE establishment N1: wrong length"
    );
    let long_id = EstablishRequest {
        naf_sender_id: vec![1; 8],
        ..request()
    };
    assert_eq!(
        err(&long_id.encode()),
        "OSCORE establishment NAF sender ID: too long"
    );
    let same = EstablishResponse {
        ue_sender_id: vec![0x00],
        ..response()
    };
    assert!(
        naf_keying(&KS_NAF, &req, &same.encode(), &c)
            .unwrap_err()
            .to_string()
            .contains("equal to the NAF's")
    );
    // every truncation and every bit flip: an error or a valid parse, never a panic
    for n in 0..req.len() {
        assert!(EstablishRequest::parse(&req[..n], &c).is_err(), "{n}");
    }
    for i in 0..req.len() {
        for bit in 0..8 {
            let mut b = req.clone();
            b[i] ^= 1 << bit;
            let _ = EstablishRequest::parse(&b, &c);
            let _ = EstablishResponse::parse(&b, &c);
        }
    }
}
