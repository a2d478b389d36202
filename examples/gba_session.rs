//! Embedding a GBA-keyed upstream DTLS session in your own event loop.
//!
//! The session is sans-IO: you own the socket and the clock; it tells you what to send, when to
//! wake it, and when it needs a GBA bootstrap (done here inline, blocking, with the card).
//!
//! ```sh
//! cargo run --example gba_session -- sim-profiles/demo.toml http://127.0.0.1:8080 naf.example.com 127.0.0.1:5684
//! ```
use simbridge::dtls::{config::StaticPsk, ClientConfig};
use simbridge::gba::{
    client::CacheUse, obtain_context, ContextCache, ReusePolicy, UbConfig, UreqTransport,
};
use simbridge::upstream::{Action, KeyError, KeySource, Now, SessionConfig, UpstreamSession};
use simbridge::{secret::SecretVec, uicc::Uicc};
use simbridge_lab::softsim::SoftUsim;
use std::{
    net::UdpSocket,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [profile, bsf, naf, server] = args.as_slice() else {
        return Err("usage: gba_session PROFILE BSF_URL NAF_FQDN SERVER_ADDR".into());
    };
    let mut card = Uicc::open(SoftUsim::load(profile.as_ref())?, None)?;
    let cache = ContextCache::new(&std::env::temp_dir().join("gba-session-example"));
    let placeholder = Arc::new(StaticPsk {
        identity: vec![],
        key: SecretVec::default(),
    });
    let keys = KeySource::Gba {
        naf_fqdn: naf.clone(),
        ua: None,
    };
    let mut session =
        UpstreamSession::new(SessionConfig::new(ClientConfig::new(placeholder)), keys);

    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.connect(server)?;
    session.send(Now::system(), b"hello from an embedded session");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        while let Some(action) = session.poll_action() {
            if let Action::Bootstrap { force } = action {
                let use_cache = CacheUse {
                    cache: &cache,
                    policy: ReusePolicy {
                        force,
                        ..Default::default()
                    },
                    any_bsf: false,
                };
                let got = obtain_context(
                    &mut card,
                    &mut UreqTransport::new(Duration::from_secs(10)),
                    &UbConfig::new(bsf),
                    &use_cache,
                    SystemTime::now(),
                );
                session.bootstrap_done(
                    Now::system(),
                    got.map(|o| (o.context, o.bootstrapped))
                        .map_err(KeyError::from),
                );
            } else if let Action::DeriveNafKey { naf_id } = action {
                let impi = card.impi().to_string();
                session.provide_naf_key(
                    Now::system(),
                    card.gba_naf_derive(&naf_id.to_bytes(), &impi)
                        .map_err(KeyError::from),
                );
            }
        }
        while let Some((_path, datagram)) = session.poll_transmit() {
            sock.send(&datagram)?; // one path is enough here: no make-before-break in this example
        }
        if let Some(reply) = session.poll_received() {
            println!("reply: {}", String::from_utf8_lossy(&reply));
            return Ok(());
        }
        let wait = session
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(200));
        sock.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        if let Ok(n) = sock.recv(&mut buf) {
            session.handle_datagram(Now::system(), simbridge::upstream::PathId(0), &buf[..n]);
        }
        session.handle_timeout(Now::system());
    }
    Err("no reply within 10 s".into())
}
