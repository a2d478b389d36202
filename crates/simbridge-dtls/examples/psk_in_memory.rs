//! A DTLS 1.2 PSK handshake and one round trip of application data, client and server in one
//! process, datagrams carried in memory: the engine owns no socket, thread or clock, so the
//! caller moves bytes and passes `now`.
//!
//! Run: `cargo run -p simbridge-dtls --example psk_in_memory`

use simbridge_dtls::secret::SecretVec;
use simbridge_dtls::{ClientConfig, Connection, Endpoint, Event, ServerConfig, StaticPsk};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One identity and key known to both sides (in simbridge: a GBA B-TID and Ks_NAF).
    let psk = Arc::new(StaticPsk {
        identity: b"device-1".to_vec(),
        key: SecretVec::new(b"0123456789abcdef".to_vec()),
    });
    let now = Instant::now();
    let mut client = Connection::client(Arc::new(ClientConfig::new(psk.clone())), now)?;
    let mut server = Endpoint::new(Arc::new(ServerConfig::new(psk)))?;
    let client_addr: SocketAddr = "192.0.2.1:40000".parse()?;

    let mut sent = false;
    let mut reply = None;
    for round in 0..16 {
        // Client -> server: every datagram the client wants to send.
        while let Some(datagram) = client.poll_transmit() {
            println!("round {round}: client sends {} bytes", datagram.len());
            server.handle_datagram(now, client_addr, &datagram);
        }
        // Server -> client.
        while let Some(t) = server.poll_transmit() {
            println!("round {round}: server sends {} bytes", t.payload.len());
            client.handle_datagram(now, &t.payload);
        }
        while let Some((from, event)) = server.poll_event() {
            if let Event::Data(data) = event {
                println!(
                    "server got {:?} from {from}",
                    String::from_utf8_lossy(&data)
                );
                server.send(from, b"pong")?;
            }
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::Connected { suite, .. } => println!("client connected with {suite:?}"),
                Event::Data(data) => reply = Some(data),
                _ => {}
            }
        }
        if client.is_established() && !sent {
            client.send(b"ping")?;
            sent = true;
        }
        if reply.is_some() {
            break;
        }
    }
    match reply {
        Some(data) => println!("client got {:?}", String::from_utf8_lossy(&data)),
        None => return Err("no reply: the handshake did not finish".into()),
    }
    Ok(())
}
