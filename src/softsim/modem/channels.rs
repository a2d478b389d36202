//! Logical channels emulated over a card that has only the basic channel.
//!
//! The software USIM keeps one "current file" state. A real card keeps one per logical channel
//! (TS 102 221 §8.2: up to 20). We emulate that by remembering, per channel, the SELECTs that led
//! to its current file and replaying them when traffic switches to another channel. Card-wide
//! state (SQN array, PIN, GBA_U keys) is shared, as on a real card. MANAGE CHANNEL is answered
//! here, and the channel bits of CLA are stripped before the card sees the command.

use crate::card::{CardChannel, CardError};
use std::collections::BTreeMap;

/// Channel id used for the modem's own reads (`+CRSM`, `+CIMI`, `+CCID`): kept apart from the
/// host's channels so that the modem never disturbs what the host selected.
pub const MODEM_INTERNAL: u8 = 0xFF;

/// Highest logical channel number (TS 102 221 §10.1.1).
pub const MAX_CHANNEL: u8 = 19;

/// SELECT MF, the start of every replay.
const SELECT_MF: [u8; 7] = [0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00];

/// Longest remembered SELECT chain per channel (a path from the MF is never deeper).
const MAX_HISTORY: usize = 8;

/// The emulation state over one card.
#[derive(Debug)]
pub struct Channels<C> {
    card: C,
    current: Option<u8>,
    history: BTreeMap<u8, Vec<Vec<u8>>>,
}

/// The logical channel a CLA byte names, and the CLA with the channel bits cleared.
pub fn split_cla(cla: u8) -> (u8, u8) {
    if cla & 0x40 != 0 {
        (4 + (cla & 0x0F), cla & 0xB0)
    } else {
        (cla & 0x03, cla & 0xFC)
    }
}

/// `cla` with channel `ch` encoded (what a modem does to a `+CGLA` APDU).
pub fn with_channel(cla: u8, ch: u8) -> u8 {
    let (_, base) = split_cla(cla);
    if ch < 4 {
        base | ch
    } else {
        base | 0x40 | ((ch - 4) & 0x0F)
    }
}

fn sw(resp: &[u8]) -> (u8, u8) {
    let n = resp.len();
    match (n.checked_sub(2).and_then(|i| resp.get(i)), resp.last()) {
        (Some(&a), Some(&b)) if n >= 2 => (a, b),
        _ => (0x6F, 0x00),
    }
}

impl<C: CardChannel> Channels<C> {
    /// Wraps a card. The basic channel starts with the MF selected.
    pub fn new(card: C) -> Self {
        let mut history = BTreeMap::new();
        history.insert(0, Vec::new());
        history.insert(MODEM_INTERNAL, Vec::new());
        Self { card, current: None, history }
    }

    /// The card (for reset).
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    /// Whether channel `ch` is open.
    pub fn is_open(&self, ch: u8) -> bool {
        self.history.contains_key(&ch)
    }

    /// Opens the lowest free channel (1..=19).
    pub fn open(&mut self) -> Option<u8> {
        let ch = (1..=MAX_CHANNEL).find(|c| !self.history.contains_key(c))?;
        self.history.insert(ch, Vec::new());
        Some(ch)
    }

    /// Closes channel `ch` (not the basic one).
    pub fn close(&mut self, ch: u8) -> bool {
        if ch == 0 || ch == MODEM_INTERNAL {
            return false;
        }
        if self.current == Some(ch) {
            self.current = None;
        }
        self.history.remove(&ch).is_some()
    }

