//! Why the session got no key: the answer to [`super::Action::Bootstrap`] and
//! [`super::Action::DeriveNafKey`] when it failed, with the error of the layer that failed kept as
//! its source (print it with [`crate::error_chain::chain`]).

use crate::gba::GbaError;
use crate::uicc::UiccError;
use crate::uicc::pin::PinProblem;

/// A failed bootstrap or key derivation.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The card channel could not be opened (no reader, no card, modem gone, bad profile).
    #[error("cannot open the card")]
    CardOpen(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The card stays locked behind PIN1 until a person acts.
    #[error("card locked")]
    Pin(#[source] PinProblem),
    /// The card failed or refused a command (removed, reset, an error status word).
    #[error("card failed")]
    Card(#[source] UiccError),
    /// The GBA bootstrap failed: the BSF (unreachable, refused, expired lifetime), the network
    /// authentication, or the card during AKA.
    #[error(transparent)]
    Gba(#[from] GbaError),
    /// No key service answers requests (the gateway's key thread is gone).
    #[error("the key service is not running")]
    NotRunning,
}

impl KeyError {
    /// Whether the card itself failed, so it is worth opening it again before the next request
    /// (removed, reset, a modem re-enumerated). A BSF or network failure leaves the card open.
    pub fn card_failed(&self) -> bool {
        match self {
            KeyError::CardOpen(_) | KeyError::Pin(_) | KeyError::Card(_) => true,
            KeyError::Gba(e) => e.card_failed(),
            KeyError::NotRunning => false,
        }
    }
}

impl From<UiccError> for KeyError {
    fn from(e: UiccError) -> Self {
        KeyError::Card(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardError;
    use crate::error_chain::chain;

    #[test]
    fn card_failures_are_told_from_bsf_failures() {
        let removed = KeyError::from(UiccError::Card(CardError::Removed));
        assert!(removed.card_failed());
        assert_eq!(chain(&removed).to_string(), "card failed: card removed");
        let refused = KeyError::from(GbaError::Refused {
            status: 403,
            reason: "unknown IMPI".into(),
        });
        assert!(!refused.card_failed());
        assert_eq!(
            chain(&refused).to_string(),
            "BSF refused the bootstrap: HTTP 403: unknown IMPI"
        );
        // A message that merely mentions a card is not a card failure.
        assert!(!KeyError::from(GbaError::NetworkAuthFailed).card_failed());
        assert!(!KeyError::NotRunning.card_failed());
        let locked = KeyError::Pin(PinProblem::Blocked);
        assert!(locked.card_failed());
        assert_eq!(
            chain(&locked).to_string(),
            "card locked: PIN1 is blocked; unblock it with the PUK"
        );
    }
}
