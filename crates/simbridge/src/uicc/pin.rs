//! PIN1 handling beyond VERIFY (TS 102 221 §11.1.9–11.1.13): CHANGE REFERENCE DATA, RESET RETRY
//! COUNTER (unblock with the PUK), opening a card far enough to manage its PIN, and [`PinGuard`],
//! the policy that keeps unattended software from blocking a card: a configured PIN is sent only
//! while it has not been refused, and never when one try is left.

use super::files::fid;
use super::{PinState, StatusWord, Uicc, UiccError};
use crate::card::CardChannel;
use zeroize::Zeroizing;

const INS_VERIFY: u8 = 0x20;
const INS_CHANGE_REFERENCE_DATA: u8 = 0x24;
const INS_RESET_RETRY_COUNTER: u8 = 0x2C;
/// Key reference of PIN1 (the application PIN, TS 102 221 §9.5.1).
const PIN1: u8 = 0x01;

/// "1 try left", "2 tries left".
pub fn tries_left(n: u8) -> String {
    if n == 1 {
        "1 try left".into()
    } else {
        format!("{n} tries left")
    }
}

/// What went wrong with a PIN or PUK command.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The PIN or PUK text is not of the form the card takes.
    #[error("{what} must be {expected} (got {got} characters)")]
    Format {
        /// Which value ("PIN", "new PIN", "PUK").
        what: &'static str,
        /// The expected form.
        expected: &'static str,
        /// Its length (never the value).
        got: usize,
    },
    /// The card refused the PIN.
    #[error("wrong PIN1: {}", self::tries_left(*.tries_left))]
    WrongPin {
        /// Tries left after this one.
        tries_left: u8,
    },
    /// The card refused the PUK.
    #[error("wrong PUK: {}; at 0 the card is permanently blocked", self::tries_left(*.tries_left))]
    WrongPuk {
        /// Tries left after this one.
        tries_left: u8,
    },
    /// PIN1 is blocked.
    #[error(
        "PIN1 is blocked; unblock it with the PUK: simbridge sim pin unblock --puk PUK --new-pin PIN"
    )]
    PinBlocked,
    /// The PUK is blocked: nothing but the operator can help.
    #[error("the PUK is blocked: the card cannot be unblocked")]
    PukBlocked,
    /// The card took no RESET RETRY COUNTER for PIN1 (6984/6985: it has no usable PUK).
    #[error("the card refuses to unblock PIN1 ({sw}): it has no usable PUK for it")]
    NoPuk {
        /// The card's answer.
        sw: StatusWord,
    },
    /// PIN1 is disabled: there is nothing to verify or change.
    #[error("PIN1 is disabled on this card")]
    Disabled,
    /// Any other card-layer error.
    #[error(transparent)]
    Card(#[from] UiccError),
}

/// The 8-byte PIN block: ASCII digits padded with FF (TS 102 221 §9.5.1).
fn pin_block(what: &'static str, pin: &str) -> Result<Zeroizing<[u8; 8]>, PinError> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinError::Format {
            what,
            expected: "4 to 8 decimal digits",
            got: pin.chars().count(),
        });
    }
    let mut b = Zeroizing::new([0xFFu8; 8]);
    b[..pin.len()].copy_from_slice(pin.as_bytes());
    Ok(b)
}

/// The PUK: exactly 8 decimal digits (TS 102 221 §9.5.2).
fn puk_block(puk: &str) -> Result<Zeroizing<[u8; 8]>, PinError> {
    if puk.len() != 8 || !puk.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinError::Format {
            what: "PUK",
            expected: "8 decimal digits",
            got: puk.chars().count(),
        });
    }
    let mut b = Zeroizing::new([0u8; 8]);
    b.copy_from_slice(puk.as_bytes());
    Ok(b)
}

/// Checks a PIN's form without sending it (no card try is spent on a typo).
pub fn check_pin_format(pin: &str) -> Result<(), PinError> {
    pin_block("PIN", pin).map(|_| ())
}

