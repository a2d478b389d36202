//! A UDP relay on loopback between one client and one server, for the interop tests and the
//! wire benchmark: counts datagrams and UDP-payload bytes each way and flights (runs of
//! datagrams in one direction), and can drop (seeded percentage or given datagram numbers),
//! reorder (hold one datagram back until the next one in the same direction, or a short delay)
//! and duplicate datagrams, and rebind its outbound socket as a NAT does (now, every N
//! datagrams, or at the client's next datagram). Real sockets, so it lives with the tests, not
//! in the sans-IO engine.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// IPv4 + UDP header bytes added to every datagram on the wire.
pub const IP_UDP_OVERHEAD: u64 = 28;

/// What the relay does to traffic. The default forwards everything unchanged.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Seed of the relay's RNG (drop/reorder/duplicate decisions), so a run can be repeated.
    pub seed: u64,
    /// Percentage of datagrams dropped at random, each direction.
    pub drop_percent: u8,
    /// Client→server datagram numbers (1-based, counted as they arrive) always dropped.
    pub drop_c2s: Vec<u64>,
    /// Server→client datagram numbers (1-based) always dropped.
    pub drop_s2c: Vec<u64>,
    /// Percentage of datagrams held back and sent after the next one in the same direction.
    pub reorder_percent: u8,
    /// Longest a held datagram waits for a successor before it is sent anyway.
    pub hold: Duration,
    /// Percentage of datagrams sent twice.
    pub duplicate_percent: u8,
    /// NAT rebinding: every this many client→server datagrams the relay forwards from a new
    /// source port (0: never).
    pub rebind_every: u64,
    /// When the client's source address changes, forward from a new source port too (a NAT in
    /// front of a client that moved): the server sees the rebinding.
    pub follow_client: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            drop_percent: 0,
            drop_c2s: Vec::new(),
            drop_s2c: Vec::new(),
            reorder_percent: 0,
            hold: Duration::from_millis(150),
            duplicate_percent: 0,
            rebind_every: 0,
            follow_client: false,
        }
    }
}

impl RelayConfig {
    /// The handshake stress of the interop tests: the second client→server and third
    /// server→client datagrams dropped (the ClientHello with cookie and the server's last
    /// flight), 30 % reordered, `duplicate_percent` duplicated.
    pub fn lossy(seed: u64, duplicate_percent: u8) -> Self {
        Self {
            seed,
            drop_c2s: vec![2],
            drop_s2c: vec![3],
            reorder_percent: 30,
            duplicate_percent,
            ..Self::default()
        }
    }
}

/// Counters for one direction.
#[derive(Debug, Clone, Default)]
pub struct DirStats {
    /// Datagrams that arrived at the relay.
    pub datagrams: u64,
    /// UDP-payload bytes that arrived at the relay.
    pub bytes: u64,
    /// Datagrams dropped.
    pub dropped: u64,
    /// Datagrams sent out of order (after their successor).
    pub reordered: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Payload size of every datagram that arrived, in order.
    pub sizes: Vec<usize>,
}

impl DirStats {
    /// IP bytes on the wire: payload + 28 per datagram.
    pub fn ip_bytes(&self) -> u64 {
        self.bytes + IP_UDP_OVERHEAD * self.datagrams
    }
}

/// Everything the relay counted so far.
#[derive(Debug, Clone, Default)]
pub struct RelayStats {
    /// Client to server.
    pub c2s: DirStats,
    /// Server to client.
    pub s2c: DirStats,
    /// Runs of consecutive datagrams in one direction (a flight each when nothing is lost).
    pub flights: u64,
    /// NAT rebindings made.
    pub rebinds: u64,
    /// The local port of every outbound socket the server saw, the first one and one more per
    /// rebinding.
    pub outbound_ports: Vec<u16>,
    /// Every datagram that arrived, both directions in arrival order, with its first record
    /// header (for `simbridge_energy::perf::trace`).
    pub log: Vec<simbridge_energy::perf::Datagram>,
    last_dir: Option<bool>,
}

