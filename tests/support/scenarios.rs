//! The interop scenarios, written once over [`PeerLauncher`] and run against every peer: both
//! roles on every suite the peer has, data both ways and close_notify, a wrong PSK on either
//! side, a handshake that must recover through a lossy relay, GBA mode's suite order, packed
//! handshake records, and (for peers that have it) the psk_identity_hint. [`interop_tests!`]
//! and [`hint_tests!`] make the `#[test]` functions of one peer's test file; the checks shared
//! with other tests are public here too.

use std::net::SocketAddr;
use std::time::Duration;

use super::launch::{expect_connected, ours_client, ours_server};
use super::peer_launcher::{ClientSetup, PeerLauncher, ServerSetup};
use super::peers::require_peer;
use super::process::{Proc, Stream};
use super::relay::{Relay, RelayConfig};
use super::{PSK_HEX, WRONG_PSK_HEX};

const T: Duration = Duration::from_secs(10);
const CCM8: &str = "TLS_PSK_WITH_AES_128_CCM_8";

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Our client → the peer's server: handshake on `iana` (a full one), data both ways, our
/// close_notify seen by the peer, our client exits 0.
pub fn ours_client_to_peer(p: &dyn PeerLauncher, iana: &str) {
    if !require_peer(p.peer()) {
        return;
    }
    assert!(p.has_suite(iana), "{:?} has no {iana}", p.peer());
    let mut srv = p.server(ServerSetup::Suite(iana));
    let mut cli = ours_client(loopback(srv.port()), PSK_HEX, &["--suite", iana]);
    let ev = expect_connected(&cli, T);
    assert_eq!(ev["suite"], iana, "negotiated suite");
    assert_eq!(ev["resumed"], false);
    srv.exchange(&mut cli);
    cli.close_stdin();
    srv.saw_close_notify();
    let st = cli.wait_exit(T).expect("our client exits after close");
    assert!(
        st.success(),
        "our client exit: {st:?}\n{}",
        cli.transcript()
    );
}

/// The peer's client → our server (echo): handshake on `iana`, two lines echoed, the peer's
/// close_notify seen by our server.
pub fn peer_client_to_ours(p: &dyn PeerLauncher, iana: &str) {
    if !require_peer(p.peer()) {
        return;
    }
    assert!(p.has_suite(iana), "{:?} has no {iana}", p.peer());
    let lines = ["one", "two"];
    let (srv, addr) = ours_server(PSK_HEX, &["--suite", iana]);
    let mut cli = p.client(addr, iana, PSK_HEX, &lines, ClientSetup::Normal);
    cli.handshake_done(iana, T);
    let ev = expect_connected(&srv, T);
    assert_eq!(ev["suite"], iana);
    assert_eq!(ev["identity"], "client1");
    cli.echoes(&lines);
    cli.close();
    srv.expect_line(Stream::Stderr, T, "closed by close_notify", |l| {
        l.contains("\"closed\"") && l.contains("close_notify")
    });
    cli.finish();
}

/// GBA mode offers ECDHE_PSK AEAD first; a peer without those suites must give PSK CCM_8.
pub fn ours_client_ecdhe_first_gets_psk_ccm_8(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    let mut srv = p.server(ServerSetup::WithoutEcdheAead);
    let mut cli = ours_client_ecdhe_first_settles_on_psk_ccm_8(srv.port(), T);
    cli.close_stdin();
    srv.saw_close_notify();
    cli.wait_exit(T).expect("exit");
}

/// Our client with a wrong PSK against the peer's server fails clearly (see
/// [`ours_client_wrong_psk_fails_clearly`]).
pub fn ours_client_wrong_psk(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    let srv = p.server(ServerSetup::WrongPsk);
    ours_client_wrong_psk_fails_clearly(srv.port(), p.wrong_psk_give_up_ms(), T);
}

