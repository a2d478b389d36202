//! DTLS 1.3 handshake messages (`simbridge_dtls::v13`): the ClientHello, ServerHello /
//! HelloRetryRequest, key_share, supported_groups and ACK parsers on arbitrary bytes; the
//! server's `accept` (with and without a required cookie, tickets and RFC 9258 importers) and
//! the client's `handle` on arbitrary datagrams (after its reassembly of a fragmented answer);
//! the ImportedIdentity parser; the reassembly of handshake fragments. With the
//! selector's top bit, 0-RTT: the server's tickets allow early data and it takes it through a
//! strike register (`accept_early`, then a `Connection13` fed the rest of the datagram), and a
//! client resuming with one of its tickets (issued once per process by a full handshake) sends
//! the input's first bytes as early data through a handshake with that server, then gets the
//! arbitrary datagram, as the server does.
//!
//! Asserts: no panic; every message that parses re-encodes to a message that parses to the
//! same value; a HelloRetryRequest our server sends is one our client takes; the early data
//! our client offers on our ticket is taken whole by our server and reported accepted; the
//! reassembly holds no more than its budget and releases only messages of a length their type
//! allows.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use simbridge_dtls::config::RetransmitConfig;
use simbridge_dtls::internal::reassembly::Reassembler;
use simbridge_dtls::rng::{DtlsRng, SeededRng};
use simbridge_dtls::secret::{Secret, SecretVec};
use simbridge_dtls::v13::ack;
use simbridge_dtls::v13::client::{AnswerPieces, Client13, ClientConfig13, ClientStep};
use simbridge_dtls::v13::connection::{Connection13, Event13};
use simbridge_dtls::v13::cookie::CookieKey13;
use simbridge_dtls::v13::early::EarlyGate;
use simbridge_dtls::v13::fragment;
use simbridge_dtls::v13::hello::ClientHello13;
use simbridge_dtls::v13::importer::ImportedIdentity;
use simbridge_dtls::v13::issuer::TicketIssuer;
use simbridge_dtls::v13::key_share::{self, GROUPS};
use simbridge_dtls::v13::server::{Accepted13, HelloContext, Server13};
use simbridge_dtls::v13::server_hello::ServerHello13;
use simbridge_dtls::v13::strike::StrikeRegister;
use simbridge_dtls::v13::ticket::{NewSessionTicket, Resume13, Ticket13};

/// The server's clock (seconds; its tickets are issued at this time).
const NOW_SECS: u64 = 1_000;
/// The early data our tickets allow.
const MAX_EARLY: u32 = 64;
const KEY: [u8; 32] = [0x4b; 32];
const IDENTITY: &[u8] = b"fuzz";

/// A ticket issuer under one fixed key (a new one per input: its used register starts empty,
/// so the cached ticket resumes every time), allowing early data when `early`.
fn issuer(early: bool) -> TicketIssuer {
    let mut t = TicketIssuer::new(Secret::new([0x7e; 16]), 3600);
    t.early_data = early.then_some(MAX_EARLY);
    t
}

fn server13(sel: u8) -> Server13 {
    let early = sel & 128 != 0;
    Server13 {
        suites: vec![0x1305, 0x1301],
        groups: GROUPS.to_vec(),
        psk_ke: sel & 1 != 0,
        require_cookie: sel & 2 != 0,
        cookie_key: CookieKey13::new(Secret::new([0x5c; 32])),
        // a ticket of another key, an imported identity: both paths look at the identities
        tickets: (sel & 32 != 0 || early).then(|| issuer(early)),
        importers: sel & 64 != 0,
        fragment: None,
    }
}

fn context(rng: &SeededRng, sel: u8) -> HelloContext<'_> {
    HelloContext {
        peer: "192.0.2.1:5684".parse().expect("address"),
        now_secs: NOW_SECS,
        rng,
        cid: (sel & 16 != 0).then_some(&[0x5e, 0x4b][..]),
    }
}

/// A register open from the start, whose window holds a ticket one second old.
fn register() -> StrikeRegister {
    StrikeRegister::new(10_000, 16, 0)
}

