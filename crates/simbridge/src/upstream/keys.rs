//! Where an upstream session's PSK comes from: a static identity and key, or GBA (Ks_NAF for the
//! negotiated suite, computed from the bootstrapping context, or by the card in GBA_U).

use crate::dtls::CipherSuite;
use crate::dtls::config::{ClientPsk, ClientPskSource, PskAnswer};
use crate::gba::context::{BootstrapContext, GbaMode};
use crate::gba::naf::{NafId, UaId};
use crate::secret::SecretVec;
use std::sync::Arc;

/// The PSK of one upstream server.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A fixed identity and key (servers without GBA).
    Static {
        /// psk_identity.
        identity: Vec<u8>,
        /// The key.
        key: SecretVec,
    },
    /// GBA: the key is Ks_(ext_)NAF for `naf_fqdn` and the negotiated suite.
    Gba {
        /// The NAF's host name (also sent as SNI).
        naf_fqdn: String,
        /// A fixed Ua security protocol id instead of `01 00 01 yy zz` from the suite
        /// (TS 33.220 Annex O is unconfirmed, so deployments may need another value).
        ua: Option<UaId>,
    },
}

impl KeySource {
    /// Whether two sources give the same keys (same identity and key, or same NAF and Ua id).
    pub fn same_as(&self, other: &KeySource) -> bool {
        match (self, other) {
            (
                KeySource::Static { identity, key },
                KeySource::Static {
                    identity: i2,
                    key: k2,
                },
            ) => identity == i2 && key.expose() == k2.expose(),
            (
                KeySource::Gba { naf_fqdn, ua },
                KeySource::Gba {
                    naf_fqdn: n2,
                    ua: u2,
                },
            ) => naf_fqdn == n2 && ua == u2,
            _ => false,
        }
    }

    /// The NAF_Id for a suite (GBA only).
    pub fn naf_id(&self, suite: CipherSuite) -> Option<NafId> {
        match self {
            KeySource::Gba { naf_fqdn, ua } => {
                NafId::new(naf_fqdn, ua.unwrap_or_else(|| UaId::for_suite(suite))).ok()
            }
            KeySource::Static { .. } => None,
        }
    }
}

/// The DTLS client's PSK callback for one handshake: answers at once for static keys and GBA_ME,
/// and parks the handshake for GBA_U (the card must compute Ks_ext_NAF).
pub(crate) struct SessionPsk {
    pub(crate) source: KeySource,
    pub(crate) context: Option<Arc<BootstrapContext>>,
}

impl ClientPskSource for SessionPsk {
    fn psk(&self, _hint: Option<&[u8]>, suite: CipherSuite) -> PskAnswer<ClientPsk> {
        match (&self.source, &self.context) {
            (KeySource::Static { identity, key }, _) => PskAnswer::Ready(ClientPsk {
                identity: identity.clone(),
                key: key.clone(),
            }),
            (KeySource::Gba { .. }, Some(ctx)) => {
                let Some(naf) = self.source.naf_id(suite) else {
                    return PskAnswer::Unknown;
                };
                match ctx.mode {
                    GbaMode::Me => match ctx.naf_key(None, &naf) {
                        Ok(k) => PskAnswer::Ready(ClientPsk {
                            identity: ctx.psk_identity().into_bytes(),
                            key: SecretVec::from(&k.expose()[..]),
                        }),
                        Err(e) => {
                            log::warn!("cannot derive Ks_NAF for {}: {e}", naf.fqdn());
                            PskAnswer::Unknown
                        }
                    },
                    GbaMode::U => PskAnswer::Pending,
                }
            }
            (KeySource::Gba { .. }, None) => PskAnswer::Unknown,
        }
    }
}

/// The PSK source of a [`super::SessionConfig`] template: the session replaces it with the key
/// of its [`KeySource`] before each handshake, so a handshake never reaches this one; if it
/// did (a template used on its own), the handshake fails rather than use a made-up key.
pub(crate) struct KeyFromSession;

impl ClientPskSource for KeyFromSession {
    fn psk(&self, _hint: Option<&[u8]>, _suite: CipherSuite) -> PskAnswer<ClientPsk> {
        PskAnswer::Unknown
    }
}
