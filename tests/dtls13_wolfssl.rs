//! DTLS 1.3 interop, live: wolfSSL 5.9.4's DTLS 1.3 client (tests/peers/wolf13_peer.c, built
//! by scripts/setup.d/30-cid-peers.sh) with an external PSK against our `simbridge_dtls::v13`
//! server over loopback UDP: psk_ke in every TLS 1.3 suite we offer, psk_dhe_ke with X25519 and
//! P-256, our HelloRetryRequest (cookie, or a key share in another group), KeyUpdate both ways.
//! Our server echoes the application data it opens. A wrong key fails the handshake.
//! (Our client against wolfSSL's server: tests/dtls13_wolfssl_server.rs.)

mod support;

use simbridge_dtls::rng::OsRng;
use simbridge_dtls::secret::{Secret, SecretVec};
use simbridge_dtls::v13::ack::RecordNumber;
use simbridge_dtls::v13::cookie::CookieKey13;
use simbridge_dtls::v13::handshake::{CLOSE_NOTIFY, Established13, Handshake13Error};
use simbridge_dtls::v13::header::UnifiedHeader;
use simbridge_dtls::v13::issuer::TicketIssuer;
use simbridge_dtls::v13::key_share::{SECP256R1, X25519};
use simbridge_dtls::v13::key_update::Received13;
use simbridge_dtls::v13::protect::RecordError13;
use simbridge_dtls::v13::server::{Accepted13, HelloContext, Server13, ServerWaitFinished};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::peers::peer_bin;
use support::{Relay, RelayConfig};

const IDENTITY: &str =
    "3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";
const KEY: [u8; 32] = [0x4b; 32];

enum State {
    Start,
    WaitFinished(Box<ServerWaitFinished>),
    Up(Box<Established13>),
}

/// What serving one client gave.
#[derive(Debug, Default)]
struct Served {
    /// Handshake datagrams from the client.
    hs: usize,
    /// Records echoed.
    echoed: usize,
    /// What stopped our server, if anything.
    failed: Option<String>,
    /// (send, receive) epochs at the end.
    epochs: (u64, u64),
    /// Times the client's address changed under a session (followed through its CID).
    address_changes: usize,
    /// Datagrams dropped because no session could be found for them.
    unroutable: usize,
    /// The client ended the session with close_notify.
    closed: bool,
    /// Sessions completed, and how many of them resumed from our ticket.
    sessions: usize,
    resumed: usize,
    /// Bytes of our server's last flight.
    flight_bytes: usize,
}

/// Our server: the suites, the (EC)DHE groups, whether psk_ke is taken, whether every first
/// ClientHello gets a HelloRetryRequest with a cookie.
fn server(suites: Vec<u16>, groups: &[u16], psk_ke: bool, require_cookie: bool) -> Server13 {
    Server13 {
        suites,
        groups: groups.to_vec(),
        psk_ke,
        require_cookie,
        cookie_key: CookieKey13::new(Secret::new([0x5c; 32])),
        tickets: None,
        importers: false,
        fragment: None,
    }
}

