//! `simbridge sim pin verify|change|unblock` against the software USIM, as a person runs them:
//! each command is the real binary, the card's counters live in its state file between runs.

mod common;
mod support;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The shipped PIN card with a PUK added.
fn card_with_puk(dir: &Path) -> PathBuf {
    let p = profile_copy(dir, "demo-isim.toml");
    let mut text = std::fs::read_to_string(&p).expect("profile");
    text.push_str("puk = \"12345678\"\n");
    std::fs::write(&p, text).expect("write profile");
    p
}

fn pin(profile: &Path, args: &[&str]) -> Output {
    let mut all = vec!["sim", "pin"];
    all.extend_from_slice(&args[..1]);
    all.extend_from_slice(&["--softsim", profile.to_str().expect("utf8")]);
    all.extend_from_slice(&args[1..]);
    simbridge(&all)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// PIN1's tries as `sim info` shows them (no try spent).
fn tries(profile: &Path) -> serde_json::Value {
    let o = simbridge(&[
        "sim",
        "info",
        "--softsim",
        profile.to_str().expect("utf8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    json_out(&o)["pin1"]["tries_left"].clone()
}

#[test]
fn change_then_the_new_pin_verifies_and_the_old_one_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = card_with_puk(dir.path());
    let o = pin(&p, &["change", "--pin", "1234", "--new-pin", "246810"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("PIN1 changed"), "{}", out(&o));
    let o = pin(&p, &["verify", "--pin", "246810"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("PIN1 verified"), "{}", out(&o));
    let o = pin(&p, &["verify", "--pin", "1234"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("wrong PIN1: 2 tries left"), "{}", err(&o));
    // The gateway's path (sim info --pin) takes the new PIN too.
    let o = simbridge(&[
        "sim",
        "info",
        "--softsim",
        p.to_str().expect("utf8"),
        "--pin",
        "246810",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    // A change with a wrong current PIN costs a try and changes nothing.
    let o = pin(&p, &["change", "--pin", "0000", "--new-pin", "1111"]);
    assert!(err(&o).contains("wrong PIN1: 2 tries left"), "{}", err(&o));
    assert_eq!(tries(&p), 2);
}

#[test]
fn blocked_pin_is_unblocked_with_the_puk_and_a_wrong_puk_counts_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = card_with_puk(dir.path());
    for left in ["2 tries left", "1 try left"] {
        let o = pin(&p, &["verify", "--pin", "0000"]);
        assert!(
            err(&o).contains(&format!("wrong PIN1: {left}")),
            "{}",
            err(&o)
        );
    }
    let o = pin(&p, &["verify", "--pin", "0000"]);
    assert!(
        err(&o).contains("warning: PIN1 has 1 try left"),
        "the last try is announced: {}",
        err(&o)
    );
    assert!(err(&o).contains("PIN1 is blocked"), "{}", err(&o));
    assert_eq!(tries(&p), 0);
    // The right PIN no longer helps.
    let o = pin(&p, &["verify", "--pin", "1234"]);
    assert!(err(&o).contains("PIN1 is blocked"), "{}", err(&o));

    let o = pin(&p, &["unblock", "--puk", "87654321", "--new-pin", "4321"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("wrong PUK: 9 tries left; at 0 the card is permanently blocked"),
        "{}",
        err(&o)
    );
    let o = pin(&p, &["unblock", "--puk", "87654321", "--new-pin", "4321"]);
    assert!(err(&o).contains("wrong PUK: 8 tries left"), "{}", err(&o));
    let state = std::fs::read_to_string(format!("{}.state", p.display())).expect("state file");
    assert!(state.contains("\"puk_tries\": 8"), "{state}");

    let o = pin(&p, &["unblock", "--puk", "12345678", "--new-pin", "4321"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("PIN1 unblocked"), "{}", out(&o));
    assert_eq!(tries(&p), 3, "all PIN1 tries back");
    let o = pin(&p, &["verify", "--pin", "4321"]);
    assert!(o.status.success(), "{}", err(&o));
    let state = std::fs::read_to_string(format!("{}.state", p.display())).expect("state file");
    assert!(
        state.contains("\"puk_tries\": 10"),
        "a right PUK restores its tries: {state}"
    );
}

#[test]
fn ten_wrong_puks_block_the_card_for_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = card_with_puk(dir.path());
    for _ in 0..9 {
        pin(&p, &["unblock", "--puk", "00000000", "--new-pin", "4321"]);
    }
    let o = pin(&p, &["unblock", "--puk", "00000000", "--new-pin", "4321"]);
    assert!(err(&o).contains("wrong PUK: 0 tries left"), "{}", err(&o));
    let o = pin(&p, &["unblock", "--puk", "12345678", "--new-pin", "4321"]);
    assert!(
        err(&o).contains("the PUK is blocked: the card cannot be unblocked"),
        "{}",
        err(&o)
    );
    // PIN1 itself was never touched.
    let o = pin(&p, &["verify", "--pin", "1234"]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn a_card_without_puk_and_bad_forms_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "demo-isim.toml");
    let o = pin(&p, &["unblock", "--puk", "12345678", "--new-pin", "4321"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("the card refuses to unblock PIN1 (6984")
            && err(&o).contains("no usable PUK"),
        "{}",
        err(&o)
    );
    let o = pin(&p, &["change", "--pin", "1234", "--new-pin", "12"]);
    assert!(
        err(&o).contains("new PIN must be 4 to 8 decimal digits"),
        "{}",
        err(&o)
    );
    assert_eq!(tries(&p), 3, "a malformed PIN is never sent");
    let bad = write_file(
        dir.path(),
        "bad.toml",
        &std::fs::read_to_string(&p)
            .expect("profile")
            .replace("pin = \"1234\"", "puk = \"12345678\""),
    );
    let o = simbridge(&["sim", "info", "--softsim", bad.to_str().expect("utf8")]);
    assert!(err(&o).contains("key `puk`: needs `pin`"), "{}", err(&o));
}
