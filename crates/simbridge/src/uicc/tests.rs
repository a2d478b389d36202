//! Unit tests of the T=0 procedure-byte handling, with a scripted channel (a mock inside this
//! module only; the card as a whole is tested against the software USIM in tests/).

use super::*;
use std::collections::VecDeque;

struct Scripted {
    script: VecDeque<(Vec<u8>, Vec<u8>)>,
}

impl CardChannel for Scripted {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let (want, answer) = self.script.pop_front().ok_or(CardError::Removed)?;
        assert_eq!(apdu, want.as_slice(), "unexpected APDU");
        Ok(answer)
    }
    fn reset(&mut self) -> Result<Vec<u8>, CardError> {
        Ok(vec![0x3B, 0x00])
    }
    fn describe(&self) -> String {
        "scripted".into()
    }
}

fn uicc(script: Vec<(&str, &str)>) -> Uicc<Scripted> {
    let script = script
        .into_iter()
        .map(|(a, b)| (hex::decode(a).expect("hex"), hex::decode(b).expect("hex")))
        .collect();
    Uicc::unread(Scripted { script })
}

#[test]
fn get_response_after_61xx_and_resend_after_6cxx() {
    let mut u = uicc(vec![
        ("00a4000402 3f00 00".replace(' ', "").as_str(), "6104"),
        ("00c0000004", "62020000 9000".replace(' ', "").as_str()),
    ]);
    let r = u
        .transceive(
            &Command::new(0, 0xA4, 0, 4)
                .with_data(vec![0x3F, 0])
                .with_le(0),
        )
        .expect("ok");
    assert_eq!((r.data, r.sw), (vec![0x62, 2, 0, 0], StatusWord::Ok));

    let mut u = uicc(vec![("00b0000000", "6c03"), ("00b0000003", "0102039000")]);
    let r = u
        .transceive(&Command::new(0, 0xB0, 0, 0).with_le(0))
        .expect("ok");
    assert_eq!(r.data, vec![1, 2, 3]);
    assert_eq!(u.apdu_count(), 2);
}

#[test]
fn chained_61xx_is_concatenated() {
    let mut u = uicc(vec![
        ("0088008102aabb00", "6102"),
        ("00c0000002", "01026101"),
        ("00c0000001", "039000"),
    ]);
    let r = u
        .transceive(
            &Command::new(0, 0x88, 0, 0x81)
                .with_data(vec![0xAA, 0xBB])
                .with_le(0),
        )
        .expect("ok");
    assert_eq!(r.data, vec![1, 2, 3]);
}

#[test]
fn endless_6100_is_bounded() {
    let mut script = vec![("00f2000000", "6100")];
    script.extend(std::iter::repeat_n(
        ("00c0000000", "6100"),
        MAX_GET_RESPONSE,
    ));
    let mut u = uicc(script);
    let e = u
        .transceive(&Command::new(0, 0xF2, 0, 0).with_le(0))
        .expect_err("must stop");
    assert!(e.to_string().contains("GET RESPONSE"), "{e}");
}

#[test]
fn short_response_is_an_error_not_a_panic() {
    let mut u = uicc(vec![("00f2000000", "90")]);
    assert!(matches!(
        u.transceive(&Command::new(0, 0xF2, 0, 0).with_le(0)),
        Err(UiccError::Malformed(_))
    ));
}

#[test]
fn removed_card_surfaces_as_card_error() {
    let mut u = uicc(vec![]);
    assert!(matches!(
        u.transceive(&Command::new(0, 0xF2, 0, 0)),
        Err(UiccError::Card(CardError::Removed))
    ));
}