impl<C: CardChannel> Uicc<C> {
    /// Resets the card and selects the USIM without reading anything PIN-protected: enough to
    /// verify, change or unblock PIN1 and to show ICCID, applications and the PIN state.
    /// IMSI, IMPI and the service table stay empty.
    pub fn open_for_pin(chan: C) -> Result<Self, UiccError> {
        let mut u = Self::unread(chan);
        u.atr = u.chan.reset()?;
        u.select_fid(fid::MF, "SELECT MF")?;
        u.iccid = match u.read_binary_file(fid::EF_ICCID, "EF_ICCID") {
            Ok(b) => super::files::decode_iccid(&b).ok(),
            Err(UiccError::Status { .. }) => None,
            Err(e) => return Err(e),
        };
        u.read_apps()?;
        let usim = u.usim_aid.clone();
        u.select_aid(&usim, "SELECT USIM")?;
        let tries = u.pin_tries()?;
        u.pin = PinState {
            required: tries.is_some(),
            tries_left: tries,
        };
        Ok(u)
    }

    /// VERIFY PIN1, with errors that say how many tries are left ("1 try left").
    pub fn verify_pin1(&mut self, pin: &str) -> Result<(), PinError> {
        let block = pin_block("PIN", pin)?;
        let sw = self.pin_command(INS_VERIFY, &block[..])?;
        self.pin_answer(sw, "VERIFY PIN1")
    }

    /// CHANGE REFERENCE DATA for PIN1: `old` then `new`, each in an 8-byte block.
    pub fn change_pin1(&mut self, old: &str, new: &str) -> Result<(), PinError> {
        let old = pin_block("PIN", old)?;
        let new = pin_block("new PIN", new)?;
        let data = Zeroizing::new([&old[..], &new[..]].concat());
        let sw = self.pin_command(INS_CHANGE_REFERENCE_DATA, &data)?;
        self.pin_answer(sw, "CHANGE PIN1")
    }

    /// RESET RETRY COUNTER for PIN1: the PUK and the new PIN; the card sets PIN1 to `new` and its
    /// counter back to the maximum.
    pub fn unblock_pin1(&mut self, puk: &str, new: &str) -> Result<(), PinError> {
        let puk = puk_block(puk)?;
        let new = pin_block("new PIN", new)?;
        let data = Zeroizing::new([&puk[..], &new[..]].concat());
        match self.pin_command(INS_RESET_RETRY_COUNTER, &data)? {
            // Here the counter in 63Cx and the blocked state are the PUK's.
            StatusWord::WrongPin(n) => Err(PinError::WrongPuk { tries_left: n }),
            StatusWord::PinBlocked => Err(PinError::PukBlocked),
            sw @ (StatusWord::ConditionsNotSatisfied | StatusWord::RefDataNotUsable) => {
                Err(PinError::NoPuk { sw })
            }
            sw => self.pin_answer(sw, "UNBLOCK PIN1"),
        }
    }

    /// Sends a PIN1 command (P1 00, P2 = PIN1) with `data`; the status word.
    fn pin_command(&mut self, ins: u8, data: &[u8]) -> Result<StatusWord, PinError> {
        let cmd = super::Command::new(0x00, ins, 0x00, PIN1).with_data(data.to_vec());
        let sw = self.transceive(&cmd)?.sw;
        Ok(sw)
    }

    /// 9000: PIN1 verified now; anything else as a [`PinError`].
    fn pin_answer(&mut self, sw: StatusWord, command: &str) -> Result<(), PinError> {
        if sw == StatusWord::Ok {
            self.pin = PinState {
                required: false,
                tries_left: None,
            };
            return Ok(());
        }
        Err(self.pin_refusal(sw, command))
    }

    fn pin_refusal(&mut self, sw: StatusWord, command: &str) -> PinError {
        match sw {
            StatusWord::WrongPin(0) | StatusWord::PinBlocked => {
                self.pin.tries_left = Some(0);
                PinError::PinBlocked
            }
            StatusWord::WrongPin(n) => {
                self.pin.tries_left = Some(n);
                PinError::WrongPin { tries_left: n }
            }
            // 6984 "reference data not usable" / 6985 "conditions of use": PIN1 is disabled.
            StatusWord::ConditionsNotSatisfied | StatusWord::RefDataNotUsable => PinError::Disabled,
            sw => PinError::Card(UiccError::Status {
                command: command.into(),
                sw,
            }),
        }
    }
}

