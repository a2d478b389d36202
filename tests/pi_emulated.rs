//! The Raspberry Pi build, proven under emulation: the cross-built simbridge (scripts/build-pi:
//! target/aarch64-unknown-linux-gnu/release/simbridge, and the armv7 one when built) runs under
//! qemu-user and
//! - answers `sim aka --softsim` with the TS 35.208 results,
//! - reaches the host's real pcscd through the vsmartcard vpcd reader (`--reader`),
//! - drives the virtual modem on a pty (`--modem`),
//! - completes `demo`,
//! - and, as a gateway, survives a modem re-enumeration behind a stable link.
//!
//! Missing qemu or binary: skipped with a reason, or a failure when SIMBRIDGE_REQUIRE_PEERS is
//! set (CI; scripts/test builds the binary first through scripts/setup.d/20-pi.sh).

mod common;
mod modem_support;
mod pi_support;
mod support;

use common::*;
use pi_support::{AARCH64, ARMV7, PiTarget, Runner};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The targets to check: aarch64 always; armv7 when scripts/build-pi built it (its toolchain is
/// optional), or when SIMBRIDGE_PI_ARMV7 is set (then it must be there).
fn targets() -> Vec<&'static PiTarget> {
    let armv7_built = pi_support::target_dir()
        .join(ARMV7.triple)
        .join("release/simbridge")
        .is_file();
    if armv7_built || std::env::var_os("SIMBRIDGE_PI_ARMV7").is_some() {
        vec![&AARCH64, &ARMV7]
    } else {
        eprintln!("armv7: not built (scripts/build-pi --arch armv7); checking aarch64 only");
        vec![&AARCH64]
    }
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn emulated_binary_is_the_cross_target_and_the_same_version() {
    for t in targets() {
        let Some(pi) = Runner::emulated(t) else {
            return;
        };
        let o = pi.run(&["--version"], T);
        assert!(o.status.success(), "{}: {}", t.triple, stderr_of(&o));
        let host = Runner::host().run(&["--version"], T);
        assert_eq!(
            o.stdout, host.stdout,
            "{}: version differs from the host build",
            t.triple
        );
        // The file really is for the target (ELF e_machine: 0xB7 aarch64, 0x28 ARM).
        let exe = pi_support::target_dir()
            .join(t.triple)
            .join("release/simbridge");
        let elf = std::fs::read(&exe).expect("read binary");
        let machine = elf.get(18).copied();
        let want = if t.triple.starts_with("aarch64") {
            0xB7
        } else {
            0x28
        };
        assert_eq!(machine, Some(want), "{}: ELF machine", exe.display());
    }
}

#[test]
fn emulated_sim_aka_softsim_gives_the_ts35208_results() {
    for t in targets() {
        let Some(pi) = Runner::emulated(t) else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        for s in ts35208().iter().take(2) {
            let p = profile_copy(dir.path(), &format!("ts35208-set{}.toml", s.number));
            let autn = set_autn(s);
            let o = pi.run(
                &[
                    "sim",
                    "aka",
                    "--softsim",
                    p.to_str().expect("utf8"),
                    "--rand",
                    &s.rand,
                    "--autn",
                    &autn,
                    "--json",
                ],
                T,
            );
            assert!(
                o.status.success(),
                "{} set {}: {}",
                t.triple,
                s.number,
                stderr_of(&o)
            );
            let v = json_out(&o);
            assert_eq!(v["res"], s.f2.as_str(), "{} set {}", t.triple, s.number);
            assert_eq!(v["ck"], s.f3.as_str());
            assert_eq!(v["ik"], s.f4.as_str());
            // The card state written by the emulated binary refuses the replay (exit 2, AUTS).
            let again = pi.run(
                &[
                    "sim",
                    "aka",
                    "--softsim",
                    p.to_str().expect("utf8"),
                    "--rand",
                    &s.rand,
                    "--autn",
                    &autn,
                    "--json",
                ],
                T,
            );
            assert_eq!(
                again.status.code(),
                Some(2),
                "{}: {}",
                t.triple,
                stderr_of(&again)
            );
        }
    }
}

/// vpcd's second reader (port 35964): tests/pcsc_vpcd.rs uses it only for its removal test and
/// tests/bridge_e2e.rs for one run; test files run one after another, so it is free here.
#[cfg(feature = "pcsc")]
const READER: &str = "Virtual PCD 00 01";
#[cfg(feature = "pcsc")]
const VPCD: &str = "127.0.0.1:35964";

#[cfg(feature = "pcsc")]
fn wait_reader(present: bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        let readers = simbridge::card::pcsc::PcscChannel::readers().unwrap_or_default();
        if readers.iter().any(|(n, p)| n == READER && *p == present) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pcscd did not report {READER} with card present = {present} within 15 s");
}

#[cfg(feature = "pcsc")]
#[test]
fn emulated_reader_reaches_host_pcscd_through_vpcd() {
    let ready = std::path::Path::new("/run/pcscd/pcscd.comm").exists()
        && std::path::Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists();
    if !require(
        "pcscd with the vsmartcard vpcd reader (scripts/test starts it)",
        ready,
    ) {
        return;
    }
    for t in targets() {
        let Some(pi) = Runner::emulated(t) else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let s = &ts35208()[0];
        let in_reader = profile_copy(dir.path(), "ts35208-set1.toml");
        let local = tempfile::tempdir().expect("tempdir");
        let in_process = profile_copy(local.path(), "ts35208-set1.toml");
        wait_reader(false);
        // The card is served by the HOST binary into the host's pcscd; the emulated one is a client.
        let card = spawn_ready(
            std::process::Command::new(bin())
                .args(["softsim", "serve", "--vpcd", VPCD, "--profile"])
                .arg(&in_reader),
            "softsim serve",
        );
        wait_reader(true);
        let info = pi.run(&["sim", "info", "--reader", READER, "--json"], T);
        assert!(info.status.success(), "{}: {}", t.triple, stderr_of(&info));
        let soft = simbridge(&[
            "sim",
            "info",
            "--softsim",
            in_process.to_str().expect("utf8"),
            "--json",
        ]);
        assert_eq!(
            json_out(&info),
            json_out(&soft),
            "{}: sim info through pcscd",
            t.triple
        );
        let autn = set_autn(s);
        let aka = pi.run(
            &[
                "sim", "aka", "--reader", READER, "--rand", &s.rand, "--autn", &autn, "--json",
            ],
            T,
        );
        assert!(aka.status.success(), "{}: {}", t.triple, stderr_of(&aka));
        assert_eq!(json_out(&aka)["res"], s.f2.as_str(), "{}", t.triple);
        assert_eq!(json_out(&aka)["ck"], s.f3.as_str());
        drop(card);
        wait_reader(false);
    }
}

#[test]
fn emulated_binary_drives_the_virtual_modem_on_a_pty() {
    use modem_support::{SET1_AUTN, SET1_CK, SET1_IK, SET1_RAND, SET1_RES, VirtualModem, Workdir};
    for t in targets() {
        let Some(pi) = Runner::emulated(t) else {
            return;
        };
        for quirks in ["quectel", "generic"] {
            let w = Workdir::new();
            let p = w.profile("ts35208-set1.toml", "modem.toml");
            let m = VirtualModem::start(&w, &p, quirks, &[]);
            let link = m.link_str();
            let info = pi.run(&["sim", "info", "--modem", &link, "--json"], T);
            assert!(
                info.status.success(),
                "{} {quirks}: {}",
                t.triple,
                stderr_of(&info)
            );
            assert_eq!(json_out(&info)["imsi"].as_str().map(str::len), Some(15));
            let aka = pi.run(
                &[
                    "sim", "aka", "--modem", &link, "--rand", SET1_RAND, "--autn", SET1_AUTN,
                    "--json",
                ],
                T,
            );
            assert!(
                aka.status.success(),
                "{} {quirks}: {}",
                t.triple,
                stderr_of(&aka)
            );
            let v = json_out(&aka);
            assert_eq!(v["res"], SET1_RES, "{} {quirks}", t.triple);
            assert_eq!(v["ck"], SET1_CK);
            assert_eq!(v["ik"], SET1_IK);
        }
    }
}

#[test]
fn emulated_demo_completes_with_one_bootstrap_and_one_handshake() {
    for t in targets() {
        let Some(pi) = Runner::emulated(t) else {
            return;
        };
        let o = pi.run(
            &["demo", "--messages", "20", "--json"],
            Duration::from_secs(60),
        );
        assert!(o.status.success(), "{}: {}", t.triple, stderr_of(&o));
        let v = json_out(&o);
        assert_eq!(v["messages"], 20, "{}: {v}", t.triple);
        assert_eq!(v["dropped"], 0, "{}: {v}", t.triple);
        assert_eq!(v["bootstraps"], 1, "{}: {v}", t.triple);
        assert_eq!(v["handshakes"]["full"], 1, "{}: {v}", t.triple);
        eprintln!(
            "{}: demo under qemu: {} B on air for 20 messages, {:.0} ms",
            t.triple,
            v["bytes_on_air"]["total"],
            v["total_ms"].as_f64().unwrap_or_default()
        );
    }
}

#[test]
fn emulated_gateway_survives_a_modem_reenumeration() {
    for t in targets() {
        let Some(pi) = Runner::emulated(t) else {
            return;
        };
        pi_support::gateway_survives_reenumeration(&pi);
    }
}

#[test]
fn deb_dry_run_shows_the_binary_unit_conffile_and_udev_rule() {
    for t in targets() {
        let version = env!("CARGO_PKG_VERSION");
        let deb = pi_support::target_dir()
            .join("deb")
            .join(format!("simbridge_{version}_{}.deb", t.deb_arch));
        if !require(
            &format!("{} (scripts/build-pi builds it)", deb.display()),
            deb.is_file(),
        ) {
            return;
        }
        let deb = deb.to_str().expect("utf8");
        let info = run_with_timeout(
            std::process::Command::new("dpkg-deb").args(["--info", deb]),
            T,
        );
        assert!(info.status.success());
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(
            info.contains(&format!("Architecture: {}", t.deb_arch)),
            "{info}"
        );
        assert!(info.contains("Depends: libc6 (>= 2."), "{info}");
        assert!(info.contains("libpcsclite1"), "{info}");
        for script in ["postinst", "prerm", "postrm", "conffiles"] {
            assert!(info.contains(script), "{script} missing: {info}");
        }
        let list = run_with_timeout(
            std::process::Command::new("dpkg-deb").args(["--contents", deb]),
            T,
        );
        let list = String::from_utf8_lossy(&list.stdout);
        for (path, mode) in [
            ("./usr/bin/simbridge", "-rwxr-xr-x"),
            ("./lib/systemd/system/simbridge.service", "-rw-r--r--"),
            ("./lib/udev/rules.d/99-simbridge-modem.rules", "-rw-r--r--"),
            ("./etc/simbridge/simbridge.toml", "-rw-r--r--"),
        ] {
            assert!(
                list.lines()
                    .any(|l| l.starts_with(mode) && l.contains(" root/root ") && l.ends_with(path)),
                "{path} ({mode}, root) missing from {deb}:\n{list}"
            );
        }
        let conffiles = run_with_timeout(
            std::process::Command::new("sh").args([
                "-c",
                &format!("dpkg-deb --ctrl-tarfile {deb} | tar -xO ./conffiles"),
            ]),
            T,
        );
        assert_eq!(
            String::from_utf8_lossy(&conffiles.stdout).trim(),
            "/etc/simbridge/simbridge.toml"
        );
    }
}

/// Every active rule in dist/99-simbridge-modem.rules names a vendor, a product and a two-digit
/// interface number, sets ID_MM_PORT_IGNORE and the stable name, and the brief's modem makers
/// are all there (active or as a documented, commented-out example).
#[test]
fn udev_rule_matches_each_at_port_by_vendor_product_and_interface() {
    let text = include_str!("../dist/99-simbridge-modem.rules");
    let mut vendors = std::collections::BTreeSet::new();
    for line in text.lines().map(str::trim) {
        let active = !line.starts_with('#');
        let rule = line.trim_start_matches('#');
        if !rule.contains("ENV{ID_MM_PORT_IGNORE}=\"1\"") {
            continue;
        }
        let field = |key: &str| {
            rule.split(&format!("{key}==\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        };
        let vendor = field("ATTRS{idVendor}").unwrap_or_else(|| panic!("no vendor: {rule}"));
        let product = field("ATTRS{idProduct}").unwrap_or_else(|| panic!("no product: {rule}"));
        let ifnum =
            field("ENV{.SIMBRIDGE_IFNUM}").unwrap_or_else(|| panic!("no interface: {rule}"));
        for (what, v, len) in [
            ("vendor", &vendor, 4),
            ("product", &product, 4),
            ("interface", &ifnum, 2),
        ] {
            assert!(
                v.len() == len && v.chars().all(|c| c.is_ascii_hexdigit()),
                "{what} {v:?} in {rule}"
            );
        }
        assert!(rule.contains("SYMLINK+=\"simbridge-modem\""), "{rule}");
        if active {
            vendors.insert(vendor);
        }
    }
    // Quectel, SIMCom, Telit active; u-blox SARA-R410M (Qualcomm's 05c6) documented, commented out.
    for v in ["2c7c", "1e0e", "1bc7"] {
        assert!(vendors.contains(v), "no active rule for vendor {v}");
    }
    assert!(text.contains("#ATTRS{idVendor}==\"05c6\", ATTRS{idProduct}==\"90b2\""));
    assert!(text.contains("SARA-R5"));
    // The interface number is taken from the USB interface first (one rule can only match the
    // ATTRS of one parent device).
    assert!(text.contains("ENV{.SIMBRIDGE_IFNUM}=\"$attr{bInterfaceNumber}\""));
}
