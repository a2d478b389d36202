//! The gateway's DTLS 1.3 routes against wolfSSL 5.9's DTLS 1.3 server (tests/peers/
//! wolf13_peer.c, built by scripts/setup.d/30-cid-peers.sh), with real processes: `simbridge
//! bsf` for the demo subscriber, `simbridge bridge` on a software USIM in GBA_U with a route
//! `dtls = "1.3"`, and a local UDP client sending through the gateway; wolfSSL echoes.
//!
//! wolfSSL takes its PSK when it starts, so the key is made first, the way a NAF gets it:
//! `simbridge psk --tls13` on the gateway's card and state directory bootstraps and derives
//! Ks_ext_NAF under the TLS 1.3 Ua id (01 00 00 00 07); the gateway then finds that context
//! in its state directory (no AKA of its own) and has the card derive the same key.
//!
//! Shown: the handshake and data with a Connection ID (wolfSSL's 4-byte CID in our records,
//! ours empty); a gateway restart that continues from its state export with no handshake and
//! no AKA (the card's SQN state unchanged, wolfSSL sees one connection); KeyUpdates of ours
//! every 2 records, each answered by wolfSSL's own (update_requested), with every echo back; a
//! key wolfSSL does not hold refused at its binder and read as a rejected key (a new bootstrap).

mod gba_support;
mod support;

use gba_support::cli::start_bsf;
use gba_support::{K, profile_text};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::wolf13::Wolf13Server;
use support::{Proc, Relay, RelayConfig, Stream, json, ours, peer_bin, run};

const NAF: &str = "naf.example.com";

/// A BSF, the gateway's card and the key wolfSSL needs: (BSF guard, BSF URL, card, state dir,
/// identity, key hex).
struct Keyed {
    _bsf: support::KillOnDrop,
    bsf: String,
    card: std::path::PathBuf,
    state: std::path::PathBuf,
    identity: String,
    key: String,
}

fn keyed(dir: &Path) -> Keyed {
    // the BSF's key API is not used (wolfSSL has its key), but it must have credentials
    let token = dir.join("token");
    gba_support::cli::write_private(&token, "dtls13-token-0123456789");
    let (bsf, addr, _) = start_bsf(
        dir,
        K,
        &["--token-file", token.to_str().expect("utf8"), "--naf", NAF],
    );
    let card = dir.join("gateway-card.toml");
    std::fs::write(&card, profile_text(K, "000000000000", true)).expect("card");
    let state = dir.join("gw-state");
    let url = format!("http://{addr}");
    let (code, out, err) = run(&[
        "psk",
        "--naf",
        NAF,
        "--tls13",
        "--reveal",
        "--json",
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        &url,
        "--state",
        state.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "simbridge psk --tls13: {err}");
    let v = json(&out);
    Keyed {
        _bsf: bsf,
        bsf: url,
        identity: v["identity"].as_str().expect("identity").to_string(),
        key: v["psk"].as_str().expect("psk").to_string(),
        card,
        state,
    }
}

/// The gateway's file: one `dtls = "1.3"` route to `upstream`, `session` lines added.
fn gateway_config(
    dir: &Path,
    k: &Keyed,
    upstream: SocketAddr,
    session: &str,
) -> std::path::PathBuf {
    let p = dir.join("gateway.toml");
    std::fs::write(
        &p,
        format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\n[gba]\nbsf = \"{}\"\n[session]\n{session}\n\
             [[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\nnaf = \"{NAF}\"\npsk = \"gba\"\ndtls = \"1.3\"\n",
            k.state.display(),
            k.card.display(),
            k.bsf,
        ),
    )
    .expect("config");
    p
}

/// `simbridge bridge --config cfg`, ready: the process and its local address.
fn gateway(cfg: &Path) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(ours());
    cmd.args(["bridge", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "info");
    let gw = Proc::spawn("gateway", cmd);
    let ready = gw.expect_line(Stream::Stdout, Duration::from_secs(20), "listening", |_| {
        true
    });
    let local = ready
        .split_whitespace()
        .last()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {ready:?}"));
    (gw, local)
}

/// Sends `msg` through the gateway and waits for wolfSSL's echo; on failure, ends wolfSSL and
/// fails with both sides' output.
fn echo(local: SocketAddr, msg: &str, gw: &Proc, srv: &mut Peer) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.send_to(msg.as_bytes(), local).expect("send");
    let mut buf = [0u8; 256];
    match s.recv_from(&mut buf) {
        Ok((n, _)) if &buf[..n] == msg.as_bytes() => {}
        got => {
            srv.stop();
            let mut err = String::new();
            if let Some(mut e) = srv.0.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!(
                "no echo of {msg} ({got:?})\nwolfSSL: {}{err}\ngateway:\n{}",
                srv.0.rest(),
                gw.transcript()
            );
        }
    }
}

/// wolfSSL's server, killed when the test ends however it ends.
struct Peer(Wolf13Server);

impl Peer {
    fn start(peer: &Path, k: &Keyed, extra: &[&str]) -> Peer {
        Peer(
            Wolf13Server::with_psk(
                peer,
                &k.key,
                &k.identity,
                "TLS13-AES128-CCM-8-SHA256",
                extra,
            )
            .expect("start wolf13_peer server"),
        )
    }

