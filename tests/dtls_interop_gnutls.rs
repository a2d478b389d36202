//! Our DTLS engine (through the `simbridge dtls` CLI) against GnuTLS's gnutls-serv / gnutls-cli,
//! both roles, every suite GnuTLS has among ours (the three plain-PSK AEAD suites; GnuTLS 3.7
//! has ECDHE-PSK only with CBC and ChaCha20, not the RFC 8442 AEAD suites), data both ways,
//! close_notify, wrong PSK and a lossy, reordering relay.

mod support;

use std::time::Duration;

use support::launch::{expect_connected, gnutls_client, gnutls_server, ours_client, ours_server};
use support::suites::{by_iana, gnutls_priority};
use support::{require_peer, scenarios, Peer, Relay, RelayConfig, Stream, PSK_HEX, WRONG_PSK_HEX};

const T: Duration = Duration::from_secs(10);

fn prio(iana: &str) -> String {
    gnutls_priority(by_iana(iana).gnutls.expect("GnuTLS has this suite"))
}

/// Our client → gnutls-serv --echo: handshake on `iana`, a line echoed back (data both ways),
/// our close_notify logged by gnutls-serv.
fn ours_client_to_gnutls(iana: &str) {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (srv, port) = gnutls_server(&prio(iana), &[]);
    let mut cli = ours_client(
        format!("127.0.0.1:{port}").parse().unwrap(),
        PSK_HEX,
        &["--suite", iana],
    );
    let ev = expect_connected(&cli, T);
    assert_eq!(ev["suite"], iana, "negotiated suite");
    cli.write_line("hello gnutls");
    cli.expect_line(Stream::Stdout, T, "echo from gnutls-serv", |l| {
        l == "hello gnutls"
    });
    srv.proc
        .expect_in_transcript(T, "our record at gnutls-serv", |l| {
            l.contains("Processing 13 bytes command: hello gnutls")
        });
    cli.close_stdin();
    srv.proc
        .expect_in_transcript(T, "close_notify at gnutls-serv", |l| {
            l.contains("Close notify - was received")
        });
    let st = cli.wait_exit(T).expect("our client exits");
    assert!(st.success(), "exit {st:?}\n{}", cli.transcript());
}

/// gnutls-cli → our server (echo): handshake on `iana`, a line echoed, gnutls-cli's
/// close_notify seen by our server.
fn gnutls_client_to_ours(iana: &str) {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--suite", iana]);
    let mut cli = gnutls_client(addr.port(), &prio(iana), PSK_HEX, &[]);
    cli.expect_line(Stream::Stdout, T, "gnutls-cli handshake", |l| {
        l.contains("Handshake was completed")
    });
    let ev = expect_connected(&srv, T);
    assert_eq!(ev["suite"], iana);
    cli.write_line("ping from gnutls");
    cli.expect_line(Stream::Stdout, T, "echo from our server", |l| {
        l == "ping from gnutls"
    });
    cli.close_stdin();
    srv.expect_line(Stream::Stderr, T, "closed by close_notify", |l| {
        l.contains("\"closed\"") && l.contains("close_notify")
    });
    // our server answers close_notify with its own, which gnutls-cli reports
    cli.expect_in_transcript(T, "our close_notify at gnutls-cli", |l| {
        l.contains("Peer has closed the GnuTLS connection")
    });
    cli.wait_exit(T).expect("gnutls-cli exits");
}

#[test]
fn ours_client_gnutls_server_psk_aes_128_ccm_8() {
    ours_client_to_gnutls("TLS_PSK_WITH_AES_128_CCM_8");
}

#[test]
fn ours_client_gnutls_server_psk_aes_128_ccm() {
    ours_client_to_gnutls("TLS_PSK_WITH_AES_128_CCM");
}

#[test]
fn ours_client_gnutls_server_psk_aes_128_gcm_sha256() {
    ours_client_to_gnutls("TLS_PSK_WITH_AES_128_GCM_SHA256");
}

