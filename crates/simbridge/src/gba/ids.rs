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

/// The B-TID inside a PSK identity, leniently (for display and tests): the B-TID of any form
/// [`parse_psk_identity`] accepts (bare B-TIDs included), else the identity itself. A server
/// decides with [`parse_psk_identity`].
pub fn btid_from_psk_identity(identity: &str) -> &str {
    parse_psk_identity(identity.as_bytes(), true)
        .map(|p| p.btid)
        .unwrap_or(identity)
}

/// Longest PSK identity a server looks at (RFC 4279 allows 2^16 - 1 bytes; a GBA identity is the
/// prefix and a B-TID, well under 255).
pub const MAX_PSK_IDENTITY: usize = 255;

/// Which NAF key a GBA PSK identity asks for (TS 33.220 §4.5.2, TS 24.109 §5.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NafKeyKind {
    /// `3GPP-bootstrapping`: Ks_NAF (GBA_ME) or Ks_ext_NAF (GBA_U), the key API's
    /// `meKeyMaterial`.
    Me,
    /// `3GPP-bootstrapping-uicc`: Ks_int_NAF (GBA_U), the key API's `uiccKeyMaterial`.
    Uicc,
}

/// A GBA PSK identity, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GbaPskIdentity<'a> {
    /// The B-TID.
    pub btid: &'a str,
    /// The key it asks for.
    pub kind: NafKeyKind,
}

/// Why a PSK identity is refused (before any key lookup).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Longer than [`MAX_PSK_IDENTITY`].
    #[error("identity of {0} bytes is longer than 255")]
    TooLong(usize),
    /// Not UTF-8.
    #[error("identity is not UTF-8")]
    NotUtf8,
    /// `3GPP-bootstrapping-digest`: an HTTP Digest identity, not a (D)TLS one.
    #[error("3GPP-bootstrapping-digest is not a (D)TLS PSK identity")]
    Digest,
    /// What follows the prefix is not a B-TID (`base64@domain`).
    #[error("what follows the prefix is not a B-TID")]
    BadBtid,
    /// A bare B-TID, and the server does not accept them.
    #[error("a bare B-TID without the 3GPP-bootstrapping prefix (accept_bare_btid = false)")]
    BareBtid,
    /// Not a GBA identity at all.
    #[error("not a 3GPP-bootstrapping identity")]
    NotGba,
}

/// Whether `s` has the form of a B-TID (TS 33.220 §4.5.2: `base64(RAND)@BSF_servers_domain_name`):
/// 1 to 128 base64 characters (`=` only at the end), `@`, a host name.
pub fn is_btid(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let pad = local.len() - local.trim_end_matches('=').len();
    let local_ok = (1..=128).contains(&local.len())
        && pad <= 2
        && local
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    local_ok && pad < local.len() && domain_ok
}

fn btid_after_prefix(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    is_btid(rest).then_some(rest)
}

/// Parses a GBA PSK identity strictly. `3GPP-bootstrapping.` + B-TID (canonical, TS 36.508
/// §4.7H) and `3GPP-bootstrapping` + B-TID ask for Ks_(ext)_NAF; `3GPP-bootstrapping-uicc.` /
/// `3GPP-bootstrapping-uicc` + B-TID for Ks_int_NAF; a bare B-TID (Ks_(ext)_NAF) only with
/// `accept_bare`; everything else (`-digest`, other suffixes, too long, not UTF-8) is refused.
pub fn parse_psk_identity(
    identity: &[u8],
    accept_bare: bool,
) -> Result<GbaPskIdentity<'_>, IdentityError> {
    if identity.len() > MAX_PSK_IDENTITY {
        return Err(IdentityError::TooLong(identity.len()));
    }
    let s = std::str::from_utf8(identity).map_err(|_| IdentityError::NotUtf8)?;
    if let Some(rest) = s.strip_prefix("3GPP-bootstrapping-uicc") {
        return btid_after_prefix(rest)
            .map(|b| GbaPskIdentity {
                btid: b,
                kind: NafKeyKind::Uicc,
            })
            .ok_or(IdentityError::BadBtid);
    }
    if s.starts_with("3GPP-bootstrapping-digest") {
        return Err(IdentityError::Digest);
    }
    if let Some(rest) = s.strip_prefix(PSK_IDENTITY_PREFIX) {
        return btid_after_prefix(rest)
            .map(|b| GbaPskIdentity {
                btid: b,
                kind: NafKeyKind::Me,
            })
            .ok_or(IdentityError::BadBtid);
    }
    if is_btid(s) {
        return if accept_bare {
            Ok(GbaPskIdentity {
                btid: s,
                kind: NafKeyKind::Me,
            })
        } else {
            Err(IdentityError::BareBtid)
        };
    }
    Err(IdentityError::NotGba)
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

