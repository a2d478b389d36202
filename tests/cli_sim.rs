//! The `sim` and `demo` commands as a user runs them: outputs, JSON keys and exit codes.

mod common;
mod support;

use common::*;

#[test]
fn sim_aka_json_matches_ts35208_sets() {
    let dir = tempfile::tempdir().expect("tempdir");
    for s in ts35208() {
        let p = profile_copy(dir.path(), &format!("ts35208-set{}.toml", s.number));
        let p = p.to_str().expect("utf8");
        let o = simbridge(&[
            "sim",
            "aka",
            "--softsim",
            p,
            "--rand",
            &s.rand,
            "--autn",
            &set_autn(&s),
            "--json",
        ]);
        assert!(
            o.status.success(),
            "set {}: {}",
            s.number,
            String::from_utf8_lossy(&o.stderr)
        );
        let v = json_out(&o);
        assert_eq!(v["res"], s.f2.as_str(), "set {}", s.number);
        assert_eq!(v["ck"], s.f3.as_str());
        assert_eq!(v["ik"], s.f4.as_str());
        assert!(
            v["kc"].is_string(),
            "the card offers GSM access, so Kc is there"
        );
    }
}

#[test]
fn sim_aka_text_output_and_pysim_kc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = &aka_cases()[0];
    let p = case_profile(dir.path(), c, "pysim.toml");
    let o = simbridge(&[
        "sim",
        "aka",
        "--softsim",
        p.to_str().expect("utf8"),
        "--rand",
        &c.rand,
        "--autn",
        &c.autn,
    ]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("RES  {}", c.res)), "{text}");
    assert!(
        text.contains(&format!("Kc   {}", c.kc.as_deref().expect("kc"))),
        "{text}"
    );
}

