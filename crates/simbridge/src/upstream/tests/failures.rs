//! Failure kinds told apart, against our real DTLS server endpoint: a server that cannot get keys
//! (internal_error) or whose suites do not fit (handshake_failure) never makes the session
//! bootstrap again; a rejected key does, once per `retry_max`.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// A GBA store behind a key API that can be down.
struct FlakyStore {
    inner: GbaStore,
    down: AtomicBool,
}

impl ServerPskStore for FlakyStore {
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec> {
        if self.down.load(Ordering::SeqCst) {
            return PskAnswer::Unavailable;
        }
        self.inner.lookup(req)
    }
}

fn gba_session(suites: Option<Vec<crate::dtls::CipherSuite>>) -> UpstreamSession {
    let mut cfg = SessionConfig::default();
    if let Some(s) = suites {
        cfg.dtls.common.suites = s;
    }
    UpstreamSession::new(
        cfg,
        KeySource::Gba {
            naf_fqdn: "naf.example.com".into(),
            ua: None,
        },
    )
}

/// Counts the bootstrap actions over `span` of virtual time, in 1 s steps, answering none.
fn bootstraps_during(lab: &mut Lab, span: Duration) -> usize {
    let mut n = 0;
    let mut t = Duration::ZERO;
    while t < span {
        lab.advance(Duration::from_secs(1));
        t += Duration::from_secs(1);
        while let Some(a) = lab.session.poll_action() {
            n += usize::from(matches!(a, Action::Bootstrap { .. }));
        }
    }
    n
}

#[test]
fn key_source_down_retries_with_backoff_and_no_bootstrap_then_recovers() {
    let store = Arc::new(FlakyStore {
        inner: GbaStore {
            contexts: Mutex::new(Vec::new()),
            naf: "naf.example.com".into(),
        },
        down: AtomicBool::new(true),
    });
    let server = Endpoint::new(Arc::new(ServerConfig::new(store.clone()))).expect("endpoint");
    let mut lab = Lab::new(gba_session(None), server);
    lab.session.connect(lab.now);
    let life = Duration::from_secs(86400);
    match lab.session.poll_action() {
        Some(Action::Bootstrap { .. }) => {
            let ctx = context(1, lab.now.wall, life);
            store.inner.contexts.lock().expect("lock").push(ctx.clone());
            lab.session.bootstrap_done(lab.now, Ok((ctx, true)));
            lab.pump();
        }
        other => panic!("{other:?}"),
    }
    assert!(!lab.session.is_established());
    let failures = lab.session.metrics().handshake_failures;
    assert_eq!(failures, 1, "internal_error at once");
    // Ten minutes of outage: handshakes retried with back-off, never a bootstrap.
    assert_eq!(bootstraps_during(&mut lab, Duration::from_secs(600)), 0);
    let retried = lab.session.metrics().handshake_failures;
    assert!(
        (3..=12).contains(&retried),
        "back-off, not a loop: {retried} failed handshakes in 10 min"
    );
    store.down.store(false, Ordering::SeqCst);
    assert_eq!(bootstraps_during(&mut lab, Duration::from_secs(301)), 0);
    assert!(lab.session.is_established(), "recovers with the same key");
    assert_eq!(lab.session.metrics().bootstraps, 1);
}

#[test]
fn suite_mismatch_is_a_configuration_error_without_bootstrap() {
    use crate::dtls::CipherSuite;
    let (_, store) = gba_lab();
    let mut cfg = ServerConfig::new(store.clone());
    cfg.common.suites = vec![CipherSuite::PskAes128GcmSha256];
    let server = Endpoint::new(Arc::new(cfg)).expect("endpoint");
    let mut lab = Lab::new(
        gba_session(Some(vec![CipherSuite::EcdhePskAes128Ccm8Sha256])),
        server,
    );
    lab.session.connect(lab.now);
    assert!(answer_bootstrap(
        &mut lab,
        &store,
        1,
        Duration::from_secs(86400)
    ));
    assert!(!lab.session.is_established());
    assert_eq!(lab.session.metrics().handshake_failures, 1);
    assert_eq!(bootstraps_during(&mut lab, Duration::from_secs(600)), 0);
    assert_eq!(lab.session.metrics().bootstraps, 1);
}

#[test]
fn a_rejected_key_bootstraps_again_at_most_once_per_retry_max() {
    let (mut lab, _store) = gba_lab();
    let life = Duration::from_secs(86400);
    // The server never knows our contexts (say, it asks another BSF).
    let answer = |lab: &mut Lab, n: u8| match lab.session.poll_action() {
        Some(Action::Bootstrap { force }) => {
            lab.session
                .bootstrap_done(lab.now, Ok((context(n, lab.now.wall, life), true)));
            lab.pump();
            force
        }
        other => panic!("expected a bootstrap, got {other:?}"),
    };
    assert!(!answer(&mut lab, 1));
    assert_eq!(lab.session.metrics().handshake_failures, 1);
    lab.advance(Duration::from_secs(1));
    assert!(
        answer(&mut lab, 2),
        "the first rejection forces a bootstrap"
    );
    assert_eq!(lab.session.metrics().handshake_failures, 2);
    // The fresh key is rejected too: the handshake is retried with back-off, no bootstrap
    // until retry_max (300 s) has passed since the last one.
    assert_eq!(bootstraps_during(&mut lab, Duration::from_secs(290)), 0);
    assert!(lab.session.metrics().handshake_failures > 2);
    let n = bootstraps_during(&mut lab, Duration::from_secs(300));
    assert_eq!(n, 1, "one more after retry_max");
}
