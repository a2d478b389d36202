//! The software USIM through a real pcscd and the vsmartcard vpcd reader: `sim info --reader` and
//! `sim aka --reader` give what `--softsim` gives; a card removed mid-command is a clear error.
//! Needs pcscd running with vsmartcard-vpcd (scripts/test starts it).
#![cfg(feature = "pcsc")]

mod common;
mod support;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::vpcd::{
    READER, ReaderLock, insert_untouched, pcscd_ready, serve_on, wait_reader_empty,
};

/// vpcd's second reader (port 35964), kept for the removal test: a card yanked mid-command can
/// leave pcscd's view of that reader stale for a while, which must not disturb the other tests.
const REMOVAL_READER: &str = "Virtual PCD 00 01";
const REMOVAL_VPCD: &str = "127.0.0.1:35964";

#[test]
fn info_and_aka_through_pcscd_equal_softsim() {
    if !pcscd_ready() {
        return;
    }
    let _lock = ReaderLock::take();
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    for s in ts35208().iter().take(3) {
        let name = format!("ts35208-set{}.toml", s.number);
        let in_reader = profile_copy(dir.path(), &name);
        let in_process = profile_copy(dir_b.path(), &name);
        let _card = serve_on(READER, &in_reader, &[]);
        let soft = simbridge(&[
            "sim",
            "info",
            "--softsim",
            in_process.to_str().expect("utf8"),
            "--json",
        ]);
        let real = simbridge(&["sim", "info", "--reader", READER, "--json"]);
        assert!(
            real.status.success(),
            "{}",
            String::from_utf8_lossy(&real.stderr)
        );
        assert_eq!(
            json_out(&real),
            json_out(&soft),
            "sim info differs between pcscd and in-process"
        );
        let autn = set_autn(s);
        let aka = |src: &[&str]| {
            let mut args = vec!["sim", "aka"];
            args.extend_from_slice(src);
            args.extend_from_slice(&["--rand", &s.rand, "--autn", &autn, "--json"]);
            simbridge(&args)
        };
        let soft = aka(&["--softsim", in_process.to_str().expect("utf8")]);
        let real = aka(&["--reader", READER]);
        assert!(
            real.status.success(),
            "{}",
            String::from_utf8_lossy(&real.stderr)
        );
        assert_eq!(json_out(&real), json_out(&soft));
        assert_eq!(json_out(&real)["res"], s.f2.as_str());
        // The replay is refused the same way through the reader (exit 2, AUTS).
        let replay = aka(&["--reader", READER]);
        assert_eq!(replay.status.code(), Some(2));
        assert_eq!(
            json_out(&replay),
            json_out(&aka(&["--softsim", in_process.to_str().expect("utf8")]))
        );
    }
    // Without a name, the only reader that holds a card is chosen.
    let p = profile_copy(dir.path(), "demo.toml");
    let _card = serve_on(READER, &p, &[]);
    let o = simbridge(&["sim", "info", "--reader", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json_out(&o)["imsi"], "001010123456789");
}

#[test]
fn card_removed_mid_command_is_a_clear_error() {
    if !pcscd_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "demo.toml");
    // A fresh card that disappears on its 4th command APDU (in the middle of opening the USIM).
    let _card = insert_untouched(
        REMOVAL_READER,
        &p,
        &["--vpcd", REMOVAL_VPCD, "--drop-after", "4", "--once"],
    );
    let start = Instant::now();
    let o = simbridge(&["sim", "info", "--reader", REMOVAL_READER]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        err.contains("card removed")
            || err.contains("no reader holds a card")
            || err.contains("no card"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "removal took {:?}",
        start.elapsed()
    );
    drop(_card);
    // The card can be inserted again and used (pcscd needs a moment to register the removal).
    let start = Instant::now();
    loop {
        wait_reader_empty(REMOVAL_READER);
        std::thread::sleep(Duration::from_secs(1));
        let _again = KillOnDrop(Some(
            Command::new(bin())
                .args(["softsim", "serve", "--vpcd", REMOVAL_VPCD, "--profile"])
                .arg(&p)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn softsim serve"),
        ));
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if simbridge(&["sim", "info", "--reader", REMOVAL_READER])
                .status
                .success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the reader never worked again after the removal"
        );
    }
}

#[test]
fn aka_wall_time_through_pcscd() {
    if !pcscd_ready() {
        return;
    }
    let _lock = ReaderLock::take();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "demo.toml");
    let keys = simbridge_lab::softsim::Profile::load(&p)
        .expect("profile")
        .keys;
    let _card = serve_on(READER, &p, &[]);
    let chan = simbridge::card::pcsc::PcscChannel::connect(Some(READER)).expect("connect");
    let mut u = simbridge::uicc::Uicc::open(chan, None).expect("open");
    let mut times = Vec::new();
    for i in 1..=31u64 {
        let av = keys.generate_vector(&[i as u8; 16], i << 5, &[0x80, 0]);
        let before = u.apdu_count();
        let t = Instant::now();
        let r = u.authenticate(&av.rand, &av.autn).expect("authenticate");
        times.push(t.elapsed());
        assert!(matches!(r, simbridge::uicc::AuthResult::Success { .. }));
        assert_eq!(u.apdu_count() - before, 2, "AUTHENTICATE + GET RESPONSE");
    }
    times.sort();
    // Reported, not asserted: a figure for the notes (the suite has no timing assertions).
    println!(
        "AKA through pcscd+vpcd: median {:?}, min {:?}, max {:?} over {} runs (2 APDUs each)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
}
