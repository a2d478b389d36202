//! End to end with real peers: libcoap's coap-client → our gateway → our server → libcoap's
//! coap-server (plain CoAP on both local sides, GBA-keyed DTLS in between, the BSF running as its
//! own process); a gateway restart reuses the bootstrap without touching the card; our gateway
//! against OpenSSL's s_server with a static PSK; OpenSSL's s_client against our server.

mod common;
mod support;

use common::e2e::{coap, gateway_config, network, network_with};
use common::*;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{Stream, launch};

/// Whether libcoap's plain client and server are here (fails in CI when not, skips otherwise).
fn libcoap() -> bool {
    require(
        "coap-client-notls and coap-server-notls (libcoap3-bin)",
        have("coap-client-notls") && have("coap-server-notls"),
    )
}

/// The round with the route's extra lines `route_extra` (e.g. `dtls = "1.3"`); returns the
/// first gateway's log.
fn libcoap_round(
    dir: &Path,
    card_line: &str,
    card_state: Option<&Path>,
    route_extra: &str,
) -> Vec<String> {
    libcoap_round_with(dir, card_line, card_state, route_extra, "")
}

/// [`libcoap_round`] with `server_extra` lines in the server's configuration.
fn libcoap_round_with(
    dir: &Path,
    card_line: &str,
    card_state: Option<&Path>,
    route_extra: &str,
    server_extra: &str,
) -> Vec<String> {
    let net = network_with(dir, server_extra);
    let cfg = gateway_config(dir, &net, card_line);
    // the route is the file's last table: lines appended belong to it
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(&cfg, format!("{text}{route_extra}\n")).expect("config");
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let local = addr_in(&gw.first_line);
    let base = format!("coap://{local}");
    coap(&[
        "-m",
        "put",
        "-e",
        "through-the-bridge",
        &format!("{base}/example_data"),
    ]);
    assert_eq!(
        coap(&["-m", "get", &format!("{base}/example_data")]),
        "through-the-bridge"
    );
    assert!(!coap(&["-m", "get", &format!("{base}/time")]).is_empty());
    let first_log = gw.stderr_lines(Duration::from_millis(200));
    assert_eq!(gw.terminate(), Some(0), "SIGTERM ends the gateway cleanly");

    // A restarted gateway uses the cached bootstrap: the card runs no AKA (its SQN state is unchanged).
    let before = card_state.map(|p| std::fs::read(p).expect("card state"));
    let gw = start_with_config("bridge", &cfg, "simbridge bridge again");
    let base = format!("coap://{}", addr_in(&gw.first_line));
    assert_eq!(
        coap(&["-m", "get", &format!("{base}/example_data")]),
        "through-the-bridge"
    );
    // ... and, the server having kept the session, without any handshake (export + CID).
    let log = gw.stderr_lines(Duration::from_millis(200));
    assert!(log.iter().any(|l| l.contains("no handshake")), "{log:?}");
    assert!(
        !log.iter().any(|l| l.contains("upstream session up")),
        "a handshake ran after the restart: {log:?}"
    );
    if let (Some(p), Some(before)) = (card_state, before) {
        assert_eq!(
            std::fs::read(p).expect("card state"),
            before,
            "no AKA after a gateway restart"
        );
    }
    assert_eq!(gw.terminate(), Some(0));
    first_log
}

/// [`libcoap_round_with`] on the software USIM in a fresh directory; `None` (skipped) without
/// libcoap outside CI. Returns the first gateway's log.
fn softsim_round(route_extra: &str, server_extra: &str) -> Option<Vec<String>> {
    if !libcoap() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    let state = card.with_extension("toml.state");
    Some(libcoap_round_with(
        dir.path(),
        &format!("softsim = \"{}\"", card.display()),
        Some(&state),
        route_extra,
        server_extra,
    ))
}

#[test]
fn libcoap_client_and_server_through_gba_bridge_with_software_usim() {
    softsim_round("", "");
}

/// The same chain with the route on DTLS 1.3 (the server serves both): the session comes up
/// with a TLS 1.3 suite, and a gateway restart continues it with no AKA and no handshake.
#[test]
fn libcoap_through_gba_bridge_over_dtls13_with_software_usim() {
    let Some(log) = softsim_round("dtls = \"1.3\"", "") else {
        return;
    };
    assert!(
        log.iter()
            .any(|l| l.contains("upstream session up: TLS_AES_128_CCM_8_SHA256")),
        "{log:?}"
    );
}

/// Both sides import the GBA key (RFC 9258): the route offers an ImportedIdentity, the server
/// (`psk_importers = true`) asks the BSF for the external identity's key and imports it; the
/// chain works and survives a gateway restart as without importers.
#[test]
fn libcoap_through_gba_bridge_over_dtls13_with_imported_psks() {
    let route = "dtls = \"1.3\"\npsk_importers = true";
    let Some(log) = softsim_round(route, "psk_importers = true\n") else {
        return;
    };
    assert!(
        log.iter()
            .any(|l| l.contains("upstream session up: TLS_AES_128")),
        "{log:?}"
    );
}

