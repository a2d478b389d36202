//! The crate's errors. Parsers fail with a [`WireError`] naming the [`Field`] that did not
//! parse (the house style of `simbridge-dtls`'s `wire` module); protection and verification fail
//! with an [`Error`], which wraps a [`WireError`] when the bytes themselves were bad.

use thiserror::Error;

use crate::replay::ReplayError;

/// A field of a CoAP message, an OSCORE option or a security context parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The CoAP version bits (must be 1).
    Version,
    /// The CoAP token length nibble (0..=8).
    TokenLength,
    /// The CoAP token.
    Token,
    /// The CoAP message header.
    Header,
    /// An option's delta (nibble or extension).
    OptionDelta,
    /// An option's length (nibble or extension).
    OptionLength,
    /// An option's number (the running sum of deltas).
    OptionNumber,
    /// An option's value.
    OptionValue,
    /// The payload marker 0xFF followed by no payload.
    PayloadMarker,
    /// The OSCORE option's flag byte.
    Flags,
    /// The OSCORE option's partial IV.
    PartialIv,
    /// The OSCORE option's kid context length byte `s`.
    KidContextLength,
    /// The OSCORE option's kid context.
    KidContext,
    /// The OSCORE option's kid.
    Kid,
    /// The whole OSCORE option value.
    OscoreOption,
    /// An OSCORE option appearing twice in one message.
    DuplicateOscoreOption,
    /// The ciphertext (shorter than the tag).
    Ciphertext,
    /// The code byte of a decrypted plaintext.
    InnerCode,
    /// An option inside the plaintext that must not be there (an OSCORE option).
    InnerOption,
    /// A Master Secret (empty).
    MasterSecret,
    /// A Sender ID (too long for the nonce, or equal to the Recipient ID).
    SenderId,
    /// A Recipient ID (too long for the nonce).
    RecipientId,
    /// A replay window size (1..=64).
    WindowSize,
    /// A persistence step K (must be positive).
    PersistStep,
}

impl Field {
    /// The field's name as error messages print it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Version => "coap version",
            Self::TokenLength => "token length",
            Self::Token => "token",
            Self::Header => "coap header",
            Self::OptionDelta => "option delta",
            Self::OptionLength => "option length",
            Self::OptionNumber => "option number",
            Self::OptionValue => "option value",
            Self::PayloadMarker => "payload marker",
            Self::Flags => "oscore flags",
            Self::PartialIv => "partial iv",
            Self::KidContextLength => "kid context length",
            Self::KidContext => "kid context",
            Self::Kid => "kid",
            Self::OscoreOption => "oscore option",
            Self::DuplicateOscoreOption => "duplicate oscore option",
            Self::Ciphertext => "ciphertext",
            Self::InnerCode => "inner code",
            Self::InnerOption => "inner option",
            Self::MasterSecret => "master secret",
            Self::SenderId => "sender id",
            Self::RecipientId => "recipient id",
            Self::WindowSize => "window size",
            Self::PersistStep => "persist step",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes did not parse (or a value cannot be encoded), and in which [`Field`].
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

/// Why a message could not be protected or verified. Every verification failure a peer can
/// cause is one of these; none panics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that did not parse (the outer message, the OSCORE option or the plaintext).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A security context parameter we cannot use.
    #[error("invalid parameter: {0}")]
    Parameter(Field),
    /// A message to verify carries no OSCORE option.
    #[error("not an OSCORE message (no OSCORE option)")]
    NotProtected,
    /// A message to protect already carries an OSCORE option.
    #[error("message already carries an OSCORE option")]
    AlreadyProtected,
    /// A request without a partial IV (RFC 8613 §6.1: requests carry one).
    #[error("request without partial IV")]
    MissingPartialIv,
    /// A request without a kid (RFC 8613 §6.1: requests carry one).
    #[error("request without kid")]
    MissingKid,
    /// A kid other than this context's Recipient ID.
    #[error("kid names no context of ours")]
    UnknownKid,
    /// A kid context other than this context's ID Context.
    #[error("kid context names no context of ours")]
    UnknownKidContext,
    /// The AEAD tag did not verify (wrong key, tampered message or wrong request binding).
    #[error("decryption failed")]
    Decrypt,
    /// The replay window refused the partial IV.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A sequence number must be stored before any message may use it (RFC 8613 B.1.1):
    /// store this value, call [`SenderSeq::stored`](crate::persist::SenderSeq::stored), retry.
    #[error("store sender sequence number {0} before sending")]
    NeedsStore(u64),
    /// The sender sequence number reached 2^40 - 1: the context must be renewed (§7.2.1).
    #[error("sender sequence number exhausted")]
    SequenceExhausted,
    /// A notification (a response with Observe) must carry its own partial IV (§4.1.3.5.2).
    #[error("an Observe notification needs its own partial IV")]
    PartialIvRequired,
}
