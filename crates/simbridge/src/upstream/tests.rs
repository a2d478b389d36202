//! The session policy against our real DTLS server endpoint over an in-memory link, on virtual time.

use super::*;
use crate::card::CardError;
use crate::dtls::config::{PskAnswer, PskRequest, ServerPskStore};
use crate::dtls::export::ExportError;
use crate::dtls::testing;
use crate::dtls::{Endpoint, Event, ServerConfig};
use crate::gba::context::GbaMode;
use crate::gba::naf::UaId;
use crate::uicc::UiccError;
use std::net::SocketAddr;
use std::sync::Mutex;

mod buffers;
mod dtls13;
mod failures;

fn addr(path: PathId) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 40000 + u16::from(path.0)))
}

/// Server PSK store that derives GBA keys from contexts it knows (as the key API would).
struct GbaStore {
    contexts: Mutex<Vec<BootstrapContext>>,
    naf: String,
}

impl ServerPskStore for GbaStore {
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec> {
        let id = String::from_utf8_lossy(&req.identity).to_string();
        let btid = crate::gba::ids::btid_from_psk_identity(&id).to_string();
        let Ok(list) = self.contexts.lock() else {
            return PskAnswer::Unknown;
        };
        let Some(ctx) = list.iter().find(|c| c.btid == btid) else {
            return PskAnswer::Unknown;
        };
        let Ok(naf) = NafId::new(&self.naf, UaId::for_suite(req.suite)) else {
            return PskAnswer::Unknown;
        };
        match ctx.naf_key(None, &naf) {
            Ok(k) => PskAnswer::Ready(SecretVec::from(&k.expose()[..])),
            Err(_) => PskAnswer::Unknown,
        }
    }
}

fn context(n: u8, now: SystemTime, life: Duration) -> BootstrapContext {
    BootstrapContext {
        btid: format!("ctx{n}@bsf.example"),
        rand: [n; 16],
        impi: "001010123456789@ims.mnc001.mcc001.3gppnetwork.org".into(),
        expires: now + life,
        created: now,
        mode: GbaMode::Me,
        bsf_url: "http://bsf.example".into(),
        ks: Some(Secret::new([n; 32])),
    }
}

struct Lab {
    now: Now,
    session: UpstreamSession,
    server: Endpoint,
    /// Datagrams that reached the server application.
    at_server: Vec<Vec<u8>>,
    /// Drop everything from the client (a dead server).
    blackhole: bool,
}

impl Lab {
    fn new(session: UpstreamSession, server: Endpoint) -> Self {
        Self {
            now: Now::system(),
            session,
            server,
            at_server: Vec::new(),
            blackhole: false,
        }
    }

