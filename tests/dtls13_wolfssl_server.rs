//! DTLS 1.3 interop, live: our `simbridge_dtls::v13` client against wolfSSL 5.9.4's DTLS 1.3
//! server (tests/peers/wolf13_peer.c, built by scripts/setup.d/30-cid-peers.sh) over loopback
//! UDP with an external PSK. wolfSSL's server answers every first ClientHello with a
//! HelloRetryRequest and a cookie (unless told not to) and sends each handshake message in a
//! datagram of its own; our client answers the one, collects the other, and then exchanges
//! five echoed messages. psk_ke in every suite, psk_dhe_ke with X25519 and P-256.

mod support;

use simbridge_dtls::config::RetransmitConfig;
use simbridge_dtls::export::MemoryLedger;
use simbridge_dtls::rng::OsRng;
use simbridge_dtls::secret::SecretVec;
use simbridge_dtls::v13::client::{
    Client13, ClientConfig13, ClientStep, ClientWaitFinished, ClientWaitServer,
};
use simbridge_dtls::v13::connection::{Connection13, Event13};
use simbridge_dtls::v13::handshake::Established13;
use simbridge_dtls::v13::key_share::{SECP256R1, X25519};
use simbridge_dtls::v13::key_update::Received13;
use simbridge_dtls::v13::ticket::{Resume13, Ticket13};
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use support::peers::peer_bin;
use support::wolf13::Wolf13Server;

const IDENTITY: &str =
    "3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";
const KEY: [u8; 32] = [0x4b; 32];

/// What one run showed: datagrams (sent, received) in the handshake, messages echoed, the
/// error that stopped our client if any, and wolfSSL's output.
struct Outcome {
    datagrams: (usize, usize),
    echoed: usize,
    failed: Option<String>,
    peer: String,
    peer_ok: bool,
    /// The session's CIDs (send, receive).
    cids: Option<(Vec<u8>, Vec<u8>)>,
    /// Our (send, receive) epochs at the end.
    epochs: (u64, u64),
    /// Our session went through an export and an import on the way.
    restarted: bool,
}

/// Where our client's handshake is.
enum Hs {
    Server(ClientWaitServer),
    Flight(ClientWaitFinished),
}

/// Our client's handshake and 5 echoes over `sock`, connected to the server.
type Driven = (usize, usize, usize, (Vec<u8>, Vec<u8>), (u64, u64), bool);

