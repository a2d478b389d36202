//! Shell completions and man pages generated from the CLI definition: each completion script is
//! loaded by the real shell (bash, zsh, fish) and offers the subcommands and options; the man
//! pages render with groff without warnings and document the options and environment variables.

mod common;
mod support;

use common::*;
use std::process::Command;
use std::time::Duration;

fn out(args: &[&str]) -> String {
    let o = simbridge(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

fn shell(program: &str, args: &[&str]) -> std::process::Output {
    run_with_timeout(Command::new(program).args(args), Duration::from_secs(30))
}

#[test]
fn bash_completion_loads_and_offers_subcommands_and_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = write_file(dir.path(), "simbridge.bash", &out(&["completions", "bash"]));
    // Load it and ask for completions as bash would on `simbridge st<TAB>` and
    // `simbridge status --<TAB>`.
    let probe = format!(
        "source {}\n\
         COMP_WORDS=(simbridge st); COMP_CWORD=1; _simbridge simbridge st simbridge; echo \"1:${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(simbridge status --); COMP_CWORD=2; _simbridge simbridge -- status; echo \"2:${{COMPREPLY[*]}}\"\n",
        script.display()
    );
    let o = shell("bash", &["-c", &probe]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let first = text
        .lines()
        .find_map(|l| l.strip_prefix("1:"))
        .expect("first");
    assert!(first.split(' ').any(|w| w == "status"), "{first}");
    let second = text
        .lines()
        .find_map(|l| l.strip_prefix("2:"))
        .expect("second");
    for opt in ["--state", "--json"] {
        assert!(second.split(' ').any(|w| w == opt), "{opt} in {second}");
    }
}

#[test]
fn zsh_and_fish_completions_load_in_their_shells() {
    let dir = tempfile::tempdir().expect("tempdir");
    if require("zsh", have("zsh")) {
        let text = out(&["completions", "zsh"]);
        assert!(
            text.starts_with("#compdef simbridge"),
            "{}",
            &text[..40.min(text.len())]
        );
        let f = write_file(dir.path(), "_simbridge", &text);
        let o = shell("zsh", &["-n", f.to_str().expect("utf-8")]);
        assert!(
            o.status.success(),
            "zsh -n: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            text.contains("'--state=[") && text.contains("bridge"),
            "zsh script names options"
        );
    }
    if require("fish", have("fish")) {
        let text = out(&["completions", "fish"]);
        let f = write_file(dir.path(), "simbridge.fish", &text);
        // Load it, then ask fish what it completes for `simbridge status --s`.
        let probe = format!("source {}; complete -C 'simbridge status --s'", f.display());
        let o = shell("fish", &["--no-config", "-c", &probe]);
        let got = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(got.lines().any(|l| l.starts_with("--state")), "{got}");
    }
}

#[test]
fn man_pages_render_cleanly_and_cover_every_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = simbridge(&["man", "--dir", dir.path().to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for page in [
        "simbridge.1",
        "simbridge-bridge.1",
        "simbridge-server.1",
        "simbridge-status.1",
        "simbridge-sim-aka.1",
        "simbridge-dtls-client.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }
    let status = std::fs::read_to_string(dir.path().join("simbridge-status.1")).expect("page");
    assert!(
        status.contains("\\-\\-state") && status.contains("SIMBRIDGE_STATE_DIR"),
        "{status}"
    );
    let top = out(&["man"]);
    assert!(
        top.contains(".TH simbridge 1") && top.contains("simbridge\\-status(1)"),
        "{top}"
    );
    if require("groff", have("groff")) {
        for entry in std::fs::read_dir(dir.path()).expect("dir") {
            let path = entry.expect("entry").path();
            let o = shell(
                "groff",
                &["-man", "-Tutf8", "-ww", "-z", path.to_str().expect("utf-8")],
            );
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                o.status.success() && err.trim().is_empty(),
                "{}: {err}",
                path.display()
            );
        }
    }
}
