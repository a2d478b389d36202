//! Embedding a GBA-keyed upstream DTLS session in your own event loop.
//!
//! The session is sans-IO: you own the socket and the clock; it tells you what to send, when to
//! wake it, and when it needs a GBA bootstrap (done here inline, blocking, with the card).
//!
//! ```sh
//! cargo run --example gba_session -- sim-profiles/demo.toml http://127.0.0.1:8080 naf.example.com 127.0.0.1:5684
//! ```
use simbridge::gba::{UbConfig, UreqTransport};
use simbridge::uicc::Uicc;
use simbridge::upstream::{CardKeys, KeySource, Now, SessionConfig, UpstreamSession};
use simbridge_lab::softsim::SoftUsim;
use std::{
    net::UdpSocket,
    time::{Duration, Instant},
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [profile, bsf, naf, server] = args.as_slice() else {
        return Err("usage: gba_session PROFILE BSF_URL NAF_FQDN SERVER_ADDR".into());
    };
    let mut card = Uicc::open(SoftUsim::load(profile.as_ref())?, None)?;
    // Bootstraps with this BSF (contexts cached in a state directory) and GBA_U derivations on
    // the card: the same code the gateway's key service runs.
    let mut card_keys = CardKeys::new(
        UbConfig::new(bsf),
        &std::env::temp_dir().join("gba-session-example"),
        UreqTransport::new(Duration::from_secs(10)),
    );
    let keys = KeySource::Gba {
        naf_fqdn: naf.clone(),
        ua: None,
    };
    let mut session = UpstreamSession::new(SessionConfig::default(), keys);

    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.connect(server)?;
    session.send(Now::system(), b"hello from an embedded session");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        while let Some(action) = session.poll_action() {
            card_keys.answer(&mut card, &mut session, Now::system(), action);
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
