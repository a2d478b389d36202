//! An OSCORE security context on disk, so that a restarted gateway or server goes on with the
//! context it established (no new establishment, no new GBA key) and never reuses a sequence
//! number (RFC 8613 Appendix B.1.1: the number is written ahead in steps of K).
//!
//! One JSON file per context, mode 0600, written atomically: the keying (Master Secret and Salt,
//! the IDs), the B-TID and expiry of the GBA key it came from, and the last sequence number
//! stored ahead. The Master Secret is the only secret in it; it is zeroized when the record is
//! dropped and printed by nothing but `simbridge oscore show --reveal`.

use crate::fsutil::write_atomic_private;
use crate::gba::oscore::OscoreKeying;
use crate::gba::time;
use crate::secret::SecretVec;
use serde::{Deserialize, Serialize};
use simbridge_oscore::context::{ContextParams, SecurityContext};
use simbridge_oscore::persist::SenderSeq;
use simbridge_oscore::replay::ReplayWindow;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use zeroize::Zeroize;

/// Format version of the file.
const VERSION: u32 = 1;

/// Which side of the context the file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The gateway (the UE, the CoAP client).
    Gateway,
    /// The server (the NAF, the CoAP server).
    Server,
}

/// Why a context file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a context record of ours.
    #[error("{path}: not an OSCORE context record: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the field named.
        problem: String,
    },
}

/// One context as stored.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredContext {
    version: u32,
    /// Gateway or server.
    pub role: Role,
    /// The B-TID of the GBA key the context was established with.
    pub btid: String,
    /// When that key (and so this context) expires, RFC 3339 UTC.
    pub key_expires: String,
    /// Master Secret, hex (zeroized on drop).
    master_secret: String,
    /// Master Salt, hex.
    pub master_salt: String,
    /// Our Sender ID, hex.
    pub sender_id: String,
    /// Our Recipient ID, hex.
    pub recipient_id: String,
    /// The last sender sequence number stored ahead (`None`: none used yet).
    pub seq_stored: Option<u64>,
}

impl Drop for StoredContext {
    fn drop(&mut self) {
        self.master_secret.zeroize();
    }
}

impl std::fmt::Debug for StoredContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredContext")
            .field("role", &self.role)
            .field("btid", &self.btid)
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .field("seq_stored", &self.seq_stored)
            .finish_non_exhaustive()
    }
}

impl StoredContext {
    /// The record of a context just established from `keying`.
    pub fn new(role: Role, btid: &str, key_expires: SystemTime, keying: &OscoreKeying) -> Self {
        Self {
            version: VERSION,
            role,
            btid: btid.to_string(),
            key_expires: time::format_utc(key_expires),
            master_secret: hex::encode(keying.master_secret.expose()),
            master_salt: hex::encode(&keying.master_salt),
            sender_id: hex::encode(&keying.sender_id),
            recipient_id: hex::encode(&keying.recipient_id),
            seq_stored: None,
        }
    }

    /// Reads a record (`Ok(None)` when the file does not exist).
    pub fn load(path: &Path) -> Result<Option<Self>, StoreError> {
        let mut text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.into(),
                    source,
                });
            }
        };
        let parsed = serde_json::from_str::<StoredContext>(&text);
        text.zeroize();
        let s = parsed.map_err(|e| StoreError::Format {
            path: path.into(),
            problem: e.to_string(),
        })?;
        let bad = |problem: String| StoreError::Format {
            path: path.into(),
            problem,
        };
        if s.version != VERSION {
            return Err(bad(format!("version {} (expected {VERSION})", s.version)));
        }
        s.expires().map_err(|e| bad(format!("key_expires: {e}")))?;
        s.keying().map_err(bad)?;
        Ok(Some(s))
    }

    /// Writes the record atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: path.into(),
            source,
        };
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        let r = write_atomic_private(path, &text).map_err(io);
        text.zeroize();
        r
    }

    /// When the GBA key of the context expires.
    pub fn expires(&self) -> Result<SystemTime, crate::gba::GbaError> {
        time::parse_utc(&self.key_expires)
    }

    /// The keying material, decoded.
    pub fn keying(&self) -> Result<OscoreKeying, String> {
        let hexf = |name: &str, v: &str| hex::decode(v).map_err(|_| format!("{name}: not hex"));
        let mut secret = hexf("master_secret", &self.master_secret)?;
        let keying = OscoreKeying {
            master_secret: SecretVec::from(&secret[..]),
            master_salt: hexf("master_salt", &self.master_salt)?,
            sender_id: hexf("sender_id", &self.sender_id)?,
            recipient_id: hexf("recipient_id", &self.recipient_id)?,
        };
        secret.zeroize();
        if keying.master_secret.expose().is_empty() {
            return Err("master_secret: empty".into());
        }
        Ok(keying)
    }

    /// The Master Secret, hex: only for `simbridge oscore show --reveal`.
    pub fn master_secret_hex(&self) -> &str {
        &self.master_secret
    }

    /// The context as it goes on after a restart: the sequence number continues `step` past
    /// the last stored value; the server's replay window is unknown until Echo proves a
    /// request fresh (RFC 8613 Appendix B.1.2), the gateway's is a new one (it sees only
    /// responses bound to its own requests).
    pub fn resume(&self, step: u64) -> Result<SecurityContext, String> {
        let k = self.keying()?;
        let seq = match self.seq_stored {
            Some(saved) => SenderSeq::resume(saved, step),
            None => SenderSeq::persisted(step),
        }
        .map_err(|e| format!("sequence number: {e}"))?;
        let replay = match self.role {
            Role::Server => ReplayWindow::unknown(),
            Role::Gateway => ReplayWindow::default(),
        };
        context_from(&k, seq, replay)
    }
}

