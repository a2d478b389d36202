//! A running network for the status, metrics and systemd tests: the BSF (its own process, with
//! the demo profile), our server keyed through the BSF key API, our gateway with the software
//! USIM, and a UDP echo backend in the test process. Everything on loopback, state in a temporary
//! directory; every process is killed on drop.
#![allow(dead_code)]

use crate::common::*;
pub use crate::support::free_tcp_port;
use crate::support::udp_echo;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// BSF, server and the paths a gateway needs.
pub struct Net {
    pub dir: PathBuf,
    pub bsf: Running,
    pub bsf_url: String,
    pub server: Running,
    pub server_cfg: PathBuf,
    pub server_state: PathBuf,
    pub server_metrics: SocketAddr,
}

/// Starts the BSF and the server (with `[metrics]` on a free port).
pub fn network(dir: &Path) -> Net {
    let token = write_file(dir, "token", "status-token\n");
    let (bsf, bsf_url) = start_demo_bsf(dir, &token);
    let server_state = dir.join("server-state");
    let server_metrics: SocketAddr = format!("127.0.0.1:{}", free_tcp_port())
        .parse()
        .expect("addr");
    let server_cfg = write_file(
        dir,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:{}\"\nbackend = \"{}\"\nstate_dir = \"{}\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n[metrics]\nlisten = \"{server_metrics}\"\n",
            free_udp_port(),
            udp_echo(),
            server_state.display(),
            token.display()
        ),
    );
    let server = start_with_config("server", &server_cfg, "simbridge server");
    Net {
        dir: dir.to_path_buf(),
        bsf,
        bsf_url,
        server,
        server_cfg,
        server_state,
        server_metrics,
    }
}

/// A gateway configuration for `net`: software USIM (a copy of the demo profile), one GBA route
/// to the server, `[metrics]` on `metrics`.
pub fn gateway_config(net: &Net, metrics: SocketAddr) -> PathBuf {
    let card = profile_copy(&net.dir, "demo.toml");
    let upstream = addr_in(&net.server.first_line);
    write_file(
        &net.dir,
        "gateway.toml",
        &format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\n[gba]\nbsf = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"localhost:{}\"\npsk = \"gba\"\n[metrics]\nlisten = \"{metrics}\"\n",
            net.dir.join("gw-state").display(),
            card.display(),
            net.bsf_url,
            upstream.port()
        ),
    )
}

/// Sends `payload` to the gateway's route and waits (bounded) for the echo.
pub fn round_trip(route: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.send_to(payload, route).expect("send");
    let mut buf = [0u8; 2048];
    let (n, _) = s
        .recv_from(&mut buf)
        .expect("an answer through gateway and server");
    buf[..n].to_vec()
}
