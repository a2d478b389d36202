//! SIGHUP applies a route's new key without a restart, with real processes: the gateway starts
//! with a wrong static key against our DTLS server, fails its handshakes, gets the right key in
//! its key file and a SIGHUP, and carries traffic from its next handshake, same process.

mod common;
mod support;

use common::{addr_in, start_with_config, write_file};
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

fn echoed(client: &UdpSocket, local: std::net::SocketAddr, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    let start = Instant::now();
    while start.elapsed() < within {
        client.send_to(b"hello", local).expect("send");
        if matches!(client.recv_from(&mut buf), Ok((5, _))) {
            return true;
        }
    }
    false
}

#[test]
fn sighup_applies_a_corrected_key_from_the_next_handshake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr) = support::launch::ours_server(support::PSK_HEX, &[]);
    let key = write_file(dir.path(), "k.hex", support::WRONG_PSK_HEX);
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[session]\nretransmit_initial_ms = 200\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{addr}\"\npsk = {{ identity = \"{}\", key_file = \"{}\" }}\n",
            dir.path().join("gw").display(),
            support::IDENTITY,
            key.display()
        ),
    );
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let local = addr_in(&gw.first_line);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    assert!(
        !echoed(&client, local, Duration::from_secs(3)),
        "a wrong key carries nothing"
    );
    let before = gw.stderr_lines(Duration::ZERO).join("\n");
    assert!(before.contains("did not accept our key"), "{before}");

    std::fs::write(&key, support::PSK_HEX).expect("write key");
    let pid = gw.guard.0.as_ref().expect("child").id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    assert!(
        echoed(&client, local, Duration::from_secs(10)),
        "the corrected key works without a restart"
    );
    // The SIGHUP handler logs after the route thread has the key, so the echo can come first.
    let mut after = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(after.contains("applied route[0] key") && after.contains("and a new key"))
        && Instant::now() < deadline
    {
        for l in gw.stderr_lines(Duration::from_millis(100)) {
            after.push_str(&l);
            after.push('\n');
        }
    }
    assert!(
        after.contains("applied route[0] key from each route's next handshake"),
        "{after}"
    );
    assert!(
        after.contains("and a new key, used from the next handshake"),
        "{after}"
    );
    assert!(!after.contains(support::PSK_HEX), "never the key");
    assert_eq!(gw.terminate(), Some(0), "the same process all along");
}
