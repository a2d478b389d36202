//! DTLS 1.3 session tickets through the real bridge server (`simbridge server`, keys from a
//! key API on loopback) with wolfSSL 5.9's DTLS 1.3 client (tests/peers/wolf13_peer.c): the
//! client resumes with our ticket and the key API is asked once, not twice; a ticket that
//! resumed once is refused the second time (wolfSSL falls back to its external PSK); a resumed
//! session counts under its original identity for the per-identity cap; counters in the
//! status view; no tickets by default.
//!
//! The peer is `.peers/wolf13_peer`, or `$SIMBRIDGE_WOLF13_PEER` when set (a freshly built one;
//! `-R 1` needs a peer built from this tree's source).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::key_api::{server_config, server_counters};
use support::launch::ours_bridge_server;
use support::{Echo, Proc, Stream};

const KEY: &str = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b";
const CCM8_13: &str = "TLS13-AES128-CCM-8-SHA256";
/// A GBA identity: the key API is asked for its B-TID.
const GBA_IDENTITY: &str =
    "3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";

/// `wolf13_peer client PORT` with the GBA identity, `KEY` and `args`.
fn client(peer: &Path, port: u16, args: &[&str]) -> Proc {
    let mut cmd = Command::new(peer);
    cmd.args(["client", &port.to_string(), "-k", KEY, "-i", GBA_IDENTITY])
        .args(["-l", CCM8_13])
        .args(args);
    Proc::spawn("wolf13", cmd)
}

/// The client's exit status and transcript.
fn finish(mut c: Proc, within: Duration) -> (bool, String) {
    let st = c.wait_exit(within);
    if st.is_none() {
        c.kill();
    }
    (st.is_some_and(|s| s.success()), c.transcript())
}

/// The `resumed=` of each CONNECTED line, in order.
fn resumed(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("CONNECTED version="))
        .filter_map(|l| l.split("resumed=").nth(1))
        .collect()
}

#[test]
fn a_wolfssl_client_resumes_with_our_ticket_and_the_key_api_is_asked_once() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let (api, asked) = support::key_api::start(KEY, Duration::ZERO);
    let cfg = server_config(dir.path(), api, echo.addr, "tickets = true");
    let (server, addr) = ours_bridge_server(&cfg);
    let c = client(&peer, addr.port(), &["-n", "2", "-r", "2"]);
    let (ok, text) = finish(c, Duration::from_secs(20));
    assert!(ok, "{text}");
    assert_eq!(resumed(&text), ["0", "1"], "{text}");
    assert_eq!(text.matches("RECV msg 1").count(), 2, "{text}");
    // (the key cache would spare a second full handshake the key API too: what shows that
    // the resumption took no key is the counters below, one abbreviated handshake)
    assert_eq!(
        asked.lock().expect("lock").len(),
        1,
        "the resumption needs no key lookup"
    );
    server.expect_line(Stream::Stderr, Duration::from_secs(3), "resumed", |l| {
        l.contains("session up, TLS_AES_128_CCM_8_SHA256")
            && l.contains(GBA_IDENTITY)
            && l.contains("(resumed)")
    });
    let n = server_counters(dir.path());
    assert_eq!(n["full_handshakes"], 1, "{n}");
    assert_eq!(n["abbreviated_handshakes"], 1, "{n}");
    assert_eq!(n["tickets_issued"], 2, "{n}");
    assert_eq!(n["sessions_handshaked"], 2, "{n}");
    assert_eq!(n["key_lookups"], 1, "{n}");
}

#[test]
fn a_ticket_that_resumed_once_is_refused_the_second_time() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let (api, asked) = support::key_api::start(KEY, Duration::ZERO);
    let cfg = server_config(dir.path(), api, echo.addr, "tickets = true");
    let (server, addr) = ours_bridge_server(&cfg);
    // three connections, the second and third offering the first one's ticket
    let c = client(&peer, addr.port(), &["-n", "1", "-r", "3", "-R", "1"]);
    let (ok, text) = finish(c, Duration::from_secs(20));
    assert!(ok, "{text}");
    // (wolfSSL's resumed= says whether it offered a ticket, not which PSK we selected: the
    // server's side is the proof)
    assert_eq!(resumed(&text)[..2], ["0", "1"], "{text}");
    for (i, is_resumed) in [false, true, false].into_iter().enumerate() {
        let l = server.expect_line(Stream::Stderr, Duration::from_secs(3), "session up", |l| {
            l.contains("session up,")
        });
        assert_eq!(l.contains("(resumed)"), is_resumed, "session {i}: {l}");
    }
    let n = server_counters(dir.path());
    assert_eq!(n["abbreviated_handshakes"], 1, "{n}");
    assert_eq!(n["full_handshakes"], 2, "{n}");
    assert_eq!(n["tickets_refused"], 1, "{n}");
    // the key stayed cached: one lookup for the two full handshakes
    assert_eq!(asked.lock().expect("lock").len(), 1);
}

#[test]
fn tickets_are_off_by_default_and_then_nothing_resumes() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let (api, _) = support::key_api::start(KEY, Duration::ZERO);
    let cfg = server_config(dir.path(), api, echo.addr, "");
    let (_server, addr) = ours_bridge_server(&cfg);
    let c = client(&peer, addr.port(), &["-n", "1", "-r", "2"]);
    let (ok, text) = finish(c, Duration::from_secs(20));
    assert!(ok, "{text}");
    assert_eq!(resumed(&text), ["0", "0"], "{text}");
    let n = server_counters(dir.path());
    assert_eq!(n["tickets_issued"], 0, "{n}");
    assert_eq!(n["full_handshakes"], 2, "{n}");
}

#[test]
fn a_resumed_session_counts_under_its_identity_for_the_per_identity_cap() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let (api, _) = support::key_api::start(KEY, Duration::ZERO);
    let cfg = server_config(
        dir.path(),
        api,
        echo.addr,
        "tickets = true\nmax_per_identity = 1",
    );
    let (server, addr) = ours_bridge_server(&cfg);
    // a first connection, then a resumed one that pauses 3 s between its messages
    let first = client(&peer, addr.port(), &["-n", "2", "-r", "2", "-w", "3000"]);
    first.expect_line(Stream::Stdout, Duration::from_secs(15), "resumed", |l| {
        l.starts_with("CONNECTED") && l.contains("resumed=1")
    });
    first.expect_line(Stream::Stdout, Duration::from_secs(5), "echo", |l| {
        l == "RECV msg 0"
    });
    // a new session of the same identity evicts the resumed one
    let second = client(&peer, addr.port(), &["-n", "1"]);
    let (ok, text) = finish(second, Duration::from_secs(10));
    assert!(ok, "{text}");
    server.expect_line(
        Stream::Stderr,
        Duration::from_secs(3),
        "per-identity eviction",
        |l| l.contains("evicted (too many connections for its identity)"),
    );
    let (ok, text) = finish(first, Duration::from_secs(15));
    assert!(!ok, "the resumed session was closed: {text}");
    assert_eq!(text.matches("RECV msg 1").count(), 1, "{text}");
}
