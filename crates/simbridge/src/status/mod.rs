//! What a running gateway (`simbridge bridge`) or server (`simbridge server`) tells an operator:
//! its sessions (route or peer, NAF, suite, CID, established since, key expiry, bytes and
//! datagrams each way, drops by reason) and, on the gateway, its GBA bootstraps.
//!
//! Nothing here counts anything: a [`Snapshot`] is read from the counters the session layer
//! ([`crate::upstream::SessionMetrics`]), the DTLS engine ([`crate::dtls::stats::Stats`],
//! [`crate::dtls::endpoint::EndpointStats`]) and the server loop already keep. The same snapshot is served
//! three ways: as JSON on a Unix socket in the state directory ([`socket`], read by
//! `simbridge status`), as text for people ([`render`]) and in the Prometheus text format over
//! HTTP ([`prometheus`]). Secrets never appear: identities and B-TIDs are sent in clear on the
//! air anyway; keys are not part of a snapshot.

pub mod gateway;
pub mod notify;
pub mod ops;
pub mod prometheus;
pub mod render;
pub mod server;
pub mod socket;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Which process a snapshot comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `simbridge bridge`.
    Gateway,
    /// `simbridge server`.
    Server,
}

impl Role {
    /// Lower-case name (also the socket's file name part).
    pub fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Server => "server",
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// DTLS session up.
    Established,
    /// A handshake is running.
    Handshaking,
    /// Waiting for a GBA bootstrap (the key) before a handshake can start.
    Bootstrapping,
    /// No connection (nothing to send yet, or waiting to retry).
    Idle,
}

impl SessionState {
    /// Name shown to people.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::Established => "established",
            SessionState::Handshaking => "handshaking",
            SessionState::Bootstrapping => "bootstrapping",
            SessionState::Idle => "idle",
        }
    }
}

/// One session: a gateway route's upstream session, or one peer of the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// The route (gateway: the upstream as configured) or the peer address (server).
    pub name: String,
    /// The other end's UDP address.
    pub peer: String,
    /// Where the session is.
    pub state: SessionState,
    /// NAF FQDN of the key (GBA), if known.
    pub naf: Option<String>,
    /// Ua security protocol id of the key, 10 hex digits (GBA), if known.
    pub ua_id: Option<String>,
    /// The psk_identity (clear text on the air; never the key).
    pub identity: Option<String>,
    /// Negotiated cipher suite (IANA name).
    pub suite: Option<String>,
    /// Connection ID on the records we receive, hex (RFC 9146); `None` without CID.
    pub cid: Option<String>,
    /// Connection ID on the records we send, hex; `None` without CID.
    pub peer_cid: Option<String>,
    /// When the session came up (seconds since the Unix epoch); `None` when not up, or up
    /// since before a restart (continued from its export).
    pub established_since: Option<u64>,
    /// When the key expires (seconds since the Unix epoch), if known.
    pub key_expires: Option<u64>,
    /// UDP payload bytes sent (handshakes, data and record overhead).
    pub bytes_sent: u64,
    /// UDP payload bytes received.
    pub bytes_received: u64,
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Drops by reason (only reasons that apply to this side are present).
    pub drops: BTreeMap<String, u64>,
    /// Other counters of the session (handshakes by kind, bootstraps, application bytes ...).
    pub counters: BTreeMap<String, u64>,
}

/// A GBA bootstrapping context in use by the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapStatus {
    /// B-TID (the identity the key is known by; not secret).
    pub btid: String,
    /// BSF URL it came from.
    pub bsf: String,
    /// "GBA_ME" or "GBA_U".
    pub mode: String,
    /// When it was made (seconds since the Unix epoch).
    pub created: u64,
    /// When Ks expires (seconds since the Unix epoch).
    pub expires: u64,
    /// Routes using it.
    pub routes: Vec<String>,
}

/// Everything a process tells about itself at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Gateway or server.
    pub role: Role,
    /// simbridge version.
    pub version: String,
    /// Process id.
    pub pid: u32,
    /// When the process started serving (seconds since the Unix epoch).
    pub started: u64,
    /// When the snapshot was taken (seconds since the Unix epoch).
    pub taken: u64,
    /// Sessions, by name.
    pub sessions: Vec<SessionStatus>,
    /// Bootstrapping contexts in use (gateway only).
    pub bootstraps: Vec<BootstrapStatus>,
    /// Process-wide counters (server: the DTLS endpoint's and the loop's; gateway: totals over
    /// routes).
    pub counters: BTreeMap<String, u64>,
}

impl Snapshot {
    /// An empty snapshot for `role`, stamped now.
    pub fn new(role: Role, started: SystemTime) -> Self {
        Self {
            role,
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            started: unix(started),
            taken: unix(SystemTime::now()),
            sessions: Vec::new(),
            bootstraps: Vec::new(),
            counters: BTreeMap::new(),
        }
    }

    /// Sessions that are up.
    pub fn established(&self) -> u64 {
        self.sessions
            .iter()
            .filter(|s| s.state == SessionState::Established)
            .count() as u64
    }
}

/// Something that can tell its status (the gateway's board, the server's loop).
pub trait StatusSource: Send + Sync {
    /// The status now, or why it cannot be had (the process loop did not answer in time).
    fn snapshot(&self) -> Result<Snapshot, String>;

    /// Whether the process's loops ran within `max_age` (fed to the systemd watchdog).
    fn healthy(&self, max_age: std::time::Duration) -> bool;
}

/// Seconds since the Unix epoch.
pub(crate) fn unix(t: SystemTime) -> u64 {
    crate::gba::time::unix_secs(t)
}

/// The drop counters of one DTLS connection, by reason.
pub(crate) fn record_drops(s: &crate::dtls::stats::Stats) -> [(&'static str, u64); 7] {
    [
        ("malformed", s.dropped_malformed),
        ("bad_mac", s.dropped_bad_mac),
        ("replay", s.dropped_replay),
        ("bad_epoch", s.dropped_bad_epoch),
        ("unexpected", s.dropped_unexpected),
        ("closed", s.dropped_closed),
        ("overflow", s.dropped_overflow),
    ]
}

/// The integer fields of a counter struct, by field name: a counter added to the struct shows up
/// in the status and the metrics without a second list to keep in step.
pub(crate) fn integer_fields<T: Serialize>(v: &T) -> BTreeMap<String, u64> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(o)) => o
            .into_iter()
            .filter_map(|(k, v)| v.as_u64().map(|n| (k, n)))
            .collect(),
        _ => BTreeMap::new(),
    }
}
