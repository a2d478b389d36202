//! Resumption interop: our client (the `simbridge dtls client --session-file` CLI, and the
//! library) resuming against OpenSSL s_server (tickets, and session IDs with -no_ticket), Mbed
//! TLS 3.6 and wolfSSL 5.9 servers with a Connection ID; OpenSSL s_client -sess_out/-sess_in,
//! Mbed TLS and wolfSSL clients resuming against our server. Fails loudly when a peer is
//! missing and SIMBRIDGE_REQUIRE_PEERS is set.

mod interop_support;
mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use interop_support::*;
use simbridge::dtls::config::StaticPsk;
use simbridge::dtls::{ClientConfig, Event, RandomCid, ServerConfig};
use simbridge::secret::SecretVec;
use support::launch::{openssl_client_command, openssl_server_command};
use support::{Proc, free_udp_port, peer_bin, tool};

const T: Duration = Duration::from_secs(10);
const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const ID: &str = "Client_identity";

fn psk() -> Arc<StaticPsk> {
    Arc::new(StaticPsk {
        identity: ID.as_bytes().to_vec(),
        key: SecretVec::new((0u8..16).collect()),
    })
}

/// Runs our CLI client once with `--session-file`; returns the connected event's "resumed".
fn cli_client(port: u16, session: &std::path::Path) -> Option<bool> {
    let out = Command::new(env!("CARGO_BIN_EXE_simbridge"))
        .args(["dtls", "client", "--connect", &format!("127.0.0.1:{port}")])
        .args(["--psk-identity", ID, "--psk", KEY, "--json-events"])
        .args(["--timeout-ms", "8000", "--session-file"])
        .arg(session)
        .stdin(Stdio::null())
        .output()
        .expect("run simbridge");
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("{err}");
    err.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "connected")
        .and_then(|v| v["resumed"].as_bool())
}

fn s_server(port: u16, extra: &[&str]) -> Option<Proc> {
    tool("openssl")?;
    let mut cmd = openssl_server_command(port, ID, KEY, "PSK-AES128-CCM8");
    cmd.args(extra);
    let p = Proc::spawn("peer", &mut cmd);
    p.wait_seen("ACCEPT", T).expect("s_server ready");
    Some(p)
}

fn our_cli_resumes_against_s_server(extra: &[&str]) {
    let port = free_udp_port();
    let Some(srv) = s_server(port, extra) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("simbridge-sess-{port}"));
    let _ = std::fs::remove_file(&dir);
    assert_eq!(cli_client(port, &dir), Some(false), "first: full handshake");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "session file is private");
    }
    assert_eq!(cli_client(port, &dir), Some(true), "second: resumed");
    assert_eq!(cli_client(port, &dir), Some(true), "third: resumed again");
    assert!(srv.has("Reused session-id"), "s_server says Reused");
    let _ = std::fs::remove_file(&dir);
}

#[test]
fn our_client_resumes_against_openssl_with_a_ticket() {
    our_cli_resumes_against_s_server(&[]);
}

#[test]
fn our_client_resumes_against_openssl_by_session_id() {
    our_cli_resumes_against_s_server(&["-no_ticket"]);
}

fn s_client_against_us(extra: &[&str]) {
    let Some(_) = tool("openssl") else { return };
    let mut s = UdpServer::bind(ServerConfig::new(psk()));
    let port = s.port();
    let sess = std::env::temp_dir().join(format!("simbridge-ossl-{port}"));
    let _ = std::fs::remove_file(&sess);
    let mut lines = Vec::new();
    for i in 0..2 {
        let mut cmd = openssl_client_command(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            ID,
            KEY,
            "PSK-AES128-CCM8",
        );
        cmd.args(extra).arg("-sess_out").arg(&sess);
        if i == 1 {
            cmd.arg("-sess_in").arg(&sess);
        }
        let mut cli = Proc::spawn("peer", &mut cmd);
        let want = if i == 0 {
            "New, TLSv1.2"
        } else {
            "Reused, TLSv1.2"
        };
        let ok = s.serve_until(T, |_| cli.has("Verify return code") || cli.has("errno"));
        assert!(ok, "s_client finished its handshake");
        cli.close_stdin();
        s.serve_until(Duration::from_millis(300), |_| false);
        let _ = cli.wait_exit(T);
        lines.push(cli.stdout_seen().iter().any(|l| l.starts_with(want)));
    }
    let _ = std::fs::remove_file(&sess);
    assert_eq!(lines, vec![true, true], "New, then Reused");
    let resumed: Vec<bool> = s.connected().iter().map(|(_, r)| *r).collect();
    assert_eq!(resumed, vec![false, true]);
}

#[test]
fn openssl_s_client_resumes_against_our_server_with_a_ticket() {
    s_client_against_us(&[]);
}

#[test]
fn openssl_s_client_resumes_against_our_server_by_session_id() {
    s_client_against_us(&["-no_ticket"]);
}

/// Our library client against an Mbed TLS / wolfSSL server with a CID: full with a ticket,
/// then resumed with that ticket (and a CID again), data both ways each time.
fn our_client_resumes_against(peer: &str) {
    let Some(bin) = peer_bin(peer) else { return };
    let port = free_udp_port();
    let p = port.to_string();
    let srv = Proc::start(
        &bin,
        &["server", &p, "-c", "c1d5e7f0", "-N", "2", "-w", "3000"],
    );
    srv.wait_seen("LISTENING", T).expect("peer listens");
    let mut cfg = ClientConfig::new(psk());
    cfg.connection_id = Some(2);
    cfg.session_tickets = true;
    let mut c = UdpClient::connect(cfg.clone(), port);
    assert_eq!(c.connected(T), Some(false), "{peer}: full");
    let session = c.conn.session().expect("session").clone();
    assert!(!session.ticket.is_empty(), "{peer} sent a ticket");
    assert!(c.echo(b"first", T));
    c.close();
    srv.wait_seen("CLOSED", T).expect("first closed");
    cfg.resume = Some(session);
    let mut c = UdpClient::connect(cfg, port);
    assert_eq!(
        c.connected(T),
        Some(true),
        "{peer}: resumed with the ticket"
    );
    assert_eq!(hex::encode(c.conn.peer_connection_id()), "c1d5e7f0");
    assert!(c.echo(b"second", T), "{peer}: data after resumption");
    c.close();
}

