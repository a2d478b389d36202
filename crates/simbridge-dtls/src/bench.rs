//! Measurement helpers for the benchmark harness (`simbridge dtls bench`): bytes of a full
//! handshake with cookie exchange over an in-memory link, and record seal+open throughput.
//! Time is read here only by the harness functions, never by the engine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{ClientConfig, ServerConfig, StaticPsk};
use crate::conn::Connection;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::event::Event;
use crate::secret::SecretVec;
use crate::suite::CipherSuite;

/// UDP payload sizes of one handshake, each way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeBytes {
    /// Client to server datagram sizes.
    pub client_to_server: Vec<usize>,
    /// Server to client datagram sizes.
    pub server_to_client: Vec<usize>,
}

impl HandshakeBytes {
    /// Total UDP payload bytes.
    pub fn total(&self) -> usize {
        self.client_to_server
            .iter()
            .chain(&self.server_to_client)
            .sum()
    }
}

/// Runs a full handshake (identity "client1", no hint, cookie exchange, the default of one
/// handshake message per record) and records its bytes.
pub fn handshake_bytes(suite: CipherSuite) -> Result<HandshakeBytes, Error> {
    handshake_bytes_with(suite, &HandshakeShape::default())
}

/// What a measured handshake looks like besides its suite.
#[derive(Debug, Clone, Default)]
pub struct HandshakeShape {
    /// Both sides pack several handshake messages into one record.
    pub pack: bool,
    /// The server sends this psk_identity_hint (a ServerKeyExchange for plain PSK suites).
    pub hint: Option<Vec<u8>>,
}

/// [`handshake_bytes`] with a given [`HandshakeShape`].
pub fn handshake_bytes_with(
    suite: CipherSuite,
    shape: &HandshakeShape,
) -> Result<HandshakeBytes, Error> {
    let psk = Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(vec![0x11; 16]),
    });
    let mut cc = ClientConfig::new(psk.clone());
    cc.common.suites = vec![suite];
    cc.pack_handshake_records = shape.pack;
    let mut sc = ServerConfig::new(psk);
    sc.common.suites = vec![suite];
    sc.pack_handshake_records = shape.pack;
    sc.identity_hint = shape.hint.clone();
    let now = Instant::now();
    let mut client = Connection::client(Arc::new(cc), now)?;
    let mut server = Endpoint::new(Arc::new(sc))?;
    let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5684));
    let mut out = HandshakeBytes::default();
    for _ in 0..16 {
        while let Some(d) = client.poll_transmit() {
            out.client_to_server.push(d.len());
            server.handle_datagram(now, addr, &d);
        }
        while let Some(t) = server.poll_transmit() {
            out.server_to_client.push(t.payload.len());
            client.handle_datagram(now, &t.payload);
        }
        while let Some(e) = client.poll_event() {
            if let Event::Closed {
                reason: crate::event::CloseReason::Error(e),
            } = e
            {
                return Err(e);
            }
        }
    }
    if client.is_established() {
        Ok(out)
    } else {
        Err(Error::NotConnected)
    }
}

/// Seals and opens `size`-byte application records for about `dur`; returns MB/s of payload.
pub fn seal_open_throughput(suite: CipherSuite, size: usize, dur: Duration) -> f64 {
    use crate::crypto::aead::RecordCipher;
    use crate::secret::Secret;
    let c = RecordCipher::new(
        suite.aead(),
        &Secret::new([7; 16]),
        &Secret::new([1, 2, 3, 4]),
    );
    let data = vec![0x5A; size];
    // The record layer's path: seal into a reused datagram buffer, open into a fresh Vec.
    let mut rec = Vec::with_capacity(size + c.overhead());
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < dur {
        for _ in 0..64 {
            let es = crate::wire::record::epoch_seq(1, n);
            rec.clear();
            let sealed = c.seal_append(es, 23, 0xFEFD, &data, &mut rec).is_ok();
            let ok = sealed && c.open(es, 23, 0xFEFD, &rec).is_ok();
            debug_assert!(ok);
            n += 1;
        }
    }
    (n as f64 * size as f64) / start.elapsed().as_secs_f64() / 1e6
}
