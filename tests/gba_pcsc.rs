//! GBA through real PC/SC: `simbridge softsim serve` attaches the software USIM to pcscd via the
//! vsmartcard vpcd reader, and `simbridge bootstrap|psk --reader` bootstraps against our BSF with
//! it. The PSK must equal the key API's. Needs pcscd with vpcd (scripts/test starts it).
//!
//! vpcd has one reader on port 35963 ("Virtual PCD 00 00") that every PC/SC test shares, also
//! across worktrees and concurrent runs on one machine, so this test holds a machine-wide lock
//! (`/tmp/simbridge-vpcd-35963.lock`, a directory created atomically) while it uses the reader.
#![cfg(feature = "pcsc")]

mod gba_support;

use gba_support::cli::{json, run, Guard, BIN};
use gba_support::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const READER: &str = "Virtual PCD 00 00";
const LOCK: &str = "/tmp/simbridge-vpcd-35963.lock";

/// The machine-wide reader lock; a lock older than 5 minutes is taken as left by a dead run.
struct ReaderLock(PathBuf);

impl ReaderLock {
    fn take() -> Self {
        let path = PathBuf::from(LOCK);
        let start = Instant::now();
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return Self(path),
                Err(_) => {
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .unwrap_or_default();
                    if age > Duration::from_secs(300) {
                        let _ = std::fs::remove_dir(&path);
                        continue;
                    }
                    assert!(
                        start.elapsed() < Duration::from_secs(240),
                        "vpcd reader lock {LOCK} held for 4 minutes"
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

impl Drop for ReaderLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn pcscd_ready() -> bool {
    let ok = Path::new("/run/pcscd/pcscd.comm").exists()
        && Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists();
    if !ok {
        if std::env::var_os("SIMBRIDGE_REQUIRE_PEERS").is_some_and(|v| !v.is_empty()) {
            panic!("pcscd with vpcd is not available and SIMBRIDGE_REQUIRE_PEERS is set (scripts/test starts it)");
        }
        eprintln!("SKIPPED: pcscd with the vpcd reader is not available");
    }
    ok
}

/// `softsim serve` on vpcd's first reader, once pcscd shows the card.
fn serve(profile: &Path) -> Guard {
    let mut child = Command::new(BIN)
        .args(["softsim", "serve", "--profile"])
        .arg(profile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn softsim serve");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(child);
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
        .expect("softsim serve attaches to vpcd");
    assert!(line.starts_with("inserted into vpcd"), "{line}");
    let start = Instant::now();
    loop {
        let (code, _, _) = run(&["sim", "info", "--reader", READER, "--json"]);
        if code == 0 {
            return guard;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "pcscd never showed the card"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn bootstrap_and_psk_through_pcscd_match_the_key_api() {
    if !pcscd_ready() {
        return;
    }
    let _lock = ReaderLock::take();
    let bsf = TestBsf::start(K, "000000000000");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = bsf.url();
    for (gba_u, mode) in [(false, "GBA_ME"), (true, "GBA_U")] {
        let card = dir.path().join(format!("card-{mode}.toml"));
        std::fs::write(&card, profile_text(K, "000000000000", gba_u)).expect("card");
        // A fresh card accepts the SEQ the HSS has reached (within Δ).
        let state = dir.path().join(format!("state-{mode}"));
        let _card = serve(&card);
        let common = [
            "--reader",
            READER,
            "--bsf",
            &url,
            "--state",
            state.to_str().expect("utf8"),
        ];
        let (code, out, err) = run(&[&["bootstrap", "--json"][..], &common].concat());
        assert_eq!(code, 0, "{mode}: {err}");
        let b = json(&out);
        assert_eq!(b["mode"], mode);
        let btid = b["btid"].as_str().expect("btid").to_string();
        let (code, out, err) = run(&[
            &["psk", "--naf", "naf.example.com", "--reveal", "--json"][..],
            &common,
        ]
        .concat());
        assert_eq!(code, 0, "{mode}: {err}");
        let p = json(&out);
        // The card keeps its GBA_U Ks while `softsim serve` runs, so the cached context is reused.
        assert_eq!(
            p["identity"],
            format!("3GPP-bootstrapping.{btid}"),
            "{mode}"
        );
        let (status, api) = key_api(
            bsf.addr(),
            Some(TOKEN),
            // `psk` answers for the bridge's first suite, ECDHE_PSK AES-128-CCM-8 (Ua id ..d003).
            &key_request(&btid, "naf.example.com", "010001d003"),
        );
        assert_eq!(status, 200, "{api}");
        assert_eq!(api["meKeyMaterial"], p["psk"], "{mode}");
    }
}
