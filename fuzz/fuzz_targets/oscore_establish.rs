//! The GBA OSCORE establishment payloads (`simbridge::gba::oscore`): the request and response
//! CBOR parsers on arbitrary bytes, and both sides' keying on a parsed pair.
//!
//! Asserts: no panic; a payload that parses re-encodes to the same bytes (the encoding is
//! canonical: definite lengths, shortest heads); when both sides accept a pair they derive the
//! same secret and salt with their sender and recipient IDs crossed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge::gba::oscore::{naf_keying, ue_keying, Choices, EstablishRequest, EstablishResponse};

fuzz_target!(|data: &[u8]| {
    let c = Choices::default();
    // the first byte splits the input into a request and a response
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut).min(rest.len());
    let (req, resp) = rest.split_at(at);
    for p in [req, resp, rest] {
        if let Ok(r) = EstablishRequest::parse(p, &c) {
            if canonical(p) {
                assert_eq!(r.encode(), p, "a request re-encodes as parsed");
            }
        }
        if let Ok(r) = EstablishResponse::parse(p, &c) {
            if canonical(p) {
                assert_eq!(r.encode(), p, "a response re-encodes as parsed");
            }
        }
    }
    let ks = [0x5c; 32];
    if let (Ok(u), Ok(n)) = (ue_keying(&ks, req, resp, &c), naf_keying(&ks, req, resp, &c)) {
        assert_eq!(u.master_secret.expose(), n.master_secret.expose());
        assert_eq!(u.master_salt, n.master_salt);
        assert_eq!((u.sender_id, u.recipient_id), (n.recipient_id, n.sender_id));
    }
});

/// Whether every CBOR head in `p` uses the shortest form (the parser accepts longer ones too).
fn canonical(p: &[u8]) -> bool {
    let mut i = 0;
    while i < p.len() {
        let (major, info) = (p[i] >> 5, p[i] & 0x1f);
        let (len, head) = match info {
            0..=23 => (usize::from(info), 1),
            24 => match p.get(i + 1) {
                Some(&b) if b >= 24 => (usize::from(b), 2),
                _ => return false,
            },
            25 => match p.get(i + 1..i + 3) {
                Some(b) if u16::from_be_bytes([b[0], b[1]]) > 0xff => {
                    (usize::from(u16::from_be_bytes([b[0], b[1]])), 3)
                }
                _ => return false,
            },
            _ => return false,
        };
        i += head + if major == 4 { 0 } else { len };
    }
    true
}
