//! Unit tests of SIM access (path choice, probing, fall-back, quirks) over the fake modem.

use crate::PinState;
use crate::answers::{from_hex, to_hex};
use crate::channel::{AtChannel, AtConfig};
use crate::error::AtError;
use crate::fake::{Fake, ok};
use crate::sim::{SimAccess, SimConfig, SimPath};

const AID: &str = "A0000000871002FFFFFFFF8903050001";

/// What the fake modem supports.
#[derive(Clone)]
struct Model {
    cgmi: &'static str,
    cgmm: &'static str,
    ccho: bool,
    ccho_bare: bool,
    cchc: bool,
    basic_auth: bool,
    ccid: bool,
}

const GOOD: Model = Model {
    cgmi: "simbridge",
    cgmm: "virtual",
    ccho: true,
    ccho_bare: false,
    cchc: true,
    basic_auth: true,
    ccid: true,
};

/// A tiny card: STATUS 9000, AUTHENTICATE 6104 then GET RESPONSE DB02AABB 9000.
fn card(apdu: &[u8]) -> Vec<u8> {
    match apdu.get(1) {
        Some(0xF2) => vec![0x90, 0x00],
        Some(0x88) => vec![0x61, 0x04],
        Some(0xC0) => vec![0xDB, 0x02, 0xAA, 0xBB, 0x90, 0x00],
        _ => vec![0x6D, 0x00],
    }
}

fn hex_arg(cmd: &str) -> Option<Vec<u8>> {
    let q = cmd.split('"').nth(1)?;
    from_hex(q)
}

fn modem(m: Model) -> Fake {
    Fake::new(move |c| {
        let err = || Some(b"ERROR\r\n".to_vec());
        if c == "AT" || c == "AT+CMEE=1" || c == "AT+CSIM=?" {
            return ok("");
        }
        if c == "AT+CGMI" {
            return ok(&format!("{}\r\n", m.cgmi));
        }
        if c == "AT+CGMM" {
            return ok(&format!("{}\r\n", m.cgmm));
        }
        if c == "AT+CCHO=?" || c == "AT+CGLA=?" {
            return if m.ccho { ok("") } else { err() };
        }
        if c == "AT+CIMI" {
            return ok("001010123456789\r\n");
        }
        if c == "AT+CCID" {
            return if m.ccid {
                ok("+CCID: \"89014103211118510720\"\r\n")
            } else {
                err()
            };
        }
        if c == "AT+QCCID" {
            return ok("+QCCID: 89014103211118510721\r\n");
        }
        if c == "AT+CPIN?" {
            return ok("+CPIN: SIM PIN\r\n");
        }
        if c == "AT+CRSM=178,12032,1,4,0" {
            return ok(&format!(
                "+CRSM: 144,0,\"61184F10{AID}50045553494DFFFF\"\r\n"
            ));
        }
        if c.starts_with("AT+CRSM=178,12032,") {
            return ok("+CRSM: 106,131\r\n");
        }
        if let Some(arg) = c.strip_prefix("AT+CCHO=") {
            if !m.ccho || arg != format!("\"{AID}\"") {
                return err();
            }
            return if m.ccho_bare {
                ok("7\r\n")
            } else {
                ok("+CCHO: 7\r\n")
            };
        }
        if c.starts_with("AT+CCHC=") {
            return if m.cchc { ok("") } else { err() };
        }
        if c.starts_with("AT+CGLA=7,") {
            let apdu = hex_arg(c)?;
            let r = to_hex(&card(&apdu));
            return ok(&format!("+CGLA: {},\"{r}\"\r\n", r.len()));
        }
        if c.starts_with("AT+CSIM=") {
            let apdu = hex_arg(c)?;
            let n: usize = c.get(8..)?.split(',').next()?.parse().ok()?;
            if n != apdu.len() * 2 {
                return Some(b"+CME ERROR: 50\r\n".to_vec());
            }
            if !m.basic_auth && matches!(apdu.get(1), Some(0x88) | Some(0xC0)) {
                return Some(b"+CME ERROR: 3\r\n".to_vec());
            }
            let r = to_hex(&card(&apdu));
            return ok(&format!("+CSIM: {},\"{r}\"\r\n", r.len()));
        }
        err()
    })
}

