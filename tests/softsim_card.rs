//! The uicc layer against the software USIM: published known answers, the SQN array across
//! restarts, GBA_U, and bad input answered with the right status words and typed errors.

mod common;
mod support;

use common::*;
use simbridge::aka::{SqnArray, SqnCheck, SqnPolicy, SubscriberKeys};
use simbridge::uicc::{AuthResult, GbaBootstrapResult, StatusWord, Uicc, UiccError};
use simbridge_lab::softsim::SoftUsim;
use std::path::Path;

fn open(profile: &Path) -> Uicc<SoftUsim> {
    Uicc::open(SoftUsim::load(profile).expect("load card"), None).expect("open card")
}

fn success(r: AuthResult) -> (Vec<u8>, [u8; 16], [u8; 16], Option<[u8; 8]>) {
    match r {
        AuthResult::Success { res, ck, ik, kc } => (
            res.expose().to_vec(),
            *ck.expose(),
            *ik.expose(),
            kc.map(|k| *k.expose()),
        ),
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn ts35208_sets_1_to_6_through_the_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    for s in ts35208() {
        let p = profile_copy(dir.path(), &format!("ts35208-set{}.toml", s.number));
        let mut u = open(&p);
        let (res, ck, ik, _) = success(
            u.authenticate(&h(&s.rand), &h(&set_autn(&s)))
                .expect("authenticate"),
        );
        assert_eq!(hex::encode(res), s.f2, "set {} RES", s.number);
        assert_eq!(hex::encode(ck), s.f3, "set {} CK", s.number);
        assert_eq!(hex::encode(ik), s.f4, "set {} IK", s.number);
    }
}

#[test]
fn pysim_libosmocore_and_rfc5448_cases_through_the_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, c) in aka_cases().iter().enumerate() {
        let p = case_profile(dir.path(), c, &format!("case{i}.toml"));
        let mut u = open(&p);
        let (res, ck, ik, kc) = success(
            u.authenticate(&h(&c.rand), &h(&c.autn))
                .expect("authenticate"),
        );
        assert_eq!(hex::encode(res), c.res, "{} RES", c.source);
        assert_eq!(hex::encode(ck), c.ck, "{} CK", c.source);
        assert_eq!(hex::encode(ik), c.ik, "{} IK", c.source);
        if let Some(want) = &c.kc {
            assert_eq!(
                kc.map(hex::encode).as_deref(),
                Some(want.as_str()),
                "{} Kc",
                c.source
            );
        }
    }
}

#[test]
fn libosmocore_auts_comes_from_a_card_at_sqn_31() {
    // libosmocore counts SQN without IND bits: a card (IND length 0) at SQN_MS = 31 takes the
    // vector with SQN 34; replaying it yields an AUTS for 34, and the published AUTS is that of 31.
    let dir = tempfile::tempdir().expect("tempdir");
    let c = aka_cases()
        .into_iter()
        .find(|c| c.auts.is_some())
        .expect("libosmocore case");
    let text = format!(
        "iccid = \"8988211000000000098\"\nimsi = \"001010000000098\"\nmnc_length = 2\nk = \"{}\"\nopc = \"{}\"\namf = \"0000\"\nsqn = \"00000000001f\"\nind_bits = 0\n",
        c.k, c.opc
    );
    let p = write_file(dir.path(), "osmo.toml", &text);
    let mut u = open(&p);
    let keys = SubscriberKeys::from_opc(h(&c.k), h(&c.opc));
    success(u.authenticate(&h(&c.rand), &h(&c.autn)).expect("first"));
    match u.authenticate(&h(&c.rand), &h(&c.autn)).expect("replay") {
        AuthResult::SyncFailure { auts } => {
            assert_eq!(keys.verify_auts(&h(&c.rand), &auts), Some(34))
        }
        other => panic!("replay accepted: {other:?}"),
    }
    assert_eq!(
        keys.build_auts(&h(&c.rand), 31),
        h::<14>(c.auts.as_deref().expect("auts"))
    );
}

