//! What the gateway says when its upstream does not answer, with real processes: the handshake
//! start at INFO, an ICMP port unreachable at INFO, and the timeout at WARN with what was last
//! received (an ICMP error, or nothing at all from a silent server).

mod common;
mod support;

use common::{Running, start_with_config, write_file};
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

fn gateway(dir: &Path, upstream: std::net::SocketAddr) -> Running {
    gateway_with(dir, upstream, "dev1", "00112233445566778899aabbccddeeff")
}

fn gateway_with(dir: &Path, upstream: std::net::SocketAddr, identity: &str, key: &str) -> Running {
    let key = write_file(dir, "k.hex", key);
    // Fast timers: 100 ms doubling to 200 ms, 7 retransmissions: the handshake gives up in ~1.5 s.
    let cfg = write_file(
        dir,
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[session]\nretransmit_initial_ms = 100\nretransmit_max_ms = 200\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\npsk = {{ identity = \"{identity}\", key_file = \"{}\" }}\n",
            dir.join("gw").display(),
            key.display()
        ),
    );
    start_with_config("bridge", &cfg, "simbridge bridge")
}

/// Collects the gateway's stderr until a line contains `what` (bounded).
fn wait_for(gw: &Running, what: &str) -> Vec<String> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        seen.extend(gw.stderr_lines(Duration::from_millis(100)));
        if seen.iter().any(|l| l.contains(what)) {
            return seen;
        }
    }
    panic!("no {what:?} in:\n{}", seen.join("\n"));
}

#[test]
fn an_unreachable_upstream_is_named_at_info_and_the_timeout_says_what_came_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing listens there: the kernel answers with ICMP port unreachable.
    let port = common::free_udp_port();
    let gw = gateway(dir.path(), ([127, 0, 0, 1], port).into());
    let seen = wait_for(&gw, "upstream handshake timed out");
    let all = seen.join("\n");
    let started = seen
        .iter()
        .find(|l| l.contains("upstream handshake started"))
        .unwrap_or_else(|| panic!("no start line:\n{all}"));
    assert!(
        started.contains("INFO") && started.contains("identity \"dev1\" (static key)"),
        "{started}"
    );
    let icmp = seen
        .iter()
        .find(|l| l.contains("upstream unreachable"))
        .unwrap_or_else(|| panic!("no unreachable line:\n{all}"));
    assert!(icmp.contains("INFO") && icmp.contains("refused"), "{icmp}");
    let timeout = seen
        .iter()
        .find(|l| l.contains("upstream handshake timed out"))
        .expect("timeout line");
    assert!(
        timeout.contains("WARN") && timeout.contains("last received: an ICMP error"),
        "{timeout}"
    );
    assert!(!all.contains("00112233445566778899"), "never the key");
    assert_eq!(gw.terminate(), Some(0));
}

#[test]
fn a_silent_upstream_times_out_saying_nothing_came_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A server that reads and never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let gw = gateway(dir.path(), silent.local_addr().expect("addr"));
    let seen = wait_for(&gw, "upstream handshake timed out");
    let timeout = seen
        .iter()
        .find(|l| l.contains("upstream handshake timed out"))
        .expect("timeout line");
    assert!(
        timeout.contains("last received: nothing (the upstream is silent or unreachable)"),
        "{timeout}"
    );
    assert!(
        seen.iter().any(
            |l| l.contains("INFO") && l.contains("upstream silent: no answer to the handshake")
        ),
        "silence is said at INFO before the timeout:\n{}",
        seen.join("\n")
    );
    let mut buf = [0u8; 2048];
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    assert!(silent.recv_from(&mut buf).is_ok(), "the gateway did send");
    assert_eq!(gw.terminate(), Some(0));
}

#[test]
fn an_established_session_whose_server_goes_away_says_unreachable_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, addr) = support::launch::ours_server(support::PSK_HEX, &[]);
    let gw = gateway_with(dir.path(), addr, support::IDENTITY, support::PSK_HEX);
    let local = common::addr_in(&gw.first_line);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let start = Instant::now();
    let mut echoed = false;
    while !echoed && start.elapsed() < Duration::from_secs(10) {
        client.send_to(b"hi", local).expect("send");
        echoed = matches!(client.recv_from(&mut buf), Ok((2, _)));
    }
    assert!(echoed, "the session works first");
    server.kill();
    for _ in 0..5 {
        client.send_to(b"hi", local).expect("send");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut seen = wait_for(&gw, "upstream unreachable: ");
    // More datagrams into the dead session: no more lines about it.
    for _ in 0..5 {
        client.send_to(b"hi", local).expect("send");
        std::thread::sleep(Duration::from_millis(100));
    }
    seen.extend(gw.stderr_lines(Duration::from_millis(300)));
    let n = seen
        .iter()
        .filter(|l| l.contains("upstream unreachable: "))
        .count();
    assert_eq!(n, 1, "once, not per datagram:\n{}", seen.join("\n"));
    assert!(
        seen.iter()
            .any(|l| l.contains("INFO") && l.contains("upstream unreachable: Connection refused")),
        "{}",
        seen.join("\n")
    );
    assert_eq!(gw.terminate(), Some(0));
}