    /// What it printed: it ends after its echoes when close_notify comes, which a gateway
    /// that exports its session at shutdown does not send, so it is ended after a while.
    fn output(mut self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(8);
        while std::time::Instant::now() < deadline {
            if matches!(self.0.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
        let mut err = String::new();
        if let Some(mut e) = self.0.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        format!("{}{err}", self.0.rest())
    }

    fn stop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn a_dtls13_route_with_a_cid_carries_data_and_a_restart_continues_with_no_handshake_and_no_aka() {
    let Some(peer) = peer_bin("wolf13_peer") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let k = keyed(dir.path());
    let mut srv = Peer::start(&peer, &k, &["-n", "4", "-c", "c1d5e7f0"]);
    // wolfSSL talks to the first address it hears from; the relay's outbound socket stays the
    // same while the restarted gateway gets a new source port
    let relay = Relay::start(
        SocketAddr::from(([127, 0, 0, 1], srv.0.port)),
        RelayConfig::default(),
    );
    let cfg = gateway_config(dir.path(), &k, relay.addr(), "");
    let card_state = k.card.with_extension("toml.state");

    let (mut gw, local) = gateway(&cfg);
    echo(local, "msg 0", &gw, &mut srv);
    echo(local, "msg 1", &gw, &mut srv);
    let up = gw.expect_in_transcript(Duration::from_secs(1), "session up", |l| {
        l.contains("upstream session up")
    });
    assert!(up.contains("TLS_AES_128_CCM_8_SHA256"), "{up}");
    assert_eq!(gw.terminate(Duration::from_secs(10)), Some(0));
    assert!(
        gw.transcript().contains("session exported"),
        "{}",
        gw.transcript()
    );
    let card_before = std::fs::read(&card_state).ok();

    let (mut gw, local) = gateway(&cfg);
    echo(local, "msg 2", &gw, &mut srv);
    echo(local, "msg 3", &gw, &mut srv);
    let log = gw.transcript();
    assert!(log.contains("no handshake"), "{log}");
    assert!(
        !log.contains("upstream session up") && !log.contains("handshake started"),
        "a handshake ran after the restart: {log}"
    );
    assert_eq!(
        std::fs::read(&card_state).ok(),
        card_before,
        "no AKA after the restart"
    );
    assert_eq!(gw.terminate(Duration::from_secs(10)), Some(0));

    let out = srv.output();
    assert_eq!(
        out.matches("CONNECTED version=DTLSv1.3").count(),
        1,
        "one handshake in all: {out}"
    );
    // the gateway asks for no CID (an empty one) and carries wolfSSL's in its records
    assert!(out.contains("cid_tx= "), "{out}");
    for i in 0..4 {
        assert!(out.contains(&format!("RECV msg {i}")), "{out}");
    }
}

#[test]
fn key_updates_of_the_gateway_are_answered_by_wolfssl_and_the_session_goes_on() {
    let Some(peer) = peer_bin("wolf13_peer") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let k = keyed(dir.path());
    let mut srv = Peer::start(&peer, &k, &["-n", "6", "-g", "x25519"]);
    let cfg = gateway_config(
        dir.path(),
        &k,
        SocketAddr::from(([127, 0, 0, 1], srv.0.port)),
        "key_update_records = 2\nconnection_id = false",
    );
    let (mut gw, local) = gateway(&cfg);
    for i in 0..6 {
        echo(local, &format!("msg {i}"), &gw, &mut srv);
    }
    // ours after records 2, 4 and 6 (the handshake's Finished is no application record), each
    // answered by wolfSSL's KeyUpdate: both ways in epoch 5 after the second, 6 after the third
    let line = gw.expect_in_transcript(Duration::from_secs(5), "third KeyUpdate", |l| {
        l.contains("receiving in epoch 6")
    });
    assert!(line.contains("sending in epoch"), "{line}");
    let log = gw.transcript();
    assert_eq!(log.matches("upstream session up").count(), 1, "{log}");
    gw.terminate(Duration::from_secs(10));
    let out = srv.output();
    assert!(out.contains("group=X25519"), "psk_dhe_ke: {out}");
    for i in 0..6 {
        assert!(out.contains(&format!("RECV msg {i}")), "{out}");
    }
}

#[test]
fn a_key_wolfssl_does_not_hold_is_read_as_rejected_and_the_gateway_bootstraps_again() {
    let Some(peer) = peer_bin("wolf13_peer") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut k = keyed(dir.path());
    k.key = "00".repeat(32);
    let mut srv = Peer::start(&peer, &k, &["-n", "1"]);
    let cfg = gateway_config(
        dir.path(),
        &k,
        SocketAddr::from(([127, 0, 0, 1], srv.0.port)),
        "",
    );
    let (mut gw, _local) = gateway(&cfg);
    let line = gw.expect_in_transcript(Duration::from_secs(10), "a rejected key", |l| {
        l.contains("did not accept our key")
    });
    gw.terminate(Duration::from_secs(10));
    srv.stop();
    // wolfSSL's binder check fails and it says so in a plaintext alert at once (no waiting
    // for our retransmission timer to give up)
    assert!(line.contains("bootstrapping again"), "{line}");
    assert!(
        line.contains("Ua id 0100000007"),
        "the TLS 1.3 Ua id: {line}"
    );
}
