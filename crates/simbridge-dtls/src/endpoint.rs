//! Server endpoint: many connections on one socket, routed by peer address, and tls12_cid
//! records by Connection ID (RFC 9146), so a client whose NAT binding changed keeps its session
//! with zero handshake bytes. The peer address moves only after a record that authenticates and
//! is newer than any seen (RFC 9146 §6), and never onto an address another live connection
//! owns (that would cut it off; the record is still delivered, `address_in_use` counts it). It keeps no per-client state before a valid cookie,
//! and limits the number of connections and the rate of new handshakes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cid_buf::CidBuf;
use super::config::{PskRefusal, ServerConfig};
use super::conn::{AcceptedHello, Connection, ServerStart};
use super::cookie::CookieKeys;
pub use super::endpoint_stats::EndpointStats;
use super::error::Error;
use super::event::{CloseReason, Event};
use super::export::MemoryLedger;
use super::half_open::HalfOpen;
use super::session::{Session, SessionCache};
use super::stalest::Stalest;
use super::ticket::TicketKeys;
use super::wire::codec::Reader;
use super::wire::extensions::EXT_SESSION_TICKET;
use super::wire::handshake::{HandshakeType, parse_fragments};
use super::wire::hello::ClientHello;
use super::wire::record::{ContentType, parse_record, peek_cid};
use crate::secret::SecretVec;

mod admission;
mod buffers;
mod migration;
mod restart;
mod v13;
pub use buffers::TransmitTo;
pub use v13::{Peer13, PeerInfo};

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// UDP payload.
    pub payload: Vec<u8>,
}

struct TokenBucket {
    tokens: f64,
    last: Option<Instant>,
}

/// The server side of one UDP socket.
pub struct Endpoint {
    config: Arc<ServerConfig>,
    conns: HashMap<u64, Entry>,
    by_addr: HashMap<SocketAddr, u64>,
    /// Routing by our CID (inline keys: no allocation per connection).
    by_cid: HashMap<CidBuf, u64>,
    next_id: u64,
    /// Connections that kept their last flight, in handshake order (so in deadline order:
    /// every deadline is `FINAL_FLIGHT_LINGER` after the handshake); swept by
    /// `handle_datagram` and `handle_timeout`, so a client that never sends data does not
    /// hold it forever. Entries whose flight already went (the usual case: the client sent
    /// data) leave from the front at the next sweep.
    kept_flights: VecDeque<u64>,
    /// Retransmission deadlines of handshaking connections, earliest first, so that
    /// `poll_timeout` and `handle_timeout` cost nothing per established connection. An entry
    /// is current only while it equals its connection's `scheduled`; stale ones are dropped
    /// when they come due.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    migrations: VecDeque<(SocketAddr, SocketAddr)>,
    cache: SessionCache,
    tickets: Option<TicketKeys>,
    ledger: MemoryLedger,
    cookies: CookieKeys,
    bucket: TokenBucket,
    out: VecDeque<Transmit>,
    events: VecDeque<(SocketAddr, Event)>,
    stats: EndpointStats,
    half_open: HalfOpen,
    /// Handshakes in progress by last progress (for `max_handshaking`).
    stalest: Stalest,
    /// The DTLS 1.3 side: its server and its peers (ids shared with `conns`).
    v13: v13::Tls13,
}

/// One connection and where its peer is now. The connection is boxed: the map then holds
/// small entries, so its spare capacity (up to half the table after a resize) costs bytes
/// per slot, not a whole connection per slot.
struct Entry {
    addr: SocketAddr,
    conn: Box<Connection>,
    /// The deadline last put in the endpoint's timer heap for this connection.
    scheduled: Option<Instant>,
    /// While the handshake is in progress, and only then: its accounting. Boxed, so that an
    /// established entry (and each spare slot of the table) is one pointer wide for it.
    half_open: Option<Box<Pending>>,
}

/// What the endpoint tracks of a handshake in progress.
struct Pending {
    /// The source IP it is counted under in `Endpoint::half_open`.
    ip: IpAddr,
    /// The bytes its buffers held at the last look.
    buffered: usize,
    /// Its stamp in `Endpoint::stalest`.
    stamp: u64,
    /// The round trips it had completed at that stamp (one more is progress).
    trips: u64,
}

