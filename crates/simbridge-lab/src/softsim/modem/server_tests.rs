//! The AT interpreter against the software USIM, sans pty: each quirk row misbehaves as listed.

use super::server::{AtServer, Reply};
use crate::softsim::{Profile, SoftUsim};
use modem_at::Quirks;
use std::path::Path;

fn card(profile: &str) -> SoftUsim {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../sim-profiles")
        .join(profile);
    SoftUsim::from_profile(Profile::load(&p).expect("profile"), None).expect("card")
}

fn server(quirks: &str) -> AtServer<SoftUsim> {
    let mut s = AtServer::new(
        card("ts35208-set1.toml"),
        Quirks::by_name(quirks).expect("row"),
    );
    assert_eq!(at(&mut s, "AT+CMEE=1").result, "OK");
    s
}

fn at(s: &mut AtServer<SoftUsim>, line: &str) -> Reply {
    let mut r = s.feed(format!("{line}\r").as_bytes());
    assert_eq!(r.len(), 1, "{line}");
    r.remove(0)
}

fn ok_lines(s: &mut AtServer<SoftUsim>, line: &str) -> Vec<String> {
    let r = at(s, line);
    assert_eq!(r.result, "OK", "{line}");
    r.lines
}

#[test]
fn echo_is_on_until_ate0_and_noise_lines_are_ignored() {
    let mut s = server("generic");
    assert_eq!(at(&mut s, "AT").echo, b"AT\r");
    at(&mut s, "ATE0");
    assert!(at(&mut s, "AT").echo.is_empty());
    assert!(s.feed(b"garbage\r").is_empty());
    assert_eq!(s.feed(b"AT+CIMI\r\n").len(), 1, "LF after CR is ignored");
}

#[test]
fn identity_imsi_iccid_pin_state() {
    let mut s = server("quectel");
    assert_eq!(ok_lines(&mut s, "AT+CGMI"), vec!["Quectel"]);
    assert_eq!(ok_lines(&mut s, "AT+CIMI"), vec!["001010000000001"]);
    assert_eq!(
        ok_lines(&mut s, "AT+CCID"),
        vec!["+CCID: 8988211000000000001"]
    );
    assert_eq!(
        ok_lines(&mut s, "AT+QCCID"),
        vec!["+QCCID: 8988211000000000001"]
    );
    assert_eq!(ok_lines(&mut s, "AT+CPIN?"), vec!["+CPIN: READY"]);
    let mut p = AtServer::new(
        card("demo-isim.toml"),
        Quirks::by_name("generic").expect("row"),
    );
    assert_eq!(
        ok_lines(&mut p, "AT+CPIN?"),
        vec!["+CPIN: SIM PIN"],
        "the profile has a PIN"
    );
}

#[test]
fn crsm_reads_ef_dir_without_moving_the_basic_channel() {
    let mut s = server("generic");
    // The host selects EF_ICCID on the basic channel ...
    let l = ok_lines(&mut s, "AT+CSIM=14,\"00A40004022FE2\"");
    assert!(l[0].starts_with("+CSIM: 4,\"61"), "{l:?}");
    // ... the modem reads EF_DIR for itself ...
    let l = ok_lines(&mut s, "AT+CRSM=178,12032,1,4,0");
    assert!(l[0].starts_with("+CRSM: 144,0,\"61"), "{l:?}");
    // ... and the host's selection is still EF_ICCID.
    let l = ok_lines(&mut s, "AT+CSIM=10,\"00B000000A\"");
    assert_eq!(l, vec!["+CSIM: 24,\"988812010000000000F19000\""]);
}

#[test]
fn csim_length_is_counted_in_hex_characters() {
    let mut s = server("generic");
    assert_eq!(
        at(&mut s, "AT+CSIM=5,\"80F2000C00\"").result,
        "+CME ERROR: 50"
    );
    assert_eq!(
        at(&mut s, "AT+CSIM=10,\"80F2000C0\"").result,
        "+CME ERROR: 50"
    );
    assert_eq!(at(&mut s, "AT+CSIM=10,\"80F2000C00\"").result, "OK");
}

#[test]
fn ccho_returns_a_handle_and_cgla_patches_the_cla_where_the_row_says_so() {
    let mut s = server("sierra");
    let l = ok_lines(&mut s, "AT+CCHO=\"A0000000871002\"");
    assert_eq!(l, vec!["+CCHO: 257"], "a handle, not the channel number");
    // CLA 00 in the command: the modem puts the channel in; STATUS answers the USIM ADF's FCP.
    let l = ok_lines(&mut s, "AT+CGLA=257,10,\"80F2000000\"");
    assert!(l[0].starts_with("+CGLA: 4,\"6C"), "{l:?}");
    assert_eq!(
        at(&mut s, "AT+CGLA=258,10,\"80F2000000\"").result,
        "+CME ERROR: 21"
    );
}