#[test]
fn our_client_resumes_with_a_ticket_and_cid_against_mbedtls_and_wolfssl() {
    for peer in ["mbed_peer", "wolf_peer"] {
        our_client_resumes_against(peer);
    }
}

#[test]
fn wolfssl_client_resumes_with_a_ticket_and_cid_against_our_server() {
    let Some(bin) = peer_bin("wolf_peer") else {
        return;
    };
    let mut sc = ServerConfig::new(psk());
    sc.connection_id = Some(Arc::new(RandomCid::new(4)));
    let mut s = UdpServer::bind(sc);
    let p = s.port().to_string();
    let mut cli = Proc::start(&bin, &["client", &p, "-c", "c11e", "-R"]);
    let ok = s.serve_until(T, |s| {
        s.closed_count() == 2 || cli.has("FAILED") || cli.has("NO REPLY")
    });
    assert!(ok);
    assert!(cli.wait_exit(T).is_some_and(|st| st.success()));
    let resumed: Vec<bool> = s.connected().iter().map(|(_, r)| *r).collect();
    assert_eq!(resumed, vec![false, true]);
    assert!(cli.has("CONNECTED resumed=1"), "wolfSSL says it resumed");
    assert_eq!(s.data().len(), 2);
}

#[test]
fn mbedtls_client_resumes_with_a_saved_session_against_our_server() {
    let Some(bin) = peer_bin("mbed_peer") else {
        return;
    };
    // with tickets (the Mbed TLS client asks for one) and by session ID only
    for tickets in [true, false] {
        let mut sc = ServerConfig::new(psk());
        sc.session_tickets = tickets;
        let mut s = UdpServer::bind(sc);
        let p = s.port().to_string();
        let sess = std::env::temp_dir().join(format!("simbridge-mbed-{p}"));
        let _ = std::fs::remove_file(&sess);
        let sess_s = sess.to_string_lossy().to_string();
        for round in 0..2 {
            let mut cli = Proc::start(&bin, &["client", &p, "-c", "c11e", "-s", &sess_s]);
            let ok = s.serve_until(T, |s| {
                s.closed_count() == round + 1 || cli.has("FAILED") || cli.has("NO REPLY")
            });
            assert!(ok, "tickets={tickets} round {round}");
            assert!(cli.wait_exit(T).is_some_and(|st| st.success()));
        }
        let _ = std::fs::remove_file(&sess);
        let resumed: Vec<bool> = s.connected().iter().map(|(_, r)| *r).collect();
        assert_eq!(resumed, vec![false, true], "tickets={tickets}");
        let data = s
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Data(_)))
            .count();
        assert_eq!(data, 2, "one message per connection");
    }
}

const GNUTLS_PRIO: &str = "NORMAL:+PSK:+AES-128-CCM-8:-VERS-ALL:+VERS-DTLS1.2";

fn our_cli_resumes_against_gnutls(extra: &[&str]) {
    let Some(bin) = tool("gnutls-serv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pskfile = dir.path().join("psk.txt");
    std::fs::write(&pskfile, format!("{ID}:{KEY}\n")).unwrap();
    let port = free_udp_port();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--udp",
        "-p",
        &port.to_string(),
        "--echo",
        "--priority",
        GNUTLS_PRIO,
    ])
    .arg("--pskpasswd")
    .arg(&pskfile)
    .args(extra);
    let _srv = Proc::spawn("peer", &mut cmd);
    // its stdout is block-buffered: wait until the port is taken instead of for a line
    let end = std::time::Instant::now() + T;
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(std::time::Instant::now() < end, "gnutls-serv did not bind");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sess = dir.path().join("session");
    assert_eq!(cli_client(port, &sess), Some(false), "first: full");
    assert_eq!(cli_client(port, &sess), Some(true), "second: resumed");
}

#[test]
fn our_client_resumes_against_gnutls_with_a_ticket_and_by_session_id() {
    our_cli_resumes_against_gnutls(&[]);
    our_cli_resumes_against_gnutls(&["--noticket"]);
}

#[test]
fn gnutls_cli_resumes_against_our_server() {
    let Some(bin) = tool("gnutls-cli") else {
        return;
    };
    for extra in [&[][..], &["--noticket"][..]] {
        let mut s = UdpServer::bind(ServerConfig::new(psk()));
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--udp",
            "--pskusername",
            ID,
            "--pskkey",
            KEY,
            "--priority",
            GNUTLS_PRIO,
        ])
        .args(extra)
        .args(["-r", "-p", &s.port().to_string(), "127.0.0.1"]);
        let cli = Proc::spawn("peer", &mut cmd);
        let ok = s.serve_until(T, |_| {
            cli.has("This is a resumed session") || cli.has("rror")
        });
        assert!(ok, "{extra:?}");
        assert!(cli.has("This is a resumed session"), "{extra:?}");
        let resumed: Vec<bool> = s.connected().iter().map(|(_, r)| *r).collect();
        assert_eq!(resumed, vec![false, true], "{extra:?}");
    }
}
