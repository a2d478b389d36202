//! ClientLink in memory against the DTLS 1.3 server states, with a seeded RNG and a virtual
//! clock: the handshake in the 1.2 event vocabulary, the PSK asked for before the ClientHello,
//! the close reasons a retry policy reads, KeyUpdate, state export and import ("auto": the
//! tests of `version_fallback`).

use super::*;
use crate::config::{ClientPskSource, RetransmitConfig, StaticPsk};
use crate::event::FailureKind;
use crate::export::MemoryLedger;
use crate::rng::SeededRng;
use crate::secret::{Secret, SecretVec};
use crate::v13::cookie::CookieKey13;
use crate::v13::server::{Accepted13, HelloContext, Server13};
use crate::v13::ticket::{Resume13, Ticket13};
use crate::wire::alert::AlertDescription;
use std::time::Duration;

const IDENTITY: &[u8] = b"3GPP-bootstrapping.link-test@bsf.example.org";
const KEY: [u8; 32] = [0x4b; 32];

fn retransmit() -> RetransmitConfig {
    RetransmitConfig {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        max_retransmits: 3,
    }
}

fn config(psk: Arc<dyn ClientPskSource>, suites: &[CipherSuite]) -> Arc<ClientConfig> {
    let mut c = ClientConfig::new(psk);
    c.common.suites = suites.to_vec();
    c.common.retransmit = retransmit();
    c.common.rng = Arc::new(SeededRng::new(7));
    Arc::new(c)
}

fn static_psk(key: &[u8]) -> Arc<dyn ClientPskSource> {
    Arc::new(StaticPsk {
        identity: IDENTITY.to_vec(),
        key: SecretVec::from(key),
    })
}

/// A PSK source that answers later (a GBA_U card).
struct Later;

impl ClientPskSource for Later {
    fn psk(&self, _hint: Option<&[u8]>, _suite: CipherSuite) -> PskAnswer<ClientPsk> {
        PskAnswer::Pending
    }
}

/// Our link and a DTLS 1.3 server connection, datagrams moved by `pump`.
struct Net {
    now: Instant,
    link: ClientLink,
    srv: Server13,
    server: Option<Connection13>,
    rng: Arc<SeededRng>,
    /// What the server received as application data.
    at_server: Vec<Vec<u8>>,
}

