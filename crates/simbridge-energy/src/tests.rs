//! Unit tests of the energy model: the equations on hand-checked numbers, monotonicity, the
//! ordering of strategies, and the override paths.

use super::input::{apply_params_toml, apply_results_json, parse_setting, set_param};
use super::*;

fn model(radio: Radio, coverage: Coverage, rai: bool) -> Model {
    Model::new(radio, coverage, rai)
}

fn row(m: &Model, key: &str) -> Projection {
    let r = m.run().expect("model runs");
    r.row(key).cloned().unwrap_or_else(|| panic!("row {key}"))
}

fn energy(m: &Model, key: &str) -> f64 {
    row(m, key).energy_per_message_j
}

/// `m` with the Ub bootstrap set to nothing (a key provisioned once).
fn without_bootstrap(m: &Model) -> Model {
    let mut none = m.clone();
    for k in [
        "bootstrap_bytes_up",
        "bootstrap_bytes_down",
        "bootstrap_round_trips",
    ] {
        set_param(&mut none, k, 0.0, "test").expect(k);
    }
    none
}

const RADIOS: [Radio; 2] = [Radio::Nbiot, Radio::Ltem];
const COVERAGES: [Coverage; 3] = [Coverage::Normal, Coverage::Extended, Coverage::Extreme];
const DTLS12: [&str; 4] = [
    "full-per-message",
    "resume-per-message",
    "long-lived",
    "long-lived-cid",
];

#[test]
fn equations_on_hand_checked_numbers() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    for (k, v) in [
        ("supply_v", 2.0),
        ("psm_ua", 1.0),
        ("board_ua", 0.0),
        ("setup_j", 0.5),
        ("tx_ma.normal", 100.0),
        ("rx_ma", 50.0),
        ("byte_up_ms.normal", 1.0),
        ("byte_down_ms.normal", 2.0),
        ("rtt_s.normal", 1.0),
        ("tail_s", 10.0),
        ("tail_ma", 10.0),
        ("payload_bytes", 72.0),
        ("coap_request_bytes", 0.0),
        ("response_bytes", 10.0),
        ("ip_udp_bytes", 28.0),
        ("messages_per_day", 24.0),
        // the bootstrap has its own hand-checked test below
        ("bootstrap_bytes_up", 0.0),
        ("bootstrap_bytes_down", 0.0),
        ("bootstrap_round_trips", 0.0),
    ] {
        set_param(&mut m, k, v, "test").expect(k);
    }
    let r = m.run().expect("runs");
    let plain = &r.rows[0];
    // Up: 72 + 28 = 100 B -> 0.1 s at 100 mA, 2 V = 0.02 J. Down: 10 + 28 = 38 B -> 0.076 s at
    // 50 mA = 0.0076 J. One RTT: 1 s at 50 mA = 0.1 J. Tail: 10 s at 10 mA = 0.2 J. Setup 0.5 J.
    let b = plain.breakdown;
    assert!((b.tx_j - 0.02).abs() < 1e-12, "{b:?}");
    assert!((b.rx_j - 0.0076).abs() < 1e-12, "{b:?}");
    assert!((b.wait_j - 0.1).abs() < 1e-12, "{b:?}");
    assert!((b.tail_j - 0.2).abs() < 1e-12, "{b:?}");
    assert!((b.setup_j - 0.5).abs() < 1e-12, "{b:?}");
    assert_eq!(b.tau_j, 0.0);
    let e = 0.8276;
    assert!((plain.energy_per_message_j - e).abs() < 1e-12);
    // Average power: 24 events a day plus 1 uA at 2 V.
    let p_w = e * 24.0 / 86_400.0 + 2e-6;
    assert!((plain.average_power_uw - p_w * 1e6).abs() < 1e-9);
    assert!((plain.average_current_ua - p_w / 2.0 * 1e6).abs() < 1e-9);
    let years = 5.0 * 3600.0 / p_w / (365.0 * 86_400.0);
    assert!((plain.battery_life_years - years).abs() < 1e-9);
    assert_eq!(plain.meets_3gpp_target, years >= 10.0);
    // Full handshake per message: 625 B + 6 datagrams + 3 RTT + 29 B per record each way.
    let full = r
        .rows
        .iter()
        .find(|p| p.strategy == "full-per-message")
        .expect("row");
    let up_extra = 379.0 + 3.0 * 28.0 + 29.0;
    let down_extra = 246.0 + 3.0 * 28.0 + 29.0;
    let extra = 2.0 * 0.1 * up_extra / 1e3 + 2.0 * 0.05 * down_extra * 2.0 / 1e3 + 2.0 * 0.05 * 3.0;
    assert!((full.security_overhead_j - extra).abs() < 1e-9, "{full:?}");
    assert!((full.on_air.bytes_up - (100.0 + up_extra)).abs() < 1e-9);
    assert_eq!(full.on_air.round_trips, 4.0);
}