fn client_config(sel: u8, resume: Option<Resume13>) -> ClientConfig13 {
    let groups = if sel & 4 != 0 { GROUPS.to_vec() } else { Vec::new() };
    ClientConfig13 {
        identity: IDENTITY.to_vec(),
        key: SecretVec::from(&KEY[..]),
        suites: vec![0x1305, 0x1301],
        psk_ke: groups.is_empty() || sel & 8 != 0,
        groups,
        cid: (sel & 32 != 0).then(|| vec![0xc1]),
        resume,
    }
}

/// A ticket of our server allowing early data, from one full psk_ke handshake (made once).
fn ticket() -> Option<&'static Ticket13> {
    static TICKET: OnceLock<Option<Ticket13>> = OnceLock::new();
    TICKET
        .get_or_init(|| {
            let sel = 128 | 1;
            let server = server13(sel);
            let rng = Arc::new(SeededRng::new(7));
            let (mut client, mut server_conn) =
                handshake(&server, client_config(sel, None), &rng)?;
            let issuer = server.tickets.as_ref()?;
            let nst = server_conn
                .session()?
                .new_session_ticket(issuer, NOW_SECS, rng.as_ref())
                .ok()?;
            client.handle_datagram(Instant::now(), &nst);
            std::iter::from_fn(|| client.poll_event()).find_map(|e| match e {
                Event13::Ticket(t) => Some(*t),
                _ => None,
            })
        })
        .as_ref()
}

/// A client and our server through a handshake in memory (the server through the strike
/// register when its tickets allow early data); the client sends `early` as 0-RTT when its
/// ticket allows it. `None` when the server does not answer with a flight.
fn handshake_early(
    server: &Server13,
    config: ClientConfig13,
    early: Option<&[u8]>,
    rng: &Arc<SeededRng>,
) -> Option<(Connection13, Connection13)> {
    let now = Instant::now();
    let dyn_rng: Arc<dyn DtlsRng> = rng.clone();
    let mut client = match early {
        Some(e) => Connection13::client_with_early_data(
            &config,
            e.to_vec(),
            1200,
            RetransmitConfig::default(),
            dyn_rng.clone(),
            now,
        ),
        None => Connection13::client(&config, RetransmitConfig::default(), dyn_rng.clone(), now),
    }
    .ok()?;
    let hello = client.poll_transmit()?;
    let mut strike = register();
    let mut gate = server
        .tickets
        .as_ref()
        .is_some_and(|t| t.early_data.is_some())
        .then(|| EarlyGate {
            register: &mut strike,
            now_ms: NOW_SECS * 1000,
        });
    let cx = context(rng, 0);
    let key = |id: &[u8]| (id == IDENTITY).then(|| SecretVec::from(&KEY[..]));
    let Ok(Accepted13::Flight(wait, flight)) =
        server.accept_early(&hello, &cx, key, true, gate.as_mut())
    else {
        return None;
    };
    let mut srv = Connection13::server(
        wait,
        flight,
        &hello,
        RetransmitConfig::default(),
        dyn_rng,
        now,
    );
    for _ in 0..8 {
        let mut moved = false;
        while let Some(d) = client.poll_transmit() {
            moved = true;
            srv.handle_datagram(now, &d);
        }
        while let Some(d) = srv.poll_transmit() {
            moved = true;
            client.handle_datagram(now, &d);
        }
        if !moved {
            break;
        }
    }
    Some((client, srv))
}

