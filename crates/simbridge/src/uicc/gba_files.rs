//! The USIM's GBA files (TS 31.102 §4.2.79 and §4.2.83) and their use by the ME.
//!
//! EF_GBABP ('6FD6', transparent; READ PIN, UPDATE PIN): `Lrand RAND Lbtid B-TID Llifetime
//! lifetime`. The card writes RAND when it runs a GBA_U bootstrap; the ME then writes the B-TID
//! and the key lifetime the BSF gave (TS 33.220 Annex G). Comparing it with a cached context tells
//! whether the card still holds that context's Ks.
//!
//! EF_GBANL ('6FDA', linear fixed; READ PIN, UPDATE ADM): records of `80 L NAF_ID 81 L B-TID`,
//! lengths coded as in ISO/IEC 8825-1 (BER), unused bytes 'FF'; the card keeps it.
//!
//! GBA runs in one application, consistently: the ISIM when the IMPI came from it (its AKA, its
//! GBA context and its EF_GBABP '6FD5', TS 31.103), else the USIM with the IMPI derived from the
//! IMSI. A card whose ISIM and USIM hold different keys then bootstraps with the keys that belong
//! to the IMPI the BSF is told.

use super::files::{self, DecodeError, fid};
use super::{Command, ImpiSource, StatusWord, Uicc, UiccError};
use crate::card::CardChannel;

/// UPDATE BINARY.
const INS_UPDATE_BINARY: u8 = 0xD6;
/// EF_GBANL tag of the NAF_ID.
pub const TAG_NAF_ID: u8 = 0x80;
/// EF_GBANL tag of the B-TID.
pub const TAG_BTID: u8 = 0x81;

/// The contents of EF_GBABP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GbaBp {
    /// RAND of the card's last GBA_U bootstrap (empty: none).
    pub rand: Vec<u8>,
    /// B-TID the ME wrote for it (empty: not written yet).
    pub btid: Vec<u8>,
    /// Key lifetime the ME wrote (the BSF's `xs:dateTime`, as text).
    pub lifetime: Vec<u8>,
}

fn derr(problem: impl Into<String>) -> DecodeError {
    DecodeError {
        file: "EF_GBABP",
        problem: problem.into(),
    }
}

/// A length-prefixed field at `at`; returns it and the position after it.
fn lv(b: &[u8], at: usize, what: &str) -> Result<(Vec<u8>, usize), DecodeError> {
    let len = usize::from(*b.get(at).ok_or_else(|| derr(format!("no {what} length")))?);
    let v = b
        .get(at + 1..at + 1 + len)
        .ok_or_else(|| derr(format!("{what} length {len} runs past the file")))?;
    Ok((v.to_vec(), at + 1 + len))
}

impl GbaBp {
    /// Decodes the file. A file never written ('FF' or all zero lengths) is an empty value.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.first().is_none_or(|&l| l == 0xFF) {
            return Ok(Self::default());
        }
        let (rand, at) = lv(b, 0, "RAND")?;
        // A card that wrote RAND but no more yet: the rest may still be 'FF'.
        if b.get(at).is_none_or(|&l| l == 0xFF) {
            return Ok(Self {
                rand,
                ..Self::default()
            });
        }
        let (btid, at) = lv(b, at, "B-TID")?;
        let lifetime = if b.get(at).is_none_or(|&l| l == 0xFF) {
            Vec::new()
        } else {
            lv(b, at, "key lifetime")?.0
        };
        Ok(Self {
            rand,
            btid,
            lifetime,
        })
    }

    /// The whole file content.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = vec![u8::try_from(self.rand.len()).ok()?];
        out.extend_from_slice(&self.rand);
        out.extend(Self::encode_tail(&self.btid, &self.lifetime)?);
        Some(out)
    }

    /// `Lbtid B-TID Llifetime lifetime`: what the ME writes after the card's RAND; `None` when a
    /// field is longer than 255 bytes.
    pub fn encode_tail(btid: &[u8], lifetime: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![u8::try_from(btid.len()).ok()?];
        out.extend_from_slice(btid);
        out.push(u8::try_from(lifetime.len()).ok()?);
        out.extend_from_slice(lifetime);
        Some(out)
    }
}

/// One BER-TLV with a short or long (81/82) length.
fn tlv(tag: u8, v: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![tag];
    match v.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, u8::try_from(n >> 8).ok()?, n as u8]),
    }
    out.extend_from_slice(v);
    Some(out)
}

/// An EF_GBANL record of `len` bytes for a NAF_ID and B-TID ('FF' padded); `None` if they do not fit.
pub fn encode_gbanl_record(naf_id: &[u8], btid: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut r = tlv(TAG_NAF_ID, naf_id)?;
    r.extend(tlv(TAG_BTID, btid)?);
    if r.len() > len {
        return None;
    }
    r.resize(len, 0xFF);
    Some(r)
}

/// The NAF_ID and B-TID of an EF_GBANL record; `None` for an empty or malformed record.
pub fn decode_gbanl_record(r: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let read = |at: usize, tag: u8| -> Option<(Vec<u8>, usize)> {
        if *r.get(at)? != tag {
            return None;
        }
        let (len, start) = match *r.get(at + 1)? {
            n @ 0..=0x7F => (usize::from(n), at + 2),
            0x81 => (usize::from(*r.get(at + 2)?), at + 3),
            0x82 => (
                usize::from(u16::from_be_bytes([*r.get(at + 2)?, *r.get(at + 3)?])),
                at + 4,
            ),
            _ => return None,
        };
        Some((r.get(start..start + len)?.to_vec(), start + len))
    };
    let (naf, at) = read(0, TAG_NAF_ID)?;
    let (btid, _) = read(at, TAG_BTID)?;
    Some((naf, btid))
}