#[test]
fn more_bytes_cost_more_energy() {
    for radio in RADIOS {
        for cov in COVERAGES {
            let small = model(radio, cov, false);
            let mut big = small.clone();
            set_param(&mut big, "payload_bytes", 500.0, "test").expect("set");
            for key in DTLS12.iter().chain(&["plain"]) {
                assert!(
                    energy(&big, key) > energy(&small, key),
                    "{radio} {cov} {key}: a bigger payload must cost more"
                );
            }
            // More handshake bytes cost more too.
            let mut fat = small.clone();
            if let Some(s) = fat
                .strategies
                .strategies
                .get_mut(&StrategyId::FullPerMessage)
            {
                s.per_connection.bytes_up += 300.0;
                s.per_connection.bytes_down += 300.0;
            }
            assert!(energy(&fat, "full-per-message") > energy(&small, "full-per-message"));
        }
    }
}

#[test]
fn more_round_trips_cost_more_energy() {
    let m = model(Radio::Nbiot, Coverage::Normal, false);
    let mut slow = m.clone();
    if let Some(s) = slow
        .strategies
        .strategies
        .get_mut(&StrategyId::ResumePerMessage)
    {
        s.per_connection.round_trips += 1.0;
    }
    assert!(energy(&slow, "resume-per-message") > energy(&m, "resume-per-message"));
}

#[test]
fn rai_shortens_the_tail() {
    for cov in COVERAGES {
        let without = model(Radio::Nbiot, cov, false).run().expect("runs");
        let with = model(Radio::Nbiot, cov, true).run().expect("runs");
        for (a, b) in without.rows.iter().zip(&with.rows) {
            assert!(b.breakdown.tail_j < a.breakdown.tail_j, "{}", a.strategy);
            assert!(b.energy_per_message_j < a.energy_per_message_j);
            assert!(b.battery_life_years > a.battery_life_years);
        }
    }
    // LTE-M: RAI is assumed unavailable by default (the tail stays), but it is a parameter.
    let a = energy(
        &model(Radio::Ltem, Coverage::Normal, false),
        "long-lived-cid",
    );
    let b = energy(
        &model(Radio::Ltem, Coverage::Normal, true),
        "long-lived-cid",
    );
    assert_eq!(a, b);
    let mut m = model(Radio::Ltem, Coverage::Normal, true);
    set_param(&mut m, "rai_tail_s", 1.0, "test").expect("set");
    assert!(energy(&m, "long-lived-cid") < a);
}

#[test]
fn worse_coverage_costs_more() {
    for radio in RADIOS {
        let [n, e, x] = COVERAGES.map(|c| model(radio, c, false));
        for key in DTLS12.iter().chain(&["plain"]) {
            let (en, ee, ex) = (energy(&n, key), energy(&e, key), energy(&x, key));
            assert!(en < ee && ee < ex, "{radio} {key}: {en} {ee} {ex}");
        }
    }
}