/// Serves one wolfSSL client.
fn serve(
    sock: &UdpSocket,
    server: Server13,
    our_update_after: Option<usize>,
    cid: Option<&[u8]>,
    sessions: usize,
) -> Served {
    let mut state = State::Start;
    let mut buf = [0u8; 2048];
    let (mut hs, mut echoed) = (0, 0);
    let mut out = Served::default();
    let mut peer_addr = None;
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            return Served { hs, echoed, ..out };
        };
        let d = &buf[..n];
        state = match state {
            State::Start => {
                hs += 1;
                let cx = HelloContext {
                    peer: from,
                    now_secs: 1_000,
                    rng: &OsRng,
                    cid,
                };
                match server.accept(d, &cx, |id| {
                    (id == IDENTITY.as_bytes()).then(|| SecretVec::from(&KEY[..]))
                }) {
                    Ok(Accepted13::Retry(hrr)) => {
                        println!(
                            "ClientHello {n} B from wolfSSL, our HelloRetryRequest {} B",
                            hrr.len()
                        );
                        sock.send_to(&hrr, from).expect("send HelloRetryRequest");
                        State::Start
                    }
                    Ok(Accepted13::Flight(wait, flight)) => {
                        println!(
                            "ClientHello {n} B from wolfSSL, our flight {} B",
                            flight.len()
                        );
                        out.flight_bytes = flight.len();
                        sock.send_to(&flight, from).expect("send flight");
                        State::WaitFinished(wait)
                    }
                    Err(e) => {
                        out.failed = Some(format!("accept: {e}"));
                        return Served { hs, echoed, ..out };
                    }
                }
            }
            State::WaitFinished(wait) => {
                hs += 1;
                match wait.verify_and_finish(d) {
                    Ok((mut up, ack)) => {
                        peer_addr = Some(from);
                        println!("Finished {n} B from wolfSSL, our ACK {} B", ack.len());
                        sock.send_to(&ack, from).expect("send ACK");
                        out.resumed += usize::from(up.resumed);
                        if let Some(issuer) = &server.tickets {
                            let nst = up
                                .new_session_ticket(issuer, 1_000, &OsRng)
                                .expect("ticket");
                            println!("our NewSessionTicket {} B", nst.len());
                            sock.send_to(&nst, from).expect("send ticket");
                        }
                        State::Up(Box::new(up))
                    }
                    Err(e) => {
                        out.failed = Some(format!("finish: {e}"));
                        return Served { hs, echoed, ..out };
                    }
                }
            }
            State::Up(mut up) => {
                // Which session is this datagram for? With a CID, the one whose CID its record
                // header carries, from any address; without, only the one at that address.
                let routed = if up.cids.recv.is_empty() {
                    peer_addr == Some(from)
                } else {
                    UnifiedHeader::parse(d, up.cids.recv_len())
                        .is_ok_and(|r| r.header.cid == Some(up.cids.recv.as_slice()))
                };
                if !routed {
                    out.unroutable += 1;
                    if out.unroutable == 3 {
                        // the client retransmits into the void: stop here
                        out.failed = Some("datagrams for no session".into());
                        return Served { hs, echoed, ..out };
                    }
                    state = State::Up(up);
                    continue;
                }
                if peer_addr.is_some_and(|a| a != from) {
                    out.address_changes += 1;
                }
                match up.receive(d) {
                    Ok(Received13::Data(data)) => {
                        let reply = up.seal(&data).expect("seal");
                        println!(
                            "record {n} B for {} B of data, ours {} B (epochs {:?})",
                            data.len(),
                            reply.len(),
                            up.epochs()
                        );
                        sock.send_to(&reply, from).expect("send");
                        echoed += 1;
                        if our_update_after == Some(echoed) {
                            // our KeyUpdate, asking wolfSSL to update too
                            if let Some(u) = up.update_keys(true).expect("KeyUpdate") {
                                println!("our KeyUpdate {} B", u.len());
                                sock.send_to(&u, from).expect("send KeyUpdate");
                            }
                        }
                    }
                    Ok(Received13::KeyUpdate { ack, update }) => {
                        println!(
                            "KeyUpdate from wolfSSL, {n} B; epochs now {:?}",
                            up.epochs()
                        );
                        sock.send_to(&ack, from).expect("send ACK");
                        if let Some(u) = update {
                            sock.send_to(&u, from).expect("send our KeyUpdate");
                        }
                    }
                    Ok(Received13::Alert { description }) => {
                        out.closed = description == CLOSE_NOTIFY;
                        if !out.closed {
                            out.failed = Some(format!("alert {description}"));
                            return Served { hs, echoed, ..out };
                        }
                        out.sessions += 1;
                        if out.sessions == sessions {
                            return Served { hs, echoed, ..out };
                        }
                        // the same client again, with a new handshake
                        state = State::Start;
                        continue;
                    }
                    // a piece of a fragmented post-handshake message: the rest follows
                    Ok(Received13::Pending) => {}
                    Ok(Received13::Ticket { .. }) => {
                        out.failed = Some("a ticket sent to a server".into());
                        return Served { hs, echoed, ..out };
                    }
                    Ok(Received13::Ack { switched }) => {
                        println!("ACK from wolfSSL (our keys switched: {switched})");
                    }
                    // the client's Finished again (our ACK was lost or late): ACK it again
                    Err(Handshake13Error::Record(RecordError13::Epoch)) => {
                        let ack = up.ack(&[RecordNumber { epoch: 2, seq: 0 }]).expect("ack");
                        sock.send_to(&ack, from).expect("send ACK");
                    }
                    Err(e) => {
                        out.failed = Some(format!("open: {e}"));
                        return Served { hs, echoed, ..out };
                    }
                }
                out.epochs = up.epochs();
                peer_addr = Some(from);
                State::Up(up)
            }
        };
    }
}

