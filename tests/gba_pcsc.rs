//! GBA through real PC/SC: `simbridge softsim serve` attaches the software USIM to pcscd via the
//! vsmartcard vpcd reader, and `simbridge bootstrap|psk --reader` bootstraps against our BSF with
//! it. The PSK must equal the key API's. Needs pcscd with vpcd (scripts/test starts it).
//!
//! vpcd's one reader is shared by every PC/SC test on the machine: this test holds
//! support::vpcd's machine-wide lock while it uses it.
#![cfg(feature = "pcsc")]

mod gba_support;
mod support;

use gba_support::*;
use support::vpcd::{READER, ReaderLock, pcscd_ready, serve};
use support::{json, run};

#[test]
fn bootstrap_and_psk_through_pcscd_match_the_key_api() {
    if !pcscd_ready() {
        return;
    }
    let _lock = ReaderLock::take();
    let bsf = TestBsf::start(K, "000000000000");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = bsf.url();
    for (gba_u, mode) in [(false, "GBA_ME"), (true, "GBA_U")] {
        let card = dir.path().join(format!("card-{mode}.toml"));
        std::fs::write(&card, profile_text(K, "000000000000", gba_u)).expect("card");
        // A fresh card accepts the SEQ the HSS has reached (within Δ).
        let state = dir.path().join(format!("state-{mode}"));
        let _card = serve(&card);
        let common = [
            "--reader",
            READER,
            "--bsf",
            &url,
            "--state",
            state.to_str().expect("utf8"),
        ];
        let (code, out, err) = run(&[&["bootstrap", "--json"][..], &common].concat());
        assert_eq!(code, 0, "{mode}: {err}");
        let b = json(&out);
        assert_eq!(b["mode"], mode);
        let btid = b["btid"].as_str().expect("btid").to_string();
        let (code, out, err) = run(&[
            &["psk", "--naf", "naf.example.com", "--reveal", "--json"][..],
            &common,
        ]
        .concat());
        assert_eq!(code, 0, "{mode}: {err}");
        let p = json(&out);
        // The card keeps its GBA_U Ks while `softsim serve` runs, so the cached context is reused.
        assert_eq!(
            p["identity"],
            format!("3GPP-bootstrapping.{btid}"),
            "{mode}"
        );
        let (status, api) = key_api(
            bsf.addr(),
            Some(TOKEN),
            // `psk` answers for the bridge's first suite, ECDHE_PSK AES-128-CCM-8 (Ua id ..d003).
            &key_request(&btid, "naf.example.com", "010001d003"),
        );
        assert_eq!(status, 200, "{api}");
        assert_eq!(api["meKeyMaterial"], p["psk"], "{mode}");
    }
}