#[test]
fn full_per_message_is_worst_and_long_lived_cid_best() {
    for radio in RADIOS {
        for cov in COVERAGES {
            for rai in [false, true] {
                // Rates at which the key (24 h) outlives the gap between messages.
                for per_day in [2.0, 24.0, 96.0, 1440.0] {
                    let mut m = model(radio, cov, rai);
                    set_param(&mut m, "messages_per_day", per_day, "test").expect("set");
                    let e: Vec<f64> = DTLS12.iter().map(|k| energy(&m, k)).collect();
                    let ctx = format!("{radio} {cov} rai={rai} {per_day}/day: {e:?}");
                    assert!(
                        e[1..].iter().all(|x| *x < e[0]),
                        "full must be worst: {ctx}"
                    );
                    assert!(e[..3].iter().all(|x| *x > e[3]), "CID must be best: {ctx}");
                }
            }
        }
    }
}

#[test]
fn cid_makes_nat_rebinding_free() {
    let mut often = model(Radio::Nbiot, Coverage::Normal, false);
    set_param(&mut often, "messages_per_day", 1440.0, "test").expect("set"); // every minute
    let mut rare = often.clone();
    set_param(&mut often, "nat_rebind_min", 2.0, "test").expect("set");
    set_param(&mut rare, "nat_rebind_min", 600.0, "test").expect("set");
    assert_eq!(
        energy(&often, "long-lived-cid"),
        energy(&rare, "long-lived-cid")
    );
    assert!(energy(&often, "long-lived") > energy(&rare, "long-lived"));
    // A message gap longer than the NAT timeout: every message pays a resumption without CID.
    let m = model(Radio::Nbiot, Coverage::Normal, false);
    let r = m.run().expect("runs");
    let ll = r
        .rows
        .iter()
        .find(|p| p.strategy == "long-lived")
        .expect("row");
    assert!((ll.handshakes_per_message - 1.0).abs() < 1e-12);
}

#[test]
fn a_full_handshake_after_rebinding_costs_more_than_resuming() {
    let m = model(Radio::Nbiot, Coverage::Extended, false);
    let mut full = m.clone();
    full.rebind_full = true;
    assert!(energy(&full, "long-lived") > energy(&m, "long-lived"));
    assert_eq!(
        energy(&full, "long-lived-cid"),
        energy(&m, "long-lived-cid")
    );
    assert_eq!(full.run().expect("runs").rebind_handshake, "full");
}

#[test]
fn key_lifetime_amortises_the_full_handshake() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    set_param(&mut m, "messages_per_day", 24.0, "test").expect("set");
    let r = m.run().expect("runs");
    let cid = r
        .rows
        .iter()
        .find(|p| p.strategy == "long-lived-cid")
        .expect("row");
    assert!((cid.handshakes_per_message - 1.0 / 24.0).abs() < 1e-12);
    // A message gap as long as the key: every message needs a full handshake, CID or not.
    set_param(&mut m, "messages_per_day", 1.0, "test").expect("set");
    let r = m.run().expect("runs");
    let cid = r
        .rows
        .iter()
        .find(|p| p.strategy == "long-lived-cid")
        .expect("row");
    assert!((cid.handshakes_per_message - 1.0).abs() < 1e-12);
}

