//! Connection ID generation (RFC 9146). A server endpoint routes tls12_cid records by the CID it
//! handed out, so all its CIDs have one length; a cluster can plug in a generator that encodes a
//! node id (the load balancer then routes by those bytes).

use super::rng::{DtlsRng, RngError};
use super::wire::record::MAX_CID;

/// Default length of the server's CIDs: 4 bytes (RFC 9146 leaves it to the server; 4–6 is the
/// usual choice, Mbed TLS and wolfSSL deployments use 4).
pub const DEFAULT_SERVER_CID_LEN: usize = 4;

/// Makes the Connection IDs a server endpoint hands out.
pub trait CidGenerator: Send + Sync {
    /// Length of every CID this generator makes (0: "I need none": the peer sends plain
    /// records and the endpoint routes it by address).
    fn cid_len(&self) -> usize;
    /// A new CID of `cid_len()` bytes. The endpoint asks again when it collides with one in use.
    fn generate(&self, rng: &dyn DtlsRng) -> Result<Vec<u8>, RngError>;
}

/// Random CIDs of a fixed length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomCid {
    len: usize,
}

impl RandomCid {
    /// Random CIDs of `len` bytes (capped at 255, the wire limit).
    pub fn new(len: usize) -> Self {
        Self {
            len: len.min(MAX_CID),
        }
    }
}

impl Default for RandomCid {
    fn default() -> Self {
        Self::new(DEFAULT_SERVER_CID_LEN)
    }
}

impl CidGenerator for RandomCid {
    fn cid_len(&self) -> usize {
        self.len
    }

    fn generate(&self, rng: &dyn DtlsRng) -> Result<Vec<u8>, RngError> {
        let mut cid = vec![0u8; self.len];
        rng.fill(&mut cid)?;
        Ok(cid)
    }
}

/// CIDs that start with a fixed prefix (a node id in a cluster) followed by random bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixedCid {
    prefix: Vec<u8>,
    random_len: usize,
}

impl PrefixedCid {
    /// CIDs `prefix || random_len random bytes` (the total is capped at 255).
    pub fn new(prefix: Vec<u8>, random_len: usize) -> Self {
        let random_len = random_len.min(MAX_CID.saturating_sub(prefix.len()));
        let mut prefix = prefix;
        prefix.truncate(MAX_CID);
        Self { prefix, random_len }
    }
}

impl CidGenerator for PrefixedCid {
    fn cid_len(&self) -> usize {
        self.prefix.len() + self.random_len
    }

    fn generate(&self, rng: &dyn DtlsRng) -> Result<Vec<u8>, RngError> {
        let mut cid = self.prefix.clone();
        let mut r = vec![0u8; self.random_len];
        rng.fill(&mut r)?;
        cid.extend_from_slice(&r);
        Ok(cid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn generators_make_cids_of_their_length() {
        let rng = SeededRng::new(1);
        let r = RandomCid::new(6);
        let a = r.generate(&rng).unwrap();
        let b = r.generate(&rng).unwrap();
        assert_eq!(a.len(), 6);
        assert_ne!(a, b);
        let p = PrefixedCid::new(vec![0x0E], 3);
        let c = p.generate(&rng).unwrap();
        assert_eq!(p.cid_len(), 4);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], 0x0E);
        assert_eq!(RandomCid::new(0).generate(&rng).unwrap(), Vec::<u8>::new());
    }
}
