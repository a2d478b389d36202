//! P-256 ephemeral key agreement for ECDHE_PSK (RFC 5489, RFC 8442).

use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};

use crate::rng::{DtlsRng, RngError};
use crate::secret::Secret;

/// An ephemeral P-256 key pair (the secret zeroizes on drop).
pub struct EphemeralKey {
    secret: SecretKey,
}

impl std::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EphemeralKey(..)")
    }
}

/// The peer's point was not a valid P-256 point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid P-256 public key")]
pub struct BadPoint;

impl EphemeralKey {
    /// Draws a fresh key from `rng` (rejection sampling for the rare out-of-range scalar).
    pub fn generate(rng: &dyn DtlsRng) -> Result<Self, RngError> {
        for _ in 0..16 {
            let mut b = zeroize::Zeroizing::new([0u8; 32]);
            rng.fill(b.as_mut())?;
            if let Ok(secret) = SecretKey::from_slice(b.as_ref()) {
                return Ok(Self { secret });
            }
        }
        Err(RngError)
    }

    /// Our public key, uncompressed SEC1 (65 bytes).
    pub fn public_point(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    /// The shared x-coordinate with the peer's uncompressed point.
    pub fn agree(&self, peer_point: &[u8]) -> Result<Secret<32>, BadPoint> {
        let peer = PublicKey::from_sec1_bytes(peer_point).map_err(|_| BadPoint)?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        Secret::from_slice(shared.raw_secret_bytes().as_slice()).ok_or(BadPoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn both_sides_agree_and_bad_points_fail() {
        let rng = SeededRng::new(1);
        let a = EphemeralKey::generate(&rng).unwrap();
        let b = EphemeralKey::generate(&rng).unwrap();
        let pa = a.public_point();
        assert_eq!(pa.len(), 65);
        assert_eq!(a.agree(&b.public_point()).unwrap(), b.agree(&pa).unwrap());
        let mut bad = pa.clone();
        bad[40] ^= 1;
        assert!(b.agree(&bad).is_err());
        assert!(b.agree(&[4; 65]).is_err());
    }
}
