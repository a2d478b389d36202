//! Shared by the stateful targets: configs (deterministic RNG, so a recorded handshake is a
//! valid seed) and the input framing (u16 length-prefixed datagrams).
#![allow(dead_code)]

use std::sync::Arc;

use simbridge::dtls::config::{ClientConfig, ServerConfig, StaticPsk};
use simbridge::dtls::rng::SeededRng;
use simbridge::dtls::CipherSuite;
use simbridge::secret::SecretVec;

pub fn psk() -> Arc<StaticPsk> {
    Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(vec![1; 16]),
    })
}

pub fn client_config(suite: CipherSuite) -> ClientConfig {
    let mut cfg = ClientConfig::new(psk());
    cfg.common.suites = vec![suite];
    cfg.common.rng = Arc::new(SeededRng::new(1));
    cfg
}

pub fn server_config() -> ServerConfig {
    let mut cfg = ServerConfig::new(psk());
    cfg.common.suites = CipherSuite::ALL.to_vec();
    cfg.common.rng = Arc::new(SeededRng::new(2));
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
