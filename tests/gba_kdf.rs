//! Known-answer tests of the TS 33.220 Annex B KDF and the GBA identifiers.
//!
//! Sources: RFC 5448 Appendix C case 1 (CK'/IK', FC 0x20, published); the real-network Ub trace
//! in the fasferraz/GBA_ME README (RAND/AUTN/IMPI/B-TID, published); docs/sources.md sec. 8
//! (derived and self-computed values, regression only). Each Ks_NAF case is also checked
//! against an independent computation written here from the spec text: S is concatenated by hand
//! and HMAC-SHA-256 is built from SHA-256 per RFC 2104, without the crate's KDF or `hmac`.

use base64::Engine;
use sha2::{Digest, Sha256};
use simbridge::gba::{self, NafId, UaId, kdf::kdf_input};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

fn h16(s: &str) -> [u8; 16] {
    h(s).try_into().expect("16 bytes")
}

/// HMAC-SHA-256 straight from RFC 2104: H((K ^ opad) ‖ H((K ^ ipad) ‖ text)), K ≤ 64 bytes.
fn hmac_sha256_by_hand(key: &[u8], text: &[u8]) -> [u8; 32] {
    assert!(key.len() <= 64);
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(text.iter().copied())
        .collect();
    let ih = Sha256::digest(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(ih.iter().copied())
        .collect();
    Sha256::digest(&outer).into()
}

/// Ks_NAF per TS 33.220 B.3 written out: S = 0x01 ‖ "gba-me" ‖ 00 06 ‖ RAND ‖ 00 10 ‖ IMPI ‖ len ‖
/// NAF_Id ‖ len; key Ks = CK ‖ IK.
fn ks_naf_by_hand(
    label: &[u8],
    ck: &[u8],
    ik: &[u8],
    rand: &[u8],
    impi: &str,
    fqdn: &str,
    ua: [u8; 5],
) -> ([u8; 32], Vec<u8>) {
    let naf_id: Vec<u8> = fqdn.bytes().chain(ua).collect();
    let mut s = vec![0x01];
    for p in [label, rand, impi.as_bytes(), &naf_id] {
        s.extend_from_slice(p);
        s.extend_from_slice(&[(p.len() >> 8) as u8, p.len() as u8]);
    }
    let ks: Vec<u8> = ck.iter().chain(ik).copied().collect();
    (hmac_sha256_by_hand(&ks, &s), s)
}

fn ks_of(ck: &str, ik: &str) -> simbridge::secret::Secret<32> {
    gba::ks_from_ck_ik(
        &simbridge::secret::Secret::new(h16(ck)),
        &simbridge::secret::Secret::new(h16(ik)),
    )
}

#[test]
fn rfc5448_ck_ik_prime_with_fc_0x20() {
    // Copied from tests/vectors/aka-cases.toml (RFC 5448 Appendix C, case 1).
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/aka-cases.toml"
    ))
    .expect("vectors");
    let doc: toml::Table = text.parse().expect("toml");
    let cases = doc["aka"].as_array().expect("cases");
    let c = cases
        .iter()
        .find(|c| c.get("ck_prime").is_some())
        .expect("RFC 5448 case")
        .as_table()
        .expect("table");
    let s = |k: &str| c[k].as_str().expect(k).to_string();
    let ks = ks_of(&s("ck"), &s("ik"));
    let autn = h(&s("autn"));
    let sqn_xor_ak = &autn[..6];
    let out = gba::kdf(
        ks.expose(),
        0x20,
        &[s("network_name").as_bytes(), sqn_xor_ak],
    )
    .expect("kdf");
    assert_eq!(hex::encode(&out.expose()[..16]), s("ck_prime"));
    assert_eq!(hex::encode(&out.expose()[16..]), s("ik_prime"));
}

// The fasferraz/GBA_ME real-network trace (docs/sources.md sec. 8).
const V5_RAND: &str = "7ef7b889359bd6b4dbdbdec2cd54aba7";
const V5_AUTN: &str = "0c756ec34ff600008828af116163fcfa";
const V5_CK: &str = "19B7CE7B4B82D5F6388AF03140A0B7D3";
const V5_IK: &str = "56AFD0F354451A02C57A94C2A433B26E";
const V5_IMPI: &str = "123454901000504@ims.mnc045.mcc123.3gppnetwork.org";

