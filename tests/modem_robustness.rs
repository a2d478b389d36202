//! Robustness of the modem channel against a real pty: URCs, echo, garbage, a modem that stops
//! answering, a modem that reboots, CME errors. Every wait is bounded; nothing may hang or panic.

mod modem_support;
mod support;

use modem_at::{
    AtChannel, AtConfig, AtError, ChannelEvent, Expect, SerialConnector, SimAccess, SimConfig,
};
use modem_support::*;
use simbridge::aka::SubscriberKeys;
use simbridge::card::CardChannel;
use simbridge::card::CardError;
use simbridge::card::modem::{ModemCard, ModemOptions};
use simbridge::uicc::{AuthResult, Uicc, UiccError};
use simbridge_lab::softsim::Profile;
use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Events = Arc<Mutex<Vec<ChannelEvent>>>;

fn quick() -> AtConfig {
    AtConfig {
        command_timeout: Duration::from_millis(800),
        resync_timeout: Duration::from_millis(300),
        reconnect_timeout: Duration::from_secs(5),
        ..AtConfig::default()
    }
}

fn channel(link: &str, cfg: AtConfig) -> (AtChannel, Events) {
    let mut ch =
        AtChannel::open(Box::new(SerialConnector::new(link, 115_200)), cfg).expect("open the pty");
    let events: Events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    ch.set_event_handler(move |e| ev.lock().expect("lock").push(e.clone()));
    (ch, events)
}

fn imsi(ch: &mut AtChannel) -> Result<String, AtError> {
    let a = ch.command("AT+CIMI", Expect::bare())?;
    Ok(modem_at::answers::parse_cimi(&a).expect("an IMSI"))
}

const SET1_IMSI: &str = "001010000000001";

fn set1_modem(w: &Workdir, quirks: &str, extra: &[&str]) -> VirtualModem {
    let p = w.profile("ts35208-set1.toml", "modem.toml");
    VirtualModem::start(w, &p, quirks, extra)
}

