//! `simbridge sim pin change|verify|unblock --reader` through a real pcscd: the software USIM in
//! vpcd's reader takes CHANGE REFERENCE DATA and RESET RETRY COUNTER as over `--softsim`.
//! Needs pcscd with vpcd; holds support::vpcd's machine-wide reader lock.
#![cfg(feature = "pcsc")]

mod gba_support;
mod support;

use support::run;
use support::vpcd::{READER, ReaderLock, pcscd_ready, serve};

fn pin(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["sim", "pin", args[0], "--reader", READER];
    all.extend_from_slice(&args[1..]);
    run(&all)
}

#[test]
fn change_block_and_unblock_through_pcscd() {
    if !pcscd_ready() {
        return;
    }
    let _lock = ReaderLock::take();
    let dir = tempfile::tempdir().expect("tempdir");
    let card = dir.path().join("card.toml");
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sim-profiles/demo-isim.toml"),
    )
    .expect("profile");
    std::fs::write(&card, format!("{shipped}puk = \"12345678\"\n")).expect("card");
    let _card = serve(&card);

    let (code, out, err) = pin(&["change", "--pin", "1234", "--new-pin", "97531"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("PIN1 changed"), "{out}");
    let (code, _, err) = pin(&["verify", "--pin", "97531"]);
    assert_eq!(code, 0, "the new PIN verifies: {err}");
    for left in ["2 tries left", "1 try left"] {
        let (_, _, err) = pin(&["verify", "--pin", "1234"]);
        assert!(err.contains(&format!("wrong PIN1: {left}")), "{err}");
    }
    let (_, _, err) = pin(&["verify", "--pin", "1234"]);
    assert!(err.contains("PIN1 is blocked"), "{err}");

    let (code, _, err) = pin(&["unblock", "--puk", "11111111", "--new-pin", "8642"]);
    assert_eq!(code, 1);
    assert!(err.contains("wrong PUK: 9 tries left"), "{err}");
    let (code, out, err) = pin(&["unblock", "--puk", "12345678", "--new-pin", "8642"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("PIN1 unblocked"), "{out}");
    let (code, _, err) = pin(&["verify", "--pin", "8642"]);
    assert_eq!(code, 0, "{err}");
    let state = std::fs::read_to_string(dir.path().join("card.toml.state")).expect("state");
    assert!(
        state.contains("\"puk_tries\": 10") && state.contains("\"pin_tries\": 3"),
        "{state}"
    );
}
