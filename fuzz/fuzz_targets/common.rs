//! Shared by the stateful targets: configs (deterministic RNG, so a recorded handshake is a
//! valid seed) and the input framing (u16 length-prefixed datagrams).
#![allow(dead_code)]

use simbridge_dtls::config::{ClientConfig, ServerConfig};
use simbridge_dtls::testing;
use simbridge_dtls::CipherSuite;

/// The client of the recorded seeds: one suite, the crate's test PSK, RNG seed 1.
pub fn client_config(suite: CipherSuite) -> ClientConfig {
    testing::client_config(&[suite], 1)
}

/// The server of the recorded seeds: every suite, the same PSK, RNG seed 2, and an identity
/// hint (so the ServerKeyExchange is sent and parsed too).
pub fn server_config() -> ServerConfig {
    let mut cfg = testing::server_config(&CipherSuite::ALL, 2);
    cfg.identity_hint = Some(b"hint".to_vec());
    cfg
}

/// Splits fuzz input into datagrams: u16 big-endian length, then the bytes.
pub fn datagrams(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

/// The inverse of [`datagrams`].
pub fn frame(ds: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in ds {
        out.extend_from_slice(&(d.len() as u16).to_be_bytes());
        out.extend_from_slice(d);
    }
    out
}
