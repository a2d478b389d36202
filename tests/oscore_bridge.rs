//! OSCORE instead of DTLS, end to end with real peers: libcoap's plain coap-client → our gateway
//! (`protection = "oscore"`, the GBA key from the card) → a tap that records and can rebind →
//! our server (`protection = "oscore"`, keys from the BSF key API) → libcoap's plain
//! coap-server. GET, PUT, POST, Observe and a block-wise transfer cross; a recorded request
//! replayed to the server is refused and never reaches the backend; a NAT rebinding needs
//! nothing; a gateway restart and a server restart go on without a new establishment (and the
//! gateway restart without AKA on the card).

mod common;
mod support;

use common::e2e::{coap, coap_backend};
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::KillOnDrop;

/// A loopback forwarder between the gateway and the server that keeps every gateway→server
/// datagram and can move to a new source port (a NAT rebinding).
struct Tap {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    rebind: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Tap {
    fn start(server: SocketAddr) -> Tap {
        let front = UdpSocket::bind("127.0.0.1:0").expect("tap");
        front
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let addr = front.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rebind = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, r, st) = (seen.clone(), rebind.clone(), stop.clone());
        std::thread::spawn(move || {
            let new_back = || {
                let b = UdpSocket::bind("127.0.0.1:0").expect("tap back");
                b.set_read_timeout(Some(Duration::from_millis(20)))
                    .expect("timeout");
                b
            };
            let mut back = new_back();
            let mut client = None;
            let mut buf = [0u8; 65_535];
            while !st.load(Ordering::SeqCst) {
                if r.swap(false, Ordering::SeqCst) {
                    back = new_back();
                }
                if let Ok((n, from)) = front.recv_from(&mut buf) {
                    client = Some(from);
                    s.lock().expect("lock").push(buf[..n].to_vec());
                    let _ = back.send_to(&buf[..n], server);
                }
                if let (Ok(n), Some(c)) = (back.recv(&mut buf), client) {
                    let _ = front.send_to(&buf[..n], c);
                }
            }
        });
        Tap {
            addr,
            seen,
            rebind,
            stop,
        }
    }

    fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    fn datagram(&self, i: usize) -> Vec<u8> {
        self.seen.lock().expect("lock")[i].clone()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn lines_with(lines: &[String], what: &str) -> usize {
    lines.iter().filter(|l| l.contains(what)).count()
}

/// The network side: the BSF (demo subscriber, NAF `localhost`), libcoap's coap-server as
/// backend and our OSCORE server; the processes, the server's configuration and the BSF URL.
struct Network {
    _bsf: Running,
    _backend: KillOnDrop,
    server_cfg: std::path::PathBuf,
    bsf_url: String,
}

fn network(dir: &Path) -> (Network, Running) {
    let token = write_file(dir, "token", "oscore-token\n");
    let (bsf, bsf_url) = start_demo_bsf(dir, &token);
    let (backend, coap_port) = coap_backend();
    let server_port = support::free_udp_port();
    let server_cfg = write_file(
        dir,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:{server_port}\"\nbackend = \"127.0.0.1:{coap_port}\"\nstate_dir = \"{}\"\nprotection = \"oscore\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            dir.join("server-state").display(),
            token.display()
        ),
    );
    let server = start_with_config("server", &server_cfg, "simbridge server (OSCORE)");
    (
        Network {
            _bsf: bsf,
            _backend: backend,
            server_cfg,
            bsf_url,
        },
        server,
    )
}

/// The gateway's configuration: one OSCORE route to `upstream_port` on localhost.
fn gateway_config(
    dir: &Path,
    card_line: &str,
    bsf_url: &str,
    upstream_port: u16,
) -> std::path::PathBuf {
    write_file(
        dir,
        "gateway.toml",
        &format!(
            "state_dir = \"{}\"\n[card]\n{card_line}\n[gba]\nbsf = \"{bsf_url}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"localhost:{upstream_port}\"\npsk = \"gba\"\nprotection = \"oscore\"\n",
            dir.join("gw-state").display(),
        ),
    )
}

fn oscore_chain(dir: &Path, card_line: &str, card_state: Option<&Path>) {
    let (net, server) = network(dir);
    let server_cfg = net.server_cfg.clone();
    let tap = Tap::start(addr_in(&server.first_line));
    let gw_cfg = gateway_config(dir, card_line, &net.bsf_url, tap.addr.port());
    let gw = start_with_config("bridge", &gw_cfg, "simbridge bridge (OSCORE)");
    let base = format!("coap://{}", addr_in(&gw.first_line));
    let data = format!("{base}/example_data");

    // PUT and GET; the PUT's protected datagram is kept for the replay below.
    coap(&["-m", "put", "-e", "first", &data]);
    let put_first = tap.count() - 1;
    assert_eq!(coap(&["-m", "get", &data]), "first");
    coap(&["-m", "put", "-e", "second", &data]);
    assert_eq!(coap(&["-m", "get", &data]), "second");
    // What crossed is OSCORE: an OSCORE option (number 9) and no plaintext.
    let wire = tap.datagram(put_first);
    assert!(
        !wire.windows(5).any(|w| w == b"first"),
        "the PUT crossed in clear"
    );
    // POST crosses too: libcoap's example_data answers it with its own 4.05.
    let o = support::run_with_timeout(
        Command::new("coap-client-notls").args(["-m", "post", "-e", "x", &data]),
        Duration::from_secs(20),
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("4.05"), "the backend's answer to POST: {out}");

    // Observe: notifications of /time keep coming through the one context.
    let o = support::run_with_timeout(
        Command::new("coap-client-notls").args(["-s", "3", &format!("{base}/time")]),
        Duration::from_secs(20),
    );
    let notes = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "observe: {notes}");
    let n = notes.matches(':').count() / 2;
    assert!(n >= 2, "at least two notifications in 3 s: {notes:?}");

