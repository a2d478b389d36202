//! SIGHUP on `simbridge server`, with real processes: a changed file applies its static keys
//! from the next handshake while an established session carries on, and names what only a
//! restart applies; a broken file changes nothing and the server runs on.

mod gba_support;
mod support;

use gba_support::cli::write_private;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::launch::{
    client_handshake, expect_connected, gba_server_config, ours_bridge_server, ours_client_as,
};
use support::{Proc, Stream};

const K1: &str = "000102030405060708090a0b0c0d0e0f";
const K1_NEW: &str = "0f0e0d0c0b0a09080706050403020100";
const K2: &str = "101112131415161718191a1b1c1d1e1f";

fn config(dir: &Path, backend: SocketAddr, statics: &[&str], extra: &str) -> String {
    let mut s = format!(
        "listen = \"127.0.0.1:0\"\nbackend = \"{backend}\"\nstate_dir = \"{}\"\n{extra}\n",
        dir.join("state").display()
    );
    for id in statics {
        s.push_str(&format!(
            "[[keys.static]]\nidentity = \"{id}\"\nkey_file = \"{}\"\n",
            dir.join(format!("{id}.key")).display()
        ));
    }
    s
}

fn hup(p: &Proc) {
    let ok = Command::new("kill")
        .args(["-HUP", &p.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -HUP");
}

fn relayed(backend: &UdpSocket, c: &mut Proc, text: &str) {
    c.write_line(text);
    let mut buf = [0u8; 256];
    let (n, _) = backend
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("{text:?} not relayed: {e}\n{}", c.transcript()));
    assert_eq!(&buf[..n], format!("{text}\n").as_bytes());
}

#[test]
fn sighup_applies_static_keys_live_names_the_rest_and_survives_a_broken_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = UdpSocket::bind("127.0.0.1:0").expect("backend");
    backend
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let baddr = backend.local_addr().expect("addr");
    write_private(&dir.path().join("dev1.key"), K1);
    write_private(&dir.path().join("dev2.key"), K2);
    let cfg = dir.path().join("server.toml");
    std::fs::write(&cfg, config(dir.path(), baddr, &["dev1"], "")).expect("config");
    let (srv, addr) = ours_bridge_server(&cfg);

    let mut c1 = ours_client_as(addr, "dev1", K1, &[]);
    expect_connected(&c1, Duration::from_secs(6));
    relayed(&backend, &mut c1, "before the reload");
    let (ok, out) = client_handshake(ours_client_as(addr, "dev2", K2, &[]));
    assert!(!ok, "dev2 is not known yet: {out}");

    // A second identity, dev1's key replaced, and a limit that only a restart applies.
    write_private(&dir.path().join("dev1.key"), K1_NEW);
    std::fs::write(
        &cfg,
        config(
            dir.path(),
            baddr,
            &["dev1", "dev2"],
            "max_connections = 500",
        ),
    )
    .expect("config");
    hup(&srv);
    let applied = srv.expect_line(Stream::Stderr, Duration::from_secs(5), "applied", |l| {
        l.contains("SIGHUP") && l.contains("applied")
    });
    assert!(
        applied.contains("keys.static (2 identities)")
            && applied.contains("the established sessions carry on"),
        "{applied}"
    );
    let restart = srv.expect_line(Stream::Stderr, Duration::from_secs(5), "restart", |l| {
        l.contains("SIGHUP") && l.contains("restart")
    });
    assert!(
        restart.contains("WARN")
            && restart.contains("max_connections changed: a restart applies it"),
        "{restart}"
    );
    assert!(!restart.contains("keys.static"), "{restart}");

    // The session made before the reload carries on with its key.
    relayed(&backend, &mut c1, "after the reload");
    // New handshakes use the new keys.
    let mut c2 = ours_client_as(addr, "dev2", K2, &[]);
    expect_connected(&c2, Duration::from_secs(6));
    relayed(&backend, &mut c2, "dev2 after the reload");
    let (ok, out) = client_handshake(ours_client_as(addr, "dev1", K1, &[]));
    assert!(!ok, "dev1's old key no longer opens a session: {out}");
    let mut c3 = ours_client_as(addr, "dev1", K1_NEW, &[]);
    expect_connected(&c3, Duration::from_secs(6));
    relayed(&backend, &mut c3, "dev1 with its new key");

    // A broken file: an error that names it, nothing changes, the server runs on.
    std::fs::write(&cfg, "listen = 5\n").expect("config");
    hup(&srv);
    let err = srv.expect_line(Stream::Stderr, Duration::from_secs(5), "error", |l| {
        l.contains("SIGHUP") && l.contains("ERROR")
    });
    assert!(
        err.contains(&cfg.display().to_string())
            && err.contains("listen")
            && err.contains("nothing changed"),
        "{err}"
    );
    relayed(&backend, &mut c1, "after the broken reload");
    relayed(&backend, &mut c2, "dev2 still");
    let mut c4 = ours_client_as(addr, "dev2", K2, &[]);
    expect_connected(&c4, Duration::from_secs(6));
    relayed(&backend, &mut c4, "a new session after the broken reload");

    // Unchanged file: said so.
    std::fs::write(
        &cfg,
        config(
            dir.path(),
            baddr,
            &["dev1", "dev2"],
            "max_connections = 500",
        ),
    )
    .expect("config");
    hup(&srv);
    let same = srv.expect_line(
        Stream::Stderr,
        Duration::from_secs(5),
        "restart again",
        |l| l.contains("SIGHUP"),
    );
    assert!(
        same.contains("max_connections changed"),
        "still pending a restart: {same}"
    );
}

#[test]
fn sighup_points_the_key_api_at_another_bsf_from_the_next_lookup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    write_private(&token, "reload-token-0123456789");
    // Nothing listens at the first URL; the second accepts and never answers, so the lookup's
    // error names the URL it went to.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let keys = "naf = \"naf.example.com\"";
    let cfg = gba_server_config(dir.path(), "server.toml", &dead_url, &token, keys);
    let (srv, addr) = ours_bridge_server(&cfg);
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(&cfg, text.replace(&dead_url, &silent_url)).expect("config");
    hup(&srv);
    let applied = srv.expect_line(Stream::Stderr, Duration::from_secs(5), "applied", |l| {
        l.contains("SIGHUP") && l.contains("applied")
    });
    assert!(
        applied.contains(&format!("keys.bsf (key API now {silent_url})")),
        "{applied}"
    );
    let btid = "3GPP-bootstrapping.AAAAAAAAAAAAAAAAAAAAAA==@bsf.example.org";
    let _c = ours_client_as(addr, btid, K1, &[]);
    let w = srv.expect_line(Stream::Stderr, Duration::from_secs(20), "lookup", |l| {
        l.contains("WARN") && l.contains(btid)
    });
    assert!(
        w.contains(&format!("no answer from the key API at {silent_url}/")),
        "the lookup went to the new BSF: {w}"
    );
    drop(silent);
}
