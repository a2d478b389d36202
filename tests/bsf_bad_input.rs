//! The BSF against bad and hostile input over real HTTP: each case gets the right status and
//! leaves no bootstrapping context behind; the server keeps serving afterwards.

mod gba_support;
mod support;

use gba_support::*;
use std::io::Write;
use std::time::Duration;

const OTHER_IMSI: &str = "001010000000002";
const OTHER_IMPI: &str = "001010000000002@ims.mnc001.mcc001.3gppnetwork.org";
const REALM: &str = "bsf.mnc001.mcc001.pub.3gppnetwork.org";

fn bsf_two_subscribers() -> TestBsf {
    TestBsf::start_with(K, "000000000000", |cfg| {
        let other = profile_text(K, "000000000000", false)
            .replace(IMSI, OTHER_IMSI)
            .replace("8988211000000000017", "8988211000000000025");
        std::fs::write(cfg.profiles.join("other.toml"), other).expect("second profile");
    })
}

fn assert_nothing_stored(bsf: &TestBsf) {
    assert_eq!(bsf.contexts(), 0, "no bootstrapping context");
    assert!(
        !bsf.state_dir().join("bsf-contexts.json").exists(),
        "no context file"
    );
}

fn card() -> MilenageCard {
    MilenageCard::new(K, 0, false)
}

#[test]
fn malformed_authorization_headers_are_400() {
    let bsf = TestBsf::start(K, "000000000000");
    let (status, _, _) = get(bsf.addr(), &[]);
    assert_eq!(status, 400, "missing Authorization");
    for bad in [
        "Basic dXNlcjpwYXNz",
        "Digest",
        "Digest username",
        "Digest username=\"unterminated",
        "Digest username=\"a\" realm=\"b\"",
        "Digest username=\"a\", username=\"b\", realm=\"r\", nonce=\"\", uri=\"/\", response=\"\"",
        "Digest realm=\"r\", nonce=\"\", uri=\"/\", response=\"\"",
        "Digest =x",
        "Digest username=a\"b, realm=r, nonce=, uri=/, response=",
    ] {
        let (status, head, _) = get(bsf.addr(), &[("Authorization", bad)]);
        assert_eq!(status, 400, "{bad}: {head}");
    }
    let long = format!(
        "Digest username=\"{}\", realm=\"r\", nonce=\"\", uri=\"/\", response=\"\"",
        "a".repeat(9000)
    );
    let (status, _, _) = get(bsf.addr(), &[("Authorization", &long)]);
    assert!(
        status == 400 || status == 431 || status == 413,
        "oversized header: {status}"
    );
    assert_nothing_stored(&bsf);
    assert_eq!(
        bsf.server.with_service(|s| s.pending_count()),
        0,
        "no challenge issued for malformed requests"
    );
}