#[test]
fn replayed_autn_rejected_after_emulator_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "ts35208-set1.toml");
    let s = &ts35208()[0];
    success(
        open(&p)
            .authenticate(&h(&s.rand), &h(&set_autn(s)))
            .expect("first"),
    );
    // A new emulator process reads the persisted SQN array.
    let state = std::fs::read_to_string(p.with_extension("toml.state")).expect("state written");
    assert!(state.contains("\"version\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.with_extension("toml.state"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let keys = SubscriberKeys::from_op(h(&s.k), h(&s.op));
    match open(&p)
        .authenticate(&h(&s.rand), &h(&set_autn(s)))
        .expect("replay")
    {
        AuthResult::SyncFailure { auts } => {
            let sqn_ms = keys
                .verify_auts(&h(&s.rand), &auts)
                .expect("MAC-S verifies");
            assert_eq!(
                sqn_ms,
                u64::from_str_radix(&s.sqn, 16).expect("sqn"),
                "AUTS carries the accepted SQN"
            );
        }
        other => panic!("replayed AUTN accepted after restart: {other:?}"),
    }
}

fn demo_card_and_keys(dir: &Path) -> (Uicc<SoftUsim>, SubscriberKeys) {
    let p = profile_copy(dir, "demo.toml");
    let keys = simbridge_lab::softsim::Profile::load(&p)
        .expect("profile")
        .keys;
    (open(&p), keys)
}

#[test]
fn ind_slots_accept_out_of_order_and_delta_is_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut u, keys) = demo_card_and_keys(dir.path());
    let rand = [7u8; 16];
    let amf = [0x80, 0];
    let sqn = |seq: u64, ind: u64| (seq << 5) | ind;
    for (seq, ind) in [(10, 3), (9, 4), (8, 5)] {
        let av = keys.generate_vector(&rand, sqn(seq, ind), &amf);
        success(u.authenticate(&av.rand, &av.autn).expect("authenticate"));
    }
    let old = keys.generate_vector(&rand, sqn(9, 3), &amf);
    assert!(matches!(
        u.authenticate(&old.rand, &old.autn),
        Ok(AuthResult::SyncFailure { .. })
    ));
    let far = keys.generate_vector(&rand, sqn(10 + (1 << 28) + 1, 6), &amf);
    match u.authenticate(&far.rand, &far.autn).expect("far") {
        AuthResult::SyncFailure { auts } => {
            assert_eq!(keys.verify_auts(&rand, &auts), Some(sqn(10, 3)))
        }
        other => panic!("Δ limit not enforced: {other:?}"),
    }
    let within = keys.generate_vector(&rand, sqn(10 + (1 << 28), 6), &amf);
    success(
        u.authenticate(&within.rand, &within.autn)
            .expect("within Δ"),
    );
    // The array logic itself, with an age limit.
    let a = SqnArray::new(
        SqnPolicy {
            age_limit: Some(4),
            ..SqnPolicy::default()
        },
        sqn(10, 0),
    );
    assert_eq!(a.check(sqn(6, 1)), SqnCheck::Reject { sqn_ms: sqn(10, 0) });
}

#[test]
fn wrong_key_gives_mac_failure_and_no_state_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut u, _) = demo_card_and_keys(dir.path());
    let other = SubscriberKeys::from_opc([1; 16], [2; 16]);
    let av = other.generate_vector(&[3; 16], 64, &[0x80, 0]);
    assert!(matches!(
        u.authenticate(&av.rand, &av.autn),
        Ok(AuthResult::MacFailure)
    ));
    assert!(
        !dir.path().join("demo.toml.state").exists(),
        "a MAC failure must not touch the SQN state"
    );
}

