//! The TLS 1.3 key schedule (RFC 8446 §7.1) for SHA-256 suites, with the label prefix DTLS 1.3
//! uses ("dtls13", RFC 9147 §5.9) or TLS 1.3's ("tls13 ", for the RFC 8448 known answers).
//!
//! One type per stage, each consumed into the next, so a secret of a stage that is over cannot
//! be used by mistake: [`EarlySecret`] (from the external PSK: binder key, early traffic) →
//! [`HandshakeSecret`] (handshake traffic) → [`MasterSecret`] (application traffic, exporter,
//! resumption). Every secret is a [`Secret`], zeroized on drop and never printed.
//!
//! Why our own HKDF: it is HMAC-SHA-256 twice over (RFC 5869), which the crate already has for
//! the DTLS 1.2 PRF; the RFC 5869 and RFC 8448 known-answer tests below check it.

use crate::crypto::prf::hmac;
use crate::secret::Secret;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Hash length of the SHA-256 suites (every suite this crate offers).
pub const HASH_LEN: usize = 32;

/// The prefix HKDF-Expand-Label puts before every label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelPrefix {
    /// "tls13 " (RFC 8446 §7.1).
    Tls13,
    /// "dtls13" (RFC 9147 §5.9): DTLS 1.3 keys differ from TLS 1.3 keys for the same secrets.
    Dtls13,
}

impl LabelPrefix {
    fn bytes(self) -> &'static [u8] {
        match self {
            LabelPrefix::Tls13 => b"tls13 ",
            LabelPrefix::Dtls13 => b"dtls13",
        }
    }
}

/// A label or context too long for an HkdfLabel, or more output than HKDF can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyScheduleError {
    /// The prefixed label is over 255 bytes or the context over 255 bytes.
    #[error("HKDF label or context too long")]
    LabelTooLong,
    /// More than 255 hash blocks of output.
    #[error("HKDF output too long")]
    OutputTooLong,
}

/// SHA-256 of `data`: the transcript hash of the messages concatenated in `data`.
pub fn transcript_hash(data: &[u8]) -> [u8; HASH_LEN] {
    Sha256::digest(data).into()
}

/// HKDF-Extract (RFC 5869 §2.2) with HMAC-SHA-256.
pub fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Secret<HASH_LEN> {
    Secret::new(hmac(salt, &[ikm]))
}

/// HKDF-Expand (RFC 5869 §2.3) with HMAC-SHA-256 into `out`.
pub fn hkdf_expand(prk: &[u8], info: &[u8], out: &mut [u8]) -> Result<(), KeyScheduleError> {
    if out.len() > 255 * HASH_LEN {
        return Err(KeyScheduleError::OutputTooLong);
    }
    let mut t = Zeroizing::new([0u8; HASH_LEN]);
    let mut t_len = 0;
    for (i, chunk) in out.chunks_mut(HASH_LEN).enumerate() {
        // at most 255 chunks (checked above), so the counter fits a byte
        let counter = [(i + 1) as u8];
        *t = hmac(prk, &[&t[..t_len], info, &counter]);
        t_len = HASH_LEN;
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
    Ok(())
}

/// HKDF-Expand-Label (RFC 8446 §7.1; RFC 9147 §5.9 for the "dtls13" prefix) into `out`.
pub fn expand_label(
    prefix: LabelPrefix,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), KeyScheduleError> {
    let p = prefix.bytes();
    let label_len = p.len() + label.len();
    let (Ok(label_len), Ok(context_len), Ok(out_len)) = (
        u8::try_from(label_len),
        u8::try_from(context.len()),
        u16::try_from(out.len()),
    ) else {
        return Err(KeyScheduleError::LabelTooLong);
    };
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel
    let mut info = Vec::with_capacity(4 + usize::from(label_len) + context.len());
    info.extend_from_slice(&out_len.to_be_bytes());
    info.push(label_len);
    info.extend_from_slice(p);
    info.extend_from_slice(label);
    info.push(context_len);
    info.extend_from_slice(context);
    hkdf_expand(secret, &info, out)
}

/// Derive-Secret(secret, label, messages) with the messages' hash given (RFC 8446 §7.1).
pub fn derive_secret(
    prefix: LabelPrefix,
    secret: &Secret<HASH_LEN>,
    label: &[u8],
    hash: &[u8; HASH_LEN],
) -> Secret<HASH_LEN> {
    let mut out = [0u8; HASH_LEN];
    // a fixed label of ours and a 32-byte context always fit an HkdfLabel
    if expand_label(prefix, secret.expose(), label, hash, &mut out).is_err() {
        out = [0; HASH_LEN];
    }
    Secret::new(out)
}

/// The hash of no messages, the context of "derived" and of the binder key.
fn empty_hash() -> [u8; HASH_LEN] {
    transcript_hash(b"")
}

/// Which kind of PSK a binder is for (RFC 8446 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinderKind {
    /// An external PSK ("ext binder"): a GBA Ks_NAF.
    External,
    /// A resumption PSK from a ticket ("res binder").
    Resumption,
    /// An external PSK imported by RFC 9258 ("imp binder", RFC 9258 §5.2): a binder made
    /// for the imported key never verifies as an "ext binder", so both sides import or neither.
    Imported,
}

