//! A UDP relay on loopback that keeps every datagram, both ways, whole (the tests that read a
//! ServerHello's random or replay a recorded ClientHello; `relay::Relay` keeps lengths only).

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

/// Datagrams in the order they crossed one way.
type Log = Arc<Mutex<Vec<Vec<u8>>>>;

/// The relay: clients send to [`Recorder::addr`].
pub struct Recorder {
    /// Where clients send.
    pub addr: SocketAddr,
    c2s: Log,
    s2c: Log,
}

impl Recorder {
    /// Starts it in front of `server`; answers go to the last client address heard.
    pub fn start(server: SocketAddr) -> Self {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let back = UdpSocket::bind("127.0.0.1:0").expect("bind");
        back.connect(server).expect("connect");
        let addr = front.local_addr().expect("addr");
        let (c2s, s2c): (Log, Log) = Default::default();
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let (f2, c2, up) = (
            front.try_clone().expect("clone"),
            client.clone(),
            c2s.clone(),
        );
        let b2 = back.try_clone().expect("clone");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = f2.recv_from(&mut buf) {
                *c2.lock().expect("lock") = Some(from);
                up.lock().expect("lock").push(buf[..n].to_vec());
                let _ = b2.send(&buf[..n]);
            }
        });
        let down = s2c.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = back.recv(&mut buf) {
                down.lock().expect("lock").push(buf[..n].to_vec());
                if let Some(c) = *client.lock().expect("lock") {
                    let _ = front.send_to(&buf[..n], c);
                }
            }
        });
        Self { addr, c2s, s2c }
    }

    /// Client→server datagrams so far.
    pub fn c2s(&self) -> Vec<Vec<u8>> {
        self.c2s.lock().expect("lock").clone()
    }

    /// Server→client datagrams so far.
    pub fn s2c(&self) -> Vec<Vec<u8>> {
        self.s2c.lock().expect("lock").clone()
    }
}
