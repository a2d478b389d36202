//! The half-open attack's pieces, shared by `tests/dtls_halfopen_flood.rs` and
//! `benches/dtls_halfopen_attack.rs`: the attack datagram and a blocking handshake of our
//! library client over a real UDP socket.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use simbridge::dtls::internal::wire::handshake::{Fragment, HandshakeType};
use simbridge::dtls::internal::wire::record::{ContentType, DTLS12, RecordHeader};
use simbridge::dtls::{ClientConfig, Connection, Event};

/// One record (epoch 0, sequence `seq`) of eight out-of-order ClientKeyExchange fragments
/// (message_seq 2..9, offset 16000, 40 bytes each) claiming 16 KiB: 429 bytes.
pub fn attack_datagram(seq: u64) -> Vec<u8> {
    let mut payload = Vec::new();
    for m in 2u16..10 {
        Fragment {
            msg_type: HandshakeType::ClientKeyExchange,
            length: 16384,
            message_seq: m,
            offset: 16000,
            body: &[0xA5; 40],
        }
        .encode(&mut payload);
    }
    let mut d = Vec::new();
    RecordHeader {
        content_type: ContentType::Handshake,
        version: DTLS12,
        epoch: 0,
        seq,
        length: payload.len() as u16,
    }
    .encode(&mut d);
    d.extend_from_slice(&payload);
    d
}

/// A full handshake of our client on `sock` (connected to the server), within `within`;
/// its last flight is sent before it returns. `None` if it failed or took longer.
pub fn establish(
    sock: &UdpSocket,
    cfg: &Arc<ClientConfig>,
    within: Duration,
) -> Option<Connection> {
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .ok()?;
    let mut c = Connection::client(cfg.clone(), Instant::now()).ok()?;
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        while let Some(d) = c.poll_transmit() {
            sock.send(&d).ok()?;
        }
        if let Ok(n) = sock.recv(&mut buf) {
            c.handle_datagram(Instant::now(), &buf[..n]);
        }
        c.handle_timeout(Instant::now());
        while let Some(e) = c.poll_event() {
            match e {
                Event::Connected { .. } => {
                    while let Some(d) = c.poll_transmit() {
                        sock.send(&d).ok()?;
                    }
                    return Some(c);
                }
                Event::Closed { .. } => return None,
                _ => {}
            }
        }
    }
    None
}
