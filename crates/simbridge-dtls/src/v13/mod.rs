//! DTLS 1.3 (RFC 9147), the first layers: the key schedule with the "dtls13" label prefix,
//! the unified record header, record protection with encrypted record numbers, and the ACK
//! message. The handshake messages and states, retransmission, and the `Connection`
//! integration come next; nothing here is reachable from the DTLS 1.2 engine yet.
//!
//! Hidden from the documented API until a DTLS 1.3 connection exists: the types are the
//! building blocks, tested against RFC 8448 (key schedule), FIPS-197 (the record number mask)
//! and round trips in every suite and header form.

pub mod ack;
pub mod client;
pub mod connection;
pub mod cookie;
pub mod export;
pub mod handshake;
pub mod header;
pub mod hello;
pub mod key_schedule;
pub mod key_share;
pub mod key_update;
pub mod protect;
pub mod server;
pub mod server_hello;
