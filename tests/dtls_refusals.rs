//! How a server refuses a handshake, and what each side learns: SNI not served
//! (unrecognized_name, RFC 6066), unknown identity vs wrong key (the same decrypt_error on the
//! wire, RFC 4279 §2, told apart only on the server), key source unavailable (internal_error),
//! no common suite (handshake_failure); and the client's typed reading of each alert.

mod dtls_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dtls_support::*;
use simbridge::dtls::config::{PskAnswer, PskRequest, ServerPskStore, StaticPsk};
use simbridge::dtls::internal::wire::alert::AlertDescription;
use simbridge::dtls::{CipherSuite, CloseReason, Error, Event, FailureKind, PskRefusal};
use simbridge::secret::SecretVec;

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;
const ECDHE: CipherSuite = CipherSuite::EcdhePskAes128GcmSha256;

/// A store that counts its lookups and answers with `answer` for every identity but
/// "client1" (which gets the shared PSK).
struct Store {
    lookups: AtomicUsize,
    answer: fn() -> PskAnswer<SecretVec>,
}

impl ServerPskStore for Store {
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if req.identity == b"client1" {
            PskAnswer::Ready(SecretVec::new(PSK.to_vec()))
        } else {
            (self.answer)()
        }
    }
}

fn store(answer: fn() -> PskAnswer<SecretVec>) -> Arc<Store> {
    Arc::new(Store {
        lookups: AtomicUsize::new(0),
        answer,
    })
}

fn client_with(identity: &[u8], key: &[u8], suite: CipherSuite) -> simbridge::dtls::ClientConfig {
    let mut c = client_config(&[suite], 1);
    c.psk = Arc::new(StaticPsk {
        identity: identity.to_vec(),
        key: SecretVec::new(key.to_vec()),
    });
    c
}

/// The fatal alert in the last datagram the server sent, read off the wire.
fn alert_sent(from_server: &[Vec<u8>]) -> Option<[u8; 2]> {
    let last = from_server.last()?;
    let (recs, _) = simbridge::dtls::internal::wire::record::split_datagram(last);
    let r = recs.last()?;
    (r.header.content_type == simbridge::dtls::internal::wire::record::ContentType::Alert
        && r.header.epoch == 0)
        .then(|| [r.fragment[0], r.fragment[1]])
}

/// Runs the handshake step by step, keeping every server datagram.
fn run(p: &mut Pair) -> Vec<Vec<u8>> {
    let mut from_server = Vec::new();
    for _ in 0..10 {
        p.c2s_with(pass);
        p.s2c_with(|d| {
            from_server.push(d.clone());
            vec![d]
        });
    }
    from_server
}

#[test]
fn sni_not_served_is_refused_with_unrecognized_name_before_any_lookup() {
    let st = store(|| PskAnswer::Unknown);
    let mut sc = server_config(&[CCM8], 2);
    sc.psk = st.clone();
    sc.server_names = vec!["naf-a.example.com".into()];
    let mut c = client_config(&[CCM8], 1);
    c.server_name = Some("naf-b.example.com".into());
    let mut p = Pair::new(c, sc);
    let from_server = run(&mut p);
    assert_eq!(alert_sent(&from_server), Some([2, 112]));
    assert_eq!(
        p.server_closed(),
        Some(CloseReason::Error(Error::UnrecognizedName(
            "naf-b.example.com".into()
        )))
    );
    let reason = p.client_closed().expect("client closed");
    assert_eq!(
        reason,
        CloseReason::PeerAlert(AlertDescription::UnrecognizedName)
    );
    assert_eq!(reason.failure_kind(), Some(FailureKind::NameRejected));
    assert_eq!(st.lookups.load(Ordering::SeqCst), 0, "no key lookup");
    assert_eq!(p.server.stats().unrecognized_name, 1);
    assert_eq!(p.server.connection_count(), 0);
    // the log line an application writes names the SNI
    assert!(
        p.server_closed()
            .unwrap()
            .to_string()
            .contains("naf-b.example.com"),
        "{}",
        p.server_closed().unwrap()
    );
}

#[test]
fn served_sni_any_case_and_no_sni_are_accepted() {
    for sni in [Some("NAF-A.Example.com"), None] {
        let mut sc = server_config(&[CCM8], 2);
        sc.server_names = vec!["naf-a.example.com".into(), "other.example.com".into()];
        let mut c = client_config(&[CCM8], 1);
        c.server_name = sni.map(String::from);
        let mut p = Pair::new(c, sc);
        p.drive();
        assert_eq!(p.client_connected(), Some(CCM8), "{sni:?}");
        assert!(p.server_connected());
    }
}

#[test]
fn a_refused_sni_is_escaped_for_the_log() {
    let mut sc = server_config(&[CCM8], 2);
    sc.server_names = vec!["naf-a.example.com".into()];
    let mut c = client_config(&[CCM8], 1);
    c.server_name = Some(format!("evil\n{}", "x".repeat(400)));
    let mut p = Pair::new(c, sc);
    p.drive();
    let Some(CloseReason::Error(Error::UnrecognizedName(name))) = p.server_closed() else {
        panic!("{:?}", p.server_closed());
    };
    assert!(name.starts_with("evil\\n"), "{name}");
    assert!(name.len() <= 255 + '…'.len_utf8(), "{}", name.len());
}

