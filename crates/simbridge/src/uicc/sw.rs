//! Status words (ISO 7816-4, TS 102 221 §10.2, TS 31.102 §7.3) as a typed enum with meanings.

use std::fmt;

/// A status word SW1 SW2 with its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWord {
    /// 9000: normal ending.
    Ok,
    /// 61xx: T=0 procedure: xx bytes wait for GET RESPONSE.
    MoreData(u8),
    /// 9Fxx: legacy GSM SIM variant of 61xx.
    MoreDataLegacy(u8),
    /// 6Cxx: wrong Le; resend with Le = xx.
    WrongLe(u8),
    /// 63Cx: verification failed, x tries left.
    WrongPin(u8),
    /// 6700: wrong length (Lc or Le).
    WrongLength,
    /// 6981: command incompatible with the file structure.
    IncompatibleFile,
    /// 6982: security status not satisfied (PIN needed).
    SecurityNotSatisfied,
    /// 6983: authentication method blocked (PIN blocked).
    PinBlocked,
    /// 6984: referenced data not usable (e.g. no PUK for RESET RETRY COUNTER).
    RefDataNotUsable,
    /// 6985: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// 6986: command not allowed (no EF selected).
    NoEfSelected,
    /// 6A80: incorrect parameters in the data field.
    WrongData,
    /// 6A82: file or application not found.
    FileNotFound,
    /// 6A83: record not found.
    RecordNotFound,
    /// 6A86: incorrect P1 or P2.
    IncorrectP1P2,
    /// 6B00: wrong parameters P1 P2.
    WrongP1P2,
    /// 6D00: instruction not supported.
    InsNotSupported,
    /// 6E00: class not supported.
    ClaNotSupported,
    /// 6F00: technical problem, no precise diagnosis.
    TechnicalProblem,
    /// 9862: authentication error, incorrect MAC.
    AuthMacFailure,
    /// 9864: security context not supported.
    ContextNotSupported,
    /// 9865: key freshness failure.
    KeyFreshnessFailure,
    /// 9866: no memory space available.
    NoMemory,
    /// Anything else.
    Other(u16),
}

impl StatusWord {
    /// Decodes SW1 SW2.
    pub fn new(sw1: u8, sw2: u8) -> Self {
        use StatusWord::*;
        match (sw1, sw2) {
            (0x90, 0x00) => Ok,
            (0x61, n) => MoreData(n),
            (0x9F, n) => MoreDataLegacy(n),
            (0x6C, n) => WrongLe(n),
            (0x63, n) if n & 0xF0 == 0xC0 => WrongPin(n & 0x0F),
            (0x67, 0x00) => WrongLength,
            (0x69, 0x81) => IncompatibleFile,
            (0x69, 0x82) => SecurityNotSatisfied,
            (0x69, 0x83) => PinBlocked,
            (0x69, 0x84) => RefDataNotUsable,
            (0x69, 0x85) => ConditionsNotSatisfied,
            (0x69, 0x86) => NoEfSelected,
            (0x6A, 0x80) => WrongData,
            (0x6A, 0x82) => FileNotFound,
            (0x6A, 0x83) => RecordNotFound,
            (0x6A, 0x86) => IncorrectP1P2,
            (0x6B, 0x00) => WrongP1P2,
            (0x6D, 0x00) => InsNotSupported,
            (0x6E, 0x00) => ClaNotSupported,
            (0x6F, 0x00) => TechnicalProblem,
            (0x98, 0x62) => AuthMacFailure,
            (0x98, 0x64) => ContextNotSupported,
            (0x98, 0x65) => KeyFreshnessFailure,
            (0x98, 0x66) => NoMemory,
            (a, b) => Other(u16::from_be_bytes([a, b])),
        }
    }

