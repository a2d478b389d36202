//! The steps of [`GatewayConfig`](super::GatewayConfig)'s validation: environment overrides, one
//! route, and the card, BSF and GBA mode a GBA route needs. Each error names the file and the key.

use super::{
    CardConfig, ConfigError, GatewayFile, GbaConfig, PskConfig, RouteConfig, ValidRoute, host_of,
    invalid, read_key_file, resolve, suites,
};
use simbridge::dtls::{CipherSuite, Versions};
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
    let dtls = route_dtls(path, i, r, oscore)?;
    let suites = route_suites(path, i, r, dtls, gba_naf.is_some())?;
    let psk_importers = r.psk_importers.unwrap_or(false);
    if psk_importers && !dtls.allows_13() {
        return Err(invalid(
            path,
            k("psk_importers"),
            "RFC 9258 imports PSKs for DTLS 1.3: give dtls = \"1.3\" or \"auto\"",
        ));
    }
    let early_data = r.early_data.unwrap_or(false);
    if early_data && dtls != Versions::Dtls13 {
        return Err(invalid(
            path,
            k("early_data"),
            "0-RTT resumes DTLS 1.3 tickets: give dtls = \"1.3\"",
        ));
    }
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
        dtls,
        psk_importers,
        early_data,
    })
}

/// `route[i].dtls`: `"1.2"` (the default), `"1.3"` or `"auto"` (DTLS 1.3 first, DTLS 1.2 when
/// the server answers in 1.2, the downgrade sentinel checked); OSCORE routes have no DTLS.
fn route_dtls(
    path: &Path,
    i: usize,
    r: &RouteConfig,
    oscore: bool,
) -> Result<Versions, ConfigError> {
    let key = format!("route[{i}].dtls");
    let Some(v) = r.dtls.as_deref() else {
        return Ok(Versions::Dtls12);
    };
    if oscore {
        return Err(invalid(
            path,
            key,
            "a DTLS version; remove it for protection = \"oscore\"",
        ));
    }
    v.parse::<Versions>()
        .map_err(|e| invalid(path, key, e.to_string()))
}

/// `route[i].suites` for the route's DTLS version: DTLS 1.3 suites (default all three, CCM_8
/// first) on a 1.3 route, DTLS 1.2 suites on a 1.2 route; a suite of the other version is an
/// error that says which `dtls` it belongs to. An `auto` route takes both (default: the 1.2
/// defaults, then the three 1.3 suites) and needs one of each.
fn route_suites(
    path: &Path,
    i: usize,
    r: &RouteConfig,
    dtls: Versions,
    gba: bool,
) -> Result<Vec<CipherSuite>, ConfigError> {
    let key = format!("route[{i}].suites");
    if dtls == Versions::Auto {
        let list = if r.suites.is_some() {
            suites(path, &key, &r.suites, gba)?
        } else {
            dtls.default_suites(&suites(path, &key, &None, gba)?)
        };
        if !(list.iter().any(|s| s.is_tls13()) && list.iter().any(|s| !s.is_tls13())) {
            return Err(invalid(
                path,
                key,
                "a route with dtls = \"auto\" needs a DTLS 1.2 and a DTLS 1.3 suite",
            ));
        }
        return Ok(list);
    }
    let v13 = dtls == Versions::Dtls13;
    if v13 && r.suites.is_none() {
        return Ok(CipherSuite::TLS13.to_vec());
    }
    let list = suites(path, &key, &r.suites, gba)?;
    if let Some(other) = list.iter().find(|s| s.is_tls13() != v13) {
        let why = if v13 {
            format!(
                "{} is a DTLS 1.2 suite; a route with dtls = \"1.3\" takes {}",
                other.name(),
                CipherSuite::TLS13.map(|s| s.name()).join(", ")
            )
        } else {
            format!(
                "{} is a DTLS 1.3 suite: give dtls = \"1.3\" for it",
                other.name()
            )
        };
        return Err(invalid(path, key, why));
    }
    Ok(list)
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

#[cfg(test)]
mod tests {
    use super::super::GatewayConfig;
    use simbridge::dtls::{CipherSuite, Versions};
    use std::path::Path;

    fn load(extra: &str) -> Result<GatewayConfig, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"card.toml\"\n[gba]\nbsf = \"http://127.0.0.1:1\"\n\
             [[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:5684\"\npsk = \"gba\"\n{extra}",
            dir.path().display()
        );
        GatewayConfig::from_toml(Path::new("gw.toml"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_route_speaks_dtls_12_unless_told_13_and_takes_the_13_suites_then() {
        let c = load("").expect("valid");
        assert_eq!(c.routes[0].dtls, Versions::Dtls12);
        let c = load("dtls = \"1.3\"\n").expect("valid");
        assert_eq!(c.routes[0].dtls, Versions::Dtls13);
        assert_eq!(c.routes[0].suites, CipherSuite::TLS13.to_vec());
        let s = c.session_config(&c.routes[0]);
        assert_eq!(s.versions, Versions::Dtls13);
        assert_eq!(s.dtls.common.suites, CipherSuite::TLS13.to_vec());
        let c = load("dtls = \"1.3\"\nsuites = [\"TLS_AES_128_GCM_SHA256\"]\n").expect("valid");
        assert_eq!(c.routes[0].suites, vec![CipherSuite::Tls13Aes128GcmSha256]);
        // auto: the 1.2 defaults, then the 1.3 suites
        let c = load("dtls = \"auto\"\n").expect("valid");
        let s = c.session_config(&c.routes[0]);
        assert_eq!(s.versions, Versions::Auto);
        assert!(s.dtls.common.suites.ends_with(&CipherSuite::TLS13));
        assert!(s.dtls.common.suites.iter().any(|s| !s.is_tls13()));
        assert!(!s.dtls.psk_importers, "off by default");
        let c = load("dtls = \"1.3\"\npsk_importers = true\n").expect("valid");
        assert!(c.session_config(&c.routes[0]).dtls.psk_importers);
        assert!(!c.session_config(&c.routes[0]).early_data, "off by default");
        let c = load("dtls = \"1.3\"\nearly_data = true\n").expect("valid");
        assert!(c.session_config(&c.routes[0]).early_data);
    }

    #[test]
    fn a_suite_of_the_other_version_and_dtls_with_oscore_are_refused_by_key() {
        for (extra, key, says) in [
            (
                "dtls = \"1.3\"\nsuites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]\n",
                "route[0].suites",
                "DTLS 1.2 suite",
            ),
            (
                "suites = [\"TLS_AES_128_CCM_8_SHA256\"]\n",
                "route[0].suites",
                "dtls = \"1.3\"",
            ),
            (
                "dtls = \"auto\"\nsuites = [\"TLS_AES_128_CCM_8_SHA256\"]\n",
                "route[0].suites",
                "DTLS 1.2 and a DTLS 1.3 suite",
            ),
            ("dtls = \"1.4\"\n", "route[0].dtls", "\"1.4\""),
            (
                "psk_importers = true\n",
                "route[0].psk_importers",
                "DTLS 1.3",
            ),
            (
                "dtls = \"auto\"\nearly_data = true\n",
                "route[0].early_data",
                "dtls = \"1.3\"",
            ),
            (
                "dtls = \"1.3\"\nprotection = \"oscore\"\n",
                "route[0].dtls",
                "oscore",
            ),
        ] {
            let e = load(extra).expect_err(extra);
            assert!(e.contains(key) && e.contains(says), "{extra}: {e}");
        }
    }
}