#[test]
fn gba_u_bootstrap_and_naf_derivation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut u, keys) = demo_card_and_keys(dir.path());
    assert!(u.supports_gba_u());
    assert!(matches!(
        u.gba_naf_derive(b"naf.example.com\x01\x00\x01\xc0\xa8", "x@y"),
        Err(UiccError::NoGbaContext)
    ));
    let av = keys.generate_vector(&[5; 16], 64, &[0x80, 0]);
    match u.gba_bootstrap(&av.rand, &av.autn).expect("bootstrap") {
        GbaBootstrapResult::Success { res } => assert_eq!(res.expose(), av.xres),
        other => panic!("{other:?}"),
    }
    let naf_id = b"naf.example.com\x01\x00\x01\xc0\xa8";
    let impi = u.impi().to_string();
    let ks_ext = u.gba_naf_derive(naf_id, &impi).expect("derive");
    // Independent computation straight from TS 33.220 B.2/B.3: HMAC-SHA-256(CK‖IK, 01 ‖ "gba-me" ‖ 00 06 ‖ RAND ‖ 00 10 ‖ IMPI ‖ L ‖ NAF_Id ‖ L).
    use hmac::{Hmac, KeyInit, Mac};
    let mut ks = av.ck.expose().to_vec();
    ks.extend_from_slice(av.ik.expose());
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&ks).expect("hmac");
    let mut s = vec![0x01];
    for p in [&b"gba-me"[..], &av.rand[..], impi.as_bytes(), &naf_id[..]] {
        s.extend_from_slice(p);
        s.extend_from_slice(&(p.len() as u16).to_be_bytes());
    }
    mac.update(&s);
    assert_eq!(ks_ext.expose()[..], mac.finalize().into_bytes()[..]);
    let replay = u.gba_bootstrap(&av.rand, &av.autn).expect("replay");
    assert!(matches!(replay, GbaBootstrapResult::SyncFailure { .. }));
}

#[test]
fn gba_context_refused_by_a_card_without_gba_u() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut u = open(&profile_copy(dir.path(), "ts35208-set2.toml"));
    assert!(!u.supports_gba_u());
    assert!(matches!(
        u.gba_bootstrap(&[0; 16], &[0; 16]),
        Err(UiccError::GbaUnsupported)
    ));
    // The card itself answers 9864 to the GBA context.
    let r = u
        .transceive(
            &simbridge::uicc::Command::new(0, 0x88, 0, 0x84)
                .with_data(vec![0xDD; 35])
                .with_le(0),
        )
        .expect("apdu");
    assert_eq!(r.sw, StatusWord::ContextNotSupported);
}

#[test]
fn isim_impi_and_pin_countdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "demo-isim.toml");
    let err = Uicc::open(SoftUsim::load(&p).expect("load"), None)
        .err()
        .expect("PIN needed");
    assert!(
        matches!(err, UiccError::PinRequired { tries_left: 3 }),
        "{err}"
    );
    let err = Uicc::open(SoftUsim::load(&p).expect("load"), Some("0000"))
        .err()
        .expect("wrong PIN");
    assert!(
        matches!(err, UiccError::WrongPin { tries_left: 2 }),
        "{err}"
    );
    let err = Uicc::open(SoftUsim::load(&p).expect("load"), Some("1111"))
        .err()
        .expect("wrong PIN");
    assert!(
        matches!(err, UiccError::WrongPin { tries_left: 1 }),
        "{err}"
    );
    // The right PIN resets the counter.
    let u = Uicc::open(SoftUsim::load(&p).expect("load"), Some("1234")).expect("right PIN");
    assert_eq!(u.impi(), "demo-isim@ims.mnc001.mcc001.3gppnetwork.org");
    assert_eq!(u.impi_source(), simbridge::uicc::ImpiSource::Isim);
    for left in [2, 1] {
        let e = Uicc::open(SoftUsim::load(&p).expect("load"), Some("9999"))
            .err()
            .expect("wrong");
        assert!(
            matches!(e, UiccError::WrongPin { tries_left } if tries_left == left),
            "{e}"
        );
    }
    let e = Uicc::open(SoftUsim::load(&p).expect("load"), Some("9999"))
        .err()
        .expect("blocked");
    assert!(matches!(e, UiccError::PinBlocked), "{e}");
    let e = Uicc::open(SoftUsim::load(&p).expect("load"), Some("1234"))
        .err()
        .expect("still blocked");
    assert!(
        matches!(e, UiccError::PinBlocked),
        "blocked survives a restart and the right PIN: {e}"
    );
}