    /// The two bytes SW1 SW2.
    pub fn bytes(self) -> [u8; 2] {
        use StatusWord::*;
        let v: u16 = match self {
            Ok => 0x9000,
            MoreData(n) => 0x6100 | u16::from(n),
            MoreDataLegacy(n) => 0x9F00 | u16::from(n),
            WrongLe(n) => 0x6C00 | u16::from(n),
            WrongPin(n) => 0x63C0 | u16::from(n & 0x0F),
            WrongLength => 0x6700,
            IncompatibleFile => 0x6981,
            SecurityNotSatisfied => 0x6982,
            PinBlocked => 0x6983,
            RefDataNotUsable => 0x6984,
            ConditionsNotSatisfied => 0x6985,
            NoEfSelected => 0x6986,
            WrongData => 0x6A80,
            FileNotFound => 0x6A82,
            RecordNotFound => 0x6A83,
            IncorrectP1P2 => 0x6A86,
            WrongP1P2 => 0x6B00,
            InsNotSupported => 0x6D00,
            ClaNotSupported => 0x6E00,
            TechnicalProblem => 0x6F00,
            AuthMacFailure => 0x9862,
            ContextNotSupported => 0x9864,
            KeyFreshnessFailure => 0x9865,
            NoMemory => 0x9866,
            Other(v) => v,
        };
        v.to_be_bytes()
    }

    /// True for 9000 (and the informational 61xx/9Fxx procedure bytes).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            StatusWord::Ok | StatusWord::MoreData(_) | StatusWord::MoreDataLegacy(_)
        )
    }

    /// What the status word means, in words.
    pub fn meaning(self) -> &'static str {
        use StatusWord::*;
        match self {
            Ok => "normal ending",
            MoreData(_) | MoreDataLegacy(_) => "response data available (GET RESPONSE)",
            WrongLe(_) => "wrong Le, resend with the length given",
            WrongPin(_) => "PIN verification failed",
            WrongLength => "wrong length",
            IncompatibleFile => "command incompatible with the file structure",
            SecurityNotSatisfied => "security status not satisfied (PIN required)",
            PinBlocked => "authentication method blocked (PIN blocked)",
            RefDataNotUsable => "referenced data not usable",
            ConditionsNotSatisfied => "conditions of use not satisfied",
            NoEfSelected => "command not allowed, no EF selected",
            WrongData => "incorrect parameters in the data field",
            FileNotFound => "file or application not found",
            RecordNotFound => "record not found",
            IncorrectP1P2 => "incorrect parameters P1 P2",
            WrongP1P2 => "wrong parameters P1 P2",
            InsNotSupported => "instruction not supported",
            ClaNotSupported => "class not supported",
            TechnicalProblem => "technical problem",
            AuthMacFailure => "authentication error, incorrect MAC",
            ContextNotSupported => "security context not supported",
            KeyFreshnessFailure => "key freshness failure",
            NoMemory => "no memory space available",
            Other(_) => "unknown status",
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b] = self.bytes();
        match self {
            StatusWord::WrongPin(n) => write!(
                f,
                "{a:02X}{b:02X} ({}, {})",
                self.meaning(),
                crate::uicc::pin::tries_left(*n)
            ),
            _ => write!(f, "{a:02X}{b:02X} ({})", self.meaning()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_code() {
        for v in 0u16..=0xFFFF {
            let [a, b] = v.to_be_bytes();
            assert_eq!(StatusWord::new(a, b).bytes(), [a, b], "{v:04X}");
        }
    }

    #[test]
    fn display_names_code_and_meaning() {
        assert_eq!(
            StatusWord::new(0x98, 0x62).to_string(),
            "9862 (authentication error, incorrect MAC)"
        );
        assert_eq!(
            StatusWord::new(0x63, 0xC2).to_string(),
            "63C2 (PIN verification failed, 2 tries left)"
        );
        assert_eq!(
            StatusWord::new(0x63, 0xC1).to_string(),
            "63C1 (PIN verification failed, 1 try left)"
        );
    }
}
