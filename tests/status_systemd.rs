//! systemd integration with real processes: the test plays systemd's part by binding its own
//! Unix datagram socket and passing it as `$NOTIFY_SOCKET` (with `$WATCHDOG_USEC`) to a real
//! `simbridge bridge` and `simbridge server`; it must see READY=1 after start-up (the status
//! socket already answering), WATCHDOG=1 pings at half the interval, STOPPING=1 on SIGTERM,
//! and no READY=1 from a start that fails. The shipped units pass `systemd-analyze verify`.

mod common;
mod support;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The test's notification socket.
struct Notify {
    sock: UnixDatagram,
    path: std::path::PathBuf,
}

impl Notify {
    fn bind(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind notify socket");
        Self { sock, path }
    }

    /// Next notification within `limit`, or `None`.
    fn next(&self, limit: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(limit)).expect("timeout");
        let mut buf = [0u8; 4096];
        let n = self.sock.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Notifications arriving within `window`.
    fn collect(&self, window: Duration) -> Vec<String> {
        let end = Instant::now() + window;
        let mut out = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.next(left.max(Duration::from_millis(1))) {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    write_file(dir, "k.hex", "000102030405060708090a0b0c0d0e0f\n")
}

/// A gateway with one static-key route to a UDP port nobody answers on (no card, no BSF).
fn gateway_cfg(dir: &Path) -> std::path::PathBuf {
    let key = key_file(dir);
    write_file(
        dir,
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:{}\"\npsk = {{ identity = \"dev1\", key_file = \"{}\" }}\n",
            dir.join("gw-state").display(),
            free_udp_port(),
            key.display()
        ),
    )
}

fn start(sub: &str, cfg: &Path, notify: &Notify, watchdog_pid: Option<&str>) -> Running {
    let mut cmd = Command::new(bin());
    cmd.arg(sub)
        .arg("--config")
        .arg(cfg)
        .env("RUST_LOG", "info")
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "1000000");
    if let Some(pid) = watchdog_pid {
        cmd.env("WATCHDOG_PID", pid);
    }
    spawn_ready(&mut cmd, sub)
}

/// READY=1 first (status socket answering), then pings, then STOPPING=1 on SIGTERM.
fn ready_watchdog_stopping(sub: &str, cfg: &Path, state: &Path, notify: &Notify) {
    let p = start(sub, cfg, notify, None);
    let ready = notify
        .next(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{sub}: no notification"));
    assert!(ready.starts_with("READY=1\nSTATUS="), "{sub}: {ready:?}");
    let o = simbridge(&[
        "status",
        "--json",
        "--state",
        state.to_str().expect("utf-8"),
    ]);
    assert!(
        o.status.success(),
        "{sub}: status socket answers once READY=1 is sent: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // WATCHDOG_USEC = 1 s: a ping every 0.5 s; 2.2 s hold 3 to 5 of them.
    let msgs = notify.collect(Duration::from_millis(2200));
    let pings = msgs.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!((3..=5).contains(&pings), "{sub}: {msgs:?}");
    assert!(msgs.iter().all(|m| m == "WATCHDOG=1"), "{sub}: {msgs:?}");
    assert_eq!(p.terminate(), Some(0));
    let rest = notify.collect(Duration::from_millis(300));
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{sub}: {rest:?}");
}

#[test]
fn bridge_notifies_ready_pings_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = Notify::bind(dir.path());
    let cfg = gateway_cfg(dir.path());
    ready_watchdog_stopping("bridge", &cfg, &dir.path().join("gw-state"), &notify);
}

#[test]
fn server_notifies_ready_pings_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = Notify::bind(dir.path());
    let key = key_file(dir.path());
    let state = dir.path().join("srv-state");
    let cfg = write_file(
        dir.path(),
        "srv.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:{}\"\nstate_dir = \"{}\"\n[[keys.static]]\nidentity = \"dev1\"\nkey_file = \"{}\"\n",
            free_udp_port(),
            state.display(),
            key.display()
        ),
    );
    ready_watchdog_stopping("server", &cfg, &state, &notify);
}

#[test]
fn no_pings_for_another_watchdog_pid_and_no_ready_from_a_failed_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = Notify::bind(dir.path());
    let cfg = gateway_cfg(dir.path());
    // $WATCHDOG_PID names another process (sd_watchdog_enabled(3)): READY=1 but no pings.
    let p = start("bridge", &cfg, &notify, Some("1"));
    let ready = notify.next(Duration::from_secs(20)).expect("ready");
    assert!(ready.starts_with("READY=1"), "{ready:?}");
    let msgs = notify.collect(Duration::from_millis(1500));
    assert!(!msgs.iter().any(|m| m == "WATCHDOG=1"), "{msgs:?}");
    assert_eq!(p.terminate(), Some(0));
    notify.collect(Duration::from_millis(300));

    // A configuration error: exit 1, and systemd never hears READY=1.
    let bad = write_file(dir.path(), "bad.toml", "state_dir = 5\n");
    let o = run_with_timeout(
        Command::new(bin())
            .args(["bridge", "--config"])
            .arg(&bad)
            .env("NOTIFY_SOCKET", &notify.path),
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(1));
    let msgs = notify.collect(Duration::from_millis(300));
    assert!(!msgs.iter().any(|m| m.starts_with("READY=1")), "{msgs:?}");
}

#[test]
fn shipped_units_pass_systemd_analyze_verify() {
    if !require("systemd-analyze", have("systemd-analyze")) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Documentation=man:... must name pages we generate: verify runs `man` on them.
    let man = dir.path().join("man");
    let o = simbridge(&["man", "--dir", man.join("man1").to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for unit in ["simbridge.service", "simbridge-server.service"] {
        let text = std::fs::read_to_string(repo().join("dist").join(unit)).expect("unit");
        for want in [
            "Type=notify",
            "WatchdogSec=",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "Documentation=file:/usr/share/doc/simbridge/",
        ] {
            assert!(text.contains(want), "{unit}: {want}");
        }
        assert!(!text.contains("example.invalid"), "{unit}");
        // verify checks that ExecStart exists and is executable: point it at the binary under test.
        let local = text.replace(
            "ExecStart=/usr/bin/simbridge",
            &format!("ExecStart={}", bin()),
        );
        let path = write_file(dir.path(), unit, &local);
        let o = run_with_timeout(
            Command::new("systemd-analyze")
                .arg("verify")
                .arg(&path)
                .env("MANPATH", &man),
            Duration::from_secs(60),
        );
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success() && out.trim().is_empty(), "{unit}: {out}");
    }
}
