//! Wireshark's DTLS dissector as an independent check of our RFC 9146 wire format: a whole
//! in-memory session (handshake with CIDs, data both ways) is written to a pcap file and
//! `tshark -V` must show the connection_id extensions and tls12_cid records carrying the
//! right CIDs, with no malformed packet. Fails loudly without tshark when
//! SIMBRIDGE_REQUIRE_PEERS is set.

mod dtls_support;
mod interop_support;
mod support;

use std::net::SocketAddr;
use std::process::Command;

use dtls_support::*;
use simbridge::dtls::CipherSuite;

const SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5684);

fn ipv4_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ];
    for a in [src, dst] {
        match a.ip() {
            std::net::IpAddr::V4(v4) => p.extend_from_slice(&v4.octets()),
            std::net::IpAddr::V6(_) => unreachable!("IPv4 only"),
        }
    }
    let sum = p
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let sum = (sum & 0xFFFF) + (sum >> 16);
    let ck = !((sum & 0xFFFF) + (sum >> 16)) as u16;
    p[10..12].copy_from_slice(&ck.to_be_bytes());
    let ulen = (8 + payload.len()) as u16;
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&[0, 0]); // no UDP checksum (allowed for IPv4)
    p.extend_from_slice(payload);
    p
}

fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    // classic pcap, LINKTYPE_RAW (101): each packet is an IPv4 datagram
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        f.extend_from_slice(&(i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(p);
    }
    f
}

#[test]
fn tshark_dissects_our_connection_id_handshake_and_records() {
    let Some(tshark) = support::tool("tshark") else {
        return;
    };
    let mut c = client_config(&[CipherSuite::PskAes128Ccm8], 1);
    c.connection_id = Some(2);
    let mut p = Pair::new(c, server_config(&[CipherSuite::PskAes128Ccm8], 2));
    let client = p.client_addr;
    let mut packets = Vec::new();
    for _ in 0..10 {
        p.c2s_with(|d| {
            packets.push(ipv4_udp(client, SERVER, &d));
            vec![d]
        });
        p.s2c_with(|d| {
            packets.push(ipv4_udp(SERVER, client, &d));
            vec![d]
        });
    }
    assert!(p.client_connected().is_some());
    p.client.send(b"ping").unwrap();
    p.c2s_with(|d| {
        packets.push(ipv4_udp(client, SERVER, &d));
        vec![d]
    });
    p.server.send(client, b"pong").unwrap();
    p.s2c_with(|d| {
        packets.push(ipv4_udp(SERVER, client, &d));
        vec![d]
    });
    let ours = hex::encode(p.client.connection_id());
    let theirs = hex::encode(p.client.peer_connection_id());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cid.pcap");
    std::fs::write(&file, pcap(&packets)).unwrap();
    let out = Command::new(tshark)
        .args(["-n", "-V", "-d", "udp.port==5684,dtls", "-r"])
        .arg(&file)
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Extension: connection_id"), "{text}");
    assert!(text.contains("Special Type: Connection ID (25)"), "{text}");
    // in the hello extensions (the client's in both ClientHellos), then in every tls12_cid
    // record sent that way (Finished and one data record each)
    let count = |cid: &str| text.matches(&format!("Connection ID: {cid}")).count();
    assert!(
        count(&theirs) >= 3,
        "client->server records carry the server's CID"
    );
    assert!(
        count(&ours) >= 3,
        "server->client records carry the client's CID"
    );
    assert!(!text.contains("Malformed"), "{text}");
}
