//! The server side: a DTLS [`Endpoint`] on one UDP socket; each session's plaintext goes to a
//! backend UDP address through a socket of its own (so replies map back to the session), and
//! back. PSKs come from a static table or the BSF key API, fetched in a worker thread while the
//! handshake waits. Same `mio` event loop as the gateway.

use super::event_wait::wait_for_events;
use super::key_lookup::{KeyLookups, Outcome, Requested};
use super::lifecycle::{EvictReason, Lifecycle, LifecycleConfig};
use super::log_limit::{left_out, LogLimit};
use super::naf_keys::NafKeys;
use crate::dtls::config::PskRefusal;
use crate::dtls::{CloseReason, Endpoint, Error as DtlsError, Event, FailureKind, ServerConfig};
use crate::gba::ids::escape_for_log;
use log::{debug, info, warn};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

const LISTEN: Token = Token(0);
const WAKE: Token = Token(1);
const BACKEND_BASE: usize = 16;
const MAX_DATAGRAM: usize = 65_535;

/// Server settings.
pub struct ServerSpec {
    /// UDP address for DTLS.
    pub listen: SocketAddr,
    /// Where plaintext goes.
    pub backend: SocketAddr,
    /// DTLS settings; its PSK store is replaced by `keys`.
    pub dtls: ServerConfig,
    /// PSKs.
    pub keys: Arc<NafKeys>,
    /// State directory for the graceful restart (export on stop, import on start); `None`: none.
    pub state_dir: Option<std::path::PathBuf>,
}

/// Files of the graceful restart in the state directory.
const EXPORT_FILE: &str = "server-sessions.export";
const KEY_FILE: &str = "server-export.key";
const LEDGER_FILE: &str = "server-import.ledger";

/// Counters of a running server.
#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Handshakes completed.
    pub handshakes: AtomicU64,
    /// Datagrams forwarded to the backend.
    pub to_backend: AtomicU64,
    /// Datagrams forwarded from the backend.
    pub from_backend: AtomicU64,
    /// Key API lookups.
    pub key_lookups: AtomicU64,
    /// Established sessions now (sessions continued over a restart count from their first
    /// record).
    pub sessions: AtomicU64,
    /// Connections closed for the idle timeout.
    pub evicted_idle: AtomicU64,
    /// Connections closed as least recently used at the connection limit.
    pub evicted_lru: AtomicU64,
    /// Connections closed for the per-identity cap.
    pub evicted_per_identity: AtomicU64,
    /// Connections closed for the per-address cap.
    pub evicted_per_address: AtomicU64,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    counters: Arc<ServerCounters>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Binds and starts the server thread with the default connection lifecycle
    /// ([`LifecycleConfig::new`]).
    pub fn start(spec: ServerSpec) -> io::Result<Self> {
        let lifecycle = LifecycleConfig::new(spec.dtls.max_connections);
        Self::start_with(spec, lifecycle)
    }

    /// Binds and starts the server thread with this connection lifecycle.
    pub fn start_with(spec: ServerSpec, lifecycle: LifecycleConfig) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut sock = UdpSocket::bind(spec.listen).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {}: {e}", spec.listen))
        })?;
        poll.registry()
            .register(&mut sock, LISTEN, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let addr = sock.local_addr()?;
        let mut dtls = spec.dtls;
        dtls.psk = spec.keys.clone();
        // The engine refuses other SNIs with unrecognized_name before any key lookup.
        if dtls.server_names.is_empty() {
            dtls.server_names = spec.keys.served_names();
        }
        let mut endpoint = Endpoint::new(Arc::new(dtls))
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        let restart = match &spec.state_dir {
            Some(dir) => Some(restore(&mut endpoint, dir)?),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(ServerCounters::default());
        let wake = waker.clone();
        let lookups = KeyLookups::start(
            spec.keys.clone(),
            spec.keys.policy().lookup.clone(),
            Arc::new(move || {
                let _ = wake.wake();
            }),
        )?;
        let lp = ServerLoop {
            poll,
            sock,
            endpoint,
            backend: spec.backend,
            backends: HashMap::new(),
            tokens: HashMap::new(),
            next_token: BACKEND_BASE,
            keys: spec.keys,
            restart,
            lookups,
            handshakes: HashMap::new(),
            key_expiry: HashMap::new(),
            expiry_heap: BinaryHeap::new(),
            refused: HashSet::new(),
            lifecycle: Lifecycle::new(lifecycle),
            probing: HashSet::new(),
            up: HashSet::new(),
            last_sweep: Instant::now(),
            stop: stop.clone(),
            counters: counters.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("simbridge-server".into())
            .spawn(move || lp.run())?;
        info!("server: DTLS on {addr}, backend {}", spec.backend);
        Ok(Self {
            addr,
            stop,
            waker,
            counters,
            thread: Some(thread),
        })
    }

    /// The bound DTLS address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Live counters.
    pub fn counters(&self) -> &ServerCounters {
        &self.counters
    }

    /// Stops the server.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_thread()
    }

    fn stop_thread(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_thread();
    }
}

