//! The server's connection lifecycle with real processes (`simbridge server` with static keys,
//! `simbridge dtls client`s): a quiet connection is closed with close_notify after the idle
//! timeout, and a second connection of one identity evicts the first (a gateway that rebooted
//! without CID); both logged at INFO with their reason.

mod support;

use std::time::{Duration, Instant};
use support::launch::{ours_bridge_server, ours_client_as};
use support::{Proc, Stream, free_udp_port};

const KEY: &str = "000102030405060708090a0b0c0d0e0f";

fn connected(c: &Proc) {
    c.expect_line(Stream::Stderr, Duration::from_secs(5), "connected", |l| {
        l.contains("\"connected\"")
    });
}

fn closed_by_server(c: &Proc, within: Duration) -> String {
    c.expect_line(Stream::Stderr, within, "closed by the server", |l| {
        l.contains("\"closed\"")
    })
}

#[test]
fn idle_connections_and_duplicate_identities_are_evicted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("k.hex"), KEY).expect("key");
    std::fs::write(d.join("k2.hex"), KEY).expect("key");
    let cfg = d.join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:{}\"\nidle_timeout_secs = 3\nmax_per_identity = 1\n\
             [[keys.static]]\nidentity = \"dev1\"\nkey_file = \"{}\"\n\
             [[keys.static]]\nidentity = \"dev2\"\nkey_file = \"{}\"\n",
            free_udp_port(),
            free_udp_port(),
            d.join("k.hex").display(),
            d.join("k2.hex").display()
        ),
    )
    .expect("config");
    let (server, addr) = ours_bridge_server(&cfg);

    // dev1 twice: the second connection evicts the first.
    let first = ours_client_as(addr, "dev1", KEY, &[]);
    connected(&first);
    let second = ours_client_as(addr, "dev1", KEY, &[]);
    connected(&second);
    let why = closed_by_server(&first, Duration::from_secs(3));
    assert!(why.contains("close_notify"), "{why}");
    server.expect_line(
        Stream::Stderr,
        Duration::from_secs(2),
        "per-identity INFO",
        |l| l.contains("INFO") && l.contains("evicted (too many connections for its identity)"),
    );

    // dev2 stays quiet: closed after the 3 s idle timeout, not before.
    let start = Instant::now();
    let quiet = ours_client_as(addr, "dev2", KEY, &[]);
    connected(&quiet);
    let why = closed_by_server(&quiet, Duration::from_secs(8));
    let after = start.elapsed();
    assert!(why.contains("close_notify"), "{why}");
    assert!(after >= Duration::from_secs(3), "closed after {after:?}");
    server.expect_line(Stream::Stderr, Duration::from_secs(2), "idle INFO", |l| {
        l.contains("INFO") && l.contains("evicted (idle timeout)")
    });
    // The second dev1 was idle as long: closed as well, by the idle rule.
    let why = closed_by_server(&second, Duration::from_secs(5));
    assert!(why.contains("close_notify"), "{why}");
}