/// A datagram's connection, found by [`Endpoint::route`].
struct Routed {
    id: u64,
    /// Found by its tls12_cid record's CID (the peer's address may move).
    by_cid: bool,
    /// A DTLS 1.3 peer (in `v13.conns`).
    v13: bool,
}

/// Tries before giving up on finding an unused CID (a generator with few free values).
const CID_TRIES: usize = 8;

/// Highest message_seq a new ClientHello may carry.
const MAX_HELLO_SEQ: u16 = 8;

/// A ClientHello found at the start of a datagram (unfragmented, epoch 0).
struct Hello {
    hello: ClientHello,
    body: Vec<u8>,
    message_seq: u16,
    record_seq: u64,
    datagram_len: usize,
}

/// A hello that passed the endpoint's limits.
struct Admitted {
    /// The stalest handshake, dropped to make room for this one.
    evict: Option<u64>,
}

fn peek_client_hello(data: &[u8]) -> Option<Hello> {
    // only the first record matters: parsed alone, so a data datagram allocates nothing here
    let rec = parse_record(&mut Reader::new(data)).ok()?;
    if rec.header.content_type != ContentType::Handshake || rec.header.epoch != 0 {
        return None;
    }
    let frags = parse_fragments(rec.fragment).ok()?;
    let f = frags.first()?;
    if f.msg_type != HandshakeType::ClientHello
        || f.offset != 0
        || f.body.len() != f.length as usize
    {
        return None;
    }
    // a hello is message 0, or 1 after a HelloVerifyRequest (a few more if cookies rotate)
    if f.message_seq > MAX_HELLO_SEQ {
        return None;
    }
    let hello = ClientHello::parse(f.body).ok()?;
    Some(Hello {
        hello,
        body: f.body.to_vec(),
        message_seq: f.message_seq,
        record_seq: rec.header.seq,
        datagram_len: data.len(),
    })
}

impl Endpoint {
    /// A new endpoint.
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, Error> {
        let cookies = CookieKeys::new(config.common.rng.as_ref(), config.cookie_rotation)
            .map_err(|_| Error::Rng)?;
        let cache = SessionCache::new(config.session_cache);
        let tokens = f64::from(config.handshakes_per_second);
        let v13 = v13::Tls13::new(&config)?;
        Ok(Self {
            config,
            conns: HashMap::new(),
            by_addr: HashMap::new(),
            by_cid: HashMap::new(),
            next_id: 0,
            kept_flights: VecDeque::new(),
            timers: BinaryHeap::new(),
            migrations: VecDeque::new(),
            cache,
            tickets: None,
            ledger: MemoryLedger::default(),
            cookies,
            bucket: TokenBucket { tokens, last: None },
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: EndpointStats::default(),
            half_open: HalfOpen::default(),
            stalest: Stalest::default(),
            v13,
        })
    }

