//! The emulated network side of GBA: an HSS/AuC that generates authentication vectors from
//! sim-profiles, a BSF that serves Ub (HTTP Digest AKA, TS 24.109) and stores bootstrapping
//! contexts, and a key API for servers (NAFs) modelled on Nbsp_GBA (TS 29.309).
//!
//! The logic ([`hss`], [`ub`], [`keyapi`], [`store`]) takes `now` as an input and owns no socket;
//! [`server`] is the HTTP loop on `tiny_http`.
//!
//! Not required by the client: a real operator BSF works with [`simbridge::gba`] as well.

pub mod hss;
pub mod keyapi;
pub mod nafs;
pub mod server;
pub mod store;
pub mod tls_front;
pub mod ub;

pub use hss::Hss;
pub use keyapi::{KEY_API_PATH, KeyApi, KeyRequest, KeyResponse};
pub use nafs::{NafCredential, NafScope};
pub use server::{BsfConfig, BsfServer};
pub use store::{ContextStore, Lookup, StoredBootstrap};
pub use ub::{Reply, UbService, UbSettings};

use std::path::PathBuf;

/// Errors of the network side.
#[derive(Debug, thiserror::Error)]
pub enum BsfError {
    /// A subscriber profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] crate::softsim::ProfileError),
    /// The profiles directory holds no profile, or two profiles claim one IMPI.
    #[error("profiles: {0}")]
    Profiles(String),
    /// Reading or writing the state directory failed.
    #[error("state {path}: {message}")]
    State {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The IMPI is not a known subscriber.
    #[error("unknown IMPI")]
    UnknownImpi,
    /// AUTS did not verify (MAC-S).
    #[error("AUTS does not verify")]
    BadAuts,
    /// The token file is unreadable or empty.
    #[error("token file {path}: {message}")]
    Token {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The `--nafs` file is unreadable or invalid.
    #[error("NAF credentials {path}: {message}")]
    Nafs {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the entry and key).
        message: String,
    },
    /// The HTTPS certificate or key could not be loaded.
    #[error("TLS {path}: {message}")]
    Tls {
        /// The certificate or key file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        message: String,
    },
    /// The operating system's random generator failed.
    #[error("random generator failed: {0}")]
    Random(String),
    /// A GBA computation failed.
    #[error(transparent)]
    Gba(#[from] simbridge::gba::GbaError),
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], BsfError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| BsfError::Random(e.to_string()))?;
    Ok(b)
}
