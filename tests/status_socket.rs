//! `simbridge status` against real processes: a gateway (software USIM, GBA key from the BSF) and
//! a server (key from the BSF key API) carry a datagram, then the status socket of each is read
//! by the CLI, as text and as JSON, and the two sides' views are checked against each other.

mod common;
mod status_support;
mod support;

use common::*;
use status_support::*;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn status(args: &[&str]) -> std::process::Output {
    run_with_timeout(
        Command::new(bin()).arg("status").args(args),
        Duration::from_secs(20),
    )
}

/// The gateway publishes its routes' state every event-loop tick (200 ms): waits (bounded) until
/// its status shows the route up with the datagram counted.
fn wait_gateway_up(state: &std::path::Path) {
    let start = std::time::Instant::now();
    loop {
        let o = status(&["--state", state.to_str().expect("utf-8"), "--json"]);
        if o.status.success() {
            let v = json_out(&o);
            let s = &v["gateway"]["sessions"][0];
            if s["state"] == "established" && s["counters"]["data_datagrams_received"] == 1 {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "gateway status never showed the session: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[test]
fn status_of_a_running_gateway_and_server_as_text_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = network(dir.path());
    let gw_metrics = format!("127.0.0.1:{}", free_tcp_port())
        .parse()
        .expect("addr");
    let cfg = gateway_config(&net, gw_metrics);
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let route = addr_in(&gw.first_line);
    let sent = *b"\x00status probe"; // not CoAP: passes the gateway unchanged
    assert_eq!(round_trip(route, &sent), sent, "echo through the bridge");
    let gw_state = dir.path().join("gw-state");
    wait_gateway_up(&gw_state);

    for (state, name) in [
        (&gw_state, "status-gateway.sock"),
        (&net.server_state, "status-server.sock"),
    ] {
        let meta = std::fs::metadata(state.join(name)).expect("status socket exists");
        assert!(meta.file_type().is_socket(), "{name} is a socket");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name} is 0600");
    }

    // Text, gateway.
    let o = status(&["--state", gw_state.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&o.stdout);
    println!("{text}");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let upstream = addr_in(&net.server.first_line);
    for want in [
        "gateway (pid ".to_string(),
        format!(
            "route localhost:{} -> {upstream}: established since ",
            upstream.port()
        ),
        "NAF localhost (Ua id 010001d003), suite TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256".into(),
        "    key expires ".into(),
        "bootstraps:\n  B-TID ".into(),
        "drops: none".into(),
        "handshakes: 1 full, 0 abbreviated, 0 continued without handshake, 0 failed; bootstraps 1 (0 failed)".into(),
    ] {
        assert!(text.contains(&want), "{want:?} in\n{text}");
    }

    // Text, server.
    let o = status(&["--state", net.server_state.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&o.stdout);
    println!("{text}");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for want in [
        "server (pid ",
        "sessions: 1\n  peer 127.0.0.1:",
        ": established since ",
        "NAF localhost (Ua id 010001d003), suite TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
        "datagrams_to_backend 1",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }

    // JSON: both views of the one session agree.
    let g = json_out(&status(&[
        "--state",
        gw_state.to_str().expect("utf-8"),
        "--json",
    ]));
    let s = json_out(&status(&[
        "--state",
        net.server_state.to_str().expect("utf-8"),
        "--json",
    ]));
    let gs = &g["gateway"]["sessions"][0];
    let ss = &s["server"]["sessions"][0];
    assert_eq!(gs["state"], "established");
    assert_eq!(ss["state"], "established");
    assert_eq!(gs["identity"], ss["identity"], "same PSK identity");
    assert_eq!(gs["suite"], ss["suite"]);
    assert_eq!(gs["naf"], "localhost");
    assert_eq!(gs["ua_id"], ss["ua_id"]);
    // The gateway asks for an empty CID for itself; the server gave one, which the gateway sends.
    assert_eq!(gs["cid"], "");
    assert_eq!(ss["peer_cid"], "");
    assert!(gs["peer_cid"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(gs["peer_cid"], ss["cid"], "the CID the server chose");
    let btid = g["gateway"]["bootstraps"][0]["btid"]
        .as_str()
        .expect("btid");
    assert!(
        gs["identity"]
            .as_str()
            .is_some_and(|i| i == format!("3GPP-bootstrapping.{btid}"))
    );
    let expires = gs["key_expires"].as_u64().expect("key expiry");
    assert!(expires > now() + 3600, "Ks lifetime ahead");
    assert_eq!(
        ss["key_expires"].as_u64(),
        Some(expires),
        "server knows the same expiry"
    );
    let since = gs["established_since"].as_u64().expect("since");
    assert!(since <= now() && since + 120 > now());
    // Each side received what the other sent after its cookie exchange: the gateway's data
    // datagram is in the server's receive count, the echo in the gateway's.
    assert_eq!(gs["counters"]["data_datagrams_sent"], 1);
    assert_eq!(gs["counters"]["data_datagrams_received"], 1);
    assert_eq!(gs["counters"]["data_bytes_sent"], sent.len());
    assert!(
        gs["bytes_sent"].as_u64().expect("bytes")
            > gs["counters"]["data_bytes_sent"].as_u64().expect("data")
    );
    assert!(
        ss["datagrams_received"].as_u64().expect("n") >= 3,
        "CH, CKE/Fin, data"
    );
    // The cookie exchange is answered by the endpoint before a connection exists: the first
    // ClientHello and the HelloVerifyRequest are in no connection's counters.
    let hvr = s["server"]["counters"]["hello_verify_sent"]
        .as_u64()
        .expect("hvr");
    assert_eq!(hvr, 1);
    let n = |v: &serde_json::Value| v.as_u64().expect("count");
    assert_eq!(n(&gs["datagrams_received"]), n(&ss["datagrams_sent"]) + hvr);
    assert_eq!(n(&gs["datagrams_sent"]), n(&ss["datagrams_received"]) + 1);
    assert_eq!(gs["drops"]["queue_full"], 0);
    assert_eq!(ss["drops"]["bad_mac"], 0);
    assert_eq!(s["server"]["counters"]["sessions_established"], 1);
    assert_eq!(s["server"]["counters"]["full_handshakes"], 1);

    // The status socket goes away with a clean stop; `status` then says so.
    assert_eq!(gw.terminate(), Some(0));
    assert!(!gw_state.join("status-gateway.sock").exists());
    let o = status(&["--state", gw_state.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no status socket") && err.contains(gw_state.to_str().expect("utf-8")),
        "{err}"
    );
}

#[test]
fn a_socket_left_by_a_killed_server_is_reported_then_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = network(dir.path());
    let sock = net.server_state.join("status-server.sock");
    if let Some(c) = net.server.guard.0.as_mut() {
        c.kill().expect("SIGKILL");
        c.wait().expect("reaped");
    }
    assert!(sock.exists(), "SIGKILL leaves the socket behind");
    let o = status(&["--state", net.server_state.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing answers"), "{err}");

    let again = start_with_config("server", &net.server_cfg, "simbridge server again");
    let o = status(&[
        "--state",
        net.server_state.to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        json_out(&o)["server"]["pid"],
        again.guard.0.as_ref().map(|c| c.id()).expect("pid")
    );

    // A second server on the same state directory is refused before it touches the state, with
    // the socket named (same configuration: the claim comes before any port is bound).
    let before = std::fs::read_dir(&net.server_state).expect("dir").count();
    let o = run_with_timeout(
        Command::new(bin())
            .args(["server", "--config"])
            .arg(&net.server_cfg),
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("another simbridge process answers") && err.contains("status-server.sock"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&net.server_state).expect("dir").count(),
        before
    );
    let o = status(&[
        "--state",
        net.server_state.to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(o.status.success(), "the first server still answers");
}

#[test]
fn drops_are_shown_by_reason_while_the_upstream_does_not_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_file(dir.path(), "k.hex", "000102030405060708090a0b0c0d0e0f\n");
    // An upstream that never answers: the route stays handshaking and queues at most 2.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let state = dir.path().join("gw-state");
    let cfg = write_file(
        dir.path(),
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[session]\nqueue_limit = 2\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\npsk = {{ identity = \"dev1\", key_file = \"{}\" }}\n",
            state.display(),
            silent.local_addr().expect("addr"),
            key.display()
        ),
    );
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let route = addr_in(&gw.first_line);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    for i in 0..5u8 {
        client.send_to(&[0, i], route).expect("send");
    }
    let start = std::time::Instant::now();
    let s = loop {
        let v = json_out(&status(&[
            "--state",
            state.to_str().expect("utf-8"),
            "--json",
        ]));
        let s = v["gateway"]["sessions"][0].clone();
        if s["drops"]["queue_full"] == 3 {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{v}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(s["state"], "handshaking");
    assert_eq!(s["established_since"], serde_json::Value::Null);
    assert_eq!(
        s["key_expires"],
        serde_json::Value::Null,
        "a static key has no expiry"
    );
    assert_eq!(s["naf"], serde_json::Value::Null);
    assert_eq!(s["counters"]["queued"], 2);
    assert_eq!(s["drops"]["no_session"], 0);
    assert!(
        s["datagrams_sent"].as_u64().expect("n") >= 1,
        "the ClientHello went out"
    );
    assert_eq!(s["datagrams_received"], 0);
    let text =
        String::from_utf8_lossy(&status(&["--state", state.to_str().expect("utf-8")]).stdout)
            .into_owned();
    assert!(text.contains(": handshaking\n"), "{text}");
    assert!(text.contains("NAF - (static key), suite -"), "{text}");
    assert!(text.contains("drops: queue_full 3\n"), "{text}");
    assert_eq!(gw.terminate(), Some(0));
}
