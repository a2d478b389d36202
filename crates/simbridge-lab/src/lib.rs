//! The simbridge lab: everything that lets the whole chain run on one machine without an
//! operator. A software USIM/ISIM ([`softsim`]) reachable as a PC/SC card through vpcd or as an
//! AT modem on a pty, and the emulated network side ([`bsf`]): an HSS/AuC, a BSF serving Ub
//! (TS 24.109) and the key API for servers (Nbsp_GBA, TS 29.309).
//!
//! A gateway never links this crate: it talks to a real card and a real BSF through the
//! `simbridge` library.

#![warn(missing_docs)]

pub mod bsf;
pub mod softsim;
