//! One run of `simbridge dtls client --version 1.3` with `--json-events`: its exit code, output
//! and events (the 0-RTT tests run it several times with one `--session-file`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::KillOnDrop;

/// What a run gave.
pub struct Run {
    /// Exit code (-1: killed by a signal).
    pub code: i32,
    /// Standard output (the records received).
    pub stdout: String,
    /// Standard error (log lines and JSON events).
    pub stderr: String,
    /// The JSON events of stderr.
    pub events: Vec<serde_json::Value>,
}

impl Run {
    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&serde_json::Value> {
        self.events.iter().find(|e| e["event"] == name)
    }
}

/// A run to `addr` with `identity` and `psk` (hex), `extra` arguments, `input` on stdin (closed
/// after 700 ms, time for the echoes to come back).
pub fn run13(addr: &str, identity: &str, psk: &str, extra: &[&str], input: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_simbridge"))
        .args(["dtls", "client", "--connect", addr, "--version", "1.3"])
        .args(["--psk-identity", identity, "--psk", psk, "--json-events"])
        .args(["--timeout-ms", "5000"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("input");
    std::thread::sleep(Duration::from_millis(700));
    drop(stdin);
    let mut guard = KillOnDrop::new(child);
    let status = guard
        .wait_exit(Duration::from_secs(15))
        .expect("the client exits");
    // the records received, as bytes (binary CoAP among them), shown lossily
    let mut out = Vec::new();
    let mut stderr = String::new();
    if let Some(o) = guard.child().stdout.as_mut() {
        std::io::Read::read_to_end(o, &mut out).expect("stdout");
    }
    let stdout = String::from_utf8_lossy(&out).into_owned();
    if let Some(e) = guard.child().stderr.as_mut() {
        std::io::Read::read_to_string(e, &mut stderr).expect("stderr");
    }
    let events = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        events,
    }
}
