//! Harness for interop tests against real peer processes on loopback: finding the peer (fail
//! loudly when SIMBRIDGE_REQUIRE_PEERS is set), a kill-on-drop process guard, stdout lines with
//! timeouts, and UDP drivers for our sans-IO client and endpoint.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use simbridge::dtls::{ClientConfig, Connection, Endpoint, Event, ServerConfig};

/// A built peer program in `.peers/`, or `None` (after printing why) when it is missing and
/// peers are optional. Panics when SIMBRIDGE_REQUIRE_PEERS is non-empty and it is missing.
pub fn peer_bin(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".peers")
        .join(name);
    if p.is_file() {
        return Some(p);
    }
    let why = format!(
        "peer {} not built (run scripts/setup.d/30-cid-peers.sh)",
        p.display()
    );
    if std::env::var("SIMBRIDGE_REQUIRE_PEERS").is_ok_and(|v| !v.is_empty()) {
        panic!("{why}, and SIMBRIDGE_REQUIRE_PEERS is set");
    }
    eprintln!("SKIP: {why}");
    None
}

/// A tool on PATH (openssl ...), with the same missing-peer policy.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = format!("{name} not on PATH");
        if std::env::var("SIMBRIDGE_REQUIRE_PEERS").is_ok_and(|v| !v.is_empty()) {
            panic!("{why}, and SIMBRIDGE_REQUIRE_PEERS is set");
        }
        eprintln!("SKIP: {why}");
    }
    found
}

/// A free UDP port on 127.0.0.1 (bound and released; the race is harmless on loopback tests).
pub fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// A child process killed when dropped; its stdout lines arrive on a channel.
pub struct Peer {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Peer {
    pub fn spawn(bin: &std::path::Path, args: &[&str]) -> Self {
        Self::spawn_cmd(Command::new(bin).args(args))
    }

    pub fn spawn_cmd(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn peer");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(l) = line else { return };
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Collects lines that arrived so far.
    pub fn poll(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            eprintln!("peer: {l}");
            self.seen.push(l);
        }
    }

