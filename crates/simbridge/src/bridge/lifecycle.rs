//! The server's connection lifecycle (sans-IO, `now` passed in): which established connections
//! to close so that dead ones do not pile up until new handshakes are refused.
//!
//! - **Idle timeout**: a connection whose peer sent nothing for `idle_timeout` (default 25 h: a
//!   device that reports once a day keeps its session) is closed.
//! - **Least recently used** at the connection limit: when the endpoint holds
//!   `max_connections - headroom` connections, the established ones whose peer was quiet the
//!   longest are closed, never one that sent within `recent` (60 s), so handshakes keep finding
//!   room.
//! - **Per identity**: at most `max_per_identity` connections per PSK identity (default 2); a
//!   gateway that rebooted without CID or saved state comes back with the same identity, and its
//!   dead connection goes (the quietest first).
//! - **Per address**: at most `max_per_address` connections per IP (default 0 = no cap: many
//!   devices share one address behind carrier-grade NAT); beyond it the quietest connection of
//!   that address goes if it is not recent, else the new one.
//!
//! The server closes what this returns (close_notify; the backend socket goes with it), counts
//! it by reason and logs it at INFO.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Lifecycle settings.
#[derive(Debug, Clone)]
pub struct LifecycleConfig {
    /// Close a connection whose peer sent nothing for this long (default 25 h).
    pub idle_timeout: Duration,
    /// Never evict for room a connection whose peer sent within this (default 60 s).
    pub recent: Duration,
    /// The endpoint's connection limit (`max_connections`).
    pub max_connections: usize,
    /// Room kept free for handshakes below `max_connections` (default: 1/64 of it, at least 1).
    pub headroom: usize,
    /// Connections per PSK identity (default 2; 0 = no cap).
    pub max_per_identity: usize,
    /// Connections per IP address (default 0 = no cap).
    pub max_per_address: usize,
}

impl LifecycleConfig {
    /// The defaults for a server of `max_connections`.
    pub fn new(max_connections: usize) -> Self {
        Self {
            idle_timeout: Duration::from_secs(25 * 3600),
            recent: Duration::from_secs(60),
            max_connections,
            headroom: (max_connections / 64).max(1),
            max_per_identity: 2,
            max_per_address: 0,
        }
    }
}

/// Why a connection was evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvictReason {
    /// Its peer was quiet for the idle timeout.
    Idle,
    /// Room for handshakes at the connection limit; it was the least recently active.
    LeastRecentlyUsed,
    /// Its identity had more connections than allowed.
    PerIdentity,
    /// Its address had more connections than allowed.
    PerAddress,
}

impl std::fmt::Display for EvictReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Idle => "idle timeout",
            Self::LeastRecentlyUsed => "least recently used at the connection limit",
            Self::PerIdentity => "too many connections for its identity",
            Self::PerAddress => "too many connections from its address",
        })
    }
}

/// Evictions so far, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictionCounts {
    /// [`EvictReason::Idle`].
    pub idle: u64,
    /// [`EvictReason::LeastRecentlyUsed`].
    pub lru: u64,
    /// [`EvictReason::PerIdentity`].
    pub per_identity: u64,
    /// [`EvictReason::PerAddress`].
    pub per_address: u64,
}

struct Entry {
    identity: Vec<u8>,
    last_active: Instant,
}

/// The established connections the server tracks.
pub struct Lifecycle {
    cfg: LifecycleConfig,
    conns: HashMap<SocketAddr, Entry>,
    counts: EvictionCounts,
}

impl Lifecycle {
    /// An empty tracker.
    pub fn new(cfg: LifecycleConfig) -> Self {
        Self {
            cfg,
            conns: HashMap::new(),
            counts: EvictionCounts::default(),
        }
    }

    /// Evictions so far.
    pub fn counts(&self) -> EvictionCounts {
        self.counts
    }

