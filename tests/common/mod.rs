//! Shared helpers of the CLI, bridge and card tests: published vectors, profiles in temporary
//! directories, long-running simbridge processes and a BSF process. The generic pieces (the
//! binary, bounded runs, the process guard, the peer rule, ports) are `tests/support`'s,
//! re-exported here for the files that `use common::*`.
#![allow(dead_code, unused_imports)]

pub use crate::support::process::{line_reader, line_reader_with};
pub use crate::support::{
    KillOnDrop, bin, free_udp_port, have, json_out, peers_required, require, run_with_timeout,
    simbridge, udp_echo,
};
/// Not re-exported at this level: other support modules have their own `network` and
/// `gateway_config`, and tests glob-import both.
pub mod e2e;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// TS 35.208 test set (tests/vectors/milenage-ts35208.toml).
#[derive(Deserialize, Clone)]
pub struct Set {
    pub number: u32,
    pub k: String,
    pub rand: String,
    pub sqn: String,
    pub amf: String,
    pub op: String,
    pub opc: String,
    pub f1: String,
    pub f2: String,
    pub f3: String,
    pub f4: String,
    pub f5: String,
}

/// All six TS 35.208 sets.
pub fn ts35208() -> Vec<Set> {
    #[derive(Deserialize)]
    struct F {
        set: Vec<Set>,
    }
    let f: F =
        toml::from_str(include_str!("../vectors/milenage-ts35208.toml")).expect("vector file");
    f.set
}

/// End-to-end AKA case (tests/vectors/aka-cases.toml).
#[derive(Deserialize, Clone)]
pub struct AkaCase {
    pub source: String,
    pub k: String,
    pub op: Option<String>,
    pub opc: String,
    pub rand: String,
    pub sqn: String,
    pub amf: String,
    pub autn: String,
    pub res: String,
    pub ck: String,
    pub ik: String,
    pub kc: Option<String>,
    pub auts: Option<String>,
    pub auts_sqn_ms: Option<String>,
}

/// The published AKA cases.
pub fn aka_cases() -> Vec<AkaCase> {
    #[derive(Deserialize)]
    struct F {
        aka: Vec<AkaCase>,
    }
    let f: F = toml::from_str(include_str!("../vectors/aka-cases.toml")).expect("vector file");
    f.aka
}

/// Hex to a fixed array.
pub fn h<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).expect("hex").try_into().expect("length")
}

/// AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A from a set's published values alone.
pub fn set_autn(s: &Set) -> String {
    let sqn = h::<6>(&s.sqn);
    let ak = h::<6>(&s.f5);
    let conc: Vec<u8> = sqn.iter().zip(ak.iter()).map(|(a, b)| a ^ b).collect();
    format!("{}{}{}", hex::encode(conc), s.amf, s.f1)
}

/// Repository root.
pub fn repo() -> PathBuf {
    crate::support::peers::repo_root().to_path_buf()
}

/// Copies a shipped profile into `dir` (so SQN state is written there, not in the repo).
pub fn profile_copy(dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(repo().join("sim-profiles").join(name), &dst).expect("copy profile");
    dst
}

/// Writes `text` to `dir/name` (profiles, configs, key files).
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::write(&dst, text).expect("write profile");
    dst
}

/// A profile for a published AKA case whose card last accepted one SEQ below the case's SQN.
pub fn case_profile(dir: &Path, c: &AkaCase, name: &str) -> PathBuf {
    let sqn = u64::from_str_radix(&c.sqn, 16).expect("sqn") - 32;
    let key = match &c.op {
        Some(op) => format!("op = \"{op}\""),
        None => format!("opc = \"{}\"", c.opc),
    };
    let text = format!(
        "iccid = \"8988211000000000099\"\nimsi = \"001010000000099\"\nmnc_length = 2\nk = \"{}\"\n{key}\namf = \"{}\"\nsqn = \"{sqn:012x}\"\n",
        c.k, c.amf
    );
    write_file(dir, name, &text)
}

