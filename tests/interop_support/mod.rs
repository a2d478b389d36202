//! UDP drivers for our sans-IO client and endpoint in interop tests against real peer
//! processes on loopback. The peer processes, the missing-peer rule, ports and the NAT relay
//! are `tests/support`'s.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use simbridge::dtls::{ClientConfig, Connection, Endpoint, Event, ServerConfig};

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
