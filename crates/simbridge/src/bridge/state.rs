//! What the gateway and the server keep in their state directory to survive a restart: a random
//! key that encrypts connection exports, and a ledger of the exports already imported (an export
//! imported twice would reuse sequence numbers, which breaks AEAD). Every file is written
//! atomically with mode 0600.

use crate::dtls::export::ImportLedger;
use crate::fsutil::write_atomic_private;
use crate::secret::Secret;
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

/// Ledger entries kept (older exports are long gone from disk).
const LEDGER_SIZE: usize = 1024;

/// Loads the 32-byte export key from `path`, creating it on first use.
pub fn load_or_create_key(path: &Path) -> io::Result<Secret<32>> {
    match std::fs::read(path) {
        Ok(b) => Secret::from_slice(&b).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: not a 32-byte key; remove it to make a new one",
                    path.display()
                ),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_key(path),
        Err(e) => Err(e),
    }
}

/// A new random 32-byte key written to `path` (atomically, mode 0600).
pub fn create_key(path: &Path) -> io::Result<Secret<32>> {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|e| io::Error::other(format!("random source: {e}")))?;
    write_atomic_private(path, &k)?;
    let s = Secret::new(k);
    zeroize::Zeroize::zeroize(&mut k);
    Ok(s)
}

/// An [`ImportLedger`] kept in a file: an id is on disk before the import it allows proceeds.
pub struct FileLedger {
    path: PathBuf,
    ids: VecDeque<[u8; 16]>,
}

impl FileLedger {
    /// Opens (or starts) the ledger at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let ids = match std::fs::read_to_string(path) {
            Ok(t) => t
                .lines()
                .filter_map(|l| hex::decode(l.trim()).ok())
                .filter_map(|b| <[u8; 16]>::try_from(b).ok())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => VecDeque::new(),
            Err(e) => return Err(e),
        };
        Ok(Self {
            path: path.to_path_buf(),
            ids,
        })
    }
}

impl ImportLedger for FileLedger {
    fn claim(&mut self, id: &[u8; 16]) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        self.ids.push_back(*id);
        while self.ids.len() > LEDGER_SIZE {
            self.ids.pop_front();
        }
        let text: String = self
            .ids
            .iter()
            .map(|i| format!("{}\n", hex::encode(i)))
            .collect();
        if let Err(e) = write_atomic_private(&self.path, text.as_bytes()) {
            log::warn!(
                "{}: cannot record the import ({e}); refusing it",
                self.path.display()
            );
            self.ids.pop_back();
            return false;
        }
        true
    }
}

/// Reads a file and removes it (a consumed export cannot be read twice); `None` when absent.
pub fn take_file(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => {
            std::fs::remove_file(path)?;
            Ok(Some(b))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_refuses_a_second_claim_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ledger");
        let mut l = FileLedger::open(&p).expect("open");
        assert!(l.claim(&[1; 16]));
        assert!(!l.claim(&[1; 16]));
        let mut again = FileLedger::open(&p).expect("reopen");
        assert!(!again.claim(&[1; 16]), "the claim survives a restart");
        assert!(again.claim(&[2; 16]));
    }

    #[test]
    fn key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("export.key");
        let a = load_or_create_key(&p).expect("create");
        let b = load_or_create_key(&p).expect("load");
        assert_eq!(a.expose(), b.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&p, b"short").expect("write");
        assert!(load_or_create_key(&p).is_err());
    }
}