/// The first stage: HKDF-Extract(0, PSK).
pub struct EarlySecret {
    prefix: LabelPrefix,
    secret: Secret<HASH_LEN>,
}

impl EarlySecret {
    /// From a PSK; `None` for a handshake without one (all-zero input, as in RFC 8448 §3).
    pub fn new(prefix: LabelPrefix, psk: Option<&[u8]>) -> Self {
        let zeros = [0u8; HASH_LEN];
        Self {
            prefix,
            secret: hkdf_extract(&zeros, psk.unwrap_or(&zeros)),
        }
    }

    /// The secret itself (for known-answer tests and state export).
    pub fn secret(&self) -> &Secret<HASH_LEN> {
        &self.secret
    }

    /// binder_key: the base key of the PSK binder's Finished-style HMAC.
    pub fn binder_key(&self, kind: BinderKind) -> Secret<HASH_LEN> {
        let label: &[u8] = match kind {
            BinderKind::External => b"ext binder",
            BinderKind::Resumption => b"res binder",
            BinderKind::Imported => b"imp binder",
        };
        derive_secret(self.prefix, &self.secret, label, &empty_hash())
    }

    /// client_early_traffic_secret over the ClientHello's hash (0-RTT).
    pub fn client_early_traffic(&self, client_hello_hash: &[u8; HASH_LEN]) -> Secret<HASH_LEN> {
        derive_secret(self.prefix, &self.secret, b"c e traffic", client_hello_hash)
    }

    /// The next stage, with the (EC)DHE shared secret in `psk_dhe_ke` mode or `None` in
    /// `psk_ke` mode (zeros, RFC 8446 §7.1).
    pub fn into_handshake(self, dhe: Option<&[u8]>) -> HandshakeSecret {
        let derived = derive_secret(self.prefix, &self.secret, b"derived", &empty_hash());
        let zeros = [0u8; HASH_LEN];
        HandshakeSecret {
            prefix: self.prefix,
            secret: hkdf_extract(derived.expose(), dhe.unwrap_or(&zeros)),
        }
    }
}

/// The second stage: the handshake traffic secrets.
pub struct HandshakeSecret {
    prefix: LabelPrefix,
    secret: Secret<HASH_LEN>,
}

impl HandshakeSecret {
    /// The secret itself (for known-answer tests).
    pub fn secret(&self) -> &Secret<HASH_LEN> {
        &self.secret
    }

    /// client_handshake_traffic_secret over ClientHello..ServerHello.
    pub fn client_traffic(&self, hello_hash: &[u8; HASH_LEN]) -> Secret<HASH_LEN> {
        derive_secret(self.prefix, &self.secret, b"c hs traffic", hello_hash)
    }

    /// server_handshake_traffic_secret over ClientHello..ServerHello.
    pub fn server_traffic(&self, hello_hash: &[u8; HASH_LEN]) -> Secret<HASH_LEN> {
        derive_secret(self.prefix, &self.secret, b"s hs traffic", hello_hash)
    }

    /// The last stage.
    pub fn into_master(self) -> MasterSecret {
        let derived = derive_secret(self.prefix, &self.secret, b"derived", &empty_hash());
        MasterSecret {
            prefix: self.prefix,
            secret: hkdf_extract(derived.expose(), &[0u8; HASH_LEN]),
        }
    }
}

/// The last stage: application traffic, exporter and resumption secrets.
pub struct MasterSecret {
    prefix: LabelPrefix,
    secret: Secret<HASH_LEN>,
}

