//! Shared harness for the tests that run our engine against real DTLS peers: peer discovery
//! (`require_peer`), free loopback ports, spawned processes killed on drop with line readers that
//! time out, the counting/lossy UDP relay, and the peer command lines.
//!
//! Each test file (and `benches/dtls_wire.rs`) uses it with `mod support;`; not every user needs
//! every item.
#![allow(dead_code, unused_imports)]

pub mod halfopen;
pub mod launch;
pub mod net;
pub mod peers;
pub mod process;
pub mod relay;
pub mod scenarios;
pub mod suites;

pub use net::{free_udp_port, free_udp_port_dual};
pub use peers::{ours, require_peer, venv_python, Peer};
pub use process::{Proc, Stream};
pub use relay::{Relay, RelayConfig, RelayStats};
pub use suites::{SuiteNames, SUITES};

/// The PSK every interop test uses (hex), as in docs/sources.md sec. 1.
pub const PSK_HEX: &str = "000102030405060708090a0b0c0d0e0f";
/// A PSK that does not match [`PSK_HEX`].
pub const WRONG_PSK_HEX: &str = "0f0e0d0c0b0a09080706050403020100";
/// The PSK identity every interop test uses.
pub const IDENTITY: &str = "client1";