    // Block-wise: 3000 bytes in 64-byte blocks each way.
    let big: String = (0..3000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let file = write_file(dir, "big.txt", &big);
    let f = file.to_str().expect("path");
    coap(&["-m", "put", "-b", "64", "-f", f, &data]);
    assert_eq!(coap(&["-m", "get", "-b", "64", &data]), big);
    coap(&["-m", "put", "-e", "second", &data]);

    // A replay of the first PUT straight to the server: refused, the backend untouched.
    let attacker = UdpSocket::bind("127.0.0.1:0").expect("bind");
    attacker
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    attacker
        .send_to(&wire, addr_in(&server.first_line))
        .expect("replay");
    let mut buf = [0u8; 512];
    let n = attacker
        .recv(&mut buf)
        .expect("the server answers a replay");
    assert_eq!(buf[1], 0x81, "4.01 Unauthorized");
    assert!(
        buf[..n].ends_with(b"Replay detected"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert_eq!(
        coap(&["-m", "get", &data]),
        "second",
        "the replay changed nothing"
    );

    // A NAT rebinding: the server answers the new address, no new establishment.
    tap.rebind.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(coap(&["-m", "get", &data]), "second");
    let server_log = server.stderr_lines(Duration::from_millis(200));
    assert_eq!(
        lines_with(&server_log, "established with"),
        1,
        "one establishment for everything so far: {server_log:?}"
    );

    // A gateway restart: the saved context, no establishment, no AKA.
    assert_eq!(gw.terminate(), Some(0));
    let before = card_state.map(|p| std::fs::read(p).expect("card state"));
    let gw = start_with_config("bridge", &gw_cfg, "simbridge bridge (OSCORE) again");
    let base = format!("coap://{}", addr_in(&gw.first_line));
    let data = format!("{base}/example_data");
    assert_eq!(coap(&["-m", "get", &data]), "second");
    let log = gw.stderr_lines(Duration::from_millis(200));
    assert_eq!(
        lines_with(&log, "continuing the OSCORE context"),
        1,
        "{log:?}"
    );
    assert_eq!(lines_with(&log, "establishing"), 0, "{log:?}");
    if let (Some(p), Some(before)) = (card_state, before) {
        assert_eq!(std::fs::read(p).expect("card"), before, "no AKA on restart");
    }

    // A server restart: its saved context, Echo for freshness, still one establishment.
    assert_eq!(server.terminate(), Some(0));
    let server = start_with_config("server", &server_cfg, "simbridge server (OSCORE) again");
    coap(&["-m", "put", "-e", "third", &data]);
    assert_eq!(coap(&["-m", "get", &data]), "third");
    let server_log = server.stderr_lines(Duration::from_millis(200));
    assert_eq!(
        lines_with(&server_log, "1 contexts from before the restart"),
        1,
        "{server_log:?}"
    );
    assert_eq!(
        lines_with(&server_log, "established with"),
        0,
        "{server_log:?}"
    );
    let log = gw.stderr_lines(Duration::from_millis(100));
    assert_eq!(lines_with(&log, "establishing"), 0, "{log:?}");
    assert_eq!(gw.terminate(), Some(0));
    assert_eq!(server.terminate(), Some(0));
}

fn libcoap_ok() -> bool {
    support::require(
        "coap-client-notls and coap-server-notls (libcoap3-bin)",
        support::have("coap-client-notls") && support::have("coap-server-notls"),
    )
}

#[test]
fn libcoap_through_an_oscore_bridge_with_the_software_usim() {
    if !libcoap_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    let state = card.with_extension("toml.state");
    oscore_chain(
        dir.path(),
        &format!("softsim = \"{}\"", card.display()),
        Some(&state),
    );
}

#[cfg(feature = "pcsc")]
#[test]
fn libcoap_through_an_oscore_bridge_with_the_card_in_pcscd() {
    let ok = support::have("coap-client-notls") && Path::new("/run/pcscd/pcscd.comm").exists();
    if !support::require("libcoap3-bin and pcscd with vsmartcard-vpcd", ok) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let card = profile_copy(dir.path(), "demo.toml");
    // Reader 00 01 (port 35964), as bridge_e2e: test binaries run one after another.
    let _inserted =
        support::vpcd::serve_on("Virtual PCD 00 01", &card, &["--vpcd", "127.0.0.1:35964"]);
    oscore_chain(
        dir.path(),
        "reader = \"Virtual PCD 00 01\"",
        Some(&card.with_extension("toml.state")),
    );
}

/// `simbridge oscore show --reveal --aiocoap DIR` of `state` (the one context there).
fn export_for_aiocoap(state: &Path, out: &Path) {
    let o = support::run_with_timeout(
        Command::new(support::bin())
            .args(["oscore", "show", "--reveal", "--state"])
            .arg(state)
            .arg("--aiocoap")
            .arg(out),
        Duration::from_secs(10),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn aiocoap_udp() -> Command {
    let mut c = Command::new(support::peers::venv_python());
    c.arg(repo().join("tests/peers/aiocoap_udp.py"));
    c
}

#[test]
fn aiocoap_over_udp_with_the_contexts_our_cli_prints() {
    let aiocoap = support::run_with_timeout(
        Command::new(support::peers::venv_python())
            .args(["-c", "import aiocoap.oscore_sitewrapper"]),
        Duration::from_secs(20),
    )
    .status
    .success();
    if !libcoap_ok()
        || !support::require(
            "aiocoap with OSCORE in the venv (pip install -r scripts/requirements.txt)",
            aiocoap,
        )
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let card = profile_copy(d, "demo.toml");
    let (net, server) = network(d);
    let server_addr = addr_in(&server.first_line);
    let gw_cfg = gateway_config(
        d,
        &format!("softsim = \"{}\"", card.display()),
        &net.bsf_url,
        server_addr.port(),
    );
    let gw = start_with_config("bridge", &gw_cfg, "simbridge bridge (OSCORE)");
    let data = format!("coap://{}/example_data", addr_in(&gw.first_line));
    coap(&["-m", "put", "-e", "set-by-the-gateway", &data]);
    assert_eq!(gw.terminate(), Some(0));

    // aiocoap as the client, with the gateway's context, against our server.
    export_for_aiocoap(&d.join("gw-state"), &d.join("aiocoap-client"));
    let o = support::run_with_timeout(
        aiocoap_udp()
            .arg("client")
            .arg(d.join("aiocoap-client"))
            .arg(format!("coap://{server_addr}/example_data")),
        Duration::from_secs(40),
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "aiocoap client: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(out.trim(), "2.05 Content set-by-the-gateway");

    // aiocoap as the server, with our server's context, behind our gateway: aiocoap's replay
    // window starts unknown, so it proves freshness with Echo and our gateway answers it.
    assert_eq!(server.terminate(), Some(0));
    export_for_aiocoap(&d.join("server-state"), &d.join("aiocoap-server"));
    let aio = spawn_ready(
        aiocoap_udp()
            .arg("server")
            .arg(d.join("aiocoap-server"))
            .arg(server_addr.port().to_string())
            .arg("answered-by-aiocoap"),
        "aiocoap server",
    );
    assert_eq!(aio.first_line, "ready");
    let gw = start_with_config("bridge", &gw_cfg, "simbridge bridge (OSCORE) again");
    let data = format!("coap://{}/example_data", addr_in(&gw.first_line));
    assert_eq!(coap(&["-m", "get", &data]), "answered-by-aiocoap");
    let log = gw.stderr_lines(Duration::from_millis(200));
    assert!(
        log.iter()
            .any(|l| l.contains("continuing the OSCORE context")),
        "{log:?}"
    );
    assert_eq!(gw.terminate(), Some(0));
    drop(aio);
}

/// A 20-second BSF lifetime: the gateway bootstraps again and establishes a new context while
/// the old one still carries traffic; every request is answered across the change.
#[test]
fn a_new_gba_key_brings_a_new_context_before_the_old_one_expires() {
    if !libcoap_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let card = profile_copy(d, "demo.toml");
    std::fs::create_dir_all(d.join("profiles")).expect("dir");
    profile_copy(&d.join("profiles"), "demo.toml");
    let token = write_file(d, "token", "oscore-token\n");
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let bsf = spawn_ready(
        Command::new(support::bin())
            .args([
                "bsf",
                "--listen",
                "127.0.0.1:0",
                "--lifetime",
                "20",
                "--profiles",
            ])
            .arg(d.join("profiles"))
            .arg("--state")
            .arg(d.join("bsf"))
            .arg("--token-file")
            .arg(&token)
            .args(["--naf", "localhost"]),
        "simbridge bsf --lifetime 20",
    );
    let bsf_url = format!("http://{}", addr_in(&bsf.first_line));
    let (_backend, coap_port) = coap_backend();
    let server_cfg = write_file(
        d,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:{coap_port}\"\nprotection = \"oscore\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            token.display()
        ),
    );
    let server = start_with_config("server", &server_cfg, "simbridge server (OSCORE)");
    let gw_cfg = gateway_config(
        d,
        &format!("softsim = \"{}\"", card.display()),
        &bsf_url,
        addr_in(&server.first_line).port(),
    );
    let gw = start_with_config("bridge", &gw_cfg, "simbridge bridge (OSCORE)");
    let data = format!("coap://{}/example_data", addr_in(&gw.first_line));
    coap(&["-m", "put", "-e", "kept", &data]);
    // 14 s of requests: the renewal comes halfway through the 20-s key, at about 10 s.
    let start = std::time::Instant::now();
    let mut answered = 0;
    while start.elapsed() < Duration::from_secs(14) {
        assert_eq!(
            coap(&["-m", "get", &data]),
            "kept",
            "after {:?}",
            start.elapsed()
        );
        answered += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = gw.stderr_lines(Duration::from_millis(200));
    assert_eq!(lines_with(&log, "make-before-break"), 1, "{log:?}");
    assert_eq!(lines_with(&log, "OSCORE context established"), 2, "{log:?}");
    let btids: std::collections::BTreeSet<&str> = log
        .iter()
        .filter(|l| l.contains("establishing an OSCORE context"))
        .filter_map(|l| l.split("B-TID ").nth(1))
        .collect();
    assert_eq!(
        btids.len(),
        2,
        "the new context is keyed from a new bootstrap: {log:?}"
    );
    let server_log = server.stderr_lines(Duration::from_millis(100));
    assert_eq!(
        lines_with(&server_log, "established with"),
        2,
        "{server_log:?}"
    );
    assert!(answered >= 10);
    assert_eq!(gw.terminate(), Some(0));
}
