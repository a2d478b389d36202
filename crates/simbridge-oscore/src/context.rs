//! The OSCORE security context (RFC 8613 §3): derivation of the Sender Key, Recipient Key and
//! Common IV from the Master Secret, and the mutable parts (sender sequence number, replay
//! window) that live beside them.
//!
//! We implement the default and only algorithm pair simbridge needs: AEAD AES-CCM-16-64-128
//! (COSE algorithm 10: 16-byte key, 13-byte nonce, 8-byte tag) and HKDF-SHA-256. The Master
//! Secret will come from GBA (a Ks_NAF), which is why the derived keys are held in zeroizing
//! storage and `Debug` prints identifiers only.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::cbor;
use crate::cose;
use crate::error::{Error, Field};
use crate::persist::SenderSeq;
use crate::replay::ReplayWindow;

/// AES-CCM-16-64-128's COSE algorithm identifier (RFC 9053 §4.2).
pub const ALG_AES_CCM_16_64_128: u64 = 10;
/// Key length of AES-CCM-16-64-128.
pub const KEY_LEN: usize = 16;
/// Nonce length of AES-CCM-16-64-128 (also the Common IV's length).
pub const NONCE_LEN: usize = 13;
/// Tag length of AES-CCM-16-64-128.
pub const TAG_LEN: usize = 8;
/// Longest Sender/Recipient ID the nonce can carry (§3.3: nonce length - 6).
pub const MAX_ID_LEN: usize = NONCE_LEN - 6;

/// The inputs of a security context (RFC 8613 §3.2). Borrowed: the context copies what it keeps.
#[derive(Clone, Copy)]
pub struct ContextParams<'a> {
    /// The Master Secret (for simbridge: a key derived by GBA).
    pub master_secret: &'a [u8],
    /// The Master Salt; `None` is the default, the empty byte string.
    pub master_salt: Option<&'a [u8]>,
    /// Our Sender ID (the kid the peer sees in our requests).
    pub sender_id: &'a [u8],
    /// Our Recipient ID (the peer's Sender ID).
    pub recipient_id: &'a [u8],
    /// The ID Context, if any (§3.1); when set, requests carry it as kid context.
    pub id_context: Option<&'a [u8]>,
}

impl std::fmt::Debug for ContextParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextParams")
            .field("master_secret", &"<redacted>")
            .field("master_salt", &self.master_salt)
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .field("id_context", &self.id_context)
            .finish()
    }
}

/// A derived OSCORE security context: the common, sender and recipient parts of RFC 8613 §3.1.
pub struct SecurityContext {
    sender_id: Vec<u8>,
    recipient_id: Vec<u8>,
    id_context: Option<Vec<u8>>,
    sender_key: Zeroizing<[u8; KEY_LEN]>,
    recipient_key: Zeroizing<[u8; KEY_LEN]>,
    common_iv: [u8; NONCE_LEN],
    seq: SenderSeq,
    replay: ReplayWindow,
}

impl std::fmt::Debug for SecurityContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and IV never printed: the IV is no secret, but nothing derived from the
        // Master Secret goes to logs.
        f.debug_struct("SecurityContext")
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .field("id_context", &self.id_context)
            .field("seq", &self.seq)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

/// `info` of §3.2.1: `[id, id_context or nil, alg_aead, type, L]`.
fn info(id: &[u8], id_context: Option<&[u8]>, kind: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + id.len());
    cbor::array(&mut out, 5);
    cbor::bstr(&mut out, id);
    match id_context {
        Some(c) => cbor::bstr(&mut out, c),
        None => cbor::nil(&mut out),
    }
    cbor::uint(&mut out, ALG_AES_CCM_16_64_128);
    cbor::tstr(&mut out, kind);
    cbor::uint(&mut out, len as u64);
    out
}

/// The HKDF `info` for the Sender Key (`id` = Sender ID), Recipient Key (`id` = Recipient ID)
/// or, with `kind` "IV" and an empty `id`, the Common IV. Public for the test vectors.
pub fn hkdf_info(id: &[u8], id_context: Option<&[u8]>, kind: &str, len: usize) -> Vec<u8> {
    info(id, id_context, kind, len)
}

impl SecurityContext {
    /// Derives a context whose sender sequence number starts at 0 and is never persisted, with a
    /// fresh replay window: for contexts derived anew at every start (RFC 8613 Appendix B.2) and
    /// for tests. A context that outlives a restart takes a persisted [`SenderSeq`] through
    /// [`Self::with_state`].
    pub fn derive(params: &ContextParams<'_>) -> Result<Self, Error> {
        Self::with_state(params, SenderSeq::volatile(0), ReplayWindow::default())
    }

