//! Server Endpoint: many clients on one socket, limits, client restarts.

mod dtls_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use dtls_support::*;
use simbridge::dtls::{CipherSuite, Connection, Endpoint, Event};

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;

/// Runs `clients` against one endpoint until idle; returns how many connected.
fn run(ep: &mut Endpoint, clients: &mut [(SocketAddr, Connection)], now: Instant) -> usize {
    let mut connected = 0;
    for _ in 0..20 {
        for (addr, c) in clients.iter_mut() {
            while let Some(d) = c.poll_transmit() {
                ep.handle_datagram(now, *addr, &d);
            }
        }
        while let Some(t) = ep.poll_transmit() {
            if let Some((_, c)) = clients.iter_mut().find(|(a, _)| *a == t.destination) {
                c.handle_datagram(now, &t.payload);
            }
        }
        for (_, c) in clients.iter_mut() {
            while let Some(e) = c.poll_event() {
                if matches!(e, Event::Connected { .. }) {
                    connected += 1;
                }
            }
        }
    }
    connected
}

fn clients(n: u16, now: Instant) -> Vec<(SocketAddr, Connection)> {
    (0..n)
        .map(|i| {
            let addr: SocketAddr = format!("127.0.0.1:{}", 20000 + i).parse().unwrap();
            (
                addr,
                Connection::client(Arc::new(client_config(&[CCM8], u64::from(i) + 10)), now)
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn many_clients_on_one_endpoint_routed_by_address() {
    let now = Instant::now();
    let mut ep = Endpoint::new(Arc::new(server_config(&[CCM8], 1))).unwrap();
    let mut cs = clients(20, now);
    assert_eq!(run(&mut ep, &mut cs, now), 20);
    assert_eq!(ep.connection_count(), 20);
    for (i, (_, c)) in cs.iter_mut().enumerate() {
        c.send(format!("client {i}").as_bytes()).unwrap();
    }
    run(&mut ep, &mut cs, now);
    let mut got: Vec<(SocketAddr, Vec<u8>)> = std::iter::from_fn(|| ep.poll_event())
        .filter_map(|(a, e)| {
            if let Event::Data(d) = e {
                Some((a, d))
            } else {
                None
            }
        })
        .collect();
    got.sort();
    assert_eq!(got.len(), 20);
    for (a, d) in got {
        assert_eq!(d, format!("client {}", a.port() - 20000).into_bytes());
    }
}

#[test]
fn connection_limit_and_handshake_rate_limit() {
    let now = Instant::now();
    let mut cfg = server_config(&[CCM8], 1);
    cfg.max_connections = 3;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let mut cs = clients(5, now);
    assert_eq!(run(&mut ep, &mut cs, now), 3);
    assert!(ep.stats().connection_limited >= 2);

    let mut cfg = server_config(&[CCM8], 1);
    cfg.handshakes_per_second = 2;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let mut cs = clients(5, now);
    assert_eq!(run(&mut ep, &mut cs, now), 2, "burst of 2, no time passes");
    assert!(ep.stats().rate_limited >= 3);
}

#[test]
fn restarted_client_replaces_its_old_connection() {
    let now = Instant::now();
    let mut ep = Endpoint::new(Arc::new(server_config(&[CCM8], 1))).unwrap();
    let mut cs = clients(1, now);
    assert_eq!(run(&mut ep, &mut cs, now), 1);
    // same address, new client (reboot): a fresh handshake with a new random
    cs[0].1 = Connection::client(Arc::new(client_config(&[CCM8], 99)), now).unwrap();
    assert_eq!(run(&mut ep, &mut cs, now), 1);
    assert_eq!(ep.connection_count(), 1);
    assert_eq!(ep.stats().accepted, 2);
}

#[test]
fn cookie_secret_rotates_with_one_period_of_overlap() {
    use std::time::Duration;
    let attempt = |delay: u64| {
        let now = Instant::now();
        let mut ep = Endpoint::new(Arc::new(server_config(&[CCM8], 1))).unwrap();
        let mut client = Connection::client(Arc::new(client_config(&[CCM8], 2)), now).unwrap();
        let addr: SocketAddr = "127.0.0.1:30000".parse().unwrap();
        let ch1 = client.poll_transmit().unwrap();
        ep.handle_datagram(now, addr, &ch1);
        let hvr = ep.poll_transmit().unwrap();
        client.handle_datagram(now, &hvr.payload);
        let ch2 = client.poll_transmit().unwrap();
        // another client's traffic drives the clock on the endpoint in between
        let later = now + Duration::from_secs(delay);
        ep.handle_datagram(
            now + Duration::from_secs(delay / 2),
            "127.0.0.1:30001".parse().unwrap(),
            &ch1,
        );
        ep.handle_datagram(later, addr, &ch2);
        (ep.stats().accepted, ep.stats().bad_cookies)
    };
    assert_eq!(attempt(30), (1, 0), "same period");
    assert_eq!(
        attempt(90),
        (1, 0),
        "previous secret still valid after one rotation"
    );
    assert_eq!(
        attempt(200),
        (0, 1),
        "two rotations later the cookie is stale"
    );
}

#[test]
fn endpoint_frees_kept_last_flights_of_silent_clients_after_the_linger_time() {
    use simbridge::dtls::conn::FINAL_FLIGHT_LINGER;
    let now = Instant::now();
    let mut ep = Endpoint::new(Arc::new(server_config(&[CCM8], 1))).unwrap();
    let mut cs = clients(3, now);
    assert_eq!(run(&mut ep, &mut cs, now), 3);
    for (addr, _) in &cs {
        let c = ep.connection(addr).unwrap();
        assert!(c.is_established());
        assert!(c.holds_handshake_state(), "no data yet: last flight kept");
    }
    // the first client sends data: its server connection lets go at once
    cs[0].1.send(b"hi").unwrap();
    let d = cs[0].1.poll_transmit().unwrap();
    ep.handle_datagram(now, cs[0].0, &d);
    assert!(!ep.connection(&cs[0].0).unwrap().holds_handshake_state());
    assert!(ep.connection(&cs[1].0).unwrap().holds_handshake_state());
    // the others stay silent; any later traffic (here: a stray datagram) sweeps them
    let later = now + FINAL_FLIGHT_LINGER;
    ep.handle_datagram(later - std::time::Duration::from_secs(1), cs[0].0, b"junk");
    assert!(ep.connection(&cs[1].0).unwrap().holds_handshake_state());
    ep.handle_datagram(later, cs[0].0, b"junk");
    for (addr, _) in &cs {
        let c = ep.connection(addr).unwrap();
        assert!(!c.holds_handshake_state(), "{addr}");
        assert!(c.is_established());
    }
    // and they still carry data both ways
    for (i, (addr, c)) in cs.iter_mut().enumerate() {
        c.send(format!("late {i}").as_bytes()).unwrap();
        let d = c.poll_transmit().unwrap();
        ep.handle_datagram(later, *addr, &d);
    }
    let got = std::iter::from_fn(|| ep.poll_event())
        .filter(|(_, e)| matches!(e, Event::Data(_)))
        .count();
    assert_eq!(got, 4, "hi + three late records");
}

/// The endpoint's timer is the earliest retransmission deadline of a handshaking connection;
/// established connections add none, and a due deadline makes the server resend its flight.
#[test]
fn poll_timeout_follows_handshaking_connections_only() {
    let now = Instant::now();
    let mut cfg = server_config(&[CCM8], 1);
    // 50 handshakes at once from one IP address (the default allows 32)
    cfg.max_half_open_per_address = 64;
    let mut ep = Endpoint::new(Arc::new(cfg)).unwrap();
    let mut done = clients(50, now);
    assert_eq!(run(&mut ep, &mut done, now), 50);
    assert_eq!(
        ep.poll_timeout().map(|t| t - now),
        None,
        "established connections have no timer"
    );

    // One more client: hello, cookie exchange, then its second hello reaches the server, whose
    // flight is lost: the server's retransmission timer is the endpoint's timer.
    let addr: SocketAddr = "127.0.0.1:30000".parse().unwrap();
    let mut c = Connection::client(Arc::new(client_config(&[CCM8], 99)), now).unwrap();
    while let Some(d) = c.poll_transmit() {
        ep.handle_datagram(now, addr, &d);
    }
    let hvr = ep.poll_transmit().expect("HelloVerifyRequest");
    c.handle_datagram(now, &hvr.payload);
    assert_eq!(
        ep.poll_timeout(),
        None,
        "the cookie exchange keeps no state"
    );
    while let Some(d) = c.poll_transmit() {
        ep.handle_datagram(now, addr, &d);
    }
    let lost: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
    assert!(!lost.is_empty(), "the server's flight");
    let due = ep.poll_timeout().expect("a retransmission deadline");
    assert!(due > now);

    ep.handle_timeout(due - std::time::Duration::from_millis(1));
    assert!(ep.poll_transmit().is_none(), "nothing before the deadline");
    ep.handle_timeout(due);
    let again: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
    assert_eq!(again.len(), lost.len(), "the flight is sent again");
    let next = ep.poll_timeout().expect("the doubled deadline");
    assert!(next > due);

    // The client completes with the resent flight: no timer is left.
    for t in &again {
        c.handle_datagram(due, &t.payload);
    }
    while let Some(d) = c.poll_transmit() {
        ep.handle_datagram(due, addr, &d);
    }
    while let Some(t) = ep.poll_transmit() {
        c.handle_datagram(due, &t.payload);
    }
    assert!(c.is_established());
    ep.handle_timeout(next);
    assert_eq!(
        ep.poll_timeout(),
        None,
        "the finished handshake left no timer"
    );
}
