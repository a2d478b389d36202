//! RFC 9258 PSK importers for DTLS 1.3: an external PSK (for GBA: the Ks_NAF under the TLS 1.3
//! Ua id, with its B-TID-based identity) is imported into a PSK bound to DTLS 1.3 and
//! HKDF-SHA256, sent under an [`ImportedIdentity`] and bound with "imp binder"
//! ([`BinderKind::Imported`](super::key_schedule::BinderKind::Imported), RFC 9258 §5.2).
//!
//! - Identity: the encoded `ImportedIdentity { external_identity, context, target_protocol =
//!   0xFEFC, target_kdf = HKDF_SHA256 (0x0001) }` is the `PskIdentity.identity` on the wire.
//! - Key (RFC 9258 §5.1): `epskx = HKDF-Extract(0, epsk)`, `ipskx = HKDF-Expand-Label(epskx,
//!   "derived psk", Hash(ImportedIdentity), 32)`, with SHA-256 (the hash of the GBA key
//!   derivation, TS 33.220 Annex B) and the label prefix of the target protocol ("dtls13",
//!   RFC 9147 §5.9).
//! - Context: the GBA case imports with an empty context (docs/dtls13.md says why); the server
//!   imports only identities with an empty context, for DTLS 1.3 and HKDF-SHA256.

use super::hello::DTLS13;
use super::key_schedule::{HASH_LEN, LabelPrefix, expand_label, hkdf_extract, transcript_hash};
use crate::secret::{Secret, SecretVec};
use crate::wire::codec::{Reader, put_u16, put_vec16};
use crate::wire::{Field, WireError};

/// target_kdf HKDF_SHA256 (RFC 9258 §10).
pub const KDF_HKDF_SHA256: u16 = 0x0001;

/// The ImportedIdentity structure (RFC 9258 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedIdentity {
    /// The external PSK's identity (for GBA, as for DTLS 1.2).
    pub external_identity: Vec<u8>,
    /// Context bound into the imported key (visible on the wire).
    pub context: Vec<u8>,
    /// The protocol version the key is imported for.
    pub target_protocol: u16,
    /// The KDF it is imported for.
    pub target_kdf: u16,
}

impl ImportedIdentity {
    /// An identity imported for DTLS 1.3 and HKDF-SHA256.
    pub fn dtls13(external_identity: Vec<u8>, context: Vec<u8>) -> Self {
        Self {
            external_identity,
            context,
            target_protocol: DTLS13,
            target_kdf: KDF_HKDF_SHA256,
        }
    }

    /// Whether this identity is one this crate can import: DTLS 1.3 and HKDF-SHA256.
    pub fn is_dtls13_sha256(&self) -> bool {
        self.target_protocol == DTLS13 && self.target_kdf == KDF_HKDF_SHA256
    }

    /// The encoding; refused when a field or the whole is too long for its vector (RFC 9258
    /// §5.1: an ImportedIdentity over 2^16-1 bytes cannot be a PskIdentity.identity) or the
    /// external identity is empty.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        if self.external_identity.is_empty() || self.external_identity.len() > usize::from(u16::MAX)
        {
            return Err(WireError::Invalid(Field::ImportedExternalIdentity));
        }
        if self.context.len() > usize::from(u16::MAX) {
            return Err(WireError::Invalid(Field::ImportedContext));
        }
        let len = 2 + self.external_identity.len() + 2 + self.context.len() + 4;
        if len > usize::from(u16::MAX) {
            return Err(WireError::Invalid(Field::ImportedIdentity));
        }
        let mut b = Vec::with_capacity(len);
        put_vec16(&mut b, &self.external_identity);
        put_vec16(&mut b, &self.context);
        put_u16(&mut b, self.target_protocol);
        put_u16(&mut b, self.target_kdf);
        Ok(b)
    }

    /// Parses an encoded ImportedIdentity (all of `bytes`).
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > usize::from(u16::MAX) {
            return Err(WireError::Invalid(Field::ImportedIdentity));
        }
        let mut r = Reader::new(bytes);
        let external_identity = r.vec16(Field::ImportedExternalIdentity)?.to_vec();
        if external_identity.is_empty() {
            // opaque external_identity<1...2^16-1>
            return Err(WireError::Invalid(Field::ImportedExternalIdentity));
        }
        let context = r.vec16(Field::ImportedContext)?.to_vec();
        let target_protocol = r.u16(Field::ImportedTargetProtocol)?;
        let target_kdf = r.u16(Field::ImportedTargetKdf)?;
        r.finish(Field::ImportedIdentity)?;
        Ok(Self {
            external_identity,
            context,
            target_protocol,
            target_kdf,
        })
    }
}

/// The imported key `ipskx` of the external PSK `epsk` for the encoded ImportedIdentity
/// `imported` (RFC 9258 §5.1), for a DTLS 1.3 / HKDF-SHA256 target.
pub fn imported_key(epsk: &[u8], imported: &[u8]) -> Secret<HASH_LEN> {
    // "0": a string of Hash.length zero bytes (RFC 8446 §7.1 notation)
    let epskx = hkdf_extract(&[0u8; HASH_LEN], epsk);
    let mut out = [0u8; HASH_LEN];
    // a fixed label and a 32-byte context always fit an HkdfLabel
    if expand_label(
        LabelPrefix::Dtls13,
        epskx.expose(),
        b"derived psk",
        &transcript_hash(imported),
        &mut out,
    )
    .is_err()
    {
        out = [0; HASH_LEN];
    }
    Secret::new(out)
}

/// What a client offers instead of its external PSK: the encoded ImportedIdentity (as the
/// PSK identity) and the imported key, for DTLS 1.3 and HKDF-SHA256 with `context` (empty for
/// GBA). The binder of this PSK is an "imp binder".
pub fn import_for_dtls13(
    external_identity: &[u8],
    context: &[u8],
    key: &SecretVec,
) -> Result<(Vec<u8>, SecretVec), WireError> {
    let identity =
        ImportedIdentity::dtls13(external_identity.to_vec(), context.to_vec()).encode()?;
    let ipskx = imported_key(key.expose(), &identity);
    Ok((identity, SecretVec::new(ipskx.expose().to_vec())))
}

#[cfg(test)]
#[path = "importer_tests.rs"]
mod tests;