fn sim(fake: &Fake, cfg: SimConfig) -> SimAccess {
    let ch = AtChannel::open_with_clock(fake.connector(), AtConfig::default(), fake.clock())
        .expect("open");
    SimAccess::new(ch, cfg)
}

const AUTH: [u8; 5] = [0x00, 0x88, 0x00, 0x81, 0x00];
const GET: [u8; 5] = [0x00, 0xC0, 0x00, 0x00, 0x04];

fn aka(s: &mut SimAccess) {
    assert_eq!(s.transmit(&AUTH).expect("auth"), vec![0x61, 0x04]);
    assert_eq!(
        s.transmit(&GET).expect("get response"),
        vec![0xDB, 0x02, 0xAA, 0xBB, 0x90, 0x00]
    );
}

fn count(fake: &Fake, prefix: &str) -> usize {
    fake.commands()
        .iter()
        .filter(|c| c.starts_with(prefix))
        .count()
}

#[test]
fn known_modem_uses_the_logical_channel_with_the_aid_from_ef_dir() {
    let fake = modem(GOOD);
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    assert_eq!(s.path().expect("path"), SimPath::Logical);
    assert_eq!(count(&fake, &format!("AT+CCHO=\"{AID}\"")), 1);
    assert_eq!(count(&fake, "AT+CGLA=7,10,\"4388008100\""), 1); // CLA codes channel 7 (ISO 7816-4: 40 | 7-4)
    assert_eq!(count(&fake, "AT+CSIM="), 0);
    assert_eq!(count(&fake, "AT+CCHO=?"), 0, "a known modem is not probed");
    drop(s);
    assert_eq!(count(&fake, "AT+CCHC=7"), 1, "the channel is closed");
}

#[test]
fn modem_without_logical_channels_uses_csim() {
    let fake = modem(Model {
        cgmi: "Foxconn",
        cgmm: "T77W968",
        ccho: false,
        ..GOOD
    });
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    assert_eq!(s.path().expect("path"), SimPath::Basic);
    assert_eq!(count(&fake, "AT+CSIM=10,\"0088008100\""), 1);
    assert_eq!(count(&fake, "AT+CCHO"), 0);
}

#[test]
fn unknown_modem_is_probed_and_prefers_the_logical_channel() {
    let fake = modem(Model {
        cgmi: "ACME",
        cgmm: "X1",
        ..GOOD
    });
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    assert_eq!(s.path().expect("path"), SimPath::Logical);
    assert_eq!(count(&fake, "AT+CCHO=?"), 1);
    assert_eq!(count(&fake, "AT+CGLA=7,10,\"C3F2000C00\""), 1, "trial APDU");
}

#[test]
fn unknown_modem_without_ccho_falls_back_to_csim() {
    let fake = modem(Model {
        cgmi: "ACME",
        cgmm: "X1",
        ccho: false,
        ..GOOD
    });
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    assert_eq!(s.path().expect("path"), SimPath::Basic);
    assert_eq!(count(&fake, "AT+CSIM=10,\"80F2000C00\""), 1, "trial APDU");
}

#[test]
fn modem_with_no_sim_access_says_so() {
    let fake = Fake::new(|c| {
        if c == "AT" || c == "AT+CMEE=1" {
            ok("")
        } else {
            Some(b"ERROR\r\n".to_vec())
        }
    });
    let mut s = sim(&fake, SimConfig::default());
    let e = s.transmit(&AUTH).expect_err("no access");
    assert!(matches!(e, AtError::NoSimAccess(_)), "{e}");
}

