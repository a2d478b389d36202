//! Ks_NAF does not outlive its bootstrapping on the server, with real processes: a BSF with a
//! 6-second context lifetime, `simbridge server`, and `simbridge dtls client`s. The session made
//! with the key is closed with close_notify when the key expires, and a resumption of that
//! session afterwards passes no data (the server closes it with close_notify as soon as the
//! abbreviated handshake ends, and drops what the client sent).

mod gba_support;
mod support;

use gba_support::K;
use gba_support::cli::{self, device_psk, write_private};
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use support::launch::{ours_bridge_server, ours_client_as};
use support::{Stream, free_udp_port};

const LIFETIME: u64 = 6;
/// The one suite the server offers (`simbridge psk` derives for the bridge's first choice otherwise).
const SUITE: &str = "TLS_PSK_WITH_AES_128_CCM_8";

#[test]
fn sessions_end_with_their_key_and_do_not_resume_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    write_private(&token, "lifetime-token-0123456789");
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
    let backend = UdpSocket::bind("127.0.0.1:0").expect("backend");
    backend
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"{}\"\nsuites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]\n\
             [keys]\nbsf = \"http://{bsf}\"\ntoken_file = \"{}\"\nnaf = \"naf.example.com\"\n",
            free_udp_port(),
            backend.local_addr().expect("addr"),
            token.display()
        ),
    )
    .expect("config");
    let (server, addr) = ours_bridge_server(&cfg);
    let bootstrapped = Instant::now();
    let (identity, key) = device_psk(
        dir.path(),
        bsf,
        "naf.example.com",
        &["--margin", "0", "--suite", SUITE],
    );
    let session = dir.path().join("session.bin");
    let session_arg = session.to_str().expect("utf8");

    // A session with the key: data flows, then the server closes it when the key expires.
    let mut c = ours_client_as(addr, &identity, &key, &["--session-file", session_arg]);
    c.expect_line(Stream::Stderr, Duration::from_secs(5), "connected", |l| {
        l.contains("\"connected\"")
    });
    c.write_line("before expiry");
    let mut buf = [0u8; 64];
    let (n, _) = backend
        .recv_from(&mut buf)
        .expect("the backend gets the datagram");
    assert_eq!(&buf[..n], b"before expiry\n");
    let closed = c.expect_line(
        Stream::Stderr,
        Duration::from_secs(LIFETIME + 5),
        "closed at key expiry",
        |l| l.contains("\"closed\""),
    );
    let at = bootstrapped.elapsed();
    assert!(closed.contains("close_notify"), "{closed}");
    assert!(
        at >= Duration::from_secs(LIFETIME - 2),
        "closed after {at:?}, before the key's {LIFETIME} s were over"
    );
    server.expect_line(Stream::Stderr, Duration::from_secs(2), "expiry log", |l| {
        l.contains("expired: closing with close_notify")
    });
    assert!(session.exists(), "the client saved its session");

    // Resuming that session now: refused, nothing reaches the backend.
    let mut r = ours_client_as(addr, &identity, &key, &["--session-file", session_arg]);
    if r.wait_line(Stream::Stderr, Duration::from_secs(5), |l| {
        l.contains("\"connected\"")
    })
    .is_some()
    {
        r.write_line("after expiry");
    }
    let _ = r.wait_exit(Duration::from_secs(8));
    if let Ok((n, _)) = backend.recv_from(&mut buf) {
        panic!("data after the key expired: {:?}", &buf[..n]);
    }
    let refused = server.expect_line(Stream::Stderr, Duration::from_secs(5), "refusal", |l| {
        l.contains("WARN") && (l.contains("expired at") || l.contains("unknown PSK identity"))
    });
    assert!(!refused.contains(&key), "{refused}");
}

/// A graceful restart keeps the sessions (export and import); the continued session's key
/// expiry is learnt again from the BSF when it next sends, and it is still closed at expiry.
#[test]
fn a_session_continued_over_a_restart_still_ends_with_its_key() {
    continued_over_a_restart(false);
}

/// The same, but the device bootstrapped again meanwhile (its old B-TID superseded at the BSF):
/// the continued session is closed as soon as the server learns its key is no longer known.
#[test]
fn a_continued_session_whose_key_the_bsf_forgot_is_closed() {
    continued_over_a_restart(true);
}

fn continued_over_a_restart(supersede: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    write_private(&token, "lifetime-token-0123456789");
    let (_bsf, bsf, _) = cli::start_bsf(
        dir.path(),
        K,
        &[
            "--lifetime",
            "8",
            "--token-file",
            token.to_str().expect("utf8"),
            "--naf",
            "naf.example.com",
        ],
    );
    let backend = UdpSocket::bind("127.0.0.1:0").expect("backend");
    backend
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"{}\"\nstate_dir = \"{}\"\nsuites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]\n\
             [keys]\nbsf = \"http://{bsf}\"\ntoken_file = \"{}\"\nnaf = \"naf.example.com\"\n",
            free_udp_port(),
            backend.local_addr().expect("addr"),
            dir.path().join("server-state").display(),
            token.display()
        ),
    )
    .expect("config");
    let (server, addr) = ours_bridge_server(&cfg);
    let (identity, key) = device_psk(
        dir.path(),
        bsf,
        "naf.example.com",
        &["--margin", "0", "--suite", SUITE],
    );
    let mut c = ours_client_as(addr, &identity, &key, &[]);
    c.expect_line(Stream::Stderr, Duration::from_secs(5), "connected", |l| {
        l.contains("\"connected\"")
    });
    c.write_line("before");
    let mut buf = [0u8; 64];
    let (n, _) = backend.recv_from(&mut buf).expect("first datagram");
    assert_eq!(&buf[..n], b"before\n");

    // SIGTERM: the server saves its sessions; a new one on the same port continues them.
    let st = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let mut server = server;
    server
        .wait_exit(Duration::from_secs(5))
        .expect("the server stops");
    let (server2, addr2) = ours_bridge_server(&cfg);
    assert_eq!(addr2, addr);
    if supersede {
        let (identity2, _) = device_psk(
            dir.path(),
            bsf,
            "naf.example.com",
            &["--margin", "0", "--force", "--suite", SUITE],
        );
        assert_ne!(identity2, identity, "a new bootstrap");
    }
    c.write_line("after the restart");
    let (n, _) = backend
        .recv_from(&mut buf)
        .expect("datagram after the restart");
    assert_eq!(&buf[..n], b"after the restart\n");
    server2.expect_line(Stream::Stderr, Duration::from_secs(2), "continued", |l| {
        l.contains("continued from before the restart")
    });
    if supersede {
        let closed = c.expect_line(Stream::Stderr, Duration::from_secs(5), "closed", |l| {
            l.contains("\"closed\"")
        });
        assert!(closed.contains("close_notify"), "{closed}");
        server2.expect_line(Stream::Stderr, Duration::from_secs(2), "WARN", |l| {
            l.contains("WARN") && l.contains("no longer known to the BSF")
        });
        return;
    }
    // Closed at the key's expiry all the same.
    let closed = c.expect_line(
        Stream::Stderr,
        Duration::from_secs(12),
        "closed at expiry",
        |l| l.contains("\"closed\""),
    );
    assert!(closed.contains("close_notify"), "{closed}");
    server2.expect_line(Stream::Stderr, Duration::from_secs(2), "expiry log", |l| {
        l.contains("expired: closing with close_notify")
    });
}