impl Net {
    fn new(link: ClientLink, now: Instant) -> Self {
        let mut srv = Server13::psk_ke(
            CipherSuite::TLS13.iter().map(|s| s.iana()).collect(),
            CookieKey13::new(Secret::new([0x5c; 32])),
        );
        srv.groups = vec![X25519];
        Self {
            now,
            link,
            srv,
            server: None,
            rng: Arc::new(SeededRng::new(3)),
            at_server: Vec::new(),
        }
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(d) = self.link.poll_transmit() {
                moved = true;
                self.deliver_to_server(&d);
            }
            if let Some(s) = &mut self.server {
                while let Some(d) = s.poll_transmit() {
                    moved = true;
                    self.link.handle_datagram(self.now, &d);
                }
                while let Some(e) = s.poll_event() {
                    if let Event13::Data(d) = e {
                        self.at_server.push(d);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn deliver_to_server(&mut self, d: &[u8]) {
        if let Some(s) = &mut self.server {
            s.handle_datagram(self.now, d);
            return;
        }
        let cx = HelloContext {
            peer: "192.0.2.9:5684".parse().expect("addr"),
            now_secs: 1_000,
            rng: self.rng.as_ref(),
            cid: Some(&[0xc1, 0xc2]),
        };
        let key = |id: &[u8]| (id == IDENTITY).then(|| SecretVec::from(&KEY[..]));
        match self.srv.accept(d, &cx, key) {
            Ok(Accepted13::Flight(w, flight)) => {
                self.server = Some(Connection13::server(
                    w,
                    flight,
                    d,
                    retransmit(),
                    self.rng.clone(),
                    self.now,
                ));
            }
            Ok(Accepted13::Retry(_)) => panic!("no cookie asked here"),
            // what a server sends for a binder that does not verify (RFC 8446 §4.2.11):
            // decrypt_error, in a plaintext record
            Err(_) => self.link.handle_datagram(
                self.now,
                &[21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 2, 51],
            ),
        }
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.link.poll_event()).collect()
    }
}

fn connected(suites: &[CipherSuite]) -> Net {
    let now = Instant::now();
    let link =
        ClientLink::client(config(static_psk(&KEY), suites), Versions::Dtls13, now).expect("link");
    let mut net = Net::new(link, now);
    net.pump();
    net
}

#[test]
fn a_dtls13_link_reports_the_handshake_and_data_as_dtls12_events_and_counts_them() {
    let mut net = connected(&[]);
    assert!(net.link.is_established());
    assert_eq!(net.link.version(), Versions::Dtls13);
    let ev = net.events();
    assert_eq!(
        ev,
        vec![Event::Connected {
            suite: CipherSuite::Tls13Aes128Ccm8Sha256,
            identity: IDENTITY.to_vec(),
            resumed: false,
        }],
        "no suite configured: CipherSuite::TLS13, CCM_8 first"
    );
    assert_eq!(net.link.suite(), Some(CipherSuite::Tls13Aes128Ccm8Sha256));
    assert_eq!(net.link.identity(), IDENTITY);
    net.link.send(b"ping").expect("send");
    net.pump();
    assert_eq!(net.at_server, vec![b"ping".to_vec()]);
    let s = net.server.as_mut().expect("server");
    s.send(b"pong").expect("server send");
    net.pump();
    assert_eq!(net.events(), vec![Event::Data(b"pong".to_vec())]);
    let st = net.link.stats();
    // ClientHello and Finished; the server's flight in one datagram: one round trip
    assert_eq!(st.handshake_datagrams_sent, 2, "{st:?}");
    assert_eq!(st.handshake_datagrams_received, 1, "{st:?}");
    assert_eq!(st.round_trips, 1, "{st:?}");
    assert_eq!(st.handshake_kind, Some(HandshakeKind::Full));
    assert_eq!((st.app_bytes_sent, st.app_bytes_received), (4, 4));
    assert_eq!((st.app_records_sent, st.app_records_received), (1, 1));
    assert!(net.link.session().is_none(), "1.3 resumes from its export");
}

#[test]
fn data_sent_as_the_session_comes_up_goes_after_our_finished() {
    let now = Instant::now();
    let link =
        ClientLink::client(config(static_psk(&KEY), &[]), Versions::Dtls13, now).expect("link");
    let mut net = Net::new(link, now);
    let hello = net.link.poll_transmit().expect("ClientHello");
    net.deliver_to_server(&hello);
    let flight: Vec<Vec<u8>> = {
        let s = net.server.as_mut().expect("server");
        std::iter::from_fn(|| s.poll_transmit()).collect()
    };
    for d in flight {
        net.link.handle_datagram(now, &d);
    }
    assert!(
        net.link.is_established(),
        "the Finished is queued, not sent"
    );
    // a gateway flushes its queue as soon as it sees Connected
    net.link.send(b"early").expect("send");
    net.pump();
    assert_eq!(net.at_server, vec![b"early".to_vec()]);
}

#[test]
fn the_first_configured_tls13_suite_is_asked_for_before_the_client_hello() {
    let now = Instant::now();
    let suites = [
        CipherSuite::PskAes128Ccm8,
        CipherSuite::Tls13Aes128GcmSha256,
    ];
    let mut link =
        ClientLink::client(config(Arc::new(Later), &suites), Versions::Dtls13, now).expect("link");
    assert!(
        link.poll_transmit().is_none(),
        "no ClientHello without the key"
    );
    match link.poll_event() {
        Some(Event::PskRequested { suite, .. }) => {
            assert_eq!(suite, CipherSuite::Tls13Aes128GcmSha256)
        }
        other => panic!("{other:?}"),
    }
    link.provide_client_psk(
        now,
        Some(ClientPsk {
            identity: IDENTITY.to_vec(),
            key: SecretVec::from(&KEY[..]),
        }),
    )
    .expect("answer");
    assert_eq!(
        link.provide_client_psk(now, None),
        Err(Error::NoPskRequest),
        "one answer only"
    );
    let mut net = Net::new(link, now);
    net.pump();
    assert!(net.link.is_established());
    // the 1.2 suite is not offered in a 1.3 ClientHello
    assert_eq!(net.link.suite(), Some(CipherSuite::Tls13Aes128GcmSha256));
}

#[test]
fn a_refused_psk_answer_fails_the_handshake() {
    let now = Instant::now();
    let mut link =
        ClientLink::client(config(Arc::new(Later), &[]), Versions::Dtls13, now).expect("link");
    assert!(matches!(
        link.poll_event(),
        Some(Event::PskRequested { .. })
    ));
    link.provide_client_psk(now, None).expect("answer");
    assert_eq!(
        link.poll_event(),
        Some(Event::Closed {
            reason: CloseReason::Error(Error::NoPsk)
        })
    );
    assert!(link.is_closed());
}

fn closed_reason(events: Vec<Event>) -> CloseReason {
    events
        .into_iter()
        .find_map(|e| match e {
            Event::Closed { reason } => Some(reason),
            _ => None,
        })
        .expect("closed")
}

#[test]
fn a_wrong_key_refused_by_the_server_is_key_rejected() {
    let now = Instant::now();
    let link = ClientLink::client(config(static_psk(&[0x11; 32]), &[]), Versions::Dtls13, now)
        .expect("link");
    let mut net = Net::new(link, now);
    net.pump();
    assert!(net.server.is_none(), "the binder did not verify");
    let reason = closed_reason(net.events());
    assert_eq!(
        reason,
        CloseReason::PeerAlert(AlertDescription::DecryptError)
    );
    assert_eq!(reason.failure_kind(), Some(FailureKind::KeyRejected));
    assert!(net.link.is_closed());
}

#[test]
fn a_silent_server_is_a_timeout() {
    let mut now = Instant::now();
    let mut link =
        ClientLink::client(config(static_psk(&KEY), &[]), Versions::Dtls13, now).expect("link");
    let mut hellos = 0;
    while !link.is_closed() {
        while link.poll_transmit().is_some() {
            hellos += 1;
        }
        let Some(t) = link.poll_timeout() else { break };
        now = now.max(t);
        link.handle_timeout(now);
    }
    assert_eq!(hellos, 4, "the ClientHello and 3 retransmissions");
    let reason = closed_reason(std::iter::from_fn(|| link.poll_event()).collect());
    assert_eq!(reason.failure_kind(), Some(FailureKind::Timeout));
    assert_eq!(link.stats().retransmissions, 3);
}

#[test]
fn a_dtls12_link_is_the_dtls12_connection() {
    let link = ClientLink::client(
        config(static_psk(&KEY), &[CipherSuite::PskAes128Ccm8]),
        Versions::Dtls12,
        Instant::now(),
    )
    .expect("link");
    assert_eq!(link.version(), Versions::Dtls12);
    assert!(!link.is_established());
}

#[test]
fn key_updates_after_the_set_number_of_records_move_both_sides_to_epoch_4() {
    let mut net = connected(&[]);
    net.link.set_key_update_after(Some(2));
    for m in [&b"one"[..], b"two", b"three"] {
        net.link.send(m).expect("send");
        net.pump();
    }
    assert_eq!(net.at_server.len(), 3);
    // ours after "two", ACKed; the server's (update_requested), ACKed by us
    assert_eq!(net.link.epochs(), Some((4, 4)));
    let s = net.server.as_mut().expect("server");
    s.send(b"after").expect("server send");
    net.pump();
    assert!(net.events().contains(&Event::Data(b"after".to_vec())));
}

#[test]
fn key_updates_go_on_past_epoch_6_whose_low_bits_are_the_handshake_epochs() {
    let mut net = connected(&[]);
    net.link.set_key_update_after(Some(1));
    for i in 0..5u8 {
        net.link.send(&[i; 12]).expect("send");
        net.pump();
        let s = net.server.as_mut().expect("server");
        s.send(&[i; 3]).expect("server send");
        net.pump();
    }
    assert_eq!(net.at_server.len(), 5);
    let data = net
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Data(_)))
        .count();
    assert_eq!(data, 5);
    // five updates each way: epoch 8, through 6 (whose header bits read 2)
    assert_eq!(net.link.epochs(), Some((8, 8)));
    assert_eq!(
        net.link.stats().retransmissions,
        0,
        "no Finished sent again"
    );
}

#[test]
fn a_lost_key_update_is_sent_again_on_its_timer_and_a_silent_peer_ends_the_session() {
    let mut net = connected(&[]);
    net.link.set_key_update_after(Some(1));
    net.link.send(b"x").expect("send");
    let data = net.link.poll_transmit().expect("record");
    let _lost = net.link.poll_transmit().expect("KeyUpdate");
    net.deliver_to_server(&data);
    net.pump();
    assert_eq!(net.link.epochs(), Some((3, 3)), "no ACK yet");
    let t = net.link.poll_timeout().expect("the KeyUpdate's timer");
    net.now = t;
    net.link.handle_timeout(t);
    net.pump();
    assert_eq!(
        net.link.epochs(),
        Some((4, 4)),
        "sent again, ACKed, answered"
    );
    assert_eq!(net.link.stats().retransmissions, 1);
    assert!(
        net.link.poll_timeout().is_none(),
        "the timer stopped at the ACK"
    );

    // a peer that never ACKs: given up after the retransmissions, as a handshake would be
    net.link.send(b"y").expect("send");
    while net.link.poll_transmit().is_some() {}
    while let Some(t) = net.link.poll_timeout() {
        net.link.handle_timeout(t);
        while net.link.poll_transmit().is_some() {}
    }
    let reason = closed_reason(net.events());
    assert_eq!(
        reason.failure_kind(),
        Some(crate::event::FailureKind::Timeout)
    );
}

#[test]
fn an_export_continues_in_a_new_link_without_a_handshake_once() {
    let mut net = connected(&[]);
    net.events();
    let cfg = config(static_psk(&KEY), &[]);
    let blob = net.link.export_state(b"state key", 64).expect("export");
    let mut ledger = MemoryLedger::default();
    let wrong = ClientLink::import_state(
        &blob,
        b"state key",
        (cfg.clone(), Versions::Dtls12),
        &mut MemoryLedger::default(),
        net.now,
    );
    assert!(
        matches!(wrong, Err(ExportError::OtherProtocol(_))),
        "a 1.2 route does not take it"
    );
    let mut link = ClientLink::import_state(
        &blob,
        b"state key",
        (cfg.clone(), Versions::Dtls13),
        &mut ledger,
        net.now,
    )
    .expect("import");
    assert!(link.is_established());
    assert_eq!(link.stats().handshake_kind, Some(HandshakeKind::NoneNeeded));
    assert_eq!(link.suite(), Some(CipherSuite::Tls13Aes128Ccm8Sha256));
    let mut buf = [0u8; 256];
    let n = link.send_into(b"after restart", &mut buf).expect("seal");
    net.link = link;
    net.deliver_to_server(&buf[..n]);
    net.pump();
    assert_eq!(net.at_server, vec![b"after restart".to_vec()]);
    assert_eq!(net.link.stats().handshake_datagrams_sent, 0);
    assert!(matches!(
        ClientLink::import_state(
            &blob,
            b"state key",
            (cfg, Versions::Dtls13),
            &mut ledger,
            net.now
        ),
        Err(ExportError::AlreadyImported)
    ));
}

#[test]
fn in_place_data_comes_in_order_and_a_short_buffer_consumes_nothing() {
    let mut net = connected(&[]);
    net.events();
    let mut small = [0u8; 8];
    assert!(matches!(
        net.link.send_into(b"hello", &mut small),
        Err(Error::BufferTooSmall { .. })
    ));
    assert_eq!(net.link.stats().app_records_sent, 0, "nothing consumed");
    let s = net.server.as_mut().expect("server");
    s.send(b"one").expect("send");
    let mut d = s.poll_transmit().expect("record");
    let mut got = Vec::new();
    net.link
        .handle_datagram_in_place(net.now, &mut d, |x| got.push(x.to_vec()));
    assert_eq!(got, vec![b"one".to_vec()]);
    assert!(net.link.poll_event().is_none(), "handed on, not queued");
    // a datagram too long for the buffer stays first in line
    net.link
        .send(b"a datagram longer than eight bytes")
        .expect("send");
    assert!(matches!(
        net.link.poll_transmit_into(&mut small),
        Err(Error::BufferTooSmall { .. })
    ));
    let mut big = [0u8; 256];
    assert!(
        net.link
            .poll_transmit_into(&mut big)
            .expect("fits")
            .is_some()
    );
}

#[test]
fn connection_ids_are_reported_both_ways() {
    let now = Instant::now();
    let mut cfg = ClientConfig::new(static_psk(&KEY));
    cfg.common.rng = Arc::new(SeededRng::new(7));
    cfg.connection_id = Some(0);
    let link = ClientLink::client(Arc::new(cfg), Versions::Dtls13, now).expect("link");
    let mut net = Net::new(link, now);
    net.pump();
    assert!(net.link.is_established());
    assert!(net.link.cid_negotiated());
    assert_eq!(net.link.peer_connection_id(), &[0xc1, 0xc2]);
    assert_eq!(net.link.connection_id(), b"");
    net.link.send(b"with cid").expect("send");
    net.pump();
    assert_eq!(net.at_server, vec![b"with cid".to_vec()]);
}

/// A link connected to a server that issues tickets, and the ticket it sent.
fn ticket_from_server() -> (Net, Ticket13) {
    use crate::v13::issuer::TicketIssuer;
    let now = Instant::now();
    let cfg = config(static_psk(&KEY), &[CipherSuite::Tls13Aes128Ccm8Sha256]);
    let link = ClientLink::client(cfg, Versions::Dtls13, now).expect("link");
    let mut net = Net::new(link, now);
    net.srv.tickets = Some(TicketIssuer::new(Secret::new([0x7e; 16]), 3600));
    net.pump();
    assert!(net.link.is_established());
    assert_eq!(net.link.take_ticket(), None, "none sent yet");
    let issuer = net.srv.tickets.as_ref().expect("issuer");
    let nst = net
        .server
        .as_mut()
        .and_then(|s| s.session())
        .expect("server up")
        .new_session_ticket(issuer, 1_000, net.rng.as_ref())
        .expect("ticket");
    net.link.handle_datagram(now, &nst);
    net.pump();
    let t = net.link.take_ticket().expect("kept for the caller");
    assert_eq!(net.link.take_ticket(), None, "handed out once");
    assert_eq!(net.link.last_ticket(), Some(&t));
    (net, t)
}

/// A second link on the same server, resuming with `ticket` and sending `early`.
fn resume(net: Net, ticket: Ticket13, early: &[u8], mtu: usize) -> Net {
    let mut cfg = ClientConfig::new(static_psk(&KEY));
    cfg.common.suites = vec![CipherSuite::Tls13Aes128Ccm8Sha256];
    cfg.common.retransmit = retransmit();
    cfg.common.rng = Arc::new(SeededRng::new(8));
    cfg.common.mtu = mtu;
    let resume = Resume13 { ticket, age_ms: 50 };
    let link = ClientLink::connect_with_early_data(
        Arc::new(cfg),
        Some(resume),
        Some(early.to_vec()),
        net.now,
    )
    .expect("link");
    let mut again = Net::new(link, net.now);
    again.srv = net.srv;
    again.pump();
    again
}

#[test]
fn a_kept_ticket_resumes_and_early_data_it_does_not_allow_goes_after_the_handshake() {
    let (net, ticket) = ticket_from_server();
    // our issuer's tickets allow no early data: no 0-RTT offer
    assert!(!ticket.allows_early_data());
    let mut net = resume(net, ticket, b"reading 1", 1200);
    let events = net.events();
    assert!(
        matches!(
            &events[..],
            [
                Event::Connected { resumed: true, .. },
                Event::EarlyDataStatus { accepted: false }
            ]
        ),
        "{events:?}"
    );
    assert_eq!(net.at_server, [b"reading 1".to_vec()]);
    let stats = net.link.stats();
    assert_eq!(stats.handshake_kind, Some(HandshakeKind::Abbreviated));
    assert_eq!((stats.app_records_sent, stats.app_bytes_sent), (1, 9));
}

#[test]
fn an_offered_0rtt_the_server_does_not_take_is_sent_again_and_arrives_once() {
    let (net, ticket) = ticket_from_server();
    let ticket = Ticket13 {
        max_early_data: Some(1024),
        ..ticket
    };
    // an MTU the ClientHello fills: the 0-RTT record goes in a datagram of its own, which a
    // server without 0-RTT drops
    let mut net = resume(net, ticket, b"reading 2", 128);
    let events = net.events();
    assert!(
        matches!(
            &events[..],
            [
                Event::Connected { resumed: true, .. },
                Event::EarlyDataStatus { accepted: false }
            ]
        ),
        "{events:?}"
    );
    assert_eq!(
        net.at_server,
        [b"reading 2".to_vec()],
        "once, after the handshake"
    );
    assert!(
        net.server.as_ref().is_some_and(|s| s.stats().dropped >= 1),
        "the 0-RTT record was sent and dropped"
    );
}
