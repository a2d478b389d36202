//! The session policy over DTLS 1.3 (`SessionConfig::versions = Dtls13`) against the DTLS 1.3
//! server states in memory, on virtual time, with GBA keys under the TLS 1.3 Ua id: the
//! handshake and data, a key the server does not take, a restart from the state export with no
//! handshake and no bootstrap, make-before-break at Ks expiry, KeyUpdate instead of a new
//! handshake, and the counters.

use super::*;
use crate::dtls::rng::SeededRng;
use crate::dtls::v13::connection::{Connection13, Event13};
use crate::dtls::v13::cookie::CookieKey13;
use crate::dtls::v13::early::EarlyGate;
use crate::dtls::v13::issuer::TicketIssuer;
use crate::dtls::v13::key_share::X25519;
use crate::dtls::v13::server::{Accepted13, HelloContext, Server13};
use crate::dtls::v13::strike::StrikeRegister;
use crate::dtls::{CipherSuite, RetransmitConfig, Versions};
use std::collections::HashMap;

/// An echo server of DTLS 1.3 connections, one per path, keyed like a NAF: Ks_NAF of the
/// contexts it knows under the TLS 1.3 Ua id.
struct Lab13 {
    now: Now,
    session: UpstreamSession,
    srv: Server13,
    conns: HashMap<PathId, Connection13>,
    contexts: Vec<BootstrapContext>,
    rng: Arc<SeededRng>,
    at_server: Vec<Vec<u8>>,
    /// Handshakes the server completed.
    accepted: usize,
    /// 0-RTT on the server: its strike register (tickets that allow early data are issued
    /// after each handshake); `None`: no tickets, no early data.
    register: Option<StrikeRegister>,
    /// Early data the server took, in order.
    early: Vec<Vec<u8>>,
    /// Early data the server echoes once its handshake completes.
    echo_later: Vec<Vec<u8>>,
    /// The server drops every datagram (it is down).
    down: bool,
    /// The lab's start, for the server's seconds.
    t0: Instant,
}

impl Lab13 {
    fn new(cfg: SessionConfig) -> Self {
        let mut srv = Server13::psk_ke(
            CipherSuite::TLS13.iter().map(|s| s.iana()).collect(),
            CookieKey13::new(Secret::new([0x5c; 32])),
        );
        srv.groups = vec![X25519];
        let session = UpstreamSession::new(
            cfg,
            KeySource::Gba {
                naf_fqdn: "naf.example.com".into(),
                ua: None,
            },
        );
        Self {
            now: Now::system(),
            session,
            srv,
            conns: HashMap::new(),
            contexts: Vec::new(),
            rng: Arc::new(SeededRng::new(5)),
            at_server: Vec::new(),
            accepted: 0,
            register: None,
            early: Vec::new(),
            echo_later: Vec::new(),
            down: false,
            t0: Now::system().mono,
        }
    }

    /// Tickets allowing 256 B of early data after every handshake, and a strike register that
    /// takes early data at once.
    fn with_early_data(mut self) -> Self {
        let mut issuer = TicketIssuer::new(Secret::new([0x7e; 16]), 3_600);
        issuer.early_data = Some(256);
        self.srv.tickets = Some(issuer);
        self.register = Some(StrikeRegister::new(10_000, 16, 0));
        self.t0 = self.now.mono;
        self
    }

    /// The server's clock, milliseconds (tickets carry its seconds).
    fn server_ms(&self) -> u64 {
        1_000_000 + self.now.mono.saturating_duration_since(self.t0).as_millis() as u64
    }

    fn key_for(&self, identity: &[u8]) -> Option<SecretVec> {
        let id = String::from_utf8_lossy(identity).to_string();
        let btid = crate::gba::ids::btid_from_psk_identity(&id).to_string();
        let ctx = self.contexts.iter().find(|c| c.btid == btid)?;
        let naf = NafId::new("naf.example.com", UaId::TLS13).ok()?;
        let k = ctx.naf_key(None, &naf).ok()?;
        Some(SecretVec::from(&k.expose()[..]))
    }

