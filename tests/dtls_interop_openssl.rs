//! Our DTLS engine (through the `simbridge dtls` CLI) against OpenSSL's s_server / s_client, both
//! roles, every suite OpenSSL has among ours (the three plain-PSK AEAD suites; OpenSSL 3.0 has
//! no RFC 8442 ECDHE_PSK AEAD suite), data both ways, close_notify, wrong PSK and a lossy,
//! reordering relay.

mod support;

use std::time::Duration;

use support::launch::{expect_connected, openssl_client, openssl_server, ours_client, ours_server};
use support::suites::by_iana;
use support::{require_peer, scenarios, Peer, Relay, RelayConfig, Stream, PSK_HEX, WRONG_PSK_HEX};

const T: Duration = Duration::from_secs(10);

fn openssl_name(iana: &str) -> &'static str {
    by_iana(iana).openssl.expect("OpenSSL has this suite")
}

/// Our client → openssl s_server: handshake on `iana`, a line each way, our close_notify seen.
fn ours_client_to_openssl(iana: &str) {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (mut srv, port) = openssl_server(
        openssl_name(iana),
        PSK_HEX,
        &["-no_ticket", "-naccept", "1"],
    );
    let mut cli = ours_client(
        format!("127.0.0.1:{port}").parse().unwrap(),
        PSK_HEX,
        &["--suite", iana],
    );
    let ev = expect_connected(&cli, T);
    assert_eq!(ev["suite"], iana, "negotiated suite");
    assert_eq!(ev["resumed"], false);

    cli.write_line("hello from simbridge");
    srv.expect_line(Stream::Stdout, T, "our record at s_server", |l| {
        l == "hello from simbridge"
    });
    srv.write_line("hello from openssl");
    cli.expect_line(Stream::Stdout, T, "s_server's record at our client", |l| {
        l == "hello from openssl"
    });

    // s_server's stdin stays open, so DONE can only come from SSL_ERROR_ZERO_RETURN: our close_notify.
    cli.close_stdin();
    srv.expect_line(Stream::Stdout, T, "DONE (close_notify received)", |l| {
        l == "DONE"
    });
    let st = cli.wait_exit(T).expect("our client exits after close");
    assert!(
        st.success(),
        "our client exit: {st:?}\n{}",
        cli.transcript()
    );
    srv.kill();
}

/// openssl s_client → our server (echo): handshake on `iana`, a line echoed, s_client's
/// close_notify seen by our server.
fn openssl_client_to_ours(iana: &str) {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--suite", iana]);
    let mut cli = openssl_client(addr, openssl_name(iana), PSK_HEX, &[]);
    let want = format!("Cipher is {}", openssl_name(iana));
    cli.expect_line(Stream::Stdout, T, "s_client handshake line", |l| {
        l.contains(&want)
    });
    let ev = expect_connected(&srv, T);
    assert_eq!(ev["suite"], iana);
    assert_eq!(ev["identity"], "client1");

    cli.write_line("ping from openssl");
    cli.expect_line(Stream::Stdout, T, "echo from our server", |l| {
        l == "ping from openssl"
    });
    cli.close_stdin();
    srv.expect_line(Stream::Stderr, T, "closed by close_notify", |l| {
        l.contains("\"closed\"") && l.contains("close_notify")
    });
    cli.wait_exit(T).expect("s_client exits");
}

#[test]
fn ours_client_openssl_server_psk_aes_128_ccm_8() {
    ours_client_to_openssl("TLS_PSK_WITH_AES_128_CCM_8");
}

#[test]
fn ours_client_openssl_server_psk_aes_128_ccm() {
    ours_client_to_openssl("TLS_PSK_WITH_AES_128_CCM");
}

#[test]
fn ours_client_openssl_server_psk_aes_128_gcm_sha256() {
    ours_client_to_openssl("TLS_PSK_WITH_AES_128_GCM_SHA256");
}

#[test]
fn openssl_client_ours_server_psk_aes_128_ccm_8() {
    openssl_client_to_ours("TLS_PSK_WITH_AES_128_CCM_8");
}

#[test]
fn openssl_client_ours_server_psk_aes_128_ccm() {
    openssl_client_to_ours("TLS_PSK_WITH_AES_128_CCM");
}

#[test]
fn openssl_client_ours_server_psk_aes_128_gcm_sha256() {
    openssl_client_to_ours("TLS_PSK_WITH_AES_128_GCM_SHA256");
}

/// GBA mode offers ECDHE_PSK first; OpenSSL has none of those AEAD suites and must pick CCM_8.
#[test]
fn ours_client_offering_ecdhe_psk_first_gets_psk_ccm_8_from_openssl() {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (srv, port) = openssl_server(
        "PSK-AES128-CCM8:PSK-AES128-GCM-SHA256",
        PSK_HEX,
        &["-no_ticket", "-naccept", "1"],
    );
    let mut cli = scenarios::ours_client_ecdhe_first_settles_on_psk_ccm_8(port, T);
    cli.close_stdin();
    srv.expect_line(Stream::Stdout, T, "DONE", |l| l == "DONE");
    cli.wait_exit(T).expect("exit");
}

