//! DTLS 1.3 (RFC 9147) with an external PSK: our handshake beside wolfSSL 5.9.4's, both ends
//! each, measured in this run as UDP payload bytes.
//!
//! Ours: `simbridge_dtls::v13` client and server (`Connection13`, `Server13`) exchanging their
//! datagrams in this process, every datagram counted at its length. wolfSSL: its client and
//! server (`.peers/wolf13_peer`, built by scripts/setup.d/30-cid-peers.sh) through the counting
//! relay on loopback. Same identity (16 bytes), same key, TLS_AES_128_CCM_8_SHA256 only, 5
//! messages echoed, then close_notify.
//!
//! A datagram counts as handshake when its first record is of epoch 0 (a plaintext hello),
//! epoch 1 (0-RTT early data, sent with the first flight) or epoch 2 (the encrypted
//! handshake); the ACKs, tickets and data of epoch 3 do not. A resumption case counts only its
//! second connection, the one that offers the first one's ticket; "+ 0-RTT" sends 16 B of early
//! data in it. The round trips before the server has the first request are read from the
//! datagram order: server→client flights before the client's first datagram with a record of
//! epoch 1 or 3. The record overhead is the most frequent client→server epoch-3 datagram (the 5-byte
//! messages) less 5.
//! Ours then sends one 16-byte message and its echo: what those records add is the overhead
//! of a message too long to need padding, the figure the energy model takes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::wolf13::Wolf13Server;
use crate::support::{Relay, RelayConfig};
use simbridge_dtls::config::{DEFAULT_MTU, RetransmitConfig};
use simbridge_dtls::rng::{DtlsRng, SeededRng};
use simbridge_dtls::secret::{Secret, SecretVec};
use simbridge_dtls::v13::client::ClientConfig13;
use simbridge_dtls::v13::connection::{Connection13, Event13};
use simbridge_dtls::v13::cookie::CookieKey13;
use simbridge_dtls::v13::early::EarlyGate;
use simbridge_dtls::v13::issuer::TicketIssuer;
use simbridge_dtls::v13::key_share::X25519;
use simbridge_dtls::v13::server::{Accepted13, HelloContext, Server13};
use simbridge_dtls::v13::strike::StrikeRegister;
use simbridge_dtls::v13::ticket::{Resume13, Ticket13};
use simbridge_energy::perf::{Datagram, HandshakeFigures};

use crate::stacks::{ID, KEY};

/// One case, run by both.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The row's name.
    pub name: &'static str,
    /// psk_dhe_ke with X25519 (else psk_ke).
    pub dhe: bool,
    /// The server asks for a cookie.
    pub cookie: bool,
    /// Connection IDs: the client's 1 byte, the server's 4.
    pub cid: bool,
    /// A second connection resumes with the first one's ticket; only the second is counted.
    pub resume: bool,
    /// The resuming connection sends [`LONG`] (16 B) as 0-RTT early data with its ClientHello;
    /// the server takes it and does not echo it (wolf13_peer's server prints it).
    pub early: bool,
}

/// The cases, in row order.
pub const CASES: [Case; 6] = [
    Case {
        name: "psk_ke",
        dhe: false,
        cookie: false,
        cid: false,
        resume: false,
        early: false,
    },
    Case {
        name: "psk_ke, HelloRetryRequest cookie",
        dhe: false,
        cookie: true,
        cid: false,
        resume: false,
        early: false,
    },
    Case {
        name: "psk_dhe_ke X25519",
        dhe: true,
        cookie: false,
        cid: false,
        resume: false,
        early: false,
    },
    Case {
        name: "psk_ke, CIDs (client 1 B, server 4 B)",
        dhe: false,
        cookie: false,
        cid: true,
        resume: false,
        early: false,
    },
    Case {
        name: "psk_ke, resumption with a ticket",
        dhe: false,
        cookie: false,
        cid: false,
        resume: true,
        early: false,
    },
    Case {
        name: "psk_ke, resumption + 0-RTT (16 B)",
        dhe: false,
        cookie: false,
        cid: false,
        resume: true,
        early: true,
    },
];

const CLIENT_CID: [u8; 1] = [0xc1];
const SERVER_CID: [u8; 4] = [0xc1, 0xd5, 0xe7, 0xf0];
const MESSAGES: usize = 5;
/// Ours sends it after the 5-byte messages: 16 bytes need no padding for the record-number
/// mask's sample.
const LONG: &[u8; 16] = b"sixteen-byte-msg";
/// The max_early_data_size our tickets announce in the 0-RTT case (wolf13_peer's `-E`).
const EARLY_MAX: u32 = 1_024;

