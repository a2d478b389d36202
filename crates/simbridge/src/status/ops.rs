//! What a long-running command (`bridge`, `server`) serves for operations, started together
//! after start-up: the status socket in the state directory, the optional Prometheus endpoint
//! and the systemd notifications (readiness, watchdog, stopping).

use super::notify::Systemd;
use super::prometheus::MetricsServer;
use super::socket::{BoundSocket, StatusSocket};
use super::{Role, StatusSource};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A loop that has not turned for this long is stuck (they turn every 200 ms).
const STUCK_AFTER: Duration = Duration::from_secs(10);

/// The operations side of a running gateway or server; dropping it removes the status socket,
/// closes the metrics port and tells systemd the service is stopping.
pub struct Operations {
    source: Arc<dyn StatusSource>,
    socket: Option<StatusSocket>,
    metrics: Option<MetricsServer>,
    systemd: Systemd,
    was_healthy: bool,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations")
            .field("socket", &self.socket)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

/// The status socket claimed before anything else starts (so a second process on the same
/// state directory stops before it touches the state); [`Claim::start`] then serves it.
#[derive(Debug)]
pub struct Claim {
    socket: Option<BoundSocket>,
}

impl Operations {
    /// Claims the status socket in `state_dir` (none without a state directory). The error
    /// names the socket and why (another process answers on it; a file that is not a socket).
    pub fn claim(role: Role, state_dir: Option<&Path>) -> Result<Claim, String> {
        let socket = match state_dir {
            Some(dir) => {
                // Missing state directories are made private (0700), as the GBA cache makes them.
                crate::gba::cache::create_private_dir(dir)
                    .map_err(|e| format!("state_dir {}: cannot create it: {e}", dir.display()))?;
                Some(BoundSocket::bind(dir, role).map_err(|e| format!("status socket: {e}"))?)
            }
            None => {
                log::info!("status: no state_dir, so no status socket");
                None
            }
        };
        Ok(Claim { socket })
    }
}

impl Claim {
    /// Serves the status socket and the metrics endpoint on `metrics` (none when not
    /// configured) from `source`. The error names the address.
    pub fn start(
        self,
        metrics: Option<SocketAddr>,
        source: Arc<dyn StatusSource>,
    ) -> Result<Operations, String> {
        let socket = self
            .socket
            .map(|s| s.serve(source.clone()))
            .transpose()
            .map_err(|e| format!("status socket: {e}"))?;
        let metrics = metrics
            .map(|addr| MetricsServer::start(addr, source.clone()))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(Operations {
            source,
            socket,
            metrics,
            systemd: Systemd::from_env(),
            was_healthy: true,
        })
    }
}

impl Operations {
    /// The metrics endpoint's bound address, if one runs.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsServer::local_addr)
    }

    /// Start-up checks passed: tells systemd (`READY=1`).
    pub fn ready(&self, status: &str) {
        self.systemd.ready(status);
    }

    /// A configuration reload (SIGHUP) begins: tells systemd (`RELOADING=1`); call
    /// [`Operations::ready`] when it is done.
    pub fn reloading(&self) {
        self.systemd.reloading();
    }

    /// Called from the main loop: feeds the systemd watchdog while the process's loops turn.
    pub fn tick(&mut self) {
        if self.systemd.watchdog_interval().is_some() {
            let healthy = self.source.healthy(STUCK_AFTER);
            if self.was_healthy && !healthy {
                log::warn!(
                    "a loop has not turned for {} s: the systemd watchdog is no longer fed",
                    STUCK_AFTER.as_secs()
                );
            }
            self.was_healthy = healthy;
            self.systemd.watchdog_tick(healthy);
        }
    }
}

impl Drop for Operations {
    fn drop(&mut self) {
        self.systemd.stopping();
    }
}
