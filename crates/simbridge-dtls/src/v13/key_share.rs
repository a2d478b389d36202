//! (EC)DHE for `psk_dhe_ke` (RFC 8446 §4.2.7, §4.2.8, §7.4): the named groups X25519 and
//! secp256r1, the `supported_groups` and `key_share` extensions, and one ephemeral share.
//!
//! With an external PSK alone (`psk_ke`) a stolen Ks_NAF opens every recorded session keyed
//! from it; `psk_dhe_ke` adds an ephemeral key agreement so that it does not (forward secrecy),
//! at 32 (X25519) or 65 (P-256) bytes each way and one scalar multiplication per side.
//!
//! X25519 comes from `x25519-dalek` (the scalar is drawn by the caller's RNG, so no `rand_core`
//! is pulled in); P-256 from the crate's DTLS 1.2 ECDHE-PSK key (`crypto::ecdhe`).

use crate::crypto::ecdhe::EphemeralKey;
use crate::rng::{DtlsRng, RngError};
use crate::secret::Secret;
use crate::wire::codec::{Reader, put_u16, put_vec16};
use crate::wire::{Field, WireError};

/// The supported_groups extension.
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
/// The key_share extension.
pub const EXT_KEY_SHARE: u16 = 51;
/// X25519 (RFC 8446 §4.2.7).
pub const X25519: u16 = 0x001d;
/// secp256r1 (P-256).
pub const SECP256R1: u16 = 0x0017;
/// The groups this crate implements, in the order a constrained device prefers them (X25519:
/// 32-byte shares, P-256: 65).
pub const GROUPS: [u16; 2] = [X25519, SECP256R1];

/// Whether `group` is one this crate implements.
pub fn is_supported(group: u16) -> bool {
    GROUPS.contains(&group)
}

/// A key agreement that could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyShareError {
    /// The peer's share is not a valid point of its group, or gives the all-zero X25519
    /// result (RFC 8446 §7.4.2).
    #[error("invalid key share")]
    BadShare,
    /// The RNG failed.
    #[error(transparent)]
    Rng(#[from] RngError),
}

/// Our ephemeral private key for one group; zeroized on drop.
pub enum EphemeralShare {
    /// An X25519 scalar.
    X25519(x25519_dalek::StaticSecret),
    /// A P-256 scalar.
    P256(EphemeralKey),
}

impl std::fmt::Debug for EphemeralShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EphemeralShare({:#06x})", self.group())
    }
}

impl EphemeralShare {
    /// A fresh key in `group` (one of [`GROUPS`]).
    pub fn generate(group: u16, rng: &dyn DtlsRng) -> Result<Self, KeyShareError> {
        match group {
            X25519 => {
                let mut b = zeroize::Zeroizing::new([0u8; 32]);
                rng.fill(b.as_mut())?;
                Ok(Self::X25519(x25519_dalek::StaticSecret::from(*b)))
            }
            SECP256R1 => Ok(Self::P256(EphemeralKey::generate(rng)?)),
            _ => Err(KeyShareError::BadShare),
        }
    }

    /// The named group.
    pub fn group(&self) -> u16 {
        match self {
            Self::X25519(_) => X25519,
            Self::P256(_) => SECP256R1,
        }
    }

    /// The public share as it goes in a KeyShareEntry: 32 bytes (X25519) or an uncompressed
    /// SEC1 point of 65 bytes (P-256, RFC 8446 §4.2.8.2).
    pub fn public(&self) -> Vec<u8> {
        match self {
            Self::X25519(s) => x25519_dalek::PublicKey::from(s).as_bytes().to_vec(),
            Self::P256(k) => k.public_point(),
        }
    }

    /// The shared secret with the peer's share of the same group.
    pub fn agree(&self, peer: &[u8]) -> Result<Secret<32>, KeyShareError> {
        match self {
            Self::X25519(s) => {
                let p: [u8; 32] = peer.try_into().map_err(|_| KeyShareError::BadShare)?;
                let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(p));
                if !shared.was_contributory() {
                    return Err(KeyShareError::BadShare);
                }
                Ok(Secret::new(*shared.as_bytes()))
            }
            Self::P256(k) => {
                // RFC 8446 §4.2.8.2: uncompressed points only
                if peer.first() != Some(&4) {
                    return Err(KeyShareError::BadShare);
                }
                k.agree(peer).map_err(|_| KeyShareError::BadShare)
            }
        }
    }
}

/// One KeyShareEntry: (group, key_exchange).
pub type Entry = (u16, Vec<u8>);

/// Appends one KeyShareEntry.
pub fn put_entry(out: &mut Vec<u8>, group: u16, key_exchange: &[u8]) {
    put_u16(out, group);
    put_vec16(out, key_exchange);
}

