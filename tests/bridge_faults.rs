//! The bridge through an in-repo UDP fault relay between gateway and server: NAT rebindings every
//! few messages cost no handshake (Connection ID), and 20 % loss with reordering still completes
//! the handshake and loses nothing beyond what the relay dropped.

mod common;
mod support;

use common::{Running, addr_in, start_with_config, write_file};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Relay, RelayConfig, udp_echo};

const KEY: &str = "00112233445566778899aabbccddeeff";

struct Bridge {
    server: Running,
    gateway: Running,
    relay: Relay,
    local: SocketAddr,
}

fn bridge(dir: &Path, relay_cfg: RelayConfig, extra_session: &str) -> Bridge {
    let key = write_file(dir, "k.hex", KEY);
    let backend = udp_echo();
    let server_cfg = write_file(
        dir,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"{backend}\"\n[[keys.static]]\nidentity = \"dev1\"\nkey_file = \"{}\"\n",
            key.display()
        ),
    );
    let server = start_with_config("server", &server_cfg, "simbridge server");
    let relay = Relay::start(addr_in(&server.first_line), relay_cfg);
    let gw_cfg = write_file(
        dir,
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[session]\nretransmit_initial_ms = 200\n{extra_session}\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\npsk = {{ identity = \"dev1\", key_file = \"{}\" }}\n",
            dir.join("gw").display(),
            relay.addr(),
            key.display()
        ),
    );
    let gateway = start_with_config("bridge", &gw_cfg, "simbridge bridge");
    let local = addr_in(&gateway.first_line);
    Bridge {
        server,
        gateway,
        relay,
        local,
    }
}

/// Sends `n` numbered datagrams, one at a time, waiting up to `wait` for each echo; `before`
/// runs before each message.
fn exchange(local: SocketAddr, n: u32, wait: Duration, before: impl Fn(u32)) -> u32 {
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buf = [0u8; 256];
    let mut answered = 0;
    for i in 0..n {
        before(i);
        let msg = format!("message {i}");
        client.send_to(msg.as_bytes(), local).expect("send");
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok((len, _)) = client.recv_from(&mut buf) {
                if &buf[..len] == msg.as_bytes() {
                    answered += 1;
                    break;
                }
            }
        }
    }
    answered
}

fn count(lines: &[String], what: &str) -> usize {
    lines.iter().filter(|l| l.contains(what)).count()
}

#[test]
fn nat_rebinding_every_three_datagrams_needs_no_handshake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = bridge(dir.path(), RelayConfig::default(), "");
    // A NAT that forgets the mapping every three messages (not inside a handshake's flights).
    let answered = exchange(b.local, 30, Duration::from_secs(5), |i| {
        if i > 0 && i % 3 == 0 {
            b.relay.rebind();
        }
    });
    let stats = b.relay.stats();
    assert_eq!(
        answered, 30,
        "every message answered across {} rebindings",
        stats.rebinds
    );
    assert!(stats.rebinds >= 9, "{} rebindings", stats.rebinds);
    let gw = b.gateway.stderr_lines(Duration::from_millis(200));
    let srv = b.server.stderr_lines(Duration::ZERO);
    assert_eq!(
        count(&gw, "upstream session up"),
        1,
        "one handshake in all: {gw:?}"
    );
    assert_eq!(count(&srv, "session up"), 1, "{srv:?}");
    assert!(
        count(&srv, "moved to") >= 9,
        "the server followed the rebindings: {srv:?}"
    );
    assert_eq!(b.gateway.terminate(), Some(0));
}

#[test]
fn loss_and_reordering_lose_nothing_beyond_the_relay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = RelayConfig {
        seed: 7,
        drop_percent: 20,
        reorder_percent: 30,
        ..RelayConfig::default()
    };
    let b = bridge(dir.path(), cfg, "queue_limit = 256");
    let sent = 20;
    let answered = exchange(b.local, sent, Duration::from_secs(3), |_| {});
    let stats = b.relay.stats();
    let gw = b.gateway.stderr_lines(Duration::from_millis(200));
    assert!(
        count(&gw, "upstream session up") >= 1,
        "the handshake completed by retransmission: {gw:?}"
    );
    // Each lost message is one the relay dropped (its datagram or the echo's): nothing else.
    assert!(
        u64::from(answered) + stats.dropped() >= u64::from(sent),
        "{answered} of {sent} answered, the relay dropped {}",
        stats.dropped()
    );
    assert!(answered >= sent / 2, "{answered} of {sent}");
    assert_eq!(b.gateway.terminate(), Some(0));
}
