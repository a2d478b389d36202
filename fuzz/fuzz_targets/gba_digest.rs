//! The HTTP Digest parsers of Ub (RFC 2617, RFC 3310) on arbitrary text: WWW-Authenticate
//! (`Challenge`), Authorization (`Credentials`), Authentication-Info and the generic
//! `Digest k=v, …` splitter. Asserts the round trips the encoders promise: every parsed header,
//! rendered again with quoted values, parses to the same parameters; a parsed challenge or set of
//! credentials whose token fields are tokens renders to a header that parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge::gba::digest::{
    self, parse_authentication_info, parse_digest_header, Challenge, Credentials, MAX_HEADER,
};

/// RFC 7230 `token`: what the encoders write unquoted (qop, nc, algorithm).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn quoted(params: &[(String, String)]) -> String {
    let mut s = String::from("Digest ");
    for (i, (n, v)) in params.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!(
            "{n}=\"{}\"",
            v.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    s
}

fn check_params(params: &[(String, String)]) {
    for (n, _) in params {
        assert!(!n.is_empty());
        assert!(n
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
    }
    let again = quoted(params);
    if again.len() <= MAX_HEADER {
        let p2 = parse_digest_header(&again).expect("a rendered header parses");
        assert_eq!(params, &p2[..]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(h) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = parse_digest_header(h) {
        check_params(&p);
        for (n, _) in &p {
            assert!(digest::param(&p, n).is_some());
        }
    }
    if let Ok(p) = parse_authentication_info(h) {
        check_params(&p);
    }
    if let Ok(c) = Challenge::parse(h) {
        let tokens = is_token(&c.algorithm) && c.qop.iter().all(|q| is_token(q));
        let text = c.to_header();
        if tokens && text.len() <= MAX_HEADER {
            let c2 = Challenge::parse(&text).expect("a rendered challenge parses");
            assert_eq!(c, c2);
        }
    }
    if let Ok(c) = Credentials::parse(h) {
        let tokens = [&c.qop, &c.nc, &c.algorithm]
            .iter()
            .all(|f| f.as_deref().is_none_or(is_token));
        let text = c.to_header();
        if tokens && text.len() <= MAX_HEADER {
            let c2 = Credentials::parse(&text).expect("rendered credentials parse");
            assert_eq!(c, c2);
        }
    }
});
