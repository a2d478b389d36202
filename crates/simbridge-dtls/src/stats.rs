//! Per-connection accounting: bytes and datagrams each way, flights, round trips, drops.

use serde::{Deserialize, Serialize};

/// Why a received record or datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Did not parse.
    Malformed,
    /// Failed authentication.
    BadMac,
    /// Seen before or older than the window.
    Replay,
    /// Epoch we cannot read.
    BadEpoch,
    /// Not allowed in the current state (unexpected CCS, early data, stray handshake).
    Unexpected,
    /// The connection is closed.
    Closed,
    /// A buffer limit was hit.
    Overflow,
}

/// Which handshake a connection ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeKind {
    /// Full PSK handshake.
    Full,
    /// Abbreviated handshake (session ID or ticket resumption).
    Abbreviated,
    /// None needed: the connection was imported from a state export (a NAT rebinding with a
    /// Connection ID needs none either; the endpoint counts those as address changes).
    NoneNeeded,
}

/// Counters for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// UDP payload bytes sent in datagrams that carried handshake or CCS records.
    pub handshake_bytes_sent: u64,
    /// UDP payload bytes received in such datagrams.
    pub handshake_bytes_received: u64,
    /// Handshake datagrams sent.
    pub handshake_datagrams_sent: u64,
    /// Handshake datagrams received.
    pub handshake_datagrams_received: u64,
    /// All bytes sent (UDP payload).
    pub bytes_sent: u64,
    /// All bytes received (UDP payload).
    pub bytes_received: u64,
    /// All datagrams sent.
    pub datagrams_sent: u64,
    /// All datagrams received.
    pub datagrams_received: u64,
    /// New flights sent (retransmissions not counted).
    pub flights_sent: u64,
    /// Flight retransmissions.
    pub retransmissions: u64,
    /// Our flights that the peer answered with a flight (a completed round trip).
    pub round_trips: u64,
    /// Application data records sent / received.
    pub app_records_sent: u64,
    /// Application data records received.
    pub app_records_received: u64,
    /// Application bytes (plaintext) sent.
    pub app_bytes_sent: u64,
    /// Application bytes (plaintext) received.
    pub app_bytes_received: u64,
    /// Drops: malformed.
    pub dropped_malformed: u64,
    /// Drops: bad MAC.
    pub dropped_bad_mac: u64,
    /// Drops: replay.
    pub dropped_replay: u64,
    /// Drops: unreadable epoch.
    pub dropped_bad_epoch: u64,
    /// Drops: unexpected in state.
    pub dropped_unexpected: u64,
    /// Drops: after close.
    pub dropped_closed: u64,
    /// Drops: buffer limits.
    pub dropped_overflow: u64,
    /// The handshake this connection ran (once established).
    pub handshake_kind: Option<HandshakeKind>,
    /// The session runs without RFC 7627 extended master secret (allowed only by
    /// [`crate::EmsPolicy::Preferred`]; never resumable).
    #[serde(default)]
    pub without_extended_master_secret: bool,
}

impl Stats {
    /// Counts a dropped record.
    pub fn drop(&mut self, why: DropReason) {
        let c = match why {
            DropReason::Malformed => &mut self.dropped_malformed,
            DropReason::BadMac => &mut self.dropped_bad_mac,
            DropReason::Replay => &mut self.dropped_replay,
            DropReason::BadEpoch => &mut self.dropped_bad_epoch,
            DropReason::Unexpected => &mut self.dropped_unexpected,
            DropReason::Closed => &mut self.dropped_closed,
            DropReason::Overflow => &mut self.dropped_overflow,
        };
        *c += 1;
    }

    /// Counts a sent datagram.
    pub fn sent(&mut self, len: usize, handshake: bool) {
        self.bytes_sent += len as u64;
        self.datagrams_sent += 1;
        if handshake {
            self.handshake_bytes_sent += len as u64;
            self.handshake_datagrams_sent += 1;
        }
    }

    /// Counts a received datagram.
    pub fn received(&mut self, len: usize, handshake: bool) {
        self.bytes_received += len as u64;
        self.datagrams_received += 1;
        if handshake {
            self.handshake_bytes_received += len as u64;
            self.handshake_datagrams_received += 1;
        }
    }
}
