//! Typed errors of the energy model: every message names the flag, file or key at fault.

/// What went wrong while building or running an energy model.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnergyError {
    /// A value is out of range (negative, zero where a positive number is needed, not finite).
    #[error("{origin}: {problem}")]
    BadValue {
        /// Where the value came from: a flag (`--tail-s`), `--set KEY`, or `FILE: key`.
        origin: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A name that the model does not know (radio, coverage level, parameter, strategy).
    #[error("{origin}: unknown {what} `{name}` (expected {expected})")]
    Unknown {
        /// Where the name came from.
        origin: String,
        /// What kind of name it is.
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        expected: String,
    },
    /// An input file that is not valid JSON / TOML.
    #[error("{file}: not valid {format}: {detail}")]
    Syntax {
        /// The file (as given by the user).
        file: String,
        /// "JSON" or "TOML".
        format: &'static str,
        /// The parser's message (with line and column).
        detail: String,
    },
    /// An input file with a missing, mistyped or out-of-range key.
    #[error("{file}: key `{key}`: {problem}")]
    Key {
        /// The file (as given by the user).
        file: String,
        /// Dotted path of the key, e.g. `strategies.long-lived.per_message.bytes_up`.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}
