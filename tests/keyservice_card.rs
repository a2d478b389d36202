//! The gateway's key service against a software USIM and a BSF that refuses connections: a card
//! failure reopens the card, a BSF failure does not.

use simbridge::bridge::keyservice::{
    CardOpener, KeyReply, KeyRequest, KeyService, KeyServiceConfig, ReplyTo,
};
use simbridge::card::CardChannel;
use simbridge::error_chain::chain;
use simbridge::gba::{GbaError, NafId, ReusePolicy, UbConfig};
use simbridge::uicc::UiccError;
use simbridge::upstream::KeyError;
use simbridge_lab::softsim::{Profile, SoftUsim};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// A software USIM without GBA_U, opened afresh each time; counts the openings.
fn opener(opened: Arc<AtomicUsize>) -> CardOpener {
    Box::new(move || {
        opened.fetch_add(1, Ordering::SeqCst);
        let text = "iccid = \"8988211000000000017\"\nimsi = \"001010123456789\"\nmnc_length = 2\n\
                    k = \"000102030405060708090a0b0c0d0e0f\"\nopc = \"62e75b8d6fa5bf46ec87a9276f9df54d\"\n\
                    amf = \"8000\"\nsqn = \"000000000000\"\n";
        let profile = Profile::parse(text, std::path::Path::new("test.toml"))?;
        Ok(Box::new(SoftUsim::from_profile(profile, None)?) as Box<dyn CardChannel>)
    })
}

fn ask(keys: &KeyService, waker: &Arc<mio::Waker>, req: KeyRequest) -> KeyReply {
    let (tx, rx) = mpsc::channel();
    let reply = ReplyTo {
        tx,
        waker: waker.clone(),
    };
    keys.sender()
        .expect("running")
        .send((req, reply))
        .expect("sent");
    rx.recv_timeout(Duration::from_secs(20)).expect("answer")
}

#[test]
fn a_card_failure_reopens_the_card_and_a_bsf_failure_does_not() {
    // A loopback port nobody listens on: the BSF refuses the connection.
    let bsf = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", bsf.local_addr().expect("addr"));
    drop(bsf);
    let dir = tempfile::tempdir().expect("tempdir");
    let opened = Arc::new(AtomicUsize::new(0));
    let keys = KeyService::start(KeyServiceConfig {
        card: opener(opened.clone()),
        pin: None,
        ub: UbConfig::new(&url),
        state_dir: dir.path().to_path_buf(),
        policy: ReusePolicy::default(),
        http_timeout: Duration::from_secs(5),
        tls: ureq::tls::TlsConfig::builder().build(),
    })
    .expect("start");
    let poll = mio::Poll::new().expect("poll");
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));

    for _ in 0..2 {
        match ask(&keys, &waker, KeyRequest::Bootstrap { force: false }) {
            KeyReply::Bootstrap(Err(e @ KeyError::Gba(GbaError::Http(_)))) => {
                assert!(!e.card_failed());
                assert!(
                    chain(&e).to_string().starts_with("cannot reach the BSF: "),
                    "{}",
                    chain(&e)
                );
            }
            other => panic!("expected a BSF failure, got {other:?}"),
        }
    }
    assert_eq!(opened.load(Ordering::SeqCst), 1, "the card stays open");

    let naf =
        NafId::new("naf.example.com", simbridge::gba::UaId::tls12_suite(0xc0a8)).expect("NAF_Id");
    match ask(&keys, &waker, KeyRequest::DeriveNafKey { naf_id: naf }) {
        KeyReply::NafKey(Err(e @ KeyError::Card(UiccError::GbaUnsupported))) => {
            assert!(e.card_failed());
            assert_eq!(
                chain(&e).to_string(),
                "card failed: the card does not support GBA_U (UST service 68 not available)"
            );
        }
        other => panic!("expected a card failure, got {other:?}"),
    }
    let _ = ask(&keys, &waker, KeyRequest::Bootstrap { force: false });
    assert_eq!(
        opened.load(Ordering::SeqCst),
        2,
        "reopened after the card failed"
    );
}