#[cfg(feature = "pcsc")]
#[test]
fn libcoap_through_gba_bridge_with_the_card_in_pcscd() {
    let ok = have("coap-client-notls") && Path::new("/run/pcscd/pcscd.comm").exists();
    if !require("libcoap3-bin and pcscd with vsmartcard-vpcd", ok) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    // Reader 00 01 (port 35964): the PC/SC test files use 00 00.
    let _inserted =
        support::vpcd::serve_on("Virtual PCD 00 01", &card, &["--vpcd", "127.0.0.1:35964"]);
    libcoap_round(
        dir.path(),
        "reader = \"Virtual PCD 00 01\"",
        Some(&card.with_extension("toml.state")),
        "",
    );
}

fn openssl_ok() -> bool {
    require("openssl", have("openssl"))
}

#[test]
fn gateway_against_openssl_s_server_with_a_static_psk() {
    if !openssl_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut s_server, port) = launch::openssl_server("PSK-AES128-CCM8", support::PSK_HEX, &[]);
    let keyfile = write_file(dir.path(), "k.hex", support::PSK_HEX);
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:{port}\"\npsk = {{ identity = \"{}\", key_file = \"{}\" }}\n",
            dir.path().display(),
            support::IDENTITY,
            keyfile.display()
        ),
    );
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let local = addr_in(&gw.first_line);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    client.send_to(b"hello openssl\n", local).expect("send");
    s_server.expect_line(
        Stream::Stdout,
        Duration::from_secs(10),
        "the datagram",
        |l| l.contains("hello openssl"),
    );
    s_server.write_line("hello gateway");
    let mut buf = [0u8; 256];
    let (n, _) = client
        .recv_from(&mut buf)
        .expect("reply through the gateway");
    assert_eq!(&buf[..n], b"hello gateway\n");
    assert_eq!(gw.terminate(), Some(0));
}

#[test]
fn openssl_s_client_against_our_server() {
    if !openssl_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = UdpSocket::bind("127.0.0.1:0").expect("echo");
    let echo_addr = echo.local_addr().expect("addr");
    echo.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let echo_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while stop_rx.try_recv().is_err() {
            if let Ok((n, from)) = echo.recv_from(&mut buf) {
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                let _ = echo.send_to(&reply, from);
            }
        }
    });
    let keyfile = write_file(dir.path(), "k.hex", support::PSK_HEX);
    let cfg = write_file(
        dir.path(),
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"{echo_addr}\"\n[[keys.static]]\nidentity = \"{}\"\nkey_file = \"{}\"\n",
            support::IDENTITY,
            keyfile.display()
        ),
    );
    let server = start_with_config("server", &cfg, "simbridge server");
    let addr = addr_in(&server.first_line);
    let mut s_client = launch::openssl_client(addr, "PSK-AES128-CCM8", support::PSK_HEX, &[]);
    let wait = Duration::from_secs(15);
    s_client.expect_line(Stream::Stdout, wait, "the handshake", |l| {
        l.contains("New, TLSv1.2, Cipher is PSK-AES128-CCM8")
    });
    s_client.write_line("ping from openssl");
    s_client.expect_line(Stream::Stdout, wait, "the echo", |l| {
        l.contains("echo:ping from openssl")
    });
    let _ = stop_tx.send(());
    let _ = echo_thread.join();
    assert_eq!(server.terminate(), Some(0));
}

fn start_server(cfg: &Path) -> Running {
    start_with_config("server", cfg, "simbridge server")
}

#[test]
fn server_restart_with_and_without_saved_state() {
    if !libcoap() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    let mut net = network(dir.path());
    let cfg = gateway_config(
        dir.path(),
        &net,
        &format!("softsim = \"{}\"", card.display()),
    );
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let base = format!("coap://{}", addr_in(&gw.first_line));
    coap(&["-m", "put", "-e", "kept", &format!("{base}/example_data")]);

    // A graceful restart: the server saves its sessions on SIGTERM and continues them.
    let server = std::mem::replace(&mut net.server, start_server_later());
    assert_eq!(server.terminate(), Some(0));
    net.server = start_server(&net.server_cfg);
    assert_eq!(
        coap(&["-m", "get", &format!("{base}/example_data")]),
        "kept"
    );
    let log = net.server.stderr_lines(Duration::from_millis(200));
    assert!(
        log.iter().any(|l| l.contains("1 sessions continued")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("session up")),
        "a handshake after a graceful restart: {log:?}"
    );

    // A crash: no saved state; the gateway notices the silence and makes a new session.
    let server = std::mem::replace(&mut net.server, start_server_later());
    drop(server); // SIGKILL
    net.server = start_server(&net.server_cfg);
    assert_eq!(
        coap(&["-m", "get", &format!("{base}/example_data")]),
        "kept"
    );
    let log = net.server.stderr_lines(Duration::from_millis(200));
    assert!(log.iter().any(|l| l.contains("session up")), "{log:?}");
    assert_eq!(gw.terminate(), Some(0));
}

