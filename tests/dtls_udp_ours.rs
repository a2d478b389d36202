//! Our client against our server over real loopback UDP (the CLI both sides): the RFC 8442
//! ECDHE_PSK AEAD suites that no available peer has, and a lossy, reordering, duplicating relay.

mod support;

use std::time::Duration;

use support::launch::{expect_connected, ours_client, ours_server};
use support::{PSK_HEX, Relay, RelayConfig, Stream};

const T: Duration = Duration::from_secs(10);

fn ours_to_ours(iana: &str) {
    let (srv, addr) = ours_server(PSK_HEX, &["--suite", iana]);
    let mut cli = ours_client(addr, PSK_HEX, &["--suite", iana]);
    assert_eq!(expect_connected(&cli, T)["suite"], iana);
    assert_eq!(expect_connected(&srv, T)["suite"], iana);
    cli.write_line("forward secrecy");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "forward secrecy");
    cli.close_stdin();
    srv.expect_line(Stream::Stderr, T, "close_notify", |l| {
        l.contains("\"closed\"") && l.contains("close_notify")
    });
    assert!(cli.wait_exit(T).expect("exit").success());
}

#[test]
fn ours_ecdhe_psk_aes_128_ccm_8_sha256_over_udp() {
    ours_to_ours("TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256");
}

#[test]
fn ours_ecdhe_psk_aes_128_ccm_sha256_over_udp() {
    ours_to_ours("TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256");
}

#[test]
fn ours_ecdhe_psk_aes_128_gcm_sha256_over_udp() {
    ours_to_ours("TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256");
}

/// Drops, reordering and duplicates both ways, with the smallest MTU the engine takes (128) so
/// flights span several datagrams: the handshake completes by retransmission and data flows.
#[test]
fn ours_to_ours_through_lossy_duplicating_relay_with_small_mtu() {
    let (srv, addr) = ours_server(
        PSK_HEX,
        &[
            "--retransmit-ms",
            "200",
            "--mtu",
            "128",
            "--suite",
            "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
        ],
    );
    let relay = Relay::start(
        addr,
        RelayConfig {
            seed: 3,
            drop_c2s: vec![2, 4],
            drop_s2c: vec![2, 5],
            reorder_percent: 30,
            duplicate_percent: 20,
            ..RelayConfig::default()
        },
    );
    let mut cli = ours_client(
        relay.addr(),
        PSK_HEX,
        &[
            "--retransmit-ms",
            "200",
            "--mtu",
            "128",
            "--suite",
            "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
        ],
    );
    expect_connected(&cli, Duration::from_secs(20));
    expect_connected(&srv, T);
    cli.write_line("lossy");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "lossy");
    cli.close_stdin();
    cli.wait_exit(T).expect("exit");
    let r = relay.stats();
    assert!(r.dropped() >= 4, "{r:?}");
    assert!(r.c2s.duplicated + r.s2c.duplicated > 0, "{r:?}");
    assert!(
        r.s2c.sizes.iter().chain(&r.c2s.sizes).all(|&n| n <= 128),
        "MTU respected: {r:?}"
    );
    // the server's first ECDHE flight (ServerHello, ServerKeyExchange, ServerHelloDone) is
    // larger than 128 bytes: its first sending took two datagrams, each within the MTU
    let flight4: Vec<usize> = r
        .log
        .iter()
        .filter(|d| !d.c2s && d.content_type == 22 && d.epoch == 0 && d.len > 60)
        .map(|d| d.len)
        .take(2)
        .collect();
    assert!(
        flight4.len() == 2 && flight4.iter().sum::<usize>() > 128,
        "a flight was split at the MTU: {r:?}"
    );
}