/// Our client's handshake, 5 echoes (a KeyUpdate of ours before message `update_before`),
/// close_notify.
fn drive(
    sock: &UdpSocket,
    cfg: &ClientConfig13,
    update_before: Option<usize>,
    restart_before: Option<usize>,
) -> Result<Driven, String> {
    let mut buf = [0u8; 2048];
    let (wait, ch) = Client13::start(cfg, &OsRng).map_err(|e| e.to_string())?;
    sock.send(&ch).map_err(|e| e.to_string())?;
    let (mut sent, mut received) = (1, 0);
    let mut hs = Hs::Server(wait);
    let mut c = loop {
        let n = sock.recv(&mut buf).map_err(|e| format!("handshake: {e}"))?;
        received += 1;
        let step = match hs {
            Hs::Server(w) => w.handle(&buf[..n], &OsRng),
            Hs::Flight(w) => w.handle(&buf[..n]),
        }
        .map_err(|e| e.to_string())?;
        hs = match step {
            ClientStep::Retry(w, ch2) => {
                println!(
                    "HelloRetryRequest {n} B, our second ClientHello {} B",
                    ch2.len()
                );
                sock.send(&ch2).map_err(|e| e.to_string())?;
                sent += 1;
                Hs::Server(w)
            }
            ClientStep::Wait(w) => Hs::Flight(w),
            ClientStep::Done(c, fin) => {
                sock.send(&fin).map_err(|e| e.to_string())?;
                sent += 1;
                break *c;
            }
        };
    };
    let (mut echoed, mut tickets, mut restarted) = (0, 0, false);
    for i in 0..5 {
        if restart_before == Some(i) {
            // a gateway restart: the session goes to a file and comes back, no handshake
            let blob = c
                .export_state(b"state key", 4096, &OsRng)
                .map_err(|e| e.to_string())?;
            drop(c);
            c = Established13::import_state(
                &blob,
                b"state key",
                true,
                &mut MemoryLedger::default(),
            )
            .map_err(|e| e.to_string())?;
            restarted = true;
        }
        if update_before == Some(i) {
            // our KeyUpdate, asking wolfSSL to update its keys too
            if let Some(u) = c.update_keys(true).map_err(|e| e.to_string())? {
                sock.send(&u).map_err(|e| e.to_string())?;
            }
        }
        let msg = format!("msg {i}");
        sock.send(&c.seal(msg.as_bytes()).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        loop {
            let n = sock.recv(&mut buf).map_err(|e| format!("data: {e}"))?;
            match c.receive(&buf[..n]).map_err(|e| e.to_string())? {
                Received13::Data(d) if d == msg.as_bytes() => {
                    echoed += 1;
                    break;
                }
                Received13::Data(d) => return Err(format!("echo {d:?} for {msg}")),
                // wolfSSL's ACK of our Finished
                Received13::Ack { .. } => continue,
                // a piece of a fragmented ticket: the rest follows
                Received13::Pending => continue,
                // wolfSSL's server sends a ticket after the handshake: ACK it
                Received13::Ticket { ack, .. } => {
                    tickets += 1;
                    sock.send(&ack).map_err(|e| e.to_string())?;
                }
                Received13::KeyUpdate { ack, update } => {
                    sock.send(&ack).map_err(|e| e.to_string())?;
                    if let Some(u) = update {
                        sock.send(&u).map_err(|e| e.to_string())?;
                    }
                }
                Received13::Alert { description } => return Err(format!("alert {description}")),
            }
        }
    }
    println!("tickets ACKed: {tickets}, restarted: {restarted}");
    sock.send(&c.close_notify().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    Ok((
        sent,
        received,
        echoed,
        (c.cids.send.clone(), c.cids.recv.clone()),
        c.epochs(),
        restarted,
    ))
}

/// wolfSSL's server with `extra` arguments and our client with `cfg`; `None` when the peer is
/// missing (outside CI).
fn run(cipher: &str, extra: &[&str], cfg: &ClientConfig13) -> Option<Outcome> {
    run_updating(cipher, extra, cfg, None)
}

/// As [`run`], with a restart from a state export before message `restart_before`.
fn run_restarting(
    cipher: &str,
    extra: &[&str],
    cfg: &ClientConfig13,
    restart_before: usize,
) -> Option<Outcome> {
    run_driven(cipher, extra, cfg, None, Some(restart_before))
}

/// As [`run`], with our KeyUpdate before message `update_before`.
fn run_updating(
    cipher: &str,
    extra: &[&str],
    cfg: &ClientConfig13,
    update_before: Option<usize>,
) -> Option<Outcome> {
    run_driven(cipher, extra, cfg, update_before, None)
}

fn run_driven(
    cipher: &str,
    extra: &[&str],
    cfg: &ClientConfig13,
    update_before: Option<usize>,
    restart_before: Option<usize>,
) -> Option<Outcome> {
    let peer = peer_bin("wolf13_peer")?;
    let extra = [&["-n", "5"][..], extra].concat();
    let mut srv = Wolf13Server::with_psk(&peer, &hex::encode(KEY), IDENTITY, cipher, &extra)
        .expect("start wolf13_peer server");
    let port = srv.port;
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let result = drive(&sock, cfg, update_before, restart_before);
    if result.is_err() {
        let _ = srv.child.kill();
    }
    let status = srv.child.wait().expect("wolf13_peer ends");
    let rest = srv.rest();
    let mut err = String::new();
    if let Some(mut e) = srv.child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut err).expect("stderr");
    }
    let (datagrams, echoed, failed, cids, epochs, restarted) = match result {
        Ok((s, r, e, cids, epochs, restarted)) => ((s, r), e, None, Some(cids), epochs, restarted),
        Err(e) => ((0, 0), 0, Some(e), None, (0, 0), false),
    };
    Some(Outcome {
        datagrams,
        echoed,
        failed,
        peer: format!("{rest}{err}"),
        peer_ok: status.success(),
        cids,
        epochs,
        restarted,
    })
}

fn config(suite: u16, groups: &[u16]) -> ClientConfig13 {
    ClientConfig13 {
        identity: IDENTITY.as_bytes().to_vec(),
        key: SecretVec::from(&KEY[..]),
        suites: vec![suite],
        groups: groups.to_vec(),
        psk_ke: groups.is_empty(),
        cid: None,
        resume: None,
    }
}

fn assert_done(what: &str, o: &Outcome) {
    assert!(
        o.failed.is_none(),
        "{what}: our client: {:?}\nwolfSSL: {}",
        o.failed,
        o.peer
    );
    assert!(o.peer_ok, "{what}: wolfSSL: {}", o.peer);
    assert!(
        o.peer.contains("CONNECTED version=DTLSv1.3"),
        "{what}: {}",
        o.peer
    );
    assert_eq!(o.echoed, 5, "{what}: {}", o.peer);
    assert!(
        o.peer.contains("CLOSE_NOTIFY"),
        "{what}: our close_notify: {}",
        o.peer
    );
}

