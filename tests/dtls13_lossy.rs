//! DTLS 1.3 through a lossy, reordering, duplicating relay, live against wolfSSL 5.9.4
//! (tests/peers/wolf13_peer.c): our `Connection13` client against wolfSSL's server (with its
//! HelloRetryRequest cookie), and wolfSSL's client against our server (`Server13` for the
//! ClientHello, then a `Connection13`). The relay drops a handshake datagram each way,
//! reorders 30 % and duplicates 10 %; both ends retransmit until the handshake completes,
//! then 5 messages are echoed and the session ends with close_notify.

mod support;

use simbridge_dtls::config::RetransmitConfig;
use simbridge_dtls::rng::OsRng;
use simbridge_dtls::secret::{Secret, SecretVec};
use simbridge_dtls::v13::client::ClientConfig13;
use simbridge_dtls::v13::connection::{Close13, Connection13, Event13};
use simbridge_dtls::v13::cookie::CookieKey13;
use simbridge_dtls::v13::key_share::X25519;
use simbridge_dtls::v13::server::{Accepted13, HelloContext, Server13};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::peers::peer_bin;
use support::wolf13::Wolf13Server;
use support::{Relay, RelayConfig};

const IDENTITY: &str =
    "3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";
const KEY: [u8; 32] = [0x4b; 32];

/// The second client→server and the first server→client datagram lost (handshake datagrams
/// in every case here), 30 % reordered, 10 % duplicated.
fn lossy(seed: u64) -> RelayConfig {
    RelayConfig {
        seed,
        drop_c2s: vec![2],
        drop_s2c: vec![1],
        reorder_percent: 30,
        duplicate_percent: 10,
        ..RelayConfig::default()
    }
}

fn retransmit() -> RetransmitConfig {
    RetransmitConfig {
        initial: Duration::from_millis(300),
        max: Duration::from_secs(2),
        max_retransmits: 8,
    }
}

/// Waits for a datagram until the connection's next deadline (at most 200 ms), or fires the
/// deadline.
fn step(sock: &UdpSocket, c: &mut Connection13, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    let now = Instant::now();
    let wait = c
        .poll_timeout()
        .map_or(Duration::from_millis(200), |t| {
            t.saturating_duration_since(now)
        })
        .clamp(Duration::from_millis(1), Duration::from_millis(200));
    sock.set_read_timeout(Some(wait)).expect("timeout");
    match sock.recv_from(buf) {
        Ok((n, from)) => {
            c.handle_datagram(Instant::now(), &buf[..n]);
            Some((n, from))
        }
        Err(_) => {
            c.handle_timeout(Instant::now());
            None
        }
    }
}

#[test]
fn our_client_completes_and_echoes_through_loss_with_wolfssls_server() {
    let Some(mut srv) =
        Wolf13Server::ccm8(&hex::encode(KEY), IDENTITY, &["-n", "5", "-g", "x25519"])
    else {
        return;
    };
    let port = srv.port;
    let relay = Relay::start(SocketAddr::from(([127, 0, 0, 1], port)), lossy(5));
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(relay.addr()).expect("connect");
    let cfg = ClientConfig13 {
        identity: IDENTITY.as_bytes().to_vec(),
        key: SecretVec::from(&KEY[..]),
        suites: vec![0x1305],
        groups: vec![X25519],
        psk_ke: false,
        cid: None,
        resume: None,
    };
    let mut c =
        Connection13::client(&cfg, retransmit(), Arc::new(OsRng), Instant::now()).expect("client");
    let (mut echoed, mut connected) = (0, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 2048];
    while echoed < 5 && Instant::now() < deadline {
        while let Some(d) = c.poll_transmit() {
            sock.send(&d).expect("send");
        }
        while let Some(e) = c.poll_event() {
            match e {
                // wolfSSL's ticket: not used here; no early data given
                Event13::Ticket(_) | Event13::EarlyDataStatus { .. } | Event13::EarlyData(_) => {}
                Event13::Connected { .. } => {
                    connected = true;
                    c.send(b"msg 0").expect("send");
                }
                Event13::Data(d) => {
                    assert_eq!(d, format!("msg {echoed}").into_bytes(), "echo in order");
                    echoed += 1;
                    if echoed < 5 {
                        c.send(format!("msg {echoed}").as_bytes()).expect("send");
                    }
                }
                Event13::Closed(why) => panic!("closed: {why:?}"),
            }
        }
        while let Some(d) = c.poll_transmit() {
            sock.send(&d).expect("send");
        }
        if echoed < 5 {
            step(&sock, &mut c, &mut buf);
        }
    }
    assert!(connected, "handshake through the lossy relay");
    assert_eq!(echoed, 5);
    c.close();
    while let Some(d) = c.poll_transmit() {
        sock.send(&d).expect("send");
    }
    let status = srv.child.wait().expect("wolf13_peer ends");
    let rest = srv.rest();
    assert!(status.success(), "wolfSSL: {rest}");
    assert!(rest.contains("CLOSE_NOTIFY"), "{rest}");
    let stats = relay.stats();
    println!(
        "relay: dropped {}/{}, reordered {}/{}, duplicated {}/{} (c2s/s2c); ours sent again {}",
        stats.c2s.dropped,
        stats.s2c.dropped,
        stats.c2s.reordered,
        stats.s2c.reordered,
        stats.c2s.duplicated,
        stats.s2c.duplicated,
        c.stats().retransmitted
    );
    assert!(
        stats.dropped() >= 2,
        "the relay dropped handshake datagrams: {stats:?}"
    );
}

