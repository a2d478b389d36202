//! Test harness: one client Connection and one server Endpoint joined by an in-memory link
//! with a virtual clock, optional loss, reordering and latency (quinn's `Pair`, smoltcp's fault
//! injector).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use simbridge::dtls::config::{ClientConfig, ServerConfig, StaticPsk};
use simbridge::dtls::rng::SeededRng;
use simbridge::dtls::{CipherSuite, Connection, Endpoint, Event};
use simbridge::secret::SecretVec;

pub const PSK: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

pub fn static_psk() -> Arc<StaticPsk> {
    Arc::new(StaticPsk {
        identity: b"client1".to_vec(),
        key: SecretVec::new(PSK.to_vec()),
    })
}

pub fn client_config(suites: &[CipherSuite], seed: u64) -> ClientConfig {
    let mut c = ClientConfig::new(static_psk());
    c.common.suites = suites.to_vec();
    c.common.rng = Arc::new(SeededRng::new(seed));
    c
}

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
    pub lost: Vec<usize>,
    pub reorder: bool,
    pub loss_every: Option<usize>,
    pub sent: usize,
}

impl Link {
    fn pass(&mut self) -> bool {
        let i = self.sent;
        self.sent += 1;
        !(self.lost.contains(&i) || self.loss_every.is_some_and(|n| i % n == n - 1))
    }
}

pub struct Pair {
    pub now: Instant,
    pub client: Connection,
    pub server: Endpoint,
    pub client_addr: SocketAddr,
    pub c2s: Link,
    pub s2c: Link,
    pub client_events: Vec<Event>,
    pub server_events: Vec<(SocketAddr, Event)>,
    /// UDP payload sizes that crossed the link each way (after loss).
    pub c2s_sizes: Vec<usize>,
    pub s2c_sizes: Vec<usize>,
    pub latency: Duration,
}

impl Pair {
    pub fn new(client: ClientConfig, server: ServerConfig) -> Self {
        let now = Instant::now();
        let client = Connection::client(Arc::new(client), now).expect("client starts");
        let server = Endpoint::new(Arc::new(server)).expect("endpoint");
        Self {
            now,
            client,
            server,
            client_addr: "127.0.0.1:40000".parse().unwrap(),
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

    /// Runs until nothing moves and no timer is pending, firing timers on the virtual clock.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            if self.step() {
                continue;
            }
            let t = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match t {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                }
                None => return,
            }
        }
        panic!("link never went idle");
    }

    pub fn client_connected(&self) -> Option<CipherSuite> {
        self.client_events.iter().find_map(|e| match e {
            Event::Connected { suite, .. } => Some(*suite),
            _ => None,
        })
    }

    pub fn server_connected(&self) -> bool {
        self.server_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Connected { .. }))
    }

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
