//! GBA_U or GBA_ME is the BSF's decision from the subscriber's GBA security setting at the HSS
//! (TS 33.220 §5), not from the UE's User-Agent; the client follows what the BSF says it did.
//! Real HTTP on loopback, the software USIM behind the `uicc` layer.

mod gba_support;
mod support;

use gba_support::*;
use simbridge::gba::{self, GbaMode, NafId, UaId, UbConfig, UreqTransport};
use std::time::Duration;

fn bootstrap(bsf: &TestBsf, card: &mut dyn gba::AkaCard) -> gba::BootstrapContext {
    let mut t = UreqTransport::new(Duration::from_secs(10));
    gba::bootstrap(card, &mut t, &UbConfig::new(&bsf.url()), bsf.clock.now())
        .expect("bootstrap")
        .context
}

fn stored_gba_u(bsf: &TestBsf, btid: &str) -> bool {
    bsf.server
        .with_service(|s| match s.store().lookup(btid, bsf.clock.now()) {
            simbridge_lab::bsf::Lookup::Found(c) => c.gba_u,
            other => panic!("context {btid}: {other:?}"),
        })
}

#[test]
fn gba_u_card_with_a_gba_me_subscription_bootstraps_as_gba_me() {
    let profile = format!(
        "{}subscription_gba_u = false\n",
        profile_text(K, "000000000000", true)
    );
    let bsf = start_bsf_with_profile(&profile, |_| {});
    let mut card = soft_card(&profile_text(K, "000000000000", true));
    assert!(gba::AkaCard::supports_gba_u(&card), "the card can do GBA_U");
    let ctx = bootstrap(&bsf, &mut card);
    assert_eq!(ctx.mode, GbaMode::Me, "the subscription decides");
    assert!(ctx.ks.is_some(), "GBA_ME: Ks on the device");
    assert!(!stored_gba_u(&bsf, &ctx.btid), "the BSF stored GBA_ME");
    // The card ran the 3G context: it holds no GBA_U Ks.
    let naf = NafId::new("naf.example.com", UaId::tls12_suite(0xC0A8)).expect("naf");
    assert!(
        card.gba_naf_derive(&naf.to_bytes(), IMPI).is_err(),
        "no GBA bootstrap happened in the card"
    );
    // The key API agrees and has no Ks_int_NAF to give, even to a UICC-aware NAF.
    let key = ctx.naf_key(None, &naf).expect("Ks_NAF");
    let body = serde_json::json!({"btId": ctx.btid, "nafId": {"nafFqdn": "naf.example.com", "uaSecProtId": "010001c0a8"}, "gbaUAware": true});
    let (status, json) = key_api(bsf.addr(), Some(TOKEN), &body.to_string());
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["meKeyMaterial"], hex::encode(key.expose()));
    assert!(json["uiccKeyMaterial"].is_null(), "{json}");
}

#[test]
fn the_subscription_not_the_user_agent_decides_gba_u() {
    // GBA_U subscription, GBA_U card: GBA_U on both sides.
    let bsf = start_bsf_with_profile(&profile_text(K, "000000000000", true), |_| {});
    let mut card = soft_card(&profile_text(K, "000000000000", true));
    let ctx = bootstrap(&bsf, &mut card);
    assert_eq!(ctx.mode, GbaMode::U);
    assert!(stored_gba_u(&bsf, &ctx.btid));

    // A GBA_ME-only UE (no 3gpp-gba-uicc) cannot talk a GBA_U subscriber's BSF into GBA_ME, nor
    // a UE that says 3gpp-gba-uicc a GBA_ME subscriber's BSF into GBA_U: the Server header says
    // what the subscription gives, whatever the User-Agent.
    for (sub_u, ua) in [
        (true, "ue 3gpp-gba-tmpi"),
        (false, "ue 3gpp-gba-tmpi 3gpp-gba-uicc"),
    ] {
        let profile = format!(
            "{}subscription_gba_u = {sub_u}\n",
            profile_text(K, "000000000000", true)
        );
        let bsf = start_bsf_with_profile(&profile, |_| {});
        let auth = format!(
            "Digest username=\"{IMPI}\", realm=\"x\", nonce=\"\", uri=\"/\", response=\"\""
        );
        let (status, head, _) = get(bsf.addr(), &[("Authorization", &auth), ("User-Agent", ua)]);
        assert_eq!(status, 401, "{head}");
        let server = head_header(&head, "server").expect("Server header");
        let token = if sub_u {
            "3gpp-gba-uicc"
        } else {
            "simbridge-gba-me"
        };
        assert!(server.split_whitespace().any(|t| t == token), "{server}");
    }
}