#[test]
fn gnutls_client_ours_server_psk_aes_128_ccm_8() {
    gnutls_client_to_ours("TLS_PSK_WITH_AES_128_CCM_8");
}

#[test]
fn gnutls_client_ours_server_psk_aes_128_ccm() {
    gnutls_client_to_ours("TLS_PSK_WITH_AES_128_CCM");
}

#[test]
fn gnutls_client_ours_server_psk_aes_128_gcm_sha256() {
    gnutls_client_to_ours("TLS_PSK_WITH_AES_128_GCM_SHA256");
}

/// GnuTLS offered ECDHE-PSK (CBC only) and PSK; we offer ECDHE_PSK AEAD first: CCM_8 is chosen.
#[test]
fn ours_client_offering_ecdhe_psk_first_gets_psk_ccm_8_from_gnutls() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let wide = "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:+ECDHE-PSK:-CIPHER-ALL:+AES-128-CCM-8:+AES-128-GCM:+AES-128-CBC:+SHA256:+AEAD";
    let (_srv, port) = gnutls_server(wide, &[]);
    let mut cli = scenarios::ours_client_ecdhe_first_settles_on_psk_ccm_8(port, T);
    cli.close_stdin();
    cli.wait_exit(T).expect("exit");
}

/// A PSK that does not match: gnutls-serv drops our Finished (bad MAC, silently as DTLS
/// requires); our client exits with the handshake-failure code and a clear message.
#[test]
fn ours_client_wrong_psk_against_gnutls_fails_clearly() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (_srv, port) = gnutls_server(&prio("TLS_PSK_WITH_AES_128_CCM_8"), &[]);
    scenarios::ours_client_wrong_psk_fails_clearly(port, 4000, T);
}

/// gnutls-cli with a wrong PSK gets no connection from our server.
#[test]
fn gnutls_client_wrong_psk_rejected_by_ours() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &[]);
    let mut cli = gnutls_client(
        addr.port(),
        &prio("TLS_PSK_WITH_AES_128_CCM_8"),
        WRONG_PSK_HEX,
        &["--timeout", "3"],
    );
    let st = cli.wait_exit(Duration::from_secs(15));
    assert!(
        cli.wait_line(Stream::Stdout, Duration::from_millis(100), |l| l
            .contains("Handshake was completed"))
            .is_none(),
        "gnutls-cli completed a handshake with a wrong PSK:\n{}",
        cli.transcript()
    );
    scenarios::assert_ours_server_refused(&srv);
    if let Some(st) = st {
        assert!(!st.success(), "gnutls-cli succeeded with a wrong PSK");
    }
}

fn lossy() -> RelayConfig {
    RelayConfig::lossy(11, 20)
}

/// Our client → lossy relay → gnutls-serv: completes by retransmission, then echoes.
#[test]
fn ours_client_gnutls_server_through_lossy_relay() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (_srv, port) = gnutls_server(&prio("TLS_PSK_WITH_AES_128_CCM_8"), &[]);
    let relay = Relay::start(format!("127.0.0.1:{port}").parse().unwrap(), lossy());
    let mut cli = ours_client(relay.addr(), PSK_HEX, &["--retransmit-ms", "300"]);
    expect_connected(&cli, Duration::from_secs(20));
    cli.write_line("through the relay");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "through the relay");
    scenarios::assert_ours_client_recovered(&mut cli, &relay, T);
}

/// gnutls-cli → lossy relay → our server: completes by retransmission, then echoes.
#[test]
fn gnutls_client_ours_server_through_lossy_relay() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--retransmit-ms", "300"]);
    let relay = Relay::start(addr, lossy());
    let mut cli = gnutls_client(
        relay.addr().port(),
        &prio("TLS_PSK_WITH_AES_128_CCM_8"),
        PSK_HEX,
        &[],
    );
    cli.expect_line(Stream::Stdout, Duration::from_secs(20), "handshake", |l| {
        l.contains("Handshake was completed")
    });
    expect_connected(&srv, T);
    cli.write_line("lossy echo");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "lossy echo");
    let r = relay.stats();
    assert!(r.dropped() >= 2, "relay dropped {r:?}");
}