#[test]
fn more_messages_shorten_battery_life_and_bigger_batteries_extend_it() {
    let mut a = model(Radio::Ltem, Coverage::Normal, false);
    let mut b = a.clone();
    set_param(&mut a, "messages_per_day", 4.0, "test").expect("set");
    set_param(&mut b, "messages_per_day", 48.0, "test").expect("set");
    let (ra, rb) = (a.run().expect("runs"), b.run().expect("runs"));
    for (x, y) in ra.rows.iter().zip(&rb.rows) {
        assert!(x.battery_life_years > y.battery_life_years);
    }
    set_param(&mut a, "battery_wh", 10.0, "test").expect("set");
    let rc = a.run().expect("runs");
    for (x, y) in ra.rows.iter().zip(&rc.rows) {
        assert!((y.battery_life_years - 2.0 * x.battery_life_years).abs() < 1e-9);
        // The 3GPP check always uses 5 Wh.
        assert_eq!(x.battery_life_years_5wh, y.battery_life_years_5wh);
    }
    set_param(&mut a, "self_discharge_pct_per_year", 2.0, "test").expect("set");
    let rd = a.run().expect("runs");
    assert!(rd.rows[0].battery_life_years < rc.rows[0].battery_life_years);
}

#[test]
fn rare_messages_pay_for_periodic_taus() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    set_param(&mut m, "messages_per_day", 0.25, "test").expect("set"); // every 4 days
    let r = m.run().expect("runs");
    // T3412 = 24 h: three TAUs between two messages.
    assert!((r.rows[0].breakdown.tau_j - 3.0 * 0.4).abs() < 1e-9);
}

#[test]
fn overhead_is_relative_to_the_plain_exchange() {
    let r = model(Radio::Nbiot, Coverage::Normal, false)
        .run()
        .expect("runs");
    assert!(r.rows[0].reference && r.rows[0].security_overhead_j == 0.0);
    for p in &r.rows[1..] {
        let d = p.energy_per_message_j - r.rows[0].energy_per_message_j;
        assert!((p.security_overhead_j - d).abs() < 1e-12);
        assert!(p.security_overhead_pct > 0.0 && p.security_overhead_pct < 100.0);
    }
}

#[test]
fn every_default_cites_a_source() {
    for radio in RADIOS {
        let m = model(radio, Coverage::Normal, false);
        for p in m.radio.params().iter().chain(m.scenario.params().iter()) {
            assert!(p.value.source.len() > 10, "{}: no source", p.key);
            assert!(!p.value.source.starts_with("override"), "{}", p.key);
        }
        for s in m.strategies.strategies.values() {
            assert!(s.source.starts_with("published:"), "{}", s.source);
        }
    }
}

#[test]
fn dtls13_rows_exist_only_when_given() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    let keys: Vec<String> = m
        .run()
        .expect("runs")
        .rows
        .into_iter()
        .map(|p| p.strategy)
        .collect();
    assert!(!keys.iter().any(|k| k.starts_with("dtls13")), "{keys:?}");
    let json = r#"{"format": "simbridge-energy-input/1", "source": "bench",
      "strategies": {"dtls13-0rtt": {
        "per_connection": {"bytes_up": 185, "bytes_down": 146, "datagrams_up": 2, "datagrams_down": 1, "round_trips": 0},
        "per_message": {"bytes_up": 11, "bytes_down": 11, "datagrams_up": 0, "datagrams_down": 0, "round_trips": 0}}}}"#;
    apply_results_json(&mut m, json, "r.json").expect("valid file");
    let r = m.run().expect("runs");
    let row = r
        .rows
        .iter()
        .find(|p| p.strategy == "dtls13-0rtt")
        .expect("0-RTT row");
    assert_eq!(row.figures_source, "measured: r.json (bench)");
    assert!(!r.rows.iter().any(|p| p.strategy == "dtls13-psk"));
    // The DTLS 1.2 rows keep their published figures.
    let full = r
        .rows
        .iter()
        .find(|p| p.strategy == "full-per-message")
        .expect("row");
    assert!(full.figures_source.starts_with("published:"));
}