    /// Feeds a datagram received from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if let Some(r) = self.route(now, from, data) {
            if r.v13 {
                self.handle13(now, r, from, data);
                return;
            }
            if let Some(e) = self.conns.get_mut(&r.id) {
                e.conn.handle_datagram(now, data);
            }
            self.routed(r, from);
        }
    }

    /// The connection a datagram from `from` is for, if any; a new ClientHello is handled
    /// here (cookie exchange or a new connection) and gives `None`.
    fn route(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> Option<Routed> {
        self.sweep_kept_flights(now);
        self.cookies
            .maybe_rotate(now, self.config.common.rng.as_ref());
        self.rotate_tickets(now);
        self.v13.maybe_rotate(
            now,
            (self.config.cookie_rotation, self.config.ticket_rotation),
            self.config.common.rng.as_ref(),
        );
        let cid_len = self.cid_len();
        if let Some(cid) = peek_cid(data, cid_len).or_else(|| v13::peek_cid13(data, cid_len)) {
            let Some(id) = self.by_cid.get(cid).copied() else {
                self.stats.unknown_cid += 1;
                return None;
            };
            self.share_budget(id);
            let v13 = self.v13.conns.contains_key(&id);
            return (v13 || self.conns.contains_key(&id)).then_some(Routed {
                id,
                by_cid: true,
                v13,
            });
        }
        if let Some(h) = peek_client_hello(data) {
            let known = self.by_addr.get(&from).copied();
            let same = match known {
                Some(id) if self.v13.conns.contains_key(&id) => {
                    self.client_random13(id) == Some(&h.hello.random)
                }
                _ => self
                    .conn_at(&from)
                    .is_some_and(|c| c.client_random() == &h.hello.random),
            };
            if !same {
                let offers_13 = v13::offers_13(&h.hello);
                if offers_13 && self.v13.enabled() {
                    self.on_new_hello13(now, from, data, h.record_seq);
                } else if !self.config.versions.allows_12() {
                    self.refuse_version(from, &h);
                } else {
                    self.on_new_hello(now, from, h);
                }
                return None;
            }
        }
        match self.by_addr.get(&from).copied() {
            Some(id) => {
                self.share_budget(id);
                Some(Routed {
                    id,
                    by_cid: false,
                    v13: self.v13.conns.contains_key(&id),
                })
            }
            None => {
                self.stats.unknown_peer += 1;
                None
            }
        }
    }

    /// After a routed datagram went to its connection: follow the peer's address (tls12_cid
    /// records only) and take what the connection produced.
    fn routed(&mut self, r: Routed, from: SocketAddr) {
        if r.by_cid {
            self.follow_peer(r.id, from);
        }
        self.drain(r.id);
    }

    /// Frees the last flights kept past their deadline (their connections stay).
    fn sweep_kept_flights(&mut self, now: Instant) {
        while let Some(&id) = self.kept_flights.front() {
            if let Some(e) = self.conns.get_mut(&id) {
                match e.conn.kept_flight_until() {
                    Some(t) if t > now => break,
                    // drops the kept flight (nothing else is due for an established connection)
                    Some(_) => {
                        e.conn.handle_timeout(now);
                        self.schedule(id);
                    }
                    None => {}
                }
            }
            self.kept_flights.pop_front();
        }
        if self.kept_flights.is_empty() && self.kept_flights.capacity() > 0 {
            self.kept_flights = VecDeque::new();
        }
    }

    /// Length of the CIDs this endpoint hands out (0: none, route by address only).
    fn cid_len(&self) -> usize {
        self.config
            .connection_id
            .as_ref()
            .map_or(0, |g| g.cid_len())
    }

    fn conn_at(&self, addr: &SocketAddr) -> Option<&Connection> {
        let id = self.by_addr.get(addr)?;
        self.conns.get(id).map(|e| &*e.conn)
    }

    fn new_cid(&self) -> Option<Vec<u8>> {
        let g = self.config.connection_id.as_ref()?;
        if g.cid_len() == 0 {
            return Some(Vec::new());
        }
        (0..CID_TRIES)
            .filter_map(|_| g.generate(self.config.common.rng.as_ref()).ok())
            .find(|c| c.len() == g.cid_len() && !self.by_cid.contains_key(c.as_slice()))
    }

    fn rotate_tickets(&mut self, now: Instant) {
        if !self.config.session_tickets {
            return;
        }
        let rng = self.config.common.rng.as_ref();
        match &mut self.tickets {
            Some(t) => t.maybe_rotate(now, rng),
            None => self.tickets = TicketKeys::new(rng, now, self.config.ticket_rotation).ok(),
        }
    }

    /// The session a hello offers that we can resume: a ticket that opens, else a cached ID.
    fn find_session(&mut self, hello: &ClientHello, now: Instant) -> Option<(Session, Instant)> {
        let from_ticket = match (hello.extensions.get(EXT_SESSION_TICKET), &self.tickets) {
            (Some(t), Some(keys)) if !t.is_empty() => keys.open(t, now),
            _ => None,
        };
        // RFC 5077 §3.4: a ticket may come with an empty session ID (wolfSSL does that)
        let found = from_ticket.or_else(|| {
            (!hello.session_id.is_empty())
                .then(|| self.cache.get(&hello.session_id, now))
                .flatten()
        });
        if found.is_some() {
            self.stats.resumptions_offered += 1;
        }
        found
    }

    fn on_new_hello(&mut self, now: Instant, from: SocketAddr, h: Hello) {
        let cookie_ok = self.cookies.verify(&from, &h.hello);
        let resume = if cookie_ok || self.config.resume_without_cookie {
            self.find_session(&h.hello, now)
        } else {
            None
        };
        if !cookie_ok && resume.is_none() {
            if !h.hello.cookie.is_empty() {
                self.stats.bad_cookies += 1;
            }
            self.send_hello_verify(from, &h);
            return;
        }
        let Some(Admitted { evict }) = self.admit(now, from) else {
            return;
        };
        // a valid new hello from a known address: the client restarted (RFC 6347 §4.2.8)
        let accepted = AcceptedHello {
            hello: h.hello,
            body: h.body,
            message_seq: h.message_seq,
            record_seq: h.record_seq,
            datagram_len: h.datagram_len,
        };
        let wants_cid = matches!(accepted.hello.extensions.connection_id(), Ok(Some(_)));
        let cid = if wants_cid && self.config.connection_id.is_some() {
            match self.new_cid() {
                Some(c) => Some(c),
                None => {
                    // no free CID (or the generator failed): refuse rather than collide
                    self.stats.connection_limited += 1;
                    return;
                }
            }
        } else {
            None
        };
        let start = ServerStart {
            cid,
            resume,
            ticket_key: self.tickets.as_ref().map(|t| t.current().clone()),
            ticket_cap: self
                .tickets
                .as_ref()
                .map_or(Duration::ZERO, |t| t.max_lifetime(now)),
        };
        let conn = Connection::server_start(self.config.clone(), now, &accepted, start);
        self.stats.accepted += 1;
        if let Some(victim) = evict {
            self.evict(victim);
        }
        if let Some(old) = self.by_addr.get(&from).copied() {
            self.remove(old);
        }
        let id = self.insert(from, conn);
        self.drain(id);
    }

    fn insert(&mut self, addr: SocketAddr, conn: Connection) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if !conn.connection_id().is_empty() {
            self.by_cid.insert(CidBuf::from(conn.connection_id()), id);
        }
        self.by_addr.insert(addr, id);
        let half_open = conn.is_handshaking().then(|| {
            self.half_open.enter(addr.ip());
            Box::new(Pending {
                ip: addr.ip(),
                buffered: 0,
                stamp: self.stalest.touch(id, None),
                trips: conn.stats().round_trips,
            })
        });
        self.conns.insert(
            id,
            Entry {
                addr,
                conn: Box::new(conn),
                scheduled: None,
                half_open,
            },
        );
        self.schedule(id);
        id
    }

    /// Puts the connection's retransmission deadline in the timer heap if it changed.
    fn schedule(&mut self, id: u64) {
        if self.v13.conns.contains_key(&id) {
            let t = self.timeout13(id);
            if let Some(e) = self.v13.conns.get_mut(&id) {
                if t != e.scheduled {
                    e.scheduled = t;
                    if let Some(t) = t {
                        self.timers.push(Reverse((t, id)));
                    }
                }
            }
        } else if let Some(e) = self.conns.get_mut(&id) {
            let t = e.conn.poll_timeout();
            if t != e.scheduled {
                e.scheduled = t;
                if let Some(t) = t {
                    self.timers.push(Reverse((t, id)));
                }
            }
        }
        self.prune_timers();
    }

    /// Drops stale entries from the top of the timer heap, so that its top is always a live
    /// deadline (`poll_timeout` is exact). Called after every change of a deadline.
    fn prune_timers(&mut self) {
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if self.scheduled_at(id) == Some(t) {
                break;
            }
            self.timers.pop();
        }
    }

    /// The deadline in the timer heap for connection `id` (either version).
    fn scheduled_at(&self, id: u64) -> Option<Instant> {
        match self.v13.conns.get(&id) {
            Some(e) => e.scheduled,
            None => self.conns.get(&id).and_then(|e| e.scheduled),
        }
    }

    fn remove(&mut self, id: u64) {
        if self.remove13(id) {
            self.prune_timers();
            return;
        }
        if let Some(e) = self.conns.remove(&id) {
            if let Some(p) = e.half_open {
                self.half_open.leave(p.ip, p.buffered);
                self.stalest.leave(id, p.stamp);
            }
            if self.by_addr.get(&e.addr) == Some(&id) {
                self.by_addr.remove(&e.addr);
            }
            let cid = e.conn.connection_id();
            if !cid.is_empty() && self.by_cid.get(cid) == Some(&id) {
                self.by_cid.remove(cid);
            }
        }
        self.prune_timers();
    }

    /// Drops a handshake in progress to make room (`max_handshaking`); the application hears
    /// of it as a close with [`Error::HandshakeEvicted`] (no alert: its peer may be forged).
    fn evict(&mut self, id: u64) {
        let addr13 = self
            .v13
            .conns
            .get(&id)
            .filter(|_| self.handshaking13(id))
            .map(|e| e.addr);
        let Some(addr) = addr13.or_else(|| {
            self.conns
                .get(&id)
                .filter(|e| e.conn.is_handshaking())
                .map(|e| e.addr)
        }) else {
            return;
        };
        self.stats.handshakes_evicted += 1;
        self.remove(id);
        self.events.push_back((
            addr,
            Event::Closed {
                reason: CloseReason::Error(Error::HandshakeEvicted),
            },
        ));
    }

    fn drain(&mut self, id: u64) {
        let Some(e) = self.conns.get_mut(&id) else {
            return;
        };
        let addr = e.addr;
        while let Some(d) = e.conn.poll_transmit() {
            self.out.push_back(Transmit {
                destination: addr,
                payload: d,
            });
        }
        while let Some(ev) = e.conn.poll_event() {
            if let Event::Connected { resumed, .. } = &ev {
                if e.conn.kept_flight_until().is_some() {
                    self.kept_flights.push_back(id);
                }
                self.stats.count_handshake(&e.conn, *resumed);
                if let Some((s, exp)) = e.conn.resumable_session() {
                    self.cache.insert(s.clone(), exp);
                }
            }
            if let Event::Closed { reason } = &ev {
                self.stats.count_close(reason);
                if matches!(reason, CloseReason::PeerAlert(_) | CloseReason::Error(_)) {
                    // RFC 5246 §7.2.2: a fatal alert invalidates the session
                    if let Some(sid) = e.conn.session_id().filter(|s| !s.is_empty()) {
                        self.cache.remove(sid);
                    }
                }
            }
            self.events.push_back((addr, ev));
        }
        if let Some(p) = &mut e.half_open {
            let now = e.conn.handshake_buffered();
            self.half_open.rebuffer(p.buffered, now);
            p.buffered = now;
            let done = e.conn.stats().round_trips;
            if !e.conn.is_handshaking() {
                self.half_open.leave(p.ip, now);
                self.stalest.leave(id, p.stamp);
                e.half_open = None;
            } else if done != p.trips {
                p.stamp = self.stalest.touch(id, Some(p.stamp));
                p.trips = done;
            }
        }
        if e.conn.is_closed() {
            self.remove(id);
        } else {
            self.schedule(id);
        }
    }

    /// Before a half-open connection takes a datagram: its buffer limit is its own budget cut
    /// to what the endpoint's global handshake budget has left.
    fn share_budget(&mut self, id: u64) {
        let Some(e) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(p) = &e.half_open {
            e.conn.set_handshake_buffer_limit(self.half_open.limit_for(
                p.buffered,
                self.config.handshake_buffer_per_connection,
                self.config.handshake_buffer_total,
            ));
        }
    }

    fn id_of(&self, addr: &SocketAddr) -> Result<u64, Error> {
        self.by_addr.get(addr).copied().ok_or(Error::Closed)
    }

    /// The next peer address change `(old, new)` (RFC 9146 §6); the connection is known by
    /// `new` from then on (in `send`, `close`, `connection` and events).
    pub fn poll_address_change(&mut self) -> Option<(SocketAddr, SocketAddr)> {
        self.migrations.pop_front()
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// True when datagrams wait in `poll_transmit`.
    pub fn poll_transmit_pending(&self) -> bool {
        !self.out.is_empty()
    }

    /// Next event, with the peer it concerns.
    pub fn poll_event(&mut self) -> Option<(SocketAddr, Event)> {
        self.events.pop_front()
    }

    /// Earliest timer of all connections.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Drives the timers that are due, and frees the kept last flight of established
    /// connections whose peer never showed it arrived once [`FINAL_FLIGHT_LINGER`] is over
    /// (`handle_datagram` does that too).
    ///
    /// [`FINAL_FLIGHT_LINGER`]: super::conn::FINAL_FLIGHT_LINGER
    pub fn handle_timeout(&mut self, now: Instant) {
        // the DTLS 1.3 clock (cookies, tickets, the 0-RTT window after a start) starts at the
        // first time the endpoint is given, a timer or a datagram
        self.v13.ms(now);
        self.sweep_kept_flights(now);
        // Collect first: a connection rescheduled while handled waits for the next call.
        let mut due = Vec::new();
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            if let Some(e) = self
                .v13
                .conns
                .get_mut(&id)
                .filter(|e| e.scheduled == Some(t))
            {
                e.scheduled = None;
                due.push(id);
            } else if let Some(e) = self.conns.get_mut(&id).filter(|e| e.scheduled == Some(t)) {
                e.scheduled = None;
                due.push(id);
            }
        }
        for id in due {
            if self.v13.conns.contains_key(&id) {
                self.handle_timeout13(now, id);
                continue;
            }
            if let Some(e) = self.conns.get_mut(&id) {
                e.conn.handle_timeout(now);
            }
            self.drain(id);
        }
        self.prune_timers();
    }

    /// Sends one application record to `to`.
    pub fn send(&mut self, to: SocketAddr, data: &[u8]) -> Result<(), Error> {
        let id = self.id_of(&to)?;
        if self.v13.conns.contains_key(&id) {
            return self.send13(id, data);
        }
        let e = self.conns.get_mut(&id).ok_or(Error::Closed)?;
        e.conn.send(data)?;
        self.drain(id);
        Ok(())
    }

    /// Closes the connection with `addr` (close_notify).
    pub fn close(&mut self, addr: SocketAddr) {
        let Ok(id) = self.id_of(&addr) else { return };
        if self.v13.conns.contains_key(&id) {
            self.close13(id);
            return;
        }
        if let Some(e) = self.conns.get_mut(&id) {
            e.conn.close();
        }
        self.drain(id);
    }

    /// Answers a `PskRequested` event of `addr`: `None` means unknown identity (the same as
    /// [`Endpoint::refuse_psk`] with [`PskRefusal::UnknownIdentity`]).
    pub fn provide_psk(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        key: Option<SecretVec>,
    ) -> Result<(), Error> {
        let id = self.id_of(&addr)?;
        if self.v13.conns.contains_key(&id) {
            return self.answer13(now, id, key.ok_or(PskRefusal::UnknownIdentity));
        }
        self.answer_psk(addr, |c| c.provide_server_psk(now, key))
    }

    /// Refuses a `PskRequested` event of `addr`: an unknown identity carries on with a random
    /// key and the handshake fails at the client's Finished with `decrypt_error` (RFC 4279
    /// §2; the close reason here is [`Error::UnknownPskIdentity`]); an unavailable key source
    /// fails at once with `internal_error` ([`Error::PskUnavailable`]).
    pub fn refuse_psk(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        why: PskRefusal,
    ) -> Result<(), Error> {
        let id = self.id_of(&addr)?;
        if self.v13.conns.contains_key(&id) {
            return self.answer13(now, id, Err(why));
        }
        self.answer_psk(addr, |c| c.refuse_server_psk(now, why))
    }

    fn answer_psk(
        &mut self,
        addr: SocketAddr,
        answer: impl FnOnce(&mut Connection) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let id = self.id_of(&addr)?;
        let e = self.conns.get_mut(&id).ok_or(Error::Closed)?;
        answer(&mut e.conn)?;
        self.drain(id);
        Ok(())
    }

    /// The DTLS 1.2 connection with `addr`, if any (see [`Endpoint::peer_info`] for either
    /// version).
    pub fn connection(&self, addr: &SocketAddr) -> Option<&Connection> {
        self.conn_at(addr)
    }

    /// Connections held (established or handshaking), DTLS 1.2 and 1.3.
    pub fn connection_count(&self) -> usize {
        self.conns.len() + self.v13.conns.len()
    }

    /// Every DTLS 1.2 connection held, with its peer's address (for status views).
    pub fn connections(&self) -> impl Iterator<Item = (SocketAddr, &Connection)> + '_ {
        self.conns.values().map(|e| (e.addr, &*e.conn))
    }

    /// Handshakes in progress (after a valid cookie, not yet completed), the source
    /// addresses they come from, and the bytes their buffers hold together.
    pub fn half_open(&self) -> (usize, usize, usize) {
        (
            self.half_open.total(),
            self.half_open.addresses(),
            self.half_open.buffered(),
        )
    }

    /// Sessions in the session-ID cache.
    pub fn cached_sessions(&self) -> usize {
        self.cache.len()
    }

    /// Counters.
    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }
}
