//! Cryptography: the TLS 1.2 PRF and key schedule, AEAD record protection, P-256 ECDHE.

pub mod aead;
pub mod ccm;
#[cfg(test)]
mod ccm_tests;
pub mod ecdhe;
pub mod gcm;
#[cfg(test)]
mod gcm_tests;
pub mod prf;
#[cfg(test)]
mod test_rng;