    /// Connections tracked.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when none is tracked.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    fn count(&mut self, why: EvictReason) {
        let c = &mut self.counts;
        match why {
            EvictReason::Idle => c.idle += 1,
            EvictReason::LeastRecentlyUsed => c.lru += 1,
            EvictReason::PerIdentity => c.per_identity += 1,
            EvictReason::PerAddress => c.per_address += 1,
        }
    }

    fn evict(
        &mut self,
        peer: SocketAddr,
        why: EvictReason,
        out: &mut Vec<(SocketAddr, EvictReason)>,
    ) {
        if self.conns.remove(&peer).is_some() {
            self.count(why);
            out.push((peer, why));
        }
    }

    /// The quietest of `peers` (not `except`), if it was quiet for at least `quiet`.
    fn quietest(
        &self,
        peers: impl Iterator<Item = SocketAddr>,
        except: SocketAddr,
        now: Instant,
        quiet: Duration,
    ) -> Option<SocketAddr> {
        peers
            .filter(|p| *p != except)
            .filter_map(|p| self.conns.get(&p).map(|e| (p, e.last_active)))
            .filter(|(_, t)| now.saturating_duration_since(*t) >= quiet)
            .min_by_key(|(_, t)| *t)
            .map(|(p, _)| p)
    }

    /// A handshake completed with `peer`: tracks it and returns the connections to close for
    /// the per-identity and per-address caps (possibly `peer` itself).
    pub fn established(
        &mut self,
        peer: SocketAddr,
        identity: &[u8],
        now: Instant,
    ) -> Vec<(SocketAddr, EvictReason)> {
        self.conns.insert(
            peer,
            Entry {
                identity: identity.to_vec(),
                last_active: now,
            },
        );
        let mut out = Vec::new();
        if self.cfg.max_per_identity > 0 {
            loop {
                let same: Vec<SocketAddr> = self
                    .conns
                    .iter()
                    .filter(|(_, e)| e.identity == identity)
                    .map(|(p, _)| *p)
                    .collect();
                if same.len() <= self.cfg.max_per_identity {
                    break;
                }
                // The new connection proved the identity holds its key: the quietest other goes.
                match self.quietest(same.into_iter(), peer, now, Duration::ZERO) {
                    Some(old) => self.evict(old, EvictReason::PerIdentity, &mut out),
                    None => break,
                }
            }
        }
        if self.cfg.max_per_address > 0 {
            let ip: IpAddr = peer.ip();
            let same: Vec<SocketAddr> = self
                .conns
                .keys()
                .filter(|p| p.ip() == ip)
                .copied()
                .collect();
            if same.len() > self.cfg.max_per_address {
                match self.quietest(same.into_iter(), peer, now, self.cfg.recent) {
                    Some(old) => self.evict(old, EvictReason::PerAddress, &mut out),
                    None => self.evict(peer, EvictReason::PerAddress, &mut out),
                }
            }
        }
        out
    }

    /// Whether `peer` is tracked.
    pub fn contains(&self, peer: SocketAddr) -> bool {
        self.conns.contains_key(&peer)
    }

    /// `peer` sent a record.
    pub fn activity(&mut self, peer: SocketAddr, now: Instant) {
        if let Some(e) = self.conns.get_mut(&peer) {
            e.last_active = now;
        }
    }

    /// `old` moved to `new` (Connection ID).
    pub fn moved(&mut self, old: SocketAddr, new: SocketAddr) {
        if let Some(e) = self.conns.remove(&old) {
            self.conns.insert(new, e);
        }
    }

    /// `peer` is gone.
    pub fn closed(&mut self, peer: SocketAddr) {
        self.conns.remove(&peer);
    }

    /// The connections to close now: idle ones, then, while the endpoint holds `open`
    /// connections (handshakes included) above `max_connections - headroom`, the least
    /// recently active ones not active within `recent`.
    pub fn sweep(&mut self, now: Instant, open: usize) -> Vec<(SocketAddr, EvictReason)> {
        let mut out = Vec::new();
        let idle: Vec<SocketAddr> = self
            .conns
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.last_active) >= self.cfg.idle_timeout)
            .map(|(p, _)| *p)
            .collect();
        for p in idle {
            self.evict(p, EvictReason::Idle, &mut out);
        }
        let limit = self.cfg.max_connections.saturating_sub(self.cfg.headroom);
        let mut open = open.saturating_sub(out.len());
        if open > limit {
            let mut quiet: Vec<(Instant, SocketAddr)> = self
                .conns
                .iter()
                .filter(|(_, e)| now.saturating_duration_since(e.last_active) >= self.cfg.recent)
                .map(|(p, e)| (e.last_active, *p))
                .collect();
            quiet.sort();
            for (_, p) in quiet {
                if open <= limit {
                    break;
                }
                self.evict(p, EvictReason::LeastRecentlyUsed, &mut out);
                open -= 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: u8, port: u16) -> SocketAddr {
        ([10, 0, 0, ip], port).into()
    }

    #[test]
    fn idle_connections_go_after_the_timeout_and_activity_keeps_them() {
        let t0 = Instant::now();
        let mut cfg = LifecycleConfig::new(100);
        cfg.idle_timeout = Duration::from_secs(3600);
        let mut l = Lifecycle::new(cfg);
        assert!(l.established(peer(1, 1), b"a", t0).is_empty());
        assert!(l.established(peer(2, 1), b"b", t0).is_empty());
        l.activity(peer(2, 1), t0 + Duration::from_secs(3000));
        assert!(l.sweep(t0 + Duration::from_secs(3599), 2).is_empty());
        let out = l.sweep(t0 + Duration::from_secs(3600), 2);
        assert_eq!(out, vec![(peer(1, 1), EvictReason::Idle)]);
        assert_eq!(l.sweep(t0 + Duration::from_secs(6600), 1).len(), 1);
        assert_eq!(l.counts().idle, 2);
        assert!(l.is_empty());
        // The default keeps a device that sends once a day.
        assert!(LifecycleConfig::new(1).idle_timeout > Duration::from_secs(24 * 3600));
    }

    #[test]
    fn lru_at_the_limit_never_takes_a_recent_connection() {
        let t0 = Instant::now();
        let mut cfg = LifecycleConfig::new(10);
        cfg.headroom = 2;
        let mut l = Lifecycle::new(cfg);
        for i in 0..10u16 {
            l.established(
                peer(1, i),
                format!("id{i}").as_bytes(),
                t0 + Duration::from_secs(u64::from(i)),
            );
        }
        // At 70 s: ports 0..=9 last sent at 0..9 s; all quiet for over 60 s. 10 open, limit 8.
        let out = l.sweep(t0 + Duration::from_secs(70), 10);
        assert_eq!(
            out,
            vec![
                (peer(1, 0), EvictReason::LeastRecentlyUsed),
                (peer(1, 1), EvictReason::LeastRecentlyUsed)
            ]
        );
        // Everyone active recently: nothing goes, even over the limit.
        let now = t0 + Duration::from_secs(100);
        for i in 2..10u16 {
            l.activity(peer(1, i), now);
        }
        assert!(l.sweep(now + Duration::from_secs(59), 12).is_empty());
        assert_eq!(l.counts().lru, 2);
    }

    #[test]
    fn per_identity_and_per_address_caps() {
        let t0 = Instant::now();
        let mut cfg = LifecycleConfig::new(100);
        cfg.max_per_identity = 1;
        cfg.max_per_address = 2;
        let mut l = Lifecycle::new(cfg);
        // A gateway that rebooted without CID comes back from a new port: the old one goes.
        l.established(peer(1, 1000), b"gw", t0);
        let out = l.established(peer(1, 2000), b"gw", t0 + Duration::from_secs(5));
        assert_eq!(out, vec![(peer(1, 1000), EvictReason::PerIdentity)]);
        // A third connection from one address: the quietest, if not recent, else the new one.
        l.established(peer(2, 1), b"x", t0);
        l.established(peer(2, 2), b"y", t0 + Duration::from_secs(10));
        let out = l.established(peer(2, 3), b"z", t0 + Duration::from_secs(100));
        assert_eq!(out, vec![(peer(2, 1), EvictReason::PerAddress)]);
        let out = l.established(peer(2, 4), b"w", t0 + Duration::from_secs(101));
        assert_eq!(out, vec![(peer(2, 2), EvictReason::PerAddress)]);
        let out = l.established(peer(2, 5), b"v", t0 + Duration::from_secs(102));
        assert_eq!(
            out,
            vec![(peer(2, 5), EvictReason::PerAddress)],
            "both others are recent"
        );
        assert_eq!(
            l.counts(),
            EvictionCounts {
                per_identity: 1,
                per_address: 3,
                ..Default::default()
            }
        );
        // Moves keep the entry.
        l.moved(peer(1, 2000), peer(3, 1));
        l.closed(peer(3, 1));
        assert_eq!(l.len(), 2);
    }
}
