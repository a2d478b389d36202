//! What a session counts: bootstraps, handshakes by kind, bytes and datagrams on air split into
//! handshake / data / overhead, drops with their reasons, and a round-trip estimate.

use crate::dtls::stats::Stats;
use serde::Serialize;
use std::time::Duration;

/// Counters of one upstream session (all connections it has had).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SessionMetrics {
    /// GBA bootstraps completed.
    pub bootstraps: u64,
    /// GBA bootstraps that failed.
    pub bootstrap_failures: u64,
    /// Full handshakes completed.
    pub handshakes_full: u64,
    /// Abbreviated (resumed) handshakes completed.
    pub handshakes_abbreviated: u64,
    /// Sessions continued from an export after a restart: no handshake needed.
    pub handshakes_none_needed: u64,
    /// Handshakes that failed.
    pub handshake_failures: u64,
    /// Key changes made before the old key expired (make-before-break).
    pub rekeys: u64,
    /// UDP payload bytes of handshake datagrams sent.
    pub handshake_bytes_sent: u64,
    /// UDP payload bytes of handshake datagrams received.
    pub handshake_bytes_received: u64,
    /// Handshake datagrams sent.
    pub handshake_datagrams_sent: u64,
    /// Handshake datagrams received.
    pub handshake_datagrams_received: u64,
    /// Application bytes carried upstream.
    pub data_bytes_sent: u64,
    /// Application bytes received from upstream.
    pub data_bytes_received: u64,
    /// Record-layer bytes added to the data sent (headers, nonces, tags, alerts).
    pub overhead_bytes_sent: u64,
    /// Record-layer bytes around the data received.
    pub overhead_bytes_received: u64,
    /// Datagrams sent after the handshakes (data and alerts).
    pub data_datagrams_sent: u64,
    /// Datagrams received after the handshakes.
    pub data_datagrams_received: u64,
    /// Local datagrams queued while no session was ready.
    pub queued: u64,
    /// Local datagrams dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Queued datagrams dropped because no session could be made (key expired, handshake failed).
    pub dropped_no_session: u64,
    /// Received records dropped by the DTLS layer (bad MAC, replay, malformed ...).
    pub dropped_records: u64,
    /// Handshake round trips.
    pub handshake_round_trips: u64,
    /// Round-trip estimate from the last handshake (duration / round trips), milliseconds.
    pub rtt_estimate_ms: Option<f64>,
    /// DTLS 1.3 0-RTT resumptions after a loss of session state that sent early data.
    pub early_data_attempts: u64,
    /// ... whose early data the server took.
    pub early_data_accepted: u64,
}

impl SessionMetrics {
    /// Adds one connection's DTLS counters. `base` is what the connection already counted
    /// before (an imported connection carries its exporter's counters).
    pub fn add_connection(&mut self, s: &Stats, base: Option<&Stats>) {
        let d = |f: fn(&Stats) -> u64| f(s).saturating_sub(base.map(f).unwrap_or(0));
        let hs_sent = d(|s| s.handshake_bytes_sent);
        let hs_received = d(|s| s.handshake_bytes_received);
        let app_sent = d(|s| s.app_bytes_sent);
        let app_received = d(|s| s.app_bytes_received);
        self.handshake_bytes_sent += hs_sent;
        self.handshake_bytes_received += hs_received;
        self.handshake_datagrams_sent += d(|s| s.handshake_datagrams_sent);
        self.handshake_datagrams_received += d(|s| s.handshake_datagrams_received);
        self.data_bytes_sent += app_sent;
        self.data_bytes_received += app_received;
        self.overhead_bytes_sent += d(|s| s.bytes_sent)
            .saturating_sub(hs_sent)
            .saturating_sub(app_sent);
        self.overhead_bytes_received += d(|s| s.bytes_received)
            .saturating_sub(hs_received)
            .saturating_sub(app_received);
        self.data_datagrams_sent +=
            d(|s| s.datagrams_sent).saturating_sub(d(|s| s.handshake_datagrams_sent));
        self.data_datagrams_received +=
            d(|s| s.datagrams_received).saturating_sub(d(|s| s.handshake_datagrams_received));
        self.dropped_records += d(|s| {
            s.dropped_malformed
                + s.dropped_bad_mac
                + s.dropped_replay
                + s.dropped_bad_epoch
                + s.dropped_unexpected
                + s.dropped_closed
                + s.dropped_overflow
        });
        self.handshake_round_trips += d(|s| s.round_trips);
    }

    /// Records a completed handshake's duration and round trips for the RTT estimate.
    pub fn note_handshake_time(&mut self, took: Duration, round_trips: u64) {
        if round_trips > 0 {
            self.rtt_estimate_ms = Some(took.as_secs_f64() * 1000.0 / round_trips as f64);
        }
    }

    /// Sum of two metric sets (a retired part and the live part).
    pub fn merged(&self, other: &SessionMetrics) -> SessionMetrics {
        SessionMetrics {
            bootstraps: self.bootstraps + other.bootstraps,
            bootstrap_failures: self.bootstrap_failures + other.bootstrap_failures,
            handshakes_full: self.handshakes_full + other.handshakes_full,
            handshakes_abbreviated: self.handshakes_abbreviated + other.handshakes_abbreviated,
            handshakes_none_needed: self.handshakes_none_needed + other.handshakes_none_needed,
            handshake_failures: self.handshake_failures + other.handshake_failures,
            rekeys: self.rekeys + other.rekeys,
            handshake_bytes_sent: self.handshake_bytes_sent + other.handshake_bytes_sent,
            handshake_bytes_received: self.handshake_bytes_received
                + other.handshake_bytes_received,
            handshake_datagrams_sent: self.handshake_datagrams_sent
                + other.handshake_datagrams_sent,
            handshake_datagrams_received: self.handshake_datagrams_received
                + other.handshake_datagrams_received,
            data_bytes_sent: self.data_bytes_sent + other.data_bytes_sent,
            data_bytes_received: self.data_bytes_received + other.data_bytes_received,
            overhead_bytes_sent: self.overhead_bytes_sent + other.overhead_bytes_sent,
            overhead_bytes_received: self.overhead_bytes_received + other.overhead_bytes_received,
            data_datagrams_sent: self.data_datagrams_sent + other.data_datagrams_sent,
            data_datagrams_received: self.data_datagrams_received + other.data_datagrams_received,
            queued: self.queued + other.queued,
            dropped_queue_full: self.dropped_queue_full + other.dropped_queue_full,
            dropped_no_session: self.dropped_no_session + other.dropped_no_session,
            dropped_records: self.dropped_records + other.dropped_records,
            handshake_round_trips: self.handshake_round_trips + other.handshake_round_trips,
            rtt_estimate_ms: other.rtt_estimate_ms.or(self.rtt_estimate_ms),
            early_data_attempts: self.early_data_attempts + other.early_data_attempts,
            early_data_accepted: self.early_data_accepted + other.early_data_accepted,
        }
    }

    /// Bytes on air (UDP payload) in both directions.
    pub fn bytes_on_air(&self) -> u64 {
        self.handshake_bytes_sent
            + self.handshake_bytes_received
            + self.data_bytes_sent
            + self.data_bytes_received
            + self.overhead_bytes_sent
            + self.overhead_bytes_received
    }
}
