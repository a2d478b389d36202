//! Energy model: what each DTLS strategy costs a battery-powered NB-IoT / LTE-M device.
//!
//! A pure, sans-IO model. Inputs: radio parameters ([`RadioParams`], defaults with their sources
//! from published datasheets and measurements), a traffic [`Scenario`], and bytes / datagrams /
//! round trips per strategy ([`StrategySet`]: published figures by default, measured ones from a
//! results file). Output: energy per message, its security share, average current and battery
//! life against 3GPP's objective of 10 years on 5 Wh ([`Report`]).
//!
//! One message event is: wake from PSM and set up the RRC connection, send and receive the
//! bytes of the handshakes it needs (and, once per key lifetime, of the GBA Ub bootstrap that
//! fetches the key) and of the application exchange, wait out the round trips, then the RRC
//! inactivity tail (short with RAI). docs/energy.md gives the equations.
//!
//! ```
//! use simbridge_energy::{Coverage, Model, Radio};
//! let report = Model::new(Radio::Nbiot, Coverage::Normal, false).run().unwrap();
//! let best = report.row("long-lived-cid").unwrap();
//! let worst = report.row("full-per-message").unwrap();
//! assert!(best.battery_life_years > worst.battery_life_years);
//! ```

#![warn(missing_docs)]

mod error;
pub mod input;
mod model;
pub mod perf;
mod radio;
pub mod report;
mod results;
mod scenario;
mod sourced;
mod strategy;
pub mod svg;
#[cfg(test)]
mod tests;

pub use error::EnergyError;
pub use model::{
    Breakdown, KeyLifetimeBound, Model, Projection, Report, SECURITY_SHARE_GOAL_PCT,
    TARGET_BATTERY_WH, TARGET_YEARS,
};
pub use radio::{Coverage, PerCoverage, Radio, RadioParams, defaults as radio_defaults};
pub use results::{ResultsEntry, ResultsFile};
pub use scenario::Scenario;
pub use sourced::{Domain, ParamView, Sourced};
pub use strategy::{Figures, StrategyFigures, StrategyId, StrategySet};
