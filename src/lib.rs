//! The `simbridge` command: argument parsing ([`cli`]), configuration files ([`config`]) and
//! logging set-up. The logic lives in the library crates (`simbridge`, `simbridge-dtls`,
//! `simbridge-lab`, `simbridge-energy`); this crate is a thin user of them.

#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
