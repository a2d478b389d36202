//! The vpcd reader of pcscd for tests: vpcd has one reader on port 35963 ("Virtual PCD 00 00")
//! that every PC/SC test shares, also across worktrees and concurrent runs on one machine, so a
//! test holds a machine-wide lock (`/tmp/simbridge-vpcd-35963.lock`, a directory created
//! atomically) while it uses the reader; [`serve`] puts a software USIM into it.

use super::cli::{run, Guard, BIN};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The shared reader.
pub const READER: &str = "Virtual PCD 00 00";
const LOCK: &str = "/tmp/simbridge-vpcd-35963.lock";

/// The machine-wide reader lock; a lock older than 5 minutes is taken as left by a dead run.
pub struct ReaderLock(PathBuf);

impl ReaderLock {
    /// Waits for the lock (at most 4 minutes) and takes it.
    pub fn take() -> Self {
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

/// Whether pcscd with vpcd runs (with SIMBRIDGE_REQUIRE_PEERS set, a panic if not).
pub fn pcscd_ready() -> bool {
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
pub fn serve(profile: &Path) -> Guard {
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