    /// Sends an APDU whose CLA names its channel (as a host sends it through `+CSIM`).
    pub fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let cla = apdu.first().copied().unwrap_or(0);
        let (ch, _) = split_cla(cla);
        self.transmit_on(ch, apdu)
    }

    /// Sends an APDU on channel `ch`, whatever its CLA says.
    pub fn transmit_on(&mut self, ch: u8, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let (Some(&cla), Some(&ins)) = (apdu.first(), apdu.get(1)) else {
            return Ok(vec![0x67, 0x00]);
        };
        if ins == 0x70 {
            return Ok(self.manage_channel(ch, apdu));
        }
        if !self.is_open(ch) {
            // TS 102 221: a command on a closed channel is "logical channel not supported".
            return Ok(vec![0x68, 0x81]);
        }
        let mut basic = apdu.to_vec();
        if let Some(c) = basic.first_mut() {
            *c = split_cla(cla).1;
        }
        if self.current != Some(ch) {
            self.restore(ch)?;
        }
        let resp = self.card.transmit(&basic)?;
        if ins == 0xA4 && matches!(sw(&resp).0, 0x90 | 0x61 | 0x9F) {
            self.remember_select(ch, basic);
        }
        Ok(resp)
    }

    fn manage_channel(&mut self, ch: u8, apdu: &[u8]) -> Vec<u8> {
        let p1 = apdu.get(2).copied().unwrap_or(0);
        let p2 = apdu.get(3).copied().unwrap_or(0);
        match p1 {
            0x00 => match self.open() {
                // A new channel starts where the originating channel is (TS 102 221 §11.1.17).
                Some(new) => {
                    let h = self.history.get(&ch).cloned().unwrap_or_default();
                    self.history.insert(new, h);
                    vec![new, 0x90, 0x00]
                }
                None => vec![0x6A, 0x81],
            },
            0x80 => {
                if self.close(p2) {
                    vec![0x90, 0x00]
                } else {
                    vec![0x68, 0x81]
                }
            }
            _ => vec![0x6B, 0x00],
        }
    }

    fn remember_select(&mut self, ch: u8, select: Vec<u8>) {
        let p1 = select.get(2).copied().unwrap_or(0);
        let absolute = p1 == 0x04 || p1 == 0x08 || (p1 == 0x00 && select.get(5..7) == Some(&[0x3F, 0x00]));
        let h = self.history.entry(ch).or_default();
        if absolute {
            h.clear();
        }
        if h.len() >= MAX_HISTORY {
            h.remove(0);
        }
        h.push(select);
    }

    /// Puts the card's selection where channel `ch` left it.
    fn restore(&mut self, ch: u8) -> Result<(), CardError> {
        let chain = self.history.get(&ch).cloned().unwrap_or_default();
        self.card.transmit(&SELECT_MF)?;
        for sel in chain {
            self.card.transmit(&sel)?;
        }
        self.current = Some(ch);
        Ok(())
    }

    /// Forgets every logical channel (card reset).
    pub fn reset(&mut self) {
        self.history.clear();
        self.history.insert(0, Vec::new());
        self.history.insert(MODEM_INTERNAL, Vec::new());
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cla_channel_bits() {
        assert_eq!(split_cla(0x00), (0, 0x00));
        assert_eq!(split_cla(0x03), (3, 0x00));
        assert_eq!(split_cla(0x81), (1, 0x80));
        assert_eq!(split_cla(0x40), (4, 0x00));
        assert_eq!(split_cla(0x4F), (19, 0x00));
        assert_eq!(split_cla(0xC2), (6, 0x80));
        for ch in 0..=MAX_CHANNEL {
            assert_eq!(split_cla(with_channel(0x00, ch)).0, ch);
            assert_eq!(split_cla(with_channel(0x80, ch)), (ch, 0x80));
        }
    }

    /// A card that only records what it was sent and answers 9000.
    #[derive(Default)]
    struct Recorder(Vec<Vec<u8>>);

    impl CardChannel for Recorder {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
            self.0.push(apdu.to_vec());
            Ok(vec![0x90, 0x00])
        }
        fn reset(&mut self) -> Result<Vec<u8>, CardError> {
            Ok(vec![0x3B, 0x00])
        }
        fn describe(&self) -> String {
            "recorder".into()
        }
    }

    #[test]
    fn switching_channels_replays_that_channels_selection() {
        let mut c = Channels::new(Recorder::default());
        let sel_adf = vec![0x00, 0xA4, 0x04, 0x04, 0x02, 0xA0, 0x00];
        let sel_ef = vec![0x00, 0xA4, 0x00, 0x04, 0x02, 0x6F, 0x07];
        let ch = c.transmit(&[0x00, 0x70, 0x00, 0x00, 0x01]).expect("open");
        assert_eq!(ch, vec![1, 0x90, 0x00]);
        c.transmit_on(1, &sel_adf).expect("select");
        c.transmit_on(1, &sel_ef).expect("select");
        c.transmit_on(0, &[0x00, 0xB0, 0x00, 0x00, 0x01]).expect("basic");
        c.card.0.clear();
        c.transmit(&[0x01, 0xB0, 0x00, 0x00, 0x09]).expect("read on 1");
        assert_eq!(c.card.0, vec![SELECT_MF.to_vec(), sel_adf, sel_ef, vec![0x00, 0xB0, 0x00, 0x00, 0x09]]);
    }

    #[test]
    fn closed_channel_is_refused_and_close_works() {
        let mut c = Channels::new(Recorder::default());
        assert_eq!(c.transmit(&[0x02, 0xB0, 0x00, 0x00, 0x01]).expect("t"), vec![0x68, 0x81]);
        assert_eq!(c.open(), Some(1));
        assert_eq!(c.transmit(&[0x00, 0x70, 0x80, 0x01, 0x00]).expect("close"), vec![0x90, 0x00]);
        assert!(!c.is_open(1));
        assert!(!c.close(0), "the basic channel cannot be closed");
    }
}
