//! Which DTLS versions one side speaks: a route's or listener's `dtls = "1.2" | "1.3" | "auto"`
//! and the CLI's `--version`.

use std::fmt;
use std::str::FromStr;

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
}