/// The peer's client with a wrong PSK never connects, and our server never reports it.
pub fn peer_client_wrong_psk(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &[]);
    let mut cli = p.client(addr, CCM8, WRONG_PSK_HEX, &["x"], ClientSetup::WrongPsk);
    cli.never_connects();
    assert_ours_server_refused(&srv);
}

/// Our client → the peer's lossy relay ([`PeerLauncher::lossy`]) → the peer's server: the
/// ClientHello with cookie and the server's last flight are dropped, datagrams reordered (and
/// duplicated where the peer copes); the handshake completes by retransmission.
pub fn ours_client_through_lossy_relay(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    let mut srv = p.server(ServerSetup::Suite(CCM8));
    let relay = Relay::start(loopback(srv.port()), p.lossy());
    let mut cli = ours_client(relay.addr(), PSK_HEX, &["--retransmit-ms", "300"]);
    expect_connected(&cli, Duration::from_secs(20));
    srv.receives(&mut cli, "through the relay");
    assert_ours_client_recovered(&mut cli, &relay, T);
}

/// The peer's client → lossy relay → our server: completes by retransmission, then echoes.
pub fn peer_client_through_lossy_relay(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    let lines = ["lossy echo"];
    let (srv, addr) = ours_server(PSK_HEX, &["--retransmit-ms", "300"]);
    let relay = Relay::start(addr, p.lossy());
    let mut cli = p.client(relay.addr(), CCM8, PSK_HEX, &lines, ClientSetup::Normal);
    cli.handshake_done(CCM8, Duration::from_secs(20));
    expect_connected(&srv, T);
    cli.echoes(&lines);
    let r = relay.stats();
    assert!(r.dropped() >= 2, "relay dropped {r:?}");
    assert!(
        r.c2s.datagrams > 3 || r.s2c.datagrams > 3,
        "retransmissions crossed the relay: {r:?}"
    );
}

/// Our server packing ServerHello, ServerKeyExchange and ServerHelloDone into one record
/// (`--pack-handshake-records`) still serves the peer's client; the default (one record per
/// message) costs exactly two record headers more.
pub fn peer_client_ours_server_packed_records(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    let connect = |a| p.client(a, CCM8, PSK_HEX, &["one"], ClientSetup::Normal);
    let packed = ours_server_first_flight(true, CCM8, connect, T);
    let unpacked = ours_server_first_flight(false, CCM8, connect, T);
    assert_packing_saves_two_record_headers(unpacked, packed);
}

/// psk_identity_hint on: the peer's client reports the hint our server sends
/// (ServerKeyExchange).
pub fn ours_server_hint_reaches_peer_client(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    assert!(p.has_hint(), "{:?} has no psk_identity_hint", p.peer());
    let hint = "3GPP-bootstrapping";
    let (srv, addr) = ours_server(PSK_HEX, &["--hint", hint]);
    let mut cli = p.client(addr, CCM8, PSK_HEX, &[], ClientSetup::Normal);
    cli.saw_hint(hint);
    expect_connected(&srv, T);
    cli.close();
    cli.proc().wait_exit(T).expect("the peer client exits");
}

/// A peer server that sends a psk_identity_hint: our client still connects, its data gets
/// through and its close_notify is seen.
pub fn ours_client_accepts_peer_server_hint(p: &dyn PeerLauncher) {
    if !require_peer(p.peer()) {
        return;
    }
    assert!(p.has_hint(), "{:?} has no psk_identity_hint", p.peer());
    let mut srv = p.server(ServerSetup::Hint("3GPP-bootstrapping"));
    let mut cli = ours_client(loopback(srv.port()), PSK_HEX, &[]);
    expect_connected(&cli, T);
    srv.receives(&mut cli, "with hint");
    cli.close_stdin();
    srv.saw_close_notify();
    assert!(cli.wait_exit(T).expect("exit").success());
}

