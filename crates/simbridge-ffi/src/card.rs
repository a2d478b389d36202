//! Keys from the configured card: the `[card]` source opened behind a PIN guard, GBA bootstraps
//! with the `[gba]` BSF (contexts cached in `state_dir`, as `simbridge bridge` does) and GBA_U
//! derivations on the card. The actions are answered inline, so the call that raised them
//! blocks for the card and the BSF (bounded by the HTTP timeout).

use gateway::card::CardChannel;
use gateway::card::modem::{ModemCard, ModemOptions};
use gateway::error_chain::chain;
use gateway::gba::{GbaModeChoice, UbConfig, UreqTransport};
use gateway::uicc::Uicc;
use gateway::uicc::pin::{GuardedOpenError, PinGuard};
use gateway::upstream::{Action, CardKeys, KeyError, Now, UpstreamSession};
use simbridge_cli::config::{CardConfig, GatewayConfig};
use simbridge_lab::softsim::SoftUsim;
use std::time::Duration;

/// How long one HTTP exchange with the BSF may take (the gateway's key service uses the same).
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The card, opened when a key is first needed and again after it failed.
pub struct CardSource {
    config: CardConfig,
    guard: PinGuard,
    card: Option<Uicc<Box<dyn CardChannel>>>,
    keys: CardKeys<UreqTransport>,
}

impl CardSource {
    /// The card and BSF of a validated configuration (which made sure both are there).
    pub fn new(cfg: &GatewayConfig) -> Result<Self, String> {
        let mut ub = UbConfig::new(cfg.bsf.as_deref().unwrap_or_default());
        ub.mode = match cfg.gba_mode.as_str() {
            "me" => GbaModeChoice::Me,
            "u" => GbaModeChoice::U,
            _ => GbaModeChoice::Auto,
        };
        let tls = gateway::gba::transport::tls_config(cfg.gba_ca_file.as_deref())
            .map_err(|e| format!("[gba] ca_file: {}", chain(&e)))?;
        std::fs::create_dir_all(&cfg.state_dir)
            .map_err(|e| format!("state_dir {}: {e}", cfg.state_dir.display()))?;
        Ok(Self {
            config: cfg.card.clone(),
            guard: PinGuard::new(cfg.card.pin.clone()),
            card: None,
            keys: CardKeys::new(
                ub,
                &cfg.state_dir,
                UreqTransport::with_tls(HTTP_TIMEOUT, tls),
            ),
        })
    }

    fn open_channel(config: &CardConfig) -> Result<Box<dyn CardChannel>, String> {
        if let Some(profile) = &config.softsim {
            let card = SoftUsim::load(profile).map_err(|e| e.to_string())?;
            return Ok(Box::new(card));
        }
        if let Some(path) = &config.modem {
            let opts = ModemOptions::new(path, config.baud.unwrap_or(115_200));
            let card = ModemCard::open(&opts).map_err(|e| chain(&e).to_string())?;
            return Ok(Box::new(card));
        }
        match &config.reader {
            Some(name) => open_reader(name),
            None => Err("[card]: no card source (softsim, reader or modem)".into()),
        }
    }

    fn ensure_card(&mut self) -> Result<(), KeyError> {
        if self.card.is_none() {
            let config = &self.config;
            let opened = self.guard.open(|| Self::open_channel(config));
            self.card = Some(opened.map_err(|e| match e {
                GuardedOpenError::Open(m) => KeyError::CardOpen(m.into()),
                GuardedOpenError::Card(e) => KeyError::Card(e),
                GuardedOpenError::Pin(p) => KeyError::Pin(p),
            })?);
        }
        Ok(())
    }

    /// Answers one action of `session`; a card failure closes the card so the next action
    /// opens it again.
    pub fn answer(&mut self, session: &mut UpstreamSession, now: Now, action: Action) {
        let failed = match action {
            Action::Bootstrap { force } => {
                let got = self.ensure_card().and_then(|()| match self.card.as_mut() {
                    Some(card) => self.keys.bootstrap(card, force, now.wall),
                    None => Err(KeyError::NotRunning),
                });
                let failed = got.as_ref().err().is_some_and(KeyError::card_failed);
                session.bootstrap_done(now, got.map(|o| (o.context, o.bootstrapped)));
                failed
            }
            Action::DeriveNafKey { naf_id } => {
                let key = self.ensure_card().and_then(|()| match self.card.as_mut() {
                    Some(card) => self.keys.naf_key(card, &naf_id),
                    None => Err(KeyError::NotRunning),
                });
                let failed = key.as_ref().err().is_some_and(KeyError::card_failed);
                session.provide_naf_key(now, key);
                failed
            }
        };
        if failed {
            self.card = None;
        }
    }
}

/// The PC/SC reader `name` ("" = the only reader holding a card).
#[cfg(feature = "pcsc")]
fn open_reader(name: &str) -> Result<Box<dyn CardChannel>, String> {
    let name = (!name.is_empty()).then_some(name);
    let chan =
        gateway::card::pcsc::PcscChannel::connect(name).map_err(|e| chain(&e).to_string())?;
    Ok(Box::new(chan))
}

#[cfg(not(feature = "pcsc"))]
fn open_reader(_name: &str) -> Result<Box<dyn CardChannel>, String> {
    Err(
        "[card] reader: this libsimbridge was built without PC/SC; build it with \
         `scripts/install-lib PREFIX --features pcsc` (needs libpcsclite-dev)"
            .into(),
    )
}
