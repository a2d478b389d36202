//! Which real peers exist on this machine, and the rule for missing ones: fail when
//! SIMBRIDGE_REQUIRE_PEERS is non-empty (CI), otherwise skip with a printed reason.

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
pub fn ours() -> &'static str {
    env!("CARGO_BIN_EXE_simbridge")
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

/// True when `peer` can run. When it cannot: panics if SIMBRIDGE_REQUIRE_PEERS is non-empty,
/// else prints why the test is skipped and returns false (the caller returns early).
pub fn require_peer(peer: Peer) -> bool {
    let Some(reason) = missing_reason(peer) else {
        return true;
    };
    let required = std::env::var_os("SIMBRIDGE_REQUIRE_PEERS").is_some_and(|v| !v.is_empty());
    if required {
        panic!("required peer {peer:?} is missing: {reason}");
    }
    eprintln!(
        "SKIPPED: peer {peer:?} missing: {reason} (set SIMBRIDGE_REQUIRE_PEERS=1 to fail instead)"
    );
    false
}