/// The application GBA runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GbaApp {
    /// The USIM (IMPI derived from the IMSI).
    Usim,
    /// The ISIM (IMPI from its EF_IMPI).
    Isim,
}

impl<C: CardChannel> Uicc<C> {
    /// The application GBA runs in: the ISIM when the IMPI came from it, else the USIM.
    pub fn gba_app(&self) -> GbaApp {
        if self.impi_source == ImpiSource::Isim && self.isim_aid.is_some() {
            GbaApp::Isim
        } else {
            GbaApp::Usim
        }
    }

    /// Whether [`Uicc::gba_app`] has the GBA security context (GBA_U): UST service n°68 for the
    /// USIM, IST service n°2 for the ISIM.
    pub(super) fn gba_app_supports_gba_u(&self) -> bool {
        match self.gba_app() {
            GbaApp::Usim => files::service_available(&self.ust, files::UST_GBA),
            GbaApp::Isim => files::service_available(&self.ist, files::IST_GBA),
        }
    }

    /// Makes [`Uicc::gba_app`] the current application (a SELECT only when it is not; never on
    /// a basic channel shared with a modem, where GBA stays in the modem's USIM).
    pub fn select_gba_app(&mut self) -> Result<(), UiccError> {
        if self.chan.basic_channel_shared() {
            return Ok(());
        }
        let (aid, what) = match self.gba_app() {
            GbaApp::Isim => (self.isim_aid.clone(), "SELECT ISIM"),
            GbaApp::Usim => (Some(self.usim_aid.clone()), "SELECT USIM"),
        };
        match aid {
            Some(aid) if self.current_aid.as_deref() != Some(aid.as_slice()) => {
                self.select_aid(&aid, what).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// Reads EF_GBABP of [`Uicc::gba_app`]; `None` when the card has no such file.
    pub fn read_gba_bp(&mut self) -> Result<Option<GbaBp>, UiccError> {
        self.select_gba_app()?;
        let file = match self.gba_app() {
            GbaApp::Usim => fid::EF_GBABP,
            GbaApp::Isim => fid::EF_ISIM_GBABP,
        };
        match self.read_binary_file(file, "EF_GBABP") {
            Ok(b) => GbaBp::decode(&b).map(Some).map_err(UiccError::from),
            Err(UiccError::Status {
                sw: StatusWord::FileNotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes B-TID and key lifetime into EF_GBABP after the card's RAND, which must be `rand`
    /// (the RAND of the bootstrap they belong to). Returns `false`, writing nothing, when the card
    /// holds another RAND (it was bootstrapped again meanwhile) or has no EF_GBABP.
    pub fn write_gba_bp(
        &mut self,
        rand: &[u8],
        btid: &[u8],
        lifetime: &[u8],
    ) -> Result<bool, UiccError> {
        let Some(now) = self.read_gba_bp()? else {
            return Ok(false);
        };
        if now.rand != rand {
            return Ok(false);
        }
        let tail = GbaBp::encode_tail(btid, lifetime).ok_or_else(|| {
            UiccError::Malformed("B-TID or lifetime longer than 255 bytes".into())
        })?;
        let offset = u16::try_from(1 + rand.len()).unwrap_or(u16::MAX);
        let [p1, p2] = offset.to_be_bytes();
        // EF_GBABP is the current EF after the read above.
        let cmd = Command::new(0x00, INS_UPDATE_BINARY, p1, p2).with_data(tail);
        self.expect_ok(&cmd, "UPDATE BINARY EF_GBABP")?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbabp_round_trips_and_reads_partial_files() {
        let bp = GbaBp {
            rand: vec![7; 16],
            btid: b"abc@bsf".to_vec(),
            lifetime: b"2026-01-01T00:00:00Z".to_vec(),
        };
        let mut file = bp.encode().expect("fits");
        file.extend_from_slice(&[0xFF; 20]);
        assert_eq!(GbaBp::decode(&file).expect("decodes"), bp);
        // Written by the card only (RAND, rest 'FF' or zero lengths), or never.
        let mut card_only = vec![16];
        card_only.extend_from_slice(&[7; 16]);
        card_only.extend_from_slice(&[0xFF; 8]);
        let got = GbaBp::decode(&card_only).expect("decodes");
        assert_eq!((got.rand.len(), got.btid.len()), (16, 0));
        assert_eq!(GbaBp::decode(&[0, 0, 0]).expect("empty"), GbaBp::default());
        assert_eq!(GbaBp::decode(&[0xFF; 4]).expect("blank"), GbaBp::default());
        assert!(GbaBp::decode(&[16, 1, 2]).is_err(), "RAND past the end");
    }

    #[test]
    fn gbanl_records_round_trip() {
        let naf = b"naf.example.com\x01\x00\x01\xc0\xa8";
        let btid = vec![b'b'; 130]; // long form length (81 82)
        let r = encode_gbanl_record(naf, &btid, 200).expect("fits");
        assert_eq!(r.len(), 200);
        assert_eq!(r[0..2], [0x80, naf.len() as u8]);
        assert_eq!(decode_gbanl_record(&r), Some((naf.to_vec(), btid.clone())));
        assert_eq!(decode_gbanl_record(&[0xFF; 40]), None);
        assert!(encode_gbanl_record(naf, &btid, 100).is_none());
    }
}