#[test]
fn fibocom_bare_ccho_answer_is_understood() {
    let fake = modem(Model {
        cgmi: "Fibocom",
        cgmm: "FM350",
        ccho_bare: true,
        ..GOOD
    });
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    assert_eq!(
        count(&fake, "AT+CGLA=7,"),
        3,
        "trial STATUS, AUTHENTICATE, GET RESPONSE"
    );
}

#[test]
fn sierra_without_cchc_is_not_sent_cchc() {
    let fake = modem(Model {
        cgmi: "Sierra Wireless, Incorporated",
        cgmm: "EM9191",
        cchc: false,
        ..GOOD
    });
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    drop(s);
    assert_eq!(count(&fake, "AT+CCHC"), 0);
}

#[test]
fn authenticate_refused_on_the_basic_channel_is_retried_on_a_logical_one() {
    let fake = modem(Model {
        cgmi: "ACME",
        cgmm: "X1",
        basic_auth: false,
        ..GOOD
    });
    let mut s = sim(
        &fake,
        SimConfig {
            path: Some(SimPath::Basic),
            ..SimConfig::default()
        },
    );
    aka(&mut s);
    assert_eq!(
        count(&fake, "AT+CSIM=10,\"0088008100\""),
        1,
        "tried on the basic channel first"
    );
    assert_eq!(
        count(&fake, "AT+CGLA=7,10,\"4388008100\""),
        1,
        "then on a logical channel"
    );
    assert_eq!(
        count(&fake, "AT+CGLA=7,10,\"43C0000004\""),
        1,
        "GET RESPONSE follows it"
    );
}

#[test]
fn wavecom_goes_straight_to_the_logical_channel_for_authenticate() {
    let fake = modem(Model {
        cgmi: "WAVECOM",
        cgmm: "Q2687",
        basic_auth: false,
        ..GOOD
    });
    let mut s = sim(
        &fake,
        SimConfig {
            path: Some(SimPath::Basic),
            ..SimConfig::default()
        },
    );
    aka(&mut s);
    assert_eq!(count(&fake, "AT+CSIM=10,\"0088008100\""), 0);
    assert_eq!(count(&fake, "AT+CGLA=7,10,\"4388008100\""), 1);
}

#[test]
fn logical_session_is_reopened_after_the_modem_reconnects() {
    let fake = modem(GOOD);
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    fake.reboot(1);
    assert!(matches!(
        s.transmit(&AUTH),
        Err(AtError::Disconnected { .. })
    ));
    aka(&mut s);
    assert_eq!(count(&fake, "AT+CCHO=\""), 2);
}

#[test]
fn imsi_iccid_and_pin_state() {
    let fake = modem(Model {
        ccid: false,
        ..GOOD
    });
    let mut s = sim(&fake, SimConfig::default());
    assert_eq!(s.imsi().expect("imsi"), "001010123456789");
    assert_eq!(
        s.iccid().expect("iccid"),
        "89014103211118510721",
        "+CCID refused, +QCCID used"
    );
    assert_eq!(s.pin_state().expect("pin"), PinState::SimPin);
}

#[test]
fn short_apdu_is_refused_before_reaching_the_modem() {
    let fake = modem(GOOD);
    let mut s = sim(&fake, SimConfig::default());
    assert!(matches!(
        s.transmit(&[0x00, 0xA4]),
        Err(AtError::Invalid(_))
    ));
}

#[test]
fn known_logical_modem_whose_ccho_fails_falls_back_to_csim() {
    let fake = modem(Model {
        cgmi: "Quectel",
        cgmm: "EG25",
        ccho: false,
        ..GOOD
    });
    let mut s = sim(&fake, SimConfig::default());
    aka(&mut s);
    assert_eq!(s.path().expect("path"), SimPath::Basic);
    assert_eq!(
        count(&fake, "AT+CCHO=?"),
        0,
        "the table vouches for +CCHO: no =? probe"
    );
    assert_eq!(count(&fake, "AT+CSIM=10,\"0088008100\""), 1);
}