impl MasterSecret {
    /// The secret itself (for known-answer tests).
    pub fn secret(&self) -> &Secret<HASH_LEN> {
        &self.secret
    }

    /// client_application_traffic_secret_0 over ClientHello..server Finished.
    pub fn client_traffic(&self, server_finished_hash: &[u8; HASH_LEN]) -> Secret<HASH_LEN> {
        derive_secret(
            self.prefix,
            &self.secret,
            b"c ap traffic",
            server_finished_hash,
        )
    }

    /// server_application_traffic_secret_0 over ClientHello..server Finished.
    pub fn server_traffic(&self, server_finished_hash: &[u8; HASH_LEN]) -> Secret<HASH_LEN> {
        derive_secret(
            self.prefix,
            &self.secret,
            b"s ap traffic",
            server_finished_hash,
        )
    }

    /// exporter_master_secret over ClientHello..server Finished.
    pub fn exporter(&self, server_finished_hash: &[u8; HASH_LEN]) -> Secret<HASH_LEN> {
        derive_secret(
            self.prefix,
            &self.secret,
            b"exp master",
            server_finished_hash,
        )
    }

    /// resumption_master_secret over ClientHello..client Finished.
    pub fn resumption(&self, client_finished_hash: &[u8; HASH_LEN]) -> Secret<HASH_LEN> {
        derive_secret(
            self.prefix,
            &self.secret,
            b"res master",
            client_finished_hash,
        )
    }
}

/// The keys of one direction and epoch: AEAD key and IV (RFC 8446 §7.3) and the record number
/// encryption key (RFC 9147 §4.2.3, "sn").
pub struct TrafficKeys {
    /// AEAD key (AES-128).
    pub key: Secret<16>,
    /// Per-record nonce base.
    pub iv: Secret<12>,
    /// Record number encryption key.
    pub sn_key: Secret<16>,
}

impl TrafficKeys {
    /// The keys of a traffic secret.
    pub fn from_secret(prefix: LabelPrefix, secret: &Secret<HASH_LEN>) -> Self {
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        let mut sn = [0u8; 16];
        // fixed labels, empty context: these always fit
        let _ = expand_label(prefix, secret.expose(), b"key", b"", &mut key);
        let _ = expand_label(prefix, secret.expose(), b"iv", b"", &mut iv);
        let _ = expand_label(prefix, secret.expose(), b"sn", b"", &mut sn);
        Self {
            key: Secret::new(key),
            iv: Secret::new(iv),
            sn_key: Secret::new(sn),
        }
    }
}

/// The next traffic secret of a KeyUpdate (RFC 8446 §7.2, "traffic upd").
pub fn next_traffic_secret(prefix: LabelPrefix, secret: &Secret<HASH_LEN>) -> Secret<HASH_LEN> {
    let mut out = [0u8; HASH_LEN];
    let _ = expand_label(prefix, secret.expose(), b"traffic upd", b"", &mut out);
    Secret::new(out)
}

/// Finished.verify_data (and a PSK binder, with the binder key as base key): HMAC(finished_key,
/// transcript hash), finished_key = HKDF-Expand-Label(base_key, "finished", "", 32)
/// (RFC 8446 §4.4.4, §4.2.11.2).
pub fn verify_data(
    prefix: LabelPrefix,
    base_key: &Secret<HASH_LEN>,
    hash: &[u8; HASH_LEN],
) -> [u8; HASH_LEN] {
    let mut finished_key = Zeroizing::new([0u8; HASH_LEN]);
    let _ = expand_label(
        prefix,
        base_key.expose(),
        b"finished",
        b"",
        &mut finished_key[..],
    );
    hmac(&finished_key[..], &[hash])
}

/// A PSK binder (RFC 8446 §4.2.11.2): HMAC under the binder key's finished key over the hash of
/// the ClientHello truncated before its binders list (with the DTLS 1.3 transcript's 4-byte
/// message header, RFC 9147 §5.2).
pub fn psk_binder(
    early: &EarlySecret,
    kind: BinderKind,
    truncated_client_hello_hash: &[u8; HASH_LEN],
) -> [u8; HASH_LEN] {
    verify_data(
        early.prefix,
        &early.binder_key(kind),
        truncated_client_hello_hash,
    )
}

#[cfg(test)]
#[path = "key_schedule_tests.rs"]
mod tests;