#[test]
fn our_client_completes_psk_ke_with_wolfssls_server_and_its_cookie_in_every_suite() {
    for (cipher, suite) in [
        ("TLS13-AES128-CCM-8-SHA256", 0x1305),
        ("TLS13-AES128-CCM-SHA256", 0x1304),
        ("TLS13-AES128-GCM-SHA256", 0x1301),
    ] {
        let Some(o) = run(cipher, &[], &config(suite, &[])) else {
            return;
        };
        assert_done(cipher, &o);
        // ClientHello, HelloRetryRequest, ClientHello, then ServerHello, EncryptedExtensions
        // and Finished one datagram each, our Finished
        assert_eq!(o.datagrams, (3, 4), "{cipher}: {}", o.peer);
        assert!(o.peer.contains("group=none"), "{}", o.peer);
    }
}

#[test]
fn our_client_completes_psk_dhe_ke_with_wolfssls_server_in_x25519_and_p256() {
    for (groups, group, name) in [
        ("x25519", X25519, "X25519"),
        ("p256", SECP256R1, "SECP256R1"),
    ] {
        let Some(o) = run(
            "TLS13-AES128-CCM-8-SHA256",
            &["-g", groups],
            &config(0x1305, &[group]),
        ) else {
            return;
        };
        assert_done(groups, &o);
        assert!(o.peer.contains(&format!("group={name}")), "{}", o.peer);
    }
    // without wolfSSL's cookie: one round trip less
    let Some(o) = run(
        "TLS13-AES128-CCM-8-SHA256",
        &["-g", "x25519", "-C", "1"],
        &config(0x1305, &[X25519]),
    ) else {
        return;
    };
    assert_done("no cookie", &o);
    assert_eq!(o.datagrams, (2, 3), "{}", o.peer);
}

#[test]
fn our_client_and_wolfssls_server_put_each_others_cids_in_their_records() {
    let mut cfg = config(0x1305, &[X25519]);
    cfg.cid = Some(vec![0xc1]);
    let Some(o) = run(
        "TLS13-AES128-CCM-8-SHA256",
        &["-g", "x25519", "-c", "c1d5e7f0"],
        &cfg,
    ) else {
        return;
    };
    assert_done("cid", &o);
    // wolfSSL sends our 1-byte CID; the session's records carried its 4-byte one (our
    // client's echoes would not have opened at wolfSSL otherwise)
    assert!(o.peer.contains("cid_tx=c1"), "{}", o.peer);
    assert_eq!(o.cids, Some((vec![0xc1, 0xd5, 0xe7, 0xf0], vec![0xc1])));
}

#[test]
fn our_clients_key_update_is_taken_by_wolfssls_server_which_updates_too() {
    let Some(o) = run_updating(
        "TLS13-AES128-CCM-8-SHA256",
        &["-C", "1"],
        &config(0x1305, &[]),
        Some(2),
    ) else {
        return;
    };
    assert_done("key update", &o);
    // wolfSSL ACKed ours (we send in epoch 4) and answered update_requested with its own
    assert_eq!(o.epochs, (4, 4), "{}", o.peer);
}

#[test]
fn our_client_restarts_from_a_state_export_and_wolfssl_takes_its_records() {
    let mut cfg = config(0x1305, &[X25519]);
    cfg.cid = Some(vec![0xc1]);
    let Some(o) = run_restarting(
        "TLS13-AES128-CCM-8-SHA256",
        &["-g", "x25519", "-c", "c1d5e7f0", "-C", "1"],
        &cfg,
        2,
    ) else {
        return;
    };
    // the records after the restart jump 4096 sequence numbers ahead with a 16-bit number;
    // wolfSSL places them and answers: no handshake, every echo
    assert_done("restart", &o);
    assert!(o.restarted, "{}", o.peer);
    assert_eq!(o.datagrams, (2, 3), "one handshake only: {}", o.peer);
}

