//! Elementary-file codecs: EF_IMSI, EF_ICCID, EF_DIR, EF_AD, EF_UST, ISIM EF_IMPI (TS 31.102,
//! TS 31.103, TS 102 221), and the IMPI derived from the IMSI (TS 23.003 §13.3).

/// File identifiers used here.
pub mod fid {
    /// Master file.
    pub const MF: u16 = 0x3F00;
    /// The current application's ADF (TS 102 221 §8.3: '7FFF' selects it without switching).
    pub const CURRENT_ADF: u16 = 0x7FFF;
    /// EF_DIR: application templates (under MF).
    pub const EF_DIR: u16 = 0x2F00;
    /// EF_ICCID (under MF).
    pub const EF_ICCID: u16 = 0x2FE2;
    /// EF_IMSI (USIM).
    pub const EF_IMSI: u16 = 0x6F07;
    /// EF_AD, administrative data (USIM).
    pub const EF_AD: u16 = 0x6FAD;
    /// EF_UST, USIM service table.
    pub const EF_UST: u16 = 0x6F38;
    /// EF_GBABP, GBA bootstrapping parameters (USIM, when GBA is supported).
    pub const EF_GBABP: u16 = 0x6FD6;
    /// EF_GBANL, GBA NAF list (USIM, when GBA is supported).
    pub const EF_GBANL: u16 = 0x6FDA;
    /// EF_GBABP of the ISIM (TS 31.103).
    pub const EF_ISIM_GBABP: u16 = 0x6FD5;
    /// EF_GBANL of the ISIM (TS 31.103).
    pub const EF_ISIM_GBANL: u16 = 0x6FD7;
    /// EF_IMPI (ISIM).
    pub const EF_IMPI: u16 = 0x6F02;
    /// EF_IST, ISIM service table (ISIM; same FID as EF_IMSI under the USIM).
    pub const EF_IST: u16 = 0x6F07;
}

/// The first 7 bytes of every USIM AID (RID A000000087, application code 1002).
pub const USIM_AID_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];
/// The first 7 bytes of every ISIM AID (application code 1004).
pub const ISIM_AID_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x04];

/// UST service n°27: GSM access (Kc in the 3G AUTHENTICATE response).
pub const UST_GSM_ACCESS: u16 = 27;
/// UST service n°68: GBA (the USIM supports the GBA security context, GBA_U).
pub const UST_GBA: u16 = 68;
/// IST service n°2: GBA (the ISIM supports the GBA security context, TS 31.103).
pub const IST_GBA: u16 = 2;

/// The DF name (AID, tag 84) in a DF's FCP template (`62 L ... 84 L AID ...`), if any.
pub fn df_name(fcp: &[u8]) -> Option<Vec<u8>> {
    if fcp.first() != Some(&0x62) {
        return None;
    }
    let body = fcp.get(2..2 + usize::from(*fcp.get(1)?))?;
    let mut at = 0;
    while let (Some(&tag), Some(&len)) = (body.get(at), body.get(at + 1)) {
        let v = body.get(at + 2..at + 2 + usize::from(len))?;
        if tag == 0x84 {
            return Some(v.to_vec());
        }
        at += 2 + usize::from(len);
    }
    None
}

/// A file content that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct DecodeError {
    /// The file.
    pub file: &'static str,
    /// What is wrong.
    pub problem: String,
}

fn derr(file: &'static str, problem: impl Into<String>) -> DecodeError {
    DecodeError {
        file,
        problem: problem.into(),
    }
}

/// Decodes EF_IMSI: length byte, then BCD digits with the parity nibble first.
pub fn decode_imsi(b: &[u8]) -> Result<String, DecodeError> {
    let len = usize::from(*b.first().ok_or_else(|| derr("EF_IMSI", "empty"))?);
    let body = b
        .get(1..1 + len)
        .ok_or_else(|| derr("EF_IMSI", format!("length byte {len} exceeds the file")))?;
    if len == 0 || len > 8 {
        return Err(derr("EF_IMSI", format!("invalid length byte {len}")));
    }
    let mut digits = String::new();
    for (i, byte) in body.iter().enumerate() {
        let (lo, hi) = (byte & 0x0F, byte >> 4);
        if i > 0 {
            push_bcd(&mut digits, lo, "EF_IMSI")?;
        }
        if hi != 0xF {
            push_bcd(&mut digits, hi, "EF_IMSI")?;
        }
    }
    if digits.len() < 6 {
        return Err(derr("EF_IMSI", format!("only {} digits", digits.len())));
    }
    Ok(digits)
}

fn push_bcd(out: &mut String, nibble: u8, file: &'static str) -> Result<(), DecodeError> {
    if nibble > 9 {
        return Err(derr(file, format!("non-decimal digit {nibble:X}")));
    }
    out.push(char::from(b'0' + nibble));
    Ok(())
}