/// A long-running process whose first stdout line says it is ready; killed on drop.
pub struct Running {
    pub guard: KillOnDrop,
    pub first_line: String,
    pub lines: std::sync::mpsc::Receiver<String>,
    pub errs: std::sync::mpsc::Receiver<String>,
}

impl Running {
    /// Stderr lines printed so far (waits `settle` for late ones).
    pub fn stderr_lines(&self, settle: Duration) -> Vec<String> {
        std::thread::sleep(settle);
        self.errs.try_iter().collect()
    }

    /// Stderr lines up to and including the first that satisfies `pred`, waiting at most
    /// `timeout`; fails the test naming `what` (with the lines seen) when none does.
    pub fn wait_stderr(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.errs.recv_timeout(left) {
                Ok(l) => {
                    let hit = pred(&l);
                    seen.push(l);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => panic!("no log line for {what} within {timeout:?}; saw: {seen:#?}"),
            }
        }
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        self.guard.terminate(Duration::from_secs(10))
    }
}

/// Starts `simbridge <subcommand> --config <cfg>` (server or bridge) with info logging and waits
/// for its ready line.
pub fn start_with_config(subcommand: &str, cfg: &Path, what: &str) -> Running {
    spawn_ready(
        Command::new(bin())
            .arg(subcommand)
            .arg("--config")
            .arg(cfg)
            .env("RUST_LOG", "info"),
        what,
    )
}

/// Starts a command and waits (bounded) for its first stdout line.
pub fn spawn_ready(cmd: &mut Command, what: &str) -> Running {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let rx = line_reader(stdout);
    let (erx, _) = line_reader_with(stderr, |line| {
        eprintln!(
            "    [{}] {line}",
            std::thread::current().name().unwrap_or("child")
        )
    });
    let mut guard = KillOnDrop(Some(child));
    let first_line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            let status = guard.0.as_mut().and_then(|c| c.try_wait().ok().flatten());
            let err: Vec<String> = erx.try_iter().collect();
            panic!(
                "{what} did not become ready within 20 s (exit {status:?}); stderr:\n{}",
                err.join("\n")
            );
        }
    };
    Running {
        guard,
        first_line,
        lines: rx,
        errs: erx,
    }
}

/// The address at the end of a "... listening on ADDR" or "ADDR" line.
pub fn addr_in(line: &str) -> std::net::SocketAddr {
    let last = line.split_whitespace().last().unwrap_or(line);
    last.parse()
        .unwrap_or_else(|e| panic!("no address in {line:?}: {e}"))
}

/// `simbridge bsf` on 127.0.0.1:0 with the demo subscriber and a key-API token file (mode
/// 0600), all under `dir`; returns the process (its first line is the address) and the token file.
pub fn start_bsf(dir: &Path) -> (Running, PathBuf) {
    let token = write_file(dir, "token", "test-token\n");
    let (bsf, _) = start_demo_bsf(dir, &token);
    (bsf, token)
}

/// `simbridge bsf` on a free loopback port with the demo profile in `dir/profiles`, its state in
/// `dir/bsf` and the key API's bearer token in `token` (made 0600, as the BSF requires), the
/// token allowed keys for the NAF `localhost`; returns the process and its base URL.
pub fn start_demo_bsf(dir: &Path, token: &Path) -> (Running, String) {
    std::fs::create_dir_all(dir.join("profiles")).expect("dir");
    profile_copy(&dir.join("profiles"), "demo.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let bsf = spawn_ready(
        Command::new(bin())
            .args(["bsf", "--listen", "127.0.0.1:0", "--profiles"])
            .arg(dir.join("profiles"))
            .arg("--state")
            .arg(dir.join("bsf"))
            .arg("--token-file")
            .arg(token)
            .args(["--naf", "localhost"]),
        "simbridge bsf",
    );
    let url = format!("http://{}", addr_in(&bsf.first_line));
    (bsf, url)
}
