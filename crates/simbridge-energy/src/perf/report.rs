//! The report's shape: sections of rows, each row our figure next to every peer's and the ratio.

use crate::ResultsFile;
use serde::Serialize;
use serde_json::{Value, json};

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Bytes, datagrams, round trips, latency, memory.
    Lower,
    /// Throughput, handshakes per second.
    Higher,
}

/// One figure, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// The measured value.
    pub value: Option<f64>,
    /// With a value: what it is (the suite a peer used, how it was taken). Without: why the
    /// implementation cannot do the row or why the run failed. Shown as a footnote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Cell {
    /// A measured value.
    pub fn of(v: f64) -> Self {
        Self {
            value: Some(v),
            note: None,
        }
    }

    /// A measured value with a note.
    pub fn noted(v: f64, note: impl Into<String>) -> Self {
        Self {
            value: Some(v),
            note: Some(note.into()),
        }
    }

    /// No value, and why.
    pub fn missing(reason: impl Into<String>) -> Self {
        Self {
            value: None,
            note: Some(reason.into()),
        }
    }

    /// `Some(v)` as a value, `None` as missing with `reason`.
    pub fn or_missing(v: Option<f64>, reason: impl Into<String>) -> Self {
        match v {
            Some(v) => Self::of(v),
            None => Self::missing(reason),
        }
    }
}

/// One row: a case, a metric, ours and each peer's (in the section's peer order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// What was run (handshake kind, suite, path).
    pub case: String,
    /// What was measured.
    pub metric: String,
    /// Unit of every value in the row.
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// Our figure.
    pub ours: Cell,
    /// The peers' figures, in [`Section::peers`] order.
    pub peers: Vec<Cell>,
}

impl Row {
    /// A row.
    pub fn new(
        case: impl Into<String>,
        metric: impl Into<String>,
        unit: impl Into<String>,
        better: Better,
        ours: Cell,
        peers: Vec<Cell>,
    ) -> Self {
        Self {
            case: case.into(),
            metric: metric.into(),
            unit: unit.into(),
            better,
            ours,
            peers,
        }
    }

    /// ours ÷ peer for each peer; `None` when either is missing or the peer's is 0.
    pub fn ratios(&self) -> Vec<Option<f64>> {
        self.peers
            .iter()
            .map(|p| match (self.ours.value, p.value) {
                (Some(o), Some(t)) if t != 0.0 && o.is_finite() && t.is_finite() => Some(o / t),
                _ => None,
            })
            .collect()
    }

    /// True when ours is worse than at least one peer's measured figure.
    pub fn worse_than_a_peer(&self) -> bool {
        self.ratios()
            .into_iter()
            .flatten()
            .any(|r| match self.better {
                Better::Lower => r > 1.0,
                Better::Higher => r < 1.0,
            })
    }
}

/// A table of rows sharing the same peer columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// Stable key (`wire`, `record_overhead`, `throughput`, `server`, `gateway`, ...).
    pub id: String,
    /// Heading.
    pub title: String,
    /// The peer columns.
    pub peers: Vec<String>,
    /// The rows.
    pub rows: Vec<Row>,
    /// Paragraphs printed under the table (method, reasons for figures worse than a peer's).
    pub notes: Vec<String>,
}

impl Section {
    /// An empty section.
    pub fn new(id: &str, title: &str, peers: &[&str]) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            peers: peers.iter().map(|p| p.to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A row whose every peer cell is missing for the same reason (the peer cannot do it).
    pub fn all_missing(&self, reason: &str) -> Vec<Cell> {
        self.peers.iter().map(|_| Cell::missing(reason)).collect()
    }
}

/// The machine a run was taken on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Machine {
    /// `lscpu` model name.
    pub cpu: String,
    /// Logical CPUs.
    pub cores: usize,
    /// Total memory, GiB.
    pub ram_gib: f64,
    /// OS (PRETTY_NAME of /etc/os-release) and kernel.
    pub os: String,
    /// Peer versions, "name version".
    pub peers: Vec<String>,
    /// UTC date and time of the run.
    pub date: String,
    /// Commit of the tree that was measured.
    pub commit: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// `full` or `quick` (fewer iterations, 10k sessions only: for CI, not for publication).
    pub mode: String,
    /// The tables.
    pub sections: Vec<Section>,
    /// The energy model's input taken from the same run.
    pub energy: ResultsFile,
}

impl Report {
    /// The JSON written to report.json: the energy model's results-file keys at the top level
    /// (`format`, `kind`, `source`, `strategies`), so `simbridge energy --from report.json` reads
    /// it, and the report itself next to them (`machine`, `mode`, `sections`; each row carries
    /// its `ratios`, ours ÷ peer).
    pub fn to_json(&self) -> Value {
        let mut root = serde_json::to_value(&self.energy).unwrap_or_else(|_| json!({}));
        let sections: Vec<Value> = self
            .sections
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                if let Some(rows) = v.get_mut("rows").and_then(Value::as_array_mut) {
                    for (rv, r) in rows.iter_mut().zip(&s.rows) {
                        if let Some(o) = rv.as_object_mut() {
                            o.insert("ratios".into(), json!(r.ratios()));
                        }
                    }
                }
                v
            })
            .collect();
        if let Some(o) = root.as_object_mut() {
            o.insert("machine".into(), json!(self.machine));
            o.insert("mode".into(), json!(self.mode));
            o.insert("sections".into(), Value::Array(sections));
        }
        root
    }
}
