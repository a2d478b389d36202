//! A key answered late (the store says `Pending`, the key comes through
//! `Endpoint::provide_psk`, as from a BSF) still bounds the session it opens: its cache entry
//! and its tickets expire with the key (in memory, virtual clock).

mod dtls_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dtls_support::*;
use simbridge::dtls::config::{PskAnswer, PskRequest, ServerPskStore};
use simbridge::dtls::{CipherSuite, ClientConfig, Connection, Event, Session};
use simbridge::secret::SecretVec;

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;
const KEY_LIFE: Duration = Duration::from_secs(10);

/// What `key_lifetime` was asked with: identity, SNI, suite.
type Asked = (Vec<u8>, Option<String>, CipherSuite);

/// Like the BSF-backed store: the key is never in hand at the lookup (`Pending`), and its
/// lifetime is known only once it has been fetched (`fetched`), as a key cache would know it.
#[derive(Default)]
struct LateKey {
    fetched: AtomicBool,
    asked_with: std::sync::Mutex<Vec<Asked>>,
}

impl ServerPskStore for LateKey {
    fn lookup(&self, _req: &PskRequest) -> PskAnswer<SecretVec> {
        PskAnswer::Pending
    }
    fn key_lifetime(&self, req: &PskRequest) -> Option<Duration> {
        if let Ok(mut v) = self.asked_with.lock() {
            v.push((req.identity.clone(), req.sni.clone(), req.suite));
        }
        self.fetched.load(Ordering::SeqCst).then_some(KEY_LIFE)
    }
}

/// Runs the link; each key request is answered late (the key "arrives from the BSF").
/// Returns how many key requests were answered.
fn run_answering(p: &mut Pair, store: &LateKey) -> usize {
    let mut answered = 0;
    loop {
        while p.step() {}
        let pending: Vec<_> = p
            .server_events
            .iter()
            .filter_map(|(a, e)| matches!(e, Event::PskRequested { .. }).then_some(*a))
            .collect();
        if pending.len() <= answered {
            break;
        }
        for addr in &pending[answered..] {
            store.fetched.store(true, Ordering::SeqCst);
            p.server
                .provide_psk(p.now, *addr, Some(SecretVec::new(PSK.to_vec())))
                .expect("a parked handshake takes the key");
        }
        answered = pending.len();
    }
    p.drive();
    answered
}

fn connected(p: &Pair) -> Option<bool> {
    p.client_events.iter().find_map(|e| match e {
        Event::Connected { resumed, .. } => Some(*resumed),
        _ => None,
    })
}

fn new_client(p: &mut Pair, mut cfg: ClientConfig, session: Option<Session>) {
    cfg.resume = session;
    p.client = Connection::client(Arc::new(cfg), p.now).expect("client starts");
    p.client_events.clear();
    p.server_events.clear();
}

#[test]
fn a_late_key_bounds_its_session_cache_entry_and_tickets() {
    for tickets in [false, true] {
        let store = Arc::new(LateKey::default());
        let mut c = client_config(&[CCM8], 1);
        c.session_tickets = tickets;
        c.server_name = Some("naf.example.org".into());
        let mut sc = server_config(&[CCM8], 2);
        sc.psk = store.clone();
        if tickets {
            sc.session_cache = 0;
        }
        assert!(
            sc.session_lifetime > KEY_LIFE * 100,
            "the configured lifetime alone would keep the session far longer"
        );
        let mut p = Pair::new(c.clone(), sc);
        assert_eq!(run_answering(&mut p, &store), 1, "the key came late");
        assert_eq!(
            connected(&p),
            Some(false),
            "tickets={tickets}: full handshake"
        );
        let s = p.client.session().expect("session").clone();
        if tickets {
            assert!(s.ticket_lifetime <= 10, "ticket hint {}", s.ticket_lifetime);
        }
        // the lifetime was asked again after the key came, with the same request
        let asked = store.asked_with.lock().expect("lock").clone();
        assert!(
            asked.len() >= 2,
            "asked before and after the key: {asked:?}"
        );
        for a in &asked {
            assert_eq!(
                a,
                &(b"client1".to_vec(), Some("naf.example.org".into()), CCM8)
            );
        }

        // before the key's 10 s are over: abbreviated
        p.now += Duration::from_secs(9);
        new_client(&mut p, c.clone(), Some(s.clone()));
        assert_eq!(run_answering(&mut p, &store), 0, "no lookup on resumption");
        assert_eq!(
            connected(&p),
            Some(true),
            "tickets={tickets}: resumed within the key's life"
        );
        let s2 = p.client.session().expect("session").clone();

        // 11 s after the first handshake the key is gone, and so is its resumption state,
        // also the one handed out by the resumption at 9 s
        p.now += Duration::from_secs(2);
        for (which, old) in [("first", s), ("resumed", s2)] {
            new_client(&mut p, c.clone(), Some(old));
            assert_eq!(
                run_answering(&mut p, &store),
                1,
                "tickets={tickets}, {which} session: full handshake with a fresh key lookup"
            );
            assert_eq!(
                connected(&p),
                Some(false),
                "tickets={tickets}, {which} session: the key expired, so did the session"
            );
        }
    }
}
