//! Bytes and round trips on the wire, measured in one run through a counting UDP relay, for
//! our engine (the `simbridge dtls` CLI both ends), OpenSSL (s_client/s_server), Mbed TLS 3.6
//! and wolfSSL 5.9 (our peers both ends): full PSK-AES128-CCM8 handshake with cookie, with a Connection
//! ID, session-ID resumption, ticket resumption, and (ours) resumption without the cookie.
//! Each row is one connection: handshake plus one close_notify each way, nothing else, for
//! every implementation alike. Prints the table (run with --nocapture) and checks our rows.
//! A missing peer skips its rows (or fails with SIMBRIDGE_REQUIRE_PEERS).

mod interop_support;
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use interop_support::*;
use std::cell::Cell;
use support::launch::{openssl_client_command, openssl_server_command};
use support::{Proc, Relay, RelayConfig, free_udp_port, peer_bin, tool};

const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const ID: &str = "Client_identity";
const T: Duration = Duration::from_secs(10);

/// The shared counting relay in front of a server on 127.0.0.1, read round by round.
struct Meter {
    relay: Relay,
    port: u16,
    /// (datagrams, c2s bytes, s2c bytes) counted up to the last [`Meter::take`].
    taken: Cell<(u64, u64, u64)>,
}

impl Meter {
    fn new(upstream: u16) -> Self {
        let relay = Relay::start(
            SocketAddr::from(([127, 0, 0, 1], upstream)),
            RelayConfig::default(),
        );
        let port = relay.addr().port();
        Self {
            relay,
            port,
            taken: Cell::new((0, 0, 0)),
        }
    }

    /// (datagrams, c2s bytes, s2c bytes) since the last call.
    fn take(&self) -> (usize, usize, usize) {
        std::thread::sleep(Duration::from_millis(200));
        let s = self.relay.stats();
        let now = (s.datagrams(), s.c2s.bytes, s.s2c.bytes);
        let before = self.taken.replace(now);
        (
            (now.0 - before.0) as usize,
            (now.1 - before.1) as usize,
            (now.2 - before.2) as usize,
        )
    }
}

struct Row {
    name: String,
    datagrams: usize,
    c2s: usize,
    s2c: usize,
}

fn row(rows: &mut Vec<Row>, name: &str, r: (usize, usize, usize)) {
    rows.push(Row {
        name: name.to_owned(),
        datagrams: r.0,
        c2s: r.1,
        s2c: r.2,
    });
}

fn ours_client(port: u16, extra: &[&str], session: Option<&Path>) -> bool {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simbridge"));
    cmd.args(["dtls", "client", "--connect", &format!("127.0.0.1:{port}")])
        .args(["--psk-identity", ID, "--psk", KEY, "--timeout-ms", "5000"])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(s) = session {
        cmd.arg("--session-file").arg(s);
    }
    cmd.status().is_ok_and(|s| s.success())
}

