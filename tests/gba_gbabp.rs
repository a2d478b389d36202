//! EF_GBABP both ways (TS 33.220 Annex G, TS 31.102 §4.2.79): after a GBA_U bootstrap the ME
//! writes B-TID and lifetime beside the card's RAND; before using a cached GBA_U context it reads
//! them back. Real processes share one software USIM (its state file): a second process
//! bootstraps the card between our bootstrap and our NAF derivation, and we notice, bootstrap
//! again once, and derive the key the BSF's key API gives.

mod gba_support;
mod support;

use gba_support::*;
use simbridge::uicc::gba_files::{GbaBp, decode_gbanl_record};
use std::path::Path;
use support::{json, run, run_env};

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// EF_GBABP and the EF_GBANL records of the software USIM behind `card` (a fresh power-on).
/// An EF_GBANL entry: (NAF_ID, B-TID).
type NafEntry = (Vec<u8>, Vec<u8>);

fn card_files(card: &Path) -> (GbaBp, Vec<NafEntry>) {
    let usim = simbridge_lab::softsim::SoftUsim::load(card).expect("soft USIM");
    let mut uicc = simbridge::uicc::Uicc::open(usim, None).expect("opens");
    let bp = uicc.read_gba_bp().expect("read").expect("EF_GBABP exists");
    let mut list = Vec::new();
    for rec in 1..=8u8 {
        let r = uicc
            .transceive(
                &simbridge::uicc::Command::new(0x00, 0xA4, 0x00, 0x04)
                    .with_data(vec![0x6F, 0xDA])
                    .with_le(0),
            )
            .and_then(|_| {
                uicc.transceive(&simbridge::uicc::Command::new(0x00, 0xB2, rec, 0x04).with_le(0))
            })
            .expect("READ RECORD");
        list.extend(decode_gbanl_record(&r.data));
    }
    (bp, list)
}

#[test]
fn another_bootstrap_of_the_card_is_noticed_and_repaired() {
    let bsf = start_bsf_with_profile(&profile_text(K, "000000000000", true), |_| {});
    let dir = tempfile::tempdir().expect("tempdir");
    let card = dir.path().join("card.toml");
    std::fs::write(&card, profile_text(K, "000000000000", true)).expect("card");
    let url = bsf.url();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let args = |state: &Path| -> Vec<String> {
        vec![
            "--softsim".into(),
            card.to_str().expect("utf8").into(),
            "--bsf".into(),
            url.clone(),
            "--state".into(),
            state.to_str().expect("utf8").into(),
        ]
    };
    let with = |first: &[&str], state: &Path| -> Vec<String> {
        first
            .iter()
            .map(|s| s.to_string())
            .chain(args(state))
            .collect()
    };

    // Our bootstrap: the card's EF_GBABP then holds RAND, our B-TID and the lifetime.
    let cmd = with(&["bootstrap", "--json"], &a);
    let (code, out, err) = run(&strs(&cmd));
    assert_eq!(code, 0, "{err}");
    let ours = json(&out);
    let btid_a = ours["btid"].as_str().expect("btid").to_string();
    let (bp, _) = card_files(&card);
    assert_eq!(bp.rand.len(), 16);
    assert_eq!(String::from_utf8_lossy(&bp.btid), btid_a);
    assert_eq!(
        String::from_utf8_lossy(&bp.lifetime),
        ours["lifetime"].as_str().expect("lifetime")
    );

    // Another process (its own state directory) bootstraps the same card.
    let cmd = with(&["bootstrap", "--json"], &b);
    let (code, out, err) = run(&strs(&cmd));
    assert_eq!(code, 0, "{err}");
    let btid_b = json(&out)["btid"].as_str().expect("btid").to_string();
    assert_ne!(btid_a, btid_b);
    // A new bootstrap of the IMPI supersedes its older contexts at the BSF.
    assert_eq!(bsf.contexts(), 1);

    // Our NAF derivation with the cached context: noticed, one new bootstrap, the right key.
    let cmd = with(
        &["psk", "--naf", "naf.example.com", "--reveal", "--json"],
        &a,
    );
    let (code, out, err) = run_env(&strs(&cmd), &[("RUST_LOG", "info")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("cached GBA_U context {btid_a} not used"))
            && err.contains("holds another RAND"),
        "INFO line naming why: {err}"
    );
    let psk = json(&out);
    let btid_c = psk["btid"].as_str().expect("btid").to_string();
    assert!(btid_c != btid_a && btid_c != btid_b, "a new bootstrap");
    assert_eq!(bsf.contexts(), 1, "the newest context only");
    assert_eq!(
        err.matches("not used").count(),
        1,
        "exactly one bootstrap more: {err}"
    );
    let (status, key) = key_api(
        bsf.addr(),
        Some(TOKEN),
        // `psk` answers for the bridge's first suite, ECDHE_PSK AES-128-CCM-8 (Ua id ..d003).
        &key_request(&btid_c, "naf.example.com", "010001d003"),
    );
    assert_eq!(status, 200, "{key}");
    assert_eq!(psk["psk"], key["meKeyMaterial"], "the key the BSF gives");

    // The card kept the NAF derivation in EF_GBANL under the new B-TID.
    let (bp, list) = card_files(&card);
    assert_eq!(String::from_utf8_lossy(&bp.btid), btid_c);
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0].0.starts_with(b"naf.example.com"));
    assert_eq!(String::from_utf8_lossy(&list[0].1), btid_c);

    // Unchanged card: the cache is used again, no bootstrap.
    let (code, out, err) = run_env(&strs(&cmd), &[("RUST_LOG", "info")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["psk"], key["meKeyMaterial"]);
    assert_eq!(bsf.contexts(), 1, "{err}");
}

