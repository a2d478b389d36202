//! The DTLS 1.3 ClientHello (RFC 9147 §5.3 on RFC 8446 §4.1.2) with the external-PSK offer of
//! `pre_shared_key` (RFC 8446 §4.2.11) and its binders.
//!
//! A ClientHello is parsed into the fields a PSK handshake reads; other extensions are kept
//! as they came (type and bytes), in order. `pre_shared_key` must be the last extension, and
//! its binders the last bytes of the message: a binder is an HMAC over the hash of the message
//! truncated before the binders list (its 4-byte TLS 1.3-style header included, with the
//! length of the whole message, RFC 9147 §5.2). [`ClientHello13::bind`] fills the binders in;
//! [`verify_binder`] checks one on the bytes as received, never on a re-encoding.

use super::key_schedule::{BinderKind, EarlySecret, HASH_LEN, psk_binder, transcript_hash};
use crate::wire::codec::{Reader, put_u16, put_u24, put_vec8, put_vec16};
use crate::wire::{Field, WireError};
use subtle::ConstantTimeEq;

/// DTLS 1.2's version number, which DTLS 1.3 puts in legacy_version.
pub const LEGACY_VERSION: u16 = 0xfefd;
/// DTLS 1.3 in supported_versions.
pub const DTLS13: u16 = 0xfefc;
/// The pre_shared_key extension.
pub const EXT_PRE_SHARED_KEY: u16 = 41;
/// The supported_versions extension.
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// The psk_key_exchange_modes extension.
pub const EXT_PSK_KEY_EXCHANGE_MODES: u16 = 45;
/// The handshake type of a ClientHello.
const CLIENT_HELLO: u8 = 1;

/// One offered PSK identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PskIdentity {
    /// The identity (for GBA: the B-TID-based identity of TS 33.222).
    pub identity: Vec<u8>,
    /// 0 for an external PSK.
    pub obfuscated_ticket_age: u32,
}

/// A DTLS 1.3 ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello13 {
    /// ClientHello.random.
    pub random: [u8; 32],
    /// legacy_session_id (empty in DTLS: no middlebox compatibility mode).
    pub session_id: Vec<u8>,
    /// The offered cipher suites.
    pub cipher_suites: Vec<u16>,
    /// Every extension but pre_shared_key, in order, as (type, data).
    pub extensions: Vec<(u16, Vec<u8>)>,
    /// The pre_shared_key offer: identities, and one binder per identity.
    pub psks: Vec<(PskIdentity, Vec<u8>)>,
}

impl ClientHello13 {
    /// The body (what follows the handshake header).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(128);
        put_u16(&mut b, LEGACY_VERSION);
        b.extend_from_slice(&self.random);
        put_vec8(&mut b, &self.session_id);
        put_vec8(&mut b, &[]); // legacy_cookie: empty in DTLS 1.3
        let suites: Vec<u8> = self
            .cipher_suites
            .iter()
            .flat_map(|s| s.to_be_bytes())
            .collect();
        put_vec16(&mut b, &suites);
        put_vec8(&mut b, &[0]); // legacy_compression_methods: null only
        let mut ext = Vec::new();
        for (t, d) in &self.extensions {
            put_u16(&mut ext, *t);
            put_vec16(&mut ext, d);
        }
        if !self.psks.is_empty() {
            let mut ids = Vec::new();
            let mut binders = Vec::new();
            for (id, binder) in &self.psks {
                put_vec16(&mut ids, &id.identity);
                ids.extend_from_slice(&id.obfuscated_ticket_age.to_be_bytes());
                put_vec8(&mut binders, binder);
            }
            let mut psk = Vec::new();
            put_vec16(&mut psk, &ids);
            put_vec16(&mut psk, &binders);
            put_u16(&mut ext, EXT_PRE_SHARED_KEY);
            put_vec16(&mut ext, &psk);
        }
        put_vec16(&mut b, &ext);
        b
    }

    /// The message as the transcript hashes it: a 4-byte header (type, 24-bit length) and the
    /// body (RFC 9147 §5.2: no message_seq or fragment fields).
    pub fn transcript_message(&self) -> Vec<u8> {
        with_header(&self.encode())
    }

    /// Fills in one binder per offered PSK, each under the early secret of its PSK (given in
    /// the same order). The binders' lengths are fixed (32 bytes), so filling them in does not
    /// change the truncated message they sign. `prefix` is the transcript before this
    /// ClientHello: empty, or after a HelloRetryRequest the `message_hash` of the first
    /// ClientHello and the HelloRetryRequest (RFC 8446 §4.2.11.2).
    pub fn bind(&mut self, prefix: &[u8], psks: &[(&EarlySecret, BinderKind)]) {
        for (_, binder) in &mut self.psks {
            *binder = vec![0; HASH_LEN];
        }
        let message = self.transcript_message();
        let hash = transcript_hash(
            &[
                prefix,
                &message[..message.len() - binders_list_len(&self.psks)],
            ]
            .concat(),
        );
        for ((_, binder), (early, kind)) in self.psks.iter_mut().zip(psks) {
            *binder = psk_binder(early, *kind, &hash).to_vec();
        }
    }

    /// Parses a ClientHello body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        if r.u16(Field::ClientVersion)? != LEGACY_VERSION {
            return Err(WireError::Invalid(Field::ClientVersion));
        }
        let random: [u8; 32] = r
            .take(32, Field::Random)?
            .try_into()
            .map_err(|_| WireError::Truncated(Field::Random))?;
        let session_id = r.vec8(Field::SessionId)?.to_vec();
        if session_id.len() > 32 {
            return Err(WireError::Invalid(Field::SessionId));
        }
        if !r.vec8(Field::Cookie)?.is_empty() {
            // RFC 9147 §5.3: legacy_cookie is empty in DTLS 1.3
            return Err(WireError::Invalid(Field::Cookie));
        }
        let suites = r.vec16(Field::CipherSuites)?;
        if suites.is_empty() || suites.len() % 2 != 0 {
            return Err(WireError::Invalid(Field::CipherSuites));
        }
        let cipher_suites = suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        if r.vec8(Field::CompressionMethods)? != [0] {
            return Err(WireError::Invalid(Field::CompressionMethods));
        }
        let mut ext = Reader::new(r.vec16(Field::Extensions)?);
        r.finish(Field::ClientHello)?;
        let mut extensions: Vec<(u16, Vec<u8>)> = Vec::new();
        let mut psks = Vec::new();
        while !ext.is_empty() {
            let t = ext.u16(Field::ExtensionType)?;
            let data = ext.vec16(Field::ExtensionData)?;
            if !psks.is_empty() {
                return Err(WireError::Invalid(Field::PreSharedKeyNotLast));
            }
            if t == EXT_PRE_SHARED_KEY {
                psks = parse_psks(data)?;
                continue;
            }
            if extensions.iter().any(|(u, _)| *u == t) {
                return Err(WireError::Invalid(Field::DuplicateExtension));
            }
            extensions.push((t, data.to_vec()));
        }
        Ok(Self {
            random,
            session_id,
            cipher_suites,
            extensions,
            psks,
        })
    }

    /// The data of extension `t`, if offered.
    pub fn extension(&self, t: u16) -> Option<&[u8]> {
        self.extensions
            .iter()
            .find(|(u, _)| *u == t)
            .map(|(_, d)| d.as_slice())
    }

    /// Whether supported_versions offers DTLS 1.3.
    pub fn offers_dtls13(&self) -> bool {
        self.extension(EXT_SUPPORTED_VERSIONS)
            .and_then(|d| d.split_first())
            .is_some_and(|(&n, v)| {
                usize::from(n) == v.len() && v.chunks_exact(2).any(|c| c == DTLS13.to_be_bytes())
            })
    }
}

