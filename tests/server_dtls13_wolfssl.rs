//! DTLS 1.3 through the real bridge server (`simbridge server`, static key, `dtls` at its
//! default `"auto"`) with wolfSSL 5.9's clients (tests/peers/wolf13_peer.c) to a UDP echo
//! backend on loopback: data both ways, our HelloRetryRequest cookie, a Connection ID across
//! NAT rebindings, a graceful restart that the session survives, a wrong key refused, a
//! version-flexible client that gets DTLS 1.3, and a DTLS 1.2 client that still connects and
//! whose ServerHello carries the RFC 8446 §4.1.3 downgrade sentinel; and a key from a key API
//! that answers later (the ClientHello waits parked), asked under the TLS 1.3 Ua id; the
//! lifecycle's per-identity cap and idle timeout closing DTLS 1.3 sessions.
//!
//! The peer is `.peers/wolf13_peer`, or `$SIMBRIDGE_WOLF13_PEER` when set (a freshly built one).

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::launch::ours_bridge_server;
use support::recorder::Recorder;
use support::{Echo, Proc, Relay, RelayConfig, Stream, free_udp_port};

const IDENTITY: &str = "3GPP-bootstrapping.dev13@bsf.example";
const KEY: &str = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b";
const CCM8_13: &str = "TLS13-AES128-CCM-8-SHA256";

/// A server config with one static key, listening on `port`, `extra` lines added.
fn config(dir: &Path, port: u16, backend: SocketAddr, extra: &str) -> PathBuf {
    std::fs::write(dir.join("k.hex"), KEY).expect("key");
    let cfg = dir.join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nbackend = \"{backend}\"\n{extra}\n\
             [[keys.static]]\nidentity = \"{IDENTITY}\"\nkey_file = \"{}\"\n",
            dir.join("k.hex").display()
        ),
    )
    .expect("config");
    cfg
}

/// A running bridge server with one static key in front of an echo backend, `extra` lines in
/// its config: its directory, the backend, the server and its address.
fn serve(extra: &str) -> (tempfile::TempDir, Echo, Proc, SocketAddr) {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let cfg = config(dir.path(), free_udp_port(), echo.addr, extra);
    let (server, addr) = ours_bridge_server(&cfg);
    (dir, echo, server, addr)
}

/// `wolf13_peer client PORT` with our identity, `key` and `args`.
fn client(peer: &Path, port: u16, key: &str, args: &[&str]) -> Proc {
    let mut cmd = Command::new(peer);
    cmd.args(["client", &port.to_string(), "-k", key, "-i", IDENTITY])
        .args(args);
    Proc::spawn("wolf13", cmd)
}

/// Waits for the client's end: its exit status and transcript.
fn finish(mut c: Proc, within: Duration) -> (bool, String) {
    let st = c.wait_exit(within);
    let ok = st.is_some_and(|s| s.success());
    if st.is_none() {
        c.kill();
    }
    (ok, c.transcript())
}

fn assert_echoed(what: &str, (ok, text): &(bool, String), n: usize, version: &str) {
    assert!(ok, "{what}: {text}");
    assert!(
        text.contains(&format!("CONNECTED version={version}")),
        "{what}: {text}"
    );
    for i in 0..n {
        assert!(text.contains(&format!("RECV msg {i}")), "{what}: {text}");
    }
}

/// The random of the first DTLS 1.2 ServerHello the server sent through `relay` (plaintext
/// record of epoch 0: record header 13 bytes, handshake header 12, server_version 2, random 32).
fn server_hello_random(relay: &Recorder) -> Option<Vec<u8>> {
    relay.s2c().iter().find_map(|d| {
        (d.len() > 59 && d[0] == 22 && d[1..3] == [0xfe, 0xfd] && d[13] == 2)
            .then(|| d[27..59].to_vec())
    })
}