#[test]
fn unknown_identity_and_wrong_key_look_the_same_to_the_client() {
    for suite in [CCM8, ECDHE] {
        // same identity length, so the datagrams can be compared byte count for byte count
        let mut unknown = Pair::new(
            client_with(b"mallory", &PSK, suite),
            server_config(&[suite], 2),
        );
        let mut wrong = Pair::new(
            client_with(b"client1", &[9; 16], suite),
            server_config(&[suite], 2),
        );
        let wire_unknown = run(&mut unknown);
        let wire_wrong = run(&mut wrong);
        for p in [&unknown, &wrong] {
            let reason = p.client_closed().expect("client closed");
            assert_eq!(
                reason,
                CloseReason::PeerAlert(AlertDescription::DecryptError)
            );
            assert_eq!(reason.failure_kind(), Some(FailureKind::KeyRejected));
        }
        assert_eq!(alert_sent(&wire_unknown), Some([2, 51]));
        let lens = |w: &[Vec<u8>]| w.iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(lens(&wire_unknown), lens(&wire_wrong), "{suite:?}");
        assert_eq!(unknown.c2s_sizes, wrong.c2s_sizes);
        assert_eq!(
            unknown.client.stats().round_trips,
            wrong.client.stats().round_trips
        );
        // only the server knows which it was
        assert_eq!(
            unknown.server_closed(),
            Some(CloseReason::Error(Error::UnknownPskIdentity))
        );
        assert_eq!(
            wrong.server_closed(),
            Some(CloseReason::Error(Error::BadFinished))
        );
    }
}

/// A store that parks every lookup (a BSF behind it).
struct Parked;
impl ServerPskStore for Parked {
    fn lookup(&self, _req: &PskRequest) -> PskAnswer<SecretVec> {
        PskAnswer::Pending
    }
}

fn parked_pair() -> (Pair, std::net::SocketAddr) {
    let mut sc = server_config(&[CCM8], 2);
    sc.psk = Arc::new(Parked);
    let mut p = Pair::new(client_config(&[CCM8], 1), sc);
    // no timers: the lookup stays parked while the client waits
    while p.step() {}
    let addr = p
        .server_events
        .iter()
        .find_map(|(a, e)| matches!(e, Event::PskRequested { .. }).then_some(*a))
        .expect("PskRequested");
    (p, addr)
}

#[test]
fn parked_lookup_refused_as_unknown_fails_at_finished() {
    let (mut p, addr) = parked_pair();
    p.server
        .refuse_psk(p.now, addr, PskRefusal::UnknownIdentity)
        .unwrap();
    p.drive();
    assert_eq!(
        p.client_closed(),
        Some(CloseReason::PeerAlert(AlertDescription::DecryptError))
    );
    assert_eq!(
        p.server_closed(),
        Some(CloseReason::Error(Error::UnknownPskIdentity))
    );
    // provide_psk(None) is the same refusal
    let (mut q, addr) = parked_pair();
    q.server.provide_psk(q.now, addr, None).unwrap();
    q.drive();
    assert_eq!(
        q.server_closed(),
        Some(CloseReason::Error(Error::UnknownPskIdentity))
    );
}

#[test]
fn key_source_unavailable_is_internal_error_at_once() {
    // answered at once by the store ...
    let st = store(|| PskAnswer::Unavailable);
    let mut sc = server_config(&[CCM8], 2);
    sc.psk = st.clone();
    let mut p = Pair::new(client_with(b"someone", &PSK, CCM8), sc);
    let from_server = run(&mut p);
    assert_eq!(alert_sent(&from_server), Some([2, 80]));
    let reason = p.client_closed().expect("client closed");
    assert_eq!(
        reason,
        CloseReason::PeerAlert(AlertDescription::InternalError)
    );
    assert_eq!(reason.failure_kind(), Some(FailureKind::PeerUnavailable));
    assert_eq!(
        p.server_closed(),
        Some(CloseReason::Error(Error::PskUnavailable))
    );
    assert_eq!(st.lookups.load(Ordering::SeqCst), 1);
    // ... and after a parked lookup
    let (mut q, addr) = parked_pair();
    q.server
        .refuse_psk(q.now, addr, PskRefusal::Unavailable)
        .unwrap();
    q.drive();
    assert_eq!(
        q.client_closed(),
        Some(CloseReason::PeerAlert(AlertDescription::InternalError))
    );
    assert_eq!(
        q.server_closed(),
        Some(CloseReason::Error(Error::PskUnavailable))
    );
    // a refusal nobody asked for is an error, not a panic
    assert!(
        q.server
            .refuse_psk(q.now, addr, PskRefusal::Unavailable)
            .is_err()
    );
}

#[test]
fn suite_mismatch_is_handshake_failure_with_a_typed_reason() {
    let mut p = Pair::new(
        client_config(&[CipherSuite::PskAes128Ccm], 1),
        server_config(&[CCM8], 2),
    );
    let from_server = run(&mut p);
    assert_eq!(alert_sent(&from_server), Some([2, 40]));
    assert_eq!(
        p.server_closed(),
        Some(CloseReason::Error(Error::NoCommonSuite))
    );
    let reason = p.client_closed().expect("client closed");
    assert_eq!(reason.failure_kind(), Some(FailureKind::ConfigMismatch));
}

#[test]
fn failure_kinds_of_local_errors_and_orderly_closes() {
    assert_eq!(CloseReason::Local.failure_kind(), None);
    assert_eq!(CloseReason::PeerClosed.failure_kind(), None);
    assert_eq!(
        CloseReason::Error(Error::HandshakeTimeout(7)).failure_kind(),
        Some(FailureKind::Timeout)
    );
    assert_eq!(
        CloseReason::Error(Error::SuiteNotOffered(0xC0A8)).failure_kind(),
        Some(FailureKind::ConfigMismatch)
    );
    assert_eq!(
        CloseReason::PeerAlert(AlertDescription::UnknownPskIdentity).failure_kind(),
        Some(FailureKind::KeyRejected)
    );
}