/// What one run gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Handshake bytes client→server and server→client.
    pub c2s: usize,
    /// See `c2s`.
    pub s2c: usize,
    /// Handshake datagrams, both ways.
    pub datagrams: usize,
    /// Bytes a record adds to 5 bytes of data, client→server.
    pub overhead: Option<usize>,
    /// The handshake datagrams as the energy model counts them (bytes, datagrams, flights).
    pub handshake: HandshakeFigures,
    /// Ours only: bytes a record adds to 16 bytes of data (up, down).
    pub overhead16: Option<(usize, usize)>,
    /// Server→client flights before the client's first datagram of application data (epoch 3)
    /// or early data (epoch 1): the round trips before the server has the first request.
    pub request_round_trips: Option<usize>,
}

fn first_byte_epoch(first: u8) -> Option<u8> {
    match first {
        22 => Some(0),
        b if b & 0xe0 == 0x20 => Some(b & 0b11),
        _ => None,
    }
}

/// The figures of a run's datagrams (each as the relay logs it: direction, length, first byte).
fn figures(log: &[Datagram]) -> Figures {
    let mut f = Figures {
        c2s: 0,
        s2c: 0,
        datagrams: 0,
        overhead: None,
        handshake: HandshakeFigures::default(),
        overhead16: None,
        request_round_trips: None,
    };
    let mut data_lens: HashMap<usize, usize> = HashMap::new();
    let mut handshake = Vec::new();
    for d in log {
        match first_byte_epoch(d.content_type) {
            // epoch 1: 0-RTT early data, part of the client's first flight
            Some(0..=2) => {
                handshake.push(*d);
                f.datagrams += 1;
                if d.c2s {
                    f.c2s += d.len;
                } else {
                    f.s2c += d.len;
                }
            }
            Some(_) if d.c2s => *data_lens.entry(d.len).or_default() += 1,
            _ => {}
        }
    }
    f.overhead = data_lens
        .into_iter()
        .max_by_key(|(len, n)| (*n, usize::MAX - len))
        .map(|(len, _)| len.saturating_sub(5));
    f.handshake = HandshakeFigures::of(&handshake);
    f.request_round_trips = request_round_trips(log);
    f
}

/// The server→client flights before the client's first datagram whose first record is of
/// epoch 1 or 3 (its first request, early or not); `None`: none came. The relay logs only a
/// datagram's first byte: right for wolfSSL, which sends its 0-RTT record in a datagram of its
/// own; ours, which may put it behind the ClientHello, is looked at record by record.
fn request_round_trips(log: &[Datagram]) -> Option<usize> {
    let first = log
        .iter()
        .position(|d| d.c2s && matches!(first_byte_epoch(d.content_type), Some(1 | 3)))?;
    Some(flights_before(&log[..first]))
}

/// Server→client flights (runs of datagrams, each answered or not) in `log`.
fn flights_before(log: &[Datagram]) -> usize {
    let mut flights = 0;
    let mut in_flight = false;
    for d in log {
        flights += usize::from(!d.c2s && !in_flight);
        in_flight = !d.c2s;
    }
    flights
}

/// Whether a datagram of ours carries a record of epoch 1 or 3: its first record, or the one
/// after a plaintext ClientHello (13-byte header, then its length).
fn carries_request(d: &[u8]) -> bool {
    let next = match d.first() {
        Some(22) => d
            .get(11..13)
            .map(|l| 13 + usize::from(u16::from_be_bytes([l[0], l[1]])))
            .and_then(|at| d.get(at)),
        first => first,
    };
    next.is_some_and(|&b| matches!(first_byte_epoch(b), Some(1 | 3)))
}

fn key() -> Vec<u8> {
    hex::decode(KEY).unwrap_or_default()
}

/// Ours, in this process: every datagram each side sends, in order. With `case.resume`, a
/// first connection gets the server's ticket and only the second, resuming with it, counts.
pub fn ours(case: Case) -> Result<Figures, String> {
    let rng = Arc::new(SeededRng::new(13));
    let mut server = Server13 {
        suites: vec![0x1305],
        groups: if case.dhe { vec![X25519] } else { Vec::new() },
        psk_ke: !case.dhe,
        require_cookie: case.cookie,
        cookie_key: CookieKey13::new(Secret::new([0x5c; 32])),
        tickets: case
            .resume
            .then(|| TicketIssuer::new(Secret::new([0x7e; 16]), 3_600)),
        importers: false,
        fragment: None,
    };
    if let (true, Some(issuer)) = (case.early, &mut server.tickets) {
        issuer.early_data = Some(EARLY_MAX);
    }
    // open from the start (`now_ms` 0): the ticket is issued at 1 s and resumes at 2 s
    let mut register = StrikeRegister::new(1_000, 16, 0);
    if !case.resume {
        return run_ours(case, &server, &rng, None, None).map(|(f, _)| f);
    }
    let (_, ticket) = run_ours(case, &server, &rng, None, None)?;
    let ticket = ticket.ok_or("our server sent no ticket")?;
    let resume = Resume13 {
        ticket,
        age_ms: 1_000,
    };
    let gate = case.early.then_some(&mut register);
    run_ours(case, &server, &rng, Some(resume), gate).map(|(f, _)| f)
}

