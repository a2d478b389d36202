//! Half-open caps of a real `simbridge dtls server` process over loopback UDP: a client behind
//! one address holds no more handshakes in progress than the per-address cap (32 by default,
//! `ServerConfig::max_half_open_per_address`), and while a flood of cookie-valid handshakes
//! from many addresses (each followed by out-of-order fragments claiming 16 KiB) runs, 100
//! sessions established from many addresses keep their data flowing and a 101st completes its
//! handshake. Bounded: a few seconds of flood at 300 handshakes/s (below the server's 1,000/s
//! handshake rate, so the legitimate one competes only with the caps under test). With a
//! small handshake budget (`--max-handshaking`), a flood that fills it many times over does
//! not stop a new genuine handshake: it takes the place of the stalest hostile one.

mod support;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::{ClientConfig, Connection, Event};
use simbridge::secret::SecretVec;
use support::halfopen::{attack_datagram, establish};
use support::launch::ours_server;
use support::{IDENTITY, PSK_HEX};

/// `ServerConfig::max_half_open_per_address` by default.
const CAP: usize = 32;

fn cfg() -> Arc<ClientConfig> {
    Arc::new(ClientConfig::new(Arc::new(StaticPsk {
        identity: IDENTITY.as_bytes().to_vec(),
        key: SecretVec::new(hex::decode(PSK_HEX).expect("hex")),
    })))
}

/// A hostile handshake from a new port of `ip`: ClientHello, HelloVerifyRequest, ClientHello
/// with the cookie, then the attack datagram. Returns the socket (to learn later whether the
/// server answered with its flight, i.e. holds the handshake), or `None` without a cookie.
fn hostile(ip: Ipv4Addr, server: SocketAddr, cfg: &Arc<ClientConfig>) -> Option<UdpSocket> {
    let sock = UdpSocket::bind((ip, 0)).ok()?;
    sock.connect(server).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut c = Connection::client(cfg.clone(), Instant::now()).ok()?;
    sock.send(&c.poll_transmit()?).ok()?;
    let mut buf = [0u8; 2048];
    let n = sock.recv(&mut buf).ok()?;
    c.handle_datagram(Instant::now(), &buf[..n]);
    sock.send(&c.poll_transmit()?).ok()?;
    sock.send(&attack_datagram(100)).ok()?;
    Some(sock)
}

/// True if the server's flight came back on `sock` within `wait`.
fn answered(sock: &UdpSocket, wait: Duration) -> bool {
    let mut buf = [0u8; 2048];
    sock.set_read_timeout(Some(wait)).is_ok() && sock.recv(&mut buf).is_ok()
}

/// A session from `ip` that completes its handshake within `within` (our library, real UDP).
fn session(
    ip: Ipv4Addr,
    server: SocketAddr,
    cfg: &Arc<ClientConfig>,
    within: Duration,
) -> Option<(UdpSocket, Connection)> {
    let sock = UdpSocket::bind((ip, 0)).ok()?;
    sock.connect(server).ok()?;
    let c = establish(&sock, cfg, within)?;
    Some((sock, c))
}

/// Sends `msg` on an established session and waits for the server's echo.
fn echoes(s: &mut (UdpSocket, Connection), msg: &[u8], within: Duration) -> bool {
    let (sock, c) = s;
    if c.send(msg).is_err() {
        return false;
    }
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        while let Some(d) = c.poll_transmit() {
            if sock.send(&d).is_err() {
                return false;
            }
        }
        if let Ok(n) = sock.recv(&mut buf) {
            c.handle_datagram(Instant::now(), &buf[..n]);
        }
        c.handle_timeout(Instant::now());
        while let Some(e) = c.poll_event() {
            if matches!(&e, Event::Data(d) if d.as_slice() == msg) {
                return true;
            }
        }
    }
    false
}

#[test]
fn one_address_holds_at_most_the_half_open_cap() {
    let (_server, addr) = ours_server(PSK_HEX, &[]);
    let cfg = cfg();
    let one = Ipv4Addr::new(127, 9, 0, 1);
    let socks: Vec<UdpSocket> = (0..CAP + 8)
        .map(|_| hostile(one, addr, &cfg).expect("every hello gets its cookie"))
        .collect();
    let held = socks
        .iter()
        .filter(|s| answered(s, Duration::from_millis(300)))
        .count();
    assert_eq!(
        held,
        CAP,
        "of {} cookie-valid handshakes from one address, the server took on exactly the cap",
        socks.len()
    );
    // the cap is per address: another address still gets its handshakes
    let other = hostile(Ipv4Addr::new(127, 9, 0, 2), addr, &cfg).expect("cookie");
    assert!(answered(&other, Duration::from_millis(500)));
}

