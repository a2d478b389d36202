use super::*;

#[test]
fn url_split_gives_realm_and_uri() {
    assert_eq!(
        split_url("http://bsf.example:8080/gba").ok(),
        Some(("bsf.example".into(), "/gba".into()))
    );
    assert_eq!(
        split_url("http://127.0.0.1:80").ok(),
        Some(("127.0.0.1".into(), "/".into()))
    );
    assert_eq!(
        split_url("https://[::1]:443/").ok(),
        Some(("::1".into(), "/".into()))
    );
    assert!(split_url("ftp://x/").is_err());
    assert!(split_url("http://user@x/").is_err());
    assert!(split_url("http:///").is_err());
}

/// A card with a scripted answer.
struct Fixed(fn() -> CardAka);

impl AkaCard for Fixed {
    fn impi(&self) -> String {
        "001010123456789@ims.mnc001.mcc001.3gppnetwork.org".into()
    }
    fn supports_gba_u(&self) -> bool {
        false
    }
    fn authenticate(&mut self, _: &[u8; 16], _: &[u8; 16]) -> Result<CardAka, GbaError> {
        Ok((self.0)())
    }
    fn gba_bootstrap(&mut self, _: &[u8; 16], _: &[u8; 16]) -> Result<CardAka, GbaError> {
        Ok((self.0)())
    }
    fn gba_naf_derive(&mut self, _: &[u8], _: &str) -> Result<Secret<32>, GbaError> {
        Err(GbaError::Card("no".into()))
    }
}

fn success() -> CardAka {
    CardAka::Success {
        res: SecretVec::from(&b"RES-8byt"[..]),
        ks: Some(Secret::new([7; 32])),
    }
}

/// A transport whose answers come from a closure over (request number, Authorization header).
struct Script<F: FnMut(u32, &Credentials) -> HttpResponse>(F, u32);

impl<F: FnMut(u32, &Credentials) -> HttpResponse> UbTransport for Script<F> {
    fn get(&mut self, _url: &str, headers: &[(String, String)]) -> Result<HttpResponse, GbaError> {
        self.1 += 1;
        let auth = headers
            .iter()
            .find(|(n, _)| n == "Authorization")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let creds = Credentials::parse(auth)?;
        Ok((self.0)(self.1, &creds))
    }
}

fn resp(status: u16, headers: &[(&str, String)], body: &[u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect(),
        body: body.to_vec(),
    }
}

const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; // 32 zero bytes

fn challenge(extra: &str) -> HttpResponse {
    resp(
        401,
        &[(
            "www-authenticate",
            format!("Digest realm=\"bsf\", nonce=\"{NONCE}\", {extra}"),
        )],
        b"",
    )
}

fn ok_with(creds: &Credentials, lifetime: &str, rspauth_password: &[u8]) -> HttpResponse {
    let body = BootstrappingInfo {
        btid: "b@bsf".into(),
        lifetime: lifetime.into(),
    }
    .to_xml()
    .into_bytes();
    let input = DigestInput::from(creds);
    let rspauth = digest::rspauth(&input, rspauth_password, &body);
    resp(
        200,
        &[(
            "authentication-info",
            format!("qop=auth-int, rspauth=\"{rspauth}\""),
        )],
        &body,
    )
}

fn run<F: FnMut(u32, &Credentials) -> HttpResponse>(
    card: fn() -> CardAka,
    f: F,
) -> Result<UbOutcome, GbaError> {
    let now = time::parse_utc("2026-01-01T00:00:00Z").expect("time");
    bootstrap(
        &mut Fixed(card),
        &mut Script(f, 0),
        &UbConfig::new("http://bsf/"),
        now,
    )
}

#[test]
fn happy_path_and_digest_fields() {
    let out = run(success, |n, c| match n {
        1 => {
            assert!(c.nonce.is_empty() && c.response.is_empty());
            challenge("algorithm=AKAv1-MD5, qop=\"auth-int\"")
        }
        _ => {
            assert_eq!(c.qop.as_deref(), Some("auth-int"));
            assert_eq!(c.nc.as_deref(), Some("00000001"));
            ok_with(c, "2026-01-02T00:00:00Z", b"RES-8byt")
        }
    })
    .expect("bootstrap");
    assert_eq!((out.round_trips, out.context.btid.as_str()), (2, "b@bsf"));
    assert_eq!(out.context.ks.as_ref().map(|k| *k.expose()), Some([7; 32]));
}

