//! One server of ours, clients of every peer stack at the same time: the endpoint keeps one
//! association per client address and answers each with its own keys.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::launch::{gnutls_client, mbedtls_client, openssl_client, ours_client, ours_server};
use support::suites::gnutls_priority;
use support::{PSK_HEX, Peer, Stream, require_peer};

const T: Duration = Duration::from_secs(10);

#[test]
fn openssl_gnutls_mbedtls_and_ours_clients_share_one_server() {
    if !(require_peer(Peer::Openssl) & require_peer(Peer::Gnutls) & require_peer(Peer::Mbedtls)) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &[]);
    let mut ossl = openssl_client(addr, "PSK-AES128-CCM8", PSK_HEX, &[]);
    let mut gnu = gnutls_client(addr.port(), &gnutls_priority("AES-128-CCM-8"), PSK_HEX, &[]);
    let mbed = mbedtls_client(
        addr.port(),
        "TLS_PSK_WITH_AES_128_CCM_8",
        PSK_HEX,
        &["from mbedtls"],
    );
    let mut ours = ours_client(addr, PSK_HEX, &[]);

    ossl.expect_line(Stream::Stdout, T, "s_client handshake", |l| {
        l.contains("Cipher is")
    });
    gnu.expect_line(Stream::Stdout, T, "gnutls-cli handshake", |l| {
        l.contains("Handshake was completed")
    });
    ours.expect_line(Stream::Stderr, T, "our client connected", |l| {
        l.contains("\"connected\"")
    });

    // All four are up before anyone sends: each echo must come back to its own sender.
    ossl.write_line("from openssl");
    gnu.write_line("from gnutls");
    ours.write_line("from ours");
    ossl.expect_line(Stream::Stdout, T, "own echo", |l| l == "from openssl");
    gnu.expect_line(Stream::Stdout, T, "own echo", |l| l == "from gnutls");
    ours.expect_line(Stream::Stdout, T, "own echo", |l| l == "from ours");
    mbed.expect_line(Stream::Stdout, T, "own echo", |l| l == "RECV from mbedtls");

    let mut peers = HashSet::new();
    while peers.len() < 4 {
        let line = srv.expect_line(Stream::Stderr, T, "four connected events", |l| {
            l.contains("\"connected\"")
        });
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        peers.insert(v["peer"].as_str().unwrap().to_string());
    }
    assert_eq!(peers.len(), 4, "four distinct client addresses");
    for p in [&mut ossl, &mut gnu, &mut ours] {
        p.close_stdin();
    }
    assert!(ours.wait_exit(T).expect("our client exits").success());
}
