//! OSCORE (RFC 8613) instead of DTLS: a gateway route protects its local clients' CoAP
//! requests end to end under a context established from the card's GBA key
//! ([`crate::gba::oscore`]), and the server establishes contexts with keys from the BSF key API
//! and forwards plain CoAP to its backend. No handshake ever; a context lives as long as its
//! GBA key and survives restarts of either side.
//!
//! - [`establish`]: the gateway's establishment exchange as CoAP messages (sans-IO).
//! - [`relay`]: the gateway's protect/unprotect bookkeeping (sans-IO).
//! - [`store`]: a context on disk, sequence numbers written ahead.
//! - [`gateway`], [`server`]: the I/O loops (mio, as the DTLS loops).
//!
//! The OSCORE engine itself is the `simbridge-oscore` crate.

pub mod establish;
pub mod gateway;
pub mod relay;
pub mod server;
pub mod store;

pub use gateway::{OscoreMetrics, OscoreRoute, OscoreRouteSpec};
pub use server::{OscoreServer, OscoreServerCounters, OscoreServerSpec};

/// Sequence numbers written ahead per store by default (RFC 8613 Appendix B.1.1's K): one file
/// write per 64 messages; a restart skips at most 64 numbers.
pub const DEFAULT_SEQ_STEP: u64 = 64;

/// A socket on an ephemeral port of `peer`'s address family, connected to `peer` (a route's
/// upstream, a server context's backend).
fn connected_socket(peer: std::net::SocketAddr) -> std::io::Result<mio::net::UdpSocket> {
    let any = if peer.is_ipv6() {
        std::net::SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    } else {
        std::net::SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
    };
    let s = mio::net::UdpSocket::bind(any)?;
    s.connect(peer)?;
    Ok(s)
}