fn ours_server(port: u16, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simbridge"));
    cmd.args(["dtls", "server", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--psk-identity", ID, "--psk", KEY, "--echo"])
        .args(extra);
    let p = Proc::spawn("peer", &mut cmd);
    std::thread::sleep(Duration::from_millis(200));
    p
}

fn measure_ours(rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, srv, cli, resume) in [
        (
            "ours: full PSK CCM_8 + cookie",
            vec!["--no-cid"],
            vec![],
            false,
        ),
        (
            "ours: full + CID (4 B server, 2 B client)",
            vec![],
            vec!["--cid", "2"],
            false,
        ),
        (
            "ours: session-ID resumption (+cookie)",
            vec!["--no-tickets", "--no-cid"],
            vec![],
            true,
        ),
        (
            "ours: session-ID resumption, cookie skipped",
            vec!["--no-tickets", "--no-cid", "--resume-without-cookie"],
            vec![],
            true,
        ),
        (
            "ours: ticket resumption (+cookie)",
            vec!["--no-cid"],
            vec![],
            true,
        ),
    ] {
        let port = free_udp_port();
        let _s = ours_server(port, &srv);
        let relay = Meter::new(port);
        let sess = dir.path().join(name.len().to_string());
        if resume {
            assert!(ours_client(relay.port, &cli, Some(&sess)), "{name}: first");
            let first = relay.take();
            if name.contains("ticket") {
                row(rows, "ours: full with ticket (NST)", first);
            }
            assert!(
                ours_client(relay.port, &cli, Some(&sess)),
                "{name}: resumed"
            );
        } else {
            assert!(ours_client(relay.port, &cli, None), "{name}");
        }
        row(rows, name, relay.take());
    }
}

fn measure_openssl(rows: &mut Vec<Row>) {
    let Some(_) = tool("openssl") else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, extra, resume) in [
        (
            "OpenSSL 3.0: full PSK CCM_8 + cookie",
            vec!["-no_ticket"],
            false,
        ),
        (
            "OpenSSL 3.0: session-ID resumption",
            vec!["-no_ticket"],
            true,
        ),
        ("OpenSSL 3.0: ticket resumption", vec![], true),
    ] {
        let port = free_udp_port();
        let mut cmd = openssl_server_command(port, ID, KEY, "PSK-AES128-CCM8");
        cmd.args(&extra);
        let srv = Proc::spawn("peer", &mut cmd);
        srv.wait_seen("ACCEPT", T).expect("s_server");
        let relay = Meter::new(port);
        let sess = dir.path().join(format!("{port}.pem"));
        let runs = if resume { 2 } else { 1 };
        for i in 0..runs {
            let mut c = openssl_client_command(
                SocketAddr::from(([127, 0, 0, 1], relay.port)),
                ID,
                KEY,
                "PSK-AES128-CCM8",
            );
            c.args(&extra).arg("-sess_out").arg(&sess);
            if i == 1 {
                c.arg("-sess_in").arg(&sess);
            }
            let mut cli = Proc::spawn("peer", &mut c);
            cli.wait_seen("Verify return code", T).expect("s_client");
            cli.close_stdin();
            let _ = cli.wait_exit(T);
            if i == 0 && resume {
                let first = relay.take();
                if name.contains("ticket") {
                    row(rows, "OpenSSL 3.0: full with ticket (NST)", first);
                }
            }
        }
        row(rows, name, relay.take());
    }
}

fn measure_mbedtls(rows: &mut Vec<Row>) {
    let Some(bin) = peer_bin("mbed_peer") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, srv, cli, resume) in [
        (
            "Mbed TLS 3.6: full PSK CCM_8 + cookie",
            vec!["-T"],
            vec![],
            false,
        ),
        (
            "Mbed TLS 3.6: full + CID (4 B / 2 B)",
            vec!["-T", "-c", "c1d5e7f0"],
            vec!["-c", "c11e"],
            false,
        ),
        (
            "Mbed TLS 3.6: session-ID resumption",
            vec!["-T"],
            vec![],
            true,
        ),
        ("Mbed TLS 3.6: ticket resumption", vec![], vec![], true),
    ] {
        let port = free_udp_port();
        let p = port.to_string();
        let mut sargs = vec!["server", p.as_str(), "-N", "2", "-w", "3000"];
        sargs.extend(&srv);
        let mut s = Proc::start(&bin, &sargs);
        s.wait_seen("LISTENING", T).expect("mbed server");
        let relay = Meter::new(port);
        let rp = relay.port.to_string();
        let sess = dir.path().join(format!("{port}.sess"));
        let sess_s = sess.to_string_lossy().to_string();
        let runs = if resume { 2 } else { 1 };
        for i in 0..runs {
            let mut cargs = vec!["client", rp.as_str(), "-n", "0"];
            cargs.extend(&cli);
            if resume {
                cargs.extend(["-s", sess_s.as_str()]);
            }
            let mut c = Proc::start(&bin, &cargs);
            assert!(c.wait_exit(T).is_some_and(|s| s.success()), "{name}");
            s.wait_seen("CLOSED", T);
            if i == 0 && resume {
                let first = relay.take();
                if name.contains("ticket") {
                    row(rows, "Mbed TLS 3.6: full with ticket (NST)", first);
                }
                s.forget_seen();
            }
        }
        row(rows, name, relay.take());
    }
}

/// After a NAT rebinding: our client (library, 2-byte CID) moves to a new source port and
/// sends one 10-byte record, the server echoes it; the relay counts that exchange. With a
/// CID it is the whole cost of the rebinding (no handshake); without one the session is lost
/// and a full handshake (the first row) follows.
fn measure_cid_continuation(rows: &mut Vec<Row>, name: &str, server: Option<Proc>, port: u16) {
    use simbridge::dtls::config::StaticPsk;
    use simbridge::secret::SecretVec;
    let Some(_s) = server else { return };
    let relay = Meter::new(port);
    let mut cfg = simbridge::dtls::ClientConfig::new(std::sync::Arc::new(StaticPsk {
        identity: ID.as_bytes().to_vec(),
        key: SecretVec::new((0u8..16).collect()),
    }));
    cfg.connection_id = Some(2);
    let mut c = UdpClient::connect(cfg, relay.port);
    assert_eq!(c.connected(T), Some(false), "{name}");
    assert!(c.echo(b"warm-up...", T));
    relay.take();
    c.rebind();
    assert!(c.echo(b"0123456789", T), "{name}: echo after rebinding");
    row(rows, name, relay.take());
    c.close();
}

