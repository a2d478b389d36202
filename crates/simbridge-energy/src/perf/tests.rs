//! Unit tests of the report: trace cutting, ratios, missing peers, Markdown and JSON.

use super::merge::{gateway, handshake_rows, server, throughput};
use super::trace::{Datagram, HandshakeFigures, connections, without_cookie_exchange};
use super::*;
use serde_json::json;

fn d(c2s: bool, len: usize, content_type: u8, epoch: u16) -> Datagram {
    Datagram {
        c2s,
        len,
        content_type,
        epoch,
    }
}

/// Our full PSK CCM_8 handshake with cookie (CH HVR CH SH+SHD CKE+CCS+Fin CCS+Fin), then one
/// 6-byte record each way and a close_notify from the client.
fn full_then_ping() -> Vec<Datagram> {
    vec![
        d(true, 75, 22, 0),
        d(false, 60, 22, 0),
        d(true, 107, 22, 0),
        d(false, 90, 22, 0),
        d(true, 80, 22, 0),
        d(false, 52, 20, 0),
        d(true, 35, 23, 1),
        d(false, 35, 23, 1),
        d(true, 31, 21, 1),
    ]
}

#[test]
fn datagram_parse_reads_type_and_epoch() {
    let rec = [23u8, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5, 0, 3, 1, 2, 3];
    assert_eq!(Datagram::parse(true, &rec), d(true, 16, 23, 1));
    assert_eq!(Datagram::parse(false, &[22]), d(false, 1, 22, 0));
    assert_eq!(Datagram::parse(false, &[]), d(false, 0, 0, 0));
}

#[test]
fn a_handshake_ends_at_the_clients_first_application_record() {
    let c = connections(&full_then_ping());
    assert_eq!(c.len(), 1);
    let f = c[0].figures();
    assert_eq!(f.datagrams(), 6);
    assert_eq!(f.udp_bytes(), 75 + 60 + 107 + 90 + 80 + 52);
    assert_eq!(f.ip_bytes(), f.udp_bytes() + 6 * 28);
    assert_eq!((f.flights, f.round_trips()), (6, 3));
    assert_eq!(c[0].record_overhead(true, 6), Some(29));
    assert_eq!(c[0].record_overhead(false, 6), Some(29));
    assert_eq!(c[0].after_nth(true, 1).map(|x| x.content_type), Some(21));
}

#[test]
fn a_second_client_hello_after_application_data_opens_a_new_connection() {
    let mut log = full_then_ping();
    // abbreviated: CH, HVR, CH, SH+CCS+Fin, CCS+Fin, then data
    log.extend([
        d(true, 100, 22, 0),
        d(false, 60, 22, 0),
        d(true, 132, 22, 0),
        d(false, 120, 22, 0),
        d(true, 40, 20, 0),
        d(true, 35, 23, 1),
    ]);
    let c = connections(&log);
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].figures().flights, 5);
    assert_eq!(
        c[1].figures().round_trips(),
        2,
        "data rides with the client Finished"
    );
    assert_eq!(c[1].figures().c2s_datagrams, 3);
}

#[test]
fn a_retransmitted_client_hello_inside_a_handshake_does_not_split() {
    let log = [d(true, 75, 22, 0), d(true, 75, 22, 0), d(false, 60, 22, 0)];
    let c = connections(&log);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].figures().flights, 2);
}

#[test]
fn cid_records_end_the_handshake_like_application_data() {
    let log = [
        d(true, 80, 22, 0),
        d(false, 60, 20, 0),
        d(true, 40, 25, 1),
        d(false, 36, 25, 1),
    ];
    let c = connections(&log);
    assert_eq!(c[0].handshake.len(), 2);
    assert_eq!(c[0].after.len(), 2);
}

fn hf(bytes: usize) -> HandshakeFigures {
    HandshakeFigures {
        c2s_bytes: bytes / 2,
        s2c_bytes: bytes - bytes / 2,
        c2s_datagrams: 3,
        s2c_datagrams: 3,
        flights: 6,
    }
}

