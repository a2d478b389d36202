//! Alerts (RFC 5246 §7.2) and ChangeCipherSpec.

use std::fmt;

use super::{Field, WireError};

/// Alert level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertLevel {
    /// warning (1)
    Warning,
    /// fatal (2)
    Fatal,
}

/// Alert descriptions we send or name; others are kept by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertDescription {
    /// close_notify (0)
    CloseNotify,
    /// unexpected_message (10)
    UnexpectedMessage,
    /// bad_record_mac (20)
    BadRecordMac,
    /// handshake_failure (40)
    HandshakeFailure,
    /// illegal_parameter (47)
    IllegalParameter,
    /// decode_error (50)
    DecodeError,
    /// decrypt_error (51)
    DecryptError,
    /// protocol_version (70)
    ProtocolVersion,
    /// insufficient_security (71)
    InsufficientSecurity,
    /// internal_error (80)
    InternalError,
    /// no_renegotiation (100)
    NoRenegotiation,
    /// unsupported_extension (110)
    UnsupportedExtension,
    /// unrecognized_name (112, RFC 6066)
    UnrecognizedName,
    /// unknown_psk_identity (115)
    UnknownPskIdentity,
    /// any other value
    Other(u8),
}

impl AlertDescription {
    /// Wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::CloseNotify => 0,
            Self::UnexpectedMessage => 10,
            Self::BadRecordMac => 20,
            Self::HandshakeFailure => 40,
            Self::IllegalParameter => 47,
            Self::DecodeError => 50,
            Self::DecryptError => 51,
            Self::ProtocolVersion => 70,
            Self::InsufficientSecurity => 71,
            Self::InternalError => 80,
            Self::NoRenegotiation => 100,
            Self::UnsupportedExtension => 110,
            Self::UnrecognizedName => 112,
            Self::UnknownPskIdentity => 115,
            Self::Other(v) => v,
        }
    }

    /// From a wire value.
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::CloseNotify,
            10 => Self::UnexpectedMessage,
            20 => Self::BadRecordMac,
            40 => Self::HandshakeFailure,
            47 => Self::IllegalParameter,
            50 => Self::DecodeError,
            51 => Self::DecryptError,
            70 => Self::ProtocolVersion,
            71 => Self::InsufficientSecurity,
            80 => Self::InternalError,
            100 => Self::NoRenegotiation,
            110 => Self::UnsupportedExtension,
            112 => Self::UnrecognizedName,
            115 => Self::UnknownPskIdentity,
            v => Self::Other(v),
        }
    }
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::CloseNotify => "close_notify",
            Self::UnexpectedMessage => "unexpected_message",
            Self::BadRecordMac => "bad_record_mac",
            Self::HandshakeFailure => "handshake_failure",
            Self::IllegalParameter => "illegal_parameter",
            Self::DecodeError => "decode_error",
            Self::DecryptError => "decrypt_error",
            Self::ProtocolVersion => "protocol_version",
            Self::InsufficientSecurity => "insufficient_security",
            Self::InternalError => "internal_error",
            Self::NoRenegotiation => "no_renegotiation",
            Self::UnsupportedExtension => "unsupported_extension",
            Self::UnrecognizedName => "unrecognized_name",
            Self::UnknownPskIdentity => "unknown_psk_identity",
            Self::Other(v) => return write!(f, "alert({v})"),
        };
        f.write_str(name)
    }
}

/// An alert record body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// Level.
    pub level: AlertLevel,
    /// Description.
    pub description: AlertDescription,
}

impl Alert {
    /// Parses a two-byte alert.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let [level, desc] = b else {
            return Err(WireError::Invalid(Field::AlertLength));
        };
        let level = match level {
            1 => AlertLevel::Warning,
            2 => AlertLevel::Fatal,
            _ => return Err(WireError::Invalid(Field::AlertLevel)),
        };
        Ok(Self {
            level,
            description: AlertDescription::from_u8(*desc),
        })
    }

    /// Encodes the two bytes.
    pub fn encode(&self) -> [u8; 2] {
        let level = match self.level {
            AlertLevel::Warning => 1,
            AlertLevel::Fatal => 2,
        };
        [level, self.description.to_u8()]
    }
}

/// Checks a ChangeCipherSpec body (a single byte 1).
pub fn parse_ccs(b: &[u8]) -> Result<(), WireError> {
    if b == [1] {
        Ok(())
    } else {
        Err(WireError::Invalid(Field::ChangeCipherSpec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_round_trip() {
        let a = Alert {
            level: AlertLevel::Fatal,
            description: AlertDescription::UnknownPskIdentity,
        };
        assert_eq!(Alert::parse(&a.encode()), Ok(a));
        assert!(Alert::parse(&[3, 0]).is_err());
        assert!(Alert::parse(&[1]).is_err());
        assert!(parse_ccs(&[1]).is_ok());
        assert!(parse_ccs(&[1, 1]).is_err());
    }
}
