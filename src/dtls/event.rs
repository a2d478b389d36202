//! Events a connection reports to its user.

use std::fmt;

use super::error::Error;
use super::suite::CipherSuite;
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
    /// The connection ended; nothing more will come.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}
