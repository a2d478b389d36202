//! `simbridge dtls client --version 1.3 --early-data FILE --session-file F` against wolfSSL's
//! DTLS 1.3 server (tests/peers/wolf13_peer.c with tickets that allow early data, `-E`): the
//! first run has no ticket (the data goes after the handshake) and saves the server's ticket;
//! the next run resumes with it and the server takes the data as 0-RTT ("EARLY <text>"). With
//! the server's HelloRetryRequest cookie on, the 0-RTT is lost and the data comes after the
//! handshake as ordinary data. Each run's datagrams are counted by a relay (which also gives
//! the server one client address across the runs, as its `-r` needs) and printed: the bytes
//! of a full psk_ke handshake, a resumption, and a resumption with 16 bytes of 0-RTT.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::KillOnDrop;
use support::dtls_client::Run;
use support::relay::{Relay, RelayConfig, RelayStats};
use support::wolf13::{Wolf13Server, peer};

const PSK: &str = "000102030405060708090a0b0c0d0e0f";
const IDENTITY: &str = "client1";
/// 16 bytes of early data.
const EARLY: &str = "GET /temp early!";

/// One `dtls client --version 1.3` run to `addr` as `IDENTITY` with `extra`, `input` on stdin.
fn client(addr: &str, extra: &[&str], input: &str) -> Run {
    support::dtls_client::run13(addr, IDENTITY, PSK, extra, input)
}

/// wolfSSL's server for `conns` connections of `n` echoed messages each, tickets allowing 1 KiB
/// of early data, `extra` options; a relay in front of it.
fn wolf(bin: &Path, (conns, n): (&str, &str), extra: &[&str]) -> (Wolf13Server, Relay) {
    let mut args = vec!["-n", n, "-r", conns, "-E", "1024"];
    args.extend_from_slice(extra);
    let srv = Wolf13Server::with_psk(bin, PSK, IDENTITY, "TLS13-AES128-CCM-8-SHA256", &args)
        .expect("wolf13_peer server");
    let relay = Relay::start(
        format!("127.0.0.1:{}", srv.port).parse().expect("addr"),
        RelayConfig::default(),
    );
    (srv, relay)
}

/// What the relay counted since `before`: (datagrams, bytes) each way and the sizes.
fn delta(before: &RelayStats, after: &RelayStats) -> String {
    let c = (
        after.c2s.datagrams - before.c2s.datagrams,
        after.c2s.bytes - before.c2s.bytes,
    );
    let s = (
        after.s2c.datagrams - before.s2c.datagrams,
        after.s2c.bytes - before.s2c.bytes,
    );
    format!(
        "C->S {} datagrams {} B {:?}, S->C {} datagrams {} B {:?}, total {} B",
        c.0,
        c.1,
        &after.c2s.sizes[before.c2s.sizes.len()..],
        s.0,
        s.1,
        &after.s2c.sizes[before.s2c.sizes.len()..],
        c.1 + s.1
    )
}

/// The server's output once it has taken all its connections.
fn server_output(mut srv: Wolf13Server) -> String {
    let mut guard = KillOnDrop::new(srv.child);
    let done = guard.wait_exit(Duration::from_secs(10));
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut srv.out, &mut rest);
    let mut err = String::new();
    if let Some(e) = guard.child().stderr.as_mut() {
        let _ = std::io::Read::read_to_string(e, &mut err);
    }
    assert!(
        done.is_some_and(|s| s.success()),
        "wolf13_peer server: {done:?}\n{rest}\n{err}"
    );
    rest
}

#[test]
fn a_second_run_resumes_with_the_saved_ticket_and_wolfssl_takes_the_early_data() {
    let Some(bin) = peer() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("ticket");
    let early = dir.path().join("early");
    std::fs::write(&early, EARLY).expect("early file");
    let (session, early) = (
        session.to_str().expect("path").to_string(),
        early.to_str().expect("path").to_string(),
    );
    // no cookie (-C 1): wolfSSL's HelloRetryRequest would lose the 0-RTT
    let (srv, relay) = wolf(&bin, ("3", "2"), &["-C", "1"]);
    let addr = relay.addr().to_string();
    let with_early = ["--session-file", &session, "--early-data", &early];

    // 1: no ticket yet: a full psk_ke handshake, the data after it, the ticket saved
    let s0 = relay.stats();
    let first = client(&addr, &with_early, "one\n");
    let s1 = relay.stats();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("no ticket"), "{}", first.stderr);
    assert_eq!(
        first.event("connected").expect("connected")["resumed"],
        false
    );
    assert_eq!(
        first.event("early_data").expect("status")["accepted"],
        false
    );
    assert_eq!(first.stdout, format!("{EARLY}one\n"), "both echoed");
    let saved = std::fs::read(&session).expect("ticket saved");
    assert!(saved.starts_with(b"SBT13"), "a DTLS 1.3 ticket");

    // 2: resumption with 16 bytes of 0-RTT, taken by the server
    let second = client(&addr, &with_early, "two\nthree\n");
    let s2 = relay.stats();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        second.event("connected").expect("connected")["resumed"],
        true
    );
    assert_eq!(
        second.event("early_data").expect("status")["accepted"],
        true,
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("accepted by the server (0-RTT)"));
    // the server does not echo early data: only the two lines come back
    assert_eq!(second.stdout, "two\nthree\n");
    let saved_again = std::fs::read(&session).expect("a new ticket");
    assert!(
        saved_again.starts_with(b"SBT13") && saved_again != saved,
        "single use"
    );

    // 3: resumption without early data, for the byte count
    let third = client(&addr, &["--session-file", &session], "four\nfive\n");
    let s3 = relay.stats();
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(
        third.event("connected").expect("connected")["resumed"],
        true
    );
    assert!(third.event("early_data").is_none());

    let out = server_output(srv);
    assert_eq!(
        out.matches(&format!("EARLY {EARLY}")).count(),
        1,
        "only the second run's data came as 0-RTT:\n{out}"
    );
    assert!(
        out.contains(&format!("RECV {EARLY}")),
        "run 1 resent it:\n{out}"
    );
    assert_eq!(out.matches("resumed=1").count(), 2, "{out}");
    eprintln!(
        "full psk_ke handshake + early data after it: {}",
        delta(&s0, &s1)
    );
    eprintln!("resumption + 0-RTT (16 B): {}", delta(&s1, &s2));
    eprintln!("resumption: {}", delta(&s2, &s3));
    for (what, r) in [("full", &first), ("0-RTT", &second), ("resumed", &third)] {
        let st = r.event("stats").expect("stats");
        eprintln!(
            "{what}: handshake C->S {} B in {}, S->C {} B in {}",
            st["handshake_bytes_sent"],
            st["handshake_datagrams_sent"],
            st["handshake_bytes_received"],
            st["handshake_datagrams_received"]
        );
    }
}

