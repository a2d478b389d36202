//! Subscriber profiles (`sim-profiles/*.toml`): what the software USIM and the HSS know of one card.

use simbridge::aka::SubscriberKeys;
use std::fmt;
use std::path::{Path, PathBuf};

/// A validated profile.
#[derive(Clone)]
pub struct Profile {
    /// Where it was loaded from (for messages and the SQN state file).
    pub path: PathBuf,
    /// ICCID digits (18–20).
    pub iccid: String,
    /// IMSI digits (6–15).
    pub imsi: String,
    /// Number of MNC digits in the IMSI (2 or 3).
    pub mnc_length: u8,
    /// K and OPc.
    pub keys: SubscriberKeys,
    /// Authentication management field the HSS puts into vectors.
    pub amf: [u8; 2],
    /// The last SQN (SEQ ‖ IND) the card accepted when the profile was written.
    pub sqn: u64,
    /// IMPI of the ISIM; its presence gives the card an ISIM application.
    pub impi: Option<String>,
    /// PIN1 (4–8 digits); without it the PIN is disabled.
    pub pin: Option<String>,
    /// PUK of PIN1 (8 digits), for RESET RETRY COUNTER; without it PIN1 cannot be unblocked.
    pub puk: Option<String>,
    /// Whether the card supports the GBA_U security context (UST service 68).
    pub gba_u: bool,
    /// The subscriber's GBA security setting at the HSS (the UICC type of the GBA user security
    /// settings, TS 33.220 §4.4.7): whether the BSF runs GBA_U for this subscriber. Profile key
    /// `subscription_gba_u`; without it, the card's capability (`gba_u`).
    pub subscription_gba_u: bool,
    /// IND length of the SQN array.
    pub ind_bits: u8,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("path", &self.path)
            .field("iccid", &self.iccid)
            .field("imsi", &self.imsi)
            .field("gba_u", &self.gba_u)
            .finish_non_exhaustive()
    }
}

/// Why a profile could not be loaded. Every message names the file, and the key where one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: cannot read profile: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{path}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key is missing, unknown or has a bad value.
    #[error("{path}: key `{key}`: {problem}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key at fault.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

const KNOWN_KEYS: &[&str] = &[
    "iccid",
    "imsi",
    "mnc_length",
    "k",
    "op",
    "opc",
    "amf",
    "sqn",
    "impi",
    "pin",
    "puk",
    "gba_u",
    "subscription_gba_u",
    "ind_bits",
    "description",
];

struct Reader<'a> {
    path: &'a Path,
    table: toml::Table,
}

impl Reader<'_> {
    fn err(&self, key: &str, problem: impl Into<String>) -> ProfileError {
        ProfileError::Key {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            problem: problem.into(),
        }
    }

    fn str_opt(&self, key: &str) -> Result<Option<&str>, ProfileError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.err(key, format!("expected a string, found {}", v.type_str()))),
        }
    }

    fn str_req(&self, key: &str) -> Result<&str, ProfileError> {
        self.str_opt(key)?.ok_or_else(|| self.err(key, "missing"))
    }

    fn digits(&self, key: &str, min: usize, max: usize) -> Result<String, ProfileError> {
        let s = self.str_req(key)?;
        if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.err(
                key,
                format!("expected {min} to {max} decimal digits, found {s:?}"),
            ));
        }
        Ok(s.to_string())
    }

    fn hex<const N: usize>(&self, key: &str) -> Result<Option<[u8; N]>, ProfileError> {
        let Some(s) = self.str_opt(key)? else {
            return Ok(None);
        };
        let bytes = hex::decode(s).map_err(|e| self.err(key, format!("not hex: {e}")))?;
        let len = bytes.len();
        bytes.try_into().map(Some).map_err(|_| {
            self.err(
                key,
                format!("expected {} hex digits, found {}", N * 2, len * 2),
            )
        })
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ProfileError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i)),
            Some(v) => Err(self.err(key, format!("expected an integer, found {}", v.type_str()))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ProfileError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(
                key,
                format!("expected true or false, found {}", v.type_str()),
            )),
        }
    }
}

