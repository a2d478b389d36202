//! An OSCORE route of the gateway: a local UDP listener whose CoAP requests go to the server
//! protected with OSCORE under a context established from the card's GBA key, with no DTLS at
//! all. The I/O loop around [`super::establish`] and [`super::relay`].
//!
//! The context is saved in the state directory and used again after a restart (no new
//! establishment, no AKA); a new one is established only when the GBA key comes close to its
//! expiry, while the old one keeps carrying traffic until the new one is in (make-before-break).
//! A NAT rebinding needs nothing: OSCORE does not care about addresses.

use super::establish::{EstablishParams, Establishment, Timer};
use super::relay::{Out, Relay, RelayError};
use super::store::{Role, StoredContext, fresh_context};
use crate::bridge::event_wait::wait_for_events;
use crate::bridge::keyservice::{KeyReply, KeyRequest, ReplyTo};
use crate::gba::oscore::Choices;
use crate::gba::{BootstrapContext, GbaMode, NafId};
use crate::secret::Secret;
use crate::upstream::KeyError;
use log::{debug, info, warn};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use simbridge_oscore::Error as OscoreError;
use simbridge_oscore::context::SecurityContext;
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

const LOCAL: Token = Token(0);
const UP: Token = Token(1);
const WAKE: Token = Token(2);
const MAX_DATAGRAM: usize = 65_535;
/// Local datagrams held while no context is up yet.
const MAX_QUEUED: usize = 64;
/// First wait after a failed establishment or key request; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// At most one new establishment a minute because the server said it has no context for us
/// (an unprotected 4.01 can be forged by anyone on the path).
const LOST_CONTEXT_HOLDOFF: Duration = Duration::from_secs(60);

/// One OSCORE route.
#[derive(Debug, Clone)]
pub struct OscoreRouteSpec {
    /// Name in logs (the upstream as configured).
    pub name: String,
    /// Local UDP address for the plain CoAP clients.
    pub listen: SocketAddr,
    /// The server.
    pub upstream: SocketAddr,
    /// The NAF FQDN of the server (for NAF_Id).
    pub naf_fqdn: String,
    /// The establishment choices (Ua id, label, nonce length, resource path).
    pub choices: Choices,
    /// Where the context is kept across restarts (`None`: nowhere, a new one every start).
    pub state_dir: Option<PathBuf>,
    /// Sequence numbers written ahead per store (RFC 8613 Appendix B.1.1's K).
    pub seq_step: u64,
    /// How long before the GBA key's expiry a new context is established.
    pub renew_before: Duration,
}

impl OscoreRouteSpec {
    /// The context file of a route in `dir`.
    pub fn context_file(dir: &std::path::Path, name: &str) -> PathBuf {
        dir.join(format!(
            "oscore-{}.json",
            crate::fsutil::safe_file_stem(name)
        ))
    }
}

/// What an OSCORE route did (bytes as on the wire, UDP payloads).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OscoreMetrics {
    /// GBA bootstraps the route asked for that ran AKA.
    pub bootstraps: u64,
    /// Establishments completed.
    pub establishments: u64,
    /// Bytes of establishment datagrams sent (retransmissions included).
    pub establishment_bytes_sent: u64,
    /// Bytes of establishment datagrams received.
    pub establishment_bytes_received: u64,
    /// Protected requests sent.
    pub messages_sent: u64,
    /// Protected answers delivered to local clients.
    pub messages_received: u64,
    /// Bytes of protected datagrams sent.
    pub bytes_sent: u64,
    /// Bytes of protected datagrams received and delivered.
    pub bytes_received: u64,
    /// Bytes the local clients sent (plain CoAP) for those requests.
    pub plain_bytes_sent: u64,
    /// Bytes delivered to local clients (plain CoAP).
    pub plain_bytes_received: u64,
    /// Datagrams dropped (not CoAP, no context, refused by OSCORE).
    pub dropped: u64,
    /// Whether the context came from the state directory at start.
    pub restored: bool,
    /// Sequence-number stores written.
    pub seq_stores: u64,
}

impl OscoreMetrics {
    /// Everything sent and received for this route.
    pub fn bytes_on_air(&self) -> u64 {
        self.establishment_bytes_sent
            + self.establishment_bytes_received
            + self.bytes_sent
            + self.bytes_received
    }
}

