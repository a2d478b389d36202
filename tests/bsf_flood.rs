//! The BSF under a challenge flood (real HTTP on loopback): pending challenges are capped per
//! IMPI, so a flood for one IMPI does not stop another subscriber from bootstrapping; and an
//! unknown IMPI gets answers indistinguishable from a known one's (no enumeration oracle).

mod gba_support;
mod support;

use gba_support::*;
use simbridge::gba::{self, UbConfig, UreqTransport};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const OTHER_IMSI: &str = "001010000000777";
const OTHER_IMPI: &str = "001010000000777@ims.mnc001.mcc001.3gppnetwork.org";
const UNKNOWN_IMPI: &str = "001010999999999@ims.mnc001.mcc001.3gppnetwork.org";

fn other_profile() -> String {
    profile_text(K, "000000000000", false)
        .replace(IMSI, OTHER_IMSI)
        .replace("8988211000000000017", "8988211000000000777")
}

/// A response reduced to what a client can compare: status, header names and values except the
/// per-request ones (Date, the nonce), the challenge's parameters, the nonce's decoded length and
/// the AMF in its AUTN, and the body.
fn shape(status: u16, head: &str, body: &[u8]) -> String {
    let mut headers: Vec<String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
        .map(|(n, v)| {
            let n = n.trim().to_ascii_lowercase();
            if n == "www-authenticate" {
                let ch = gba::digest::Challenge::parse(v.trim()).expect("challenge");
                let raw = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    ch.nonce.as_bytes(),
                )
                .expect("b64");
                format!(
                    "{n}: realm={} qop={:?} algorithm={} stale={} nonce={}B amf={:02x?}",
                    ch.realm,
                    ch.qop,
                    ch.algorithm,
                    ch.stale,
                    raw.len(),
                    &raw[22..24]
                )
            } else {
                format!("{n}: {}", v.trim())
            }
        })
        .collect();
    headers.sort();
    format!(
        "{status}\n{}\n{}",
        headers.join("\n"),
        String::from_utf8_lossy(body)
    )
}

fn first_get(addr: SocketAddr, impi: &str) -> (String, String, String) {
    let auth =
        format!("Digest username=\"{impi}\", realm=\"x\", nonce=\"\", uri=\"/\", response=\"\"");
    let (status, head, body) = get(
        addr,
        &[("Authorization", &auth), ("User-Agent", "ue 3gpp-gba-tmpi")],
    );
    let ch = gba::digest::Challenge::parse(&head_header(&head, "www-authenticate").expect("401"))
        .expect("challenge");
    (shape(status, &head, &body), ch.nonce, ch.realm)
}

fn answer(
    addr: SocketAddr,
    impi: &str,
    realm: &str,
    nonce: &str,
    pw: &[u8],
    auts: Option<String>,
) -> String {
    let h = answer_header(impi, realm, nonce, pw, auts);
    let (status, head, body) = get(
        addr,
        &[("Authorization", &h), ("User-Agent", "ue 3gpp-gba-tmpi")],
    );
    shape(status, &head, &body)
}

#[test]
fn unknown_and_known_impis_get_indistinguishable_answers() {
    let bsf = TestBsf::start(K, "000000000000");
    let addr = bsf.addr();
    let mut seen = Vec::new();
    for impi in [IMPI, UNKNOWN_IMPI] {
        let mut steps = Vec::new();
        // The challenge.
        let (s, nonce, realm) = first_get(addr, impi);
        steps.push(s);
        // A wrong answer, then its replay (the nonce is burnt).
        steps.push(answer(addr, impi, &realm, &nonce, b"wrongres", None));
        steps.push(
            answer(addr, impi, &realm, &nonce, b"wrongres", None)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        );
        // A forged AUTS (the Digest over an empty password is computable by anyone).
        let (_, nonce, _) = first_get(addr, impi);
        steps.push(answer(
            addr,
            impi,
            &realm,
            &nonce,
            b"",
            Some("AAAAAAAAAAAAAAAAAAA=".into()),
        ));
        // An answer after the nonce expired: stale=TRUE and a fresh challenge.
        let (_, nonce, _) = first_get(addr, impi);
        bsf.clock.advance(Duration::from_secs(61));
        steps.push(answer(addr, impi, &realm, &nonce, b"wrongres", None));
        seen.push(steps);
    }
    let (known, unknown) = (&seen[0], &seen[1]);
    assert!(known[0].starts_with("401\n"), "{}", known[0]);
    assert!(known[1].starts_with("403\n"), "{}", known[1]);
    assert!(
        known[3].starts_with("403\n") && known[3].contains("AUTS does not verify"),
        "{}",
        known[3]
    );
    assert!(known[4].contains("stale=true"), "{}", known[4]);
    for (i, (k, u)) in known.iter().zip(unknown).enumerate() {
        assert_eq!(k, u, "step {i}: known vs unknown IMPI");
    }
    assert!(!known.concat().to_lowercase().contains("unknown impi"));
    assert_eq!(bsf.contexts(), 0);
}

