//! The gateway: each route listens on a local UDP address and carries what arrives over one
//! long-lived upstream DTLS session ([`crate::upstream`]); replies go back to the local sender.
//!
//! I/O uses `mio` (readiness polling over non-blocking sockets, no async runtime): a route has up
//! to three sockets (local, and one per upstream path for make-before-break) and a waker for the
//! key service, which std alone cannot wait on together.

use super::batch::{RecvBatch, SendBatch, SendFailure};
use super::event_wait::{TICK, wait_for_events};
use super::keyservice::{KeyReply, KeyRequest, ReplyTo};
use super::peers::PeerMap;
use crate::upstream::{
    Action, KeyError, KeySource, Now, PathId, SessionConfig, SessionMetrics, UpstreamSession,
};
use log::{debug, info, warn};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

const LOCAL: Token = Token(0);
const WAKE: Token = Token(1);
const PATH_BASE: usize = 10;
/// Largest datagram we read.
const MAX_DATAGRAM: usize = 65_535;
/// One route: a local listener and its upstream server.
pub struct RouteSpec {
    /// Name shown in logs and metrics (the upstream as configured).
    pub name: String,
    /// Local UDP address to listen on.
    pub listen: SocketAddr,
    /// Upstream DTLS server.
    pub upstream: SocketAddr,
    /// Where the PSK comes from.
    pub keys: KeySource,
    /// Session policy.
    pub session: SessionConfig,
    /// Where the route keeps its session across restarts (`None`: nowhere).
    pub state: Option<super::route_state::RouteState>,
}

/// New settings for a running route (a configuration reload): used from its next handshake.
pub struct RouteUpdate {
    /// Session policy.
    pub session: SessionConfig,
    /// Where the PSK comes from.
    pub keys: KeySource,
}

/// A running route.
pub struct Route {
    name: String,
    local: SocketAddr,
    updates: Sender<RouteUpdate>,
    metrics: Arc<Mutex<SessionMetrics>>,
    established: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Route {
    /// The route's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The bound local address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
    /// Metrics as last published by the route.
    pub fn metrics(&self) -> SessionMetrics {
        self.metrics.lock().map(|m| m.clone()).unwrap_or_default()
    }
    /// Whether the upstream session is up.
    pub fn is_established(&self) -> bool {
        self.established.load(Ordering::Relaxed)
    }
    /// Hands the route new settings; false when its thread has ended.
    pub fn update(&self, u: RouteUpdate) -> bool {
        let sent = self.updates.send(u).is_ok();
        let _ = self.waker.wake();
        sent
    }
}

/// The gateway: all routes.
pub struct Gateway {
    routes: Vec<Route>,
    stop: Arc<AtomicBool>,
    board: Arc<crate::status::gateway::GatewayBoard>,
}

impl Gateway {
    /// Binds every route's local socket and starts its thread. `keys` is the key service for GBA
    /// routes (required when any route uses GBA).
    pub fn start(
        specs: Vec<RouteSpec>,
        keys: Option<Sender<(KeyRequest, ReplyTo)>>,
    ) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let board = crate::status::gateway::GatewayBoard::new();
        let mut routes = Vec::new();
        for spec in specs {
            if matches!(spec.keys, KeySource::Gba { .. }) && keys.is_none() {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    format!("route {}: GBA needs a card and a BSF", spec.name),
                ));
            }
            let poll = Poll::new()?;
            let mut local = bind_listener(&spec.name, spec.listen)?;
            poll.registry()
                .register(&mut local, LOCAL, Interest::READABLE)?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
            board.register(waker.clone());
            let local_addr = local.local_addr()?;
            let metrics = Arc::new(Mutex::new(SessionMetrics::default()));
            let established = Arc::new(AtomicBool::new(false));
            let (updates, updates_rx) = mpsc::channel();
            let ctx = RouteLoop {
                updates: updates_rx,
                name: spec.name.clone(),
                upstream: spec.upstream,
                poll,
                local,
                paths: [None, None],
                waker: waker.clone(),
                session: UpstreamSession::new(spec.session, spec.keys),
                peers: PeerMap::new(seed_from(local_addr)),
                out: vec![0u8; MAX_DATAGRAM],
                keys: keys.clone(),
                state: spec.state,
                saved_version: 0,
                metrics: metrics.clone(),
                established: established.clone(),
                stop: stop.clone(),
                board: board.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("route {}", spec.name))
                .spawn(move || ctx.run())?;
            info!(
                "route {}: listening on {local_addr}, upstream {}",
                spec.name, spec.upstream
            );
            routes.push(Route {
                name: spec.name,
                local: local_addr,
                updates,
                metrics,
                established,
                waker,
                thread: Some(thread),
            });
        }
        Ok(Self {
            routes,
            stop,
            board,
        })
    }

    /// The status board (sessions, bootstraps) the status socket and metrics read.
    pub fn status(&self) -> Arc<crate::status::gateway::GatewayBoard> {
        self.board.clone()
    }

    /// The routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Closes every session (close_notify) and stops the threads; returns the final metrics.
    pub fn shutdown(mut self) -> Vec<(String, SessionMetrics)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut out = Vec::new();
        for r in &mut self.routes {
            let _ = r.waker.wake();
            if let Some(t) = r.thread.take() {
                match t.join() {
                    Ok(Err(e)) => warn!("route {} ended with an error: {e}", r.name),
                    Err(_) => warn!("route {} thread panicked", r.name),
                    Ok(Ok(())) => {}
                }
            }
            out.push((r.name.clone(), r.metrics()));
        }
        out
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for r in &mut self.routes {
            let _ = r.waker.wake();
            if let Some(t) = r.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// A route's local socket; the error names the route and the address.
pub(crate) fn bind_listener(route: &str, listen: SocketAddr) -> io::Result<UdpSocket> {
    UdpSocket::bind(listen).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("route {route}: cannot listen on {listen}: {e}"),
        )
    })
}

