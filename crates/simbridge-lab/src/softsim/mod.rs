//! Software USIM for tests, demos and labs: Milenage, the TS 33.102 Annex C SQN array, a minimal
//! file system and the GBA_U context, reachable in process or through a real pcscd (vpcd).
//!
//! It is a test instrument: its keys come from a profile file in clear, so it must not stand in for
//! a real card outside tests, demos and labs.

pub mod profile;

pub use profile::{Profile, ProfileError};
pub mod fs;
pub mod gba_u;
pub mod state;
pub mod usim;

pub use usim::{SoftSimError, SoftUsim};
pub mod modem;
pub mod vpcd;

#[cfg(test)]
mod uicc_pin_tests;
