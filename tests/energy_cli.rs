//! `simbridge energy` as a user runs it: the table, the JSON keys, the SVG chart (parsed as XML),
//! measured figures from a results file, and bad input naming the flag, file and key.

mod common;
mod support;

use common::*;
use std::path::Path;

fn ok(args: &[&str]) -> String {
    let o = simbridge(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs with bad input: exit code 64 (usage error) and a message on stderr.
fn refused(args: &[&str]) -> String {
    let o = simbridge(args);
    assert_eq!(o.status.code(), Some(64), "{args:?} must be refused");
    assert!(o.stdout.is_empty(), "no table on bad input");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const RESULTS: &str = r#"{
  "format": "simbridge-energy-input/1",
  "source": "bench 2026-11-26",
  "strategies": {
    "full-per-message": {
      "per_connection": {"bytes_up": 270, "bytes_down": 240, "datagrams_up": 3, "datagrams_down": 3, "round_trips": 3},
      "per_message": {"bytes_up": 29, "bytes_down": 29, "datagrams_up": 0, "datagrams_down": 0, "round_trips": 0}
    },
    "dtls13-psk": {
      "per_connection": {"bytes_up": 185, "bytes_down": 146, "datagrams_up": 2, "datagrams_down": 1, "round_trips": 1},
      "per_message": {"bytes_up": 11, "bytes_down": 11, "datagrams_up": 0, "datagrams_down": 0, "round_trips": 0}
    }
  }
}"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.to_str().expect("utf8").to_string()
}

#[test]
fn table_lists_every_strategy_with_the_target() {
    let out = ok(&["energy"]);
    assert!(
        out.contains("NB-IoT, normal coverage, no RAI, 24 msg/day, 50 B payload, 5 Wh battery"),
        "{out}"
    );
    for label in [
        "no security (reference)",
        "full handshake per message",
        "resumption per message",
        "long-lived session",
        "long-lived + CID",
    ] {
        let line = out.lines().find(|l| l.starts_with(&format!("| {label} ")));
        let line = line.unwrap_or_else(|| panic!("row {label} in\n{out}"));
        assert_eq!(line.matches('|').count(), 11, "{line}");
    }
    // The key-lifetime column: CID keeps security under 10 % from some lifetime on, a
    // handshake per message never does.
    assert!(out.contains("| Ks lifetime for security < 10 % |"), "{out}");
    let cid = out
        .lines()
        .find(|l| l.starts_with("| long-lived + CID "))
        .unwrap_or_default();
    assert!(cid.contains("| ≥ "), "{cid}");
    let full = out
        .lines()
        .find(|l| l.starts_with("| full handshake per message "))
        .unwrap_or_default();
    assert!(full.contains("| never |"), "{full}");
    assert!(
        !out.contains("DTLS 1.3"),
        "no DTLS 1.3 rows without figures"
    );
    assert!(out.contains("| 10 y on 5 Wh |"));
    assert!(out.contains("docs/sources.md"), "figures cite their source");
}

#[test]
fn explain_prints_every_parameter_with_its_source() {
    let out = ok(&["energy", "--radio", "ltem", "--explain"]);
    for key in [
        "supply_v",
        "setup_j",
        "tail_s",
        "rai_tail_s",
        "tx_ma.extreme",
        "byte_up_ms.normal",
        "nat_rebind_min",
        "battery_wh",
    ] {
        let line = out.lines().find(|l| l.starts_with(&format!("| {key} |")));
        let line = line.unwrap_or_else(|| panic!("{key} in\n{out}"));
        assert!(
            line.split('|').nth(4).is_some_and(|s| s.trim().len() > 10),
            "{line}"
        );
    }
    assert!(
        out.contains("| tail_ma | 8.5 | mA | NCS power_nrf91.rst"),
        "{out}"
    );
}

#[test]
fn json_has_the_documented_keys() {
    let v = json_out(&simbridge(&[
        "energy",
        "--radio",
        "ltem",
        "--coverage",
        "extended",
        "--rai",
        "--json",
    ]));
    let r = &v["report"];
    assert_eq!(r["radio"], "ltem");
    assert_eq!(r["coverage"], "extended");
    assert_eq!(r["rai"], true);
    assert_eq!(r["target_years"], 10.0);
    assert_eq!(r["target_battery_wh"], 5.0);
    let rows = r["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5);
    for row in rows {
        for key in [
            "strategy",
            "label",
            "figures_source",
            "handshakes_per_message",
            "bootstraps_per_message",
            "key_lifetime_for_goal",
            "energy_per_message_j",
            "security_overhead_j",
            "security_overhead_pct",
            "average_current_ua",
            "average_power_uw",
            "battery_life_years",
            "battery_life_years_5wh",
            "meets_3gpp_target",
        ] {
            assert!(!row[key].is_null(), "{key} in {row}");
        }
        for key in [
            "bytes_up",
            "bytes_down",
            "datagrams_up",
            "datagrams_down",
            "round_trips",
        ] {
            assert!(row["on_air"][key].is_number(), "on_air.{key}");
        }
        for key in ["setup_j", "tx_j", "rx_j", "wait_j", "tail_j", "tau_j"] {
            assert!(row["breakdown"][key].is_number(), "breakdown.{key}");
        }
    }
    assert!(v["parameters"]["radio"]["tail_s"]["source"].is_string());
    assert_eq!(v["parameters"]["scenario"]["battery_wh"]["value"], 5.0);
    assert!(v["strategy_figures"]["long-lived-cid"]["per_connection"]["bytes_up"].is_number());
}

#[test]
fn flags_change_the_projection() {
    let life = |args: &[&str]| {
        let mut a = vec!["energy", "--json"];
        a.extend_from_slice(args);
        let v = json_out(&simbridge(&a));
        v["report"]["rows"][4]["battery_life_years"]
            .as_f64()
            .expect("years")
    };
    let base = life(&[]);
    assert!(life(&["--rai"]) > base);
    assert!(life(&["--messages-per-day", "96"]) < base);
    assert!(life(&["--battery-wh", "10"]) > base);
    assert!(life(&["--coverage", "extreme"]) < base);
    assert!(life(&["--set", "tail_s=60"]) < base);
    assert!(life(&["--tail-s", "60"]) < base);
}

#[test]
fn measured_figures_from_a_results_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "results.json", RESULTS);
    let v = json_out(&simbridge(&["energy", "--from", &f, "--json"]));
    let rows = v["report"]["rows"].as_array().expect("rows");
    let find = |k: &str| rows.iter().find(|r| r["strategy"] == k).cloned();
    let full = find("full-per-message").expect("full row");
    assert!(
        full["figures_source"]
            .as_str()
            .expect("str")
            .starts_with("measured: "),
        "{full}"
    );
    assert!(
        full["figures_source"]
            .as_str()
            .expect("str")
            .contains("bench 2026-11-26")
    );
    assert!(
        find("dtls13-psk").is_some(),
        "the DTLS 1.3 row exists once given"
    );
    assert!(find("dtls13-0rtt").is_none());
    let cid = find("long-lived-cid").expect("cid row");
    assert!(
        cid["figures_source"]
            .as_str()
            .expect("str")
            .starts_with("published: ")
    );
    let out = ok(&["energy", "--from", &f]);
    assert!(out.contains("| DTLS 1.3 PSK per message [5] |"), "{out}");
}