/// What the log needs about a handshake waiting for (or refused) a GBA key.
struct KeyWait {
    /// The identity, escaped and cut.
    identity: String,
    /// NAF_Id as `fqdn` and Ua id hex.
    naf: String,
    /// Why the key was refused, once known.
    cause: Option<String>,
}

struct ServerLoop {
    poll: Poll,
    sock: UdpSocket,
    endpoint: Endpoint,
    backend: SocketAddr,
    backends: HashMap<SocketAddr, (Token, UdpSocket)>,
    tokens: HashMap<Token, SocketAddr>,
    next_token: usize,
    keys: Arc<NafKeys>,
    /// State directory and export key, for saving the sessions at stop.
    restart: Option<(std::path::PathBuf, crate::secret::Secret<32>)>,
    lookups: KeyLookups,
    handshakes: HashMap<SocketAddr, KeyWait>,
    /// When each established session's GBA key (Ks_NAF) expires: it is closed then.
    key_expiry: HashMap<SocketAddr, SystemTime>,
    /// The same, earliest first (entries whose peer moved or closed are skipped).
    expiry_heap: BinaryHeap<Reverse<(SystemTime, SocketAddr)>>,
    /// Peers being closed for an expired key: their data is dropped.
    refused: HashSet<SocketAddr>,
    /// Idle timeout, LRU at the limit, per-identity and per-address caps.
    lifecycle: Lifecycle,
    /// Sessions continued from before a restart whose key's expiry is being asked of the BSF.
    probing: HashSet<SocketAddr>,
    /// Established sessions counted in [`ServerCounters::sessions`].
    up: HashSet<SocketAddr>,
    last_sweep: Instant,
    stop: Arc<AtomicBool>,
    counters: Arc<ServerCounters>,
}

