//! `simbridge psk` shows the key the bridge uses: by default the suite the bridge offers first for
//! GBA keys (ECDHE_PSK with AES-128-CCM-8) and its Ua id, said in the output; the revealed key
//! completes a handshake with our server keyed through the BSF's key API on that suite. The
//! documented environment overrides (SIMBRIDGE_BSF, SIMBRIDGE_STATE_DIR) reach `bootstrap` and
//! `psk`.

mod common;
mod support;

use common::{addr_in, bin, json_out, profile_copy, start_with_config, write_file};
use std::process::Command;
use std::time::Duration;

fn run(cmd: &mut Command) -> std::process::Output {
    common::run_with_timeout(cmd, Duration::from_secs(30))
}

#[test]
fn psk_defaults_to_the_bridges_suite_and_its_key_opens_a_session_with_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (bsf, token) = common::start_bsf(d);
    let bsf_url = format!("http://{}", addr_in(&bsf.first_line));
    let card = profile_copy(d, "demo.toml");
    let state = d.join("gw-state");

    // Environment only: no --bsf, no --state.
    let o = run(Command::new(bin())
        .args(["bootstrap", "--softsim"])
        .arg(&card)
        .arg("--json")
        .env("SIMBRIDGE_BSF", &bsf_url)
        .env("SIMBRIDGE_STATE_DIR", &state));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let btid = json_out(&o)["btid"].as_str().expect("btid").to_string();
    assert!(state.is_dir(), "SIMBRIDGE_STATE_DIR was used");

    let o = run(Command::new(bin())
        .args(["psk", "--naf", "localhost", "--reveal", "--softsim"])
        .arg(&card)
        .env("SIMBRIDGE_BSF", &bsf_url)
        .env("SIMBRIDGE_STATE_DIR", &state));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("NAF_Id: localhost + 010001d003")
            && text.contains(
                "Ua id for: TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 (the bridge's first choice"
            ),
        "{text}"
    );
    let o = run(Command::new(bin())
        .args([
            "psk",
            "--naf",
            "localhost",
            "--reveal",
            "--json",
            "--softsim",
        ])
        .arg(&card)
        .env("SIMBRIDGE_BSF", &bsf_url)
        .env("SIMBRIDGE_STATE_DIR", &state));
    let v = json_out(&o);
    assert_eq!(
        v["btid"],
        btid.as_str(),
        "the cached context, no new bootstrap"
    );
    assert_eq!(v["ua_id"], "010001d003");
    let identity = v["identity"].as_str().expect("identity").to_string();
    let key = v["psk"].as_str().expect("psk").to_string();

    // Our server, keyed by the BSF's key API, accepts exactly that key on that suite.
    let server_cfg = write_file(
        d,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:{}\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            common::free_udp_port(),
            token.display()
        ),
    );
    let server = start_with_config("server", &server_cfg, "simbridge server");
    let o = run(Command::new(bin())
        .args(["dtls", "client", "--connect"])
        .arg(addr_in(&server.first_line).to_string())
        .args(["--psk-identity", &identity, "--psk", &key])
        .args(["--suite", "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256"])
        .args(["--timeout-ms", "5000", "--json-events"])
        .stdin(std::process::Stdio::null()));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"connected\""),
        "the revealed key is the server's: {err}"
    );
    assert!(!err.contains(&key), "the key is not echoed in events");
}
