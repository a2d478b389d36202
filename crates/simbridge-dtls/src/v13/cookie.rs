//! The stateless cookie a DTLS 1.3 server puts in its HelloRetryRequest (RFC 9147 §5.1,
//! RFC 8446 §4.2.2), so that it keeps nothing for a ClientHello until the client has shown it
//! can receive at its address — and looks no key up (a BSF request for a GBA identity) before.
//!
//! The server needs the first ClientHello's hash back to rebuild the transcript
//! (`message_hash`, RFC 8446 §4.4.1) and what it chose (suite, group), so the cookie carries
//! them in the clear, with the time it was made, under a MAC bound to the client's address:
//!
//! ```text
//! version(1) = 1 | issued(4, seconds) | suite(2) | group(2, 0 = none) | Hash(ClientHello1)(32) | MAC(16)
//! MAC = HMAC-SHA-256(key, address | the 41 bytes before it), truncated
//! ```
//!
//! 57 bytes, 63 with its extension header (wolfSSL's extension is 69). A cookie is good for
//! [`COOKIE_LIFETIME_SECS`]; the key is the caller's to rotate (the previous one can stay valid
//! for one lifetime).

use std::net::{IpAddr, SocketAddr};

use subtle::ConstantTimeEq;

use super::key_schedule::HASH_LEN;
use crate::crypto::prf::hmac;
use crate::secret::Secret;

/// How long a cookie is accepted after it was made.
pub const COOKIE_LIFETIME_SECS: u64 = 60;
/// The cookie's length on the wire.
pub const COOKIE_LEN: usize = 1 + 4 + 2 + 2 + HASH_LEN + MAC_LEN;
const MAC_LEN: usize = 16;
const VERSION: u8 = 1;

/// What a cookie remembers of the first ClientHello and of the server's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieContents {
    /// SHA-256 of the first ClientHello (its 4-byte TLS header and body).
    pub hello_hash: [u8; HASH_LEN],
    /// The cipher suite the HelloRetryRequest named.
    pub suite: u16,
    /// The group whose key share the HelloRetryRequest asked for, if it asked for one.
    pub group: Option<u16>,
    /// When it was made (seconds on the server's clock, low 32 bits).
    pub issued: u32,
}

/// Why a cookie was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// Not one of ours: wrong length, version or MAC (another address, or forged).
    #[error("cookie not made by this server for this address")]
    Invalid,
    /// Made more than [`COOKIE_LIFETIME_SECS`] ago, or in the future.
    #[error("cookie expired")]
    Expired,
}

/// The cookie MAC keys: the current one and, after a rotation, the previous one.
pub struct CookieKey13 {
    current: Secret<32>,
    previous: Option<Secret<32>>,
}

impl std::fmt::Debug for CookieKey13 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey13(..)")
    }
}

fn address_bytes(addr: &SocketAddr) -> Vec<u8> {
    let mut b = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    b.extend_from_slice(&addr.port().to_be_bytes());
    b
}

fn mac(key: &Secret<32>, addr: &SocketAddr, body: &[u8]) -> [u8; 32] {
    hmac(key.expose(), &[&address_bytes(addr), body])
}

impl CookieKey13 {
    /// A key (32 random bytes from the caller's RNG).
    pub fn new(key: Secret<32>) -> Self {
        Self {
            current: key,
            previous: None,
        }
    }

    /// A new current key; cookies made under the old one stay good until they expire.
    pub fn rotate(&mut self, key: Secret<32>) {
        self.previous = Some(std::mem::replace(&mut self.current, key));
    }

    /// The cookie for a client at `addr`.
    pub fn mint(&self, c: &CookieContents, addr: &SocketAddr) -> Vec<u8> {
        let mut out = Vec::with_capacity(COOKIE_LEN);
        out.push(VERSION);
        out.extend_from_slice(&c.issued.to_be_bytes());
        out.extend_from_slice(&c.suite.to_be_bytes());
        out.extend_from_slice(&c.group.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&c.hello_hash);
        let tag = mac(&self.current, addr, &out);
        out.extend_from_slice(&tag[..MAC_LEN]);
        out
    }