#[test]
fn params_file_is_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "p.toml",
        "[scenario]\nmessages_per_day = 2\n[nbiot]\ntail_s = 12\n",
    );
    let out = ok(&["energy", "--params", &f, "--explain"]);
    assert!(out.contains("2 msg/day"), "{out}");
    assert!(
        out.contains(&format!(
            "| tail_s | 12 | s | override: {f}: nbiot.tail_s |"
        )),
        "{out}"
    );
}

#[test]
fn svg_chart_is_well_formed_and_has_a_bar_per_row_and_the_target_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("chart.svg");
    let f = write(dir.path(), "results.json", RESULTS);
    ok(&["energy", "--from", &f, "--svg", svg.to_str().expect("utf8")]);
    let text = std::fs::read_to_string(&svg).expect("chart written");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    // One bar per row: the reference, four DTLS 1.2 strategies and the DTLS 1.3 PSK row.
    let bars: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.children().any(|c| c.has_tag_name("title")))
        .collect();
    assert_eq!(bars.len(), 6);
    for b in &bars {
        let w: f64 = b
            .attribute("width")
            .expect("width")
            .parse()
            .expect("number");
        assert!(w > 0.0);
    }
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect();
    assert!(
        texts.iter().any(|t| t == "3GPP target: 10 years on 5 Wh"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "long-lived + CID"));
    assert!(texts.iter().any(|t| t == "DTLS 1.3 PSK per message"));
    let dashed = doc
        .descendants()
        .filter(|n| n.has_tag_name("line") && n.attribute("stroke-dasharray").is_some())
        .count();
    assert_eq!(dashed, 1, "one target line");
    // --json with --svg keeps stdout pure JSON.
    let o = simbridge(&["energy", "--json", "--svg", svg.to_str().expect("utf8")]);
    json_out(&o);
}

