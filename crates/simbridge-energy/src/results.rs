//! The results-file format as a type, for the benchmark harness: build a [`ResultsFile`], add
//! each strategy's measured figures and serialise it with `serde_json`; `simbridge energy --from`
//! reads it back (docs/energy.md, "Results file").

use super::input::RESULTS_FORMAT;
use super::strategy::{Figures, StrategyId};
use serde::Serialize;
use std::collections::BTreeMap;

/// One strategy's entry of a results file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultsEntry {
    /// One (re)connection of the strategy.
    pub per_connection: Figures,
    /// What the security layer adds to one application exchange.
    pub per_message: Figures,
    /// The full handshake opening each key lifetime (resumption strategies), if measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_key_change: Option<Figures>,
    /// A note shown next to the row (peer, run, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A results file (`format` = `simbridge-energy-input/1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultsFile {
    /// Always [`RESULTS_FORMAT`].
    pub format: &'static str,
    /// "measured" or "published".
    pub kind: &'static str,
    /// Where and when the figures were taken.
    pub source: String,
    /// Entries by strategy key.
    pub strategies: BTreeMap<&'static str, ResultsEntry>,
}

impl ResultsFile {
    /// An empty file of measured figures, described by `source`.
    pub fn measured(source: impl Into<String>) -> Self {
        Self {
            format: RESULTS_FORMAT,
            kind: "measured",
            source: source.into(),
            strategies: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the entry of `id`.
    pub fn insert(&mut self, id: StrategyId, entry: ResultsEntry) {
        self.strategies.insert(id.key(), entry);
    }
}