/// One connection of ours to `server`: its figures and the ticket the server sent.
fn run_ours(
    case: Case,
    server: &Server13,
    rng: &Arc<SeededRng>,
    resume: Option<Resume13>,
    mut register: Option<&mut StrikeRegister>,
) -> Result<(Figures, Option<Ticket13>), String> {
    let now = Instant::now();
    // the clock of the ticket times: issued at 1 s, resumed 1 s later
    let now_secs = if resume.is_some() { 2 } else { 1 };
    let early = case.early && resume.is_some();
    let cfg = ClientConfig13 {
        identity: ID.as_bytes().to_vec(),
        key: SecretVec::from(&key()[..]),
        suites: vec![0x1305],
        groups: if case.dhe { vec![X25519] } else { Vec::new() },
        psk_ke: !case.dhe,
        cid: case.cid.then(|| CLIENT_CID.to_vec()),
        resume,
    };
    let retransmit = RetransmitConfig::default();
    let rng_dyn: Arc<dyn DtlsRng> = rng.clone();
    let mut client = if early {
        Connection13::client_with_early_data(
            &cfg,
            LONG.to_vec(),
            DEFAULT_MTU,
            retransmit,
            rng_dyn.clone(),
            now,
        )
    } else {
        Connection13::client(&cfg, retransmit, rng_dyn.clone(), now)
    }
    .map_err(|e| format!("our client: {e}"))?;
    // the server's early data, and the client's word on it
    let (mut early_got, mut early_status) = (Vec::new(), None);
    // the index in `log` of the client's first datagram with a request in it
    let mut first_request = None;
    let mut srv: Option<Connection13> = None;
    let mut log: Vec<Datagram> = Vec::new();
    let (mut sent, mut echoed) = (0, 0);
    let mut ticket = None;
    // The datagram lengths of the 16-byte message and of its echo.
    let (mut long_up, mut long_down) = (None, None);
    let peer: SocketAddr = ([127, 0, 0, 1], 5684).into();
    for _ in 0..64 {
        let mut moved = false;
        while let Some(d) = client.poll_transmit() {
            moved = true;
            if first_request.is_none() && carries_request(&d) {
                first_request = Some(log.len());
            }
            log.push(Datagram::parse(true, &d));
            if sent > MESSAGES {
                long_up = long_up.or(Some(d.len()));
            }
            match &mut srv {
                Some(s) => s.handle_datagram(now, &d),
                None => {
                    let cx = HelloContext {
                        peer,
                        now_secs,
                        rng: rng.as_ref(),
                        cid: case.cid.then_some(&SERVER_CID[..]),
                    };
                    let k = key();
                    let mut gate = register.as_deref_mut().map(|register| EarlyGate {
                        register,
                        now_ms: now_secs * 1_000,
                    });
                    let key_for = |_: &[u8]| Some(SecretVec::from(&k[..]));
                    match server.accept_early(&d, &cx, key_for, true, gate.as_mut()) {
                        Ok(Accepted13::Retry(hrr)) => {
                            log.push(Datagram::parse(false, &hrr));
                            client.handle_datagram(now, &hrr);
                        }
                        Ok(Accepted13::Flight(w, flight)) => {
                            srv = Some(Connection13::server(
                                w,
                                flight,
                                &d,
                                retransmit,
                                rng_dyn.clone(),
                                now,
                            ));
                        }
                        Err(e) => return Err(format!("our server: {e}")),
                    }
                }
            }
        }
        if let Some(s) = &mut srv {
            while let Some(e) = s.poll_event() {
                match e {
                    Event13::Data(d) => {
                        s.send(&d).map_err(|e| format!("our server: {e}"))?;
                        moved = true;
                    }
                    // taken, not echoed (as wolf13_peer's server does)
                    Event13::EarlyData(d) => early_got.extend(d),
                    // a ticket after the handshake, as the endpoint sends it
                    Event13::Connected { .. } => {
                        if let (Some(issuer), Some(up)) = (&server.tickets, s.session()) {
                            let nst = up
                                .new_session_ticket(issuer, 1, rng.as_ref())
                                .map_err(|e| format!("our ticket: {e}"))?;
                            log.push(Datagram::parse(false, &nst));
                            client.handle_datagram(now, &nst);
                            moved = true;
                        }
                    }
                    _ => {}
                }
            }
            while let Some(d) = s.poll_transmit() {
                moved = true;
                log.push(Datagram::parse(false, &d));
                if sent > MESSAGES {
                    long_down = long_down.or(Some(d.len()));
                }
                client.handle_datagram(now, &d);
            }
        }
        while let Some(e) = client.poll_event() {
            match e {
                Event13::EarlyDataStatus { accepted } => early_status = Some(accepted),
                Event13::Connected { .. } | Event13::EarlyData(_) => {}
                Event13::Ticket(t) => ticket = Some(*t),
                Event13::Data(_) => echoed += 1,
                Event13::Closed(why) => return Err(format!("our client closed: {why:?}")),
            }
        }
        if client.is_established() && sent == echoed && sent <= MESSAGES {
            let msg = if sent < MESSAGES {
                format!("msg {sent}").into_bytes()
            } else {
                LONG.to_vec()
            };
            client.send(&msg).map_err(|e| format!("our client: {e}"))?;
            sent += 1;
            moved = true;
        }
        if echoed > MESSAGES {
            if early && (early_status != Some(true) || early_got != LONG) {
                return Err(format!(
                    "our 0-RTT not taken (client: {early_status:?}, server got {} B)",
                    early_got.len()
                ));
            }
            client.close();
            while let Some(d) = client.poll_transmit() {
                log.push(Datagram::parse(true, &d));
            }
            let mut f = figures(&log);
            f.request_round_trips = first_request.map(|i| flights_before(&log[..i]));
            f.overhead16 = long_up
                .zip(long_down)
                .map(|(u, d)| (u.saturating_sub(LONG.len()), d.saturating_sub(LONG.len())));
            return Ok((f, ticket));
        }
        if !moved {
            break;
        }
    }
    Err(format!("our run stopped after {echoed} echoes"))
}

