//! RFC 9146 Connection ID interop with the two real implementations that build here from
//! crates.io sources (scripts/setup.d/30-cid-peers.sh): Mbed TLS 3.6 and wolfSSL 5.9, both
//! roles, CID on both sides and zero-length CID on one side, data both ways, and NAT
//! rebinding (a new client source port) with no handshake. Fails loudly when a peer is missing
//! and SIMBRIDGE_REQUIRE_PEERS is set; otherwise skips with a printed reason.

mod interop_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use interop_support::*;
use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::{ClientConfig, RandomCid, ServerConfig};
use simbridge::secret::SecretVec;
use support::launch::{openssl_client_command, openssl_server_command};
use support::{Proc, Relay, RelayConfig, free_udp_port, peer_bin, tool};

const T: Duration = Duration::from_secs(10);
const PEERS: [&str; 2] = ["mbed_peer", "wolf_peer"];

fn psk() -> Arc<StaticPsk> {
    Arc::new(StaticPsk {
        identity: b"Client_identity".to_vec(),
        key: SecretVec::new((0u8..16).collect()),
    })
}

fn client(cid: Option<usize>) -> ClientConfig {
    let mut c = ClientConfig::new(psk());
    c.connection_id = cid;
    c.common.retransmit.initial = Duration::from_millis(300);
    c
}

fn server(cid: Option<usize>) -> ServerConfig {
    let mut s = ServerConfig::new(psk());
    s.connection_id = cid.map(|n| Arc::new(RandomCid::new(n)) as _);
    s
}

/// Our client against the peer's server: handshake with CIDs, echo, new source port, echo.
fn our_client_against(peer: &str, our_cid: usize, their_cid: &str) {
    let Some(bin) = peer_bin(peer) else { return };
    let port = free_udp_port();
    let p = port.to_string();
    let srv = Proc::start(&bin, &["server", &p, "-c", their_cid, "-w", "5000"]);
    srv.wait_seen("LISTENING", T).expect("peer listens");
    let mut c = UdpClient::connect(client(Some(our_cid)), port);
    assert_eq!(c.connected(T), Some(false), "{peer}: handshake");
    assert!(c.conn.cid_negotiated(), "{peer}: CID negotiated");
    assert_eq!(
        hex::encode(c.conn.peer_connection_id()),
        their_cid,
        "{peer}"
    );
    assert_eq!(c.conn.connection_id().len(), our_cid);
    let line = srv.wait_seen("CONNECTED", T).expect("peer connected");
    let ours = if our_cid == 0 {
        "(empty)".to_owned()
    } else {
        hex::encode(c.conn.connection_id())
    };
    assert!(line.contains(&format!("peer_cid={ours}")), "{peer}: {line}");
    assert!(c.echo(b"before rebinding", T), "{peer}: echo");
    let hs = c.conn.stats().handshake_datagrams_sent;
    let new = c.rebind();
    assert!(
        c.echo(b"after rebinding", T),
        "{peer}: echo after rebinding"
    );
    srv.wait_seen(&format!("PEER {}", new.port()), T)
        .unwrap_or_else(|| panic!("{peer} followed the client to its new port"));
    assert_eq!(c.conn.stats().handshake_datagrams_sent, hs, "no handshake");
    assert_eq!(c.data().len(), 2);
    c.close();
    srv.wait_seen("CLOSED", T).expect("peer saw close_notify");
}

