//! PIN1 on the software USIM: VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER with the PUK
//! (TS 102 221 §11.1.9, §11.1.10, §11.1.13). Both counters and a changed PIN1 are persisted in
//! the card's state file before the answer, like the SQN.

use super::{Answer, PIN_TRIES, SoftUsim};
use crate::softsim::state::{PUK_TRIES, StoredPin};
use simbridge::uicc::apdu::Command;
use simbridge::uicc::sw::StatusWord as Sw;

impl SoftUsim {
    /// PIN1 as it stands: changed on the card, else the profile's.
    fn current_pin(&self) -> Option<&str> {
        match &self.state.pin {
            Some(p) => Some(p.0.as_str()),
            None => self.profile.pin.as_deref(),
        }
    }

    /// Whether `block` is PIN1 in its 8-byte form (digits padded with FF), in constant time.
    fn pin_matches(&self, block: &[u8]) -> bool {
        let Some(pin) = self.current_pin() else {
            return false;
        };
        let mut want = zeroize::Zeroizing::new([0xFFu8; 8]);
        if let Some(w) = want.get_mut(..pin.len()) {
            w.copy_from_slice(pin.as_bytes());
        }
        bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], block))
    }

    /// Counts a wrong PIN1 (persisted before the answer).
    fn pin_refused(&mut self) -> Answer {
        self.state.pin_tries = self.state.pin_tries.saturating_sub(1);
        self.pin_verified = false;
        self.save().map_err(|_| Sw::TechnicalProblem)?;
        Err(Sw::WrongPin(self.state.pin_tries))
    }

    /// Sets PIN1 (from a checked block), verified, with all its tries.
    fn set_pin(&mut self, pin: String) -> Answer {
        self.state.pin = Some(StoredPin(pin));
        self.state.pin_tries = PIN_TRIES;
        self.pin_verified = true;
        self.save().map_err(|_| Sw::TechnicalProblem)?;
        Ok((Vec::new(), Sw::Ok))
    }

    pub(super) fn verify(&mut self, cmd: &Command) -> Answer {
        if cmd.p1 != 0 || cmd.p2 != 0x01 {
            return Err(Sw::IncorrectP1P2);
        }
        if self.current_pin().is_none() {
            return if cmd.data.is_empty() {
                Ok((Vec::new(), Sw::Ok))
            } else {
                Err(Sw::ConditionsNotSatisfied)
            };
        }
        if self.state.pin_tries == 0 {
            return Err(Sw::PinBlocked);
        }
        if cmd.data.is_empty() {
            return if self.pin_verified {
                Ok((Vec::new(), Sw::Ok))
            } else {
                Err(Sw::WrongPin(self.state.pin_tries))
            };
        }
        if cmd.data.len() != 8 {
            return Err(Sw::WrongLength);
        }
        if self.pin_matches(&cmd.data) {
            self.pin_verified = true;
            self.state.pin_tries = PIN_TRIES;
            self.save().map_err(|_| Sw::TechnicalProblem)?;
            Ok((Vec::new(), Sw::Ok))
        } else {
            self.pin_refused()
        }
    }

    /// CHANGE REFERENCE DATA for PIN1 (TS 102 221 §11.1.10): old PIN block then new PIN block.
    /// A wrong old PIN counts against PIN1's tries like a wrong VERIFY.
    pub(super) fn change_pin(&mut self, cmd: &Command) -> Answer {
        if cmd.p1 != 0 || cmd.p2 != 0x01 {
            return Err(Sw::IncorrectP1P2);
        }
        if self.current_pin().is_none() {
            return Err(Sw::ConditionsNotSatisfied); // PIN1 disabled: nothing to change
        }
        if self.state.pin_tries == 0 {
            return Err(Sw::PinBlocked);
        }
        let (old, new) = match cmd.data.as_slice() {
            d if d.len() == 16 => d.split_at(8),
            _ => return Err(Sw::WrongLength),
        };
        let new = pin_from_block(new).ok_or(Sw::WrongData)?;
        if self.pin_matches(old) {
            self.set_pin(new)
        } else {
            self.pin_refused()
        }
    }

    /// RESET RETRY COUNTER for PIN1 (TS 102 221 §11.1.13): with the PUK and a new PIN block,
    /// PIN1 becomes the new PIN with all its tries; without data, 63Cx gives the PUK's tries.
    /// A wrong PUK counts against the PUK's own counter; at 0 the card answers 6983 for good.
    pub(super) fn unblock_pin(&mut self, cmd: &Command) -> Answer {
        if cmd.p1 != 0 || cmd.p2 != 0x01 {
            return Err(Sw::IncorrectP1P2);
        }
        let Some(puk) = self.profile.puk.clone() else {
            return Err(Sw::RefDataNotUsable); // no PUK on this card
        };
        if self.state.puk_tries == 0 {
            return Err(Sw::PinBlocked);
        }
        if cmd.data.is_empty() {
            return Err(Sw::WrongPin(self.state.puk_tries));
        }
        let (given, new) = match cmd.data.as_slice() {
            d if d.len() == 16 => d.split_at(8),
            _ => return Err(Sw::WrongLength),
        };
        let new = pin_from_block(new).ok_or(Sw::WrongData)?;
        if bool::from(subtle::ConstantTimeEq::ct_eq(puk.as_bytes(), given)) {
            self.state.puk_tries = PUK_TRIES;
            self.set_pin(new)
        } else {
            self.state.puk_tries = self.state.puk_tries.saturating_sub(1);
            self.save().map_err(|_| Sw::TechnicalProblem)?;
            Err(Sw::WrongPin(self.state.puk_tries))
        }
    }
}

