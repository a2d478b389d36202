//! The TOML configuration loaders, `GatewayConfig::load` (the gateway's file) and
//! `ServerConfigFile::load` (the DTLS server's file), on arbitrary text: TOML parsing, the error
//! rendering that quotes the offending line, and the validation of every key.
//!
//! The loaders read a file, so the input is written to a file on tmpfs first. Validation resolves
//! HOST:PORT values and reads the key, token and CA files a config names; a fuzzer must not send
//! DNS queries or read arbitrary paths (`/dev/zero` would never end), so an input goes through
//! validation only when its addresses to resolve are IP literals and every file it names is a
//! bare file name (the target runs in a directory holding `key` and `token`); other inputs still
//! reach the TOML parser and its error rendering, which fail the same way before any I/O.
//!
//! Asserts: no panic; a config that loads has the values of its file (listen/backend addresses).
#![no_main]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use simbridge_cli::config::{
    GatewayConfig, GatewayFile, PskConfig, ServerConfigFile, ServerFile,
};

fn workdir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let d = PathBuf::from(base).join(format!("simbridge-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("work dir");
        std::fs::write(d.join("key"), "000102030405060708090a0b0c0d0e0f\n").expect("key");
        let tok = d.join("token");
        std::fs::write(&tok, "fuzz-token-0123456789abcdef\n").expect("token");
        std::fs::set_permissions(&tok, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        std::env::set_current_dir(&d).expect("chdir");
        for v in ["SIMBRIDGE_STATE_DIR", "SIMBRIDGE_BSF", "SIMBRIDGE_PIN"] {
            std::env::remove_var(v);
        }
        d
    })
}

/// A path the loader may read: a bare name in the work directory.
fn bare(p: &Path) -> bool {
    let s = p.as_os_str().as_encoded_bytes();
    !s.contains(&b'/') && !s.is_empty()
}

fn ip_literal(s: &str) -> bool {
    s.parse::<SocketAddr>().is_ok()
}

fn gateway_is_safe(f: &GatewayFile) -> bool {
    let paths = [&f.card.softsim, &f.card.modem, &f.gba.ca_file];
    paths.iter().all(|p| p.as_deref().is_none_or(bare))
        && f.route.iter().all(|r| {
            ip_literal(&r.upstream)
                && match &r.psk {
                    PskConfig::Static { key_file, .. } => bare(key_file),
                    PskConfig::Named(_) => true,
                }
        })
}

fn server_is_safe(f: &ServerFile) -> bool {
    ip_literal(&f.backend)
        && [&f.keys.token_file, &f.keys.ca_file]
            .iter()
            .all(|p| p.as_deref().is_none_or(bare))
        && f.keys.static_keys.iter().all(|s| bare(&s.key_file))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = workdir();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write the config");
    match toml::from_str::<GatewayFile>(text) {
        Ok(f) if gateway_is_safe(&f) => {
            if let Ok(c) = GatewayConfig::load(&path) {
                assert_eq!(c.routes.len(), f.route.len());
            }
        }
        Ok(_) => {}
        Err(_) => assert!(GatewayConfig::load(&path).is_err()),
    }
    match toml::from_str::<ServerFile>(text) {
        Ok(f) if server_is_safe(&f) => {
            if let Ok(c) = ServerConfigFile::load(&path) {
                assert_eq!(Some(c.listen), f.listen.parse().ok());
                assert_eq!(Some(c.backend), f.backend.parse().ok());
            }
        }
        Ok(_) => {}
        Err(_) => assert!(ServerConfigFile::load(&path).is_err()),
    }
});