fn seed_from(a: SocketAddr) -> u16 {
    // Start message IDs somewhere else than 0 (RFC 7252 §4.4: randomised initial MID).
    let mut b = [0u8; 2];
    if getrandom::fill(&mut b).is_err() {
        return a.port().rotate_left(7);
    }
    u16::from_be_bytes(b)
}

struct RouteLoop {
    updates: Receiver<RouteUpdate>,
    name: String,
    upstream: SocketAddr,
    poll: Poll,
    local: UdpSocket,
    paths: [Option<UdpSocket>; 2],
    waker: Arc<Waker>,
    session: UpstreamSession,
    peers: PeerMap,
    /// Sealed datagrams and replies on their way to a local peer: reused, so a steady data
    /// flow allocates nothing.
    out: Vec<u8>,
    keys: Option<Sender<(KeyRequest, ReplyTo)>>,
    state: Option<super::route_state::RouteState>,
    saved_version: u64,
    metrics: Arc<Mutex<SessionMetrics>>,
    established: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    board: Arc<crate::status::gateway::GatewayBoard>,
}

impl RouteLoop {
    fn run(mut self) -> io::Result<()> {
        let (reply_tx, reply_rx) = mpsc::channel::<KeyReply>();
        let mut events = Events::with_capacity(64);
        let mut batch = RecvBatch::new();
        let mut sends = SendBatch::new();
        let restored = match &self.state {
            Some(st) => st.restore(&self.name, &mut self.session, Now::system()),
            None => false,
        };
        if !restored {
            self.session.connect(Now::system());
        }
        self.saved_version = self.session.resumable().0;
        let mut last_publish = Instant::now();
        loop {
            self.flush(&reply_tx, &mut sends)?;
            if self.stop.load(Ordering::SeqCst) {
                if let Some(st) = &self.state {
                    // Keep the session for the next start; closing it would end it at the server.
                    st.save_session(&self.name, &self.session);
                    st.save_export(&self.name, &mut self.session);
                    self.publish();
                    return Ok(());
                }
                self.session.close();
                self.flush(&reply_tx, &mut sends)?;
                self.publish();
                return Ok(());
            }
            wait_for_events(&mut self.poll, &mut events, self.session.poll_timeout())?;
            for ev in events.iter() {
                match ev.token() {
                    LOCAL => self.read_local(&mut batch, &mut sends),
                    WAKE => {}
                    Token(t) if t >= PATH_BASE => {
                        self.read_path(t - PATH_BASE, &mut batch, &mut sends)
                    }
                    Token(_) => {}
                }
            }
            let now = Now::system();
            while let Ok(u) = self.updates.try_recv() {
                let new_key = self.session.reconfigure(now, u.session, u.keys);
                info!(
                    "route {}: new settings{}; the established session carries on",
                    self.name,
                    if new_key {
                        " and a new key, used from the next handshake"
                    } else {
                        ", used from the next handshake"
                    }
                );
            }
            while let Ok(reply) = reply_rx.try_recv() {
                match reply {
                    KeyReply::Bootstrap(r) => self.session.bootstrap_done(now, r),
                    KeyReply::NafKey(r) => self.session.provide_naf_key(now, r),
                }
            }
            self.session.handle_timeout(now);
            if last_publish.elapsed() >= TICK || self.board.wants(&self.name) {
                self.publish();
                last_publish = Instant::now();
            }
        }
    }