/// wolfSSL's client with `extra` arguments against `server`; `ours` makes our server send a
/// KeyUpdate after that many echoes; `cid` is our server's Connection ID; `relay` puts a UDP
/// relay (a NAT) between them.
fn run_with(
    cipher: &str,
    key_hex: &str,
    extra: &[&str],
    server: Server13,
    (ours, cid, relay): (Option<usize>, Option<&[u8]>, Option<RelayConfig>),
    sessions: usize,
) -> (bool, String, Served) {
    let Some(peer) = peer_bin("wolf13_peer") else {
        return (true, "skipped".into(), Served::default());
    };
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let relay = relay.map(|cfg| Relay::start(sock.local_addr().expect("addr"), cfg));
    let port = match &relay {
        Some(r) => r.addr().port(),
        None => sock.local_addr().expect("addr").port(),
    }
    .to_string();
    let mut child = Command::new(peer)
        .args([
            "client", &port, "-k", key_hex, "-i", IDENTITY, "-l", cipher, "-n", "5",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wolf13_peer");
    let served = serve(&sock, server, ours, cid, sessions);
    if served.failed.is_some() || served.unroutable > 0 {
        // we send no alert yet: stop the client instead of waiting out its retransmissions
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("wolf13_peer ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, served)
}

/// psk_ke in one suite, no cookie.
fn run(cipher: &str, suite: u16, key_hex: &str, extra: &[&str]) -> (bool, String, Served) {
    run_with(
        cipher,
        key_hex,
        extra,
        server(vec![suite], &[], true, false),
        (None, None, None),
        1,
    )
}

/// Asserts a completed run: `want_hs` handshake datagrams from wolfSSL, 5 echoes.
fn assert_done(what: &str, (ok, text, served): &(bool, String, Served), want_hs: usize) {
    let failed = &served.failed;
    assert!(
        failed.is_none(),
        "{what}: our server: {failed:?}\nwolfSSL: {text}"
    );
    assert!(ok, "{what}: wolfSSL: {text}");
    assert!(
        text.contains("CONNECTED version=DTLSv1.3"),
        "{what}: {text}"
    );
    assert_eq!((served.hs, served.echoed), (want_hs, 5), "{what}: {text}");
    assert!(served.closed, "{what}: wolfSSL's close_notify: {text}");
    for i in 0..5 {
        assert!(text.contains(&format!("RECV msg {i}")), "{what}: {text}");
    }
}

#[test]
fn wolfssl_dtls13_client_completes_a_psk_handshake_with_our_server_in_every_suite() {
    for (cipher, suite) in [
        ("TLS13-AES128-CCM-8-SHA256", 0x1305),
        ("TLS13-AES128-CCM-SHA256", 0x1304),
        ("TLS13-AES128-GCM-SHA256", 0x1301),
    ] {
        let (
            ok,
            text,
            Served {
                hs, echoed, failed, ..
            },
        ) = run(cipher, suite, &hex::encode(KEY), &[]);
        if text == "skipped" {
            return;
        }
        assert!(
            failed.is_none(),
            "{cipher}: our server: {failed:?}\nwolfSSL: {text}"
        );
        assert!(ok, "{cipher}: wolfSSL: {text}");
        assert!(text.contains("CONNECTED version=DTLSv1.3"), "{text}");
        assert_eq!((hs, echoed), (2, 5), "{cipher}: {text}");
        for i in 0..5 {
            assert!(text.contains(&format!("RECV msg {i}")), "{text}");
        }
    }
}

#[test]
fn a_wolfssl_client_with_another_key_does_not_get_in() {
    let (ok, text, Served { echoed, failed, .. }) = run(
        "TLS13-AES128-CCM-8-SHA256",
        0x1305,
        &hex::encode([0x4c; 32]),
        &[],
    );
    if text == "skipped" {
        return;
    }
    assert!(!ok, "wolfSSL connected with a wrong key: {text}");
    assert_eq!(echoed, 0);
    let failed = failed.expect("our server refused");
    assert!(failed.contains("PSK binder did not verify"), "{failed}");
}

#[test]
fn a_wolfssl_key_update_moves_both_directions_to_epoch_4_and_data_goes_on() {
    let (
        ok,
        text,
        Served {
            hs,
            echoed,
            failed,
            epochs,
            ..
        },
    ) = run(
        "TLS13-AES128-CCM-8-SHA256",
        0x1305,
        &hex::encode(KEY),
        &["-u", "2"],
    );
    if text == "skipped" {
        return;
    }
    assert!(failed.is_none(), "our server: {failed:?}\nwolfSSL: {text}");
    assert!(ok, "wolfSSL: {text}");
    assert!(text.contains("UPDATE_KEYS 1"), "{text}");
    assert_eq!((hs, echoed), (2, 5), "{text}");
    for i in 0..5 {
        assert!(text.contains(&format!("RECV msg {i}")), "{text}");
    }
    assert_eq!(epochs, (4, 4), "both directions updated: {text}");
}

#[test]
fn our_key_update_is_taken_by_wolfssl_which_updates_too() {
    let (
        ok,
        text,
        Served {
            echoed,
            failed,
            epochs,
            ..
        },
    ) = run_with(
        "TLS13-AES128-CCM-8-SHA256",
        &hex::encode(KEY),
        &[],
        server(vec![0x1305], &[], true, false),
        (Some(1), None, None),
        1,
    );
    if text == "skipped" {
        return;
    }
    assert!(failed.is_none(), "our server: {failed:?}\nwolfSSL: {text}");
    assert!(ok, "wolfSSL: {text}");
    assert_eq!(echoed, 5, "{text}");
    assert_eq!(epochs, (4, 4), "both directions updated: {text}");
}

#[test]
fn wolfssl_psk_dhe_ke_completes_with_our_server_in_x25519_and_p256() {
    for (group, name) in [("x25519", "X25519"), ("p256", "SECP256R1")] {
        let r = run_with(
            "TLS13-AES128-CCM-8-SHA256",
            &hex::encode(KEY),
            &["-g", group],
            server(vec![0x1305], &[X25519, SECP256R1], false, false),
            (None, None, None),
            1,
        );
        if r.1 == "skipped" {
            return;
        }
        assert_done(group, &r, 2);
        assert!(r.1.contains(&format!("group={name}")), "{group}: {}", r.1);
    }
}

#[test]
fn wolfssl_answers_our_cookie_and_our_request_for_another_group() {
    // return routability: a HelloRetryRequest with our cookie, in psk_ke and psk_dhe_ke
    for extra in [&[][..], &["-g", "x25519"][..]] {
        let r = run_with(
            "TLS13-AES128-GCM-SHA256",
            &hex::encode(KEY),
            extra,
            server(vec![0x1301], &[X25519], true, true),
            (None, None, None),
            1,
        );
        if r.1 == "skipped" {
            return;
        }
        assert_done(&format!("cookie {extra:?}"), &r, 3);
    }
    // wolfSSL's share is X25519, our server takes only P-256: it asks for a P-256 share
    let r = run_with(
        "TLS13-AES128-CCM-SHA256",
        &hex::encode(KEY),
        &["-g", "x25519,p256"],
        server(vec![0x1304], &[SECP256R1], false, false),
        (None, None, None),
        1,
    );
    assert_done("group retry", &r, 3);
    assert!(r.1.contains("group=SECP256R1"), "{}", r.1);
}

#[test]
fn a_wolfssl_client_with_a_cid_survives_nat_rebinding_with_no_handshake() {
    // the relay forwards from a new source port every 2 datagrams of the client's
    let nat = RelayConfig {
        rebind_every: 2,
        ..RelayConfig::default()
    };
    let r = run_with(
        "TLS13-AES128-CCM-8-SHA256",
        &hex::encode(KEY),
        &["-g", "x25519", "-c", "c11e"],
        server(vec![0x1305], &[X25519], false, false),
        (None, Some(&[0x5e, 0x4b, 0x01, 0x02]), Some(nat.clone())),
        1,
    );
    if r.1 == "skipped" {
        return;
    }
    assert_done("cid", &r, 2);
    // wolfSSL puts our 4-byte CID in its records
    assert!(r.1.contains("cid_tx=5e4b0102"), "{}", r.1);
    assert!(
        r.2.address_changes >= 2,
        "the session followed the client's new ports: {:?}",
        r.2
    );
    assert_eq!(r.2.unroutable, 0, "{:?}", r.2);
    // without CIDs the same NAT cuts the session off: a datagram from a new port belongs to
    // no session
    let r = run_with(
        "TLS13-AES128-CCM-8-SHA256",
        &hex::encode(KEY),
        &["-g", "x25519"],
        server(vec![0x1305], &[X25519], false, false),
        (None, None, Some(nat)),
        1,
    );
    assert!(!r.0, "wolfSSL got every echo without a CID: {}", r.1);
    assert!(r.2.unroutable > 0 && r.2.echoed < 5, "{:?}", r.2);
}

#[test]
fn a_wolfssl_client_resumes_once_with_our_ticket() {
    let mut srv = server(vec![0x1305], &[X25519], true, false);
    srv.tickets = Some(TicketIssuer::new(Secret::new([0x7e; 16]), 3600));
    let r = run_with(
        "TLS13-AES128-CCM-8-SHA256",
        &hex::encode(KEY),
        &["-r", "2"],
        srv,
        (None, None, None),
        2,
    );
    if r.1 == "skipped" {
        return;
    }
    assert!(
        r.2.failed.is_none(),
        "our server: {:?}\nwolfSSL: {}",
        r.2.failed,
        r.1
    );
    assert!(r.0, "wolfSSL: {}", r.1);
    assert_eq!((r.2.sessions, r.2.resumed), (2, 1), "{}", r.1);
    assert!(r.1.contains("resumed=1"), "wolfSSL resumed: {}", r.1);
    assert_eq!(r.2.echoed, 10, "{}", r.1);
}

#[test]
fn wolfssls_client_reassembles_our_servers_flight_sent_in_pieces() {
    // our server's ServerHello (a P-256 share), EncryptedExtensions and Finished in fragments of
    // at most 40 bytes, each in a record of its own (Server13::fragment, RFC 9147 sec. 5.5)
    let srv = Server13 {
        fragment: Some(40),
        ..server(vec![0x1305], &[SECP256R1], false, false)
    };
    let r = run_with(
        "TLS13-AES128-CCM-8-SHA256",
        &hex::encode(KEY),
        &["-g", "p256"],
        srv,
        (None, None, None),
        1,
    );
    if r.1 == "skipped" {
        return;
    }
    assert_done("fragments", &r, 2);
    assert!(r.1.contains("group=SECP256R1"), "{}", r.1);
    // whole, the flight is a record of each kind (~210 B); in pieces, a header per piece more
    assert!(
        r.2.flight_bytes > 280,
        "the flight went in pieces: {} B",
        r.2.flight_bytes
    );
}
