//! docs/walkthrough.md, run as written: every ```bash block (except the one marked
//! `fresh-machine`, which installs packages and builds) is taken from the page, in order, and
//! run in one bash, with the simbridge under test first on PATH and HOME in a temporary
//! directory. The page's own CoAP client must print what it PUT through gateway and server, and
//! its `simbridge status` commands must show the GBA-keyed session on both sides.

mod common;
mod support;

use common::*;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The ```bash blocks of `doc` whose info string is exactly `bash`, in order.
fn bash_blocks(doc: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```bash") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```bash block");
    blocks
}

/// Kills the script's whole process group (the background jobs included) when dropped.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = self.0.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn the_walkthrough_runs_as_written() {
    if !require(
        "coap-client-notls and coap-server-notls (libcoap3-bin)",
        have("coap-client-notls") && have("coap-server-notls"),
    ) {
        return;
    }
    let doc = std::fs::read_to_string(repo().join("docs/walkthrough.md")).expect("walkthrough");
    assert!(
        doc.contains("```bash fresh-machine\n"),
        "the set-up block stays marked"
    );
    let blocks = bash_blocks(&doc);
    assert!(blocks.len() >= 8, "{} blocks", blocks.len());
    let script = blocks.concat();
    for needed in [
        "simbridge bsf ",
        "simbridge softsim modem ",
        "simbridge server ",
        "simbridge bridge ",
        "coap-client-notls ",
    ] {
        assert!(script.contains(needed), "the walkthrough runs {needed:?}");
    }

    let home = tempfile::tempdir().expect("tempdir");
    let bin_dir = Path::new(bin()).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash");
    child
        .args(["-e", "-o", "pipefail", "-c", &script])
        .env("HOME", home.path())
        .env("PATH", path)
        .env_remove("SIMBRIDGE_STATE_DIR")
        .env_remove("SIMBRIDGE_BSF")
        .env_remove("SIMBRIDGE_PIN")
        .current_dir(home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut group = Group(child.spawn().expect("bash"));
    let mut stdout = group.0.stdout.take().expect("stdout");
    let mut stderr = group.0.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = group.0.try_wait().expect("wait") {
            break Some(st);
        }
        if start.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(group);
    let out = out.join().expect("stdout");
    let err = err.join().expect("stderr");
    println!("--- stdout\n{out}\n--- stderr\n{err}");
    let status = status.expect("the walkthrough finished within 120 s");
    assert!(status.success(), "the walkthrough failed: {status:?}");

    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&"hello through GBA"),
        "the GET printed what the PUT stored"
    );
    for want in [
        "route localhost:15684 -> 127.0.0.1:15684: established since ",
        "NAF localhost (Ua id 010001d003), suite TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
        "bootstraps:\n  B-TID ",
        "server (pid ",
        "  peer 127.0.0.1:",
        "GBA_U",
    ] {
        assert!(out.contains(want), "{want:?} in the output");
    }
    // The card ran AKA through the virtual modem: its SQN state was written beside the profile.
    let walk = home.path().join("simbridge-walkthrough");
    assert!(
        walk.join("card.toml.state").is_file(),
        "the card's SQN state"
    );
    // The stop block ended everything cleanly: the gateway exported its session.
    assert!(
        std::fs::read_dir(walk.join("gw-state"))
            .expect("gw-state")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with(".export")),
        "the gateway saved its session on SIGTERM"
    );
}
