//! The card source every card command takes: `--softsim PROFILE` or `--reader [NAME]`.

use super::CliError;
use simbridge::card::CardChannel;
use simbridge::softsim::SoftUsim;
use simbridge::uicc::{Uicc, UiccError};
use std::path::PathBuf;

/// Where the card is.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CardSourceArgs {
    /// Software USIM from a profile file (in process; its SQN state is kept in PROFILE.state)
    #[arg(long, value_name = "PROFILE")]
    pub softsim: Option<PathBuf>,
    /// PC/SC reader by name or unique part of it; without a name, the only reader holding a card
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub reader: Option<String>,
    /// PIN1, verified when the card asks for it
    #[arg(long, env = "SIMBRIDGE_PIN", hide_env_values = true)]
    pub pin: Option<String>,
}

impl CardSourceArgs {
    /// Opens the chosen card channel.
    pub fn open_channel(&self) -> Result<Box<dyn CardChannel>, CliError> {
        match (&self.softsim, &self.reader) {
            (Some(profile), None) => {
                let card = SoftUsim::load(profile).map_err(|e| CliError::new(e.to_string()))?;
                Ok(Box::new(card))
            }
            (None, Some(reader)) => open_reader(reader),
            (None, None) => Err(CliError::new(
                "no card source: give --softsim PROFILE or --reader [NAME]",
            )),
            _ => Err(CliError::new(
                "give one card source only (--softsim or --reader)",
            )),
        }
    }

    /// Opens the card and selects the USIM.
    pub fn open(&self) -> Result<Uicc<Box<dyn CardChannel>>, CliError> {
        let chan = self.open_channel()?;
        let what = chan.describe();
        Uicc::open(chan, self.pin.as_deref()).map_err(|e| card_error(&what, e))
    }
}

/// A card-layer error as a CLI error that names the card.
pub fn card_error(what: &str, e: UiccError) -> CliError {
    CliError::new(format!("{what}: {e}"))
}

#[cfg(feature = "pcsc")]
fn open_reader(name: &str) -> Result<Box<dyn CardChannel>, CliError> {
    let name = if name.is_empty() { None } else { Some(name) };
    let chan = simbridge::card::pcsc::PcscChannel::connect(name)
        .map_err(|e| CliError::new(e.to_string()))?;
    Ok(Box::new(chan))
}

#[cfg(not(feature = "pcsc"))]
fn open_reader(_name: &str) -> Result<Box<dyn CardChannel>, CliError> {
    Err(CliError::new(
        "this simbridge was built without PC/SC support; rebuild with `--features pcsc`",
    ))
}