#[test]
fn with_wolfssls_cookie_the_0rtt_is_lost_and_the_data_comes_after_the_handshake() {
    let Some(bin) = peer() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("ticket");
    let session = session.to_str().expect("path").to_string();
    // the cookie on (wolfSSL's default): every ClientHello gets a HelloRetryRequest
    let (srv, relay) = wolf(&bin, ("2", "1"), &[]);
    let addr = relay.addr().to_string();
    let first = client(&addr, &["--session-file", &session], "one\n");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let started = Instant::now();
    // `--early-data -`: stdin is the data, no lines after it (the server's one message); the
    // client closes once it is sent, as at the end of stdin
    let second = client(
        &addr,
        &["--session-file", &session, "--early-data", "-"],
        EARLY,
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        second.event("connected").expect("connected")["resumed"],
        true
    );
    assert_eq!(
        second.event("early_data").expect("status")["accepted"],
        false,
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("not taken as 0-RTT"),
        "{}",
        second.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let out = server_output(srv);
    assert!(
        !out.contains("EARLY "),
        "no 0-RTT after a HelloRetryRequest:\n{out}"
    );
    assert!(
        out.contains(&format!("RECV {EARLY}")),
        "the data came as ordinary data:\n{out}"
    );
}

/// The relay's datagrams split into connections (each starts with a client's plaintext
/// handshake record of epoch 0: its ClientHello; a retransmitted one would start another, which
/// loopback does not see), each as "C->S sizes / S->C sizes, total".
fn per_connection(stats: &RelayStats) -> Vec<String> {
    let mut conns: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for d in &stats.log {
        if d.c2s && d.content_type == 22 && d.epoch == 0 {
            conns.push((Vec::new(), Vec::new()));
        }
        if let Some((c, s)) = conns.last_mut() {
            if d.c2s { c } else { s }.push(d.len);
        }
    }
    conns
        .iter()
        .map(|(c, s)| {
            let (ct, st) = (c.iter().sum::<usize>(), s.iter().sum::<usize>());
            format!(
                "C->S {c:?} = {ct} B, S->C {s:?} = {st} B, total {} B",
                ct + st
            )
        })
        .collect()
}

/// wolfSSL's own client against the same server, for the figures beside ours: two connections,
/// the second resuming (with `-e`: and 16 bytes of 0-RTT, which its server takes).
#[test]
fn wolfssls_own_client_resumes_with_and_without_0rtt_for_the_figures_beside_ours() {
    let Some(bin) = peer() else { return };
    for early in [None, Some(EARLY)] {
        let (srv, relay) = wolf(&bin, ("2", "2"), &["-C", "1"]);
        let port = relay.addr().port().to_string();
        let mut cmd = Command::new(&bin);
        cmd.args([
            "client", &port, "-k", PSK, "-i", IDENTITY, "-n", "2", "-r", "2",
        ])
        .args(["-l", "TLS13-AES128-CCM-8-SHA256"]);
        if let Some(e) = early {
            cmd.args(["-e", e]);
        }
        let out = support::cli::run_with_timeout(&mut cmd, Duration::from_secs(20));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let served = server_output(srv);
        assert_eq!(served.matches("resumed=1").count(), 1, "{served}");
        assert_eq!(
            served.contains(&format!("EARLY {EARLY}")),
            early.is_some(),
            "{served}"
        );
        let conns = per_connection(&relay.stats());
        assert_eq!(conns.len(), 2, "{conns:?}");
        let what = if early.is_some() {
            "resumption + 0-RTT (16 B)"
        } else {
            "resumption"
        };
        eprintln!("wolfSSL client, full psk_ke: {}", conns[0]);
        eprintln!("wolfSSL client, {what}: {}", conns[1]);
    }
}
