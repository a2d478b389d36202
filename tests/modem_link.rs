//! `softsim modem --link PATH` as real processes: something that is not a link a virtual modem
//! made is refused and left as it was; a stale link of a dead modem is taken over; the link goes
//! away when the modem stops (SIGTERM, or `quit` on its control input).

mod modem_support;
mod support;

use modem_support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::KillOnDrop;

/// The virtual modem, killed on drop (a failing check leaves no process behind).
fn start(profile: &std::path::Path, link: &std::path::Path, control: bool) -> KillOnDrop {
    let mut cmd = Command::new(bin());
    cmd.args(["softsim", "modem", "--profile"])
        .arg(profile)
        .arg("--link")
        .arg(link)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if control {
        cmd.arg("--control-stdin").stdin(Stdio::piped());
    } else {
        cmd.stdin(Stdio::null());
    }
    KillOnDrop::new(cmd.spawn().expect("spawn the virtual modem"))
}

fn wait_for(mut pred: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn an_occupied_path_is_refused_and_left_alone() {
    let w = Workdir::new();
    let p = w.profile("demo.toml", "card.toml");
    let pstr = p.display().to_string();
    let file = w.path("simbridge.toml");
    std::fs::write(&file, "keep me\n").expect("file");
    let dir = w.path("a-dir");
    std::fs::create_dir(&dir).expect("dir");
    let link_to_file = w.path("link-to-config");
    std::os::unix::fs::symlink(&file, &link_to_file).expect("symlink");
    for (path, what) in [
        (&file, "a file"),
        (&dir, "a directory"),
        (&link_to_file, "a link to"),
    ] {
        let o = simbridge_env(
            &[
                "softsim",
                "modem",
                "--profile",
                &pstr,
                "--link",
                &path.display().to_string(),
            ],
            &[],
            Duration::from_secs(30),
        );
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("--link {}", path.display())) && e.contains(what),
            "names the path and what is there: {e}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "keep me\n");
    assert!(dir.is_dir());
    assert_eq!(
        std::fs::read_link(&link_to_file).expect("still a link"),
        file
    );
}

#[test]
fn the_link_goes_away_when_the_modem_stops() {
    let w = Workdir::new();
    let p = w.profile("demo.toml", "card.toml");
    // SIGTERM.
    let link = w.path("ttySIM");
    let mut child = start(&p, &link, false);
    assert!(wait_for(|| std::fs::read_link(&link).is_ok()), "link made");
    let target = std::fs::read_link(&link).expect("link");
    assert!(target.starts_with("/dev/pts/"), "{}", target.display());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(
        wait_for(|| child.child().try_wait().ok().flatten().is_some()),
        "exits on SIGTERM"
    );
    assert_eq!(child.child().wait().expect("status").code(), Some(0));
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");

    // `quit` on the control input.
    let mut child = start(&p, &link, true);
    assert!(wait_for(|| std::fs::read_link(&link).is_ok()), "link made");
    {
        use std::io::Write;
        let stdin = child.child().stdin.as_mut().expect("stdin");
        writeln!(stdin, "quit").expect("quit");
    }
    assert!(
        wait_for(|| child.child().try_wait().ok().flatten().is_some()),
        "exits on quit"
    );
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");

    // A stale link from a modem that died (dangling, into /dev/pts) is taken over.
    std::os::unix::fs::symlink("/dev/pts/999999", &link).expect("stale link");
    let child = start(&p, &link, false);
    assert!(
        wait_for(|| std::fs::read_link(&link)
            .is_ok_and(|t| t != std::path::Path::new("/dev/pts/999999"))),
        "stale link replaced"
    );
    drop(child);
}
