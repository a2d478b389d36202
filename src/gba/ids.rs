//! GBA identifiers: IMPI from IMSI (TS 23.003 §13.3), the BSF host name (TS 23.003 §16), B-TID
//! (TS 33.220 §4.5.2) and the PSK identity used on Ua (TS 24.109 §5.3.3, TS 36.508 §4.7H).

use super::GbaError;
use base64::Engine;

/// The prefix of GBA PSK identities and the server's psk_identity_hint.
pub const PSK_IDENTITY_PREFIX: &str = "3GPP-bootstrapping";

fn check_mcc_mnc(mcc: &str, mnc: &str) -> Result<(), GbaError> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if mcc.len() != 3 || !digits(mcc) || !(2..=3).contains(&mnc.len()) || !digits(mnc) {
        return Err(GbaError::BadImsi(format!("MCC {mcc:?} / MNC {mnc:?}")));
    }
    Ok(())
}

/// Splits an IMSI into (MCC, MNC) given the MNC length from EF_AD (2 or 3).
pub fn split_imsi(imsi: &str, mnc_len: usize) -> Result<(&str, &str), GbaError> {
    let ok = (6..=15).contains(&imsi.len())
        && imsi.bytes().all(|b| b.is_ascii_digit())
        && (2..=3).contains(&mnc_len);
    if !ok {
        return Err(GbaError::BadImsi(imsi.chars().take(16).collect()));
    }
    let mcc = imsi
        .get(..3)
        .ok_or_else(|| GbaError::BadImsi(imsi.to_string()))?;
    let mnc = imsi
        .get(3..3 + mnc_len)
        .ok_or_else(|| GbaError::BadImsi(imsi.to_string()))?;
    Ok((mcc, mnc))
}

/// The IMPI derived from the IMSI when the card has no ISIM:
/// `<IMSI>@ims.mnc<MNC, 3 digits>.mcc<MCC>.3gppnetwork.org`.
pub fn impi_from_imsi(imsi: &str, mnc_len: usize) -> Result<String, GbaError> {
    split_imsi(imsi, mnc_len)?;
    // One definition of the TS 23.003 format: the card layer's (it reads the IMSI).
    crate::uicc::files::impi_from_imsi(imsi, mnc_len as u8)
        .ok_or_else(|| GbaError::BadImsi(imsi.to_string()))
}

/// The BSF host name of the home network: `bsf.mnc<MNC, 3 digits>.mcc<MCC>.pub.3gppnetwork.org`.
pub fn bsf_host(mcc: &str, mnc: &str) -> Result<String, GbaError> {
    check_mcc_mnc(mcc, mnc)?;
    Ok(format!("bsf.mnc{mnc:0>3}.mcc{mcc}.pub.3gppnetwork.org"))
}

/// The default BSF URL (plain HTTP, as on Ub in 24.109) for a home network.
pub fn default_bsf_url(mcc: &str, mnc: &str) -> Result<String, GbaError> {
    Ok(format!("http://{}/", bsf_host(mcc, mnc)?))
}

/// A B-TID as a BSF builds it: `base64(RAND)@<BSF domain>`. Clients treat B-TIDs as opaque.
pub fn btid(rand: &[u8; 16], bsf_domain: &str) -> String {
    format!(
        "{}@{bsf_domain}",
        base64::engine::general_purpose::STANDARD.encode(rand)
    )
}

/// The client's PSK identity for a B-TID: `3GPP-bootstrapping.` + B-TID.
pub fn psk_identity(btid: &str) -> String {
    format!("{PSK_IDENTITY_PREFIX}.{btid}")
}

/// The B-TID inside a PSK identity. Accepts `3GPP-bootstrapping.<B-TID>`, the prefix without the
/// dot, the `-uicc` / `-digest` prefixes, and a bare B-TID (TS 24.109 does not fix the separator).
pub fn btid_from_psk_identity(identity: &str) -> &str {
    for prefix in [
        "3GPP-bootstrapping-uicc",
        "3GPP-bootstrapping-digest",
        PSK_IDENTITY_PREFIX,
    ] {
        if let Some(rest) = identity.strip_prefix(prefix) {
            return rest.strip_prefix('.').unwrap_or(rest);
        }
    }
    identity
}

/// Most characters of an identity (or other peer-chosen text) that [`escape_for_log`] keeps.
pub const LOG_TEXT_MAX: usize = 96;

/// Peer-chosen bytes (a PSK identity, an SNI, an FQDN) made safe for a log line: printable ASCII
/// stays, everything else (control characters, quotes, backslashes, non-ASCII) becomes `\xNN`,
/// and the result is cut to [`LOG_TEXT_MAX`] characters with `…(N bytes)` saying how long it was.
pub fn escape_for_log(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        let piece = if (0x20..0x7f).contains(&b) && b != b'\\' && b != b'"' {
            (b as char).to_string()
        } else {
            format!("\\x{b:02x}")
        };
        if out.len() + piece.len() > LOG_TEXT_MAX {
            out.push_str(&format!("…({} bytes)", bytes.len()));
            return out;
        }
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psk_identity_round_trip() {
        let b = "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org";
        assert_eq!(btid_from_psk_identity(&psk_identity(b)), b);
        assert_eq!(btid_from_psk_identity(&format!("3GPP-bootstrapping{b}")), b);
        assert_eq!(
            btid_from_psk_identity(&format!("3GPP-bootstrapping-uicc.{b}")),
            b
        );
        assert_eq!(btid_from_psk_identity(b), b);
    }

    #[test]
    fn log_escaping_escapes_and_cuts() {
        assert_eq!(escape_for_log(b"naf.example.com"), "naf.example.com");
        assert_eq!(escape_for_log(b"a\nb\"\\\xff"), "a\\x0ab\\x22\\x5c\\xff");
        let long = escape_for_log(&[b'x'; 16 * 1024]);
        assert!(long.len() < LOG_TEXT_MAX + 20, "{long}");
        assert!(long.ends_with("…(16384 bytes)"), "{long}");
        let nasty = escape_for_log(&[0u8; 300]);
        assert!(
            !nasty.contains('\0') && nasty.ends_with("…(300 bytes)"),
            "{nasty}"
        );
    }

    #[test]
    fn bad_imsi_rejected() {
        assert!(impi_from_imsi("00101", 2).is_err());
        assert!(impi_from_imsi("00101012345678a", 2).is_err());
        assert!(impi_from_imsi("001010123456789", 4).is_err());
        assert!(bsf_host("01", "01").is_err());
    }
}
