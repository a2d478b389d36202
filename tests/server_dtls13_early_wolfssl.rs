//! DTLS 1.3 0-RTT against wolfSSL 5.9's DTLS 1.3 client (tests/peers/wolf13_peer.c, `-e TEXT`)
//! and our `simbridge dtls server --version 1.3 --early-data`: the client resumes with our
//! ticket and its early data is accepted (wolfSSL's early data status is "accepted", our server
//! prints it marked "EARLY"); the same ClientHello and 0-RTT record replayed by a relay from
//! another port get no early data (the log says replay, nothing of it is printed); without
//! `--early-data` wolfSSL's early data is rejected and it sends the data again after the
//! handshake.
//!
//! The peer is `.peers/wolf13_peer`, or `$SIMBRIDGE_WOLF13_PEER` when set.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::recorder::Recorder;
use support::{Proc, Stream};

const KEY: &str = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b";
const IDENTITY: &str = "Client_identity";
const CCM8_13: &str = "TLS13-AES128-CCM-8-SHA256";
/// The anti-replay window the servers run with: short, so the tests need not wait the default
/// 10 s after a start before 0-RTT is taken (but above 1 s: tickets carry their issue time in
/// whole seconds).
const WINDOW_MS: u64 = 2_000;

/// `simbridge dtls server --version 1.3 --no-cid --json-events --echo` + `extra`, logging the
/// DTLS stack at DEBUG; its bound address.
fn server(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(support::bin());
    cmd.args(["dtls", "server", "--listen", "127.0.0.1:0"])
        .args(["--psk-identity", IDENTITY, "--psk", KEY, "--version", "1.3"])
        // wolfSSL drops its own 0-RTT record when CID is on; we take 0-RTT with or without
        .args(["--no-cid", "--json-events", "--echo"])
        .args(extra)
        .env("RUST_LOG", "simbridge_dtls=debug");
    let p = Proc::spawn("ours-server", cmd);
    let line = p.expect_line(Stream::Stdout, Duration::from_secs(10), "ACCEPT", |l| {
        l.starts_with("ACCEPT ")
    });
    let addr = line["ACCEPT ".len()..].parse().expect("address");
    (p, addr)
}

fn early_server() -> (Proc, SocketAddr) {
    let window = WINDOW_MS.to_string();
    let s = server(&["--early-data", "--early-data-window-ms", &window]);
    // a start refuses early data for one window (no strike register restored)
    std::thread::sleep(Duration::from_millis(WINDOW_MS + 200));
    s
}

/// wolfSSL: two connections to `port`, the second resuming with our ticket and sending `early`
/// as 0-RTT; exit status and transcript.
fn wolf_client(peer: &Path, port: u16, early: &str) -> (bool, String) {
    let mut cmd = Command::new(peer);
    cmd.args(["client", &port.to_string(), "-k", KEY, "-i", IDENTITY])
        .args(["-l", CCM8_13, "-n", "1", "-r", "2", "-e", early]);
    let mut c = Proc::spawn("wolf13", cmd);
    let st = c.wait_exit(Duration::from_secs(20));
    if st.is_none() {
        c.kill();
    }
    (st.is_some_and(|s| s.success()), c.transcript())
}

/// The server's transcript once it printed (or not) for a while.
fn settle(p: &Proc) -> String {
    std::thread::sleep(Duration::from_millis(500));
    p.transcript()
}

#[test]
fn a_wolfssl_client_resuming_with_our_ticket_gets_its_early_data_accepted() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (srv, addr) = early_server();
    let (ok, text) = wolf_client(&peer, addr.port(), "GET /early");
    assert!(ok, "{text}");
    assert!(text.contains("resumed=1"), "{text}");
    // wolfSSL_get_early_data_status: 2 = accepted
    assert!(text.contains("EARLY_STATUS 2"), "{text}");
    srv.expect_line(Stream::Stdout, Duration::from_secs(3), "EARLY", |l| {
        l == "EARLY GET /early"
    });
    let log = settle(&srv);
    let early_at = log.find("\"early_data\"").expect("an early_data event");
    let resumed_at = log.find("\"resumed\":true").expect("a resumed session");
    assert!(early_at < resumed_at, "early data before Connected:\n{log}");
    assert!(log.contains("DTLS 1.3 early data accepted"), "{log}");
    assert!(
        !log.contains("GET /early\"") && !log.contains("early data: GET"),
        "{log}"
    );
}

/// The last ClientHello the client sent through `relay` and the 0-RTT records (unified header,
/// epoch 1) right after it.
fn last_hello_and_early(relay: &Recorder) -> Vec<Vec<u8>> {
    let all = relay.c2s();
    let is_hello = |d: &[u8]| d.len() > 25 && d[0] == 22 && d[3..5] == [0, 0] && d[13] == 1;
    let is_early = |d: &[u8]| d.first().is_some_and(|b| b & 0xe0 == 0x20 && b & 0x03 == 1);
    let Some(at) = all.iter().rposition(|d| is_hello(d)) else {
        return Vec::new();
    };
    let mut out = vec![all[at].clone()];
    out.extend(all[at + 1..].iter().take_while(|d| is_early(d)).cloned());
    out
}

