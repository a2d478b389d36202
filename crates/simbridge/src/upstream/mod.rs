//! The long-lived session policy (README, "How a session lives long"): one DTLS session per upstream
//! server, kept open while its key is valid; bootstrap once per Ks lifetime; reconnect when the
//! session is lost; re-bootstrap only when the server rejects the identity or Ks expires;
//! make-before-break before expiry; a bounded queue while a handshake runs; metrics.
//!
//! Sans-IO like the DTLS engine: the caller moves datagrams ([`UpstreamSession::poll_transmit`],
//! [`UpstreamSession::handle_datagram`]), drives timers, and performs the [`Action`]s the session
//! asks for (a GBA bootstrap, a GBA_U key derivation on the card), answering with
//! [`UpstreamSession::bootstrap_done`] / [`UpstreamSession::provide_naf_key`]. A new handshake
//! beside a live session uses another [`PathId`] (another UDP source port), so the server keeps
//! both until the new one takes over.

mod buffers;
mod card_keys;
mod early;
mod events;
mod failure;
mod key_error;
pub mod keys;
mod lifetime;
pub mod metrics;
mod restore;
mod status;

pub use card_keys::CardKeys;
pub use key_error::KeyError;
pub use keys::KeySource;
pub use metrics::SessionMetrics;
pub use status::LiveConnection;

use crate::dtls::Session;
use crate::dtls::client_link::ClientLink;
use crate::dtls::config::ClientPsk;
use crate::dtls::{CipherSuite, ClientConfig, Versions};
use crate::error_chain::chain;
use crate::gba::context::BootstrapContext;
use crate::gba::naf::NafId;
use crate::secret::{Secret, SecretVec};
use keys::SessionPsk;
use lifetime::Margins;
use log::{info, warn};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The two clocks a session needs: monotonic for protocol timers, wall time for key lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time (DTLS timers).
    pub mono: Instant,
    /// Wall-clock time (Ks expiry).
    pub wall: SystemTime,
}

impl Now {
    /// The current time of both clocks (for callers at the edge; the session never reads clocks).
    pub fn system() -> Self {
        Self {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// Both clocks advanced by `d` (virtual time in tests).
    pub fn plus(self, d: Duration) -> Self {
        Self {
            mono: self.mono + d,
            wall: self.wall + d,
        }
    }
}

/// Which UDP socket (source port) a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathId(pub u8);

/// Something the caller must do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Obtain a GBA bootstrapping context (from the cache unless `force`, else a new bootstrap);
    /// answer with [`UpstreamSession::bootstrap_done`].
    Bootstrap {
        /// Ignore the cached context (the server rejected it, or it is about to expire).
        force: bool,
    },
    /// GBA_U: have the card derive Ks_ext_NAF; answer with [`UpstreamSession::provide_naf_key`].
    DeriveNafKey {
        /// The NAF_Id for the negotiated suite.
        naf_id: NafId,
    },
}

/// Session policy settings.
#[derive(Clone)]
pub struct SessionConfig {
    /// DTLS client template (suites, timers, MTU, SNI); its PSK source is set per handshake.
    pub dtls: ClientConfig,
    /// The DTLS version of the upstream session (`Auto` is refused at the handshake: not
    /// built for clients).
    pub versions: Versions,
    /// DTLS 1.3: a KeyUpdate after this many records sent, besides the one at the
    /// confidentiality limit (RFC 9147 §4.5.3). `None`: only at the limit.
    pub key_update_after: Option<u64>,
    /// Local datagrams held while no session is ready.
    pub queue_limit: usize,
    /// Start make-before-break this long before Ks expires.
    pub rekey_before: Duration,
    /// Do not start a handshake with a key that expires sooner than this.
    pub min_key_life: Duration,
    /// With datagrams sent and nothing received for this long, suspect the server lost the
    /// session and start a new handshake beside the old one. `None`: never.
    pub suspect_after: Option<Duration>,
    /// First retry delay after a failure (doubles up to `retry_max`).
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long a replaced session still receives (replies in flight) before it is closed.
    pub drain: Duration,
    /// DTLS 1.3 only: after a loss of session state, resume with the server's last ticket and
    /// send the first queued datagram as 0-RTT (upstream/early.rs). Off by default.
    pub early_data: bool,
}

impl SessionConfig {
    /// Defaults: queue 64, rekey 1 h before expiry, at least 60 s of key life, suspect after 60 s,
    /// retries 1 s .. 5 min.
    pub fn new(dtls: ClientConfig) -> Self {
        Self {
            dtls,
            versions: Versions::Dtls12,
            key_update_after: None,
            queue_limit: 64,
            rekey_before: Duration::from_secs(3600),
            min_key_life: Duration::from_secs(60),
            suspect_after: Some(Duration::from_secs(60)),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            drain: Duration::from_secs(5),
            early_data: false,
        }
    }
}

impl Default for SessionConfig {
    /// The defaults above with the DTLS defaults; the key of each handshake comes from the
    /// session's [`KeySource`] (nothing to fill in).
    fn default() -> Self {
        Self::new(ClientConfig::new(Arc::new(keys::KeyFromSession)))
    }
}

struct Slot {
    conn: ClientLink,
    /// Counters an imported connection brought along (already counted before the restart).
    base: Option<crate::dtls::stats::Stats>,
    path: PathId,
    started: Instant,
    btid: Option<String>,
    established: bool,
    /// What the server last sent on this connection's path, in words (for a timeout).
    last_heard: Option<String>,
    /// Whether "unreachable" or "silent" was logged for this connection (once each).
    quiet_noted: bool,
}

/// Which of the session's connections a datagram is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// The one being set up (first, or the make-before-break replacement).
    Pending,
    /// The established one carrying the data.
    Active,
    /// The replaced one, still heard for a while.
    Draining,
}

