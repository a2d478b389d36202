//! Signals and exit codes with real processes: SIGTERM in the middle of a bootstrap against a
//! BSF that never answers stops the gateway within 2 s with exit 0; SIGHUP keeps the gateway (and
//! the server) running and says what a changed configuration needs; `bsf` and `dtls server` exit
//! 0 on SIGTERM; usage errors exit 64, `dtls client` without a peer 69, `--help` lists the codes.

mod common;
mod support;

use common::{Running, profile_copy, simbridge, start_with_config, write_file};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The bound the issue sets for a stop.
const STOP_WITHIN: Duration = Duration::from_secs(2);

fn signal(r: &Running, sig: &str) {
    let pid = r.guard.0.as_ref().expect("child").id().to_string();
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid])
        .status()
        .expect("kill");
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Sends `sig` and waits up to 10 s for the exit: (exit code, time it took).
fn stop_with(r: &mut Running, sig: &str) -> (Option<i32>, Duration) {
    signal(r, sig);
    let start = Instant::now();
    let child = r.guard.0.as_mut().expect("child");
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(st)) = child.try_wait() {
            return (st.code(), start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (None, start.elapsed())
}

fn still_running(r: &mut Running) -> bool {
    matches!(r.guard.0.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
}

fn static_gateway(dir: &Path, extra: &str) -> std::path::PathBuf {
    let key = write_file(dir, "k.hex", "00112233445566778899aabbccddeeff");
    write_file(
        dir,
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n{extra}[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:{}\"\npsk = {{ identity = \"dev1\", key_file = \"{}\" }}\n",
            dir.join("gw").display(),
            common::free_udp_port(),
            key.display()
        ),
    )
}

#[test]
fn sigterm_during_a_hung_bootstrap_stops_within_2s_with_exit_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A BSF that accepts the connection and never answers (the HTTP timeout is 20 s).
    let bsf = TcpListener::bind("127.0.0.1:0").expect("bind");
    let bsf_addr = bsf.local_addr().expect("addr");
    let card = profile_copy(dir.path(), "demo.toml");
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\n[gba]\nbsf = \"http://{bsf_addr}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:{}\"\nnaf = \"localhost\"\npsk = \"gba\"\n",
            dir.path().join("gw").display(),
            card.display(),
            common::free_udp_port()
        ),
    );
    let mut gw = start_with_config("bridge", &cfg, "simbridge bridge");
    bsf.set_nonblocking(true).expect("nonblocking");
    let start = Instant::now();
    let held = loop {
        match bsf.accept() {
            Ok((conn, _)) => break conn,
            Err(_) if start.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("the gateway never asked the BSF: {e}"),
        }
    };
    // The bootstrap is now waiting for the BSF's answer.
    std::thread::sleep(Duration::from_millis(300));
    let (code, took) = stop_with(&mut gw, "TERM");
    let err = gw.stderr_lines(Duration::from_secs(1)).join("\n");
    assert_eq!(code, Some(0), "{err}");
    assert!(took < STOP_WITHIN, "stopped after {took:?}:\n{err}");
    assert!(
        err.contains("a GBA bootstrap is in progress: it is cancelled"),
        "{err}"
    );
    drop(held);
}

#[test]
fn sigint_stops_the_gateway_with_exit_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = static_gateway(dir.path(), "");
    let mut gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let (code, took) = stop_with(&mut gw, "INT");
    assert_eq!(code, Some(0));
    assert!(took < STOP_WITHIN, "{took:?}");
}

