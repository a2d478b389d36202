//! The steps of [`GatewayConfig`](super::GatewayConfig)'s validation: environment overrides, one
//! route, and the card, BSF and GBA mode a GBA route needs. Each error names the file and the key.

use super::{
    CardConfig, ConfigError, GatewayFile, GbaConfig, PskConfig, RouteConfig, ValidRoute, host_of,
    invalid, read_key_file, resolve, suites,
};
use simbridge::gba::UaId;
use simbridge::secret::SecretVec;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Applies `SIMBRIDGE_STATE_DIR`, `SIMBRIDGE_BSF` and `SIMBRIDGE_PIN` (when set and not empty).
pub(super) fn apply_env(f: &mut GatewayFile) {
    if let Some(s) = std::env::var_os("SIMBRIDGE_STATE_DIR").filter(|s| !s.is_empty()) {
        f.state_dir = Some(PathBuf::from(s));
    }
    if let Some(b) = std::env::var("SIMBRIDGE_BSF")
        .ok()
        .filter(|s| !s.is_empty())
    {
        f.gba.bsf = Some(b);
    }
    if let Some(p) = std::env::var("SIMBRIDGE_PIN")
        .ok()
        .filter(|s| !s.is_empty())
    {
        f.card.pin = Some(p);
    }
}

/// Validates `route[i]`: addresses, PSK, Ua id, suites and the SNI.
/// `host_keys`: whether `psk = "host"` (the embedding application gives the key) is allowed.
pub(super) fn route(
    path: &Path,
    i: usize,
    r: &RouteConfig,
    host_keys: bool,
) -> Result<ValidRoute, ConfigError> {
    let k = |name: &str| format!("route[{i}].{name}");
    let listen: SocketAddr = r
        .listen
        .parse()
        .map_err(|_| invalid(path, k("listen"), format!("{:?} is not IP:PORT", r.listen)))?;
    let upstream = resolve(path, &k("upstream"), &r.upstream)?;
    let naf = r.naf.clone().unwrap_or_else(|| host_of(&r.upstream));
    let host_psk = matches!(&r.psk, PskConfig::Named(n) if n == "host");
    if host_psk && !host_keys {
        return Err(invalid(
            path,
            k("psk"),
            "\"host\" is for the C library (simbridge-ffi), whose application gives the key; \
             here give \"gba\" or { identity, key_file }",
        ));
    }
    let (gba_naf, static_psk) = if host_psk {
        (None, None)
    } else {
        route_psk(path, i, &r.psk, &naf)?
    };
    let ua = r
        .ua_id
        .as_deref()
        .map(|u| UaId::from_hex(u).map_err(|e| invalid(path, k("ua_id"), e.to_string())))
        .transpose()?;
    let oscore = route_protection(path, i, r, gba_naf.is_some())?;
    let suites = suites(path, &k("suites"), &r.suites, gba_naf.is_some())?;
    let sni = (naf.parse::<std::net::IpAddr>().is_err()).then(|| naf.clone());
    Ok(ValidRoute {
        name: r.upstream.clone(),
        listen,
        upstream,
        gba_naf,
        ua,
        static_psk,
        host_psk,
        suites,
        sni,
        oscore,
    })
}

/// `route[i].protection`: `"dtls"` (the default) or `"oscore"`, which takes its keys from GBA
/// and has no cipher suites.
fn route_protection(
    path: &Path,
    i: usize,
    r: &RouteConfig,
    gba: bool,
) -> Result<bool, ConfigError> {
    let k = |name: &str| format!("route[{i}].{name}");
    match r.protection.as_deref() {
        None | Some("dtls") => Ok(false),
        Some("oscore") if !gba => Err(invalid(
            path,
            k("psk"),
            "protection = \"oscore\" establishes its context from a GBA key: give psk = \"gba\"",
        )),
        Some("oscore") if r.suites.is_some() => Err(invalid(
            path,
            k("suites"),
            "DTLS cipher suites; remove them for protection = \"oscore\"",
        )),
        Some("oscore") => Ok(true),
        Some(other) => Err(invalid(
            path,
            k("protection"),
            format!("{other:?}: expected \"dtls\" or \"oscore\""),
        )),
    }
}

/// A route's PSK: GBA for `naf`, or a static identity and the key from its file.
type RoutePsk = (Option<String>, Option<(Vec<u8>, SecretVec)>);

/// `route[i].psk`: `"gba"` (keys for `naf`) or `{ identity, key_file }`.
fn route_psk(path: &Path, i: usize, psk: &PskConfig, naf: &str) -> Result<RoutePsk, ConfigError> {
    let k = |name: &str| format!("route[{i}].{name}");
    match psk {
        PskConfig::Named(n) if n == "gba" => Ok((Some(naf.to_string()), None)),
        PskConfig::Named(n) => Err(invalid(
            path,
            k("psk"),
            format!("{n:?}: expected \"gba\" or {{ identity, key_file }}"),
        )),
        PskConfig::Static { identity, key_file } => {
            if identity.is_empty() || identity.len() > 128 {
                return Err(invalid(path, k("psk.identity"), "1 to 128 bytes"));
            }
            Ok((
                None,
                Some((
                    identity.as_bytes().to_vec(),
                    read_key_file(path, &k("psk.key_file"), key_file)?,
                )),
            ))
        }
    }
}

/// What a GBA route needs: exactly one card source and a BSF URL; a BSF URL given must be
/// http(s) either way.
pub(super) fn check_gba_needs(
    path: &Path,
    card: &CardConfig,
    gba: &GbaConfig,
    needs_gba: bool,
) -> Result<(), ConfigError> {
    let sources = [
        card.softsim.is_some(),
        card.reader.is_some(),
        card.modem.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if needs_gba && sources != 1 {
        return Err(invalid(
            path,
            "card",
            "a GBA route needs exactly one of softsim, reader, modem",
        ));
    }
    if needs_gba && gba.bsf.is_none() {
        return Err(invalid(
            path,
            "gba.bsf",
            "missing (a GBA route needs the BSF URL)",
        ));
    }
    if let Some(b) = &gba.bsf {
        if !(b.starts_with("http://") || b.starts_with("https://")) {
            return Err(invalid(
                path,
                "gba.bsf",
                format!("{b:?} is not an http(s) URL"),
            ));
        }
    }
    Ok(())
}

/// `gba.mode`: auto (the default), me or u.
pub(super) fn gba_mode(path: &Path, gba: &GbaConfig) -> Result<String, ConfigError> {
    let gba_mode = gba.mode.clone().unwrap_or_else(|| "auto".into());
    if !matches!(gba_mode.as_str(), "auto" | "me" | "u") {
        return Err(invalid(
            path,
            "gba.mode",
            format!("{gba_mode:?}: expected auto, me or u"),
        ));
    }
    Ok(gba_mode)
}
