//! wolfSSL's DTLS 1.3 test peer (tests/peers/wolf13_peer.c) started as a server: it binds a
//! free loopback port and says which before it waits for its client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// A running `wolf13_peer server`.
pub struct Wolf13Server {
    /// The process (wait for it, or kill it).
    pub child: Child,
    /// Its stdout after the LISTENING line.
    pub out: BufReader<ChildStdout>,
    /// The UDP port it listens on (127.0.0.1).
    pub port: u16,
}

impl Wolf13Server {
    /// Starts `bin server 0` with `args` and reads the port it listens on.
    pub fn start(bin: &Path, args: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(bin)
            .args(["server", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("wolf13_peer server: {e}"))?;
        let mut out = BufReader::new(child.stdout.take().ok_or("wolf13_peer: no stdout")?);
        let mut line = String::new();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("wolf13_peer server said {line:?}"))?;
        Ok(Self { child, out, port })
    }

    /// The built peer (`None` when it is not, outside CI: [`super::peers::peer_bin`]) started
    /// with a PSK (hex), its identity, TLS_AES_128_CCM_8_SHA256 and `extra`.
    pub fn ccm8(key_hex: &str, identity: &str, extra: &[&str]) -> Option<Self> {
        let peer = super::peers::peer_bin("wolf13_peer")?;
        let srv = Self::with_psk(&peer, key_hex, identity, "TLS13-AES128-CCM-8-SHA256", extra);
        Some(srv.expect("start wolf13_peer server"))
    }

    /// Starts it with a PSK (hex), its identity and one TLS 1.3 suite (wolfSSL's name), then
    /// `extra`.
    pub fn with_psk(
        bin: &Path,
        key_hex: &str,
        identity: &str,
        cipher: &str,
        extra: &[&str],
    ) -> Result<Self, String> {
        let args = ["-k", key_hex, "-i", identity, "-l", cipher];
        Self::start(bin, &[&args[..], extra].concat())
    }

    /// What it printed after the LISTENING line, once it has ended.
    pub fn rest(&mut self) -> String {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        rest
    }
}

/// The peer binary: `$SIMBRIDGE_WOLF13_PEER` when set (a freshly built one), else
/// `.peers/wolf13_peer`; `None` (skipped) when missing outside CI.
pub fn peer() -> Option<PathBuf> {
    match std::env::var_os("SIMBRIDGE_WOLF13_PEER") {
        Some(p) => {
            let p = PathBuf::from(p);
            super::peers::require(&format!("peer {}", p.display()), p.is_file()).then_some(p)
        }
        None => super::peers::peer_bin("wolf13_peer"),
    }
}
