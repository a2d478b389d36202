//! Ks expiry with real processes and a 60-second BSF lifetime: `simbridge bsf --lifetime 60`,
//! `simbridge server` keyed through the BSF's key API, a gateway (`simbridge bridge`, a GBA route,
//! a software USIM) with `rekey_before_secs = 20`, a local UDP client sending one datagram every
//! 200 ms through it to an echo backend, and a second device (`simbridge dtls client
//! --session-file`, its own subscriber) keyed at the same moment.
//!
//! Shown: the gateway bootstraps again and its new session is up before its first Ks expires
//! (make-before-break), every datagram is answered across the rekey and the expiry; the server
//! closes the device's session with close_notify when its key expires, and a resumption of that
//! session afterwards passes no data.

mod common;
mod gba_support;
mod support;

use common::{addr_in, udp_echo};
use gba_support::cli::{self, device_psk, write_private};
use gba_support::{IMSI, K, profile_text};
use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::launch::{ours_bridge_server, ours_client_as};
use support::{Proc, Stream, ours};

/// The BSF's context lifetime (the figure).
const LIFETIME: u64 = 60;
/// The gateway's make-before-break margin.
const REKEY_BEFORE: u64 = 20;
/// A second subscriber for the device, so that its bootstrap does not supersede the gateway's.
const DEVICE_IMSI: &str = "001010123456780";

/// The `N` of "... valid for N s".
fn valid_for(line: &str) -> u64 {
    line.split("valid for ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no lifetime in {line:?}"))
}

/// The B-TID of "bootstrapping context B-TID valid for ...".
fn btid_of(line: &str) -> String {
    line.split("bootstrapping context ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no B-TID in {line:?}"))
        .to_string()
}

/// Sends a numbered datagram every 200 ms to `to` until `stop`, and collects the echoes;
/// returns (sent, the numbers answered).
fn traffic(to: std::net::SocketAddr, stop: Arc<AtomicBool>) -> (u32, BTreeSet<u32>) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let mut sent = 0u32;
    let mut got = BTreeSet::new();
    let mut next = Instant::now();
    let mut buf = [0u8; 64];
    let mut stopping: Option<Instant> = None;
    loop {
        if stopping.is_none() && stop.load(Ordering::Relaxed) {
            stopping = Some(Instant::now());
        }
        // After the stop, wait (bounded) for the last answers.
        if stopping
            .is_some_and(|t| t.elapsed() > Duration::from_secs(5) || got.len() == sent as usize)
        {
            return (sent, got);
        }
        if stopping.is_none() && Instant::now() >= next {
            s.send_to(format!("dgram {sent}").as_bytes(), to)
                .expect("send");
            sent += 1;
            next += Duration::from_millis(200);
        }
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            if let Some(i) = text.strip_prefix("dgram ").and_then(|v| v.parse().ok()) {
                got.insert(i);
            }
        }
    }
}