impl Profile {
    /// Loads and validates a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses profile text; `path` is used in messages and as the profile's location.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ProfileError::Syntax {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
        let r = Reader { path, table };
        if let Some(unknown) = r.table.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(r.err(
                unknown,
                format!("unknown key (known: {})", KNOWN_KEYS.join(", ")),
            ));
        }
        let iccid = r.digits("iccid", 18, 20)?;
        let imsi = r.digits("imsi", 6, 15)?;
        let mnc_length = match r.int("mnc_length")? {
            Some(n @ (2 | 3)) => n as u8,
            Some(n) => return Err(r.err("mnc_length", format!("must be 2 or 3, found {n}"))),
            None => return Err(r.err("mnc_length", "missing")),
        };
        let k = r.hex::<16>("k")?.ok_or_else(|| r.err("k", "missing"))?;
        let keys = match (r.hex::<16>("op")?, r.hex::<16>("opc")?) {
            (Some(op), None) => SubscriberKeys::from_op(k, op),
            (None, Some(opc)) => SubscriberKeys::from_opc(k, opc),
            (Some(_), Some(_)) => return Err(r.err("opc", "give either `op` or `opc`, not both")),
            (None, None) => return Err(r.err("opc", "missing (give `op` or `opc`)")),
        };
        let amf = r.hex::<2>("amf")?.unwrap_or([0x80, 0x00]);
        let sqn = r
            .hex::<6>("sqn")?
            .map(|b| simbridge::aka::sqn_from_bytes(&b))
            .unwrap_or(0);
        let impi = r.str_opt("impi")?.map(str::to_string);
        if let Some(i) = &impi {
            if i.is_empty() || !i.contains('@') {
                return Err(r.err(
                    "impi",
                    format!("expected a NAI like user@realm, found {i:?}"),
                ));
            }
        }
        let pin = match r.str_opt("pin")? {
            Some(p) if (4..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => {
                Some(p.to_string())
            }
            Some(_) => return Err(r.err("pin", "expected 4 to 8 decimal digits")),
            None => None,
        };
        let puk = match r.str_opt("puk")? {
            Some(_) if pin.is_none() => {
                return Err(r.err("puk", "needs `pin`: a PUK unblocks PIN1"));
            }
            Some(p) if p.len() == 8 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.to_string()),
            Some(_) => return Err(r.err("puk", "expected 8 decimal digits")),
            None => None,
        };
        let gba_u = r.bool("gba_u")?.unwrap_or(false);
        let subscription_gba_u = r.bool("subscription_gba_u")?.unwrap_or(gba_u);
        let ind_bits = match r.int("ind_bits")? {
            None => 5,
            Some(n @ 0..=10) => n as u8,
            Some(n) => return Err(r.err("ind_bits", format!("must be 0 to 10, found {n}"))),
        };
        if imsi.len() < 3 + usize::from(mnc_length) + 1 {
            return Err(r.err("imsi", "too short for its MCC and MNC"));
        }
        Ok(Self {
            path: path.to_path_buf(),
            iccid,
            imsi,
            mnc_length,
            keys,
            amf,
            sqn,
            impi,
            pin,
            puk,
            gba_u,
            subscription_gba_u,
            ind_bits,
        })
    }

    /// Mobile country code (first 3 IMSI digits).
    pub fn mcc(&self) -> &str {
        &self.imsi[..3]
    }

    /// Mobile network code (2 or 3 digits after the MCC).
    pub fn mnc(&self) -> &str {
        &self.imsi[3..3 + usize::from(self.mnc_length)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
iccid = "8988211000000000001"
imsi = "001010000000001"
mnc_length = 2
k = "465b5ce8b199b49faa5f0a2ee238a6bc"
opc = "cd63cb71954a9f4e48a5994e37a02baf"
amf = "8000"
sqn = "000000000000"
"#;

    #[test]
    fn parses_good_profile() {
        let p = Profile::parse(GOOD, Path::new("x.toml")).expect("valid");
        assert_eq!(p.mcc(), "001");
        assert_eq!(p.mnc(), "01");
        assert!(!p.gba_u);
        assert_eq!(p.ind_bits, 5);
    }

    fn err_of(text: &str) -> String {
        match Profile::parse(text, Path::new("bad.toml")) {
            Ok(_) => panic!("accepted a bad profile"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = err_of(&GOOD.replace("465b5ce8b199b49faa5f0a2ee238a6bc", "465b"));
        assert!(
            e.contains("bad.toml") && e.contains("`k`") && e.contains("32 hex digits"),
            "{e}"
        );
        let e = err_of(&GOOD.replace("mnc_length = 2", "mnc_length = 4"));
        assert!(e.contains("`mnc_length`"), "{e}");
        let e = err_of(&format!("{GOOD}\nkk = \"1\"\n"));
        assert!(e.contains("`kk`") && e.contains("unknown key"), "{e}");
        let e = err_of(
            &GOOD
                .replace("opc =", "op =")
                .replace("amf", "opc = \"00000000000000000000000000000000\"\namf"),
        );
        assert!(e.contains("not both"), "{e}");
        let e = err_of("iccid = [");
        assert!(
            e.contains("bad.toml") && e.contains("not valid TOML"),
            "{e}"
        );
        let e = err_of(&GOOD.replace("imsi = \"001010000000001\"", "imsi = 1"));
        assert!(
            e.contains("`imsi`") && e.contains("expected a string"),
            "{e}"
        );
    }
}