#[test]
fn bad_flags_name_the_flag() {
    let e = refused(&["energy", "--messages-per-day", "-3"]);
    assert!(
        e.contains("--messages-per-day: must be greater than 0, got -3"),
        "{e}"
    );
    let e = refused(&["energy", "--payload", "-1"]);
    assert!(e.contains("--payload: must not be negative, got -1"), "{e}");
    let e = refused(&["energy", "--battery-wh", "0"]);
    assert!(e.contains("--battery-wh: must be greater than 0"), "{e}");
    let e = refused(&["energy", "--set", "tail_s=-4"]);
    assert!(
        e.contains("--set tail_s: must not be negative, got -4"),
        "{e}"
    );
    let e = refused(&["energy", "--set", "warp=9"]);
    assert!(e.contains("unknown parameter `warp`"), "{e}");
    let e = refused(&["energy", "--set", "tail_s"]);
    assert!(e.contains("--set tail_s: expected KEY=VALUE"), "{e}");
    // clap reports unknown enum values with the flag name.
    let e = refused(&["energy", "--radio", "5g"]);
    assert!(
        e.contains("--radio") && e.contains("unknown radio `5g`"),
        "{e}"
    );
    let e = refused(&["energy", "--coverage", "deep"]);
    assert!(e.contains("--coverage") && e.contains("deep"), "{e}");
}

#[test]
fn bad_files_name_the_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.json");
    let e = refused(&["energy", "--from", missing.to_str().expect("utf8")]);
    assert!(
        e.contains("--from") && e.contains("nope.json: cannot read"),
        "{e}"
    );
    let f = write(dir.path(), "broken.json", "{\"format\": ");
    let e = refused(&["energy", "--from", &f]);
    assert!(e.contains(&format!("{f}: not valid JSON")), "{e}");
    let bad = RESULTS.replace("\"round_trips\": 3", "\"round_trips\": -3");
    let f = write(dir.path(), "neg.json", &bad);
    let e = refused(&["energy", "--from", &f]);
    assert!(
        e.contains(&format!("{f}: key `strategies.full-per-message.per_connection.round_trips`: must be a non-negative number, got -3")),
        "{e}"
    );
    let f = write(dir.path(), "p.toml", "[nbiot]\ntial_s = 3\n");
    let e = refused(&["energy", "--params", &f]);
    assert!(
        e.contains(&format!("{f}: key `nbiot.tial_s`: unknown key")),
        "{e}"
    );
}