    fn deliver_to_server(&mut self, path: PathId, d: &[u8]) {
        if self.down {
            return;
        }
        // a ClientHello (a plaintext handshake record) on a path whose session is up starts a
        // new one; anything else goes to the path's connection
        let hello = d.first() == Some(&22);
        if let Some(c) = self.conns.get_mut(&path) {
            if !hello || !c.is_established() {
                c.handle_datagram(self.now.mono, d);
                return;
            }
        }
        if !hello {
            return;
        }
        let now_ms = self.server_ms();
        let cx = HelloContext {
            peer: addr(path),
            now_secs: now_ms / 1000,
            rng: self.rng.as_ref(),
            cid: Some(&[0xc5]),
        };
        let mut register = self.register.take();
        let mut gate = register
            .as_mut()
            .map(|register| EarlyGate { register, now_ms });
        let accepted = self
            .srv
            .accept_early(d, &cx, |id| self.key_for(id), true, gate.as_mut());
        self.register = register;
        match accepted {
            Ok(Accepted13::Flight(w, flight)) => {
                let c = Connection13::server(
                    w,
                    flight,
                    d,
                    RetransmitConfig::default(),
                    self.rng.clone(),
                    self.now.mono,
                );
                self.conns.insert(path, c);
            }
            Ok(Accepted13::Retry(_)) => panic!("no cookie asked here"),
            // the binder did not verify or the identity is unknown: decrypt_error in clear
            Err(_) => self.session.handle_datagram(
                self.now,
                path,
                &[21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 2, 51],
            ),
        }
    }

