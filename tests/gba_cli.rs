//! The CLI end to end: `simbridge bsf` as a real process on loopback, `simbridge bootstrap` and
//! `simbridge psk` with `--softsim`, and the key API agreeing with the printed PSK.

mod gba_support;
mod support;

use gba_support::cli::{self, write_private};
use gba_support::*;
use std::path::Path;
use support::{KillOnDrop, json, run};

/// Starts `simbridge bsf` with one credential (the shorthand) for `naf.example.com`.
fn start_bsf(dir: &Path, k: &str) -> (KillOnDrop, std::net::SocketAddr) {
    let token = dir.join("token");
    write_private(&token, &format!("{TOKEN}\n"));
    let token = token.to_str().expect("utf8").to_string();
    let (guard, addr, _) = cli::start_bsf(
        dir,
        k,
        &["--token-file", &token, "--naf", "naf.example.com"],
    );
    (guard, addr)
}

#[test]
fn bootstrap_then_psk_matches_the_key_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_bsf, addr) = start_bsf(dir.path(), K);
    let card = dir.path().join("card.toml");
    std::fs::write(&card, profile_text(K, "000000000000", false)).expect("card");
    let url = format!("http://{addr}/");
    let state = dir.path().join("state");
    let common = [
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        &url,
        "--state",
        state.to_str().expect("utf8"),
    ];

    let (code, out, err) = run(&[&["bootstrap", "--json"][..], &common].concat());
    assert_eq!(code, 0, "{err}");
    let b = json(&out);
    let btid = b["btid"].as_str().expect("btid").to_string();
    assert!(b["lifetime"].as_str().expect("lifetime").ends_with('Z'));
    assert_eq!(b["bootstrapped"], true);
    // Never Ks: no such field and no 32-byte hex value (the B-TID's base64 may contain "ks").
    let keys: Vec<&String> = b.as_object().expect("object").keys().collect();
    assert!(
        !keys.iter().any(|k| k.to_lowercase().contains("ks")),
        "never Ks: {out}"
    );
    assert!(
        !out.split(|c: char| !c.is_ascii_hexdigit())
            .any(|w| w.len() >= 64),
        "never a key in hex: {out}"
    );

    // Again: the cached context is reused.
    let (code, out, _) = run(&[&["bootstrap", "--json"][..], &common].concat());
    assert_eq!(code, 0);
    assert_eq!(json(&out)["btid"], btid.as_str());
    assert_eq!(json(&out)["bootstrapped"], false);

    // psk without --reveal: identity only.
    let (code, out, err) =
        run(&[&["psk", "--naf", "naf.example.com", "--json"][..], &common].concat());
    assert_eq!(code, 0, "{err}");
    let p = json(&out);
    assert_eq!(p["identity"], format!("3GPP-bootstrapping.{btid}"));
    assert!(p.get("psk").is_none(), "{out}");

    // With --reveal the key equals the key API's for NAF_Id = naf.example.com ‖ 01 00 01 C0 A8.
    let (code, out, _) = run(&[
        &["psk", "--naf", "naf.example.com", "--reveal", "--json"][..],
        &common,
    ]
    .concat());
    assert_eq!(code, 0);
    let psk = json(&out)["psk"].as_str().expect("psk").to_string();
    let (status, api) = key_api(
        addr,
        Some(TOKEN),
        &key_request(&btid, "naf.example.com", "010001d003"),
    );
    assert_eq!(status, 200, "{api}");
    assert_eq!(api["meKeyMaterial"], psk.as_str());

    // --tls13 and --suite pick other Ua ids, hence other keys.
    let (_, out, _) = run(&[
        &[
            "psk",
            "--naf",
            "naf.example.com",
            "--tls13",
            "--reveal",
            "--json",
        ][..],
        &common,
    ]
    .concat());
    let (_, api13) = key_api(
        addr,
        Some(TOKEN),
        &key_request(&btid, "naf.example.com", "0100000007"),
    );
    assert_eq!(api13["meKeyMaterial"], json(&out)["psk"]);
    assert_ne!(api13["meKeyMaterial"], psk.as_str());
    let (_, out, _) = run(&[
        &[
            "psk",
            "--naf",
            "naf.example.com",
            "--suite",
            "TLS_PSK_WITH_AES_128_GCM_SHA256",
            "--reveal",
            "--json",
        ][..],
        &common,
    ]
    .concat());
    let (_, apigcm) = key_api(
        addr,
        Some(TOKEN),
        &key_request(&btid, "naf.example.com", "01000100a8"),
    );
    assert_eq!(apigcm["meKeyMaterial"], json(&out)["psk"]);

    // Text output hides the key unless asked.
    let (_, out, _) = run(&[&["psk", "--naf", "naf.example.com"][..], &common].concat());
    assert!(
        out.contains("identity: 3GPP-bootstrapping.") && !out.contains(&psk),
        "{out}"
    );
    let (code, _, err) = run(&[
        &["psk", "--naf", "naf.example.com", "--suite", "TLS_NOPE"][..],
        &common,
    ]
    .concat());
    assert_eq!(code, 64, "a bad option value is a usage error");
    assert!(err.contains("unknown PSK cipher suite"), "{err}");

    // --force bootstraps again.
    let (_, out, _) = run(&[&["bootstrap", "--json", "--force"][..], &common].concat());
    assert_eq!(json(&out)["bootstrapped"], true);
    assert_ne!(json(&out)["btid"], btid.as_str());
}