#[test]
fn measured_figures_replace_published_ones() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    let before = energy(&m, "full-per-message");
    let json = r#"{"format": "simbridge-energy-input/1",
      "strategies": {"full-per-message": {
        "per_connection": {"bytes_up": 250, "bytes_down": 230, "datagrams_up": 3, "datagrams_down": 3, "round_trips": 3},
        "per_message": {"bytes_up": 29, "bytes_down": 29, "datagrams_up": 0, "datagrams_down": 0, "round_trips": 0}}}}"#;
    apply_results_json(&mut m, json, "r.json").expect("valid");
    assert!(energy(&m, "full-per-message") < before);
    // resume-per-message opens each key with the (now measured) full handshake.
    let full = m
        .strategies
        .key_change_handshake(StrategyId::ResumePerMessage);
    assert_eq!(full.bytes_up, 250.0);
}

#[test]
fn per_key_change_overrides_the_full_handshake() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    let json = r#"{"format": "simbridge-energy-input/1",
      "strategies": {"long-lived": {
        "per_connection": {"bytes_up": 100, "bytes_down": 100, "datagrams_up": 1, "datagrams_down": 1, "round_trips": 1},
        "per_message": {"bytes_up": 29, "bytes_down": 29, "datagrams_up": 0, "datagrams_down": 0, "round_trips": 0},
        "per_key_change": {"bytes_up": 1, "bytes_down": 2, "datagrams_up": 1, "datagrams_down": 1, "round_trips": 1}}}}"#;
    apply_results_json(&mut m, json, "r.json").expect("valid");
    assert_eq!(
        m.strategies
            .key_change_handshake(StrategyId::LongLived)
            .bytes_down,
        2.0
    );
}

fn results_err(json: &str) -> EnergyError {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    apply_results_json(&mut m, json, "R.json").expect_err("must be refused")
}