/// A card channel that records each command's header (CLA INS P1 P2, Lc) and the status word.
struct Tracing {
    inner: simbridge_lab::softsim::SoftUsim,
    log: Vec<String>,
}

impl simbridge::card::CardChannel for Tracing {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, simbridge::card::CardError> {
        let r = self.inner.process(apdu);
        let head: Vec<String> = apdu.iter().take(5).map(|b| format!("{b:02X}")).collect();
        // The data of SELECT and UPDATE BINARY is not secret; show the FID / the first bytes.
        let data = match apdu.get(1) {
            Some(0xA4) => hex::encode_upper(apdu.get(5..apdu.len().min(12)).unwrap_or_default()),
            Some(0xD6) | Some(0xB0) => {
                hex::encode_upper(apdu.get(5..apdu.len().min(9)).unwrap_or_default())
            }
            Some(0x88) => hex::encode_upper(apdu.get(5..6).unwrap_or_default()) + "…",
            _ => String::new(),
        };
        self.log.push(format!(
            "{} {data} -> {:02X}{:02X}",
            head.join(" "),
            r[r.len() - 2],
            r[r.len() - 1]
        ));
        Ok(r)
    }
    fn reset(&mut self) -> Result<Vec<u8>, simbridge::card::CardError> {
        simbridge::card::CardChannel::reset(&mut self.inner)
    }
    fn describe(&self) -> String {
        "tracing soft USIM".into()
    }
}

/// `naf_key` for naf.example.com (TLS_PSK_WITH_AES_128_CCM_8) with a fresh cache.
fn naf_key_for(
    card: &mut dyn simbridge::gba::AkaCard,
    bsf: &TestBsf,
) -> (simbridge::gba::Obtained, simbridge::secret::Secret<32>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = simbridge::gba::ContextCache::new(dir.path());
    let naf =
        simbridge::gba::NafId::new("naf.example.com", simbridge::gba::UaId::tls12_suite(0xC0A8))
            .expect("naf");
    simbridge::gba::naf_key(
        card,
        &mut simbridge::gba::UreqTransport::new(std::time::Duration::from_secs(10)),
        &simbridge::gba::UbConfig::new(&bsf.url()),
        &simbridge::gba::CacheUse {
            cache: &cache,
            policy: simbridge::gba::ReusePolicy::default(),
            any_bsf: false,
        },
        bsf.clock.now(),
        &naf,
    )
    .expect("key")
}