impl RelayStats {
    /// Datagrams both ways.
    pub fn datagrams(&self) -> u64 {
        self.c2s.datagrams + self.s2c.datagrams
    }
    /// UDP-payload bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.c2s.bytes + self.s2c.bytes
    }
    /// IP bytes both ways.
    pub fn ip_bytes(&self) -> u64 {
        self.c2s.ip_bytes() + self.s2c.ip_bytes()
    }
    /// Dropped both ways.
    pub fn dropped(&self) -> u64 {
        self.c2s.dropped + self.s2c.dropped
    }
}

/// splitmix64: tiny, seeded, good enough to pick datagrams.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn percent(&mut self, p: u8) -> bool {
        p > 0 && self.next() % 100 < u64::from(p)
    }
}

/// A running relay; stops (and joins its thread) on drop.
pub struct Relay {
    rebind_now: Arc<AtomicBool>,
    rebind_next: Arc<AtomicBool>,
    addr: SocketAddr,
    stats: Arc<Mutex<RelayStats>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Worker {
    rebind_now: Arc<AtomicBool>,
    rebind_next: Arc<AtomicBool>,
    cfg: RelayConfig,
    server: SocketAddr,
    front: UdpSocket,
    back: UdpSocket,
    client: Option<SocketAddr>,
    /// Held datagram per direction (index 0: c2s, 1: s2c) and when it must go anyway.
    held: [Option<(Vec<u8>, Instant)>; 2],
    rng: Rng,
    stats: Arc<Mutex<RelayStats>>,
}

impl Worker {
    fn send(&self, c2s: bool, data: &[u8]) {
        if c2s {
            let _ = self.back.send(data);
        } else if let Some(c) = self.client {
            let _ = self.front.send_to(data, c);
        }
    }

    fn handle(&mut self, c2s: bool, data: Vec<u8>) {
        let n = {
            let mut s = self.stats.lock().expect("relay stats");
            if s.last_dir != Some(c2s) {
                s.flights += 1;
                s.last_dir = Some(c2s);
            }
            let d = s.dir(c2s);
            d.datagrams += 1;
            d.bytes += data.len() as u64;
            d.sizes.push(data.len());
            let n = d.datagrams;
            s.log
                .push(simbridge_energy::perf::Datagram::parse(c2s, &data));
            n
        };
        if c2s && self.cfg.rebind_every > 0 && n % self.cfg.rebind_every == 0 {
            self.rebind();
        }
        let listed = if c2s {
            self.cfg.drop_c2s.contains(&n)
        } else {
            self.cfg.drop_s2c.contains(&n)
        };
        // Draw every decision for every datagram so that a run is reproducible from the seed.
        let drop = self.rng.percent(self.cfg.drop_percent) || listed;
        let dup = self.rng.percent(self.cfg.duplicate_percent) && !drop;
        let hold = self.rng.percent(self.cfg.reorder_percent);
        let i = usize::from(!c2s);
        let mut out = Vec::new();
        let mut reordered = false;
        if !drop {
            if let Some((old, _)) = self.held[i].take() {
                out.push(data.clone());
                out.push(old);
                reordered = true;
            } else if hold {
                self.held[i] = Some((data.clone(), Instant::now() + self.cfg.hold));
            } else {
                out.push(data.clone());
            }
            if dup {
                out.push(data);
            }
        }
        {
            let mut s = self.stats.lock().expect("relay stats");
            let d = s.dir(c2s);
            d.dropped += u64::from(drop);
            d.reordered += u64::from(reordered);
            d.duplicated += u64::from(dup);
        }
        for o in &out {
            self.send(c2s, o);
        }
    }

