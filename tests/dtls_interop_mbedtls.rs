//! Our DTLS engine (through the `simbridge dtls` CLI) against Mbed TLS 2.28 (python-mbedtls,
//! scripts/peers/mbedtls_dtls_psk.py in the venv), both roles, every suite Mbed TLS 2.28 has among
//! ours (the three plain-PSK AEAD suites; it has ECDHE-PSK only with CBC, not the RFC 8442 AEAD
//! suites), data both ways, close_notify, wrong PSK and a lossy, reordering relay.

mod support;

use std::time::Duration;

use support::launch::{expect_connected, mbedtls_client, mbedtls_server, ours_client, ours_server};
use support::{require_peer, scenarios, Peer, Relay, RelayConfig, Stream, PSK_HEX, WRONG_PSK_HEX};

const T: Duration = Duration::from_secs(10);

/// Our client → Mbed TLS server (echo): handshake on `iana`, a line echoed (data both ways),
/// our close_notify seen by Mbed TLS.
fn ours_client_to_mbedtls(iana: &str) {
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let (mut srv, port) = mbedtls_server(iana, PSK_HEX);
    let mut cli = ours_client(
        format!("127.0.0.1:{port}").parse().unwrap(),
        PSK_HEX,
        &["--suite", iana],
    );
    let ev = expect_connected(&cli, T);
    assert_eq!(ev["suite"], iana, "negotiated suite");
    srv.expect_line(Stream::Stdout, T, "CONNECTED", |l| {
        l.starts_with("CONNECTED")
    });
    cli.write_line("hello mbedtls");
    srv.expect_line(Stream::Stdout, T, "our record at Mbed TLS", |l| {
        l == "RECV hello mbedtls"
    });
    cli.expect_line(Stream::Stdout, T, "echo from Mbed TLS", |l| {
        l == "hello mbedtls"
    });
    cli.close_stdin();
    srv.expect_line(Stream::Stdout, T, "CLOSE_NOTIFY", |l| l == "CLOSE_NOTIFY");
    assert!(srv.wait_exit(T).expect("mbedtls server exits").success());
    let st = cli.wait_exit(T).expect("our client exits");
    assert!(st.success(), "exit {st:?}\n{}", cli.transcript());
}

/// Mbed TLS client → our server (echo): handshake on `iana`, two lines echoed, Mbed TLS's
/// close_notify seen by our server.
fn mbedtls_client_to_ours(iana: &str) {
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--suite", iana]);
    let mut cli = mbedtls_client(addr.port(), iana, PSK_HEX, &["one", "two"]);
    let mbed = iana.replace('_', "-");
    cli.expect_line(Stream::Stdout, T, "CONNECTED", |l| {
        l == format!("CONNECTED {mbed}")
    });
    let ev = expect_connected(&srv, T);
    assert_eq!(ev["suite"], iana);
    cli.expect_line(Stream::Stdout, T, "echo one", |l| l == "RECV one");
    cli.expect_line(Stream::Stdout, T, "echo two", |l| l == "RECV two");
    cli.expect_line(Stream::Stdout, T, "CLOSED", |l| l == "CLOSED");
    srv.expect_line(Stream::Stderr, T, "closed by close_notify", |l| {
        l.contains("\"closed\"") && l.contains("close_notify")
    });
    assert!(cli.wait_exit(T).expect("mbedtls client exits").success());
}

#[test]
fn ours_client_mbedtls_server_psk_aes_128_ccm_8() {
    ours_client_to_mbedtls("TLS_PSK_WITH_AES_128_CCM_8");
}

#[test]
fn ours_client_mbedtls_server_psk_aes_128_ccm() {
    ours_client_to_mbedtls("TLS_PSK_WITH_AES_128_CCM");
}

#[test]
fn ours_client_mbedtls_server_psk_aes_128_gcm_sha256() {
    ours_client_to_mbedtls("TLS_PSK_WITH_AES_128_GCM_SHA256");
}

#[test]
fn mbedtls_client_ours_server_psk_aes_128_ccm_8() {
    mbedtls_client_to_ours("TLS_PSK_WITH_AES_128_CCM_8");
}

#[test]
fn mbedtls_client_ours_server_psk_aes_128_ccm() {
    mbedtls_client_to_ours("TLS_PSK_WITH_AES_128_CCM");
}

#[test]
fn mbedtls_client_ours_server_psk_aes_128_gcm_sha256() {
    mbedtls_client_to_ours("TLS_PSK_WITH_AES_128_GCM_SHA256");
}

