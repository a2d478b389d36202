//! Fuzzes the virtual modem's AT interpreter with host input: whatever a host sends, it must not
//! panic, and every command line gets exactly one final result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modem_at::Quirks;
use simbridge_lab::softsim::modem::AtServer;
use simbridge_lab::softsim::{Profile, SoftUsim};
use std::path::Path;
use std::sync::OnceLock;

const PROFILE: &str = include_str!("../../sim-profiles/ts35208-set1.toml");

/// The profile, parsed once: it is immutable, and every input still gets a fresh card made from
/// it, so no state crosses inputs (parsing its TOML per input took most of each execution).
fn profile() -> Option<&'static Profile> {
    static P: OnceLock<Option<Profile>> = OnceLock::new();
    P.get_or_init(|| Profile::parse(PROFILE, Path::new("fuzz.toml")).ok())
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let Some(profile) = profile() else {
        panic!("the committed test profile does not parse");
    };
    let Ok(card) = SoftUsim::from_profile(profile.clone(), None) else {
        return;
    };
    let rows = modem_at::quirks::TABLE;
    let quirks: &'static Quirks = &rows[usize::from(sel) % rows.len()];
    let mut server = AtServer::new(card, quirks);
    for reply in server.feed(input) {
        let r = reply.result.as_str();
        assert!(
            r == "OK" || r == "ERROR" || r.starts_with("+CME ERROR: "),
            "final result {r:?}"
        );
    }
});