/// A placeholder while a server is swapped (a finished `true` process).
fn start_server_later() -> Running {
    spawn_ready(
        Command::new("sh").args(["-c", "echo placeholder"]),
        "placeholder",
    )
}

#[test]
fn libcoap_through_gba_bridge_with_the_card_behind_a_virtual_modem() {
    if !libcoap() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    let link = dir.path().join("ttyMODEM");
    let _modem = spawn_ready(
        Command::new(bin())
            .args(["softsim", "modem", "--profile"])
            .arg(&card)
            .arg("--link")
            .arg(&link),
        "softsim modem",
    );
    libcoap_round(
        dir.path(),
        &format!("modem = \"{}\"", link.display()),
        Some(&card.with_extension("toml.state")),
        "",
    );
}

/// DTLS 1.3 0-RTT after the server lost its sessions: libcoap → our gateway (route `dtls =
/// "1.3"`, `early_data = true`) → our server (`tickets`, `early_data`, its `state_dir` keeping
/// the ticket master secret) → libcoap's coap-server. The server is killed (SIGKILL: no saved
/// sessions, no strike register) and started again from the same `state_dir`; the next request
/// goes on the dead session, and when the gateway suspects the loss it resumes with the ticket
/// it got before the crash. A GET, safe to repeat, goes again as 0-RTT and the server forwards
/// it to the backend at once (`early_data_forwarded`); a PUT is not repeated by the gateway: it
/// goes after the handshake (coap-client's retransmission). Both are answered; no key lookup.
#[test]
fn dtls13_0rtt_after_a_server_crash_resends_a_get_as_early_data_but_not_a_put() {
    if !libcoap() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    // a 2 s anti-replay window: a server started without its register takes 0-RTT 2 s later,
    // and a ticket age may be off by up to 2 s (a loaded machine)
    let mut net = network_with(
        dir.path(),
        "tickets = true\nearly_data = true\nearly_data_window_secs = 2\n",
    );
    let cfg = gateway_config(
        dir.path(),
        &net,
        &format!("softsim = \"{}\"", card.display()),
    );
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(&cfg, format!("{text}dtls = \"1.3\"\nearly_data = true\n")).expect("config");
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let base = format!("coap://{}", addr_in(&gw.first_line));
    coap(&["-m", "put", "-e", "before", &format!("{base}/example_data")]);
    let counters = || support::key_api::server_counters_in(&dir.path().join("server-state"));

    // Kills and restarts the server, sends the request (its 0-RTT comes when the gateway
    // suspects the loss, 2 s after, 3.2 s after the start: past the start window); returns the
    // gateway's log from then to the line `until` and the answer.
    let mut crash_and_send = |args: &[&str], until: &str| -> (Vec<String>, String) {
        let old = std::mem::replace(&mut net.server, start_server_later());
        drop(old); // SIGKILL: the sessions and the strike register are lost
        net.server = start_server(&net.server_cfg);
        std::thread::sleep(Duration::from_millis(1200));
        let _ = gw.stderr_lines(Duration::ZERO);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let client =
            std::thread::spawn(move || coap(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        let log = gw.wait_stderr(Duration::from_secs(15), until, |l| l.contains(until));
        (log, client.join().expect("coap-client thread"))
    };

    let url = format!("{base}/example_data");
    let (log, answer) = crash_and_send(&["-m", "get", &url], "upstream 0-RTT");
    assert_eq!(answer, "before");
    assert!(
        log.iter()
            .any(|l| l.contains("resuming with the server's ticket") && l.contains("B of 0-RTT")),
        "{log:?}"
    );
    assert!(
        log.last().is_some_and(|l| l.contains("0-RTT accepted")),
        "{log:?}"
    );
    let c = counters();
    assert!(c["early_data_forwarded"].as_u64() >= Some(1), "{c}");
    assert_eq!(c["early_data_held"].as_u64(), Some(0), "{c}");
    assert_eq!(
        c["key_lookups"].as_u64(),
        Some(0),
        "a resumption needs no key: {c}"
    );

    let (log, answer) = crash_and_send(&["-m", "put", "-e", "after", &url], "upstream session up");
    assert_eq!(answer, "");
    assert!(
        log.iter()
            .any(|l| l.contains("resuming with the server's ticket")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("0-RTT")),
        "a PUT went as 0-RTT: {log:?}"
    );
    let c = counters();
    assert_eq!(c["early_data"].as_u64(), Some(0), "{c}");
    assert_eq!(coap(&["-m", "get", &url]), "after");
    assert_eq!(gw.terminate(), Some(0));
}
