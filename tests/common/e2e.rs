//! The GBA network the end-to-end tests run on loopback (BSF, coap-server backend, our server),
//! a gateway configuration for it, and libcoap's client: shared by tests/bridge_e2e.rs (our
//! gateway) and tests/c_abi.rs (the C example gateway on libsimbridge).

use super::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A GBA-keyed network on loopback: a BSF with the demo subscriber, libcoap's coap-server as
/// the backend, and our DTLS server taking keys from the BSF's key API.
pub struct Net {
    pub server_cfg: std::path::PathBuf,
    pub _bsf: Running,
    pub _backend: KillOnDrop,
    pub server: Running,
    pub bsf_url: String,
}

/// libcoap's plain coap-server on a free loopback port: the backend behind our server.
pub fn coap_backend() -> (KillOnDrop, u16) {
    let port = free_udp_port();
    let child = Command::new("coap-server-notls")
        .args(["-A", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("coap-server-notls");
    (KillOnDrop(Some(child)), port)
}

/// BSF + coap-server backend + our DTLS server, keyed through the key API.
pub fn network(dir: &Path) -> Net {
    network_with(dir, "")
}

/// [`network`] with `server_extra` lines at the top of the server's configuration.
pub fn network_with(dir: &Path, server_extra: &str) -> Net {
    std::fs::create_dir_all(dir.join("profiles")).expect("dir");
    std::fs::copy(
        repo().join("sim-profiles/demo.toml"),
        dir.join("profiles/demo.toml"),
    )
    .expect("copy");
    let token = write_file(dir, "token", "e2e-token\n");
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    let bsf = spawn_ready(
        Command::new(bin())
            .args(["bsf", "--listen", "127.0.0.1:0"])
            .arg("--profiles")
            .arg(dir.join("profiles"))
            .arg("--state")
            .arg(dir.join("bsf"))
            .arg("--token-file")
            .arg(&token)
            .args(["--naf", "localhost"]),
        "simbridge bsf",
    );
    let bsf_url = format!("http://{}", addr_in(&bsf.first_line));
    let (backend, coap_port) = coap_backend();
    let server_cfg = write_file(
        dir,
        "server.toml",
        &format!(
            "{server_extra}listen = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:{coap_port}\"\nstate_dir = \"{}\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            free_udp_port(),
            dir.join("server-state").display(),
            token.display()
        ),
    );
    let server = start_with_config("server", &server_cfg, "simbridge server");
    Net {
        server_cfg,
        _bsf: bsf,
        _backend: backend,
        server,
        bsf_url,
    }
}

/// A gateway configuration with one GBA route to `net`'s server and the card line `card`.
pub fn gateway_config(dir: &Path, net: &Net, card: &str) -> std::path::PathBuf {
    let upstream = addr_in(&net.server.first_line);
    write_file(
        dir,
        "gateway.toml",
        &format!(
            "state_dir = \"{}\"\n[card]\n{card}\n[gba]\nbsf = \"{}\"\n[session]\nsuspect_after_secs = 2\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"localhost:{}\"\npsk = \"gba\"\n",
            dir.join("gw-state").display(),
            net.bsf_url,
            upstream.port()
        ),
    )
}

/// Runs libcoap's plain coap-client (bounded) and returns its output; fails the test on an error.
pub fn coap(args: &[&str]) -> String {
    let o = run_with_timeout(
        Command::new("coap-client-notls").args(args),
        Duration::from_secs(20),
    );
    assert!(
        o.status.success(),
        "coap-client {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
