//! What a validated route becomes in the gateway library: its key source and its session
//! policy. Here rather than in the command so that the C ABI (crates/simbridge-ffi) builds a
//! session from the same configuration exactly as `simbridge bridge` does.

use super::{GatewayConfig, ValidRoute};
use simbridge::secret::SecretVec;
use simbridge::upstream::{KeySource, SessionConfig};
use std::time::Duration;

impl ValidRoute {
    /// Where this route's PSK comes from.
    pub fn key_source(&self) -> KeySource {
        match (&self.gba_naf, &self.static_psk) {
            (Some(naf), _) => KeySource::Gba {
                naf_fqdn: naf.clone(),
                ua: self.ua,
            },
            (None, Some((identity, key))) => KeySource::Static {
                identity: identity.clone(),
                key: key.clone(),
            },
            (None, None) => KeySource::Static {
                identity: Vec::new(),
                key: SecretVec::default(),
            },
        }
    }
}

impl GatewayConfig {
    /// The session policy of route `r` from the configuration (`[session]` and the route).
    pub fn session_config(&self, r: &ValidRoute) -> SessionConfig {
        let mut s = SessionConfig::default();
        let dtls = &mut s.dtls;
        dtls.common.suites = r.suites.clone();
        dtls.common.retransmit = self.session.retransmit();
        if let Some(mtu) = self.session.mtu {
            dtls.common.mtu = mtu;
        }
        dtls.server_name = r.sni.clone();
        // Ask the server for a Connection ID (we need none ourselves): a NAT rebinding then costs
        // no handshake (RFC 9146).
        dtls.connection_id = self.session.connection_id.unwrap_or(true).then_some(0);
        s.versions = r.dtls;
        dtls.psk_importers = r.psk_importers;
        s.early_data = r.early_data;
        s.key_update_after = self.session.key_update_records;
        if let Some(q) = self.session.queue_limit {
            s.queue_limit = q;
        }
        if let Some(r) = self.session.rekey_before_secs {
            s.rekey_before = Duration::from_secs(r);
        }
        if let Some(a) = self.session.suspect_after_secs {
            s.suspect_after = (a > 0).then(|| Duration::from_secs(a));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn host_keys_are_for_the_c_library_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:5684\"\npsk = \"host\"\n",
            dir.path().display()
        );
        let e = GatewayConfig::from_toml(Path::new("gw.toml"), &text)
            .expect_err("the command has no host to ask")
            .to_string();
        assert!(e.contains("route[0].psk") && e.contains("C library"), "{e}");
        let c = GatewayConfig::from_toml_for_host(Path::new("gw.toml"), &text).expect("valid");
        let r = &c.routes[0];
        assert!(r.host_psk && r.gba_naf.is_none() && r.static_psk.is_none());
        // The policy the gateway would run for it: the static suite, a Connection ID asked for.
        let s = c.session_config(r);
        assert_eq!(s.dtls.common.suites, r.suites);
        assert_eq!(s.dtls.connection_id, Some(0));
    }
}