/// One session of our `Connection13` client on `sock`: 5 echoes, close_notify. Returns
/// whether it resumed, the last ticket the server sent, and the handshake's bytes we sent.
fn session(sock: &UdpSocket, cfg: &ClientConfig13) -> Result<Session, String> {
    let start = Instant::now();
    let mut c = Connection13::client(cfg, RetransmitConfig::default(), Arc::new(OsRng), start)
        .map_err(|e| e.to_string())?;
    let (mut echoed, mut resumed, mut ticket, mut sent_bytes) = (0, false, None, 0);
    let mut largest = 0;
    let mut buf = [0u8; 2048];
    while echoed < 5 {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("stuck after {echoed} echoes"));
        }
        while let Some(d) = c.poll_transmit() {
            if !c.is_established() {
                sent_bytes += d.len();
            }
            sock.send(&d).map_err(|e| e.to_string())?;
        }
        while let Some(e) = c.poll_event() {
            match e {
                Event13::Connected { .. } => {
                    resumed = c.session().is_some_and(|s| s.resumed);
                    c.send(b"msg 0").map_err(|e| e.to_string())?;
                }
                Event13::Ticket(t) => ticket = Some(*t),
                // a server's event
                Event13::EarlyData(_) => {}
                Event13::Data(d) => {
                    if d != format!("msg {echoed}").into_bytes() {
                        return Err(format!("echo {d:?}"));
                    }
                    echoed += 1;
                    if echoed < 5 {
                        c.send(format!("msg {echoed}").as_bytes())
                            .map_err(|e| e.to_string())?;
                    }
                }
                Event13::Closed(why) => return Err(format!("closed: {why:?}")),
                // no early data is given here
                Event13::EarlyDataStatus { .. } => {}
            }
        }
        while let Some(d) = c.poll_transmit() {
            sock.send(&d).map_err(|e| e.to_string())?;
        }
        if echoed == 5 {
            break;
        }
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?;
        match sock.recv(&mut buf) {
            Ok(n) => {
                largest = largest.max(n);
                c.handle_datagram(Instant::now(), &buf[..n]);
            }
            Err(_) => c.handle_timeout(Instant::now()),
        }
    }
    // the ticket may come after the first echo: take what is still queued
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    while ticket.is_none() {
        let Ok(n) = sock.recv(&mut buf) else { break };
        largest = largest.max(n);
        c.handle_datagram(Instant::now(), &buf[..n]);
        while let Some(e) = c.poll_event() {
            if let Event13::Ticket(t) = e {
                ticket = Some(*t);
            }
        }
        while let Some(d) = c.poll_transmit() {
            sock.send(&d).map_err(|e| e.to_string())?;
        }
    }
    c.close();
    while let Some(d) = c.poll_transmit() {
        sock.send(&d).map_err(|e| e.to_string())?;
    }
    Ok(Session {
        resumed,
        ticket,
        sent_bytes,
        largest,
        dropped: c.stats().dropped,
    })
}

/// What [`session`] saw.
struct Session {
    resumed: bool,
    ticket: Option<Ticket13>,
    /// Handshake bytes we sent.
    sent_bytes: usize,
    /// The largest datagram the server sent us.
    largest: usize,
    /// Datagrams our client dropped.
    dropped: u64,
}

#[test]
fn our_client_resumes_with_wolfssls_ticket() {
    let Some(mut srv) = Wolf13Server::ccm8(
        &hex::encode(KEY),
        IDENTITY,
        &["-n", "5", "-C", "1", "-r", "2"],
    ) else {
        return;
    };
    let port = srv.port;
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(("127.0.0.1", port)).expect("connect");
    let cfg = config(0x1305, &[]);
    let first = session(&sock, &cfg).expect("first session");
    let full_bytes = first.sent_bytes;
    assert!(!first.resumed);
    let ticket = first.ticket.expect("wolfSSL sent a ticket");
    println!("ticket {ticket:?}");
    let resume_cfg = ClientConfig13 {
        resume: Some(Resume13 { ticket, age_ms: 50 }),
        ..config(0x1305, &[])
    };
    let again = session(&sock, &resume_cfg).expect("resumed session");
    let (resumed, resume_bytes) = (again.resumed, again.sent_bytes);
    let status = srv.child.wait().expect("wolf13_peer ends");
    let rest = srv.rest();
    assert!(status.success(), "wolfSSL: {rest}");
    assert!(resumed, "our client resumed: {rest}");
    assert!(rest.contains("resumed=1"), "wolfSSL resumed: {rest}");
    println!("handshake bytes we sent: full {full_bytes}, resumed {resume_bytes}");
}

#[test]
fn our_client_reassembles_wolfssls_flight_and_ticket_fragmented_to_a_small_mtu() {
    // wolfSSL's ServerHello with a P-256 share is 127 bytes of body and its ticket more: with a
    // 100-byte MTU it must send them in pieces (RFC 9147 sec. 5.5), which our client puts together
    const MTU: usize = 100;
    let Some(mut srv) = Wolf13Server::ccm8(
        &hex::encode(KEY),
        IDENTITY,
        &["-n", "5", "-g", "p256", "-m", &MTU.to_string()],
    ) else {
        return;
    };
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(("127.0.0.1", srv.port)).expect("connect");
    let got = session(&sock, &config(0x1305, &[SECP256R1]));
    let status = srv.child.wait().expect("wolf13_peer ends");
    let rest = srv.rest();
    let got = got.unwrap_or_else(|e| panic!("our client: {e}; wolfSSL: {rest}"));
    assert!(status.success(), "wolfSSL: {rest}");
    assert!(rest.contains("group=SECP256R1"), "{rest}");
    assert!(
        got.largest <= MTU,
        "wolfSSL kept to its MTU: {} B",
        got.largest
    );
    assert!(got.ticket.is_some(), "the ticket in pieces: {rest}");
    println!(
        "largest datagram {} B, dropped {}, ticket {:?}",
        got.largest, got.dropped, got.ticket
    );
}
