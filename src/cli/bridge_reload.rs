//! SIGHUP for `bridge`: re-read and check the configuration; what can change under a running
//! route (the `[session]` knobs, a route's key, NAF, Ua id, suites) is handed to it and used
//! from its next handshake, the established sessions carry on; what cannot (the card, the BSF,
//! the state directory, a route's addresses, routes added or removed) is named in the log as
//! needing a restart.

use super::bridge::{key_source, session_config};
use crate::config::GatewayConfig;
use simbridge::bridge::{Gateway, RouteUpdate};
use std::path::{Path, PathBuf};

/// What a reload compares with.
pub struct Reloader {
    path: PathBuf,
    /// The file as last read (for the list of changed keys).
    loaded: Option<toml::Table>,
    /// The configuration the process started with, for what only a restart applies.
    running: GatewayConfig,
}

impl Reloader {
    /// A reloader for the gateway started from `path` with `running`.
    pub fn new(path: &Path, running: GatewayConfig) -> Self {
        Self {
            path: path.to_path_buf(),
            loaded: read_toml(path),
            running,
        }
    }

    /// Re-reads the file and applies what can be applied live; logs the rest.
    pub fn reload(&mut self, gateway: &Gateway) {
        let file = self.path.display().to_string();
        let new = match GatewayConfig::load(&self.path) {
            Ok(c) => c,
            Err(e) => {
                log::error!("SIGHUP: {e}; the running configuration stays");
                return;
            }
        };
        let table = read_toml(&self.path);
        let changed = match (self.loaded.as_ref(), table.as_ref()) {
            (Some(old), Some(new)) => changed_keys(old, new),
            _ => vec!["(the whole file)".to_string()],
        };
        let restart = needs_restart(&self.running, &new);
        let routes_fixed = !restart.iter().any(|r| r.starts_with("route"));
        let mut live: Vec<String> = changed
            .iter()
            .filter(|k| k.starts_with("session") || (routes_fixed && k.starts_with("route")))
            .cloned()
            .collect();
        if routes_fixed {
            // A key file's contents change nothing in the TOML: compare the keys themselves.
            for (i, (a, b)) in self.running.routes.iter().zip(&new.routes).enumerate() {
                if !key_source(a).same_as(&key_source(b)) {
                    live.push(format!("route[{i}] key"));
                }
            }
            if !live.is_empty() {
                for (route, r) in gateway.routes().iter().zip(&new.routes) {
                    route.update(RouteUpdate {
                        session: session_config(&new, r),
                        keys: key_source(r),
                    });
                }
            }
            self.running.session = new.session.clone();
            self.running.routes = new.routes.clone();
        }
        self.loaded = table;
        if live.is_empty() && restart.is_empty() {
            log::info!("SIGHUP: {file} re-read: unchanged; sessions kept");
        }
        if !live.is_empty() {
            log::info!(
                "SIGHUP: {file}: applied {} from each route's next handshake; the established sessions carry on",
                live.join(", ")
            );
        }
        if !restart.is_empty() {
            log::warn!(
                "SIGHUP: {file}: {} changed: a restart applies it (systemctl restart simbridge); the running sessions carry on with the old settings until then",
                restart.join(", ")
            );
        }
    }
}

/// What differs between the running and the new configuration that only a restart applies.
fn needs_restart(running: &GatewayConfig, new: &GatewayConfig) -> Vec<String> {
    let mut out = Vec::new();
    if running.state_dir != new.state_dir {
        out.push("state_dir".to_string());
    }
    let (a, b) = (&running.card, &new.card);
    if a.softsim != b.softsim
        || a.reader != b.reader
        || a.modem != b.modem
        || a.baud != b.baud
        || a.pin != b.pin
    {
        out.push("[card]".to_string());
    }
    if running.bsf != new.bsf || running.gba_mode != new.gba_mode {
        out.push("[gba]".to_string());
    }
    let gba = |c: &GatewayConfig| c.routes.iter().any(|r| r.gba_naf.is_some());
    let same_addresses = running.routes.len() == new.routes.len()
        && running
            .routes
            .iter()
            .zip(&new.routes)
            .all(|(a, b)| a.listen == b.listen && a.upstream == b.upstream);
    if !same_addresses {
        out.push("route (listen or upstream addresses, or routes added or removed)".to_string());
    } else if gba(new) && !gba(running) {
        out.push("route (a first GBA route: the key service starts with the gateway)".to_string());
    }
    out
}

/// The configuration file as TOML (`None` when it no longer reads or parses).
pub(super) fn read_toml(path: &std::path::Path) -> Option<toml::Table> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
}

/// Keys that differ between two configurations, dotted one table deep (`session.mtu`, `route`).
fn changed_keys(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    let empty = toml::Table::new();
    for k in keys {
        match (as_table(old.get(k), &empty), as_table(new.get(k), &empty)) {
            (Some(a), Some(b)) => {
                out.extend(changed_keys(a, b).into_iter().map(|s| format!("{k}.{s}")));
            }
            _ if old.get(k) != new.get(k) => out.push(k.clone()),
            _ => {}
        }
    }
    out
}

/// A table, or an empty one for a missing key (a table added or removed counts as its keys).
fn as_table<'a>(v: Option<&'a toml::Value>, empty: &'a toml::Table) -> Option<&'a toml::Table> {
    match v {
        Some(toml::Value::Table(t)) => Some(t),
        None => Some(empty),
        Some(_) => None,
    }
}
