//! The gateway's status board: each route loop publishes a view of its upstream session here
//! when it publishes its metrics (every event-loop tick), and at once when a reader asks (the
//! reader bumps a generation, wakes the loops and waits, bounded, for each to publish it); the
//! status socket and the metrics endpoint read the board. The board keeps no counters of its own: it copies what
//! [`UpstreamSession::metrics`] and the live DTLS connection report.

use super::{
    BootstrapStatus, SessionState, SessionStatus, Snapshot, StatusSource, integer_fields, unix,
};
use crate::upstream::{KeySource, UpstreamSession};
use mio::Waker;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What one route last published.
#[derive(Debug, Clone)]
struct RouteEntry {
    status: SessionStatus,
    bootstrap: Option<BootstrapStatus>,
    published: Instant,
    /// The request generation this publication answers.
    generation: u64,
}

/// How long a reader waits for the route loops to publish fresh state.
const FRESH_WAIT: Duration = Duration::from_secs(1);

/// Status of every route of a gateway, shared between the route threads and the readers.
#[derive(Debug)]
pub struct GatewayBoard {
    started: SystemTime,
    routes: Mutex<BTreeMap<String, RouteEntry>>,
    wakers: Mutex<Vec<Arc<Waker>>>,
    generation: AtomicU64,
}