    /// Derives a context with the given sender sequence state and replay window (after a
    /// restart: [`SenderSeq::resume`] and [`ReplayWindow::unknown`]).
    pub fn with_state(
        params: &ContextParams<'_>,
        seq: SenderSeq,
        replay: ReplayWindow,
    ) -> Result<Self, Error> {
        if params.master_secret.is_empty() {
            return Err(Error::Parameter(Field::MasterSecret));
        }
        if params.sender_id.len() > MAX_ID_LEN || params.sender_id == params.recipient_id {
            return Err(Error::Parameter(Field::SenderId));
        }
        if params.recipient_id.len() > MAX_ID_LEN {
            return Err(Error::Parameter(Field::RecipientId));
        }
        // RFC 8613 §3.2: the default Master Salt is the empty byte string, which HKDF (RFC
        // 5869) treats as HashLen zero bytes.
        let hk = Hkdf::<Sha256>::new(
            Some(params.master_salt.unwrap_or(&[])),
            params.master_secret,
        );
        let mut sender_key = Zeroizing::new([0u8; KEY_LEN]);
        let mut recipient_key = Zeroizing::new([0u8; KEY_LEN]);
        let mut common_iv = [0u8; NONCE_LEN];
        let ctx = params.id_context;
        let expand = |info: Vec<u8>, out: &mut [u8]| {
            // Fails only for outputs longer than 255 * 32 bytes; ours are 16 and 13.
            hk.expand(&info, out)
                .map_err(|_| Error::Parameter(Field::MasterSecret))
        };
        expand(
            info(params.sender_id, ctx, "Key", KEY_LEN),
            sender_key.as_mut_slice(),
        )?;
        expand(
            info(params.recipient_id, ctx, "Key", KEY_LEN),
            recipient_key.as_mut_slice(),
        )?;
        expand(info(&[], ctx, "IV", NONCE_LEN), &mut common_iv)?;
        Ok(Self {
            sender_id: params.sender_id.to_vec(),
            recipient_id: params.recipient_id.to_vec(),
            id_context: params.id_context.map(<[u8]>::to_vec),
            sender_key,
            recipient_key,
            common_iv,
            seq,
            replay,
        })
    }

    /// Our Sender ID.
    pub fn sender_id(&self) -> &[u8] {
        &self.sender_id
    }

    /// Our Recipient ID (the peer's Sender ID).
    pub fn recipient_id(&self) -> &[u8] {
        &self.recipient_id
    }

    /// The ID Context, if any.
    pub fn id_context(&self) -> Option<&[u8]> {
        self.id_context.as_deref()
    }

    /// The Sender Key. Secret: for test vectors and key export only, never for logs.
    pub fn sender_key(&self) -> &[u8; KEY_LEN] {
        &self.sender_key
    }

    /// The Recipient Key. Secret: for test vectors and key export only, never for logs.
    pub fn recipient_key(&self) -> &[u8; KEY_LEN] {
        &self.recipient_key
    }

    /// The Common IV.
    pub fn common_iv(&self) -> &[u8; NONCE_LEN] {
        &self.common_iv
    }

    /// The AEAD nonce (§5.2) for a partial IV generated by the endpoint whose Sender ID is
    /// `id_piv`; `None` when either is too long (IDs up to 7 bytes, partial IVs up to 5).
    pub fn nonce(&self, id_piv: &[u8], partial_iv: &[u8]) -> Option<[u8; NONCE_LEN]> {
        cose::nonce(&self.common_iv, id_piv, partial_iv)
    }

    /// The sender sequence number state.
    pub fn sender_seq(&self) -> &SenderSeq {
        &self.seq
    }

    /// The sender sequence number state, to confirm a store ([`SenderSeq::stored`]).
    pub fn sender_seq_mut(&mut self) -> &mut SenderSeq {
        &mut self.seq
    }

    /// The recipient replay window.
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.replay
    }

    /// The recipient replay window, e.g. to initialize it after an Echo exchange.
    pub fn replay_window_mut(&mut self) -> &mut ReplayWindow {
        &mut self.replay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_key() {
        let ctx = SecurityContext::derive(&ContextParams {
            master_secret: &[0x42; 16],
            master_salt: None,
            sender_id: &[1],
            recipient_id: &[2],
            id_context: None,
        })
        .unwrap();
        let text = format!("{ctx:?}");
        let key_hex: String = ctx.sender_key().iter().map(|b| format!("{b}")).collect();
        assert!(!text.contains(&key_hex), "{text}");
        assert!(!text.contains("sender_key"), "{text}");
    }

    #[test]
    fn rejects_unusable_parameters() {
        let p = ContextParams {
            master_secret: &[1; 16],
            master_salt: None,
            sender_id: &[1; 8],
            recipient_id: &[2],
            id_context: None,
        };
        assert_eq!(
            SecurityContext::derive(&p).err(),
            Some(Error::Parameter(Field::SenderId))
        );
        let p = ContextParams {
            sender_id: &[1],
            recipient_id: &[1],
            ..p
        };
        assert_eq!(
            SecurityContext::derive(&p).err(),
            Some(Error::Parameter(Field::SenderId))
        );
        let p = ContextParams {
            master_secret: &[],
            sender_id: &[1],
            recipient_id: &[2],
            ..p
        };
        assert_eq!(
            SecurityContext::derive(&p).err(),
            Some(Error::Parameter(Field::MasterSecret))
        );
    }
}
