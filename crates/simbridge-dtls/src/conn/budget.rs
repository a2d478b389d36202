//! What a handshake may hold before it completes: a byte budget for its buffers (partial
//! messages, records of the next epoch, records parked during a PSK lookup), which an
//! [`Endpoint`](crate::Endpoint) may lower to share a global budget, and, on a server,
//! a lifetime after which a half-open handshake is dropped.

use std::time::Instant;

use super::{Connection, Role};

/// A client's handshake buffer budget: a server's flight is small, but a NewSessionTicket
/// may be 2 KiB and a client is not what an attacker floods.
pub const CLIENT_HANDSHAKE_BUFFER: usize = 16 * 1024;

impl Connection {
    pub(super) fn is_server(&self) -> bool {
        matches!(self.role, Role::Server(_))
    }

    /// Bytes the handshake holds in buffers (partial messages, early and parked records);
    /// 0 once established.
    pub fn handshake_buffered(&self) -> usize {
        self.handshake().map_or(0, |h| {
            h.flow.reasm.buffered()
                + h.flow.future.iter().map(Vec::capacity).sum::<usize>()
                + h.flow.parked.iter().map(Vec::capacity).sum::<usize>()
        })
    }

    /// Sets the most bytes the handshake may hold in buffers from now on (an endpoint sharing
    /// a global budget lowers it; the config's per-connection budget is the start value).
    pub fn set_handshake_buffer_limit(&mut self, limit: usize) {
        self.buffer_limit = limit;
    }

    /// Bytes the handshake may still buffer.
    pub(super) fn buffer_room(&self) -> usize {
        self.buffer_limit.saturating_sub(self.handshake_buffered())
    }

    /// Server: when a handshake still in progress is dropped.
    pub(super) fn half_open_deadline(&self) -> Option<Instant> {
        self.half_open_until
            .filter(|_| !self.is_established() && !self.is_closed())
    }

    pub(super) fn half_open_expired(&self, now: Instant) -> bool {
        self.half_open_deadline().is_some_and(|t| now >= t)
    }

    /// True while the handshake has not completed (nor failed): a half-open connection.
    pub fn is_handshaking(&self) -> bool {
        !self.is_established() && !self.is_closed()
    }
}
