//! End to end over real HTTP on loopback: the Ub client with main's software USIM (through the
//! `uicc` layer) against our BSF, then the key API. The client's Ks_NAF must equal the BSF's.

mod gba_support;
mod support;

use gba_support::*;
use simbridge::gba::{
    self, CacheUse, ContextCache, GbaError, GbaMode, NafId, ReusePolicy, UaId, UbConfig,
    UreqTransport,
};
use std::time::{Duration, SystemTime};

fn transport() -> Counting<UreqTransport> {
    Counting {
        inner: UreqTransport::new(Duration::from_secs(10)),
        requests: 0,
    }
}

/// `obtain_context` against the test BSF with the default reuse policy.
fn obtain(
    card: &mut dyn gba::AkaCard,
    t: &mut dyn gba::UbTransport,
    bsf: &TestBsf,
    cache: &ContextCache,
    now: SystemTime,
) -> Result<gba::Obtained, GbaError> {
    gba::obtain_context(
        card,
        t,
        &UbConfig::new(&bsf.url()),
        &CacheUse {
            cache,
            policy: ReusePolicy::default(),
            any_bsf: false,
        },
        now,
    )
}

#[test]
fn gba_me_bootstrap_key_equals_key_api() {
    let bsf = TestBsf::start(K, "000000000000");
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let state = tempfile::tempdir().expect("tempdir");
    let cache = ContextCache::new(state.path());
    let cfg = UbConfig::new(&bsf.url());
    let mut t = transport();
    let now = bsf.clock.now();
    let got = obtain(&mut card, &mut t, &bsf, &cache, now).expect("bootstrap");
    assert!(got.bootstrapped);
    assert_eq!(got.round_trips, 2, "GET + one answer");
    let ctx = &got.context;
    assert_eq!(ctx.mode, GbaMode::Me);
    assert_eq!(ctx.impi, IMPI);
    assert!(
        ctx.btid.ends_with("@bsf.mnc001.mcc001.pub.3gppnetwork.org"),
        "{}",
        ctx.btid
    );
    let lifetime = ctx.expires.duration_since(now).expect("future");
    assert!(
        lifetime > Duration::from_secs(86_399) && lifetime <= Duration::from_secs(86_400),
        "{lifetime:?}"
    );

    for (fqdn, ua) in [
        ("naf.example.com", UaId::tls12_suite(0xC0A8)),
        ("coap.example.org", UaId::TLS13),
    ] {
        let naf = NafId::new(fqdn, ua).expect("naf");
        let mine = ctx.naf_key(None, &naf).expect("Ks_NAF");
        let (status, json) = key_api(
            bsf.addr(),
            Some(TOKEN),
            &key_request(&ctx.btid, fqdn, &ua.to_hex()),
        );
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["meKeyMaterial"], hex::encode(mine.expose()));
        assert!(json.get("uiccKeyMaterial").is_none());
        assert_eq!(json["impi"], IMPI);
        assert_eq!(json["gbaType"], "3G_GBA");
        assert_eq!(json["keyExpiryTime"], gba::time::format_utc(ctx.expires));
    }

    // The cache holds it (0600) and gives it back without HTTP until expiry minus the margin.
    let path = cache.path_for(IMPI);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path)
                .expect("cache file")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let again = obtain(
        &mut card,
        &mut t,
        &bsf,
        &cache,
        now + Duration::from_secs(3600),
    )
    .expect("reuse");
    assert!(!again.bootstrapped);
    assert_eq!(again.context.btid, ctx.btid);
    assert_eq!(t.requests, 2, "reuse made no request");
    let near_expiry = ctx.expires - Duration::from_secs(60);
    let renewed = obtain(&mut card, &mut t, &bsf, &cache, near_expiry)
        .expect("re-bootstrap inside the margin");
    assert!(renewed.bootstrapped);
    assert_ne!(renewed.context.btid, ctx.btid);
    let forced = gba::obtain_context(
        &mut card,
        &mut t,
        &cfg,
        &CacheUse {
            cache: &cache,
            policy: ReusePolicy {
                force: true,
                ..Default::default()
            },
            any_bsf: false,
        },
        now,
    )
    .expect("forced");
    assert!(forced.bootstrapped);
    assert_eq!(
        cache.load(IMPI).expect("load").expect("stored").btid,
        forced.context.btid
    );
    // Each bootstrap superseded the IMPI's previous context at the BSF.
    assert_eq!(bsf.contexts(), 1);
}