#[test]
fn trace_nonce_and_btid_formats() {
    let rand = h16(V5_RAND);
    let mut raw = rand.to_vec();
    raw.extend(h(V5_AUTN));
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&raw),
        "fve4iTWb1rTb297CzVSrpwx1bsNP9gAAiCivEWFj/Po="
    );
    assert_eq!(
        gba::btid(&rand, "bsf.ims.mnc045.mcc123.pub.3gppnetwork.org"),
        "fve4iTWb1rTb297CzVSrpw==@bsf.ims.mnc045.mcc123.pub.3gppnetwork.org"
    );
    // The trace's IMPI is the IMSI form of TS 23.003 with a 2-digit MNC padded to 3.
    assert_eq!(
        gba::impi_from_imsi("123454901000504", 2).expect("imsi"),
        V5_IMPI
    );
}

#[test]
fn section_10_2_s_string_and_ks_naf() {
    let naf = NafId::new(
        "xcap.ims.mnc045.mcc123.pub.3gppnetwork.org",
        UaId::HTTP_DIGEST,
    )
    .expect("naf");
    let rand = h16(V5_RAND);
    let s = kdf_input(
        0x01,
        &[b"gba-me", &rand, V5_IMPI.as_bytes(), &naf.to_bytes()],
    )
    .expect("s");
    assert_eq!(
        hex::encode(&s),
        "016762612d6d6500067ef7b889359bd6b4dbdbdec2cd54aba7001031323334353439303130303035303440696d732e6d6e633034352e6d63633132332e336770706e6574776f726b2e6f72670031786361702e696d732e6d6e633034352e6d63633132332e7075622e336770706e6574776f726b2e6f72670100000002002f"
    );
    let ks_naf = gba::ks_naf(&ks_of(V5_CK, V5_IK), &rand, V5_IMPI, &naf).expect("kdf");
    assert_eq!(
        hex::encode(ks_naf.expose()),
        "449a0f360cb2b20d845a6200767b7b9ad9cd965bbecb2b94448bf67549725e95"
    );
    let (by_hand, s2) = ks_naf_by_hand(
        b"gba-me",
        &h(V5_CK),
        &h(V5_IK),
        &rand,
        V5_IMPI,
        naf.fqdn(),
        UaId::HTTP_DIGEST.0,
    );
    assert_eq!(s2, s);
    assert_eq!(&by_hand, ks_naf.expose());
    // The NAF HTTP Digest password is base64(Ks_NAF) (24.109 §5.2).
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(ks_naf.expose()),
        "RJoPNgyysg2EWmIAdnt7mtnNllu+yyuURIv2dUlyXpU="
    );
}

// docs/sources.md sec. 8: CK/IK of TS 35.208 test set 1, a fixed RAND and IMPI.
const CK1: &str = "b40ba9a3c58b2a05bbf0d987b21bf8cb";
const IK1: &str = "f769bcd751044604127672711c6d3441";
const RAND3: &str = "23553cbe9637a89d218ae64dae47bf35";
const IMPI3: &str = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";

