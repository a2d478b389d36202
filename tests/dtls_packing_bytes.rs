//! What one handshake message per record costs on the wire against packing a flight's
//! messages into one record, per suite (full handshake with cookie, in memory, exact). Prints
//! the table for docs/performance.md (`cargo test --test dtls_packing_bytes -- --nocapture`)
//! and checks that the only difference is one 13-byte record header per extra message of the
//! server's first flight.

use simbridge::dtls::CipherSuite;
use simbridge::dtls::internal::bench::{HandshakeShape, handshake_bytes_with};

#[test]
fn one_record_per_message_costs_13_bytes_per_extra_message() {
    println!("| suite | hint | packed B (C→S / S→C) | one per record B (C→S / S→C) | extra B |");
    println!("|---|---|---|---|---|");
    for suite in CipherSuite::ALL {
        for hint in [None, Some(b"hint".to_vec())] {
            let shape = |pack| HandshakeShape {
                pack,
                hint: hint.clone(),
            };
            let packed = handshake_bytes_with(suite, &shape(true)).expect("packed handshake");
            let unpacked = handshake_bytes_with(suite, &shape(false)).expect("handshake");
            let sum = |v: &[usize]| v.iter().sum::<usize>();
            let (pc, ps) = (sum(&packed.client_to_server), sum(&packed.server_to_client));
            let (uc, us) = (
                sum(&unpacked.client_to_server),
                sum(&unpacked.server_to_client),
            );
            // the client's flights never hold two plaintext messages in a row
            assert_eq!(pc, uc, "{suite:?}: client bytes unchanged");
            // server flight 4: ServerHello, [ServerKeyExchange], ServerHelloDone
            let messages = if suite.is_ecdhe() || hint.is_some() {
                3
            } else {
                2
            };
            assert_eq!(us, ps + 13 * (messages - 1), "{suite:?} hint={hint:?}");
            assert_eq!(
                packed.server_to_client.len(),
                unpacked.server_to_client.len(),
                "the same datagrams"
            );
            println!(
                "| {} | {} | {} ({pc} / {ps}) | {} ({uc} / {us}) | +{} ({:.1} %) |",
                suite.name(),
                if hint.is_some() { "yes" } else { "no" },
                pc + ps,
                uc + us,
                us - ps,
                100.0 * (us - ps) as f64 / (pc + ps) as f64
            );
        }
    }
}
