//! The OSCORE option value parser (RFC 8613 §6.1, `simbridge_oscore::option`) on arbitrary
//! bytes. Asserts: no panic, and every accepted value encodes back to exactly the input bytes
//! (the parser is strict so that the encoding is unique), parsing again gives the same option.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge_oscore::option::OscoreOption;

fuzz_target!(|data: &[u8]| {
    if let Ok(opt) = OscoreOption::parse(data) {
        let again = opt.encode().expect("a parsed option encodes");
        assert_eq!(again, data);
        assert_eq!(OscoreOption::parse(&again).as_ref(), Ok(&opt));
    }
});