#[test]
fn ratios_are_ours_over_the_peer_and_missing_peers_have_none() {
    let rows = handshake_rows(
        "full",
        &Ok((hf(464), None)),
        &[
            Ok((hf(625), Some("PSK-AES128-CCM8".into()))),
            Err("cannot".into()),
            Ok((hf(0), None)),
        ],
    );
    assert_eq!(rows.len(), 5);
    let udp = &rows[0];
    let r = udp.ratios();
    assert!((r[0].unwrap() - 464.0 / 625.0).abs() < 1e-9);
    assert_eq!(r[1], None, "missing peer");
    assert_eq!(r[2], None, "zero: no ratio");
    assert!(!udp.worse_than_a_peer());
    assert_eq!(rows[1].ours.value, Some((464 + 6 * 28) as f64));
    assert_eq!(rows[4].ours.value, Some(3.0));
    let higher = Row::new(
        "x",
        "tp",
        "MB/s",
        Better::Higher,
        Cell::of(1.0),
        vec![Cell::of(2.0)],
    );
    assert!(higher.worse_than_a_peer());
}

fn report(sections: Vec<Section>) -> Report {
    Report {
        machine: Machine {
            cpu: "Test CPU".into(),
            cores: 2,
            ram_gib: 8.0,
            os: "Debian".into(),
            peers: vec!["OpenSSL 3.0.19".into()],
            date: "2026-11-26 08:00 UTC".into(),
            commit: "abc".into(),
        },
        mode: "full".into(),
        sections,
        energy: energy_input(&OursWire::default(), "test"),
    }
}

#[test]
fn markdown_shows_ratios_and_footnotes_each_reason_once() {
    let mut s = Section::new("wire", "Wire", &["OpenSSL", "GnuTLS"]);
    s.rows = handshake_rows(
        "full PSK",
        &Ok((hf(464), None)),
        &[
            Ok((hf(625), None)),
            Err("gnutls-serv always sends a cookie".into()),
        ],
    );
    s.notes.push("Method: a counting relay.".into());
    let md = markdown(&report(vec![s]));
    assert!(
        md.contains("| full PSK | UDP payload, B ↓ | 464 | 625 (0.74) | –<sup>1</sup> |"),
        "{md}"
    );
    assert_eq!(
        md.matches("<sup>1</sup> gnutls-serv always sends a cookie")
            .count(),
        1,
        "{md}"
    );
    assert!(md.contains("Test CPU, 2 logical CPUs, 8.0 GiB RAM"));
    assert!(md.contains("Method: a counting relay."));
    assert!(!md.contains("Quick run"));
}

#[test]
fn json_carries_the_energy_input_and_each_rows_ratios() {
    let f = hf(464);
    let wire = OursWire {
        full: Some(f),
        resume: Some(hf(400)),
        full_cid: None,
        overhead: Some((29, 29)),
        overhead_cid: None,
        oscore: Some(crate::perf::OscoreWire {
            establishment: (90, 20),
            overhead: (14, 11),
        }),
        dtls13: None,
    };
    let mut s = Section::new("wire", "Wire", &["OpenSSL"]);
    s.rows = handshake_rows("full", &Ok((f, None)), &[Ok((hf(625), None))]);
    let mut r = report(vec![s]);
    r.energy = energy_input(&wire, "run");
    let v = r.to_json();
    assert_eq!(v["format"], crate::input::RESULTS_FORMAT);
    assert_eq!(
        v["strategies"]["full-per-message"]["per_connection"]["bytes_up"],
        232.0
    );
    assert_eq!(
        v["strategies"]["full-per-message"]["per_connection"]["round_trips"],
        3.0
    );
    assert_eq!(
        v["strategies"]["long-lived"]["per_key_change"]["bytes_down"],
        232.0
    );
    assert!(
        v["strategies"].get("long-lived-cid").is_none(),
        "not measured"
    );
    // OSCORE: one exchange per key (1 datagram and 1 round trip each way), then its overhead
    let o = &v["strategies"]["oscore"];
    assert_eq!(o["per_connection"]["bytes_up"], 90.0);
    assert_eq!(o["per_connection"]["bytes_down"], 20.0);
    assert_eq!(o["per_connection"]["round_trips"], 1.0);
    assert_eq!(o["per_message"]["bytes_up"], 14.0);
    assert_eq!(o["per_message"]["bytes_down"], 11.0);
    assert!((v["sections"][0]["rows"][0]["ratios"][0].as_f64().unwrap() - 0.7424).abs() < 1e-3);
    assert_eq!(v["machine"]["cores"], 2);
    // and the energy model reads it
    let mut m = crate::Model::new(crate::Radio::Nbiot, crate::Coverage::Normal, false);
    crate::input::apply_results_json(&mut m, &v.to_string(), "report.json")
        .expect("the energy model accepts report.json");
}

