//! The card source every card command takes: `--softsim PROFILE`, `--reader [NAME]` or
//! `--modem PATH [--baud N]`.

use super::CliError;
use simbridge::card::CardChannel;
use simbridge::card::modem::{ModemCard, ModemOptions};
use simbridge::error_chain::chain;
use simbridge::uicc::pin::{self, GuardedOpenError, PinGuard, PinProblem};
use simbridge::uicc::{Uicc, UiccError};
use simbridge_lab::softsim::SoftUsim;
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
    /// Cellular modem's AT port (/dev/ttyUSB2, /dev/serial/by-id/...): the SIM behind it
    #[arg(long, value_name = "PATH")]
    pub modem: Option<PathBuf>,
    /// Serial speed of --modem
    #[arg(long, value_name = "N", default_value_t = 115_200)]
    pub baud: u32,
    /// How to reach the SIM behind --modem: auto (known modem's quirks, else probing), csim or cgla
    #[arg(long, value_enum, value_name = "HOW", default_value_t = ModemAccess::Auto)]
    pub modem_access: ModemAccess,
    /// PIN1, verified when the card asks for it
    #[arg(long, env = "SIMBRIDGE_PIN", hide_env_values = true)]
    pub pin: Option<String>,
}

/// `--modem-access`: the AT path to the SIM.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModemAccess {
    /// From the quirks table for a known modem, else by probing
    #[default]
    Auto,
    /// AT+CSIM on the basic channel
    Csim,
    /// AT+CCHO/+CGLA/+CCHC on a logical channel
    Cgla,
}

impl CardSourceArgs {
    /// Opens the chosen card channel.
    pub fn open_channel(&self) -> Result<Box<dyn CardChannel>, CliError> {
        let sources = [
            self.softsim.is_some(),
            self.reader.is_some(),
            self.modem.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(CliError::with_code(
                super::EXIT_USAGE,
                "give one card source only (--softsim, --reader or --modem)",
            ));
        }
        if let Some(path) = &self.modem {
            let mut opts = ModemOptions::new(path, self.baud);
            opts.sim_path = match self.modem_access {
                ModemAccess::Auto => None,
                ModemAccess::Csim => Some(modem_at::SimPath::Basic),
                ModemAccess::Cgla => Some(modem_at::SimPath::Logical),
            };
            let card = ModemCard::open(&opts).map_err(|e| CliError::new(chain(&e).to_string()))?;
            return Ok(Box::new(card));
        }
        match (&self.softsim, &self.reader) {
            (Some(profile), None) => {
                let card = SoftUsim::load(profile).map_err(|e| CliError::new(e.to_string()))?;
                Ok(Box::new(card))
            }
            (None, Some(reader)) => open_reader(reader),
            (None, None) => Err(CliError::with_code(
                super::EXIT_USAGE,
                "no card source: give --softsim PROFILE, --reader [NAME] or --modem PATH",
            )),
            _ => Err(CliError::new(
                "give one card source only (--softsim or --reader)",
            )),
        }
    }

    /// Opens the card and selects the USIM. `--pin` goes through a [`PinGuard`]: sent only when
    /// the card asks and at least 2 tries are left (`simbridge sim pin verify` is the by-hand path).
    pub fn open(&self) -> Result<Uicc<Box<dyn CardChannel>>, CliError> {
        match self.open_or_locked()? {
            Opened::Full(u) => Ok(u),
            Opened::Locked(u, p) => Err(CliError::new(format!(
                "{}: {}",
                u.channel().describe(),
                pin_advice(&p)
            ))),
        }
    }

    /// Like [`CardSourceArgs::open`], but a card that stays locked behind PIN1 (no PIN given,
    /// one try left, blocked) is still opened as far as it goes without the PIN: ICCID,
    /// applications and the PIN state. A refused `--pin` is an error.
    pub fn open_or_locked(&self) -> Result<Opened, CliError> {
        let mut guard = PinGuard::new(self.pin.clone());
        let mut what = String::from("card");
        let opened = guard.open(|| {
            let c = self.open_channel()?;
            what = c.describe();
            Ok::<_, CliError>(c)
        });
        match opened {
            Ok(u) => Ok(Opened::Full(u)),
            Err(GuardedOpenError::Open(e)) => Err(e),
            Err(GuardedOpenError::Card(e)) => Err(card_error(&what, e)),
            Err(GuardedOpenError::Pin(p @ PinProblem::Rejected { .. }))
            | Err(GuardedOpenError::Pin(p @ PinProblem::Malformed { .. })) => {
                Err(CliError::new(format!("{what}: {}", pin_advice(&p))))
            }
            Err(GuardedOpenError::Pin(p)) => {
                let u =
                    Uicc::open_for_pin(self.open_channel()?).map_err(|e| card_error(&what, e))?;
                Ok(Opened::Locked(u, p))
            }
        }
    }
}

/// A card as far as it opened.
pub enum Opened {
    /// Fully open: the USIM selected and read.
    Full(Uicc<Box<dyn CardChannel>>),
    /// Locked behind PIN1: only what needs no PIN was read (see [`Uicc::open_for_pin`]).
    Locked(Uicc<Box<dyn CardChannel>>, PinProblem),
}

/// A PIN problem of a one-shot command in words, with what to do about it.
pub fn pin_advice(p: &PinProblem) -> String {
    match p {
        PinProblem::NotConfigured { tries_left } => format!(
            "the card requires PIN1 ({}): give it with --pin or SIMBRIDGE_PIN",
            pin::tries_left(*tries_left)
        ),
        PinProblem::Rejected { tries_left: 0 } | PinProblem::Blocked => {
            "PIN1 is blocked: unblock it with `simbridge sim pin unblock --puk PUK --new-pin PIN`"
                .into()
        }
        PinProblem::Rejected { tries_left } => {
            format!("wrong PIN1: {}", pin::tries_left(*tries_left))
        }
        PinProblem::LastTry => "PIN1 has 1 try left: simbridge sends no PIN on its own now (a wrong one would block the card); verify it by hand with `simbridge sim pin verify --pin PIN`".into(),
        PinProblem::Malformed { .. } => p.to_string(),
    }
}

/// A card-layer error as a CLI error that names the card, with its causes.
pub fn card_error(what: &str, e: UiccError) -> CliError {
    CliError::new(format!("{what}: {}", chain(&e)))
}

#[cfg(feature = "pcsc")]
fn open_reader(name: &str) -> Result<Box<dyn CardChannel>, CliError> {
    let name = if name.is_empty() { None } else { Some(name) };
    let chan = simbridge::card::pcsc::PcscChannel::connect(name)
        .map_err(|e| CliError::new(chain(&e).to_string()))?;
    Ok(Box::new(chan))
}

#[cfg(not(feature = "pcsc"))]
fn open_reader(_name: &str) -> Result<Box<dyn CardChannel>, CliError> {
    Err(CliError::new(
        "this simbridge was built without PC/SC support; rebuild with `--features pcsc`",
    ))
}
