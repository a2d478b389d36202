//! Running the `simbridge` binary under test to completion: a bounded run (a hung command is
//! killed and the test fails with its stderr, never hangs) and the ways tests read its output.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::process::KillOnDrop;

/// Path of the `simbridge` binary cargo built for this test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_simbridge")
}

/// Runs a command to completion (stdin empty, stdout/stderr captured), or kills it after
/// `limit` and panics with what it printed to stderr. Both pipes are drained while it runs, so
/// an output larger than a pipe buffer (64 KiB) cannot stall it.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut guard = KillOnDrop::new(child);
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        guard
            .child()
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    );
    let err = drain(
        guard
            .child()
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match guard.child().try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = guard.child().kill();
                let _ = guard.child().wait();
                // A grandchild may still hold the pipe: wait for the reader a little only.
                let t = Instant::now();
                while !err.is_finished() && t.elapsed() < Duration::from_secs(1) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let err = if err.is_finished() {
                    String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned()
                } else {
                    "(still open)".into()
                };
                panic!("command {cmd:?} did not finish within {limit:?}; stderr:\n{err}");
            }
        }
    };
    guard.0.take();
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `simbridge ARGS` with a 30 s limit.
pub fn simbridge(args: &[&str]) -> Output {
    run_with_timeout(Command::new(bin()).args(args), Duration::from_secs(30))
}

/// `simbridge ARGS` with extra environment variables and a limit.
pub fn simbridge_env(args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Output {
    run_with_timeout(
        Command::new(bin()).args(args).envs(envs.iter().copied()),
        limit,
    )
}

/// `simbridge ARGS` with a 60 s limit: (exit code, or -1 when killed by a signal; stdout; stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_env(args, &[])
}

/// [`run`] with extra environment variables (e.g. `RUST_LOG`).
pub fn run_env(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = simbridge_env(args, envs, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// stdout as a trimmed string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// stderr as a trimmed string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

/// Parses text (a command's stdout) as JSON; the text is in the failure.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Parses a run's stdout as JSON; stdout and stderr are in the failure.
pub fn json_out(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}
