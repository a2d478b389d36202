//! Typed errors. Per-record noise (bad MAC, replay, malformed datagrams) never surfaces as an
//! error: it is dropped and counted in [`super::stats::Stats`]. An [`enum@Error`] is always fatal.

use thiserror::Error;

use super::v13::handshake::{Handshake13Error, PSK_BINDER};
use super::wire::WireError;
use super::wire::alert::AlertDescription;

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
    /// A message that the current state does not allow. Alert unexpected_message.
    #[error("unexpected message: {0}")]
    UnexpectedMessage(Unexpected),
    /// No cipher suite in common.
    #[error("no cipher suite in common")]
    NoCommonSuite,
    /// The server chose a suite we did not offer (suite switching).
    #[error("server chose cipher suite {0:#06x}, which was not offered")]
    SuiteNotOffered(u16),
    /// The peer does not do RFC 7627 extended master secret, which we require.
    #[error("peer does not support extended master secret (RFC 7627), which is required")]
    NoExtendedMasterSecret,
    /// A field of the peer's with a value we refuse. Alert illegal_parameter.
    #[error("illegal parameter: {0}")]
    IllegalParameter(IllegalParameter),
    /// API misuse: [`ClientConfig::connection_id`](super::ClientConfig::connection_id) asks
    /// for a Connection ID longer than RFC 9146 allows.
    #[error("illegal parameter: connection_id longer than 255 bytes (asked for {0})")]
    ConnectionIdTooLong(usize),
    /// The peer's Finished did not verify (a wrong PSK: its Finished record does not
    /// authenticate or its verify_data does not match). Alert decrypt_error.
    #[error("the peer's Finished did not verify (wrong PSK)")]
    BadFinished,
    /// DTLS 1.3 server: the client's PSK binder did not verify (a wrong PSK, found before any
    /// Finished). Alert decrypt_error.
    #[error("the client's PSK binder did not verify (wrong PSK)")]
    BadBinder,
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
    /// API misuse: the caller's buffer is shorter than the datagram to write into it.
    /// Nothing was consumed (no sequence number, no queued datagram): call again with a
    /// buffer of at least `needed` bytes.
    #[error("buffer of {available} bytes too small for a {needed}-byte datagram")]
    BufferTooSmall {
        /// Bytes the datagram needs.
        needed: usize,
        /// Bytes the buffer had.
        available: usize,
    },
    /// API misuse: a PSK answer that the connection did not ask for.
    #[error("no PSK request pending")]
    NoPskRequest,
    /// The sequence numbers left to this instance by a state export are used up (the rest
    /// belong to whoever imports the export); export again or hand over.
    #[error("sequence numbers reserved by the state export are used up")]
    ExportReserveUsed,
    /// A DTLS 1.3 connection failed for a reason DTLS 1.2 has no variant for (the 1.3 layer
    /// sent its alert, if any, itself).
    #[error("DTLS 1.3: {0}")]
    Dtls13(Handshake13Error),
}

impl Error {
    /// The alert we send for this error (None: nothing to send).
    pub fn alert(&self) -> Option<AlertDescription> {
        Some(match self {
            Self::PeerAlert(_)
            | Self::NotConnected
            | Self::Closed
            | Self::RecordTooLarge
            | Self::BufferTooSmall { .. }
            | Self::NoPskRequest
            | Self::ConnectionIdTooLong(_)
            | Self::ExportReserveUsed
            | Self::Dtls13(_) => return None,
            Self::HandshakeTimeout(_) | Self::HandshakeExpired | Self::HandshakeEvicted => {
                return None;
            }
            Self::Decode(_) => AlertDescription::DecodeError,
            Self::UnexpectedMessage(_) => AlertDescription::UnexpectedMessage,
            Self::NoCommonSuite | Self::NoExtendedMasterSecret | Self::NoPsk => {
                AlertDescription::HandshakeFailure
            }
            Self::SuiteNotOffered(_) | Self::IllegalParameter(_) | Self::BadKeyShare => {
                AlertDescription::IllegalParameter
            }
            Self::BadFinished | Self::BadBinder | Self::UnknownPskIdentity => {
                AlertDescription::DecryptError
            }
            Self::UnrecognizedName(_) => AlertDescription::UnrecognizedName,
            Self::Rng | Self::SequenceExhausted | Self::PskUnavailable => {
                AlertDescription::InternalError
            }
        })
    }
}

