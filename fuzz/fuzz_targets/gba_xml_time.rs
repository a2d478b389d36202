//! The Ub 200 OK body (`BootstrappingInfo`, TS 24.109 Annex C) and the xs:dateTime / UTC time
//! readers on arbitrary bytes. Asserts: a parsed body renders (`to_xml`) to one that parses to the
//! same values; a parsed instant formats to a UTC string that parses to the same instant (to the
//! second), and a formatted time parses as xs:dateTime too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge::gba::time::{format_utc, parse_utc, parse_xs_datetime, unix_secs};
use simbridge::gba::xml::BootstrappingInfo;

fn check_time(s: &str) {
    for t in [parse_utc(s), parse_xs_datetime(s)].into_iter().flatten() {
        let text = format_utc(t);
        let back = parse_utc(&text).expect("format_utc output parses");
        // format_utc caps at year 9999
        if text != "9999-12-31T23:59:59Z" {
            assert_eq!(unix_secs(back), unix_secs(t), "{s:?} -> {text}");
        }
        assert_eq!(
            unix_secs(parse_xs_datetime(&text).expect("also as xs:dateTime")),
            unix_secs(back)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_time(s);
    }
    if let Ok(info) = BootstrappingInfo::parse(data) {
        assert!(!info.btid.is_empty() && !info.lifetime.is_empty());
        check_time(&info.lifetime);
        // XML normalises a literal CR (RFC: XML 1.0 §2.11); a value holding one (from &#13;)
        // cannot come back unchanged from a literal rendering.
        if !info.btid.contains('\r') && !info.lifetime.contains('\r') {
            let again = BootstrappingInfo::parse(info.to_xml().as_bytes());
            if info.to_xml().len() <= simbridge::gba::xml::MAX_BODY {
                assert_eq!(again.ok(), Some(info));
            }
        }
    }
});