/// One long-lived upstream DTLS session.
pub struct UpstreamSession {
    cfg: SessionConfig,
    source: KeySource,
    ctx: Option<Arc<BootstrapContext>>,
    active: Option<Slot>,
    pending: Option<Slot>,
    /// A replaced session that still receives until the deadline (make-before-break).
    draining: Option<(Slot, Instant)>,
    outbox: VecDeque<(PathId, Vec<u8>)>,
    queue: VecDeque<Vec<u8>>,
    received: VecDeque<Vec<u8>>,
    actions: VecDeque<Action>,
    bootstrap_in_flight: bool,
    force_bootstrap: bool,
    retry_at: Option<Instant>,
    failures: u32,
    /// When a rejected key last made us bootstrap again: at most once per `retry_max`.
    last_forced: Option<Instant>,
    unanswered_since: Option<Instant>,
    /// The active session got no answers: new data waits for the replacement handshake.
    suspected: bool,
    /// The last session to resume, with the B-TID of the key it was made with.
    resume: Option<(Session, Option<String>)>,
    /// Bumped whenever `resume` changes (so the caller knows when to persist it).
    resume_version: u64,
    metrics: SessionMetrics,
    last: Option<Now>,
    /// DTLS 1.3: the active connection (by its start) and the (send, receive) epochs last
    /// seen on it, to log each KeyUpdate once.
    epochs: Option<(Instant, (u64, u64))>,
    /// The B-TID of the key of the latest connection to become active (what its export is
    /// bound to).
    active_btid: Option<String>,
    /// DTLS 1.3 with `early_data`: the server's last ticket (upstream/early.rs).
    ticket: Option<early::KeptTicket>,
    /// DTLS 1.3 with `early_data`: the last replay-safe request sent on the active session
    /// since its last answer (empty: none), sent again as 0-RTT when the session is suspected
    /// lost (upstream/early.rs).
    unanswered_safe: Vec<u8>,
}

impl UpstreamSession {
    /// A session that has not connected yet.
    pub fn new(cfg: SessionConfig, source: KeySource) -> Self {
        Self {
            cfg,
            source,
            ctx: None,
            active: None,
            pending: None,
            draining: None,
            outbox: VecDeque::new(),
            queue: VecDeque::new(),
            received: VecDeque::new(),
            actions: VecDeque::new(),
            bootstrap_in_flight: false,
            force_bootstrap: false,
            retry_at: None,
            failures: 0,
            last_forced: None,
            unanswered_since: None,
            suspected: false,
            resume: None,
            resume_version: 0,
            ticket: None,
            unanswered_safe: Vec::new(),
            metrics: SessionMetrics::default(),
            last: None,
            epochs: None,
            active_btid: None,
        }
    }

    /// Uses a bootstrapping context restored from the state dir (no bootstrap is counted).
    pub fn set_context(&mut self, ctx: BootstrapContext) {
        self.ctx = Some(Arc::new(ctx));
    }

    /// The current bootstrapping context, if any.
    pub fn context(&self) -> Option<&BootstrapContext> {
        self.ctx.as_deref()
    }

