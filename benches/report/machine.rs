//! The machine and peer versions a run was taken on.

use simbridge_energy::perf::Machine;
use std::process::Command;

fn out(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn grep_define(path: &std::path::Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with("#define") && l.split_whitespace().nth(1) == Some(name))
        .and_then(|l| l.split('"').nth(1))
        .map(String::from)
}

/// Describes this machine: `lscpu` model, logical CPUs, RAM, OS, peer versions, date, commit.
pub fn describe(root: &std::path::Path) -> Machine {
    let cpu = out("lscpu", &[])
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Model name:"))
                .map(|l| l.trim_start_matches("Model name:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let ram_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let os_name = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("PRETTY_NAME=")).map(|l| {
                l.trim_start_matches("PRETTY_NAME=")
                    .trim_matches('"')
                    .to_string()
            })
        })
        .unwrap_or_else(|| "unknown OS".into());
    let kernel = out("uname", &["-r"]).unwrap_or_default();
    let mut peers = Vec::new();
    if let Some(v) = out("openssl", &["version"]) {
        peers.push(v);
    }
    if let Some(v) =
        out("gnutls-cli", &["--version"]).and_then(|t| t.lines().next().map(String::from))
    {
        peers.push(v.replace("gnutls-cli", "GnuTLS"));
    }
    let py = crate::support::venv_python();
    if let Some(v) = py
        .to_str()
        .and_then(|p| out(p, &["-c", "import mbedtls.version as v; print(v.version)"]))
    {
        peers.push(format!("{v} (python-mbedtls)"));
    }
    let peers_dir = root.join(".peers");
    if let Some(v) = grep_define(
        &peers_dir.join("mbedtls/include/mbedtls/build_info.h"),
        "MBEDTLS_VERSION_STRING_FULL",
    ) {
        peers.push(v);
    }
    if let Some(v) = grep_define(
        &peers_dir.join("wolfssl/wolfssl/version.h"),
        "LIBWOLFSSL_VERSION_STRING",
    ) {
        peers.push(format!("wolfSSL {v}"));
    }
    let date = out("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let root_s = root.to_string_lossy();
    let mut commit =
        out("git", &["-C", &root_s, "rev-parse", "--short", "HEAD"]).unwrap_or_default();
    if out(
        "git",
        &[
            "-C",
            &root_s,
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )
    .is_some_and(|s| !s.is_empty())
    {
        commit.push_str(" (with local changes)");
    }
    Machine {
        cpu,
        cores,
        ram_gib,
        os: format!("{os_name}, Linux {kernel}"),
        peers,
        date,
        commit,
    }
}
