//! DTLS 1.3 (RFC 9147) with external PSKs: the key schedule with the "dtls13" label prefix,
//! the unified record header with encrypted record numbers, the handshake in `psk_ke` and
//! `psk_dhe_ke` with the stateless HelloRetryRequest cookie, Connection IDs, KeyUpdate, ACKs and
//! retransmission (`connection::Connection13`), close_notify, and state export. docs/dtls13.md
//! lists what is built, how it was tested against wolfSSL, and what is not built yet.
//!
//! Hidden from the documented API: the product uses it through [`crate::client_link::ClientLink`]
//! (the gateway's routes, `dtls client`) and [`crate::Endpoint`] (the server).

pub mod ack;
pub mod client;
pub mod connection;
pub mod cookie;
pub mod early;
pub mod export;
pub mod fragment;
pub mod handshake;
pub mod header;
pub mod hello;
pub mod importer;
pub mod issuer;
pub mod key_schedule;
pub mod key_share;
pub mod key_update;
pub mod protect;
pub mod server;
pub mod server_hello;
pub mod strike;
pub mod ticket;
pub mod ticket_master;
