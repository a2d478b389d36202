//! PC/SC readers through pcsc-lite (cargo feature `pcsc`).

use super::{CardChannel, CardError};
use std::ffi::CString;

/// A card in a PC/SC reader.
pub struct PcscChannel {
    _ctx: pcsc::Context,
    card: pcsc::Card,
    reader: String,
}

fn map_err(e: pcsc::Error) -> CardError {
    match e {
        pcsc::Error::RemovedCard
        | pcsc::Error::NoSmartcard
        | pcsc::Error::ResetCard
        | pcsc::Error::UnpoweredCard => CardError::Removed,
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => {
            CardError::NoCard("the PC/SC service (pcscd) is not running".into())
        }
        pcsc::Error::NoReadersAvailable | pcsc::Error::UnknownReader => {
            CardError::NoCard("no PC/SC reader".into())
        }
        e => CardError::Transport {
            via: "PC/SC",
            source: Box::new(e),
        },
    }
}

impl PcscChannel {
    /// Lists PC/SC readers and whether each holds a card.
    pub fn readers() -> Result<Vec<(String, bool)>, CardError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(map_err)?;
        Self::list(&ctx)
    }

    fn list(ctx: &pcsc::Context) -> Result<Vec<(String, bool)>, CardError> {
        let names = match ctx.list_readers_owned() {
            Ok(n) => n,
            Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
            Err(e) => return Err(map_err(e)),
        };
        let mut states: Vec<pcsc::ReaderState> = names
            .iter()
            .map(|n| pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE))
            .collect();
        ctx.get_status_change(std::time::Duration::from_millis(500), &mut states)
            .map_err(map_err)?;
        Ok(states
            .iter()
            .map(|s| {
                (
                    s.name().to_string_lossy().into_owned(),
                    s.event_state().contains(pcsc::State::PRESENT),
                )
            })
            .collect())
    }

    /// Connects to the card in `reader` (exact name or a unique substring). Without a name, to the
    /// only reader that holds a card.
    pub fn connect(reader: Option<&str>) -> Result<Self, CardError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(map_err)?;
        let readers = Self::list(&ctx)?;
        if readers.is_empty() {
            return Err(CardError::NoCard("no PC/SC reader found".into()));
        }
        let chosen = match reader {
            Some(want) => {
                let exact: Vec<_> = readers.iter().filter(|(n, _)| n == want).collect();
                let matching: Vec<_> = if exact.is_empty() {
                    readers.iter().filter(|(n, _)| n.contains(want)).collect()
                } else {
                    exact
                };
                match matching.as_slice() {
                    [one] => one.0.clone(),
                    [] => {
                        return Err(CardError::NoCard(format!(
                            "no reader named {want:?} (readers: {})",
                            names(&readers)
                        )));
                    }
                    _ => {
                        return Err(CardError::NoCard(format!(
                            "{want:?} matches several readers: {}",
                            names(&readers)
                        )));
                    }
                }
            }
            None => {
                let with_card: Vec<_> = readers.iter().filter(|(_, present)| *present).collect();
                match with_card.as_slice() {
                    [one] => one.0.clone(),
                    [] => {
                        return Err(CardError::NoCard(format!(
                            "no reader holds a card (readers: {})",
                            names(&readers)
                        )));
                    }
                    _ => {
                        return Err(CardError::NoCard(format!(
                            "several readers hold a card, name one with --reader: {}",
                            names(&readers)
                        )));
                    }
                }
            }
        };
        let cname = CString::new(chosen.clone())
            .map_err(|_| CardError::NoCard("reader name contains NUL".into()))?;
        let card = ctx
            .connect(&cname, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(map_err)?;
        Ok(Self {
            _ctx: ctx,
            card,
            reader: chosen,
        })
    }
}

fn names(readers: &[(String, bool)]) -> String {
    readers
        .iter()
        .map(|(n, p)| format!("{n:?}{}", if *p { " (card)" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

impl CardChannel for PcscChannel {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
        let resp = self.card.transmit(apdu, &mut buf).map_err(map_err)?;
        if resp.is_empty() {
            // vpcd (and some drivers) report a card pulled mid-command as an empty answer.
            return Err(match self.card.status2_owned() {
                Err(e) => map_err(e),
                Ok(_) => CardError::Removed,
            });
        }
        Ok(resp.to_vec())
    }

    /// Returns the ATR without a warm reset: connecting already powered the card, and a reset would
    /// disturb other users of a shared reader (a modem manager, another simbridge).
    fn reset(&mut self) -> Result<Vec<u8>, CardError> {
        let mut buf = [0u8; pcsc::MAX_ATR_SIZE];
        let mut names = [0u8; 2048];
        let status = self.card.status2(&mut names, &mut buf).map_err(map_err)?;
        Ok(status.atr().to_vec())
    }

    fn describe(&self) -> String {
        format!("PC/SC reader {:?}", self.reader)
    }
}
