//! `simbridge dtls server --state FILE`: SIGTERM exports every connection, a restart imports
//! them, and a client (our library over a real UDP socket, with a Connection ID) continues
//! without a handshake; the export is consumed (overwritten and removed) and its id kept in
//! the persistent ledger FILE.ledger, so neither it nor a backup of it is ever loaded twice.

mod interop_support;
mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use interop_support::*;
use simbridge::dtls::ClientConfig;
use simbridge::dtls::config::StaticPsk;
use simbridge::secret::SecretVec;
use support::{Proc, Stream, free_udp_port};

const T: Duration = Duration::from_secs(10);

/// Our server with `--state`, ready once it printed its ACCEPT line.
fn server(port: u16, state: &std::path::Path) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simbridge"));
    cmd.args(["dtls", "server", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--psk-identity",
            "dev",
            "--psk",
            "000102030405060708090a0b0c0d0e0f",
        ])
        .args(["--echo", "--cid", "4", "--json-events", "--state"])
        .arg(state)
        .env("SIMBRIDGE_STATE_KEY", "00112233445566778899aabbccddeeff");
    let p = Proc::spawn("ours-server", cmd);
    p.expect_line(Stream::Stdout, T, "ACCEPT", |l| l.starts_with("ACCEPT "));
    p
}

fn sigterm(p: &Proc) {
    let st = Command::new("kill")
        .args(["-TERM", &p.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn sigterm_exports_and_a_restart_continues_every_connection_without_a_handshake() {
    let port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("server.state");
    let ledger = dir.path().join("server.state.ledger");
    let mut s = server(port, &state);
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
    assert_eq!(mode(&state), 0o600);
    let backup = std::fs::read(&state).unwrap();

    // restart on the same port from the export
    let mut s2 = server(port, &state);
    s2.expect_line(Stream::Stderr, T, "state loaded", |l| {
        l.contains("state_loaded") && l.contains("\"connections\":1")
    });
    assert!(!state.exists(), "the export was consumed");
    assert!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| e.file_name() == "server.state.ledger"),
        "no copy of the export is left (no .consumed file)"
    );
    assert!(ledger.is_file(), "the import is in the ledger");
    assert_eq!(mode(&ledger), 0o600);
    let hs = c.conn.stats().handshake_datagrams_sent;
    assert!(c.echo(b"two\n", T), "echo after the restart");
    assert_eq!(c.conn.stats().handshake_datagrams_sent, hs, "no handshake");

    // the export restored from a backup is refused by the next start: the ledger remembers
    sigterm(&s2);
    assert!(s2.wait_exit(T).is_some_and(|st| st.success()));
    std::fs::write(&state, &backup).unwrap();
    let s3 = server(port, &state);
    s3.expect_line(Stream::Stderr, T, "state refused", |l| {
        l.contains("state_refused") && l.contains("already imported")
    });
    assert!(!state.exists(), "the backup was consumed too");
    c.close();
}
