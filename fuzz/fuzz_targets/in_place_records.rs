//! Established connections fed the same datagrams two ways: the copying path
//! (`handle_datagram`: records copied, data queued as `Event::Data`) on one side, and the
//! caller-owned-buffer path (`handle_datagram_in_place`: records opened where they lie, data
//! handed to a closure) on a twin. Both twins are imported from the same state exports of one
//! in-memory handshake (made once per suite and CID choice, then cached), so they hold the same
//! keys and sequence numbers. Client and server (the `Endpoint`) both.
//!
//! Input: a first byte picks the suite, whether the client asks for a Connection ID and its
//! length; then operations, each an op byte, a length byte and that many bytes:
//! - 0/1: the bytes as a datagram to the client / to the server;
//! - 2/3: the server / client seals the bytes as application data (both twins, which must seal
//!   the same record), and the other side receives it, with one byte flipped when the op byte's
//!   bit 3 is set (at the index in its high bits), or packed behind the previous datagram;
//! - 4/5: the last datagram the client / server received, again (a replay);
//! - 6: the server sees the next datagrams from another address (a NAT rebinding);
//! - 7: the clock moves on by the length byte's seconds, and both twins' timers fire.
//!
//! Asserts: no panic; both paths deliver the same data in the same order, the same events, the
//! same counters, and send the same datagrams.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use simbridge_dtls::export::{ImportRole, MemoryLedger};
use simbridge_dtls::testing::{self, Pair};
use simbridge_dtls::{CipherSuite, Connection, Endpoint, Event};

/// The suites without ECDHE: the record layer is the same after either key exchange.
const SUITES: [CipherSuite; 3] = [
    CipherSuite::PskAes128Ccm8,
    CipherSuite::PskAes128Ccm,
    CipherSuite::PskAes128GcmSha256,
];

/// The key the harness seals its state exports with.
const KEY: &[u8] = b"in_place_records fuzz export key";

/// A pair past its handshake, or None if the seeds do not get there.
fn established(suite: CipherSuite, cid: Option<usize>) -> Option<Pair> {
    let mut p = Pair::new(client_config(suite, cid), testing::server_config(&[suite], 2));
    for _ in 0..64 {
        if !p.step() {
            break;
        }
    }
    (p.client.is_established() && p.server_connected()).then_some(p)
}

fn client_config(suite: CipherSuite, cid: Option<usize>) -> simbridge_dtls::ClientConfig {
    let mut c = testing::client_config(&[suite], 1);
    c.connection_id = cid;
    c
}

/// Both sides of one established handshake, exported.
struct Exports {
    client: Vec<u8>,
    server: Vec<u8>,
    client_addr: SocketAddr,
}

/// The exports for a suite and CID choice: a handshake the first time, the cache after.
fn exports(suite: CipherSuite, cid: Option<usize>) -> Option<Arc<Exports>> {
    type Cache = Mutex<HashMap<(u16, Option<usize>), Option<Arc<Exports>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().ok()?;
    cache
        .entry((suite.iana(), cid))
        .or_insert_with(|| {
            let mut p = established(suite, cid)?;
            Some(Arc::new(Exports {
                client: p.client.export_state(KEY, 1 << 16).ok()?,
                server: p.server.save_all(KEY, 1 << 16).ok()?,
                client_addr: p.client_addr,
            }))
        })
        .clone()
}

/// One twin: a client and a server endpoint imported from [`Exports`], and its clock.
struct Side {
    now: Instant,
    client: Connection,
    server: Endpoint,
}

impl Side {
    fn import(e: &Exports, suite: CipherSuite, cid: Option<usize>) -> Option<Self> {
        let role = ImportRole::Client(Arc::new(client_config(suite, cid)));
        let client =
            Connection::import_state(&e.client, KEY, role, &mut MemoryLedger::default()).ok()?;
        let mut server = Endpoint::new(Arc::new(testing::server_config(&[suite], 2))).ok()?;
        server
            .load_all_with(&e.server, KEY, &mut MemoryLedger::default())
            .ok()?;
        Some(Self {
            now: Instant::now(),
            client,
            server,
        })
    }
}

/// Everything a receive left behind: delivered data (in order, whichever way it came), the
/// other events, and the datagrams it made the receiver send.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    data: Vec<Vec<u8>>,
    events: Vec<Event>,
    sent: Vec<Vec<u8>>,
}

fn drain_client(p: &mut Side, seen: &mut Seen) {
    while let Some(e) = p.client.poll_event() {
        match e {
            Event::Data(d) => seen.data.push(d),
            e => seen.events.push(e),
        }
    }
    while let Some(d) = p.client.poll_transmit() {
        seen.sent.push(d);
    }
}

fn drain_server(p: &mut Side, seen: &mut Seen) {
    while let Some((_, e)) = p.server.poll_event() {
        match e {
            Event::Data(d) => seen.data.push(d),
            e => seen.events.push(e),
        }
    }
    while let Some(t) = p.server.poll_transmit() {
        seen.sent.push(t.payload);
    }
}