/// Why a configured PIN was not sent (or not sent again): each needs a person, so the caller
/// stops rather than retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinProblem {
    /// The card asks for PIN1 and none is configured.
    #[error("the card requires PIN1 ({}) and no PIN is configured", self::tries_left(*.tries_left))]
    NotConfigured {
        /// Tries left on the card.
        tries_left: u8,
    },
    /// The configured PIN is not of the form the card takes; it was not sent.
    #[error("the configured PIN1 is not 4 to 8 decimal digits ({len} characters); it was not sent")]
    Malformed {
        /// Its length (never the value).
        len: usize,
    },
    /// The card refused the configured PIN; it is never sent again by this process.
    #[error("the card rejected the configured PIN1 ({}); it will not be sent again", self::tries_left(*.tries_left))]
    Rejected {
        /// Tries left after the refusal.
        tries_left: u8,
    },
    /// One try left: a wrong PIN now would block the card, so only a person may try it.
    #[error(
        "PIN1 has 1 try left: the configured PIN is not sent (a wrong one would block the card)"
    )]
    LastTry,
    /// PIN1 is blocked.
    #[error("PIN1 is blocked; unblock it with the PUK")]
    Blocked,
}

/// Opening a card through a [`PinGuard`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GuardedOpenError<E: std::fmt::Display + std::fmt::Debug> {
    /// The channel could not be opened (try again later).
    #[error("{0}")]
    Open(E),
    /// The card failed (try again later).
    #[error(transparent)]
    Card(UiccError),
    /// A PIN problem that needs a person: do not try again.
    #[error(transparent)]
    Pin(PinProblem),
}

/// Keeps unattended software from spending the card's PIN tries: the configured PIN is sent only
/// when the card asks for it, at least 2 tries are left and the card has not refused it before in
/// this process. After an acceptance it is sent again when the card asks again (a reset, a modem
/// re-enumeration): the card just took it and reset its counter. After a refusal never again.
pub struct PinGuard {
    pin: Option<Zeroizing<String>>,
    refused: Option<PinProblem>,
}

impl PinGuard {
    /// A guard for the configured PIN (`None`: none configured).
    pub fn new(pin: Option<String>) -> Self {
        Self {
            pin: pin.map(Zeroizing::new),
            refused: None,
        }
    }

    /// The problem that stopped the guard for good, if any.
    pub fn problem(&self) -> Option<&PinProblem> {
        self.refused.as_ref()
    }

    /// Opens the card (`open` gives a fresh channel; it is called twice when the card asks for the
    /// PIN: once to learn the tries left without spending one, once to verify).
    pub fn open<C: CardChannel, E: std::fmt::Display + std::fmt::Debug>(
        &mut self,
        mut open: impl FnMut() -> Result<C, E>,
    ) -> Result<Uicc<C>, GuardedOpenError<E>> {
        if let Some(p) = &self.refused {
            return Err(GuardedOpenError::Pin(p.clone()));
        }
        let chan = open().map_err(GuardedOpenError::Open)?;
        let tries = match Uicc::open(chan, None) {
            Ok(u) => return Ok(u),
            Err(UiccError::PinRequired { tries_left }) => tries_left,
            Err(UiccError::PinBlocked) => return Err(self.stop(PinProblem::Blocked)),
            Err(e) => return Err(GuardedOpenError::Card(e)),
        };
        let Some(pin) = self.pin.clone() else {
            return Err(self.stop(PinProblem::NotConfigured { tries_left: tries }));
        };
        if check_pin_format(&pin).is_err() {
            return Err(self.stop(PinProblem::Malformed {
                len: pin.chars().count(),
            }));
        }
        // A card that does not tell its tries reports 0 here (PinRequired): one VERIFY at most
        // is still safe then, as the guard never sends a refused PIN twice.
        if tries == 1 {
            return Err(self.stop(PinProblem::LastTry));
        }
        let chan = open().map_err(GuardedOpenError::Open)?;
        match Uicc::open(chan, Some(&pin)) {
            Ok(u) => Ok(u),
            Err(UiccError::WrongPin { tries_left }) => {
                Err(self.stop(PinProblem::Rejected { tries_left }))
            }
            Err(UiccError::PinBlocked) => Err(self.stop(PinProblem::Rejected { tries_left: 0 })),
            Err(e) => Err(GuardedOpenError::Card(e)),
        }
    }

