//! DTLS strategies and their byte / datagram / round-trip figures: per (re)connection and per
//! message. Defaults are published measurements (measured, docs/sources.md sec. 1 and 2) until measured
//! figures are supplied (`--from RESULTS.json`, see docs/energy.md for the format).

use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// How a device uses DTLS for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum StrategyId {
    /// A full DTLS 1.2 PSK handshake (with cookie exchange) before every message.
    FullPerMessage,
    /// An abbreviated handshake (resumption) before every message; a full one per key.
    ResumePerMessage,
    /// One session kept across messages; every NAT rebinding forces a (re)connection handshake.
    LongLived,
    /// One session kept across messages with RFC 9146 Connection ID: rebinding costs nothing.
    LongLivedCid,
    /// A DTLS 1.3 PSK handshake before every message (row exists only when figures are given).
    Dtls13Psk,
    /// A DTLS 1.3 PSK handshake with 0-RTT early data per message (row exists only when given).
    Dtls13ZeroRtt,
    /// One DTLS 1.3 session kept across messages with a Connection ID: a handshake per key,
    /// nothing per rebinding, the 1.3 record overhead per message (row exists only when given).
    Dtls13LongLivedCid,
    /// OSCORE (RFC 8613) keyed from GBA: one establishment exchange per key, no handshake, and
    /// nothing to redo after a NAT rebinding (row exists only when given).
    Oscore,
}

impl StrategyId {
    /// Every strategy, in table order.
    pub const ALL: [StrategyId; 8] = [
        StrategyId::FullPerMessage,
        StrategyId::ResumePerMessage,
        StrategyId::LongLived,
        StrategyId::LongLivedCid,
        StrategyId::Dtls13Psk,
        StrategyId::Dtls13ZeroRtt,
        StrategyId::Dtls13LongLivedCid,
        StrategyId::Oscore,
    ];

    /// Key used in files and JSON output.
    pub fn key(self) -> &'static str {
        match self {
            StrategyId::FullPerMessage => "full-per-message",
            StrategyId::ResumePerMessage => "resume-per-message",
            StrategyId::LongLived => "long-lived",
            StrategyId::LongLivedCid => "long-lived-cid",
            StrategyId::Dtls13Psk => "dtls13-psk",
            StrategyId::Dtls13ZeroRtt => "dtls13-0rtt",
            StrategyId::Dtls13LongLivedCid => "dtls13-long-lived-cid",
            StrategyId::Oscore => "oscore",
        }
    }

    /// Name for people.
    pub fn label(self) -> &'static str {
        match self {
            StrategyId::FullPerMessage => "full handshake per message",
            StrategyId::ResumePerMessage => "resumption per message",
            StrategyId::LongLived => "long-lived session",
            StrategyId::LongLivedCid => "long-lived + CID",
            StrategyId::Dtls13Psk => "DTLS 1.3 PSK per message",
            StrategyId::Dtls13ZeroRtt => "DTLS 1.3 PSK + 0-RTT per message",
            StrategyId::Dtls13LongLivedCid => "DTLS 1.3 long-lived + CID",
            StrategyId::Oscore => "OSCORE keyed from GBA",
        }
    }

    /// The strategy with key `s`.
    pub fn from_key(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.key() == s)
    }

    /// All keys, comma-separated, for error messages.
    pub fn keys_list() -> String {
        Self::ALL.map(|s| s.key()).join(", ")
    }
}

impl fmt::Display for StrategyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Bytes (UDP payload), datagrams and round trips of one unit of traffic, seen from the device.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Figures {
    /// UDP payload bytes sent by the device.
    pub bytes_up: f64,
    /// UDP payload bytes received by the device.
    pub bytes_down: f64,
    /// Datagrams sent (each costs an IP/UDP header on air).
    pub datagrams_up: f64,
    /// Datagrams received.
    pub datagrams_down: f64,
    /// Round trips added before (or around) the application exchange.
    pub round_trips: f64,
}

impl Figures {
    /// Shorthand for the default tables.
    pub const fn new(bytes_up: f64, bytes_down: f64, dg_up: f64, dg_down: f64, rtt: f64) -> Self {
        Self {
            bytes_up,
            bytes_down,
            datagrams_up: dg_up,
            datagrams_down: dg_down,
            round_trips: rtt,
        }
    }

    /// `self` scaled by `k` (expected value of `k` occurrences).
    pub fn scaled(&self, k: f64) -> Self {
        Self::new(
            self.bytes_up * k,
            self.bytes_down * k,
            self.datagrams_up * k,
            self.datagrams_down * k,
            self.round_trips * k,
        )
    }

    /// Sum of two figures.
    pub fn plus(&self, o: &Figures) -> Self {
        Self::new(
            self.bytes_up + o.bytes_up,
            self.bytes_down + o.bytes_down,
            self.datagrams_up + o.datagrams_up,
            self.datagrams_down + o.datagrams_down,
            self.round_trips + o.round_trips,
        )
    }
}

