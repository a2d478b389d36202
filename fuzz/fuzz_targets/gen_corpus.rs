//! Writes seed inputs for the stateful targets: a recorded handshake per suite between the
//! fuzz configs (`cargo +nightly run --bin gen_corpus` from fuzz/).

mod common;

use std::sync::Arc;
use std::time::Instant;

use simbridge::dtls::{CipherSuite, Connection, Endpoint};

fn main() {
    for (i, suite) in CipherSuite::ALL.into_iter().enumerate() {
        let now = Instant::now();
        let mut client =
            Connection::client(Arc::new(common::client_config(suite)), now).expect("client");
        let mut server = Endpoint::new(Arc::new(common::server_config())).expect("server");
        let addr = "127.0.0.1:9999".parse().unwrap();
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        for _ in 0..8 {
            while let Some(d) = client.poll_transmit() {
                to_server.push(d.clone());
                server.handle_datagram(now, addr, &d);
            }
            while let Some(t) = server.poll_transmit() {
                to_client.push(t.payload.clone());
                client.handle_datagram(now, &t.payload);
            }
        }
        assert!(client.is_established(), "{suite}");
        client.send(b"hello").expect("send");
        client.close();
        while let Some(d) = client.poll_transmit() {
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