/// The PIN in an 8-byte PIN block: 4 to 8 ASCII digits, then FF padding (TS 102 221 §9.5.1).
fn pin_from_block(block: &[u8]) -> Option<String> {
    let len = block.iter().position(|b| *b == 0xFF).unwrap_or(block.len());
    let (digits, pad) = block.split_at(len);
    let ok = (4..=8).contains(&len)
        && digits.iter().all(u8::is_ascii_digit)
        && pad.iter().all(|b| *b == 0xFF);
    ok.then(|| digits.iter().map(|b| char::from(*b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::softsim::Profile;

    fn card(dir: &std::path::Path) -> SoftUsim {
        let text = "iccid = \"8988211000000000017\"\nimsi = \"001010123456789\"\n\
             k = \"000102030405060708090a0b0c0d0e0f\"\nopc = \"62e75b8d6fa5bf46ec87a9276f9df54d\"\n\
             mnc_length = 2\npin = \"1234\"\npuk = \"12345678\"\n";
        let path = dir.join("p.toml");
        let profile = Profile::parse(text, &path).expect("profile");
        SoftUsim::from_profile(profile, Some(dir.join("p.toml.state"))).expect("card")
    }

    fn apdu(ins: u8, a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut v = vec![0x00, ins, 0x00, 0x01, (a.len() + b.len()) as u8];
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        v
    }

    fn sw(r: &[u8]) -> [u8; 2] {
        [r[r.len() - 2], r[r.len() - 1]]
    }

    #[test]
    fn block_form_is_checked() {
        assert_eq!(
            pin_from_block(b"1234\xff\xff\xff\xff").as_deref(),
            Some("1234")
        );
        assert_eq!(pin_from_block(b"12345678").as_deref(), Some("12345678"));
        assert!(pin_from_block(b"123\xff\xff\xff\xff\xff").is_none());
        assert!(pin_from_block(b"12a4\xff\xff\xff\xff").is_none());
        assert!(pin_from_block(b"1234\xff5\xff\xff").is_none());
    }

    #[test]
    fn change_then_unblock_with_counters_persisted() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut c = card(dir.path());
        let r = c.process(&apdu(
            0x24,
            b"0000\xff\xff\xff\xff",
            b"5678\xff\xff\xff\xff",
        ));
        assert_eq!(sw(&r), [0x63, 0xC2], "a wrong old PIN costs a try");
        let r = c.process(&apdu(
            0x24,
            b"1234\xff\xff\xff\xff",
            b"5678\xff\xff\xff\xff",
        ));
        assert_eq!(sw(&r), [0x90, 0x00]);
        let mut c = card(dir.path());
        let r = c.process(&apdu(0x20, b"1234\xff\xff\xff\xff", b""));
        assert_eq!(sw(&r), [0x63, 0xC2], "the old PIN is gone after a restart");
        for left in [1u8, 0] {
            let r = c.process(&apdu(0x20, b"9999\xff\xff\xff\xff", b""));
            assert_eq!(sw(&r), [0x63, 0xC0 | left]);
        }
        let r = c.process(&apdu(0x20, b"5678\xff\xff\xff\xff", b""));
        assert_eq!(sw(&r), [0x69, 0x83], "blocked");
        let r = c.process(&[0x00, 0x2C, 0x00, 0x01]);
        assert_eq!(sw(&r), [0x63, 0xCA], "10 PUK tries");
        let r = c.process(&apdu(0x2C, b"00000000", b"4321\xff\xff\xff\xff"));
        assert_eq!(sw(&r), [0x63, 0xC9]);
        let mut c = card(dir.path());
        let r = c.process(&[0x00, 0x2C, 0x00, 0x01]);
        assert_eq!(sw(&r), [0x63, 0xC9], "the PUK counter is persisted");
        let r = c.process(&apdu(0x2C, b"12345678", b"43\xff\xff\xff\xff\xff\xff"));
        assert_eq!(sw(&r), [0x6A, 0x80], "a malformed new PIN is refused");
        let r = c.process(&apdu(0x2C, b"12345678", b"4321\xff\xff\xff\xff"));
        assert_eq!(sw(&r), [0x90, 0x00]);
        let r = c.process(&[0x00, 0x2C, 0x00, 0x01]);
        assert_eq!(sw(&r), [0x63, 0xCA], "a right PUK restores its tries");
        let mut c = card(dir.path());
        let r = c.process(&[0x00, 0x20, 0x00, 0x01]);
        assert_eq!(sw(&r), [0x63, 0xC3]);
        let r = c.process(&apdu(0x20, b"4321\xff\xff\xff\xff", b""));
        assert_eq!(sw(&r), [0x90, 0x00]);
        let state = std::fs::read_to_string(dir.path().join("p.toml.state")).expect("state");
        assert!(state.contains("\"puk_tries\": 10"), "{state}");
    }

    #[test]
    fn ten_wrong_puks_block_for_good() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut c = card(dir.path());
        for left in (0..10u8).rev() {
            let r = c.process(&apdu(0x2C, b"00000000", b"4321\xff\xff\xff\xff"));
            assert_eq!(sw(&r), [0x63, 0xC0 | left]);
        }
        let r = c.process(&apdu(0x2C, b"12345678", b"4321\xff\xff\xff\xff"));
        assert_eq!(sw(&r), [0x69, 0x83], "the right PUK no longer helps");
        let r = c.process(&apdu(0x20, b"1234\xff\xff\xff\xff", b""));
        assert_eq!(sw(&r), [0x90, 0x00], "PIN1 itself is untouched");
    }
}