#[test]
fn bad_apdus_get_the_right_status_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "ts35208-set3.toml");
    let mut card = SoftUsim::load(&p).expect("load");
    let sw = |resp: Vec<u8>| -> String { hex::encode_upper(&resp[resp.len() - 2..]) };
    assert_eq!(sw(card.process(&[0x00, 0xA4])), "6700", "truncated header");
    assert_eq!(
        sw(card.process(&[0x00, 0xA4, 0x00, 0x04, 0x05, 0x3F])),
        "6700",
        "Lc larger than the data"
    );
    assert_eq!(
        sw(card.process(&[0x00, 0xA4, 0x00, 0x04, 0x01, 0x3F, 0x00, 0x00, 0x00])),
        "6700",
        "Lc smaller than the data"
    );
    let mut oversized = vec![0x00, 0xD6, 0x00, 0x00, 0x00, 0x01, 0x2C];
    oversized.extend(vec![0u8; 300]);
    assert_eq!(
        sw(card.process(&oversized)),
        "6700",
        "extended/oversized APDU"
    );
    assert_eq!(
        sw(card.process(&[0x00, 0x12, 0x00, 0x00])),
        "6D00",
        "unknown INS"
    );
    assert_eq!(
        sw(card.process(&[0x30, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00])),
        "6E00",
        "unknown CLA"
    );
    assert_eq!(
        sw(card.process(&[0x00, 0xA4, 0x00, 0x04, 0x02, 0x6F, 0x99])),
        "6A82",
        "missing file"
    );
    assert_eq!(
        sw(card.process(&[0x00, 0xB0, 0x00, 0x00, 0x00])),
        "6986",
        "READ BINARY with no EF selected"
    );
    assert_eq!(
        sw(card.process(&[0x00, 0x88, 0x00, 0x81, 0x02, 0x10, 0x00])),
        "6985",
        "AUTHENTICATE outside the USIM"
    );
    assert_eq!(
        sw(card.process(&[0x00, 0xC0, 0x00, 0x00, 0x10])),
        "6985",
        "GET RESPONSE with nothing pending"
    );

    // And the uicc layer turns them into typed errors naming the command.
    let mut u = Uicc::open(card, None).expect("open");
    let e = u.authenticate(&[0; 16], &[0; 16]).map(|_| ()).err();
    assert!(
        e.is_none(),
        "a well-formed AUTHENTICATE with a bad MAC is an outcome, not an error"
    );
    let r = u
        .transceive(
            &simbridge::uicc::Command::new(0, 0xA4, 0, 4)
                .with_data(vec![0x6F, 0x99])
                .with_le(0),
        )
        .expect("apdu");
    assert_eq!(r.sw, StatusWord::FileNotFound);
    assert_eq!(r.sw.to_string(), "6A82 (file or application not found)");
}

#[test]
fn logical_channel_authenticate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "ts35208-set4.toml");
    let mut card = SoftUsim::load(&p).expect("load");
    let open = card.process(&[0x00, 0x70, 0x00, 0x00, 0x01]);
    assert_eq!(open, vec![0x01, 0x90, 0x00]);
    let s = &ts35208()[3];
    let mut sel = vec![0x01, 0xA4, 0x04, 0x04, 0x07];
    sel.extend_from_slice(&[0xA0, 0, 0, 0, 0x87, 0x10, 0x02]);
    assert_eq!(
        card.process(&sel)[0],
        0x61,
        "FCP waits for GET RESPONSE (T=0)"
    );
    let mut auth = vec![0x01, 0x88, 0x00, 0x81, 0x22, 0x10];
    auth.extend_from_slice(&h::<16>(&s.rand));
    auth.push(0x10);
    auth.extend_from_slice(&h::<16>(&set_autn(s)));
    assert_eq!(card.process(&auth), vec![0x61, 0x35]);
    let resp = card.process(&[0x01, 0xC0, 0x00, 0x00, 0x35]);
    assert_eq!(hex::encode(&resp[2..10]), s.f2);
    // Channel 0 never selected the USIM: the same command there is refused.
    auth[0] = 0x00;
    assert_eq!(card.process(&auth), vec![0x69, 0x85]);
    assert_eq!(
        card.process(&[0x00, 0x70, 0x80, 0x01, 0x00]),
        vec![0x90, 0x00]
    );
    assert_eq!(
        card.process(&[0x01, 0xF2, 0x00, 0x00, 0x00]),
        vec![0x68, 0x81],
        "closed channel"
    );
}

#[test]
fn gba_u_context_survives_an_emulator_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut u, keys) = demo_card_and_keys(dir.path());
    let av = keys.generate_vector(&[6; 16], 64, &[0x80, 0]);
    assert!(matches!(
        u.gba_bootstrap(&av.rand, &av.autn),
        Ok(GbaBootstrapResult::Success { .. })
    ));
    let naf_id = b"naf.example.com\x01\x00\x01\xc0\xa8";
    let impi = u.impi().to_string();
    let before = u.gba_naf_derive(naf_id, &impi).expect("derive");
    // A new emulator process: Ks is kept like a card keeps it in non-volatile memory.
    let mut again = open(&dir.path().join("demo.toml"));
    let after = again
        .gba_naf_derive(naf_id, &impi)
        .expect("derive after restart");
    assert_eq!(before.expose(), after.expose());
}

