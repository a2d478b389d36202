//! A failed upstream handshake: what it means for the retry (the kinds told apart by the
//! server's alert), and words for the log: what the gateway last heard from the server (for a
//! timeout) and which key it offered (identity, NAF, Ua id; never the key itself).

use super::{KeySource, Now, Slot, UpstreamSession};
use crate::dtls::CipherSuite;
use crate::dtls::event::{CloseReason, FailureKind};
use crate::gba::naf::UaId;
use log::{error, warn};

/// What a datagram from the server was, from its first record header (DTLS 1.2, RFC 6347 §4.1;
/// RFC 9146 for the CID content type). Encrypted handshake records are named as such.
pub(super) fn describe_datagram(d: &[u8]) -> String {
    let Some(&ct) = d.first() else {
        return "an empty datagram".into();
    };
    let epoch = d.get(3..5).map(|e| u16::from_be_bytes([e[0], e[1]]));
    let what = match ct {
        20 => "ChangeCipherSpec",
        21 if epoch == Some(0) => match d.get(14) {
            Some(&desc) => return format!("an alert (level {}, description {desc})", d[13]),
            None => "an alert",
        },
        21 => "an encrypted alert",
        22 if epoch == Some(0) => match d.get(13) {
            Some(1) => "a ClientHello (our own?)",
            Some(2) => "a ServerHello",
            Some(3) => "a HelloVerifyRequest (cookie)",
            Some(12) => "a ServerKeyExchange",
            Some(14) => "a ServerHelloDone",
            Some(_) => "a handshake message",
            None => "a truncated handshake record",
        },
        22 => "an encrypted handshake message (the server's Finished)",
        23 | 25 => "application data",
        // RFC 9147 §4: the unified header's fixed bits 001
        0x20..=0x3f => "an encrypted DTLS 1.3 record",
        _ => "a datagram that is not DTLS",
    };
    format!("{what} ({} bytes)", d.len())
}

/// The key a handshake offered, in words: identity, and for GBA the NAF and Ua id of `suite`
/// (the negotiated suite, else the first one offered).
pub(super) fn key_in_words(
    source: &KeySource,
    btid: Option<&str>,
    suite: Option<CipherSuite>,
) -> String {
    match source {
        KeySource::Static { identity, .. } => format!(
            "identity \"{}\" (static key)",
            String::from_utf8_lossy(identity).escape_default()
        ),
        KeySource::Gba { naf_fqdn, ua } => {
            let identity = btid
                .map(crate::gba::ids::psk_identity)
                .unwrap_or_else(|| "(none yet)".into());
            let ua = ua
                .or_else(|| suite.map(UaId::for_suite))
                .map(|u| u.to_hex())
                .unwrap_or_else(|| "(no suite)".into());
            format!("identity \"{identity}\", NAF {naf_fqdn}, Ua id {ua}")
        }
    }
}

impl UpstreamSession {
    /// Tells failure kinds apart (the server's alert says which): a rejected key makes a GBA
    /// route bootstrap again, at most once per `retry_max`; a server that cannot get keys now
    /// (internal_error) or a configuration mismatch only retries with back-off, no bootstrap.
    pub(super) fn handshake_failed(&mut self, now: Now, reason: &CloseReason, slot: Option<&Slot>) {
        let gba = matches!(self.source, KeySource::Gba { .. });
        let key = key_in_words(
            &self.source,
            slot.and_then(|s| s.btid.as_deref()),
            slot.and_then(|s| s.conn.suite())
                .or_else(|| self.cfg.dtls.common.suites.first().copied()),
        );
        let delay = self.schedule_retry(now).as_secs();
        match reason.failure_kind() {
            Some(FailureKind::KeyRejected) if gba => {
                let may = self
                    .last_forced
                    .is_none_or(|t| now.mono >= t + self.cfg.retry_max);
                self.resume = None;
                if may {
                    warn!("upstream did not accept our key ({reason}): {key}; bootstrapping again");
                    self.force_bootstrap = true;
                    self.last_forced = Some(now.mono);
                    // The new key is worth trying at once.
                    self.retry_at = Some(now.mono + self.cfg.retry_min);
                } else {
                    warn!(
                        "upstream did not accept our key ({reason}): {key}; a new key was rejected too, so no bootstrap before {} s have passed since the last; retrying in {delay} s",
                        self.cfg.retry_max.as_secs()
                    );
                }
            }
            Some(FailureKind::KeyRejected) => {
                warn!(
                    "upstream did not accept our key ({reason}): {key}; check the route's psk; retrying in {delay} s"
                );
            }
            Some(FailureKind::PeerUnavailable) => warn!(
                "upstream cannot get our key now ({reason}): {key}; retrying in {delay} s, no bootstrap"
            ),
            Some(FailureKind::ConfigMismatch) => error!(
                "configuration error: upstream refused the handshake ({reason}): the route's suites ({}) or extended master secret do not fit the server's; no bootstrap; retrying in {delay} s",
                self.cfg
                    .dtls
                    .common
                    .suites
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(FailureKind::NameRejected) => error!(
                "configuration error: upstream does not serve the name we sent ({reason}): check the route's naf; retrying in {delay} s"
            ),
            Some(FailureKind::Timeout) => warn!(
                "upstream handshake timed out ({reason}); last received: {}; {key}; retrying in {delay} s",
                slot.and_then(|s| s.last_heard.as_deref())
                    .unwrap_or("nothing (the upstream is silent or unreachable)")
            ),
            _ => warn!("upstream handshake failed: {reason}; retrying in {delay} s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_in_words() {
        let mut sh = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 2];
        sh.resize(53, 0);
        assert_eq!(describe_datagram(&sh), "a ServerHello (53 bytes)");
        let alert = [21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 80];
        assert_eq!(
            describe_datagram(&alert),
            "an alert (level 2, description 80)"
        );
        let fin = [22, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9];
        assert!(describe_datagram(&fin).contains("encrypted handshake"));
        assert_eq!(describe_datagram(&[]), "an empty datagram");
    }

    #[test]
    fn keys_in_words_never_hold_the_key() {
        let gba = KeySource::Gba {
            naf_fqdn: "naf.example.com".into(),
            ua: None,
        };
        let s = key_in_words(&gba, Some("b@bsf"), Some(CipherSuite::PskAes128Ccm8));
        assert_eq!(
            s,
            "identity \"3GPP-bootstrapping.b@bsf\", NAF naf.example.com, Ua id 010001c0a8"
        );
        let st = KeySource::Static {
            identity: b"dev1".to_vec(),
            key: crate::secret::SecretVec::from(&[0x42u8; 16][..]),
        };
        let s = key_in_words(&st, None, None);
        assert_eq!(s, "identity \"dev1\" (static key)");
        assert!(!s.contains("42"));
    }
}
