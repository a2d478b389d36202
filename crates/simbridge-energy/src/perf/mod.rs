//! The performance report: what `scripts/bench` writes to target/bench/report.json and
//! report.md. Pure functions and types, no I/O: the bench harness (benches/report) measures and
//! reads the other benches' JSON files, this module turns them into rows (ours, each peer, the
//! ratio), Markdown with footnotes for peers that cannot do a row, and the energy model's input
//! (`simbridge energy --from target/bench/report.json` reads the same file).
//!
//! ```
//! use simbridge_energy::perf::{Better, Cell, Row, Section};
//! let mut s = Section::new("wire", "Bytes on the wire", &["OpenSSL 3.0"]);
//! s.rows.push(Row::new("full PSK", "UDP payload", "B", Better::Lower,
//!     Cell::of(464.0), vec![Cell::of(625.0)]));
//! assert_eq!(s.rows[0].ratios()[0].map(|r| (r * 100.0).round()), Some(74.0));
//! ```

mod energy;
mod markdown;
pub mod merge;
mod report;
#[cfg(test)]
mod tests;
pub mod trace;

pub use energy::{Dtls13Wire, OscoreWire, OursWire, energy_input};
pub use markdown::markdown;
pub use report::{Better, Cell, Machine, Report, Row, Section};
pub use trace::{ConnTrace, Datagram, HandshakeFigures};