    /// Waits (at most `t`) for a line containing `s`; returns it.
    pub fn wait_line(&mut self, s: &str, t: Duration) -> Option<String> {
        let end = Instant::now() + t;
        loop {
            self.poll();
            if let Some(l) = self.seen.iter().find(|l| l.contains(s)) {
                return Some(l.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Ok(l) = self.lines.recv_timeout(left.min(Duration::from_millis(50))) {
                eprintln!("peer: {l}");
                self.seen.push(l);
            }
        }
    }

    pub fn has(&mut self, s: &str) -> bool {
        self.poll();
        self.seen.iter().any(|l| l.contains(s))
    }

    /// Waits (at most `t`) for the process to exit; its status.
    pub fn wait_exit(&mut self, t: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + t;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                // the reader thread may still hold the last lines: read to end of stream
                let until = Instant::now() + Duration::from_secs(2);
                while Instant::now() < until {
                    match self.lines.recv_timeout(Duration::from_millis(50)) {
                        Ok(l) => {
                            eprintln!("peer: {l}");
                            self.seen.push(l);
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn stdin(&mut self) -> Option<&mut std::process::ChildStdin> {
        self.child.stdin.as_mut()
    }

    pub fn close_stdin(&mut self) {
        self.child.stdin.take();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our client over a real UDP socket (which the test may swap for a new one: NAT rebinding).
pub struct UdpClient {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub conn: Connection,
    pub events: Vec<Event>,
}

impl UdpClient {
    pub fn connect(cfg: ClientConfig, port: u16) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let conn = Connection::client(Arc::new(cfg), Instant::now()).expect("client");
        Self {
            sock,
            server: SocketAddr::from(([127, 0, 0, 1], port)),
            conn,
            events: Vec::new(),
        }
    }

    /// A new socket, so the next datagrams come from a new source port.
    pub fn rebind(&mut self) -> SocketAddr {
        self.sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        self.sock.local_addr().expect("addr")
    }

    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("addr")
    }

    /// Runs the connection until `done` holds for the events or `t` passes.
    pub fn run_until(&mut self, t: Duration, mut done: impl FnMut(&[Event]) -> bool) -> bool {
        let end = Instant::now() + t;
        let mut buf = vec![0u8; 65536];
        loop {
            while let Some(d) = self.conn.poll_transmit() {
                let _ = self.sock.send_to(&d, self.server);
            }
            while let Some(e) = self.conn.poll_event() {
                self.events.push(e);
            }
            if done(&self.events) {
                return true;
            }
            if Instant::now() >= end || self.conn.is_closed() {
                return done(&self.events);
            }
            self.sock
                .set_read_timeout(Some(Duration::from_millis(20)))
                .expect("timeout");
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                self.conn.handle_datagram(Instant::now(), &buf[..n]);
            }
            self.conn.handle_timeout(Instant::now());
        }
    }

    pub fn connected(&mut self, t: Duration) -> Option<bool> {
        self.run_until(t, |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Connected { .. } | Event::Closed { .. }))
        });
        self.events.iter().find_map(|e| match e {
            Event::Connected { resumed, .. } => Some(*resumed),
            _ => None,
        })
    }

    /// Sends `msg` and waits for a Data event equal to it (an echo).
    pub fn echo(&mut self, msg: &[u8], t: Duration) -> bool {
        self.conn.send(msg).expect("send");
        let want = msg.to_vec();
        let before = self.data().len();
        self.run_until(t, |ev| {
            ev.iter()
                .filter_map(|e| match e {
                    Event::Data(d) => Some(d),
                    _ => None,
                })
                .skip(before)
                .any(|d| *d == want)
        })
    }

    pub fn data(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Data(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn close(&mut self) {
        self.conn.close();
        while let Some(d) = self.conn.poll_transmit() {
            let _ = self.sock.send_to(&d, self.server);
        }
    }
}

/// Our server endpoint over a real UDP socket; it echoes every record.
pub struct UdpServer {
    pub sock: UdpSocket,
    pub ep: Endpoint,
    pub events: Vec<(SocketAddr, Event)>,
    pub address_changes: Vec<(SocketAddr, SocketAddr)>,
}

impl UdpServer {
    pub fn bind(cfg: ServerConfig) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        Self {
            sock,
            ep: Endpoint::new(Arc::new(cfg)).expect("endpoint"),
            events: Vec::new(),
            address_changes: Vec::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }

    /// Serves (echoing) until `done` holds or `t` passes.
    pub fn serve_until(&mut self, t: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let end = Instant::now() + t;
        let mut buf = vec![0u8; 65536];
        loop {
            while let Some(tx) = self.ep.poll_transmit() {
                let _ = self.sock.send_to(&tx.payload, tx.destination);
            }
            while let Some(c) = self.ep.poll_address_change() {
                self.address_changes.push(c);
            }
            while let Some((a, e)) = self.ep.poll_event() {
                if let Event::Data(d) = &e {
                    let _ = self.ep.send(a, d);
                }
                self.events.push((a, e));
            }
            if self.ep.poll_transmit_pending() {
                continue;
            }
            if done(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            self.sock
                .set_read_timeout(Some(Duration::from_millis(20)))
                .expect("timeout");
            if let Ok((n, from)) = self.sock.recv_from(&mut buf) {
                self.ep.handle_datagram(Instant::now(), from, &buf[..n]);
            }
            self.ep.handle_timeout(Instant::now());
        }
    }

    pub fn connected(&self) -> Vec<(SocketAddr, bool)> {
        self.events
            .iter()
            .filter_map(|(a, e)| match e {
                Event::Connected { resumed, .. } => Some((*a, *resumed)),
                _ => None,
            })
            .collect()
    }

    pub fn data(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Data(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn closed_count(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Closed { .. }))
            .count()
    }
}

/// A NAT stand-in between one client and a server: the client talks to `port`; the relay
/// forwards from its own outbound socket, which `rebind()` replaces (a new source port, as a
/// NAT does after an idle timeout). Stops when dropped.
pub struct NatRelay {
    pub port: u16,
    rebind: Arc<std::sync::atomic::AtomicBool>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    pub outbound_ports: Arc<std::sync::Mutex<Vec<u16>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NatRelay {
    pub fn new(server_port: u16) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = front.local_addr().expect("addr").port();
        front.set_nonblocking(true).expect("nonblocking");
        let server = SocketAddr::from(([127, 0, 0, 1], server_port));
        let rebind = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let ports = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (rb, st, ps) = (rebind.clone(), stop.clone(), ports.clone());
        let thread = std::thread::spawn(move || {
            let new_back = |ps: &std::sync::Mutex<Vec<u16>>| {
                let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
                b.set_nonblocking(true).expect("nonblocking");
                if let Ok(mut v) = ps.lock() {
                    v.push(b.local_addr().expect("addr").port());
                }
                b
            };
            let mut back = new_back(&ps);
            let mut client: Option<SocketAddr> = None;
            let mut buf = vec![0u8; 65536];
            while !st.load(Ordering::Relaxed) {
                let mut idle = true;
                if let Ok((n, from)) = front.recv_from(&mut buf) {
                    // the new binding starts with the client's next datagram (anything the
                    // server sent to the old one before was already relayed)
                    if rb.swap(false, Ordering::Relaxed) {
                        back = new_back(&ps);
                    }
                    client = Some(from);
                    let _ = back.send_to(&buf[..n], server);
                    idle = false;
                }
                if let Ok((n, _)) = back.recv_from(&mut buf) {
                    if let Some(c) = client {
                        let _ = front.send_to(&buf[..n], c);
                    }
                    idle = false;
                }
                if idle {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        Self {
            port,
            rebind,
            stop,
            outbound_ports: ports,
            thread: Some(thread),
        }
    }

    /// From the client's next datagram on, the server sees a new source port.
    pub fn rebind(&self) {
        self.rebind
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for NatRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