    fn publish(&mut self) {
        let version = self.session.resumable().0;
        if version != self.saved_version {
            self.saved_version = version;
            if let Some(st) = &self.state {
                st.save_session(&self.name, &self.session);
            }
        }
        if let Ok(mut m) = self.metrics.lock() {
            *m = self.session.metrics();
        }
        self.established
            .store(self.session.is_established(), Ordering::Relaxed);
        self.board.publish(&self.name, self.upstream, &self.session);
    }

    /// Local datagrams, a batch per system call: each sealed into `self.out` and queued for
    /// upstream in `sends`, which goes out with one system call per batch.
    fn read_local(&mut self, batch: &mut RecvBatch, sends: &mut SendBatch) {
        loop {
            let n = match batch.recv(&self.local) {
                Ok(n) => n,
                Err(e) => {
                    debug!("route {}: local receive error: {e}", self.name);
                    return;
                }
            };
            for i in 0..n {
                let Some((up, Some(from))) = batch.get_mut(i) else {
                    continue;
                };
                let now = Now::system();
                self.peers.outgoing_in_place(now.mono, from, up);
                let mut out = std::mem::take(&mut self.out);
                if let Some((path, len)) = self.session.send_into(now, up, &mut out) {
                    self.queue_upstream(sends, path, &out[..len]);
                }
                self.out = out;
            }
            self.sent(sends.flush());
            if batch.drained() {
                return;
            }
        }
    }

    /// Queues a datagram for upstream path `path` (its socket opened on first use).
    fn queue_upstream(&mut self, sends: &mut SendBatch, path: PathId, datagram: &[u8]) {
        let pushed = match self.path_socket(path) {
            Ok(s) => sends.push(s.as_raw_fd(), datagram, None),
            Err(e) => {
                debug!("route {}: upstream send on {path:?} failed: {e}", self.name);
                return;
            }
        };
        self.sent(pushed);
    }

    /// Logs what a batch could not send (the timers and the peers' own retransmissions
    /// recover, as from a lost datagram).
    fn sent(&self, result: Result<(), SendFailure>) {
        if let Err(f) = result {
            debug!(
                "route {}: {} datagram(s) not sent: {}",
                self.name, f.dropped, f.error
            );
        }
    }