#[test]
fn ks_naf_per_ua_id_matches_hand_computation_and_regression_values() {
    let ks = ks_of(CK1, IK1);
    let rand = h16(RAND3);
    let cases: [(UaId, &str); 4] = [
        (
            UaId::tls12_suite(gba::suite_code("TLS_PSK_WITH_AES_128_CCM_8").expect("suite")),
            "707135a7b9ec1e2b54742e53f88615db38bd1d96a0ea63b149cd32f659a9da73",
        ),
        (
            UaId::tls12_suite(0x00A8),
            "9f86b69a955cf63f3183301898740f3ef61c226692881fdd4986db55b3d39be2",
        ),
        (
            UaId::TLS13,
            "48f9b22b93fe68abf63e1b85a920b4bff518b2c7add5acf25d4d5f4e6db9b995",
        ),
        (
            UaId::HTTP_DIGEST,
            "ae9ecc3c7c17692c1d44d6d68d53a3b1624a706039753ba991e8293f3cfdec08",
        ),
    ];
    for (ua, want) in cases {
        let naf = NafId::new("naf.example.com", ua).expect("naf");
        let got = gba::ks_naf(&ks, &rand, IMPI3, &naf).expect("kdf");
        let (by_hand, _) = ks_naf_by_hand(
            b"gba-me",
            &h(CK1),
            &h(IK1),
            &rand,
            IMPI3,
            "naf.example.com",
            ua.0,
        );
        assert_eq!(&by_hand, got.expose(), "{ua:?} vs the hand computation");
        assert_eq!(
            hex::encode(got.expose()),
            want,
            "{ua:?} vs docs/sources.md sec. 8"
        );
    }
    let naf = NafId::new("naf.example.com", UaId::tls12_suite(0xC0A8)).expect("naf");
    let s = kdf_input(0x01, &[b"gba-me", &rand, IMPI3.as_bytes(), &naf.to_bytes()]).expect("s");
    assert_eq!(
        hex::encode(s),
        "016762612d6d65000623553cbe9637a89d218ae64dae47bf35001030303130313031323334353637383940696d732e6d6e633030312e6d63633030312e336770706e6574776f726b2e6f726700316e61662e6578616d706c652e636f6d010001c0a80014"
    );
    let int = gba::ks_int_naf(&ks, &rand, IMPI3, &naf).expect("kdf");
    let (by_hand, _) = ks_naf_by_hand(
        b"gba-u",
        &h(CK1),
        &h(IK1),
        &rand,
        IMPI3,
        "naf.example.com",
        [1, 0, 1, 0xC0, 0xA8],
    );
    assert_eq!(&by_hand, int.expose());
    assert_eq!(
        hex::encode(int.expose()),
        "66e1e55a16b22ddfb0ec46198f9ec21412bbae45e4fdd3f12a8d9674a696364b"
    );
    assert_ne!(
        int.expose(),
        gba::ks_naf(&ks, &rand, IMPI3, &naf).expect("kdf").expose()
    );
}

#[test]
fn identifier_formats_from_ts_23_003_and_33_220() {
    let rand = h16(RAND3);
    assert_eq!(
        gba::impi_from_imsi("001010123456789", 2).expect("imsi"),
        IMPI3
    );
    assert_eq!(
        gba::bsf_host("001", "01").expect("host"),
        "bsf.mnc001.mcc001.pub.3gppnetwork.org"
    );
    assert_eq!(
        gba::bsf_host("234", "15").expect("host"),
        "bsf.mnc015.mcc234.pub.3gppnetwork.org"
    );
    assert_eq!(
        gba::bsf_host("310", "410").expect("host"),
        "bsf.mnc410.mcc310.pub.3gppnetwork.org"
    );
    let btid = gba::btid(&rand, "bsf.mnc001.mcc001.pub.3gppnetwork.org");
    assert_eq!(
        btid,
        "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org"
    );
    assert_eq!(
        gba::psk_identity(&btid),
        "3GPP-bootstrapping.I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org"
    );
    let tmpi = gba::tmpi(
        &ks_of(CK1, IK1),
        &rand,
        IMPI3,
        "bsf.mnc001.mcc001.pub.3gppnetwork.org",
    )
    .expect("tmpi");
    assert_eq!(
        tmpi,
        "NdfNQvvGWK4SGbs7c17alrZHQXyhEcrW@tmpi.bsf.3gppnetwork.org"
    );
}

#[test]
fn keys_do_not_show_in_debug() {
    let ks = ks_of(CK1, IK1);
    let naf = NafId::new("naf.example.com", UaId::TLS13).expect("naf");
    let k = gba::ks_naf(&ks, &h16(RAND3), IMPI3, &naf).expect("kdf");
    let ctx = gba::BootstrapContext {
        btid: "b@x".into(),
        rand: h16(RAND3),
        impi: IMPI3.into(),
        expires: std::time::SystemTime::now(),
        created: std::time::SystemTime::now(),
        mode: gba::GbaMode::Me,
        bsf_url: "http://x/".into(),
        ks: Some(ks.clone()),
    };
    for shown in [format!("{k:?}"), format!("{ks:?}"), format!("{ctx:?}")] {
        for secret in [
            hex::encode(k.expose()),
            hex::encode(&ks.expose()[..8]),
            format!("{:?}", &ks.expose()[..4]),
        ] {
            assert!(
                !shown.to_lowercase().contains(&secret.to_lowercase()),
                "{shown}"
            );
        }
    }
}