/// A card whose IMPI comes from its ISIM runs GBA in the ISIM: AKA there (GBA_U: its GBA context
/// and its EF_GBABP '6FD5'), so the keys belong to the IMPI the BSF is told.
#[test]
fn gba_runs_in_the_isim_when_the_impi_comes_from_it() {
    const ISIM_IMPI: &str = "card-isim@ims.mnc001.mcc001.3gppnetwork.org";
    for gba_u in [true, false] {
        let text = format!(
            "{}impi = \"{ISIM_IMPI}\"\n",
            profile_text(K, "000000000000", gba_u)
        );
        let bsf = start_bsf_with_profile(&text, |_| {});
        let profile =
            simbridge_lab::softsim::Profile::parse(&text, Path::new("isim.toml")).expect("profile");
        let inner = simbridge_lab::softsim::SoftUsim::from_profile(profile, None).expect("card");
        let mut card = simbridge::uicc::Uicc::open(
            Tracing {
                inner,
                log: Vec::new(),
            },
            None,
        )
        .expect("opens");
        assert_eq!(card.impi(), ISIM_IMPI);
        assert_eq!(card.gba_app(), simbridge::uicc::gba_files::GbaApp::Isim);
        let opened = card.channel().log.len();
        let (got, key) = naf_key_for(&mut card, &bsf);
        assert_eq!(got.context.impi, ISIM_IMPI);
        let trace = card.channel().log[opened..].to_vec();
        let select_isim = trace
            .iter()
            .position(|l| l.starts_with("00 A4 04") && l.contains("A0000000871004"))
            .unwrap_or_else(|| panic!("ISIM selected: {trace:#?}"));
        let p2 = if gba_u { "84" } else { "81" };
        let auth = trace
            .iter()
            .position(|l| l.starts_with(&format!("00 88 00 {p2}")))
            .unwrap_or_else(|| panic!("AUTHENTICATE: {trace:#?}"));
        assert!(select_isim < auth, "AKA in the ISIM: {trace:#?}");
        assert!(
            !trace[select_isim..]
                .iter()
                .any(|l| l.contains("A0000000871002")),
            "the USIM is not selected again: {trace:#?}"
        );
        if gba_u {
            assert!(
                trace.iter().any(|l| l.contains(" 6FD5")),
                "ISIM EF_GBABP: {trace:#?}"
            );
        }
        let (status, json) = key_api(
            bsf.addr(),
            Some(TOKEN),
            &key_request(&got.context.btid, "naf.example.com", "010001c0a8"),
        );
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["meKeyMaterial"], hex::encode(key.expose()));
    }
}

/// The APDUs of one GBA_U bootstrap and NAF derivation (run with `--nocapture` to see them):
/// AUTHENTICATE in the GBA context (P2 84, tag DD), EF_GBABP read and its B-TID written with
/// UPDATE BINARY after RAND, then AUTHENTICATE in NAF derivation mode (tag DE).
#[test]
fn apdu_trace_of_a_gba_u_bootstrap_and_naf_derivation() {
    let bsf = start_bsf_with_profile(&profile_text(K, "000000000000", true), |_| {});
    let profile = simbridge_lab::softsim::Profile::parse(
        &profile_text(K, "000000000000", true),
        Path::new("card.toml"),
    )
    .expect("profile");
    let inner = simbridge_lab::softsim::SoftUsim::from_profile(profile, None).expect("card");
    let mut card = simbridge::uicc::Uicc::open(
        Tracing {
            inner,
            log: Vec::new(),
        },
        None,
    )
    .expect("opens");
    let opened = card.channel().log.len();
    let (got, _key) = naf_key_for(&mut card, &bsf);
    assert!(got.bootstrapped);
    let trace = card.channel().log[opened..].to_vec();
    println!("GBA_U bootstrap + NAF derivation, after the USIM is selected:");
    for l in &trace {
        println!("  {l}");
    }
    let ins: Vec<&str> = trace.iter().map(|l| &l[3..5]).collect();
    let pos = |p: &dyn Fn(&String) -> bool| trace.iter().position(p).expect("present");
    let boot = pos(&|l| l.starts_with("00 88 00 84") && l.contains(" DD"));
    let write = pos(&|l| l.starts_with("00 D6 00 11"));
    let derive = pos(&|l| l.starts_with("00 88 00 84") && l.contains(" DE"));
    assert!(boot < write && write < derive, "{trace:#?}");
    // Only T=0 procedure bytes (61xx, 6Cxx) and 9000: no command failed.
    assert!(
        trace
            .iter()
            .all(|l| l.ends_with("9000") || l.contains("-> 61") || l.contains("-> 6C")),
        "{trace:#?}"
    );
    assert!(
        !ins.contains(&"70"),
        "no logical channel needed on a reader"
    );
}
