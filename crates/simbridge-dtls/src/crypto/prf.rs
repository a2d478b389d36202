//! TLS 1.2 PRF with SHA-256 (RFC 5246 §5), extended master secret (RFC 7627), PSK premaster
//! secrets (RFC 4279 §2, RFC 5489 §2), key block and Finished verify_data.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::{Secret, SecretVec};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA-256 over the concatenation of `parts` (also the HKDF of DTLS 1.3, `v13`).
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// P_SHA256(secret, label || seed), `out.len()` bytes.
pub fn prf(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let mut a = hmac(secret, &[label, seed]);
    for chunk in out.chunks_mut(32) {
        let block = hmac(secret, &[&a, label, seed]);
        chunk.copy_from_slice(&block[..chunk.len()]);
        a = hmac(secret, &[&a]);
    }
}

/// Premaster secret for plain PSK: N zero bytes and the N-byte PSK, each with a 2-byte length.
pub fn premaster_psk(psk: &[u8]) -> SecretVec {
    premaster_with_other(&vec![0u8; psk.len()], psk)
}

/// Premaster secret for ECDHE_PSK: the ECDH shared secret as `other_secret`.
pub fn premaster_with_other(other: &[u8], psk: &[u8]) -> SecretVec {
    let mut v = Vec::with_capacity(4 + other.len() + psk.len());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v.extend_from_slice(&(psk.len() as u16).to_be_bytes());
    v.extend_from_slice(psk);
    SecretVec::new(v)
}

/// Extended master secret: PRF(pms, "extended master secret", session_hash).
pub fn extended_master_secret(premaster: &SecretVec, session_hash: &[u8; 32]) -> Secret<48> {
    let mut ms = Zeroizing::new([0u8; 48]);
    prf(
        premaster.expose(),
        b"extended master secret",
        session_hash,
        ms.as_mut(),
    );
    Secret::new(*ms)
}

/// RFC 5246 §8.1 master secret: PRF(pms, "master secret", client_random + server_random).
/// Only for a peer without RFC 7627 under [`crate::EmsPolicy::Preferred`].
pub fn legacy_master_secret(
    premaster: &SecretVec,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Secret<48> {
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(client_random);
    seed[32..].copy_from_slice(server_random);
    let mut ms = Zeroizing::new([0u8; 48]);
    prf(premaster.expose(), b"master secret", &seed, ms.as_mut());
    Secret::new(*ms)
}

/// Traffic keys for a 16-byte-key AEAD suite with a 4-byte implicit IV (salt).
#[derive(Debug, Clone)]
pub struct KeyBlock {
    /// client_write_key.
    pub client_key: Secret<16>,
    /// server_write_key.
    pub server_key: Secret<16>,
    /// client_write_IV (salt).
    pub client_iv: Secret<4>,
    /// server_write_IV (salt).
    pub server_iv: Secret<4>,
}

/// Key block: PRF(master, "key expansion", server_random || client_random).
pub fn key_block(
    master: &Secret<48>,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> KeyBlock {
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(server_random);
    seed[32..].copy_from_slice(client_random);
    let mut kb = Zeroizing::new([0u8; 40]);
    prf(master.expose(), b"key expansion", &seed, kb.as_mut());
    let k = |r: std::ops::Range<usize>| kb[r].to_vec();
    KeyBlock {
        client_key: Secret::from_slice(&k(0..16)).unwrap_or_else(|| Secret::new([0; 16])),
        server_key: Secret::from_slice(&k(16..32)).unwrap_or_else(|| Secret::new([0; 16])),
        client_iv: Secret::from_slice(&k(32..36)).unwrap_or_else(|| Secret::new([0; 4])),
        server_iv: Secret::from_slice(&k(36..40)).unwrap_or_else(|| Secret::new([0; 4])),
    }
}

/// Finished.verify_data: PRF(master, label, Hash(handshake_messages))[..12].
pub fn verify_data(master: &Secret<48>, client: bool, transcript_hash: &[u8; 32]) -> [u8; 12] {
    let label: &[u8] = if client {
        b"client finished"
    } else {
        b"server finished"
    };
    let mut out = [0u8; 12];
    prf(master.expose(), label, transcript_hash, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TLS 1.2 P_SHA256 vector circulated on the IETF TLS list (msg03416), also what
    /// `openssl kdf -kdfopt digest:SHA2-256 ... TLS1-PRF` prints.
    #[test]
    fn prf_sha256_known_answer() {
        let secret = hex::decode("9bbe436ba940f017b17652849a71db35").unwrap();
        let seed = hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap();
        let want = hex::decode(
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a\
             6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab\
             4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701\
             87347b66",
        )
        .unwrap();
        let mut out = vec![0u8; 100];
        prf(&secret, b"test label", &seed, &mut out);
        assert_eq!(out, want);
    }

    #[test]
    fn psk_premaster_layout() {
        let pms = premaster_psk(&[0xAA, 0xBB]);
        assert_eq!(pms.expose(), &[0, 2, 0, 0, 0, 2, 0xAA, 0xBB]);
    }
}