    /// Whether a session is established.
    pub fn is_established(&self) -> bool {
        self.active.as_ref().is_some_and(|s| s.established)
    }

    /// A configuration reload: the next handshake uses `cfg` and `source`; the established
    /// session carries on untouched. A new key source also forgets the resumable session (it
    /// belongs to the old key) and retries a failing route at once. Returns whether the key
    /// source changed.
    pub fn reconfigure(&mut self, now: Now, cfg: SessionConfig, source: KeySource) -> bool {
        self.last = Some(now);
        self.cfg = cfg;
        if self.source.same_as(&source) {
            return false;
        }
        self.source = source;
        if self.resume.take().is_some() {
            self.resume_version += 1;
        }
        self.force_bootstrap = false;
        self.last_forced = None;
        self.failures = 0;
        self.retry_at = None;
        self.ensure(now);
        true
    }

    /// Starts connecting now (sessions also connect on the first datagram).
    pub fn connect(&mut self, now: Now) {
        self.last = Some(now);
        self.ensure(now);
    }

    /// Sends one local datagram upstream, or queues it while no session is ready.
    pub fn send(&mut self, now: Now, data: &[u8]) {
        self.last = Some(now);
        if let Some(slot) = self.sendable() {
            match slot.conn.send(data) {
                Ok(()) => {
                    self.unanswered_since.get_or_insert(now.mono);
                    self.sent_on_active(data);
                    return;
                }
                Err(e) => warn!("upstream send failed ({e}); queueing and reconnecting"),
            }
        }
        self.enqueue(data);
        self.ensure(now);
    }

    fn enqueue(&mut self, data: &[u8]) {
        if self.queue.len() >= self.cfg.queue_limit {
            self.metrics.dropped_queue_full += 1;
            warn!(
                "dropped a {}-byte datagram: queue full ({} waiting for the session)",
                data.len(),
                self.queue.len()
            );
            return;
        }
        self.metrics.queued += 1;
        self.queue.push_back(data.to_vec());
    }

    /// Feeds a datagram received on `path`.
    pub fn handle_datagram(&mut self, now: Now, path: PathId, data: &[u8]) {
        self.last = Some(now);
        let Some((s, _)) = self.slot_on(path, data) else {
            return;
        };
        s.conn.handle_datagram(now.mono, data);
        self.process(now);
    }

    /// The established connection new data goes to: none while connecting, nor while a
    /// suspected session is being replaced (data then waits for the replacement).
    fn sendable(&mut self) -> Option<&mut Slot> {
        let suspected = self.suspected && self.pending.is_some();
        self.active.as_mut().filter(|s| s.established && !suspected)
    }

    /// The connection a datagram received on `path` belongs to, and which one it is; a
    /// datagram for the connection being set up is remembered in words for a timeout message.
    fn slot_on(&mut self, path: PathId, data: &[u8]) -> Option<(&mut Slot, Which)> {
        if let Some(s) = self.pending.as_mut().filter(|s| s.path == path) {
            s.last_heard = Some(failure::describe_datagram(data));
            Some((s, Which::Pending))
        } else if let Some(s) = self.active.as_mut().filter(|s| s.path == path) {
            Some((s, Which::Active))
        } else if let Some((s, _)) = self.draining.as_mut().filter(|(s, _)| s.path == path) {
            Some((s, Which::Draining))
        } else {
            log::debug!("datagram on idle path {path:?} ignored");
            None
        }
    }

    /// A socket error on `path` (an ICMP error such as port unreachable surfaces so): logged
    /// once per handshake at INFO, and named if the handshake times out.
    pub fn upstream_error(&mut self, path: PathId, error: &std::io::Error) {
        if let Some(s) = self.pending.as_mut().filter(|s| s.path == path) {
            let what = format!("an ICMP error ({error})");
            if s.last_heard.as_deref() != Some(what.as_str()) {
                info!("upstream unreachable during the handshake: {error}");
                s.last_heard = Some(what);
            }
        } else if let Some(s) = self.active.as_mut().filter(|s| s.path == path) {
            // Once until the upstream answers again: a dead server would log every datagram.
            if !s.quiet_noted {
                info!("upstream unreachable: {error}");
                s.quiet_noted = true;
            }
        }
    }

    /// Next datagram to send and the path (socket) to send it on.
    pub fn poll_transmit(&mut self) -> Option<(PathId, Vec<u8>)> {
        if let Some(t) = self.outbox.pop_front() {
            return Some(t);
        }
        for slot in [
            self.active.as_mut(),
            self.pending.as_mut(),
            self.draining.as_mut().map(|(s, _)| s),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(d) = slot.conn.poll_transmit() {
                return Some((slot.path, d));
            }
        }
        None
    }