    /// The contents of a cookie the client at `addr` sent back at `now_secs`.
    pub fn open(
        &self,
        cookie: &[u8],
        addr: &SocketAddr,
        now_secs: u64,
    ) -> Result<CookieContents, CookieError> {
        if cookie.len() != COOKIE_LEN || cookie[0] != VERSION {
            return Err(CookieError::Invalid);
        }
        let (body, tag) = cookie.split_at(COOKIE_LEN - MAC_LEN);
        let good = |k: &Secret<32>| bool::from(mac(k, addr, body)[..MAC_LEN].ct_eq(tag));
        if !good(&self.current) && !self.previous.as_ref().is_some_and(good) {
            return Err(CookieError::Invalid);
        }
        let issued = u32::from_be_bytes([body[1], body[2], body[3], body[4]]);
        // the clock's low 32 bits: the age is the difference modulo 2^32
        let age = (now_secs as u32).wrapping_sub(issued);
        if u64::from(age) > COOKIE_LIFETIME_SECS {
            return Err(CookieError::Expired);
        }
        let group = u16::from_be_bytes([body[7], body[8]]);
        let mut hello_hash = [0u8; HASH_LEN];
        hello_hash.copy_from_slice(&body[9..9 + HASH_LEN]);
        Ok(CookieContents {
            hello_hash,
            suite: u16::from_be_bytes([body[5], body[6]]),
            group: (group != 0).then_some(group),
            issued,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents() -> CookieContents {
        CookieContents {
            hello_hash: [7; HASH_LEN],
            suite: 0x1305,
            group: Some(0x001d),
            issued: 1000,
        }
    }

    #[test]
    fn a_cookie_opens_only_for_its_address_its_key_and_its_lifetime() {
        let a: SocketAddr = "192.0.2.1:5684".parse().expect("addr");
        let b: SocketAddr = "192.0.2.1:5685".parse().expect("addr");
        let key = CookieKey13::new(Secret::new([1; 32]));
        let c = key.mint(&contents(), &a);
        assert_eq!(c.len(), COOKIE_LEN);
        assert_eq!(COOKIE_LEN, 57);
        assert_eq!(key.open(&c, &a, 1000), Ok(contents()));
        assert_eq!(key.open(&c, &a, 1060), Ok(contents()));
        assert_eq!(key.open(&c, &a, 1061), Err(CookieError::Expired));
        assert_eq!(key.open(&c, &a, 999), Err(CookieError::Expired));
        assert_eq!(key.open(&c, &b, 1000), Err(CookieError::Invalid));
        for i in 0..c.len() {
            let mut bad = c.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                key.open(&bad, &a, 1000),
                Err(CookieError::Invalid),
                "byte {i}"
            );
        }
        assert_eq!(key.open(&c[1..], &a, 1000), Err(CookieError::Invalid));
        let other = CookieKey13::new(Secret::new([2; 32]));
        assert_eq!(other.open(&c, &a, 1000), Err(CookieError::Invalid));
    }

    #[test]
    fn after_a_rotation_the_previous_key_still_opens_and_the_one_before_does_not() {
        let a: SocketAddr = "[2001:db8::1]:5684".parse().expect("addr");
        let mut key = CookieKey13::new(Secret::new([1; 32]));
        let old = key.mint(&contents(), &a);
        key.rotate(Secret::new([2; 32]));
        assert!(key.open(&old, &a, 1001).is_ok());
        let newer = key.mint(&contents(), &a);
        key.rotate(Secret::new([3; 32]));
        assert_eq!(key.open(&old, &a, 1001), Err(CookieError::Invalid));
        assert!(key.open(&newer, &a, 1001).is_ok());
        let no_group = CookieContents {
            group: None,
            issued: u32::MAX,
            ..contents()
        };
        // the clock's low bits wrap: one second later is still one second
        let c = key.mint(&no_group, &a);
        assert_eq!(key.open(&c, &a, 1u64 << 32), Ok(no_group));
    }
}
