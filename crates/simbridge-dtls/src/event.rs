//! Events a connection reports to its user.

use std::fmt;

use super::error::Error;
use super::suite::CipherSuite;
use super::v13::connection::Close13;
use super::v13::handshake::Handshake13Error;
use super::wire::alert::AlertDescription;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// We called `close()`.
    Local,
    /// The peer sent close_notify.
    PeerClosed,
    /// The peer sent a fatal alert.
    PeerAlert(AlertDescription),
    /// We failed the connection (the alert we sent, if any, follows from the error).
    Error(Error),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("closed locally"),
            Self::PeerClosed => f.write_str("peer sent close_notify"),
            Self::PeerAlert(a) => write!(f, "peer sent fatal alert {a}"),
            Self::Error(e) => write!(f, "{e}"),
        }
    }
}

/// What a failed handshake or lost connection means for whoever retries it (a gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The peer did not accept our key: decrypt_error (RFC 4279 §2: unknown identity or
    /// wrong key, told apart only on the server), unknown_psk_identity, bad_record_mac, or
    /// the peer's Finished did not verify here. A GBA client bootstraps again.
    KeyRejected,
    /// The peer could not get a key now (internal_error, e.g. its key API is down): retry
    /// later with back-off, the key may be fine.
    PeerUnavailable,
    /// The two configurations do not fit (handshake_failure: no common cipher suite, or
    /// extended master secret required by one side; a suite we did not offer): a
    /// configuration error, retrying will not help.
    ConfigMismatch,
    /// The server does not serve the name we asked for (unrecognized_name, RFC 6066): a
    /// configuration error.
    NameRejected,
    /// No answer within the retransmission limit.
    Timeout,
    /// Anything else (a protocol error, a malformed message).
    Other,
}

impl CloseReason {
    /// What a DTLS 1.3 close means in the 1.2 vocabulary; `max_retransmits` is what a
    /// handshake timeout went through (an established session's timer only resends our ACK, so a
    /// timeout is a handshake's).
    pub(crate) fn from_close13(c: Close13, max_retransmits: u32) -> Self {
        match c {
            Close13::PeerClosed => Self::PeerClosed,
            Close13::Closed => Self::Local,
            Close13::Alert(a) => Self::PeerAlert(AlertDescription::from_u8(a)),
            Close13::TimedOut => Self::Error(Error::HandshakeTimeout(max_retransmits)),
            Close13::Failed(e) => Self::Error(e.into()),
        }
    }

    /// What a failure means for a retry; `None` for an orderly close.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        use AlertDescription as A;
        Some(match self {
            Self::Local | Self::PeerClosed => return None,
            Self::PeerAlert(a) => match a {
                A::DecryptError | A::UnknownPskIdentity | A::BadRecordMac => {
                    FailureKind::KeyRejected
                }
                A::InternalError => FailureKind::PeerUnavailable,
                A::HandshakeFailure | A::InsufficientSecurity => FailureKind::ConfigMismatch,
                A::UnrecognizedName => FailureKind::NameRejected,
                _ => FailureKind::Other,
            },
            Self::Error(e) => match e {
                Error::BadFinished | Error::BadBinder | Error::UnknownPskIdentity => {
                    FailureKind::KeyRejected
                }
                Error::PskUnavailable => FailureKind::PeerUnavailable,
                Error::NoCommonSuite
                | Error::SuiteNotOffered(_)
                | Error::NoExtendedMasterSecret
                | Error::Dtls13(Handshake13Error::Config(_)) => FailureKind::ConfigMismatch,
                Error::UnrecognizedName(_) => FailureKind::NameRejected,
                Error::HandshakeTimeout(_) | Error::HandshakeExpired | Error::HandshakeEvicted => {
                    FailureKind::Timeout
                }
                _ => FailureKind::Other,
            },
        })
    }
}

/// Something the user should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed.
    Connected {
        /// Negotiated suite.
        suite: CipherSuite,
        /// PSK identity used.
        identity: Vec<u8>,
        /// True for an abbreviated handshake (resumption issue).
        resumed: bool,
    },
    /// The handshake needs a PSK: answer with `provide_psk`.
    PskRequested {
        /// Server: identity from ClientKeyExchange. Client: empty.
        identity: Vec<u8>,
        /// Client: the server's hint. Server: None.
        hint: Option<Vec<u8>>,
        /// Server: the client's SNI.
        sni: Option<String>,
        /// Negotiated suite.
        suite: CipherSuite,
    },
    /// One application data record.
    Data(Vec<u8>),
    /// Server, DTLS 1.3: one record of 0-RTT early data (`ServerConfig::early_data13`), before
    /// `Connected`. Until `Connected` follows it may be a replay: an attacker who recorded a
    /// client's ClientHello and early data can send them again, and though the server's
    /// single-use tickets and strike register refuse such replays, what to forward before the
    /// handshake completes (e.g. only idempotent requests) is the application's choice. A
    /// connection that closes instead of `Connected` never proved its early data was live.
    EarlyData(Vec<u8>),
    /// DTLS 1.3 client: what became of the early data it was started with (after
    /// `Connected`). `accepted`: the server took it as 0-RTT; otherwise (no ticket allowing
    /// it, a HelloRetryRequest, the server's refusal) it was sent again as application data
    /// after the handshake.
    EarlyDataStatus {
        /// The server took the data as 0-RTT.
        accepted: bool,
    },
    /// The connection ended; nothing more will come.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}