    /// Datagrams from the server on path `i`, a batch per system call: records opened in place
    /// and their data replied to the local peers at once.
    fn read_path(&mut self, i: usize, batch: &mut RecvBatch, sends: &mut SendBatch) {
        loop {
            let Some(sock) = self.paths.get(i).and_then(|p| p.as_ref()) else {
                return;
            };
            let n = match batch.recv(sock) {
                Ok(n) => n,
                Err(e) => {
                    // ICMP errors (port unreachable) surface here; the session names them in
                    // its log and its timers handle them.
                    self.session.upstream_error(PathId(i as u8), &e);
                    debug!(
                        "route {}: upstream receive error on path {i}: {e}",
                        self.name
                    );
                    return;
                }
            };
            for k in 0..n {
                let Some((datagram, _)) = batch.get_mut(k) else {
                    continue;
                };
                let now = Now::system();
                let (peers, local, out, name) =
                    (&mut self.peers, &self.local, &mut self.out, &self.name);
                self.session
                    .handle_datagram_in_place(now, PathId(i as u8), datagram, |d| {
                        reply_locally(peers, local, sends, out, name, now.mono, d);
                    });
            }
            self.sent(sends.flush());
            if batch.drained() {
                return;
            }
        }
    }

    fn path_socket(&mut self, path: PathId) -> io::Result<&UdpSocket> {
        let i = usize::from(path.0).min(1);
        if self.paths[i].is_none() {
            let bind: SocketAddr = if self.upstream.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            let mut s = UdpSocket::bind(bind)?;
            s.connect(self.upstream)?;
            self.poll
                .registry()
                .register(&mut s, Token(PATH_BASE + i), Interest::READABLE)?;
            debug!("route {}: path {i} uses {}", self.name, s.local_addr()?);
            self.paths[i] = Some(s);
        }
        self.paths[i]
            .as_ref()
            .ok_or_else(|| io::Error::other("path socket missing"))
    }

    /// Sends what the session produced, hands actions to the key service and replies to local peers.
    fn flush(&mut self, reply_tx: &Sender<KeyReply>, sends: &mut SendBatch) -> io::Result<()> {
        while let Some(action) = self.session.poll_action() {
            let req = match action {
                Action::Bootstrap { force } => KeyRequest::Bootstrap { force },
                Action::DeriveNafKey { naf_id } => KeyRequest::DeriveNafKey { naf_id },
            };
            let reply = ReplyTo {
                tx: reply_tx.clone(),
                waker: self.waker.clone(),
            };
            match &self.keys {
                Some(k) if k.send((req, reply)).is_ok() => {}
                _ => {
                    let now = Now::system();
                    self.session.bootstrap_done(now, Err(KeyError::NotRunning));
                }
            }
        }
        let mut out = std::mem::take(&mut self.out);
        while let Some((path, len)) = self.session.poll_transmit_into(&mut out) {
            self.queue_upstream(sends, path, &out[..len]);
        }
        let now = Instant::now();
        while let Some(d) = self.session.poll_received() {
            reply_locally(
                &mut self.peers,
                &self.local,
                sends,
                &mut out,
                &self.name,
                now,
                &d,
            );
        }
        self.out = out;
        self.sent(sends.flush());
        Ok(())
    }
}

/// Queues a reply from upstream for the local peer it belongs to (message ID and token
/// restored in `scratch`, which must hold any datagram).
fn reply_locally(
    peers: &mut PeerMap,
    local: &UdpSocket,
    sends: &mut SendBatch,
    scratch: &mut [u8],
    route: &str,
    now: Instant,
    reply: &[u8],
) {
    let Some(d) = scratch.get_mut(..reply.len()) else {
        warn!(
            "route {route}: dropped a {}-byte reply: too long",
            reply.len()
        );
        return;
    };
    d.copy_from_slice(reply);
    match peers.incoming_in_place(now, d) {
        Some(peer) => {
            if let Err(f) = sends.push(local.as_raw_fd(), d, Some(peer)) {
                debug!(
                    "route {route}: {} datagram(s) not sent: {}",
                    f.dropped, f.error
                );
            }
        }
        None => warn!(
            "route {route}: dropped a {}-byte reply: no local peer to send it to",
            reply.len()
        ),
    }
}
