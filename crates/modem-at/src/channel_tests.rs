//! Unit tests of the AT channel over the in-memory fake modem.

use crate::channel::{AtChannel, AtConfig, ChannelEvent};
use crate::error::AtError;
use crate::fake::{Fake, ok};
use crate::response::Expect;
use std::sync::{Arc, Mutex};

fn basic(cmd: &str) -> Option<Vec<u8>> {
    match cmd {
        "AT" | "AT+CMEE=1" => ok(""),
        "AT+CIMI" => ok("001010123456789\r\n"),
        _ => Some(b"ERROR\r\n".to_vec()),
    }
}

fn open(fake: &Fake) -> (AtChannel, Arc<Mutex<Vec<ChannelEvent>>>) {
    let mut ch = AtChannel::open_with_clock(fake.connector(), AtConfig::default(), fake.clock())
        .expect("open");
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    ch.set_event_handler(move |e| ev.lock().expect("lock").push(e.clone()));
    (ch, events)
}

#[test]
fn init_switches_echo_off_and_enables_numeric_cme() {
    let fake = Fake::new(basic);
    let _ = open(&fake);
    let cmds = fake.commands();
    assert!(cmds.contains(&"ATE0".to_string()), "{cmds:?}");
    assert!(cmds.contains(&"AT+CMEE=1".to_string()), "{cmds:?}");
    assert!(!fake.lock().echo);
}

#[test]
fn answer_split_across_reads_with_echo_on() {
    let fake = Fake::new(basic);
    let cfg = AtConfig {
        echo_off: false,
        ..AtConfig::default()
    };
    let mut ch = AtChannel::open_with_clock(fake.connector(), cfg, fake.clock()).expect("open");
    assert!(fake.lock().echo, "echo stays on");
    fake.lock().chunk = 3;
    let a = ch.command("AT+CIMI", Expect::bare()).expect("cimi");
    assert_eq!(a.lines, vec!["001010123456789"]);
}

#[test]
fn urcs_between_answer_lines_go_to_the_callback() {
    let fake = Fake::new(|c| match c {
        "AT+CSIM=10,\"00C0000035\"" => {
            Some(b"+CREG: 1\r\n+CSIM: 4,\"9000\"\r\n^SYSSTART\r\nRING\r\n\r\nOK\r\n".to_vec())
        }
        other => basic(other),
    });
    let (mut ch, events) = open(&fake);
    let a = ch
        .command("AT+CSIM=10,\"00C0000035\"", Expect::prefixed("+CSIM:"))
        .expect("csim");
    assert_eq!(a.lines, vec!["+CSIM: 4,\"9000\""]);
    let ev = events.lock().expect("lock").clone();
    assert_eq!(
        ev,
        vec![
            ChannelEvent::Urc("+CREG: 1".into()),
            ChannelEvent::Urc("^SYSSTART".into()),
            ChannelEvent::Urc("RING".into())
        ]
    );
}

#[test]
fn urc_arriving_while_idle_is_not_taken_for_the_answer() {
    let fake = Fake::new(basic);
    let (mut ch, events) = open(&fake);
    fake.inject(b"\r\n+CPIN: READY\r\n\r\nRDY\r\n");
    let a = ch.command("AT+CIMI", Expect::bare()).expect("cimi");
    assert_eq!(a.lines, vec!["001010123456789"]);
    assert_eq!(events.lock().expect("lock").len(), 2);
}

#[test]
fn bare_cr_line_endings() {
    let fake = Fake::new(|c| match c {
        "AT+CIMI" => Some(b"\r001010123456789\rOK\r".to_vec()),
        other => basic(other),
    });
    let (mut ch, _) = open(&fake);
    assert_eq!(
        ch.command("AT+CIMI", Expect::bare()).expect("cimi").lines,
        vec!["001010123456789"]
    );
}

#[test]
fn cme_error_is_reported_with_its_meaning() {
    let fake = Fake::new(|c| match c {
        "AT+CIMI" => Some(b"+CME ERROR: 10\r\n".to_vec()),
        other => basic(other),
    });
    let (mut ch, _) = open(&fake);
    let e = ch
        .command("AT+CIMI", Expect::bare())
        .expect_err("must fail");
    assert_eq!(e.cme_code(), Some(10));
    assert_eq!(
        e.to_string(),
        "AT+CIMI failed: +CME ERROR 10: SIM not inserted"
    );
}

