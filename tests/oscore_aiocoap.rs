//! Interop with a real OSCORE stack, message by message: aiocoap's OSCORE (pip
//! `aiocoap[oscore]`, tests/peers/aiocoap_oscore.py) against simbridge-oscore, both ways, under a
//! context keyed from GBA by `simbridge::gba::oscore` and handed to aiocoap in its own
//! security-context format. aiocoap as client and our code as server, then our code as client
//! and aiocoap as server: GET and POST with their responses, and a replayed request refused by
//! each side.

mod support;

use simbridge::gba::oscore::OscoreKeying;
use simbridge_oscore::coap::{Message, MessageType, code, number};
use simbridge_oscore::protect::{self, ResponsePiv};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use support::oscore::{context as ours, establish};
use support::peers::{repo_root, require, venv_python};

/// The aiocoap peer process and its command pipe.
struct Aiocoap {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Aiocoap {
    fn start(context_dir: &Path) -> Self {
        let mut child = Command::new(venv_python())
            .arg(repo_root().join("tests/peers/aiocoap_oscore.py"))
            .arg(context_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the aiocoap peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// One command; `Ok(bytes)` or `Err(aiocoap's refusal)`.
    fn call(&mut self, cmd: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
        writeln!(self.stdin, "{cmd} {}", hex::encode(msg)).expect("write to aiocoap");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from aiocoap");
        let line = line.trim();
        match line.strip_prefix("ERR ") {
            Some(e) => Err(e.to_string()),
            None => Ok(hex::decode(line).unwrap_or_else(|_| panic!("aiocoap said {line:?}"))),
        }
    }
}

impl Drop for Aiocoap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiocoap_available() -> bool {
    let ok = Command::new(venv_python())
        .args(["-c", "import aiocoap.oscore, cbor2, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(
        "aiocoap with OSCORE in the venv (pip install -r scripts/requirements.txt)",
        ok,
    )
}

/// aiocoap's security-context directory for `k` (settings.json).
fn aiocoap_dir(k: &OscoreKeying) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let settings = serde_json::json!({
        "sender-id_hex": hex::encode(&k.sender_id),
        "recipient-id_hex": hex::encode(&k.recipient_id),
        "secret_hex": hex::encode(k.master_secret.expose()),
        "salt_hex": hex::encode(&k.master_salt),
        "algorithm": "AES-CCM-16-64-128",
    });
    std::fs::write(d.path().join("settings.json"), settings.to_string()).expect("settings");
    d
}

fn request(method: u8, path: &[u8], payload: &[u8], mid: u16) -> Message {
    let mut m = Message::new(MessageType::Confirmable, method, mid);
    m.set_token(&mid.to_be_bytes()).expect("token");
    m.add_option(number::URI_PATH, path);
    m.payload = payload.to_vec();
    m
}

fn response(to: &Message, c: u8, payload: &[u8]) -> Message {
    let mut m = Message::new(MessageType::Acknowledgement, c, to.message_id);
    m.set_token(to.token()).expect("token");
    m.payload = payload.to_vec();
    m
}

#[test]
fn aiocoap_client_and_our_server_exchange_get_and_post_and_a_replay_is_refused() {
    if !aiocoap_available() {
        return;
    }
    let (_, _, ue, naf) = establish(&[0x3c; 32]);
    let dir = aiocoap_dir(&ue);
    let mut client = Aiocoap::start(dir.path());
    let mut server = ours(&naf);
    for (method, path, body, answer) in [
        (code::GET, &b"temperature"[..], &b""[..], &b"21.5 C"[..]),
        (code::POST, b"readings", b"{\"t\":21.5,\"h\":40}", b""),
    ] {
        let plain = request(method, path, body, 0x100 + u16::from(method));
        let wire = client
            .call("protect-request", &plain.encode())
            .expect("aiocoap protects");
        let got = protect::unprotect_request(&mut server, &Message::parse(&wire).expect("parse"))
            .expect("our server verifies aiocoap's request");
        assert_eq!(got.message, plain);
        let reply = response(&plain, code::CONTENT, answer);
        let protected =
            protect::protect_response(&mut server, &reply, &got.binding, ResponsePiv::FromRequest)
                .expect("we protect the response");
        let back = client
            .call("unprotect-response", &protected.encode())
            .expect("aiocoap verifies our response");
        assert_eq!(Message::parse(&back).expect("parse"), reply);
        // the same protected request again: our replay window refuses it
        let again = protect::unprotect_request(&mut server, &Message::parse(&wire).expect("parse"));
        assert!(again.is_err(), "a replayed aiocoap request was accepted");
    }
}

#[test]
fn our_client_and_aiocoap_server_exchange_get_and_post_and_a_replay_is_refused() {
    if !aiocoap_available() {
        return;
    }
    let (_, _, ue, naf) = establish(&[0x3c; 32]);
    let dir = aiocoap_dir(&naf);
    let mut server = Aiocoap::start(dir.path());
    let mut client = ours(&ue);
    for (method, path, body, answer) in [
        (code::GET, &b"temperature"[..], &b""[..], &b"21.5 C"[..]),
        (code::POST, b"readings", b"{\"t\":21.5,\"h\":40}", b""),
    ] {
        let plain = request(method, path, body, 0x200 + u16::from(method));
        let (protected, binding) = protect::protect_request(&mut client, &plain).expect("protect");
        let wire = protected.encode();
        let seen = server
            .call("unprotect-request", &wire)
            .expect("aiocoap verifies our request");
        assert_eq!(Message::parse(&seen).expect("parse"), plain);
        let reply = response(&plain, code::CONTENT, answer);
        let back = server
            .call("protect-response", &reply.encode())
            .expect("aiocoap protects its response");
        let got =
            protect::unprotect_response(&client, &Message::parse(&back).expect("parse"), &binding)
                .expect("we verify aiocoap's response");
        assert_eq!(got, reply);
        // the same protected request again: aiocoap's replay window refuses it
        let replay = server.call("unprotect-request", &wire);
        let err = replay.expect_err("aiocoap accepted a replayed request");
        assert!(err.starts_with("ReplayError"), "{err}");
    }
}
