//! Command lines for every peer and for our CLI, as in docs/sources.md sec. 1. Each launcher
//! returns once the process is ready to accept (servers) or has been started (clients).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::net::{free_udp_port, free_udp_port_dual};
use super::peers::{ours, repo_root, venv_python};
use super::process::{Proc, Stream};
use super::{IDENTITY, PSK_HEX};

/// How long a server may take to come up.
pub const READY: Duration = Duration::from_secs(10);

/// Our server: `simbridge dtls server --listen 127.0.0.1:0 --echo --json-events` + `extra`.
/// Returns the process and its bound address.
pub fn ours_server(psk: &str, extra: &[&str]) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(ours());
    cmd.args([
        "dtls",
        "server",
        "--listen",
        "127.0.0.1:0",
        "--psk-identity",
    ])
    .args([IDENTITY, "--psk", psk, "--echo", "--json-events"])
    .args(extra);
    let p = Proc::spawn("ours-server", cmd);
    let line = p.expect_line(Stream::Stderr, READY, "listening event", |l| {
        l.contains("\"listening\"")
    });
    let v: serde_json::Value = serde_json::from_str(&line).expect("listening JSON");
    let addr = v["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("listening addr");
    (p, addr)
}

/// Our client to `addr` with `--json-events` + `extra`.
pub fn ours_client(addr: SocketAddr, psk: &str, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(ours());
    cmd.args(["dtls", "client", "--connect", &addr.to_string()])
        .args(["--psk-identity", IDENTITY, "--psk", psk, "--json-events"])
        .args(extra);
    Proc::spawn("ours-client", cmd)
}

/// Waits for our `connected` JSON event on stderr and returns it parsed.
pub fn expect_connected(p: &Proc, timeout: Duration) -> serde_json::Value {
    let line = p.expect_line(Stream::Stderr, timeout, "connected event", |l| {
        l.contains("\"connected\"")
    });
    serde_json::from_str(&line).expect("connected JSON")
}

/// Tries to start a server on a free port (from `pick`) up to three times: another process can
/// take the port between the probe and the peer's bind.
fn on_free_port(
    what: &str,
    pick: fn() -> u16,
    mut start: impl FnMut(u16) -> Proc,
    ready: impl Fn(&str) -> bool,
) -> (Proc, u16) {
    let mut tried = Vec::new();
    for _ in 0..3 {
        let port = pick();
        let mut p = start(port);
        if p.wait_ready(READY, &ready) {
            return (p, port);
        }
        tried.push(format!("port {port}:\n{}", p.transcript()));
    }
    panic!("{what} did not come up:\n{}", tried.join("\n"));
}

/// The `openssl s_server` command line for DTLS 1.2 with a PSK on 127.0.0.1:`port` (no
/// certificate); callers add their options and spawn it.
pub fn openssl_server_command(port: u16, identity: &str, psk: &str, cipher: &str) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_server",
        "-dtls1_2",
        "-accept",
        &format!("127.0.0.1:{port}"),
    ])
    .args(["-nocert", "-psk", psk, "-psk_identity", identity])
    .args(["-cipher", cipher]);
    cmd
}

/// `openssl s_server -dtls1_2 -nocert -psk` on 127.0.0.1 and a free port; stdin stays open
/// (s_server quits at EOF). Ready once it prints ACCEPT. Returns it and its port.
pub fn openssl_server(cipher: &str, psk: &str, extra: &[&str]) -> (Proc, u16) {
    on_free_port(
        "openssl s_server",
        free_udp_port,
        |port| {
            let mut cmd = openssl_server_command(port, IDENTITY, psk, cipher);
            cmd.args(extra);
            Proc::spawn("openssl-s_server", cmd)
        },
        |l| l == "out: ACCEPT",
    )
}

/// The `openssl s_client` command line for DTLS 1.2 with a PSK to `addr`; callers add their
/// options and spawn it.
pub fn openssl_client_command(
    addr: SocketAddr,
    identity: &str,
    psk: &str,
    cipher: &str,
) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-dtls1_2", "-connect", &addr.to_string()])
        .args(["-psk", psk, "-psk_identity", identity, "-cipher", cipher]);
    cmd
}

/// `openssl s_client -dtls1_2 -psk` to `addr`.
pub fn openssl_client(addr: SocketAddr, cipher: &str, psk: &str, extra: &[&str]) -> Proc {
    let mut cmd = openssl_client_command(addr, IDENTITY, psk, cipher);
    cmd.args(extra);
    Proc::spawn("openssl-s_client", cmd)
}

/// A GnuTLS server with its PSK file; the directory lives as long as the value.
pub struct GnutlsServer {
    /// The gnutls-serv process.
    pub proc: Proc,
    _dir: tempfile::TempDir,
}

