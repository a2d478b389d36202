//! The energy model against published measurements on nRF9160 (boaks/zephyr-coaps-client
//! POWERCONSUMPTION.md and the nRF Connect SDK power_nrf91.rst; the figures are copied here).
//! Tolerances are stated per case; docs/energy.md says how close each lands and why.

use simbridge_energy::input::set_param;
use simbridge_energy::{Coverage, Model, Projection, Radio};

/// boaks/zephyr-coaps-client POWERCONSUMPTION.md: LTE-M, PSM, no RAI (10 s RRC inactivity),
/// CoAP request/response over a kept DTLS 1.2 CID session: 12 s at 9 mA, 0.14 mWh = 0.504 J.
const BOAKS_LTEM_J: f64 = 0.14e-3 * 3600.0;
/// Same source, NB-IoT with PSM + RAI, request 400 B / response 40 B: 0.14 mWh = 0.504 J.
const BOAKS_NBIOT_RAI_J: f64 = 0.14e-3 * 3600.0;
/// nRF Connect SDK power_nrf91.rst: LTE-M, one 40-byte UDP send, 115.06 mC over 12.32 s at 3.7 V.
const NCS_LTEM_SEND_J: f64 = 115.06e-3 * 3.7;

fn set(m: &mut Model, k: &str, v: f64) {
    set_param(m, k, v, "calibration").expect(k);
}

fn row(m: &Model, key: &str) -> Projection {
    m.run().expect("model runs").row(key).cloned().expect("row")
}

/// A kept CID session exchanging ~400 B up / 40 B down (UDP payload), hourly, no handshake in
/// the measured window (the key outlives the test).
fn boaks_exchange(radio: Radio, rai: bool) -> Model {
    let mut m = Model::new(radio, Coverage::Normal, rai);
    // 355 B payload + 11 B CoAP + 34 B CID record = 400 B up; 11 B CoAP + 29 B record = 40 B down.
    set(&mut m, "payload_bytes", 355.0);
    set(&mut m, "response_bytes", 11.0);
    set(&mut m, "messages_per_day", 24.0);
    set(&mut m, "key_lifetime_h", 1e9);
    m
}

fn deviation(model_j: f64, measured_j: f64) -> f64 {
    (model_j - measured_j) / measured_j
}

#[test]
fn ltem_cid_exchange_within_20_percent_of_boaks() {
    let p = row(&boaks_exchange(Radio::Ltem, false), "long-lived-cid");
    assert!(
        (p.on_air.bytes_up - 28.0 - 400.0).abs() < 0.1,
        "{:?}",
        p.on_air
    );
    assert!((p.on_air.bytes_down - 28.0 - 40.0).abs() < 0.1);
    let d = deviation(p.energy_per_message_j, BOAKS_LTEM_J);
    println!(
        "LTE-M CID exchange: model {:.3} J, measured {:.3} J ({:+.0} %)",
        p.energy_per_message_j,
        BOAKS_LTEM_J,
        d * 100.0
    );
    assert!(d.abs() <= 0.20, "deviation {d:+.3}");
    // And within 0.43-0.50 J widened by 20 % on each side: the measured range of those two sources.
    assert!(p.energy_per_message_j >= 0.43 * 0.8 && p.energy_per_message_j <= 0.50 * 1.2);
}

#[test]
fn ltem_one_way_udp_send_within_25_percent_of_ncs() {
    let mut m = Model::new(Radio::Ltem, Coverage::Normal, false);
    set(&mut m, "payload_bytes", 40.0);
    set(&mut m, "coap_request_bytes", 0.0);
    set(&mut m, "response_bytes", 0.0);
    set(&mut m, "app_round_trips", 0.0);
    let p = row(&m, "plain");
    let d = deviation(p.energy_per_message_j, NCS_LTEM_SEND_J);
    println!(
        "LTE-M 40 B UDP send: model {:.3} J, measured {:.3} J ({:+.0} %)",
        p.energy_per_message_j,
        NCS_LTEM_SEND_J,
        d * 100.0
    );
    assert!(d.abs() <= 0.25, "deviation {d:+.3}");
    // With the NCS measurement's own tail (93.82 mC over 11 s), the tail term matches exactly
    // and what is left is the setup default.
    set(&mut m, "tail_s", 11.0);
    set(&mut m, "tail_ma", 93.82 / 11.0);
    let p = row(&m, "plain");
    assert!((p.breakdown.tail_j - 93.82e-3 * 3.7).abs() < 1e-9);
}

#[test]
fn nbiot_rai_exchange_is_conservative_within_60_percent_of_boaks() {
    let p = row(&boaks_exchange(Radio::Nbiot, true), "long-lived-cid");
    let d = deviation(p.energy_per_message_j, BOAKS_NBIOT_RAI_J);
    println!(
        "NB-IoT+RAI CID exchange: model {:.3} J, measured {:.3} J ({:+.0} %)",
        p.energy_per_message_j,
        BOAKS_NBIOT_RAI_J,
        d * 100.0
    );
    // The defaults overestimate (lab TAU energy for setup, 1 s per RTT): never below, at most +60 %.
    assert!((0.0..=0.60).contains(&d), "deviation {d:+.3}");
    // With the wake-up energy boaks measured on the same network (0.07 mWh = 0.252 J), the gap
    // halves: the setup default is the main cause.
    let mut m = boaks_exchange(Radio::Nbiot, true);
    set(&mut m, "setup_j", 0.07e-3 * 3600.0);
    let q = row(&m, "long-lived-cid");
    let dq = deviation(q.energy_per_message_j, BOAKS_NBIOT_RAI_J);
    println!(
        "  with boaks' measured wake-up: {:.3} J ({:+.0} %)",
        q.energy_per_message_j,
        dq * 100.0
    );
    assert!(dq.abs() <= 0.30, "deviation {dq:+.3}");
}
