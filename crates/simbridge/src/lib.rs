//! simbridge: a UICC-anchored DTLS-PSK bridge for cellular IoT gateways.
//!
//! The SIM is the root of trust: the bridge runs 3GPP AKA on the card, derives per-server
//! pre-shared keys the GBA way (TS 33.220 / 33.222 / 24.109) and keeps long-lived DTLS sessions
//! keyed by them. This crate is what a gateway links; the DTLS engine is its own crate
//! ([`simbridge_dtls`], re-exported as [`dtls`]), the software SIM and the emulated BSF live in
//! `simbridge-lab`, the command line in `simbridge-cli`.
//!
//! Dependencies flow one way:
//!
//! ```text
//! bridge (gateway and server I/O loops), status
//!    └─> upstream (session policy: when to bootstrap, resume, re-key)
//!          ├─> dtls (simbridge-dtls: sans-IO DTLS 1.2 engine)
//!          └─> gba (Ub client, key derivation, key API client)
//!                └─> uicc (USIM/ISIM applications, PIN) ─> card (PC/SC, modem, vpcd channels)
//!                └─> aka (Milenage, SQN)
//! ```

#![warn(missing_docs)]

pub mod aka;
pub mod bridge;
pub mod card;
pub mod error_chain;
pub mod fsutil;
pub mod gba;
pub mod status;
pub mod uicc;
pub mod upstream;

/// The DTLS engine this library drives (the `simbridge-dtls` crate).
pub use simbridge_dtls as dtls;
/// Key material that zeroizes itself (shared with the DTLS engine, which takes the keys).
pub use simbridge_dtls::secret;
