//! The server's status: the server loop owns the DTLS endpoint, so a reader asks the loop for a
//! snapshot (a request on a channel and a wake-up) and the loop builds it from the endpoint's
//! connections and counters between two events. The board only remembers when each session came
//! up, which the endpoint does not keep.

use super::{
    SessionState, SessionStatus, Snapshot, StatusSource, integer_fields, record_drops, unix,
};
use crate::bridge::naf_keys::NafKeys;
use crate::bridge::server::ServerCounters;
use crate::dtls::Endpoint;
use mio::Waker;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a reader waits for the server loop to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

type Reply = SyncSender<Snapshot>;

/// The loop's side: owned by the server loop.
pub struct ServerBoard {
    started: SystemTime,
    since: HashMap<SocketAddr, SystemTime>,
    requests: Receiver<Reply>,
    origin: Instant,
    heartbeat: Arc<AtomicU64>,
}

/// The readers' side: asks the loop for snapshots.
pub struct ServerStatusHandle {
    requests: Mutex<Sender<Reply>>,
    waker: Arc<Waker>,
    origin: Instant,
    heartbeat: Arc<AtomicU64>,
}

impl ServerBoard {
    /// A board and its handle; `waker` wakes the server loop.
    pub fn new(waker: Arc<Waker>) -> (Self, Arc<ServerStatusHandle>) {
        let (tx, rx) = mpsc::channel();
        let origin = Instant::now();
        let heartbeat = Arc::new(AtomicU64::new(0));
        (
            Self {
                started: SystemTime::now(),
                since: HashMap::new(),
                requests: rx,
                origin,
                heartbeat: heartbeat.clone(),
            },
            Arc::new(ServerStatusHandle {
                requests: Mutex::new(tx),
                waker,
                origin,
                heartbeat,
            }),
        )
    }

    /// A session came up.
    pub fn connected(&mut self, peer: SocketAddr) {
        self.since.insert(peer, SystemTime::now());
    }

    /// A session ended.
    pub fn closed(&mut self, peer: &SocketAddr) {
        self.since.remove(peer);
    }

    /// A session moved to a new address (Connection ID).
    pub fn moved(&mut self, old: SocketAddr, new: SocketAddr) {
        if let Some(t) = self.since.remove(&old) {
            self.since.insert(new, t);
        }
    }

    /// Called on every turn of the server loop: notes that the loop runs (the watchdog's
    /// heartbeat) and answers the snapshot requests that arrived.
    pub fn answer(&mut self, endpoint: &Endpoint, keys: &NafKeys, counters: &ServerCounters) {
        let ms = self.origin.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        self.heartbeat.store(ms, Ordering::Relaxed);
        while let Ok(reply) = self.requests.try_recv() {
            let _ = reply.try_send(self.snapshot(endpoint, keys, counters));
        }
    }

