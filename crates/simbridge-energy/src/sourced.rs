//! A number that carries its source: every default of the model cites where it comes from, and an
//! override records who set it, so `--explain` and docs/energy.md can print both side by side.

use super::EnergyError;
use serde::Serialize;
use std::borrow::Cow;

/// A parameter value and the citation (or override) it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced {
    /// The value, in the unit the parameter table names.
    pub value: f64,
    /// A citation for defaults (`&'static str`), or the flag/file that overrode it.
    pub source: Cow<'static, str>,
}

impl Sourced {
    /// A default with its citation.
    pub const fn cite(value: f64, source: &'static str) -> Self {
        Self {
            value,
            source: Cow::Borrowed(source),
        }
    }

    /// Replaces the value after checking it against `domain`; `origin` names the flag or file key
    /// and becomes the new source.
    pub fn set(&mut self, value: f64, domain: Domain, origin: &str) -> Result<(), EnergyError> {
        domain.check(value, origin)?;
        self.value = value;
        self.source = Cow::Owned(format!("override: {origin}"));
        Ok(())
    }
}

/// The values a parameter may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Finite and ≥ 0.
    NonNegative,
    /// Finite and > 0.
    Positive,
}

impl Domain {
    /// Checks `value`; the error names `origin`.
    pub fn check(self, value: f64, origin: &str) -> Result<(), EnergyError> {
        let problem = if !value.is_finite() {
            Some(format!("must be a finite number, got {value}"))
        } else {
            match self {
                Domain::NonNegative if value < 0.0 => {
                    Some(format!("must not be negative, got {value}"))
                }
                Domain::Positive if value <= 0.0 => {
                    Some(format!("must be greater than 0, got {value}"))
                }
                _ => None,
            }
        };
        match problem {
            Some(problem) => Err(EnergyError::BadValue {
                origin: origin.to_string(),
                problem,
            }),
            None => Ok(()),
        }
    }
}

/// A read-only view of one parameter, for `--explain`, JSON output and the docs.
#[derive(Debug, Clone, Serialize)]
pub struct ParamView<'a> {
    /// Key as used by `--set KEY=VALUE` and the TOML parameter file.
    pub key: &'static str,
    /// Unit of the value.
    pub unit: &'static str,
    /// What the parameter means.
    pub description: &'static str,
    /// Value and source.
    #[serde(flatten)]
    pub value: &'a Sourced,
}

/// Generates `params()` (read-only views) and `param_mut(key)` (lookup for overrides) from one
/// table, so the list printed by `--explain` and the keys accepted by overrides never drift apart.
macro_rules! param_table {
    ($ty:ident { $($key:literal => $($field:ident).+ : $unit:literal, $dom:ident, $desc:literal;)* }) => {
        impl $ty {
            /// Every parameter with its key, unit, description, value and source.
            pub fn params(&self) -> Vec<$crate::sourced::ParamView<'_>> {
                vec![$($crate::sourced::ParamView {
                    key: $key,
                    unit: $unit,
                    description: $desc,
                    value: &self.$($field).+,
                }),*]
            }

            /// The parameter named `key` and its domain, for overrides.
            pub fn param_mut(
                &mut self,
                key: &str,
            ) -> Option<(&mut $crate::sourced::Sourced, $crate::sourced::Domain)> {
                match key {
                    $($key => Some((&mut self.$($field).+, $crate::sourced::Domain::$dom)),)*
                    _ => None,
                }
            }

            /// All keys, for error messages.
            pub fn keys() -> &'static [&'static str] {
                &[$($key),*]
            }

            /// Checks every value against its domain (for models built directly in code).
            pub fn validate(&self) -> Result<(), $crate::EnergyError> {
                $($crate::sourced::Domain::$dom.check(self.$($field).+.value, $key)?;)*
                Ok(())
            }
        }
    };
}
pub(crate) use param_table;
