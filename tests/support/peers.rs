//! Which real peers exist on this machine (peer stacks, built peer programs, tools, pcscd...),
//! and the one rule for a missing one ([`require`]): fail when peers are required (CI),
//! otherwise skip with a printed reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A peer stack the interop tests drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// `openssl s_server` / `s_client`.
    Openssl,
    /// `gnutls-serv` / `gnutls-cli` (Debian gnutls-bin).
    Gnutls,
    /// scripts/peers/mbedtls_dtls_psk.py on python-mbedtls in the venv.
    Mbedtls,
}

/// Path of our `simbridge` binary, built by cargo for this test.
pub use super::cli::bin as ours;

/// Whether a missing peer fails the test instead of skipping it: SIMBRIDGE_REQUIRE_PEERS is
/// non-empty, or (when it is unset) CI is set and not "false"/"0", as `scripts/test` sets it.
pub fn peers_required() -> bool {
    match std::env::var("SIMBRIDGE_REQUIRE_PEERS") {
        Ok(v) => !v.is_empty(),
        Err(_) => std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0")),
    }
}

/// True when `what` is `available`. When it is not: panics if peers are required (CI), else
/// prints why the test is skipped and returns false (the caller returns early).
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if peers_required() {
        panic!(
            "{what} is not available, and peers are required (SIMBRIDGE_REQUIRE_PEERS or CI): install it (scripts/test does)"
        );
    }
    eprintln!(
        "SKIPPED: {what} is not available (set SIMBRIDGE_REQUIRE_PEERS=1 to make this a failure)"
    );
    false
}

/// Whether a program is on $PATH.
pub fn have(program: &str) -> bool {
    which(program).is_some()
}

/// A tool on $PATH (openssl ...), or `None` under the [`require`] rule.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if require(&format!("{name} (not on PATH)"), found.is_some()) {
        found
    } else {
        None
    }
}

/// A built peer program in `.peers/` (scripts/setup.d/30-cid-peers.sh), or `None` under the
/// [`require`] rule.
pub fn peer_bin(name: &str) -> Option<PathBuf> {
    let p = repo_root().join(".peers").join(name);
    let what = format!("peer {} (run scripts/setup.d/30-cid-peers.sh)", p.display());
    require(&what, p.is_file()).then_some(p)
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv python: $SIMBRIDGE_VENV/bin/python, default <repo>/.venv/bin/python.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("SIMBRIDGE_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    venv.join("bin").join("python")
}

/// Full path of `bin` on $PATH, if any.
pub fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// Why `peer` cannot run here, or None when it can.
pub fn missing_reason(peer: Peer) -> Option<String> {
    match peer {
        Peer::Openssl => which("openssl")
            .is_none()
            .then(|| "openssl not on PATH (apt-get install openssl)".to_string()),
        Peer::Gnutls => ["gnutls-serv", "gnutls-cli"]
            .into_iter()
            .find(|b| which(b).is_none())
            .map(|b| format!("{b} not on PATH (apt-get install gnutls-bin)")),
        Peer::Mbedtls => {
            let py = venv_python();
            if !py.is_file() {
                return Some(format!(
                    "{} missing (python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt)",
                    py.display()
                ));
            }
            let ok = Command::new(&py)
                .args(["-c", "import mbedtls.tls"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            (!ok).then(|| format!("python-mbedtls not importable by {}", py.display()))
        }
    }
}

/// True when `peer` can run; otherwise the [`require`] rule (panic in CI, else skip).
pub fn require_peer(peer: Peer) -> bool {
    match missing_reason(peer) {
        None => true,
        Some(reason) => require(&format!("peer {peer:?} ({reason})"), false),
    }
}
