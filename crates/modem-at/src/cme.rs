//! Meanings of the numeric `+CME ERROR` (TS 27.007 §9.2) and `+CMS ERROR` (TS 27.005 §3.2.5)
//! codes, so that a failure reads as "SIM not inserted" rather than "error 10".

/// The meaning of a `+CME ERROR: <n>` code, or `None` for codes we do not know.
pub fn cme_meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        0 => "phone failure",
        1 => "no connection to phone",
        2 => "phone-adaptor link reserved",
        3 => "operation not allowed",
        4 => "operation not supported",
        5 => "PH-SIM PIN required",
        6 => "PH-FSIM PIN required",
        7 => "PH-FSIM PUK required",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        12 => "SIM PUK required",
        13 => "SIM failure",
        14 => "SIM busy",
        15 => "SIM wrong",
        16 => "incorrect password",
        17 => "SIM PIN2 required",
        18 => "SIM PUK2 required",
        20 => "memory full",
        21 => "invalid index",
        22 => "not found",
        23 => "memory failure",
        24 => "text string too long",
        25 => "invalid characters in text string",
        26 => "dial string too long",
        27 => "invalid characters in dial string",
        30 => "no network service",
        31 => "network timeout",
        32 => "network not allowed - emergency calls only",
        40 => "network personalization PIN required",
        41 => "network personalization PUK required",
        42 => "network subset personalization PIN required",
        43 => "network subset personalization PUK required",
        44 => "service provider personalization PIN required",
        45 => "service provider personalization PUK required",
        46 => "corporate personalization PIN required",
        47 => "corporate personalization PUK required",
        48 => "hidden key required",
        49 => "EAP method not supported",
        50 => "incorrect parameters",
        51 => "command implemented but currently disabled",
        52 => "command aborted by user",
        53 => "not attached to network due to MT functionality restrictions",
        54 => "modem not allowed - MT restricted to emergency calls only",
        55 => "operation not allowed because of MT functionality restrictions",
        56 => "fixed dial number only allowed",
        57 => "temporarily out of service due to other MT usage",
        58 => "language/alphabet not supported",
        59 => "unexpected data value",
        60 => "system failure",
        61 => "data missing",
        62 => "call barred",
        63 => "message waiting indication subscription failure",
        100 => "unknown error",
        103 => "illegal MS",
        106 => "illegal ME",
        107 => "GPRS services not allowed",
        111 => "PLMN not allowed",
        112 => "location area not allowed",
        113 => "roaming not allowed in this location area",
        132 => "service option not supported",
        133 => "requested service option not subscribed",
        134 => "service option temporarily out of order",
        148 => "unspecified GPRS error",
        149 => "PDP authentication failure",
        150 => "invalid mobile class",
        _ => return None,
    })
}

/// The meaning of a `+CMS ERROR: <n>` code (SMS), or `None` for codes we do not know.
pub fn cms_meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        300 => "ME failure",
        301 => "SMS service of ME reserved",
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        312 => "PH-SIM PIN required",
        313 => "SIM failure",
        314 => "SIM busy",
        315 => "SIM wrong",
        316 => "SIM PUK required",
        317 => "SIM PIN2 required",
        318 => "SIM PUK2 required",
        320 => "memory failure",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        340 => "no +CNMA acknowledgement expected",
        500 => "unknown error",
        _ => return None,
    })
}

/// Maps the verbose form of a `+CME ERROR` (after `AT+CMEE=2`) back to its code, for the texts
/// modems commonly print. Case and surrounding spaces are ignored.
pub fn cme_code_from_text(text: &str) -> Option<u16> {
    let wanted = text.trim().to_ascii_lowercase();
    (0u16..=150).find(|&code| cme_meaning(code).is_some_and(|m| m.eq_ignore_ascii_case(&wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_cme_codes_have_meanings() {
        assert_eq!(cme_meaning(3), Some("operation not allowed"));
        assert_eq!(cme_meaning(4), Some("operation not supported"));
        assert_eq!(cme_meaning(10), Some("SIM not inserted"));
        assert_eq!(cme_meaning(11), Some("SIM PIN required"));
        assert_eq!(cme_meaning(13), Some("SIM failure"));
        assert_eq!(cme_meaning(14), Some("SIM busy"));
        assert_eq!(cme_meaning(50), Some("incorrect parameters"));
        assert_eq!(cme_meaning(9999), None);
    }

    #[test]
    fn cms_codes_have_meanings() {
        assert_eq!(cms_meaning(310), Some("SIM not inserted"));
        assert_eq!(cms_meaning(1), None);
    }

    #[test]
    fn verbose_cme_text_maps_back_to_code() {
        assert_eq!(cme_code_from_text("SIM not inserted"), Some(10));
        assert_eq!(cme_code_from_text("  sim busy "), Some(14));
        assert_eq!(cme_code_from_text("kaboom"), None);
    }
}