    /// Moves datagrams until quiet; the server echoes each record back.
    fn pump(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            while let Some((path, d)) = self.session.poll_transmit() {
                moved = true;
                if !self.blackhole {
                    self.server.handle_datagram(self.now.mono, addr(path), &d);
                }
            }
            while let Some((from, ev)) = self.server.poll_event() {
                if let Event::Data(d) = ev {
                    self.at_server.push(d.clone());
                    let _ = self.server.send(from, &d);
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                let path = PathId((t.destination.port() - 40000) as u8);
                self.session.handle_datagram(self.now, path, &t.payload);
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.plus(d);
        self.session.handle_timeout(self.now);
        self.server.handle_timeout(self.now.mono);
        self.pump();
    }

    fn received(&mut self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.session.poll_received()).collect()
    }
}

/// A server holding the DTLS crate's test PSK.
fn static_server() -> Endpoint {
    Endpoint::new(Arc::new(ServerConfig::new(testing::static_psk()))).expect("endpoint")
}

fn static_lab() -> Lab {
    let psk = testing::static_psk();
    let session = UpstreamSession::new(
        SessionConfig::default(),
        KeySource::Static {
            identity: psk.identity.clone(),
            key: psk.key.clone(),
        },
    );
    Lab::new(session, static_server())
}

#[test]
fn queued_until_connected_then_delivered_both_ways() {
    let mut lab = static_lab();
    lab.session.send(lab.now, b"one");
    lab.session.send(lab.now, b"two");
    assert_eq!(lab.session.queued(), 2);
    lab.pump();
    assert!(lab.session.is_established());
    assert_eq!(lab.at_server, vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(lab.received(), vec![b"one".to_vec(), b"two".to_vec()]);
    let m = lab.session.metrics();
    assert_eq!((m.handshakes_full, m.queued, m.bootstraps), (1, 2, 0));
    assert_eq!(m.data_bytes_sent, 6);
    assert!(m.handshake_bytes_sent > 0 && m.overhead_bytes_sent > 0);
}

#[test]
fn queue_overflow_is_counted() {
    let mut lab = static_lab();
    lab.session.cfg.queue_limit = 2;
    for i in 0..5u8 {
        lab.session.send(lab.now, &[i]);
    }
    assert_eq!(lab.session.metrics().dropped_queue_full, 3);
    lab.pump();
    assert_eq!(lab.at_server.len(), 2);
}

fn gba_lab() -> (Lab, Arc<GbaStore>) {
    let store = Arc::new(GbaStore {
        contexts: Mutex::new(Vec::new()),
        naf: "naf.example.com".into(),
    });
    let server = Endpoint::new(Arc::new(ServerConfig::new(store.clone()))).expect("endpoint");
    let cfg = SessionConfig {
        rekey_before: Duration::from_secs(600),
        ..SessionConfig::default()
    };
    let session = UpstreamSession::new(
        cfg,
        KeySource::Gba {
            naf_fqdn: "naf.example.com".into(),
            ua: None,
        },
    );
    let mut lab = Lab::new(session, server);
    lab.session.connect(lab.now);
    (lab, store)
}

/// Answers a pending bootstrap action with context `n`, registering it at the "BSF".
fn answer_bootstrap(lab: &mut Lab, store: &GbaStore, n: u8, life: Duration) -> bool {
    match lab.session.poll_action() {
        Some(Action::Bootstrap { .. }) => {
            let ctx = context(n, lab.now.wall, life);
            if let Ok(mut l) = store.contexts.lock() {
                l.push(ctx.clone());
            }
            lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
            lab.pump();
            true
        }
        _ => false,
    }
}

#[test]
fn gba_bootstrap_once_then_session() {
    let life = Duration::from_secs(86400);
    let (mut lab, store) = gba_lab();
    assert!(answer_bootstrap(&mut lab, &store, 1, life));
    assert!(lab.session.is_established());
    lab.session.send(lab.now, b"hello");
    lab.pump();
    assert_eq!(lab.received(), vec![b"hello".to_vec()]);
    // An hour later, nothing happened on the air: no heartbeats, no new bootstrap.
    lab.advance(Duration::from_secs(3600));
    assert!(lab.session.poll_action().is_none());
    assert_eq!(lab.session.metrics().bootstraps, 1);
    assert_eq!(lab.session.metrics().handshakes_full, 1);
}

#[test]
fn rejected_identity_forces_a_new_bootstrap() {
    let life = Duration::from_secs(86400);
    let (mut lab, store) = gba_lab();
    // A context the server does not know (say, the BSF lost it).
    match lab.session.poll_action() {
        Some(Action::Bootstrap { force }) => assert!(!force),
        other => panic!("{other:?}"),
    }
    lab.session
        .bootstrap_done(lab.now, Ok((context(9, lab.now.wall, life), false)));
    lab.pump();
    assert!(!lab.session.is_established());
    assert_eq!(lab.session.metrics().handshake_failures, 1);
    lab.advance(Duration::from_secs(2));
    match lab.session.poll_action() {
        Some(Action::Bootstrap { force }) => {
            assert!(force, "the retry must not reuse the rejected context")
        }
        other => panic!("expected a forced bootstrap, got {other:?}"),
    }
    let ctx = context(2, lab.now.wall, life);
    store.contexts.lock().expect("lock").push(ctx.clone());
    lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
    lab.pump();
    assert!(lab.session.is_established());
}

#[test]
fn a_failed_rekey_bootstrap_backs_off_instead_of_retrying_at_once() {
    // A modem re-enumerating (card away) when the rekey is due must not spin: the old session
    // carries on and the next attempt waits for the retry delay.
    let life = Duration::from_secs(3600);
    let (mut lab, store) = gba_lab();
    assert!(answer_bootstrap(&mut lab, &store, 1, life));
    lab.advance(Duration::from_secs(3000));
    match lab.session.poll_action() {
        Some(Action::Bootstrap { force: true }) => {}
        other => panic!("expected the rekey bootstrap, got {other:?}"),
    }
    lab.session.bootstrap_done(
        lab.now,
        Err(KeyError::Card(UiccError::Card(CardError::Removed))),
    );
    assert!(
        lab.session.poll_timeout().is_some_and(|t| t > lab.now.mono),
        "a timer that fires at once makes a busy loop"
    );
    lab.advance(Duration::ZERO);
    assert!(lab.session.poll_action().is_none(), "retried at once");
    lab.advance(Duration::from_millis(500));
    assert!(
        lab.session.poll_action().is_none(),
        "retried before the delay"
    );
    lab.advance(Duration::from_millis(600));
    match lab.session.poll_action() {
        Some(Action::Bootstrap { force: true }) => {}
        other => panic!("expected the retry after 1 s, got {other:?}"),
    }
    assert!(lab.session.is_established(), "the old session carries on");
    lab.session.send(lab.now, b"still here");
    lab.pump();
    assert_eq!(lab.received(), vec![b"still here".to_vec()]);
}

#[test]
fn a_key_lifetime_shorter_than_the_margins_bootstraps_once_and_rekeys_half_way() {
    // A BSF issuing 60 s keys (below min_key_life 60 s and rekey_before 600 s): one bootstrap,
    // a session, the rekey half-way through the key's life, not a bootstrap after bootstrap.
    let life = Duration::from_secs(60);
    let (mut lab, store) = gba_lab();
    assert!(answer_bootstrap(&mut lab, &store, 1, life));
    assert!(
        lab.session.poll_action().is_none(),
        "bootstrapped again at once"
    );
    assert!(lab.session.is_established());
    let mut second = 0;
    for s in 1..=40 {
        lab.advance(Duration::from_secs(1));
        if let Some(Action::Bootstrap { force }) = lab.session.poll_action() {
            assert!(force);
            second = s;
            break;
        }
    }
    assert_eq!(
        second, 30,
        "the rekey starts with half of the key life left"
    );
    let ctx = context(2, lab.now.wall, life);
    store.contexts.lock().expect("lock").push(ctx.clone());
    lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
    lab.pump();
    assert_eq!(lab.session.metrics().rekeys, 1);
    assert!(lab.session.poll_action().is_none());
}

#[test]
fn a_context_issued_already_expired_is_retried_after_a_delay() {
    let (mut lab, _store) = gba_lab();
    assert!(matches!(
        lab.session.poll_action(),
        Some(Action::Bootstrap { .. })
    ));
    let ctx = context(1, lab.now.wall, Duration::ZERO);
    lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
    assert!(
        lab.session.poll_action().is_none(),
        "bootstrapped again at once"
    );
    lab.advance(Duration::from_millis(1100));
    assert!(matches!(
        lab.session.poll_action(),
        Some(Action::Bootstrap { .. })
    ));
}

#[test]
fn make_before_break_before_expiry_loses_nothing() {
    let life = Duration::from_secs(3600);
    let (mut lab, store) = gba_lab();
    assert!(answer_bootstrap(&mut lab, &store, 1, life));
    let mut sent = 0u32;
    let mut got = 0usize;
    // One message a minute; rekey starts 10 min before expiry.
    for minute in 0..58 {
        lab.advance(Duration::from_secs(60));
        if let Some(Action::Bootstrap { force }) = lab.session.poll_action() {
            assert!(force);
            assert!(minute >= 48, "rekey too early: minute {minute}");
            let ctx = context(2, lab.now.wall, life);
            store.contexts.lock().expect("lock").push(ctx.clone());
            lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
            // Traffic keeps flowing on the old session while the new handshake runs.
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
    assert_eq!(m.bootstraps, 2);
    assert_eq!(m.rekeys, 1);
    assert_eq!(m.handshakes_full, 2);
    assert_eq!(got as u32, sent, "no datagram lost across the rekey");
    assert_eq!(
        lab.session.context().map(|c| c.btid.as_str()),
        Some("ctx2@bsf.example")
    );
}

#[test]
fn lost_server_state_is_suspected_and_replaced() {
    let mut lab = static_lab();
    lab.session.connect(lab.now);
    lab.pump();
    assert!(lab.session.is_established());
    // The server restarts without its state.
    lab.server = static_server();
    lab.session.send(lab.now, b"lost");
    lab.pump();
    assert!(lab.at_server.is_empty());
    lab.advance(Duration::from_secs(61));
    lab.session.send(lab.now, b"after");
    lab.pump();
    assert_eq!(lab.session.metrics().handshakes_full, 2);
    assert_eq!(lab.at_server, vec![b"after".to_vec()]);
}

#[test]
fn bsf_down_during_rebootstrap_keeps_the_old_session_until_expiry() {
    let life = Duration::from_secs(3600);
    let (mut lab, store) = gba_lab();
    assert!(answer_bootstrap(&mut lab, &store, 1, life));
    lab.advance(Duration::from_secs(3000 + 10));
    assert!(matches!(
        lab.session.poll_action(),
        Some(Action::Bootstrap { force: true })
    ));
    lab.session.bootstrap_done(
        lab.now,
        Err(KeyError::Gba(crate::gba::GbaError::Http(
            ureq::Error::ConnectionFailed,
        ))),
    );
    lab.session.send(lab.now, b"still");
    lab.pump();
    assert_eq!(
        lab.received(),
        vec![b"still".to_vec()],
        "the old session carries on"
    );
    assert_eq!(lab.session.metrics().bootstrap_failures, 1);
    // At expiry the old session is closed and data waits for a new key.
    lab.advance(Duration::from_secs(700));
    assert!(!lab.session.is_established());
    lab.session.send(lab.now, b"waits");
    assert_eq!(lab.session.queued(), 1);
}

/// The day in the life: 24 h of virtual time, one message a minute, a NAT rebinding every
/// 5 minutes, one server restart (state lost) and one gateway restart (bootstrap kept). Prints the
/// figures for the notes and checks the policy: one bootstrap, every message either answered or
/// counted, handshakes bounded by the events that force them.
#[test]
fn a_day_with_rebinding_and_restarts() {
    let without = day(false);
    let with = day(true);
    // With CID a rebinding costs nothing and the gateway restart continues from its export.
    assert!(
        with.handshakes_full <= 2,
        "{} full handshakes with CID",
        with.handshakes_full
    );
    let all = |m: &SessionMetrics| m.handshakes_full + m.handshakes_abbreviated;
    assert!(all(&with) * 10 < all(&without));
    assert!(with.bytes_on_air() * 2 < without.bytes_on_air());
    assert_eq!(
        with.handshakes_none_needed, 1,
        "the gateway restart needed no handshake"
    );
}

fn day(cid: bool) -> SessionMetrics {
    let life = Duration::from_secs(48 * 3600);
    let (mut lab, store) = gba_lab();
    if cid {
        lab.session.cfg.dtls.connection_id = Some(0);
    }
    assert!(answer_bootstrap(&mut lab, &store, 1, life));
    let mut nat_epoch: u16 = 0;
    let mut sent = 0u32;
    let mut answered = 0usize;
    let mut metrics_before_restart = SessionMetrics::default();
    for minute in 1..=24 * 60u32 {
        lab.now = lab.now.plus(Duration::from_secs(60));
        if minute % 5 == 0 {
            nat_epoch += 1; // the NAT maps the client to a new source port
        }
        if minute == 600 {
            // Server restart without saved state.
            let store2 = store.clone();
            lab.server = Endpoint::new(Arc::new(ServerConfig::new(store2))).expect("endpoint");
        }
        if minute == 1200 {
            // Gateway restart: the bootstrapping context comes back from the state dir, and the
            // connection from its export.
            let key = [9u8; 32];
            let export = lab.session.export(&key, 1 << 16);
            metrics_before_restart = metrics_before_restart.merged(&lab.session.metrics());
            let ctx = lab.session.context().cloned().expect("context");
            let mut cfg = SessionConfig {
                rekey_before: Duration::from_secs(600),
                ..SessionConfig::default()
            };
            if cid {
                cfg.dtls.connection_id = Some(0);
            }
            lab.session = UpstreamSession::new(
                cfg,
                KeySource::Gba {
                    naf_fqdn: "naf.example.com".into(),
                    ua: None,
                },
            );
            lab.session.set_context(ctx);
            match export {
                Some(blob) => {
                    let mut ledger = crate::dtls::export::MemoryLedger::default();
                    lab.session
                        .import(lab.now, &blob, &key, None, &mut ledger)
                        .expect("import");
                }
                None => lab.session.connect(lab.now),
            }
        }
        lab.session.handle_timeout(lab.now);
        lab.server.handle_timeout(lab.now.mono);
        lab.session.send(lab.now, format!("m{minute}").as_bytes());
        sent += 1;
        pump_nat(&mut lab, nat_epoch);
        let got = lab.received().len();
        if got == 0 && std::env::var("DAY_DEBUG").is_ok() {
            let mm = lab.session.metrics();
            eprintln!(
                "minute {minute} cid {cid}: no answer; full {} abbr {} est {}",
                mm.handshakes_full,
                mm.handshakes_abbreviated,
                lab.session.is_established()
            );
        }
        answered += got;
        assert!(
            lab.session.poll_action().is_none(),
            "no bootstrap needed during the day (minute {minute})"
        );
    }
    let m = metrics_before_restart.merged(&lab.session.metrics());
    let per_msg = m.bytes_on_air() as f64 / f64::from(sent);
    println!(
        "24 h, 1 msg/min, NAT rebinding every 5 min, one restart each side, CID {}: \
         {sent} messages, {answered} answered, {} full handshakes, {} abbreviated, {} without handshake, {} bootstraps, \
         {:.1} B on air per message (handshake {} B, data {} B, overhead {} B)",
        if cid { "on" } else { "off" },
        m.handshakes_full,
        m.handshakes_abbreviated,
        m.handshakes_none_needed,
        m.bootstraps,
        per_msg,
        m.handshake_bytes_sent + m.handshake_bytes_received,
        m.data_bytes_sent + m.data_bytes_received,
        m.overhead_bytes_sent + m.overhead_bytes_received
    );
    assert_eq!(m.bootstraps, 1);
    // Each rebinding costs one unanswered message (found by the liveness suspicion) and one handshake.
    assert!(
        m.handshakes_full <= 24 * 12 + 4,
        "{} handshakes",
        m.handshakes_full
    );
    assert!(
        answered as u32 + (m.handshakes_full + m.handshakes_abbreviated) as u32 >= sent - 4,
        "losses beyond the rebindings"
    );
    m
}

/// Like `Lab::pump`, with the client's source port shifted by the NAT epoch.
fn pump_nat(lab: &mut Lab, epoch: u16) {
    let nat =
        |path: PathId| SocketAddr::from(([10, 0, 0, 1], 40000 + u16::from(path.0) + 10 * epoch));
    for _ in 0..200 {
        let mut moved = false;
        while let Some((path, d)) = lab.session.poll_transmit() {
            moved = true;
            lab.server.handle_datagram(lab.now.mono, nat(path), &d);
        }
        while let Some((from, ev)) = lab.server.poll_event() {
            if let Event::Data(d) = ev {
                let _ = lab.server.send(from, &d);
            }
        }
        while let Some(t) = lab.server.poll_transmit() {
            moved = true;
            let port = t.destination.port();
            if port >= 40000 + 10 * epoch && port < 40002 + 10 * epoch {
                lab.session.handle_datagram(
                    lab.now,
                    PathId((port - 40000 - 10 * epoch) as u8),
                    &t.payload,
                );
            }
        }
        if !moved {
            return;
        }
    }
}

#[test]
fn cid_keeps_the_session_across_a_nat_rebinding() {
    let mut lab = static_lab();
    lab.session.cfg.dtls.connection_id = Some(0);
    lab.session.connect(lab.now);
    pump_nat(&mut lab, 0);
    assert!(lab.session.is_established());
    for epoch in 1..=3 {
        lab.session
            .send(lab.now, format!("after rebinding {epoch}").as_bytes());
        pump_nat(&mut lab, epoch);
        assert_eq!(
            lab.received(),
            vec![format!("after rebinding {epoch}").into_bytes()]
        );
    }
    assert_eq!(
        lab.session.metrics().handshakes_full,
        1,
        "no handshake after a rebinding"
    );
}

#[test]
fn a_lost_session_resumes_with_an_abbreviated_handshake() {
    let mut lab = static_lab();
    lab.session.connect(lab.now);
    lab.pump();
    lab.server.close(addr(PathId(0)));
    lab.pump();
    lab.advance(Duration::from_millis(10));
    let m = lab.session.metrics();
    assert!(lab.session.is_established());
    assert_eq!((m.handshakes_full, m.handshakes_abbreviated), (1, 1));
}

#[test]
fn a_restarted_gateway_continues_from_its_export_once() {
    let mut lab = static_lab();
    lab.session.cfg.dtls.connection_id = Some(0);
    lab.session.connect(lab.now);
    pump_nat(&mut lab, 0);
    let key = [3u8; 32];
    let blob = lab.session.export(&key, 1000).expect("established");
    let cfg = lab.session.cfg.clone();
    let source = lab.session.source.clone();
    let mut ledger = crate::dtls::export::MemoryLedger::default();
    lab.session = UpstreamSession::new(cfg.clone(), source.clone());
    lab.session
        .import(lab.now, &blob, &key, None, &mut ledger)
        .expect("import");
    lab.session.send(lab.now, b"after restart");
    pump_nat(&mut lab, 1); // a new socket: a new source port
    assert_eq!(lab.received(), vec![b"after restart".to_vec()]);
    assert_eq!(lab.session.metrics().handshakes_full, 0);
    let mut other = UpstreamSession::new(cfg, source);
    let again = other.import(lab.now, &blob, &key, None, &mut ledger);
    assert!(
        matches!(again, Err(ExportError::AlreadyImported)),
        "{again:?}"
    );
    assert!(matches!(
        UpstreamSession::new(lab.session.cfg.clone(), lab.session.source.clone()).import(
            lab.now,
            &blob,
            &[4u8; 32],
            None,
            &mut ledger
        ),
        Err(ExportError::Authentication)
    ));
}

#[test]
fn record_overhead_per_message_with_and_without_cid() {
    for cid in [false, true] {
        let mut lab = static_lab();
        if cid {
            lab.session.cfg.dtls.connection_id = Some(0);
        }
        lab.session.connect(lab.now);
        lab.pump();
        let before = lab.session.metrics();
        lab.session.send(lab.now, &[0u8; 16]);
        lab.pump();
        let after = lab.session.metrics();
        let up = after.overhead_bytes_sent - before.overhead_bytes_sent;
        let down = after.overhead_bytes_received - before.overhead_bytes_received;
        println!("record overhead, CID {cid}: {up} B up, {down} B down");
        assert_eq!(
            down, 29,
            "CCM_8 record overhead downstream (no CID towards the client)"
        );
        assert_eq!(
            up,
            if cid { 29 + 1 + 4 } else { 29 },
            "CCM_8 overhead upstream (+ inner type + 4-byte CID)"
        );
    }
}

#[test]
fn a_reply_in_flight_on_the_replaced_session_is_still_delivered() {
    let life = Duration::from_secs(3600);
    let (mut lab, store) = gba_lab();
    assert!(answer_bootstrap(&mut lab, &store, 1, life));
    // Rekey time: a new key and a new session on the other path.
    lab.advance(Duration::from_secs(3000 + 10));
    assert!(answer_bootstrap(&mut lab, &store, 2, life));
    assert_eq!(lab.session.metrics().rekeys, 1);
    // The server answers a request it got on the old session just before the switch.
    lab.server
        .send(addr(PathId(0)), b"late reply")
        .expect("old session still open at the server");
    lab.pump();
    assert_eq!(lab.received(), vec![b"late reply".to_vec()]);
    // After the drain period the old session is closed with close_notify.
    lab.advance(Duration::from_secs(6));
    assert!(
        lab.server
            .connection(&addr(PathId(0)))
            .is_none_or(|c| c.is_closed())
    );
}