/// An FQDN as compared: lower case, no trailing dot.
pub fn normalize_fqdn(fqdn: &str) -> String {
    fqdn.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `f` is a host name (labels of letters, digits and `-`; a trailing dot allowed).
pub fn check_fqdn(f: &str) -> bool {
    let f = f.trim_end_matches('.');
    !f.is_empty()
        && f.len() <= 253
        && f.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org";

    #[test]
    fn psk_identity_round_trip() {
        assert_eq!(btid_from_psk_identity(&psk_identity(B)), B);
        assert_eq!(btid_from_psk_identity(&format!("3GPP-bootstrapping{B}")), B);
        assert_eq!(btid_from_psk_identity(B), B);
    }

    #[test]
    fn each_identity_form_maps_to_its_key_or_is_refused() {
        use IdentityError::*;
        use NafKeyKind::*;
        let ok = |id: String, bare: bool| {
            parse_psk_identity(id.as_bytes(), bare).map(|p| (p.btid.to_string(), p.kind))
        };
        let b = || B.to_string();
        assert_eq!(ok(format!("3GPP-bootstrapping.{B}"), false), Ok((b(), Me)));
        assert_eq!(ok(format!("3GPP-bootstrapping{B}"), false), Ok((b(), Me)));
        assert_eq!(
            ok(format!("3GPP-bootstrapping-uicc.{B}"), false),
            Ok((b(), Uicc))
        );
        assert_eq!(
            ok(format!("3GPP-bootstrapping-uicc{B}"), false),
            Ok((b(), Uicc))
        );
        assert_eq!(ok(b(), true), Ok((b(), Me)));
        assert_eq!(ok(b(), false), Err(BareBtid));
        assert_eq!(
            ok(format!("3GPP-bootstrapping-digest.{B}"), true),
            Err(Digest)
        );
        assert_eq!(ok(format!("3GPP-bootstrappingX.{B}"), true), Err(BadBtid));
        assert_eq!(
            ok(format!("3GPP-bootstrapping-uicc-x.{B}"), true),
            Err(BadBtid)
        );
        assert_eq!(ok("3GPP-bootstrappingX".into(), true), Err(BadBtid));
        assert_eq!(ok("3GPP-bootstrapping.".into(), true), Err(BadBtid));
        assert_eq!(ok(format!("3GPP-bootstrapping.{B}\n"), true), Err(BadBtid));
        assert_eq!(ok("=@x".into(), true), Err(NotGba));
        assert_eq!(ok("device-17".into(), true), Err(NotGba));
        let huge = format!("3GPP-bootstrapping.{}@b", "A".repeat(16 * 1024));
        assert_eq!(ok(huge, true), Err(TooLong(16 * 1024 + 21)));
        assert_eq!(parse_psk_identity(&[0xff; 8], true), Err(NotUtf8));
        let at_limit = format!("3GPP-bootstrapping.AAAA@{}", "b".repeat(255 - 24));
        assert_eq!(at_limit.len(), 255);
        assert!(
            matches!(ok(at_limit, false), Err(BadBtid)),
            "a 231-byte label is no host name"
        );
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
