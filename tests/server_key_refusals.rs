//! How `simbridge server` refuses GBA handshakes, with real processes: an identity the BSF does
//! not know goes the RFC 4279 §2 random-key way (the client sees decrypt_error, as for a wrong
//! key; the server's WARN says it was an unknown identity, and a repeat is answered from the
//! negative cache); an identity that cannot be GBA's is refused before any lookup; a key API
//! that cannot be reached gives internal_error; a suite mismatch is a WARN too.

mod gba_support;
mod support;

use gba_support::K;
use gba_support::cli::{self, device_psk, write_private};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use support::launch::{client_handshake, gba_server_config, ours_bridge_server, ours_client_as};
use support::{Proc, Stream};

const TOKEN: &str = "refusals-token-0123456789";
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn server(dir: &Path, bsf_url: &str) -> (Proc, SocketAddr) {
    let token = dir.join("token");
    write_private(&token, TOKEN);
    let keys = "naf = \"naf.example.com\"";
    ours_bridge_server(&gba_server_config(
        dir,
        "server.toml",
        bsf_url,
        &token,
        keys,
    ))
}

fn warn_line(server: &Proc, what: &str, pred: impl Fn(&str) -> bool) -> String {
    server.expect_line(Stream::Stderr, Duration::from_secs(5), what, |l| {
        l.contains("WARN") && pred(l)
    })
}

#[test]
fn unknown_identities_look_like_wrong_keys_on_the_wire_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_private(&dir.path().join("bsf.token"), TOKEN);
    let tf = dir.path().join("bsf.token");
    let (_bsf, bsf, _) = cli::start_bsf(
        dir.path(),
        K,
        &[
            "--token-file",
            tf.to_str().expect("utf8"),
            "--naf",
            "naf.example.com",
        ],
    );
    let (srv, addr) = server(dir.path(), &format!("http://{bsf}"));
    let (identity, key) = device_psk(dir.path(), bsf, "naf.example.com", &[]);

    // A wrong key for a known identity, and an identity the BSF does not know: the same alert.
    let (ok, wrong) = client_handshake(ours_client_as(addr, &identity, KEY, &[]));
    assert!(!ok && wrong.contains("decrypt_error"), "{wrong}");
    let w = warn_line(&srv, "wrong key", |l| l.contains("wrong key"));
    assert!(
        w.contains(&identity) && w.contains("NAF naf.example.com"),
        "{w}"
    );
    // Again, the key now from the cache: still named.
    let (ok, _) = client_handshake(ours_client_as(addr, &identity, KEY, &[]));
    assert!(!ok);
    let w = warn_line(&srv, "wrong key (cached)", |l| l.contains("wrong key"));
    assert!(
        w.contains(&identity) && w.contains("NAF naf.example.com"),
        "{w}"
    );
    let bogus = "3GPP-bootstrapping.AAAAAAAAAAAAAAAAAAAAAA==@bsf.example.org";
    let (ok, unknown) = client_handshake(ours_client_as(addr, bogus, KEY, &[]));
    assert!(!ok && unknown.contains("decrypt_error"), "{unknown}");
    assert!(!unknown.contains("unknown_psk_identity"), "{unknown}");
    let w = warn_line(&srv, "unknown identity", |l| {
        l.contains("unknown PSK identity")
    });
    assert!(
        w.contains(bogus)
            && w.contains("NAF naf.example.com Ua id 010001c0a8")
            && w.contains("unknown to the BSF"),
        "{w}"
    );
    // Again: answered from the negative cache, same on the wire.
    let (ok, again) = client_handshake(ours_client_as(addr, bogus, KEY, &[]));
    assert!(!ok && again.contains("decrypt_error"), "{again}");
    warn_line(&srv, "negative cache", |l| l.contains("negative-cache"));

    // A suite the server does not have: WARN naming the mismatch.
    let (ok, _) = client_handshake(ours_client_as(
        addr,
        &identity,
        &key,
        &["--suite", "TLS_PSK_WITH_AES_128_GCM_SHA256"],
    ));
    assert!(!ok);
    warn_line(&srv, "suite mismatch", |l| l.contains("cipher suite"));
    // The right key still works.
    assert!(client_handshake(ours_client_as(addr, &identity, &key, &[])).0);
    let log = srv.transcript();
    assert!(
        !log.contains(&key) && !log.contains(KEY) && !log.contains(TOKEN),
        "{log}"
    );
}

#[test]
fn an_unreachable_key_api_is_internal_error_and_bad_identities_never_reach_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing listens there: every lookup that is made fails at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let (srv, addr) = server(dir.path(), &url);
    let valid = "3GPP-bootstrapping.AAAAAAAAAAAAAAAAAAAAAA==@bsf.example.org";
    let (ok, out) = client_handshake(ours_client_as(addr, valid, KEY, &[]));
    assert!(!ok && out.contains("internal_error"), "{out}");
    let w = warn_line(&srv, "unavailable", |l| {
        l.contains("key source unavailable")
    });
    assert!(
        w.contains(valid) && w.contains("cannot reach the BSF key API"),
        "{w}"
    );

    // Identities that cannot be GBA's are refused before any lookup: decrypt_error (the
    // random-key path), not the internal_error a lookup would have given.
    let long = format!("3GPP-bootstrapping.{}@bsf.example.org", "A".repeat(280));
    for (id, why) in [
        (long.as_str(), "longer than 255"),
        ("3GPP-bootstrapping-digest.AAAA@bsf.example.org", "digest"),
        ("AAAA@bsf.example.org", "bare B-TID"),
        ("3GPP-bootstrapping.x\u{7}y", "not a B-TID"),
    ] {
        let (ok, out) = client_handshake(ours_client_as(addr, id, KEY, &[]));
        assert!(!ok && out.contains("decrypt_error"), "{id}: {out}");
        let w = warn_line(&srv, why, |l| {
            l.contains("refused before any key lookup") && l.contains(why)
        });
        assert!(!w.contains('\u{7}'), "escaped: {w}");
    }
}
