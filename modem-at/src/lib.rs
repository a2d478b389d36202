//! AT command channel to a cellular modem and SIM access through it (`+CSIM`, `+CCHO`/`+CGLA`/`+CCHC`).
//!
//! This crate knows nothing of GBA or DTLS: it moves APDUs to the SIM behind a modem's AT port.
//! The AT channel and SIM access land with the modem-at issue; until then the crate only names its error type.

/// Errors of the AT channel.
#[derive(Debug, thiserror::Error)]
pub enum AtError {
    /// The modem did not give a final result in time.
    #[error("modem did not answer within {0} ms")]
    Timeout(u64),
}