/// The twins: `a` takes the copying path, `b` the in-place one.
struct Twins {
    a: Side,
    b: Side,
    from: SocketAddr,
    to_client: Vec<u8>,
    to_server: Vec<u8>,
}

impl Twins {
    fn client_receives(&mut self, d: Vec<u8>) {
        let (mut sa, mut sb) = (Seen::default(), Seen::default());
        self.a.client.handle_datagram(self.a.now, &d);
        drain_client(&mut self.a, &mut sa);
        let mut buf = d.clone();
        let data = &mut sb.data;
        self.b
            .client
            .handle_datagram_in_place(self.b.now, &mut buf, |x| data.push(x.to_vec()));
        drain_client(&mut self.b, &mut sb);
        assert_eq!(sa, sb, "client: copying and in-place paths differ");
        assert_eq!(self.a.client.stats(), self.b.client.stats());
        self.to_client = d;
    }

    fn server_receives(&mut self, d: Vec<u8>) {
        let (mut sa, mut sb) = (Seen::default(), Seen::default());
        self.a.server.handle_datagram(self.a.now, self.from, &d);
        drain_server(&mut self.a, &mut sa);
        let mut buf = d.clone();
        let data = &mut sb.data;
        self.b
            .server
            .handle_datagram_in_place(self.b.now, self.from, &mut buf, |_, x| {
                data.push(x.to_vec())
            });
        drain_server(&mut self.b, &mut sb);
        assert_eq!(sa, sb, "server: copying and in-place paths differ");
        assert_eq!(self.a.server.stats(), self.b.server.stats());
        self.to_server = d;
    }

    /// One record the server seals on both twins (the same bytes, or the twins diverged).
    fn server_seals(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        // wherever the server has the client now (it may have moved with its CID)
        let to = self.a.server.connections().next().map_or(self.from, |(a, _)| a);
        let ra = self.a.server.send(to, payload).ok().map(|_| ());
        let rb = self.b.server.send(to, payload).ok().map(|_| ());
        assert_eq!(ra, rb);
        let da = self.a.server.poll_transmit().map(|t| t.payload);
        let db = self.b.server.poll_transmit().map(|t| t.payload);
        assert_eq!(da, db, "the twin servers sealed different records");
        da
    }

    fn client_seals(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let ra = self.a.client.send(payload).ok();
        let rb = self.b.client.send(payload).ok();
        assert_eq!(ra.is_some(), rb.is_some());
        let da = self.a.client.poll_transmit();
        let db = self.b.client.poll_transmit();
        assert_eq!(da, db, "the twin clients sealed different records");
        da
    }

    fn tick(&mut self, secs: u8) {
        for p in [&mut self.a, &mut self.b] {
            p.now += Duration::from_secs(u64::from(secs));
            p.client.handle_timeout(p.now);
            p.server.handle_timeout(p.now);
        }
        let (mut sa, mut sb) = (Seen::default(), Seen::default());
        drain_client(&mut self.a, &mut sa);
        drain_server(&mut self.a, &mut sa);
        drain_client(&mut self.b, &mut sb);
        drain_server(&mut self.b, &mut sb);
        assert_eq!(sa, sb, "the twins' timers differ");
    }
}

/// Flips one byte of `d` (an index taken modulo its length), or packs `d` behind `prev`.
fn alter(op: u8, prev: &[u8], mut d: Vec<u8>) -> Vec<u8> {
    if op & 0x08 != 0 && !d.is_empty() {
        let i = usize::from(op >> 4) * 7 % d.len();
        d[i] ^= 0x01 << (op >> 5);
    } else if op & 0x10 != 0 {
        let mut packed = prev.to_vec();
        packed.extend_from_slice(&d);
        return packed;
    }
    d
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut ops)) = data.split_first() else {
        return;
    };
    let suite = SUITES[usize::from(pick & 0x03) % SUITES.len()];
    let cid = (pick & 0x04 != 0).then_some(usize::from(pick >> 4));
    let Some(e) = exports(suite, cid) else {
        return;
    };
    let (Some(a), Some(b)) = (Side::import(&e, suite, cid), Side::import(&e, suite, cid)) else {
        return;
    };
    let mut t = Twins {
        a,
        b,
        from: e.client_addr,
        to_client: Vec::new(),
        to_server: Vec::new(),
    };
    while let [op, len, rest @ ..] = ops {
        let n = usize::from(*len).min(rest.len());
        let (bytes, tail) = rest.split_at(n);
        ops = tail;
        match op & 0x07 {
            0 => t.client_receives(bytes.to_vec()),
            1 => t.server_receives(bytes.to_vec()),
            2 => {
                if let Some(d) = t.server_seals(bytes) {
                    let d = alter(*op, &t.to_client, d);
                    t.client_receives(d);
                }
            }
            3 => {
                if let Some(d) = t.client_seals(bytes) {
                    let d = alter(*op, &t.to_server, d);
                    t.server_receives(d);
                }
            }
            4 => t.client_receives(t.to_client.clone()),
            5 => t.server_receives(t.to_server.clone()),
            6 => t.from = SocketAddr::from(([127, 0, 0, 2], 40000 + u16::from(*len))),
            _ => t.tick(*len),
        }
    }
});
