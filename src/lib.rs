//! simbridge: a UICC-anchored DTLS-PSK bridge for cellular IoT gateways.
//!
//! The SIM is the root of trust: the bridge runs 3GPP AKA on the card, derives per-server
//! pre-shared keys the GBA way (TS 33.220 / 33.222 / 24.109) and keeps long-lived DTLS sessions
//! keyed by them. Dependencies flow one way: cli -> bridge/server -> session -> {dtls, gba} ->
//! uicc -> card channel.

pub mod aka;
pub mod bridge;
pub mod bsf;
pub mod card;
pub mod dtls;
pub mod energy;
pub mod error_chain;
pub mod fsutil;
pub mod gba;
pub mod perf;
pub mod secret;
pub mod session;
pub mod softsim;
pub mod status;
pub mod uicc;