#[test]
fn gba_u_bootstrap_card_key_equals_key_api() {
    let bsf = TestBsf::start(K, "000000000000");
    let mut card = soft_card(&profile_text(K, "000000000000", true));
    assert!(gba::AkaCard::supports_gba_u(&card));
    let state = tempfile::tempdir().expect("tempdir");
    let cache = ContextCache::new(state.path());
    let mut t = transport();
    let got = obtain(&mut card, &mut t, &bsf, &cache, bsf.clock.now()).expect("bootstrap");
    let ctx = got.context;
    assert_eq!(ctx.mode, GbaMode::U);
    assert!(ctx.ks.is_none(), "GBA_U: Ks stays in the card");
    let stored = std::fs::read_to_string(cache.path_for(IMPI)).expect("cache");
    assert!(
        !stored.contains("\"ks\""),
        "no Ks on disk in GBA_U: {stored}"
    );

    let naf = NafId::new("naf.example.com", UaId::tls12_suite(0xC0A8)).expect("naf");
    let ext = ctx
        .naf_key(Some(&mut card), &naf)
        .expect("Ks_ext_NAF from the card");
    let body = serde_json::json!({"btId": ctx.btid, "nafId": {"nafFqdn": "naf.example.com", "uaSecProtId": "010001c0a8"}, "gbaUAware": true});
    let (status, json) = key_api(bsf.addr(), Some(TOKEN), &body.to_string());
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["meKeyMaterial"], hex::encode(ext.expose()));
    let int = card
        .channel()
        .gba_int_key(&naf.to_bytes())
        .expect("card keeps Ks_int_NAF");
    assert_eq!(json["uiccKeyMaterial"], hex::encode(int.expose()));
    assert_ne!(json["uiccKeyMaterial"], json["meKeyMaterial"]);
}