/// `--sni`: gnutls-serv parses our server_name extension (list length 2 + type 1 + length 2 +
/// the name) and the handshake completes.
#[test]
fn ours_client_sni_parsed_by_gnutls() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let name = "naf.example.org";
    let (srv, port) = gnutls_server(&prio("TLS_PSK_WITH_AES_128_CCM_8"), &[]);
    let mut cli = ours_client(
        format!("127.0.0.1:{port}").parse().unwrap(),
        PSK_HEX,
        &["--sni", name],
    );
    expect_connected(&cli, T);
    let want = format!(
        "Parsing extension 'Server Name Indication/0' ({} bytes)",
        name.len() + 5
    );
    srv.proc
        .expect_in_transcript(T, "SNI parsed by gnutls-serv", |l| l.contains(&want));
    cli.close_stdin();
    cli.wait_exit(T).expect("exit");
}

/// psk_identity_hint on: gnutls-cli reports the hint our server sends.
#[test]
fn ours_server_hint_reaches_gnutls_client() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--hint", "3GPP-bootstrapping"]);
    let mut cli = gnutls_client(
        addr.port(),
        &prio("TLS_PSK_WITH_AES_128_CCM_8"),
        PSK_HEX,
        &[],
    );
    cli.expect_in_transcript(T, "hint at gnutls-cli", |l| {
        l.contains("PSK hint '3GPP-bootstrapping'")
    });
    expect_connected(&srv, T);
    cli.close_stdin();
    cli.wait_exit(T).expect("gnutls-cli exits");
}

/// A server that sends a psk_identity_hint (gnutls-serv --pskhint): our client still connects.
#[test]
fn ours_client_accepts_gnutls_server_hint() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (_srv, port) = gnutls_server(
        &prio("TLS_PSK_WITH_AES_128_CCM_8"),
        &["--pskhint", "3GPP-bootstrapping"],
    );
    let mut cli = ours_client(format!("127.0.0.1:{port}").parse().unwrap(), PSK_HEX, &[]);
    expect_connected(&cli, T);
    cli.write_line("with hint");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "with hint");
    cli.close_stdin();
    assert!(cli.wait_exit(T).expect("exit").success());
}

/// Our server packing ServerHello, ServerKeyExchange and ServerHelloDone into one record
/// (`--pack-handshake-records`) still serves gnutls; the default (one record per message) costs
/// exactly two record headers more.
#[test]
fn gnutls_client_ours_server_packed_records() {
    const CCM8: &str = "TLS_PSK_WITH_AES_128_CCM_8";
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let packed = scenarios::ours_server_first_flight(
        true,
        CCM8,
        |a| gnutls_client(a.port(), &prio(CCM8), PSK_HEX, &[]),
        T,
    );
    let unpacked = scenarios::ours_server_first_flight(
        false,
        CCM8,
        |a| gnutls_client(a.port(), &prio(CCM8), PSK_HEX, &[]),
        T,
    );
    scenarios::assert_packing_saves_two_record_headers(unpacked, packed);
}

/// gnutls-cli without RFC 7627 extended master secret (`%NO_SESSION_HASH`), `-r`: connects,
/// then reconnects offering to resume.
fn gnutls_client_without_ems(port: u16) -> support::Proc {
    let priority = format!("{}:%NO_SESSION_HASH", prio("TLS_PSK_WITH_AES_128_CCM_8"));
    gnutls_client(port, &priority, PSK_HEX, &["-r"])
}

