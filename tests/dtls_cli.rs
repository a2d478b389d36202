//! The `simbridge dtls` CLI contract, our client against our server over loopback.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use support::KillOnDrop;
use support::process::line_reader;

const PSK: &str = "000102030405060708090a0b0c0d0e0f";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simbridge"))
}

/// Starts our server on port 0 and returns it with the address from its `listening` event.
fn server(extra: &[&str]) -> (KillOnDrop, String, mpsc::Receiver<String>) {
    let mut child = bin()
        .args([
            "dtls",
            "server",
            "--listen",
            "127.0.0.1:0",
            "--psk-identity",
            "client1",
            "--psk",
            PSK,
            "--json-events",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let stderr = child.stderr.take().unwrap();
    let guard = KillOnDrop::new(child);
    let rx = line_reader(stderr);
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("listening event");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["event"], "listening");
    (guard, v["addr"].as_str().unwrap().to_owned(), rx)
}

fn run_client(addr: &str, args: &[&str], input: &str) -> (i32, String, Vec<serde_json::Value>) {
    let mut child = bin()
        .args([
            "dtls",
            "client",
            "--connect",
            addr,
            "--psk",
            PSK,
            "--json-events",
            "--timeout-ms",
            "5000",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    // give the echo time to come back before EOF starts the close
    std::thread::sleep(Duration::from_millis(700));
    drop(stdin);
    let mut guard = KillOnDrop::new(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = guard.child().try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "client did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(guard.child().stdout.as_mut().unwrap(), &mut out).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(guard.child().stderr.as_mut().unwrap(), &mut err).unwrap();
    let events = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (status.code().unwrap_or(-1), out, events)
}

#[test]
fn client_and_server_echo_with_json_events() {
    let (_srv, addr, rx) = server(&[
        "--echo",
        "--suite",
        "TLS_PSK_WITH_AES_128_GCM_SHA256",
        "--suite",
        "TLS_PSK_WITH_AES_128_CCM_8",
    ]);
    let (code, out, events) = run_client(&addr, &["--psk-identity", "client1"], "one\ntwo\n");
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(out, "one\ntwo\n");
    assert_eq!(events[0]["event"], "connected");
    assert_eq!(events[0]["suite"], "TLS_PSK_WITH_AES_128_CCM_8");
    assert_eq!(events[0]["identity"], "client1");
    assert_eq!(events[0]["resumed"], false);
    let stats = events
        .iter()
        .find(|e| e["event"] == "stats")
        .expect("stats event");
    assert_eq!(stats["handshake_datagrams_sent"], 3);
    assert_eq!(stats["round_trips"], 3);
    assert!(events.iter().any(|e| e["event"] == "closed"));
    let connected = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(connected.contains("\"connected\""), "{connected}");
}

#[test]
fn handshake_failure_exits_nonzero_naming_the_alert() {
    let (_srv, addr, _rx) = server(&[]);
    let (code, _, events) = run_client(&addr, &["--psk-identity", "mallory"], "");
    assert_eq!(
        code, 69,
        "a failed handshake: the peer is unavailable (EX_UNAVAILABLE)"
    );
    let closed = events
        .iter()
        .find(|e| e["event"] == "closed")
        .expect("closed event");
    assert!(
        closed["reason"].as_str().unwrap().contains("decrypt_error"),
        "{closed}"
    );
}

#[test]
fn unknown_suite_name_is_an_error_naming_it() {
    let out = bin()
        .args([
            "dtls",
            "client",
            "--connect",
            "127.0.0.1:9",
            "--psk-identity",
            "a",
            "--psk",
            PSK,
            "--suite",
            "TLS_FOO",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS_FOO"));
}

/// Writes `content` to a new file in `dir` with `mode`.
fn key_file(dir: &std::path::Path, name: &str, content: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// `dtls server --listen 127.0.0.1:0` prints `ACCEPT <bound address>` first on stdout (as
/// s_server does), the key comes from `--psk-file` on the server and `SIMBRIDGE_PSK` on the
/// client, and neither process has the key on its command line.
#[test]
fn server_prints_its_bound_address_and_keys_stay_off_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), "psk", &format!("{PSK}\n"), 0o600);
    let mut child = bin()
        .args(["dtls", "server", "--listen", "127.0.0.1:0", "--echo"])
        .args(["--psk-identity", "client1", "--psk-file"])
        .arg(&file)
        .env_remove("SIMBRIDGE_PSK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let _guard = KillOnDrop::new(child);
    let first = line_reader(stdout)
        .recv_timeout(Duration::from_secs(10))
        .expect("the server prints its address");
    let addr = first
        .trim()
        .strip_prefix("ACCEPT ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();
    let sa: std::net::SocketAddr = addr.parse().expect("an address");
    assert_ne!(sa.port(), 0, "the bound port, not the asked one");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(PSK));

    let mut client = bin()
        .args([
            "dtls",
            "client",
            "--connect",
            &addr,
            "--psk-identity",
            "client1",
        ])
        .args(["--json-events", "--timeout-ms", "5000"])
        .env("SIMBRIDGE_PSK", PSK)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let cpid = client.id();
    let cmdline = std::fs::read(format!("/proc/{cpid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(PSK));
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"via env\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(client.stdin.take());
    let out = client.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via env\n");
}

/// Bad key input gets an error naming where it came from and what is expected.
#[test]
fn bad_psk_sources_are_refused_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: Option<&str>| {
        let mut c = bin();
        c.args([
            "dtls",
            "client",
            "--connect",
            "127.0.0.1:9",
            "--psk-identity",
            "a",
        ])
        .args(args)
        .env_remove("SIMBRIDGE_PSK");
        if let Some(v) = env {
            c.env("SIMBRIDGE_PSK", v);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let open = key_file(dir.path(), "open", PSK, 0o644);
    let err = run(&["--psk-file", open.to_str().unwrap()], None);
    assert!(err.contains("open") && err.contains("chmod 600"), "{err}");
    let nothex = key_file(dir.path(), "nothex", "xyz", 0o600);
    let err = run(&["--psk-file", nothex.to_str().unwrap()], None);
    assert!(err.contains("nothex") && err.contains("hex"), "{err}");
    let err = run(&["--psk-file", "/nonexistent/psk"], None);
    assert!(err.contains("/nonexistent/psk"), "{err}");
    let err = run(&[], None);
    assert!(
        err.contains("--psk-file") && err.contains("SIMBRIDGE_PSK"),
        "{err}"
    );
    let err = run(&[], Some("zz"));
    assert!(
        err.contains("SIMBRIDGE_PSK") && err.contains("hex"),
        "{err}"
    );
    assert!(
        !err.contains("zz"),
        "the bad value itself is not echoed: {err}"
    );
}

/// `--version 1.3` with only DTLS 1.2 suites has nothing to negotiate: refused before any
/// socket, naming `--suite` and the version.
#[test]
fn a_version_without_a_suite_of_it_is_refused_naming_suite() {
    for role in [
        &["server", "--listen", "127.0.0.1:0"][..],
        &["client", "--connect", "127.0.0.1:9"][..],
    ] {
        let out = bin()
            .arg("dtls")
            .args(role)
            .args(["--psk-identity", "a", "--psk", PSK, "--version", "1.3"])
            .args(["--suite", "TLS_PSK_WITH_AES_128_CCM_8"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{role:?}: {err}");
        assert!(
            err.contains("--suite") && err.contains("DTLS 1.3 suite"),
            "{role:?}: {err}"
        );
    }
    let out = bin()
        .args([
            "dtls",
            "server",
            "--listen",
            "127.0.0.1:0",
            "--psk-identity",
            "a",
        ])
        .args(["--psk", PSK, "--version", "1.4"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1.4"));
}

/// `dtls server --version 1.3 --echo` serves wolfSSL's DTLS 1.3 client (psk_ke, CCM_8): the
/// JSON event says 1.3 and the client gets its messages back.
#[test]
fn the_server_speaks_dtls13_to_wolfssl_with_version_13() {
    let Some(peer) = support::peers::peer_bin("wolf13_peer") else {
        return;
    };
    let (_srv, addr, rx) = server(&["--version", "1.3", "--echo"]);
    let port = addr.rsplit(':').next().unwrap().to_string();
    let out = Command::new(&peer)
        .args(["client", &port, "-k", PSK, "-i", "client1", "-n", "3"])
        .args(["-l", "TLS13-AES128-CCM-8-SHA256"])
        .output()
        .expect("wolf13_peer");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("CONNECTED version=DTLSv1.3"), "{text}");
    for i in 0..3 {
        assert!(text.contains(&format!("RECV msg {i}")), "{text}");
    }
    let connected = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(5)).ok())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .find(|v| v["event"] == "connected")
        .expect("connected event");
    assert_eq!(connected["version"], "1.3", "{connected}");
    assert_eq!(
        connected["suite"], "TLS_AES_128_CCM_8_SHA256",
        "{connected}"
    );
}

/// Our client and server with `--version 1.3`: the echo comes back over DTLS 1.3 (psk_ke or
/// psk_dhe_ke, the server's choice), the events say so, and two round trips made the handshake
/// (the server's HelloRetryRequest cookie, then the PSK handshake).
#[test]
fn our_client_and_server_speak_dtls13_with_version_13() {
    let (_srv, addr, rx) = server(&["--version", "1.3", "--echo"]);
    let (code, out, events) = run_client(
        &addr,
        &["--psk-identity", "client1", "--version", "1.3"],
        "one\ntwo\n",
    );
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(out, "one\ntwo\n");
    assert_eq!(events[0]["event"], "connected", "{events:?}");
    assert_eq!(events[0]["version"], "1.3", "{events:?}");
    assert_eq!(events[0]["suite"], "TLS_AES_128_CCM_8_SHA256");
    assert!(
        events[0].get("extended_master_secret").is_none(),
        "1.2 only"
    );
    let stats = events
        .iter()
        .find(|e| e["event"] == "stats")
        .expect("stats event");
    assert_eq!(stats["round_trips"], 2, "{stats}");
    let server_side = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(5)).ok())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .find(|v| v["event"] == "connected")
        .expect("the server's connected event");
    assert_eq!(server_side["version"], "1.3", "{server_side}");
}

/// `dtls client --version 1.3` against wolfSSL's DTLS 1.3 server (which echoes): our client's
/// data comes back.
#[test]
fn our_client_speaks_dtls13_to_a_wolfssl_server() {
    let Some(peer) = support::peers::peer_bin("wolf13_peer") else {
        return;
    };
    let srv = support::wolf13::Wolf13Server::start(
        &peer,
        &[
            "-k",
            PSK,
            "-i",
            "client1",
            "-n",
            "2",
            "-l",
            "TLS13-AES128-CCM-8-SHA256",
        ],
    )
    .expect("wolf13_peer server");
    let mut guard = KillOnDrop::new(srv.child);
    let addr = format!("127.0.0.1:{}", srv.port);
    let (code, out, events) = run_client(
        &addr,
        &["--psk-identity", "client1", "--version", "1.3"],
        "ping 1\nping 2\n",
    );
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(out, "ping 1\nping 2\n", "{events:?}");
    assert_eq!(events[0]["version"], "1.3", "{events:?}");
    let _ = guard.child().kill();
}

/// `dtls client --version auto`: DTLS 1.3 from a server that speaks it (ours by default,
/// wolfSSL's), DTLS 1.2 after a fall-back from one that does not (ours with `--version 1.2`,
/// OpenSSL 3.0's s_server, which has no DTLS 1.3) — the events name the version, the echo
/// comes back either way.
#[test]
fn an_auto_client_gets_13_where_it_is_spoken_and_falls_back_to_12_elsewhere() {
    // PSK and identity are the ones of support::launch's OpenSSL server too
    assert_eq!((PSK, "client1"), (support::PSK_HEX, support::IDENTITY));
    let version_of = |addr: &str| {
        let args = ["--psk-identity", "client1", "--version", "auto"];
        let (code, out, events) = run_client(addr, &args, "auto\n");
        assert_eq!(code, 0, "{addr}: {events:?}");
        let connected = events
            .iter()
            .find(|e| e["event"] == "connected")
            .unwrap_or_else(|| panic!("{addr}: no connected event: {events:?}"));
        (connected["version"].as_str().unwrap_or("").to_string(), out)
    };
    let (_ours13, addr, _rx) = server(&["--echo"]);
    assert_eq!(version_of(&addr).0, "1.3");
    let (_ours12, addr, _rx) = server(&["--echo", "--version", "1.2"]);
    assert_eq!(version_of(&addr), ("1.2".into(), "auto\n".into()));

    if let Some(peer) = support::peers::peer_bin("wolf13_peer") {
        let srv = support::wolf13::Wolf13Server::start(
            &peer,
            &[
                "-k",
                PSK,
                "-i",
                "client1",
                "-n",
                "1",
                "-l",
                "TLS13-AES128-CCM-8-SHA256",
            ],
        )
        .expect("wolf13_peer server");
        let _guard = KillOnDrop::new(srv.child);
        let addr = format!("127.0.0.1:{}", srv.port);
        assert_eq!(version_of(&addr), ("1.3".into(), "auto\n".into()));
    }

    if support::peers::require("openssl", support::have("openssl")) {
        let (mut s_server, port) =
            support::launch::openssl_server("PSK-AES128-CCM8", support::PSK_HEX, &[]);
        let addr = format!("127.0.0.1:{port}");
        let (v, _) = version_of(&addr);
        assert_eq!(v, "1.2", "OpenSSL 3.0 speaks DTLS 1.2 only");
        s_server.kill();
    }
}
