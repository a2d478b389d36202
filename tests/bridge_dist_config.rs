//! The shipped configuration files parse as the configuration types (every key is a real key)
//! and carry the settings an operator needs: the server keeps its sessions (state_dir), and the
//! keys that were documented nowhere are at least named in the files.

use simbridge_cli::config::{GatewayFile, ServerFile};

const GATEWAY: &str = include_str!("../dist/simbridge.toml");
const SERVER: &str = include_str!("../dist/server.toml");

#[test]
fn dist_gateway_config_parses_and_names_its_keys() {
    let f: GatewayFile = toml::from_str(GATEWAY).expect("dist/simbridge.toml parses");
    assert!(f.state_dir.is_some());
    assert_eq!(f.session.connection_id, Some(true));
    assert!(GATEWAY.contains("# ua_id = "), "ua_id is shown");
}

#[test]
fn dist_server_config_keeps_sessions_across_restarts() {
    let f: ServerFile = toml::from_str(SERVER).expect("dist/server.toml parses");
    assert_eq!(
        f.state_dir.as_deref(),
        Some(std::path::Path::new("/var/lib/simbridge-server")),
        "without state_dir a restart loses every session"
    );
    for key in ["# max_connections = ", "# ua_id = "] {
        assert!(SERVER.contains(key), "{key} is shown in dist/server.toml");
    }
    // The commented keys are real keys: uncommented, the file still parses.
    let uncommented = SERVER
        .replace("# max_connections = ", "max_connections = ")
        .replace("# ua_id = ", "ua_id = ");
    let f: ServerFile = toml::from_str(&uncommented).expect("uncommented keys parse");
    assert_eq!(f.max_connections, Some(10_000));
    assert_eq!(f.keys.ua_id.as_deref(), Some("010001d003"));
}
