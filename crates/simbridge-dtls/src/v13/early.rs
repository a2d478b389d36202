//! 0-RTT on the server (RFC 8446 §4.2.10, RFC 9147 §5.6): whether a ClientHello's early data
//! is taken, and the epoch-1 records that carry it.
//!
//! Taken only when all hold: the ClientHello offers early_data, the PSK the server selects is
//! the one the client offered first (the client derived its early keys from that one), it is a
//! ticket of ours issued with a max_early_data_size, no HelloRetryRequest came before (early
//! data after one is always refused), and the strike register (v13/strike.rs) says
//! [`EarlyVerdict::Accept`]: fresh by the ticket's age and never seen. Anything else is a
//! refusal, which is always safe: the EncryptedExtensions carry no early_data, the client's
//! epoch-1 records are dropped unread, and the client sends the data again after the handshake.
//!
//! Keys: client_early_traffic_secret from the early secret of that first PSK over the hash of
//! the whole ClientHello; records of epoch 1 (DTLS 1.3 has no EndOfEarlyData: early data ends
//! with the client's Finished in epoch 2, and epoch-1 records after it are dropped). At most
//! max_early_data_size bytes of early data in all: more ends the handshake (RFC 8446 §4.2.10:
//! unexpected_message).
//!
//! Sans-IO: the register and the time (milliseconds on the clock the tickets' issue times are
//! on) come from the caller through [`EarlyGate`].

use super::handshake::{APPLICATION_DATA, Handshake13Error, P};
use super::key_schedule::{HASH_LEN, TrafficKeys};
use super::protect::Protection13;
use super::strike::{EarlyVerdict, StrikeRegister};
use crate::replay::ReplayWindow;
use crate::secret::Secret;
use crate::suite::AeadAlg;

/// What the server needs to take early data: its strike register and the time.
pub struct EarlyGate<'a> {
    /// The register of ClientHellos whose early data was taken.
    pub register: &'a mut StrikeRegister,
    /// Now, milliseconds on the clock of the ticket issue times (their seconds × 1000).
    pub now_ms: u64,
}

/// Why a ClientHello's early data was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyRefusal {
    /// The server takes no early data (no [`EarlyGate`]).
    Off,
    /// After a HelloRetryRequest.
    AfterRetry,
    /// The selected PSK is not the client's first, or is a ticket issued without early data.
    NotAllowed,
    /// The strike register's verdict (never [`EarlyVerdict::Accept`]): a replay, stale,
    /// no ticket age (an external PSK), within a window of a start, or the register full.
    Register(EarlyVerdict),
}

/// What became of a ClientHello's early data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyOutcome {
    /// It offered none.
    NotOffered,
    /// Taken, up to this many bytes.
    Accepted(u32),
    /// Refused: its records are dropped.
    Refused(EarlyRefusal),
}

/// The sender's early data beyond the max_early_data_size it was allowed.
pub const TOO_MUCH_EARLY_DATA: &str = "early data beyond max_early_data_size";

/// The server's reader of the client's epoch-1 records, for an accepted offer.
pub(super) struct EarlyReceiver {
    recv: Protection13,
    max: u32,
    received: u32,
    replay: ReplayWindow,
    next: u64,
}

impl EarlyReceiver {
    /// A reader under `client_early_traffic_secret`, taking at most `max` bytes.
    pub(super) fn new(alg: AeadAlg, secret: &Secret<HASH_LEN>, max: u32) -> Self {
        Self {
            recv: Protection13::new(alg, &TrafficKeys::from_secret(P, secret), 1),
            max,
            received: 0,
            replay: ReplayWindow::default(),
            next: 0,
        }
    }

    /// The application data of the epoch-1 records of `datagram`, in order. A record that
    /// does not open, repeats one, or is not application data is skipped (RFC 9147 §4.5.2);
    /// more than the maximum in all is [`Handshake13Error::UnexpectedMessage`].
    pub(super) fn open(&mut self, datagram: &[u8]) -> Result<Vec<Vec<u8>>, Handshake13Error> {
        let mut out = Vec::new();
        let mut rest = datagram;
        while !rest.is_empty() {
            // the client has no CID of ours before our ServerHello: its early records carry none
            let Ok((o, after)) = self.recv.open(rest, 0, self.next) else {
                break;
            };
            rest = after;
            if !self.replay.check(o.seq) || o.content_type != APPLICATION_DATA {
                continue;
            }
            self.replay.mark(o.seq);
            self.next = self.next.max(o.seq + 1);
            let len = u32::try_from(o.content.len()).unwrap_or(u32::MAX);
            self.received = self.received.saturating_add(len);
            if self.received > self.max {
                return Err(Handshake13Error::UnexpectedMessage(TOO_MUCH_EARLY_DATA));
            }
            out.push(o.content);
        }
        Ok(out)
    }

    /// Bytes of early data taken so far.
    pub(super) fn received(&self) -> u32 {
        self.received
    }
}

/// The sending time of a ClientHello by its ticket: the ticket's issue time plus the client's
/// ticket age (its obfuscated_ticket_age less the ticket's age_add, RFC 8446 §4.2.11.1).
///
/// A ticket keeps its issue time in whole seconds, so the ticket came out somewhere in that
/// second: its middle is taken, which keeps the error within 500 ms (the second's start made a
/// prompt client look up to a second early, a whole 1 s window).
pub fn sent_ms(issued_secs: u64, obfuscated_age: u32, age_add: u32) -> u64 {
    issued_secs
        .saturating_mul(1000)
        .saturating_add(500)
        .saturating_add(u64::from(obfuscated_age.wrapping_sub(age_add)))
}

/// A plaintext fatal alert record of epoch 0 with record number `seq` (what a server sends
/// before the client has any of its keys).
pub(super) fn plaintext_alert(seq: u64, description: u8) -> Vec<u8> {
    let mut d = Vec::with_capacity(15);
    d.extend_from_slice(&[21, 0xfe, 0xfd, 0, 0]);
    d.extend_from_slice(&seq.to_be_bytes()[2..]);
    d.extend_from_slice(&[0, 2, 2, description]);
    d
}

#[cfg(test)]
#[path = "early_test_client.rs"]
pub(crate) mod test_client;

#[cfg(test)]
#[path = "early_tests.rs"]
mod tests;
