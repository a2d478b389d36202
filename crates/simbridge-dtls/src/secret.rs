//! Key material that zeroizes on drop and never shows its bytes in `Debug` output.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A fixed-size secret (a key, CK, IK, Ks, Ks_NAF ...).
///
/// `Debug` prints only the length; the bytes are wiped when the value is dropped. Use
/// [`Secret::expose`] where the bytes are really needed (a KDF, a cipher, `--reveal`).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Secret<const N: usize>([u8; N]);

impl<const N: usize> Secret<N> {
    /// Wraps bytes as a secret.
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// Copies a slice of exactly `N` bytes; `None` when the length differs.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; N] = bytes.try_into().ok()?;
        Some(Self(arr))
    }

    /// The secret bytes. Callers must not log them.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret<{N}>(..)")
    }
}

/// A secret of variable length (a PSK, a RES that doubles as a password).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq, Default)]
pub struct SecretVec(Vec<u8>);

impl SecretVec {
    /// Wraps bytes as a secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Callers must not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for SecretVec {
    fn from(b: &[u8]) -> Self {
        Self(b.to_vec())
    }
}

impl fmt::Debug for SecretVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretVec({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_bytes() {
        let s = Secret::new([0xAB; 16]);
        let shown = format!("{s:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        let v = SecretVec::new(vec![0xCD; 4]);
        assert!(!format!("{v:?}").to_lowercase().contains("cd"));
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(Secret::<4>::from_slice(&[1, 2, 3]).is_none());
        assert_eq!(
            Secret::<3>::from_slice(&[1, 2, 3]).map(|s| *s.expose()),
            Some([1, 2, 3])
        );
    }
}
