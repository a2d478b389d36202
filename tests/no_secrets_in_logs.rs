//! No secret in any log, from any crate: real `bsf`, `server` and `bridge` processes at
//! `RUST_LOG=trace` run a GBA bootstrap, a key-API lookup, a DTLS handshake and data; their logs
//! are searched for the key API's bearer token, the Ks_NAF in use (from `simbridge psk
//! --reveal`), the card's K and OPc and the PIN.

mod gba_support;
mod support;

use gba_support::cli::{device_psk, write_private};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Proc, Stream, free_udp_port, ours};

const TOKEN: &str = "trace-token-5f2c9a71e0b34d68";
const PIN: &str = "73914628";
/// The demo profile's keys (sim-profiles/demo.toml).
const K: &str = "000102030405060708090a0b0c0d0e0f";
const OPC: &str = "62e75b8d6fa5bf46ec87a9276f9df54d";

fn spawn_traced(name: &str, args: &[&str], cfg: Option<&Path>) -> Proc {
    let mut cmd = Command::new(ours());
    cmd.args(args)
        .env("RUST_LOG", "trace")
        .env("SIMBRIDGE_PIN", PIN);
    if let Some(c) = cfg {
        cmd.arg("--config").arg(c);
    }
    Proc::spawn(name, cmd)
}

fn addr_after(p: &Proc, what: &str, marker: &str) -> SocketAddr {
    let line = p.expect_line(Stream::Stdout, Duration::from_secs(20), what, |l| {
        l.contains(marker) || l.parse::<SocketAddr>().is_ok()
    });
    line.split_whitespace()
        .last()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// The demo card (GBA_ME, so that `psk --reveal` can derive the session's Ks_NAF from the
/// cached context) as the BSF's subscriber and the gateway's card, the token, and the BSF at
/// trace level; returns it and its address.
fn traced_bsf(d: &Path) -> (Proc, SocketAddr) {
    std::fs::create_dir_all(d.join("profiles")).expect("dir");
    let profile = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sim-profiles/demo.toml"),
    )
    .expect("demo profile");
    assert!(
        profile.contains(K) && profile.contains(OPC),
        "the demo keys changed"
    );
    let profile = profile.replace("gba_u = true", "gba_u = false");
    std::fs::write(d.join("profiles/demo.toml"), &profile).expect("profile");
    std::fs::write(d.join("card.toml"), &profile).expect("card");
    write_private(&d.join("token"), TOKEN);
    let bsf = spawn_traced(
        "bsf",
        &[
            "bsf",
            "--listen",
            "127.0.0.1:0",
            "--profiles",
            d.join("profiles").to_str().expect("utf8"),
            "--state",
            d.join("bsf").to_str().expect("utf8"),
            "--token-file",
            d.join("token").to_str().expect("utf8"),
            "--naf",
            "localhost",
        ],
        None,
    );
    let addr = addr_after(&bsf, "bsf address", "127.0.0.1:");
    (bsf, addr)
}

/// Fails naming the log and the secret when any log holds one of `secrets` (what, hex).
/// The gateway at RUST_LOG=trace with the software USIM of `d` and one GBA route to the
/// server at `server` (`route_extra`: more lines for the route); its route's local address.
fn traced_gateway(
    d: &Path,
    bsf_addr: SocketAddr,
    server: SocketAddr,
    route_extra: &str,
) -> (Proc, SocketAddr) {
    let gw_cfg = d.join("gateway.toml");
    std::fs::write(
        &gw_cfg,
        format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\npin = \"{PIN}\"\n[gba]\nbsf = \"http://{bsf_addr}/\"\n\
             [[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"localhost:{}\"\npsk = \"gba\"\n{route_extra}",
            d.join("gw-state").display(),
            d.join("card.toml").display(),
            server.port()
        ),
    )
    .expect("gateway config");
    let gw = spawn_traced("bridge", &["bridge"], Some(&gw_cfg));
    let local = addr_after(&gw, "route address", "listening on");
    (gw, local)
}