/// A running OSCORE route.
pub struct OscoreRoute {
    name: String,
    local: SocketAddr,
    metrics: Arc<Mutex<OscoreMetrics>>,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl OscoreRoute {
    /// Binds the local socket and starts the route; `keys` is the gateway's key service.
    pub fn start(spec: OscoreRouteSpec, keys: Sender<(KeyRequest, ReplyTo)>) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut local = crate::bridge::gateway::bind_listener(&spec.name, spec.listen)?;
        let mut up = super::connected_socket(spec.upstream)?;
        poll.registry()
            .register(&mut local, LOCAL, Interest::READABLE)?;
        poll.registry().register(&mut up, UP, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let local_addr = local.local_addr()?;
        let metrics = Arc::new(Mutex::new(OscoreMetrics::default()));
        let ready = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let name = spec.name.clone();
        let lp = RouteLoop {
            spec,
            poll,
            local,
            up,
            waker: waker.clone(),
            keys,
            metrics: metrics.clone(),
            ready: ready.clone(),
            stop: stop.clone(),
            active: None,
            phase: Phase::Idle,
            relay: Relay::new(random_u16()),
            queue: VecDeque::new(),
            retry_at: None,
            backoff: FIRST_BACKOFF,
            lost_context_at: None,
            server_lost: false,
            m: OscoreMetrics::default(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("oscore route {name}"))
            .spawn(move || lp.run())?;
        info!("route {name}: OSCORE, listening on {local_addr}");
        Ok(Self {
            name,
            local: local_addr,
            metrics,
            ready,
            stop,
            waker,
            thread: Some(thread),
        })
    }

    /// The route's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bound local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether a context is up.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The metrics as last published.
    pub fn metrics(&self) -> OscoreMetrics {
        self.metrics.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Stops the route and returns its final metrics.
    pub fn shutdown(mut self) -> OscoreMetrics {
        self.halt();
        self.metrics()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Err(e)) => warn!("route {} ended with an error: {e}", self.name),
                Err(_) => warn!("route {} thread panicked", self.name),
                Ok(Ok(())) => {}
            }
        }
    }
}

impl Drop for OscoreRoute {
    fn drop(&mut self) {
        self.halt();
    }
}

fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    u16::from_be_bytes(b)
}

/// The context in use.
struct Active {
    ctx: SecurityContext,
    record: StoredContext,
    /// When a new context is to be established beside this one.
    renew_at: SystemTime,
}

/// When to establish the next context: `renew_before` ahead of the key's expiry, or halfway
/// through what is left when that would be now already (as the DTLS session policy does), so a
/// BSF lifetime shorter than `renew_before` cannot make the route establish in a loop.
fn renew_at(expires: SystemTime, renew_before: Duration) -> SystemTime {
    let left = expires
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    if renew_before < left {
        expires - renew_before
    } else {
        expires - left / 2
    }
}

/// Where getting a (new) context stands.
enum Phase {
    Idle,
    WaitBootstrap,
    WaitNafKey(BootstrapContext),
    Establishing {
        est: Establishment,
        btid: String,
        expires: SystemTime,
    },
}

struct RouteLoop {
    spec: OscoreRouteSpec,
    poll: Poll,
    local: UdpSocket,
    up: UdpSocket,
    waker: Arc<Waker>,
    keys: Sender<(KeyRequest, ReplyTo)>,
    metrics: Arc<Mutex<OscoreMetrics>>,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    active: Option<Active>,
    phase: Phase,
    relay: Relay,
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    retry_at: Option<Instant>,
    backoff: Duration,
    lost_context_at: Option<Instant>,
    /// The next establishment is because the server lost our context (no new bootstrap).
    server_lost: bool,
    m: OscoreMetrics,
}