/// Encodes an IMSI (6–15 digits) as EF_IMSI (9 bytes).
pub fn encode_imsi(imsi: &str) -> Option<[u8; 9]> {
    let d: Vec<u8> = imsi.bytes().map(|c| c.wrapping_sub(b'0')).collect();
    if !(6..=15).contains(&d.len()) || d.iter().any(|x| *x > 9) {
        return None;
    }
    // The first nibble is the parity indicator (1 even, 9 odd), followed by the digits.
    let mut nibbles = vec![if d.len() % 2 == 1 { 9 } else { 1 }];
    nibbles.extend_from_slice(&d);
    if nibbles.len() % 2 == 1 {
        nibbles.push(0xF);
    }
    let mut out = [0xFFu8; 9];
    out[0] = (nibbles.len() / 2) as u8;
    for (i, pair) in nibbles.chunks(2).enumerate() {
        out[1 + i] = pair[0] | (pair[1] << 4);
    }
    Some(out)
}

/// Decodes EF_ICCID (swapped-nibble BCD, F-padded).
pub fn decode_iccid(b: &[u8]) -> Result<String, DecodeError> {
    let mut s = String::new();
    for byte in b {
        for nibble in [byte & 0x0F, byte >> 4] {
            match nibble {
                0..=9 => s.push(char::from(b'0' + nibble)),
                0xF => return Ok(s),
                n => return Err(derr("EF_ICCID", format!("non-decimal digit {n:X}"))),
            }
        }
    }
    Ok(s)
}

/// Encodes ICCID digits as EF_ICCID (10 bytes).
pub fn encode_iccid(iccid: &str) -> Option<[u8; 10]> {
    let d: Vec<u8> = iccid.bytes().map(|c| c.wrapping_sub(b'0')).collect();
    if d.len() > 20 || d.iter().any(|x| *x > 9) {
        return None;
    }
    let mut out = [0xFFu8; 10];
    for (i, pair) in d.chunks(2).enumerate() {
        out[i] = pair[0] | (pair.get(1).copied().unwrap_or(0xF) << 4);
    }
    Some(out)
}

/// One application template from EF_DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTemplate {
    /// Application identifier.
    pub aid: Vec<u8>,
    /// Application label, when present.
    pub label: Option<String>,
}

impl AppTemplate {
    /// True for a USIM AID.
    pub fn is_usim(&self) -> bool {
        self.aid.starts_with(&USIM_AID_PREFIX)
    }
    /// True for an ISIM AID.
    pub fn is_isim(&self) -> bool {
        self.aid.starts_with(&ISIM_AID_PREFIX)
    }
}