#[test]
fn server_section_merges_counts_and_marks_the_peers_missing_ones() {
    let ours = json!([
        {"sessions": 10000, "held": 10000, "handshakes_per_s": 30000.0, "bytes_per_session": 4096.0},
        {"sessions": 100000, "held": 100000, "handshakes_per_s": 25000.0, "bytes_per_session": 2048.0}
    ]);
    let ossl = json!({"version": "OpenSSL 3.0.19", "cookie": false,
        "rows": [{"sessions": 10000, "handshakes_per_s": 6000.0, "bytes_per_session": 71680.0}]});
    let s = server(Some(&ours), Some(&ossl), "100k not run");
    assert_eq!(s.peers, ["OpenSSL libssl (C harness, no cookie)"]);
    assert_eq!(s.rows.len(), 4);
    assert_eq!(s.rows[0].ratios()[0], Some(5.0));
    assert_eq!(s.rows[1].ours.value, Some(4.0));
    assert_eq!(s.rows[1].ratios()[0], Some(4.0 / 70.0));
    assert_eq!(s.rows[3].peers[0], Cell::missing("100k not run"));
    let twice = json!([
        {"sessions": 10000, "held": 10000, "handshakes_per_s": 1.0, "bytes_per_session": 1.0},
        {"sessions": 10000, "held": 10000, "handshakes_per_s": 1.0, "bytes_per_session": 1.0}
    ]);
    assert_eq!(
        server(Some(&twice), None, "x").rows.len(),
        2,
        "a count once"
    );
    let none = server(None, None, "no harness");
    assert_eq!(none.rows.len(), 2, "a 10k row pair, both missing");
    assert!(
        none.rows
            .iter()
            .all(|r| r.ours.value.is_none() && r.peers[0].value.is_none())
    );
}

#[test]
fn throughput_and_gateway_sections_read_the_bench_files() {
    let w = json!({"throughput": [
        {"algorithm": "AES-128-CCM_8", "record_bytes": 1024, "ours_mbps": 100.0,
         "openssl_evp": "aes-128-ccm", "openssl_mbps": 400.0},
        {"algorithm": "AES-128-GCM", "record_bytes": 1024, "ours_mbps": 500.0,
         "openssl_evp": "aes-128-gcm", "openssl_mbps": null}
    ]});
    let t = throughput(Some(&w), "x");
    assert_eq!(t.rows[0].ratios()[0], Some(0.25));
    assert!(t.rows[0].worse_than_a_peer());
    assert_eq!(t.rows[1].peers[0].value, None);
    assert_eq!(
        throughput(None, "dtls_wire.json missing").rows[0].ours,
        Cell::missing("dtls_wire.json missing")
    );
    let g = json!({"relay": {"datagrams_per_s": 80000.0, "p50_us": 100.0, "p99_us": 160.0},
                   "gateway": {"datagrams_per_s": 20000.0, "p50_us": 160.0, "p99_us": 320.0}});
    let s = gateway(Some(&g), "x");
    assert_eq!(s.rows[0].ratios()[0], Some(0.25));
    assert_eq!(s.rows[2].ratios()[0], Some(2.0));
    assert!(
        gateway(None, "not run")
            .rows
            .iter()
            .all(|r| r.ours.value.is_none())
    );
}

#[test]
fn the_cookie_exchange_comes_out_of_a_cookie_handshake() {
    let c = connections(&full_then_ping());
    let v = without_cookie_exchange(&c[0].handshake).expect("starts CH HVR CH");
    let f = HandshakeFigures::of(&v);
    assert_eq!(
        f.udp_bytes(),
        75 + 90 + 80 + 52,
        "first hello kept, HVR and second hello gone"
    );
    assert_eq!((f.datagrams(), f.flights, f.round_trips()), (4, 4, 2));
    let no_hvr = [d(true, 75, 22, 0), d(false, 90, 22, 0), d(true, 80, 22, 0)];
    assert_eq!(without_cookie_exchange(&no_hvr[..2]), None, "too short");
    assert_eq!(
        without_cookie_exchange(&[
            d(true, 75, 22, 0),
            d(true, 75, 22, 0),
            d(false, 9, 22, 0),
            d(true, 1, 22, 0)
        ]),
        None,
        "a retransmitted hello is not a cookie exchange"
    );
}
