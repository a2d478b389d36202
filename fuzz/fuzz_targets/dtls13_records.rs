//! DTLS 1.3 records (`simbridge_dtls::v13`): the unified header parser over every Connection ID
//! length, and record opening under fixed keys, on arbitrary datagrams; then the input's own
//! bytes sealed in the header form its first byte picks must open to themselves.
//!
//! Asserts: no panic; a parsed header re-encodes to the bytes it was parsed from; every record
//! sealed opens with its sequence number, content type and content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge_dtls::secret::Secret;
use simbridge_dtls::suite::AeadAlg;
use simbridge_dtls::v13::header::{SeqLen, UnifiedHeader};
use simbridge_dtls::v13::key_schedule::{LabelPrefix, TrafficKeys};
use simbridge_dtls::v13::protect::{HeaderForm, Protection13};

const SUITES: [AeadAlg; 3] = [AeadAlg::Aes128Ccm8, AeadAlg::Aes128Ccm, AeadAlg::Aes128Gcm];

fuzz_target!(|data: &[u8]| {
    for cid_len in [0usize, 1, 4] {
        let mut rest = data;
        // every record of the datagram, as a receiver walks it
        while let Ok(rec) = UnifiedHeader::parse(rest, cid_len) {
            let mut again = Vec::new();
            rec.header.encode(&mut again);
            assert_eq!(again, rec.header_bytes, "header re-encodes as parsed");
            if rec.rest.len() >= rest.len() {
                break;
            }
            rest = rec.rest;
        }
    }
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let alg = SUITES[usize::from(sel) % SUITES.len()];
    let keys = TrafficKeys::from_secret(LabelPrefix::Dtls13, &Secret::new([sel; 32]));
    let epoch = u64::from(sel >> 6);
    let p = Protection13::new(alg, &keys, epoch);
    let cid_len = usize::from(sel >> 4 & 0b11);
    let expected = u64::from(sel) << 4;
    let _ = p.open(body, cid_len, expected);

    let form = HeaderForm {
        seq_len: if sel & 1 == 0 { SeqLen::One } else { SeqLen::Two },
        with_length: sel & 2 != 0,
    };
    let cid = [0xc0, 0xc1, 0xc2][..cid_len.min(3)].to_vec();
    let cid = (cid_len > 0 && cid_len <= 3).then_some(&cid[..]);
    // content type 0 cannot be told from padding: a receiver refuses it, so seal 23 then
    let content_type = if sel >> 2 & 1 == 0 { 23 } else { 22 };
    let mut out = Vec::new();
    if p.seal(expected, content_type, body, cid, form, &mut out).is_ok() {
        let (o, rest) = p
            .open(&out, cid.map_or(0, <[u8]>::len), expected)
            .expect("a record we sealed opens");
        assert_eq!((o.seq, o.content_type), (expected, content_type));
        assert_eq!(o.content, body);
        assert!(rest.is_empty());
    }
});
