//! Test harness (feature `testing`): one client [`Connection`] and one server [`Endpoint`]
//! joined by an in-memory link with a virtual clock, optional loss, reordering and latency
//! (quinn's `Pair`, smoltcp's fault injector), plus builders of raw plaintext records for tests
//! that feed the engine malformed or hand-made handshakes.
//!
//! For tests only: it panics when the link never goes idle or a hand-made record cannot be
//! parsed back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{ClientConfig, ServerConfig, StaticPsk};
use crate::rng::SeededRng;
use crate::secret::SecretVec;
use crate::{CipherSuite, Connection, Endpoint, Event};

/// The key of [`static_psk`] (16 bytes, 0..=15).
pub const PSK: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// Identity `client1` with [`PSK`], for both sides.
pub fn static_psk() -> Arc<StaticPsk> {
    Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(PSK.to_vec()),
    })
}

/// A client offering `suites`, keyed by [`static_psk`], randomness seeded with `seed`.
pub fn client_config(suites: &[CipherSuite], seed: u64) -> ClientConfig {
    let mut c = ClientConfig::new(static_psk());
    c.common.suites = suites.to_vec();
    c.common.rng = Arc::new(SeededRng::new(seed));
    c
}

/// A server accepting `suites`, keyed by [`static_psk`], randomness seeded with `seed`.
pub fn server_config(suites: &[CipherSuite], seed: u64) -> ServerConfig {
    let mut c = ServerConfig::new(static_psk());
    c.common.suites = suites.to_vec();
    c.common.rng = Arc::new(SeededRng::new(seed));
    c
}

/// A deterministic link: drops every datagram whose index is in `drop`, and with
/// `reorder` swaps each pair of datagrams sent in the same step.
#[derive(Default, Clone)]
pub struct Link {
    /// Indexes (0-based, in sending order) of the datagrams to drop.
    pub lost: Vec<usize>,
    /// Deliver the datagrams of one step in reverse order.
    pub reorder: bool,
    /// Drop every n-th datagram.
    pub loss_every: Option<usize>,
    /// Datagrams offered to the link so far.
    pub sent: usize,
}

impl Link {
    fn pass(&mut self) -> bool {
        let i = self.sent;
        self.sent += 1;
        !(self.lost.contains(&i) || self.loss_every.is_some_and(|n| i % n == n - 1))
    }
}

/// A client connection and a server endpoint on one in-memory link with a virtual clock.
pub struct Pair {
    /// The virtual clock.
    pub now: Instant,
    /// The client side.
    pub client: Connection,
    /// The server side.
    pub server: Endpoint,
    /// The address the server sees the client at.
    pub client_addr: SocketAddr,
    /// Client to server.
    pub c2s: Link,
    /// Server to client.
    pub s2c: Link,
    /// Every event the client produced, in order.
    pub client_events: Vec<Event>,
    /// Every event the server produced, with the peer address.
    pub server_events: Vec<(SocketAddr, Event)>,
    /// UDP payload sizes that crossed the link each way (after loss).
    pub c2s_sizes: Vec<usize>,
    /// UDP payload sizes that crossed the link server to client (after loss).
    pub s2c_sizes: Vec<usize>,
    /// One-way delay added to the clock per step that moves datagrams.
    pub latency: Duration,
}