#[test]
fn sighup_keeps_the_gateway_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = static_gateway(dir.path(), "");
    let mut gw = start_with_config("bridge", &cfg, "simbridge bridge");
    signal(&gw, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(still_running(&mut gw), "SIGHUP killed the gateway");
    let err = gw.stderr_lines(Duration::ZERO).join("\n");
    assert!(err.contains("re-read: unchanged"), "{err}");

    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(&cfg, format!("{text}[session]\nmtu = 1000\n")).expect("write");
    signal(&gw, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(still_running(&mut gw));
    let err = gw.stderr_lines(Duration::ZERO).join("\n");
    assert!(
        err.contains("applied session.mtu from each route's next handshake"),
        "{err}"
    );
    assert!(!err.contains("a restart applies it"), "{err}");

    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(&cfg, format!("{text}[card]\nbaud = 9600\n")).expect("write");
    signal(&gw, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(still_running(&mut gw));
    let err = gw.stderr_lines(Duration::ZERO).join("\n");
    assert!(
        err.contains("[card] changed: a restart applies it"),
        "{err}"
    );

    std::fs::write(&cfg, "[[route]]\nlisten = 5\n").expect("write");
    signal(&gw, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(still_running(&mut gw), "a broken file does not stop it");
    let err = gw.stderr_lines(Duration::ZERO).join("\n");
    assert!(err.contains("the running configuration stays"), "{err}");
    let (code, _) = stop_with(&mut gw, "TERM");
    assert_eq!(code, Some(0));
}

#[test]
fn bsf_server_and_dtls_server_exit_0_on_sigterm_and_survive_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut bsf, _token) = common::start_bsf(dir.path());
    signal(&bsf, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(still_running(&mut bsf), "SIGHUP killed the BSF");
    let (code, took) = stop_with(&mut bsf, "TERM");
    assert_eq!(code, Some(0), "bsf");
    assert!(took < STOP_WITHIN, "bsf took {took:?}");

    let key = write_file(dir.path(), "k.hex", "00112233445566778899aabbccddeeff");
    let server_cfg = write_file(
        dir.path(),
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:{}\"\nstate_dir = \"{}\"\n[[keys.static]]\nidentity = \"dev1\"\nkey_file = \"{}\"\n",
            common::free_udp_port(),
            dir.path().join("srv").display(),
            key.display()
        ),
    );
    let mut server = start_with_config("server", &server_cfg, "simbridge server");
    signal(&server, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(still_running(&mut server), "SIGHUP killed the server");
    let err = server.stderr_lines(Duration::ZERO).join("\n");
    assert!(err.contains("SIGHUP") && err.contains("re-read"), "{err}");
    let (code, took) = stop_with(&mut server, "TERM");
    assert_eq!(code, Some(0), "server");
    assert!(took < STOP_WITHIN, "server took {took:?}");

    let (mut dtls, _) = support::launch::ours_server(support::PSK_HEX, &[]);
    let start = Instant::now();
    let st = Command::new("kill")
        .args(["-TERM", &dtls.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let code = dtls
        .wait_exit(Duration::from_secs(10))
        .and_then(|s| s.code());
    assert_eq!(code, Some(0), "dtls server:\n{}", dtls.transcript());
    assert!(
        start.elapsed() < STOP_WITHIN,
        "dtls server took {:?}",
        start.elapsed()
    );
}

#[test]
fn usage_errors_exit_64_and_help_lists_the_codes() {
    for args in [
        &["--no-such-option"][..],
        &["sim", "aka", "--softsim", "x.toml"][..],
        &["bridge"][..],
        &["energy", "--radio", "wifi"][..],
        &["sim", "info"][..],
        &[
            "sim",
            "aka",
            "--softsim",
            "x.toml",
            "--rand",
            "zz",
            "--autn",
            "00",
        ][..],
    ] {
        let o = simbridge(args);
        assert_eq!(
            o.status.code(),
            Some(64),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.stderr.is_empty());
    }
    let o = simbridge(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for line in [
        "Exit codes:",
        "64  usage error",
        "69  dtls client",
        "2   sim aka",
    ] {
        assert!(help.contains(line), "{line} missing from --help:\n{help}");
    }
    let o = simbridge(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn dtls_client_without_a_peer_exits_69() {
    let port = common::free_udp_port();
    let o = simbridge(&[
        "dtls",
        "client",
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--psk-identity",
        "dev1",
        "--psk",
        "00112233445566778899aabbccddeeff",
        "--timeout-ms",
        "1500",
    ]);
    assert_eq!(
        o.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
