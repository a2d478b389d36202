//! The GBA PSK identity parser (`parse_psk_identity`, TS 33.220 §4.5.2, TS 24.109 §5.3.3) that
//! a server runs on every ClientKeyExchange before any key lookup, both with and without bare
//! B-TIDs, and the log escaping applied to identities. Asserts: an accepted identity's B-TID has
//! the B-TID form and is a substring of the input, the canonical identity built from it parses
//! back to it (when it fits in 255 bytes), acceptance without bare B-TIDs implies acceptance with them, and the log text is
//! bounded and printable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge::gba::ids::{
    btid_from_psk_identity, escape_for_log, is_btid, parse_psk_identity, psk_identity, NafKeyKind,
    LOG_TEXT_MAX, MAX_PSK_IDENTITY,
};

fuzz_target!(|data: &[u8]| {
    let strict = parse_psk_identity(data, false);
    let lenient = parse_psk_identity(data, true);
    if let Ok(p) = &strict {
        assert_eq!(lenient.as_ref().ok(), Some(p));
    }
    if let Ok(p) = &lenient {
        assert!(is_btid(p.btid));
        let s = std::str::from_utf8(data).expect("accepted identities are UTF-8");
        assert!(s.ends_with(p.btid));
        let canon = psk_identity(p.btid);
        // A bare B-TID of up to 255 bytes is accepted; the prefix may take its canonical form
        // past MAX_PSK_IDENTITY (found by this target: the assertion, not the parser, was wrong).
        if p.kind == NafKeyKind::Me && canon.len() <= MAX_PSK_IDENTITY {
            let again = parse_psk_identity(canon.as_bytes(), false).expect("canonical parses");
            assert_eq!(again.btid, p.btid);
            assert_eq!(again.kind, NafKeyKind::Me);
        }
        assert_eq!(btid_from_psk_identity(s), p.btid);
    }
    let log = escape_for_log(data);
    // printable ASCII, no quote, and the ellipsis of a cut
    assert!(
        log.chars().all(|c| c == '…' || (' '..='~').contains(&c)),
        "{log}"
    );
    assert!(!log.contains('"'), "{log}");
    assert!(
        log.chars().count() <= LOG_TEXT_MAX + "…(65535 bytes)".len(),
        "{log}"
    );
});