    fn snapshot(&self, endpoint: &Endpoint, keys: &NafKeys, counters: &ServerCounters) -> Snapshot {
        let mut snap = Snapshot::new(super::Role::Server, self.started);
        for (addr, conn) in endpoint.connections() {
            let st = conn.stats();
            let suite = conn.suite();
            let naf = suite
                .and_then(|s| keys.plan(conn.identity(), conn.server_name(), s).ok())
                .map(|p| p.naf);
            let cid = |c: &[u8]| conn.cid_negotiated().then(|| hex::encode(c));
            snap.sessions.push(SessionStatus {
                name: addr.to_string(),
                peer: addr.to_string(),
                state: if conn.is_established() {
                    SessionState::Established
                } else {
                    SessionState::Handshaking
                },
                naf: naf.as_ref().map(|n| n.fqdn().to_string()),
                ua_id: naf.as_ref().map(|n| n.ua().to_hex()),
                identity: (!conn.identity().is_empty())
                    .then(|| String::from_utf8_lossy(conn.identity()).into_owned()),
                suite: suite.map(|s| s.name().to_string()),
                cid: cid(conn.connection_id()),
                peer_cid: cid(conn.peer_connection_id()),
                established_since: self.since.get(&addr).map(|t| unix(*t)),
                key_expires: suite
                    .and_then(|s| keys.key_expiry(conn.identity(), conn.server_name(), s))
                    .map(unix),
                bytes_sent: st.bytes_sent,
                bytes_received: st.bytes_received,
                datagrams_sent: st.datagrams_sent,
                datagrams_received: st.datagrams_received,
                drops: record_drops(st)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                counters: integer_fields(st),
            });
        }
        for p in endpoint.dtls13_peers() {
            let (identity, suite, sni) = (&p.info.identity, p.info.suite, p.info.sni.as_deref());
            let naf = suite
                .and_then(|s| keys.plan(identity, sni, s).ok())
                .map(|p| p.naf);
            snap.sessions.push(SessionStatus {
                name: p.addr.to_string(),
                peer: p.addr.to_string(),
                state: if p.established {
                    SessionState::Established
                } else {
                    SessionState::Handshaking
                },
                naf: naf.as_ref().map(|n| n.fqdn().to_string()),
                ua_id: naf.as_ref().map(|n| n.ua().to_hex()),
                identity: (!identity.is_empty())
                    .then(|| String::from_utf8_lossy(identity).into_owned()),
                suite: suite.map(|s| s.name().to_string()),
                cid: (!p.cid.is_empty()).then(|| hex::encode(&p.cid)),
                peer_cid: None,
                established_since: self.since.get(&p.addr).map(|t| unix(*t)),
                key_expires: suite
                    .and_then(|s| keys.key_expiry(identity, sni, s))
                    .or_else(|| {
                        // resumed from our ticket: the expiry it carried
                        let at = endpoint.dtls13_key_expiry(&p.addr)?;
                        SystemTime::now().checked_add(at.saturating_duration_since(Instant::now()))
                    })
                    .map(unix),
                // counted from the ClientHello the connection started from: a parked one (its
                // key not in yet) shows zeros, as the cookie exchange before it is in none
                bytes_sent: p.stats.bytes_sent,
                bytes_received: p.stats.bytes_received,
                datagrams_sent: p.stats.datagrams_sent,
                datagrams_received: p.stats.datagrams_received,
                drops: [("dropped".to_string(), p.stats.dropped)].into(),
                counters: [
                    ("dtls13".to_string(), 1),
                    ("resumed".to_string(), u64::from(p.resumed)),
                    ("retransmitted".to_string(), p.stats.retransmitted),
                    ("round_trips".to_string(), p.stats.round_trips),
                    (
                        "early_data_received".to_string(),
                        p.stats.early_data_received,
                    ),
                ]
                .into(),
            });
        }
        snap.sessions.sort_by(|a, b| a.name.cmp(&b.name));
        snap.counters = integer_fields(endpoint.stats());
        for (k, v) in [
            ("sessions_handshaked", &counters.handshakes),
            ("datagrams_to_backend", &counters.to_backend),
            ("datagrams_from_backend", &counters.from_backend),
            ("key_lookups", &counters.key_lookups),
            ("early_data", &counters.early_data),
            ("early_data_forwarded", &counters.early_forwarded),
            ("early_data_held", &counters.early_held),
            ("early_data_discarded", &counters.early_discarded),
        ] {
            snap.counters
                .insert(k.to_string(), v.load(Ordering::Relaxed));
        }
        snap.counters
            .insert("connections".into(), snap.sessions.len() as u64);
        snap.counters
            .insert("sessions_established".into(), snap.established());
        snap
    }
}

impl StatusSource for ServerStatusHandle {
    fn snapshot(&self) -> Result<Snapshot, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.requests
            .lock()
            .map_err(|_| "the status channel is poisoned".to_string())?
            .send(tx)
            .map_err(|_| "the server loop has stopped".to_string())?;
        let _ = self.waker.wake();
        rx.recv_timeout(ANSWER_TIMEOUT).map_err(|_| {
            format!(
                "the server loop did not answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            )
        })
    }

    /// Whether the server loop turned within `max_age` (it turns at least every event-loop
    /// tick): what the systemd watchdog is fed on.
    fn healthy(&self, max_age: Duration) -> bool {
        let beat = Duration::from_millis(self.heartbeat.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(beat) <= max_age
    }
}