/// wolfSSL 5.9 both ends. Its client resumes only inside one process (`-R`: two connections),
/// so the resumed row is that run minus a single full connection with a ticket.
fn measure_wolfssl(rows: &mut Vec<Row>) {
    let Some(bin) = peer_bin("wolf_peer") else {
        return;
    };
    let run = |srv: &[&str], cli: &[&str], conns: &str| {
        let port = free_udp_port();
        let p = port.to_string();
        let mut sargs = vec!["server", p.as_str(), "-N", conns, "-w", "3000"];
        sargs.extend(srv);
        let s = Proc::start(&bin, &sargs);
        s.wait_seen("LISTENING", T).expect("wolf server");
        let relay = Meter::new(port);
        let rp = relay.port.to_string();
        let mut cargs = vec!["client", rp.as_str(), "-n", "0"];
        cargs.extend(cli);
        let mut c = Proc::start(&bin, &cargs);
        assert!(
            c.wait_exit(T).is_some_and(|st| st.success()),
            "wolf {cli:?}"
        );
        relay.take()
    };
    row(
        rows,
        "wolfSSL 5.9: full PSK CCM_8 + cookie",
        run(&["-T"], &[], "1"),
    );
    row(
        rows,
        "wolfSSL 5.9: full + CID (4 B / 2 B)",
        run(&["-T", "-c", "c1d5e7f0"], &["-c", "c11e"], "1"),
    );
    let full_ticket = run(&[], &[], "1");
    row(rows, "wolfSSL 5.9: full with ticket (NST)", full_ticket);
    let both = run(&[], &["-R"], "2");
    row(
        rows,
        "wolfSSL 5.9: ticket resumption (two-connection run minus the full one)",
        (
            both.0 - full_ticket.0,
            both.1 - full_ticket.1,
            both.2 - full_ticket.2,
        ),
    );
}

#[test]
fn handshake_bytes_ours_openssl_mbedtls_wolfssl_in_one_run() {
    let mut rows = Vec::new();
    let port = free_udp_port();
    let srv = ours_server(port, &["--cid", "4"]);
    measure_cid_continuation(
        &mut rows,
        "ours: CID continuation after rebinding (10 B each way)",
        Some(srv),
        port,
    );
    let port = free_udp_port();
    let mbed = peer_bin("mbed_peer").map(|b| {
        let p = Proc::start(
            &b,
            &["server", &port.to_string(), "-c", "c1d5e7f0", "-w", "3000"],
        );
        p.wait_seen("LISTENING", T).expect("mbed server");
        p
    });
    measure_cid_continuation(
        &mut rows,
        "Mbed TLS 3.6 server: CID continuation after rebinding (10 B each way)",
        mbed,
        port,
    );
    measure_ours(&mut rows);
    measure_openssl(&mut rows);
    measure_mbedtls(&mut rows);
    measure_wolfssl(&mut rows);
    println!(
        "\n| case (handshake rows: handshake + close_notify each way) | datagrams | C->S | S->C | total |"
    );
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | **{}** |",
            r.name,
            r.datagrams,
            r.c2s,
            r.s2c,
            r.c2s + r.s2c
        );
    }
    let get = |n: &str| rows.iter().find(|r| r.name.starts_with(n)).unwrap();
    let full = get("ours: full PSK");
    assert_eq!(
        full.datagrams, 8,
        "CH HVR CH SH+SHD CKE+CCS+Fin CCS+Fin + 2 close_notify"
    );
    let skip = get("ours: session-ID resumption, cookie");
    assert_eq!(
        skip.datagrams, 5,
        "CH, SH+CCS+Fin, CCS+Fin + 2 close_notify"
    );
    assert!(skip.c2s + skip.s2c < full.c2s + full.s2c);
    let cont = get("ours: CID continuation");
    assert_eq!(cont.datagrams, 2, "one record each way, no handshake");
}
