//! Parsers for the answers of the SIM-related commands. Tolerant where modems differ (quotes or
//! none, lower-case hex, a missing prefix), strict where a mistake would corrupt an APDU.

use crate::response::{Answer, strip_prefix_ci};

/// Upper-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes hex (either case); `None` on odd length or a non-hex character.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let hi = char::from(*p.first()?).to_digit(16)?;
            let lo = char::from(*p.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
        .trim()
}

/// Parses `<length>,"<hex>"` as in `+CSIM:` and `+CGLA:` answers into the response APDU (data and
/// SW1 SW2). The length counts hex characters; a modem that counts bytes is tolerated.
pub fn parse_length_hex(value: &str) -> Result<Vec<u8>, String> {
    let (len, hex) = value
        .split_once(',')
        .ok_or_else(|| format!("no length in {value:?}"))?;
    let len: usize = len
        .trim()
        .parse()
        .map_err(|_| format!("bad length in {value:?}"))?;
    let hex = unquote(hex);
    let bytes = from_hex(hex).ok_or_else(|| format!("bad hex in {value:?}"))?;
    if bytes.len() < 2 {
        return Err(format!("response shorter than a status word: {value:?}"));
    }
    if len != hex.len() && len != bytes.len() {
        return Err(format!(
            "length {len} does not match {} hex characters",
            hex.len()
        ));
    }
    Ok(bytes)
}

/// The response APDU in a `+CSIM:` / `+CGLA:` answer.
pub fn response_apdu(answer: &Answer, prefix: &str) -> Result<Vec<u8>, String> {
    let v = answer
        .value(prefix)
        .ok_or_else(|| format!("no {prefix} line in the answer"))?;
    parse_length_hex(v)
}

/// The session id in a `+CCHO` answer: `+CCHO: <id>` or, on some modems (Fibocom), the bare number.
pub fn parse_ccho(answer: &Answer) -> Result<u32, String> {
    let line = answer
        .value("+CCHO:")
        .or_else(|| {
            answer
                .lines
                .iter()
                .map(String::as_str)
                .find(|l| unquote(l).parse::<u32>().is_ok())
        })
        .ok_or_else(|| "no session id in the +CCHO answer".to_string())?;
    unquote(line)
        .parse::<u32>()
        .map_err(|_| format!("bad session id {line:?}"))
}

/// A `+CRSM:` answer: status word and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrsmResponse {
    /// SW1.
    pub sw1: u8,
    /// SW2.
    pub sw2: u8,
    /// Response data (may be empty).
    pub data: Vec<u8>,
}

/// Parses `+CRSM: <sw1>,<sw2>[,"<hex>"]`.
pub fn parse_crsm(answer: &Answer) -> Result<CrsmResponse, String> {
    let v = answer
        .value("+CRSM:")
        .ok_or_else(|| "no +CRSM line in the answer".to_string())?;
    let mut parts = v.splitn(3, ',');
    let mut num = |what: &str| -> Result<u8, String> {
        parts
            .next()
            .and_then(|p| p.trim().parse::<u8>().ok())
            .ok_or_else(|| format!("bad {what} in {v:?}"))
    };
    let sw1 = num("sw1")?;
    let sw2 = num("sw2")?;
    let data = match parts.next() {
        Some(h) => from_hex(unquote(h)).ok_or_else(|| format!("bad hex in {v:?}"))?,
        None => Vec::new(),
    };
    Ok(CrsmResponse { sw1, sw2, data })
}

/// The IMSI in a `+CIMI` answer: the first line of 5–15 digits (optionally after `+CIMI:`).
pub fn parse_cimi(answer: &Answer) -> Result<String, String> {
    answer
        .lines
        .iter()
        .map(|l| unquote(strip_prefix_ci(l, "+CIMI:").unwrap_or(l)))
        .find(|l| (5..=15).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .ok_or_else(|| "no IMSI in the answer".to_string())
}

/// The ICCID in a `+CCID` / `+QCCID` / `+ICCID` / `^ICCID` answer (prefixed or bare): 18–22 digits,
/// possibly padded with `F`. Returned without padding, upper-case.
pub fn parse_iccid(answer: &Answer) -> Result<String, String> {
    const PREFIXES: &[&str] = &[
        "+CCID:", "+QCCID:", "+ICCID:", "^ICCID:", "+CICCID:", "ICCID:",
    ];
    answer
        .lines
        .iter()
        .map(|l| {
            let v = PREFIXES
                .iter()
                .find_map(|p| strip_prefix_ci(l, p))
                .unwrap_or(l);
            unquote(v).trim_end_matches(['F', 'f']).to_ascii_uppercase()
        })
        .find(|v| (18..=22).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| "no ICCID in the answer".to_string())
}

/// The SIM's PIN state from `+CPIN?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinState {
    /// No PIN needed (disabled or already verified).
    Ready,
    /// The PIN must be entered.
    SimPin,
    /// The PIN is blocked; the PUK must be entered.
    SimPuk,
    /// Another code (`PH-SIM PIN`, `SIM PIN2` ...), as the modem printed it.
    Other(String),
}

