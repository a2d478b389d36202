//! Cipher suites we implement: for DTLS 1.2 the RFC 6655 / RFC 5487 PSK AEAD suites and RFC 8442
//! ECDHE_PSK; for DTLS 1.3 the RFC 8446 §B.4 AES-128 suites (the key exchange, psk_ke or
//! psk_dhe_ke, is negotiated apart from the suite there). One type for both, so that a
//! configuration, an event or a Ua security protocol identifier names a suite the same way in
//! either version; [`CipherSuite::is_tls13`] tells them apart.

use std::fmt;

/// The record protection algorithm of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadAlg {
    /// AES-128-CCM with an 8-byte tag.
    Aes128Ccm8,
    /// AES-128-CCM with a 16-byte tag.
    Aes128Ccm,
    /// AES-128-GCM.
    Aes128Gcm,
}

impl AeadAlg {
    /// Tag length.
    pub fn tag_len(self) -> usize {
        match self {
            Self::Aes128Ccm8 => 8,
            Self::Aes128Ccm | Self::Aes128Gcm => 16,
        }
    }
}

/// A supported DTLS 1.2 cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// TLS_PSK_WITH_AES_128_CCM_8 (0xC0A8), RFC 7925 mandatory.
    PskAes128Ccm8,
    /// TLS_PSK_WITH_AES_128_CCM (0xC0A4).
    PskAes128Ccm,
    /// TLS_PSK_WITH_AES_128_GCM_SHA256 (0x00A8).
    PskAes128GcmSha256,
    /// TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 (0xD003), RFC 8442.
    EcdhePskAes128Ccm8Sha256,
    /// TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256 (0xD005), RFC 8442.
    EcdhePskAes128CcmSha256,
    /// TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256 (0xD001), RFC 8442.
    EcdhePskAes128GcmSha256,
    /// TLS_AES_128_CCM_8_SHA256 (DTLS 1.3, the constrained-device default).
    Tls13Aes128Ccm8Sha256,
    /// TLS_AES_128_CCM_SHA256 (DTLS 1.3).
    Tls13Aes128CcmSha256,
    /// TLS_AES_128_GCM_SHA256 (DTLS 1.3).
    Tls13Aes128GcmSha256,
}

impl CipherSuite {
    /// Every DTLS 1.2 suite, plain PSK CCM_8 first.
    pub const ALL: [CipherSuite; 6] = [
        Self::PskAes128Ccm8,
        Self::PskAes128Ccm,
        Self::PskAes128GcmSha256,
        Self::EcdhePskAes128Ccm8Sha256,
        Self::EcdhePskAes128CcmSha256,
        Self::EcdhePskAes128GcmSha256,
    ];

    /// Every DTLS 1.3 suite, CCM_8 first (RFC 9147 and the IoT profiles' choice for constrained
    /// devices).
    pub const TLS13: [CipherSuite; 3] = [
        Self::Tls13Aes128Ccm8Sha256,
        Self::Tls13Aes128CcmSha256,
        Self::Tls13Aes128GcmSha256,
    ];

    /// Offer order for GBA keys: 3GPP's TLS profile accepts only (EC)DHE-PSK for them, so
    /// ECDHE_PSK comes first; plain PSK CCM_8 (RFC 7925 default) stays as the last resort.
    pub const GBA_PREFERENCE: [CipherSuite; 4] = [
        Self::EcdhePskAes128Ccm8Sha256,
        Self::EcdhePskAes128GcmSha256,
        Self::EcdhePskAes128CcmSha256,
        Self::PskAes128Ccm8,
    ];

    /// IANA code point.
    pub fn iana(self) -> u16 {
        match self {
            Self::PskAes128Ccm8 => 0xC0A8,
            Self::PskAes128Ccm => 0xC0A4,
            Self::PskAes128GcmSha256 => 0x00A8,
            Self::EcdhePskAes128Ccm8Sha256 => 0xD003,
            Self::EcdhePskAes128CcmSha256 => 0xD005,
            Self::EcdhePskAes128GcmSha256 => 0xD001,
            Self::Tls13Aes128Ccm8Sha256 => 0x1305,
            Self::Tls13Aes128CcmSha256 => 0x1304,
            Self::Tls13Aes128GcmSha256 => 0x1301,
        }
    }

    /// From an IANA code point (a DTLS 1.2 or 1.3 suite).
    pub fn from_iana(v: u16) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::TLS13)
            .find(|s| s.iana() == v)
    }

    /// IANA name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PskAes128Ccm8 => "TLS_PSK_WITH_AES_128_CCM_8",
            Self::PskAes128Ccm => "TLS_PSK_WITH_AES_128_CCM",
            Self::PskAes128GcmSha256 => "TLS_PSK_WITH_AES_128_GCM_SHA256",
            Self::EcdhePskAes128Ccm8Sha256 => "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
            Self::EcdhePskAes128CcmSha256 => "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
            Self::EcdhePskAes128GcmSha256 => "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
            Self::Tls13Aes128Ccm8Sha256 => "TLS_AES_128_CCM_8_SHA256",
            Self::Tls13Aes128CcmSha256 => "TLS_AES_128_CCM_SHA256",
            Self::Tls13Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
        }
    }

    /// From an IANA name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::TLS13)
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// Whether this is a DTLS 1.3 suite (the 1.2 handshake never offers or takes one).
    pub fn is_tls13(self) -> bool {
        matches!(
            self,
            Self::Tls13Aes128Ccm8Sha256 | Self::Tls13Aes128CcmSha256 | Self::Tls13Aes128GcmSha256
        )
    }

    /// True for the RFC 8442 ECDHE_PSK suites.
    pub fn is_ecdhe(self) -> bool {
        matches!(
            self,
            Self::EcdhePskAes128Ccm8Sha256
                | Self::EcdhePskAes128CcmSha256
                | Self::EcdhePskAes128GcmSha256
        )
    }

    /// Record protection.
    pub fn aead(self) -> AeadAlg {
        match self {
            Self::PskAes128Ccm8 | Self::EcdhePskAes128Ccm8Sha256 | Self::Tls13Aes128Ccm8Sha256 => {
                AeadAlg::Aes128Ccm8
            }
            Self::PskAes128Ccm | Self::EcdhePskAes128CcmSha256 | Self::Tls13Aes128CcmSha256 => {
                AeadAlg::Aes128Ccm
            }
            Self::PskAes128GcmSha256
            | Self::EcdhePskAes128GcmSha256
            | Self::Tls13Aes128GcmSha256 => AeadAlg::Aes128Gcm,
        }
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for s in CipherSuite::ALL.into_iter().chain(CipherSuite::TLS13) {
            assert_eq!(CipherSuite::from_iana(s.iana()), Some(s));
            assert_eq!(CipherSuite::from_name(s.name()), Some(s));
        }
        assert!(CipherSuite::ALL.iter().all(|s| !s.is_tls13()));
        assert!(
            CipherSuite::TLS13
                .iter()
                .all(|s| s.is_tls13() && !s.is_ecdhe())
        );
        assert_eq!(CipherSuite::from_name("TLS_PSK_WITH_NULL"), None);
    }
}