    /// Moves datagrams until quiet; the server echoes every record.
    fn pump(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            while let Some((path, d)) = self.session.poll_transmit() {
                moved = true;
                self.deliver_to_server(path, &d);
            }
            let paths: Vec<PathId> = self.conns.keys().copied().collect();
            let secs = self.server_ms() / 1000;
            for path in paths {
                let Some(c) = self.conns.get_mut(&path) else {
                    continue;
                };
                while let Some(e) = c.poll_event() {
                    match e {
                        Event13::Data(d) => {
                            let _ = c.send(&d);
                            self.at_server.push(d);
                        }
                        Event13::Connected { .. } => {
                            self.accepted += 1;
                            if let (Some(issuer), Some(up)) = (&self.srv.tickets, c.session()) {
                                if let Ok(t) =
                                    up.new_session_ticket(issuer, secs, self.rng.as_ref())
                                {
                                    self.session.handle_datagram(self.now, path, &t);
                                }
                            }
                            for d in self.echo_later.drain(..) {
                                let _ = c.send(&d);
                            }
                        }
                        // echoed once the handshake completes, like the bridge server's held
                        // replies
                        Event13::EarlyData(d) => {
                            self.early.push(d.clone());
                            self.echo_later.push(d);
                        }
                        _ => {}
                    }
                }
                let out: Vec<Vec<u8>> = std::iter::from_fn(|| c.poll_transmit()).collect();
                for d in out {
                    moved = true;
                    self.session.handle_datagram(self.now, path, &d);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.plus(d);
        self.session.handle_timeout(self.now);
        for c in self.conns.values_mut() {
            c.handle_timeout(self.now.mono);
        }
        self.pump();
    }

    fn received(&mut self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.session.poll_received()).collect()
    }

    /// Answers a pending bootstrap with context `n` (known to the server when `known`).
    fn bootstrap(&mut self, n: u8, life: Duration, known: bool) {
        match self.session.poll_action() {
            Some(Action::Bootstrap { .. }) => {}
            other => panic!("expected a bootstrap, got {other:?}"),
        }
        let ctx = context(n, self.now.wall, life);
        if known {
            self.contexts.push(ctx.clone());
        }
        self.session.bootstrap_done(self.now, Ok((ctx, true)));
        self.pump();
    }
}

fn cfg13() -> SessionConfig {
    let mut cfg = SessionConfig {
        rekey_before: Duration::from_secs(600),
        versions: Versions::Dtls13,
        ..SessionConfig::default()
    };
    cfg.dtls.common.suites = CipherSuite::TLS13.to_vec();
    cfg
}

fn up(life: Duration) -> Lab13 {
    let mut lab = Lab13::new(cfg13());
    lab.session.connect(lab.now);
    lab.bootstrap(1, life, true);
    lab
}

#[test]
fn a_dtls13_route_handshakes_with_the_tls13_naf_key_and_carries_data_both_ways() {
    let mut lab = up(Duration::from_secs(86400));
    assert!(lab.session.is_established());
    lab.session.send(lab.now, b"hello");
    lab.pump();
    assert_eq!(lab.at_server, vec![b"hello".to_vec()]);
    assert_eq!(lab.received(), vec![b"hello".to_vec()]);
    let live = lab.session.live_connection().expect("live");
    assert_eq!(live.suite, Some(CipherSuite::Tls13Aes128Ccm8Sha256));
    assert_eq!(
        live.identity,
        b"3GPP-bootstrapping.ctx1@bsf.example".to_vec()
    );
    let m = lab.session.metrics();
    assert_eq!((m.bootstraps, m.handshakes_full), (1, 1));
    assert_eq!(m.handshake_round_trips, 1, "{m:?}");
    assert_eq!(
        m.handshake_datagrams_sent, 2,
        "ClientHello and Finished: {m:?}"
    );
    assert_eq!((m.data_bytes_sent, m.data_bytes_received), (5, 5));
    // 5 bytes padded to the 16 the mask samples, 1 type, 8 tag, 2 header, 1 CID
    assert!(m.overhead_bytes_sent > 0, "{m:?}");
    // an hour of quiet: nothing on the air, no bootstrap
    lab.advance(Duration::from_secs(3600));
    assert!(lab.session.poll_action().is_none());
    assert_eq!(lab.accepted, 1);
}

#[test]
fn a_key_the_server_does_not_take_forces_a_new_bootstrap() {
    let mut lab = Lab13::new(cfg13());
    lab.session.connect(lab.now);
    lab.bootstrap(9, Duration::from_secs(86400), false);
    assert!(!lab.session.is_established());
    assert_eq!(lab.session.metrics().handshake_failures, 1);
    lab.advance(Duration::from_secs(2));
    match lab.session.poll_action() {
        Some(Action::Bootstrap { force }) => assert!(force, "not the rejected context again"),
        other => panic!("expected a forced bootstrap, got {other:?}"),
    }
    let ctx = context(2, lab.now.wall, Duration::from_secs(86400));
    lab.contexts.push(ctx.clone());
    lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
    lab.pump();
    assert!(lab.session.is_established());
}

#[test]
fn a_restarted_dtls13_route_continues_from_its_export_without_handshake_or_bootstrap() {
    let mut lab = up(Duration::from_secs(86400));
    lab.session.send(lab.now, b"before");
    lab.pump();
    let key = [9u8; 32];
    let blob = lab.session.export(&key, 1 << 16).expect("established");
    // what the gateway saves beside the export (route_state.rs)
    let btid = lab.session.export_btid().map(str::to_string);
    assert_eq!(btid.as_deref(), Some("ctx1@bsf.example"));
    let ctx = lab.session.context().cloned().expect("context");
    // a new process: the connection from its export, then the context from the state dir's
    // cache (the session asks for it to learn the key's lifetime: no AKA)
    lab.session = UpstreamSession::new(
        cfg13(),
        KeySource::Gba {
            naf_fqdn: "naf.example.com".into(),
            ua: None,
        },
    );
    let mut ledger = crate::dtls::export::MemoryLedger::default();
    lab.session
        .import(lab.now, &blob, &key, btid, &mut ledger)
        .expect("import");
    assert!(lab.session.is_established());
    match lab.session.poll_action() {
        Some(Action::Bootstrap { force: false }) => {}
        other => panic!("expected a cached bootstrap, got {other:?}"),
    }
    lab.session.bootstrap_done(lab.now, Ok((ctx, false)));
    lab.pump();
    assert_eq!(
        lab.conns.len(),
        1,
        "no new handshake beside the imported session"
    );
    lab.session.send(lab.now, b"after restart");
    lab.pump();
    assert_eq!(lab.received().last(), Some(&b"after restart".to_vec()));
    let m = lab.session.metrics();
    assert_eq!(
        (m.handshakes_full, m.handshakes_none_needed, m.bootstraps),
        (0, 1, 0)
    );
    assert_eq!(lab.accepted, 1, "the server ran one handshake in all");
    // the export of a 1.3 session is not taken by a 1.2 route
    let mut cfg12 = cfg13();
    cfg12.versions = Versions::Dtls12;
    let mut other = UpstreamSession::new(cfg12, lab.session.source.clone());
    let blob2 = lab.session.export(&key, 100).expect("again");
    assert!(matches!(
        other.import(lab.now, &blob2, &key, None, &mut ledger),
        Err(ExportError::OtherProtocol(_))
    ));
}

#[test]
fn make_before_break_at_ks_expiry_brings_a_new_dtls13_session_and_loses_nothing() {
    let life = Duration::from_secs(3600);
    let mut lab = up(life);
    let (mut sent, mut got) = (0u32, 0usize);
    for minute in 0..58 {
        lab.advance(Duration::from_secs(60));
        if let Some(Action::Bootstrap { force }) = lab.session.poll_action() {
            assert!(force);
            assert!(minute >= 48, "rekey too early: minute {minute}");
            let ctx = context(2, lab.now.wall, life);
            lab.contexts.push(ctx.clone());
            lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
            lab.session.send(lab.now, format!("m{sent}").as_bytes());
            sent += 1;
            lab.pump();
        }
        lab.session.send(lab.now, format!("m{sent}").as_bytes());
        sent += 1;
        lab.pump();
        got += lab.received().len();
    }
    let m = lab.session.metrics();
    assert_eq!((m.bootstraps, m.rekeys, m.handshakes_full), (2, 1, 2));
    assert_eq!(got as u32, sent, "no datagram lost across the rekey");
    assert_eq!(lab.accepted, 2);
    assert!(
        lab.conns.contains_key(&PathId(1)),
        "the new session on its own path"
    );
}

#[test]
fn key_updates_keep_the_dtls13_session_without_a_new_handshake() {
    let mut cfg = cfg13();
    cfg.key_update_after = Some(3);
    let mut lab = Lab13::new(cfg);
    lab.session.connect(lab.now);
    lab.bootstrap(1, Duration::from_secs(86400), true);
    for i in 0..10u8 {
        lab.session.send(lab.now, &[i; 20]);
        lab.pump();
    }
    let got = lab.received();
    assert_eq!(lab.at_server.len(), 10, "{:?}", lab.at_server);
    assert_eq!(got.len(), 10, "{got:?}");
    let server = lab.conns.get_mut(&PathId(0)).expect("server");
    let (send, recv) = server.session().expect("up").epochs();
    // three KeyUpdates of ours, each answered by one of the server's (update_requested)
    assert_eq!((send, recv), (6, 6));
    let m = lab.session.metrics();
    assert_eq!(m.handshakes_full, 1);
    assert_eq!(lab.accepted, 1);
}

/// A route with `early_data` up with a server that issues tickets allowing early data.
fn early_lab() -> Lab13 {
    let mut cfg = cfg13();
    cfg.early_data = true;
    let mut lab = Lab13::new(cfg).with_early_data();
    lab.session.connect(lab.now);
    lab.bootstrap(1, Duration::from_secs(86400), true);
    lab
}

/// The server closes the session and goes down, keeping its ticket key (a restart): the
/// route's new handshakes get no answer for a while, so new data waits in its queue.
fn server_goes_down(lab: &mut Lab13) {
    for c in lab.conns.values_mut() {
        c.close();
    }
    lab.down = true;
    lab.pump();
    lab.conns.clear();
    for _ in 0..12 {
        lab.advance(Duration::from_secs(5));
    }
    assert!(!lab.session.is_established());
}

#[test]
fn after_losing_its_session_a_route_resumes_with_the_kept_ticket_and_sends_what_was_queued_as_0_rtt()
 {
    let mut lab = early_lab();
    assert!(lab.session.is_established());
    lab.session.send(lab.now, b"first");
    lab.pump();
    assert_eq!(lab.received(), [b"first".to_vec()]);
    server_goes_down(&mut lab);
    // down long enough for the attempt to give up: the retry waits, and new data is queued
    for _ in 0..200 {
        if lab.session.metrics().handshake_failures > 0 {
            break;
        }
        lab.advance(Duration::from_secs(5));
    }
    assert_eq!(lab.session.metrics().handshake_failures, 1);
    lab.session.send(lab.now, b"GET /queued");
    lab.pump();
    assert!(lab.early.is_empty());
    // back: the next attempt resumes with the ticket and carries the queued datagram as 0-RTT
    lab.down = false;
    for _ in 0..80 {
        if !lab.early.is_empty() && lab.session.is_established() {
            break;
        }
        lab.advance(Duration::from_secs(5));
    }
    assert_eq!(lab.early, [b"GET /queued".to_vec()], "taken as early data");
    assert!(lab.session.is_established());
    assert_eq!(lab.received(), [b"GET /queued".to_vec()], "answered once");
    let m = lab.session.metrics();
    assert_eq!(m.early_data_attempts, 1, "{m:?}");
    assert_eq!(m.early_data_accepted, 1, "{m:?}");
    assert_eq!(m.bootstraps, 1, "no new bootstrap: {m:?}");
    assert_eq!(m.handshakes_abbreviated, 1, "{m:?}");
}

#[test]
fn without_early_data_the_route_takes_no_ticket_and_sends_the_queue_after_a_full_handshake() {
    let mut lab = Lab13::new(cfg13()).with_early_data();
    lab.session.connect(lab.now);
    lab.bootstrap(1, Duration::from_secs(86400), true);
    server_goes_down(&mut lab);
    lab.session.send(lab.now, b"GET /queued");
    lab.down = false;
    for _ in 0..80 {
        if lab.session.is_established() && !lab.at_server.is_empty() {
            break;
        }
        lab.advance(Duration::from_secs(5));
    }
    assert!(lab.early.is_empty());
    assert_eq!(lab.at_server, [b"GET /queued".to_vec()]);
    assert_eq!(lab.session.metrics().early_data_attempts, 0);
}

/// A confirmable CoAP request (RFC 7252 §3) of method `code`, no token, Uri-Path "temp".
fn coap_request(code: u8) -> Vec<u8> {
    vec![0x40, code, 0x12, 0x34, 0xb4, b't', b'e', b'm', b'p']
}

/// The server crashes silently (no close_notify, its sessions gone, its ticket key kept as a
/// ticket master secret keeps it) and is back at once; the route learns of it only by the
/// silence after its next request.
fn server_crashes(lab: &mut Lab13) {
    lab.conns.clear();
}

/// A route idle for 10 minutes after its ticket came, then the server crashed: the request
/// that meets the dead session goes unanswered; when the silence makes the route suspect the
/// loss, it resumes with the ticket and sends that request again as 0-RTT, with the ticket's
/// real age (10 minutes: the server's 10 s window refuses an age counted from anything else).
#[test]
fn a_get_left_unanswered_by_a_crashed_server_goes_again_as_0_rtt_with_the_tickets_real_age() {
    let mut lab = early_lab();
    assert!(lab.session.is_established());
    lab.advance(Duration::from_secs(600));
    server_crashes(&mut lab);
    let get = coap_request(1);
    lab.session.send(lab.now, &get);
    lab.pump();
    assert!(
        lab.at_server.is_empty(),
        "the dead session's record is dropped"
    );
    for _ in 0..40 {
        if lab.session.is_established() && !lab.early.is_empty() {
            break;
        }
        lab.advance(Duration::from_secs(5));
    }
    assert_eq!(
        lab.early,
        std::slice::from_ref(&get),
        "sent again as early data and taken"
    );
    assert_eq!(lab.received(), [get], "answered once");
    let m = lab.session.metrics();
    assert_eq!(m.early_data_attempts, 1, "{m:?}");
    assert_eq!(m.early_data_accepted, 1, "{m:?}");
    assert_eq!(m.handshakes_abbreviated, 1, "{m:?}");
    assert_eq!(m.bootstraps, 1, "no new bootstrap: {m:?}");
}

/// The same crash with a POST: not safe to repeat, so the route does not send it again (the
/// local client's own retransmission will); the resumption carries no early data.
#[test]
fn a_post_left_unanswered_is_not_sent_again_as_0_rtt() {
    let mut lab = early_lab();
    lab.advance(Duration::from_secs(600));
    server_crashes(&mut lab);
    lab.session.send(lab.now, &coap_request(2));
    lab.pump();
    for _ in 0..40 {
        if lab.accepted == 2 {
            break;
        }
        lab.advance(Duration::from_secs(5));
    }
    assert_eq!(lab.accepted, 2, "the route resumed");
    assert!(lab.early.is_empty());
    assert!(lab.at_server.is_empty(), "the POST was not repeated");
    let m = lab.session.metrics();
    assert_eq!(m.early_data_attempts, 0, "{m:?}");
    assert_eq!(m.handshakes_abbreviated, 1, "{m:?}");
}
