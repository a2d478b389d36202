//! The modem's own USIM session is left alone: through the strict virtual modem (`softsim modem
//! --strict`, which counts applications selected on the basic channel as resets of the modem's
//! session and sends a +CGLA APDU where its CLA points), `sim info`, `sim aka`, a GBA_U
//! bootstrap and a PSK derivation run under every quirk profile with zero session resets and
//! zero CLA mistakes, on the path the quirks table picks and on forced +CSIM.

mod gba_support;
mod modem_support;
mod support;

use gba_support::{IMPI, K, OPC, TOKEN, TestBsf};
use modem_support::*;
use simbridge::aka::SubscriberKeys;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn run_ok(args: &[&str]) -> String {
    let out = simbridge_env(args, &[("RUST_LOG", "info")], T);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    format!("{}\n{}", stdout(&out), stderr(&out))
}

/// Runs the whole card sequence through a strict virtual modem; returns the modem's counts and
/// the CLI's logs.
fn strict_run(quirks: &str, access: Option<&str>) -> ((u64, u64), String) {
    let w = Workdir::new();
    let profile = w.profile("demo.toml", &format!("{quirks}.toml"));
    let bsf = TestBsf::start(K, "000000000000");
    let mut modem = VirtualModem::start(&w, &profile, quirks, &["--strict"]);
    let link = modem.link_str();
    let mut src = vec!["--modem", link.as_str()];
    if let Some(a) = access {
        src.extend(["--modem-access", a]);
    }
    let keys = SubscriberKeys::from_opc(
        hex::decode(K).expect("k").try_into().expect("16"),
        hex::decode(OPC).expect("opc").try_into().expect("16"),
    );
    let av = keys.generate_vector(&[9; 16], 1 << 5, &[0x80, 0]);
    let (rand, autn) = (hex::encode(av.rand), hex::encode(av.autn));
    let state = w.path("state");
    let state = state.to_str().expect("utf8");
    let url = bsf.url();
    let mut logs = String::new();
    for cmd in [
        vec!["sim", "info", "--json"],
        vec!["sim", "aka", "--json", "--rand", &rand, "--autn", &autn],
        vec!["bootstrap", "--json", "--bsf", &url, "--state", state],
        vec![
            "psk",
            "--json",
            "--naf",
            "naf.example.com",
            "--bsf",
            &url,
            "--state",
            state,
        ],
    ] {
        let args: Vec<&str> = cmd.iter().copied().chain(src.iter().copied()).collect();
        logs.push_str(&run_ok(&args));
    }
    assert!(logs.contains(IMPI) || bsf.contexts() == 1, "{logs}");
    assert_eq!(bsf.contexts(), 1, "one GBA_U bootstrap: {logs}");
    let _ = TOKEN;
    (modem.strict_stats(), logs)
}

#[test]
fn every_quirk_profile_leaves_the_modem_session_alone() {
    for q in QUIRKS {
        let ((resets, mistakes), logs) = strict_run(q, None);
        let path = if logs.contains("SIM access through cgla") {
            "+CGLA"
        } else if logs.contains("opened with MANAGE CHANNEL") {
            "+CSIM on a logical channel (MANAGE CHANNEL)"
        } else {
            "+CSIM on the basic channel"
        };
        println!("{q}: {path}");
        assert_eq!((resets, mistakes), (0, 0), "{q} ({path}): {logs}");
    }
}

#[test]
fn forced_csim_opens_a_logical_channel_or_keeps_the_modems_usim() {
    // generic passes a logical-channel CLA over +CSIM: MANAGE CHANNEL through +CSIM.
    let ((resets, mistakes), logs) = strict_run("generic", Some("csim"));
    assert!(logs.contains("opened with MANAGE CHANNEL"), "{logs}");
    assert_eq!((resets, mistakes), (0, 0), "{logs}");
    // quectel refuses a logical CLA over +CSIM: the modem's USIM on the basic channel, no
    // application selected.
    let ((resets, mistakes), logs) = strict_run("quectel", Some("csim"));
    assert!(logs.contains("selecting no application"), "{logs}");
    assert_eq!((resets, mistakes), (0, 0), "{logs}");
}

#[test]
fn the_strict_modem_does_count_what_the_old_client_did() {
    // A client that selects the USIM on the basic channel and sends CLA 00 on its +CGLA session.
    let w = Workdir::new();
    let profile = w.profile("demo.toml", "old.toml");
    let mut modem = VirtualModem::start(&w, &profile, "generic", &["--strict"]);
    let link = modem.link_str();
    let mut port = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&link)
        .expect("open pty");
    let mut say = |cmd: &str| {
        use std::io::{Read, Write};
        port.write_all(format!("{cmd}\r").as_bytes())
            .expect("write");
        let mut got = String::new();
        let mut buf = [0u8; 512];
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !(got.contains("OK\r\n") || got.contains("ERROR"))
            && std::time::Instant::now() < until
        {
            if let Ok(n) = port.read(&mut buf) {
                got.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        got
    };
    say("ATE0");
    assert!(say("AT+CSIM=24,\"00A4040C07A0000000871002\"").contains("OK"));
    assert!(say("AT+CCHO=\"A0000000871002\"").contains("+CCHO: 1"));
    assert!(say("AT+CGLA=1,10,\"00F2000C00\"").contains("OK"));
    drop(port);
    assert_eq!(modem.strict_stats(), (1, 1));
}