    /// Next datagram received from upstream, for the local side.
    pub fn poll_received(&mut self) -> Option<Vec<u8>> {
        self.received.pop_front()
    }

    /// Next action for the caller.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The result of an [`Action::Bootstrap`]: `fresh` when a bootstrap ran (not a cache hit).
    pub fn bootstrap_done(&mut self, now: Now, result: Result<(BootstrapContext, bool), KeyError>) {
        self.last = Some(now);
        self.bootstrap_in_flight = false;
        match result {
            Ok((ctx, fresh)) => {
                if fresh {
                    self.metrics.bootstraps += 1;
                }
                info!(
                    "bootstrapping context {} valid for {} s",
                    ctx.btid,
                    ctx.remaining(now.wall).as_secs()
                );
                let m = self.margins(&ctx);
                if fresh && m.rekey_before < self.cfg.rekey_before {
                    info!(
                        "the BSF's key lifetime is short for rekey_before_secs = {}: rekeying {} s before expiry",
                        self.cfg.rekey_before.as_secs(),
                        m.rekey_before.as_secs()
                    );
                }
                if fresh && !ctx.usable_at(now.wall, m.min_key_life) {
                    // Already (nearly) expired as issued (a clock off at either end): bootstrapping
                    // again at once would repeat it; the retry delay paces the attempts.
                    self.metrics.bootstrap_failures += 1;
                    let delay = self.schedule_retry(now);
                    warn!(
                        "bootstrapping context {} expires too soon to be used; bootstrapping again in {} s",
                        ctx.btid,
                        delay.as_secs()
                    );
                    return;
                }
                self.force_bootstrap = false;
                self.ctx = Some(Arc::new(ctx));
                self.retry_at = None;
                let renewed = self.active.as_ref().is_some_and(|a| {
                    a.btid.as_deref() != self.ctx.as_ref().map(|c| c.btid.as_str())
                });
                if renewed && self.pending.is_none() {
                    // Make-before-break: the new key's session comes up beside the old one.
                    self.start_handshake(now);
                } else {
                    self.ensure(now);
                }
            }
            Err(e) => {
                self.metrics.bootstrap_failures += 1;
                let _ = self.schedule_retry(now);
                if self.is_established() {
                    warn!(
                        "GBA bootstrap failed ({}); the current session carries on until its key expires",
                        chain(&e)
                    );
                } else {
                    warn!("GBA bootstrap failed ({}); retrying", chain(&e));
                }
            }
        }
    }

    /// The card's answer to an [`Action::DeriveNafKey`].
    pub fn provide_naf_key(&mut self, now: Now, key: Result<Secret<32>, KeyError>) {
        self.last = Some(now);
        let identity = self.ctx.as_ref().map(|c| c.psk_identity().into_bytes());
        if let Some(slot) = self.pending.as_mut() {
            let psk = match (key, identity) {
                (Ok(k), Some(identity)) => Some(ClientPsk {
                    identity,
                    key: SecretVec::from(&k.expose()[..]),
                }),
                (Err(e), _) => {
                    warn!("the card could not derive Ks_ext_NAF: {}", chain(&e));
                    self.force_bootstrap = true;
                    None
                }
                (Ok(_), None) => None,
            };
            if let Err(e) = slot.conn.provide_client_psk(now.mono, psk) {
                warn!("PSK answer not taken: {e}");
            }
        }
        self.process(now);
    }

