//! Random and mutated input against the sans-IO cores (Ub service, key API, Digest/XML/time
//! parsers): nothing panics and every answer has a status from the documented set. A cheap,
//! deterministic stand-in for a fuzzer that runs in every test run.

mod gba_support;
mod support;

use gba_support::*;
use simbridge::gba::{digest, time, xml::BootstrappingInfo};
use simbridge::secret::SecretVec;
use simbridge_lab::bsf::{ContextStore, Hss, KeyApi, UbService, UbSettings};
use std::time::{Duration, SystemTime};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[u8] = b"Digest usernamerealmnonceuriresponseqopncauts=\",\\ \t:/@AKAv1-MD5auth-int0123456789abcdef+/=\xc3\xa9\x00";

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..=rng.below(6) {
        match rng.below(4) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = ALPHABET[rng.below(ALPHABET.len())];
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b.truncate(i);
            }
            2 => {
                let i = rng.below(b.len() + 1);
                b.insert(i, ALPHABET[rng.below(ALPHABET.len())]);
            }
            _ => {
                let i = rng.below(b.len() + 1);
                let j = rng.below(b.len() + 1);
                let (lo, hi) = (i.min(j), i.max(j));
                let dup: Vec<u8> = b[lo..hi].to_vec();
                b.splice(lo..lo, dup);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn ub_service_survives_mutated_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("p");
    std::fs::create_dir_all(&profiles).expect("mkdir");
    std::fs::write(
        profiles.join("demo.toml"),
        profile_text(K, "000000000000", false),
    )
    .expect("profile");
    let hss = Hss::load(&profiles, &dir.path().join("s"), 0).expect("hss");
    let realm = "bsf.mnc001.mcc001.pub.3gppnetwork.org";
    let mut ub = UbService::new(hss, ContextStore::in_memory(100), UbSettings::new(realm));
    let now = SystemTime::now();
    // Seeds: a first request and a well-formed answer to a live challenge.
    let first = format!(
        "Digest username=\"{IMPI}\", realm=\"{realm}\", nonce=\"\", uri=\"/\", response=\"\""
    );
    let r = ub.handle("GET", "/", Some(&first), None, now);
    assert_eq!(r.status, 401);
    let ch =
        digest::Challenge::parse(r.header("www-authenticate").expect("challenge")).expect("parse");
    let answer = answer_header(
        IMPI,
        realm,
        &ch.nonce,
        b"12345678",
        Some("AAAAAAAAAAAAAAAAAAA=".into()),
    );
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for i in 0..20_000 {
        let seed = if i % 2 == 0 { &first } else { &answer };
        let h = mutate(&mut rng, seed);
        let method = ["GET", "POST", "PUT"][rng.below(3)];
        let r = ub.handle(
            method,
            "/",
            Some(&h),
            Some("x 3gpp-gba-uicc"),
            now + Duration::from_secs(rng.below(120) as u64),
        );
        assert!(
            [400, 401, 403, 405, 503].contains(&r.status),
            "{} for {h:?}",
            r.status
        );
        assert!(r.status != 200, "a mutated header authenticated: {h:?}");
    }
    assert!(ub.store().is_empty());
}

#[test]
fn key_api_survives_random_bodies() {
    let api = KeyApi::new(SecretVec::from(TOKEN.as_bytes()));
    let store = ContextStore::in_memory(10);
    let seed = key_request("AAAA@bsf", "naf.example.com", "010001c0a8");
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let body = mutate(&mut rng, &seed);
        let r = api.handle(
            &store,
            "POST",
            Some(&format!("Bearer {TOKEN}")),
            body.as_bytes(),
            SystemTime::now(),
        );
        assert!([400, 404].contains(&r.status), "{} for {body:?}", r.status);
    }
}

#[test]
fn parsers_survive_random_input() {
    let mut rng = Rng(7);
    let xml = BootstrappingInfo {
        btid: "a@b".into(),
        lifetime: "2026-01-01T00:00:00Z".into(),
    }
    .to_xml();
    for _ in 0..20_000 {
        let _ = digest::parse_digest_header(&mutate(
            &mut rng,
            "Digest username=\"a\", realm=\"b\", nonce=\"c\"",
        ));
        let _ = digest::Challenge::parse(&mutate(
            &mut rng,
            "Digest realm=\"b\", nonce=\"c\", qop=\"auth-int\", stale=TRUE",
        ));
        let _ = digest::parse_authentication_info(&mutate(
            &mut rng,
            "qop=auth-int, rspauth=\"00\", cnonce=\"x\", nc=00000001",
        ));
        let _ = BootstrappingInfo::parse(mutate(&mut rng, &xml).as_bytes());
        let _ = time::parse_utc(&mutate(&mut rng, "2026-01-01T00:00:00.5+01:00"));
    }
}
