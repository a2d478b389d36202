//! The card channel: how one APDU reaches a card. Backends: the in-process software USIM
//! (the software USIM of `simbridge-lab`), PC/SC readers (feature `pcsc`) and cellular modems (`modem-at`).
//!
//! A channel moves bytes only; it does not interpret APDUs. T=0 procedure bytes (61xx, 6Cxx) are
//! handled above it, in [`crate::uicc`], so every backend behaves the same.

pub mod modem;
#[cfg(feature = "pcsc")]
pub mod pcsc;

/// Errors a card channel reports.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The card was removed (or the virtual card disconnected) while in use.
    #[error("card removed")]
    Removed,
    /// No reader or no card was found (in words: which readers there are).
    #[error("no card: {0}")]
    NoCard(String),
    /// The device that holds the card could not be reached (a modem that cannot be opened or
    /// did not come back).
    #[error("no card")]
    Unreachable(#[source] BackendError),
    /// The transport failed (reader, socket, modem).
    #[error("card transport failed ({via})")]
    Transport {
        /// The backend ("PC/SC", "modem").
        via: &'static str,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// The card did not answer in time.
    #[error("card did not answer within {0} ms")]
    Timeout(u64),
    /// The command APDU could not be sent as given (too long for the transport ...).
    #[error("command APDU rejected by the channel: {0}")]
    BadCommand(String),
}

/// The error of a card backend's own library (pcsc, modem-at), kept as a [`CardError`]'s source.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// One logical connection to a card.
pub trait CardChannel {
    /// Sends one command APDU and returns the response APDU (data followed by SW1 SW2).
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError>;

    /// Resets (or powers on) the card and returns its ATR.
    fn reset(&mut self) -> Result<Vec<u8>, CardError>;

    /// A short human-readable description of the channel (reader name, device path ...).
    fn describe(&self) -> String;

    /// Whether our APDUs share the basic channel with someone else's application session (a
    /// modem reached by `+CSIM` without a logical channel). The caller must then select no
    /// application: selecting one would end that session. Valid after [`CardChannel::reset`].
    fn basic_channel_shared(&self) -> bool {
        false
    }
}

impl<C: CardChannel + ?Sized> CardChannel for Box<C> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        (**self).transmit(apdu)
    }
    fn reset(&mut self) -> Result<Vec<u8>, CardError> {
        (**self).reset()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn basic_channel_shared(&self) -> bool {
        (**self).basic_channel_shared()
    }
}