/// A PSK that does not match: our client exits non-zero with a handshake error, and never
/// reports a connection.
#[test]
fn ours_client_wrong_psk_against_openssl_fails_clearly() {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (_srv, port) = openssl_server("PSK-AES128-CCM8", PSK_HEX, &["-no_ticket"]);
    scenarios::ours_client_wrong_psk_fails_clearly(port, 5000, T);
}

/// s_client with a wrong PSK never gets a connection from our server.
#[test]
fn openssl_client_wrong_psk_rejected_by_ours() {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &[]);
    let mut cli = openssl_client(addr, "PSK-AES128-CCM8", WRONG_PSK_HEX, &[]);
    let st = cli.wait_exit(Duration::from_secs(5));
    scenarios::assert_ours_server_refused(&srv);
    if let Some(st) = st {
        assert!(
            !st.success(),
            "s_client succeeded with a wrong PSK:\n{}",
            cli.transcript()
        );
    }
}

fn lossy() -> RelayConfig {
    RelayConfig::lossy(7, 20)
}

/// Our client → lossy relay → s_server: CH-with-cookie and s_server's last flight are dropped,
/// datagrams reordered and duplicated; the handshake completes by retransmission.
#[test]
fn ours_client_openssl_server_through_lossy_relay() {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (srv, port) = openssl_server("PSK-AES128-CCM8", PSK_HEX, &["-no_ticket", "-naccept", "1"]);
    let relay = Relay::start(format!("127.0.0.1:{port}").parse().unwrap(), lossy());
    let mut cli = ours_client(relay.addr(), PSK_HEX, &["--retransmit-ms", "300"]);
    expect_connected(&cli, Duration::from_secs(20));
    cli.write_line("through the relay");
    srv.expect_line(Stream::Stdout, T, "data through relay", |l| {
        l == "through the relay"
    });
    scenarios::assert_ours_client_recovered(&mut cli, &relay, T);
}

/// s_client → lossy relay → our server: completes by retransmission (s_client's 1 s timer).
#[test]
fn openssl_client_ours_server_through_lossy_relay() {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--retransmit-ms", "300"]);
    let relay = Relay::start(addr, lossy());
    let mut cli = openssl_client(relay.addr(), "PSK-AES128-CCM8", PSK_HEX, &[]);
    cli.expect_line(Stream::Stdout, Duration::from_secs(20), "handshake", |l| {
        l.contains("Cipher is PSK-AES128-CCM8")
    });
    expect_connected(&srv, T);
    cli.write_line("lossy echo");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "lossy echo");
    let r = relay.stats();
    assert!(r.dropped() >= 2, "relay dropped {r:?}");
    assert!(
        r.c2s.datagrams > 3 || r.s2c.datagrams > 3,
        "retransmissions crossed the relay: {r:?}"
    );
}

/// psk_identity_hint on: s_client reports the hint our server sends (ServerKeyExchange).
#[test]
fn ours_server_hint_reaches_openssl_client() {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--hint", "3GPP-bootstrapping"]);
    let mut cli = openssl_client(addr, "PSK-AES128-CCM8", PSK_HEX, &[]);
    cli.expect_line(Stream::Stdout, T, "hint in the session print", |l| {
        l.trim() == "PSK identity hint: 3GPP-bootstrapping"
    });
    expect_connected(&srv, T);
    cli.close_stdin();
    cli.wait_exit(T).expect("s_client exits");
}

/// A server that sends a psk_identity_hint (s_server -psk_hint): our client still connects.
#[test]
fn ours_client_accepts_openssl_server_hint() {
    if !require_peer(Peer::Openssl) {
        return;
    }
    let (srv, port) = openssl_server(
        "PSK-AES128-CCM8",
        PSK_HEX,
        &[
            "-no_ticket",
            "-naccept",
            "1",
            "-psk_hint",
            "3GPP-bootstrapping",
        ],
    );
    let mut cli = ours_client(format!("127.0.0.1:{port}").parse().unwrap(), PSK_HEX, &[]);
    expect_connected(&cli, T);
    cli.close_stdin();
    srv.expect_line(Stream::Stdout, T, "DONE", |l| l == "DONE");
    assert!(cli.wait_exit(T).expect("exit").success());
}

/// Our server packing ServerHello, ServerKeyExchange and ServerHelloDone into one record
/// (`--pack-handshake-records`) still serves openssl; the default (one record per message) costs
/// exactly two record headers more.
#[test]
fn openssl_client_ours_server_packed_records() {
    const CCM8: &str = "TLS_PSK_WITH_AES_128_CCM_8";
    if !require_peer(Peer::Openssl) {
        return;
    }
    let packed = scenarios::ours_server_first_flight(
        true,
        CCM8,
        |a| openssl_client(a, openssl_name(CCM8), PSK_HEX, &[]),
        T,
    );
    let unpacked = scenarios::ours_server_first_flight(
        false,
        CCM8,
        |a| openssl_client(a, openssl_name(CCM8), PSK_HEX, &[]),
        T,
    );
    scenarios::assert_packing_saves_two_record_headers(unpacked, packed);
}