    /// A new outbound socket: the server sees the client come from another port.
    fn rebind(&mut self) {
        let local = if self.server.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        let Ok(back) = UdpSocket::bind(local) else {
            return;
        };
        if back.connect(self.server).is_ok() && back.set_nonblocking(true).is_ok() {
            let port = back.local_addr().map_or(0, |a| a.port());
            self.back = back;
            let mut s = self.stats.lock().expect("relay stats");
            s.rebinds += 1;
            s.outbound_ports.push(port);
        }
    }

    fn run(mut self, stop: Arc<AtomicBool>) {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            if self.rebind_now.swap(false, Ordering::SeqCst) {
                self.rebind();
            }
            let mut idle = true;
            if let Ok((n, from)) = self.front.recv_from(&mut buf) {
                idle = false;
                // The new binding starts with the client's next datagram: whatever the server
                // sent to the old one before was already relayed.
                if self.rebind_next.swap(false, Ordering::SeqCst) {
                    self.rebind();
                }
                if self.cfg.follow_client && self.client.is_some_and(|c| c != from) {
                    self.rebind();
                }
                self.client = Some(from);
                self.handle(true, buf[..n].to_vec());
            }
            if let Ok(n) = self.back.recv(&mut buf) {
                idle = false;
                if self.client.is_some() {
                    self.handle(false, buf[..n].to_vec());
                }
            }
            let now = Instant::now();
            for i in 0..2 {
                if self.held[i].as_ref().is_some_and(|(_, t)| *t <= now) {
                    if let Some((d, _)) = self.held[i].take() {
                        self.send(i == 0, &d);
                    }
                }
            }
            if idle {
                std::thread::sleep(Duration::from_micros(500));
            }
        }
    }
}

impl RelayStats {
    fn dir(&mut self, c2s: bool) -> &mut DirStats {
        if c2s { &mut self.c2s } else { &mut self.s2c }
    }
}

impl Relay {
    /// Starts a relay in front of `server`; clients send to [`Relay::addr`].
    pub fn start(server: SocketAddr, cfg: RelayConfig) -> Relay {
        let local = if server.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        let front = UdpSocket::bind(local).expect("relay bind front");
        let back = UdpSocket::bind(local).expect("relay bind back");
        back.connect(server).expect("relay connect");
        front.set_nonblocking(true).expect("nonblocking");
        back.set_nonblocking(true).expect("nonblocking");
        let addr = front.local_addr().expect("relay addr");
        let stats = Arc::new(Mutex::new(RelayStats {
            outbound_ports: vec![back.local_addr().expect("relay back addr").port()],
            ..RelayStats::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let rebind_now = Arc::new(AtomicBool::new(false));
        let rebind_next = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            rebind_now: rebind_now.clone(),
            rebind_next: rebind_next.clone(),
            server,
            rng: Rng(cfg.seed),
            cfg,
            front,
            back,
            client: None,
            held: [None, None],
            stats: stats.clone(),
        };
        let s = stop.clone();
        let thread = std::thread::spawn(move || worker.run(s));
        Relay {
            rebind_now,
            rebind_next,
            addr,
            stats,
            stop,
            thread: Some(thread),
        }
    }

    /// Rebinds the outbound socket now (a NAT rebinding): the next client→server datagram
    /// leaves from a new source port, and answers to the old one are lost.
    pub fn rebind(&self) {
        self.rebind_now.store(true, Ordering::SeqCst);
    }

    /// Rebinds the outbound socket when the client's next datagram arrives (a NAT that forgot
    /// an idle mapping): the server sees the client move with that datagram.
    pub fn rebind_at_next_datagram(&self) {
        self.rebind_next.store(true, Ordering::SeqCst);
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of the counters now.
    pub fn stats(&self) -> RelayStats {
        self.stats.lock().expect("relay stats").clone()
    }

    /// Waits until `pred` holds for the counters, at most `timeout`; returns the last snapshot.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&RelayStats) -> bool) -> RelayStats {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats();
            if pred(&s) || Instant::now() >= deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
