//! Our suites (by IANA name) and what each peer calls them.

/// One suite's name in each stack. `None`: the peer does not have it.
#[derive(Debug, Clone, Copy)]
pub struct SuiteNames {
    /// IANA name, as our CLI takes it.
    pub iana: &'static str,
    /// OpenSSL cipher string.
    pub openssl: Option<&'static str>,
    /// GnuTLS priority cipher (+KX is PSK for these).
    pub gnutls: Option<&'static str>,
    /// Mbed TLS 2.28 name.
    pub mbedtls: Option<&'static str>,
}

/// Every suite our engine implements. The RFC 8442 ECDHE_PSK AEAD suites exist in none of the
/// peers we can run (OpenSSL 3.0 and GnuTLS 3.7 have ECDHE-PSK only with CBC/ChaCha20, Mbed TLS
/// 2.28 only with CBC): they are checked ours-to-ours.
pub const SUITES: [SuiteNames; 6] = [
    SuiteNames {
        iana: "TLS_PSK_WITH_AES_128_CCM_8",
        openssl: Some("PSK-AES128-CCM8"),
        gnutls: Some("AES-128-CCM-8"),
        mbedtls: Some("TLS-PSK-WITH-AES-128-CCM-8"),
    },
    SuiteNames {
        iana: "TLS_PSK_WITH_AES_128_CCM",
        openssl: Some("PSK-AES128-CCM"),
        gnutls: Some("AES-128-CCM"),
        mbedtls: Some("TLS-PSK-WITH-AES-128-CCM"),
    },
    SuiteNames {
        iana: "TLS_PSK_WITH_AES_128_GCM_SHA256",
        openssl: Some("PSK-AES128-GCM-SHA256"),
        gnutls: Some("AES-128-GCM"),
        mbedtls: Some("TLS-PSK-WITH-AES-128-GCM-SHA256"),
    },
    SuiteNames {
        iana: "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
        openssl: None,
        gnutls: None,
        mbedtls: None,
    },
    SuiteNames {
        iana: "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
        openssl: None,
        gnutls: None,
        mbedtls: None,
    },
    SuiteNames {
        iana: "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
        openssl: None,
        gnutls: None,
        mbedtls: None,
    },
];

/// The names of a suite by IANA name.
pub fn by_iana(iana: &str) -> SuiteNames {
    SUITES
        .into_iter()
        .find(|s| s.iana == iana)
        .unwrap_or_else(|| panic!("unknown suite {iana}"))
}

/// A GnuTLS priority string that allows exactly one PSK AEAD cipher in DTLS 1.2.
pub fn gnutls_priority(cipher: &str) -> String {
    format!("NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+{cipher}:-MAC-ALL:+AEAD")
}
