//! Running the simbridge binary from the GBA tests: a kill-on-drop guard, a bounded run that
//! returns (exit code, stdout, stderr), and JSON parsing with the text in the failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The simbridge binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_simbridge");

/// Kills the child on drop, so a failing test leaves no process behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the CLI with a 60 s deadline; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_env(args, &[])
}

/// [`run`] with extra environment variables (e.g. `RUST_LOG`).
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("simbridge {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses a command's stdout as JSON.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}