#[test]
fn wolfssls_client_completes_and_echoes_through_loss_with_our_server() {
    let Some(peer) = peer_bin("wolf13_peer") else {
        return;
    };
    for require_cookie in [false, true] {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let relay = Relay::start(sock.local_addr().expect("addr"), lossy(7));
        let server = Server13 {
            suites: vec![0x1305],
            groups: vec![X25519],
            psk_ke: false,
            require_cookie,
            cookie_key: CookieKey13::new(Secret::new([0x5c; 32])),
            tickets: None,
            importers: false,
            fragment: None,
        };
        let child = Command::new(&peer)
            .args(["client", &relay.addr().port().to_string()])
            .args(["-k", &hex::encode(KEY), "-i", IDENTITY])
            .args(["-l", "TLS13-AES128-CCM-8-SHA256", "-n", "5", "-g", "x25519"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wolf13_peer client");
        let mut conn: Option<Connection13> = None;
        let (mut echoed, mut closed, mut retries) = (0, false, 0);
        let mut peer_addr = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 2048];
        while !closed && Instant::now() < deadline {
            let Some(c) = &mut conn else {
                sock.set_read_timeout(Some(Duration::from_millis(200)))
                    .expect("timeout");
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let cx = HelloContext {
                    peer: from,
                    now_secs: 1_000,
                    rng: &OsRng,
                    cid: None,
                };
                let key =
                    |id: &[u8]| (id == IDENTITY.as_bytes()).then(|| SecretVec::from(&KEY[..]));
                match server.accept(&buf[..n], &cx, key) {
                    Ok(Accepted13::Retry(hrr)) => {
                        retries += 1;
                        sock.send_to(&hrr, from).expect("send");
                    }
                    Ok(Accepted13::Flight(w, flight)) => {
                        peer_addr = Some(from);
                        conn = Some(Connection13::server(
                            w,
                            flight,
                            &buf[..n],
                            retransmit(),
                            Arc::new(OsRng),
                            Instant::now(),
                        ));
                    }
                    // a duplicate or a stale second ClientHello: nothing to keep
                    Err(_) => {}
                }
                continue;
            };
            let to = peer_addr.expect("peer");
            while let Some(d) = c.poll_transmit() {
                sock.send_to(&d, to).expect("send");
            }
            while let Some(e) = c.poll_event() {
                match e {
                    Event13::Connected { .. }
                    | Event13::Ticket(_)
                    | Event13::EarlyDataStatus { .. }
                    | Event13::EarlyData(_) => {}
                    Event13::Data(d) => {
                        echoed += 1;
                        c.send(&d).expect("echo");
                    }
                    Event13::Closed(Close13::PeerClosed) => closed = true,
                    Event13::Closed(why) => panic!("closed: {why:?}"),
                }
            }
            while let Some(d) = c.poll_transmit() {
                sock.send_to(&d, to).expect("send");
            }
            if !closed {
                step(&sock, c, &mut buf);
            }
        }
        let out = child.wait_with_output().expect("wolf13_peer ends");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "cookie {require_cookie}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(echoed, 5, "cookie {require_cookie}: {text}");
        assert!(closed, "cookie {require_cookie}: close_notify");
        assert_eq!(retries > 0, require_cookie);
        let stats = relay.stats();
        println!(
            "cookie {require_cookie}: dropped {}/{}, duplicated {}/{}; ours sent again {}",
            stats.c2s.dropped,
            stats.s2c.dropped,
            stats.c2s.duplicated,
            stats.s2c.duplicated,
            conn.as_ref().map_or(0, |c| c.stats().retransmitted)
        );
        assert!(stats.dropped() >= 2, "{stats:?}");
    }
}
