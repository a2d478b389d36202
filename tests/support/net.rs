//! Free loopback ports. A port is found by binding port 0 and releasing it; another process can
//! take it in between, so callers that can use port 0 themselves (our server, the relay) should.

use std::net::UdpSocket;

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
