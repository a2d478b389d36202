//! A [`CardChannel`] over a cellular modem's AT port, through the `modem-at` crate.
//!
//! The trait stays in this crate and `modem-at` knows nothing of simbridge's types, so this
//! adapter lives here: `modem-at` remains a small crate of its own (reusable, fuzzable, testable
//! against an in-memory modem), and dependencies flow one way (simbridge -> modem-at).
//!
//! A modem owns the card's power, so [`CardChannel::reset`] cannot cold-reset the card: it closes
//! our logical channel (the next APDU opens a fresh one) and returns an empty ATR, since TS 27.007
//! has no command that reads the ATR. When the modem disappears (unplugged, rebooted, USB
//! re-enumeration), the APDU in flight fails with [`CardError::Removed`]; the channel reopens the
//! device on the next call, and until [`CardChannel::reset`] is called every APDU fails with
//! `Removed` too, because the card behind the modem was reset and no longer holds the selection
//! the caller assumes.

use crate::card::{CardChannel, CardError};
use modem_at::{AtChannel, AtConfig, AtError, SerialConnector, SimAccess, SimConfig, SimPath};
use std::path::{Path, PathBuf};

/// How to reach the modem.
#[derive(Debug, Clone)]
pub struct ModemOptions {
    /// The AT port (`/dev/ttyUSB2`, `/dev/serial/by-id/...`, a pty).
    pub path: PathBuf,
    /// Bits per second (ignored by USB CDC-ACM ports and ptys).
    pub baud: u32,
    /// Force `+CSIM` or `+CGLA`; `None` chooses from the quirks table or by probing.
    pub sim_path: Option<SimPath>,
    /// AT channel timing.
    pub at: AtConfig,
}

impl ModemOptions {
    /// Defaults for `path` at `baud`.
    pub fn new(path: impl AsRef<Path>, baud: u32) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            baud,
            sim_path: None,
            at: AtConfig::default(),
        }
    }
}

/// The card behind a modem.
#[derive(Debug)]
pub struct ModemCard {
    sim: SimAccess,
    describe: String,
    /// Connection generation at the last reset: a different one means the card was reset
    /// behind our back.
    generation: u64,
    /// APDUs were sent since the last reset (else a reset keeps the fresh logical channel).
    used: bool,
    /// Our APDUs go to the modem's basic channel (see [`CardChannel::basic_channel_shared`]).
    shared: bool,
}

fn card_error(e: AtError) -> CardError {
    match e {
        AtError::Disconnected { .. } => {
            log::warn!("{e}");
            CardError::Removed
        }
        AtError::Open { .. } | AtError::Gone { .. } => CardError::Unreachable(Box::new(e)),
        AtError::Invalid(m) => CardError::BadCommand(m),
        other => CardError::Transport {
            via: "modem",
            source: Box::new(other),
        },
    }
}

impl ModemCard {
    /// Opens the modem, identifies it and chooses how to reach the SIM.
    pub fn open(opts: &ModemOptions) -> Result<Self, CardError> {
        let connector = SerialConnector::new(&opts.path, opts.baud);
        let ch = AtChannel::open(Box::new(connector), opts.at.clone()).map_err(card_error)?;
        let generation = ch.generation();
        let cfg = SimConfig {
            path: opts.sim_path,
            ..SimConfig::default()
        };
        let mut sim = SimAccess::new(ch, cfg);
        let info = sim.identify().map_err(card_error)?;
        let path = sim.path().map_err(card_error)?;
        let describe = format!(
            "modem {} ({} {}, SIM by {})",
            opts.path.display(),
            info.manufacturer,
            info.model,
            path.name()
        );
        Ok(Self {
            sim,
            describe,
            generation,
            used: false,
            shared: false,
        })
    }

    /// The SIM access (for `+CIMI`, ICCID, PIN state as the modem sees them).
    pub fn sim(&mut self) -> &mut SimAccess {
        &mut self.sim
    }
}

impl CardChannel for ModemCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        self.sim.channel().ensure_connected().map_err(card_error)?;
        if self.sim.channel().generation() != self.generation {
            return Err(CardError::Removed);
        }
        self.used = true;
        self.sim.transmit(apdu).map_err(card_error)
    }

    fn reset(&mut self) -> Result<Vec<u8>, CardError> {
        // A channel nobody has used yet (just opened by path probing) is as fresh as a new one.
        if self.used {
            if let Err(e) = self.sim.close() {
                log::debug!("closing the logical channel: {e}");
            }
            self.used = false;
        }
        self.sim.channel().ensure_connected().map_err(card_error)?;
        self.generation = self.sim.channel().generation();
        // On +CSIM this opens our logical channel (MANAGE CHANNEL) when it can.
        self.shared = self.sim.shares_basic_channel().map_err(card_error)?;
        Ok(Vec::new())
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn basic_channel_shared(&self) -> bool {
        self.shared
    }
}
