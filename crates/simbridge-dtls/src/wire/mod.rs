//! Wire types: validated representations of records and handshake messages. Parsers take
//! untrusted bytes and return typed errors; none of them panics (fuzzed in `fuzz/`).

pub mod alert;
pub mod codec;
pub mod extensions;
mod field;
pub mod handshake;
pub mod hello;
pub mod kx;
pub mod record;
pub mod ticket;

use thiserror::Error;

pub use field::Field;

/// Why bytes did not parse, and in which [`Field`]. The message reads as it always has
/// (`truncated cookie`); match on the variant and [`WireError::field`] instead of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// Fewer bytes than the field needs.
    #[error("truncated {0}")]
    Truncated(Field),
    /// A field holds a value we do not accept.
    #[error("invalid {0}")]
    Invalid(Field),
    /// Bytes left over after a complete structure.
    #[error("trailing bytes after {0}")]
    Trailing(Field),
}

impl WireError {
    /// The field that did not parse.
    pub fn field(&self) -> Field {
        match *self {
            Self::Truncated(f) | Self::Invalid(f) | Self::Trailing(f) => f,
        }
    }
}