#[test]
fn protocol_violations_are_errors() {
    let bad_challenges = [
        resp(401, &[], b""),
        challenge("algorithm=MD5, qop=\"auth-int\""),
        challenge("algorithm=AKAv1-MD5, qop=\"auth\""),
        resp(
            401,
            &[(
                "www-authenticate",
                "Digest realm=\"bsf\", nonce=\"AAAA\", algorithm=AKAv1-MD5, qop=\"auth-int\""
                    .into(),
            )],
            b"",
        ),
        resp(
            401,
            &[(
                "www-authenticate",
                "Digest realm=\"bsf\", nonce=\"!!\", algorithm=AKAv1-MD5, qop=\"auth-int\"".into(),
            )],
            b"",
        ),
    ];
    for ch in bad_challenges {
        let err = run(success, |_, _| ch.clone()).expect_err("bad challenge");
        assert!(
            matches!(err, GbaError::Protocol(_) | GbaError::BadHeader(_)),
            "{err:?}"
        );
    }
    let err = run(success, |_, _| resp(403, &[], b"unknown IMPI")).expect_err("403");
    assert!(
        matches!(err, GbaError::Refused { status: 403, .. }),
        "{err:?}"
    );
}

#[test]
fn bsf_must_prove_it_knows_res() {
    let good = "algorithm=AKAv1-MD5, qop=\"auth-int\"";
    let err = run(success, |n, c| {
        if n == 1 {
            challenge(good)
        } else {
            ok_with(c, "2026-01-02T00:00:00Z", b"other")
        }
    })
    .expect_err("wrong rspauth");
    assert!(matches!(err, GbaError::BsfNotAuthenticated(_)), "{err:?}");
    // rspauth present but not ours, in the qop=auth form label too.
    let err = run(success, |n, c| {
        if n == 1 {
            challenge(good)
        } else {
            let mut r = ok_with(c, "2026-01-02T00:00:00Z", b"other");
            r.headers[0].1 = r.headers[0].1.replace("auth-int", "auth");
            r
        }
    })
    .expect_err("wrong rspauth, qop=auth");
    assert!(matches!(err, GbaError::BsfNotAuthenticated(_)), "{err:?}");
    // Authentication-Info without rspauth is not the same as no header.
    let err = run(success, |n, c| {
        if n == 1 {
            challenge(good)
        } else {
            let mut r = ok_with(c, "2026-01-02T00:00:00Z", b"RES-8byt");
            r.headers[0].1 = "qop=auth-int".into();
            r
        }
    })
    .expect_err("no rspauth");
    assert!(matches!(err, GbaError::BsfNotAuthenticated(_)), "{err:?}");
    let err = run(success, |n, c| {
        if n == 1 {
            challenge(good)
        } else {
            ok_with(c, "2025-12-31T23:00:00Z", b"RES-8byt")
        }
    })
    .expect_err("expired lifetime");
    assert!(matches!(err, GbaError::AlreadyExpired(_)), "{err:?}");
}

#[test]
fn sync_failures_are_bounded_and_mac_failure_sends_nothing() {
    let good = "algorithm=AKAv1-MD5, qop=\"auth-int\"";
    let mut auts_seen = 0;
    let err = run(
        || CardAka::SyncFailure { auts: [1; 14] },
        |_, c| {
            if c.auts.is_some() {
                auts_seen += 1;
                assert_eq!(c.auts.as_deref(), Some("AQEBAQEBAQEBAQEBAQE="));
            }
            challenge(good)
        },
    )
    .expect_err("endless resync");
    assert!(matches!(err, GbaError::TooManyResyncs(2)), "{err:?}");
    assert_eq!(auts_seen, 2);
    let mut sent = 0;
    let err = run(
        || CardAka::MacFailure,
        |_, _| {
            sent += 1;
            challenge(good)
        },
    )
    .expect_err("MAC failure");
    assert!(matches!(err, GbaError::NetworkAuthFailed));
    assert_eq!(sent, 1, "only the first GET went out");
}

#[test]
fn server_product_tokens_are_read_and_their_absence_tolerated() {
    let with = |v: &str| resp(401, &[("server", v.to_string())], b"");
    assert_eq!(
        server_tokens(&with("bsf/1.0 (lab; 3gpp-gba-uicc) 3gpp-gba-tmpi")),
        ["bsf/1.0", "3gpp-gba-tmpi"],
        "comments are not tokens"
    );
    assert_eq!(
        bsf_gba_u(&with("x/1 3gpp-gba-tmpi simbridge-gba-me")),
        Some(false)
    );
    assert_eq!(
        bsf_gba_u(&with("x/1 3GPP-GBA-TMPI 3gpp-gba-uicc")),
        Some(true)
    );
    // Another BSF's tokens say nothing about GBA_U: the card's capability stands.
    assert_eq!(bsf_gba_u(&with("opbsf/2 3gpp-gba-tmpi")), None);
    assert_eq!(bsf_gba_u(&with("tiny-http (Rust)")), None);
    assert_eq!(bsf_gba_u(&resp(401, &[], b"")), None);
    assert!(server_tokens(&resp(401, &[], b"")).is_empty());
}