fn assert_no_leak(logs: &[(&str, String)], secrets: &[(&str, &str)]) {
    for (name, log) in logs {
        assert!(log.contains("DEBUG"), "{name} logged below info:\n{log}");
        let mut all: Vec<(&str, &str, Option<Vec<u8>>)> = vec![
            ("bearer token", TOKEN, None),
            ("K", K, Some(unhex(K))),
            ("OPc", OPC, Some(unhex(OPC))),
            ("PIN", PIN, None),
        ];
        all.extend(secrets.iter().map(|(w, h)| (*w, *h, Some(unhex(h)))));
        for (what, text, bytes) in all {
            if let Some(line) = leak(log, text, bytes.as_deref()) {
                panic!("the {name} log holds the {what}: {line}");
            }
        }
    }
}

#[test]
fn trace_logs_of_bsf_server_and_bridge_hold_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (bsf, bsf_addr) = traced_bsf(d);

    let echo_addr = support::udp_echo();
    let server_cfg = d.join("server.toml");
    std::fs::write(
        &server_cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"{echo_addr}\"\n[keys]\nbsf = \"http://{bsf_addr}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            free_udp_port(),
            d.join("token").display()
        ),
    )
    .expect("server config");
    let server = {
        let mut cmd = Command::new(ours());
        cmd.args(["server", "--config"])
            .arg(&server_cfg)
            .env("RUST_LOG", "trace");
        Proc::spawn("server", cmd)
    };
    let server_addr = addr_after(&server, "server address", "server listening on");

    let (gw, local) = traced_gateway(d, bsf_addr, server_addr, "");

    // Data through gateway → server → echo and back: bootstrap, key lookup, handshake done.
    let app = UdpSocket::bind("127.0.0.1:0").expect("app");
    app.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 64];
    loop {
        assert!(
            Instant::now() < deadline,
            "no echo through the bridge:\n{}",
            gw.transcript()
        );
        app.send_to(b"ping", local).expect("send");
        if let Ok((n, _)) = app.recv_from(&mut buf) {
            assert_eq!(&buf[..n], b"ping");
            break;
        }
    }
    // The Ks_NAF the session uses: the gateway's route NAF is "localhost", its suite the first
    // one both sides have (ECDHE-PSK CCM_8 by default for GBA routes).
    let upstream_line = gw.expect_line(Stream::Stderr, Duration::from_secs(5), "session up", |l| {
        l.contains("session up")
    });
    let suite = [
        "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
        "TLS_PSK_WITH_AES_128_CCM_8",
    ]
    .into_iter()
    .find(|s| upstream_line.contains(s))
    .unwrap_or("TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256");
    // The device's state is the gateway's: psk --reveal reads the cached context.
    let (identity, ks_naf) = device_psk_from_state(d, bsf_addr, suite);
    assert_eq!(ks_naf.len(), 64);
    server.expect_line(
        Stream::Stderr,
        Duration::from_secs(5),
        "the same identity",
        |l| l.contains("session up") && l.contains(&identity),
    );

    std::thread::sleep(Duration::from_millis(300));
    let logs = [
        ("bsf", bsf.transcript()),
        ("server", server.transcript()),
        ("bridge", gw.transcript()),
    ];
    assert_no_leak(&logs, &[("Ks_NAF", ks_naf.as_str())]);
    // The byte-dumping targets still log at debug (redacted), never at trace.
    for (name, log) in &logs {
        assert!(
            !log.lines().any(|l| l.contains("TRACE ureq")
                || l.contains("TRACE rustls")
                || l.contains("TRACE tiny_http")),
            "{name}: a capped target logged at trace"
        );
    }
    assert!(
        logs[0].1.contains("DEBUG tiny_http"),
        "the BSF's HTTP server logged at debug"
    );
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The first log line that shows part of a secret: the secret as text (a window of 8
/// characters, 16 for hex-encoded keys), or that text or the secret's raw bytes (8-byte
/// windows) hex-dumped (lines with spaces removed, either case). Hex dumps cut a secret across
/// lines, hence windows rather than the whole.
fn leak(log: &str, text: &str, raw: Option<&[u8]>) -> Option<String> {
    let text_window = if raw.is_some() { 16 } else { 8 };
    let mut needles: Vec<String> = Vec::new();
    for w in text.as_bytes().windows(text_window.min(text.len())) {
        needles.push(String::from_utf8_lossy(w).into_owned());
        needles.push(hex(w));
    }
    if let Some(r) = raw {
        for w in r.windows(8) {
            needles.push(hex(w));
        }
    }
    log.lines()
        .find(|l| {
            let compact: String = l
                .chars()
                .filter(|c| *c != ' ')
                .collect::<String>()
                .to_lowercase();
            needles
                .iter()
                .any(|n| l.contains(n.as_str()) || compact.contains(&n.to_lowercase()))
        })
        .map(str::to_string)
}

/// `psk --reveal` on the gateway's state directory (no new bootstrap: the context is cached).
fn device_psk_from_state(d: &Path, bsf: SocketAddr, suite: &str) -> (String, String) {
    std::fs::create_dir_all(d.join("device-state/gba")).expect("dir");
    for e in std::fs::read_dir(d.join("gw-state/gba"))
        .expect("gw state")
        .flatten()
    {
        std::fs::copy(e.path(), d.join("device-state/gba").join(e.file_name())).expect("copy");
    }
    std::fs::copy(d.join("card.toml"), d.join("device-card.toml")).expect("card");
    device_psk(d, bsf, "localhost", &["--suite", suite])
}

/// The same with `protection = "oscore"` on both sides: the trace logs of the BSF, the OSCORE
/// server and the gateway hold neither the context's Master Secret (read back with
/// `simbridge oscore show --reveal`) nor the token, K, OPc or PIN.
#[test]
fn trace_logs_with_oscore_hold_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (bsf, bsf_addr) = traced_bsf(d);
    let echo_addr = support::udp_echo();
    let server_cfg = d.join("server.toml");
    std::fs::write(
        &server_cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"{echo_addr}\"\nstate_dir = \"{}\"\nprotection = \"oscore\"\n[keys]\nbsf = \"http://{bsf_addr}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            free_udp_port(),
            d.join("server-state").display(),
            d.join("token").display()
        ),
    )
    .expect("server config");
    let server = spawn_traced("server", &["server"], Some(&server_cfg));
    let server_addr = addr_after(&server, "server address", "listening on");
    let (gw, local) = traced_gateway(d, bsf_addr, server_addr, "protection = \"oscore\"\n");
    // A CoAP GET (the echo backend returns it as is: a request back, which the server drops, so
    // the check is that the server forwarded it).
    let app = UdpSocket::bind("127.0.0.1:0").expect("app");
    let get = [0x40, 0x01, 0x12, 0x34, 0xb1, b'x'];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.transcript().contains("established with") {
        assert!(
            Instant::now() < deadline,
            "no establishment:\n{}",
            gw.transcript()
        );
        app.send_to(&get, local).expect("send");
        std::thread::sleep(Duration::from_millis(300));
    }
    app.send_to(&get, local).expect("send");
    std::thread::sleep(Duration::from_millis(300));
    let o = Command::new(ours())
        .args(["oscore", "show", "--reveal", "--json", "--state"])
        .arg(d.join("gw-state"))
        .output()
        .expect("oscore show");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let secret = v[0]["master_secret"]
        .as_str()
        .expect("master secret")
        .to_string();
    assert_eq!(secret.len(), 32);
    assert_no_leak(
        &[
            ("bsf", bsf.transcript()),
            ("server", server.transcript()),
            ("bridge", gw.transcript()),
        ],
        &[("Master Secret", secret.as_str())],
    );
}