#[test]
fn gba_files_hold_rand_then_btid_with_the_spec_access_conditions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut u, keys) = demo_card_and_keys(dir.path());
    let blank = u.read_gba_bp().expect("read").expect("EF_GBABP exists");
    assert!(blank.rand.is_empty() && blank.btid.is_empty());
    let av = keys.generate_vector(&[6; 16], 64, &[0x80, 0]);
    assert!(
        !u.write_gba_bp(&av.rand, b"x@bsf", b"2030-01-01T00:00:00Z")
            .expect("write"),
        "no bootstrap yet: nothing written"
    );
    assert!(matches!(
        u.gba_bootstrap(&av.rand, &av.autn).expect("bootstrap"),
        GbaBootstrapResult::Success { .. }
    ));
    // The card wrote RAND; the B-TID is the ME's to write.
    let bp = u.read_gba_bp().expect("read").expect("file");
    assert_eq!((bp.rand.as_slice(), bp.btid.len()), (&av.rand[..], 0));
    assert!(
        u.write_gba_bp(&av.rand, b"btid@bsf", b"2030-01-01T00:00:00Z")
            .expect("write")
    );
    let bp = u.read_gba_bp().expect("read").expect("file");
    assert_eq!(bp.btid, b"btid@bsf");
    assert_eq!(bp.lifetime, b"2030-01-01T00:00:00Z");
    assert!(
        !u.write_gba_bp(&[9; 16], b"other@bsf", b"2030-01-01T00:00:00Z")
            .expect("write"),
        "another RAND: refused by the ME side"
    );

    let cmd = |ins: u8, p1: u8, p2: u8, data: &[u8]| {
        simbridge::uicc::Command::new(0x00, ins, p1, p2).with_data(data.to_vec())
    };
    let sw = |u: &mut Uicc<SoftUsim>, c: simbridge::uicc::Command| u.transceive(&c).expect("sw").sw;
    // UPDATE ADM files: EF_GBANL, EF_IMSI.
    for fid in [[0x6F, 0xDA], [0x6F, 0x07]] {
        assert_eq!(
            sw(&mut u, cmd(0xA4, 0, 0x04, &fid).with_le(0)),
            StatusWord::Ok
        );
        assert_eq!(
            sw(&mut u, cmd(0xD6, 0, 0, &[0])),
            StatusWord::SecurityNotSatisfied,
            "{fid:02x?}"
        );
    }
    // Past the end of EF_GBABP.
    assert_eq!(
        sw(&mut u, cmd(0xA4, 0, 0x04, &[0x6F, 0xD6]).with_le(0)),
        StatusWord::Ok
    );
    assert_eq!(
        sw(&mut u, cmd(0xD6, 0, 190, &[0; 20])),
        StatusWord::IncorrectP1P2
    );

    // UPDATE PIN: without PIN1 verified the card refuses.
    let text = format!(
        "{}pin = \"1234\"\n",
        std::fs::read_to_string(profile_copy(dir.path(), "demo.toml")).expect("demo")
    );
    let profile =
        simbridge_lab::softsim::Profile::parse(&text, Path::new("pin.toml")).expect("profile");
    let mut card = SoftUsim::from_profile(profile, None).expect("card");
    let mut apdu = |b: &[u8]| {
        let r = card.process(b);
        [r[r.len() - 2], r[r.len() - 1]]
    };
    let mut select_usim = vec![0x00, 0xA4, 0x04, 0x0C, 16];
    select_usim.extend_from_slice(&simbridge_lab::softsim::fs::USIM_AID);
    assert_eq!(apdu(&select_usim), [0x90, 0x00]);
    assert_eq!(apdu(&[0x00, 0xA4, 0x00, 0x0C, 2, 0x6F, 0xD6]), [0x90, 0x00]);
    assert_eq!(apdu(&[0x00, 0xD6, 0x00, 0x11, 1, 0x00]), [0x69, 0x82]);
}
