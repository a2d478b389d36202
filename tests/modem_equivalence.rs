//! `sim info` and `sim aka` through the virtual modem on a real pty give exactly what the
//! in-process software USIM gives (same JSON, same exit codes), over the +CSIM and the +CGLA
//! paths, under every quirk profile of the modem-at table.

mod modem_support;
mod support;

use modem_support::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// What one card source answered to the sequence: info, AKA, replayed AKA, AKA with a bad MAC.
#[derive(Debug, PartialEq)]
struct Transcript {
    info: String,
    aka: String,
    replay: (Option<i32>, String),
    bad_mac: Option<i32>,
}

fn bad_mac_autn() -> String {
    // Flip the last MAC-A nibble.
    let mut a = SET1_AUTN.to_string();
    a.pop();
    a.push('4');
    a
}

fn transcript(source: &[&str], envs: &[(&str, &str)]) -> (Transcript, String) {
    let with = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .chain(source.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |extra: &[&str]| {
        let args = with(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        simbridge_env(&refs, envs, T)
    };
    let info = run(&["sim", "info", "--json"]);
    assert!(
        info.status.success(),
        "sim info {source:?}: {}",
        stderr(&info)
    );
    let aka = run(&[
        "sim", "aka", "--json", "--rand", SET1_RAND, "--autn", SET1_AUTN,
    ]);
    assert!(aka.status.success(), "sim aka {source:?}: {}", stderr(&aka));
    let replay = run(&[
        "sim", "aka", "--json", "--rand", SET1_RAND, "--autn", SET1_AUTN,
    ]);
    let bad = bad_mac_autn();
    let bad_mac = run(&["sim", "aka", "--json", "--rand", SET1_RAND, "--autn", &bad]);
    let logs = format!("{}\n{}", stderr(&info), stderr(&aka));
    (
        Transcript {
            info: stdout(&info),
            aka: stdout(&aka),
            replay: (replay.status.code(), stdout(&replay)),
            bad_mac: bad_mac.status.code(),
        },
        logs,
    )
}

fn reference() -> Transcript {
    let w = Workdir::new();
    let p = w.profile("ts35208-set1.toml", "soft.toml");
    let ps = p.display().to_string();
    let (t, _) = transcript(&["--softsim", &ps], &[]);
    // The reference itself is right: the published TS 35.208 set 1 outputs, AUTS on replay
    // (exit 2), MAC failure (exit 3).
    assert!(
        t.aka.contains(SET1_RES) && t.aka.contains(SET1_CK) && t.aka.contains(SET1_IK),
        "{}",
        t.aka
    );
    assert_eq!(t.replay.0, Some(2));
    assert!(t.replay.1.contains("\"auts\""), "{}", t.replay.1);
    assert_eq!(t.bad_mac, Some(3));
    t
}

/// Runs the sequence through the virtual modem imitating `quirks`, with `--modem-access access`.
/// Returns None when the combination is refused (and checks the refusal is clear).
fn through_modem(quirks: &str, access: &str, extra: &[&str]) -> Option<(Transcript, String)> {
    let w = Workdir::new();
    let p = w.profile("ts35208-set1.toml", "modem.toml");
    let modem = VirtualModem::start(&w, &p, quirks, extra);
    let link = modem.link_str();
    let envs = [("RUST_LOG", "modem_at=info")];
    let src = ["--modem", link.as_str(), "--modem-access", access];
    let no_logical = matches!(quirks, "dw5821e" | "huawei-ms2372");
    if access == "cgla" && no_logical {
        let mut args = vec!["sim", "info", "--json"];
        args.extend_from_slice(&src);
        let o = simbridge_env(&args, &envs, T);
        assert_eq!(
            o.status.code(),
            Some(1),
            "forcing +CGLA on a modem without it fails"
        );
        let e = stderr(&o);
        assert!(
            e.contains("AT+CCHO") && e.contains("ERROR"),
            "the error names the refused command: {e}"
        );
        return None;
    }
    Some(transcript(&src, &envs))
}

fn check_quirk_profile(quirks: &str) {
    let want = reference();
    let no_logical = matches!(quirks, "dw5821e" | "huawei-ms2372");
    for access in ["auto", "csim", "cgla"] {
        let Some((got, logs)) = through_modem(quirks, access, &[]) else {
            continue;
        };
        assert_eq!(got, want, "--quirks {quirks} --modem-access {access}");
        let expect_path = match access {
            "auto" if no_logical => "csim",
            "auto" => "cgla",
            other => other,
        };
        assert!(
            logs.contains(&format!("SIM access through {expect_path}")),
            "--quirks {quirks} --modem-access {access}: expected the {expect_path} path; logs:\n{logs}"
        );
        if quirks == "wavecom" && access == "csim" {
            assert!(
                logs.contains("AUTHENTICATE on a logical channel"),
                "wavecom refuses INS 88 over +CSIM: the client falls back to +CGLA; logs:\n{logs}"
            );
        }
    }
}

macro_rules! quirk_tests {
    ($($name:ident => $q:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_quirk_profile($q);
            }
        )*
    };
}

quirk_tests! {
    same_as_softsim_generic => "generic",
    same_as_softsim_quectel => "quectel",
    same_as_softsim_fibocom => "fibocom",
    same_as_softsim_sierra => "sierra",
    same_as_softsim_dw5821e => "dw5821e",
    same_as_softsim_huawei_ms2372 => "huawei-ms2372",
    same_as_softsim_wavecom => "wavecom",
    same_as_softsim_nordic => "nordic",
}

#[test]
fn every_quirk_profile_is_tested() {
    assert_eq!(QUIRKS.len(), modem_at::Quirks::names().len());
    for q in modem_at::Quirks::names() {
        assert!(QUIRKS.contains(&q), "{q} has no equivalence test");
    }
}

#[test]
fn same_as_softsim_with_urc_noise() {
    let want = reference();
    for access in ["csim", "cgla"] {
        let (got, _) =
            through_modem("generic", access, &["--urc-noise", "--seed", "7"]).expect("runs");
        assert_eq!(got, want, "--urc-noise --modem-access {access}");
    }
}

#[test]
fn isim_and_pin_card_info_same_as_softsim_on_both_paths() {
    let w = Workdir::new();
    let soft = w.profile("demo-isim.toml", "soft.toml");
    let soft = soft.display().to_string();
    let want = simbridge_env(
        &["sim", "info", "--json", "--pin", "1234", "--softsim", &soft],
        &[],
        T,
    );
    assert!(want.status.success(), "{}", stderr(&want));
    assert!(
        stdout(&want).contains("\"isim\""),
        "the profile has an ISIM: {}",
        stdout(&want)
    );
    for access in ["csim", "cgla"] {
        let p = w.profile("demo-isim.toml", &format!("modem-{access}.toml"));
        let modem = VirtualModem::start(&w, &p, "generic", &[]);
        let link = modem.link_str();
        let args = [
            "sim",
            "info",
            "--json",
            "--pin",
            "1234",
            "--modem",
            &link,
            "--modem-access",
            access,
        ];
        let got = simbridge_env(&args, &[], T);
        assert!(got.status.success(), "{}", stderr(&got));
        assert_eq!(stdout(&got), stdout(&want), "--modem-access {access}");
    }
}
