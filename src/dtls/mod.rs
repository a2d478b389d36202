//! Sans-IO DTLS 1.2 PSK engine (RFC 6347, RFC 4279, RFC 7627, RFC 5746, RFC 8442).
//!
//! No sockets, threads or clocks: the caller feeds datagrams with `handle_datagram(now, ..)`,
//! drains `poll_transmit()`, drives timers with `poll_timeout()` / `handle_timeout(now)` and
//! reads `poll_event()`. Randomness is injected through [`rng::DtlsRng`].

pub mod cid;
pub mod config;
pub mod conn;
pub mod cookie;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod flight;
pub mod reassembly;
pub mod record_layer;
pub mod replay;
pub mod rng;
pub mod stats;
pub mod suite;
pub mod wire;

pub use cid::{CidGenerator, PrefixedCid, RandomCid};
pub use config::{
    ClientConfig, ClientPsk, PskAnswer, PskRequest, RetransmitConfig, ServerConfig, StaticPsk,
};
pub use conn::Connection;
pub use endpoint::{Endpoint, Transmit};
pub use error::Error;
pub use event::{CloseReason, Event};
pub use suite::CipherSuite;
