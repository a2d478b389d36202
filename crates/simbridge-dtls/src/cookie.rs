//! Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1): HMAC-SHA256 over the client's
//! address and its ClientHello (everything but the cookie), truncated to 16 bytes, under a
//! secret that rotates; the previous secret stays valid for one period.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::rng::{DtlsRng, RngError};
use crate::secret::Secret;
use crate::wire::hello::ClientHello;

/// Cookie length on the wire.
pub const COOKIE_LEN: usize = 16;

/// Current and previous cookie secrets.
#[derive(Debug)]
pub struct CookieKeys {
    current: Secret<32>,
    previous: Option<Secret<32>>,
    rotated_at: Option<Instant>,
    period: Duration,
}

impl CookieKeys {
    /// Fresh keys from `rng`.
    pub fn new(rng: &dyn DtlsRng, period: Duration) -> Result<Self, RngError> {
        let mut k = [0u8; 32];
        rng.fill(&mut k)?;
        Ok(Self {
            current: Secret::new(k),
            previous: None,
            rotated_at: None,
            period,
        })
    }

    /// Rotates the secret when a period has passed.
    pub fn maybe_rotate(&mut self, now: Instant, rng: &dyn DtlsRng) {
        match self.rotated_at {
            None => self.rotated_at = Some(now),
            Some(t) if now.saturating_duration_since(t) >= self.period => {
                let mut k = [0u8; 32];
                if rng.fill(&mut k).is_ok() {
                    self.previous = Some(std::mem::replace(&mut self.current, Secret::new(k)));
                    self.rotated_at = Some(now);
                }
            }
            Some(_) => {}
        }
    }

    fn mac(key: &Secret<32>, addr: &SocketAddr, ch: &ClientHello) -> [u8; COOKIE_LEN] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
            .expect("HMAC takes any key length");
        match addr.ip() {
            IpAddr::V4(a) => m.update(&a.octets()),
            IpAddr::V6(a) => m.update(&a.octets()),
        }
        m.update(&addr.port().to_be_bytes());
        m.update(&ch.cookie_input());
        let full = m.finalize().into_bytes();
        let mut out = [0u8; COOKIE_LEN];
        out.copy_from_slice(&full[..COOKIE_LEN]);
        out
    }

    /// The cookie for this client and hello.
    pub fn make(&self, addr: &SocketAddr, ch: &ClientHello) -> Vec<u8> {
        Self::mac(&self.current, addr, ch).to_vec()
    }

    /// True when `ch.cookie` was made by us for this address and these hello parameters.
    pub fn verify(&self, addr: &SocketAddr, ch: &ClientHello) -> bool {
        if ch.cookie.len() != COOKIE_LEN {
            return false;
        }
        let ok_cur = bool::from(Self::mac(&self.current, addr, ch).ct_eq(ch.cookie.as_slice()));
        let ok_prev = self
            .previous
            .as_ref()
            .is_some_and(|p| bool::from(Self::mac(p, addr, ch).ct_eq(ch.cookie.as_slice())));
        ok_cur || ok_prev
    }
}
