//! Which DTLS versions one side speaks: a route's or listener's `dtls = "1.2" | "1.3" | "auto"`
//! and the CLI's `--version`.

use std::fmt;
use std::str::FromStr;

use crate::suite::CipherSuite;

/// DTLS 1.2 (RFC 6347), DTLS 1.3 (RFC 9147), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Versions {
    /// DTLS 1.2 only.
    #[default]
    Dtls12,
    /// DTLS 1.3 only.
    Dtls13,
    /// Both: a client offers both (supported_versions), a server takes the highest offered.
    Auto,
}

impl Versions {
    /// Whether DTLS 1.2 is allowed.
    pub fn allows_12(self) -> bool {
        matches!(self, Self::Dtls12 | Self::Auto)
    }

    /// Whether DTLS 1.3 is allowed.
    pub fn allows_13(self) -> bool {
        matches!(self, Self::Dtls13 | Self::Auto)
    }

    /// The suites to use when none are configured: the DTLS 1.2 `defaults` where 1.2 is
    /// allowed, then every DTLS 1.3 suite where 1.3 is.
    pub fn default_suites(self, defaults: &[CipherSuite]) -> Vec<CipherSuite> {
        let mut out: Vec<CipherSuite> = Vec::new();
        if self.allows_12() {
            out.extend(defaults.iter().filter(|s| !s.is_tls13()));
        }
        if self.allows_13() {
            out.extend(CipherSuite::TLS13);
        }
        out
    }

    /// Checks that `suites` hold a suite of each version these versions need: 1.3 only needs a
    /// 1.3 suite, 1.2 only a 1.2 suite, auto one of either.
    pub fn check_suites(self, suites: &[CipherSuite]) -> Result<(), SuitesMissing> {
        let has_13 = suites.iter().any(|s| s.is_tls13());
        let has_12 = suites.iter().any(|s| !s.is_tls13());
        match self {
            Self::Dtls13 if !has_13 => Err(SuitesMissing(self)),
            Self::Dtls12 if !has_12 => Err(SuitesMissing(self)),
            Self::Auto if suites.is_empty() => Err(SuitesMissing(self)),
            _ => Ok(()),
        }
    }

    /// The name as configured: `"1.2"`, `"1.3"` or `"auto"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dtls12 => "1.2",
            Self::Dtls13 => "1.3",
            Self::Auto => "auto",
        }
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version choice that is none of `1.2`, `1.3`, `auto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DTLS version {0:?} is not one of \"1.2\", \"1.3\", \"auto\"")]
pub struct UnknownVersion(pub String);

/// Suites that leave a version with nothing to negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct SuitesMissing(pub Versions);

impl fmt::Display for SuitesMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Versions::Dtls13 => {
                f.write_str("DTLS 1.3 needs a DTLS 1.3 suite (e.g. TLS_AES_128_CCM_8_SHA256)")
            }
            Versions::Dtls12 => {
                f.write_str("DTLS 1.2 needs a DTLS 1.2 suite (e.g. TLS_PSK_WITH_AES_128_CCM_8)")
            }
            Versions::Auto => f.write_str("no cipher suite"),
        }
    }
}

impl FromStr for Versions {
    type Err = UnknownVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.2" => Ok(Self::Dtls12),
            "1.3" => Ok(Self::Dtls13),
            "auto" => Ok(Self::Auto),
            other => Err(UnknownVersion(other.chars().take(32).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_names_and_refuses_others() {
        for v in [Versions::Dtls12, Versions::Dtls13, Versions::Auto] {
            assert_eq!(v.name().parse::<Versions>(), Ok(v));
        }
        assert!(Versions::Auto.allows_12() && Versions::Auto.allows_13());
        assert!(!Versions::Dtls12.allows_13() && !Versions::Dtls13.allows_12());
        let e = "1.0".parse::<Versions>().unwrap_err();
        assert!(e.to_string().contains("\"1.0\""), "{e}");
    }

    #[test]
    fn default_suites_follow_the_versions_and_a_version_without_its_suite_is_refused() {
        let base = [CipherSuite::PskAes128Ccm8];
        assert_eq!(Versions::Dtls12.default_suites(&base), base);
        assert_eq!(Versions::Dtls13.default_suites(&base), CipherSuite::TLS13);
        let auto = Versions::Auto.default_suites(&base);
        assert_eq!(auto[0], CipherSuite::PskAes128Ccm8);
        assert!(auto.ends_with(&CipherSuite::TLS13));
        for v in [Versions::Dtls12, Versions::Dtls13, Versions::Auto] {
            assert_eq!(v.check_suites(&v.default_suites(&base)), Ok(()));
        }
        let e = Versions::Dtls13.check_suites(&base).unwrap_err();
        assert!(e.to_string().contains("DTLS 1.3 suite"), "{e}");
        assert!(Versions::Dtls12.check_suites(&CipherSuite::TLS13).is_err());
        assert!(Versions::Auto.check_suites(&[]).is_err());
    }
}