#[test]
fn user_agent_carries_the_tmpi_token_on_every_request() {
    struct Ua(Vec<String>);
    impl UbTransport for Ua {
        fn get(&mut self, _: &str, headers: &[(String, String)]) -> Result<HttpResponse, GbaError> {
            let ua = headers
                .iter()
                .find(|(n, _)| n == "User-Agent")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            self.0.push(ua);
            let auth = headers
                .iter()
                .find(|(n, _)| n == "Authorization")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            let c = Credentials::parse(auth)?;
            // No Server header at all: the client must not care.
            Ok(if c.nonce.is_empty() {
                challenge("algorithm=AKAv1-MD5, qop=\"auth-int\"")
            } else {
                ok_with(&c, "2026-01-02T00:00:00Z", b"RES-8byt")
            })
        }
    }
    let mut t = Ua(Vec::new());
    let now = time::parse_utc("2026-01-01T00:00:00Z").expect("time");
    bootstrap(
        &mut Fixed(success),
        &mut t,
        &UbConfig::new("http://bsf/"),
        now,
    )
    .expect("ok");
    assert_eq!(t.0.len(), 2);
    for ua in &t.0 {
        let tokens: Vec<&str> = ua.split_whitespace().collect();
        assert!(tokens.contains(&TOKEN_TMPI), "{ua}");
        assert!(!tokens.contains(&TOKEN_UICC), "GBA_ME card: {ua}");
    }
}

/// The 200 OK's body for `lifetime` with no Authentication-Info at all.
fn ok_without_info(lifetime: &str) -> HttpResponse {
    let body = BootstrappingInfo {
        btid: "b@bsf".into(),
        lifetime: lifetime.into(),
    }
    .to_xml()
    .into_bytes();
    resp(200, &[], &body)
}

#[test]
fn missing_authentication_info_is_accepted() {
    let good = "algorithm=AKAv1-MD5, qop=\"auth-int\"";
    let out = run(success, |n, _| {
        if n == 1 {
            challenge(good)
        } else {
            ok_without_info("2026-01-02T00:00:00Z")
        }
    })
    .expect("accepted with a warning");
    assert_eq!(out.context.btid, "b@bsf");
}

#[test]
fn rspauth_in_the_qop_auth_form_verifies() {
    let good = "algorithm=AKAv1-MD5, qop=\"auth-int\"";
    for label in ["auth", "auth-int"] {
        let out = run(success, |n, c| {
            if n == 1 {
                return challenge(good);
            }
            let input = DigestInput {
                username: &c.username,
                realm: &c.realm,
                nonce: &c.nonce,
                nc: c.nc.as_deref().unwrap_or_default(),
                cnonce: c.cnonce.as_deref().unwrap_or_default(),
                uri: &c.uri,
            };
            let mut r = ok_without_info("2026-01-02T00:00:00Z");
            let rspauth = digest::rspauth_auth(&input, b"RES-8byt");
            r.headers.push((
                "authentication-info".into(),
                format!("qop={label}, rspauth=\"{rspauth}\""),
            ));
            r
        })
        .unwrap_or_else(|e| panic!("qop={label}: {e}"));
        assert_eq!(out.context.btid, "b@bsf");
    }
}

#[test]
fn lifetime_without_a_zone_is_read_as_utc() {
    let good = "algorithm=AKAv1-MD5, qop=\"auth-int\"";
    let out = run(success, |n, c| {
        if n == 1 {
            challenge(good)
        } else {
            ok_with(c, "2026-01-02T00:00:00", b"RES-8byt")
        }
    })
    .expect("zone-less lifetime");
    assert_eq!(
        out.context.expires,
        time::parse_utc("2026-01-02T00:00:00Z").expect("time")
    );
}

#[test]
fn auto_mode_follows_what_the_bsf_says() {
    use GbaMode::{Me, U};
    use GbaModeChoice::{Auto, Me as ForceMe};
    // The BSF says nothing: the card's capability stands.
    assert_eq!(follow_bsf(U, Auto, true, None), U);
    // GBA_ME subscription on a GBA_U card: GBA_ME.
    assert_eq!(follow_bsf(U, Auto, true, Some(false)), Me);
    // GBA_U subscription: GBA_U only where the card can.
    assert_eq!(follow_bsf(Me, Auto, true, Some(true)), U);
    assert_eq!(follow_bsf(Me, Auto, false, Some(true)), Me);
    // An explicit choice is kept (with a warning).
    assert_eq!(follow_bsf(Me, ForceMe, true, Some(true)), Me);
}
