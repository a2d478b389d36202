//! The software USIM as a virtual AT modem on a real pty (`simbridge softsim modem`).
//!
//! A host (simbridge `--modem PATH`, minicom, pySim ...) opens the printed device path and talks
//! TS 27.007 to it; SIM commands reach the card behind a [`simbridge::card::CardChannel`] (normally
//! the software USIM). The modem imitates one row of the `modem-at` quirks table, so the client's
//! handling of every known quirk is exercised against something real. For labs and tests only.

pub mod pty;
pub mod server;

pub use pty::{Control, ServeOptions, VirtualModemError, serve};
pub use server::{AtServer, Reply};

#[cfg(test)]
mod server_tests;
