//! DTLS 1.3 0-RTT through the real bridge server (`simbridge server` with `tickets = true`,
//! `early_data = true`, keys from a key API on loopback) and our client (`simbridge dtls client
//! --version 1.3 --session-file F --early-data FILE`): a CoAP GET sent as 0-RTT reaches the
//! backend before the handshake completes (`early_data_forwarded`), a POST waits for the
//! handshake (`early_data_held`), and both get the backend's answer once; the server's counters
//! say so. Without `early_data` the same run sends the request after the handshake.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use support::Echo;
use support::dtls_client::{Run, run13};
use support::key_api::{server_config, server_counters};
use support::launch::ours_bridge_server;

const KEY: &str = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b";
const GBA_IDENTITY: &str =
    "3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";
/// CoAP (RFC 7252 §3): version 1, confirmable, no token, message id 0x1234, the method's
/// code, Uri-Path "temp".
fn coap(code: u8) -> Vec<u8> {
    vec![0x40, code, 0x12, 0x34, 0xb4, b't', b'e', b'm', b'p']
}

/// A client run with `early` (written to a file) as its early data and `session` as its
/// session file.
fn run(addr: SocketAddr, dir: &Path, session: &Path, early: &[u8]) -> Run {
    let file = dir.join("early.bin");
    std::fs::write(&file, early).expect("early data file");
    let r = run13(
        &addr.to_string(),
        GBA_IDENTITY,
        KEY,
        &[
            "--session-file",
            &session.display().to_string(),
            "--early-data",
            &file.display().to_string(),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

fn accepted(r: &Run) -> bool {
    r.event("early_data")
        .is_some_and(|e| e["accepted"] == serde_json::Value::Bool(true))
}

#[test]
fn a_get_in_0_rtt_goes_at_once_a_post_waits_for_the_handshake_and_both_are_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let (api, asked) = support::key_api::start(KEY, Duration::ZERO);
    let cfg = server_config(
        dir.path(),
        api,
        echo.addr,
        "tickets = true\nearly_data = true\nearly_data_window_secs = 2",
    );
    let (_server, addr) = ours_bridge_server(&cfg);
    let session = dir.path().join("client.session");
    // no ticket yet: the GET goes after the handshake, and the ticket is kept
    let first = run(addr, dir.path(), &session, &coap(1));
    assert!(!accepted(&first), "{}", first.stderr);
    assert!(first.stdout.contains("temp"), "echoed: {}", first.stdout);
    // past the start window (no strike register restored): the ticket's 0-RTT is taken
    std::thread::sleep(Duration::from_millis(2_500));
    let second = run(addr, dir.path(), &session, &coap(1));
    assert!(accepted(&second), "{}", second.stderr);
    assert!(second.stdout.contains("temp"), "echoed: {}", second.stdout);
    let n = server_counters(dir.path());
    assert_eq!(n["early_data"], 1, "{n}");
    assert_eq!(n["early_data_forwarded"], 1, "the GET went at once: {n}");
    assert_eq!(n["early_data_held"], 0, "{n}");
    assert_eq!(n["early_data_accepted"], 1, "{n}");
    // a POST in 0-RTT waits for the handshake, then goes once
    let third = run(addr, dir.path(), &session, &coap(2));
    assert!(accepted(&third), "{}", third.stderr);
    assert_eq!(
        third.stdout.matches("temp").count(),
        1,
        "answered once: {}",
        third.stdout
    );
    let n = server_counters(dir.path());
    assert_eq!(n["early_data"], 2, "{n}");
    assert_eq!(n["early_data_forwarded"], 1, "{n}");
    assert_eq!(n["early_data_held"], 1, "the POST waited: {n}");
    assert_eq!(n["early_data_discarded"], 0, "{n}");
    assert_eq!(n["abbreviated_handshakes"], 2, "{n}");
    assert_eq!(
        asked.lock().expect("lock").len(),
        1,
        "resumptions need no key"
    );
}

#[test]
fn without_early_data_the_request_goes_after_the_handshake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let (api, _asked) = support::key_api::start(KEY, Duration::ZERO);
    let cfg = server_config(dir.path(), api, echo.addr, "tickets = true");
    let (_server, addr) = ours_bridge_server(&cfg);
    let session = dir.path().join("client.session");
    run(addr, dir.path(), &session, &coap(1));
    let second = run(addr, dir.path(), &session, &coap(1));
    assert!(!accepted(&second), "{}", second.stderr);
    assert!(second.stdout.contains("temp"), "echoed: {}", second.stdout);
    let n = server_counters(dir.path());
    assert_eq!(n["early_data"], 0, "{n}");
    assert_eq!(
        n["abbreviated_handshakes"], 1,
        "the ticket still resumed: {n}"
    );
}
