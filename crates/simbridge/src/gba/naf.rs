//! NAF_Id = NAF FQDN ‖ 5-byte Ua security protocol identifier (TS 33.220 §4.5.3, Annex H.3).
//!
//! The DTLS-specific Ua id of TS 33.220 Annex O could not be confirmed, so the Ua id is a plain
//! configurable value; the defaults follow Annex H.3: `01 00 01 yy zz` for (D)TLS 1.2 with the
//! negotiated cipher suite, `01 00 00 00 07` for (D)TLS 1.3, `01 00 00 00 02` for HTTP Digest.

use super::GbaError;
use std::fmt;

/// A 5-byte Ua security protocol identifier (organisation octet + 4 octets).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UaId(pub [u8; 5]);

impl UaId {
    /// HTTP Digest authentication per TS 24.109 (`01 00 00 00 02`).
    pub const HTTP_DIGEST: UaId = UaId([0x01, 0x00, 0x00, 0x00, 0x02]);
    /// Shared-key TLS 1.3, TS 33.222 §5.4.0.2 (`01 00 00 00 07`); used for DTLS 1.3 too.
    pub const TLS13: UaId = UaId([0x01, 0x00, 0x00, 0x00, 0x07]);

    /// Shared-key (D)TLS 1.2 with the negotiated cipher suite: `01 00 01 yy zz`.
    pub fn tls12_suite(suite: u16) -> UaId {
        let [yy, zz] = suite.to_be_bytes();
        UaId([0x01, 0x00, 0x01, yy, zz])
    }

    /// The default for a negotiated suite: [`UaId::TLS13`] for a DTLS 1.3 suite (the key does
    /// not depend on the suite there), else `01 00 01` + the suite.
    pub fn for_suite(suite: simbridge_dtls::CipherSuite) -> UaId {
        if suite.is_tls13() {
            Self::TLS13
        } else {
            Self::tls12_suite(suite.iana())
        }
    }

    /// Parses 10 hex digits (the form of Nbsp_GBA's `uaSecProtId`).
    pub fn from_hex(s: &str) -> Result<UaId, GbaError> {
        let mut out = [0u8; 5];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| GbaError::BadUaId(s.chars().take(32).collect()))?;
        Ok(UaId(out))
    }

    /// Lower-case hex (10 digits).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for UaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UaId({})", self.to_hex())
    }
}

/// A NAF identifier: the FQDN the UE uses to reach the NAF (the SNI host name for (D)TLS) and
/// the Ua protocol id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NafId {
    fqdn: String,
    ua: UaId,
}

impl NafId {
    /// Builds a NAF_Id. The FQDN is used byte for byte (UTF-8, TS 33.220 B.2.1), so both sides must
    /// use the same spelling; it must be 1..=253 bytes with no whitespace or control characters.
    pub fn new(fqdn: &str, ua: UaId) -> Result<NafId, GbaError> {
        if fqdn.is_empty()
            || fqdn.len() > 253
            || fqdn.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(GbaError::BadFqdn(fqdn.chars().take(64).collect()));
        }
        Ok(NafId {
            fqdn: fqdn.to_string(),
            ua,
        })
    }

    /// The FQDN part.
    pub fn fqdn(&self) -> &str {
        &self.fqdn
    }

    /// The Ua security protocol id.
    pub fn ua(&self) -> UaId {
        self.ua
    }

    /// The octets that enter the KDF: FQDN (UTF-8) ‖ Ua id.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.fqdn.len() + 5);
        v.extend_from_slice(self.fqdn.as_bytes());
        v.extend_from_slice(&self.ua.0);
        v
    }
}

/// IANA codes of the PSK cipher suites a GBA key may be used with (TLS Cipher Suites registry).
const SUITES: &[(&str, u16)] = &[
    ("TLS_PSK_WITH_AES_128_CCM_8", 0xC0A8),
    ("TLS_PSK_WITH_AES_256_CCM_8", 0xC0A9),
    ("TLS_PSK_WITH_AES_128_CCM", 0xC0A4),
    ("TLS_PSK_WITH_AES_256_CCM", 0xC0A5),
    ("TLS_PSK_WITH_AES_128_GCM_SHA256", 0x00A8),
    ("TLS_PSK_WITH_AES_256_GCM_SHA384", 0x00A9),
    ("TLS_PSK_WITH_AES_128_CBC_SHA256", 0x00AE),
    ("TLS_PSK_WITH_AES_128_CBC_SHA", 0x008C),
    ("TLS_PSK_WITH_AES_256_CBC_SHA", 0x008D),
    ("TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", 0xCCAB),
    ("TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", 0x00AA),
    ("TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", 0x00AB),
    ("TLS_DHE_PSK_WITH_AES_128_CCM", 0xC0A6),
    ("TLS_DHE_PSK_WITH_AES_256_CCM", 0xC0A7),
    ("TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", 0xC037),
    ("TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", 0xCCAC),
    ("TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", 0xCCAD),
    ("TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", 0xD001),
    ("TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", 0xD002),
    ("TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", 0xD003),
    ("TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", 0xD005),
];

/// The IANA code of a PSK cipher suite by its IANA name (case-insensitive), e.g.
/// `TLS_PSK_WITH_AES_128_CCM_8` → `0xC0A8`.
pub fn suite_code(iana_name: &str) -> Option<u16> {
    SUITES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(iana_name))
        .map(|&(_, c)| c)
}

/// The IANA name of a PSK cipher suite code, when known.
pub fn suite_name(code: u16) -> Option<&'static str> {
    SUITES.iter().find(|&&(_, c)| c == code).map(|&(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ua_ids_follow_annex_h3() {
        assert_eq!(UaId::tls12_suite(0xC0A8).0, [1, 0, 1, 0xC0, 0xA8]);
        assert_eq!(
            UaId::tls12_suite(suite_code("tls_psk_with_aes_128_gcm_sha256").unwrap_or(0)).0,
            [1, 0, 1, 0, 0xA8]
        );
        assert_eq!(UaId::TLS13.0, [1, 0, 0, 0, 7]);
        use simbridge_dtls::CipherSuite as S;
        assert_eq!(UaId::for_suite(S::Tls13Aes128Ccm8Sha256), UaId::TLS13);
        assert_eq!(UaId::for_suite(S::Tls13Aes128GcmSha256), UaId::TLS13);
        assert_eq!(UaId::for_suite(S::PskAes128Ccm8), UaId::tls12_suite(0xC0A8));
        assert_eq!(UaId::HTTP_DIGEST.0, [1, 0, 0, 0, 2]);
        assert_eq!(
            UaId::from_hex("010001c0a8").ok(),
            Some(UaId::tls12_suite(0xC0A8))
        );
        assert!(UaId::from_hex("010001c0").is_err());
        assert!(UaId::from_hex("zz0001c0a8").is_err());
        assert_eq!(suite_name(0xC0A8), Some("TLS_PSK_WITH_AES_128_CCM_8"));
    }

    #[test]
    fn naf_id_bytes_and_validation() {
        let n = NafId::new("naf.example.com", UaId::TLS13).expect("valid");
        assert_eq!(n.to_bytes(), b"naf.example.com\x01\x00\x00\x00\x07");
        assert!(NafId::new("", UaId::TLS13).is_err());
        assert!(NafId::new("a b", UaId::TLS13).is_err());
        assert!(NafId::new(&"a".repeat(254), UaId::TLS13).is_err());
    }
}