#[test]
fn a_replay_of_the_client_hello_and_its_early_data_from_another_port_gets_no_early_data() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (srv, addr) = early_server();
    let relay = Recorder::start(addr);
    let (ok, text) = wolf_client(&peer, relay.addr.port(), "pay 10 EUR");
    assert!(ok && text.contains("EARLY_STATUS 2"), "{text}");
    srv.expect_line(Stream::Stdout, Duration::from_secs(3), "EARLY", |l| {
        l == "EARLY pay 10 EUR"
    });
    let recorded = last_hello_and_early(&relay);
    assert!(
        recorded.len() >= 2,
        "the resumption's ClientHello and 0-RTT record: {} datagrams",
        recorded.len()
    );
    // the attacker sends them again, within the window, from another port
    let attacker = UdpSocket::bind("127.0.0.1:0").expect("bind");
    attacker
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    for d in &recorded {
        attacker.send_to(d, addr).expect("send");
    }
    // what the server answers: the cookie round trip (a HelloRetryRequest), nothing more
    let mut buf = [0u8; 2048];
    let answers: Vec<usize> = std::iter::from_fn(|| attacker.recv(&mut buf).ok()).collect();
    assert!(answers.len() <= 1, "{answers:?}");
    let log = settle(&srv);
    assert!(
        log.contains("DTLS 1.3 early data refused: replay"),
        "the log says replay:\n{log}"
    );
    assert_eq!(
        log.matches("pay 10 EUR").count(),
        1,
        "only the original's early data printed:\n{log}"
    );
    assert_eq!(log.matches("\"early_data\"").count(), 1, "{log}");
    assert_eq!(log.matches("\"resumed\":true").count(), 1, "{log}");
}

#[test]
fn without_early_data_wolfssl_is_refused_and_sends_its_data_after_the_handshake() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (srv, addr) = server(&[]);
    let (ok, text) = wolf_client(&peer, addr.port(), "GET /late");
    assert!(ok, "{text}");
    // 0 (none: no ticket allowed it) or 1 (rejected), never 2
    assert!(!text.contains("EARLY_STATUS 2"), "{text}");
    assert!(text.contains("EARLY_STATUS"), "{text}");
    let log = settle(&srv);
    assert!(!log.contains("EARLY "), "{log}");
    assert!(!log.contains("\"early_data\""), "{log}");
}

fn sigterm(p: &Proc) {
    let st = Command::new("kill")
        .args(["-TERM", &p.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

#[test]
fn a_graceful_restart_with_the_saved_strike_register_takes_0rtt_at_once_and_a_cold_one_waits() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("server.state");
    let port = support::free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let window = WINDOW_MS.to_string();
    let args = |state: &Path| {
        vec![
            "--early-data".to_string(),
            "--early-data-window-ms".into(),
            window.clone(),
            "--state".into(),
            state.display().to_string(),
            "--state-key".into(),
            "00112233445566778899aabbccddeeff".into(),
        ]
    };
    let start = |extra: &[String]| {
        let mut cmd = Command::new(support::bin());
        cmd.args(["dtls", "server", "--listen", &listen])
            .args(["--psk-identity", IDENTITY, "--psk", KEY, "--version", "1.3"])
            .args(["--no-cid", "--json-events", "--echo"])
            .args(extra)
            .env("RUST_LOG", "simbridge_dtls=debug");
        let p = Proc::spawn("ours-server", cmd);
        p.expect_line(Stream::Stdout, Duration::from_secs(10), "ACCEPT", |l| {
            l.starts_with("ACCEPT ")
        });
        p
    };
    let mut first = start(&args(&state));
    std::thread::sleep(Duration::from_millis(WINDOW_MS + 200));
    let (ok, text) = wolf_client(&peer, port, "before");
    assert!(ok && text.contains("EARLY_STATUS 2"), "{text}");
    sigterm(&first);
    assert!(
        first
            .wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    assert!(state.is_file(), "state written");

    // at once after the restart: early data taken (tickets do not survive a restart, so the
    // client's first connection is a full handshake and its second takes 0-RTT)
    let second = start(&args(&state));
    let (ok, text) = wolf_client(&peer, port, "after a restart");
    assert!(ok && text.contains("EARLY_STATUS 2"), "{text}");
    second.expect_line(Stream::Stdout, Duration::from_secs(3), "EARLY", |l| {
        l == "EARLY after a restart"
    });
    drop(second);

    // a cold start (no state): refused for one window
    let cold = start(&args(&dir.path().join("none.state")));
    let (ok, text) = wolf_client(&peer, port, "cold");
    assert!(ok && text.contains("EARLY_STATUS 1"), "{text}");
    let log = settle(&cold);
    assert!(log.contains("early data refused: starting"), "{log}");
    assert!(!log.contains("EARLY cold"), "{log}");
}
