//! The vpcd readers of pcscd for tests. vpcd's first reader (port 35963, "Virtual PCD 00 00") is
//! shared by every PC/SC test, also across worktrees and concurrent runs on one machine, so a
//! test holds a machine-wide lock ([`ReaderLock`], a directory created atomically) while it uses
//! it; [`serve`] puts a software USIM into it. The second reader (port 35964, "Virtual PCD 00
//! 01") is for tests that yank the card.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::cli::{bin, simbridge};
use super::peers::require;
use super::process::{KillOnDrop, line_reader};

/// The shared first reader.
pub const READER: &str = "Virtual PCD 00 00";
const LOCK: &str = "/tmp/simbridge-vpcd-35963.lock";

/// The machine-wide lock on [`READER`]; a lock older than 5 minutes is taken as left by a dead
/// run.
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

/// Whether pcscd with the vpcd reader runs, under the [`require`] rule (a panic in CI).
pub fn pcscd_ready() -> bool {
    require(
        "pcscd with the vsmartcard vpcd reader (/run/pcscd/pcscd.comm, /usr/lib/pcsc/drivers/serial/libifdvpcd.so; scripts/test starts it)",
        Path::new("/run/pcscd/pcscd.comm").exists()
            && Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists(),
    )
}

/// `softsim serve` of `profile` on [`READER`], once the card answers `sim info` there.
pub fn serve(profile: &Path) -> KillOnDrop {
    serve_on(READER, profile, &[])
}

/// `softsim serve --profile PROFILE EXTRA` (`--vpcd HOST:PORT` picks the reader), after pcscd
/// shows `reader` empty (with the `pcsc` feature), once the card answers `sim info` there.
pub fn serve_on(reader: &str, profile: &Path, extra: &[&str]) -> KillOnDrop {
    #[cfg(feature = "pcsc")]
    wait_reader_empty(reader);
    let guard = insert(profile, extra);
    wait_card_answers(reader);
    guard
}

/// `softsim serve --profile PROFILE EXTRA` (`--vpcd` picks another reader), once it says it
/// is inserted into vpcd.
fn insert(profile: &Path, extra: &[&str]) -> KillOnDrop {
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
    let guard = KillOnDrop::new(child);
    let rx = line_reader(stdout);
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("softsim serve did not attach to vpcd within 10 s");
    assert!(line.starts_with("inserted into vpcd"), "{line}");
    guard
}

/// Waits until `sim info --reader READER` succeeds (at most 15 s).
fn wait_card_answers(reader: &str) {
    let start = Instant::now();
    loop {
        if simbridge(&["sim", "info", "--reader", reader, "--json"])
            .status
            .success()
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "pcscd never showed the card in {reader}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Like [`serve_on`], but the card is only awaited as present in `reader`: no APDU is sent
/// to it (a card set to drop out after a few commands stays untouched).
#[cfg(feature = "pcsc")]
pub fn insert_untouched(reader: &str, profile: &Path, extra: &[&str]) -> KillOnDrop {
    wait_reader_empty(reader);
    let guard = insert(profile, extra);
    wait_reader(reader, true);
    guard
}

/// Waits until pcscd reports `reader` without a card (at most 10 s).
#[cfg(feature = "pcsc")]
pub fn wait_reader_empty(reader: &str) {
    wait_reader(reader, false)
}

/// Waits until pcscd reports `reader` with (`present`) or without a card, without sending it
/// any APDU.
#[cfg(feature = "pcsc")]
fn wait_reader(reader: &str, present: bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let readers = simbridge::card::pcsc::PcscChannel::readers().expect("list readers");
        if readers
            .iter()
            .any(|(name, p)| name == reader && *p == present)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pcscd did not report {reader} with present={present} within 10 s");
}