fn handshake(
    server: &Server13,
    config: ClientConfig13,
    rng: &Arc<SeededRng>,
) -> Option<(Connection13, Connection13)> {
    handshake_early(server, config, None, rng)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(ch) = ClientHello13::parse(data) {
        assert_eq!(ClientHello13::parse(&ch.encode()).as_ref(), Ok(&ch));
    }
    if let Ok(sh) = ServerHello13::parse(data) {
        assert_eq!(ServerHello13::parse(&sh.encode()).as_ref(), Ok(&sh));
    }
    let _ = key_share::parse_client_shares(data);
    let _ = key_share::parse_groups(data);
    let _ = ack::parse(data);
    if let Ok(id) = ImportedIdentity::parse(data) {
        if let Ok(bytes) = id.encode() {
            assert_eq!(ImportedIdentity::parse(&bytes).as_ref(), Ok(&id));
        }
    }
    if let Ok(nst) = NewSessionTicket::parse(data) {
        assert_eq!(NewSessionTicket::parse(&nst.encode()).as_ref(), Ok(&nst));
    }
    // handshake fragments: whatever is released is a whole message of a length its type
    // allows, and nothing beyond the budget is held
    for client in [true, false] {
        let mut r = Reassembler::starting_at(0);
        let _ = fragment::absorb(&mut r, data, 0, client);
        assert!(r.buffered() <= fragment::ROOM);
        while let Some(m) = r.pop() {
            assert!(m.body.len() <= fragment::max_len(m.msg_type, client));
        }
    }

    let Some((&sel, datagram)) = data.split_first() else {
        return;
    };
    let rng = SeededRng::new(u64::from(sel));
    let server = server13(sel);
    let cx = context(&rng, sel);
    let key = |_: &[u8]| Some(SecretVec::from(&KEY[..]));
    if sel & 128 != 0 {
        early(sel, datagram, &server);
    } else {
        let _ = server.accept(datagram, &cx, key);
    }

    let config = client_config(sel, None);
    let Ok((wait, ch)) = Client13::start(&config, &rng) else {
        return;
    };
    // the client's real hello through the server: a HelloRetryRequest must be taken
    if let Ok(Accepted13::Retry(hrr)) = server.accept(&ch, &cx, key) {
        assert!(
            matches!(wait.handle(&hrr, &rng), Ok(ClientStep::Retry(..))),
            "our client refused our HelloRetryRequest"
        );
        return;
    }
    // the datagram as pieces of the server's answer first, as `Connection13` takes it
    let mut wait = wait;
    let whole = match wait.defragment(datagram) {
        AnswerPieces::Whole => None,
        AnswerPieces::Partial => return,
        AnswerPieces::Completed(d) => Some(d),
    };
    let answer = whole.as_deref().unwrap_or(datagram);
    if let Ok(ClientStep::Wait(w)) = wait.handle(answer, &rng) {
        let _ = w.handle(datagram);
    }
});

/// 0-RTT both ways: the arbitrary datagram to a server taking early data (what follows the
/// ClientHello in it goes to the connection), then our client resuming with our ticket and
/// the input's first bytes as early data.
fn early(sel: u8, datagram: &[u8], server: &Server13) {
    let rng = Arc::new(SeededRng::new(u64::from(sel)));
    let cx = context(&rng, sel);
    let key = |_: &[u8]| Some(SecretVec::from(&KEY[..]));
    let mut strike = register();
    let mut gate = EarlyGate {
        register: &mut strike,
        now_ms: NOW_SECS * 1000,
    };
    if let Ok(Accepted13::Flight(wait, flight)) =
        server.accept_early(datagram, &cx, key, true, Some(&mut gate))
    {
        let mut s = Connection13::server(
            wait,
            flight,
            datagram,
            RetransmitConfig::default(),
            rng.clone(),
            Instant::now(),
        );
        s.handle_datagram(Instant::now(), datagram);
        while s.poll_event().is_some() {}
    }

    let Some(ticket) = ticket() else {
        return;
    };
    // the early data: the datagram's first bytes, at most what the ticket allows
    let n = usize::from(sel & 0x0f).min(datagram.len());
    let data = &datagram[..n];
    let resume = Resume13 {
        ticket: ticket.clone(),
        age_ms: 1_000,
    };
    // a server of its own: the arbitrary datagram above may have redeemed the ticket
    let fresh = server13(sel);
    let Some((mut client, mut srv)) =
        handshake_early(&fresh, client_config(sel, Some(resume)), Some(data), &rng)
    else {
        return;
    };
    let taken: Vec<u8> = std::iter::from_fn(|| srv.poll_event())
        .filter_map(|e| match e {
            Event13::EarlyData(d) => Some(d),
            _ => None,
        })
        .flatten()
        .collect();
    let status = std::iter::from_fn(|| client.poll_event()).find_map(|e| match e {
        Event13::EarlyDataStatus { accepted } => Some(accepted),
        _ => None,
    });
    if !data.is_empty() && client.is_established() {
        assert_eq!(status, Some(true), "our 0-RTT on our ticket refused");
        assert_eq!(taken, data, "our server took other early data than was sent");
    }
    // then the arbitrary bytes to both, established or not
    client.handle_datagram(Instant::now(), datagram);
    srv.handle_datagram(Instant::now(), datagram);
    while client.poll_event().is_some() || srv.poll_event().is_some() {}
}
