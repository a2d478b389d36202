//! `examples/gba_session.rs` runs as documented: with the software USIM, our BSF and our server
//! keyed through the BSF's key API, the example's embedded session bootstraps through
//! `upstream::CardKeys`, completes a GBA-keyed DTLS handshake and gets its datagram echoed.

mod common;
mod support;

use common::{addr_in, profile_copy, start_with_config, write_file};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The example binary `cargo test` builds beside the test binaries (target/<profile>/examples).
fn example_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join("gba_session")
}

#[test]
fn the_embedding_example_gets_its_datagram_echoed_over_a_gba_keyed_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (bsf, token) = common::start_bsf(d);
    let bsf_url = format!("http://{}", addr_in(&bsf.first_line));
    let cfg = write_file(
        d,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"{}\"\nstate_dir = \"{}\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            common::udp_echo(),
            d.join("srv").display(),
            token.display()
        ),
    );
    let server = start_with_config("server", &cfg, "simbridge server");
    let card = profile_copy(d, "demo.toml");
    let bin = example_bin();
    assert!(
        bin.exists(),
        "{} is missing: cargo test builds the examples",
        bin.display()
    );
    let mut cmd = Command::new(&bin);
    cmd.arg(&card)
        .arg(&bsf_url)
        .arg("localhost")
        .arg(addr_in(&server.first_line).to_string())
        .env("TMPDIR", d);
    let out = support::cli::run_with_timeout(&mut cmd, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "example failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("reply: hello from an embedded session"),
        "{stdout}"
    );
}
