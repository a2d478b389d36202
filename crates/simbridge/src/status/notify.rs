//! systemd service notifications (`Type=notify`, `WatchdogSec=`) without libsystemd: a
//! notification is one Unix datagram such as `READY=1` sent to the socket named in
//! `$NOTIFY_SOCKET` (sd_notify(3); a name starting with `@` is in the Linux abstract namespace).
//! Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing.
//!
//! The watchdog interval comes from `$WATCHDOG_USEC` (only when `$WATCHDOG_PID` is unset or
//! ours, as sd_watchdog_enabled(3) says); pings go out at half of it, and only while the caller
//! says the process is healthy, so a stuck event loop lets systemd restart the service.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// The notification socket and the watchdog schedule of this process.
#[derive(Debug)]
pub struct Systemd {
    socket: Option<String>,
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
}

impl Systemd {
    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`.
    pub fn from_env() -> Self {
        let socket = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && ours)
            .map(Duration::from_micros);
        Self {
            socket,
            watchdog,
            last_ping: None,
        }
    }

    /// The watchdog interval systemd asked for, if any.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends one notification (`READY=1`, `STOPPING=1`, `STATUS=...`); `Ok(false)` when not
    /// running under systemd.
    pub fn notify(&self, state: &str) -> io::Result<bool> {
        let Some(path) = &self.socket else {
            return Ok(false);
        };
        let sock = UnixDatagram::unbound()?;
        match path.strip_prefix('@') {
            #[cfg(target_os = "linux")]
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                sock.send_to_addr(state.as_bytes(), &addr)?;
            }
            _ => {
                sock.send_to(state.as_bytes(), path)?;
            }
        }
        Ok(true)
    }

    /// Start-up is complete: `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        if let Err(e) = self.notify(&format!("READY=1\nSTATUS={status}")) {
            log::warn!("systemd: cannot send READY=1: {e}");
        }
    }

    /// A configuration reload (SIGHUP) has begun; send [`Systemd::ready`] when it is done.
    pub fn reloading(&self) {
        let _ = self.notify("RELOADING=1");
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        let _ = self.notify("STOPPING=1");
    }

    /// Called from the main loop: pings the watchdog (`WATCHDOG=1`) at half its interval while
    /// `healthy` is true. When unhealthy it stays silent, so systemd acts after `WatchdogSec`.
    pub fn watchdog_tick(&mut self, healthy: bool) {
        let Some(interval) = self.watchdog else {
            return;
        };
        if !healthy {
            return;
        }
        if self.last_ping.is_some_and(|t| t.elapsed() < interval / 2) {
            return;
        }
        match self.notify("WATCHDOG=1") {
            Ok(_) => self.last_ping = Some(Instant::now()),
            Err(e) => log::warn!("systemd: cannot ping the watchdog: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_socket_and_paces_watchdog_pings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).expect("bind");
        rx.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut sd = Systemd {
            socket: Some(path.to_string_lossy().into_owned()),
            watchdog: Some(Duration::from_secs(60)),
            last_ping: None,
        };
        sd.ready("up");
        let mut buf = [0u8; 256];
        let n = rx.recv(&mut buf).expect("ready");
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=up");
        sd.watchdog_tick(false);
        sd.watchdog_tick(true);
        sd.watchdog_tick(true);
        let n = rx.recv(&mut buf).expect("ping");
        assert_eq!(&buf[..n], b"WATCHDOG=1");
        rx.set_nonblocking(true).expect("nonblocking");
        assert!(rx.recv(&mut buf).is_err(), "one ping per half interval");
    }

    #[test]
    fn without_notify_socket_nothing_is_sent() {
        let sd = Systemd {
            socket: None,
            watchdog: None,
            last_ping: None,
        };
        assert!(!sd.notify("READY=1").expect("no-op"));
    }
}