impl RouteLoop {
    fn run(mut self) -> io::Result<()> {
        let (reply_tx, reply_rx) = mpsc::channel::<KeyReply>();
        self.restore();
        let mut events = Events::with_capacity(16);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while !self.stop.load(Ordering::SeqCst) {
            self.maybe_start(&reply_tx, Instant::now());
            let deadline = self.deadline();
            wait_for_events(&mut self.poll, &mut events, deadline)?;
            let now = Instant::now();
            while let Ok(r) = reply_rx.try_recv() {
                self.on_key_reply(r, &reply_tx, now);
            }
            self.on_timer(now);
            loop {
                match self.up.recv(&mut buf) {
                    Ok(n) => self.on_upstream(&buf[..n], now),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        debug!("route {}: upstream: {e}", self.spec.name);
                        break;
                    }
                }
            }
            loop {
                match self.local.recv_from(&mut buf) {
                    Ok((n, from)) => self.on_local(from, buf[..n].to_vec(), now),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        debug!("route {}: local: {e}", self.spec.name);
                        break;
                    }
                }
            }
            self.publish();
        }
        self.publish();
        Ok(())
    }

    fn file(&self) -> Option<PathBuf> {
        self.spec
            .state_dir
            .as_deref()
            .map(|d| OscoreRouteSpec::context_file(d, &self.spec.name))
    }

    /// Takes up the context the last run saved, if its key is still good.
    fn restore(&mut self) {
        let Some(path) = self.file() else { return };
        let name = &self.spec.name;
        let rec = match StoredContext::load(&path) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                warn!("route {name}: {e}; a new context will be established");
                return;
            }
        };
        let expires = match rec.expires() {
            Ok(t) if t > SystemTime::now() => t,
            _ => {
                info!("route {name}: the saved OSCORE context's GBA key has expired");
                return;
            }
        };
        match rec.resume(self.spec.seq_step) {
            Ok(ctx) => {
                info!(
                    "route {name}: continuing the OSCORE context from before the restart (B-TID {}, no establishment)",
                    rec.btid
                );
                self.m.restored = true;
                self.active = Some(Active {
                    ctx,
                    record: rec,
                    renew_at: renew_at(expires, self.spec.renew_before),
                });
                self.ready.store(true, Ordering::Relaxed);
            }
            Err(e) => warn!("route {name}: saved OSCORE context unusable: {e}"),
        }
    }

    /// Starts getting a context when there is none or the key nears its expiry.
    fn maybe_start(&mut self, reply_tx: &Sender<KeyReply>, now: Instant) {
        if !matches!(self.phase, Phase::Idle) || self.retry_at.is_some_and(|t| now < t) {
            return;
        }
        let needed = match &self.active {
            None => true,
            Some(a) => SystemTime::now() >= a.renew_at,
        };
        if !needed {
            return;
        }
        self.retry_at = None;
        // Renewing before expiry: a new bootstrap, hence a new Ks (the cached one is what we
        // have). After the server lost our context the key is still good.
        let force = self.active.is_some() && !std::mem::take(&mut self.server_lost);
        if force {
            info!(
                "route {}: the GBA key nears its expiry: a new bootstrap and OSCORE context (make-before-break)",
                self.spec.name
            );
        }
        self.ask(KeyRequest::Bootstrap { force }, reply_tx);
        self.phase = Phase::WaitBootstrap;
    }

    fn ask(&self, req: KeyRequest, reply_tx: &Sender<KeyReply>) {
        let to = ReplyTo {
            tx: reply_tx.clone(),
            waker: self.waker.clone(),
        };
        if self.keys.send((req, to)).is_err() {
            // Answered by the failure path at the next key reply check.
            let _ = reply_tx.send(KeyReply::Bootstrap(Err(KeyError::NotRunning)));
        }
    }

    fn naf_id(&self) -> Result<NafId, crate::gba::GbaError> {
        NafId::new(&self.spec.naf_fqdn, self.spec.choices.ua_id)
    }

    fn on_key_reply(&mut self, r: KeyReply, reply_tx: &Sender<KeyReply>, now: Instant) {
        let name = self.spec.name.clone();
        match (r, std::mem::replace(&mut self.phase, Phase::Idle)) {
            (KeyReply::Bootstrap(Ok((boot, ran))), Phase::WaitBootstrap) => {
                if ran {
                    self.m.bootstraps += 1;
                }
                let naf = match self.naf_id() {
                    Ok(n) => n,
                    Err(e) => return self.failed(&format!("NAF_Id: {e}"), now),
                };
                match boot.mode {
                    GbaMode::Me => match boot.naf_key(None, &naf) {
                        Ok(k) => self.establish(&boot, &k, now),
                        Err(e) => self.failed(&format!("Ks_NAF: {e}"), now),
                    },
                    GbaMode::U => {
                        self.ask(KeyRequest::DeriveNafKey { naf_id: naf }, reply_tx);
                        self.phase = Phase::WaitNafKey(boot);
                    }
                }
            }
            (KeyReply::NafKey(Ok(k)), Phase::WaitNafKey(boot)) => self.establish(&boot, &k, now),
            (KeyReply::Bootstrap(Err(e)) | KeyReply::NafKey(Err(e)), _) => self.failed(
                &format!("no GBA key: {}", crate::error_chain::chain(&e)),
                now,
            ),
            (_, other) => {
                debug!("route {name}: a key answer for no request; ignored");
                self.phase = other;
            }
        }
    }

    fn establish(&mut self, boot: &BootstrapContext, ks_naf: &Secret<32>, now: Instant) {
        let c = &self.spec.choices;
        let mut rnd = vec![0u8; c.nonce_len + 3];
        if let Err(e) = getrandom::fill(&mut rnd) {
            return self.failed(&format!("random generator: {e}"), now);
        }
        let (n1, rest) = rnd.split_at(c.nonce_len);
        let est = Establishment::start(
            &EstablishParams {
                btid: &boot.btid,
                ks_naf: ks_naf.expose(),
                n1,
                mid: u16::from_be_bytes([rest[0], rest[1]]),
                token: &rest[..2],
                naf_sender_id: &[],
            },
            c,
            f64::from(rest[2]) / 256.0,
            now,
        );
        info!(
            "route {}: establishing an OSCORE context with {} (B-TID {})",
            self.spec.name, self.spec.upstream, boot.btid
        );
        self.send_up_establishment(est.datagram().to_vec());
        self.phase = Phase::Establishing {
            est,
            btid: boot.btid.clone(),
            expires: boot.expires,
        };
    }

    fn send_up_establishment(&mut self, d: Vec<u8>) {
        self.m.establishment_bytes_sent += d.len() as u64;
        if let Err(e) = self.up.send(&d) {
            debug!("route {}: send: {e}", self.spec.name);
        }
    }

    fn failed(&mut self, why: &str, now: Instant) {
        warn!(
            "route {}: no OSCORE context: {why}; trying again in {} s",
            self.spec.name,
            self.backoff.as_secs()
        );
        self.phase = Phase::Idle;
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Establishing { est, .. } => Some(est.deadline()),
            _ => self.retry_at,
        }
    }

    fn on_timer(&mut self, now: Instant) {
        let Phase::Establishing { est, .. } = &mut self.phase else {
            return;
        };
        match est.on_timer(now) {
            Ok(Timer::Wait(_)) => {}
            Ok(Timer::Resend(d)) => self.send_up_establishment(d),
            Err(e) => self.failed(&e.to_string(), now),
        }
    }

    fn on_upstream(&mut self, d: &[u8], now: Instant) {
        self.on_upstream_once(d, now, false);
    }

    fn on_upstream_once(&mut self, d: &[u8], now: Instant, retried: bool) {
        if let Phase::Establishing { est, .. } = &mut self.phase {
            match est.on_datagram(d, now) {
                Ok(None) => {}
                Ok(Some(done)) => {
                    self.m.establishment_bytes_received += d.len() as u64;
                    if let Some(ack) = &done.ack {
                        self.send_up_establishment(ack.clone());
                    }
                    let Phase::Establishing { btid, expires, .. } =
                        std::mem::replace(&mut self.phase, Phase::Idle)
                    else {
                        return;
                    };
                    return self.established(done.keying, &btid, expires, now);
                }
                Err(e) => {
                    self.m.establishment_bytes_received += d.len() as u64;
                    return self.failed(&e.to_string(), now);
                }
            }
        }
        let Some(a) = self.active.as_mut() else {
            self.m.dropped += 1;
            return;
        };
        let r = self.relay.from_upstream(&mut a.ctx, d, now);
        match r {
            Ok(Out::Local(to, plain)) => {
                self.m.messages_received += 1;
                self.m.bytes_received += d.len() as u64;
                self.m.plain_bytes_received += plain.len() as u64;
                if let Err(e) = self.local.send_to(&plain, to) {
                    debug!("route {}: to {to}: {e}", self.spec.name);
                }
            }
            Ok(Out::Upstream(again)) => {
                // The server's Echo challenge, answered with the request repeated.
                self.m.bytes_received += d.len() as u64;
                self.send_up(again);
            }
            Err(RelayError::Oscore(OscoreError::NeedsStore(v))) => {
                // Only the Echo repetition protects here: store, then take the challenge again.
                if self.store_seq(v) && !retried {
                    self.on_upstream_once(d, now, true);
                } else {
                    self.m.dropped += 1;
                }
            }
            Err(e @ RelayError::Unprotected { .. }) => {
                self.m.dropped += 1;
                self.server_lost_context(&e, now);
            }
            Err(e) => {
                self.m.dropped += 1;
                debug!("route {}: answer dropped: {e}", self.spec.name);
            }
        }
    }

    /// The server answered without protection: it has no context for us (lost state, or its
    /// key expired). A new establishment, at most once per holdoff.
    fn server_lost_context(&mut self, e: &RelayError, now: Instant) {
        warn!("route {}: {e}", self.spec.name);
        if !matches!(self.phase, Phase::Idle)
            || self
                .lost_context_at
                .is_some_and(|t| now.saturating_duration_since(t) < LOST_CONTEXT_HOLDOFF)
        {
            return;
        }
        self.lost_context_at = Some(now);
        if let Some(a) = &mut self.active {
            a.renew_at = SystemTime::now();
            self.server_lost = true;
        }
        self.retry_at = None;
    }

    fn established(
        &mut self,
        keying: crate::gba::oscore::OscoreKeying,
        btid: &str,
        expires: SystemTime,
        now: Instant,
    ) {
        let name = self.spec.name.clone();
        let ctx = match fresh_context(&keying, self.spec.seq_step) {
            Ok(c) => c,
            Err(e) => return self.failed(&e, now),
        };
        let record = StoredContext::new(Role::Gateway, btid, expires, &keying);
        if let Some(path) = self.file() {
            if let Err(e) = record.save(&path) {
                // Without the file a restart establishes anew: still safe (a new context).
                warn!("route {name}: cannot save the OSCORE context: {e}");
            }
        }
        info!(
            "route {name}: OSCORE context established (sender ID {}, recipient ID {})",
            hex::encode(&keying.sender_id),
            hex::encode(&keying.recipient_id)
        );
        self.m.establishments += 1;
        self.backoff = FIRST_BACKOFF;
        self.retry_at = None;
        self.active = Some(Active {
            ctx,
            record,
            renew_at: renew_at(expires, self.spec.renew_before),
        });
        self.ready.store(true, Ordering::Relaxed);
        let queued: Vec<_> = self.queue.drain(..).collect();
        for (from, d) in queued {
            self.on_local(from, d, now);
        }
    }

    fn on_local(&mut self, from: SocketAddr, d: Vec<u8>, now: Instant) {
        if self.active.is_none() {
            if self.queue.len() >= MAX_QUEUED {
                self.queue.pop_front();
                self.m.dropped += 1;
            }
            self.queue.push_back((from, d));
            return;
        }
        // At most one store per message: a NeedsStore answer consumed nothing.
        for _ in 0..2 {
            let Some(a) = self.active.as_mut() else {
                return;
            };
            match self.relay.from_local(&mut a.ctx, from, &d, now) {
                Ok(Out::Upstream(w)) => {
                    self.m.messages_sent += 1;
                    self.m.plain_bytes_sent += d.len() as u64;
                    return self.send_up(w);
                }
                Ok(Out::Local(..)) => return,
                Err(RelayError::Oscore(OscoreError::NeedsStore(v))) => {
                    if !self.store_seq(v) {
                        break;
                    }
                }
                Err(e) => {
                    debug!("route {}: from {from}: dropped: {e}", self.spec.name);
                    break;
                }
            }
        }
        self.m.dropped += 1;
    }

    /// Writes the sequence number ahead (RFC 8613 Appendix B.1.1) before it may be used.
    /// Without a state directory the number is "stored" in memory: the context then dies with
    /// the process and is never resumed.
    fn store_seq(&mut self, v: u64) -> bool {
        let path = self.file();
        let Some(a) = self.active.as_mut() else {
            return false;
        };
        a.record.seq_stored = Some(v);
        if let Some(p) = path {
            if let Err(e) = a.record.save(&p) {
                warn!(
                    "route {}: cannot store the OSCORE sequence number: {e}; message dropped",
                    self.spec.name
                );
                return false;
            }
        }
        a.ctx.sender_seq_mut().stored(v);
        self.m.seq_stores += 1;
        true
    }

    fn send_up(&mut self, w: Vec<u8>) {
        self.m.bytes_sent += w.len() as u64;
        if let Err(e) = self.up.send(&w) {
            debug!("route {}: send: {e}", self.spec.name);
        }
    }

    fn publish(&self) {
        if let Ok(mut m) = self.metrics.lock() {
            *m = self.m.clone();
        }
    }
}