#[test]
fn bad_results_files_name_file_and_key() {
    let fig = r#"{"bytes_up": 1, "bytes_down": 1, "datagrams_up": 1, "datagrams_down": 1, "round_trips": 1}"#;
    let neg = r#"{"bytes_up": -1, "bytes_down": 1, "datagrams_up": 1, "datagrams_down": 1, "round_trips": 1}"#;
    let cases = [
        ("{not json", "R.json: not valid JSON"),
        ("[]", "R.json: key `(top level)`"),
        (r#"{"strategies": {}}"#, "R.json: key `format`: missing"),
        (
            r#"{"format": "v0", "strategies": {}}"#,
            "R.json: key `format`: expected",
        ),
        (
            r#"{"format": "simbridge-energy-input/1"}"#,
            "R.json: key `strategies`: missing",
        ),
        (
            &format!(
                r#"{{"format": "simbridge-energy-input/1", "strategies": {{"tls-per-message": {{"per_connection": {fig}, "per_message": {fig}}}}}}}"#
            ),
            "R.json: key `strategies.tls-per-message`: unknown strategy",
        ),
        (
            &format!(
                r#"{{"format": "simbridge-energy-input/1", "strategies": {{"long-lived": {{"per_connection": {neg}, "per_message": {fig}}}}}}}"#
            ),
            "R.json: key `strategies.long-lived.per_connection.bytes_up`: must be a non-negative number, got -1",
        ),
        (
            &format!(
                r#"{{"format": "simbridge-energy-input/1", "strategies": {{"long-lived": {{"per_connection": {fig}}}}}}}"#
            ),
            "R.json: key `strategies.long-lived.per_message`: missing",
        ),
        (
            r#"{"format": "simbridge-energy-input/1", "strategies": {"long-lived": {"per_connection": {"bytes_up": "5"}, "per_message": {}}}}"#,
            "R.json: key `strategies.long-lived.per_connection.bytes_up`: expected a number, got a string",
        ),
        (
            &format!(
                r#"{{"format": "simbridge-energy-input/1", "strategies": {{"long-lived": {{"per_connection": {fig}, "per_message": {fig}, "per_msg": {fig}}}}}}}"#
            ),
            "R.json: key `strategies.long-lived.per_msg`: unknown key",
        ),
        (
            r#"{"format": "simbridge-energy-input/1", "kind": "guessed", "strategies": {}}"#,
            "R.json: key `kind`",
        ),
    ];
    for (json, want) in cases {
        let e = results_err(json).to_string();
        assert!(e.starts_with(want), "{json}\n got: {e}\nwant: {want}");
    }
}

#[test]
fn params_file_overrides_and_rejects_unknown_keys() {
    let mut m = model(Radio::Nbiot, Coverage::Extended, false);
    let toml = r#"
[scenario]
messages_per_day = 12
[nbiot]
tail_s = 12
tx_ma = { extended = 150 }
[ltem.rtt_s]
normal = 0.1
"#;
    apply_params_toml(&mut m, toml, "p.toml").expect("valid");
    assert_eq!(m.scenario.messages_per_day.value, 12.0);
    assert_eq!(m.radio.tail_s.value, 12.0);
    assert_eq!(m.radio.tx_ma.extended.value, 150.0);
    assert_eq!(m.radio.tail_s.source, "override: p.toml: nbiot.tail_s");
    for (text, want) in [
        (
            "[nbiot]\ntail = 3\n",
            "p.toml: key `nbiot.tail`: unknown key",
        ),
        (
            "[ltem]\ntx_ma = { extrem = 3 }\n",
            "p.toml: key `ltem.tx_ma.extrem`: unknown key",
        ),
        (
            "[scenario]\nbattery_wh = -5\n",
            "p.toml: key `scenario.battery_wh`: must be greater than 0, got -5",
        ),
        (
            "[scenario]\nbattery_wh = \"big\"\n",
            "p.toml: key `scenario.battery_wh`: expected a number",
        ),
        (
            "[radio]\ntail_s = 3\n",
            "p.toml: key `radio`: unknown section",
        ),
        ("[scenario\n", "p.toml: not valid TOML"),
    ] {
        let e = apply_params_toml(&mut m.clone(), text, "p.toml")
            .expect_err(text)
            .to_string();
        assert!(e.starts_with(want), "{text}\n got: {e}\nwant: {want}");
    }
}

#[test]
fn settings_are_checked_and_name_their_origin() {
    let mut m = model(Radio::Ltem, Coverage::Normal, false);
    assert_eq!(
        parse_setting("tail_s = 30").expect("ok"),
        ("tail_s".into(), 30.0)
    );
    assert!(parse_setting("tail_s").is_err());
    assert!(parse_setting("tail_s=abc").is_err());
    let e =
        set_param(&mut m, "messages_per_day", -3.0, "--messages-per-day").expect_err("negative");
    assert_eq!(
        e.to_string(),
        "--messages-per-day: must be greater than 0, got -3"
    );
    let e = set_param(&mut m, "payload_bytes", f64::NAN, "--payload").expect_err("nan");
    assert!(
        e.to_string()
            .starts_with("--payload: must be a finite number")
    );
    let e = set_param(&mut m, "warp", 1.0, "--set warp").expect_err("unknown");
    assert!(e.to_string().contains("unknown parameter `warp`"), "{e}");
    // Models built in code are validated before they run.
    m.radio.tail_ma.value = -1.0;
    assert_eq!(
        m.run().expect_err("negative current").to_string(),
        "tail_ma: must not be negative, got -1"
    );
}

#[test]
fn radio_and_coverage_names() {
    assert_eq!("nbiot".parse::<Radio>().expect("ok"), Radio::Nbiot);
    assert_eq!("lte-m".parse::<Radio>().expect("ok"), Radio::Ltem);
    let e = "5g".parse::<Radio>().expect_err("unknown").to_string();
    assert_eq!(e, "--radio: unknown radio `5g` (expected nbiot or ltem)");
    assert!("deep".parse::<Coverage>().is_err());
    assert_eq!(
        "extreme".parse::<Coverage>().expect("ok"),
        Coverage::Extreme
    );
}

/// The fenced block of `lang` that follows `heading` in docs/energy.md.
fn doc_block<'a>(doc: &'a str, heading: &str, lang: &str) -> &'a str {
    let after = doc
        .split(heading)
        .nth(1)
        .expect("heading in docs/energy.md");
    let start = after
        .split(&format!("```{lang}\n"))
        .nth(1)
        .expect("code block");
    start.split("```").next().expect("closed block")
}