#[test]
fn the_gateway_rekeys_before_ks_expires_and_loses_nothing() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    write_private(&token, "expiry-token-0123456789");
    // The device's subscriber beside the gateway's (the BSF reads every profile in the folder).
    let device = profile_text(K, "000000000000", false)
        .replace(IMSI, DEVICE_IMSI)
        .replace("8988211000000000017", "8988211000000000025");
    std::fs::create_dir_all(dir.path().join("bsf-profiles")).expect("mkdir");
    std::fs::write(dir.path().join("bsf-profiles/device.toml"), &device).expect("profile");
    std::fs::write(dir.path().join("device-card.toml"), &device).expect("card");
    let life = LIFETIME.to_string();
    let (_bsf, bsf, _) = cli::start_bsf(
        dir.path(),
        K,
        &[
            "--lifetime",
            &life,
            "--token-file",
            token.to_str().expect("utf8"),
            "--naf",
            "naf.example.com",
        ],
    );
    let echo = udp_echo();
    let server_cfg = dir.path().join("server.toml");
    std::fs::write(
        &server_cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"{echo}\"\nstate_dir = \"{}\"\n\
             suites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]\n\
             [keys]\nbsf = \"http://{bsf}\"\ntoken_file = \"{}\"\nnaf = \"naf.example.com\"\n",
            dir.path().join("server-state").display(),
            token.display()
        ),
    )
    .expect("config");
    let (server, server_addr) = ours_bridge_server(&server_cfg);

    // The device: its own bootstrap, a session with --session-file, one line through.
    let (identity, key) = device_psk(
        dir.path(),
        bsf,
        "naf.example.com",
        &["--margin", "0", "--suite", "TLS_PSK_WITH_AES_128_CCM_8"],
    );
    let device_keyed = Instant::now();
    let session = dir.path().join("session.bin");
    let session_arg = session.to_str().expect("utf8");
    let mut dev = ours_client_as(
        server_addr,
        &identity,
        &key,
        &["--session-file", session_arg],
    );
    let up = dev.wait_line(Stream::Stderr, Duration::from_secs(5), |l| {
        l.contains("\"connected\"")
    });
    assert!(
        up.is_some(),
        "the device's session: {}\nserver: {}",
        dev.transcript(),
        server.transcript()
    );

    // The gateway on a software USIM of the demo subscriber.
    let card = dir.path().join("gateway-card.toml");
    std::fs::write(&card, profile_text(K, "000000000000", true)).expect("card");
    let gw_cfg = dir.path().join("gateway.toml");
    std::fs::write(
        &gw_cfg,
        format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\n[gba]\nbsf = \"http://{bsf}\"\n\
             [session]\nrekey_before_secs = {REKEY_BEFORE}\n\
             [[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:{}\"\nnaf = \"naf.example.com\"\npsk = \"gba\"\n",
            dir.path().join("gw-state").display(),
            card.display(),
            server_addr.port()
        ),
    )
    .expect("config");
    let mut cmd = Command::new(ours());
    cmd.args(["bridge", "--config"])
        .arg(&gw_cfg)
        .env("RUST_LOG", "info");
    let gw = Proc::spawn("gateway", cmd);
    let ready = gw.expect_line(Stream::Stdout, Duration::from_secs(20), "listening", |_| {
        true
    });
    let local = addr_in(&ready);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || traffic(local, stop))
    };

    // First context and session.
    let first = gw.expect_line(Stream::Stderr, Duration::from_secs(20), "bootstrap", |l| {
        l.contains("bootstrapping context")
    });
    // A lower bound: the log gives whole seconds, rounded down.
    let first_expiry = Instant::now() + Duration::from_secs(valid_for(&first));
    let first_btid = btid_of(&first);
    gw.expect_line(Stream::Stderr, Duration::from_secs(10), "session up", |l| {
        l.contains("upstream session up")
    });
    dev.write_line("device before expiry");
    dev.expect_line(
        Stream::Stdout,
        Duration::from_secs(5),
        "the device's echo",
        |l| l.contains("device before expiry"),
    );

    // The rekey: a new bootstrap and its session before the first Ks expires.
    let wait = Duration::from_secs(LIFETIME);
    let rekey = gw.expect_line(Stream::Stderr, wait, "make-before-break", |l| {
        l.contains("bootstrapping again (make-before-break)")
    });
    let rekey_started = Instant::now();
    let second = gw.expect_line(Stream::Stderr, wait, "new context", |l| {
        l.contains("bootstrapping context")
    });
    assert_ne!(btid_of(&second), first_btid, "a new bootstrap: {second}");
    gw.expect_line(Stream::Stderr, wait, "new session up", |l| {
        l.contains("upstream session up")
    });
    let rekeyed = Instant::now();
    assert!(
        rekeyed < first_expiry,
        "the new session came up after the old Ks expired ({rekey})"
    );
    let ahead = first_expiry - rekeyed;

    // The server closes the device's session when its key expires.
    let closed = dev.expect_line(
        Stream::Stderr,
        Duration::from_secs(LIFETIME + 10).saturating_sub(device_keyed.elapsed()),
        "closed at key expiry",
        |l| l.contains("\"closed\""),
    );
    let closed_after = device_keyed.elapsed();
    assert!(closed.contains("close_notify"), "{closed}");
    assert!(
        closed_after >= Duration::from_secs(LIFETIME - 2),
        "closed after {closed_after:?}, before the key's {LIFETIME} s were over"
    );
    server.expect_line(Stream::Stderr, Duration::from_secs(5), "expiry log", |l| {
        l.contains("expired: closing with close_notify")
    });

    // Resuming the device's session now: refused, nothing gets through.
    let mut r = ours_client_as(
        server_addr,
        &identity,
        &key,
        &["--session-file", session_arg],
    );
    let mut resumed = false;
    if r.wait_line(Stream::Stderr, Duration::from_secs(5), |l| {
        l.contains("\"connected\"")
    })
    .is_some()
    {
        r.write_line("device after expiry");
        resumed = true;
        let echo = r.wait_line(Stream::Stdout, Duration::from_secs(3), |l| {
            l.contains("device after expiry")
        });
        assert!(
            echo.is_none(),
            "data passed on a session resumed after expiry"
        );
    }
    let _ = r.wait_exit(Duration::from_secs(8));
    let refused = server.expect_line(Stream::Stderr, Duration::from_secs(5), "refusal", |l| {
        l.contains("WARN") && (l.contains("expired at") || l.contains("unknown PSK identity"))
    });
    assert!(!refused.contains(&key), "{refused}");

    // Keep the traffic going past the gateway's first expiry, then count.
    while Instant::now() < first_expiry + Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, got) = sender.join().expect("sender");
    let lost: Vec<u32> = (0..sent).filter(|i| !got.contains(i)).collect();
    println!(
        "rekey started {:.1} s before the first Ks expired, new session up {:.1} s before it; \
         {sent} datagrams sent, {} answered; device session closed {:.1} s after its bootstrap \
         (resumption handshake {}); run time {:.1} s",
        first_expiry
            .saturating_duration_since(rekey_started)
            .as_secs_f64(),
        ahead.as_secs_f64(),
        got.len(),
        closed_after.as_secs_f64(),
        if resumed {
            "completed, no data passed"
        } else {
            "refused"
        },
        t0.elapsed().as_secs_f64()
    );
    assert!(
        sent as u64 >= LIFETIME * 4,
        "traffic ran the whole time: {sent}"
    );
    assert!(lost.is_empty(), "datagrams lost: {lost:?} of {sent}");
    let gw_log = gw.transcript();
    assert_eq!(
        gw_log.matches("GBA bootstrap done").count(),
        2,
        "one bootstrap at start and one rekey, no more: {gw_log}"
    );
    assert!(
        !gw_log.contains(&format!("Ks of {first_btid} expired")),
        "the gateway still held the old key at its expiry: {gw_log}"
    );
    // The only session the server closed at expiry was the device's: the gateway had moved on.
    let expired = server
        .transcript()
        .matches("expired: closing with close_notify")
        .count();
    assert_eq!(expired, 1, "{}", server.transcript());
}
