//! The card-side PIN guard (`simbridge::uicc::pin`) against the software USIM: wrong PIN,
//! blocked PIN, no PIN, as a real card answers them.

use crate::softsim::{Profile, SoftUsim};
use simbridge::card::CardChannel;
use simbridge::uicc::pin::*;
use simbridge::uicc::*;

fn card(pin: Option<&str>) -> SoftUsim {
    let mut text = String::from(
        "iccid = \"8988211000000000017\"\nimsi = \"001010123456789\"\nmnc_length = 2\n\
         k = \"000102030405060708090a0b0c0d0e0f\"\nopc = \"62e75b8d6fa5bf46ec87a9276f9df54d\"\n\
         amf = \"8000\"\nsqn = \"000000000000\"\n",
    );
    if let Some(p) = pin {
        text.push_str(&format!("pin = \"{p}\"\n"));
    }
    let profile = Profile::parse(&text, std::path::Path::new("test.toml")).expect("profile");
    SoftUsim::from_profile(profile, None).expect("card")
}

#[test]
fn guard_sends_a_wrong_pin_once_and_never_again() {
    let shared = std::rc::Rc::new(std::cell::RefCell::new(card(Some("1234"))));
    let opens = std::cell::Cell::new(0);
    let mut guard = PinGuard::new(Some("9999".into()));
    let open = || {
        opens.set(opens.get() + 1);
        Ok::<_, String>(SharedCard(shared.clone()))
    };
    let e = guard.open(open).err().expect("refused");
    assert!(
        matches!(
            e,
            GuardedOpenError::Pin(PinProblem::Rejected { tries_left: 2 })
        ),
        "{e}"
    );
    let opened = opens.get();
    let e = guard.open(open).err().expect("still refused");
    assert!(matches!(
        e,
        GuardedOpenError::Pin(PinProblem::Rejected { .. })
    ));
    assert_eq!(opens.get(), opened, "the card is not touched again");
    let mut u = Uicc::open_for_pin(SharedCard(shared.clone())).expect("open");
    assert_eq!(u.pin_tries().expect("tries"), Some(2));
}

#[test]
fn guard_refuses_at_one_try_left_and_opens_with_the_right_pin() {
    let shared = std::rc::Rc::new(std::cell::RefCell::new(card(Some("1234"))));
    let mut u = Uicc::open_for_pin(SharedCard(shared.clone())).expect("open");
    for left in [2, 1] {
        let e = u.verify_pin1("0000").expect_err("wrong");
        assert!(matches!(e, PinError::WrongPin { tries_left } if tries_left == left));
    }
    let mut guard = PinGuard::new(Some("1234".into()));
    let e = guard
        .open(|| Ok::<_, String>(SharedCard(shared.clone())))
        .err()
        .expect("refused");
    assert!(
        matches!(e, GuardedOpenError::Pin(PinProblem::LastTry)),
        "{e}"
    );
    assert_eq!(u.pin_tries().expect("tries"), Some(1), "nothing was spent");
    u.verify_pin1("1234").expect("by hand");
    let mut guard = PinGuard::new(Some("1234".into()));
    let u = guard
        .open(|| Ok::<_, String>(SharedCard(shared.clone())))
        .expect("opens");
    assert_eq!(u.imsi(), "001010123456789");
}

#[test]
fn guard_without_a_pin_names_the_tries() {
    let shared = std::rc::Rc::new(std::cell::RefCell::new(card(Some("1234"))));
    let mut guard = PinGuard::new(None);
    let e = guard
        .open(|| Ok::<_, String>(SharedCard(shared.clone())))
        .err()
        .expect("refused");
    assert_eq!(
        e.to_string(),
        "the card requires PIN1 (3 tries left) and no PIN is configured"
    );
    let mut guard = PinGuard::new(Some("1234".into()));
    let plain = std::rc::Rc::new(std::cell::RefCell::new(card(None)));
    guard
        .open(|| Ok::<_, String>(SharedCard(plain.clone())))
        .expect("no PIN needed: none sent");
}

/// A card that answers every command with one status word and keeps the last APDU: the exact
/// bytes of CHANGE REFERENCE DATA / RESET RETRY COUNTER are checked here.
/// One software card seen through several channels (each open resets it).
struct SharedCard(std::rc::Rc<std::cell::RefCell<SoftUsim>>);

impl CardChannel for SharedCard {
    fn reset(&mut self) -> Result<Vec<u8>, simbridge::card::CardError> {
        self.0.borrow_mut().reset()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, simbridge::card::CardError> {
        self.0.borrow_mut().transmit(apdu)
    }
    fn describe(&self) -> String {
        "shared software USIM".into()
    }
}