#[test]
fn documented_examples_are_accepted() {
    let doc = include_str!("../../../docs/energy.md");
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    let json = doc_block(doc, "### Results file", "json");
    apply_results_json(&mut m, json, "example.json").expect("the documented results file");
    let toml = doc_block(doc, "### Parameter file", "toml");
    apply_params_toml(&mut m, toml, "example.toml").expect("the documented parameter file");
    let published = include_str!("../../../docs/energy-dtls13-published.json");
    apply_results_json(&mut m, published, "docs/energy-dtls13-published.json")
        .expect("shipped file");
    let r = m.run().expect("runs");
    assert_eq!(r.rows.len(), 7, "reference + 4 DTLS 1.2 + 2 DTLS 1.3 rows");
    let psk = r
        .rows
        .iter()
        .find(|p| p.strategy == "dtls13-psk")
        .expect("row");
    assert!(
        psk.figures_source.starts_with("published: "),
        "{}",
        psk.figures_source
    );
}

#[test]
fn a_serialised_results_file_reads_back() {
    let mut f = ResultsFile::measured("bench test");
    let hs = Figures::new(300.0, 200.0, 3.0, 3.0, 3.0);
    let rec = Figures::new(29.0, 29.0, 0.0, 0.0, 0.0);
    f.insert(
        StrategyId::LongLivedCid,
        ResultsEntry {
            per_connection: hs,
            per_message: rec,
            per_key_change: None,
            source: Some("ours, CID 4 B".into()),
        },
    );
    let text = serde_json::to_string(&f).expect("serialises");
    let mut m = model(Radio::Ltem, Coverage::Normal, false);
    apply_results_json(&mut m, &text, "bench.json").expect("reads back");
    let s = &m.strategies.strategies[&StrategyId::LongLivedCid];
    assert_eq!(s.per_connection, hs);
    assert_eq!(s.per_message, rec);
    assert_eq!(s.source, "measured: bench.json (bench test): ours, CID 4 B");
}

#[test]
fn every_strategy_pays_one_bootstrap_per_key_lifetime() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    set_param(&mut m, "messages_per_day", 24.0, "test").expect("set");
    set_param(&mut m, "key_lifetime_h", 24.0, "test").expect("set");
    let none = without_bootstrap(&m);
    // One message an hour, a key a day: a 24th of a bootstrap per message, every strategy.
    let (up, down, rtt) = (955.0, 1111.0, 3.0);
    for key in DTLS12 {
        let (with, without) = (row(&m, key), row(&none, key));
        assert!(
            (with.bootstraps_per_message - 1.0 / 24.0).abs() < 1e-12,
            "{key}"
        );
        let d = |a: f64, b: f64| a - b;
        assert!((d(with.on_air.bytes_up, without.on_air.bytes_up) - up / 24.0).abs() < 1e-9);
        assert!((d(with.on_air.bytes_down, without.on_air.bytes_down) - down / 24.0).abs() < 1e-9);
        assert!((d(with.on_air.round_trips, without.on_air.round_trips) - rtt / 24.0).abs() < 1e-9);
        assert!(
            with.energy_per_message_j > without.energy_per_message_j,
            "{key}"
        );
    }
    // The reference has no key, so no bootstrap.
    let r = m.run().expect("runs");
    assert_eq!(r.rows[0].bootstraps_per_message, 0.0);
    assert_eq!(
        r.rows[0].energy_per_message_j,
        none.run().expect("runs").rows[0].energy_per_message_j
    );
}

