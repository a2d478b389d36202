//! Ub product tokens on the wire (TS 33.220 §4.5.2): the real `simbridge bootstrap` process talks
//! to a real BSF through a TCP relay that records every byte, and every Ub request carries
//! `3gpp-gba-tmpi` in User-Agent (and `3gpp-gba-uicc` for GBA_U), every BSF answer
//! `3gpp-gba-tmpi` in Server.

mod gba_support;
mod support;

use gba_support::*;
use support::{json, run};

fn bootstrap_through_relay(card_gba_u: bool, card_sqn: &str) -> (Vec<String>, Vec<String>) {
    let bsf = start_bsf_with_profile(&profile_text(K, "000000000000", card_gba_u), |_| {});
    let relay = RecordingRelay::start(bsf.addr());
    let dir = tempfile::tempdir().expect("tempdir");
    let card = dir.path().join("card.toml");
    std::fs::write(&card, profile_text(K, card_sqn, card_gba_u)).expect("card");
    let url = relay.url();
    let state = dir.path().join("state");
    let (code, out, err) = run(&[
        "bootstrap",
        "--json",
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        &url,
        "--state",
        state.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["bootstrapped"], true);
    (relay.heads(true), relay.heads(false))
}

fn tokens(head: &str, header: &str) -> Vec<String> {
    head_header(head, header)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_ub_request_carries_the_tmpi_token() {
    // GBA_ME card one SEQ range ahead of the HSS: first GET, AUTS, the answer = 3 requests.
    let (requests, responses) = bootstrap_through_relay(false, "000000100000");
    assert_eq!(
        requests.len(),
        3,
        "first GET, resync, answer: {requests:#?}"
    );
    for r in &requests {
        assert!(r.starts_with("GET "), "{r}");
        let ua = tokens(r, "user-agent");
        assert!(ua.iter().any(|t| t == "3gpp-gba-tmpi"), "{r}");
        assert!(!ua.iter().any(|t| t == "3gpp-gba-uicc"), "GBA_ME: {r}");
    }
    assert_eq!(responses.len(), requests.len(), "{responses:#?}");
    for r in &responses {
        assert!(
            tokens(r, "server").iter().any(|t| t == "3gpp-gba-tmpi"),
            "{r}"
        );
    }

    // GBA_U card: both tokens on every request.
    let (requests, responses) = bootstrap_through_relay(true, "000000000000");
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for r in &requests {
        let ua = tokens(r, "user-agent");
        assert!(ua.iter().any(|t| t == "3gpp-gba-tmpi"), "{r}");
        assert!(ua.iter().any(|t| t == "3gpp-gba-uicc"), "GBA_U: {r}");
    }
    for r in &responses {
        assert!(
            tokens(r, "server").iter().any(|t| t == "3gpp-gba-tmpi"),
            "{r}"
        );
    }
}
