//! `simbridge sim pin verify|change|unblock`: PIN1 by hand. This is the path a person takes when
//! the gateway stopped over the PIN (refused, one try left, blocked): unlike the gateway, these
//! commands send what they are given even at one try left, after a warning.

use super::card_source::{CardSourceArgs, card_error};
use super::{CliError, CliResult};
use simbridge::card::CardChannel;
use simbridge::uicc::Uicc;
use simbridge::uicc::pin::{PinError, tries_left};
use std::process::ExitCode;

/// `sim pin` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PinCommand {
    /// VERIFY PIN1 (--pin or SIMBRIDGE_PIN); a right PIN gives the card all its tries back
    Verify {
        #[command(flatten)]
        card: CardSourceArgs,
    },
    /// Change PIN1 from --pin to --new-pin
    Change {
        #[command(flatten)]
        card: CardSourceArgs,
        /// The new PIN1 (4 to 8 digits)
        #[arg(long, env = "SIMBRIDGE_NEW_PIN", hide_env_values = true)]
        new_pin: String,
    },
    /// Unblock PIN1 with the PUK and set it to --new-pin
    Unblock {
        #[command(flatten)]
        card: CardSourceArgs,
        /// The PUK (8 digits; printed on the card's carrier)
        #[arg(long, env = "SIMBRIDGE_PUK", hide_env_values = true)]
        puk: String,
        /// The new PIN1 (4 to 8 digits)
        #[arg(long, env = "SIMBRIDGE_NEW_PIN", hide_env_values = true)]
        new_pin: String,
    },
}

/// Runs a `sim pin` subcommand.
pub fn run(cmd: PinCommand) -> CliResult {
    match cmd {
        PinCommand::Verify { card } => {
            let pin = needs_pin(&card)?;
            let (mut u, what) = open(&card)?;
            if u.pin_state().tries_left.is_none() {
                println!("PIN1 is not required (disabled or already verified): nothing sent");
                return Ok(ExitCode::SUCCESS);
            }
            warn_last_try(&u);
            u.verify_pin1(&pin).map_err(|e| pin_error(&what, e))?;
            println!("PIN1 verified: the card has all its tries again");
        }
        PinCommand::Change { card, new_pin } => {
            let pin = needs_pin(&card)?;
            let (mut u, what) = open(&card)?;
            warn_last_try(&u);
            u.change_pin1(&pin, &new_pin)
                .map_err(|e| pin_error(&what, e))?;
            println!("PIN1 changed");
        }
        PinCommand::Unblock { card, puk, new_pin } => {
            let (mut u, what) = open(&card)?;
            u.unblock_pin1(&puk, &new_pin)
                .map_err(|e| pin_error(&what, e))?;
            println!("PIN1 unblocked and set to the new PIN");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn needs_pin(card: &CardSourceArgs) -> Result<String, CliError> {
    card.pin.clone().ok_or_else(|| {
        CliError::with_code(
            super::EXIT_USAGE,
            "give the current PIN1 with --pin or SIMBRIDGE_PIN",
        )
    })
}

fn open(card: &CardSourceArgs) -> Result<(Uicc<Box<dyn CardChannel>>, String), CliError> {
    let chan = card.open_channel()?;
    let what = chan.describe();
    let u = Uicc::open_for_pin(chan).map_err(|e| card_error(&what, e))?;
    Ok((u, what))
}

fn warn_last_try<C: CardChannel>(u: &Uicc<C>) {
    if let Some(n @ 1) = u.pin_state().tries_left {
        eprintln!(
            "simbridge: warning: PIN1 has {}: a wrong PIN now blocks the card (the PUK unblocks it)",
            tries_left(n)
        );
    }
}

fn pin_error(what: &str, e: PinError) -> CliError {
    CliError::new(format!("{what}: {}", simbridge::error_chain::chain(&e)))
}
