//! Messages that used to mislead, each with the process that prints it: configuration mistakes
//! name the file, the line, the key and the expected form (no deserializer internals); I/O errors
//! name the path and the option it came from; a BSF that does not answer is said so in words.

mod common;
mod support;

use common::{profile_copy, simbridge, write_file};
use std::net::TcpListener;
use std::path::Path;

/// Runs `bridge --config FILE`, which must fail with exit 1; its stderr.
fn bridge_refuses(cfg: &Path) -> String {
    let o = simbridge(&["bridge", "--config", cfg.to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&cfg.display().to_string()),
        "names the file: {err}"
    );
    err
}

const ROUTE: &str = "listen = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:5684\"\npsk = { identity = \"d\", key_file = \"k\" }\n";

#[test]
fn route_written_as_a_single_table_says_to_use_two_brackets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_file(dir.path(), "gw.toml", &format!("[route]\n{ROUTE}"));
    let err = bridge_refuses(&cfg);
    assert!(
        err.contains(
            "line 1, [route]: `route` is a list of tables: write [[route]] (two brackets)"
        ),
        "{err}"
    );
    assert!(!err.contains("invalid type: map"), "{err}");
}

#[test]
fn psk_of_the_wrong_shape_names_both_forms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        "[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:5684\"\npsk = { identity = \"d\" }\n",
    );
    let err = bridge_refuses(&cfg);
    assert!(
        err.contains("line 4, key `psk` in [[route]]: `psk` must be \"gba\" or { identity = \"NAME\", key_file = \"FILE\" }"),
        "{err}"
    );
    assert!(!err.contains("untagged enum"), "{err}");
}

#[test]
fn a_quoted_number_says_a_whole_number_is_expected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!("[session]\nqueue_limit = \"64\"\n[[route]]\n{ROUTE}"),
    );
    let err = bridge_refuses(&cfg);
    assert!(
        err.contains("line 2, key `queue_limit` in [session]: expected a whole number (no quotes), got a quoted string"),
        "{err}"
    );
    assert!(!err.contains("usize"), "{err}");
}

#[test]
fn a_state_dir_that_is_a_file_is_named_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_file(dir.path(), "k.hex", "00112233445566778899aabbccddeeff");
    let file = write_file(dir.path(), "not-a-dir", "x");
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:5684\"\npsk = {{ identity = \"d\", key_file = \"{}\" }}\n",
            file.display(),
            key.display()
        ),
    );
    let err = bridge_refuses(&cfg);
    assert!(
        err.contains(&format!(
            "state_dir {} (from {} or SIMBRIDGE_STATE_DIR): exists and is not a directory",
            file.display(),
            cfg.display()
        )),
        "{err}"
    );
    assert!(!err.contains("os error 17"), "{err}");
}

#[test]
fn a_missing_config_file_names_the_option() {
    let o = simbridge(&["bridge", "--config", "/nonexistent/gw.toml"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains(
            "cannot read the configuration file (--config or SIMBRIDGE_CONFIG) /nonexistent/gw.toml"
        ),
        "{err}"
    );
}

#[test]
fn a_bsf_that_does_not_answer_is_said_in_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    // Accepts the connection, never answers.
    let bsf = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", bsf.local_addr().expect("addr"));
    let o = simbridge(&[
        "bootstrap",
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        &url,
        "--state",
        dir.path().join("st").to_str().expect("utf8"),
        "--timeout",
        "1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("no answer from the BSF at {url}")) && err.contains("within 1 s"),
        "{err}"
    );
    assert!(!err.contains("timeout: global"), "{err}");
    drop(bsf);
}

#[test]
fn a_state_dir_that_cannot_be_created_names_itself_and_the_option() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_file(dir.path(), "k.hex", "00112233445566778899aabbccddeeff");
    let file = write_file(dir.path(), "plain-file", "x");
    let below = file.join("state");
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:5684\"\npsk = {{ identity = \"d\", key_file = \"{}\" }}\n",
            below.display(),
            key.display()
        ),
    );
    let err = bridge_refuses(&cfg);
    assert!(
        err.contains(&format!(
            "state_dir {} (from {} or SIMBRIDGE_STATE_DIR): cannot create it:",
            below.display(),
            cfg.display()
        )),
        "{err}"
    );
}

#[test]
fn a_new_state_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_file(dir.path(), "k.hex", "00112233445566778899aabbccddeeff");
    let state = dir.path().join("new-state");
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:{}\"\npsk = {{ identity = \"d\", key_file = \"{}\" }}\n",
            state.display(),
            common::free_udp_port(),
            key.display()
        ),
    );
    let gw = common::start_with_config("bridge", &cfg, "simbridge bridge");
    let mode = std::fs::metadata(&state)
        .expect("state dir")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");
    assert_eq!(gw.terminate(), Some(0));
}
