//! The server side of OSCORE: one UDP socket where gateways establish contexts (the
//! establishment resource of [`crate::gba::oscore`], keys from the BSF key API through the same
//! bounded [`KeyLookups`] the DTLS server uses) and send OSCORE requests; each context's plain
//! CoAP goes to the backend through a socket of its own, so answers map back to it.
//!
//! What RFC 8613 asks of a server and where it is done here:
//! - Errors before verification (§8.2) go back unprotected: 4.01 "Security context not found",
//!   4.00 "Decryption failed", 4.01 "Replay detected", 4.02 for a malformed OSCORE option;
//!   for confirmable requests only (a NON is dropped silently).
//! - Answers are protected with the request's nonce, notifications (Observe) with a partial IV
//!   of their own (§4.1.3.5).
//! - Contexts are saved with the sequence number written ahead (Appendix B.1.1); after a
//!   restart the replay window is unknown, and the first request of each context is answered
//!   with an Echo challenge (RFC 9175, Appendix B.1.2) before anything reaches the backend.
//! - A context lives as long as the GBA key it came from; at most two per B-TID (the old one
//!   and the one a gateway establishes before the key expires), at most `max_contexts` in all
//!   (least recently used first out).

use super::relay::escape;
use super::store::{Role, StoredContext, fresh_context};
use crate::bridge::event_wait::wait_for_events;
use crate::bridge::key_lookup::{KeyLookups, Outcome, Requested};
use crate::bridge::naf_keys::{KeyPlan, NafKeys};
use crate::gba::NafId;
use crate::gba::ids::{NafKeyKind, is_btid};
use crate::gba::oscore::{Choices, EstablishRequest, EstablishResponse, naf_keying};
use log::{debug, info, warn};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use simbridge_oscore::Error as OscoreError;
use simbridge_oscore::coap::{Message, MessageType, code, number};
use simbridge_oscore::context::SecurityContext;
use simbridge_oscore::echo::{EchoGate, EchoVerdict};
use simbridge_oscore::option::OscoreOption;
use simbridge_oscore::protect::{self, RequestBinding, ResponsePiv};
use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

const LISTEN: Token = Token(0);
const WAKE: Token = Token(1);
const BACKEND_BASE: usize = 16;
const MAX_DATAGRAM: usize = 65_535;
/// Contexts per B-TID: the one in use and the one made before its key expires.
const PER_BTID: usize = 2;
/// How long an establishment answer is kept for a retransmitted POST (RFC 7252
/// EXCHANGE_LIFETIME), and how many at most.
const DEDUP_LIFETIME: Duration = Duration::from_secs(247);
const MAX_DEDUP: usize = 4096;
/// Establishment requests waiting for key lookups.
const MAX_WAITING: usize = 10_000;
/// Bindings of requests awaiting their answer, per context.
const MAX_BINDINGS: usize = 256;

/// 2.01 Created, 4.00, 4.02, 4.03, 5.03, 5.00.
const CREATED: u8 = 0x41;
const BAD_REQUEST: u8 = 0x80;
const BAD_OPTION: u8 = 0x82;
const FORBIDDEN: u8 = 0x83;
const UNAVAILABLE: u8 = 0xa3;
const INTERNAL_ERROR: u8 = 0xa0;

/// The OSCORE server's settings.
pub struct OscoreServerSpec {
    /// UDP address gateways send to.
    pub listen: SocketAddr,
    /// Where plain CoAP goes.
    pub backend: SocketAddr,
    /// Keys from the BSF key API.
    pub keys: Arc<NafKeys>,
    /// The establishment choices.
    pub choices: Choices,
    /// Where contexts are kept across restarts (`None`: nowhere).
    pub state_dir: Option<PathBuf>,
    /// Sequence numbers written ahead per store.
    pub seq_step: u64,
    /// Most contexts at once.
    pub max_contexts: usize,
}

/// What the server did, for tests, logs and metrics.
#[derive(Debug, Default)]
pub struct OscoreServerCounters {
    /// Contexts established.
    pub establishments: AtomicU64,
    /// Establishments refused (bad payload, unknown B-TID, key API down).
    pub establishments_refused: AtomicU64,
    /// Requests verified and forwarded to the backend.
    pub requests: AtomicU64,
    /// Requests refused by the replay window.
    pub replays: AtomicU64,
    /// Requests refused otherwise (no context, decryption failed, malformed).
    pub refused: AtomicU64,
    /// Echo challenges sent (one per context after a restart).
    pub echo_challenges: AtomicU64,
    /// Contexts taken up from the state directory at start.
    pub restored: AtomicU64,
}