/// wolfSSL's client and server through the counting relay.
pub fn wolfssl(case: Case, root: &Path) -> Result<Figures, String> {
    let bin = root.join(".peers/wolf13_peer");
    if !bin.is_file() {
        return Err(format!(
            "{} missing (scripts/setup.d/30-cid-peers.sh builds it)",
            bin.display()
        ));
    }
    let key = KEY.to_string();
    let mut common = vec![
        "-k".to_string(),
        key,
        "-i".into(),
        ID.into(),
        "-l".into(),
        "TLS13-AES128-CCM-8-SHA256".into(),
        "-n".into(),
        MESSAGES.to_string(),
    ];
    if case.dhe {
        common.extend(["-g".into(), "x25519".into()]);
    }
    let mut server_args = common.clone();
    let mut client_args = common;
    if !case.cookie {
        server_args.extend(["-C".into(), "1".into()]);
    }
    if case.cid {
        server_args.extend(["-c".into(), hex::encode(SERVER_CID)]);
        client_args.extend(["-c".into(), hex::encode(CLIENT_CID)]);
    }
    if case.resume {
        server_args.extend(["-r".into(), "2".into()]);
        client_args.extend(["-r".into(), "2".into()]);
    }
    if case.early {
        // wolfSSL's server takes 0-RTT only without its cookie (`-C 1`, set above)
        server_args.extend(["-E".into(), EARLY_MAX.to_string()]);
        let text = std::str::from_utf8(LONG).map_err(|e| e.to_string())?;
        client_args.extend(["-e".into(), text.into()]);
    }
    let args: Vec<&str> = server_args.iter().map(String::as_str).collect();
    let mut srv = Wolf13Server::start(&bin, &args)?;
    let port = srv.port;
    let relay = Relay::start(([127, 0, 0, 1], port).into(), RelayConfig::default());
    let client = Command::new(&bin)
        .args(["client", &relay.addr().port().to_string()])
        .args(&client_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("wolf13_peer client: {e}"))?;
    let done = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = srv.child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if Instant::now() > done {
            let _ = srv.child.kill();
            return Err("wolf13_peer server did not finish".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !client.success() || !status.success() {
        return Err(format!(
            "wolfSSL run failed (client {client}, server {status})"
        ));
    }
    let stats = relay.stats();
    if case.early {
        // the server prints each early record it took; the client's status is not proof
        let out = srv.rest();
        let want = format!("EARLY {}", String::from_utf8_lossy(LONG));
        if !out.lines().any(|l| l == want) {
            return Err(format!("wolfSSL's server took no 0-RTT: {out:?}"));
        }
    }
    if case.resume {
        return Ok(figures(second_connection(&stats.log)));
    }
    Ok(figures(&stats.log))
}

/// The datagrams from the second connection's first ClientHello on: the first plaintext
/// handshake datagram from the client after the first connection's epoch-3 traffic.
fn second_connection(log: &[Datagram]) -> &[Datagram] {
    let mut seen_data = false;
    for (i, d) in log.iter().enumerate() {
        match first_byte_epoch(d.content_type) {
            Some(3) => seen_data = true,
            Some(0) if seen_data && d.c2s => return &log[i..],
            _ => {}
        }
    }
    &[]
}