#[test]
fn a_flood_for_one_impi_does_not_stop_another_subscriber() {
    let bsf = start_bsf_with_profiles(
        &[
            ("a.toml", &profile_text(K, "000000000000", false)),
            ("b.toml", &other_profile()),
        ],
        |_| {},
    );
    let url = bsf.url();
    // The flood: more challenges for IMPI A than the old global cap of 10,000, from 4 clients.
    const PER_THREAD: usize = 2_600;
    let started = Instant::now();
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_config(
                    ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build(),
                );
                let auth = format!(
                    "Digest username=\"{IMPI}\", realm=\"x\", nonce=\"\", uri=\"/\", response=\"\""
                );
                let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
                for _ in 0..PER_THREAD {
                    let st = agent
                        .get(&url)
                        .header("Authorization", &auth)
                        .call()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    *statuses.entry(st).or_default() += 1;
                }
                statuses
            })
        })
        .collect();
    // Subscriber B bootstraps during the flood (several times, to be sure to overlap it).
    let mut b_runs = 0;
    while flood.iter().any(|t| !t.is_finished()) || b_runs == 0 {
        let mut card = MilenageCard::new(K, 0, false);
        card.impi = OTHER_IMPI.into();
        let out = gba::bootstrap(
            &mut card,
            &mut UreqTransport::new(Duration::from_secs(10)),
            &UbConfig::new(&url),
            bsf.clock.now(),
        )
        .expect("subscriber B bootstraps during the flood");
        assert_eq!(out.round_trips, 2);
        b_runs += 1;
        let pending = bsf.server.with_service(|s| s.pending_count());
        assert!(
            pending <= 2 * 4,
            "at most 4 pending per IMPI, got {pending}"
        );
    }
    let mut total = 0;
    for t in flood {
        let statuses = t.join().expect("flood thread");
        assert_eq!(
            statuses.keys().copied().collect::<Vec<_>>(),
            [401],
            "{statuses:?}"
        );
        total += statuses.values().sum::<usize>();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "flood: {total} challenges for one IMPI in {secs:.1} s ({:.0}/s); subscriber B bootstrapped {b_runs} times meanwhile",
        total as f64 / secs
    );
    // The oldest of A's challenges were replaced: A's newest still works.
    let mut card = MilenageCard::new(K, 0, false);
    let out = gba::bootstrap(
        &mut card,
        &mut UreqTransport::new(Duration::from_secs(10)),
        &UbConfig::new(&url),
        bsf.clock.now(),
    );
    assert!(out.is_ok(), "A itself still bootstraps: {out:?}");
}

#[test]
fn a_new_challenge_replaces_the_oldest_of_its_impi() {
    let bsf = TestBsf::start(K, "000000000000");
    let addr = bsf.addr();
    let (first, realm, rand, autn) = challenge(addr, IMPI);
    let mut card = MilenageCard::new(K, 0, false);
    for _ in 0..4 {
        challenge(addr, IMPI);
    }
    // The first nonce is gone: answering it right gets a fresh challenge, not a context.
    let res = res_of(&mut card, &rand, &autn);
    let h = answer_header(IMPI, &realm, &first, &res, None);
    let (status, _, _) = get(addr, &[("Authorization", &h)]);
    assert_eq!(status, 401);
    assert_eq!(bsf.contexts(), 0);
    // The newest one is answerable.
    let (nonce, realm, rand, autn) = challenge(addr, IMPI);
    let res = res_of(&mut card, &rand, &autn);
    let h = answer_header(IMPI, &realm, &nonce, &res, None);
    let (status, head, _) = get(addr, &[("Authorization", &h)]);
    assert_eq!(status, 200, "{head}");
}
