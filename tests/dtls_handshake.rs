//! Full handshakes between our client and our server over an in-memory link.

mod dtls_support;

use dtls_support::*;
use simbridge::dtls::CipherSuite;

#[test]
fn every_suite_handshakes_and_carries_data_both_ways() {
    for suite in CipherSuite::ALL {
        let mut p = Pair::new(client_config(&[suite], 1), server_config(&[suite], 2));
        p.drive();
        assert_eq!(p.client_connected(), Some(suite), "{suite}");
        assert!(p.server_connected(), "{suite}");
        p.client.send(b"ping\n").unwrap();
        p.drive();
        assert_eq!(p.server_data(), vec![b"ping\n".to_vec()], "{suite}");
        let addr = p.client_addr;
        p.server.send(addr, b"pong\n").unwrap();
        p.drive();
        assert_eq!(p.client_data(), vec![b"pong\n".to_vec()], "{suite}");
    }
}

#[test]
fn psk_ccm8_handshake_with_cookie_fits_the_byte_budget() {
    let mut p = Pair::new(
        client_config(&[CipherSuite::PskAes128Ccm8], 1),
        server_config(&[CipherSuite::PskAes128Ccm8], 2),
    );
    p.drive();
    assert!(p.client_connected().is_some());
    let total: usize = p.c2s_sizes.iter().chain(&p.s2c_sizes).sum();
    println!("c2s {:?} s2c {:?} total {total}", p.c2s_sizes, p.s2c_sizes);
    assert_eq!(
        p.c2s_sizes.len() + p.s2c_sizes.len(),
        6,
        "CH, HVR, CH, SH+SHD, CKE+CCS+Fin, CCS+Fin"
    );
    assert!(total <= 520, "{total} bytes");
    let s = p.client.stats();
    assert_eq!(s.round_trips, 3);
    assert_eq!(s.flights_sent, 3);
    assert_eq!(
        s.handshake_bytes_sent as usize,
        p.c2s_sizes.iter().sum::<usize>()
    );
}

#[test]
fn server_counts_its_side_of_the_handshake() {
    let mut p = Pair::new(
        client_config(&[CipherSuite::PskAes128Ccm8], 1),
        server_config(&[CipherSuite::PskAes128Ccm8], 2),
    );
    p.drive();
    let s = p.server.connection(&p.client_addr).unwrap().stats().clone();
    // from the cookie-bearing hello on: CH2 + flight 5 in, flight 4 + flight 6 out
    assert_eq!(
        s.handshake_bytes_received as usize,
        p.c2s_sizes[1] + p.c2s_sizes[2]
    );
    assert_eq!(
        s.handshake_bytes_sent as usize,
        p.s2c_sizes[1] + p.s2c_sizes[2]
    );
    assert_eq!(s.flights_sent, 2);
    assert_eq!(s.round_trips, 1);
    assert_eq!(p.server.stats().hello_verify_sent, 1);
}
