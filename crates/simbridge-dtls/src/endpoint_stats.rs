//! Counters of a server [`Endpoint`](super::Endpoint).

use super::{CloseReason, Connection, Error};

/// Endpoint counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EndpointStats {
    /// HelloVerifyRequests (DTLS 1.2) and HelloRetryRequests with a cookie (DTLS 1.3) sent.
    pub hello_verify_sent: u64,
    /// ClientHellos with a wrong or stale cookie.
    pub bad_cookies: u64,
    /// Valid hellos refused by the handshake rate limit.
    pub rate_limited: u64,
    /// Valid hellos refused by the connection limit.
    pub connection_limited: u64,
    /// Datagrams from unknown peers that were not a ClientHello.
    pub unknown_peer: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// tls12_cid datagrams whose CID no connection holds.
    pub unknown_cid: u64,
    /// Peer address changes after an authenticated, newest record (RFC 9146 §6).
    pub address_changes: u64,
    /// tls12_cid datagrams from a new address that did not qualify to move the peer (forged,
    /// replayed or older records).
    pub address_change_refused: u64,
    /// Authenticated, newest tls12_cid datagrams from an address another live connection
    /// owns: delivered, but the peer was not moved there (that would cut the other off).
    pub address_in_use: u64,
    /// Hellos that offered a session we could resume (ticket or cached ID).
    pub resumptions_offered: u64,
    /// DTLS 1.3 tickets sent (a NewSessionTicket after a completed handshake).
    pub tickets_issued: u64,
    /// DTLS 1.3 ClientHellos whose tickets were all refused (used, expired, of a key rotated
    /// out or from before a restart, or of another suite): a full handshake with the external
    /// PSK offered beside them, or `handshake_failure` when there was none.
    pub tickets_refused: u64,
    /// DTLS 1.3 ClientHellos whose early data (0-RTT) was taken.
    pub early_data_accepted: u64,
    /// Bytes of early data delivered ([`crate::Event::EarlyData`]).
    pub early_data_bytes: u64,
    /// Early data refused as a replay: the strike register held its ClientHello's binder, or
    /// its ticket had resumed a session already.
    pub early_data_refused_replay: u64,
    /// Early data refused as stale: sent, by its ticket age, further than the window from now.
    pub early_data_refused_stale: u64,
    /// Early data refused within one window of a start without a restored strike register.
    pub early_data_refused_starting: u64,
    /// Early data refused under an external PSK (no ticket age to judge freshness by).
    pub early_data_refused_no_age: u64,
    /// Early data refused because the strike register was full.
    pub early_data_refused_full: u64,
    /// Early data refused otherwise: with a HelloRetryRequest (the ticket does not allow
    /// early data, is expired, or a key share is missing), not on the PSK the client offered
    /// first, or on a ticket issued without early data. (Counted only with 0-RTT on, as all
    /// the early-data counters.)
    pub early_data_refused_other: u64,
    /// Full handshakes completed.
    pub full_handshakes: u64,
    /// Abbreviated handshakes completed (resumptions).
    pub abbreviated_handshakes: u64,
    /// Handshakes completed without RFC 7627 extended master secret (only under
    /// `EmsPolicy::Preferred`; those sessions are never resumable).
    pub without_extended_master_secret: u64,
    /// Hellos refused because their SNI names a host this server does not serve.
    pub unrecognized_name: u64,
    /// Valid hellos refused because their source address already has
    /// `max_half_open_per_address` handshakes in progress.
    pub half_open_limited: u64,
    /// Handshakes dropped at the end of their half-open lifetime.
    pub handshakes_expired: u64,
    /// Handshakes in progress dropped to make room for a new cookie-valid hello when
    /// `max_handshaking` were in progress: each time the one that made no progress for the
    /// longest time.
    pub handshakes_evicted: u64,
    /// ClientHellos without DTLS 1.3 refused by a DTLS 1.3-only endpoint (protocol_version).
    pub version_refused: u64,
    /// Connections imported from a state export (no handshake needed).
    pub imported: u64,
    /// UDP payload bytes (both ways) of the completed full handshakes.
    pub full_handshake_bytes: u64,
    /// UDP payload bytes (both ways) of the completed abbreviated handshakes.
    pub abbreviated_handshake_bytes: u64,
    /// Round trips of the completed full handshakes (counted by the server: its flights
    /// that the client answered).
    pub full_round_trips: u64,
    /// Round trips of the completed abbreviated handshakes.
    pub abbreviated_round_trips: u64,
}

impl EndpointStats {
    /// Counts a completed handshake of `conn` (full or abbreviated), with its bytes and
    /// round trips.
    pub(crate) fn count_handshake(&mut self, conn: &Connection, resumed: bool) {
        let st = conn.stats();
        let bytes = st.handshake_bytes_sent + st.handshake_bytes_received;
        if resumed {
            self.abbreviated_handshakes += 1;
            self.abbreviated_handshake_bytes += bytes;
            self.abbreviated_round_trips += st.round_trips;
        } else {
            self.full_handshakes += 1;
            self.full_handshake_bytes += bytes;
            self.full_round_trips += st.round_trips;
        }
        if !conn.extended_master_secret() {
            self.without_extended_master_secret += 1;
        }
    }

    /// Counts the closes the endpoint reports on their own.
    pub(crate) fn count_close(&mut self, reason: &CloseReason) {
        match reason {
            CloseReason::Error(Error::UnrecognizedName(_)) => self.unrecognized_name += 1,
            CloseReason::Error(Error::HandshakeExpired) => self.handshakes_expired += 1,
            _ => {}
        }
    }
}
