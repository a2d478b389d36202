//! Reading overrides: the measured-figures file (`--from RESULTS.json`), the TOML parameter file
//! (`--params FILE`) and single `KEY=VALUE` settings. Text in, model changes out: the caller reads
//! the files, so this stays free of I/O. Every error names the file (or flag) and the key.

use super::radio::Radio;
use super::strategy::{Figures, StrategyFigures, StrategyId};
use super::{EnergyError, Model};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The `format` value a results file must carry.
pub const RESULTS_FORMAT: &str = "simbridge-energy-input/1";

const FIGURE_KEYS: [&str; 5] = [
    "bytes_up",
    "bytes_down",
    "datagrams_up",
    "datagrams_down",
    "round_trips",
];

fn key_err(file: &str, key: &str, problem: impl Into<String>) -> EnergyError {
    EnergyError::Key {
        file: file.into(),
        key: key.into(),
        problem: problem.into(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table/object",
    }
}

fn as_object<'a>(
    v: &'a Value,
    file: &str,
    key: &str,
) -> Result<&'a Map<String, Value>, EnergyError> {
    v.as_object().ok_or_else(|| {
        key_err(
            file,
            key,
            format!("expected a table/object, got {}", type_name(v)),
        )
    })
}

fn non_negative(v: &Value, file: &str, key: &str) -> Result<f64, EnergyError> {
    let x = v.as_f64().ok_or_else(|| {
        key_err(
            file,
            key,
            format!("expected a number, got {}", type_name(v)),
        )
    })?;
    if !x.is_finite() || x < 0.0 {
        return Err(key_err(
            file,
            key,
            format!("must be a non-negative number, got {x}"),
        ));
    }
    Ok(x)
}

/// Reads one `{bytes_up, bytes_down, datagrams_up, datagrams_down, round_trips}` object.
fn figures(v: &Value, file: &str, key: &str) -> Result<Figures, EnergyError> {
    let obj = as_object(v, file, key)?;
    if let Some(extra) = obj.keys().find(|k| !FIGURE_KEYS.contains(&k.as_str())) {
        return Err(key_err(
            file,
            &format!("{key}.{extra}"),
            format!("unknown key (expected {})", FIGURE_KEYS.join(", ")),
        ));
    }
    let mut out = [0.0; 5];
    for (slot, name) in out.iter_mut().zip(FIGURE_KEYS) {
        let k = format!("{key}.{name}");
        let v = obj.get(name).ok_or_else(|| key_err(file, &k, "missing"))?;
        *slot = non_negative(v, file, &k)?;
    }
    let [bu, bd, du, dd, rt] = out;
    Ok(Figures::new(bu, bd, du, dd, rt))
}

/// Reads the `strategies` table and replaces (or adds) the strategies it names.
fn apply_strategies(
    model: &mut Model,
    v: &Value,
    file: &str,
    default_source: &str,
) -> Result<(), EnergyError> {
    let table = as_object(v, file, "strategies")?;
    for (name, s) in table {
        let key = format!("strategies.{name}");
        let id = StrategyId::from_key(name).ok_or_else(|| {
            key_err(
                file,
                &key,
                format!("unknown strategy (expected {})", StrategyId::keys_list()),
            )
        })?;
        let obj = as_object(s, file, &key)?;
        const KEYS: [&str; 4] = ["per_connection", "per_message", "per_key_change", "source"];
        if let Some(extra) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(key_err(
                file,
                &format!("{key}.{extra}"),
                format!("unknown key (expected {})", KEYS.join(", ")),
            ));
        }
        let part = |p: &str| -> Result<Option<Figures>, EnergyError> {
            obj.get(p)
                .map(|v| figures(v, file, &format!("{key}.{p}")))
                .transpose()
        };
        let per_connection = part("per_connection")?
            .ok_or_else(|| key_err(file, &format!("{key}.per_connection"), "missing"))?;
        let per_message = part("per_message")?
            .ok_or_else(|| key_err(file, &format!("{key}.per_message"), "missing"))?;
        let per_key_change = part("per_key_change")?;
        let source = match obj.get("source") {
            None => default_source.to_string(),
            Some(Value::String(s)) => format!("{default_source}: {s}"),
            Some(other) => {
                return Err(key_err(
                    file,
                    &format!("{key}.source"),
                    format!("expected a string, got {}", type_name(other)),
                ));
            }
        };
        model.strategies.strategies.insert(
            id,
            StrategyFigures {
                per_connection,
                per_message,
                per_key_change,
                source: Cow::Owned(source),
            },
        );
    }
    Ok(())
}