#[test]
fn card_ahead_of_hss_resyncs_with_auts() {
    // The card has accepted SEQ 0x10000 already; the HSS starts from 0.
    let bsf = TestBsf::start(K, "000000000000");
    let mut card = soft_card(&profile_text(K, "000000200000", false));
    let state = tempfile::tempdir().expect("tempdir");
    let mut t = transport();
    let out = gba::bootstrap(
        &mut card,
        &mut t,
        &UbConfig::new(&bsf.url()),
        bsf.clock.now(),
    )
    .expect("bootstrap after resync");
    assert_eq!(out.resyncs, 1);
    assert_eq!(out.round_trips, 3, "GET, AUTS, answer");
    let naf = NafId::new("naf.example.com", UaId::TLS13).expect("naf");
    let (status, json) = key_api(
        bsf.addr(),
        Some(TOKEN),
        &key_request(&out.context.btid, "naf.example.com", "0100000007"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        json["meKeyMaterial"],
        hex::encode(out.context.naf_key(None, &naf).expect("key").expose())
    );
    // The HSS persisted its new SEQ: the next bootstrap needs no resync.
    let next = gba::bootstrap(
        &mut card,
        &mut t,
        &UbConfig::new(&bsf.url()),
        bsf.clock.now(),
    )
    .expect("second bootstrap");
    assert_eq!(next.resyncs, 0);
    drop(state);
}

#[test]
fn wrong_k_at_the_hss_is_a_mac_failure_and_nothing_is_cached() {
    let bsf = TestBsf::start("ffffffffffffffffffffffffffffffff", "000000000000");
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let state = tempfile::tempdir().expect("tempdir");
    let cache = ContextCache::new(state.path());
    let mut t = transport();
    let err = obtain(&mut card, &mut t, &bsf, &cache, bsf.clock.now()).expect_err("must fail");
    assert!(matches!(err, GbaError::NetworkAuthFailed), "{err:?}");
    assert!(
        err.to_string().contains("network authentication failed"),
        "{err}"
    );
    assert_eq!(t.requests, 1, "no answer is sent after a MAC failure");
    assert!(files_under(state.path()).is_empty(), "nothing cached");
    assert_eq!(bsf.contexts(), 0);
}

#[test]
fn forged_rspauth_is_refused_and_nothing_is_cached() {
    // A man in the middle that rewrites the B-TID in the 200 OK cannot fix rspauth.
    struct Tamper<T>(T);
    impl<T: gba::UbTransport> gba::UbTransport for Tamper<T> {
        fn get(
            &mut self,
            url: &str,
            h: &[(String, String)],
        ) -> Result<gba::HttpResponse, GbaError> {
            let mut r = self.0.get(url, h)?;
            if r.status == 200 {
                r.body = String::from_utf8_lossy(&r.body)
                    .replace("<btid>", "<btid>evil")
                    .into_bytes();
            }
            Ok(r)
        }
    }
    let bsf = TestBsf::start(K, "000000000000");
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let state = tempfile::tempdir().expect("tempdir");
    let cache = ContextCache::new(state.path());
    let mut t = Tamper(UreqTransport::default());
    let err = obtain(&mut card, &mut t, &bsf, &cache, bsf.clock.now()).expect_err("must fail");
    assert!(matches!(err, GbaError::BsfNotAuthenticated(_)), "{err:?}");
    assert!(files_under(state.path()).is_empty());
}

#[test]
fn key_api_client_fetches_what_the_device_derived() {
    use simbridge::gba::key_api::{KeyApiClient, KeyFetchError};
    use simbridge::secret::SecretVec;
    let bsf = TestBsf::start(K, "000000000000");
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let out = gba::bootstrap(
        &mut card,
        &mut UreqTransport::default(),
        &UbConfig::new(&bsf.url()),
        bsf.clock.now(),
    )
    .expect("bootstrap");
    let naf = NafId::new("naf.example.com", UaId::tls12_suite(0xC0A8)).expect("naf");
    let client = KeyApiClient::new(
        &bsf.url(),
        SecretVec::from(TOKEN.as_bytes()),
        Duration::from_secs(10),
    );
    let got = client.fetch(&out.context.btid, &naf, false).expect("key");
    assert_eq!(
        got.key.expose(),
        out.context.naf_key(None, &naf).expect("Ks_NAF").expose()
    );
    assert_eq!(got.expires, out.context.expires);
    assert_eq!(got.impi.as_deref(), Some(IMPI));
    assert!(got.uicc_key.is_none());
    assert!(matches!(
        client.fetch("nope@x", &naf, false),
        Err(KeyFetchError::NotFound)
    ));
    let wrong = KeyApiClient::new(
        &bsf.url(),
        SecretVec::from(&b"wrong"[..]),
        Duration::from_secs(10),
    );
    assert!(matches!(
        wrong.fetch(&out.context.btid, &naf, false),
        Err(KeyFetchError::Unauthorized)
    ));
    bsf.clock.advance(Duration::from_secs(86_401));
    assert!(matches!(
        client.fetch(&out.context.btid, &naf, false),
        Err(KeyFetchError::Expired)
    ));
}

#[test]
fn bsf_restart_keeps_contexts_and_sequence_numbers() {
    let mut bsf = TestBsf::start(K, "000000000000");
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let first = gba::bootstrap(
        &mut card,
        &mut UreqTransport::default(),
        &UbConfig::new(&bsf.url()),
        bsf.clock.now(),
    )
    .expect("bootstrap");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(bsf.state_dir().join("bsf-contexts.json"))
            .expect("stored")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    bsf.restart();
    assert_eq!(bsf.contexts(), 1, "contexts survive a restart");
    let (status, _) = key_api(
        bsf.addr(),
        Some(TOKEN),
        &key_request(&first.context.btid, "naf.example.com", "010001c0a8"),
    );
    assert_eq!(status, 200);
    // SEQ_HE was persisted: the card accepts the next vector without a resync.
    let next = gba::bootstrap(
        &mut card,
        &mut UreqTransport::default(),
        &UbConfig::new(&bsf.url()),
        bsf.clock.now(),
    )
    .expect("bootstrap");
    assert_eq!(next.resyncs, 0);
}

#[test]
fn late_answer_gets_a_stale_challenge_and_the_client_runs_aka_again() {
    // The first answer reaches the BSF after the nonce's 60 s: it answers 401 stale=TRUE with a
    // fresh challenge, and the client runs AKA once more.
    struct Late {
        inner: UreqTransport,
        clock: TestClock,
        sent: u32,
    }
    impl gba::UbTransport for Late {
        fn get(
            &mut self,
            url: &str,
            h: &[(String, String)],
        ) -> Result<gba::HttpResponse, GbaError> {
            self.sent += 1;
            if self.sent == 2 {
                self.clock.advance(Duration::from_secs(61));
            }
            self.inner.get(url, h)
        }
    }
    let bsf = TestBsf::start(K, "000000000000");
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let mut t = Late {
        inner: UreqTransport::default(),
        clock: bsf.clock.clone(),
        sent: 0,
    };
    let out = gba::bootstrap(
        &mut card,
        &mut t,
        &UbConfig::new(&bsf.url()),
        bsf.clock.now(),
    )
    .expect("bootstrap");
    assert_eq!(out.round_trips, 3);
    assert_eq!(bsf.contexts(), 1);
}

#[test]
fn hex_res_password_is_an_interop_switch_on_both_sides() {
    let bsf = TestBsf::start_with(K, "000000000000", |cfg| cfg.hex_res_password = true);
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let mut cfg = UbConfig::new(&bsf.url());
    let err = gba::bootstrap(
        &mut card,
        &mut UreqTransport::default(),
        &cfg,
        bsf.clock.now(),
    )
    .expect_err("raw RES vs a hex BSF");
    assert!(
        matches!(err, GbaError::Refused { status: 403, .. }),
        "{err:?}"
    );
    cfg.hex_res_password = true;
    let out = gba::bootstrap(
        &mut card,
        &mut UreqTransport::default(),
        &cfg,
        bsf.clock.now(),
    )
    .expect("hex on both sides");
    assert_eq!(out.round_trips, 2);
    assert_eq!(bsf.contexts(), 1);
}

#[test]
fn bootstrap_over_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback on this machine");
        return;
    }
    let bsf = TestBsf::start_with(K, "000000000000", |cfg| cfg.listen = "[::1]:0".into());
    assert!(bsf.addr().is_ipv6());
    let mut card = soft_card(&profile_text(K, "000000000000", false));
    let out = gba::bootstrap(
        &mut card,
        &mut UreqTransport::default(),
        &UbConfig::new(&bsf.url()),
        bsf.clock.now(),
    )
    .expect("bootstrap");
    let (status, _) = key_api(
        bsf.addr(),
        Some(TOKEN),
        &key_request(&out.context.btid, "naf.example.com", "0100000007"),
    );
    assert_eq!(status, 200);
}