#[test]
fn garbage_before_the_answer_is_ignored() {
    let fake = Fake::new(basic);
    let (mut ch, _) = open(&fake);
    fake.inject(b"\x00\xff\xfe\x13\x11");
    let a = ch.command("AT+CIMI", Expect::bare()).expect("cimi");
    assert_eq!(a.lines, vec!["001010123456789"]);
}

#[test]
fn timeout_then_recovery_ignores_the_late_answer() {
    let stalled = Arc::new(Mutex::new(true));
    let s2 = stalled.clone();
    let fake = Fake::new(move |c| match c {
        "AT+CIMI" if *s2.lock().expect("lock") => None,
        other => basic(other),
    });
    let (mut ch, events) = open(&fake);
    let e = ch.command("AT+CIMI", Expect::bare()).expect_err("stalled");
    assert!(matches!(e, AtError::Timeout { ms: 5000, .. }), "{e}");
    // The late answer of the timed-out command arrives; it must not be taken for the next one.
    fake.inject(b"\r\n999999999999999\r\nOK\r\n");
    *stalled.lock().expect("lock") = false;
    let a = ch.command("AT+CIMI", Expect::bare()).expect("recovered");
    assert_eq!(a.lines, vec!["001010123456789"]);
    assert!(
        events
            .lock()
            .expect("lock")
            .contains(&ChannelEvent::Resynced)
    );
}

#[test]
fn a_dead_modem_gives_a_clear_error_not_a_hang() {
    let alive = Arc::new(Mutex::new(true));
    let a2 = alive.clone();
    let fake = Fake::new(move |c| {
        if *a2.lock().expect("lock") {
            basic(c)
        } else {
            None
        }
    });
    let (mut ch, _) = open(&fake);
    *alive.lock().expect("lock") = false;
    assert!(matches!(
        ch.command("AT+CIMI", Expect::bare()),
        Err(AtError::Timeout { .. })
    ));
    let e = ch.command("AT+CIMI", Expect::bare()).expect_err("dead");
    assert!(
        matches!(e, AtError::NotResponding { attempts: 3, .. }),
        "{e}"
    );
}

#[test]
fn reboot_is_reported_then_the_channel_reconnects() {
    let fake = Fake::new(basic);
    let (mut ch, events) = open(&fake);
    assert_eq!(ch.generation(), 1);
    fake.reboot(3);
    let e = ch.command("AT+CIMI", Expect::bare()).expect_err("gone");
    assert!(matches!(e, AtError::Disconnected { .. }), "{e}");
    let a = ch
        .command("AT+CIMI", Expect::bare())
        .expect("after reconnect");
    assert_eq!(a.lines, vec!["001010123456789"]);
    assert_eq!(ch.generation(), 2);
    let ev = events.lock().expect("lock").clone();
    assert!(
        matches!(ev.first(), Some(ChannelEvent::Disconnected(_))),
        "{ev:?}"
    );
    assert!(ev.contains(&ChannelEvent::Reconnected(2)), "{ev:?}");
    assert!(
        !fake.lock().echo,
        "echo switched off again after the reboot"
    );
}

#[test]
fn a_device_that_never_comes_back_gives_up() {
    let fake = Fake::new(basic);
    let (mut ch, _) = open(&fake);
    fake.reboot(u32::MAX);
    let _ = ch.command("AT+CIMI", Expect::bare());
    let e = ch
        .command("AT+CIMI", Expect::bare())
        .expect_err("gone for good");
    assert!(matches!(e, AtError::Gone { ms: 15000, .. }), "{e}");
}

#[test]
fn control_characters_in_a_command_are_refused() {
    let fake = Fake::new(basic);
    let (mut ch, _) = open(&fake);
    assert!(matches!(
        ch.command("AT\rATZ", Expect::none()),
        Err(AtError::Invalid(_))
    ));
}