/// The peer's client against our endpoint: CIDs, three messages, new source port after the first.
fn peer_client_against_us(peer: &str, their_cid: &str, our_len: usize) {
    let Some(bin) = peer_bin(peer) else { return };
    let mut s = UdpServer::bind(server(Some(our_len)));
    let p = s.port().to_string();
    let mut cli = Proc::start(&bin, &["client", &p, "-c", their_cid, "-n", "3", "-r"]);
    let ok = s.serve_until(T, |s| {
        s.closed_count() == 1 || cli.has("NO REPLY") || cli.has("FAILED")
    });
    assert!(ok, "{peer}: session ended");
    assert!(cli.wait_exit(T).is_some_and(|st| st.success()), "{peer}");
    assert_eq!(s.connected().len(), 1, "{peer}: one handshake");
    assert_eq!(
        s.data(),
        vec![b"msg 1".to_vec(), b"msg 2".to_vec(), b"msg 3".to_vec()]
    );
    for i in 1..=3 {
        assert!(cli.has(&format!("RECV msg {i}")), "{peer}: echo {i}");
    }
    let rebound: u16 = cli
        .stdout_seen()
        .into_iter()
        .find_map(|l| l.strip_prefix("REBOUND ")?.parse().ok())
        .expect("peer rebound");
    assert_eq!(s.address_changes.len(), 1, "{peer}: one address change");
    assert_eq!(s.address_changes[0].1.port(), rebound);
    assert_eq!(s.ep.stats().accepted, 1, "no second handshake");
    let line = cli
        .stdout_seen()
        .into_iter()
        .find(|l| l.contains("CONNECTED"))
        .unwrap();
    if our_len == 0 {
        assert!(line.contains("peer_cid=(empty)"), "{peer}: {line}");
    } else {
        assert!(!line.contains("peer_cid=none"), "{peer}: {line}");
    }
}

#[test]
fn our_client_with_cid_against_mbedtls_and_wolfssl_servers_survives_rebinding() {
    for peer in PEERS {
        our_client_against(peer, 2, "c1d5e7f0");
    }
}

#[test]
fn our_client_with_zero_length_cid_against_mbedtls_and_wolfssl_servers() {
    for peer in PEERS {
        our_client_against(peer, 0, "c1d5e7f0");
    }
}

#[test]
fn mbedtls_and_wolfssl_clients_with_cid_against_our_server_survive_rebinding() {
    for peer in PEERS {
        peer_client_against_us(peer, "c11e", 4);
    }
}

#[test]
fn mbedtls_and_wolfssl_clients_with_zero_length_cid_against_our_server() {
    for peer in PEERS {
        peer_client_against_us(peer, "", 6);
    }
}

#[test]
fn peer_server_with_zero_length_cid_gets_plain_records_from_us() {
    for peer in PEERS {
        let Some(bin) = peer_bin(peer) else { return };
        let port = free_udp_port();
        let p = port.to_string();
        let srv = Proc::start(&bin, &["server", &p, "-c", "", "-w", "5000"]);
        srv.wait_seen("LISTENING", T).expect("peer listens");
        let mut c = UdpClient::connect(client(Some(3)), port);
        assert_eq!(c.connected(T), Some(false), "{peer}");
        assert!(c.conn.cid_negotiated());
        assert!(c.conn.peer_connection_id().is_empty(), "{peer}");
        assert!(c.echo(b"plain both ways?", T), "{peer}");
        c.close();
    }
}

#[test]
fn peer_without_cid_falls_back_cleanly() {
    for peer in PEERS {
        let Some(bin) = peer_bin(peer) else { return };
        let port = free_udp_port();
        let p = port.to_string();
        let srv = Proc::start(&bin, &["server", &p, "-c", "none", "-w", "5000"]);
        srv.wait_seen("LISTENING", T).expect("peer listens");
        let mut c = UdpClient::connect(client(Some(4)), port);
        assert_eq!(c.connected(T), Some(false), "{peer}");
        assert!(!c.conn.cid_negotiated(), "{peer}");
        assert!(c.echo(b"no cid", T), "{peer}");
        c.close();
    }
}