impl ServerLoop {
    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            self.flush();
            if self.stop.load(Ordering::SeqCst) {
                self.save();
                self.lookups.stop();
                return Ok(());
            }
            wait_for_events(&mut self.poll, &mut events, self.endpoint.poll_timeout())?;
            for ev in events.iter() {
                match ev.token() {
                    LISTEN => self.read_dtls(&mut buf),
                    WAKE => {}
                    t => self.read_backend(t, &mut buf),
                }
            }
            let now = Instant::now();
            for (peer, _, outcome) in self.lookups.poll(now) {
                if self.probing.remove(&peer) {
                    self.probed(peer, outcome);
                } else {
                    self.answer(now, peer, outcome);
                }
            }
            self.close_expired(SystemTime::now());
            if now.saturating_duration_since(self.last_sweep) >= std::time::Duration::from_secs(1) {
                self.last_sweep = now;
                let open = self.endpoint.connection_count();
                for (peer, why) in self.lifecycle.sweep(now, open) {
                    self.evict(peer, why);
                }
            }
            self.endpoint.handle_timeout(now);
        }
    }

    /// Graceful restart, part 1: every established session goes to the state directory.
    fn save(&mut self) {
        let Some((dir, key)) = &self.restart else {
            return;
        };
        match self
            .endpoint
            .save_all(key.expose(), crate::dtls::export::DEFAULT_RESERVE)
        {
            Ok(blob) => match crate::fsutil::write_atomic_private(&dir.join(EXPORT_FILE), &blob) {
                Ok(()) => info!(
                    "server: {} sessions saved for the restart",
                    self.endpoint.connection_count()
                ),
                Err(e) => warn!("server: cannot save sessions in {}: {e}", dir.display()),
            },
            Err(e) => warn!("server: cannot export sessions: {e}"),
        }
    }

    fn read_dtls(&mut self, buf: &mut [u8]) {
        loop {
            match self.sock.recv_from(buf) {
                Ok((n, from)) => {
                    self.endpoint
                        .handle_datagram(Instant::now(), from, &buf[..n]);
                    // A key answered from the cache: remembered so that a wrong key is logged
                    // with its identity.
                    if let Some((identity, naf)) = self.keys.take_last_ready() {
                        self.handshakes.insert(
                            from,
                            KeyWait {
                                identity,
                                naf,
                                cause: None,
                            },
                        );
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!("server receive error: {e}");
                    return;
                }
            }
        }
    }

    fn read_backend(&mut self, token: Token, buf: &mut [u8]) {
        let Some(peer) = self.tokens.get(&token).copied() else {
            return;
        };
        loop {
            let Some((_, s)) = self.backends.get(&peer) else {
                return;
            };
            match s.recv(buf) {
                Ok(n) => {
                    self.counters.from_backend.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = self.endpoint.send(peer, &buf[..n]) {
                        warn!("dropped a {n}-byte backend reply for {peer}: {e}");
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!("backend receive error for {peer}: {e}");
                    return;
                }
            }
        }
    }

    fn backend_for(&mut self, peer: SocketAddr) -> io::Result<&UdpSocket> {
        if !self.backends.contains_key(&peer) {
            let bind: SocketAddr = if self.backend.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            let mut s = UdpSocket::bind(bind)?;
            s.connect(self.backend)?;
            let token = Token(self.next_token);
            self.next_token += 1;
            self.poll
                .registry()
                .register(&mut s, token, Interest::READABLE)?;
            self.tokens.insert(token, peer);
            self.backends.insert(peer, (token, s));
        }
        self.backends
            .get(&peer)
            .map(|(_, s)| s)
            .ok_or_else(|| io::Error::other("backend socket missing"))
    }

    fn drop_backend(&mut self, peer: &SocketAddr) {
        if let Some((t, mut s)) = self.backends.remove(peer) {
            let _ = self.poll.registry().deregister(&mut s);
            self.tokens.remove(&t);
        }
    }

    fn flush(&mut self) {
        while let Some((old, new)) = self.endpoint.poll_address_change() {
            // A NAT rebinding under a Connection ID: the session (and its backend socket) moves.
            if let Some((t, s)) = self.backends.remove(&old) {
                self.tokens.insert(t, new);
                self.backends.insert(new, (t, s));
            }
            self.lifecycle.moved(old, new);
            if self.up.remove(&old) {
                self.up.insert(new);
            }
            if let Some(exp) = self.key_expiry.remove(&old) {
                self.key_expiry.insert(new, exp);
                self.expiry_heap.push(Reverse((exp, new)));
            }
            info!("{old}: moved to {new} (Connection ID)");
        }
        while let Some((peer, ev)) = self.endpoint.poll_event() {
            match ev {
                Event::Connected {
                    suite,
                    identity,
                    resumed,
                } => {
                    self.handshakes.remove(&peer);
                    if !self.track_key_expiry(peer, &identity, suite, resumed) {
                        continue;
                    }
                    for (p, why) in self.lifecycle.established(peer, &identity, Instant::now()) {
                        self.evict(p, why);
                    }
                    if resumed {
                        let sni = self
                            .endpoint
                            .connection(&peer)
                            .and_then(|c| c.server_name().map(str::to_string));
                        self.probe_expiry(peer, &identity, sni.as_deref(), suite);
                    }
                    self.counters.handshakes.fetch_add(1, Ordering::Relaxed);
                    self.session_up(peer);
                    info!(
                        "{peer}: session up, {} identity \"{}\"{}",
                        suite.name(),
                        escape_for_log(&identity),
                        if resumed { " (resumed)" } else { "" }
                    );
                }
                Event::Data(_) if self.refused.contains(&peer) => {}
                // The first record of a session continued from before a restart: adopted (and
                // dropped when its key has expired).
                Event::Data(_) if !self.lifecycle.contains(peer) && !self.adopt(peer) => {}
                Event::Data(d) => {
                    self.lifecycle.activity(peer, Instant::now());
                    self.counters.to_backend.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = self.backend_for(peer).and_then(|s| s.send(&d)) {
                        warn!(
                            "dropped a {}-byte datagram from {peer}: backend: {e}",
                            d.len()
                        );
                    }
                }
                Event::PskRequested {
                    identity,
                    sni,
                    suite,
                    ..
                } => self.request_key(peer, &identity, sni.as_deref(), suite),
                Event::Closed { reason } => {
                    self.key_expiry.remove(&peer);
                    self.lifecycle.closed(peer);
                    self.probing.remove(&peer);
                    if self.up.remove(&peer) {
                        self.counters.sessions.fetch_sub(1, Ordering::Relaxed);
                    }
                    if !self.refused.remove(&peer) {
                        self.log_close(peer, &reason);
                    }
                    self.drop_backend(&peer);
                }
            }
        }
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Err(e) = self.sock.send_to(&t.payload, t.destination) {
                debug!("send to {} failed: {e}", t.destination);
            }
        }
    }

    /// Remembers when the session's GBA key expires (closed then). A resumed session whose key
    /// has expired is closed at once (close_notify) and its data dropped: Ks_NAF must not
    /// outlive its bootstrapping. Returns false when the session was refused.
    fn track_key_expiry(
        &mut self,
        peer: SocketAddr,
        identity: &[u8],
        suite: crate::dtls::CipherSuite,
        resumed: bool,
    ) -> bool {
        let sni = self
            .endpoint
            .connection(&peer)
            .and_then(|c| c.server_name().map(str::to_string));
        let Some(exp) = self.keys.key_expiry(identity, sni.as_deref(), suite) else {
            return true;
        };
        if exp <= SystemTime::now() {
            warn!(
                "{peer}: {} refused: the key of identity \"{}\" expired at {}; close_notify sent",
                if resumed { "resumption" } else { "session" },
                escape_for_log(identity),
                crate::gba::time::format_utc(exp)
            );
            self.refused.insert(peer);
            self.endpoint.close(peer);
            return false;
        }
        self.key_expiry.insert(peer, exp);
        self.expiry_heap.push(Reverse((exp, peer)));
        true
    }

    /// A session the server did not see established (continued from before a restart, the
    /// export holds no identity-to-key state) is tracked from its first record: lifecycle and,
    /// when its key is not cached, a lookup that learns the key's expiry. Returns false when
    /// the session was refused (its key has expired).
    fn adopt(&mut self, peer: SocketAddr) -> bool {
        let Some((identity, suite, sni)) = self.endpoint.connection(&peer).and_then(|c| {
            Some((
                c.identity().to_vec(),
                c.suite()?,
                c.server_name().map(str::to_string),
            ))
        }) else {
            return true;
        };
        let now = Instant::now();
        for (p, why) in self.lifecycle.established(peer, &identity, now) {
            self.evict(p, why);
        }
        if !self.track_key_expiry(peer, &identity, suite, false) {
            return false;
        }
        self.session_up(peer);
        self.probe_expiry(peer, &identity, sni.as_deref(), suite);
        !self.refused.contains(&peer)
    }

    /// When the GBA key of an established session is not cached (a session continued over a
    /// restart, or resumed after one), asks the key API for it to learn its expiry.
    fn probe_expiry(
        &mut self,
        peer: SocketAddr,
        identity: &[u8],
        sni: Option<&str>,
        suite: crate::dtls::CipherSuite,
    ) {
        if self.key_expiry.contains_key(&peer) || self.refused.contains(&peer) {
            return;
        }
        let Ok(plan) = self.keys.plan(identity, sni, suite) else {
            return; // a static key, or no key API
        };
        match self.lookups.request(peer, plan, Instant::now()) {
            Requested::Queued => {
                self.probing.insert(peer);
            }
            Requested::Now(o) => self.probed(peer, o),
        }
    }

    /// The answer of a lookup made only to learn a continued session's key expiry.
    fn probed(&mut self, peer: SocketAddr, outcome: Outcome) {
        let info = self
            .endpoint
            .connection(&peer)
            .and_then(|c| Some((c.identity().to_vec(), c.suite()?)));
        match (outcome, info) {
            (Outcome::Key(_), Some((identity, suite))) => {
                // The key is cached now, with its expiry.
                self.track_key_expiry(peer, &identity, suite, false);
            }
            (Outcome::Key(_), None) => {}
            (Outcome::Unknown(cause), _) => {
                // Expired, or superseded and gone: a session needs a key the BSF still knows.
                warn!("{peer}: session closed: its key is no longer known to the BSF ({cause}); close_notify sent");
                self.refused.insert(peer);
                self.endpoint.close(peer);
            }
            (Outcome::Unavailable(cause), _) => {
                debug!("{peer}: the expiry of a continued session's key is unknown: {cause}")
            }
        }
    }

    /// Counts an established session once.
    fn session_up(&mut self, peer: SocketAddr) {
        if self.up.insert(peer) {
            self.counters.sessions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Closes a connection for the lifecycle (close_notify; its backend socket goes when the
    /// close is reported), counted by reason and logged at INFO.
    fn evict(&mut self, peer: SocketAddr, why: EvictReason) {
        let c = &self.counters;
        match why {
            EvictReason::Idle => &c.evicted_idle,
            EvictReason::LeastRecentlyUsed => &c.evicted_lru,
            EvictReason::PerIdentity => &c.evicted_per_identity,
            EvictReason::PerAddress => &c.evicted_per_address,
        }
        .fetch_add(1, Ordering::Relaxed);
        info!("{peer}: connection evicted ({why}); close_notify sent");
        self.endpoint.close(peer);
    }

    /// Closes (close_notify) the sessions whose GBA key has expired.
    fn close_expired(&mut self, now: SystemTime) {
        while let Some(Reverse((exp, peer))) = self.expiry_heap.peek().copied() {
            if exp > now {
                return;
            }
            self.expiry_heap.pop();
            if self.key_expiry.get(&peer) != Some(&exp) {
                continue; // moved, closed, or a newer entry
            }
            self.key_expiry.remove(&peer);
            info!("{peer}: the session's key (Ks_NAF) expired: closing with close_notify");
            self.endpoint.close(peer);
        }
    }

    fn request_key(
        &mut self,
        peer: SocketAddr,
        identity: &[u8],
        sni: Option<&str>,
        suite: crate::dtls::CipherSuite,
    ) {
        let now = Instant::now();
        let plan = match self.keys.plan(identity, sni, suite) {
            Ok(p) => p,
            Err(e) => {
                // NafKeys::lookup refuses these before a PskRequested; kept for safety.
                warn!(
                    "{peer}: PSK identity \"{}\" refused: {e}",
                    escape_for_log(identity)
                );
                let _ = self
                    .endpoint
                    .refuse_psk(now, peer, PskRefusal::UnknownIdentity);
                return;
            }
        };
        self.handshakes.insert(
            peer,
            KeyWait {
                identity: escape_for_log(identity),
                naf: super::naf_keys::describe_naf(&plan.naf),
                cause: None,
            },
        );
        let requested = self.lookups.request(peer, plan, now);
        self.counters
            .key_lookups
            .store(self.lookups.requests(), Ordering::Relaxed);
        if let Requested::Now(outcome) = requested {
            self.answer(now, peer, outcome);
        }
    }

    /// Hands a lookup's outcome to the handshake of `peer`.
    fn answer(&mut self, now: Instant, peer: SocketAddr, outcome: Outcome) {
        let r = match outcome {
            Outcome::Key(k) => self.endpoint.provide_psk(now, peer, Some(k)),
            Outcome::Unknown(cause) => {
                if let Some(w) = self.handshakes.get_mut(&peer) {
                    w.cause = Some(cause);
                }
                self.endpoint
                    .refuse_psk(now, peer, PskRefusal::UnknownIdentity)
            }
            Outcome::Unavailable(cause) => {
                if let Some(w) = self.handshakes.get_mut(&peer) {
                    w.cause = Some(cause);
                }
                self.endpoint.refuse_psk(now, peer, PskRefusal::Unavailable)
            }
        };
        if let Err(e) = r {
            debug!("{peer}: the key lookup ended after the handshake: {e}");
            self.handshakes.remove(&peer);
        }
    }

    /// Logs the end of a connection; refusals at WARN with their cause (never a key).
    fn log_close(&mut self, peer: SocketAddr, reason: &CloseReason) {
        let wait = self.handshakes.remove(&peer);
        let who = |w: &Option<KeyWait>| match w {
            Some(w) => format!("identity \"{}\" ({})", w.identity, w.naf),
            None => "an identity not recorded".into(),
        };
        let cause = |w: &Option<KeyWait>| {
            w.as_ref()
                .and_then(|w| w.cause.clone())
                .unwrap_or_else(|| "no cause recorded".into())
        };
        // (kind, line) of a refusal worth a WARN; kinds are rate-limited apart.
        let refusal: Option<(usize, String)> = match reason {
            CloseReason::Error(DtlsError::UnknownPskIdentity) if wait.is_some() => Some((
                0,
                format!(
                    "{peer}: handshake refused: unknown PSK identity, {}: {}; the client saw decrypt_error (RFC 4279 random-key path)",
                    who(&wait),
                    cause(&wait)
                ),
            )),
            CloseReason::Error(DtlsError::UnknownPskIdentity) => {
                debug!("{peer}: handshake refused: PSK identity refused before any lookup (logged above); the client saw decrypt_error");
                None
            }
            CloseReason::Error(DtlsError::PskUnavailable) => Some((
                1,
                format!(
                    "{peer}: handshake refused: key source unavailable for {}: {}; internal_error sent",
                    who(&wait),
                    cause(&wait)
                ),
            )),
            CloseReason::Error(DtlsError::BadFinished) => Some((
                2,
                format!(
                    "{peer}: handshake failed: wrong key for {} (the client's Finished did not verify); decrypt_error sent",
                    who(&wait)
                ),
            )),
            CloseReason::Error(DtlsError::UnrecognizedName(n)) => Some((
                3,
                format!(
                    "{peer}: handshake refused: SNI \"{n}\" is not one of this server's NAF FQDNs {:?}; unrecognized_name sent",
                    self.keys.served_names()
                ),
            )),
            r if r.failure_kind() == Some(FailureKind::ConfigMismatch) => Some((
                4,
                format!(
                    "{peer}: handshake failed: {r} (cipher suite or extended master secret mismatch)"
                ),
            )),
            r => {
                info!("{peer}: session closed: {r}");
                None
            }
        };
        if let Some((kind, line)) = refusal {
            if let Some(n) = REFUSAL_LOG[kind].allow(Instant::now()) {
                warn!("{line}{}", left_out(n));
            }
        }
    }
}

/// At most 20 WARN lines per kind of refusal every 10 s (a flood of bogus handshakes must not
/// flood the log); the next line says how many were left out.
static REFUSAL_LOG: [LogLimit; 5] = [
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
];

/// Graceful restart, part 2: loads (and consumes) the sessions saved by the last stop.
fn restore(
    endpoint: &mut Endpoint,
    dir: &std::path::Path,
) -> io::Result<(std::path::PathBuf, crate::secret::Secret<32>)> {
    crate::fsutil::create_private_dir(dir)?;
    let key = super::state::load_or_create_key(&dir.join(KEY_FILE))?;
    if let Some(blob) = super::state::take_file(&dir.join(EXPORT_FILE))? {
        let mut ledger = super::state::FileLedger::open(&dir.join(LEDGER_FILE))?;
        match endpoint.load_all_with(&blob, key.expose(), &mut ledger) {
            Ok(n) => info!("server: {n} sessions continued from before the restart"),
            Err(e) => warn!("server: saved sessions not loaded: {e}"),
        }
    }
    Ok((dir.to_path_buf(), key))
}