/// Parses one EF_DIR record: `61 L 4F Laid AID [50 Llabel label] …`, FF-padded. An empty
/// (all FF) record gives `Ok(None)`.
pub fn parse_dir_record(rec: &[u8]) -> Result<Option<AppTemplate>, DecodeError> {
    match rec.first() {
        None | Some(0xFF) => return Ok(None),
        Some(0x61) => {}
        Some(t) => {
            return Err(derr(
                "EF_DIR",
                format!("record starts with tag {t:02X}, expected 61"),
            ));
        }
    }
    let len = usize::from(
        *rec.get(1)
            .ok_or_else(|| derr("EF_DIR", "truncated record"))?,
    );
    let mut body = rec
        .get(2..2 + len)
        .ok_or_else(|| derr("EF_DIR", "template length exceeds the record"))?;
    let (mut aid, mut label) = (None, None);
    while let [tag, l, rest @ ..] = body {
        let l = usize::from(*l);
        let value = rest
            .get(..l)
            .ok_or_else(|| derr("EF_DIR", format!("tag {tag:02X} overruns the template")))?;
        match tag {
            0x4F => aid = Some(value.to_vec()),
            0x50 => label = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
        body = &rest[l..];
    }
    let aid = aid.ok_or_else(|| derr("EF_DIR", "template without an AID (tag 4F)"))?;
    Ok(Some(AppTemplate { aid, label }))
}

/// Builds an EF_DIR record of `rec_len` bytes (FF-padded).
pub fn build_dir_record(app: &AppTemplate, rec_len: usize) -> Vec<u8> {
    let mut inner = vec![0x4F, app.aid.len() as u8];
    inner.extend_from_slice(&app.aid);
    if let Some(l) = &app.label {
        inner.push(0x50);
        inner.push(l.len() as u8);
        inner.extend_from_slice(l.as_bytes());
    }
    let mut rec = vec![0x61, inner.len() as u8];
    rec.extend_from_slice(&inner);
    rec.resize(rec_len.max(rec.len()), 0xFF);
    rec
}

/// The MNC length from EF_AD (byte 4, low nibble); `None` for old 3-byte files or odd values.
pub fn mnc_length_from_ad(ad: &[u8]) -> Option<u8> {
    ad.get(3).map(|b| b & 0x0F).filter(|n| *n == 2 || *n == 3)
}

/// Whether service `n` (1-based) is set in a service table (UST/IST).
pub fn service_available(table: &[u8], n: u16) -> bool {
    let Some(idx) = n.checked_sub(1) else {
        return false;
    };
    table
        .get(usize::from(idx / 8))
        .is_some_and(|b| b & (1 << (idx % 8)) != 0)
}

/// Builds a service table of `len` bytes with the given services set.
pub fn build_service_table(services: &[u16], len: usize) -> Vec<u8> {
    let mut t = vec![0u8; len];
    for n in services {
        if let Some(idx) = n.checked_sub(1) {
            if let Some(b) = t.get_mut(usize::from(idx / 8)) {
                *b |= 1 << (idx % 8);
            }
        }
    }
    t
}

/// Decodes ISIM EF_IMPI: TLV `80 L NAI`.
pub fn decode_impi(b: &[u8]) -> Result<String, DecodeError> {
    match b {
        [0x80, l, rest @ ..] => {
            let v = rest
                .get(..usize::from(*l))
                .ok_or_else(|| derr("EF_IMPI", "length exceeds the file"))?;
            String::from_utf8(v.to_vec()).map_err(|_| derr("EF_IMPI", "NAI is not UTF-8"))
        }
        _ => Err(derr("EF_IMPI", "expected tag 80")),
    }
}

/// Encodes an IMPI as ISIM EF_IMPI.
pub fn encode_impi(impi: &str) -> Vec<u8> {
    let b = impi.as_bytes();
    let mut out = vec![0x80, b.len().min(255) as u8];
    out.extend_from_slice(&b[..b.len().min(255)]);
    out
}

/// The IMPI derived from the IMSI (TS 23.003 §13.3):
/// `<IMSI>@ims.mnc<MNC, 3 digits>.mcc<MCC>.3gppnetwork.org`.
pub fn impi_from_imsi(imsi: &str, mnc_length: u8) -> Option<String> {
    let mcc = imsi.get(..3)?;
    let mnc = imsi.get(3..3 + usize::from(mnc_length))?;
    Some(format!("{imsi}@ims.mnc{mnc:0>3}.mcc{mcc}.3gppnetwork.org"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imsi_example_from_ts_31_102() {
        // TS 31.102 sec. 4.2.2 (docs/sources.md sec. 7): IMSI 001010123456789 -> 08 09 10 10 10 32 54 76 98
        let enc = encode_imsi("001010123456789").expect("valid");
        assert_eq!(enc, [0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98]);
        assert_eq!(decode_imsi(&enc).as_deref(), Ok("001010123456789"));
        let even = encode_imsi("00101012345678").expect("valid");
        assert_eq!(decode_imsi(&even).as_deref(), Ok("00101012345678"));
    }

    #[test]
    fn imsi_garbage_is_an_error() {
        assert!(decode_imsi(&[]).is_err());
        assert!(decode_imsi(&[0x08, 0x09]).is_err());
        assert!(decode_imsi(&[0x02, 0x09, 0xAB]).is_err());
    }

    #[test]
    fn iccid_round_trip() {
        let e = encode_iccid("8988211000000000017").expect("valid");
        assert_eq!(e[0], 0x98);
        assert_eq!(decode_iccid(&e).as_deref(), Ok("8988211000000000017"));
    }

    #[test]
    fn dir_record_round_trip_and_errors() {
        let app = AppTemplate {
            aid: hex::decode("A0000000871002FFFFFFFF8903050001").expect("hex"),
            label: Some("USIM".into()),
        };
        let rec = build_dir_record(&app, 32);
        assert_eq!(rec.len(), 32);
        assert_eq!(parse_dir_record(&rec), Ok(Some(app.clone())));
        assert!(app.is_usim() && !app.is_isim());
        assert_eq!(parse_dir_record(&[0xFF; 10]), Ok(None));
        assert!(parse_dir_record(&[0x61, 0x10, 0x4F]).is_err());
        assert!(parse_dir_record(&[0x61, 0x03, 0x4F, 0x09, 0x00]).is_err());
    }

    #[test]
    fn services_and_ad() {
        let t = build_service_table(&[UST_GSM_ACCESS, UST_GBA], 10);
        assert_eq!(
            t[3], 0x04,
            "service 27 is byte 4 mask 04 (TS 31.102 sec. 4.2.8)"
        );
        assert_eq!(
            t[8], 0x08,
            "service 68 is byte 9 mask 08 (TS 31.102 sec. 4.2.8)"
        );
        assert!(
            service_available(&t, UST_GBA)
                && !service_available(&t, 69)
                && !service_available(&t, 0)
        );
        assert_eq!(mnc_length_from_ad(&[0, 0, 0, 3]), Some(3));
        assert_eq!(mnc_length_from_ad(&[0, 0, 0]), None);
    }

    #[test]
    fn impi_examples_from_ts_23003() {
        assert_eq!(
            impi_from_imsi("234150999999999", 2).as_deref(),
            Some("234150999999999@ims.mnc015.mcc234.3gppnetwork.org")
        );
        assert_eq!(
            impi_from_imsi("123454901000504", 2).as_deref(),
            Some("123454901000504@ims.mnc045.mcc123.3gppnetwork.org")
        );
        let tlv = encode_impi("a@b");
        assert_eq!(decode_impi(&tlv).as_deref(), Ok("a@b"));
        assert!(decode_impi(&[0x80, 9, b'a']).is_err());
    }
}