/// A fresh context from an establishment's keying, its sequence number persisted in steps of
/// `step`.
pub fn fresh_context(keying: &OscoreKeying, step: u64) -> Result<SecurityContext, String> {
    let seq = SenderSeq::persisted(step).map_err(|e| format!("sequence number: {e}"))?;
    context_from(keying, seq, ReplayWindow::default())
}

fn context_from(
    k: &OscoreKeying,
    seq: SenderSeq,
    replay: ReplayWindow,
) -> Result<SecurityContext, String> {
    SecurityContext::with_state(
        &ContextParams {
            master_secret: k.master_secret.expose(),
            master_salt: Some(&k.master_salt),
            sender_id: &k.sender_id,
            recipient_id: &k.recipient_id,
            id_context: None,
        },
        seq,
        replay,
    )
    .map_err(|e| format!("context: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use simbridge_oscore::persist::Next;
    use std::time::Duration;

    fn keying() -> OscoreKeying {
        OscoreKeying {
            master_secret: SecretVec::from(&[7u8; 16][..]),
            master_salt: vec![1, 2, 3],
            sender_id: vec![0x01],
            recipient_id: vec![],
        }
    }

    #[test]
    fn a_saved_context_resumes_past_every_number_the_last_run_could_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctx.json");
        let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let mut rec = StoredContext::new(Role::Gateway, "b@bsf", expires, &keying());
        let mut ctx = fresh_context(&keying(), 10).unwrap();
        // The first number needs a store; store it, then 10 numbers are covered.
        let Next::NeedsStore(v) = ctx.sender_seq_mut().next().unwrap() else {
            panic!("a fresh persisted counter must ask for a store first")
        };
        rec.seq_stored = Some(v);
        rec.save(&path).unwrap();
        ctx.sender_seq_mut().stored(v);
        for want in 0..10 {
            assert_eq!(ctx.sender_seq_mut().next().unwrap(), Next::Ok(want));
        }
        let back = StoredContext::load(&path).unwrap().unwrap();
        assert_eq!(back.btid, "b@bsf");
        assert_eq!(back.expires().unwrap(), expires);
        let resumed = back.resume(10).unwrap();
        assert_eq!(resumed.sender_seq().peek(), 10);
        assert_eq!(resumed.sender_key(), ctx.sender_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_server_context_resumes_with_an_unknown_replay_window() {
        let rec = StoredContext::new(Role::Server, "b@bsf", SystemTime::now(), &keying());
        assert!(rec.resume(10).unwrap().replay_window().is_unknown());
    }

    #[test]
    fn a_bad_record_is_refused_with_the_field_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctx.json");
        let rec = StoredContext::new(Role::Gateway, "b", SystemTime::now(), &keying());
        let text = serde_json::to_string(&rec)
            .unwrap()
            .replace(&hex::encode([7u8; 16]), "zz");
        std::fs::write(&path, text).unwrap();
        let e = StoredContext::load(&path).unwrap_err().to_string();
        assert!(e.contains("master_secret: not hex"), "{e}");
        std::fs::write(&path, "{}").unwrap();
        assert!(StoredContext::load(&path).is_err());
        assert!(
            StoredContext::load(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn debug_never_shows_the_master_secret() {
        let rec = StoredContext::new(Role::Gateway, "b", SystemTime::now(), &keying());
        assert!(!format!("{rec:?}").contains(&hex::encode([7u8; 16])));
    }
}
