//! Fuzzes the AT response parser: whatever a modem sends, parsing must not panic, must not depend
//! on how the bytes were split across reads, and the SIM answer parsers must not panic on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modem_at::answers;
use modem_at::response::{Collector, Expect};

const COMMANDS: &[(&str, &str)] = &[
    ("AT+CSIM=10,\"00C0000035\"", "+CSIM:"),
    ("AT+CGLA=1,10,\"00C0000035\"", "+CGLA:"),
    ("AT+CCHO=\"A0000000871002\"", "+CCHO:"),
    ("AT+CRSM=178,12032,1,4,0", "+CRSM:"),
    ("AT+CPIN?", "+CPIN:"),
    ("AT+CIMI", ""),
    ("AT+CCID", "+CCID:"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (cmd, prefix) = COMMANDS[usize::from(sel) % COMMANDS.len()];
    let expect = match (sel / 16) % 3 {
        0 if !prefix.is_empty() => Expect::prefixed(prefix),
        1 if !prefix.is_empty() => Expect::prefixed_or_bare(prefix),
        _ => Expect::bare(),
    };

    // All at once.
    let mut whole = Collector::new(cmd, expect.clone());
    let used = whole.push(rest);
    assert!(used <= rest.len());

    // The same bytes split at a point chosen by the input: the outcome must be the same.
    let cut = usize::from(data.get(1).copied().unwrap_or(0)) % (rest.len() + 1);
    let mut split = Collector::new(cmd, expect);
    let (a, b) = rest.split_at(cut);
    let used_a = split.push(a);
    if used_a == a.len() {
        split.push(b);
    }
    assert_eq!(
        whole.answer(),
        split.answer(),
        "split at {cut} changed the answer"
    );
    assert_eq!(
        whole.take_urcs(),
        split.take_urcs(),
        "split at {cut} changed the URCs"
    );

    if let Some(ans) = whole.answer() {
        let _ = answers::response_apdu(&ans, "+CSIM:");
        let _ = answers::response_apdu(&ans, "+CGLA:");
        let _ = answers::parse_ccho(&ans);
        let _ = answers::parse_crsm(&ans);
        let _ = answers::parse_cimi(&ans);
        let _ = answers::parse_iccid(&ans);
        let _ = answers::parse_cpin(&ans);
        for l in &ans.lines {
            let _ = answers::parse_length_hex(l);
            let _ = modem_at::sim::aid_in_dir_record(l.as_bytes());
        }
    }
});