#[test]
fn a_wolfssl_dtls13_client_gets_through_the_bridge_server_to_the_backend_after_our_cookie() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (_dir, _echo, server, addr) = serve("");
    let relay = Relay::start(addr, RelayConfig::default());
    let c = client(&peer, relay.addr().port(), KEY, &["-l", CCM8_13, "-n", "3"]);
    let r = finish(c, Duration::from_secs(15));
    assert_echoed("1.3", &r, 3, "DTLSv1.3");
    server.expect_line(Stream::Stderr, Duration::from_secs(3), "session up", |l| {
        l.contains("session up, TLS_AES_128_CCM_8_SHA256") && l.contains(IDENTITY)
    });
    // ClientHello, the ClientHello again with our cookie (longer by the cookie extension),
    // then the client's Finished
    let sizes = relay.stats().c2s.sizes;
    assert!(sizes.len() >= 3, "{sizes:?}");
    assert!(
        sizes[1] >= sizes[0] + 40,
        "the second ClientHello echoes our cookie: {sizes:?}"
    );
}

#[test]
fn a_wolfssl_client_with_a_cid_keeps_its_session_across_nat_rebindings() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (_dir, _echo, server, addr) = serve("");
    // the NAT forgets its mapping between messages (not within the handshake: our cookie is
    // bound to the client's address, RFC 9147 5.1)
    let relay = Relay::start(addr, RelayConfig::default());
    let c = client(
        &peer,
        relay.addr().port(),
        KEY,
        &["-l", CCM8_13, "-n", "4", "-w", "600", "-c", "c11e"],
    );
    for i in 0..3 {
        c.expect_line(Stream::Stdout, Duration::from_secs(10), "an echo", |l| {
            l == format!("RECV msg {i}")
        });
        relay.rebind_at_next_datagram();
        if i > 0 {
            server.expect_line(Stream::Stderr, Duration::from_secs(3), "moved", |l| {
                l.contains("moved to") && l.contains("Connection ID")
            });
        }
    }
    let r = finish(c, Duration::from_secs(15));
    assert_echoed("cid", &r, 4, "DTLSv1.3");
    assert!(
        !r.1.contains("cid_tx=none"),
        "our CID in its records: {}",
        r.1
    );
    assert!(relay.stats().rebinds >= 3, "{:?}", relay.stats().rebinds);
    server.expect_line(Stream::Stderr, Duration::from_secs(3), "moved", |l| {
        l.contains("moved to") && l.contains("Connection ID")
    });
}

#[test]
fn a_dtls13_session_carries_on_over_a_graceful_restart_of_the_server() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    let state = dir.path().join("state");
    let port = free_udp_port();
    let cfg = config(
        dir.path(),
        port,
        echo.addr,
        &format!("state_dir = \"{}\"", state.display()),
    );
    let (mut server, _) = ours_bridge_server(&cfg);
    // two messages, 4 s apart: the server restarts in between
    let c = client(&peer, port, KEY, &["-l", CCM8_13, "-n", "2", "-w", "4000"]);
    c.expect_line(Stream::Stdout, Duration::from_secs(10), "first echo", |l| {
        l == "RECV msg 0"
    });
    assert_eq!(server.terminate(Duration::from_secs(5)), Some(0));
    let (next, _) = ours_bridge_server(&cfg);
    next.expect_line(Stream::Stderr, Duration::from_secs(3), "continued", |l| {
        l.contains("1 sessions continued from before the restart")
    });
    let r = finish(c, Duration::from_secs(15));
    assert_echoed("restart", &r, 2, "DTLSv1.3");
    assert_eq!(
        r.1.matches("CONNECTED").count(),
        1,
        "no second handshake: {}",
        r.1
    );
}

#[test]
fn a_wolfssl_client_with_another_key_is_refused_and_nothing_reaches_the_backend() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = UdpSocket::bind("127.0.0.1:0").expect("bind");
    backend
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let cfg = config(
        dir.path(),
        free_udp_port(),
        backend.local_addr().expect("addr"),
        "",
    );
    let (server, addr) = ours_bridge_server(&cfg);
    let wrong = "00".repeat(32);
    let c = client(&peer, addr.port(), &wrong, &["-l", CCM8_13, "-n", "1"]);
    let (ok, text) = finish(c, Duration::from_secs(15));
    assert!(!ok, "{text}");
    assert!(!text.contains("CONNECTED"), "{text}");
    assert!(text.contains("handshake failed"), "{text}");
    let why = server.expect_line(Stream::Stderr, Duration::from_secs(3), "refusal", |l| {
        l.contains("handshake failed: wrong key for identity")
    });
    // DTLS 1.3 finds the wrong key at the binder, before any Finished: the log says so
    assert!(why.contains("PSK binder did not verify"), "{why}");
    assert!(!why.contains(KEY) && !why.contains(&wrong), "{why}");
    let mut buf = [0u8; 64];
    assert!(
        backend.recv_from(&mut buf).is_err(),
        "nothing reached the backend"
    );
}