#[test]
fn gba_u_card_psk_comes_from_the_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_bsf, addr) = start_bsf(dir.path(), K);
    let card = dir.path().join("card.toml");
    std::fs::write(&card, profile_text(K, "000000000000", true)).expect("card");
    let url = format!("http://{addr}/");
    let state = dir.path().join("state");
    let common = [
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        &url,
        "--state",
        state.to_str().expect("utf8"),
    ];
    // The software USIM keeps its GBA_U Ks in memory only, so a new process re-bootstraps once.
    let (code, out, err) = run(&[
        &["psk", "--naf", "naf.example.com", "--reveal", "--json"][..],
        &common,
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    let p = json(&out);
    let btid = p["identity"]
        .as_str()
        .expect("identity")
        .trim_start_matches("3GPP-bootstrapping.")
        .to_string();
    let (status, api) = key_api(
        addr,
        Some(TOKEN),
        &key_request(&btid, "naf.example.com", "010001d003"),
    );
    assert_eq!(status, 200);
    assert_eq!(api["meKeyMaterial"], p["psk"]);
    let stored = std::fs::read_to_string(simbridge::gba::ContextCache::new(&state).path_for(IMPI))
        .expect("cache");
    assert!(
        stored.contains("GBA_U") && !stored.contains("\"ks\""),
        "{stored}"
    );
}

#[test]
fn mac_failure_exits_3_and_caches_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_bsf, addr) = start_bsf(dir.path(), "ffffffffffffffffffffffffffffffff");
    let card = dir.path().join("card.toml");
    std::fs::write(&card, profile_text(K, "000000000000", false)).expect("card");
    let url = format!("http://{addr}/");
    let state = dir.path().join("state");
    let (code, _, err) = run(&[
        "bootstrap",
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        &url,
        "--state",
        state.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("network authentication failed"), "{err}");
    assert!(files_under(&state).is_empty());
}

#[test]
fn bsf_refuses_a_missing_token_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("p")).expect("mkdir");
    std::fs::write(
        dir.path().join("p/demo.toml"),
        profile_text(K, "000000000000", false),
    )
    .expect("profile");
    write_private(&dir.path().join("empty"), "  \n");
    for token in ["missing", "empty"] {
        let (code, _, err) = run(&[
            "bsf",
            "--profiles",
            dir.path().join("p").to_str().expect("utf8"),
            "--listen",
            "127.0.0.1:0",
            "--state",
            dir.path().join("s").to_str().expect("utf8"),
            "--token-file",
            dir.path().join(token).to_str().expect("utf8"),
            "--naf",
            "naf.example.com",
        ]);
        assert_eq!(code, 1, "{token}");
        assert!(err.contains("token file"), "{err}");
    }
}