/// Applies a results file (`--from`): measured per-strategy figures in the format documented in
/// docs/energy.md. Strategies it names replace the published defaults; others keep them.
pub fn apply_results_json(model: &mut Model, text: &str, file: &str) -> Result<(), EnergyError> {
    let root: Value = serde_json::from_str(text).map_err(|e| EnergyError::Syntax {
        file: file.into(),
        format: "JSON",
        detail: e.to_string(),
    })?;
    let obj = as_object(&root, file, "(top level)")?;
    match obj.get("format") {
        Some(Value::String(f)) if f == RESULTS_FORMAT => {}
        Some(other) => {
            return Err(key_err(
                file,
                "format",
                format!("expected \"{RESULTS_FORMAT}\", got {other}"),
            ));
        }
        None => {
            return Err(key_err(
                file,
                "format",
                format!("missing (expected \"{RESULTS_FORMAT}\")"),
            ));
        }
    }
    // `kind` says whether the file carries measurements (the default) or published figures.
    let kind = match obj.get("kind") {
        None => "measured",
        Some(Value::String(k)) if k == "measured" || k == "published" => k.as_str(),
        Some(other) => {
            return Err(key_err(
                file,
                "kind",
                format!("expected \"measured\" or \"published\", got {other}"),
            ));
        }
    };
    let source = match obj.get("source") {
        None => format!("{kind}: {file}"),
        Some(Value::String(s)) => format!("{kind}: {file} ({s})"),
        Some(other) => {
            return Err(key_err(
                file,
                "source",
                format!("expected a string, got {}", type_name(other)),
            ));
        }
    };
    let strategies = obj
        .get("strategies")
        .ok_or_else(|| key_err(file, "strategies", "missing"))?;
    apply_strategies(model, strategies, file, &source)
}

/// Sets one parameter by key (as printed by `--explain`): scenario keys first, then the radio's.
pub fn set_param(
    model: &mut Model,
    key: &str,
    value: f64,
    origin: &str,
) -> Result<(), EnergyError> {
    if let Some((p, dom)) = model.scenario.param_mut(key) {
        return p.set(value, dom, origin);
    }
    if let Some((p, dom)) = model.radio.param_mut(key) {
        return p.set(value, dom, origin);
    }
    Err(EnergyError::Unknown {
        origin: origin.into(),
        what: "parameter",
        name: key.into(),
        expected: "a key listed by `simbridge energy --explain`".into(),
    })
}

/// Parses a `KEY=VALUE` setting (`--set`).
pub fn parse_setting(s: &str) -> Result<(String, f64), EnergyError> {
    let bad = |problem: String| EnergyError::BadValue {
        origin: format!("--set {s}"),
        problem,
    };
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| bad(format!("`{}` is not a number", v.trim())))?;
    Ok((k.trim().to_string(), x))
}

/// Flattens nested tables into dotted keys (`tx_ma.normal`), so `[nbiot.tx_ma] normal = 100`
/// and `tx_ma = { normal = 100 }` mean the same.
fn flatten<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v.as_object() {
        Some(obj) => {
            for (k, child) in obj {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        None => out.push((prefix.to_string(), v)),
    }
}

/// Applies a TOML parameter file (`--params`): `[scenario]`, `[nbiot]`, `[ltem]` with the keys
/// printed by `--explain`, and `[strategies.NAME]` tables like those of the results file.
/// The section of the other radio is checked too, so a typo never goes unnoticed.
pub fn apply_params_toml(model: &mut Model, text: &str, file: &str) -> Result<(), EnergyError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| EnergyError::Syntax {
        file: file.into(),
        format: "TOML",
        detail: e.to_string(),
    })?;
    let root = serde_json::to_value(&doc).map_err(|e| EnergyError::Syntax {
        file: file.into(),
        format: "TOML",
        detail: e.to_string(),
    })?;
    let obj = as_object(&root, file, "(top level)")?;
    for (section, v) in obj {
        match section.as_str() {
            "strategies" => apply_strategies(model, v, file, &format!("parameter file {file}"))?,
            "scenario" | "nbiot" | "ltem" => {
                as_object(v, file, section)?;
                let mut entries = Vec::new();
                flatten("", v, &mut entries);
                let mut other_radio = match section.as_str() {
                    "nbiot" if model.radio.radio != Radio::Nbiot => {
                        Some(super::radio::defaults(Radio::Nbiot))
                    }
                    "ltem" if model.radio.radio != Radio::Ltem => {
                        Some(super::radio::defaults(Radio::Ltem))
                    }
                    _ => None,
                };
                for (k, val) in entries {
                    let full = format!("{section}.{k}");
                    let x = val.as_f64().ok_or_else(|| {
                        key_err(
                            file,
                            &full,
                            format!("expected a number, got {}", type_name(val)),
                        )
                    })?;
                    let origin = format!("{file}: {full}");
                    let slot = match (section.as_str(), other_radio.as_mut()) {
                        ("scenario", _) => model.scenario.param_mut(&k),
                        (_, Some(other)) => other.param_mut(&k),
                        (_, None) => model.radio.param_mut(&k),
                    };
                    let (p, dom) = slot.ok_or_else(|| {
                        let keys: &[&str] = if section == "scenario" {
                            super::Scenario::keys()
                        } else {
                            super::RadioParams::keys()
                        };
                        key_err(
                            file,
                            &full,
                            format!("unknown key (expected one of {})", keys.join(", ")),
                        )
                    })?;
                    p.set(x, dom, &origin).map_err(|e| match e {
                        EnergyError::BadValue { problem, .. } => key_err(file, &full, problem),
                        other => other,
                    })?;
                }
            }
            other => {
                return Err(key_err(
                    file,
                    other,
                    "unknown section (expected scenario, nbiot, ltem or strategies)",
                ));
            }
        }
    }
    Ok(())
}