#[test]
fn a_version_flexible_wolfssl_client_gets_dtls13_from_the_default_server() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (_dir, _echo, _server, addr) = serve("");
    let c = client(
        &peer,
        addr.port(),
        KEY,
        &[
            "-V",
            "auto",
            "-l",
            "TLS13-AES128-CCM-8-SHA256:PSK-AES128-CCM-8",
            "-n",
            "2",
        ],
    );
    let r = finish(c, Duration::from_secs(15));
    assert_echoed("auto", &r, 2, "DTLSv1.3");
}

#[test]
fn a_wolfssl_dtls12_client_connects_to_the_default_server_and_sees_the_downgrade_sentinel() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (_dir, echo, _server, addr) = serve("");
    let rec = Recorder::start(addr);
    let c = client(
        &peer,
        rec.addr.port(),
        KEY,
        &["-V", "1.2", "-l", "PSK-AES128-CCM-8", "-n", "2"],
    );
    let r = finish(c, Duration::from_secs(15));
    assert_echoed("1.2", &r, 2, "DTLSv1.2");
    let random = server_hello_random(&rec).expect("a DTLS 1.2 ServerHello");
    assert_eq!(&random[24..], b"DOWNGRD\x01", "RFC 8446 4.1.3");

    // a server limited to DTLS 1.2 sends a plain random
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), free_udp_port(), echo.addr, "dtls = \"1.2\"");
    let (_server, addr) = ours_bridge_server(&cfg);
    let rec = Recorder::start(addr);
    let c = client(
        &peer,
        rec.addr.port(),
        KEY,
        &["-V", "1.2", "-l", "PSK-AES128-CCM-8", "-n", "1"],
    );
    let r = finish(c, Duration::from_secs(15));
    assert_echoed("1.2 only", &r, 1, "DTLSv1.2");
    let random = server_hello_random(&rec).expect("a DTLS 1.2 ServerHello");
    assert_ne!(&random[24..], b"DOWNGRD\x01");
}