#[test]
fn other_rows_answer_the_channel_number_and_strict_mode_counts_mistakes() {
    let mut s = server("generic");
    let l = ok_lines(&mut s, "AT+CCHO=\"A0000000871002\"");
    assert_eq!(l, vec!["+CCHO: 1"], "the channel number");
    // Lenient (default): CLA 00 on the session still reaches channel 1.
    let l = ok_lines(&mut s, "AT+CGLA=1,10,\"80F2000000\"");
    assert!(l[0].starts_with("+CGLA: 4,\"6C"), "{l:?}");
    assert_eq!(at(&mut s, "AT+CCHC=1").result, "OK");
    assert_eq!(
        at(&mut s, "AT+CGLA=1,10,\"80F2000000\"").result,
        "+CME ERROR: 21"
    );

    let mut s = AtServer::new(
        card("demo-isim.toml"),
        Quirks::by_name("generic").expect("row"),
    )
    .with_strict(true);
    assert_eq!(at(&mut s, "AT+CMEE=1").result, "OK");
    ok_lines(&mut s, "AT+CCHO=\"A0000000871002\"");
    // The right CLA (channel 1): nothing counted.
    ok_lines(&mut s, "AT+CGLA=1,10,\"81F2000000\"");
    assert_eq!(s.strict_counts(), (0, 0));
    // CLA 00 on the session: a mistake, and a SELECT by AID there lands on the basic channel.
    ok_lines(&mut s, "AT+CGLA=1,24,\"00A4040C07A0000000871004\"");
    assert_eq!(s.strict_counts(), (1, 1));
    // Through +CSIM: an application selected on the basic channel resets the modem's session;
    // a file selected by FID does not, nor does anything on a logical channel.
    ok_lines(&mut s, "AT+CSIM=24,\"00A4040C07A0000000871002\"");
    ok_lines(&mut s, "AT+CSIM=14,\"00A4000C022FE2\"");
    ok_lines(&mut s, "AT+CSIM=24,\"01A4040C07A0000000871002\"");
    assert_eq!(s.strict_counts(), (2, 1));
}

#[test]
fn quirk_rows_misbehave_as_listed() {
    let mut f = server("fibocom");
    assert_eq!(
        ok_lines(&mut f, "AT+CCHO=\"A0000000871002\""),
        vec!["1"],
        "bare +CCHO answer"
    );

    let mut s = server("sierra");
    ok_lines(&mut s, "AT+CCHO=\"A0000000871002\"");
    assert_eq!(at(&mut s, "AT+CCHC=257").result, "ERROR", "no +CCHC");
    assert_eq!(
        at(&mut s, "AT+CGLA=?").result,
        "ERROR",
        "no +CGLA test command"
    );

    let mut d = server("dw5821e");
    assert_eq!(
        at(&mut d, "AT+CCHO=\"A0000000871002\"").result,
        "ERROR",
        "no +CCHO"
    );

    let mut q = server("quectel");
    let open = ok_lines(&mut q, "AT+CSIM=10,\"0070000001\"");
    assert_eq!(
        open,
        vec!["+CSIM: 6,\"019000\""],
        "MANAGE CHANNEL works ..."
    );
    assert_eq!(
        at(&mut q, "AT+CSIM=10,\"81F2000000\"").result,
        "+CME ERROR: 3",
        "... a logical CLA does not"
    );

    let mut w = server("wavecom");
    let auth = format!(
        "AT+CSIM=80,\"0088008122{}{}00\"",
        "10".to_string() + &"00".repeat(16),
        "10".to_string() + &"00".repeat(16)
    );
    assert_eq!(
        at(&mut w, &auth).result,
        "+CME ERROR: 3",
        "INS 88 refused on the basic channel"
    );
    assert_eq!(
        at(&mut w, "AT+CSIM=10,\"00C0000010\"").result,
        "+CME ERROR: 3",
        "INS C0 refused"
    );
    let l = ok_lines(&mut w, "AT+CSIM=14,\"00A40004022FE2\"");
    assert!(
        l[0].ends_with("9000\""),
        "61xx fetched by the modem itself: {l:?}"
    );
}

#[test]
fn reboot_closes_channels_and_restores_defaults() {
    let mut s = server("generic");
    at(&mut s, "ATE0");
    ok_lines(&mut s, "AT+CCHO=\"A0000000871002\"");
    s.reboot();
    assert_eq!(at(&mut s, "AT").echo, b"AT\r");
    assert_eq!(
        at(&mut s, "AT+CGLA=1,10,\"80F2000000\"").result,
        "ERROR",
        "CMEE back to 0, session gone"
    );
}