/// The `#[test]` functions of every scenario above but the hint ones, for one peer (an
/// expression of a [`PeerLauncher`] type), in the test file that invokes it.
#[allow(unused_macros)]
macro_rules! interop_tests {
    ($peer:expr) => {
        #[test]
        fn ours_client_peer_server_psk_aes_128_ccm_8() {
            crate::support::scenarios::ours_client_to_peer(&$peer, "TLS_PSK_WITH_AES_128_CCM_8");
        }
        #[test]
        fn ours_client_peer_server_psk_aes_128_ccm() {
            crate::support::scenarios::ours_client_to_peer(&$peer, "TLS_PSK_WITH_AES_128_CCM");
        }
        #[test]
        fn ours_client_peer_server_psk_aes_128_gcm_sha256() {
            crate::support::scenarios::ours_client_to_peer(
                &$peer,
                "TLS_PSK_WITH_AES_128_GCM_SHA256",
            );
        }
        #[test]
        fn peer_client_ours_server_psk_aes_128_ccm_8() {
            crate::support::scenarios::peer_client_to_ours(&$peer, "TLS_PSK_WITH_AES_128_CCM_8");
        }
        #[test]
        fn peer_client_ours_server_psk_aes_128_ccm() {
            crate::support::scenarios::peer_client_to_ours(&$peer, "TLS_PSK_WITH_AES_128_CCM");
        }
        #[test]
        fn peer_client_ours_server_psk_aes_128_gcm_sha256() {
            crate::support::scenarios::peer_client_to_ours(
                &$peer,
                "TLS_PSK_WITH_AES_128_GCM_SHA256",
            );
        }
        #[test]
        fn ours_client_offering_ecdhe_psk_first_gets_psk_ccm_8_from_peer() {
            crate::support::scenarios::ours_client_ecdhe_first_gets_psk_ccm_8(&$peer);
        }
        #[test]
        fn ours_client_wrong_psk_against_peer_fails_clearly() {
            crate::support::scenarios::ours_client_wrong_psk(&$peer);
        }
        #[test]
        fn peer_client_wrong_psk_rejected_by_ours() {
            crate::support::scenarios::peer_client_wrong_psk(&$peer);
        }
        #[test]
        fn ours_client_peer_server_through_lossy_relay() {
            crate::support::scenarios::ours_client_through_lossy_relay(&$peer);
        }
        #[test]
        fn peer_client_ours_server_through_lossy_relay() {
            crate::support::scenarios::peer_client_through_lossy_relay(&$peer);
        }
        #[test]
        fn peer_client_ours_server_packed_records() {
            crate::support::scenarios::peer_client_ours_server_packed_records(&$peer);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use interop_tests;

/// The psk_identity_hint `#[test]` functions, for a peer that has the hint
/// ([`PeerLauncher::has_hint`]).
#[allow(unused_macros)]
macro_rules! hint_tests {
    ($peer:expr) => {
        #[test]
        fn ours_server_hint_reaches_peer_client() {
            crate::support::scenarios::ours_server_hint_reaches_peer_client(&$peer);
        }
        #[test]
        fn ours_client_accepts_peer_server_hint() {
            crate::support::scenarios::ours_client_accepts_peer_server_hint(&$peer);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use hint_tests;

/// Our client with a wrong PSK against a peer server on `port`: it must exit with the
/// peer-unavailable code (69, EX_UNAVAILABLE) and a clear message, never reporting a connection.
pub fn ours_client_wrong_psk_fails_clearly(port: u16, give_up_ms: u32, wait: Duration) {
    let mut cli = ours_client(
        format!("127.0.0.1:{port}")
            .parse()
            .expect("loopback address"),
        WRONG_PSK_HEX,
        &["--timeout-ms", &give_up_ms.to_string()],
    );
    let st = cli.wait_exit(wait).expect("our client gives up");
    let out = cli.transcript();
    assert_eq!(st.code(), Some(69), "peer-unavailable exit code:\n{out}");
    assert!(
        !out.contains("\"connected\""),
        "connected with a wrong PSK:\n{out}"
    );
    assert!(
        out.contains("handshake failed") || out.contains("handshake timed out"),
        "a clear error:\n{out}"
    );
}

/// Our server must not have reported a connection (a peer client used a wrong PSK).
pub fn assert_ours_server_refused(srv: &Proc) {
    assert!(
        srv.wait_line(Stream::Stderr, Duration::from_millis(300), |l| l
            .contains("\"connected\""))
            .is_none(),
        "our server accepted a wrong PSK:\n{}",
        srv.transcript()
    );
}

/// After our client's data went through `relay`: closes the client, and checks that the relay
/// really dropped datagrams and that our client's statistics show it retransmitted.
pub fn assert_ours_client_recovered(cli: &mut Proc, relay: &Relay, wait: Duration) {
    cli.close_stdin();
    let st = cli.wait_exit(wait).expect("exit");
    assert!(st.success(), "our client failed:\n{}", cli.transcript());
    let stats_line = cli.expect_line(Stream::Stderr, wait, "stats", |l| l.contains("\"stats\""));
    let stats: serde_json::Value = serde_json::from_str(&stats_line).expect("stats JSON");
    let r = relay.stats();
    assert!(r.dropped() >= 2, "relay dropped {r:?}");
    assert!(
        stats["retransmissions"].as_u64().unwrap_or(0) >= 1,
        "our client retransmitted: {stats}"
    );
}

/// Our client offering the GBA-mode order (ECDHE_PSK AEAD suites first, then PSK CCM_8) to a
/// peer server on `port` that has no ECDHE_PSK AEAD suite: it must settle on PSK CCM_8.
/// Returns the connected client, still running.
pub fn ours_client_ecdhe_first_settles_on_psk_ccm_8(port: u16, wait: Duration) -> Proc {
    let cli = ours_client(
        format!("127.0.0.1:{port}")
            .parse()
            .expect("loopback address"),
        PSK_HEX,
        &[
            "--suite",
            "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
            "--suite",
            "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
            "--suite",
            "TLS_PSK_WITH_AES_128_CCM_8",
        ],
    );
    let ev = expect_connected(&cli, wait);
    assert_eq!(ev["suite"], "TLS_PSK_WITH_AES_128_CCM_8");
    cli
}

/// Our server on `iana` with a psk_identity_hint (so its first flight holds ServerHello,
/// ServerKeyExchange and ServerHelloDone), packing them into one record when `pack`, serves
/// the peer client that `connect` starts towards the given address (a pass-through relay in
/// front of our server). Waits until our server reports the handshake complete (the peer's
/// Finished verified: it took our flight) and returns the size of that first flight's datagram.
pub fn ours_server_first_flight<P>(
    pack: bool,
    iana: &str,
    connect: impl FnOnce(std::net::SocketAddr) -> P,
    wait: Duration,
) -> usize {
    let mut args = vec!["--suite", iana, "--hint", "h"];
    if pack {
        args.push("--pack-handshake-records");
    }
    let (srv, addr) = ours_server(PSK_HEX, &args);
    let relay = Relay::start(addr, RelayConfig::default());
    let _peer = connect(relay.addr());
    let ev = expect_connected(&srv, wait);
    assert_eq!(ev["suite"], iana, "pack={pack}");
    let r = relay.stats();
    // s2c: HelloVerifyRequest, then the first flight (one datagram at the default MTU)
    *r.s2c
        .sizes
        .get(1)
        .unwrap_or_else(|| panic!("no first flight: {r:?}"))
}

/// The first-flight sizes of [`ours_server_first_flight`] unpacked and packed: three messages
/// in three records cost two record headers (26 bytes) more than in one.
pub fn assert_packing_saves_two_record_headers(unpacked: usize, packed: usize) {
    assert_eq!(
        unpacked,
        packed + 26,
        "one record per message: 2 x 13 B more than one packed record"
    );
}
