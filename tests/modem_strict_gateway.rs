//! The strict virtual modem with the real chain: for every quirk profile, `simbridge bootstrap`
//! against a real `simbridge bsf`, then a real gateway (`simbridge bridge`, a GBA route) whose
//! card is behind `softsim modem --strict` carries a datagram through a real `simbridge server`
//! (keys from the BSF's key API) to an echo backend and back. The modem counts no reset of its
//! own USIM session (no application selected on the basic channel) and no CLA mistake on
//! `+CGLA`. One BSF and one server serve every profile.

mod common;
mod modem_support;
mod support;

use common::{Running, addr_in, start_demo_bsf, start_with_config, udp_echo, write_file};
use modem_support::{QUIRKS, VirtualModem, Workdir, simbridge_env, stderr, stdout};
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

/// The BSF and the server shared by every profile.
struct Net {
    _bsf: Running,
    bsf_url: String,
    server: Running,
}

fn network(dir: &Path) -> Net {
    let token = write_file(dir, "token", "strict-gateway-token\n");
    let (bsf, bsf_url) = start_demo_bsf(dir, &token);
    let cfg = write_file(
        dir,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"{}\"\nstate_dir = \"{}\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            udp_echo(),
            dir.join("server-state").display(),
            token.display()
        ),
    );
    let server = start_with_config("server", &cfg, "simbridge server");
    Net {
        _bsf: bsf,
        bsf_url,
        server,
    }
}

/// Which SIM access path the logs show.
fn path_in(logs: &str) -> &'static str {
    if logs.contains("SIM access through cgla") {
        "+CGLA"
    } else if logs.contains("opened with MANAGE CHANNEL") {
        "+CSIM on a logical channel (MANAGE CHANNEL)"
    } else {
        "+CSIM on the basic channel"
    }
}

/// One profile: bootstrap through the strict modem, then a datagram through the gateway on the
/// same modem. Returns the modem's counters, the path the gateway took, and the time it took.
fn one_profile(net: &Net, quirks: &str) -> ((u64, u64), &'static str, Duration) {
    let started = Instant::now();
    let w = Workdir::new();
    let profile = w.profile("demo.toml", &format!("{quirks}.toml"));
    let mut modem = VirtualModem::start(&w, &profile, quirks, &["--strict"]);
    let link = modem.link_str();

    // `simbridge bootstrap` through the modem against the real BSF.
    let state = w.path("cli-state");
    let state = state.to_str().expect("utf8");
    let out = simbridge_env(
        &[
            "bootstrap",
            "--json",
            "--modem",
            &link,
            "--bsf",
            &net.bsf_url,
            "--state",
            state,
        ],
        &[("RUST_LOG", "info")],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{quirks}: bootstrap: {}",
        stderr(&out)
    );
    let boot: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{quirks}: bootstrap --json ({e}): {}", stdout(&out)));
    assert!(
        boot["btid"].as_str().is_some_and(|b| !b.is_empty()),
        "{quirks}: {boot}"
    );
    assert_eq!(
        modem.strict_stats(),
        (0, 0),
        "{quirks}: bootstrap ({}): {}",
        path_in(&stderr(&out)),
        stderr(&out)
    );

    // The gateway, with its own state (so it bootstraps through the modem itself).
    let upstream = addr_in(&net.server.first_line);
    let cfg = write_file(
        w.dir.path(),
        "gateway.toml",
        &format!(
            "state_dir = \"{}\"\n[card]\nmodem = \"{link}\"\n[gba]\nbsf = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"localhost:{}\"\npsk = \"gba\"\n",
            w.path("gw-state").display(),
            net.bsf_url,
            upstream.port()
        ),
    );
    let gw = start_with_config("bridge", &cfg, &format!("simbridge bridge ({quirks})"));
    let local = addr_in(&gw.first_line);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let msg = format!("through the strict {quirks} modem");
    client.send_to(msg.as_bytes(), local).expect("send");
    let mut buf = [0u8; 256];
    let (n, _) = client
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("{quirks}: no echo through the gateway: {e}"));
    assert_eq!(&buf[..n], msg.as_bytes(), "{quirks}");
    let took = started.elapsed();
    let stats = modem.strict_stats();
    let logs = gw.stderr_lines(Duration::from_millis(100)).join("\n");
    assert!(
        logs.contains("GBA bootstrap done"),
        "{quirks}: the gateway bootstrapped through the modem: {logs}"
    );
    assert_eq!(
        gw.terminate(),
        Some(0),
        "{quirks}: SIGTERM ends the gateway"
    );
    (stats, path_in(&logs), took)
}

#[test]
fn bootstrap_and_gateway_through_the_strict_modem_with_every_quirk_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = network(dir.path());
    for q in QUIRKS {
        let ((resets, mistakes), path, took) = one_profile(&net, q);
        println!("{q}: {path}; bootstrap + datagram through the gateway in {took:?}");
        assert_eq!(
            (resets, mistakes),
            (0, 0),
            "{q} ({path}): modem session resets, CLA mistakes"
        );
    }
}
