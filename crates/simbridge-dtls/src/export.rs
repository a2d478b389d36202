//! State export/import of established connections ("graceful restart"): versioned and
//! AEAD-encrypted under a caller-provided key, plaintext zeroized in memory.
//!
//! A reused (epoch, sequence number) breaks AEAD, so an export never lets two instances send
//! with the same numbers: exporting reserves the next `reserve` write sequence numbers for the
//! live connection (it may keep sending inside that range, then refuses with
//! [`super::Error::ExportReserveUsed`]) and the export starts after the range (write-ahead
//! reservation, as Californium and Mbed TLS do). Each export carries a random id; importing
//! claims it in an [`ImportLedger`] and an id seen before is refused, so the same export can
//! never be imported twice (keep the ledger, or consume the file, across restarts). Import
//! only the newest export of a connection: a live connection that was exported again has
//! moved on into the range an older export would start at.
//!
//! Format: "SBDX" || version (1) || export id (16) || nonce (12) || AES-128-GCM(key', nonce,
//! ad = the 21 bytes before the nonce, state), key' = HMAC-SHA256(caller key, label)[..16].

use std::collections::HashSet;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

use super::config::{ClientConfig, ServerConfig};
use super::crypto::aead::RecordCipher;
use super::rng::DtlsRng;
use super::suite::AeadAlg;
use crate::secret::{Secret, SecretVec};
use crate::wire::{Field, WireError};

/// Magic at the start of every export.
pub const MAGIC: &[u8; 4] = b"SBDX";
/// Current format version.
pub const EXPORT_VERSION: u8 = 1;
/// Default number of write sequence numbers reserved for the live connection by an export.
pub const DEFAULT_RESERVE: u64 = 1 << 16;
const LABEL: &[u8] = b"simbridge dtls state export v1";
/// The first byte of a DTLS 1.3 session's state (a DTLS 1.2 connection's is 0 or 1, its role),
/// so that each importer refuses the other's export by name.
pub(crate) const ROLE13_CLIENT: u8 = 2;
/// See [`ROLE13_CLIENT`].
pub(crate) const ROLE13_SERVER: u8 = 3;
const HEADER_LEN: usize = 4 + 1 + 16;
const NONCE_LEN: usize = 12;

/// Why an export or import failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Only established connections can be exported.
    #[error("connection not established")]
    NotEstablished,
    /// Not an export (magic, truncation, a field out of range); the payload says where.
    #[error("malformed state export: {0}")]
    Format(ExportField),
    /// An export of another format version.
    #[error("state export version {0} not supported (this build reads {EXPORT_VERSION})")]
    Version(u8),
    /// Wrong key or tampered bytes.
    #[error("state export does not authenticate (wrong key or modified)")]
    Authentication,
    /// This export was imported before: importing it again would reuse sequence numbers.
    #[error("state export already imported")]
    AlreadyImported,
    /// The export was made by the other role.
    #[error("state export is for the other role")]
    WrongRole,
    /// The export is of a connection of the other DTLS version (1.2 or 1.3).
    #[error("state export is of a DTLS {0} connection")]
    OtherProtocol(&'static str),
    /// A DTLS 1.3 session cannot be exported while its KeyUpdate waits for the peer's ACK.
    #[error("a KeyUpdate is waiting for its ACK: export after it")]
    KeyUpdatePending,
    /// The random source failed.
    #[error("random source failed")]
    Rng,
    /// The state is too large for the export's AEAD (2^24 bytes or more; never a real
    /// connection's state).
    #[error("state too large to seal into an export")]
    TooLarge,
}

/// Where a state export is malformed (the payload of [`ExportError::Format`]). It prints as
/// the text the error has always had (`malformed state export: trailing bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportField {
    /// The blob does not start with [`MAGIC`].
    Magic,
    /// The blob ends inside its header or nonce.
    Truncated,
    /// Bytes left over after the state.
    TrailingBytes,
    /// A field of the state that is truncated or out of range.
    Field(Field),
}

impl ExportField {
    /// The text [`ExportError::Format`] prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Magic => "magic",
            Self::Truncated => "truncated",
            Self::TrailingBytes => "trailing bytes",
            Self::Field(f) => f.as_str(),
        }
    }
}

impl std::fmt::Display for ExportField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Field> for ExportField {
    fn from(f: Field) -> Self {
        Self::Field(f)
    }
}

/// A state field that did not parse, as an export error (one `map_err` for every read).
pub(crate) fn malformed(e: WireError) -> ExportError {
    ExportError::Format(ExportField::Field(e.field()))
}

/// Appends a big-endian u64 (the state's sequence numbers and window).
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Reads a big-endian u64 of the state.
pub(crate) fn u64_at(
    r: &mut crate::wire::codec::Reader<'_>,
    what: Field,
) -> Result<u64, ExportError> {
    let b = r.take(8, what).map_err(malformed)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_be_bytes(a))
}

/// A state field that parsed but holds a value we refuse.
pub(crate) fn out_of_range(f: Field) -> ExportError {
    ExportError::Format(ExportField::Field(f))
}

