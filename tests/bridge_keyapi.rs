//! Failure kinds told apart, with real processes: the BSF, our server keyed through the BSF's key
//! API, and the gateway with a software USIM. While the server's key API is unreachable the
//! server answers internal_error, and the gateway runs no bootstrap (counted at the BSF: the
//! Ub responses with status 200 through a TCP forwarder); when the key API returns, the gateway's
//! next handshake succeeds with the key it already has.

mod common;
mod support;

use common::{addr_in, profile_copy, start_with_config, write_file};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::free_tcp_port;

/// A TCP forwarder on loopback that can be stopped (connections refused and cut) and started
/// again on the same port; it keeps what the target answered.
struct Forwarder {
    port: u16,
    target: SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    answers: Arc<Mutex<Vec<u8>>>,
}

impl Forwarder {
    fn new(port: u16, target: SocketAddr) -> Self {
        Self {
            port,
            target,
            stop: Arc::new(AtomicBool::new(true)),
            conns: Arc::new(Mutex::new(Vec::new())),
            answers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn start(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind forwarder");
        self.port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = stop.clone();
        let (target, conns, answers) = (self.target, self.conns.clone(), self.answers.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                if let Ok(mut l) = conns.lock() {
                    l.extend(client.try_clone().ok());
                    l.extend(server.try_clone().ok());
                }
                pipe(
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                    None,
                );
                pipe(server, client, Some(answers.clone()));
            }
        });
    }

    /// Refuses new connections and cuts the open ones.
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(mut l) = self.conns.lock() {
            for c in l.drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }

    /// HTTP responses with status 200 seen so far.
    fn ok_responses(&self) -> usize {
        let a = self.answers.lock().expect("lock");
        a.windows(13).filter(|w| w == b"HTTP/1.1 200 ").count()
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, keep: Option<Arc<Mutex<Vec<u8>>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
            if let Some(k) = &keep {
                if let Ok(mut k) = k.lock() {
                    k.extend_from_slice(&buf[..n]);
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Our server in `d`, keyed through the key API at `key_api` (naf localhost, echo backend).
fn server(d: &std::path::Path, key_api: &str, token: &std::path::Path) -> common::Running {
    let cfg = write_file(
        d,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"{}\"\nstate_dir = \"{}\"\n[keys]\nbsf = \"{key_api}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            common::udp_echo(),
            d.join("srv").display(),
            token.display()
        ),
    );
    start_with_config("server", &cfg, "simbridge server")
}

/// The gateway in `d` with the demo card, one GBA route to `upstream` (naf localhost) + `route_extra`.
fn gateway(
    d: &std::path::Path,
    bsf: &str,
    upstream: SocketAddr,
    route_extra: &str,
) -> common::Running {
    let card = profile_copy(d, "demo.toml");
    let cfg = write_file(
        d,
        "gw.toml",
        &format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\n[gba]\nbsf = \"{bsf}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\nnaf = \"localhost\"\npsk = \"gba\"\n{route_extra}",
            d.join("gw").display(),
            card.display(),
        ),
    );
    start_with_config("bridge", &cfg, "simbridge bridge")
}

#[test]
fn a_wrong_ua_id_is_named_at_warn_without_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (bsf, token) = common::start_bsf(d);
    let bsf_url = format!("http://{}", addr_in(&bsf.first_line));
    let server = server(d, &bsf_url, &token);
    let gw = gateway(
        d,
        &bsf_url,
        addr_in(&server.first_line),
        "ua_id = \"0100010000\"\n",
    );
    let start = Instant::now();
    let mut seen = Vec::new();
    let line = loop {
        seen.extend(gw.stderr_lines(Duration::from_millis(100)));
        if let Some(l) = seen.iter().find(|l| l.contains("did not accept our key")) {
            break l.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no WARN about the key:\n{}",
            seen.join("\n")
        );
    };
    assert!(line.contains("WARN"), "{line}");
    assert!(
        seen.iter()
            .any(|l| l.contains("INFO") && l.contains("GBA bootstrap started with http://")),
        "the bootstrap start is logged at INFO:\n{}",
        seen.join("\n")
    );
    assert!(
        line.contains("identity \"3GPP-bootstrapping")
            && line.contains("NAF localhost")
            && line.contains("Ua id 0100010000")
            && line.contains("decrypt_error"),
        "names identity, NAF and Ua id: {line}"
    );
    assert!(gw.terminate() == Some(0));
}

#[test]
fn key_api_down_means_no_bootstrap_and_the_gateway_recovers_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (bsf, token) = common::start_bsf(d);
    let bsf_addr = addr_in(&bsf.first_line);
    // The gateway reaches the BSF (Ub) through a counting forwarder; the server reaches the key
    // API through one that is down at first.
    let mut ub = Forwarder::new(0, bsf_addr);
    ub.start();
    let mut key_api = Forwarder::new(free_tcp_port(), bsf_addr);

    let server = server(d, &format!("http://127.0.0.1:{}", key_api.port), &token);
    let gw = gateway(
        d,
        &format!("http://127.0.0.1:{}", ub.port),
        addr_in(&server.first_line),
        "",
    );
    let local = addr_in(&gw.first_line);

    let start = Instant::now();
    while ub.ok_responses() < 1 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ub.ok_responses(), 1, "the first bootstrap");
    // Key API down for 10 s: the gateway retries its handshake with back-off, no bootstrap.
    std::thread::sleep(Duration::from_secs(10));
    let gw_log = gw.stderr_lines(Duration::ZERO).join("\n");
    assert_eq!(
        ub.ok_responses(),
        1,
        "no bootstrap while the key API is down:\n{gw_log}"
    );
    assert!(
        gw_log.contains("upstream cannot get our key now") && gw_log.contains("no bootstrap"),
        "the gateway tells the outage from a rejected key:\n{gw_log}"
    );

    key_api.start();
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let start = Instant::now();
    let mut answered = false;
    while !answered && start.elapsed() < Duration::from_secs(40) {
        client.send_to(b"ping", local).expect("send");
        answered = matches!(client.recv_from(&mut buf), Ok((4, _)) if &buf[..4] == b"ping");
    }
    assert!(answered, "the gateway recovers once the key API is back");
    assert_eq!(ub.ok_responses(), 1, "still the one bootstrap");
    key_api.stop();
    assert_eq!(gw.terminate(), Some(0));
}