impl Pair {
    /// Starts the client (its first flight is pending) beside a fresh endpoint.
    pub fn new(client: ClientConfig, server: ServerConfig) -> Self {
        let now = Instant::now();
        let client = Connection::client(Arc::new(client), now).expect("client starts");
        let server = Endpoint::new(Arc::new(server)).expect("endpoint");
        Self {
            now,
            client,
            server,
            client_addr: SocketAddr::from(([127, 0, 0, 1], 40000)),
            c2s: Link::default(),
            s2c: Link::default(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            c2s_sizes: Vec::new(),
            s2c_sizes: Vec::new(),
            latency: Duration::from_millis(10),
        }
    }

    /// Moves datagrams both ways once; true if anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        let mut batch = Vec::new();
        while let Some(d) = self.client.poll_transmit() {
            batch.push(d);
        }
        if self.c2s.reorder && batch.len() > 1 {
            batch.reverse();
        }
        if !batch.is_empty() {
            self.now += self.latency;
        }
        for d in batch {
            moved = true;
            if self.c2s.pass() {
                self.c2s_sizes.push(d.len());
                self.server.handle_datagram(self.now, self.client_addr, &d);
            }
        }
        let mut batch = Vec::new();
        while let Some(t) = self.server.poll_transmit() {
            assert_eq!(t.destination, self.client_addr);
            batch.push(t.payload);
        }
        if self.s2c.reorder && batch.len() > 1 {
            batch.reverse();
        }
        if !batch.is_empty() {
            self.now += self.latency;
        }
        for d in batch {
            moved = true;
            if self.s2c.pass() {
                self.s2c_sizes.push(d.len());
                self.client.handle_datagram(self.now, &d);
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
        moved
    }

    /// Like [`Pair::drive`], but every datagram goes through `f` both ways (which may drop,
    /// alter or add), without the link's loss and latency.
    pub fn drive_with(&mut self, mut f: impl FnMut(Vec<u8>) -> Vec<Vec<u8>>) {
        for _ in 0..10_000 {
            if self.c2s_with(&mut f) + self.s2c_with(&mut f) > 0 {
                continue;
            }
            match self.next_timer() {
                Some(t) => self.fire_timers(t),
                None => return,
            }
        }
        // A test harness: a link that never settles is the failure to report (a retransmission
        // loop), and the caller is a test.
        panic!("link never went idle");
    }

    fn next_timer(&self) -> Option<Instant> {
        [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn fire_timers(&mut self, t: Instant) {
        self.now = self.now.max(t);
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }

    /// Runs until nothing moves and no timer is pending, firing timers on the virtual clock.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            if self.step() {
                continue;
            }
            match self.next_timer() {
                Some(t) => self.fire_timers(t),
                None => return,
            }
        }
        // as in `drive_with`: a test harness reports a link that never settles
        panic!("link never went idle");
    }

    /// The suite of the client's `Connected` event, if any.
    pub fn client_connected(&self) -> Option<CipherSuite> {
        self.client_events.iter().find_map(|e| match e {
            Event::Connected { suite, .. } => Some(*suite),
            _ => None,
        })
    }

    /// Whether the server reported a `Connected` event.
    pub fn server_connected(&self) -> bool {
        self.server_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Connected { .. }))
    }

    /// Application data the client received, in order.
    pub fn client_data(&self) -> Vec<Vec<u8>> {
        self.client_events
            .iter()
            .filter_map(|e| {
                if let Event::Data(d) = e {
                    Some(d.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    /// Application data the server received, in order.
    pub fn server_data(&self) -> Vec<Vec<u8>> {
        self.server_events
            .iter()
            .filter_map(|(_, e)| {
                if let Event::Data(d) = e {
                    Some(d.clone())
                } else {
                    None
                }
            })
            .collect()
    }
}

impl Pair {
    /// Delivers the client's pending datagrams through `f` (which may drop, alter or add).
    pub fn c2s_with(&mut self, mut f: impl FnMut(Vec<u8>) -> Vec<Vec<u8>>) -> usize {
        let mut n = 0;
        while let Some(d) = self.client.poll_transmit() {
            for d in f(d) {
                n += 1;
                self.server.handle_datagram(self.now, self.client_addr, &d);
            }
        }
        self.collect();
        n
    }

    /// Delivers the server's pending datagrams through `f`.
    pub fn s2c_with(&mut self, mut f: impl FnMut(Vec<u8>) -> Vec<Vec<u8>>) -> usize {
        let mut n = 0;
        while let Some(t) = self.server.poll_transmit() {
            for d in f(t.payload) {
                n += 1;
                self.client.handle_datagram(self.now, &d);
            }
        }
        self.collect();
        n
    }

    /// Drains both sides' pending events into `client_events` / `server_events`.
    pub fn collect(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    /// Why the client closed, if it did.
    pub fn client_closed(&self) -> Option<crate::CloseReason> {
        self.client_events.iter().find_map(|e| match e {
            Event::Closed { reason } => Some(reason.clone()),
            _ => None,
        })
    }

    /// Why the server closed a connection, if it did.
    pub fn server_closed(&self) -> Option<crate::CloseReason> {
        self.server_events.iter().find_map(|(_, e)| match e {
            Event::Closed { reason } => Some(reason.clone()),
            _ => None,
        })
    }
}

/// Passes datagrams unchanged.
pub fn pass(d: Vec<u8>) -> Vec<Vec<u8>> {
    vec![d]
}

/// Splits a datagram into raw records.
pub fn records(d: &[u8]) -> Vec<Vec<u8>> {
    let (recs, _) = crate::wire::record::split_datagram(d);
    recs.iter()
        .map(|r| {
            let mut v = Vec::new();
            r.header.encode(&mut v);
            v.extend_from_slice(r.fragment);
            v
        })
        .collect()
}

/// A plaintext epoch-0 record.
pub fn plain_record(ct: crate::wire::record::ContentType, seq: u64, payload: &[u8]) -> Vec<u8> {
    use crate::wire::record::{DTLS12, RecordHeader};
    let mut v = Vec::new();
    RecordHeader {
        content_type: ct,
        version: DTLS12,
        epoch: 0,
        seq,
        length: payload.len() as u16,
    }
    .encode(&mut v);
    v.extend_from_slice(payload);
    v
}

/// A plaintext handshake record holding one whole message.
pub fn plain_handshake(
    seq_rec: u64,
    t: crate::wire::handshake::HandshakeType,
    msg_seq: u16,
    body: &[u8],
) -> Vec<u8> {
    let msg = crate::wire::handshake::encode_full(t, msg_seq, body);
    plain_record(crate::wire::record::ContentType::Handshake, seq_rec, &msg)
}

/// A plaintext record holding one handshake fragment (any claimed length and offset).
pub fn plain_fragment(
    seq_rec: u64,
    t: crate::wire::handshake::HandshakeType,
    msg_seq: u16,
    length: u32,
    offset: u32,
    body: &[u8],
) -> Vec<u8> {
    let mut payload = Vec::new();
    crate::wire::handshake::Fragment {
        msg_type: t,
        length,
        message_seq: msg_seq,
        offset,
        body,
    }
    .encode(&mut payload);
    plain_record(
        crate::wire::record::ContentType::Handshake,
        seq_rec,
        &payload,
    )
}

/// Rewrites the ServerHello in the first record of the server's flight-4 datagram; the
/// datagram's other records (ServerHelloDone in its own record, by default) follow unchanged.
pub fn rewrite_server_hello(
    d: &[u8],
    f: impl FnOnce(&mut crate::wire::hello::ServerHello),
) -> Vec<u8> {
    use crate::wire::handshake::{HandshakeType, encode_full, parse_fragments};
    use crate::wire::hello::ServerHello;
    use crate::wire::record::{ContentType, split_datagram};
    let (recs, _) = split_datagram(d);
    let rec = recs[0];
    let mut payload = Vec::new();
    let mut f = Some(f);
    // the datagram is our own server's flight 4, so it parses
    let frags = parse_fragments(rec.fragment).expect("flight 4 from our server parses");
    for frag in frags {
        let rewrite = match frag.msg_type {
            HandshakeType::ServerHello => f.take(),
            _ => None,
        };
        if let Some(f) = rewrite {
            let mut sh = ServerHello::parse(frag.body).expect("our ServerHello parses");
            f(&mut sh);
            payload.extend_from_slice(&encode_full(
                HandshakeType::ServerHello,
                frag.message_seq,
                &sh.encode(),
            ));
        } else {
            frag.encode(&mut payload);
        }
    }
    let mut out = plain_record(ContentType::Handshake, rec.header.seq, &payload);
    for r in &recs[1..] {
        r.header.encode(&mut out);
        out.extend_from_slice(r.fragment);
    }
    out
}
