//! Typed errors. Per-record noise (bad MAC, replay, malformed datagrams) never surfaces as an
//! error: it is dropped and counted in [`super::stats::Stats`]. An [`enum@Error`] is always fatal.

use thiserror::Error;

use super::wire::alert::AlertDescription;
use super::wire::WireError;

/// A fatal connection error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent a fatal alert.
    #[error("peer sent fatal alert {0}")]
    PeerAlert(AlertDescription),
    /// A handshake message did not parse.
    #[error("malformed handshake message: {0}")]
    Decode(#[from] WireError),
    /// A message that the current state does not allow.
    #[error("unexpected message: {0}")]
    UnexpectedMessage(&'static str),
    /// No cipher suite in common.
    #[error("no cipher suite in common")]
    NoCommonSuite,
    /// The server chose a suite we did not offer (suite switching).
    #[error("server chose cipher suite {0:#06x}, which was not offered")]
    SuiteNotOffered(u16),
    /// The peer does not do RFC 7627 extended master secret, which we require.
    #[error("peer does not support extended master secret (RFC 7627), which is required")]
    NoExtendedMasterSecret,
    /// A field with a value we refuse.
    #[error("illegal parameter: {0}")]
    IllegalParameter(&'static str),
    /// The peer's Finished did not verify (a wrong PSK: its Finished record does not
    /// authenticate or its verify_data does not match). Alert decrypt_error.
    #[error("the peer's Finished did not verify (wrong PSK)")]
    BadFinished,
    /// Server: the client's PSK identity is unknown. RFC 4279 §2: the handshake went on with
    /// a random key and failed at the client's Finished, so the client sees decrypt_error,
    /// the same as for a wrong key; only this side knows the identity was unknown.
    #[error("unknown PSK identity (refused at the client's Finished with decrypt_error)")]
    UnknownPskIdentity,
    /// Server: the PSK source is unavailable (a key API down). Alert internal_error.
    #[error("PSK source unavailable")]
    PskUnavailable,
    /// Server: the ClientHello names a host this server does not serve (RFC 6066). The
    /// name is kept escaped and cut to 255 bytes, safe to log.
    #[error("client asked for server name \"{0}\", which this server does not serve")]
    UnrecognizedName(String),
    /// No PSK for this (hint, suite).
    #[error("no PSK available for this server")]
    NoPsk,
    /// The peer's ECDHE public key is invalid.
    #[error("invalid ECDHE public key")]
    BadKeyShare,
    /// The handshake did not complete within the retransmission limit.
    #[error("handshake timed out after {0} retransmissions")]
    HandshakeTimeout(u32),
    /// Server: the handshake did not complete within `ServerConfig::half_open_timeout`.
    #[error("handshake not completed within the half-open lifetime")]
    HandshakeExpired,
    /// Server: the handshake was dropped to make room for a newer one when
    /// `ServerConfig::max_handshaking` were in progress (it had made no progress for the
    /// longest time).
    #[error("handshake evicted: the handshake budget was full and it had stalled longest")]
    HandshakeEvicted,
    /// The random source failed.
    #[error("random source failed")]
    Rng,
    /// The 48-bit sequence space of an epoch is exhausted.
    #[error("record sequence numbers exhausted")]
    SequenceExhausted,
    /// API misuse: sending before the handshake completed.
    #[error("connection not established")]
    NotConnected,
    /// API misuse: the connection is closed.
    #[error("connection closed")]
    Closed,
    /// API misuse: a record larger than 2^14 bytes.
    #[error("application record larger than 16384 bytes")]
    RecordTooLarge,
    /// API misuse: a PSK answer that the connection did not ask for.
    #[error("no PSK request pending")]
    NoPskRequest,
    /// The sequence numbers left to this instance by a state export are used up (the rest
    /// belong to whoever imports the export); export again or hand over.
    #[error("sequence numbers reserved by the state export are used up")]
    ExportReserveUsed,
}

impl Error {
    /// The alert we send for this error (None: nothing to send).
    pub fn alert(&self) -> Option<AlertDescription> {
        Some(match self {
            Self::PeerAlert(_)
            | Self::NotConnected
            | Self::Closed
            | Self::RecordTooLarge
            | Self::NoPskRequest
            | Self::ExportReserveUsed => return None,
            Self::HandshakeTimeout(_) | Self::HandshakeExpired | Self::HandshakeEvicted => {
                return None
            }
            Self::Decode(_) => AlertDescription::DecodeError,
            Self::UnexpectedMessage(_) => AlertDescription::UnexpectedMessage,
            Self::NoCommonSuite | Self::NoExtendedMasterSecret | Self::NoPsk => {
                AlertDescription::HandshakeFailure
            }
            Self::SuiteNotOffered(_) | Self::IllegalParameter(_) | Self::BadKeyShare => {
                AlertDescription::IllegalParameter
            }
            Self::BadFinished | Self::UnknownPskIdentity => AlertDescription::DecryptError,
            Self::UnrecognizedName(_) => AlertDescription::UnrecognizedName,
            Self::Rng | Self::SequenceExhausted | Self::PskUnavailable => {
                AlertDescription::InternalError
            }
        })
    }
}

/// A peer-supplied name made safe for logs: control and non-ASCII characters escaped, cut to
/// 255 bytes.
pub(crate) fn loggable_name(name: &str) -> String {
    let mut s: String = name.escape_default().collect();
    if s.len() > 255 {
        let mut cut = 255;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}
