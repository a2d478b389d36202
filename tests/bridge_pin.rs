//! PIN safety of the gateway with real processes: a software USIM whose PIN1 is set, the gateway
//! (`simbridge bridge`) configured with a wrong PIN or facing a card with one try left. The card's
//! own retry counter (kept by the software USIM in `<profile>.state`) is the witness of how many
//! VERIFY commands carried a PIN.

mod common;
mod support;

use common::{Running, repo, simbridge, start_with_config, write_file};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A copy of the demo card with PIN1 = 1234.
fn pin_card(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("sim-profiles/demo.toml")).expect("profile");
    write_file(dir, "card.toml", &format!("{text}\npin = \"1234\"\n"))
}

/// PIN1 tries left as the card itself stores them (no state file yet: a fresh card's 3).
fn card_tries(profile: &Path) -> u64 {
    let mut p = profile.as_os_str().to_owned();
    p.push(".state");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return 3;
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v["pin_tries"].as_u64().expect("pin_tries")
}

fn gateway_config(dir: &Path, profile: &Path, pin: &str) -> PathBuf {
    // Nothing listens at the BSF or the upstream: the card is opened before either is needed.
    let bsf = common::free_udp_port();
    let upstream = common::free_udp_port();
    write_file(
        dir,
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\npin = \"{pin}\"\n[gba]\nbsf = \"http://127.0.0.1:{bsf}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:{upstream}\"\nnaf = \"localhost\"\npsk = \"gba\"\n",
            dir.join("gw").display(),
            profile.display()
        ),
    )
}

/// Waits (bounded) for the process to exit; its exit code.
fn exit_code(r: &mut Running, limit: Duration) -> Option<i32> {
    r.guard.wait_exit(limit).and_then(|st| st.code())
}

/// The gateway stops by itself over the PIN: the bound is generous; it stops at its first
/// bootstrap, well under a second on this card.
const STOPS_WITHIN: Duration = Duration::from_secs(30);

#[test]
fn wrong_pin_is_sent_once_and_the_gateway_stops_naming_the_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let card = pin_card(dir.path());
    let cfg = gateway_config(dir.path(), &card, "9999");
    let mut gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let code = exit_code(&mut gw, STOPS_WITHIN);
    let err = gw.stderr_lines(Duration::from_millis(200)).join("\n");
    assert_eq!(code, Some(78), "exit EX_CONFIG on a PIN problem:\n{err}");
    assert!(
        err.contains("PIN1") && err.contains("rejected the configured PIN1 (2 tries left)"),
        "the error names the PIN and the tries left:\n{err}"
    );
    assert!(err.contains("sim pin verify"), "says what to do:\n{err}");
    assert!(
        !err.contains("9999"),
        "the PIN itself is never printed:\n{err}"
    );
    // The process is gone, so nothing can spend another try: the count is final. One wrong
    // VERIFY, not a retry loop (which blocked the card in 3 s before).
    assert_eq!(card_tries(&card), 2, "one wrong VERIFY only");
}

#[test]
fn one_try_left_no_pin_is_sent_and_by_hand_verify_restores_the_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    let card = pin_card(dir.path());
    let card_arg = card.to_str().expect("path");
    for left in ["2 tries left", "1 try left"] {
        let o = simbridge(&[
            "sim",
            "pin",
            "verify",
            "--softsim",
            card_arg,
            "--pin",
            "0000",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("wrong PIN1: {left}")), "{err}");
    }
    assert_eq!(card_tries(&card), 1);
    // Even the right PIN is not sent by the gateway at one try left.
    let cfg = gateway_config(dir.path(), &card, "1234");
    let mut gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let code = exit_code(&mut gw, STOPS_WITHIN);
    let err = gw.stderr_lines(Duration::from_millis(200)).join("\n");
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("PIN1 has 1 try left"), "{err}");
    assert_eq!(card_tries(&card), 1, "no PIN was sent");
    // One-shot commands do not send it either: `sim info` shows the locked card and why.
    let o = simbridge(&["sim", "info", "--softsim", card_arg, "--pin", "1234"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("PIN1         required (1 try left)"), "{out}");
    assert!(out.contains("sim pin verify"), "{out}");
    let o = simbridge(&[
        "bootstrap",
        "--softsim",
        card_arg,
        "--pin",
        "1234",
        "--bsf",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("PIN1 has 1 try left"));
    assert_eq!(card_tries(&card), 1, "no PIN was sent");
    // The by-hand path sends it (with a warning) and the card has its tries back.
    let o = simbridge(&[
        "sim",
        "pin",
        "verify",
        "--softsim",
        card_arg,
        "--pin",
        "1234",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("a wrong PIN now blocks the card"), "{err}");
    assert_eq!(card_tries(&card), 3);
    let o = simbridge(&[
        "sim",
        "info",
        "--softsim",
        card_arg,
        "--pin",
        "1234",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn no_pin_configured_stops_the_gateway_without_spending_a_try() {
    let dir = tempfile::tempdir().expect("tempdir");
    let card = pin_card(dir.path());
    let cfg = gateway_config(dir.path(), &card, "1234");
    let text = std::fs::read_to_string(&cfg)
        .expect("cfg")
        .replace("pin = \"1234\"\n", "");
    std::fs::write(&cfg, text).expect("write");
    let mut gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let code = exit_code(&mut gw, STOPS_WITHIN);
    let err = gw.stderr_lines(Duration::from_millis(200)).join("\n");
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains("requires PIN1 (3 tries left) and no PIN is configured")
            && err.contains("SIMBRIDGE_PIN"),
        "{err}"
    );
    assert_eq!(card_tries(&card), 3);
}
