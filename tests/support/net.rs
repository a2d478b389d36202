//! Loopback network helpers: free ports and a UDP echo backend. A port is found by binding
//! port 0 and releasing it; another process can take it in between, so callers that can use
//! port 0 themselves (our server, the relay) should.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A UDP port that is free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    s.local_addr().expect("local_addr").port()
}

/// A UDP port free on both 0.0.0.0 and [::] (gnutls-serv binds both and has no bind option).
/// A `[::]` socket is dual-stack on Linux by default, so binding it reserves the port on IPv4
/// too; without IPv6 on the machine, a port free on 0.0.0.0.
pub fn free_udp_port_dual() -> u16 {
    let s = UdpSocket::bind("[::]:0")
        .or_else(|_| UdpSocket::bind("0.0.0.0:0"))
        .expect("bind a UDP port");
    s.local_addr().expect("local_addr").port()
}

/// A TCP port free on 127.0.0.1 right now (for `[metrics] listen`, a key API).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free TCP port")
}

/// A UDP echo backend on 127.0.0.1, answering on a thread until the test process ends.
pub fn udp_echo() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind echo");
    let addr = s.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    addr
}

/// A UDP echo backend on 127.0.0.1 that stops (and joins its thread) when dropped.
pub struct Echo {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    /// Starts the echo thread.
    pub fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind echo");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let addr = sock.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !s.load(Ordering::SeqCst) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(&buf[..n], from);
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
