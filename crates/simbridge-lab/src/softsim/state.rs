//! What the software USIM keeps across restarts: the SQN array (so a replayed AUTN stays rejected)
//! the PIN1 and PUK retry counters, and PIN1 once changed on the card. Stored as JSON beside the profile (`<profile>.state`), mode 0600,
//! written atomically before the card answers.

use serde::{Deserialize, Serialize};
use simbridge::aka::SqnArray;
use simbridge::fsutil::write_atomic_private;
use std::path::{Path, PathBuf};

/// Version of the state file format.
const VERSION: u32 = 1;

/// Persisted card state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardState {
    /// Format version.
    pub version: u32,
    /// The SQN array.
    pub sqn: SqnArray,
    /// PIN1 tries left.
    pub pin_tries: u8,
    /// PUK tries left (RESET RETRY COUNTER); files from before the PUK start with all 10.
    #[serde(default = "full_puk_tries")]
    pub puk_tries: u8,
    /// PIN1 as changed on the card (CHANGE REFERENCE DATA, RESET RETRY COUNTER); until then the
    /// profile's `pin` holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<StoredPin>,
    /// The GBA_U context (Ks and RAND, hex), which a real card keeps in non-volatile memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gba_u: Option<GbaUState>,
    /// EF_GBABP as the card holds it (hex; the USIM's, then the ISIM's after a comma), once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbabp: Option<String>,
    /// EF_GBANL records (hex; the USIM's, then the ISIM's), once written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gbanl: Vec<String>,
}

/// PUK tries of a new card (TS 102 221 §9.5.2 leaves the number to the issuer; 10 is usual).
pub const PUK_TRIES: u8 = 10;

fn full_puk_tries() -> u8 {
    PUK_TRIES
}

/// PIN1 as set on the card, digits only; zeroized on drop and never shown by `Debug`.
#[derive(
    Clone, Serialize, Deserialize, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop,
)]
#[serde(transparent)]
pub struct StoredPin(pub String);

impl std::fmt::Debug for StoredPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredPin(..)")
    }
}

/// Persisted GBA_U context.
#[derive(
    Clone, Serialize, Deserialize, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop,
)]
pub struct GbaUState {
    /// Ks = CK ‖ IK, hex.
    pub ks: String,
    /// RAND of the bootstrap, hex.
    pub rand: String,
}

impl std::fmt::Debug for GbaUState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GbaUState(..)")
    }
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists but is not a state file of this version. It is left untouched: resetting it
    /// would make the card accept replayed challenges again.
    #[error(
        "{path}: not a valid software-USIM state file ({problem}); remove it to start the card afresh"
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

impl CardState {
    /// A fresh state.
    pub fn new(sqn: SqnArray, pin_tries: u8) -> Self {
        Self {
            version: VERSION,
            sqn,
            pin_tries,
            puk_tries: PUK_TRIES,
            pin: None,
            gba_u: None,
            gbabp: None,
            gbanl: Vec::new(),
        }
    }

    /// The default state path for a profile: `<profile>.state`.
    pub fn path_for(profile: &Path) -> PathBuf {
        let mut p = profile.as_os_str().to_owned();
        p.push(".state");
        PathBuf::from(p)
    }

    /// Loads the state; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let s: Self = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        if s.version != VERSION {
            return Err(StateError::Corrupt {
                path: path.to_path_buf(),
                problem: format!("version {}", s.version),
            });
        }
        Ok(Some(s))
    }

    /// Saves the state atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        write_atomic_private(path, &json).map_err(|source| StateError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
