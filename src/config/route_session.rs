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
