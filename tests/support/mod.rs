//! The one test harness: one concept a file, each the only copy in `tests/`.
//! - `process`: the kill-on-drop guard and spawned processes with line readers that time out;
//! - `cli`: bounded runs of the `simbridge` binary and reading their output;
//! - `net`: free loopback ports and UDP echo backends;
//! - `peers`: which peers exist and the rule for missing ones (fail in CI, else skip);
//! - `oscore`: a GBA-keyed OSCORE establishment and contexts from it;
//! - `relay`: the counting/lossy/rebinding UDP relay;
//! - `vpcd`: the shared pcscd/vpcd reader, its lock and a software USIM in it;
//! - `launch`, `suites`: peer command lines and what each peer calls our suites;
//! - `peer_launcher`, `scenarios`: the peer launcher trait and the interop scenarios written
//!   once over it.
//!
//! Each test file (and the benches) uses it with `mod support;`; the domain helpers in the
//! other `tests/*_support` folders build on it. Not every user needs every item.
#![allow(dead_code, unused_imports)]

pub mod cli;
pub mod dtls_client;
pub mod halfopen;
pub mod key_api;
pub mod launch;
pub mod net;
pub mod oscore;
pub mod peer_launcher;
pub mod peers;
pub mod process;
pub mod recorder;
pub mod relay;
pub mod scenarios;
pub mod suites;
pub mod vpcd;
pub mod wolf13;

pub use cli::{bin, json, json_out, run, run_env, run_with_timeout, simbridge, stderr, stdout};
pub use net::{Echo, free_tcp_port, free_udp_port, free_udp_port_dual, udp_echo};
pub use peers::{
    Peer, have, ours, peer_bin, peers_required, require, require_peer, tool, venv_python,
};
pub use process::{KillOnDrop, Proc, Stream};
pub use relay::{Relay, RelayConfig, RelayStats};
pub use suites::{SUITES, SuiteNames};

/// The PSK every interop test uses (hex), as in docs/sources.md sec. 1.
pub const PSK_HEX: &str = "000102030405060708090a0b0c0d0e0f";
/// A PSK that does not match [`PSK_HEX`].
pub const WRONG_PSK_HEX: &str = "0f0e0d0c0b0a09080706050403020100";
/// The PSK identity every interop test uses.
pub const IDENTITY: &str = "client1";