/// The figures of one strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyFigures {
    /// The handshake the strategy runs each time it (re)connects: every message for the
    /// per-message strategies, after a NAT rebinding for `long-lived`, once per key for
    /// `long-lived-cid`; for `oscore`, the context establishment exchange once per key.
    pub per_connection: Figures,
    /// What the security layer adds to one application exchange (record headers, explicit
    /// nonce, tag, CID), beyond the application bytes.
    pub per_message: Figures,
    /// The full handshake that opens each key lifetime, for strategies whose `per_connection` is
    /// not one (`resume-per-message`, `long-lived`). `None`: the `full-per-message` handshake.
    pub per_key_change: Option<Figures>,
    /// Where the figures come from.
    pub source: Cow<'static, str>,
}

/// The figures of every strategy that has some.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategySet {
    /// Figures by strategy (table order).
    pub strategies: BTreeMap<StrategyId, StrategyFigures>,
}

/// OpenSSL 3.0 full PSK CCM_8 handshake, `-no_ticket`, with cookie: 625 B in 6 datagrams
/// (CH 129, HVR 48, CH 149, SH+SHD 131, CKE+CCS+Fin 101, CCS+Fin 67), 3 round trips.
const OPENSSL_FULL: Figures = Figures::new(379.0, 246.0, 3.0, 3.0, 3.0);
/// OpenSSL 3.0 session-ID resumption with cookie: 630 B in 5 datagrams (CH 161, HVR 48, CH 181,
/// SH+CCS+Fin 173, CCS+Fin 67); application data rides with the client Finished: 2 round trips.
const OPENSSL_RESUME: Figures = Figures::new(409.0, 221.0, 3.0, 2.0, 2.0);
/// Mbed TLS 3.6 full PSK CCM_8 handshake with CID and cookie: 646 B in 6 datagrams (C->S 369,
/// S->C 277), 3 round trips.
const MBEDTLS_CID_FULL: Figures = Figures::new(369.0, 277.0, 3.0, 3.0, 3.0);
/// CCM_8 record overhead: 13 header + 8 explicit nonce + 8 tag = 29 B per record, each way.
const RECORD_CCM8: Figures = Figures::new(29.0, 29.0, 0.0, 0.0, 0.0);
/// With CID: uplink records carry the server's 4-byte CID and the inner content type (29 + 1 + 4);
/// the client asks for a zero-length CID, so downlink records stay plain (29).
const RECORD_CCM8_CID: Figures = Figures::new(34.0, 29.0, 0.0, 0.0, 0.0);

const SRC_OPENSSL_FULL: &str = "published: OpenSSL 3.0 full PSK CCM_8 with cookie, -no_ticket, 625 B / 6 datagrams / 3 RTT; record 29 B (measured, docs/sources.md sec. 1)";
const SRC_OPENSSL_RESUME: &str = "published: OpenSSL 3.0 session-ID resumption with cookie, 630 B / 5 datagrams / 2 RTT; full 625 B per key; record 29 B (measured, docs/sources.md sec. 1)";
const SRC_LONG_LIVED: &str = "published: OpenSSL 3.0 resumption (630 B, 2 RTT) after each NAT rebinding (RFC 7925 sec. 10); full 625 B per key; record 29 B (measured, docs/sources.md sec. 1)";
const SRC_CID: &str = "published: Mbed TLS 3.6 full PSK CCM_8 + CID with cookie, 646 B / 6 datagrams / 3 RTT, once per key (measured, docs/sources.md sec. 2); record 29 + 1 + 4-byte CID up, 29 down (RFC 9146 sec. 4; docs/sources.md sec. 3)";

impl Default for StrategySet {
    /// The published figures for the DTLS 1.2 strategies; DTLS 1.3 rows are absent until given.
    fn default() -> Self {
        let mut strategies = BTreeMap::new();
        strategies.insert(
            StrategyId::FullPerMessage,
            StrategyFigures {
                per_connection: OPENSSL_FULL,
                per_message: RECORD_CCM8,
                per_key_change: None,
                source: Cow::Borrowed(SRC_OPENSSL_FULL),
            },
        );
        strategies.insert(
            StrategyId::ResumePerMessage,
            StrategyFigures {
                per_connection: OPENSSL_RESUME,
                per_message: RECORD_CCM8,
                per_key_change: None,
                source: Cow::Borrowed(SRC_OPENSSL_RESUME),
            },
        );
        strategies.insert(
            StrategyId::LongLived,
            StrategyFigures {
                per_connection: OPENSSL_RESUME,
                per_message: RECORD_CCM8,
                per_key_change: None,
                source: Cow::Borrowed(SRC_LONG_LIVED),
            },
        );
        strategies.insert(
            StrategyId::LongLivedCid,
            StrategyFigures {
                per_connection: MBEDTLS_CID_FULL,
                per_message: RECORD_CCM8_CID,
                per_key_change: None,
                source: Cow::Borrowed(SRC_CID),
            },
        );
        Self { strategies }
    }
}

impl StrategySet {
    /// The full handshake that opens a key lifetime for `id`.
    pub fn key_change_handshake(&self, id: StrategyId) -> Figures {
        let own = self.strategies.get(&id);
        if let Some(f) = own.and_then(|s| s.per_key_change) {
            return f;
        }
        self.strategies
            .get(&StrategyId::FullPerMessage)
            .map(|s| s.per_connection)
            .unwrap_or(OPENSSL_FULL)
    }
}