/// report.json as `scripts/bench` writes it (the same writer: `simbridge_energy::perf::Report::to_json`
/// with `energy_input` from our measured wire figures) is a results file the CLI accepts.
#[test]
fn the_bench_report_json_feeds_the_energy_model() {
    use simbridge_energy::perf::{
        Dtls13Wire, HandshakeFigures, Machine, OscoreWire, OursWire, Report, Section, energy_input,
        merge,
    };
    let full = HandshakeFigures {
        c2s_bytes: 281,
        s2c_bytes: 208,
        c2s_datagrams: 3,
        s2c_datagrams: 3,
        flights: 6,
    };
    let resume = HandshakeFigures {
        flights: 5,
        s2c_datagrams: 2,
        ..full
    };
    let wire = OursWire {
        full: Some(full),
        resume: Some(resume),
        full_cid: Some(HandshakeFigures {
            c2s_bytes: 300,
            ..full
        }),
        overhead: Some((29, 29)),
        overhead_cid: Some((34, 29)),
        oscore: Some(OscoreWire {
            establishment: (95, 21),
            overhead: (14, 11),
        }),
        // DTLS 1.3 psk_ke: ClientHello, the server's one flight, the client's Finished.
        dtls13: Some(Dtls13Wire {
            psk: HandshakeFigures {
                c2s_bytes: 200,
                s2c_bytes: 146,
                c2s_datagrams: 2,
                s2c_datagrams: 1,
                flights: 3,
            },
            cid: HandshakeFigures {
                c2s_bytes: 210,
                s2c_bytes: 156,
                c2s_datagrams: 2,
                s2c_datagrams: 1,
                flights: 3,
            },
            overhead: (11, 11),
            overhead_cid: (15, 12),
        }),
    };
    let mut s = Section::new("wire", "Wire", &["OpenSSL 3.0"]);
    s.rows = merge::handshake_rows("full", &Ok((full, None)), &[Err("missing".into())]);
    let report = Report {
        machine: Machine::default(),
        mode: "quick".into(),
        sections: vec![s],
        energy: energy_input(&wire, "bench run in a test"),
    };
    let text = serde_json::to_string_pretty(&report.to_json()).expect("json");
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "report.json", &text);
    let v = json_out(&simbridge(&["energy", "--from", &f, "--json"]));
    let rows = v["report"]["rows"].as_array().expect("rows");
    for k in [
        "full-per-message",
        "resume-per-message",
        "long-lived",
        "long-lived-cid",
    ] {
        let row = rows.iter().find(|r| r["strategy"] == k).expect(k);
        let src = row["figures_source"].as_str().expect("str");
        assert!(
            src.starts_with("measured: ") && src.contains("bench run in a test"),
            "{k}: {src}"
        );
    }
    let figs = &v["strategy_figures"];
    assert_eq!(
        figs["full-per-message"]["per_connection"]["bytes_up"],
        281.0
    );
    assert_eq!(
        figs["full-per-message"]["per_connection"]["round_trips"],
        3.0
    );
    assert_eq!(figs["long-lived"]["per_connection"]["round_trips"], 2.0);
    assert_eq!(figs["long-lived-cid"]["per_message"]["bytes_up"], 34.0);
    assert!(ok(&["energy", "--from", &f]).contains("long-lived + CID"));
    // OSCORE pays its exchange once per key and its overhead per message, nothing per rebinding:
    // at hourly messages and a 24 h key, a 24th of an exchange, and fewer bytes than CID's records.
    let oscore = rows
        .iter()
        .find(|r| r["strategy"] == "oscore")
        .expect("oscore row");
    assert!((oscore["handshakes_per_message"].as_f64().expect("n") - 1.0 / 24.0).abs() < 1e-9);
    let cid = rows
        .iter()
        .find(|r| r["strategy"] == "long-lived-cid")
        .expect("cid row");
    let e = |r: &serde_json::Value| r["energy_per_message_j"].as_f64().expect("J");
    assert!(e(oscore) < e(cid), "{oscore} vs {cid}");
    assert!(ok(&["energy", "--from", &f]).contains("OSCORE keyed from GBA"));
    // DTLS 1.3 measured: a handshake per message costs one round trip; the long-lived 1.3
    // session pays its handshake once per key and 1.3's smaller records per message, so it
    // costs less than the 1.2 session with CID.
    assert_eq!(figs["dtls13-psk"]["per_connection"]["round_trips"], 1.0);
    assert_eq!(
        figs["dtls13-long-lived-cid"]["per_message"]["bytes_up"],
        15.0
    );
    let d13 = rows
        .iter()
        .find(|r| r["strategy"] == "dtls13-long-lived-cid")
        .expect("DTLS 1.3 long-lived row");
    assert!(
        d13["figures_source"]
            .as_str()
            .is_some_and(|s| s.starts_with("measured: ")),
        "{d13}"
    );
    assert!((d13["handshakes_per_message"].as_f64().expect("n") - 1.0 / 24.0).abs() < 1e-9);
    assert!(e(d13) < e(cid), "{d13} vs {cid}");
    assert!(ok(&["energy", "--from", &f]).contains("DTLS 1.3 long-lived + CID"));
}
