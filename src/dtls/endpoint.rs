//! Server endpoint: many connections on one socket, routed by peer address (by Connection ID
//! in the next issue). It keeps no per-client state before a valid cookie, and limits the
//! number of connections and the rate of new handshakes.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::config::ServerConfig;
use super::conn::{AcceptedHello, Connection};
use super::cookie::CookieKeys;
use super::error::Error;
use super::event::Event;
use super::wire::handshake::{encode_full, parse_fragments, HandshakeType};
use super::wire::hello::{ClientHello, HelloVerifyRequest};
use super::wire::record::{split_datagram, ContentType, RecordHeader, DTLS10};
use crate::secret::SecretVec;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// UDP payload.
    pub payload: Vec<u8>,
}

/// Endpoint counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EndpointStats {
    /// HelloVerifyRequests sent.
    pub hello_verify_sent: u64,
    /// ClientHellos with a wrong or stale cookie.
    pub bad_cookies: u64,
    /// Valid hellos refused by the handshake rate limit.
    pub rate_limited: u64,
    /// Valid hellos refused by the connection limit.
    pub connection_limited: u64,
    /// Datagrams from unknown peers that were not a ClientHello.
    pub unknown_peer: u64,
    /// Connections accepted.
    pub accepted: u64,
}

struct TokenBucket {
    tokens: f64,
    last: Option<Instant>,
}

/// The server side of one UDP socket.
pub struct Endpoint {
    config: Arc<ServerConfig>,
    conns: HashMap<SocketAddr, Connection>,
    cookies: CookieKeys,
    bucket: TokenBucket,
    out: VecDeque<Transmit>,
    events: VecDeque<(SocketAddr, Event)>,
    stats: EndpointStats,
}

/// Highest message_seq a new ClientHello may carry.
const MAX_HELLO_SEQ: u16 = 8;

/// A ClientHello found at the start of a datagram (unfragmented, epoch 0).
struct Hello {
    hello: ClientHello,
    message_seq: u16,
    record_seq: u64,
    datagram_len: usize,
}

fn peek_client_hello(data: &[u8]) -> Option<Hello> {
    let (records, _) = split_datagram(data);
    let rec = records.first()?;
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
        let tokens = f64::from(config.handshakes_per_second);
        Ok(Self {
            config,
            conns: HashMap::new(),
            cookies,
            bucket: TokenBucket { tokens, last: None },
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: EndpointStats::default(),
        })
    }

    fn take_token(&mut self, now: Instant) -> bool {
        let rate = f64::from(self.config.handshakes_per_second);
        if let Some(last) = self.bucket.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.bucket.tokens = (self.bucket.tokens + dt * rate).min(rate);
        }
        self.bucket.last = Some(now);
        if self.bucket.tokens >= 1.0 {
            self.bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Feeds a datagram received from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.cookies
            .maybe_rotate(now, self.config.common.rng.as_ref());
        if let Some(h) = peek_client_hello(data) {
            let same = self
                .conns
                .get(&from)
                .is_some_and(|c| c.client_random() == &h.hello.random);
            if !same {
                self.on_new_hello(now, from, h);
                return;
            }
        }
        match self.conns.get_mut(&from) {
            Some(c) => {
                c.handle_datagram(now, data);
                self.drain(from);
            }
            None => self.stats.unknown_peer += 1,
        }
    }

    fn on_new_hello(&mut self, now: Instant, from: SocketAddr, h: Hello) {
        if !self.cookies.verify(&from, &h.hello) {
            if !h.hello.cookie.is_empty() {
                self.stats.bad_cookies += 1;
            }
            self.send_hello_verify(from, &h);
            return;
        }
        if !self.conns.contains_key(&from) && self.conns.len() >= self.config.max_connections {
            self.stats.connection_limited += 1;
            return;
        }
        if !self.take_token(now) {
            self.stats.rate_limited += 1;
            return;
        }
        // a valid new hello from a known address: the client restarted (RFC 6347 §4.2.8)
        let accepted = AcceptedHello {
            hello: h.hello,
            message_seq: h.message_seq,
            record_seq: h.record_seq,
            datagram_len: h.datagram_len,
        };
        let conn = Connection::server(self.config.clone(), now, &accepted);
        self.stats.accepted += 1;
        self.conns.insert(from, conn);
        self.drain(from);
    }

    fn send_hello_verify(&mut self, to: SocketAddr, h: &Hello) {
        let cookie = self.cookies.make(&to, &h.hello);
        let body = HelloVerifyRequest {
            version: DTLS10,
            cookie,
        }
        .encode();
        let msg = encode_full(HandshakeType::HelloVerifyRequest, h.message_seq, &body);
        let mut d = Vec::with_capacity(13 + msg.len());
        RecordHeader {
            content_type: ContentType::Handshake,
            version: DTLS10,
            epoch: 0,
            seq: h.record_seq,
            length: msg.len() as u16,
        }
        .encode(&mut d);
        d.extend_from_slice(&msg);
        self.stats.hello_verify_sent += 1;
        self.out.push_back(Transmit {
            destination: to,
            payload: d,
        });
    }

    fn drain(&mut self, addr: SocketAddr) {
        let Some(c) = self.conns.get_mut(&addr) else {
            return;
        };
        while let Some(d) = c.poll_transmit() {
            self.out.push_back(Transmit {
                destination: addr,
                payload: d,
            });
        }
        while let Some(e) = c.poll_event() {
            self.events.push_back((addr, e));
        }
        if c.is_closed() {
            self.conns.remove(&addr);
        }
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
        self.conns
            .values()
            .filter_map(Connection::poll_timeout)
            .min()
    }

    /// Drives the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .conns
            .iter()
            .filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now))
            .map(|(a, _)| *a)
            .collect();
        for a in due {
            if let Some(c) = self.conns.get_mut(&a) {
                c.handle_timeout(now);
            }
            self.drain(a);
        }
    }

    /// Sends one application record to `to`.
    pub fn send(&mut self, to: SocketAddr, data: &[u8]) -> Result<(), Error> {
        let c = self.conns.get_mut(&to).ok_or(Error::Closed)?;
        c.send(data)?;
        self.drain(to);
        Ok(())
    }

    /// Closes the connection with `addr` (close_notify).
    pub fn close(&mut self, addr: SocketAddr) {
        if let Some(c) = self.conns.get_mut(&addr) {
            c.close();
        }
        self.drain(addr);
    }

    /// Answers a `PskRequested` event of `addr`: `None` means unknown identity.
    pub fn provide_psk(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        key: Option<SecretVec>,
    ) -> Result<(), Error> {
        let c = self.conns.get_mut(&addr).ok_or(Error::Closed)?;
        c.provide_server_psk(now, key)?;
        self.drain(addr);
        Ok(())
    }

    /// The connection with `addr`, if any.
    pub fn connection(&self, addr: &SocketAddr) -> Option<&Connection> {
        self.conns.get(addr)
    }

    /// Connections held (established or handshaking).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Counters.
    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }
}
