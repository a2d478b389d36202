//! The server side: a DTLS [`Endpoint`] on one UDP socket; each session's plaintext goes to a
//! backend UDP address through a socket of its own (so replies map back to the session), and
//! back. PSKs come from a static table or the BSF key API, fetched in a worker thread while the
//! handshake waits. Same `mio` event loop as the gateway.

use super::batch::{RecvBatch, SendBatch, SendFailure};
use super::early::{EarlyHold, EarlyPolicy};
use super::event_wait::wait_for_events;
use super::key_lookup::KeyLookups;
use super::lifecycle::{EvictReason, Lifecycle, LifecycleConfig};
use super::naf_keys::NafKeys;
use crate::dtls::{Endpoint, Event, ServerConfig};
use crate::gba::ids::escape_for_log;
use log::{debug, info, warn};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

mod early_routes;
mod keys;
mod ticket_master;

use keys::KeyWait;

const LISTEN: Token = Token(0);
const WAKE: Token = Token(1);
const BACKEND_BASE: usize = 16;
const MAX_DATAGRAM: usize = 65_535;
/// Backend replies held per connection for a client whose handshake has not completed.
const EARLY_REPLIES_CAP: usize = 16 * 1024;

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
    /// With `dtls.early_data13` (0-RTT): which early data reaches the backend before the
    /// handshake completes; the rest waits for it (bridge/early.rs).
    pub early_forward: EarlyPolicy,
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
    /// DTLS 1.3 0-RTT records taken from clients.
    pub early_data: AtomicU64,
    /// Of those, requests the listener declares replay-safe, forwarded before the handshake
    /// completed.
    pub early_forwarded: AtomicU64,
    /// Of those, datagrams held until the handshake completed, then forwarded.
    pub early_held: AtomicU64,
    /// Held early data dropped: the handshake never completed (a replay's, or a lost client),
    /// or it passed the bound.
    pub early_discarded: AtomicU64,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    counters: Arc<ServerCounters>,
    status: Arc<crate::status::server::ServerStatusHandle>,
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
        let early_cap = dtls.early_data13.map_or(0, |e| e.max_size as usize);
        // DTLS 1.3 tickets that open after a restart or crash: keys from a kept master secret
        if let (true, Some(dir)) = (dtls.tickets13, &spec.state_dir) {
            dtls.ticket_master = Some(ticket_master::for_start(dir)?);
        }
        let mut endpoint = Endpoint::new(Arc::new(dtls))
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
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
        let (board, status) = crate::status::server::ServerBoard::new(waker.clone());
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
            status: board,
            early: EarlyRoutes {
                policy: spec.early_forward,
                up: EarlyHold::new(early_cap),
                down: EarlyHold::new(EARLY_REPLIES_CAP),
                pending: HashSet::new(),
            },
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
            status,
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

    /// Sessions and counters on request, for the status socket and metrics.
    pub fn status(&self) -> Arc<crate::status::server::ServerStatusHandle> {
        self.status.clone()
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

/// Application data the endpoint opened in place, held until its call returns (its callback
/// cannot reach the loop): the records' bytes back to back and where each ends. Cleared, never
/// freed, so steady state allocates nothing here.
#[derive(Default)]
struct Staged {
    bytes: Vec<u8>,
    records: Vec<(SocketAddr, usize)>,
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
    status: crate::status::server::ServerBoard,
    /// 0-RTT: what reaches the backend before `Connected`, and what waits for it.
    early: EarlyRoutes,
}

/// The server loop's 0-RTT state: the listener's rule, the early data held until its
/// handshake completes (client→backend), and the backend's replies to the requests forwarded
/// at once, held for the same moment (so nothing is sent to a client before it has proved it
/// holds the key: a replay's source address gets no answer).
struct EarlyRoutes {
    policy: EarlyPolicy,
    up: EarlyHold,
    down: EarlyHold,
    /// Peers with early data whose handshake has not completed yet.
    pending: HashSet<SocketAddr>,
}

impl ServerLoop {
    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut batch = RecvBatch::new();
        let mut sends = SendBatch::new();
        // records to clients are sealed into this one buffer (no allocation per record)
        let mut out = vec![0u8; MAX_DATAGRAM];
        let mut staged = Staged::default();
        loop {
            self.flush(&mut sends);
            if self.stop.load(Ordering::SeqCst) {
                self.save();
                self.lookups.stop();
                return Ok(());
            }
            wait_for_events(&mut self.poll, &mut events, self.endpoint.poll_timeout())?;
            for ev in events.iter() {
                match ev.token() {
                    LISTEN => self.read_dtls(&mut batch, &mut sends, &mut staged),
                    WAKE => {}
                    t => self.read_backend(t, &mut batch, &mut sends, &mut out),
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
            self.status
                .answer(&self.endpoint, &self.keys, &self.counters);
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

    /// Datagrams from clients: records are opened in `buf` itself and their data forwarded
    /// to the backends (through `staged`) once the endpoint call returns.
    fn read_dtls(&mut self, batch: &mut RecvBatch, sends: &mut SendBatch, staged: &mut Staged) {
        loop {
            let n = match batch.recv(&self.sock) {
                Ok(n) => n,
                Err(e) => {
                    debug!("server receive error: {e}");
                    return;
                }
            };
            for i in 0..n {
                if let Some((d, Some(from))) = batch.get_mut(i) {
                    self.datagram(from, d, sends, staged);
                }
            }
            // before any backend socket can close (only between batches, in `flush`)
            sent(sends.flush());
            if batch.drained() {
                return;
            }
        }
    }

    /// One datagram from a client: its records are opened in place and their data forwarded
    /// to the backends (through `staged`) once the endpoint call returns.
    fn datagram(
        &mut self,
        from: SocketAddr,
        d: &mut [u8],
        sends: &mut SendBatch,
        staged: &mut Staged,
    ) {
        let Staged { bytes, records } = &mut *staged;
        self.endpoint
            .handle_datagram_in_place(Instant::now(), from, d, |peer, d| {
                bytes.extend_from_slice(d);
                records.push((peer, bytes.len()));
            });
        // the endpoint keeps data behind any event not yet handled, so these come before
        // whatever this datagram queued (a close_notify after them)
        let mut start = 0;
        for &(peer, end) in &staged.records {
            self.forward_to_backend(peer, staged.bytes.get(start..end).unwrap_or(&[]), sends);
            start = end;
        }
        staged.bytes.clear();
        staged.records.clear();
        // A key answered from the cache: remembered so that a wrong key is logged with its
        // identity.
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

    /// Backend replies for one session, a batch per system call: each sealed into `out` and
    /// sent at once.
    fn read_backend(
        &mut self,
        token: Token,
        batch: &mut RecvBatch,
        sends: &mut SendBatch,
        out: &mut [u8],
    ) {
        let Some(peer) = self.tokens.get(&token).copied() else {
            return;
        };
        loop {
            let Some((_, s)) = self.backends.get(&peer) else {
                return;
            };
            let n = match batch.recv(s) {
                Ok(n) => n,
                Err(e) => {
                    debug!("backend receive error for {peer}: {e}");
                    return;
                }
            };
            for i in 0..n {
                let Some((d, _)) = batch.get_mut(i) else {
                    continue;
                };
                self.counters.from_backend.fetch_add(1, Ordering::Relaxed);
                if self.early.pending.contains(&peer) {
                    if !self.early.down.hold(peer, d) {
                        debug!(
                            "{peer}: a backend reply before the handshake completed, over the bound: dropped"
                        );
                    }
                    continue;
                }
                match self.endpoint.send_into(peer, d, out) {
                    Ok(len) => sent(sends.push(self.sock.as_raw_fd(), &out[..len], Some(peer))),
                    Err(e) => warn!("dropped a {}-byte backend reply for {peer}: {e}", d.len()),
                }
            }
            sent(sends.flush());
            if batch.drained() {
                return;
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

    fn flush(&mut self, sends: &mut SendBatch) {
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
            self.status.moved(old, new);
            self.early.moved(&old, new);
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
                        let sni = self.endpoint.peer_info(&peer).and_then(|c| c.sni);
                        self.probe_expiry(peer, &identity, sni.as_deref(), suite);
                    }
                    self.counters.handshakes.fetch_add(1, Ordering::Relaxed);
                    self.session_up(peer);
                    self.status.connected(peer);
                    self.release_early(peer, sends);
                    info!(
                        "{peer}: session up, {} identity \"{}\"{}",
                        suite.name(),
                        escape_for_log(&identity),
                        if resumed { " (resumed)" } else { "" }
                    );
                }
                // 0-RTT is not enabled on the bridge's endpoint (not forwarded before Connected)
                Event::EarlyData(d) => self.early_data(peer, &d, sends),
                Event::Data(d) => {
                    // sent at once: a later event may close this backend's socket
                    self.forward_to_backend(peer, &d, sends);
                    sent(sends.flush());
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
                    self.status.closed(&peer);
                    self.discard_early(&peer);
                }
                // a client's event: the endpoint never reports it
                Event::EarlyDataStatus { .. } => {}
            }
        }
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Err(e) = self.sock.send_to(&t.payload, t.destination) {
                debug!("send to {} failed: {e}", t.destination);
            }
        }
    }

    /// One record from `peer` to its backend.
    fn forward_to_backend(&mut self, peer: SocketAddr, d: &[u8], sends: &mut SendBatch) {
        if self.refused.contains(&peer) {
            return;
        }
        // The first record of a session continued from before a restart: adopted (and
        // dropped when its key has expired).
        if !self.lifecycle.contains(peer) && !self.adopt(peer) {
            return;
        }
        self.lifecycle.activity(peer, Instant::now());
        self.counters.to_backend.fetch_add(1, Ordering::Relaxed);
        match self.backend_for(peer) {
            Ok(s) => sent(sends.push(s.as_raw_fd(), d, None)),
            Err(e) => warn!(
                "dropped a {}-byte datagram from {peer}: backend: {e}",
                d.len()
            ),
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
}

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

/// Logs what a batch could not send (a lost datagram, to the peers' retransmissions).
fn sent(result: Result<(), SendFailure>) {
    if let Err(f) = result {
        debug!("server: {} datagram(s) not sent: {}", f.dropped, f.error);
    }
}