/// A PSK that does not match: our client exits with the handshake-failure code and a clear
/// message, never reporting a connection.
#[test]
fn ours_client_wrong_psk_against_mbedtls_fails_clearly() {
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let (_srv, port) = mbedtls_server("TLS_PSK_WITH_AES_128_CCM_8", PSK_HEX);
    scenarios::ours_client_wrong_psk_fails_clearly(port, 4000, T);
}

/// An Mbed TLS client with a wrong PSK gets no connection from our server.
#[test]
fn mbedtls_client_wrong_psk_rejected_by_ours() {
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &[]);
    let mut cmd_cli = mbedtls_client(
        addr.port(),
        "TLS_PSK_WITH_AES_128_CCM_8",
        WRONG_PSK_HEX,
        &["x"],
    );
    let _ = cmd_cli.wait_exit(Duration::from_secs(4));
    assert!(
        cmd_cli
            .wait_line(Stream::Stdout, Duration::from_millis(100), |l| l
                .starts_with("CONNECTED"))
            .is_none(),
        "Mbed TLS connected with a wrong PSK:\n{}",
        cmd_cli.transcript()
    );
    scenarios::assert_ours_server_refused(&srv);
}

/// Loss and reordering, but no duplicates: Mbed TLS 2.28 takes a duplicated cookie ClientHello
/// that arrives after the handshake for a client reconnect (RFC 6347 §4.2.8), resets its
/// context at once (MBEDTLS_ERR_SSL_CLIENT_RECONNECT, 0x6780) and so ends the association the
/// RFC says it must keep until the new client proves reachability. Seen with seed 13 and 20 %
/// duplicates; not our engine's doing.
fn lossy() -> RelayConfig {
    RelayConfig::lossy(13, 0)
}

/// Our client → lossy relay → Mbed TLS: completes by retransmission, then echoes.
#[test]
fn ours_client_mbedtls_server_through_lossy_relay() {
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let (mut srv, port) = mbedtls_server("TLS_PSK_WITH_AES_128_CCM_8", PSK_HEX);
    let relay = Relay::start(format!("127.0.0.1:{port}").parse().unwrap(), lossy());
    let mut cli = ours_client(relay.addr(), PSK_HEX, &["--retransmit-ms", "300"]);
    expect_connected(&cli, Duration::from_secs(20));
    cli.write_line("through the relay");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "through the relay");
    scenarios::assert_ours_client_recovered(&mut cli, &relay, T);
    srv.kill();
}

/// Mbed TLS client → lossy relay → our server: completes by retransmission, then echoes.
#[test]
fn mbedtls_client_ours_server_through_lossy_relay() {
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--retransmit-ms", "300"]);
    let relay = Relay::start(addr, lossy());
    let cli = mbedtls_client(
        relay.addr().port(),
        "TLS_PSK_WITH_AES_128_CCM_8",
        PSK_HEX,
        &["lossy"],
    );
    cli.expect_line(Stream::Stdout, Duration::from_secs(20), "CONNECTED", |l| {
        l.starts_with("CONNECTED")
    });
    expect_connected(&srv, T);
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "RECV lossy");
    let r = relay.stats();
    assert!(r.dropped() >= 2, "relay dropped {r:?}");
}

/// GBA mode offers ECDHE_PSK first; Mbed TLS 2.28 has none of those AEAD suites and picks CCM_8.
#[test]
fn ours_client_offering_ecdhe_psk_first_gets_psk_ccm_8_from_mbedtls() {
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let (srv, port) = mbedtls_server("TLS_PSK_WITH_AES_128_CCM_8", PSK_HEX);
    let mut cli = scenarios::ours_client_ecdhe_first_settles_on_psk_ccm_8(port, T);
    cli.close_stdin();
    srv.expect_line(Stream::Stdout, T, "CLOSE_NOTIFY", |l| l == "CLOSE_NOTIFY");
    cli.wait_exit(T).expect("exit");
}

/// Our server packing ServerHello, ServerKeyExchange and ServerHelloDone into one record
/// (`--pack-handshake-records`) still serves mbedtls; the default (one record per message) costs
/// exactly two record headers more.
#[test]
fn mbedtls_client_ours_server_packed_records() {
    const CCM8: &str = "TLS_PSK_WITH_AES_128_CCM_8";
    if !require_peer(Peer::Mbedtls) {
        return;
    }
    let packed = scenarios::ours_server_first_flight(
        true,
        CCM8,
        |a| mbedtls_client(a.port(), CCM8, PSK_HEX, &["one"]),
        T,
    );
    let unpacked = scenarios::ours_server_first_flight(
        false,
        CCM8,
        |a| mbedtls_client(a.port(), CCM8, PSK_HEX, &["one"]),
        T,
    );
    scenarios::assert_packing_saves_two_record_headers(unpacked, packed);
}
