//! A BSF key API on loopback (tiny_http) for server tests: it answers every request with one
//! key (Ks_NAF in hex, valid for an hour) after a delay, and keeps the Ua security protocol id
//! of each request, in order.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The Ua security protocol ids asked for so far (`nafId.uaSecProtId`, `?` when missing).
pub type Asked = Arc<Mutex<Vec<String>>>;

/// Starts it: its address and the requests' Ua ids.
pub fn start(key_hex: &'static str, delay: Duration) -> (SocketAddr, Asked) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("listen");
    let addr = server.server_addr().to_ip().expect("ip");
    let asked: Asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    std::thread::spawn(move || {
        while let Ok(mut req) = server.recv() {
            let mut body = String::new();
            let _ = req.as_reader().read_to_string(&mut body);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let ua = v["nafId"]["uaSecProtId"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            log.lock().expect("lock").push(ua);
            std::thread::sleep(delay);
            let now = std::time::SystemTime::now();
            let resp = serde_json::json!({
                "meKeyMaterial": key_hex,
                "keyExpiryTime": simbridge::gba::time::format_utc(now + Duration::from_secs(3600)),
                "bootstrappingInfoCreationTime": simbridge::gba::time::format_utc(now),
                "gbaType": "3G_GBA",
            });
            let _ = req.respond(
                tiny_http::Response::from_string(resp.to_string()).with_header(
                    "Content-Type: application/json"
                        .parse::<tiny_http::Header>()
                        .expect("header"),
                ),
            );
        }
    });
    (addr, asked)
}

/// A bridge server config in `dir` keyed by the key API at `api` (NAF `naf.example.org`), with
/// a state directory `dir/state` (its status socket), a free port, and `extra` lines.
pub fn server_config(
    dir: &std::path::Path,
    api: SocketAddr,
    backend: SocketAddr,
    extra: &str,
) -> std::path::PathBuf {
    let token = dir.join("token");
    std::fs::write(&token, "t0k3n\n").expect("token");
    #[cfg(unix)]
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("mode");
    let cfg = dir.join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"{backend}\"\nstate_dir = \"{}\"\n{extra}\n\
             [keys]\nbsf = \"http://{api}\"\ntoken_file = \"{}\"\nnaf = \"naf.example.org\"\n",
            super::free_udp_port(),
            dir.join("state").display(),
            token.display()
        ),
    )
    .expect("config");
    cfg
}

/// The counters of the server whose config [`server_config`] wrote in `dir`, from its status
/// socket.
pub fn server_counters(dir: &std::path::Path) -> serde_json::Value {
    server_counters_in(&dir.join("state"))
}

/// The counters of the server whose `state_dir` is `state`, from its status socket.
pub fn server_counters_in(state: &std::path::Path) -> serde_json::Value {
    let o = std::process::Command::new(super::bin())
        .args(["status", "--state"])
        .arg(state)
        .arg("--json")
        .output()
        .expect("simbridge status");
    super::json_out(&o)["server"]["counters"].clone()
}