/// A running OSCORE server.
pub struct OscoreServer {
    local: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    counters: Arc<OscoreServerCounters>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl OscoreServer {
    /// Binds, loads saved contexts and starts the loop.
    pub fn start(spec: OscoreServerSpec) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut sock = UdpSocket::bind(spec.listen)?;
        poll.registry()
            .register(&mut sock, LISTEN, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let w = waker.clone();
        let lookups = KeyLookups::start(
            spec.keys.clone(),
            spec.keys.policy().lookup.clone(),
            Arc::new(move || {
                let _ = w.wake();
            }),
        )?;
        let local = sock.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(OscoreServerCounters::default());
        let mut echo = [0u8; simbridge_oscore::echo::ECHO_LEN];
        getrandom::fill(&mut echo).map_err(|e| io::Error::other(format!("random: {e}")))?;
        let mut lp = ServerLoop {
            spec,
            poll,
            sock,
            lookups,
            contexts: HashMap::new(),
            by_token: HashMap::new(),
            next_token: BACKEND_BASE,
            echo: EchoGate::new(echo),
            waiting: HashMap::new(),
            waiting_len: 0,
            dedup: HashMap::new(),
            counters: counters.clone(),
            stop: stop.clone(),
        };
        lp.restore();
        let thread = std::thread::Builder::new()
            .name("oscore server".into())
            .spawn(move || lp.run())?;
        info!("OSCORE server listening on {local}");
        Ok(Self {
            local,
            stop,
            waker,
            counters,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The counters.
    pub fn counters(&self) -> &OscoreServerCounters {
        &self.counters
    }

    /// Stops the loop (contexts stay saved).
    pub fn shutdown(mut self) -> io::Result<()> {
        self.halt()
    }

    fn halt(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the OSCORE server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for OscoreServer {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// The directory of the server's context files.
pub fn contexts_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("oscore-server")
}

struct Ctx {
    ctx: SecurityContext,
    record: StoredContext,
    expires: SystemTime,
    /// Where the gateway was last heard from (answers go there: a NAT rebinding is followed
    /// by the next verified request).
    peer: Option<SocketAddr>,
    backend: UdpSocket,
    token: Token,
    /// Outer token → binding of requests awaiting an answer from the backend.
    bindings: HashMap<Vec<u8>, RequestBinding>,
    last_used: Instant,
}

/// An establishment POST waiting for its key.
struct WaitingPost {
    from: SocketAddr,
    post: Message,
    request: EstablishRequest,
}

struct ServerLoop {
    spec: OscoreServerSpec,
    poll: Poll,
    sock: UdpSocket,
    lookups: KeyLookups,
    contexts: HashMap<Vec<u8>, Ctx>,
    by_token: HashMap<Token, Vec<u8>>,
    next_token: usize,
    echo: EchoGate,
    waiting: HashMap<KeyPlan, Vec<WaitingPost>>,
    waiting_len: usize,
    dedup: HashMap<(SocketAddr, u16), (Vec<u8>, Instant)>,
    counters: Arc<OscoreServerCounters>,
    stop: Arc<AtomicBool>,
}

fn error_reply(req: &Message, code: u8, diagnostic: &str) -> Option<Vec<u8>> {
    // §8.2 / RFC 7252 §5.2.2: errors answer confirmable requests; a NON is dropped.
    if req.mtype != MessageType::Confirmable {
        return None;
    }
    let mut m = Message::new(MessageType::Acknowledgement, code, req.message_id);
    let _ = m.set_token(req.token());
    m.payload = diagnostic.as_bytes().to_vec();
    Some(m.encode())
}

impl ServerLoop {
    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut last_sweep = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            wait_for_events(&mut self.poll, &mut events, None)?;
            let now = Instant::now();
            for (peer, plan, outcome) in self.lookups.poll(now) {
                self.key_ready(peer, &plan, outcome, now);
            }
            let mut backends = Vec::new();
            for ev in events.iter() {
                match ev.token() {
                    LISTEN | WAKE => {}
                    t => backends.push(t),
                }
            }
            loop {
                match self.sock.recv_from(&mut buf) {
                    Ok((n, from)) => self.on_gateway(from, &buf[..n], now),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        debug!("OSCORE server: receive: {e}");
                        break;
                    }
                }
            }
            for t in backends {
                self.on_backend(t, &mut buf, now);
            }
            if now.saturating_duration_since(last_sweep) > Duration::from_secs(1) {
                last_sweep = now;
                self.sweep(now);
            }
        }
        self.lookups.stop();
        Ok(())
    }

    fn send(&self, to: SocketAddr, d: &[u8]) {
        if let Err(e) = self.sock.send_to(d, to) {
            debug!("OSCORE server: to {to}: {e}");
        }
    }

    fn file(&self, kid: &[u8]) -> Option<PathBuf> {
        self.spec
            .state_dir
            .as_deref()
            .map(|d| contexts_dir(d).join(format!("ctx-{}.json", hex::encode(kid))))
    }

    /// Takes up the contexts the last run saved (their keys still good).
    fn restore(&mut self) {
        let Some(dir) = self.spec.state_dir.as_deref().map(contexts_dir) else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let now = Instant::now();
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let rec = match StoredContext::load(&path) {
                Ok(Some(r)) if r.role == Role::Server => r,
                Ok(_) => continue,
                Err(e) => {
                    warn!("OSCORE server: {e}; skipped");
                    continue;
                }
            };
            let expires = match rec.expires() {
                Ok(t) if t > SystemTime::now() => t,
                _ => {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
            };
            let ctx = match rec.resume(self.spec.seq_step) {
                Ok(c) => c,
                Err(e) => {
                    warn!("OSCORE server: {}: {e}; skipped", path.display());
                    continue;
                }
            };
            if let Err(e) = self.insert(ctx, rec, expires, now) {
                warn!("OSCORE server: cannot take up a saved context: {e}");
            } else {
                self.counters.restored.fetch_add(1, Ordering::Relaxed);
            }
        }
        let n = self.contexts.len();
        if n > 0 {
            info!("OSCORE server: {n} contexts from before the restart (Echo proves freshness)");
        }
    }

    /// Adds a context with a backend socket of its own.
    fn insert(
        &mut self,
        ctx: SecurityContext,
        record: StoredContext,
        expires: SystemTime,
        now: Instant,
    ) -> io::Result<()> {
        let mut backend = super::connected_socket(self.spec.backend)?;
        let token = Token(self.next_token);
        self.next_token += 1;
        self.poll
            .registry()
            .register(&mut backend, token, Interest::READABLE)?;
        let kid = ctx.recipient_id().to_vec();
        if let Some(old) = self.contexts.remove(&kid) {
            self.by_token.remove(&old.token);
        }
        self.by_token.insert(token, kid.clone());
        self.contexts.insert(
            kid,
            Ctx {
                ctx,
                record,
                expires,
                peer: None,
                backend,
                token,
                bindings: HashMap::new(),
                last_used: now,
            },
        );
        Ok(())
    }

    fn remove(&mut self, kid: &[u8], why: &str) {
        if let Some(c) = self.contexts.remove(kid) {
            self.by_token.remove(&c.token);
            if let Some(p) = self.file(kid) {
                let _ = std::fs::remove_file(p);
            }
            info!(
                "OSCORE server: context {} (B-TID {}) removed: {why}",
                hex::encode(kid),
                c.record.btid
            );
        }
    }

    fn sweep(&mut self, now: Instant) {
        let wall = SystemTime::now();
        let expired: Vec<Vec<u8>> = self
            .contexts
            .iter()
            .filter(|(_, c)| c.expires <= wall)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.remove(&k, "its GBA key expired");
        }
        self.dedup
            .retain(|_, (_, t)| now.saturating_duration_since(*t) < DEDUP_LIFETIME);
    }

    fn on_gateway(&mut self, from: SocketAddr, d: &[u8], now: Instant) {
        let Ok(msg) = Message::parse(d) else {
            debug!("OSCORE server: from {from}: not CoAP; dropped");
            return;
        };
        if msg.code == 0 {
            // An empty ACK or RST for a notification: to the backend of the context whose
            // gateway is at `from`.
            if let Some(c) = self.contexts.values().find(|c| c.peer == Some(from)) {
                let _ = c.backend.send(d);
            }
            return;
        }
        if !msg.is_request() {
            return;
        }
        if msg.option(number::OSCORE).is_some() {
            return self.protected(from, &msg, now);
        }
        let path: Vec<&[u8]> = msg
            .options()
            .iter()
            .filter(|o| o.number == number::URI_PATH)
            .map(|o| o.value.as_slice())
            .collect();
        let wanted: Vec<&[u8]> = self
            .spec
            .choices
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::as_bytes)
            .collect();
        if msg.code == code::POST && path == wanted {
            return self.establish(from, msg, now);
        }
        if let Some(r) = error_reply(&msg, code::UNAUTHORIZED, "OSCORE required") {
            self.send(from, &r);
        }
    }

    fn refuse(&self, from: SocketAddr, msg: &Message, code: u8, diagnostic: &str) {
        if let Some(r) = error_reply(msg, code, diagnostic) {
            self.send(from, &r);
        }
    }

    fn protected(&mut self, from: SocketAddr, msg: &Message, now: Instant) {
        let kid = match msg
            .option(number::OSCORE)
            .map(OscoreOption::parse)
            .transpose()
        {
            Ok(Some(o)) => o.kid.unwrap_or_default(),
            _ => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                return self.refuse(from, msg, BAD_OPTION, "Bad OSCORE option");
            }
        };
        let Some(c) = self.contexts.get_mut(&kid) else {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            debug!(
                "OSCORE server: from {from}: kid {} names no context",
                hex::encode(&kid)
            );
            return self.refuse(from, msg, code::UNAUTHORIZED, "Security context not found");
        };
        let req = match protect::unprotect_request(&mut c.ctx, msg) {
            Ok(r) => r,
            Err(OscoreError::Replay(e)) => {
                self.counters.replays.fetch_add(1, Ordering::Relaxed);
                debug!("OSCORE server: from {from}: {e}");
                return self.refuse(from, msg, code::UNAUTHORIZED, "Replay detected");
            }
            Err(e) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                debug!("OSCORE server: from {from}: {e}");
                return self.refuse(from, msg, BAD_REQUEST, "Decryption failed");
            }
        };
        c.last_used = now;
        c.peer = Some(from);
        if let EchoVerdict::Challenge(challenge) = self.echo.check(&mut c.ctx, &req) {
            self.counters
                .echo_challenges
                .fetch_add(1, Ordering::Relaxed);
            let kid2 = kid.clone();
            if let Some(w) = self.protect_answer(&kid2, &challenge, &req.binding, true) {
                self.send(from, &w);
            }
            return;
        }
        let Some(c) = self.contexts.get_mut(&kid) else {
            return;
        };
        if c.bindings.len() >= MAX_BINDINGS {
            c.bindings.clear();
        }
        c.bindings
            .insert(req.message.token().to_vec(), req.binding.clone());
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = c.backend.send(&req.message.encode()) {
            debug!("OSCORE server: to the backend: {e}");
        }
    }

    /// Protects an answer under context `kid`, storing the sequence number ahead when asked.
    fn protect_answer(
        &mut self,
        kid: &[u8],
        answer: &Message,
        binding: &RequestBinding,
        own_piv: bool,
    ) -> Option<Vec<u8>> {
        let path = self.file(kid);
        let c = self.contexts.get_mut(kid)?;
        let piv = if own_piv {
            ResponsePiv::New
        } else {
            ResponsePiv::FromRequest
        };
        for _ in 0..2 {
            match protect::protect_response(&mut c.ctx, answer, binding, piv) {
                Ok(m) => return Some(m.encode()),
                Err(OscoreError::NeedsStore(v)) => {
                    c.record.seq_stored = Some(v);
                    if let Some(p) = &path {
                        if let Err(e) = c.record.save(p) {
                            warn!(
                                "OSCORE server: cannot store a sequence number: {e}; answer dropped"
                            );
                            return None;
                        }
                    }
                    c.ctx.sender_seq_mut().stored(v);
                }
                Err(e) => {
                    debug!("OSCORE server: cannot protect an answer: {e}");
                    return None;
                }
            }
        }
        None
    }

    fn on_backend(&mut self, t: Token, buf: &mut [u8], now: Instant) {
        let Some(kid) = self.by_token.get(&t).cloned() else {
            return;
        };
        loop {
            let Some(c) = self.contexts.get_mut(&kid) else {
                return;
            };
            let n = match c.backend.recv(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!("OSCORE server: backend: {e}");
                    return;
                }
            };
            c.last_used = now;
            let Some(peer) = c.peer else { continue };
            let Ok(msg) = Message::parse(&buf[..n]) else {
                continue;
            };
            if msg.code == 0 {
                // An empty ACK or RST: nothing to protect (§4.2).
                self.send(peer, &buf[..n]);
                continue;
            }
            if msg.is_request() {
                continue;
            }
            let Some(binding) = c.bindings.get(msg.token()).cloned() else {
                debug!("OSCORE server: a backend answer for no request; dropped");
                continue;
            };
            let observe = msg.option(number::OBSERVE).is_some();
            if !observe {
                c.bindings.remove(msg.token());
            }
            if let Some(w) = self.protect_answer(&kid, &msg, &binding, observe) {
                self.send(peer, &w);
            }
        }
    }

    fn establish(&mut self, from: SocketAddr, post: Message, now: Instant) {
        if let Some((answer, _)) = self.dedup.get(&(from, post.message_id)) {
            // A retransmitted POST: the same answer, no second context.
            let a = answer.clone();
            return self.send(from, &a);
        }
        let request = match EstablishRequest::parse(&post.payload, &self.spec.choices) {
            Ok(r) => r,
            Err(e) => {
                self.counters
                    .establishments_refused
                    .fetch_add(1, Ordering::Relaxed);
                return self.refuse(from, &post, BAD_REQUEST, &e.to_string());
            }
        };
        if !is_btid(&request.btid) {
            self.counters
                .establishments_refused
                .fetch_add(1, Ordering::Relaxed);
            return self.refuse(from, &post, BAD_REQUEST, "not a B-TID");
        }
        let Some(fqdn) = self.spec.keys.served_names().into_iter().next() else {
            return self.refuse(from, &post, UNAVAILABLE, "no key API");
        };
        let naf = match NafId::new(&fqdn, self.spec.choices.ua_id) {
            Ok(n) => n,
            Err(e) => return self.refuse(from, &post, UNAVAILABLE, &e.to_string()),
        };
        let plan = KeyPlan {
            btid: request.btid.clone(),
            kind: NafKeyKind::Me,
            naf,
        };
        match self.lookups.request(from, plan.clone(), now) {
            Requested::Now(outcome) => {
                self.answer(
                    WaitingPost {
                        from,
                        post,
                        request,
                    },
                    &plan,
                    outcome,
                    now,
                );
            }
            Requested::Queued => {
                if self.waiting_len >= MAX_WAITING {
                    return self.refuse(from, &post, UNAVAILABLE, "too many establishments");
                }
                self.waiting_len += 1;
                self.waiting.entry(plan).or_default().push(WaitingPost {
                    from,
                    post,
                    request,
                });
            }
        }
    }

    fn key_ready(&mut self, peer: SocketAddr, plan: &KeyPlan, outcome: Outcome, now: Instant) {
        let Some(list) = self.waiting.get_mut(plan) else {
            return;
        };
        let (mine, rest): (Vec<_>, Vec<_>) = list.drain(..).partition(|w| w.from == peer);
        *list = rest;
        if list.is_empty() {
            self.waiting.remove(plan);
        }
        self.waiting_len = self.waiting_len.saturating_sub(mine.len());
        for w in mine {
            self.answer(w, plan, outcome.clone(), now);
        }
    }

    fn answer(&mut self, w: WaitingPost, plan: &KeyPlan, outcome: Outcome, now: Instant) {
        let reply = match outcome {
            Outcome::Key(key) => match self.new_context(&w, plan, key.expose(), now) {
                Ok(reply) => reply,
                Err(e) => {
                    warn!("OSCORE server: establishment from {} failed: {e}", w.from);
                    error_reply(&w.post, INTERNAL_ERROR, "internal error").unwrap_or_default()
                }
            },
            Outcome::Unknown(why) => {
                self.counters
                    .establishments_refused
                    .fetch_add(1, Ordering::Relaxed);
                info!(
                    "OSCORE server: establishment from {} refused: B-TID {}: {why}",
                    w.from,
                    escape(w.request.btid.as_bytes())
                );
                error_reply(&w.post, FORBIDDEN, "B-TID unknown: bootstrap again")
                    .unwrap_or_default()
            }
            Outcome::Unavailable(e) => {
                self.counters
                    .establishments_refused
                    .fetch_add(1, Ordering::Relaxed);
                warn!("OSCORE server: key API: {e}");
                // Not cached: a retransmission may find the key API back.
                if let Some(r) = error_reply(&w.post, UNAVAILABLE, "key service unavailable") {
                    self.send(w.from, &r);
                }
                return;
            }
        };
        if reply.is_empty() {
            return;
        }
        if self.dedup.len() >= MAX_DEDUP {
            self.dedup
                .retain(|_, (_, t)| now.saturating_duration_since(*t) < DEDUP_LIFETIME);
            if self.dedup.len() >= MAX_DEDUP {
                self.dedup.clear();
            }
        }
        self.dedup
            .insert((w.from, w.post.message_id), (reply.clone(), now));
        self.send(w.from, &reply);
    }

    /// A new context for an establishment whose key arrived: answers 2.01 with N2 and the
    /// gateway's sender ID.
    fn new_context(
        &mut self,
        w: &WaitingPost,
        plan: &KeyPlan,
        ks_naf: &[u8],
        now: Instant,
    ) -> Result<Vec<u8>, String> {
        let c = &self.spec.choices;
        let mut n2 = vec![0u8; c.nonce_len];
        getrandom::fill(&mut n2).map_err(|e| format!("random: {e}"))?;
        let ue_id = self.free_id(&w.request.naf_sender_id)?;
        let payload = EstablishResponse {
            n2,
            ue_sender_id: ue_id,
        }
        .encode();
        let keying = naf_keying(ks_naf, &w.post.payload, &payload, c).map_err(|e| e.to_string())?;
        let expires = self
            .spec
            .keys
            .plan_expiry(plan)
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(3600));
        let ctx = fresh_context(&keying, self.spec.seq_step)?;
        let record = StoredContext::new(Role::Server, &w.request.btid, expires, &keying);
        let kid = keying.recipient_id.clone();
        if let Some(p) = self.file(&kid) {
            if let Some(dir) = p.parent() {
                crate::fsutil::create_private_dir(dir).map_err(|e| e.to_string())?;
            }
            record.save(&p).map_err(|e| e.to_string())?;
        }
        self.make_room(&w.request.btid);
        self.insert(ctx, record, expires, now)
            .map_err(|e| format!("backend socket: {e}"))?;
        self.counters.establishments.fetch_add(1, Ordering::Relaxed);
        info!(
            "OSCORE server: context {} established with {} (B-TID {})",
            hex::encode(&kid),
            w.from,
            w.request.btid
        );
        let mtype = if w.post.mtype == MessageType::Confirmable {
            MessageType::Acknowledgement
        } else {
            MessageType::NonConfirmable
        };
        let mut m = Message::new(mtype, CREATED, w.post.message_id);
        let _ = m.set_token(w.post.token());
        m.add_option(number::CONTENT_FORMAT, &[60]);
        m.payload = payload;
        Ok(m.encode())
    }

    /// Drops the oldest context of `btid` beyond [`PER_BTID`] − 1 and the least recently used
    /// beyond `max_contexts` − 1, so the new one fits.
    fn make_room(&mut self, btid: &str) {
        let mut same: Vec<(Instant, Vec<u8>)> = self
            .contexts
            .iter()
            .filter(|(_, c)| c.record.btid == btid)
            .map(|(k, c)| (c.last_used, k.clone()))
            .collect();
        same.sort();
        while same.len() >= PER_BTID {
            let (_, k) = same.remove(0);
            self.remove(&k, "a newer context of the same B-TID");
        }
        while self.contexts.len() >= self.spec.max_contexts.max(1) {
            let Some(k) = self
                .contexts
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&k, "max_contexts reached (least recently used)");
        }
    }

    /// A Sender ID for the gateway not used by any context (shortest first), other than the
    /// one it proposed for us.
    fn free_id(&self, ours: &[u8]) -> Result<Vec<u8>, String> {
        for len in 1..=4usize {
            for _ in 0..64 {
                let mut id = vec![0u8; len];
                getrandom::fill(&mut id).map_err(|e| format!("random: {e}"))?;
                if id != ours && !self.contexts.contains_key(&id) {
                    return Ok(id);
                }
            }
        }
        Err("no free sender ID".into())
    }
}
