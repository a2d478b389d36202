//! Writes seed inputs for the stateful targets: a recorded handshake per suite between the
//! fuzz configs (`cargo +nightly run --bin gen_corpus` from fuzz/).

mod common;

use simbridge_dtls::testing::Pair;
use simbridge_dtls::CipherSuite;

fn main() {
    for (i, suite) in CipherSuite::ALL.into_iter().enumerate() {
        let mut pair = Pair::new(common::client_config(suite), common::server_config());
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        for _ in 0..8 {
            pair.c2s_with(|d| {
                to_server.push(d.clone());
                vec![d]
            });
            pair.s2c_with(|d| {
                to_client.push(d.clone());
                vec![d]
            });
        }
        assert!(pair.client.is_established(), "{suite}");
        pair.client.send(b"hello").expect("send");
        pair.client.close();
        while let Some(d) = pair.client.poll_transmit() {
            to_server.push(d);
        }
        std::fs::create_dir_all("corpus/server_endpoint").expect("dir");
        std::fs::create_dir_all("corpus/client_connection").expect("dir");
        std::fs::write(
            format!("corpus/server_endpoint/seed-{i}"),
            common::frame(&to_server),
        )
        .expect("write");
        let mut c = vec![i as u8];
        c.extend(common::frame(&to_client));
        std::fs::write(format!("corpus/client_connection/seed-{i}"), c).expect("write");
    }
}