/// Remembers which exports were imported. A persistent implementation (a file, a database
/// row) makes "never import twice" hold across restarts.
pub trait ImportLedger {
    /// Records `id`; false when it was recorded before.
    fn claim(&mut self, id: &[u8; 16]) -> bool;
}

/// An in-memory ledger (one process).
#[derive(Debug, Default, Clone)]
pub struct MemoryLedger(HashSet<[u8; 16]>);

impl ImportLedger for MemoryLedger {
    fn claim(&mut self, id: &[u8; 16]) -> bool {
        self.0.insert(*id)
    }
}

/// Which role an imported connection takes, with its configuration.
#[derive(Clone)]
pub enum ImportRole {
    /// A client connection.
    Client(Arc<ClientConfig>),
    /// A server connection.
    Server(Arc<ServerConfig>),
}

fn cipher(key: &[u8]) -> RecordCipher {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(LABEL);
    let full = m.finalize().into_bytes();
    let k = Secret::from_slice(&full[..16]).unwrap_or_else(|| Secret::new([0; 16]));
    RecordCipher::new(AeadAlg::Aes128Gcm, &k, &Secret::new([0; 4]))
}

/// Encrypts a state plaintext under `key` with a fresh export id.
pub fn seal(key: &[u8], plain: &SecretVec, rng: &dyn DtlsRng) -> Result<Vec<u8>, ExportError> {
    let mut id = [0u8; 16];
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut id).map_err(|_| ExportError::Rng)?;
    rng.fill(&mut nonce).map_err(|_| ExportError::Rng)?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plain.len() + 16);
    out.extend_from_slice(MAGIC);
    out.push(EXPORT_VERSION);
    out.extend_from_slice(&id);
    let ad = out.clone();
    out.extend_from_slice(&nonce);
    cipher(key)
        .seal_raw_append(&nonce, &ad, plain.expose(), &mut out)
        .map_err(|_| ExportError::TooLarge)?;
    Ok(out)
}

/// Decrypts an export: its id and the state plaintext.
pub fn open(key: &[u8], blob: &[u8]) -> Result<([u8; 16], SecretVec), ExportError> {
    if blob.get(..4) != Some(MAGIC.as_slice()) {
        return Err(ExportError::Format(ExportField::Magic));
    }
    let version = *blob
        .get(4)
        .ok_or(ExportError::Format(ExportField::Truncated))?;
    if version != EXPORT_VERSION {
        return Err(ExportError::Version(version));
    }
    let ad = blob
        .get(..HEADER_LEN)
        .ok_or(ExportError::Format(ExportField::Truncated))?;
    let id: [u8; 16] = blob
        .get(5..HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(ExportError::Format(ExportField::Truncated))?;
    let nonce: [u8; NONCE_LEN] = blob
        .get(HEADER_LEN..HEADER_LEN + NONCE_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(ExportError::Format(ExportField::Truncated))?;
    let sealed = blob
        .get(HEADER_LEN + NONCE_LEN..)
        .ok_or(ExportError::Format(ExportField::Truncated))?;
    let plain = cipher(key)
        .open_raw(&nonce, ad, sealed)
        .map_err(|_| ExportError::Authentication)?;
    Ok((id, SecretVec::new(plain)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn seal_open_round_trip_and_every_failure_is_typed() {
        let rng = SeededRng::new(1);
        let plain = SecretVec::new(b"state".to_vec());
        let blob = seal(b"caller key", &plain, &rng).unwrap();
        let (id, p) = open(b"caller key", &blob).unwrap();
        assert_eq!(p.expose(), b"state");
        assert_eq!(&blob[5..21], &id);
        assert_eq!(open(b"other key", &blob), Err(ExportError::Authentication));
        let mut t = blob.clone();
        t[10] ^= 1; // the id is authenticated
        assert_eq!(open(b"caller key", &t), Err(ExportError::Authentication));
        let mut v = blob.clone();
        v[4] = 2;
        assert_eq!(open(b"caller key", &v), Err(ExportError::Version(2)));
        assert_eq!(
            open(b"caller key", b"XXXX"),
            Err(ExportError::Format(ExportField::Magic))
        );
        for n in 0..blob.len() {
            assert!(open(b"caller key", &blob[..n]).is_err());
        }
        let mut l = MemoryLedger::default();
        assert!(l.claim(&id));
        assert!(!l.claim(&id));
    }

    #[test]
    fn export_fields_print_the_texts_the_error_always_had() {
        let text = |f: ExportField| ExportError::Format(f).to_string();
        assert_eq!(text(ExportField::Magic), "malformed state export: magic");
        assert_eq!(
            text(ExportField::Truncated),
            "malformed state export: truncated"
        );
        assert_eq!(
            text(ExportField::TrailingBytes),
            "malformed state export: trailing bytes"
        );
        assert_eq!(text(Field::Sni.into()), "malformed state export: sni");
        for f in Field::ALL {
            assert_eq!(ExportField::Field(*f).as_str(), f.as_str());
        }
        assert_eq!(
            malformed(WireError::Truncated(Field::Stats)),
            ExportError::Format(ExportField::Field(Field::Stats))
        );
    }
}
