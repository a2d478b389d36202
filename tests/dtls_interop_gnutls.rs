//! Our DTLS engine (through the `simbridge dtls` CLI) against GnuTLS's gnutls-serv / gnutls-cli,
//! both roles, every suite GnuTLS has among ours (the three plain-PSK AEAD suites; GnuTLS 3.7
//! has ECDHE-PSK only with CBC and ChaCha20, not the RFC 8442 AEAD suites), data both ways,
//! close_notify, wrong PSK, a lossy, reordering relay, packed handshake records and the
//! psk_identity_hint (the shared scenarios of `tests/support/scenarios.rs` over [`Gnutls`]);
//! then what only GnuTLS shows here: our server_name extension parsed, and peers without
//! RFC 7627 extended master secret.

mod support;

use std::time::Duration;

use support::launch::{expect_connected, gnutls_client, gnutls_server, ours_client, ours_server};
use support::peer_launcher::Gnutls;
use support::suites::{by_iana, gnutls_priority};
use support::{PSK_HEX, Peer, Stream, require_peer, scenarios};

const T: Duration = Duration::from_secs(10);

support::scenarios::interop_tests!(Gnutls);
support::scenarios::hint_tests!(Gnutls);

fn prio(iana: &str) -> String {
    gnutls_priority(by_iana(iana).gnutls.expect("GnuTLS has this suite"))
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