/// Under the default `--ems required` a client without EMS is refused with handshake_failure
/// and a log line that names the cause and the option.
#[test]
fn gnutls_client_without_ems_refused_under_required() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &[]);
    let cli = gnutls_client_without_ems(addr.port());
    cli.expect_in_transcript(T, "gnutls-cli gets handshake_failure", |l| {
        l.contains("Received alert [40]")
    });
    let line = srv.expect_line(Stream::Stderr, T, "WARN naming the cause", |l| {
        l.contains("WARN")
    });
    assert!(
        line.contains("handshake refused")
            && line.contains("extended master secret")
            && line.contains("--ems preferred"),
        "{line}"
    );
    scenarios::assert_ours_server_refused(&srv);
}

/// Under `--ems preferred` the same client completes its handshake (logged at WARN once, EMS
/// shown false), and its resumption attempt gets a full handshake: the session was never
/// resumable (RFC 7627 §5.3). The same gnutls-cli with EMS does resume, so the check bites.
#[test]
fn gnutls_client_without_ems_accepted_under_preferred_and_never_resumed() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let (srv, addr) = ours_server(PSK_HEX, &["--ems", "preferred"]);
    let mut cli = gnutls_client_without_ems(addr.port());
    for n in ["first", "second"] {
        let ev = expect_connected(&srv, T);
        assert_eq!(ev["extended_master_secret"], false, "{n}: {ev}");
        assert_eq!(ev["resumed"], false, "{n}: a full handshake: {ev}");
    }
    cli.expect_in_transcript(T, "gnutls-cli's second handshake", |l| {
        l.contains("Resume Handshake was completed")
    });
    cli.write_line("after");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "after");
    let out = cli.transcript();
    assert!(!out.contains("This is a resumed session"), "{out}");
    assert!(!out.contains("extended master secret"), "{out}");
    cli.close_stdin();
    cli.wait_exit(T);
    let log = srv.transcript();
    assert_eq!(
        log.matches("session without extended master secret")
            .count(),
        1,
        "one WARN per peer:\n{log}"
    );

    // control: with EMS, the same -r run resumes
    let (srv, addr) = ours_server(PSK_HEX, &["--ems", "preferred"]);
    let cli = gnutls_client(
        addr.port(),
        &prio("TLS_PSK_WITH_AES_128_CCM_8"),
        PSK_HEX,
        &["-r"],
    );
    assert_eq!(expect_connected(&srv, T)["extended_master_secret"], true);
    assert_eq!(expect_connected(&srv, T)["resumed"], true);
    cli.expect_in_transcript(T, "resumed", |l| l.contains("This is a resumed session"));
}

/// Our client against gnutls-serv without EMS: refused by default (exit 2, the cause named),
/// accepted with `--ems preferred` (EMS shown false, data flows).
#[test]
fn ours_client_against_gnutls_server_without_ems() {
    if !require_peer(Peer::Gnutls) {
        return;
    }
    let priority = format!("{}:%NO_SESSION_HASH", prio("TLS_PSK_WITH_AES_128_CCM_8"));
    let (_srv, port) = gnutls_server(&priority, &[]);
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cli = ours_client(addr, PSK_HEX, &["--timeout-ms", "5000"]);
    let st = cli.wait_exit(T).expect("our client gives up");
    let out = cli.transcript();
    assert_eq!(st.code(), Some(69), "{out}");
    assert!(
        out.contains("extended master secret") && out.contains("--ems preferred"),
        "{out}"
    );
    let (_srv, port) = gnutls_server(&priority, &[]);
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cli = ours_client(addr, PSK_HEX, &["--ems", "preferred"]);
    let ev = expect_connected(&cli, T);
    assert_eq!(ev["extended_master_secret"], false, "{ev}");
    cli.write_line("no ems");
    cli.expect_line(Stream::Stdout, T, "echo", |l| l == "no ems");
    cli.close_stdin();
    assert!(cli.wait_exit(T).expect("exit").success());
}