/// Why a handshake message was out of place (the reason of [`Error::UnexpectedMessage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Unexpected {
    /// A protected (epoch > 0) handshake message other than Finished.
    #[error("protected handshake message other than Finished")]
    ProtectedNotFinished,
    /// Finished in epoch 0, or before the peer's ChangeCipherSpec.
    #[error("Finished before ChangeCipherSpec")]
    FinishedBeforeCcs,
    /// Client: more HelloVerifyRequests than a server rotating its cookie secret sends.
    #[error("too many HelloVerifyRequests")]
    TooManyHelloVerifyRequests,
    /// Client: ServerHelloDone of an ECDHE_PSK suite without a ServerKeyExchange.
    #[error("ECDHE_PSK without ServerKeyExchange")]
    EcdheWithoutServerKeyExchange,
    /// Client: a HelloVerifyRequest after the ServerHello.
    #[error("HelloVerifyRequest after ServerHello")]
    HelloVerifyAfterServerHello,
    /// Client: a second ServerHello (the server restarted its flight).
    #[error("second ServerHello (flight restart)")]
    SecondServerHello,
    /// Server: a ClientHello inside the handshake (a restart comes with a new cookie
    /// exchange, handled by the endpoint).
    #[error("ClientHello during handshake (restart)")]
    ClientHelloRestart,
    /// Any other message the current state does not expect.
    #[error("handshake message out of order")]
    OutOfOrder,
}

/// A peer's field with a value we refuse (the reason of [`Error::IllegalParameter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IllegalParameter {
    /// ServerHello.server_version is not DTLS 1.2.
    #[error("server_version")]
    ServerVersion,
    /// ServerHello.compression_method is not null.
    #[error("compression_method")]
    CompressionMethod,
    /// ServerHello carries an extension the client did not offer (RFC 5246 §7.4.1.4).
    #[error("extension the client did not offer")]
    UnofferedExtension,
    /// renegotiation_info is not empty on an initial handshake (RFC 5746 §3.4).
    #[error("renegotiation_info")]
    RenegotiationInfo,
    /// ServerHello's session_ticket extension is not empty (RFC 5077 §3.2).
    #[error("session_ticket in ServerHello")]
    TicketInServerHello,
    /// ServerHello echoes a session ID the client did not offer for resumption.
    #[error("session_id echoed but nothing offered")]
    SessionIdNotOffered,
    /// The server resumed our session with another cipher suite (RFC 5246 §7.4.1.3).
    #[error("resumed session with another suite")]
    ResumedWithAnotherSuite,
    /// A client that speaks DTLS 1.3 got a DTLS 1.2 ServerHello with the downgrade sentinel
    /// (RFC 8446 §4.1.3): a DTLS 1.3 server was made to answer in 1.2.
    #[error("ServerHello.random carries the DTLS 1.3 downgrade sentinel")]
    DowngradeSentinel,
}

/// A DTLS 1.3 handshake error as the 1.2 error with the same meaning, where there is one (so
/// that `CloseReason::failure_kind` reads both versions alike); the rest as [`Error::Dtls13`].
impl From<Handshake13Error> for Error {
    fn from(e: Handshake13Error) -> Self {
        match e {
            // a binder or Finished that does not verify, or a handshake record that does not
            // open: the keys differ
            Handshake13Error::BadMac(PSK_BINDER) => Self::BadBinder,
            Handshake13Error::BadMac(_) | Handshake13Error::Record(_) => Self::BadFinished,
            Handshake13Error::UnknownIdentity => Self::UnknownPskIdentity,
            Handshake13Error::Incompatible(_) => Self::NoCommonSuite,
            Handshake13Error::Wire(w) => Self::Decode(w),
            Handshake13Error::KeyShare(_) => Self::BadKeyShare,
            Handshake13Error::ReserveUsed => Self::ExportReserveUsed,
            other => Self::Dtls13(other),
        }
    }
}

impl From<Unexpected> for Error {
    fn from(u: Unexpected) -> Self {
        Self::UnexpectedMessage(u)
    }
}

impl From<IllegalParameter> for Error {
    fn from(p: IllegalParameter) -> Self {
        Self::IllegalParameter(p)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_reasons_read_as_before_and_send_their_alert() {
        let e = Error::from(Unexpected::FinishedBeforeCcs);
        assert_eq!(
            e.to_string(),
            "unexpected message: Finished before ChangeCipherSpec"
        );
        assert_eq!(e.alert(), Some(AlertDescription::UnexpectedMessage));
        let e = Error::from(IllegalParameter::UnofferedExtension);
        assert_eq!(
            e.to_string(),
            "illegal parameter: extension the client did not offer"
        );
        assert_eq!(e.alert(), Some(AlertDescription::IllegalParameter));
        // a local configuration error sends nothing
        assert_eq!(Error::ConnectionIdTooLong(300).alert(), None);
    }
}