/// `gnutls-serv --udp --echo -d 5` on a free port (all addresses: it has no bind option).
/// `-d 5` makes it log received alerts ("Close notify - was received"). Returns it and its port.
pub fn gnutls_server(priority: &str, extra: &[&str]) -> (GnutlsServer, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("psk.passwd");
    // gnutls-serv reads its keys from a file: one identity, the shared test PSK.
    std::fs::write(&file, format!("{IDENTITY}:{PSK_HEX}\n")).expect("psk file");
    let (proc, port) = on_free_port(
        "gnutls-serv",
        free_udp_port_dual,
        |port| {
            // gnutls-serv block-buffers stdout into a pipe: stdbuf makes it line-buffered.
            let mut cmd = Command::new("stdbuf");
            cmd.args(["-oL", "gnutls-serv", "--udp", "-p", &port.to_string()])
                .args(["--echo", "-d", "5", "--pskpasswd"])
                .arg(&file)
                .args(["--priority", priority])
                .args(extra);
            Proc::spawn("gnutls-serv", cmd)
        },
        |l| l.contains("listening on IPv4"),
    );
    (GnutlsServer { proc, _dir: dir }, port)
}

/// `gnutls-cli --udp` to 127.0.0.1:`port`.
pub fn gnutls_client(port: u16, priority: &str, psk: &str, extra: &[&str]) -> Proc {
    let mut cmd = Command::new("gnutls-cli");
    cmd.args(["--udp", "-p", &port.to_string(), "127.0.0.1"])
        .args([
            "--pskusername",
            IDENTITY,
            "--pskkey",
            psk,
            "--priority",
            priority,
        ])
        .args(extra);
    Proc::spawn("gnutls-cli", cmd)
}

fn mbedtls_script() -> std::path::PathBuf {
    repo_root().join("scripts/peers/mbedtls_dtls_psk.py")
}

/// The python-mbedtls server (one connection, `--echo`); returns it and its port.
pub fn mbedtls_server(suite: &str, psk: &str) -> (Proc, u16) {
    let mut cmd = Command::new(venv_python());
    cmd.arg(mbedtls_script()).args([
        "server", "--port", "0", "--echo", "--suite", suite, "--psk", psk,
    ]);
    let p = Proc::spawn("mbedtls-server", cmd);
    let line = p.expect_line(Stream::Stdout, READY, "LISTENING", |l| {
        l.starts_with("LISTENING ") || l.starts_with("ERROR")
    });
    let port = line
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("mbedtls server: {line}"));
    (p, port)
}

/// The python-mbedtls client: sends each of `messages` and waits for its echo, then close_notify.
pub fn mbedtls_client(port: u16, suite: &str, psk: &str, messages: &[&str]) -> Proc {
    let mut cmd = Command::new(venv_python());
    cmd.arg(mbedtls_script()).args([
        "client",
        "--port",
        &port.to_string(),
        "--suite",
        suite,
        "--psk",
        psk,
    ]);
    for m in messages {
        cmd.args(["--send", m]);
    }
    Proc::spawn("mbedtls-client", cmd)
}

/// The python-mbedtls client in `--stdin` mode: each stdin line is sent and its echo awaited;
/// EOF sends close_notify.
pub fn mbedtls_client_stdin(port: u16, suite: &str, psk: &str) -> Proc {
    let mut cmd = Command::new(venv_python());
    cmd.arg(mbedtls_script()).args([
        "client",
        "--port",
        &port.to_string(),
        "--stdin",
        "--suite",
        suite,
        "--psk",
        psk,
    ]);
    Proc::spawn("mbedtls-client", cmd)
}

/// Writes `<dir>/<name>`: a `simbridge server` configuration on free loopback ports, suite
/// PSK CCM_8, keys from the key API at `bsf_url` with the bearer token in `token`; `keys` is
/// appended to its `[keys]` table (`naf = …`, `ca_file = …`).
pub fn gba_server_config(
    dir: &std::path::Path,
    name: &str,
    bsf_url: &str,
    token: &std::path::Path,
    keys: &str,
) -> std::path::PathBuf {
    let cfg = dir.join(name);
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:{}\"\nsuites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]\n\
             [keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\n{keys}\n",
            free_udp_port(),
            free_udp_port(),
            token.display()
        ),
    )
    .expect("server config");
    cfg
}

/// `simbridge server --config FILE` at `RUST_LOG=info` (the config written by the caller);
/// returns the process and its bound DTLS address once it prints it.
pub fn ours_bridge_server(config: &std::path::Path) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(ours());
    cmd.args(["server", "--config"])
        .arg(config)
        .env("RUST_LOG", "info");
    let p = Proc::spawn("server", cmd);
    let line = p.expect_line(Stream::Stdout, READY, "server listening", |l| {
        l.contains("server listening on")
    });
    let addr = line
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("server address");
    (p, addr)
}

/// Our client to `addr` with this identity and key (4 s handshake deadline) + `extra`.
pub fn ours_client_as(addr: SocketAddr, identity: &str, psk: &str, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(ours());
    cmd.args(["dtls", "client", "--connect", &addr.to_string()])
        .args(["--psk-identity", identity, "--psk", psk, "--json-events"])
        .args(["--timeout-ms", "4000"])
        .args(extra);
    Proc::spawn("client", cmd)
}

/// Runs a client's handshake to its end: whether it connected, and its transcript.
pub fn client_handshake(mut c: Proc) -> (bool, String) {
    let ok = c
        .wait_line(Stream::Stderr, Duration::from_secs(6), |l| {
            l.contains("\"connected\"")
        })
        .is_some();
    c.close_stdin();
    let _ = c.wait_exit(Duration::from_secs(6));
    (ok, c.transcript())
}
