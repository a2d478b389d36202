//! `simbridge dtls server --state FILE`: SIGTERM exports every connection, a restart imports
//! them, and a client (our library over a real UDP socket, with a Connection ID) continues
//! without a handshake; the export is consumed so it is never loaded twice.

mod interop_support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use interop_support::*;
use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::ClientConfig;
use simbridge::secret::SecretVec;

const T: Duration = Duration::from_secs(10);

fn server(port: u16, state: &std::path::Path) -> Peer {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simbridge"));
    cmd.args(["dtls", "server", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--psk-identity",
            "dev",
            "--psk",
            "000102030405060708090a0b0c0d0e0f",
        ])
        .args(["--echo", "--cid", "4", "--state"])
        .arg(state)
        .env("SIMBRIDGE_STATE_KEY", "00112233445566778899aabbccddeeff")
        .stdout(Stdio::piped());
    Peer::spawn_cmd(&mut cmd)
}

fn sigterm(p: &Peer) {
    let st = Command::new("kill")
        .args(["-TERM", &p.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

#[test]
fn sigterm_exports_and_a_restart_continues_every_connection_without_a_handshake() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("server.state");
    let mut s = server(port, &state);
    std::thread::sleep(Duration::from_millis(300));
    let mut cfg = ClientConfig::new(Arc::new(StaticPsk {
        identity: b"dev".to_vec(),
        key: SecretVec::new((0u8..16).collect()),
    }));
    cfg.connection_id = Some(0);
    let mut c = UdpClient::connect(cfg, port);
    assert_eq!(c.connected(T), Some(false));
    assert!(c.echo(b"one\n", T));
    sigterm(&s);
    assert!(s.wait_exit(T).is_some_and(|st| st.success()), "clean exit");
    assert!(state.is_file(), "state written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // restart on the same port from the export
    let s2 = server(port, &state);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!state.exists(), "the export was consumed");
    assert!(state.with_extension("consumed").is_file());
    let hs = c.conn.stats().handshake_datagrams_sent;
    assert!(c.echo(b"two\n", T), "echo after the restart");
    assert_eq!(c.conn.stats().handshake_datagrams_sent, hs, "no handshake");
    c.close();
    drop(s2);
}