/// Parses the `+CPIN:` line.
pub fn parse_cpin(answer: &Answer) -> Result<PinState, String> {
    let v = answer
        .value("+CPIN:")
        .ok_or_else(|| "no +CPIN line in the answer".to_string())?;
    let v = unquote(v);
    Ok(match v.to_ascii_uppercase().as_str() {
        "READY" => PinState::Ready,
        "SIM PIN" => PinState::SimPin,
        "SIM PUK" => PinState::SimPuk,
        _ => PinState::Other(v.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Final;

    fn ans(lines: &[&str]) -> Answer {
        Answer {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            result: Final::Ok,
        }
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(to_hex(&[0x00, 0xa4, 0xff]), "00A4FF");
        assert_eq!(from_hex("00a4FF"), Some(vec![0x00, 0xa4, 0xff]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn csim_answer_parses_with_or_without_quotes() {
        assert_eq!(
            response_apdu(&ans(&["+CSIM: 4,\"6135\""]), "+CSIM:"),
            Ok(vec![0x61, 0x35])
        );
        assert_eq!(
            response_apdu(&ans(&["+CSIM: 4,9000"]), "+CSIM:"),
            Ok(vec![0x90, 0x00])
        );
        // Length in bytes instead of hex characters: tolerated.
        assert_eq!(
            response_apdu(&ans(&["+CSIM: 2,\"9000\""]), "+CSIM:"),
            Ok(vec![0x90, 0x00])
        );
    }

    #[test]
    fn csim_answer_with_wrong_length_or_no_sw_is_refused() {
        assert!(response_apdu(&ans(&["+CSIM: 6,\"9000\""]), "+CSIM:").is_err());
        assert!(response_apdu(&ans(&["+CSIM: 2,\"90\""]), "+CSIM:").is_err());
        assert!(response_apdu(&ans(&["+CSIM: 4,\"90G0\""]), "+CSIM:").is_err());
        assert!(response_apdu(&ans(&[]), "+CSIM:").is_err());
    }

    #[test]
    fn ccho_with_and_without_prefix() {
        assert_eq!(parse_ccho(&ans(&["+CCHO: 1235"])), Ok(1235));
        assert_eq!(parse_ccho(&ans(&["1"])), Ok(1));
        assert!(parse_ccho(&ans(&["+CCHO: x"])).is_err());
    }

    #[test]
    fn crsm_answer() {
        assert_eq!(
            parse_crsm(&ans(&["+CRSM: 144,0,\"98109910325476981032\""])),
            Ok(CrsmResponse {
                sw1: 0x90,
                sw2: 0,
                data: from_hex("98109910325476981032").unwrap_or_default()
            })
        );
        assert_eq!(
            parse_crsm(&ans(&["+CRSM: 106,130"])),
            Ok(CrsmResponse {
                sw1: 0x6a,
                sw2: 0x82,
                data: vec![]
            })
        );
    }

    #[test]
    fn imsi_and_iccid_variants() {
        assert_eq!(
            parse_cimi(&ans(&["RDY", "001010123456789"])),
            Ok("001010123456789".into())
        );
        assert_eq!(
            parse_cimi(&ans(&["+CIMI: 001010123456789"])),
            Ok("001010123456789".into())
        );
        assert!(parse_cimi(&ans(&["hello"])).is_err());
        for l in [
            "+CCID: \"89014103211118510720\"",
            "+QCCID: 8901410321111851072F",
            "+ICCID: 89014103211118510720",
            "89014103211118510720",
        ] {
            let got = parse_iccid(&ans(&[l]));
            assert!(
                got.as_deref()
                    .is_ok_and(|v| v.starts_with("890141032111185107")),
                "{l}: {got:?}"
            );
        }
    }

    #[test]
    fn cpin_states() {
        assert_eq!(parse_cpin(&ans(&["+CPIN: READY"])), Ok(PinState::Ready));
        assert_eq!(parse_cpin(&ans(&["+CPIN: SIM PIN"])), Ok(PinState::SimPin));
        assert_eq!(parse_cpin(&ans(&["+CPIN: SIM PUK"])), Ok(PinState::SimPuk));
        assert_eq!(
            parse_cpin(&ans(&["+CPIN: PH-SIM PIN"])),
            Ok(PinState::Other("PH-SIM PIN".into()))
        );
    }
}
