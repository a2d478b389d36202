//! Shared helpers of the pty modem tests: a virtual modem child process behind the support
//! kill guard, fresh copies of the project's SIM profiles. CLI runs with a timeout are
//! `tests/support`'s, re-exported for the files that `use modem_support::*`.
#![allow(dead_code, unused_imports)]

use crate::support::KillOnDrop;
pub use crate::support::cli::{bin, simbridge_env, stderr, stdout};
use crate::support::process::line_reader;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// TS 35.208 test set 1 (copied from tests/vectors/milenage-ts35208.toml): RAND and
/// AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A for SQN ff9bb4d0b607, and the expected outputs.
pub const SET1_RAND: &str = "23553cbe9637a89d218ae64dae47bf35";
/// AUTN of test set 1: (ff9bb4d0b607 ⊕ aa689c648370) ‖ b9b9 ‖ 4a9ffac354dfafb3.
pub const SET1_AUTN: &str = "55f328b43577b9b94a9ffac354dfafb3";
/// RES (f2) of test set 1.
pub const SET1_RES: &str = "a54211d5e3ba50bf";
/// CK (f3) of test set 1.
pub const SET1_CK: &str = "b40ba9a3c58b2a05bbf0d987b21bf8cb";
/// IK (f4) of test set 1.
pub const SET1_IK: &str = "f769bcd751044604127672711c6d3441";

/// Every row of the quirks table the virtual modem can imitate.
pub const QUIRKS: &[&str] = &[
    "generic",
    "quectel",
    "fibocom",
    "sierra",
    "dw5821e",
    "huawei-ms2372",
    "wavecom",
    "nordic",
];

/// A temporary directory with a fresh copy of a profile from sim-profiles/.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Copies sim-profiles/`name` to `<dir>/<as_name>` (a fresh card: its SQN state starts over).
    pub fn profile(&self, name: &str, as_name: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sim-profiles")
            .join(name);
        let dst = self.dir.path().join(as_name);
        std::fs::copy(&src, &dst).expect("copy profile");
        dst
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A running `simbridge softsim modem`, killed on drop.
pub struct VirtualModem {
    _child: KillOnDrop,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// The device path printed first.
    pub device: String,
    /// The stable symlink.
    pub link: PathBuf,
}

impl VirtualModem {
    /// Starts the modem on `profile` with `--quirks quirks`, a link in `work`, lab controls on stdin.
    pub fn start(work: &Workdir, profile: &Path, quirks: &str, extra: &[&str]) -> Self {
        let link = work.path(&format!("tty-{quirks}-{}", std::process::id()));
        let mut child = Command::new(bin())
            .args([
                "softsim",
                "modem",
                "--control-stdin",
                "--quirks",
                quirks,
                "--profile",
            ])
            .arg(profile)
            .arg("--link")
            .arg(&link)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the virtual modem");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let rx = line_reader(stdout);
        let mut m = Self {
            _child: KillOnDrop::new(child),
            stdin,
            lines: rx,
            device: String::new(),
            link,
        };
        m.device = m
            .next_line(Duration::from_secs(10))
            .expect("the modem prints its device path first");
        assert!(
            m.device.starts_with("/dev/"),
            "first line is a device path: {}",
            m.device
        );
        m
    }

    /// The next stdout line (a new device path after a reboot).
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Sends a lab control line (`reboot 300`, `stall`, `resume`, `garbage`) and waits until the
    /// modem says it took effect (for a reboot: the old device is gone).
    pub fn control(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("control");
        let name = line.split_whitespace().next().unwrap_or_default();
        let ack = self.next_line(Duration::from_secs(10));
        assert_eq!(
            ack,
            Some(format!("control: {name}")),
            "the modem acknowledges {line:?}"
        );
    }

    /// The strict-mode counters (`stats` control): (modem session resets, CLA mistakes).
    pub fn strict_stats(&mut self) -> (u64, u64) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "stats")
            .and_then(|()| stdin.flush())
            .expect("control");
        let line = self.next_line(Duration::from_secs(10)).expect("stats line");
        let ack = self.next_line(Duration::from_secs(10));
        assert_eq!(ack.as_deref(), Some("control: stats"), "{line}");
        let num = |key: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{key} in {line:?}"))
        };
        (num("resets="), num("cla_mistakes="))
    }

    /// The link path as a string, for `--modem`.
    pub fn link_str(&self) -> String {
        self.link.display().to_string()
    }
}
