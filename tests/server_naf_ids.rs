//! The server serves only its own NAF_Ids, with real processes: a BSF with two NAF credentials,
//! `simbridge server` for `naf-a.example.com`, and `simbridge dtls client`s holding the device's
//! key for NAF A or NAF B (from `simbridge psk --reveal`). Only key A at SNI A (or no SNI) gets a
//! session; SNI B is refused before any key lookup with a WARN naming the SNI; key B at SNI A
//! fails the handshake.

mod gba_support;
mod support;

use gba_support::K;
use gba_support::cli::{self, device_psk, write_private};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use support::launch::{client_handshake, gba_server_config, ours_bridge_server, ours_client_as};
use support::{Proc, Stream};

const TOKEN_A: &str = "server-a-token-0123456789";
const TOKEN_B: &str = "server-b-token-9876543210";

/// Writes the two-credential `--nafs` file.
fn nafs(dir: &Path) -> String {
    write_private(&dir.join("a.token"), &format!("{TOKEN_A}\n"));
    write_private(&dir.join("b.token"), &format!("{TOKEN_B}\n"));
    std::fs::write(
        dir.join("nafs.toml"),
        "[[naf]]\nname = \"naf-a\"\nfqdns = [\"naf-a.example.com\"]\ntoken_file = \"a.token\"\n\
         [[naf]]\nname = \"naf-b\"\nfqdns = [\"naf-b.example.com\"]\ntoken_file = \"b.token\"\n",
    )
    .expect("nafs");
    dir.join("nafs.toml").to_str().expect("utf8").to_string()
}

/// `simbridge server` for the PSK CCM_8 suite with `keys` appended to its `[keys]` table
/// (token: credential naf-a's).
pub fn start_server(dir: &Path, bsf: SocketAddr, keys: &str) -> (Proc, SocketAddr) {
    let token = dir.join("a.token");
    ours_bridge_server(&gba_server_config(
        dir,
        "server.toml",
        &format!("http://{bsf}"),
        &token,
        keys,
    ))
}

fn client(server: SocketAddr, identity: &str, psk: &str, sni: Option<&str>) -> Proc {
    match sni {
        Some(s) => ours_client_as(server, identity, psk, &["--sni", s]),
        None => ours_client_as(server, identity, psk, &[]),
    }
}

fn handshake(c: Proc) -> (bool, String) {
    client_handshake(c)
}

fn connects(c: Proc) -> bool {
    client_handshake(c).0
}

#[test]
fn a_key_for_another_naf_opens_no_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nafs = nafs(dir.path());
    let (_bsf, bsf, _) = cli::start_bsf(dir.path(), K, &["--nafs", &nafs]);
    let (identity, key_a) = device_psk(dir.path(), bsf, "naf-a.example.com", &[]);
    let (identity_b, key_b) = device_psk(dir.path(), bsf, "naf-b.example.com", &[]);
    assert_eq!(identity, identity_b, "one bootstrap, one identity");
    assert_ne!(key_a, key_b);
    let (server, addr) = start_server(dir.path(), bsf, "naf = [\"naf-a.example.com\"]");

    // NAF B's key at SNI B: refused at the ClientHello (before any key lookup) with
    // unrecognized_name, the SNI named at WARN.
    let (ok, out) = handshake(client(addr, &identity, &key_b, Some("naf-b.example.com")));
    assert!(!ok && out.contains("unrecognized_name"), "{out}");
    let warn = server.expect_line(
        Stream::Stderr,
        Duration::from_secs(5),
        "WARN for SNI B",
        |l| l.contains("WARN") && l.contains("naf-b.example.com"),
    );
    assert!(
        warn.contains("SNI") && warn.contains("unrecognized_name"),
        "{warn}"
    );
    // NAF B's key presented at SNI A: the key API gives the server key A, so the handshake
    // fails at Finished (decrypt_error), logged as a wrong key.
    let (ok, out) = handshake(client(addr, &identity, &key_b, Some("naf-a.example.com")));
    assert!(!ok && out.contains("decrypt_error"), "{out}");
    server.expect_line(
        Stream::Stderr,
        Duration::from_secs(5),
        "WARN wrong key",
        |l| l.contains("WARN") && l.contains("wrong key") && l.contains("NAF naf-a.example.com"),
    );
    // Key A at SNI A, and without SNI (the first FQDN): sessions.
    assert!(connects(client(
        addr,
        &identity,
        &key_a,
        Some("NAF-A.example.com")
    )));
    assert!(connects(client(addr, &identity, &key_a, None)));
    let log = server.transcript();
    for secret in [TOKEN_A, &key_a, &key_b] {
        assert!(!log.contains(secret), "a secret in the server log:\n{log}");
    }
}

/// Ks_int_NAF from the key API for the device's B-TID at NAF A (the test's oracle).
fn ks_int_naf(bsf: SocketAddr, btid: &str) -> String {
    let body = serde_json::json!({
        "btId": btid,
        "nafId": {"nafFqdn": "naf-a.example.com", "uaSecProtId": "010001c0a8"},
        "gbaUAware": true,
    })
    .to_string();
    let (status, v) = gba_support::key_api(bsf, Some(TOKEN_A), &body);
    assert_eq!(status, 200, "{v}");
    v["uiccKeyMaterial"]
        .as_str()
        .expect("a GBA_U context has Ks_int_NAF")
        .to_string()
}

#[test]
fn uicc_identities_get_ks_int_naf_only_when_gba_u_aware() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nafs = nafs(dir.path());
    let (_bsf, bsf, _) = cli::start_bsf(dir.path(), K, &["--nafs", &nafs]);
    // A GBA_U card: the device's PSK is Ks_ext_NAF; Ks_int_NAF stays for the card's applications.
    std::fs::write(
        dir.path().join("device-card.toml"),
        gba_support::profile_text(K, "000000000000", true),
    )
    .expect("card");
    let (identity, ks_ext) = device_psk(dir.path(), bsf, "naf-a.example.com", &[]);
    let btid = identity
        .strip_prefix("3GPP-bootstrapping.")
        .expect("canonical identity");
    let ks_int = ks_int_naf(bsf, btid);
    assert_ne!(ks_int, ks_ext);
    let uicc = format!("3GPP-bootstrapping-uicc.{btid}");

    let (server, addr) = start_server(
        dir.path(),
        bsf,
        "naf = \"naf-a.example.com\"\ngba_u_aware = true",
    );
    assert!(
        connects(client(addr, &uicc, &ks_int, None)),
        "{}",
        server.transcript()
    );
    assert!(connects(client(addr, &identity, &ks_ext, None)));
    // The -uicc identity with Ks_ext_NAF: the wrong key.
    assert!(!connects(client(addr, &uicc, &ks_ext, None)));
    drop(server);

    // Without gba_u_aware the -uicc identity is refused before any lookup; a bare B-TID too.
    let (server, addr) = start_server(dir.path(), bsf, "naf = \"naf-a.example.com\"");
    assert!(!connects(client(addr, &uicc, &ks_int, None)));
    server.expect_line(Stream::Stderr, Duration::from_secs(5), "WARN uicc", |l| {
        l.contains("WARN") && l.contains("gba_u_aware is off")
    });
    assert!(!connects(client(addr, btid, &ks_ext, None)));
    server.expect_line(Stream::Stderr, Duration::from_secs(5), "WARN bare", |l| {
        l.contains("WARN") && l.contains("bare B-TID")
    });
    assert!(connects(client(addr, &identity, &ks_ext, None)));
}
