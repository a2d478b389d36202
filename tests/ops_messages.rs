//! Messages an operator meets on day one, each from the real command: they name the option or
//! key at fault and the path, and say who holds what (issue 15, item 8).

mod common;
mod gba_support;
mod support;

use common::{simbridge, write_file};
use gba_support::cli::write_private;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::launch::{gba_server_config, ours_bridge_server, ours_client_as};
use support::{Proc, Stream, ours};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn private_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    write_private(&p, text);
    p
}

#[test]
fn bsf_with_a_missing_profiles_directory_names_profiles_and_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = private_file(dir.path(), "token", "test-token\n");
    let state = dir.path().join("state");
    let missing = dir.path().join("no-such-profiles");
    let o = simbridge(&[
        "bsf",
        "--profiles",
        missing.to_str().expect("utf8"),
        "--state",
        state.to_str().expect("utf8"),
        "--token-file",
        token.to_str().expect("utf8"),
        "--naf",
        "localhost",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "--profiles {}: cannot read the profiles directory: No such file or directory",
            missing.display()
        )),
        "{e}"
    );
    assert!(
        !e.contains("state"),
        "the state directory is not at fault: {e}"
    );
    assert!(
        !state.exists(),
        "nothing was created for a BSF that did not start"
    );
}

/// A server configuration with one static key and this `state_dir`.
fn server_config(dir: &Path, state_dir: &Path) -> std::path::PathBuf {
    let key = private_file(dir, "dev1.key", "000102030405060708090a0b0c0d0e0f\n");
    write_file(
        dir,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:9\"\nstate_dir = \"{}\"\n\
             [[keys.static]]\nidentity = \"dev1\"\nkey_file = \"{}\"\n",
            state_dir.display(),
            key.display()
        ),
    )
}

#[test]
fn an_unusable_server_state_dir_is_named_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "a-file", "x");
    let no_parent = dir.path().join("missing").join("state");
    // Not writable: a directory of /proc for root (who passes any mode bits), mode 0500 otherwise.
    let read_only = if is_root() {
        std::path::PathBuf::from("/proc/1")
    } else {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).expect("mkdir");
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).expect("chmod");
        ro
    };
    for (state_dir, problem) in [
        (
            no_parent.clone(),
            format!(
                "its parent directory {} does not exist",
                dir.path().join("missing").display()
            ),
        ),
        (file.clone(), "exists and is not a directory".to_string()),
        (read_only.clone(), "not writable".to_string()),
    ] {
        let cfg = server_config(dir.path(), &state_dir);
        let mut cmd = Command::new(ours());
        cmd.args(["server", "--config"]).arg(&cfg);
        let o = common::run_with_timeout(&mut cmd, Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!(
                "{}: state_dir {}: {problem}",
                cfg.display(),
                state_dir.display()
            )),
            "{e}"
        );
    }
    assert!(
        !dir.path().join("missing").exists(),
        "no tree grown for a typo"
    );
}

fn is_root() -> bool {
    // The effective uid of this process, from /proc (no libc call needed).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn a_modem_locked_by_another_simbridge_names_it_not_modemmanager() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = common::profile_copy(dir.path(), "demo.toml");
    let link = dir.path().join("modem");
    let mut modem = Proc::spawn("softsim modem", {
        let mut c = Command::new(ours());
        c.args(["softsim", "modem", "--control-stdin", "--profile"])
            .arg(&profile)
            .arg("--link")
            .arg(&link);
        c
    });
    let device = modem.expect_line(
        Stream::Stdout,
        Duration::from_secs(10),
        "device path",
        |l| l.starts_with("/dev/"),
    );
    // The modem stops answering: the first simbridge keeps the port (and its lock) while it waits.
    modem.write_line("stall");
    modem.expect_line(Stream::Stdout, Duration::from_secs(5), "stall ack", |l| {
        l.contains("control: stall")
    });
    let holder = Proc::spawn("holder", {
        let mut c = Command::new(ours());
        c.args(["sim", "info", "--modem"]).arg(&link);
        c
    });
    // Only once the holder has the port open (its fd list shows the device) is the probe run.
    let fds = format!("/proc/{}/fd", holder.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_dir(&fds).is_ok_and(|d| {
        d.flatten()
            .any(|f| std::fs::read_link(f.path()).is_ok_and(|l| l == Path::new(device.trim())))
    }) {
        assert!(
            Instant::now() < deadline,
            "the holder never opened {device}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The lock follows the open at once; leave it a moment.
    std::thread::sleep(Duration::from_millis(200));
    let o = simbridge(&["sim", "info", "--modem", link.to_str().expect("utf8")]);
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "the port is held by another simbridge process (pid {}, simbridge sim)",
            holder.id()
        )),
        "{e}\nholder: {}",
        holder.transcript()
    );
    assert!(!e.contains("ModemManager"), "{e}");
}

#[test]
fn a_silent_key_api_is_named_with_its_url_and_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", silent.local_addr().expect("addr"));
    let token = private_file(dir.path(), "token", "silent-token-0123456789");
    let cfg = gba_server_config(
        dir.path(),
        "server.toml",
        &url,
        &token,
        "naf = \"naf.example.com\"",
    );
    let (srv, addr) = ours_bridge_server(&cfg);
    let btid = "3GPP-bootstrapping.AAAAAAAAAAAAAAAAAAAAAA==@bsf.example.org";
    let _client = ours_client_as(addr, btid, "00112233445566778899aabbccddeeff", &[]);
    let w = srv.expect_line(
        Stream::Stderr,
        Duration::from_secs(20),
        "key API timeout",
        |l| l.contains("WARN") && l.contains("no answer from the key API"),
    );
    assert!(
        w.contains(&format!("no answer from the key API at {url}/")) && w.contains("within 10 s"),
        "{w}"
    );
    assert!(!w.contains("timeout: global"), "{w}");
    drop(silent);
}
