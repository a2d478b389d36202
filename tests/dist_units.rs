//! The shipped systemd units and package scripts agree with the binary: the gateway's PIN stop
//! (exit 78) is not restarted, both state directories are made by systemd with mode 0700 and the
//! server's matches the shipped server.toml, and the package ships, stops and purges both units.
//! (`systemd-analyze verify` of the units runs in tests/status_systemd.rs.)

mod common;
mod support;

use common::{repo, simbridge};

fn dist(name: &str) -> String {
    std::fs::read_to_string(repo().join("dist").join(name)).expect("dist file")
}

fn setting<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .collect()
}

#[test]
fn the_gateway_is_not_restarted_after_a_pin_stop() {
    let unit = dist("simbridge.service");
    assert_eq!(setting(&unit, "Restart"), ["on-failure"]);
    assert_eq!(setting(&unit, "RestartPreventExitStatus"), ["78"]);
    // 78 is what the binary documents for the PIN stop.
    let o = simbridge(&["--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("78  bridge: stopped over PIN1"), "{help}");
}

#[test]
fn state_directories_come_from_systemd_with_mode_0700() {
    for (unit, dir) in [
        ("simbridge.service", "simbridge"),
        ("simbridge-server.service", "simbridge-server"),
    ] {
        let text = dist(unit);
        assert_eq!(setting(&text, "StateDirectory"), [dir], "{unit}");
        assert_eq!(setting(&text, "StateDirectoryMode"), ["0700"], "{unit}");
    }
    let server_toml = dist("server.toml");
    assert!(
        server_toml
            .lines()
            .any(|l| l.trim() == "state_dir = \"/var/lib/simbridge-server\""),
        "dist/server.toml names the unit's state directory"
    );
    let gw = dist("simbridge.service");
    assert!(gw.contains("Environment=SIMBRIDGE_STATE_DIR=/var/lib/simbridge"));
}

#[test]
fn the_package_ships_stops_and_purges_both_units() {
    let build = std::fs::read_to_string(repo().join("scripts/build-pi")).expect("build-pi");
    assert!(build.contains("install -m 644 dist/simbridge-server.service"));
    assert!(build.contains("for unit in simbridge.service simbridge-server.service"));
    let prerm = dist("deb/prerm");
    assert!(prerm.contains("disable --now simbridge-server.service"));
    let postrm = dist("deb/postrm");
    assert!(postrm.contains("/var/lib/private/simbridge-server /var/lib/simbridge-server"));
    let postinst = dist("deb/postinst");
    assert!(
        !postinst.contains("mkdir") && postinst.contains("StateDirectory="),
        "state directories are left to StateDirectory=, and that is said"
    );
}
