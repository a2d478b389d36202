//! A read-only view of the live connection of an [`UpstreamSession`], for the status socket and
//! metrics of the gateway ([`crate::status`]). A child module so the view reads the session's
//! private slots without widening their visibility; nothing here changes the session.

use super::{KeySource, UpstreamSession};
use crate::dtls::CipherSuite;
use crate::dtls::stats::Stats;

/// What the active (or, while none is up, the pending) connection of a session looks like.
#[derive(Debug, Clone)]
pub struct LiveConnection {
    /// Whether the handshake has completed.
    pub established: bool,
    /// The negotiated suite (known once the server answered).
    pub suite: Option<CipherSuite>,
    /// The psk_identity sent (a B-TID based identity for GBA; never the key).
    pub identity: Vec<u8>,
    /// The CID we asked the server to put on records to us (empty: none).
    pub cid: Vec<u8>,
    /// The CID the server asked us to put on our records (empty: none).
    pub peer_cid: Vec<u8>,
    /// Whether RFC 9146 Connection IDs were negotiated.
    pub cid_negotiated: bool,
    /// This connection's DTLS counters (per drop reason).
    pub stats: Stats,
    /// The counters an imported connection brought from before the restart.
    pub base: Option<Stats>,
}

impl UpstreamSession {
    /// The active connection, or the one handshaking when none is active.
    pub fn live_connection(&self) -> Option<LiveConnection> {
        let slot = self.active.as_ref().or(self.pending.as_ref())?;
        let c = &slot.conn;
        Some(LiveConnection {
            established: slot.established,
            suite: c.suite(),
            identity: c.identity().to_vec(),
            cid: c.connection_id().to_vec(),
            peer_cid: c.peer_connection_id().to_vec(),
            cid_negotiated: c.cid_negotiated(),
            stats: c.stats(),
            base: slot.base.clone(),
        })
    }

    /// Where the session's key comes from (static or GBA with its NAF).
    pub fn key_source(&self) -> &KeySource {
        &self.source
    }

    /// Whether a GBA bootstrap was asked for and has not answered yet.
    pub fn bootstrap_pending(&self) -> bool {
        self.bootstrap_in_flight
    }
}