#[test]
fn echo_on_is_coped_with() {
    let w = Workdir::new();
    let m = set1_modem(&w, "generic", &[]);
    // The modem starts with echo on (V.250 default): check it really echoes.
    {
        let mut raw = serialport::new(m.link_str(), 115_200)
            .timeout(Duration::from_millis(100))
            .open()
            .expect("raw open");
        raw.write_all(b"AT\r").expect("write");
        let mut got = Vec::new();
        let start = Instant::now();
        let mut buf = [0u8; 64];
        while !String::from_utf8_lossy(&got).contains("OK")
            && start.elapsed() < Duration::from_secs(5)
        {
            if let Ok(n) = raw.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert!(
            got.starts_with(b"AT\r"),
            "echo: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    let (ch, _) = channel(
        &m.link_str(),
        AtConfig {
            echo_off: false,
            ..quick()
        },
    );
    let mut sim = SimAccess::new(ch, SimConfig::default());
    assert_eq!(sim.imsi().expect("imsi"), SET1_IMSI);
    // STATUS with Le=00: this card answers 6Cxx (the exact Le) as T=0 cards do.
    assert_eq!(
        sim.transmit(&[0x80, 0xF2, 0x00, 0x0C, 0x00])
            .expect("status")
            .first(),
        Some(&0x6C)
    );
    assert_eq!(sim.iccid().expect("iccid"), "8988211000000000001");
}

#[test]
fn urcs_interleaved_with_answers_go_to_the_callback() {
    let w = Workdir::new();
    let m = set1_modem(&w, "generic", &["--urc-noise", "--seed", "42"]);
    let (mut ch, events) = channel(&m.link_str(), quick());
    for _ in 0..30 {
        assert_eq!(imsi(&mut ch).expect("imsi"), SET1_IMSI);
        let a = ch
            .command("AT+CSIM=10,\"80F2000C00\"", Expect::prefixed("+CSIM:"))
            .expect("csim");
        assert_eq!(
            a.lines,
            // STATUS on the basic channel: the FCP of the USIM the modem selected for itself.
            vec!["+CSIM: 4,\"6C18\""],
            "only the answer, no URC"
        );
    }
    let urcs = events
        .lock()
        .expect("lock")
        .iter()
        .filter(|e| matches!(e, ChannelEvent::Urc(_)))
        .count();
    assert!(urcs > 10, "URCs were handed to the callback: {urcs}");
}

#[test]
fn garbage_bytes_are_survived() {
    let w = Workdir::new();
    let mut m = set1_modem(&w, "generic", &[]);
    let (mut ch, _) = channel(&m.link_str(), quick());
    for _ in 0..5 {
        m.control("garbage");
        assert_eq!(imsi(&mut ch).expect("imsi after garbage"), SET1_IMSI);
    }
}

#[test]
fn a_modem_that_stops_answering_times_out_then_recovers() {
    let w = Workdir::new();
    let mut m = set1_modem(&w, "generic", &[]);
    let (mut ch, events) = channel(&m.link_str(), quick());
    assert_eq!(imsi(&mut ch).expect("imsi"), SET1_IMSI);
    m.control("stall");
    let start = Instant::now();
    let e = imsi(&mut ch).expect_err("stalled: the IMSI line comes, the final result never");
    assert!(matches!(e, AtError::Timeout { ms: 800, .. }), "{e}");
    assert_eq!(e.to_string(), "modem did not answer AT+CIMI within 800 ms");
    assert!(start.elapsed() < Duration::from_secs(3));
    m.control("resume");
    assert_eq!(imsi(&mut ch).expect("recovered"), SET1_IMSI);
    assert!(
        events
            .lock()
            .expect("lock")
            .contains(&ChannelEvent::Resynced)
    );
}

#[test]
fn a_modem_that_never_answers_again_gives_a_clear_error() {
    let w = Workdir::new();
    let mut m = set1_modem(&w, "generic", &[]);
    let (mut ch, _) = channel(&m.link_str(), quick());
    m.control("stall");
    let start = Instant::now();
    assert!(matches!(imsi(&mut ch), Err(AtError::Timeout { .. })));
    let e = imsi(&mut ch).expect_err("still dead");
    assert!(
        matches!(e, AtError::NotResponding { attempts: 3, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("is not responding to AT commands"),
        "{e}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "bounded: {:?}",
        start.elapsed()
    );
}

#[test]
fn cli_against_a_stalled_modem_fails_clearly_without_hanging() {
    let w = Workdir::new();
    let mut m = set1_modem(&w, "generic", &[]);
    m.control("stall");
    let link = m.link_str();
    let o = simbridge_env(
        &["sim", "info", "--modem", &link],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not responding to AT commands"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_reboot_is_reported_and_the_channel_reconnects_behind_the_link() {
    let w = Workdir::new();
    let mut m = set1_modem(&w, "generic", &[]);
    let (mut ch, events) = channel(&m.link_str(), quick());
    assert_eq!(imsi(&mut ch).expect("imsi"), SET1_IMSI);
    assert_eq!(ch.generation(), 1);
    m.control("reboot 300");
    let new_dev = m
        .next_line(Duration::from_secs(10))
        .expect("the rebooted modem prints its new device");
    assert_eq!(
        std::fs::read_link(&m.link).expect("link"),
        std::path::PathBuf::from(&new_dev)
    );
    assert_ne!(new_dev, m.device, "the device came back under another name");
    let e = imsi(&mut ch).expect_err("the old device is gone");
    assert!(matches!(e, AtError::Disconnected { .. }), "{e}");
    assert!(e.to_string().contains("disconnected"), "{e}");
    assert_eq!(imsi(&mut ch).expect("reconnected"), SET1_IMSI);
    assert_eq!(ch.generation(), 2);
    let ev = events.lock().expect("lock").clone();
    assert!(
        ev.iter()
            .any(|e| matches!(e, ChannelEvent::Disconnected(_))),
        "{ev:?}"
    );
    assert!(ev.contains(&ChannelEvent::Reconnected(2)), "{ev:?}");
}

#[test]
fn a_reboot_while_the_device_is_away_is_waited_for() {
    let w = Workdir::new();
    let mut m = set1_modem(&w, "generic", &[]);
    let (mut ch, _) = channel(&m.link_str(), quick());
    assert_eq!(imsi(&mut ch).expect("imsi"), SET1_IMSI);
    // A long reboot: the command after the failure waits for the device to come back.
    m.control("reboot 1500");
    // Away means no link: a link left dangling into /dev/pts would lead the channel to
    // whichever new pty takes the freed number (another modem's, locked by its host).
    assert!(
        std::fs::symlink_metadata(&m.link).is_err(),
        "the link is gone while the device is away"
    );
    assert!(matches!(imsi(&mut ch), Err(AtError::Disconnected { .. })));
    let start = Instant::now();
    assert_eq!(imsi(&mut ch).expect("waited for the device"), SET1_IMSI);
    assert!(start.elapsed() < Duration::from_secs(5));
}

fn vector(keys: &SubscriberKeys, sqn: u64) -> ([u8; 16], [u8; 16], [u8; 8]) {
    let mut rand = [0u8; 16];
    rand[..8].copy_from_slice(&sqn.to_be_bytes());
    rand[15] = 0x5a;
    let v = keys.generate_vector(&rand, sqn, &[0xb9, 0xb9]);
    (v.rand, v.autn, v.xres)
}

/// Lets the test keep the card while a `Uicc` uses it.
struct Shared(Rc<RefCell<ModemCard>>);

impl CardChannel for Shared {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        self.0.borrow_mut().transmit(apdu)
    }
    fn reset(&mut self) -> Result<Vec<u8>, CardError> {
        self.0.borrow_mut().reset()
    }
    fn describe(&self) -> String {
        self.0.borrow().describe()
    }
}

#[test]
fn modem_card_reports_a_reboot_then_works_after_reset() {
    let w = Workdir::new();
    let p = w.profile("ts35208-set1.toml", "modem.toml");
    let profile = Profile::load(&p).expect("profile");
    let mut m = VirtualModem::start(&w, &p, "quectel", &[]);
    let opts = ModemOptions {
        at: quick(),
        ..ModemOptions::new(&m.link, 115_200)
    };
    let card = Rc::new(RefCell::new(ModemCard::open(&opts).expect("modem card")));
    let mut u = Uicc::open(Shared(card.clone()), None).expect("uicc");
    let (rand, autn, xres) = vector(&profile.keys, profile.sqn + 32);
    match u.authenticate(&rand, &autn).expect("aka") {
        AuthResult::Success { res, .. } => assert_eq!(res.expose(), &xres),
        other => panic!("{other:?}"),
    }
    m.control("reboot 200");
    m.next_line(Duration::from_secs(10)).expect("rebooted");
    let (rand, autn, xres) = vector(&profile.keys, profile.sqn + 64);
    let e = u
        .authenticate(&rand, &autn)
        .expect_err("the card behind the modem was reset");
    assert!(matches!(e, UiccError::Card(CardError::Removed)), "{e}");
    // Still removed until the caller starts over: the selection it assumes is gone.
    assert!(matches!(
        u.authenticate(&rand, &autn),
        Err(UiccError::Card(CardError::Removed))
    ));
    drop(u);
    let mut u = Uicc::open(Shared(card), None).expect("reopened after reset");
    match u.authenticate(&rand, &autn).expect("aka after reboot") {
        AuthResult::Success { res, .. } => assert_eq!(res.expose(), &xres),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cme_errors_are_mapped_to_clear_messages() {
    let w = Workdir::new();
    let m = set1_modem(&w, "generic", &[]);
    let (mut ch, _) = channel(&m.link_str(), quick());
    let cases = [
        (
            "AT+CSIM=6,\"80F2000C00\"",
            50,
            "+CME ERROR 50: incorrect parameters",
        ),
        (
            "AT+CGLA=999,10,\"80F2000C00\"",
            21,
            "+CME ERROR 21: invalid index",
        ),
        ("AT+CCHO=\"A0000000FFFFFF\"", 22, "+CME ERROR 22: not found"),
    ];
    for (cmd, code, text) in cases {
        let e = ch.command(cmd, Expect::prefixed("+X:")).expect_err(cmd);
        assert_eq!(e.cme_code(), Some(code), "{cmd}: {e}");
        assert!(e.to_string().ends_with(text), "{cmd}: {e}");
    }
    // The channel is still in step afterwards.
    assert_eq!(imsi(&mut ch).expect("imsi"), SET1_IMSI);
}

#[test]
fn a_missing_device_is_a_clear_error() {
    let o = simbridge_env(
        &["sim", "info", "--modem", "/nonexistent/ttyUSB9"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot open modem /nonexistent/ttyUSB9"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unknown_quirks_profile_is_refused_with_the_known_names() {
    let w = Workdir::new();
    let p = w.profile("ts35208-set1.toml", "modem.toml");
    let ps = p.display().to_string();
    let o = simbridge_env(
        &["softsim", "modem", "--profile", &ps, "--quirks", "nokia"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--quirks nokia: unknown modem; known: generic, quectel"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cli_aka_against_a_modem_that_stops_mid_authenticate_then_recovers() {
    let w = Workdir::new();
    let p = w.profile("ts35208-set1.toml", "modem.toml");
    let profile = Profile::load(&p).expect("profile");
    let mut m = VirtualModem::start(&w, &p, "generic", &[]);
    let link = m.link_str();
    // The modem runs AUTHENTICATE on the card, then never sends the final result.
    m.control("stall-on 01880081");
    let args = [
        "sim", "aka", "--json", "--modem", &link, "--rand", SET1_RAND, "--autn", SET1_AUTN,
    ];
    let start = Instant::now();
    let o = simbridge_env(&args, &[], Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let e = stderr(&o);
    assert!(
        e.contains("modem did not answer AT+CGLA=1,80,\"01880081…\" within 10000 ms"),
        "names the command and the timeout: {e}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    // The modem answers again: a new run resynchronises and authenticates with a fresh vector.
    m.control("resume");
    let (rand, autn, xres) = vector(&profile.keys, profile.sqn + 64);
    let (rand, autn) = (hex(&rand), hex(&autn));
    let args = [
        "sim", "aka", "--json", "--modem", &link, "--rand", &rand, "--autn", &autn,
    ];
    let o = simbridge_env(&args, &[], Duration::from_secs(60));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&hex(&xres)), "{}", stdout(&o));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_port_held_by_another_program_is_a_clear_error() {
    let w = Workdir::new();
    let m = set1_modem(&w, "generic", &[]);
    // Another program (ModemManager, a terminal) has the port open exclusively.
    let _held = serialport::new(m.link_str(), 115_200)
        .open()
        .expect("hold the port");
    let link = m.link_str();
    let o = simbridge_env(
        &["sim", "info", "--modem", &link],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains(&format!("cannot open modem {link}")), "{e}");
    // The holder here is this test process: the message names its pid, not ModemManager.
    assert!(
        e.contains(&format!("the port is held by pid {}", std::process::id())),
        "{e}"
    );
}