    fn stop<E: std::fmt::Display + std::fmt::Debug>(
        &mut self,
        p: PinProblem,
    ) -> GuardedOpenError<E> {
        self.refused = Some(p.clone());
        GuardedOpenError::Pin(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardChannel;

    #[test]
    fn plural_of_tries() {
        assert_eq!(tries_left(1), "1 try left");
        assert_eq!(tries_left(2), "2 tries left");
        assert_eq!(tries_left(0), "0 tries left");
        assert_eq!(
            PinError::WrongPin { tries_left: 1 }.to_string(),
            "wrong PIN1: 1 try left"
        );
        assert_eq!(
            UiccError::WrongPin { tries_left: 1 }.to_string(),
            "wrong PIN: 1 try left"
        );
        assert_eq!(
            UiccError::PinRequired { tries_left: 1 }.to_string(),
            "the card requires PIN1 (1 try left); give it with --pin"
        );
    }

    #[test]
    fn formats_are_checked_before_anything_is_sent() {
        assert!(check_pin_format("1234").is_ok());
        for bad in ["123", "123456789", "12a4", ""] {
            let e = check_pin_format(bad).expect_err(bad);
            assert!(e.to_string().contains("4 to 8 decimal digits"), "{e}");
        }
        assert!(puk_block("1234567").is_err());
        assert!(puk_block("12345678").is_ok());
    }

    struct Scripted {
        sw: [u8; 2],
        last: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    }

    impl CardChannel for Scripted {
        fn reset(&mut self) -> Result<Vec<u8>, crate::card::CardError> {
            Ok(vec![0x3B, 0x00])
        }
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, crate::card::CardError> {
            *self.last.borrow_mut() = apdu.to_vec();
            Ok(self.sw.to_vec())
        }
        fn describe(&self) -> String {
            "scripted card".into()
        }
    }

    fn scripted(sw: [u8; 2]) -> (Uicc<Scripted>, std::rc::Rc<std::cell::RefCell<Vec<u8>>>) {
        let last = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut u = Uicc::unread(Scripted {
            sw,
            last: last.clone(),
        });
        u.pin = PinState {
            required: true,
            tries_left: Some(3),
        };
        (u, last)
    }

    #[test]
    fn change_and_unblock_apdus_follow_ts_102_221() {
        let (mut u, last) = scripted([0x90, 0x00]);
        u.change_pin1("1234", "56789012").expect("changed");
        let mut want = vec![0x00, 0x24, 0x00, 0x01, 0x10];
        want.extend_from_slice(b"1234\xff\xff\xff\xff");
        want.extend_from_slice(b"56789012");
        assert_eq!(*last.borrow(), want);
        u.unblock_pin1("11223344", "4321").expect("unblocked");
        let mut want = vec![0x00, 0x2C, 0x00, 0x01, 0x10];
        want.extend_from_slice(b"11223344");
        want.extend_from_slice(b"4321\xff\xff\xff\xff");
        assert_eq!(*last.borrow(), want);
        assert!(!u.pin_state().required);

        let (mut u, _) = scripted([0x63, 0xC2]);
        let e = u.unblock_pin1("11223344", "4321").expect_err("wrong PUK");
        assert!(matches!(e, PinError::WrongPuk { tries_left: 2 }), "{e}");
        let e = u.change_pin1("1234", "4321").expect_err("wrong PIN");
        assert_eq!(e.to_string(), "wrong PIN1: 2 tries left");
        let (mut u, _) = scripted([0x69, 0x83]);
        assert!(matches!(
            u.unblock_pin1("11223344", "4321"),
            Err(PinError::PukBlocked)
        ));
        assert!(matches!(u.verify_pin1("1234"), Err(PinError::PinBlocked)));
        let (mut u, last) = scripted([0x90, 0x00]);
        assert!(u.unblock_pin1("1234567", "4321").is_err());
        assert!(last.borrow().is_empty(), "a malformed PUK is never sent");
    }
}