#[test]
fn openssl_without_cid_falls_back_cleanly_both_roles() {
    let Some(_) = tool("openssl") else {
        return;
    };
    // our client offers a CID to s_server, which ignores the extension
    let port = free_udp_port();
    let cmd = openssl_server_command(port, ID, KEY, "PSK-AES128-CCM8");
    let srv = Proc::spawn("peer", cmd);
    srv.wait_seen("ACCEPT", T).expect("s_server");
    let mut c = UdpClient::connect(client(Some(4)), port);
    assert_eq!(c.connected(T), Some(false));
    assert!(!c.conn.cid_negotiated());
    c.conn.send(b"plain records\n").unwrap();
    c.run_until(Duration::from_millis(300), |_| false);
    srv.wait_seen("plain records", T)
        .expect("s_server got the data");
    c.close();
    // s_client (no CID) against our server, which has CIDs enabled by default
    let mut s = UdpServer::bind(server(Some(4)));
    let cmd = openssl_client_command(loopback(s.port()), ID, KEY, "PSK-AES128-CCM8");
    let mut cli = Proc::spawn("peer", cmd);
    assert!(s.serve_until(T, |_| cli.has("Verify return code")));
    let _ = std::io::Write::write_all(cli.stdin().unwrap(), b"hello\n");
    assert!(s.serve_until(T, |s| !s.data().is_empty()));
    assert_eq!(s.data(), vec![b"hello\n".to_vec()]);
    let addr = s.connected()[0].0;
    assert!(!s.ep.connection(&addr).unwrap().cid_negotiated());
}

/// A NAT between the client and the server changes the client's source port mid-session.
/// With a CID (Mbed TLS / wolfSSL client, our server) the session continues with no
/// handshake; the server follows the new port.
#[test]
fn nat_rebinding_in_a_relay_with_cid_keeps_the_session() {
    for peer in PEERS {
        let Some(bin) = peer_bin(peer) else { return };
        let mut s = UdpServer::bind(server(Some(4)));
        let nat = nat_relay(s.port());
        let p = nat.addr().port().to_string();
        let mut cli = Proc::start(&bin, &["client", &p, "-c", "c11e", "-n", "4"]);
        assert!(
            s.serve_until(T, |s| s.data().len() == 1),
            "{peer}: first record"
        );
        nat.rebind_at_next_datagram();
        let ok = s.serve_until(T, |s| s.closed_count() == 1 || cli.has("NO REPLY"));
        assert!(ok, "{peer}");
        assert!(cli.wait_exit(T).is_some_and(|st| st.success()), "{peer}");
        assert_eq!(s.data().len(), 4, "{peer}: all four records arrived");
        for i in 1..=4 {
            assert!(cli.has(&format!("RECV msg {i}")), "{peer}: echo {i}");
        }
        let ports = nat.stats().outbound_ports;
        assert_eq!(ports.len(), 2);
        assert_eq!(s.address_changes.len(), 1, "{peer}");
        assert_eq!(s.address_changes[0].1.port(), ports[1]);
        assert_eq!(s.connected().len(), 1, "{peer}: no second handshake");
    }
}

/// The same NAT rebinding without a CID (OpenSSL s_client has none): the server cannot tell
/// the new port belongs to the session; records from it are dropped as an unknown peer.
#[test]
fn nat_rebinding_without_cid_loses_the_session() {
    let Some(_) = tool("openssl") else {
        return;
    };
    let mut s = UdpServer::bind(server(Some(4)));
    let nat = nat_relay(s.port());
    let cmd = openssl_client_command(nat.addr(), ID, KEY, "PSK-AES128-CCM8");
    let mut cli = Proc::spawn("peer", cmd);
    assert!(s.serve_until(T, |_| cli.has("Verify return code")));
    let _ = std::io::Write::write_all(cli.stdin().unwrap(), b"before\n");
    assert!(s.serve_until(T, |s| s.data().len() == 1));
    nat.rebind_at_next_datagram();
    let _ = std::io::Write::write_all(cli.stdin().unwrap(), b"after\n");
    s.serve_until(Duration::from_secs(1), |_| false);
    assert_eq!(
        s.data(),
        vec![b"before\n".to_vec()],
        "the record after rebinding is lost"
    );
    assert!(s.ep.stats().unknown_peer >= 1);
    assert!(s.address_changes.is_empty());
}

/// A NAT stand-in in front of our server on 127.0.0.1:`port`: the shared relay, forwarding
/// unchanged, rebinding when told.
fn nat_relay(port: u16) -> Relay {
    Relay::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        RelayConfig::default(),
    )
}

/// The PSK and identity of the OpenSSL runs here.
const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const ID: &str = "Client_identity";

fn loopback(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}
