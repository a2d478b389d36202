//! Wire types: validated representations of records and handshake messages. Parsers take
//! untrusted bytes and return typed errors; none of them panics (fuzzed in `fuzz/`).

pub mod alert;
pub mod codec;
pub mod extensions;
pub mod handshake;
pub mod hello;
pub mod kx;
pub mod record;
pub mod ticket;

use thiserror::Error;

/// Why bytes did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// Fewer bytes than the field needs.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A field holds a value we do not accept.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes left over after a complete structure.
    #[error("trailing bytes after {0}")]
    Trailing(&'static str),
}
