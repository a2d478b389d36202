//! Errors of the AT channel and of SIM access through it.

use crate::response::FinalError;

/// Errors of the AT channel and of SIM access.
#[derive(Debug, thiserror::Error)]
pub enum AtError {
    /// The device could not be opened.
    #[error("cannot open modem {device}: {source}")]
    Open {
        /// The device path.
        device: String,
        /// Why.
        source: std::io::Error,
    },
    /// The modem did not give a final result in time.
    #[error("modem did not answer {command} within {ms} ms")]
    Timeout {
        /// The command (payload elided).
        command: String,
        /// The timeout that expired.
        ms: u64,
    },
    /// The modem answered nothing sensible even to a plain `AT` after several attempts.
    #[error("modem {device} is not responding to AT commands ({attempts} attempts)")]
    NotResponding {
        /// The device.
        device: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The device went away (unplugged, rebooted, USB re-enumeration). The next command reopens it.
    #[error("modem {device} disconnected: {reason}")]
    Disconnected {
        /// The device.
        device: String,
        /// What the transport said.
        reason: String,
    },
    /// The device did not come back within the reconnect timeout.
    #[error("modem {device} did not come back within {ms} ms: {last}")]
    Gone {
        /// The device.
        device: String,
        /// The reconnect timeout.
        ms: u64,
        /// The last open error.
        last: String,
    },
    /// The modem answered the command with a failure result.
    #[error("{command} failed: {error}")]
    Command {
        /// The command (payload elided).
        command: String,
        /// The final result, with the meaning of CME/CMS codes.
        error: FinalError,
    },
    /// The modem answered OK but the answer could not be understood.
    #[error("unexpected answer to {command}: {detail}")]
    BadAnswer {
        /// The command (payload elided).
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// No way to reach the SIM through this modem (neither +CSIM nor +CCHO/+CGLA works).
    #[error("modem offers no usable SIM access: {0}")]
    NoSimAccess(String),
    /// The caller asked for something the channel cannot send (APDU too long, bad characters).
    #[error("cannot send: {0}")]
    Invalid(String),
}

impl AtError {
    /// The CME error code, if the modem answered with one.
    pub fn cme_code(&self) -> Option<u16> {
        match self {
            AtError::Command {
                error: FinalError::Cme { code, .. },
                ..
            } => *code,
            _ => None,
        }
    }

    /// True when the modem itself refused the command (final result ERROR / +CME ERROR), as
    /// opposed to a transport problem.
    pub fn is_refusal(&self) -> bool {
        matches!(self, AtError::Command { .. })
    }
}