#[test]
fn bad_base64_in_nonce_or_auts_is_400() {
    let bsf = TestBsf::start(K, "000000000000");
    let h = answer_header(IMPI, REALM, "!!!not-base64!!!", &[0; 8], None);
    let (status, _, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 400, "nonce");
    let (nonce, realm, _, _) = challenge(bsf.addr(), IMPI);
    for auts in ["***", "QUJD"] {
        let h = answer_header(IMPI, &realm, &nonce, b"", Some(auts.into()));
        let (status, _, body) = get(bsf.addr(), &[("Authorization", &h)]);
        assert_eq!(
            status,
            400,
            "auts {auts}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_nothing_stored(&bsf);
}

#[test]
fn wrong_response_is_403_and_burns_the_nonce() {
    let bsf = TestBsf::start(K, "000000000000");
    let (nonce, realm, rand, autn) = challenge(bsf.addr(), IMPI);
    let h = answer_header(IMPI, &realm, &nonce, b"wrongres", None);
    let (status, _, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 403);
    // The right answer on the same nonce is too late: single use.
    let res = res_of(&mut card(), &rand, &autn);
    let h = answer_header(IMPI, &realm, &nonce, &res, None);
    let (status, _, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 401);
    assert_nothing_stored(&bsf);
}

#[test]
fn stale_nonce_gets_a_fresh_challenge() {
    let bsf = TestBsf::start(K, "000000000000");
    let (nonce, realm, rand, autn) = challenge(bsf.addr(), IMPI);
    let res = res_of(&mut card(), &rand, &autn);
    bsf.clock.advance(Duration::from_secs(61));
    let h = answer_header(IMPI, &realm, &nonce, &res, None);
    let (status, head, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 401, "{head}");
    let ch = simbridge::gba::digest::Challenge::parse(
        &head_header(&head, "www-authenticate").expect("challenge"),
    )
    .expect("parse");
    assert!(ch.stale, "stale=TRUE");
    assert_ne!(ch.nonce, nonce);
    assert_nothing_stored(&bsf);
}

#[test]
fn foreign_nonce_is_refused_and_left_to_its_owner() {
    let bsf = bsf_two_subscribers();
    let (nonce, realm, rand, autn) = challenge(bsf.addr(), IMPI);
    let res = res_of(&mut card(), &rand, &autn);
    // The other subscriber presents IMPI's nonce with the right RES: refused with a new challenge.
    let h = answer_header(OTHER_IMPI, &realm, &nonce, &res, None);
    let (status, _, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 401);
    assert_nothing_stored(&bsf);
    // The owner can still use it.
    let h = answer_header(IMPI, &realm, &nonce, &res, None);
    let (status, head, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 200, "{head}");
    assert_eq!(bsf.contexts(), 1);
}

#[test]
fn replayed_response_is_refused() {
    let bsf = TestBsf::start(K, "000000000000");
    let (nonce, realm, rand, autn) = challenge(bsf.addr(), IMPI);
    let res = res_of(&mut card(), &rand, &autn);
    let h = answer_header(IMPI, &realm, &nonce, &res, None);
    let (status, head, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 200, "{head}");
    assert!(head_header(&head, "authentication-info").is_some_and(|i| i.contains("rspauth=")));
    let (status, head, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 401, "replay: {head}");
    assert_eq!(bsf.contexts(), 1, "the replay stored nothing");
}

#[test]
fn bad_auts_mac_is_403() {
    let bsf = TestBsf::start(K, "000000000000");
    let (nonce, realm, _, _) = challenge(bsf.addr(), IMPI);
    let auts = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0x42u8; 14]);
    let h = answer_header(IMPI, &realm, &nonce, b"", Some(auts));
    let (status, _, _) = get(bsf.addr(), &[("Authorization", &h)]);
    assert_eq!(status, 403);
    assert_nothing_stored(&bsf);
}

#[test]
fn wrong_realm_uri_or_qop_is_400() {
    let bsf = TestBsf::start(K, "000000000000");
    let (nonce, realm, rand, autn) = challenge(bsf.addr(), IMPI);
    let res = res_of(&mut card(), &rand, &autn);
    let good = answer_header(IMPI, &realm, &nonce, &res, None);
    for bad in [
        good.replace(REALM, "evil.example"),
        good.replace("uri=\"/\"", "uri=\"/other\""),
        good.replace("qop=auth-int", "qop=auth"),
        good.replace("nc=00000001", "nc=1"),
        good.replace("algorithm=AKAv1-MD5", "algorithm=MD5"),
    ] {
        let (status, _, _) = get(bsf.addr(), &[("Authorization", &bad)]);
        assert_eq!(status, 400, "{bad}");
    }
    // None of these consumed the nonce.
    let (status, _, _) = get(bsf.addr(), &[("Authorization", &good)]);
    assert_eq!(status, 200);
}

