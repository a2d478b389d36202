//! The GBA tests' simbridge processes: a BSF process for one subscriber and the device side
//! (`psk`, `bootstrap`) on a software card, run through `tests/support`'s CLI runner.

use crate::support::process::line_reader;
use crate::support::{KillOnDrop, bin, json, run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Writes a file readable by its owner only (token files must be 0600).
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// Starts `simbridge bsf` on loopback for one subscriber with key `k` and `--lifetime 3600`
/// (unless `extra` gives one), `extra` (credentials) added; its stderr goes to `<dir>/bsf.log` (at `RUST_LOG=info`).
/// Returns it with the address from its first stdout line, and the log path.
pub fn start_bsf(
    dir: &Path,
    k: &str,
    extra: &[&str],
) -> (KillOnDrop, std::net::SocketAddr, PathBuf) {
    let profiles = dir.join("bsf-profiles");
    std::fs::create_dir_all(&profiles).expect("mkdir");
    std::fs::write(
        profiles.join("demo.toml"),
        super::profile_text(k, "000000000000", true),
    )
    .expect("profile");
    let log = dir.join("bsf.log");
    let mut child = Command::new(bin())
        .args(["bsf", "--listen", "127.0.0.1:0"])
        .args(if extra.contains(&"--lifetime") {
            &[][..]
        } else {
            &["--lifetime", "3600"][..]
        })
        .arg("--profiles")
        .arg(&profiles)
        .arg("--state")
        .arg(dir.join("bsf-state"))
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn bsf");
    let stdout = child.stdout.take().expect("stdout");
    let guard = KillOnDrop::new(child);
    let rx = line_reader(stdout);
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "bsf prints its address; its log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
    let addr = line.trim().parse().unwrap_or_else(|_| {
        panic!(
            "not an address: {line:?}; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    (guard, addr, log)
}

/// The device side through the CLI: `simbridge psk --softsim` (bootstrapping on first use, the
/// context cached in `<dir>/device-state`) for `naf`; `extra` adds e.g. `--suite`. Returns the
/// PSK identity and the key (hex).
pub fn device_psk(
    dir: &Path,
    bsf: std::net::SocketAddr,
    naf: &str,
    extra: &[&str],
) -> (String, String) {
    device_psk_at(dir, &format!("http://{bsf}/"), naf, extra)
}

/// [`device_psk`] with the BSF's URL (e.g. `https://…`).
pub fn device_psk_at(dir: &Path, url: &str, naf: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["psk", "--naf", naf, "--reveal"];
    args.extend_from_slice(extra);
    // `psk` defaults to the bridge's first suite (ECDHE_PSK); the tests' `dtls client` offers
    // TLS_PSK_WITH_AES_128_CCM_8 unless told otherwise, whose NAF_Id (Ua id) gives another key.
    if !extra
        .iter()
        .any(|a| matches!(*a, "--suite" | "--tls13" | "--ua-id"))
    {
        args.extend_from_slice(&["--suite", "TLS_PSK_WITH_AES_128_CCM_8"]);
    }
    let v = device_run(dir, url, &args);
    (
        v["identity"].as_str().expect("identity").to_string(),
        v["psk"].as_str().expect("psk").to_string(),
    )
}

/// Runs a device command (`bootstrap`, `psk` …) with `--json` on the software card
/// `<dir>/device-card.toml` (written, GBA_ME, when missing) and the state `<dir>/device-state`;
/// it must succeed; returns its JSON.
pub fn device_run(dir: &Path, url: &str, args: &[&str]) -> serde_json::Value {
    let card = dir.join("device-card.toml");
    if !card.exists() {
        std::fs::write(&card, super::profile_text(super::K, "000000000000", false)).expect("card");
    }
    let state = dir.join("device-state");
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--json",
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        url,
        "--state",
        state.to_str().expect("utf8"),
    ]);
    let (code, out, err) = run(&all);
    assert_eq!(code, 0, "simbridge {args:?}: {err}");
    json(&out)
}