#[test]
fn under_a_flood_from_many_addresses_sessions_keep_talking_and_a_new_one_completes() {
    let (_server, addr) = ours_server(PSK_HEX, &[]);
    let cfg = cfg();
    // 100 sessions from 100 addresses
    let mut sessions: Vec<_> = (0..100u8)
        .map(|i| {
            session(
                Ipv4Addr::new(127, 10, 0, i + 1),
                addr,
                &cfg,
                Duration::from_secs(5),
            )
            .expect("a session before the flood")
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, held) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let flood = {
        let (stop, cfg, sent, held) = (stop.clone(), cfg.clone(), sent.clone(), held.clone());
        std::thread::spawn(move || {
            // 300 handshakes/s, 16 per address from 127.11.x.y, at most 4 s
            let start = Instant::now();
            let mut pending = Vec::new();
            for i in 0u32..1200 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let due = start + Duration::from_micros(u64::from(i) * 3_333);
                if let Some(w) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(w);
                }
                let k = i / 16;
                let ip = Ipv4Addr::new(127, 11, (k / 250) as u8, (1 + k % 250) as u8);
                if let Some(s) = hostile(ip, addr, &cfg) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    pending.push(s);
                }
            }
            let n = pending
                .iter()
                .filter(|s| answered(s, Duration::from_millis(50)))
                .count();
            held.fetch_add(n as u64, Ordering::Relaxed);
        })
    };
    // let the flood build up: 300 hostile handshakes held before anything is checked
    let deadline = Instant::now() + Duration::from_secs(5);
    while sent.load(Ordering::Relaxed) < 300 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // during the flood: every established session is echoed
    for (i, s) in sessions.iter_mut().enumerate() {
        let msg = format!("during the flood {i}");
        assert!(
            echoes(s, msg.as_bytes(), Duration::from_secs(3)),
            "session {i} was echoed during the flood"
        );
    }
    // and the 101st, from yet another address, completes and is echoed
    let mut newcomer = session(
        Ipv4Addr::new(127, 10, 1, 1),
        addr,
        &cfg,
        Duration::from_secs(5),
    )
    .expect("the 101st session completes under the flood");
    assert!(echoes(&mut newcomer, b"101st", Duration::from_secs(3)));
    let flooding = sent.load(Ordering::Relaxed);
    let still_running = !flood.is_finished();
    stop.store(true, Ordering::Relaxed);
    flood.join().expect("flood thread");
    assert!(still_running, "the flood outlasted the checks");
    assert!(
        flooding >= 300,
        "the flood was running meanwhile ({flooding} hostile handshakes sent)"
    );
    assert!(
        held.load(Ordering::Relaxed) >= 300,
        "the server took the hostile handshakes on (this is a flood, not refused hellos)"
    );
}

/// 400 hostile handshakes at ~300/s from 25 addresses (127.12.0.x, 16 each), all within their
/// 30 s half-open lifetime; returns their sockets.
fn flood_of_400(addr: SocketAddr, cfg: &Arc<ClientConfig>) -> Vec<UdpSocket> {
    let start = Instant::now();
    let mut socks = Vec::new();
    for i in 0u32..400 {
        let due = start + Duration::from_micros(u64::from(i) * 3_333);
        if let Some(w) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        let ip = Ipv4Addr::new(127, 12, 0, (1 + i / 16) as u8);
        socks.push(hostile(ip, addr, cfg).expect("every hello gets its cookie"));
    }
    socks
}

/// How many of the flood's handshakes the server took on (answered with its flight; on
/// loopback the answers are there within milliseconds).
fn taken_on(socks: &[UdpSocket]) -> usize {
    std::thread::sleep(Duration::from_millis(200));
    socks
        .iter()
        .filter(|s| answered(s, Duration::from_millis(5)))
        .count()
}

#[test]
fn a_genuine_handshake_completes_while_a_flood_keeps_the_handshake_budget_full() {
    // a table of 100 of which at most 40 handshaking: the flood is 10 times the budget and
    // 4 times the table
    const BUDGET: usize = 40;
    let cfg = cfg();
    let (server, addr) = ours_server(
        PSK_HEX,
        &["--max-handshaking", "40", "--max-connections", "100"],
    );
    let socks = flood_of_400(addr, &cfg);
    // the budget is full of stalled hostile handshakes: a genuine one still completes
    let started = Instant::now();
    let mut newcomer = session(
        Ipv4Addr::new(127, 10, 2, 1),
        addr,
        &cfg,
        Duration::from_secs(3),
    )
    .expect("a genuine handshake completes with the handshake budget full");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(echoes(&mut newcomer, b"genuine", Duration::from_secs(3)));
    let held = taken_on(&socks);
    assert_eq!(held, 400, "the flood was taken on, not refused");
    // all but the budget's worth were evicted for newer ones
    server.expect_in_transcript(Duration::from_secs(5), "an eviction", |l| {
        l.contains("handshake evicted")
    });
    let evictions = server.transcript().matches("handshake evicted").count();
    assert!(
        evictions >= held - BUDGET,
        "{evictions} evictions for {held} hostile handshakes over a budget of {BUDGET}"
    );

    // the same flood with a budget larger than the table (so none: the behaviour before): the
    // table fills with hostile handshakes and the genuine one is refused
    let (_old, addr) = ours_server(
        PSK_HEX,
        &["--max-handshaking", "1000", "--max-connections", "100"],
    );
    let socks = flood_of_400(addr, &cfg);
    assert!(
        session(
            Ipv4Addr::new(127, 10, 2, 2),
            addr,
            &cfg,
            Duration::from_secs(2)
        )
        .is_none(),
        "without the budget a genuine handshake is refused under the same flood"
    );
    assert_eq!(taken_on(&socks), 100, "the table filled up with the flood");
}