#[test]
fn key_api_refuses_bad_calls() {
    let bsf = TestBsf::start(K, "000000000000");
    let (nonce, realm, rand, autn) = challenge(bsf.addr(), IMPI);
    let res = res_of(&mut card(), &rand, &autn);
    let (status, _, body) = get(
        bsf.addr(),
        &[(
            "Authorization",
            &answer_header(IMPI, &realm, &nonce, &res, None),
        )],
    );
    assert_eq!(status, 200);
    let btid = simbridge::gba::xml::BootstrappingInfo::parse(&body)
        .expect("xml")
        .btid;
    let good = key_request(&btid, "naf.example.com", "010001c0a8");

    let (status, _) = key_api(bsf.addr(), None, &good);
    assert_eq!(status, 401, "missing token");
    let (status, _) = key_api(bsf.addr(), Some("wrong-token"), &good);
    assert_eq!(status, 401, "wrong token");
    let (status, _) = key_api(bsf.addr(), Some(&format!("{TOKEN}x")), &good);
    assert_eq!(status, 401, "token with a suffix");
    let (status, _) = key_api(bsf.addr(), Some(TOKEN), "{not json");
    assert_eq!(status, 400);
    let (status, _) = key_api(
        bsf.addr(),
        Some(TOKEN),
        &key_request(&btid, "naf.example.com", "01000"),
    );
    assert_eq!(status, 400, "short Ua id");
    let (status, _) = key_api(
        bsf.addr(),
        Some(TOKEN),
        &key_request(&btid, "", "010001c0a8"),
    );
    assert_eq!(status, 400, "empty FQDN");
    let (status, json) = key_api(
        bsf.addr(),
        Some(TOKEN),
        &key_request("bm90IGEgYnRpZA==@x", "naf.example.com", "010001c0a8"),
    );
    assert_eq!(
        (status, json["cause"].as_str()),
        (404, Some("BTID_NOT_FOUND"))
    );
    let (status, _, _) = raw_http(bsf.addr(), b"GET /nbsp-gba/v1/bootstrapping-info-retrieval HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 405);
    let (status, json) = key_api(bsf.addr(), Some(TOKEN), &good);
    assert_eq!(status, 200, "{json}");

    // Expired B-TID: past the 24 h lifetime.
    bsf.clock.advance(Duration::from_secs(86_401));
    let (status, json) = key_api(bsf.addr(), Some(TOKEN), &good);
    assert_eq!(
        (status, json["cause"].as_str()),
        (404, Some("BTID_EXPIRED"))
    );
}

#[test]
fn oversized_key_request_is_413() {
    let bsf = TestBsf::start(K, "000000000000");
    let big = format!("{{\"btId\": \"{}\"}}", "a".repeat(70_000));
    let (status, _) = key_api(bsf.addr(), Some(TOKEN), &big);
    assert_eq!(status, 413);
}

#[test]
fn garbage_does_not_take_the_server_down() {
    let bsf = TestBsf::start(K, "000000000000");
    for junk in [&b"\x00\xff\xfe garbage\r\n\r\n"[..], b"GET / HTTP/9.9\r\n\r\n", b"GET\r\n\r\n", b"POST /nbsp-gba/v1/bootstrapping-info-retrieval HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"] {
        let _ = raw_http_timeout(bsf.addr(), junk, Duration::from_millis(300));
    }
    // A client that connects, sends half a request and leaves.
    if let Ok(mut s) = std::net::TcpStream::connect(bsf.addr()) {
        let _ = s.write_all(b"GET / HTTP/1.1\r\nAuthorization: Digest user");
    }
    // A non-ASCII header: tiny_http drops the connection (0) or we answer 400.
    let auth = "Digest \u{00e9}=\"x\"";
    let (status, _, _) = get(bsf.addr(), &[("Authorization", auth)]);
    assert!(status == 0 || status == 400, "{status}");
    let (nonce, _, _, _) = challenge(bsf.addr(), IMPI);
    assert!(!nonce.is_empty(), "still serving");
    assert_nothing_stored(&bsf);
}