#[test]
fn a_bootstrap_per_day_weighs_like_the_handshake_at_two_messages_a_day() {
    // The case the model used to leave out: two messages a day, a 24 h key. The bootstrap's
    // ~2 KB and 3 round trips cost about as much as the full DTLS handshake itself.
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    set_param(&mut m, "messages_per_day", 2.0, "test").expect("set");
    let with = row(&m, "long-lived-cid");
    let none = without_bootstrap(&m);
    let without = row(&none, "long-lived-cid");
    let bootstrap_j = with.energy_per_message_j - without.energy_per_message_j;
    let handshake_j = without.security_overhead_j;
    assert!(
        bootstrap_j > 0.5 * handshake_j && bootstrap_j < 3.0 * handshake_j,
        "bootstrap {bootstrap_j} J vs handshake and records {handshake_j} J"
    );
}

#[test]
fn the_key_lifetime_bound_is_where_the_security_share_crosses_the_goal() {
    let mut m = model(Radio::Nbiot, Coverage::Normal, false);
    set_param(&mut m, "messages_per_day", 24.0, "test").expect("set");
    // long-lived + CID pays its handshake and bootstrap once per key: the bound exists, and the
    // share is under the goal just above it and not just below, in several scenarios.
    for (radio, per_day) in [
        (Radio::Nbiot, 24.0),
        (Radio::Nbiot, 2.0),
        (Radio::Ltem, 24.0),
    ] {
        let mut m = model(radio, Coverage::Normal, false);
        set_param(&mut m, "messages_per_day", per_day, "test").expect("set");
        let key = "long-lived-cid";
        let KeyLifetimeBound::AtLeastHours(h) = row(&m, key).key_lifetime_for_goal else {
            panic!(
                "{radio} {per_day}: {:?}",
                row(&m, key).key_lifetime_for_goal
            );
        };
        let mut longer = m.clone();
        set_param(&mut longer, "key_lifetime_h", h * 1.01, "test").expect("set");
        let mut shorter = m.clone();
        set_param(&mut shorter, "key_lifetime_h", h * 0.99, "test").expect("set");
        let (l, s) = (row(&longer, key), row(&shorter, key));
        assert!(
            l.security_overhead_pct < SECURITY_SHARE_GOAL_PCT,
            "{radio} at {h} h: {l:?}"
        );
        assert!(
            s.security_overhead_pct >= SECURITY_SHARE_GOAL_PCT,
            "{radio} at {h} h: {s:?}"
        );
    }
    // A handshake before every message never gets under 10 %, however long the key lives: a
    // full one, or a resumption because every hourly message finds a new NAT binding.
    for key in ["full-per-message", "resume-per-message", "long-lived"] {
        assert_eq!(
            row(&m, key).key_lifetime_for_goal,
            KeyLifetimeBound::Never,
            "{key}"
        );
    }
    // A large payload makes security a small share even with a key per message.
    set_param(&mut m, "payload_bytes", 200_000.0, "test").expect("set");
    assert_eq!(
        row(&m, "long-lived-cid").key_lifetime_for_goal,
        KeyLifetimeBound::Any
    );
}

#[test]
fn lifetime_bounds_read_as_hours_or_days() {
    use super::report::fmt_lifetime;
    assert_eq!(fmt_lifetime(KeyLifetimeBound::Any), "any");
    assert_eq!(fmt_lifetime(KeyLifetimeBound::Never), "never");
    assert_eq!(
        fmt_lifetime(KeyLifetimeBound::AtLeastHours(5.01)),
        "≥ 5.1 h"
    );
    assert_eq!(fmt_lifetime(KeyLifetimeBound::AtLeastHours(30.2)), "≥ 31 h");
    assert_eq!(
        fmt_lifetime(KeyLifetimeBound::AtLeastHours(24.0 * 4.44)),
        "≥ 4.5 d"
    );
}
