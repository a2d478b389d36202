//! NAF authorisation at the BSF's key API, with `simbridge bsf --nafs` as a real process: each
//! credential gets keys only for its own FQDNs (403 otherwise, logged at WARN with the
//! credential's name and the FQDN), the IMPI only when allowed, a new bootstrap supersedes the
//! IMPI's older B-TID (404), and token files readable by others are refused at start.

mod gba_support;
mod support;

use gba_support::cli::{self, write_private};
use gba_support::*;
use std::path::Path;
use support::run;

const TOKEN_A: &str = "token-for-naf-a-0123456789";
const TOKEN_B: &str = "token-for-naf-b-9876543210";

fn nafs_file(dir: &Path) -> String {
    write_private(&dir.join("a.token"), &format!("{TOKEN_A}\n"));
    write_private(&dir.join("b.token"), &format!("{TOKEN_B}\n"));
    let p = dir.join("nafs.toml");
    std::fs::write(
        &p,
        "[[naf]]\nname = \"naf-a\"\nfqdns = [\"naf-a.example.com\"]\ntoken_file = \"a.token\"\n\
         [[naf]]\nname = \"naf-b\"\nfqdns = [\"naf-b.example.com\", \"naf-b2.example.com\"]\n\
         token_file = \"b.token\"\nimpi = true\n",
    )
    .expect("nafs file");
    p.to_str().expect("utf8").to_string()
}

fn bootstrap(dir: &Path, url: &str, force: bool) -> String {
    let args: &[&str] = if force {
        &["bootstrap", "--force"]
    } else {
        &["bootstrap"]
    };
    cli::device_run(dir, url, args)["btid"]
        .as_str()
        .expect("btid")
        .to_string()
}

#[test]
fn each_naf_credential_gets_only_its_own_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nafs = nafs_file(dir.path());
    let (_bsf, addr, log) = cli::start_bsf(dir.path(), K, &["--nafs", &nafs]);
    let btid = bootstrap(dir.path(), &format!("http://{addr}/"), false);
    let ua = "010001c0a8";

    // A for its own FQDN: the key, without the IMPI (impi = false is the default).
    let (status, a) = key_api(
        addr,
        Some(TOKEN_A),
        &key_request(&btid, "naf-a.example.com", ua),
    );
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["meKeyMaterial"].as_str().map(str::len), Some(64), "{a}");
    assert!(a.get("impi").is_none(), "no IMPI for naf-a: {a}");

    // A for B's FQDN: 403 problem+json naming no secret, logged with A's name and the FQDN.
    let (status, refused) = key_api(
        addr,
        Some(TOKEN_A),
        &key_request(&btid, "naf-b.example.com", ua),
    );
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["cause"], "NAF_NOT_AUTHORIZED", "{refused}");
    let text = refused.to_string();
    for secret in [TOKEN_A, TOKEN_B, a["meKeyMaterial"].as_str().expect("key")] {
        assert!(!text.contains(secret), "{text}");
    }
    // The refusal comes before the B-TID lookup: an unknown B-TID gets the same answer.
    let (status, unknown) = key_api(
        addr,
        Some(TOKEN_A),
        &key_request("nobody@bsf", "naf-b.example.com", ua),
    );
    assert_eq!((status, &unknown), (403, &refused));

    // B for its FQDNs (any case, trailing dot): keys that differ from A's, with the IMPI.
    let (status, b) = key_api(
        addr,
        Some(TOKEN_B),
        &key_request(&btid, "NAF-B2.example.com.", ua),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["impi"], IMPI);
    assert_ne!(b["meKeyMaterial"], a["meKeyMaterial"]);
    let (status, _) = key_api(
        addr,
        Some(TOKEN_B),
        &key_request(&btid, "naf-a.example.com", ua),
    );
    assert_eq!(status, 403);

    let logged = std::fs::read_to_string(&log).expect("log");
    let warn = logged
        .lines()
        .find(|l| l.contains("WARN") && l.contains("\"naf-a\""))
        .unwrap_or_else(|| panic!("no WARN naming credential naf-a: {logged}"));
    assert!(warn.contains("naf-b.example.com"), "{warn}");
    // Every request served is one INFO line: peer, method, path and the answer.
    assert!(
        logged.lines().any(|l| l.contains("INFO")
            && l.contains("BSF: 127.0.0.1:")
            && l.contains("POST /nbsp-gba/v1/bootstrapping-info-retrieval -> 403")),
        "no INFO line for the refused key request: {logged}"
    );
    assert!(
        logged
            .lines()
            .any(|l| l.contains("INFO") && l.contains("GET / -> 401")),
        "no INFO line for the Ub challenge: {logged}"
    );
    for secret in [TOKEN_A, TOKEN_B] {
        assert!(!logged.contains(secret), "the log holds a token: {logged}");
    }

    // A new bootstrap of the IMPI supersedes the old context: its B-TID is gone.
    let btid2 = bootstrap(dir.path(), &format!("http://{addr}/"), true);
    assert_ne!(btid2, btid);
    let (status, old) = key_api(
        addr,
        Some(TOKEN_A),
        &key_request(&btid, "naf-a.example.com", ua),
    );
    assert_eq!(status, 404, "{old}");
    assert_eq!(old["cause"], "BTID_NOT_FOUND");
    let (status, new) = key_api(
        addr,
        Some(TOKEN_A),
        &key_request(&btid2, "naf-a.example.com", ua),
    );
    assert_eq!(status, 200, "{new}");
}

#[test]
fn bsf_refuses_shared_or_unrestricted_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("p")).expect("mkdir");
    std::fs::write(
        dir.path().join("p/demo.toml"),
        profile_text(K, "000000000000", false),
    )
    .expect("profile");
    let p = dir.path().join("p");
    let s = dir.path().join("s");
    let base = [
        "bsf",
        "--profiles",
        p.to_str().expect("utf8"),
        "--listen",
        "127.0.0.1:0",
        "--state",
        s.to_str().expect("utf8"),
    ];
    let token = dir.path().join("open.token");
    std::fs::write(&token, format!("{TOKEN_A}\n")).expect("token");
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let tok = token.to_str().expect("utf8");

    // A token file others can read: refused, naming the file and the mode.
    let (code, _, err) = run(&[&base[..], &["--token-file", tok, "--naf", "a.example"]].concat());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("open.token") && err.contains("0644") && err.contains("0600"),
        "{err}"
    );
    assert!(!err.contains(TOKEN_A), "{err}");

    // The shorthand needs the FQDNs it covers; no credential at all is refused too.
    let (code, _, err) = run(&[&base[..], &["--token-file", tok]].concat());
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("--naf"), "{err}");
    let (code, _, err) = run(&base);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--nafs") && err.contains("--token-file"),
        "{err}"
    );

    // In a --nafs file, the error names the entry.
    let nafs = nafs_file(dir.path());
    std::fs::set_permissions(
        dir.path().join("b.token"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .expect("chmod");
    let (code, _, err) = run(&[&base[..], &["--nafs", &nafs]].concat());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("nafs.toml") && err.contains("naf[1].token_file") && err.contains("0640"),
        "{err}"
    );
}