/// The ClientHello's key_share data: `client_shares<0..2^16-1>`.
pub fn encode_client_shares(shares: &[EphemeralShare]) -> Vec<u8> {
    let mut list = Vec::new();
    for s in shares {
        put_entry(&mut list, s.group(), &s.public());
    }
    let mut out = Vec::with_capacity(list.len() + 2);
    put_vec16(&mut out, &list);
    out
}

/// Parses the ClientHello's key_share data; a group offered twice is refused (RFC 8446
/// §4.2.8).
pub fn parse_client_shares(data: &[u8]) -> Result<Vec<Entry>, WireError> {
    let mut r = Reader::new(data);
    let mut list = Reader::new(r.vec16(Field::KeyShare)?);
    r.finish(Field::KeyShare)?;
    let mut out: Vec<Entry> = Vec::new();
    while !list.is_empty() {
        let group = list.u16(Field::KeyShare)?;
        let key = list.vec16(Field::KeyShare)?;
        if key.is_empty() || out.iter().any(|(g, _)| *g == group) {
            return Err(WireError::Invalid(Field::KeyShare));
        }
        out.push((group, key.to_vec()));
    }
    Ok(out)
}

/// The supported_groups data for `groups`.
pub fn encode_groups(groups: &[u16]) -> Vec<u8> {
    let list: Vec<u8> = groups.iter().flat_map(|g| g.to_be_bytes()).collect();
    let mut out = Vec::with_capacity(list.len() + 2);
    put_vec16(&mut out, &list);
    out
}

/// Parses supported_groups (`named_group_list<2..2^16-1>`).
pub fn parse_groups(data: &[u8]) -> Result<Vec<u16>, WireError> {
    let mut r = Reader::new(data);
    let list = r.vec16(Field::SupportedGroups)?;
    r.finish(Field::SupportedGroups)?;
    if list.is_empty() || list.len() % 2 != 0 {
        return Err(WireError::Invalid(Field::SupportedGroups));
    }
    Ok(list
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn both_groups_agree_and_refuse_bad_shares() {
        let rng = SeededRng::new(7);
        for g in GROUPS {
            let a = EphemeralShare::generate(g, &rng).expect("key");
            let b = EphemeralShare::generate(g, &rng).expect("key");
            assert_eq!(a.group(), g);
            let (pa, pb) = (a.public(), b.public());
            assert_eq!(pa.len(), if g == X25519 { 32 } else { 65 });
            assert_eq!(
                a.agree(&pb).expect("agree").expose(),
                b.agree(&pa).expect("agree").expose()
            );
            assert_eq!(a.agree(&pb[1..]).map(|_| ()), Err(KeyShareError::BadShare));
        }
        // the X25519 low-order point 0 gives the all-zero result: refused
        let x = EphemeralShare::generate(X25519, &rng).expect("key");
        assert_eq!(x.agree(&[0; 32]).map(|_| ()), Err(KeyShareError::BadShare));
        // a compressed P-256 point is not allowed in TLS 1.3
        let p = EphemeralShare::generate(SECP256R1, &rng).expect("key");
        let mut compressed = p.public()[..33].to_vec();
        compressed[0] = 2;
        assert_eq!(
            p.agree(&compressed).map(|_| ()),
            Err(KeyShareError::BadShare)
        );
        assert!(EphemeralShare::generate(0x0018, &rng).is_err());
    }

    #[test]
    fn extensions_round_trip_and_bad_lists_name_the_field() {
        let rng = SeededRng::new(8);
        let shares = [
            EphemeralShare::generate(X25519, &rng).expect("key"),
            EphemeralShare::generate(SECP256R1, &rng).expect("key"),
        ];
        let data = encode_client_shares(&shares);
        // 2 + (4 + 32) + (4 + 65)
        assert_eq!(data.len(), 107);
        let parsed = parse_client_shares(&data).expect("parse");
        assert_eq!(parsed[0], (X25519, shares[0].public()));
        assert_eq!(parsed[1], (SECP256R1, shares[1].public()));
        for cut in 0..data.len() {
            assert!(parse_client_shares(&data[..cut]).is_err(), "cut {cut}");
        }
        let mut twice = Vec::new();
        put_entry(&mut twice, X25519, &[1; 32]);
        put_entry(&mut twice, X25519, &[2; 32]);
        let mut dup = Vec::new();
        put_vec16(&mut dup, &twice);
        assert_eq!(
            parse_client_shares(&dup),
            Err(WireError::Invalid(Field::KeyShare))
        );
        assert_eq!(parse_client_shares(&[0, 0]), Ok(Vec::new()));
        assert_eq!(parse_groups(&encode_groups(&GROUPS)), Ok(GROUPS.to_vec()));
        assert_eq!(
            parse_groups(&[0, 0]),
            Err(WireError::Invalid(Field::SupportedGroups))
        );
        assert_eq!(
            parse_groups(&[0, 3, 0, 0x1d, 0]),
            Err(WireError::Invalid(Field::SupportedGroups))
        );
    }
}