    /// When [`UpstreamSession::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for slot in [self.active.as_ref(), self.pending.as_ref()]
            .into_iter()
            .flatten()
        {
            consider(slot.conn.poll_timeout());
        }
        consider(self.draining.as_ref().map(|(_, until)| *until));
        consider(self.retry_at);
        if let (Some(since), Some(after)) = (self.unanswered_since, self.cfg.suspect_after) {
            if self.pending.is_none() {
                consider(Some(since + after));
            }
        }
        if let (Some(ctx), Some(last)) = (&self.ctx, self.last) {
            let rekey_at = ctx
                .expires
                .checked_sub(self.margins(ctx).rekey_before)
                .unwrap_or(ctx.expires);
            let delta = rekey_at.duration_since(last.wall).unwrap_or_default();
            // After a failed rekey bootstrap the retry timer (backoff) decides when to try again;
            // the rekey time is already past and would wake us at once, again and again.
            if !self.bootstrap_in_flight && self.retry_at.is_none() {
                consider(Some(last.mono + delta));
            }
            let expiry = ctx.expires.duration_since(last.wall).unwrap_or_default();
            consider(Some(last.mono + expiry));
        }
        t
    }

    /// Drives timers: DTLS retransmissions, retries, key lifetime and the liveness suspicion.
    pub fn handle_timeout(&mut self, now: Now) {
        self.last = Some(now);
        let silent_after =
            (self.cfg.dtls.common.retransmit.initial * 2).max(Duration::from_secs(1));
        if let Some(s) = self.pending.as_mut().filter(|s| {
            !s.quiet_noted && s.last_heard.is_none() && now.mono >= s.started + silent_after
        }) {
            info!(
                "upstream silent: no answer to the handshake for {} s; retransmitting",
                now.mono.saturating_duration_since(s.started).as_secs()
            );
            s.quiet_noted = true;
        }
        for slot in [self.active.as_mut(), self.pending.as_mut()]
            .into_iter()
            .flatten()
        {
            slot.conn.handle_timeout(now.mono);
        }
        self.process(now);
        if self
            .draining
            .as_ref()
            .is_some_and(|(_, until)| now.mono >= *until)
        {
            if let Some((old, _)) = self.draining.take() {
                self.retire(old, true);
            }
        }
        self.check_key_lifetime(now);
        if let (Some(since), Some(after), true) = (
            self.unanswered_since,
            self.cfg.suspect_after,
            self.pending.is_none(),
        ) {
            if self.is_established() && now.mono >= since + after {
                warn!(
                    "no answer from upstream for {} s; starting a new handshake beside the old session",
                    after.as_secs()
                );
                self.unanswered_since = None;
                self.suspected = true;
                self.start_handshake(now);
            }
        }
        if self.retry_at.is_some_and(|t| now.mono >= t) {
            self.retry_at = None;
            self.ensure(now);
        }
    }

    fn check_key_lifetime(&mut self, now: Now) {
        let Some(ctx) = self.ctx.clone() else { return };
        if now.wall >= ctx.expires {
            info!("Ks of {} expired", ctx.btid);
            self.ctx = None;
            if let Some(slot) = self.active.take() {
                self.retire(slot, true);
            }
            self.ensure(now);
        } else if !self.bootstrap_in_flight
            && self.pending.is_none()
            && self.retry_at.is_none_or(|t| now.mono >= t)
            && ctx.remaining(now.wall) <= self.margins(&ctx).rekey_before
            && self
                .active
                .as_ref()
                .is_some_and(|a| a.btid.as_deref() == Some(ctx.btid.as_str()))
        {
            info!(
                "Ks of {} expires in {} s: bootstrapping again (make-before-break)",
                ctx.btid,
                ctx.remaining(now.wall).as_secs()
            );
            self.request_bootstrap(true);
        }
    }

    /// Closes the session (close_notify) and stops reconnecting.
    pub fn close(&mut self) {
        for slot in [
            self.pending.take(),
            self.active.take(),
            self.draining.take().map(|(s, _)| s),
        ]
        .into_iter()
        .flatten()
        {
            self.retire(slot, true);
        }
        self.retry_at = None;
    }

    /// Counters so far (retired and live connections).
    pub fn metrics(&self) -> SessionMetrics {
        let mut live = SessionMetrics::default();
        for slot in [
            self.active.as_ref(),
            self.pending.as_ref(),
            self.draining.as_ref().map(|(s, _)| s),
        ]
        .into_iter()
        .flatten()
        {
            live.add_connection(&slot.conn.stats(), slot.base.as_ref());
        }
        self.metrics.merged(&live)
    }

    /// Datagrams waiting for a session.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The session to resume after a restart (and a version that changes when it does), to be
    /// persisted by the caller with [`Session::to_bytes`].
    pub fn resumable(&self) -> (u64, Option<&Session>) {
        (self.resume_version, self.resume.as_ref().map(|(s, _)| s))
    }

    /// The B-TID of the key the resumable session and the active connection were made with.
    pub fn session_btid(&self) -> Option<&str> {
        self.resume.as_ref().and_then(|(_, b)| b.as_deref())
    }

    /// The B-TID of the key of the latest connection to become active, which its export is
    /// bound to (a DTLS 1.3 connection has no resumable session to take it from); else that of
    /// the resumable session.
    pub fn export_btid(&self) -> Option<&str> {
        self.active_btid.as_deref().or_else(|| self.session_btid())
    }

    /// A session saved before a restart (with the B-TID of its key), offered at the next
    /// handshake if the key still matches.
    pub fn set_resumable(&mut self, session: Session, btid: Option<String>) {
        self.resume = Some((session, btid));
    }

    /// The rekey and handshake margins for `ctx` (capped by the lifetime the BSF issued).
    fn margins(&self, ctx: &BootstrapContext) -> Margins {
        Margins::for_context(self.cfg.rekey_before, self.cfg.min_key_life, ctx)
    }

    fn request_bootstrap(&mut self, force: bool) {
        if !self.bootstrap_in_flight {
            self.bootstrap_in_flight = true;
            self.actions.push_back(Action::Bootstrap { force });
        }
    }

    fn schedule_retry(&mut self, now: Now) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(16);
        let delay = self
            .cfg
            .retry_min
            .saturating_mul(1u32 << exp)
            .min(self.cfg.retry_max);
        self.retry_at = Some(now.mono + delay);
        delay
    }

    /// Makes sure a session exists or is on its way.
    fn ensure(&mut self, now: Now) {
        if self.pending.is_some()
            || self.is_established()
            || self.retry_at.is_some_and(|t| now.mono < t)
        {
            return;
        }
        match &self.source {
            KeySource::Static { .. } => self.start_handshake(now),
            KeySource::Gba { .. } => {
                let usable = self
                    .ctx
                    .as_ref()
                    .is_some_and(|c| c.usable_at(now.wall, self.margins(c).min_key_life));
                if usable && !self.force_bootstrap {
                    self.start_handshake(now);
                } else {
                    self.request_bootstrap(self.force_bootstrap || self.ctx.is_some());
                }
            }
        }
    }

    fn start_handshake(&mut self, now: Now) {
        if self.pending.is_some() {
            return;
        }
        let path = match self.active.as_ref() {
            Some(a) if a.path == PathId(0) => PathId(1),
            _ => PathId(0),
        };
        let mut cfg = self.cfg.dtls.clone();
        cfg.psk = Arc::new(SessionPsk {
            source: self.source.clone(),
            context: self.ctx.clone(),
        });
        if let (None, KeySource::Gba { naf_fqdn, .. }) = (&cfg.server_name, &self.source) {
            cfg.server_name = Some(naf_fqdn.clone());
        }
        let current = self.ctx.as_ref().map(|c| c.btid.clone());
        // Resume only with the key the session was made with (a new Ks means a new session).
        if !self.force_bootstrap {
            cfg.resume = self
                .resume
                .as_ref()
                .filter(|(_, b)| *b == current)
                .map(|(s, _)| s.clone());
        }
        if let Some(mut a) = self.active.take() {
            self.keep_ticket(&mut a, now.mono);
            self.active = Some(a);
        }
        let early = if cfg.resume.is_none() {
            self.early_link(&cfg, now)
        } else {
            None
        };
        let how = match (&early, &cfg.resume) {
            (Some((_, 0)), _) => "resuming with the server's ticket".to_string(),
            (Some((_, n)), _) => format!("resuming with the server's ticket, {n} B of 0-RTT"),
            (None, Some(_)) => "resuming the saved session".to_string(),
            (None, None) => "full".to_string(),
        };
        let link = match early {
            Some((l, _)) => Ok(l),
            None => ClientLink::client(Arc::new(cfg), self.cfg.versions, now.mono),
        };
        match link {
            Ok(mut conn) => {
                conn.set_key_update_after(self.cfg.key_update_after);
                let btid = self.ctx.as_ref().map(|c| c.btid.clone());
                info!(
                    "upstream handshake started (DTLS {}, {how}; {})",
                    self.cfg.versions,
                    failure::key_in_words(
                        &self.source,
                        btid.as_deref(),
                        // DTLS 1.3: one Ua id for every suite, known before the server answers
                        (self.cfg.versions == Versions::Dtls13)
                            .then_some(CipherSuite::Tls13Aes128Ccm8Sha256)
                    )
                );
                self.pending = Some(Slot {
                    base: None,
                    conn,
                    path,
                    started: now.mono,
                    btid,
                    established: false,
                    last_heard: None,
                    quiet_noted: false,
                });
            }
            Err(e) => {
                warn!("cannot start a DTLS handshake: {e}");
                self.metrics.handshake_failures += 1;
                let _ = self.schedule_retry(now);
            }
        }
    }
}

#[cfg(test)]
mod tests;
