//! Checks every interop test file runs the same way against its peer: a wrong PSK on either
//! side, and a handshake that must recover through a lossy relay.

use std::time::Duration;

use super::launch::{expect_connected, ours_client, ours_server};
use super::process::{Proc, Stream};
use super::relay::{Relay, RelayConfig};
use super::{PSK_HEX, WRONG_PSK_HEX};

/// Our client with a wrong PSK against a peer server on `port`: it must exit with the
/// peer-unavailable code (69, EX_UNAVAILABLE) and a clear message, never reporting a connection.
pub fn ours_client_wrong_psk_fails_clearly(port: u16, give_up_ms: u32, wait: Duration) {
    let mut cli = ours_client(
        format!("127.0.0.1:{port}")
            .parse()
            .expect("loopback address"),
        WRONG_PSK_HEX,
        &["--timeout-ms", &give_up_ms.to_string()],
    );
    let st = cli.wait_exit(wait).expect("our client gives up");
    let out = cli.transcript();
    assert_eq!(st.code(), Some(69), "peer-unavailable exit code:\n{out}");
    assert!(
        !out.contains("\"connected\""),
        "connected with a wrong PSK:\n{out}"
    );
    assert!(
        out.contains("handshake failed") || out.contains("handshake timed out"),
        "a clear error:\n{out}"
    );
}

/// Our server must not have reported a connection (a peer client used a wrong PSK).
pub fn assert_ours_server_refused(srv: &Proc) {
    assert!(
        srv.wait_line(Stream::Stderr, Duration::from_millis(300), |l| l
            .contains("\"connected\""))
            .is_none(),
        "our server accepted a wrong PSK:\n{}",
        srv.transcript()
    );
}

/// After our client's data went through `relay`: closes the client, and checks that the relay
/// really dropped datagrams and that our client's statistics show it retransmitted.
pub fn assert_ours_client_recovered(cli: &mut Proc, relay: &Relay, wait: Duration) {
    cli.close_stdin();
    let st = cli.wait_exit(wait).expect("exit");
    assert!(st.success(), "our client failed:\n{}", cli.transcript());
    let stats_line = cli.expect_line(Stream::Stderr, wait, "stats", |l| l.contains("\"stats\""));
    let stats: serde_json::Value = serde_json::from_str(&stats_line).expect("stats JSON");
    let r = relay.stats();
    assert!(r.dropped() >= 2, "relay dropped {r:?}");
    assert!(
        stats["retransmissions"].as_u64().unwrap_or(0) >= 1,
        "our client retransmitted: {stats}"
    );
}

/// Our client offering the GBA-mode order (ECDHE_PSK AEAD suites first, then PSK CCM_8) to a
/// peer server on `port` that has no ECDHE_PSK AEAD suite: it must settle on PSK CCM_8.
/// Returns the connected client, still running.
pub fn ours_client_ecdhe_first_settles_on_psk_ccm_8(port: u16, wait: Duration) -> Proc {
    let cli = ours_client(
        format!("127.0.0.1:{port}")
            .parse()
            .expect("loopback address"),
        PSK_HEX,
        &[
            "--suite",
            "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
            "--suite",
            "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
            "--suite",
            "TLS_PSK_WITH_AES_128_CCM_8",
        ],
    );
    let ev = expect_connected(&cli, wait);
    assert_eq!(ev["suite"], "TLS_PSK_WITH_AES_128_CCM_8");
    cli
}

/// Our server on `iana` with a psk_identity_hint (so its first flight holds ServerHello,
/// ServerKeyExchange and ServerHelloDone), packing them into one record when `pack`, serves
/// the peer client that `connect` starts towards the given address (a pass-through relay in
/// front of our server). Waits until our server reports the handshake complete (the peer's
/// Finished verified: it took our flight) and returns the size of that first flight's datagram.
pub fn ours_server_first_flight(
    pack: bool,
    iana: &str,
    connect: impl FnOnce(std::net::SocketAddr) -> Proc,
    wait: Duration,
) -> usize {
    let mut args = vec!["--suite", iana, "--hint", "h"];
    if pack {
        args.push("--pack-handshake-records");
    }
    let (srv, addr) = ours_server(PSK_HEX, &args);
    let relay = Relay::start(addr, RelayConfig::default());
    let _peer = connect(relay.addr());
    let ev = expect_connected(&srv, wait);
    assert_eq!(ev["suite"], iana, "pack={pack}");
    let r = relay.stats();
    // s2c: HelloVerifyRequest, then the first flight (one datagram at the default MTU)
    *r.s2c
        .sizes
        .get(1)
        .unwrap_or_else(|| panic!("no first flight: {r:?}"))
}

/// The first-flight sizes of [`ours_server_first_flight`] unpacked and packed: three messages
/// in three records cost two record headers (26 bytes) more than in one.
pub fn assert_packing_saves_two_record_headers(unpacked: usize, packed: usize) {
    assert_eq!(
        unpacked,
        packed + 26,
        "one record per message: 2 x 13 B more than one packed record"
    );
}
