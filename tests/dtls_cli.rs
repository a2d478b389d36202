//! The `simbridge dtls` CLI contract, our client against our server over loopback.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const PSK: &str = "000102030405060708090a0b0c0d0e0f";

/// Kills the child on drop, so a failing test never leaves a process behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simbridge"))
}

/// Starts our server on port 0 and returns it with the address from its `listening` event.
fn server(extra: &[&str]) -> (Guard, String, mpsc::Receiver<String>) {
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
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
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
    let mut guard = Guard(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = guard.0.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "client did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(guard.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(guard.0.stderr.as_mut().unwrap(), &mut err).unwrap();
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