#[test]
fn a_key_from_the_key_api_arrives_later_under_the_tls13_ua_id_and_the_session_comes_up() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = Echo::start();
    // the key comes 300 ms later: the ClientHello waits parked for it
    let (api, asked) = support::key_api::start(KEY, Duration::from_millis(300));
    let state = dir.path().join("state");
    let token = dir.path().join("token");
    std::fs::write(&token, "t0k3n\n").expect("token");
    #[cfg(unix)]
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("mode");
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"{}\"\nstate_dir = \"{}\"\n[keys]\n\
             bsf = \"http://{api}\"\ntoken_file = \"{}\"\nnaf = \"naf.example.org\"\n",
            free_udp_port(),
            echo.addr,
            state.display(),
            token.display()
        ),
    )
    .expect("config");
    let (server, addr) = ours_bridge_server(&cfg);
    // through a relay that counts the datagrams each way
    let relay = Relay::start(addr, RelayConfig::default());
    let mut cmd = Command::new(&peer);
    cmd.args(["client", &relay.addr().port().to_string(), "-k", KEY])
        .args(["-i", GBA_IDENTITY, "-l", CCM8_13, "-n", "2", "-w", "1500"]);
    let c = Proc::spawn("wolf13", cmd);
    c.expect_line(Stream::Stdout, Duration::from_secs(10), "first echo", |l| {
        l == "RECV msg 0"
    });
    // the status socket shows the DTLS 1.3 session with its suite and Ua id
    let relay_before = relay.stats();
    let o = Command::new(support::bin())
        .args([
            "status",
            "--state",
            state.to_str().expect("utf-8"),
            "--json",
        ])
        .output()
        .expect("simbridge status");
    let v = support::json_out(&o);
    let sess = &v["server"]["sessions"][0];
    assert_eq!(sess["state"], "established", "{v}");
    assert_eq!(sess["suite"], "TLS_AES_128_CCM_8_SHA256", "{v}");
    assert_eq!(sess["ua_id"], "0100000007", "{v}");
    assert_eq!(sess["identity"], GBA_IDENTITY, "{v}");
    // its bytes and datagrams: all the server sent after its HelloRetryRequest (stateless, in
    // no connection's counters) crossed the relay before the echo did; of the client's, the
    // ClientHello with our cookie on (a copy sent while it waited parked for its key is not
    // counted: no connection existed yet)
    let (before, after) = (relay_before, relay.stats());
    assert_eq!(
        before.s2c.datagrams, after.s2c.datagrams,
        "quiet while read"
    );
    let n = |k: &str| sess[k].as_u64().expect("a count");
    assert_eq!(n("datagrams_sent"), after.s2c.datagrams - 1, "{v}");
    let hrr = after.s2c.sizes[0] as u64;
    assert_eq!(n("bytes_sent"), after.s2c.bytes - hrr, "{v}");
    let first_hello = after.c2s.sizes[0] as u64;
    assert!(
        n("datagrams_received") >= 3,
        "ClientHello, Finished, msg 0: {v}"
    );
    assert!(n("datagrams_received") < after.c2s.datagrams, "{v}");
    assert!(
        n("bytes_received") <= after.c2s.bytes - first_hello && n("bytes_received") > 3 * 13,
        "{v}"
    );
    assert_eq!(sess["counters"]["dtls13"], 1, "{v}");
    let r = finish(c, Duration::from_secs(15));
    assert_echoed("key API", &r, 2, "DTLSv1.3");
    // Ks_NAF under the Ua security protocol id of TLS 1.3 (TS 33.220: 01 00 00 00 07)
    assert_eq!(*asked.lock().expect("lock"), vec!["0100000007".to_string()]);
    server.expect_line(Stream::Stderr, Duration::from_secs(3), "session up", |l| {
        l.contains("session up, TLS_AES_128_CCM_8_SHA256")
    });
}

/// A GBA identity: the key API is asked for its B-TID.
const GBA_IDENTITY: &str =
    "3GPP-bootstrapping.AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";

#[test]
fn a_second_dtls13_session_of_one_identity_evicts_the_first_with_close_notify() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (_dir, _echo, server, addr) = serve("max_per_identity = 1");
    let first = client(
        &peer,
        addr.port(),
        KEY,
        &["-l", CCM8_13, "-n", "2", "-w", "3000"],
    );
    first.expect_line(Stream::Stdout, Duration::from_secs(10), "first echo", |l| {
        l == "RECV msg 0"
    });
    let second = client(&peer, addr.port(), KEY, &["-l", CCM8_13, "-n", "1"]);
    assert_echoed(
        "second",
        &finish(second, Duration::from_secs(10)),
        1,
        "DTLSv1.3",
    );
    server.expect_line(
        Stream::Stderr,
        Duration::from_secs(3),
        "per-identity eviction",
        |l| l.contains("evicted (too many connections for its identity)"),
    );
    // the first one's next message finds its session closed
    let (ok, text) = finish(first, Duration::from_secs(15));
    assert!(!ok && !text.contains("RECV msg 1"), "{text}");
}

#[test]
fn a_quiet_dtls13_session_is_closed_at_the_idle_timeout() {
    let Some(peer) = support::wolf13::peer() else {
        return;
    };
    let (_dir, _echo, server, addr) = serve("idle_timeout_secs = 1");
    let c = client(
        &peer,
        addr.port(),
        KEY,
        &["-l", CCM8_13, "-n", "2", "-w", "5000"],
    );
    c.expect_line(Stream::Stdout, Duration::from_secs(10), "first echo", |l| {
        l == "RECV msg 0"
    });
    server.expect_line(
        Stream::Stderr,
        Duration::from_secs(4),
        "idle eviction",
        |l| l.contains("evicted (idle timeout)"),
    );
    let (ok, text) = finish(c, Duration::from_secs(15));
    assert!(!ok && !text.contains("RECV msg 1"), "{text}");
}