fn with_header(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 4);
    m.push(CLIENT_HELLO);
    // a ClientHello body is far below 2^24 bytes
    put_u24(&mut m, body.len() as u32);
    m.extend_from_slice(body);
    m
}

/// Bytes of the binders list at the end of the message: its 2-byte length and every binder
/// with its 1-byte length.
fn binders_list_len(psks: &[(PskIdentity, Vec<u8>)]) -> usize {
    if psks.is_empty() {
        return 0;
    }
    2 + psks.iter().map(|(_, b)| 1 + b.len()).sum::<usize>()
}

fn parse_psks(data: &[u8]) -> Result<Vec<(PskIdentity, Vec<u8>)>, WireError> {
    let mut r = Reader::new(data);
    let mut ids = Reader::new(r.vec16(Field::PskIdentities)?);
    let mut binders = Reader::new(r.vec16(Field::PskBinders)?);
    r.finish(Field::PskBinders)?;
    let mut out = Vec::new();
    while !ids.is_empty() {
        let identity = ids.vec16(Field::PskIdentity)?;
        if identity.is_empty() {
            return Err(WireError::Invalid(Field::PskIdentity));
        }
        let age = ids.take(4, Field::PskIdentities)?;
        let binder = binders.vec8(Field::PskBinders)?;
        if binder.len() < 32 {
            return Err(WireError::Invalid(Field::PskBinders));
        }
        out.push((
            PskIdentity {
                identity: identity.to_vec(),
                obfuscated_ticket_age: u32::from_be_bytes([age[0], age[1], age[2], age[3]]),
            },
            binder.to_vec(),
        ));
    }
    if out.is_empty() || !binders.is_empty() {
        // RFC 8446 §4.2.11: at least one identity, exactly one binder per identity
        return Err(WireError::Invalid(Field::PskBinders));
    }
    Ok(out)
}

/// Checks binder `index` of the ClientHello received as `body` (its bytes as they came) under
/// `early`, in constant time, after the transcript `prefix` (see [`ClientHello13::bind`]). The
/// caller parsed `body` into `hello`.
pub fn verify_binder(
    prefix: &[u8],
    body: &[u8],
    hello: &ClientHello13,
    index: usize,
    early: &EarlySecret,
    kind: BinderKind,
) -> bool {
    let Some((_, binder)) = hello.psks.get(index) else {
        return false;
    };
    let message = with_header(body);
    let Some(truncated) = message
        .len()
        .checked_sub(binders_list_len(&hello.psks))
        .and_then(|n| message.get(..n))
    else {
        return false;
    };
    let expected = psk_binder(early, kind, &transcript_hash(&[prefix, truncated].concat()));
    bool::from(expected.ct_eq(binder.as_slice()))
}

#[cfg(test)]
#[path = "hello_tests.rs"]
mod tests;