#[test]
fn sync_failure_exits_2_with_auts_and_mac_failure_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = &ts35208()[4];
    let p = profile_copy(dir.path(), "ts35208-set5.toml");
    let p = p.to_str().expect("utf8");
    let autn = set_autn(s);
    let args = [
        "sim",
        "aka",
        "--softsim",
        p,
        "--rand",
        &s.rand,
        "--autn",
        &autn,
        "--json",
    ];
    assert!(simbridge(&args).status.success());
    let replay = simbridge(&args);
    assert_eq!(
        replay.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let auts = json_out(&replay)["auts"]
        .as_str()
        .expect("auts key")
        .to_string();
    assert_eq!(auts.len(), 28);
    let keys = simbridge::aka::SubscriberKeys::from_op(h(&s.k), h(&s.op));
    assert_eq!(
        keys.verify_auts(&h(&s.rand), &h(&auts)),
        Some(u64::from_str_radix(&s.sqn, 16).expect("sqn"))
    );

    let mut bad = h::<16>(&autn);
    bad[15] ^= 0x01;
    let o = simbridge(&[
        "sim",
        "aka",
        "--softsim",
        p,
        "--rand",
        &s.rand,
        "--autn",
        &hex::encode(bad),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("network authentication failed (MAC)"));
    // With --json, scripts get an object on stdout for this outcome too.
    let o = simbridge(&[
        "sim",
        "aka",
        "--softsim",
        p,
        "--rand",
        &s.rand,
        "--autn",
        &hex::encode(bad),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let v = json_out(&o);
    assert_eq!(v["result"], "mac_failure");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("MAC")));
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "ts35208-set1.toml");
    let p = p.to_str().expect("utf8");
    let o = simbridge(&[
        "sim",
        "aka",
        "--softsim",
        p,
        "--rand",
        "abc",
        "--autn",
        "00",
    ]);
    assert_eq!(
        o.status.code(),
        Some(64),
        "a bad option value is a usage error"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--rand"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = simbridge(&[
        "sim",
        "aka",
        "--softsim",
        p,
        "--rand",
        &"00".repeat(16),
        "--autn",
        "00",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--autn: expected 32 hex digits, got 2"));

    let broken = write_file(
        dir.path(),
        "broken.toml",
        "iccid = \"8988211000000000001\"\nimsi = \"00101\"\n",
    );
    let o = simbridge(&["sim", "info", "--softsim", broken.to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("broken.toml") && err.contains("`imsi`"),
        "{err}"
    );

    let o = simbridge(&["sim", "info"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no card source"));
    let o = simbridge(&["sim", "info", "--softsim", "/nonexistent/x.toml"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.toml"));
}

#[test]
fn sim_info_reports_isim_and_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "demo-isim.toml");
    let p = p.to_str().expect("utf8");
    // Without the PIN: what the card shows without it, and the PIN state (no PIN try spent).
    let o = simbridge(&["sim", "info", "--softsim", p, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json_out(&o);
    assert_eq!(v["pin1"]["state"], "required");
    assert_eq!(v["pin1"]["tries_left"], 3);
    assert!(v["iccid"].as_str().is_some(), "{v}");
    assert_eq!(v["applications"].as_array().map(|a| a.len()), Some(2));
    assert!(
        v["locked"]
            .as_str()
            .is_some_and(|l| l.contains("requires PIN1 (3 tries left)") && l.contains("--pin")),
        "{v}"
    );
    assert!(v.get("imsi").is_none(), "the IMSI needs the PIN: {v}");
    let o = simbridge(&["sim", "info", "--softsim", p]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        text.contains("PIN1         required (3 tries left)"),
        "{text}"
    );
    assert!(text.contains("IMSI         (locked)"), "{text}");
    let o = simbridge(&["sim", "info", "--softsim", p, "--pin", "1234", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json_out(&o);
    assert_eq!(v["impi"], "demo-isim@ims.mnc001.mcc001.3gppnetwork.org");
    assert_eq!(v["impi_source"], "isim");
    assert_eq!(v["applications"].as_array().map(|a| a.len()), Some(2));
    assert_eq!(v["gba_u"], false);
    let o = simbridge(&[
        "sim",
        "info",
        "--softsim",
        &profile_copy(dir.path(), "demo.toml").to_string_lossy(),
        "--json",
    ]);
    let v = json_out(&o);
    assert_eq!(v["gba_u"], true);
    assert_eq!(v["mnc"], "01");
    assert_eq!(
        v["impi"],
        "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
    );
}

#[test]
fn demo_runs_the_whole_chain_and_reports() {
    let o = simbridge(&["demo", "--json", "--messages", "20"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json_out(&o);
    assert_eq!(v["messages"], 20);
    assert_eq!(v["bootstraps"], 1, "one AKA for the whole run");
    assert_eq!(
        v["handshakes"]["full"], 1,
        "one DTLS handshake for all messages"
    );
    assert_eq!(v["handshakes"]["server_side"], 1);
    assert_eq!(v["dropped"], 0);
    let per = v["per_message_bytes"].as_f64().unwrap_or(f64::MAX);
    let naive = v["naive_per_message_bytes"].as_f64().unwrap_or(0.0);
    assert!(
        per < naive,
        "long-lived session ({per} B) must beat a handshake per message ({naive} B)"
    );
    let text = simbridge(&["demo", "--messages", "3"]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("| CoAP messages answered | 3 of 3"));
}

#[test]
fn demo_with_oscore_establishes_once_and_costs_less_per_message_than_dtls() {
    let run = |extra: &[&str]| {
        let mut a = vec!["demo", "--json", "--messages", "20"];
        a.extend_from_slice(extra);
        let o = simbridge(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        json_out(&o)
    };
    let v = run(&["--protection", "oscore"]);
    assert_eq!(v["protection"], "oscore");
    assert_eq!(v["messages"], 20);
    assert_eq!(v["bootstraps"], 1);
    assert_eq!(v["establishments"]["gateway"], 1);
    assert_eq!(v["establishments"]["server_side"], 1);
    assert_eq!(v["handshakes"]["full"], 0, "no DTLS handshake with OSCORE");
    assert_eq!(v["dropped"], 0);
    // RFC 8613 with a 1-byte kid and short partial IVs: 14 B on a request, 11 B on a response.
    let overhead = v["overhead_per_message"].as_f64().unwrap_or(0.0);
    assert!(
        (20.0..=30.0).contains(&overhead),
        "OSCORE overhead per exchange: {overhead} B"
    );
    let dtls = run(&[]);
    let (o, d) = (
        v["per_message_bytes"].as_f64().unwrap_or(f64::MAX),
        dtls["per_message_bytes"].as_f64().unwrap_or(0.0),
    );
    assert!(o < d, "OSCORE {o} B per message, DTLS {d} B");
}

#[test]
fn demo_with_dtls13_keeps_one_session_and_costs_less_per_message_than_dtls12() {
    let run = |v: &str| {
        let o = simbridge(&["demo", "--json", "--messages", "20", "--dtls", v]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        json_out(&o)
    };
    let v13 = run("1.3");
    assert_eq!(v13["dtls"], "1.3");
    assert_eq!(v13["messages"], 20);
    assert_eq!(v13["bootstraps"], 1, "one AKA for the whole run");
    assert_eq!(v13["handshakes"]["full"], 1, "one DTLS 1.3 handshake");
    assert_eq!(v13["handshakes"]["server_side"], 1);
    assert_eq!(v13["dropped"], 0);
    // 20 exchanges of 16 B: 1.3 records cost 11 B (+ the CID) against 1.2's 29 B (+ the CID)
    let overhead = |v: &serde_json::Value| v["bytes_on_air"]["overhead"].as_f64().unwrap_or(0.0);
    let v12 = run("1.2");
    assert_eq!(v12["dtls"], "1.2");
    assert!(
        overhead(&v13) * 2.0 < overhead(&v12),
        "record overhead: 1.3 {} B, 1.2 {} B",
        overhead(&v13),
        overhead(&v12)
    );
    let o = simbridge(&["demo", "--dtls", "auto"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--dtls"));
}
