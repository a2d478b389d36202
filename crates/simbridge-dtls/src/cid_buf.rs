//! [`CidBuf`]: a Connection ID held inline when short, so that a connection's two CIDs and the
//! endpoint's routing key cost no allocation each (the server's CIDs are 4 bytes by default, a
//! device's usually 0–8; RFC 9146 allows up to 255).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// CIDs up to this length are stored inline.
const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

/// A Connection ID (any length; up to 22 bytes without allocating). Hashes and
/// compares as its bytes, so a map keyed by it is looked up with a `&[u8]`.
#[derive(Clone)]
pub struct CidBuf(Repr);

impl CidBuf {
    /// The empty CID.
    pub const fn empty() -> Self {
        Self(Repr::Inline {
            len: 0,
            bytes: [0; INLINE],
        })
    }

    /// The CID's bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Repr::Heap(b) => b,
        }
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True for the empty CID.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl Default for CidBuf {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<&[u8]> for CidBuf {
    fn from(b: &[u8]) -> Self {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                if let Some(dst) = bytes.get_mut(..b.len()) {
                    dst.copy_from_slice(b);
                }
                Self(Repr::Inline { len, bytes })
            }
            _ => Self(Repr::Heap(b.into())),
        }
    }
}

impl PartialEq for CidBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CidBuf {}

impl Hash for CidBuf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // the same hash as the `[u8]` it borrows as (HashMap lookups by slice rely on it)
        self.as_slice().hash(state);
    }
}

impl Borrow<[u8]> for CidBuf {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::fmt::Debug for CidBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CidBuf({})", hex::encode(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_and_long_cids_round_trip_and_key_a_map_by_slice() {
        for len in [0usize, 1, 4, INLINE, INLINE + 1, 255] {
            let v: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5A).collect();
            let c = CidBuf::from(v.as_slice());
            assert_eq!(c.as_slice(), v.as_slice(), "len {len}");
            assert_eq!(c.len(), len);
            assert_eq!(c.is_empty(), len == 0);
            assert_eq!(matches!(c.0, Repr::Inline { .. }), len <= INLINE);
            let mut m = HashMap::new();
            m.insert(c.clone(), len);
            assert_eq!(m.get(v.as_slice()), Some(&len));
        }
        assert_ne!(CidBuf::from(&[1u8][..]), CidBuf::from(&[1u8, 0][..]));
        assert_eq!(std::mem::size_of::<CidBuf>(), 24);
    }
}
