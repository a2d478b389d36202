//! Measures (does not assert) the wall time of one AKA through the virtual modem on a real pty,
//! and lists the AT commands one `sim aka --modem` sends. Run with `--nocapture` to see them:
//! `cargo test --release --test modem_timing -- --nocapture`.

mod modem_support;
mod support;

use modem_support::*;
use simbridge::card::CardChannel;
use simbridge::card::modem::{ModemCard, ModemOptions};
use simbridge::uicc::{AuthResult, Uicc};
use simbridge_lab::softsim::{Profile, SoftUsim};
use std::time::{Duration, Instant};

fn vector(p: &Profile, i: u64) -> ([u8; 16], [u8; 16], [u8; 8]) {
    let sqn = p.sqn + 32 * i;
    let mut rand = [0x11u8; 16];
    rand[..8].copy_from_slice(&sqn.to_be_bytes());
    let v = p.keys.generate_vector(&rand, sqn, &p.amf);
    (v.rand, v.autn, v.xres)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[test]
fn aka_wall_time_in_process_baseline() {
    // The same AKA on the in-process software USIM: its SQN state is written (and synced)
    // before it answers, which is most of an AKA's time; the pty figures below add AT and pty.
    let w = Workdir::new();
    let path = w.profile("ts35208-set1.toml", "soft.toml");
    let profile = Profile::load(&path).expect("profile");
    let mut u = Uicc::open(SoftUsim::load(&path).expect("card"), None).expect("uicc");
    let mut times = Vec::new();
    for i in 1..=31 {
        let (rand, autn, xres) = vector(&profile, i);
        let t = Instant::now();
        let r = u.authenticate(&rand, &autn).expect("aka");
        times.push(t.elapsed());
        match r {
            AuthResult::Success { res, .. } => assert_eq!(res.expose(), &xres),
            other => panic!("{other:?}"),
        }
    }
    println!(
        "AKA in process (--softsim, 31 runs): median {:?}",
        median(times)
    );
}

#[test]
fn aka_wall_time_through_the_pty() {
    for access in ["cgla", "csim"] {
        let w = Workdir::new();
        let path = w.profile("ts35208-set1.toml", "modem.toml");
        let profile = Profile::load(&path).expect("profile");
        let modem = VirtualModem::start(&w, &path, "generic", &[]);
        let mut opts = ModemOptions::new(&modem.link, 115_200);
        opts.sim_path = Some(if access == "cgla" {
            modem_at::SimPath::Logical
        } else {
            modem_at::SimPath::Basic
        });
        // One APDU without the card's SQN write (STATUS): the AT + pty cost alone.
        let mut card = ModemCard::open(&opts).expect("modem");
        let mut one = Vec::new();
        for _ in 0..31 {
            let t = Instant::now();
            card.transmit(&[0x80, 0xF2, 0x00, 0x0C, 0x00])
                .expect("status");
            one.push(t.elapsed());
        }
        drop(card);
        println!(
            "one APDU through the pty ({access}, STATUS, 31 runs): median {:?}",
            median(one)
        );
        let mut u = Uicc::open(ModemCard::open(&opts).expect("modem"), None).expect("uicc");
        let mut times = Vec::new();
        for i in 1..=31 {
            let (rand, autn, xres) = vector(&profile, i);
            let t = Instant::now();
            let r = u.authenticate(&rand, &autn).expect("aka");
            times.push(t.elapsed());
            match r {
                AuthResult::Success { res, .. } => assert_eq!(res.expose(), &xres),
                other => panic!("{other:?}"),
            }
        }
        println!(
            "AKA through the pty ({access}, AUTHENTICATE + GET RESPONSE, 31 runs): median {:?}, min {:?}, max {:?}",
            median(times.clone()),
            times.iter().min().copied().unwrap_or_default(),
            times.iter().max().copied().unwrap_or_default()
        );
    }
}

#[test]
fn cli_aka_wall_time_and_at_commands() {
    let w = Workdir::new();
    let path = w.profile("ts35208-set1.toml", "modem.toml");
    let profile = Profile::load(&path).expect("profile");
    let modem = VirtualModem::start(&w, &path, "generic", &[]);
    let link = modem.link_str();
    let mut times = Vec::new();
    let mut commands = Vec::new();
    for i in 1..=11u64 {
        let (rand, autn, xres) = vector(&profile, i);
        let (rand, autn) = (hex(&rand), hex(&autn));
        let args = [
            "sim", "aka", "--json", "--modem", &link, "--rand", &rand, "--autn", &autn,
        ];
        let envs: &[(&str, &str)] = if i == 1 {
            &[("RUST_LOG", "modem_at=debug")]
        } else {
            &[]
        };
        let t = Instant::now();
        let o = simbridge_env(&args, envs, Duration::from_secs(60));
        times.push(t.elapsed());
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains(&hex(&xres)), "{}", stdout(&o));
        if i == 1 {
            commands = stderr(&o)
                .lines()
                .filter_map(|l| l.split_once("AT> ").map(|(_, c)| c.to_string()))
                .collect();
        }
    }
    println!(
        "`simbridge sim aka --modem` end to end (process start, open, USIM selection, AKA; 11 runs): median {:?}",
        median(times)
    );
    println!("AT commands of one `sim aka --modem` ({}):", commands.len());
    for c in &commands {
        println!("  {c}");
    }
    assert!(
        // CLA 01: the logical channel coded per ISO 7816-4.
        commands.iter().any(|c| c.contains("\"01880081")),
        "AUTHENTICATE was sent on channel 1: {commands:?}"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
