//! The software USIM through a real pcscd and the vsmartcard vpcd reader: `sim info --reader` and
//! `sim aka --reader` give what `--softsim` gives; a card removed mid-command is a clear error.
//! Needs pcscd running with vsmartcard-vpcd (scripts/test starts it).
#![cfg(feature = "pcsc")]

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// vpcd's first reader (port 35963): tests in this file take turns on it.
static READER: Mutex<()> = Mutex::new(());
const READER_NAME: &str = "Virtual PCD 00 00";
/// vpcd's second reader (port 35964), kept for the removal test: a card yanked mid-command can
/// leave pcscd's view of that reader stale for a while, which must not disturb the other tests.
const REMOVAL_READER: &str = "Virtual PCD 00 01";
const REMOVAL_VPCD: &str = "127.0.0.1:35964";

fn pcscd_ready() -> bool {
    require(
        "pcscd with the vsmartcard vpcd reader (/run/pcscd/pcscd.comm, /usr/lib/pcsc/drivers/serial/libifdvpcd.so)",
        Path::new("/run/pcscd/pcscd.comm").exists() && Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists(),
    )
}

/// Starts `softsim serve` and waits until pcscd sees the card.
fn serve(profile: &Path, extra: &[&str]) -> KillOnDrop {
    serve_on(READER_NAME, profile, extra)
}

fn serve_on(reader: &str, profile: &Path, extra: &[&str]) -> KillOnDrop {
    wait_reader_empty(reader);
    let mut child = Command::new(bin())
        .args(["softsim", "serve", "--profile"])
        .arg(profile)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn softsim serve");
    let stdout = child.stdout.take().expect("stdout");
    let guard = KillOnDrop(Some(child));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("softsim serve did not attach to vpcd within 10 s");
    assert!(line.starts_with("inserted into vpcd"), "{line}");
    if extra.is_empty() {
        wait_for_card();
    } else {
        wait_card_present(reader);
    }
    guard
}

/// Waits until pcscd reports a card in the reader, without sending it any APDU.
fn wait_card_present(reader: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let readers = simbridge::card::pcsc::PcscChannel::readers().expect("list readers");
        if readers
            .iter()
            .any(|(name, present)| name == reader && *present)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pcscd did not see the card within 10 s");
}

fn wait_for_card() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let o = simbridge(&["sim", "info", "--reader", READER_NAME, "--json"]);
        if o.status.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pcscd did not report the virtual card within 10 s");
}

#[test]
fn info_and_aka_through_pcscd_equal_softsim() {
    if !pcscd_ready() {
        return;
    }
    let _lock = READER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    for s in ts35208().iter().take(3) {
        let name = format!("ts35208-set{}.toml", s.number);
        let in_reader = profile_copy(dir.path(), &name);
        let in_process = profile_copy(dir_b.path(), &name);
        let _card = serve(&in_reader, &[]);
        let soft = simbridge(&[
            "sim",
            "info",
            "--softsim",
            in_process.to_str().expect("utf8"),
            "--json",
        ]);
        let real = simbridge(&["sim", "info", "--reader", READER_NAME, "--json"]);
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
        let real = aka(&["--reader", READER_NAME]);
        assert!(
            real.status.success(),
            "{}",
            String::from_utf8_lossy(&real.stderr)
        );
        assert_eq!(json_out(&real), json_out(&soft));
        assert_eq!(json_out(&real)["res"], s.f2.as_str());
        // The replay is refused the same way through the reader (exit 2, AUTS).
        let replay = aka(&["--reader", READER_NAME]);
        assert_eq!(replay.status.code(), Some(2));
        assert_eq!(
            json_out(&replay),
            json_out(&aka(&["--softsim", in_process.to_str().expect("utf8")]))
        );
    }
    // Without a name, the only reader that holds a card is chosen.
    let p = profile_copy(dir.path(), "demo.toml");
    let _card = serve(&p, &[]);
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
    let _card = serve_on(
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

fn wait_reader_empty(reader: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let readers = simbridge::card::pcsc::PcscChannel::readers().expect("list readers");
        if readers
            .iter()
            .any(|(name, present)| name == reader && !present)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pcscd still reports a card in {reader} after 10 s");
}

#[test]
fn aka_wall_time_through_pcscd() {
    if !pcscd_ready() {
        return;
    }
    let _lock = READER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let p = profile_copy(dir.path(), "demo.toml");
    let keys = simbridge_lab::softsim::Profile::load(&p)
        .expect("profile")
        .keys;
    let _card = serve(&p, &[]);
    let chan = simbridge::card::pcsc::PcscChannel::connect(Some(READER_NAME)).expect("connect");
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
