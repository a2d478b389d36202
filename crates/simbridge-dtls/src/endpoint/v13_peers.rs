//! What the endpoint shows of its peers, either version (for the bridge's key bookkeeping
//! and status views).

use std::net::SocketAddr;

use super::{Endpoint, State13};
use crate::suite::CipherSuite;
use crate::v13::connection::Stats13;

/// What the endpoint reports of a peer (either version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The PSK identity.
    pub identity: Vec<u8>,
    /// The negotiated suite, once chosen.
    pub suite: Option<CipherSuite>,
    /// The client's server_name.
    pub sni: Option<String>,
    /// True for DTLS 1.3.
    pub dtls13: bool,
}

/// A DTLS 1.3 peer as [`Endpoint::dtls13_peers`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer13 {
    /// Its address now.
    pub addr: SocketAddr,
    /// Identity, suite, SNI.
    pub info: PeerInfo,
    /// Whether the handshake completed.
    pub established: bool,
    /// The Connection ID it puts in its records (empty: none).
    pub cid: Vec<u8>,
    /// Bytes and datagrams each way (the ClientHello it started from on), retransmissions,
    /// dropped datagrams, early data; zero while it waits parked for its key.
    pub stats: Stats13,
    /// Whether it resumed from one of our tickets.
    pub resumed: bool,
}

impl Endpoint {
    /// What the endpoint knows of the peer at `addr` (DTLS 1.2 or 1.3): identity, suite, SNI.
    pub fn peer_info(&self, addr: &SocketAddr) -> Option<PeerInfo> {
        let id = self.by_addr.get(addr)?;
        if let Some(e) = self.v13.conns.get(id) {
            return Some(PeerInfo {
                identity: e.identity.clone(),
                suite: Some(e.suite),
                sni: e.sni.clone(),
                dtls13: true,
            });
        }
        let c = self.conns.get(id)?;
        Some(PeerInfo {
            identity: c.conn.identity().to_vec(),
            suite: c.conn.suite(),
            sni: c.conn.server_name().map(str::to_string),
            dtls13: false,
        })
    }

    /// When the PSK of the DTLS 1.3 session at `addr` expires, as its ticket said (a session
    /// resumed from one of our tickets: the Ks_NAF expiry the ticket carries, so the caller
    /// needs no key lookup to learn it) or as the key store said when it completed.
    pub fn dtls13_key_expiry(&self, addr: &SocketAddr) -> Option<std::time::Instant> {
        let e = self.v13.conns.get(self.by_addr.get(addr)?)?;
        // seconds since the origin (the clock counts from the wall clock's with a master secret)
        let ms = e
            .key_expires?
            .saturating_mul(1000)
            .saturating_sub(self.v13.base_ms);
        self.v13
            .origin
            .and_then(|o| o.checked_add(std::time::Duration::from_millis(ms)))
    }

    /// DTLS 1.3 tickets in the used register (they resumed a session and are kept until
    /// they expire, so that none resumes twice).
    pub fn dtls13_tickets_used(&self) -> usize {
        self.v13.tickets_used()
    }

    /// DTLS 1.3 connections held (established or handshaking).
    pub fn connection13_count(&self) -> usize {
        self.v13.conns.len()
    }

    /// Every DTLS 1.3 peer held, parked or connected (for status views).
    pub fn dtls13_peers(&self) -> impl Iterator<Item = Peer13> + '_ {
        self.v13.conns.values().map(|e| {
            let (established, stats) = match &e.state {
                State13::Parked(_) => (false, Stats13::default()),
                State13::Conn(c) => (c.is_established(), c.stats()),
            };
            Peer13 {
                addr: e.addr,
                info: PeerInfo {
                    identity: e.identity.clone(),
                    suite: Some(e.suite),
                    sni: e.sni.clone(),
                    dtls13: true,
                },
                established,
                cid: e.cid.clone(),
                stats,
                resumed: e.resumed,
            }
        })
    }
}