impl GatewayBoard {
    /// An empty board, started now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            started: SystemTime::now(),
            routes: Mutex::new(BTreeMap::new()),
            wakers: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
        })
    }

    /// Registers a route loop's waker, so a reader can ask for fresh state.
    pub fn register(&self, waker: Arc<Waker>) {
        if let Ok(mut w) = self.wakers.lock() {
            w.push(waker);
        }
    }

    /// Whether a reader asked for fresher state than `route` last published (the route loop
    /// then publishes at once).
    pub fn wants(&self, route: &str) -> bool {
        let g = self.generation.load(Ordering::SeqCst);
        match self.routes.lock() {
            Ok(r) => r.get(route).is_none_or(|e| e.generation < g),
            Err(_) => false,
        }
    }

    /// Asks every route loop to publish and waits (bounded) until they have.
    fn refresh(&self) {
        let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let expected = match self.wakers.lock() {
            Ok(w) => {
                for waker in w.iter() {
                    let _ = waker.wake();
                }
                w.len()
            }
            Err(_) => return,
        };
        let start = Instant::now();
        while start.elapsed() < FRESH_WAIT {
            let done = self
                .routes
                .lock()
                .is_ok_and(|r| r.values().filter(|e| e.generation >= g).count() >= expected);
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Records the state of a route's session (called by the route loop).
    pub fn publish(&self, route: &str, upstream: SocketAddr, session: &UpstreamSession) {
        let generation = self.generation.load(Ordering::SeqCst);
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        let previous = routes.get(route).map(|e| &e.status);
        let status = route_status(route, upstream, session, previous);
        let bootstrap = session.context().map(|c| BootstrapStatus {
            btid: c.btid.clone(),
            bsf: c.bsf_url.clone(),
            mode: match c.mode {
                crate::gba::context::GbaMode::Me => "GBA_ME".into(),
                crate::gba::context::GbaMode::U => "GBA_U".into(),
            },
            created: unix(c.created),
            expires: unix(c.expires),
            routes: vec![route.to_string()],
        });
        routes.insert(
            route.to_string(),
            RouteEntry {
                status,
                bootstrap,
                published: Instant::now(),
                generation,
            },
        );
    }
}

impl StatusSource for GatewayBoard {
    fn snapshot(&self) -> Result<Snapshot, String> {
        self.refresh();
        let routes = self
            .routes
            .lock()
            .map_err(|_| "the status board is poisoned".to_string())?;
        let mut snap = Snapshot::new(super::Role::Gateway, self.started);
        let mut boots: BTreeMap<String, BootstrapStatus> = BTreeMap::new();
        for e in routes.values() {
            snap.sessions.push(e.status.clone());
            if let Some(b) = &e.bootstrap {
                boots
                    .entry(b.btid.clone())
                    .and_modify(|x| x.routes.extend(b.routes.iter().cloned()))
                    .or_insert_with(|| b.clone());
            }
        }
        snap.bootstraps = boots.into_values().collect();
        snap.counters
            .insert("routes".into(), snap.sessions.len() as u64);
        snap.counters
            .insert("routes_established".into(), snap.established());
        Ok(snap)
    }

    /// Whether every route loop has published within `max_age` (they publish every tick while
    /// they run): what the systemd watchdog is fed on. `false` before any route published.
    fn healthy(&self, max_age: Duration) -> bool {
        match self.routes.lock() {
            Ok(r) => !r.is_empty() && r.values().all(|e| e.published.elapsed() <= max_age),
            Err(_) => false,
        }
    }
}

fn route_status(
    route: &str,
    upstream: SocketAddr,
    session: &UpstreamSession,
    previous: Option<&SessionStatus>,
) -> SessionStatus {
    let m = session.metrics();
    let live = session.live_connection();
    let established = session.is_established();
    let state = if established {
        SessionState::Established
    } else if live.is_some() {
        SessionState::Handshaking
    } else if session.bootstrap_pending() {
        SessionState::Bootstrapping
    } else {
        SessionState::Idle
    };
    // Up since: kept while the session stays up (a make-before-break rekey does not reset it);
    // unknown for a session continued from its export (it came up before the restart).
    let established_since = match previous {
        Some(p) if established && p.state == SessionState::Established => p.established_since,
        _ if established && live.as_ref().is_some_and(|l| l.base.is_some()) => None,
        _ if established => Some(unix(SystemTime::now())),
        _ => None,
    };
    let suite = live.as_ref().and_then(|l| l.suite);
    let (naf, ua_id) = match session.key_source() {
        KeySource::Gba { naf_fqdn, ua } => (
            Some(naf_fqdn.clone()),
            suite
                .and_then(|s| session.key_source().naf_id(s))
                .map(|n| n.ua().to_hex())
                .or_else(|| ua.map(|u| u.to_hex())),
        ),
        KeySource::Static { .. } => (None, None),
    };
    let cid = |negotiated: bool, c: &[u8]| negotiated.then(|| hex::encode(c));
    let mut drops = BTreeMap::new();
    drops.insert("queue_full".to_string(), m.dropped_queue_full);
    drops.insert("no_session".to_string(), m.dropped_no_session);
    drops.insert("dtls_records".to_string(), m.dropped_records);
    SessionStatus {
        name: route.to_string(),
        peer: upstream.to_string(),
        state,
        naf,
        ua_id,
        identity: live
            .as_ref()
            .filter(|l| !l.identity.is_empty())
            .map(|l| String::from_utf8_lossy(&l.identity).into_owned()),
        suite: suite.map(|s| s.name().to_string()),
        cid: live.as_ref().and_then(|l| cid(l.cid_negotiated, &l.cid)),
        peer_cid: live
            .as_ref()
            .and_then(|l| cid(l.cid_negotiated, &l.peer_cid)),
        established_since,
        key_expires: match session.key_source() {
            KeySource::Gba { .. } => session.context().map(|c| unix(c.expires)),
            KeySource::Static { .. } => None,
        },
        bytes_sent: m.handshake_bytes_sent + m.data_bytes_sent + m.overhead_bytes_sent,
        bytes_received: m.handshake_bytes_received
            + m.data_bytes_received
            + m.overhead_bytes_received,
        datagrams_sent: m.handshake_datagrams_sent + m.data_datagrams_sent,
        datagrams_received: m.handshake_datagrams_received + m.data_datagrams_received,
        drops,
        counters: integer_fields(&m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtls::ClientConfig;
    use crate::dtls::config::StaticPsk;
    use crate::secret::SecretVec;
    use crate::upstream::{SessionConfig, SessionMetrics};

    fn session() -> UpstreamSession {
        let psk = Arc::new(StaticPsk {
            identity: b"dev1".to_vec(),
            key: SecretVec::new(vec![1; 16]),
        });
        UpstreamSession::new(
            SessionConfig::new(ClientConfig::new(psk)),
            KeySource::Static {
                identity: b"dev1".to_vec(),
                key: SecretVec::new(vec![1; 16]),
            },
        )
    }

    #[test]
    fn counters_mirror_every_integer_field_of_session_metrics() {
        let m = SessionMetrics {
            bootstraps: 3,
            dropped_queue_full: 7,
            ..SessionMetrics::default()
        };
        let c = integer_fields(&m);
        assert_eq!(c.get("bootstraps"), Some(&3));
        assert_eq!(c.get("dropped_queue_full"), Some(&7));
        assert!(c.contains_key("handshakes_full"));
        assert!(!c.contains_key("rtt_estimate_ms"), "not an integer counter");
    }

    #[test]
    fn a_fresh_route_is_idle_and_the_board_is_unhealthy_until_it_publishes() {
        let board = GatewayBoard::new();
        assert!(!board.healthy(Duration::from_secs(5)));
        assert!(
            board.wants("up:5684"),
            "a route that never published is asked to"
        );
        let s = session();
        board.publish("up:5684", "127.0.0.1:5684".parse().expect("addr"), &s);
        assert!(board.healthy(Duration::from_secs(5)));
        assert!(!board.wants("up:5684"), "fresh");
        let snap = board.snapshot().expect("snapshot");
        assert_eq!(snap.sessions.len(), 1);
        let r = &snap.sessions[0];
        assert_eq!(r.state, SessionState::Idle);
        assert_eq!(r.peer, "127.0.0.1:5684");
        assert_eq!(r.established_since, None);
        assert_eq!(r.key_expires, None, "static keys do not expire");
        assert_eq!(snap.counters.get("routes_established"), Some(&0));
        assert!(board.wants("up:5684"), "a reader asked for fresher state");
    }
}
