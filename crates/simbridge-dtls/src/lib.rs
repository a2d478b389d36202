#![doc = include_str!("../README.md")]
//!
//! ## The engine
//!
//! DTLS 1.2 (RFC 6347) with PSK (RFC 4279, RFC 8442), RFC 7627 and RFC 5746.
//!
//! No sockets, threads or clocks: the caller feeds datagrams with `handle_datagram(now, ..)`,
//! drains `poll_transmit()`, drives timers with `poll_timeout()` / `handle_timeout(now)` and
//! reads `poll_event()`. Randomness is injected through [`rng::DtlsRng`].
//!
//! Layout (one concept per file):
//! Internals (`internal`, hidden from the docs, no stability promise):
//! - `wire`: validated wire types (records, handshake fragments, hellos, key exchange,
//!   alerts); parsers never panic and are fuzzed (`fuzz/`).
//! - `reassembly`, `flight`: handshake fragments in (out of order, overlapping, duplicated)
//!   and flights out (packed into records and datagrams that fit the PMTU).
//! - `crypto`: TLS 1.2 PRF, RFC 7627 extended master secret, AEAD record protection, P-256.
//! - `record_layer`, `replay`: epochs, 48-bit sequence numbers, anti-replay window.
//!
//! The API:
//! - [`conn`]: [`Connection`], the per-peer state machine (client and server handshakes with
//!   one type per handshake state, each owning only the data valid in it; RFC 6347 §4.2.4
//!   retransmission, alerts, close_notify, renegotiation refused).
//! - [`error`]: [`Error`], always fatal, with typed reasons ([`Unexpected`],
//!   [`IllegalParameter`], a [`WireError`] naming the [`Field`] that did not parse) and the
//!   alert each one sends.
//! - [`endpoint`]: [`Endpoint`], one server socket: stateless cookies (`cookie`), routing by
//!   address, connection and handshake-rate limits.
//! - [`config`]: settings and the PSK interfaces, asked after the suite is chosen and allowed
//!   to answer later (the handshake parks, `Event::PskRequested`, `provide_*_psk`).
//!
//! Long-lived sessions (RFC 9146, RFC 5077, graceful restart):
//! - [`cid`]: RFC 9146 Connection ID generators ([`cid_buf`]: a CID held inline); `ClientConfig::connection_id` /
//!   `ServerConfig::connection_id` negotiate it, the record layer writes tls12_cid records
//!   (DTLSInnerPlaintext, RFC 9146 §5 additional data), the [`Endpoint`] routes them by CID and
//!   moves a peer's address only after an authenticated, newest record
//!   ([`Endpoint::poll_address_change`]).
//! - [`session`], [`ticket`]: resumption by session ID (bounded cache in the endpoint) and by
//!   RFC 5077 ticket (stateless server, rotating keys); the client offers
//!   `ClientConfig::resume` and saves [`Connection::session`]; `Event::Connected.resumed`.
//! - [`export`]: encrypted, versioned state export/import of established connections
//!   ([`Connection::export_state`], [`Connection::import_state`], [`Endpoint::save_all`],
//!   [`Endpoint::load_all`]) with write-ahead sequence reservation and an import ledger; a
//!   malformed export says where ([`ExportField`]).
//! - [`stats`]: per-connection counters and the handshake kind; the endpoint counts
//!   handshakes by kind with their bytes and round trips.

#![warn(missing_docs)]

pub mod cid;
pub mod cid_buf;
pub mod client_link;
pub mod config;
pub mod conn;
pub mod endpoint;
pub mod endpoint_stats;
pub mod error;
pub mod event;
pub mod export;
mod half_open;
pub mod rng;
pub mod secret;
pub mod session;
mod stalest;
pub mod stats;
pub mod suite;
#[cfg(feature = "testing")]
pub mod testing;
pub mod ticket;
#[doc(hidden)]
pub mod v13;
pub mod version;
mod version_fallback;

#[doc(hidden)]
pub mod internal;
pub(crate) use internal::{cookie, crypto, flight, reassembly, record_layer, replay, wire};

pub use cid::{CidGenerator, PrefixedCid, RandomCid};
pub use config::{
    ClientConfig, ClientPsk, EarlyData13, EmsPolicy, PskAnswer, PskRefusal, PskRequest,
    RetransmitConfig, ServerConfig, StaticPsk,
};
pub use conn::Connection;
pub use endpoint::{Endpoint, Peer13, PeerInfo, Transmit, TransmitTo};
pub use error::{Error, IllegalParameter, Unexpected};
pub use event::{CloseReason, Event, FailureKind};
/// Where a state export is malformed: the payload of [`export::ExportError::Format`].
pub use export::ExportField;
/// The field of a message or stored state that did not parse: the payload of a
/// [`WireError`], re-exported because the wire types are internal.
#[doc(inline)]
pub use internal::wire::Field;
/// Why bytes did not parse: the payload of [`Error::Decode`], re-exported because the wire
/// types are internal.
#[doc(inline)]
pub use internal::wire::WireError;
pub use session::Session;
pub use suite::CipherSuite;
pub use version::{SuitesMissing, UnknownVersion, Versions};
